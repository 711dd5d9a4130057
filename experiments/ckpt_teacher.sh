#!/usr/bin/env bash
# The fine-tuned classifier folder itself as the teacher (`lelp distill
# --teacher DIR`), beside experiments/own_teacher.sh's supplied outputs of
# the same fine-tune: bag and static students, 3 seeds, --method auto
# (choosing by agreement); then the seed-0 models quantized to int8 and
# f16 and compared on the test queries. The table:
#   python3 experiments/summarize_own_teacher.py results/own-teacher
# Needs the folder experiments/hf_teacher.py --save writes:
#   python3 experiments/hf_teacher.py --data ../shared/data/text/clinc150.jsonl.gz \
#       --out "$WORK/clinc10-teacher.jsonl" --max-len 32 --epochs 2 --save "$WORK/clinc10-ckpt"
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/own-teacher}
DATA=${DATA:-../shared/data/text/clinc150.jsonl.gz}
LELP=${LELP:-target/release/lelp}
WORK=${WORK:-${TMPDIR:-/tmp}/lelp-own-teacher}
CKPT=${CKPT:-$WORK/clinc10-ckpt}
mkdir -p "$OUT" "$WORK"
for student in bag static; do
    for seed in 0 1 2; do
        /usr/bin/time -v "$LELP" distill --data "$DATA" --teacher "$CKPT" --student $student --tokens 32 \
            --seed $seed --out "$WORK/ckpt-$student-$seed.safetensors" \
            >"$OUT/ckpt-$student-$seed.out" 2>"$OUT/ckpt-$student-$seed.err"
    done
done
# the test queries alone, to compare float32 with int8 and f16
python3 - "$DATA" "$WORK/test.jsonl" <<'PY'
import gzip, json, sys
src, dst = sys.argv[1], sys.argv[2]
opener = gzip.open if src.endswith(".gz") else open
with opener(src, "rt", encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
    for line in f:
        r = json.loads(line)
        if r.get("split") == "test":
            out.write(json.dumps({"text": r["text"], "label": r["label"]}) + "\n")
PY
for student in bag static; do
    for q in int8 f16; do
        "$LELP" quantize "$WORK/ckpt-$student-0.safetensors" "$WORK/ckpt-$student-0-$q.safetensors" --to $q \
            --data "$WORK/test.jsonl" >"$OUT/quantize-$student-$q.json"
    done
done
python3 experiments/summarize_own_teacher.py "$OUT"
