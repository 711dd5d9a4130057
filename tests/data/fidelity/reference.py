"""Reference values for tests/metrics.rs (fidelity_matches_numpy): lelp::metrics::fidelity on
seeded random teacher/student probabilities, computed with numpy.

Versions: Python 3.11.7, numpy 2.4.6.
Run: python3 tests/data/fidelity/reference.py > tests/data/fidelity/expected.json

Conventions (those documented on lelp::metrics::Fidelity): argmax ties to
the lower class; KL(teacher || student) in nats with the student floored at
1e-12 and zero teacher terms counting 0; TV = 0.5 * sum |p_t - p_s|;
confidence groups: a stable ascending sort by the teacher's top
probability, group k = sorted rows k*n//10 .. (k+1)*n//10.
"""
import json

import numpy as np

rng = np.random.default_rng(20261207)


def probs(n, c, sharpness):
    p = rng.dirichlet(np.full(c, sharpness), size=n).astype(np.float32)
    return p


def case(teacher, student):
    n, c = teacher.shape
    t = teacher.astype(np.float64)
    s = student.astype(np.float64)
    at = np.argmax(teacher, axis=1)  # first maximum: ties to the lower class
    as_ = np.argmax(student, axis=1)
    agree = at == as_
    confusion = np.zeros((c, c), dtype=int)
    np.add.at(confusion, (at, as_), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(t > 0, t * np.log(t / np.maximum(s, 1e-12)), 0.0)
    kl = terms.sum(axis=1).mean()
    tv = (0.5 * np.abs(t - s).sum(axis=1)).mean()
    conf = t[np.arange(n), at]
    order = np.argsort(conf, kind="stable")
    bins = []
    for k in range(10):
        g = order[k * n // 10:(k + 1) * n // 10]
        bins.append({
            "rows": int(len(g)),
            "agreement": float(agree[g].mean()) if len(g) else None,
            "confidence": [float(conf[g[0]]), float(conf[g[-1]])] if len(g) else None,
        })
    per_class = []
    for k in range(c):
        rows = int(confusion[k].sum())
        per_class.append({"rows": rows, "agreement": float(confusion[k, k] / rows) if rows else None})
    return {
        "classes": c,
        "teacher": teacher.ravel().tolist(),
        "student": student.ravel().tolist(),
        "agreement": float(agree.mean()),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "mean_kl": float(kl),
        "mean_tv": float(tv),
        "by_confidence": bins,
    }


cases = []
for n, c, sharp in [(500, 2, 1.0), (333, 5, 0.5), (57, 10, 0.3), (7, 3, 1.0)]:
    t = probs(n, c, sharp)
    # a student that mostly follows the teacher: a noisy mixture
    s = (0.6 * t + 0.4 * probs(n, c, sharp)).astype(np.float32)
    cases.append(case(t, s))
# one-hot teachers (zero probabilities), a student with exact zeros, ties
t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=40)]
s = probs(40, 4, 0.2)
s[::5] = np.float32(0.25)  # ties: the student's argmax is class 0
s[1, :] = np.array([0.0, 0.0, 1.0, 0.0], dtype=np.float32)
cases.append(case(t, s))
print(json.dumps({"source": "numpy " + np.__version__, "cases": cases}))
