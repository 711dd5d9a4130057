#!/usr/bin/env bash
# The measurement of docs/deploy.md, "Your own model as the teacher,
# measured": CLINC150's ten domains, a teacher fine-tuned by `transformers`
# (experiments/hf_teacher.py, about 45 minutes on two cores) against the
# tool's own teacher (all-MiniLM-L6-v2 frozen, an MLP head), bag and static
# students, `--method auto`, seeds 0 to 2; then the table
# (experiments/summarize_own_teacher.py). Needs the `lelp` tool (cargo
# build --release --features cli), a Python with torch 2.9.0 and
# transformers 4.57.6 (PYTHON, default python3), and ../shared/data/text.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/own-teacher}
DATA=${DATA:-../shared/data/text/clinc150.jsonl.gz}
LELP=${LELP:-target/release/lelp}
PYTHON=${PYTHON:-python3}
# the teacher's outputs (90 MB) and the model files stay out of the repository
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-own-teacher}
mkdir -p "$OUT" "$WORK"
[ -s "$WORK/clinc10-teacher.jsonl" ] || "$PYTHON" experiments/hf_teacher.py --data "$DATA" \
    --out "$WORK/clinc10-teacher.jsonl" --max-len 32 --epochs 2 | tee "$OUT/hf-teacher.json"
for student in bag static; do
    for seed in 0 1 2; do
        /usr/bin/time -v "$LELP" distill --data "$DATA" --teacher-outputs "$WORK/clinc10-teacher.jsonl" \
            --student $student --tokens 32 --seed $seed --out "$WORK/hf-$student-$seed.safetensors" \
            >"$OUT/hf-$student-$seed.out" 2>"$OUT/hf-$student-$seed.err"
        /usr/bin/time -v "$LELP" distill --data "$DATA" --student $student --tokens 32 --seed $seed \
            --out "$WORK/own-$student-$seed.safetensors" >"$OUT/own-$student-$seed.out" 2>"$OUT/own-$student-$seed.err"
    done
done
python3 experiments/summarize_own_teacher.py "$OUT"
