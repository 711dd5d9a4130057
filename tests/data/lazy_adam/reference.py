"""Independent reference for lelp's lazy Adam (src/train/lazy.rs).

Run from the repository root:
    python3 tests/data/lazy_adam/reference.py
Written with Python 3.11.7, numpy 2.4.6 (float64 throughout).

Lazy Adam: Adam restricted to the rows whose gradient is not zero. Per
step t (global, one per call) and touched row r:
    g  = grad[r] (+ penalty * w[r] for Adam's L2 decay)
    m[r] = b1 m[r] + (1 - b1) g ;  v[r] = b2 v[r] + (1 - b2) g^2
    w[r] -= lr * (m[r] / (1 - b1^t)) / (sqrt(v[r] / (1 - b2^t)) + eps)
AdamW's decoupled decay multiplies w[r] by (1 - lr * penalty) first.
Untouched rows keep w, m and v. With b1 0.9, b2 0.999, eps 1e-5 (burn's
Adam defaults). Writes expected.json next to this file: for each case
the inputs (w0, the gradients of three steps, lr, decay) and w, m, v
after each step.
"""
import json
import os

import numpy as np

B1, B2, EPS = 0.9, 0.999, 1e-5


def lazy_adam(w, grads, lr, decay):
    w = np.array(w, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    steps = []
    for t, g in enumerate(grads, start=1):
        g = np.array(g, dtype=np.float64)
        for r in range(w.shape[0]):
            if not np.any(g[r] != 0):
                continue
            gr = g[r] + (decay["penalty"] * w[r] if decay["kind"] == "l2" else 0.0)
            m[r] = B1 * m[r] + (1 - B1) * gr
            v[r] = B2 * v[r] + (1 - B2) * gr * gr
            if decay["kind"] == "decoupled":
                w[r] = w[r] * (1 - lr * decay["penalty"])
            mhat = m[r] / (1 - B1 ** t)
            vhat = v[r] / (1 - B2 ** t)
            w[r] = w[r] - lr * mhat / (np.sqrt(vhat) + EPS)
        steps.append({"w": w.tolist(), "m": m.tolist(), "v": v.tolist()})
    return steps


W0 = [[0.5, -0.25], [0.1, 0.2], [-0.3, 0.4], [0.0, 1.0], [0.7, -0.6]]
# row 1 is read only in step 1, row 3 never, row 4 only in step 3
GRADS = [
    [[0.2, -0.1], [0.05, 0.3], [-0.4, 0.0], [0.0, 0.0], [0.0, 0.0]],
    [[0.1, 0.1], [0.0, 0.0], [0.3, -0.2], [0.0, 0.0], [0.0, 0.0]],
    [[-0.2, 0.05], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.5, 0.5]],
]
CASES = {
    "plain": {"kind": "none", "penalty": 0.0},
    "l2": {"kind": "l2", "penalty": 0.1},
    "decoupled": {"kind": "decoupled", "penalty": 0.1},
}
LR = 0.05

out = {
    name: {"w0": W0, "grads": GRADS, "lr": LR, "decay": d, "steps": lazy_adam(W0, GRADS, LR, d)}
    for name, d in CASES.items()
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
