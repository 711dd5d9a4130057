#!/usr/bin/env bash
# Runs the fit benchmark side by side: numpy, then lelp on flex and ndarray,
# on the same data, in one go. Record the output in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR=${BENCH_DIR:-target/bench-data}
python3 benches/fit_numpy.py
cargo bench --features ndarray --bench fit
LELP_BENCH_DEVICE=ndarray cargo bench --features ndarray --bench fit
python3 benches/fit_numpy.py
