"""Class-weighted distillation losses, computed independently with numpy:
the reference of src/train/loss.rs's `class_weighted_losses_match_numpy`.

Each loss is a weighted mean over the rows, sum_i w_{y_i} l_i / sum_i
w_{y_i} (PyTorch's reduction of `cross_entropy(weight=...)`), of:
- cross-entropy of the class logits (logsumexp over each class's S outputs);
- the soft-target loss alpha * CE + (1 - alpha) * tau^2 * KL(q || softmax(z / tau));
- decoupled KD (Zhao et al. 2022): ce * CE(z) + tau^2 * (tckd * KL(b_T || b_S)
  + nckd * KL(q_hat || p_hat)), b the target-vs-rest split, hat the
  distribution over the non-target classes.

Run from the repository root:  python3 tests/data/class_weights/reference.py
Written with Python 3.11.7, numpy 2.4.6 (float64).
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def class_logits(z, c, s):
    z = z.reshape(z.shape[0], c, s)
    m = z.max(axis=2, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=2, keepdims=True)))[:, :, 0]


def weighted_mean(rows, labels, w):
    rw = np.array([w[y] for y in labels])
    return float((rows * rw).sum() / rw.sum())


def ce_rows(cl, labels):
    return -log_softmax(cl)[np.arange(len(labels)), labels]


def main():
    rng = np.random.default_rng(20261207)
    out = {}
    # soft targets with subclasses: C = 2, S = 2
    n, c, s, tau, alpha = 6, 2, 2, 2.0, 0.4
    z = rng.normal(size=(n, c * s)) * 2
    t = rng.normal(size=(n, c * s)) * 2
    labels = np.array([0, 1, 1, 0, 1, 1])
    w = [0.3, 1.7]
    log_q = log_softmax(t / tau)
    q = np.exp(log_q)
    kl = (q * (log_q - log_softmax(z / tau))).sum(axis=1)
    ce = ce_rows(class_logits(z, c, s), labels)
    soft = alpha * ce + (1 - alpha) * tau**2 * kl
    out["soft"] = {
        "logits": z.tolist(), "log_targets": log_q.tolist(), "labels": labels.tolist(),
        "classes": c, "subclasses": s, "tau": tau, "alpha": alpha, "weights": w,
        "loss": weighted_mean(soft, labels, w), "unweighted": float(soft.mean()),
        "ce": weighted_mean(ce, labels, w),
    }
    # DKD: C = 3
    n, c, tau = 7, 3, 2.0
    z = rng.normal(size=(n, c)) * 2
    t = rng.normal(size=(n, c)) * 2
    labels = np.array([0, 1, 2, 2, 1, 0, 2])
    w = [1.0, 2.0, 0.5]
    dw = {"ce": 1.0, "tckd": 1.0, "nckd": 8.0}
    log_q = log_softmax(t / tau)
    q, p = np.exp(log_q), np.exp(log_softmax(z / tau))
    rows = []
    for i in range(n):
        y = labels[i]
        bt = np.array([q[i, y], 1 - q[i, y]])
        bs = np.array([p[i, y], 1 - p[i, y]])
        tckd = (bt * (np.log(bt) - np.log(bs))).sum()
        others = [j for j in range(c) if j != y]
        qh = q[i, others] / q[i, others].sum()
        ph = p[i, others] / p[i, others].sum()
        nckd = (qh * (np.log(qh) - np.log(ph))).sum()
        ce = -log_softmax(z[i : i + 1])[0, y]
        rows.append(dw["ce"] * ce + tau**2 * (dw["tckd"] * tckd + dw["nckd"] * nckd))
    rows = np.array(rows)
    out["dkd"] = {
        "logits": z.tolist(), "log_targets": log_q.tolist(), "labels": labels.tolist(),
        "classes": c, "tau": tau, "dkd": dw, "weights": w,
        "loss": weighted_mean(rows, labels, w), "unweighted": float(rows.mean()),
    }
    # balanced weights (scikit-learn's rule, written out): n / (C n_c)
    labels = [0] * 19 + [1]
    counts = np.bincount(labels, minlength=3)
    out["balanced"] = {
        "labels": labels, "classes": 3,
        "weights": [len(labels) / (3 * k) if k else 0.0 for k in counts],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
