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
import importlib.util
import os
from collections import OrderedDict, defaultdict

# the paired difference to KD, shared with summarize-subclass-text.py
_spec = importlib.util.spec_from_file_location(
    "summarize_subclass_text", os.path.join(os.path.dirname(os.path.abspath(__file__)), "summarize-subclass-text.py"))
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
paired = _shared.paired


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
            p = paired(by[size], m, kd)
            cells.append("" if p is None else f"{p[0]:+.1f} ± {p[1]:.1f}{p[2]}")
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()
