"""The table of experiments/cascade.sh from each run's `lelp distill`
summary: per data set and student, mean +- sample std over the seeds of the
teacher's and the student's test accuracy, and at the cascade's threshold
the share of test texts the student answers, the cascade's test accuracy
and agreement with the teacher, and the cascade's expected throughput over
the teacher's alone (from the student's and the teacher's rates in batches
of 512, measured side by side in the run, at the test rows' coverage) and,
where the run printed it, one text at a time (likewise from the student's
and the teacher's mean time a text over the data's first 200, each
predicted alone).

usage: python3 experiments/summarize_cascade.py OUT
"""
import collections
import glob
import os
import re
import statistics
import sys

NUM = r"([0-9.]+)"


def parse(text):
    teacher = float(re.search(r"teacher .*test accuracy " + NUM + "%", text).group(1))
    student = float(re.search(r"student .*test accuracy " + NUM + "%", text).group(1))
    m = re.search(r"on the test rows: the student answers " + NUM + r"%, the cascade's accuracy " + NUM
                  + r"%, agreement with the teacher " + NUM + "%", text)
    r = re.search(r"expected at the test rows' coverage " + NUM + r" texts/s \(" + NUM + "x the teacher", text)
    return {
        "teacher": teacher, "student": student,
        "coverage": float(m.group(1)), "accuracy": float(m.group(2)), "agreement": float(m.group(3)),
        "speedup": float(r.group(2)),
        "one_text": one_text(text),
    }


def one_text(text):
    m = re.search(r"one text at a time .*?expected at the test rows' coverage " + NUM + r" ms a text \(" + NUM
                  + "x the teacher", text)
    return float(m.group(2)) if m else None


def main():
    out = sys.argv[1]
    runs = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(out, "*.out"))):
        name = os.path.basename(path)[:-4].rsplit("-", 1)[0]
        runs[name].append(parse(open(path).read()))
    keys = ["teacher", "student", "coverage", "accuracy", "agreement", "speedup", "one_text"]
    print("| data-student | teacher accuracy | student accuracy | student answers | cascade accuracy"
          " | cascade agreement | cascade / teacher throughput | one text at a time |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs in runs.items():
        cells = []
        for k in keys:
            v = [r[k] for r in rs if r[k] is not None]
            if not v:
                cells.append("·")
                continue
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):.2f} ± {sd:.2f}" + ("x" if k in ("speedup", "one_text") else ""))
        print(f"| {name} ({len(rs)} seeds) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
