"""The table of experiments/teacher_tune.sh: per teacher (frozen, tuned),
mean +- sample std over the seeds of the teacher's test accuracy, the
student's test accuracy and its agreement with its teacher (the
manifests), and the run's wall time (GNU time's elapsed, the fine-tuning
included; a second run with the same rows reads the cached folder).

usage: python3 experiments/summarize_teacher_tune.py OUT
"""
import glob
import json
import os
import re
import statistics
import sys


def wall(err):
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)", open(err).read())
    parts = [float(p) for p in m.group(1).split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def main():
    out = sys.argv[1]
    print("| teacher | seeds | teacher accuracy | student accuracy | student agreement | wall time (s) |")
    print("|---|---|---|---|---|---|")
    for teacher in ["frozen", "tuned"]:
        rows = []
        for path in sorted(glob.glob(os.path.join(out, f"{teacher}-*.json"))):
            m = json.load(open(path))
            rows.append((100 * m["teacher"]["test_accuracy"], 100 * m["metrics"]["test_accuracy"],
                         100 * m["metrics"]["test_agreement"], wall(path[:-5] + ".err")))
        if not rows:
            continue
        cell = lambda i: (f"{statistics.mean(r[i] for r in rows):.2f} ± "
                          f"{statistics.stdev(r[i] for r in rows) if len(rows) > 1 else 0.0:.2f}")
        print(f"| {teacher} | {len(rows)} | {cell(0)} | {cell(1)} | {cell(2)} | {cell(3)} |")


if __name__ == "__main__":
    main()
