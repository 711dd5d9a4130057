"""Markdown tables for the augmented-transfer-set study: rows of
examples/text.rs --augment N --out (files may hold several N, transfer
sizes and epochs; rows without an `augment` field count as N = 0, without
an `epochs` field as 10, the runner's default). The files are summarised
together, as one study. Standard library only.

    python3 scripts/summarize-augment.py results/text/tweets-binary-cnn-augment*.jsonl

Per file: mean ± sample std over seeds per (transfer size, N) and method,
with the transfer rows the student saw; each method's difference to
vanilla KD paired by seed; each method's gain, paired by seed, against the
same method at N = 0, 10 epochs and the same transfer size (* where |mean|
> 2 x the larger of the two stds). Longer training without new texts (more
epochs) is the control for the extra optimiser steps augmentation brings.
"""
import importlib.util
import json
import os
import statistics
import sys
from collections import OrderedDict, defaultdict

_spec = importlib.util.spec_from_file_location(
    "summarize_subclass_text", os.path.join(os.path.dirname(os.path.abspath(__file__)), "summarize-subclass-text.py"))
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
paired, fmt, mean_std = _shared.paired, _shared.fmt, _shared.mean_std


def pd(p):
    return "" if p is None else "{:+.1f} ± {:.1f}{}".format(*p)


rows = [json.loads(l) for path in sys.argv[1:] for l in open(path) if l.strip()]
by = defaultdict(lambda: defaultdict(dict))  # (size, N, epochs) -> method -> seed -> acc
seen = defaultdict(list)  # (size, N, epochs) -> rows the student saw
methods = OrderedDict()
teacher = {}
for r in rows:
    key = (r["transfer_size"], r.get("augment", 0), r.get("epochs", 10))
    by[key][r["method"]][r["seed"]] = 100 * r["accuracy"]
    seen[key].append(r.get("rows", r["transfer_size"]))
    methods[r["method"]] = None
    teacher[r["seed"]] = 100 * r["teacher_accuracy"]
first = rows[0]
names = list(methods)
print(f"#### {first['corpus']}, {first['student']} student, teacher {statistics.mean(teacher.values()):.1f}% "
      f"({', '.join(os.path.basename(p) for p in sys.argv[1:])})\n")
print("| transfer | new texts a text | epochs | rows seen | seeds | " + " | ".join(names) + " |")
print("|---" * (len(names) + 5) + "|")
for key in sorted(by):
    cells = [fmt(list(by[key][m].values())) for m in names]
    n_seeds = max(len(v) for v in by[key].values())
    print(f"| {key[0]} | {key[1]} | {key[2]} | {round(statistics.mean(seen[key]))} | {n_seeds} | " + " | ".join(cells) + " |")
print()
kd = "vanilla KD"
if kd in methods:
    others = [m for m in names if m != kd]
    print(f"paired difference to {kd} (mean ± std over seeds; * where |mean| > 2 x the larger std):\n")
    print("| transfer | new texts a text | epochs | " + " | ".join(others) + " |")
    print("|---" * (len(others) + 3) + "|")
    for key in sorted(by):
        cells = [pd(paired(by[key], m, kd)) if m in by[key] and kd in by[key] else "" for m in others]
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
    print()
print("gain against the same method and seed at N = 0, 10 epochs (mean ± std over the common seeds; *):\n")
print("| transfer | new texts a text | epochs | " + " | ".join(names) + " |")
print("|---" * (len(names) + 3) + "|")
for key in sorted(by):
    base = (key[0], 0, 10)
    if key == base or base not in by:
        continue
    cells = []
    for m in names:
        if m in by[key] and m in by[base]:
            cells.append(pd(paired({"a": by[key][m], "b": by[base][m]}, "a", "b")))
        else:
            cells.append("")
    print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
print()
