"""Independent reference values for lelp's subspace fit and targets.

Run from the repository root:  python3 tests/data/reference.py
Written with Python 3.11.7, numpy 2.4.6 (float64 throughout).

For each case it writes, under tests/data/<case>/:
  inputs : emb.npy [N,d] f32, labels.npy [N] i64, head_w.npy [C,d] f32,
           head_b.npy [C] f32, params.json (S, null_space, centre, tau, beta)
  outputs: means.npy [C,d], covs.npy [C,d,d] (not for "wide"), eigvals.npy [C,S],
           bases.npy [C,d,S] (top-S eigenvectors, descending, each made to
           have its largest-magnitude entry positive), projector.npy [d,d]
           (identity when null_space is off; not for "wide"),
           targets.npy [N,C*S]
All outputs are float64; no rotation (rotation is tested by its properties).
"""
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))


def sign_fix(v):
    i = np.argmax(np.abs(v))  # first index of the largest magnitude
    return v if v[i] >= 0 else -v


def reference(emb, labels, W, b, S, null_space, centre, tau, beta):
    h = emb.astype(np.float64)
    W64 = W.astype(np.float64)
    C, d = W64.shape
    if null_space:
        # same cutoff as lelp: singular values below 1e-12 * max are dropped
        P = np.eye(d) - W64.T @ np.linalg.pinv(W64 @ W64.T, rtol=1e-12, hermitian=True) @ W64
    else:
        P = np.eye(d)
    hp = h @ P.T
    means, covs, vals, bases, scales = [], [], [], [], []
    for c in range(C):
        x = hp[labels == c]
        mu = x.mean(axis=0)
        cov = np.cov(x, rowvar=False, ddof=1)
        w, V = np.linalg.eigh(cov)
        order = np.argsort(w)[::-1][:S]
        w, V = w[order], V[:, order]
        V = np.stack([sign_fix(V[:, k]) for k in range(S)], axis=1)
        means.append(mu)
        covs.append(cov)
        vals.append(w)
        bases.append(V)
        scales.append(np.sqrt(np.mean(np.maximum(w, 0))))
    z = h @ W64.T + b.astype(np.float64)
    zt = z / tau
    p = np.exp(zt - zt.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    q = np.zeros((h.shape[0], C * S))
    for c in range(C):
        centred = hp - means[c] if centre else hp
        a = centred @ bases[c] / scales[c] / beta
        e = np.exp(a - a.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        q[:, c * S:(c + 1) * S] = p[:, c:c + 1] * e
    return dict(
        means=np.array(means), covs=np.array(covs), eigvals=np.array(vals),
        bases=np.array(bases), projector=P, targets=q,
    )


def write_case(name, emb, labels, W, b, params, skip=()):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "emb.npy"), emb.astype(np.float32))
    np.save(os.path.join(out, "labels.npy"), labels.astype(np.int64))
    np.save(os.path.join(out, "head_w.npy"), W.astype(np.float32))
    np.save(os.path.join(out, "head_b.npy"), b.astype(np.float32))
    with open(os.path.join(out, "params.json"), "w") as f:
        json.dump(params, f, indent=1)
    ref = reference(emb.astype(np.float32), labels, W.astype(np.float32), b.astype(np.float32), **params)
    for k, v in ref.items():
        if k not in skip:
            np.save(os.path.join(out, k + ".npy"), v)


def main():
    repo = os.path.dirname(os.path.dirname(ROOT))
    X = np.load(os.path.join(repo, "data", "uci-digits", "X_u8.npy")).astype(np.float32) / 16.0
    y = np.load(os.path.join(repo, "data", "uci-digits", "y_u8.npy")).astype(np.int64)
    parity = y % 2
    # a deterministic "teacher head": class means minus the overall mean
    mu = X.mean(axis=0)
    W = np.stack([X[parity == c].mean(axis=0) - mu for c in range(2)])
    b = np.array([0.1, -0.1], dtype=np.float32)
    write_case("digits", X, parity, W, b,
               dict(S=4, null_space=True, centre=True, tau=2.0, beta=0.5))

    rng = np.random.default_rng(20261127)
    N, d, C = 600, 12, 3
    labels = rng.integers(0, C, size=N)
    # anisotropic classes with shifted means
    A = rng.normal(size=(C, d, d)) * np.linspace(2.0, 0.2, d)
    emb = np.stack([A[labels[i]] @ rng.normal(size=d) + labels[i] for i in range(N)])
    Wr = rng.normal(size=(C, d))
    br = rng.normal(size=C)
    write_case("random", emb.astype(np.float32), labels, Wr.astype(np.float32), br.astype(np.float32),
               dict(S=3, null_space=False, centre=False, tau=1.0, beta=1.0))
    # wide: d = 275 >= 256 takes lelp's block Krylov eigensolver, and is a
    # multiple of neither of its kernel's tile widths (16, 6); 200 rows per
    # class, so each covariance has rank <= 199 < d. The d x d outputs
    # (covariances, projector) are not written: they would be 1.8 MB.
    rng = np.random.default_rng(20261130)
    N, d, C, k = 400, 275, 2, 12
    labels = np.repeat(np.arange(C), N // C)
    basis = rng.normal(size=(C, k, d)) / np.sqrt(d)
    z = rng.normal(size=(N, k)) * np.linspace(4.0, 1.0, k)
    emb = np.einsum("nk,nkd->nd", z, basis[labels]) + 0.05 * rng.normal(size=(N, d)) + 0.3 * labels[:, None]
    Ww = rng.normal(size=(C, d)) / np.sqrt(d)
    bw = np.array([0.2, -0.2])
    write_case("wide", emb.astype(np.float32), labels, Ww.astype(np.float32), bw.astype(np.float32),
               dict(S=5, null_space=True, centre=True, tau=2.0, beta=0.5), skip=("covs", "projector"))
    print("numpy", np.__version__, "wrote", ROOT)


if __name__ == "__main__":
    main()
