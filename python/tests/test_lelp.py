"""The Python bindings against the `lelp` tool: `lelp.distill` writes a
model file from a small labelled file (the tool's own teacher, MiniLM);
`lelp.Classifier` predicts with it, and its labels and probabilities equal
what `lelp predict` (the Rust tool, $LELP) writes for the same texts; bad
input raises Python's errors. Run by scripts/python-wheel.sh in a fresh
virtual environment with the wheel installed:

    LELP=target/release/lelp python python/tests/test_lelp.py
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import lelp


def sport_money(path):
    sport = ["match", "goal", "team", "coach", "league", "score", "player", "season"]
    money = ["bank", "loan", "price", "market", "stock", "profit", "budget", "tax"]
    filler = ["the", "a", "new", "big", "today", "this", "week", "report"]
    with open(path, "w") as f:
        for i in range(120):
            label, words = ("sport", sport) if i % 2 == 0 else ("money", money)
            text = f"{filler[i % 8]} {words[i % 8]} {words[(i // 3 + 1) % 8]} {filler[(i // 5) % 8]} {words[(i // 7 + 3) % 8]}"
            split = "test" if i % 5 == 0 else "train"
            f.write(json.dumps({"text": text, "label": label, "split": split}) + "\n")


def main():
    tool = os.environ["LELP"]
    tmp = tempfile.mkdtemp(prefix="lelp-python-")
    data = os.path.join(tmp, "sport-money.jsonl")
    model = os.path.join(tmp, "model.safetensors")
    sport_money(data)

    report = lelp.distill(data, model, student="bag", method="kd", seed=1)
    assert report["model"] == model, report
    assert report["class_names"] == ["money", "sport"], report
    assert report["test_accuracy"] > 0.8, report

    texts = ["the coach and the team", "a loan from the bank", "", "caf\u00e9 \u2014 market report \U0001F600"]
    clf = lelp.Classifier.load(model)
    labels, probs = clf.predict(texts)
    assert isinstance(labels, np.ndarray) and isinstance(probs, np.ndarray), (type(labels), type(probs))
    assert probs.dtype == np.float32 and probs.shape == (len(texts), 2), (probs.dtype, probs.shape)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert list(clf.class_names) == ["money", "sport"]
    empty_labels, empty_probs = clf.predict([])
    assert empty_labels.dtype.kind == "U" and empty_probs.shape == (0, 2), (empty_labels.dtype, empty_probs.shape)

    # the same texts through the Rust tool
    inp = os.path.join(tmp, "texts.jsonl")
    with open(inp, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    out = subprocess.run([tool, "predict", model, "--input", inp], check=True, capture_output=True, text=True).stdout
    rust = [json.loads(line) for line in out.splitlines()]
    assert len(rust) == len(texts)
    for i, r in enumerate(rust):
        assert labels[i] == r["label"], (i, labels[i], r["label"])
        want = np.array([r["probabilities"][n] for n in clf.class_names], dtype=np.float32)
        assert np.abs(probs[i] - want).max() < 1e-6, (i, probs[i], want)

    # errors: Python's own types, with lelp's messages
    for call, exc in [
        (lambda: lelp.Classifier.load(os.path.join(tmp, "missing.safetensors")), FileNotFoundError),
        (lambda: lelp.Classifier.load(data), ValueError),  # not a model file
        (lambda: lelp.distill(data, model, student="lstm"), ValueError),
        (lambda: lelp.distill(data, model, class_weight="inverse"), ValueError),
    ]:
        try:
            call()
        except exc as e:
            assert str(e), e
        else:
            raise AssertionError(f"expected {exc.__name__}")
    print(f"python bindings: ok ({len(texts)} texts equal to `lelp predict`; distill test accuracy {report['test_accuracy']:.3f})")


if __name__ == "__main__":
    sys.exit(main())
