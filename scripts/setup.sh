#!/usr/bin/env bash
# Installs what lelp's two README commands need beyond cargo.
#
# The default build (burn's Flex backend) and the `ndarray` feature are pure
# Rust: nothing to install. This script checks the toolchain and, with
# --python, installs numpy for regenerating the reference values
# (tests/data/reference.py) and running benches/fit_numpy.py.
set -euo pipefail
if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust (rustup) first" >&2
    exit 1
fi
need="1.95"
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "rustc $have is older than $need (burn 0.22.1 needs $need)" >&2
    exit 1
fi
if [ "${1:-}" = "--python" ]; then
    python3 -m pip install --quiet "numpy==2.4.6"
fi
echo "setup ok: rustc $have"
