"""Markdown tables for the study of text with true sub-classes (20 Newsgroups,
CLINC150): rows of examples/text.rs --out (students) and --align --out
(pseudo-subclass alignment). Standard library only.

    python3 scripts/summarize-subclass-text.py results/subclass-text/*.jsonl

Per student file: mean ± sample std over seeds per transfer size and method;
each method's difference to vanilla KD paired by seed (* where |mean| > 2 x
the larger of the two stds); the share of the KD-to-oracle gap each method
closes, (m - KD) / (oracle - KD), from the means; the mean alignment
(purity / NMI of the argmax pseudo-subclass against the fine label) of the
run's targets. Per alignment file: purity and NMI per method and S.
Files of several widths (--hidden W,W) are also summarised side by side by width.
"""
import json
import statistics
import sys
from collections import OrderedDict, defaultdict


def mean_std(v):
    return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)


def fmt(v):
    return "{:.1f} ± {:.1f}".format(*mean_std(v)) if v else ""


def paired(cells_by_method, m, kd="vanilla KD"):
    """m - kd paired by seed: (mean, std, "*" where |mean| > 2 x the larger
    of the two methods' stds), or None with fewer than two common seeds.
    `cells_by_method`: method -> seed -> accuracy."""
    a, b = cells_by_method[m], cells_by_method[kd]
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    dm, ds = mean_std([a[s] - b[s] for s in seeds])
    larger = max(mean_std([a[s] for s in seeds])[1], mean_std([b[s] for s in seeds])[1])
    return dm, ds, "*" if abs(dm) > 2 * larger else ""


def students(path, rows):
    by = defaultdict(lambda: defaultdict(dict))  # size -> method -> seed -> acc
    align = defaultdict(lambda: defaultdict(list))  # size -> method -> nmi
    methods = OrderedDict()
    teacher = {}
    for r in rows:
        by[r["transfer_size"]][r["method"]][r["seed"]] = 100 * r["accuracy"]
        if r.get("nmi") is not None:
            align[r["transfer_size"]][r["method"]].append((r["purity"], r["nmi"]))
        methods[r["method"]] = None
        teacher[r["seed"]] = 100 * r["teacher_accuracy"]
    first = rows[0]
    hidden = first.get("hidden")
    corpus = first.get("corpus") or first.get("experiment", "?").split(":")[0]
    print(f"#### {corpus}: {first.get('student', 'mlp')} student"
          f"{' ' + '-'.join(map(str, [384] + hidden)) if hidden else ''}, teacher {statistics.mean(teacher.values()):.1f}% "
          f"({path})\n")
    names = list(methods)
    print("| transfer | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for size in sorted(by):
        print(f"| {size} | " + " | ".join(fmt(list(by[size][m].values())) for m in names) + " |")
    print()
    kd = "vanilla KD"
    others = [m for m in names if m != kd]
    print(f"paired difference to {kd} (mean ± std over seeds; * where |mean| > 2 x the larger std), "
          "and the share of the KD-to-oracle gap closed:\n")
    print("| transfer | " + " | ".join(others) + " |")
    print("|---" * len(names) + "|")
    for size in sorted(by):
        cells = []
        kd_mean = statistics.mean(by[size][kd].values()) if by[size][kd] else None
        oracle = by[size].get("oracle")
        gap = statistics.mean(oracle.values()) - kd_mean if oracle and kd_mean is not None else None
        for m in others:
            p = paired(by[size], m, kd)
            if p is None:
                cells.append("")
                continue
            dm, ds, star = p
            share = ""
            if gap is not None and gap > 0.5 and m != "oracle":
                share = f" ({100 * (statistics.mean(by[size][m].values()) - kd_mean) / gap:+.0f}%)"
            cells.append(f"{dm:+.1f} ± {ds:.1f}{star}{share}")
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()
    if align:
        am = [m for m in names if any(align[s][m] for s in align)]
        print("alignment of the run's pseudo-subclasses with the fine labels (purity / NMI, mean over seeds):\n")
        print("| transfer | " + " | ".join(am) + " |")
        print("|---" * (len(am) + 1) + "|")
        for size in sorted(align):
            cells = []
            for m in am:
                v = align[size][m]
                cells.append(f"{statistics.mean(p for p, _ in v):.2f} / {statistics.mean(n for _, n in v):.2f}" if v else "")
            print(f"| {size} | " + " | ".join(cells) + " |")
        print()


def alignment(path, rows):
    first = rows[0]
    print(f"#### {first['corpus']}: pseudo-subclasses of the training split ({first['rows']} rows) "
          f"against the fine labels ({path})\n")
    methods = OrderedDict((r["method"], None) for r in rows)
    ss = sorted({r["s"] for r in rows})
    cell = {(r["method"], r["s"]): r for r in rows}
    print("| method | " + " | ".join(f"S = {s}: purity / NMI" for s in ss) + " |")
    print("|---" * (len(ss) + 1) + "|")
    for m in methods:
        cells = []
        for s in ss:
            r = cell.get((m, s))
            cells.append(f"{r['purity']:.2f} / {r['nmi']:.2f}" if r else "")
        print(f"| {m} | " + " | ".join(cells) + " |")
    print(f"\nmajority share (purity of no split): {rows[0]['majority']:.2f}\n")


def widths(paths):
    # corpus -> width -> size -> method -> [acc]
    by = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    methods = OrderedDict()
    for path in paths:
        for r in (json.loads(l) for l in open(path) if l.strip()):
            if r.get("kind") == "alignment" or r.get("hidden") is None:
                continue
            by[r["corpus"]][r["hidden"][0]][r["transfer_size"]][r["method"]].append(100 * r["accuracy"])
            methods[r["method"]] = None
    for corpus, ws in by.items():
        if len(ws) < 2:
            continue
        sizes = sorted({s for w in ws.values() for s in w})
        for size in [s for s in sizes if sum(1 for w in ws.values() if s in w) > 1]:
            print(f"#### {corpus}: student width (384-W-W), transfer {size}\n")
            print("| method | " + " | ".join(f"W = {w}" for w in sorted(ws)) + " |")
            print("|---" * (len(ws) + 1) + "|")
            for m in methods:
                print(f"| {m} | " + " | ".join(fmt(ws[w][size].get(m, [])) for w in sorted(ws)) + " |")
            print()


import os

if __name__ == "__main__":
    paths = [p for p in sys.argv[1:] if os.path.exists(p)]
    for p in sys.argv[1:]:
        if p not in paths:
            print(f"(not found: {p})\n")
    for path in paths:
        rows = [json.loads(l) for l in open(path) if l.strip()]
        if not rows:
            continue
        if rows[0].get("kind") == "alignment":
            alignment(path, rows)
        else:
            students(path, rows)
            if "experiment" in rows[0]:
                # the tuned runner: the selected setting per method, over seeds
                picks = defaultdict(lambda: defaultdict(int))
                for r in rows:
                    setting = {k: v for k, v in (r.get("setting") or {}).items() if k in ("subclasses", "tau", "beta", "weight", "ce", "distance", "angle")}
                    if setting:
                        picks[(r["transfer_size"], r["method"])][json.dumps(setting, sort_keys=True)] += 1
                if picks:
                    print("selected settings (times chosen over seeds):\n")
                    for (size, m), c in sorted(picks.items()):
                        print(f"- {size}, {m}: " + "; ".join(f"{k} x{n}" for k, n in c.items()))
                    print()
    widths(paths)
