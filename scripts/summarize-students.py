"""Markdown tables comparing student variants on one task: rows of
examples/text.rs --out from several files (e.g. the static student with
its table frozen, fine-tuned, after an embedding-regression stage, and
the bag and CNN students). Standard library only.

    python3 scripts/summarize-students.py results/text/tweets-binary-static*.jsonl \\
        results/text/tweets-binary-bag.jsonl results/text/tweets-binary-cnn.jsonl

A variant is a row's file and (student, frozen_table, lazy, bigrams,
encoded_bigrams, regress, augment, unlabeled, epochs);
the first file's first variant is the reference. Per transfer size and
method: mean ± sample std over seeds for every variant, then each
variant's difference to the reference, paired by seed (* where |mean| >
2 x the larger of the two stds), and each variant's difference to vanilla
KD, paired by seed.
"""
import importlib.util
import json
import os
import sys
from collections import OrderedDict, defaultdict

_spec = importlib.util.spec_from_file_location(
    "summarize_subclass_text", os.path.join(os.path.dirname(os.path.abspath(__file__)), "summarize-subclass-text.py"))
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
paired, mean_std = _shared.paired, _shared.mean_std


def variant(r, path):
    name = f"{r['student']} [{os.path.basename(path).removesuffix('.jsonl')}]"
    if r["student"] == "static":
        name += ", frozen table" if r.get("frozen_table") else ", table fine-tuned"
    if r.get("lazy"):
        name += ", lazy Adam"
    if r.get("bigrams"):
        name += f", {r['bigrams']} bigram rows ({r.get('encoded_bigrams') or 0} from the teacher)"
    if r.get("regress"):
        name += f", regression {r['regress']} epochs"
    if r.get("augment"):
        name += f", {r['augment']} new texts a text"
    if r.get("unlabeled"):
        name += f", {r['unlabeled']} unlabeled texts"
    if r.get("epochs", 10) != 10:
        name += f", {r['epochs']} epochs"
    return name


rows = [(json.loads(l), path) for path in sys.argv[1:] for l in open(path) if l.strip()]
by = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))  # size -> method -> variant -> seed -> acc
variants, methods, teacher = OrderedDict(), OrderedDict(), {}
for r, path in rows:
    v = variant(r, path)
    variants[v] = None
    methods[r["method"]] = None
    by[r["transfer_size"]][r["method"]][v][r["seed"]] = 100 * r["accuracy"]
    teacher[r["seed"]] = 100 * r["teacher_accuracy"]
variants, methods = list(variants), list(methods)
ref = variants[0]
print(f"#### {rows[0][0]['corpus']}: teacher {mean_std(list(teacher.values()))[0]:.1f}%; reference: {ref}\n")


def pd(p):
    return "" if p is None else "{:+.1f} ± {:.1f}{}".format(*p)


for size in sorted(by):
    print(f"transfer {size}:\n")
    print("| student | " + " | ".join(methods) + " | " + " | ".join(f"{m} − reference" for m in methods)
          + " | " + " | ".join(f"{m} − KD" for m in methods if m != "vanilla KD") + " |")
    others = sum(m != "vanilla KD" for m in methods)
    print("|---" * (1 + 2 * len(methods) + others) + "|")
    for v in variants:
        cells, vs_ref, vs_kd = [], [], []
        for m in methods:
            acc = by[size][m].get(v, {})
            cells.append("{:.1f} ± {:.1f} ({})".format(*mean_std(list(acc.values())), len(acc)) if acc else "")
            both = {"a": acc, "b": by[size][m].get(ref, {})}
            vs_ref.append(pd(paired(both, "a", "b")) if v != ref and acc else "")
            if m != "vanilla KD":
                kd = {"a": acc, "b": by[size]["vanilla KD"].get(v, {})}
                vs_kd.append(pd(paired(kd, "a", "b")) if acc else "")
        print(f"| {v} | " + " | ".join(cells + vs_ref + vs_kd) + " |")
    print()
