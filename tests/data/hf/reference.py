"""Reference for tests/hf_classifier.rs: small sequence-classification
checkpoints written by `transformers` itself (`save_pretrained`, randomly
initialised with a wide initialiser so that the logits are far from zero),
and the token ids and logits `transformers` computes for a set of texts.

    /tmp/tvenv/bin/python tests/data/hf/reference.py
    # Python 3.11.7, torch 2.9.0 (CPU), transformers 4.57.6, tokenizers 0.22.2

Writes tests/data/hf/<name>/ (config.json, model.safetensors, tokenizer
files) and tests/data/hf/expected.json. The folders:
- bert-uncased: BertForSequenceClassification, 3 classes, fast tokenizer
  (tokenizer.json), do_lower_case.
- bert-cased-vocab: the same architecture, 2 classes, cased, saved with the
  slow tokenizer only (vocab.txt + tokenizer_config.json, no tokenizer.json).
- bert-f16: bert-uncased's weights saved in float16 (the reference logits
  are the float16 weights run in float32).
- distilbert-cased: DistilBertForSequenceClassification, 4 classes, cased
  fast tokenizer.
- bert-no-head: a bare BertModel (no pooler head, no classifier) whose
  config.json claims BertForSequenceClassification: must be refused.
"""
import json
import os
import shutil
import tempfile

import torch
import transformers
from transformers import (BertConfig, BertForSequenceClassification, BertModel, BertTokenizer,
                          BertTokenizerFast, DistilBertConfig, DistilBertForSequenceClassification)

assert transformers.__version__ == "4.57.6", transformers.__version__
assert torch.__version__.startswith("2.9.0"), torch.__version__
HERE = os.path.dirname(os.path.abspath(__file__))

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
         "the", "The", "cat", "Cat", "sat", "on", "mat", "good", "Good", "bad", "film", "plot", "dull",
         "great", "not", "is", "was", "a", "very", "caf", "café", "cafe", "naive", "na", "##ïve", "##ive",
         "un", "##play", "##able", "play", "##ing", "##s", "!", ",", ".", "?", "'", "中", "文",
         "FIANC", "##É", "##E", "fiance", "1", "2", "##0", "x", "y", "z"]

TEXTS = ["The cat sat on the mat!", "a very good film", "Not GOOD, not bad.", "Café naïve FIANCÉ",
         "unplayable plot is dull", "中文 x y z", "", "12 cats? 20!",
         "the the the the the the the the the the the the the the the the the the the the the the the the the the",
         "The [SEP] cat [MASK]"]


def tokenizer(cased, fast=True):
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    cls = BertTokenizerFast if fast else BertTokenizer
    return cls(os.path.join(d, "vocab.txt"), do_lower_case=not cased, model_max_length=24)


def widen(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def save(name, model, tok, texts=TEXTS):
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    model.eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    enc = tok(texts, truncation=True, max_length=24, padding=True, return_tensors="pt")
    if "token_type_ids" not in model.forward.__code__.co_varnames:
        enc.pop("token_type_ids")
    with torch.no_grad():
        logits = model.float()(**enc).logits
    ids = [[int(i) for i, m in zip(row, mask) if m] for row, mask in zip(enc["input_ids"], enc["attention_mask"])]
    return {"name": name, "texts": texts, "ids": ids, "logits": logits.tolist(),
            "classes": [model.config.id2label[i] for i in range(model.config.num_labels)]}


torch.manual_seed(0)
cases = []
small = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=24, type_vocab_size=2)

bert = BertForSequenceClassification(BertConfig(**small, id2label={0: "negative", 1: "neutral", 2: "positive"},
                                                label2id={"negative": 0, "neutral": 1, "positive": 2}))
widen(bert, 1)
cases.append(save("bert-uncased", bert, tokenizer(cased=False)))

cased = BertForSequenceClassification(BertConfig(**small, id2label={0: "ham", 1: "spam"},
                                                 label2id={"ham": 0, "spam": 1}))
widen(cased, 2)
tok = tokenizer(cased=True, fast=False)
cases.append(save("bert-cased-vocab", cased, tok))
assert not os.path.exists(os.path.join(HERE, "bert-cased-vocab", "tokenizer.json"))

half = BertForSequenceClassification(bert.config)
half.load_state_dict(bert.state_dict())
half = half.half()
out = os.path.join(HERE, "bert-f16")
case = save("bert-f16", half, tokenizer(cased=False))  # save() runs the half weights in float32
cases.append(case)

distil = DistilBertForSequenceClassification(DistilBertConfig(
    vocab_size=len(VOCAB), dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=24,
    id2label={0: "billing", 1: "travel", 2: "weather", 3: "other"},
    label2id={"billing": 0, "travel": 1, "weather": 2, "other": 3}))
widen(distil, 3)
cases.append(save("distilbert-cased", distil, tokenizer(cased=True)))

bare = BertModel(BertConfig(**small), add_pooling_layer=False)
out = os.path.join(HERE, "bert-no-head")
shutil.rmtree(out, ignore_errors=True)
bare.save_pretrained(out)
tokenizer(cased=False).save_pretrained(out)
with open(os.path.join(out, "config.json")) as f:
    cfg = json.load(f)
cfg["architectures"] = ["BertForSequenceClassification"]
cfg["id2label"] = {"0": "a", "1": "b"}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(cfg, f, indent=2)

versions = {"transformers": transformers.__version__, "torch": torch.__version__}
with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
    json.dump({"versions": versions, "cases": cases}, f, ensure_ascii=False, indent=1)
print({c["name"]: [round(v, 3) for v in c["logits"][0]] for c in cases})
