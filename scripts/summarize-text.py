"""Markdown tables from the text runner's rows (examples/text.rs --out).

For each file: mean ± sample std over seeds per transfer size and method,
the teacher's accuracy, and each method's difference to vanilla KD paired
by seed (mean ± std, and whether it exceeds twice the larger of the two
stds). Standard library only.

    python3 scripts/summarize-text.py results/text/tweets-binary-mlp.jsonl [...]
"""
import json
import statistics
import sys
from collections import OrderedDict, defaultdict


def mean_std(v):
    return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)


for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if l.strip()]
    by = defaultdict(lambda: defaultdict(dict))  # size -> method -> seed -> acc
    methods = OrderedDict()
    teacher = {}
    for r in rows:
        by[r["transfer_size"]][r["method"]][r["seed"]] = 100 * r["accuracy"]
        methods[r["method"]] = None
        teacher[r["seed"]] = 100 * r["teacher_accuracy"]
    first = rows[0]
    print(f"#### {path}: {first['corpus']}, {first['student']} student, teacher embedding "
          f"{first.get('teacher_embedding', 'hidden')}, head {first.get('teacher_head', 'mlp')}, "
          f"teacher {statistics.mean(teacher.values()):.1f}%\n")
    names = list(methods)
    print("| transfer | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for size in sorted(by):
        cells = []
        for m in names:
            v = list(by[size][m].values())
            cells.append("{:.1f} ± {:.1f}".format(*mean_std(v)) if v else "")
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()
    kd = "vanilla KD"
    print(f"paired difference to {kd} (mean ± std over seeds; * where |mean| > 2 x the larger std):\n")
    print("| transfer | " + " | ".join(m for m in names if m != kd) + " |")
    print("|---" * len(names) + "|")
    for size in sorted(by):
        cells = []
        for m in names:
            if m == kd:
                continue
            seeds = sorted(set(by[size][m]) & set(by[size][kd]))
            if len(seeds) < 2:
                cells.append("")
                continue
            d = [by[size][m][s] - by[size][kd][s] for s in seeds]
            dm, ds = mean_std(d)
            larger = max(mean_std([by[size][m][s] for s in seeds])[1], mean_std([by[size][kd][s] for s in seeds])[1])
            star = "*" if abs(dm) > 2 * larger else ""
            cells.append(f"{dm:+.1f} ± {ds:.1f}{star}")
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()
