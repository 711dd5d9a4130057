"""The validation coverage curves of experiments/cascade.sh's runs: per
data set and student kind, at each threshold of the summary's curve, the
share of validation texts the student answers and the cascade's agreement
with the teacher there, mean over the seeds. Python 3 standard library.

usage: python3 experiments/summarize_cascade_curves.py OUT [OUT ...]
"""
import collections
import glob
import os
import re
import statistics
import sys

POINT = re.compile(r"([0-9.]+): ([0-9.]+)% / ([0-9.]+)%")


def main(folders):
    curves = collections.defaultdict(list)
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*.out"))):
            key = re.sub(r"-\d+\.out$", "", os.path.basename(path))
            text = open(path).read()
            line = next((l for l in text.splitlines() if "validation curve" in l), None)
            if line:
                curves[key].append({t: (float(c), float(a)) for t, c, a in POINT.findall(line.split(":", 2)[2])})
    thresholds = sorted({t for runs in curves.values() for run in runs for t in run}, key=float)
    print("| data-student | " + " | ".join(f"{t}" for t in thresholds) + " |")
    print("|---|" + "---|" * len(thresholds))
    for key in sorted(curves):
        runs = curves[key]
        cells = []
        for t in thresholds:
            pts = [r[t] for r in runs if t in r]
            cov = statistics.mean(p[0] for p in pts)
            agr = statistics.mean(p[1] for p in pts)
            cells.append(f"{cov:.1f} / {agr:.1f}")
        print(f"| {key} ({len(runs)} seeds) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
