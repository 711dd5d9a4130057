#!/usr/bin/env bash
# Training speed side by side, one run: lelp (flex), PyTorch, lelp again.
# PYTHON names an interpreter with torch (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench train
"${PYTHON:-python3}" benches/train_torch.py
cargo bench --bench train
