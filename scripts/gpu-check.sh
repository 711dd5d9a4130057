#!/usr/bin/env bash
# GPU check, for a session lent a GPU machine (not run yet: no GPU was lent
# to the session that wrote it). Runs the test suite and the quickstart on
# burn's CUDA backend and on wgpu over the NVIDIA Vulkan driver, and writes
# logs under ${OUT:-gpu-check-out}. The build of burn with `cuda` and
# `wgpu` has not been timed on a GPU machine: a 15-minute lease may not
# cover it, so carry a prebuilt target dir or give the build its own call.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
# wgpu on the NVIDIA Vulkan ICD when the loader does not find it by itself
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
timeout 1500 cargo test --release --features cuda,wgpu --no-run > "$OUT/build.log" 2>&1 || { echo "build failed"; tail -30 "$OUT/build.log"; exit 1; }
for dev in cuda wgpu; do
    LELP_TEST_DEVICE=$dev timeout 300 cargo test --release --features cuda,wgpu > "$OUT/test-$dev.log" 2>&1
    echo "$dev tests: exit $? ($(grep -c '^test result: ok' "$OUT/test-$dev.log") suites ok)"
    timeout 300 cargo run --release --features cuda,wgpu --example quickstart -- --device $dev > "$OUT/quickstart-$dev.txt" 2>&1
    echo "$dev quickstart: exit $?"
done
