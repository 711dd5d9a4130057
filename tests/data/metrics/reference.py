"""Reference values for tests/metrics.rs: purity and NMI of seeded random
partitions, from scikit-learn.

Versions: Python 3.11.7, numpy 2.2.6, scikit-learn 1.6.1.
Run: python3 tests/data/metrics/reference.py > tests/data/metrics/expected.json
"""
import json

import numpy as np
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

rng = np.random.default_rng(20261202)
cases = []
for n, ka, kb, dependence in [(50, 3, 4, 0.0), (200, 8, 5, 0.5), (1000, 16, 20, 0.8), (37, 1, 6, 0.0), (400, 5, 5, 1.0)]:
    a = rng.integers(0, ka, size=n)
    b = rng.integers(0, kb, size=n)
    # with probability `dependence`, b is a function of a
    copy = rng.random(n) < dependence
    b = np.where(copy, (a * 7 + 3) % kb, b)
    m = contingency_matrix(b, a)  # rows: truth b, columns: groups a
    purity = m.max(axis=0).sum() / n
    cases.append({
        "groups": a.tolist(),
        "truth": b.tolist(),
        "purity": float(purity),
        "nmi": float(normalized_mutual_info_score(b, a, average_method="arithmetic")),
    })
print(json.dumps({"source": "scikit-learn 1.6.1, numpy 2.2.6", "cases": cases}))
