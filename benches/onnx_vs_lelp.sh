#!/usr/bin/env bash
# lelp's Classifier and onnxruntime on the same model, one after the other
# on an idle machine: MODEL (a model file the tool wrote) is exported to
# ONNX, then benches/predict.rs measures the file and
# benches/onnx_latency.py its export (python with onnxruntime, numpy and,
# for wordpiece students, tokenizers).
#   bash benches/onnx_vs_lelp.sh model.safetensors [python]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
py=${2:-python3}
onnx="${TMPDIR:-/tmp}/lelp-bench-$$.onnx"
cargo run --release --quiet --features cli -- export --onnx "$model" "$onnx" >/dev/null
LELP_PREDICT_MODEL="$model" cargo bench --quiet --features text --bench predict
"$py" benches/onnx_latency.py "$onnx"
rm -f "$onnx" "${onnx%.onnx}.json"
