"""The table of docs/deploy.md, "Your own model as the teacher, measured",
from the `lelp distill` summaries (and `/usr/bin/time -v` logs) that
experiments/own_teacher.sh writes: per teacher and student, the teacher's
test accuracy, the student's test accuracy and agreement with its teacher
(mean and sample std over seeds), auto's choices, the student's mean KL and
the agreement on the teacher's least confident tenth, wall time and peak
memory.

    python3 experiments/summarize_own_teacher.py results/own-teacher
"""
import glob
import os
import re
import statistics
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else "results/own-teacher"
rows = {}
for out in sorted(glob.glob(os.path.join(folder, "*-*-[0-9].out"))):
    teacher, student, seed = os.path.basename(out)[:-4].rsplit("-", 2)
    text = open(out).read()
    err_path = out[:-4] + ".err"
    err = open(err_path).read() if os.path.exists(err_path) else ""
    m_t = re.search(r"^teacher .*test accuracy ([\d.]+)%", text, re.M)
    m_s = re.search(r"^student .*test accuracy ([\d.]+)%", text, re.M)
    m_f = re.search(r"agreement with the teacher ([\d.]+)% of (\d+) test rows; mean KL ([\d.]+)", text)
    m_c = re.search(r"^\s+\* (.+?)\s{2,}", text, re.M)
    m_low = re.search(r"least confident tenth first: (\d+)%", text)
    m_wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", err)
    m_rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    if not (m_t and m_s and m_f):
        print(f"skipped {out}: incomplete", file=sys.stderr)
        continue
    wall = None
    if m_wall:
        parts = [float(p) for p in m_wall.group(1).split(":")]
        wall = sum(p * 60 ** k for k, p in enumerate(reversed(parts)))
    rows.setdefault((teacher, student), []).append({
        "seed": int(seed),
        "teacher": float(m_t.group(1)),
        "accuracy": float(m_s.group(1)),
        "agreement": float(m_f.group(1)),
        "kl": float(m_f.group(3)),
        "low": int(m_low.group(1)) if m_low else None,
        "chosen": m_c.group(1) if m_c else "?",
        "wall": wall,
        "rss": int(m_rss.group(1)) / 1024 if m_rss else None,
    })


def ms(values):
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


print("| teacher | student | seeds | teacher test acc. % | student test acc. % | agreement with the teacher % | mean KL (nats) | agreement, teacher's least confident tenth % | auto chose | wall time s | peak memory MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (teacher, student), runs in sorted(rows.items()):
    runs.sort(key=lambda r: r["seed"])
    print(
        f"| {teacher} | {student} | {len(runs)} | {ms([r['teacher'] for r in runs])} | {ms([r['accuracy'] for r in runs])} "
        f"| {ms([r['agreement'] for r in runs])} | {ms([r['kl'] for r in runs])} | {ms([r['low'] for r in runs])} "
        f"| {', '.join(r['chosen'] for r in runs)} | {ms([r['wall'] for r in runs])} | {ms([r['rss'] for r in runs])} |"
    )
