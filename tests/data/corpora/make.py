"""Writes the gzip fixtures of tests/corpora.rs (Python 3.11.7, standard
library only; mtime fixed so the bytes are reproducible).

    python3 tests/data/corpora/make.py
"""
import gzip
import os

here = os.path.dirname(os.path.abspath(__file__))
JSONL = (
    '{"text": "new gpu drivers", "label": "comp", "fine_label": "comp.graphics", "split": "train"}\n'
    '{"text": "orbital launch", "label": "sci", "fine_label": "sci.space", "split": "test"}\n'
    '{"text": "hockey scores", "label": "rec", "fine_label": "rec.sport.hockey", "split": "train"}\n'
    '{"text": "used car for sale", "label": "misc", "fine_label": "misc.forsale", "split": "train"}\n'
    '{"text": "encryption keys", "label": "sci", "fine_label": "sci.crypt", "split": "train"}\n'
)
CSV = "text,label,split\nhello,a,train\nbye,b,test\n"
for name, text in [("demo.jsonl", JSONL), ("demo.csv", CSV)]:
    with open(os.path.join(here, name + ".gz"), "wb") as f:
        f.write(gzip.compress(text.encode(), mtime=0))
with open(os.path.join(here, "demo.jsonl"), "w") as f:
    f.write(JSONL)
