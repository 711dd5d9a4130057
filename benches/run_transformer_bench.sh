#!/usr/bin/env bash
# Transformer-student training side by side, one process a case: lelp
# (flex), PyTorch, lelp again. PYTHON names an interpreter with torch and
# transformers (default: python3). Extra cargo features (e.g. mimalloc,
# x86-v4) come from FEATURES.
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURES="text${FEATURES:+,$FEATURES}"
cargo bench --features "$FEATURES" --bench transformer --no-run
PY="${PYTHON:-python3}"
lelp() { LELP_BENCH_CASES=$1 cargo bench -q --features "$FEATURES" --bench transformer 2>/dev/null | grep '^lelp'; }
# one case a process: each line's first run is a cold one
for case in l32 l128; do
    lelp "$case"
    lelp "$case-lazy"
    "$PY" benches/transformer_torch.py "$case" 2>/dev/null
    lelp "$case-lazy"
    lelp "$case"
done
