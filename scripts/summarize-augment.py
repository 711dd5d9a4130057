"""Markdown tables for the augmented-transfer-set study: rows of
examples/text.rs --augment N --out (one file may hold several N and
several transfer sizes; rows without an `augment` field count as N = 0).
Standard library only.

    python3 scripts/summarize-augment.py results/text/tweets-binary-cnn-augment.jsonl

Per file: mean ± sample std over seeds per (transfer size, N) and method,
with the transfer rows the student saw; each method's difference to
vanilla KD paired by seed; each method's gain from augmentation, paired by
seed against the same method at N = 0 and the same transfer size
(* where |mean| > 2 x the larger of the two stds).
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


for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if l.strip()]
    by = defaultdict(lambda: defaultdict(dict))  # (size, N) -> method -> seed -> acc
    seen = defaultdict(list)  # (size, N) -> rows the student saw
    methods = OrderedDict()
    teacher = {}
    for r in rows:
        key = (r["transfer_size"], r.get("augment", 0))
        by[key][r["method"]][r["seed"]] = 100 * r["accuracy"]
        seen[key].append(r.get("rows", r["transfer_size"]))
        methods[r["method"]] = None
        teacher[r["seed"]] = 100 * r["teacher_accuracy"]
    first = rows[0]
    names = list(methods)
    print(f"#### {os.path.basename(path)}: {first['corpus']}, {first['student']} student, "
          f"teacher {statistics.mean(teacher.values()):.1f}%\n")
    print("| transfer | new texts a text | rows seen | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 3) + "|")
    for key in sorted(by):
        cells = [fmt(list(by[key][m].values())) for m in names]
        print(f"| {key[0]} | {key[1]} | {round(statistics.mean(seen[key]))} | " + " | ".join(cells) + " |")
    print()
    kd = "vanilla KD"
    if kd in methods:
        others = [m for m in names if m != kd]
        print(f"paired difference to {kd} (mean ± std over seeds; * where |mean| > 2 x the larger std):\n")
        print("| transfer | new texts a text | " + " | ".join(others) + " |")
        print("|---" * (len(others) + 2) + "|")
        for key in sorted(by):
            cells = [pd(paired(by[key], m, kd)) if m in by[key] and kd in by[key] else "" for m in others]
            print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
        print()
    print("gain from augmentation: the same method and seed against no augmentation (mean ± std; *):\n")
    print("| transfer | new texts a text | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for key in sorted(by):
        base = (key[0], 0)
        if key[1] == 0 or base not in by:
            continue
        cells = []
        for m in names:
            if m in by[key] and m in by[base]:
                cells.append(pd(paired({"a": by[key][m], "b": by[base][m]}, "a", "b")))
            else:
                cells.append("")
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    print()
