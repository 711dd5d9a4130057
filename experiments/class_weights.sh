#!/usr/bin/env bash
# docs/deploy.md's class-weight measurement: CLINC150's ten domains with
# one domain (banking) kept at 5% of its training rows
# (experiments/imbalance.py), a bag student distilled by vanilla KD from
# the tool's own teacher, with and without --class-weight balanced, seeds
# 0 to 2; test accuracy, macro-F1 and the rare domain's recall and F1 from
# each model's manifest (experiments/summarize_class_weights.py). Needs the
# `lelp` tool (cargo build --release --features cli) and ../shared/data/text.
# 20 Newsgroups' six groups with `sci` rare:
#   DATA=../shared/data/text/20ng.jsonl.gz RARE=sci TOKENS=128 OUT=results/class-weights-20ng bash experiments/class_weights.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/class-weights}
DATA=${DATA:-../shared/data/text/clinc150.jsonl.gz}
LELP=${LELP:-target/release/lelp}
RARE=${RARE:-banking}
TOKENS=${TOKENS:-32}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-class-weights-$RARE}
mkdir -p "$OUT" "$WORK"
python3 experiments/imbalance.py "$DATA" "$WORK/rare5.jsonl" "$RARE"
for seed in 0 1 2; do
    for weight in none balanced; do
        "$LELP" distill --data "$WORK/rare5.jsonl" --student bag --method kd --tokens $TOKENS \
            --seed $seed --class-weight $weight --out "$WORK/$weight-$seed.safetensors" \
            >"$OUT/$weight-$seed.out" 2>"$OUT/$weight-$seed.err"
        "$LELP" info "$WORK/$weight-$seed.safetensors" >"$OUT/$weight-$seed.json"
    done
done
python3 experiments/summarize_class_weights.py "$OUT" "$RARE" | tee "$OUT/summary.md"
