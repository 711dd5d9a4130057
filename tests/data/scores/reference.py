"""Reference values for tests/metrics.rs (scores_match_scikit_learn):
lelp::metrics::scores on seeded random probabilities and labels, computed
with scikit-learn and numpy.

Versions: Python 3.11.7, numpy 2.4.6, scikit-learn 1.7.2.
Run: python3 tests/data/scores/reference.py > tests/data/scores/expected.json

Conventions (those documented on lelp::metrics::Scores):
precision_recall_fscore_support with zero_division=0 over the classes
present in the labels or the predictions (scikit-learn's default label
set) for the macro means, over every class for the per-class values;
weighted F1 by support; top_k_accuracy_score for k in 2, 3, 5 below the
number of classes; ECE over ten equal-width bins of the top probability,
bin = clip(ceil(10 p), 1, 10) - 1.
"""
import json

import numpy as np
import sklearn
from sklearn.metrics import precision_recall_fscore_support, top_k_accuracy_score

rng = np.random.default_rng(20261207)


def case(name, probs, labels):
    probs = probs.astype(np.float32)
    n, c = probs.shape
    pred = np.argmax(probs, axis=1)
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=list(range(c)), zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(labels, pred, average="macro", zero_division=0)
    _, _, wf, _ = precision_recall_fscore_support(labels, pred, average="weighted", zero_division=0)
    top = [[k, float(top_k_accuracy_score(labels, probs, k=k, labels=list(range(c))))] for k in (2, 3, 5) if k < c]
    conf = probs.max(axis=1).astype(np.float64)
    bins = np.clip(np.ceil(conf * 10.0), 1, 10).astype(int) - 1
    ece = 0.0
    for b in range(10):
        m = bins == b
        if m.any():
            ece += m.sum() / n * abs((pred[m] == labels[m]).mean() - conf[m].mean())
    return {
        "name": name,
        "classes": c,
        "probs": probs.astype(float).tolist(),
        "labels": labels.tolist(),
        "accuracy": float((pred == labels).mean()),
        "precision": p.tolist(),
        "recall": r.tolist(),
        "f1": f.tolist(),
        "support": s.tolist(),
        "macro_precision": float(mp),
        "macro_recall": float(mr),
        "macro_f1": float(mf),
        "weighted_f1": float(wf),
        "top_k": top,
        "ece": float(ece),
    }


cases = []
# five classes, mostly right
labels = rng.integers(0, 5, 300)
logits = rng.normal(size=(300, 5)) + 2.0 * np.eye(5)[labels]
cases.append(case("five classes", np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels))
# imbalanced binary (95/5), a model that nearly always says the majority
labels = (rng.random(400) < 0.05).astype(int)
p1 = np.clip(rng.normal(0.2, 0.15, 400) + 0.2 * labels, 0.001, 0.999)
cases.append(case("imbalanced binary", np.stack([1 - p1, p1], 1), labels))
# six classes, class 5 never a label nor predicted, class 4 a label never predicted
labels = rng.integers(0, 5, 120)
logits = rng.normal(size=(120, 6)) + 1.5 * np.eye(6)[labels]
logits[:, 4] -= 10.0
logits[:, 5] -= 10.0
cases.append(case("absent classes", np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels))
# a few rows, sharp and flat
labels = np.array([0, 1, 2, 2, 1, 0, 3])
cases.append(case("few rows", rng.dirichlet(np.full(4, 0.5), size=7), labels))

# ties: exact zeros and equal top probabilities (top-k ranks the higher
# class first among ties, as scikit-learn's stable sort reversed does)
labels = np.array([0, 1, 2, 3, 3, 2, 1, 0])
tied = np.array([[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.4, 0.2, 0.2, 0.2], [0.4, 0.2, 0.2, 0.2],
                 [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.5]])
cases.append(case("ties", tied, labels))

print(json.dumps({"versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
                  "cases": cases}))
