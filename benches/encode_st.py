"""sentence-transformers' encoding rate on the texts of benches/encode.rs:
the first 256 SpamAssassin emails (subject and body, as lelp's
`email_text`), at most 128 tokens (LELP_BENCH_TOKENS), batch 64, 2 threads;
with LELP_BENCH_TEXTS=clinc the first 1,024 CLINC150 queries ($LELP_TEXT_DATA,
default ../shared/data/text).

    /path/to/venv/bin/python benches/encode_st.py [MODEL_DIR] [SPAM_DIR]

Versions used for docs/performance.md: torch 2.9.0, sentence-transformers
6.2.0, numpy 2.4.6.
"""
import glob
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
from sentence_transformers import SentenceTransformer

MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/lelp/all-MiniLM-L6-v2")
SPAM = sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser("~/.cache/lelp/spam-assassin")
GROUPS = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"]


def email_text(raw):
    i = raw.find("\n\n")
    head, body = (raw[:i], raw[i + 2:]) if i >= 0 else (raw, "")
    subject = ""
    for line in head.split("\n"):
        if line.startswith("Subject:") or line.startswith("subject:"):
            subject = line[8:].strip()
            break
    return " ".join((subject + "\n" + body).split())


def texts(n=256):
    out = []
    for g in GROUPS:
        for f in sorted(glob.glob(os.path.join(SPAM, g, "*.json"))):
            out.append(email_text(json.load(open(f))["text"]))
    return out[:n]


def clinc(n=1024):
    import gzip
    d = os.environ.get("LELP_TEXT_DATA", "../shared/data/text")
    with gzip.open(os.path.join(d, "clinc150.jsonl.gz"), "rt") as f:
        return [json.loads(line)["text"] for _, line in zip(range(n), f)]


def main():
    torch.set_num_threads(2)
    t = clinc() if os.environ.get("LELP_BENCH_TEXTS") == "clinc" else texts()
    model = SentenceTransformer(MODEL, device="cpu")
    tokens = int(os.environ.get("LELP_BENCH_TOKENS", "128"))
    model.max_seq_length = tokens
    model.encode(t[:64], batch_size=64)  # warm-up
    for _ in range(3):
        t0 = time.perf_counter()
        model.encode(t, batch_size=64)
        dt = time.perf_counter() - t0
        print(f"sentence-transformers, {tokens} tokens: {len(t)} texts in {dt:.2f} s = {len(t) / dt:.1f} texts/s")


if __name__ == "__main__":
    main()
