"""Makes a multi-label data set from a single-label one (CLINC150's domains
or 20 Newsgroups' groups, ../shared/data/text): each row of a split is kept
alone (one label) or, with probability 1/2, joined with a row of another
class drawn from the same split (two labels), so a text may be about one
topic or two. Long texts are cut to their first WORDS words before joining
(the teacher reads 128 tokens). Writes JSON lines with a label list and the
split, for `lelp distill` (train, val) and `lelp eval` (test, as its own file).

usage: python3 experiments/multi_label.py DATA OUT_DIR [WORDS] [SEED]
"""
import gzip
import json
import os
import random
import sys


def main():
    data, out = sys.argv[1], sys.argv[2]
    words = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    rows = [json.loads(l) for l in gzip.open(data, "rt")]
    cut = lambda t: " ".join(t.split()[:words])
    by_split = {}
    for r in rows:
        by_split.setdefault(r["split"], []).append(r)
    os.makedirs(out, exist_ok=True)
    train = open(os.path.join(out, "train.jsonl"), "w")
    test = open(os.path.join(out, "test.jsonl"), "w")
    for split, part in sorted(by_split.items()):
        for r in part:
            text, labels = cut(r["text"]), [r["label"]]
            if rng.random() < 0.5:
                while True:
                    o = rng.choice(part)
                    if o["label"] != r["label"]:
                        break
                pair = [text, cut(o["text"])]
                rng.shuffle(pair)
                text, labels = " ".join(pair), sorted([r["label"], o["label"]])
            line = json.dumps({"text": text, "label": labels, "split": split})
            (test if split == "test" else train).write(line + "\n")
    # `distill` needs test rows of its own: the file's test split is eval's
    train.close()
    test.close()


if __name__ == "__main__":
    main()
