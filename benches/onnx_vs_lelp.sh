#!/usr/bin/env bash
# lelp's Classifier and onnxruntime on the same model, one after the other
# on an idle machine: MODEL (a model file the tool wrote) is exported to
# ONNX, then benches/predict.rs measures the file and
# benches/onnx_latency.py its export (PYTHON with onnxruntime, numpy and,
# for wordpiece students, tokenizers).
#   bash benches/onnx_vs_lelp.sh model.safetensors
# LELP: a built `lelp` tool (else cargo runs one); FEATURES: the bench's
# cargo features (text, or any that includes it and is already built).
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
PYTHON=${PYTHON:-python3}
FEATURES=${FEATURES:-text}
onnx="${TMPDIR:-/tmp}/lelp-bench-$$.onnx"
lelp() {
    if [ -n "${LELP:-}" ]; then "$LELP" "$@"; else cargo run --release --quiet --features cli -- "$@"; fi
}
lelp export --onnx "$model" "$onnx" >/dev/null
# the same 512 texts through lelp predict, for the values
data=${DATA:-../shared/data/text/clinc150.jsonl.gz}
"$PYTHON" -c "import gzip,json,sys; [print(json.dumps({'text': json.loads(l)['text']})) for _, l in zip(range(512), gzip.open(sys.argv[1], 'rt'))]" "$data" >"${onnx%.onnx}-texts.jsonl"
lelp predict "$model" --input "${onnx%.onnx}-texts.jsonl" --output "${onnx%.onnx}-lelp.jsonl" 2>/dev/null
ls -l "$model" "$onnx" | awk '{print $5, $9}'
LELP_PREDICT_MODEL="$model" cargo bench --quiet --features "$FEATURES" --bench predict
"$PYTHON" benches/onnx_latency.py "$onnx" "$data" "${onnx%.onnx}-lelp.jsonl"
rm -f "$onnx" "${onnx%.onnx}.json" "${onnx%.onnx}-texts.jsonl" "${onnx%.onnx}-lelp.jsonl"
