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
# benches on the GPU devices (issue 11): the fit (data written by the numpy
# twin when python3 + numpy exist there) and training, absolute times
if python3 -c "import numpy" 2>/dev/null; then
    BENCH_DIR="$OUT/bench-data" timeout 300 python3 benches/fit_numpy.py > "$OUT/fit-numpy.txt" 2>&1
    for dev in cuda wgpu; do
        BENCH_DIR="$OUT/bench-data" LELP_BENCH_BIG=200000 LELP_BENCH_DEVICE=$dev timeout 300 \
            cargo bench --features cuda,wgpu --bench fit > "$OUT/fit-$dev.txt" 2>&1
        echo "$dev fit bench: exit $?"
    done
fi
for dev in cuda wgpu; do
    LELP_BENCH_DEVICE=$dev timeout 300 cargo bench --features cuda,wgpu --bench train > "$OUT/train-$dev.txt" 2>&1
    echo "$dev train bench: exit $?"
done
# the transformer student at full size (issues 18, 23): the L3's training
# step at 32 and 128 tokens, batch 32 (the checkpoint's architecture at
# random when its weights were not carried: the speed is the same)
for dev in cuda wgpu; do
    LELP_BENCH_DEVICE=$dev timeout 300 cargo bench --features cuda,wgpu,text --bench transformer \
        > "$OUT/transformer-$dev.txt" 2>&1
    echo "$dev transformer bench: exit $?"
done
# burn-train on CUDA (issue 13): one run, and the multi-device strategy
# over the GPUs present (one on the machines lent so far: a smoke test)
timeout 600 cargo run --release --features train,cuda --example burn_train -- --device cuda --compare 2 \
    > "$OUT/burn-train-cuda.txt" 2>&1
echo "burn-train cuda: exit $?"
N=$(nvidia-smi -L 2>/dev/null | wc -l)
timeout 300 cargo run --release --features train,cuda --example burn_train -- --device cuda --devices "${N:-1}" \
    > "$OUT/burn-train-cuda-multi.txt" 2>&1
echo "burn-train cuda, $N device(s): exit $?"
timeout 300 cargo run --release --features train,cuda --example burn_train -- --device cuda --devices "${N:-1}" --ddp \
    > "$OUT/burn-train-cuda-ddp.txt" 2>&1
echo "burn-train cuda DDP, $N device(s): exit $?"
