#!/usr/bin/env bash
# docs/deploy.md's cascade measurement: `lelp distill --cascade` (target
# agreement 0.99 with the teacher on the validation rows) with the tool's
# own teacher (all-MiniLM-L6-v2 and an MLP head) on CLINC150's ten domains
# and 20 Newsgroups' six groups, a bag student by vanilla KD, seeds 0 to 2;
# each run's summary gives the cascade on the test rows and the cascade
# file's throughput beside the teacher's alone, measured side by side
# (experiments/summarize_cascade.py). Needs the `lelp` tool
# (cargo build --release --features cli) and ../shared/data/text.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/cascade}
LELP=${LELP:-target/release/lelp}
STUDENT=${STUDENT:-bag}
TARGET=${TARGET:-0.99}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-cascade}
mkdir -p "$OUT" "$WORK"
for data in clinc150:32 20ng:128; do
    name=${data%%:*}
    tokens=${data##*:}
    for seed in 0 1 2; do
        "$LELP" distill --data "../shared/data/text/$name.jsonl.gz" --student "$STUDENT" --method kd \
            --tokens "$tokens" --seed $seed --target-agreement "$TARGET" \
            --out "$WORK/$name-$STUDENT-$seed.safetensors" >"$OUT/$name-$STUDENT-$seed.out" 2>"$OUT/$name-$STUDENT-$seed.err"
    done
done
python3 experiments/summarize_cascade.py "$OUT" | tee "$OUT/summary.md"
