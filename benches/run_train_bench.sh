#!/usr/bin/env bash
# Training speed side by side: every case in a fresh process of its own,
# lelp (flex), PyTorch, lelp again, so each line's "first run" is a cold
# one (the first fit of a process) and the three after it warm ones.
# PYTHON names an interpreter with torch (default: python3). With
# GLIBC_TUNABLES set by the caller, lelp's runs use it (the cold-start
# experiment of docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench train --no-run
BIN=$(cargo bench --bench train --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "train" and m.get("executable"):
        print(m["executable"])')
PY="${PYTHON:-python3}"
lelp() { LELP_BENCH_CASES=$1 "$BIN" | grep -v '^device'; }
# the PyTorch twin's name for each lelp case (kd/lelp epochs have none)
declare -A TWIN=([bag-lazy]=bag-sparse)
for case in mlp-large-b64 mlp-large-b256 mlp-tiny mlp-text bag bag-lazy; do
    lelp "$case"
    "$PY" benches/train_torch.py "${TWIN[$case]:-$case}"
    lelp "$case"
done
LELP_BENCH_CASES=kd-epoch,lelp-epoch "$BIN" | grep -v '^device'
