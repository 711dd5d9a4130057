"""Reference for tests/tokenizer_json.rs: small tokenizer.json files
(BERT WordPiece ones the crate must reproduce, uncased and cased, with BERT's and with other
token names and prefixes, and ones it must refuse), and the ids the
Hugging Face `tokenizers` library gives for a set of texts.

    python3 tests/data/tokenizer/reference.py   # tokenizers 0.22.2 (0.22.1 wrote the first nine texts' ids: the same)

Writes tests/data/tokenizer/{accepted,refused}.json.
"""
import copy
import json
import os

import tokenizers
from tokenizers import Tokenizer

assert tokenizers.__version__ == "0.22.2", tokenizers.__version__
HERE = os.path.dirname(os.path.abspath(__file__))

WORDS = ["The", "Cat", "FIANC", "na", "##\u00efve", "\u00e9", "the", "cat", "sat", "on", "mat", "un", "play", "ing", "able", "fiance", "naive", "hello",
         "world", "!", ",", ".", "'", "s", "?", "a", "b", "c", "x", "y", "z", "\u4e2d", "\u6587", "1", "2"]


def bert(names=("[PAD]", "[UNK]", "[CLS]", "[SEP]"), prefix="##", max_chars=100, processor="template"):
    pad, unk, cls, sep = names
    vocab = [pad, unk, cls, sep] + WORDS + [prefix + w for w in ["ing", "able", "s", "ed", "y", "at", "t", "e", "2"]]
    vocab = {t: i for i, t in enumerate(vocab)}
    if processor == "template":
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": sep, "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": cls, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": sep, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": sep, "type_id": 1}}],
                "special_tokens": {t: {"id": t, "ids": [vocab[t]], "tokens": [t]} for t in (cls, sep)}}
    else:
        post = {"type": "BertProcessing", "sep": [sep, vocab[sep]], "cls": [cls, vocab[cls]]}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in names],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": prefix, "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": prefix,
                  "max_input_chars_per_word": max_chars, "vocab": vocab},
    }


TEXTS = ["The cat sat on the mat!", "Unplayable, naïve FIANCÉ's hat?", "hello\tworld\u200b x\u0000y",
         "\u4e2d\u6587abc", "aaaaaaaaaaaa bbbbbb", "", "   ", "12 cats", "playing playable plays",
         # special tokens written in the text: matched before normalisation, case-sensitive
         "the [SEP] cat", "[CLS][sep]cat[SEP", "a[UNK]b [PAD]", "<s>hello</s> <pad>world",
         "cat  [SEP]  sat", " [CLS] ",
         # case and accents: kept, stripped or lowercased as the normaliser says
         "The Cat sat on THE mat", "FIANC\u00c9 na\u00efve caf\u00e9 \u00c9t\u00e9", "The\u0301 cat"]

accepted = []
for name, tok in [
    ("bert", bert()),
    ("bert, strip_accents true", None),
    ("other names and prefix", bert(("<pad>", "<unk>", "<s>", "</s>"), prefix="@@")),
    ("bert processing, short words", bert(processor="bert", max_chars=5)),
    ("special tokens that strip whitespace", "strip"),
    ("cased", "cased"),
    ("cased, strip_accents true", "cased-strip"),
    ("uncased, strip_accents false", "uncased-keep"),
]:
    if tok is None:
        tok = bert()
        tok["normalizer"]["strip_accents"] = True
    if tok in ("cased", "cased-strip", "uncased-keep"):
        kind, tok = tok, bert()
        tok["normalizer"]["lowercase"] = kind == "uncased-keep"
        tok["normalizer"]["strip_accents"] = {"cased": None, "cased-strip": True, "uncased-keep": False}[kind]
    if tok == "strip":
        tok = bert()
        for t in tok["added_tokens"]:
            t.update(lstrip=True, rstrip=True)
    t = Tokenizer.from_str(json.dumps(tok))
    ids = [t.encode(x).ids for x in TEXTS]
    accepted.append({"name": name, "tokenizer": tok, "texts": TEXTS, "ids": ids})

base = bert()
refused = []


def refuse(field, edit):
    tok = copy.deepcopy(base)
    edit(tok)
    refused.append({"field": field, "tokenizer": tok})


refuse("normalizer.lowercase", lambda t: t["normalizer"].update(lowercase="yes"))
refuse("normalizer.handle_chinese_chars", lambda t: t["normalizer"].update(handle_chinese_chars=False))
refuse("normalizer.clean_text", lambda t: t["normalizer"].update(clean_text=False))
refuse("normalizer.type", lambda t: t.update(normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"}]}))
refuse("normalizer.type", lambda t: t.update(normalizer=None))
refuse("pre_tokenizer.type", lambda t: t.update(pre_tokenizer={"type": "Whitespace"}))
refuse("pre_tokenizer.type", lambda t: t.update(pre_tokenizer={"type": "Metaspace", "replacement": "\u2581"}))
refuse("model.type", lambda t: t["model"].update(type="Unigram"))
refuse("model.type", lambda t: t["model"].update(type="BPE"))
refuse("post_processor.type", lambda t: t.update(post_processor=None))
refuse("post_processor.type", lambda t: t.update(post_processor={"type": "RobertaProcessing"}))
refuse("post_processor.single", lambda t: t["post_processor"].update(single=[{"Sequence": {"id": "A", "type_id": 0}}]))
refuse("added_tokens[4]", lambda t: t["added_tokens"].append(
    {"id": 4, "content": "the", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
     "special": False}))
refuse("added_tokens[0].normalized", lambda t: t["added_tokens"][0].update(normalized=True))
refuse("added_tokens[1].single_word", lambda t: t["added_tokens"][1].update(single_word=True))
refuse("model.continuing_subword_prefix", lambda t: t["model"].update(continuing_subword_prefix=""))

with open(os.path.join(HERE, "accepted.json"), "w") as f:
    json.dump(accepted, f, ensure_ascii=False, indent=1)
with open(os.path.join(HERE, "refused.json"), "w") as f:
    json.dump(refused, f, ensure_ascii=False, indent=1)
print(f"{len(accepted)} accepted, {len(refused)} refused")
