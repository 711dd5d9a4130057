"""A teacher as a practitioner has one: all-MiniLM-L6-v2 fine-tuned as a
Hugging Face `BertForSequenceClassification` by `transformers` (AdamW,
linear warm-up and decay, CLS pooler + classifier), whose outputs
(`logits` and the classifier's input, the pooler output, as `embedding`)
it writes for every row of the data file, in the file's row order, for
`lelp distill --teacher-outputs`.

Versions: Python 3.11.7, torch 2.9.0 (PyPI, run on the CPU),
transformers 4.57.6, numpy 2.4.6.

    python3 experiments/hf_teacher.py --data ../shared/data/text/clinc150.jsonl.gz \
        --out /tmp/clinc10-teacher.jsonl --max-len 32 --epochs 2

The data file is JSON lines (gzip if it ends in .gz) with `text`, `label`
and `split` (`train`, `val`, `test`); the teacher trains on the `train`
rows (or `--train-rows` of them, stratified by a seeded shuffle) and
reports its accuracy on the `test` rows.
"""
import argparse
import gzip
import json
import os
import random
import sys
import time

import numpy as np
import torch
from transformers import BertForSequenceClassification, BertTokenizerFast, get_linear_schedule_with_warmup


def read_rows(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/lelp/all-MiniLM-L6-v2"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-rows", type=int, default=0, help="0: every train row")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default="", help="also save the fine-tuned model (save_pretrained) here")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 2)
    rows = read_rows(args.data)
    names = sorted({str(r["label"]).strip() for r in rows})
    index = {n: k for k, n in enumerate(names)}
    labels = [index[str(r["label"]).strip()] for r in rows]
    train = [i for i, r in enumerate(rows) if r.get("split") == "train"]
    test = [i for i, r in enumerate(rows) if r.get("split") == "test"]
    if args.train_rows and args.train_rows < len(train):
        random.shuffle(train)
        train = sorted(train[: args.train_rows])

    tok = BertTokenizerFast(tokenizer_file=os.path.join(args.model, "tokenizer.json"), do_lower_case=True)
    model = BertForSequenceClassification.from_pretrained(
        args.model,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id=index,
    )
    steps = args.epochs * ((len(train) + args.batch - 1) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)

    def batch(idx):
        enc = tok([rows[i]["text"] for i in idx], truncation=True, max_length=args.max_len, padding=True, return_tensors="pt")
        return enc

    t0 = time.time()
    model.train()
    for epoch in range(args.epochs):
        order = train[:]
        random.shuffle(order)
        for b in range(0, len(order), args.batch):
            idx = order[b : b + args.batch]
            out = model(**batch(idx), labels=torch.tensor([labels[i] for i in idx]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
        print(f"epoch {epoch + 1}: loss {out.loss.item():.4f}, {time.time() - t0:.0f} s", file=sys.stderr)
    train_secs = time.time() - t0

    model.eval()
    t1 = time.time()
    logits, pooled = [], []
    with torch.no_grad():
        for b in range(0, len(rows), 256):
            idx = list(range(b, min(b + 256, len(rows))))
            out = model.bert(**batch(idx))
            p = out.pooler_output
            logits.append(model.classifier(p).numpy())
            pooled.append(p.numpy())
    logits = np.concatenate(logits)
    pooled = np.concatenate(pooled)
    infer_secs = time.time() - t1
    pred = logits.argmax(1)
    acc = float(np.mean([pred[i] == labels[i] for i in test])) if test else float("nan")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(json.dumps({"classes": names}) + "\n")
        for z, h in zip(logits, pooled):
            f.write(json.dumps({"logits": [float(f"{v:.6g}") for v in z], "embedding": [float(f"{v:.6g}") for v in h]}) + "\n")
    if args.save:
        model.save_pretrained(args.save)
        tok.save_pretrained(args.save)
    print(json.dumps({
        "data": args.data,
        "classes": len(names),
        "train_rows": len(train),
        "test_rows": len(test),
        "test_accuracy": acc,
        "train_seconds": round(train_secs, 1),
        "infer_seconds": round(infer_secs, 1),
        "rows": len(rows),
        "epochs": args.epochs,
        "max_len": args.max_len,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
