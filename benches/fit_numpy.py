"""numpy side of the fit benchmark (run by benches/run_fit_bench.sh).

Generates the benchmark data once (seeded) under $BENCH_DIR, then times two
numpy paths for the work of lelp's PcaFinder (per-class covariance, top-S
eigenvectors) and reports wall time and peak RSS:
- `cov`: np.cov (f64) + np.linalg.eigh, what twenty lines of numpy write;
- `gemm`: one f32 GEMM X_c^T X_c per class (OpenBLAS SGEMM), the mean
  correction and np.linalg.eigh in f64: numpy's fastest path;
and first one class's share of a 4,096-row batch (2,048 x 768) through
X^T X alone and one eigh of 768 x 768 and of 2,048 x 2,048 (benches/fit.rs
prints lelp's twins).
numpy 2.4.6.
"""
import os
import resource
import sys
import time

import numpy as np

N, D, C, S = 100_000, 768, 2, 8
out = os.environ.get("BENCH_DIR", "target/bench-data")
os.makedirs(out, exist_ok=True)
xp, yp = os.path.join(out, "emb.npy"), os.path.join(out, "labels.npy")
if not (os.path.exists(xp) and os.path.exists(yp)):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, C, size=N).astype(np.int64)
    basis = rng.normal(size=(C, 32, D)).astype(np.float32)
    emb = np.empty((N, D), dtype=np.float32)
    for s in range(0, N, 10_000):
        e = min(s + 10_000, N)
        z = rng.normal(size=(e - s, 32)).astype(np.float32) * np.linspace(3, 0.3, 32, dtype=np.float32)
        emb[s:e] = np.einsum("nk,nkd->nd", z, basis[labels[s:e]]) + rng.normal(size=(e - s, D)).astype(np.float32) * 0.1
    np.save(xp, emb)
    np.save(yp, labels)
    del emb

emb = np.load(xp)
labels = np.load(yp)


def cov_path():
    for c in range(C):
        x = emb[labels == c]
        w, v = np.linalg.eigh(np.cov(x, rowvar=False))
        v[:, ::-1][:, :S].copy()


def gemm_path():
    for c in range(C):
        x = emb[labels == c]
        n = x.shape[0]
        g = (x.T @ x).astype(np.float64)  # f32 SGEMM
        mu = x.mean(axis=0, dtype=np.float64)
        cov = (g - n * np.outer(mu, mu)) / (n - 1)
        w, v = np.linalg.eigh(cov)
        v[:, ::-1][:, :S].copy()


x = emb[:8192][labels[:8192] == 0][:2048].copy()  # one class's rows of a batch
x.T @ x
t0 = time.perf_counter()
for _ in range(25):
    x.T @ x
per = (time.perf_counter() - t0) / 25
print(f"numpy {np.__version__}: one class, 2048 x {D} f32 X^T X: {per * 1e3:.2f} ms, {2048 * D * D / per / 1e9:.0f} GFLOP/s (n d^2 / time)")
g = (x.T @ x).astype(np.float64)
t0 = time.perf_counter()
np.linalg.eigh(g)
print(f"numpy {np.__version__}: one {D} x {D} eigh: {time.perf_counter() - t0:.3f} s")

for name, f in [("cov", cov_path), ("gemm", gemm_path)]:
    t0 = time.perf_counter()
    f()
    elapsed = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"numpy {np.__version__} {name}: N={N} d={D} C={C} S={S}: {elapsed:.3f} s, peak RSS so far {peak_mib:.0f} MiB "
          f"(includes the {emb.nbytes / 2**20:.0f} MiB array it needs in memory)")
    sys.stdout.flush()

# last, so its allocations cannot slow the paths above: a full eigh at the
# width of the bench's harder-spectrum case
g2 = np.cov(np.random.default_rng(1).normal(size=(3000, 2048)), rowvar=False)
t0 = time.perf_counter()
np.linalg.eigh(g2)
print(f"numpy {np.__version__}: one 2048 x 2048 eigh: {time.perf_counter() - t0:.3f} s")
