"""docs/deploy.md's `--best-epoch` table from experiments/best_epoch.sh's
summaries: test accuracy and agreement with the teacher, mean and standard
deviation over the seeds (n - 1), and the paired difference (on - off) with
its standard deviation. Python 3 standard library only.

    python3 experiments/summarize_best_epoch.py [results/best-epoch]
"""
import glob
import os
import re
import statistics
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "results/best-epoch"
runs = {}
for path in glob.glob(os.path.join(root, "*.txt")):
    m = re.match(r"(.+)-(static|cnn|bag)-(\w+)-(on|off)-seed(\d+)\.txt", os.path.basename(path))
    if not m:
        continue
    text = open(path).read()
    acc = re.search(r"student .*test accuracy ([\d.]+)%", text)
    agree = re.search(r"fidelity agreement with the teacher ([\d.]+)%", text)
    if not (acc and agree):
        continue
    data, student, method, best, seed = m.groups()
    runs[(data, student, method, best, int(seed))] = (float(acc.group(1)), float(agree.group(1)))


def ms(xs):
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.2f} ± {sd:.2f}"


print("| data | student, method | test accuracy: last epoch / best epoch | difference | test agreement: last / best | difference | seeds |")
print("|---|---|---|---|---|---|---|")
for data, student, method in sorted({k[:3] for k in runs}):
    seeds = sorted(s for (d, st, me, b, s) in runs if (d, st, me, b) == (data, student, method, "on")
                   and (data, student, method, "off", s) in runs)
    if not seeds:
        continue
    off = [runs[(data, student, method, "off", s)] for s in seeds]
    on = [runs[(data, student, method, "on", s)] for s in seeds]
    row = [data, f"{student}, {method}"]
    for i in range(2):
        row += [f"{ms([o[i] for o in off])} / {ms([o[i] for o in on])}",
                ms([b[i] - a[i] for a, b in zip(off, on)])]
    row.append(str(len(seeds)))
    print("| " + " | ".join(row) + " |")
