#!/usr/bin/env bash
# docs/deploy.md's --teacher-tune measurement: the tool's frozen teacher
# (all-MiniLM-L6-v2 with an MLP head) against the same encoder fine-tuned
# on the training rows (--teacher-tune, 2 epochs), each distilled into a
# bag student by vanilla KD, on DATA (default CLINC150's domains), seeds
# 0 to 2; the teacher's and the student's test accuracy and the student's
# agreement with its teacher from each model's manifest
# (experiments/summarize_teacher_tune.py). Needs the `lelp` tool.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/teacher-tune}
DATA=${DATA:-../shared/data/text/clinc150.jsonl.gz}
LELP=${LELP:-target/release/lelp}
TOKENS=${TOKENS:-32}
SEEDS=${SEEDS:-0 1 2}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-teacher-tune}
mkdir -p "$OUT" "$WORK"
for seed in $SEEDS; do
    for teacher in frozen tuned; do
        flag=""
        [ "$teacher" = tuned ] && flag="--teacher-tune"
        /usr/bin/time -v "$LELP" distill --data "$DATA" --student bag --method kd --tokens "$TOKENS" --seed $seed $flag \
            --out "$WORK/$teacher-$seed.safetensors" >"$OUT/$teacher-$seed.out" 2>"$OUT/$teacher-$seed.err"
        "$LELP" info "$WORK/$teacher-$seed.safetensors" >"$OUT/$teacher-$seed.json"
    done
done
python3 experiments/summarize_teacher_tune.py "$OUT" | tee "$OUT/summary.md"
