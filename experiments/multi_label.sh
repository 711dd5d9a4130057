#!/usr/bin/env bash
# docs/deploy.md's multi-label measurement: a multi-label set made from
# CLINC150's domains (or 20 Newsgroups' groups) by joining half the rows
# with a row of another class (experiments/multi_label.py), a bag student
# distilled by vanilla KD (per-label Bernoulli targets) from the tool's own
# teacher, seeds 0 to 2; `lelp eval` on the test split reports the
# macro-F1 at the fitted per-label thresholds and at 0.5
# (experiments/summarize_multi_label.py). Needs the `lelp` tool
# (cargo build --release --features cli) and ../shared/data/text.
#   DATA=../shared/data/text/20ng.jsonl.gz TOKENS=128 OUT=results/multi-label-20ng bash experiments/multi_label.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/multi-label}
DATA=${DATA:-../shared/data/text/clinc150.jsonl.gz}
LELP=${LELP:-target/release/lelp}
TOKENS=${TOKENS:-64}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-multi-label-$(basename "$DATA" .jsonl.gz)}
mkdir -p "$OUT" "$WORK"
python3 experiments/multi_label.py "$DATA" "$WORK" 60 0
for seed in 0 1 2; do
    "$LELP" distill --data "$WORK/train.jsonl" --student bag --method kd --tokens $TOKENS \
        --seed $seed --out "$WORK/kd-$seed.safetensors" >"$OUT/kd-$seed.out" 2>"$OUT/kd-$seed.err"
    "$LELP" info "$WORK/kd-$seed.safetensors" >"$OUT/kd-$seed.json"
    "$LELP" eval "$WORK/kd-$seed.safetensors" --data "$WORK/test.jsonl" >"$OUT/eval-$seed.json"
done
python3 experiments/summarize_multi_label.py "$OUT" | tee "$OUT/summary.md"
