"""Multi-label losses, scores and thresholds, computed independently with
numpy and scikit-learn: the reference of tests/multi_label.rs and of
src/train/loss.rs's `multi_label_losses_match_numpy`.

- binary cross-entropy with logits, the mean over rows and labels
  (PyTorch's BCEWithLogitsLoss), computed as -y log s(z) - (1-y) log(1-s(z));
- Bernoulli KD: alpha * BCE(z, y) + (1 - alpha) * tau^2 * BCE(z / tau, p),
  p = sigmoid(z_T / tau);
- scores of indicator matrices with scikit-learn (accuracy_score = subset
  accuracy, hamming_loss, precision/recall/f1 per label and macro, micro,
  weighted averages, zero_division=0);
- thresholds: for each label, every distinct probability (rows at or over
  it predicted) and a cut above the highest, tried by brute force with
  scikit-learn's f1_score / accuracy_score; the best, ties to the one
  nearest 0.5; a label no row has keeps 0.5 under F1.

Run from the repository root:  python3 tests/data/multi_label/reference.py
Written with Python 3.11.7, numpy 2.4.6, scikit-learn 1.7.2 (float64).
"""
import json
import os

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_score, recall_score

HERE = os.path.dirname(os.path.abspath(__file__))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def bce(z, y):
    s = sigmoid(z)
    return -(y * np.log(s) + (1 - y) * np.log(1 - s))


def cuts(p):
    u = np.unique(p)[::-1]  # descending distinct values
    return [(u[0] + 1.0) / 2.0] + list(u)


def best_threshold(p, y, rule):
    if rule == "f1" and y.sum() == 0:
        return 0.5
    best = None
    for c in cuts(p):
        pred = (p >= c).astype(int)
        s = f1_score(y, pred, zero_division=0) if rule == "f1" else accuracy_score(y, pred)
        if best is None or s > best[0] + 1e-12 or (abs(s - best[0]) <= 1e-12 and abs(c - 0.5) < abs(best[1] - 0.5)):
            best = (s, c)
    return best[1]


def main():
    rng = np.random.default_rng(20261207)
    out = {}
    # losses: 5 rows, 4 labels
    n, c, tau, alpha = 5, 4, 2.0, 0.3
    z = rng.normal(size=(n, c)) * 2
    t = rng.normal(size=(n, c)) * 2
    y = (rng.random(size=(n, c)) < 0.4).astype(float)
    p = sigmoid(t / tau)
    kd = alpha * bce(z, y).mean(axis=1) + (1 - alpha) * tau**2 * bce(z / tau, p).mean(axis=1)
    out["losses"] = {
        "logits": z.tolist(), "teacher_logits": t.tolist(), "labels": y.tolist(),
        "tau": tau, "alpha": alpha,
        "bce": float(bce(z, y).mean()), "bernoulli_kd": float(kd.mean()),
    }
    # scores: 40 rows, 5 labels (label 4 rare), thresholds per label
    n, c = 40, 5
    y = (rng.random(size=(n, c)) < np.array([0.5, 0.3, 0.2, 0.4, 0.05])).astype(int)
    probs = np.clip(0.55 * y + 0.6 * rng.random(size=(n, c)) - 0.1, 0.0, 1.0).astype(np.float32)
    probs = np.round(probs, 3)  # ties on purpose
    thresholds = [0.5, 0.4, 0.3, 0.6, 0.2]
    pred = (probs >= np.array(thresholds, dtype=np.float32)).astype(int)
    sets = [[int(k) for k in np.nonzero(row)[0]] for row in y]
    out["scores"] = {
        "probs": probs.astype(float).tolist(), "sets": sets, "classes": c, "thresholds": thresholds,
        "subset_accuracy": float(accuracy_score(y, pred)),
        "hamming_loss": float(hamming_loss(y, pred)),
        "micro_f1": float(f1_score(y, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0)),
        "precision": precision_score(y, pred, average=None, zero_division=0).tolist(),
        "recall": recall_score(y, pred, average=None, zero_division=0).tolist(),
        "f1": f1_score(y, pred, average=None, zero_division=0).tolist(),
        "f1_thresholds": [float(best_threshold(probs[:, k].astype(np.float64), y[:, k], "f1")) for k in range(c)],
        "accuracy_thresholds": [float(best_threshold(probs[:, k].astype(np.float64), y[:, k], "accuracy")) for k in range(c)],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
