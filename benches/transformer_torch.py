"""PyTorch twin of benches/transformer.rs: paraphrase-MiniLM-L3-v2 (the
same safetensors lelp reads, through transformers' BertModel) with mean
pooling over the mask, dropout 0.1 in the encoder (BERT's hidden and
attention dropout, as lelp's student since 0.3.0) and on the pooled vector, a 2-way
linear head; AdamW (lr 1e-4, weight decay 0.01), gradient norm clipped to
1, plain cross-entropy; 512 rows of L ids ([CLS], random word pieces,
[SEP]), batch 32, one epoch, L = 32 and 128; 2 threads. Clipping is over all
parameters at once here, per parameter in lelp (burn's): the same work. Each case: the
first run of the process, then three; seconds and tokens a second.

    /path/to/venv/bin/python benches/transformer_torch.py [l32,l128]
Written with torch 2.9.0, transformers 4.57.6.
"""
import os
import sys
import time

import torch
from transformers import BertConfig, BertModel

torch.set_num_threads(2)
DIR = os.path.expanduser("~/.cache/lelp/paraphrase-MiniLM-L3-v2")


class Student(torch.nn.Module):
    def __init__(self):
        super().__init__()
        config = BertConfig.from_pretrained(DIR, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
        self.bert = BertModel.from_pretrained(DIR, config=config, add_pooling_layer=False)
        self.drop = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(config.hidden_size, 2)

    def forward(self, ids, mask):
        h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(self.drop(pooled))


def rows(n, length):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1_000, 30_000, (n, length), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids, torch.ones(n, length, dtype=torch.long), torch.arange(n) % 2


def run(ids, mask, y, batch=32):
    model = Student()
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    for i in range(0, len(ids), batch):
        idx = perm[i:i + batch]
        loss = torch.nn.functional.cross_entropy(model(ids[idx], mask[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return time.perf_counter() - t0


for case in (sys.argv[1].split(",") if len(sys.argv) > 1 else ["l32", "l128"]):
    length = int(case[1:])
    data = rows(512, length)
    first = run(*data)
    times = [run(*data) for _ in range(3)]
    print(f"torch {case}: " + " ".join(f"{t:.2f}" for t in times)
          + f" s an epoch (first run in this process {first:.2f} s); "
          + f"{512 * length / (sum(times) / 3):.0f} tokens/s", flush=True)
