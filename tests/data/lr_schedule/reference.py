"""Reference learning rates for LrSchedule::WarmupLinear: Hugging Face's
get_linear_schedule_with_warmup, stepped as its training loop steps it
(optimizer.step() with the current rate, then scheduler.step()), with
warm-up steps ceil(warmup * total) as lelp counts them.

    /path/to/venv/bin/python tests/data/lr_schedule/reference.py > tests/data/lr_schedule/expected.json

Versions: torch 2.9.0, transformers 4.57.6.
"""
import json
import math

import torch
from transformers import get_linear_schedule_with_warmup

CASES = [(3, 7, 0.1, 1e-3), (2, 4, 0.25, 2e-5), (5, 3, 0.0, 5e-4), (1, 10, 0.5, 1.0)]


def main():
    out = []
    for epochs, batches, warmup, lr in CASES:
        total = epochs * batches
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=lr)
        sched = get_linear_schedule_with_warmup(opt, math.ceil(warmup * total), total)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        out.append({"epochs": epochs, "batches": batches, "warmup": warmup, "lr": lr, "lrs": lrs})
    print(json.dumps({"versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__}, "cases": out}, indent=1))


if __name__ == "__main__":
    main()
