"""The validation curves of `--student auto --search exhaustive` and the
successive halving simulated on them (docs/deploy.md, "The student chosen
within a budget"). Python 3 standard library only.

    python3 experiments/halving_sim.py extract LOG OUT.tsv
        every candidate's validation score after each epoch, from the log
        of an exhaustive run the tool printed its training progress into
        (experiments/student_auto.sh runs it under `script`): a row a
        candidate, kind, method, the search's score (its best epoch), then
        one score an epoch (agreement with the teacher's classes, %)
    python3 experiments/halving_sim.py simulate TSV... [--trainings 3 ...]
        the halving as src/deploy/distill/budget.rs schedules it (rate 3,
        within the kinds first, every round the same epochs' worth, the
        chosen candidate trained on to the full epochs) replayed on the
        curves: a candidate's score after e epochs is its best whole epoch
        so far, or the curve read linearly within the current epoch; what
        it chooses, its gap to the exhaustive choice, and its cost in full
        trainings. A model of the tool, not the tool: the tool's slices of
        an epoch and its fresh optimiser each round are not in it.
"""
import math
import re
import sys

KINDS = ["bag", "static", "cnn"]


def extract(log, out):
    text = open(log, "rb").read().decode("utf8", "replace").replace("\r", "\n")
    rows, curve = [], []
    for line in text.split("\n"):
        m = re.search(r"epoch\s+(\d+)/\d+ lr .*valid loss [\d.]+ acc ([\d.]+)", line)
        if m:
            if int(m.group(1)) == 1:
                curve = []
            curve.append(100 * float(m.group(2)))
            continue
        m = re.search(r"\]\s+\d+/\d+ (bag|static|cnn) (.+?): validation agreement with the teacher ([\d.]+)%", line)
        if m:
            rows.append((m.group(1), m.group(2), float(m.group(3)), curve))
            curve = []
    with open(out, "w") as f:
        for kind, method, score, c in rows:
            f.write("\t".join([kind, method, f"{score:.2f}"] + [f"{x:.2f}" for x in c]) + "\n")


def read(tsv):
    out = {}
    for line in open(tsv):
        kind, method, score, *curve = line.rstrip("\n").split("\t")
        out[(kind, method)] = (float(score), [float(x) for x in curve])
    return out


def score_at(curve, e):
    whole = min(int(math.floor(e + 1e-9)), len(curve))
    best = max(curve[:whole]) if whole else None
    frac = e - whole
    if frac > 1e-9 and whole < len(curve):
        prev = curve[whole - 1] if whole else 0.0
        now = prev + (curve[whole] - prev) * frac
        best = now if best is None else max(best, now)
    return best


def halving(cands, trainings, epochs=10, keep=3):
    alive = sorted(cands, key=lambda c: (KINDS.index(c[0]), list(cands).index(c)))
    groups = [sum(1 for c in alive if c[0] == k) for k in KINDS]
    groups = [g for g in groups if g]
    rounds = []
    while sum(groups) > 1:
        within = any(g > 1 for g in groups)
        rounds.append((sum(groups), within))
        groups = [math.ceil(g / keep) for g in groups] if within else [1] * math.ceil(len(groups) / keep)
    r = len(rounds)
    share = sum(1 / (n * r) for n, _ in rounds)
    search = min((trainings - 1) / (1 - share), 1 / share)
    spent = {c: 0.0 for c in alive}
    for n, within in rounds:
        for c in alive:
            spent[c] += search * epochs / r / n
        score = {c: score_at(cands[c][1], spent[c]) for c in alive}
        order = lambda cs: sorted(cs, key=lambda c: -score[c])
        if within:
            alive = [c for k in KINDS for c in order([c for c in alive if c[0] == k])[: math.ceil(sum(1 for c in alive if c[0] == k) / keep)]]
        else:
            alive = order(alive)[: math.ceil(len(alive) / keep)]
    chosen = alive[0]
    cost = (sum(spent.values()) + max(0.0, epochs - spent[chosen])) / epochs
    return chosen, cost


def simulate(paths, trainings):
    for path in paths:
        cands = read(path)
        best = max(s for s, _ in cands.values())
        for t in trainings:
            chosen, cost = halving(cands, t)
            print(f"{path}: trainings {t:g}: {chosen[0]} {chosen[1]}, gap {best - cands[chosen][0]:.2f}, cost {cost:.2f} trainings")


if __name__ == "__main__":
    if sys.argv[1] == "extract":
        extract(sys.argv[2], sys.argv[3])
    else:
        args = sys.argv[2:]
        ts = [3.0]
        if "--trainings" in args:
            i = args.index("--trainings")
            ts = [float(x) for x in args[i + 1:]]
            args = args[:i]
        simulate(args, ts)
