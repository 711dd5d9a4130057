"""PyTorch twin of benches/train.rs: the same sizes, plain cross-entropy
with Adam, 2 threads, data of the same shapes and distribution (uniform
in [-1, 1), labels from the sign of a fixed direction), shuffled batches;
prints seconds per run (three after a warm-up).

    /path/to/venv/bin/python benches/train_torch.py   # torch 2.9.0
"""
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


def bench(name, *args):
    run(*args)
    print(f"torch {name}: " + " ".join(f"{run(*args):.3f}" for _ in range(3)) + " s", flush=True)


large = data(16_384, 384)
for b in (64, 256):
    bench(f"mlp-large-b{b}", *large, [512, 256], 3, b)
bench("mlp-tiny", *data(4_096, 64), [32, 32], 10, 32)
bench("mlp-text", *data(4_000, 384), [8, 8], 10, 32)
