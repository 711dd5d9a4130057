"""Run a lelp student exported to ONNX (`lelp export --onnx MODEL OUT.onnx`)
from Python: the featuriser lelp's model file records, reproduced, and the
graph run by onnxruntime.

    from lelp_onnx import OnnxClassifier
    clf = OnnxClassifier("model.onnx")          # reads the manifest in the file
    labels, probabilities = clf.predict(["free money now", "see you at noon"])

Needs numpy and onnxruntime; the static and CNN students' WordPiece
featuriser also needs `tokenizers` (Hugging Face). The ids equal lelp's
(`lelp predict MODEL --ids`) for the texts tests/data/onnx/reference.py
checks; the hashed featuriser splits words where a character is not
alphanumeric, which Python and Rust define alike for Latin, Greek, Cyrillic,
CJK and most scripts, but not for every combining mark (Rust's
`is_alphanumeric` counts Unicode's Other_Alphabetic marks as letters,
Python's `isalnum` does not): compare with `lelp predict --ids` on your own
texts when they are in such a script.
"""

import json

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def hashed_ngrams(text: str, buckets: int, bigrams: bool, max_words: int) -> list:
    """lelp's HashedNgrams::encode: lower-cased words (runs of alphanumeric
    characters), each hashed with FNV-1a into `buckets`, then each pair of
    adjacent words (joined by a space); `[0]` for a text without words."""
    words, cur = [], []
    for ch in text:
        if ch.isalnum():
            cur.append(ch)
        elif cur:
            words.append("".join(cur))
            cur = []
    if cur:
        words.append("".join(cur))
    words = [w.lower() for w in words[:max_words]]
    if not words:
        return [0]
    ids = [fnv1a64(w.encode()) % buckets for w in words]
    if bigrams:
        ids += [fnv1a64(f"{a} {b}".encode()) % buckets for a, b in zip(words, words[1:])]
    return ids


def bigram_id(a: int, b: int, buckets: int, vocab_size: int) -> int:
    """lelp's WordPiece::bigram_id: FNV-1a of the two ids (little-endian
    u32 each) into `buckets`, after the vocabulary."""
    h = fnv1a64(a.to_bytes(4, "little") + b.to_bytes(4, "little")) % max(buckets, 1)
    return (vocab_size + h) & 0xFFFFFFFF


class Featurizer:
    """The featuriser of a lelp manifest (`featurizer` field)."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.kind = spec["kind"]
        if self.kind == "wordpiece":
            from tokenizers import BertWordPieceTokenizer

            settings = spec.get("tokenizer", {})
            specials = {settings.get(k, d) for k, d in
                        [("unk", "[UNK]"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("pad", "[PAD]")]}
            bert = {t for t in specials | {"[MASK]"} if t in set(spec["vocab"])}
            added = settings.get("added_tokens")
            if (added is not None and set(added) != bert) or settings.get("max_word_chars", 100) != 100:
                raise ValueError(
                    "this featuriser reproduces BERT's special tokens and 100-character words only; "
                    "the manifest names others (compare with `lelp predict MODEL --ids`)"
                )
            vocab = {tok: i for i, tok in enumerate(spec["vocab"])}
            self.vocab_size = len(spec["vocab"])
            self.tok = BertWordPieceTokenizer(
                vocab,
                unk_token=settings.get("unk", "[UNK]"),
                sep_token=settings.get("sep", "[SEP]"),
                cls_token=settings.get("cls", "[CLS]"),
                pad_token=settings.get("pad", "[PAD]"),
                lowercase=settings.get("lowercase", True),
                strip_accents=settings.get("strip_accents", True),
                wordpieces_prefix=settings.get("prefix", "##"),
            )
            self.tok.enable_truncation(max_length=spec["max_tokens"])
        elif self.kind != "hashed_ngrams":
            raise ValueError(f"a {self.kind} featuriser is not exported to ONNX")

    def ids(self, text: str) -> list:
        s = self.spec
        if self.kind == "hashed_ngrams":
            return hashed_ngrams(text, s["buckets"], s["bigrams"], s["max_words"])
        ids = self.tok.encode(text).ids
        buckets = s.get("bigram_buckets", 0)
        if buckets > 0 and len(ids) > 3:
            inner = ids[1:-1]
            ids = ids + [bigram_id(a, b, buckets, self.vocab_size) for a, b in zip(inner, inner[1:])]
        return ids


def batch(seqs: list):
    """Pads id lists into the graph's `ids` (int64) and `mask` (float32)."""
    width = max(max((len(s) for s in seqs), default=0), 1)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.float32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1.0
    return ids, mask


class OnnxClassifier:
    """A lelp ONNX export and its featuriser: `predict(texts)` returns the
    labels (names) and the class probabilities, as `lelp predict` does."""

    def __init__(self, path: str):
        import onnxruntime as ort

        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.manifest = json.loads(meta["lelp.manifest"])
        self.class_names = self.manifest["class_names"]
        self.featurizer = Featurizer(self.manifest["featurizer"])

    def predict(self, texts: list):
        ids, mask = batch([self.featurizer.ids(t) for t in texts])
        (probs,) = self.session.run(["probabilities"], {"ids": ids, "mask": mask})
        return [self.class_names[i] for i in probs.argmax(axis=1)], probs
