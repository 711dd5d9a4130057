"""The imbalanced files of docs/deploy.md's class-weight measurement: a
labelled JSON-lines file (the `label` field) with one class's train and
val rows kept at 5% (a seeded draw; CLINC150's `banking` domain: 103 and
16 rows against 1,500 and 300 of every other domain); its test rows all
kept, so that macro-F1 on the test split weighs the rare class as the
others.

    python3 experiments/imbalance.py ../shared/data/text/clinc150.jsonl.gz OUT.jsonl [RARE]
"""
import gzip
import json
import random
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    rare = sys.argv[3] if len(sys.argv) > 3 else "banking"
    rng = random.Random(0)
    kept = 0
    with gzip.open(src, "rt") as f, open(out, "w") as w:
        for line in f:
            r = json.loads(line)
            if r["label"] == rare and r["split"] in ("train", "val") and rng.random() >= 0.05:
                continue
            w.write(json.dumps({"text": r["text"], "label": r["label"], "split": r["split"]}) + "\n")
            kept += 1
    print(f"{kept} rows written to {out}")


if __name__ == "__main__":
    main()
