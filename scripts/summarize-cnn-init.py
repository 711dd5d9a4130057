"""The CNN student from the teacher's vocabulary table (examples/text.rs
--init-table) against the same CNN from random embeddings, paired by seed
(the seed draws the labelled rows and everything else; the random-init rows
are results/text/tweets-binary-cnn-augment.jsonl's N = 0, 10-epoch runs).
Standard library only.

    python3 scripts/summarize-cnn-init.py results/text/tweets-binary-cnn-init.jsonl \
        results/text/tweets-binary-cnn-augment.jsonl

Mean ± sample std over seeds; the paired difference (initial table minus
random) with * where |mean| > 2 x the larger of the two stds.
"""
import json
import statistics as st
import sys
from collections import defaultdict

METHODS = ["plain", "vanilla KD", "LELP"]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(v):
    return "{:.1f} ± {:.1f}".format(st.mean(v), st.stdev(v) if len(v) > 1 else 0.0)


def main(init_path, base_path):
    base = {
        (r["transfer_size"], r["method"], r["seed"]): 100 * r["accuracy"]
        for r in load(base_path)
        if r.get("augment", 0) == 0 and r.get("epochs", 10) == 10
    }
    groups = defaultdict(list)
    for r in load(init_path):
        groups[(r["transfer_size"], r["init_table"], r["method"])].append(r)
    print("| transfer | initial table | method | seeds | accuracy | random init, same seeds | paired difference |")
    print("|---|---|---|---|---|---|---|")
    for (n, table, m) in sorted(groups, key=lambda k: (k[0], k[1], METHODS.index(k[2]) if k[2] in METHODS else 9)):
        rows = groups[(n, table, m)]
        acc = [100 * r["accuracy"] for r in rows]
        pairs = [(100 * r["accuracy"], base[(n, m, r["seed"])]) for r in rows if (n, m, r["seed"]) in base]
        rnd = [b for _, b in pairs]
        diff = [a - b for a, b in pairs]
        cell = ""
        if diff:
            spread = max(st.stdev(acc) if len(acc) > 1 else 0.0, st.stdev(rnd) if len(rnd) > 1 else 0.0)
            mark = "*" if len(diff) > 1 and abs(st.mean(diff)) > 2 * spread else ""
            cell = "{:+.1f} ± {:.1f}{}".format(st.mean(diff), st.stdev(diff) if len(diff) > 1 else 0.0, mark)
        print(f"| {n} | {table} | {m} | {len(acc)} | {fmt(acc)} | {fmt(rnd) if rnd else ''} | {cell} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
