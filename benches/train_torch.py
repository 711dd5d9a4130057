"""PyTorch twin of benches/train.rs: the same sizes, plain cross-entropy
with Adam, 2 threads, data of the same shapes and distribution (uniform
in [-1, 1), labels from the sign of a fixed direction), shuffled batches;
prints seconds per run (three after a first run, whose time is printed
too: a cold run when the case is the first of its process).

    /path/to/venv/bin/python benches/train_torch.py   # torch 2.9.0
    /path/to/venv/bin/python benches/train_torch.py bag-sparse   # one case

The bag cases: an `EmbeddingBag` (2^18 x 8, mean) and a linear head,
dense Adam (`bag`) or `sparse=True` with `SparseAdam` on the table
(`bag-sparse`, PyTorch's answer to the table-sized step).
"""
import sys
import time

import numpy as np
import torch

torch.set_num_threads(2)


def data(n, d):
    # uniform in [-1, 1) like the Rust side's stream (other values: speed
    # does not depend on them), labels from the sign of the same direction
    x = np.random.default_rng(0).uniform(-1, 1, size=(n, d)).astype(np.float32)
    y = (x[:, ::3].sum(1) > 0).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def mlp(d, hidden, k):
    layers, prev = [], d
    for h in hidden:
        layers += [torch.nn.Linear(prev, h), torch.nn.ReLU()]
        prev = h
    layers.append(torch.nn.Linear(prev, k))
    return torch.nn.Sequential(*layers)


def run(x, y, hidden, epochs, batch, lr=1e-3):
    model = mlp(x.shape[1], hidden, 2)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def bench(name, fn, *args):
    # the first run of the process (cold when the case runs alone), then 3
    first = fn(*args)
    print(f"torch {name}: " + " ".join(f"{fn(*args):.3f}" for _ in range(3))
          + f" s (first run in this process {first:.3f} s)", flush=True)


def token_data(n, buckets):
    # the Rust side's shapes: rows of 20 to 59 ids skewed to small ids
    # (buckets * u^3), label from the first id (other draws: speed does not
    # depend on the values)
    rng = np.random.default_rng(0)
    seqs = [(rng.random(20 + i % 40) ** 3 * buckets).astype(np.int64) for i in range(n)]
    y = np.array([int(s[0] * 64 < buckets) for s in seqs])
    return seqs, torch.from_numpy(y)


class Bag(torch.nn.Module):
    """fastText's bag: mean of the ids' embeddings, a linear head."""

    def __init__(self, buckets, dim, k, sparse):
        super().__init__()
        self.embed = torch.nn.EmbeddingBag(buckets, dim, mode="mean", sparse=sparse)
        self.head = torch.nn.Linear(dim, k)

    def forward(self, ids, offsets):
        return self.head(self.embed(ids, offsets))


def run_bag(seqs, y, sparse, epochs=10, batch=32, lr=1e-2, buckets=1 << 18):
    model = Bag(buckets, 8, 2, sparse)
    if sparse:
        opts = [torch.optim.SparseAdam(list(model.embed.parameters()), lr=lr),
                torch.optim.Adam(model.head.parameters(), lr=lr)]
    else:
        opts = [torch.optim.Adam(model.parameters(), lr=lr)]
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(seqs), generator=g).tolist()
        for i in range(0, len(seqs), batch):
            rows = [seqs[j] for j in perm[i:i + batch]]
            ids = torch.from_numpy(np.concatenate(rows))
            offsets = torch.tensor([0] + [len(r) for r in rows[:-1]]).cumsum(0)
            loss = torch.nn.functional.cross_entropy(model(ids, offsets), y[perm[i:i + batch]])
            for o in opts:
                o.zero_grad()
            loss.backward()
            for o in opts:
                o.step()
    return time.perf_counter() - t0


def cases():
    large = lambda: data(16_384, 384)
    tokens = lambda: token_data(2_000, 1 << 18)
    return {
        "mlp-large-b64": lambda: bench("mlp-large-b64", run, *large(), [512, 256], 3, 64),
        "mlp-large-b256": lambda: bench("mlp-large-b256", run, *large(), [512, 256], 3, 256),
        "mlp-tiny": lambda: bench("mlp-tiny", run, *data(4_096, 64), [32, 32], 10, 32),
        "mlp-text": lambda: bench("mlp-text", run, *data(4_000, 384), [8, 8], 10, 32),
        "bag": lambda: bench("bag", run_bag, *tokens(), False),
        "bag-sparse": lambda: bench("bag-sparse", run_bag, *tokens(), True),
    }


# `python benches/train_torch.py bag,mlp-tiny` runs only those cases (one
# case a process makes its first run a cold one)
ALL = cases()
for name in (sys.argv[1].split(",") if len(sys.argv) > 1 else ALL):
    ALL[name]()
