#!/usr/bin/env bash
# Builds the Python wheel of lelp (python/: PyO3 with maturin), installs it
# in a fresh virtual environment and checks it against the `lelp` tool
# (python/tests/test_lelp.py). A script, not a CI step: the wheel is a
# third build of burn's tree (about 4 to 10 minutes on two cores), which
# the CI's time budget does not hold. Needs Python >= 3.9 with venv and
# pip, the tool (LELP, default: built here with --features cli) and the
# MiniLM teacher (bash scripts/fetch-minilm.sh).
#   bash scripts/python-wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lelp-target}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lelp-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/build"
"$WORK/build/bin/pip" install -q "maturin>=1.5,<2"
(cd python && "$WORK/build/bin/maturin" build --release -o "$WORK/wheels")
if [ -z "${LELP:-}" ]; then
    cargo build --release --features cli
    LELP="$CARGO_TARGET_DIR/release/lelp"
fi
"$PYTHON" -m venv "$WORK/fresh"
"$WORK/fresh/bin/pip" install -q "$WORK"/wheels/lelp-*.whl
LELP="$LELP" "$WORK/fresh/bin/python" python/tests/test_lelp.py
