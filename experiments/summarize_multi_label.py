"""The table of experiments/multi_label.sh: per seed and as mean +- sample
std over the seeds, the test split's macro-F1 at the fitted per-label
thresholds and at 0.5, micro-F1, subset accuracy and Hamming loss
(`lelp eval`), and the teacher's test subset accuracy (the manifest).

usage: python3 experiments/summarize_multi_label.py OUT
"""
import glob
import json
import os
import statistics
import sys


def main():
    out = sys.argv[1]
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "eval-*.json"))):
        seed = path.rsplit("-", 1)[1].split(".")[0]
        e = json.load(open(path))
        m = json.load(open(os.path.join(out, f"kd-{seed}.json")))
        rows.append({
            "seed": seed,
            "macro_f1": 100 * e["macro_f1"],
            "macro_f1_at_half": 100 * e["macro_f1_at_half"],
            "micro_f1": 100 * e["micro_f1"],
            "subset_accuracy": 100 * e["subset_accuracy"],
            "hamming_loss": e["hamming_loss"],
            "teacher": 100 * m["teacher"]["test_accuracy"],
        })
    keys = ["macro_f1", "macro_f1_at_half", "micro_f1", "subset_accuracy", "hamming_loss", "teacher"]
    print("| seed | macro-F1, fitted thresholds | macro-F1 at 0.5 | micro-F1 | subset accuracy | Hamming loss | teacher subset accuracy (its test rows) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join([r["seed"]] + [f"{r[k]:.4f}" if k == "hamming_loss" else f"{r[k]:.2f}" for k in keys]) + " |")
    cell = lambda k: (f"{statistics.mean(r[k] for r in rows):.4f} ± {statistics.stdev(r[k] for r in rows):.4f}"
                      if k == "hamming_loss" else
                      f"{statistics.mean(r[k] for r in rows):.2f} ± {statistics.stdev(r[k] for r in rows):.2f}")
    print("| mean ± std | " + " | ".join(cell(k) for k in keys) + " |")


if __name__ == "__main__":
    main()
