#!/usr/bin/env bash
# docs/deploy.md's cascade measurement: `lelp distill --cascade` (target
# agreement 0.99 with the teacher on the validation rows; another with
# TARGET="--target-coverage 0.9" OUT=results/cascade-coverage-90) with the tool's
# own teacher (all-MiniLM-L6-v2 and an MLP head) on CLINC150's ten domains,
# 20 Newsgroups' six groups and the binary CrowdFlower tweets (when
# scripts/fetch-tweets.sh has run), a bag student by vanilla KD (STUDENT=
# static or cnn for the others), seeds 0 to 2 (SEEDS to choose);
# each run's summary gives the cascade on the test rows and the cascade
# file's throughput beside the teacher's alone, measured side by side
# (experiments/summarize_cascade.py). Needs the `lelp` tool
# (cargo build --release --features cli) and ../shared/data/text.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/cascade}
LELP=${LELP:-target/release/lelp}
STUDENT=${STUDENT:-bag}
TARGET=${TARGET:---target-agreement 0.99}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-cascade}
mkdir -p "$OUT" "$WORK"
# the binary tweets (scripts/fetch-tweets.sh): negative and positive, neutral dropped
TWEETS=${LELP_TWEETS_DIR:-$HOME/.cache/lelp/crowdflower}/tweets.csv
if [ -f "$TWEETS" ]; then
    python3 experiments/tweets_binary.py "$TWEETS" "$WORK/tweets-binary.csv"
fi
for data in ../shared/data/text/clinc150.jsonl.gz:32 ../shared/data/text/20ng.jsonl.gz:128 $WORK/tweets-binary.csv:64; do
    path=${data%%:*}
    tokens=${data##*:}
    name=$(basename "$path" | sed 's/\..*//')
    [ -f "$path" ] || continue
    for seed in ${SEEDS:-0 1 2}; do
        "$LELP" distill --data "$path" --student "$STUDENT" --method kd \
            --tokens "$tokens" --seed $seed $TARGET \
            --out "$WORK/$name-$STUDENT-$seed.safetensors" >"$OUT/$name-$STUDENT-$seed.out" 2>"$OUT/$name-$STUDENT-$seed.err"
    done
done
python3 experiments/summarize_cascade.py "$OUT" | tee "$OUT/summary.md"
