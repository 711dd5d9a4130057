"""onnxruntime's speed on a lelp ONNX export, as benches/predict.rs
measures lelp's Classifier (run both with benches/onnx_vs_lelp.sh): one
text at a time (median and 99th percentile over 200 calls, the
featuriser in Python included and without it) and texts a second in a
batch of 512 (median of five). The texts: the first 512 CLINC150 queries.

    python benches/onnx_latency.py model.onnx [clinc150.jsonl.gz [predictions.jsonl]]

With `lelp predict`'s JSON lines for the same 512 texts (in order), it
also prints the largest difference between the two probabilities and how
many labels differ.
"""

import gzip
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from lelp_onnx import OnnxClassifier, batch  # noqa: E402


def main():
    path = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/text/clinc150.jsonl.gz"
    with gzip.open(data, "rt") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(512), f)]
    opts = ort.SessionOptions()
    clf = OnnxClassifier(path)
    clf.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feats = [clf.featurizer.ids(t) for t in texts]
    clf.predict(texts[:1])  # warm

    def one(i):
        t = time.perf_counter()
        clf.predict([texts[i % len(texts)]])
        return (time.perf_counter() - t) * 1e3

    def graph_only(i):
        ids, mask = batch([feats[i % len(feats)]])
        t = time.perf_counter()
        clf.session.run(["probabilities"], {"ids": ids, "mask": mask})
        return (time.perf_counter() - t) * 1e3

    full = np.array([one(i) for i in range(1, 201)])
    graph = np.array([graph_only(i) for i in range(1, 201)])
    rates = []
    for _ in range(5):
        t = time.perf_counter()
        clf.predict(texts)
        rates.append(len(texts) / (time.perf_counter() - t))
    if len(sys.argv) > 3:
        with open(sys.argv[3]) as f:
            lelp = [json.loads(line) for line in f]
        labels, probs = clf.predict(texts)
        want = np.array([[p["probabilities"][n] for n in clf.class_names] for p in lelp])
        diff = np.abs(probs - want).max()
        differ = sum(a != p["label"] for a, p in zip(labels, lelp))
        print(f"against lelp predict on {len(lelp)} texts: max |p_onnx - p_lelp| = {diff:.2e}, labels differing: {differ}")
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, intra-op threads default")
    print(f"| one text, median | one text, p99 | graph only, median | texts/s (batch 512) |")
    print(f"| {np.median(full):.3f} ms | {np.percentile(full, 99):.3f} ms | {np.median(graph):.3f} ms | {np.median(rates):.0f} |")


if __name__ == "__main__":
    main()
