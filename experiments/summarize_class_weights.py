"""The table of docs/deploy.md's class-weight measurement from the model
manifests experiments/class_weights.sh wrote (`lelp info` of each model):
test accuracy, macro-F1, and the rare domain's recall and F1, mean and
standard deviation (ddof 1) over the seeds, per weighting.

    python3 experiments/summarize_class_weights.py results/class-weights [RARE]
"""
import glob
import json
import os
import statistics
import sys

RARE = sys.argv[2] if len(sys.argv) > 2 else "banking"


def main():
    out = sys.argv[1]
    rows = {}
    for path in sorted(glob.glob(os.path.join(out, "*-*.json"))):
        weight = os.path.basename(path).split("-")[0]
        m = json.load(open(path))
        s = m["metrics"]["test_scores"]
        rare = m["class_names"].index(RARE)
        rows.setdefault(weight, []).append(
            (s["accuracy"], s["macro_f1"], s["per_class"][rare]["recall"], s["per_class"][rare]["f1"])
        )

    def cell(values):
        values = [100 * v for v in values]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.2f} ± {sd:.2f}"

    print(f"| --class-weight | seeds | accuracy | macro-F1 | {RARE} recall | {RARE} F1 |")
    print("|---|---|---|---|---|---|")
    for weight in ("none", "balanced"):
        r = rows.get(weight, [])
        if r:
            cols = list(zip(*r))
            print(f"| {weight} | {len(r)} | " + " | ".join(cell(c) for c in cols) + " |")


if __name__ == "__main__":
    main()
