"""Summarise experiments/student_auto.sh: per data set and seed, the
exhaustive search's choice, the halving's choice and that choice's
validation agreement in the exhaustive table (the gap), each search's
seconds, and the halving's search (`halving`: 3 full trainings' worth
with the chosen student's own, the default; `halvingN`: N), which ends
with the chosen student trained, against one full training (the chosen
candidate's, and the mean over the kinds of their full training with
vanilla KD, from the exhaustive table). Python 3 standard library only.

    python3 experiments/summarize_student_auto.py results/student-auto
"""
import re
import sys
from pathlib import Path

ROW = re.compile(
    r"^\s+(\*?)\s*(bag|static|cnn)( \((?:int8|f16)\))?\s+(.+?)\s{2,}(\S+)%\s+(\S+)%\s+(\S+) ms\s+(\S+) MB\s+(\S+)\s+(\S+)s\s+(.*)$"
)


def parse(path):
    text = Path(path).read_text()
    rows = {}
    chosen = None
    for line in text.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        star, kind, _, method, agree, acc, ms, mb, epochs, secs, outcome = m.groups()
        key = (kind, method.strip())
        rows[key] = dict(agree=float(agree), acc=float(acc), secs=float(secs), epochs=float(epochs))
        if star:
            chosen = key
    search = float(re.search(r"([\d.]+) s of search", text).group(1))
    wall = float(re.search(r"wall ([\d.]+) s", text).group(1))
    test = float(re.search(r"student .*test accuracy ([\d.]+)%", text).group(1))
    fid = float(re.search(r"agreement with the teacher ([\d.]+)%", text).group(1))
    return dict(rows=rows, chosen=chosen, search=search, wall=wall, test=test, fidelity=fid)


def main(folder):
    out = []
    for h in sorted(Path(folder).glob("*-halving*-seed*.txt")):
        label = re.search(r"-(halving\d*)-", h.name).group(1)
        e = h.with_name(h.name.replace(f"-{label}-", "-exhaustive-"))
        if not e.exists():
            continue
        trainings = label[len("halving"):] or "3"
        name = h.name.replace(f"-{label}-", f" ({trainings} trainings) ").replace(".txt", "")
        H, E = parse(h), parse(e)
        best = E["rows"][E["chosen"]]["agree"]
        mine = E["rows"][H["chosen"]]["agree"]
        full_chosen = E["rows"][H["chosen"]]["secs"]
        kd = [E["rows"][(k, "vanilla KD")]["secs"] for k in ("bag", "static", "cnn") if (k, "vanilla KD") in E["rows"]]
        mean_full = sum(kd) / len(kd)
        out.append(
            f"{name}: exhaustive {' '.join(E['chosen'])} {best:.2f} | halving {' '.join(H['chosen'])} "
            f"{mine:.2f} (gap {best - mine:+.2f}) | test acc {H['test']:.2f} vs {E['test']:.2f}, "
            f"test agreement {H['fidelity']:.2f} vs {E['fidelity']:.2f} | search {H['search']:.0f} s vs "
            f"{E['search']:.0f} s ({E['search'] / H['search']:.1f}x) | halving search / chosen's full training "
            f"{H['search'] / full_chosen:.2f}x, / mean kind's KD training {H['search'] / mean_full:.2f}x | "
            f"whole run {H['wall']:.0f} s vs {E['wall']:.0f} s"
        )
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/student-auto")
