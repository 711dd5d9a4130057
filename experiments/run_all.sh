#!/usr/bin/env bash
# Regenerates every results file and plot behind docs/results.md.
# Usage: bash experiments/run_all.sh [--device NAME] [--text]
# --text also reruns the text study (fetches MiniLM and the corpora, encodes
# them once: one to two hours on two cores the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
TEXT=0
ARGS=()
for a in "$@"; do
    if [ "$a" = "--text" ]; then TEXT=1; else ARGS+=("$a"); fi
done
cargo build --release --example experiment --example plot
BIN=${CARGO_TARGET_DIR:-target}/release/examples
for c in uci-parity uci-parity-cnn-teacher mnist-parity mnist-parity-cnn-teacher mnist-transfer mnist-ablations mnist-mod3 mnist-mod5 \
    uci-parity-tuned mnist-parity-tuned; do
    "$BIN/experiment" "experiments/$c.json" "${ARGS[@]}"
done
mkdir -p docs/img
"$BIN/plot" results/mnist-transfer/results.jsonl transfer_size docs/img/mnist-transfer.svg \
    "MNIST parity: test accuracy vs transfer-set size (mean ± std, 5 seeds)"
grep -E '"method":"(vanilla KD|LELP S=[0-9]+)"' results/mnist-ablations/results.jsonl \
    | sed -E 's/"method":"LELP S=[0-9]+"/"method":"LELP"/' > results/mnist-ablations/s-sweep.jsonl
"$BIN/plot" results/mnist-ablations/s-sweep.jsonl s docs/img/mnist-s.svg \
    "MNIST parity, transfer 300: LELP test accuracy vs S (mean ± std, 5 seeds)"

[ "$TEXT" = 1 ] || exit 0
cargo build --release --features text --example text
T="$BIN/text"
R=results/text
rm -f $R/tweets-binary-mlp-sweep.jsonl $R/tweets-mlp-sweep.jsonl $R/spam-mlp-all.jsonl $R/spam-bag-all.jsonl \
    $R/tweets-binary-cnn.jsonl $R/tweets-binary-mlp-linear.jsonl
"$T" --corpus tweets-binary --student mlp --transfer 250,1000,4000,all --methods all --epochs 30 --out $R/tweets-binary-mlp-sweep.jsonl
"$T" --corpus tweets --student mlp --transfer 250,1000,4000,all --methods all --epochs 30 --out $R/tweets-mlp-sweep.jsonl
"$T" --corpus spam --student mlp --transfer 250,1000,all --methods all --epochs 60 --out $R/spam-mlp-all.jsonl
"$T" --corpus spam --student bag --transfer 1000 --methods all --out $R/spam-bag-all.jsonl
"$T" --corpus tweets-binary --student cnn --transfer 1000,4000 --out $R/tweets-binary-cnn.jsonl
"$T" --corpus tweets-binary --student mlp --teacher-head linear --transfer 250,1000,4000,all --methods all --out $R/tweets-binary-mlp-linear.jsonl
for c in spam tweets-binary tweets; do
    "$T" --corpus $c --export target/lelp-export/$c
    "$BIN/experiment" "experiments/$c-tuned.json" "${ARGS[@]}"
done
"$BIN/plot" $R/tweets-binary-mlp-sweep.jsonl transfer_size docs/img/text-tweets-binary-mlp.svg \
    "CrowdFlower tweets (binary), MLP 384-8-8 over MiniLM embeddings"
"$BIN/plot" $R/tweets-mlp-sweep.jsonl transfer_size docs/img/text-tweets-mlp.svg \
    "CrowdFlower tweets (3 classes), MLP 384-8-8 over MiniLM embeddings"
