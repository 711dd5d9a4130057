#!/usr/bin/env bash
# Regenerates every results file and plot behind docs/results.md.
# Usage: bash experiments/run_all.sh [--device NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example experiment --example plot
BIN=${CARGO_TARGET_DIR:-target}/release/examples
for c in uci-parity uci-parity-cnn-teacher mnist-parity mnist-parity-cnn-teacher mnist-transfer mnist-ablations mnist-mod3 mnist-mod5; do
    "$BIN/experiment" "experiments/$c.json" "$@"
done
mkdir -p docs/img
"$BIN/plot" results/mnist-transfer/results.jsonl transfer_size docs/img/mnist-transfer.svg \
    "MNIST parity: test accuracy vs transfer-set size (mean ± std, 5 seeds)"
grep -E '"method":"(vanilla KD|LELP S=[0-9]+)"' results/mnist-ablations/results.jsonl \
    | sed -E 's/"method":"LELP S=[0-9]+"/"method":"LELP"/' > results/mnist-ablations/s-sweep.jsonl
"$BIN/plot" results/mnist-ablations/s-sweep.jsonl s docs/img/mnist-s.svg \
    "MNIST parity, transfer 300: LELP test accuracy vs S (mean ± std, 5 seeds)"
