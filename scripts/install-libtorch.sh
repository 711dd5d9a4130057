#!/usr/bin/env bash
# Assembles a CPU libtorch 2.9.0 (what burn-tch 0.22.1 / tch 0.22 need) from
# registry wheels, without downloading from PyTorch's site:
#   torch==2.9.0 (include/ and lib/), the CUDA runtime and CUPTI libraries
#   libtorch_cpu.so links against, and a stub libtorch_cuda.so.
# Usage: scripts/install-libtorch.sh [DEST]   (default ~/.cache/lelp-libtorch)
# Then build/run with LIBTORCH=DEST LD_LIBRARY_PATH=DEST/lib.
set -euo pipefail
DEST=${1:-$HOME/.cache/lelp-libtorch}
if [ -f "$DEST/build-version" ] && [ "$(cat "$DEST/build-version")" = "2.9.0" ] && [ -f "$DEST/lib/libtorch_cpu.so" ]; then
    echo "libtorch 2.9.0 already at $DEST"
    exit 0
fi
command -v python3 >/dev/null || { echo "python3 with pip is needed" >&2; exit 1; }
command -v g++ >/dev/null || { echo "g++ is needed for the libtorch_cuda stub" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$WORK" torch==2.9.0 \
    nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90
mkdir -p "$DEST.tmp"
rm -rf "$DEST.tmp"/*
python3 - "$WORK" "$DEST.tmp" <<'PY'
import glob, os, shutil, sys, zipfile
work, dest = sys.argv[1], sys.argv[2]
torch = glob.glob(os.path.join(work, "torch-2.9.0-*.whl"))[0]
with zipfile.ZipFile(torch) as z:
    for name in z.namelist():
        if name.startswith("torch/include/") or name.startswith("torch/lib/"):
            target = os.path.join(dest, name[len("torch/"):])
            if name.endswith("/"):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
for pattern, lib in [("nvidia_cuda_runtime_cu12-*.whl", "libcudart.so.12"), ("nvidia_cuda_cupti_cu12-*.whl", "libcupti.so.12")]:
    whl = glob.glob(os.path.join(work, pattern))[0]
    with zipfile.ZipFile(whl) as z:
        name = [n for n in z.namelist() if n.endswith("/" + lib)][0]
        with z.open(name) as src, open(os.path.join(dest, "lib", lib), "wb") as out:
            shutil.copyfileobj(src, out)
PY
cd "$DEST.tmp/lib"
rm -f libtorch_cuda*.so libc10_cuda.so libcaffe2_nvrtc.so libtorch_nvshmem.so libtorch_python.so
cat > "$WORK/stub.cpp" <<'CPP'
namespace at { namespace cuda { void* getCurrentCUDABlasHandle() { return nullptr; } int warp_size() { return 32; } } }
CPP
g++ -shared -fPIC -o libtorch_cuda.so "$WORK/stub.cpp"
echo 2.9.0 > "$DEST.tmp/build-version"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "libtorch 2.9.0 (CPU) assembled at $DEST"
