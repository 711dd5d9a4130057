"""onnxruntime's probabilities on lelp's ONNX exports: the reference of
tests/onnx.rs.

Reads inputs.json (the texts and, per model, the token ids lelp's
featuriser gives them) and each <case>.onnx here; checks every graph with
onnx's checker; checks that scripts/lelp_onnx.py's Python featuriser gives
lelp's ids; runs onnxruntime on the ids padded into one batch with a
mask, and again one text at a time (padding must not change a row); writes
expected.json. Run after `cargo test --features text --test onnx --
--ignored write_fixtures`:

    python tests/data/onnx/reference.py

Versions used for the committed expected.json: Python 3.11.7,
onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6, tokenizers 0.23.3.
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
import lelp_onnx  # noqa: E402  the Python featuriser users run, checked here
CASES = ["bag", "bag_subclass_calibrated", "static_int8", "static_f16", "cnn"]


def batch(seqs, pad_to=None):
    width = max(max((len(s) for s in seqs), default=0), 1)
    if pad_to is not None:
        width = max(width, pad_to)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.float32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    return ids, mask


def main():
    with open(os.path.join(HERE, "inputs.json")) as f:
        inputs = json.load(f)
    out = {"versions": {"onnxruntime": ort.__version__, "onnx": onnx.__version__, "numpy": np.__version__},
           "probabilities": {}}
    for case in CASES:
        path = os.path.join(HERE, f"{case}.onnx")
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        manifest = json.loads(meta["lelp.manifest"])
        classes = len(manifest["class_names"])
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        seqs = inputs["ids"][case]
        featurizer = lelp_onnx.Featurizer(manifest["featurizer"])
        for text, want in zip(inputs["texts"], seqs):
            assert featurizer.ids(text) == want, (case, text, featurizer.ids(text), want)
        ids, mask = batch(seqs)
        logits, probs = sess.run(["logits", "probabilities"], {"ids": ids, "mask": mask})
        assert probs.shape == (len(seqs), classes), probs.shape
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)
        # one text at a time, padded wider than needed: the same rows
        for i, s in enumerate(seqs):
            one_ids, one_mask = batch([s], pad_to=len(s) + 3)
            (p1,) = sess.run(["probabilities"], {"ids": one_ids, "mask": one_mask})
            assert np.allclose(p1[0], probs[i], atol=1e-6), (case, i, p1[0], probs[i])
        out["probabilities"][case] = probs.astype(float).tolist()
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
