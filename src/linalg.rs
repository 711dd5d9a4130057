//! Host-side dense linear algebra in `f64`: the small, once-per-fit pieces
//! (symmetric eigendecomposition, pseudo-inverse projector, random rotations).
//!
//! Matrices are row-major `Vec<f64>`. The eigendecomposition is faer's
//! `self_adjoint_eigen` (burn 0.22's linalg has no symmetric eigensolver).

use faer::{Mat, Side};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{LelpError, Result};

/// Eigendecomposition of a symmetric `n x n` matrix (row-major).
///
/// Returns `(eigenvalues, eigenvectors)` with eigenvalues in **descending**
/// order (faer returns them ascending; we reverse) and eigenvectors as the
/// columns of a row-major `n x n` matrix, each with the sign rule of
/// [`fix_sign`] applied.
pub(crate) fn symmetric_eigen(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let m = Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (a[i * n + j] + a[j * n + i]));
    let evd = m.self_adjoint_eigen(Side::Lower).map_err(|e| LelpError::Backend {
        message: format!("eigendecomposition did not converge: {e:?}"),
    })?;
    let u = evd.U();
    let s = evd.S();
    let mut values = Vec::with_capacity(n);
    let mut vectors = vec![0.0; n * n];
    for (out_col, col) in (0..n).rev().enumerate() {
        values.push(s[col]);
        let mut v: Vec<f64> = (0..n).map(|i| u[(i, col)]).collect();
        fix_sign(&mut v);
        for i in 0..n {
            vectors[i * n + out_col] = v[i];
        }
    }
    Ok((values, vectors))
}

/// The sign rule: flip `v` so that its largest-magnitude entry is positive
/// (the first such entry on ties). Makes eigenvectors reproducible across
/// backends, runs and libraries.
pub(crate) fn fix_sign(v: &mut [f64]) {
    let mut best = 0usize;
    for (i, x) in v.iter().enumerate() {
        if x.abs() > v[best].abs() {
            best = i;
        }
    }
    if v.get(best).is_some_and(|&x| x < 0.0) {
        for x in v.iter_mut() {
            *x = -*x;
        }
    }
}

/// `P = I - W^T (W W^T)^+ W`: the orthogonal projector onto the null space
/// of `w` (`c x d`, row-major). The pseudo-inverse drops eigenvalues of
/// `W W^T` below `1e-12 * max`, so dependent rows (a binary head whose rows
/// are opposite) are handled.
pub(crate) fn null_space_projector(w: &[f64], c: usize, d: usize) -> Result<Vec<f64>> {
    // G = W W^T (c x c)
    let mut g = vec![0.0; c * c];
    for i in 0..c {
        for j in 0..c {
            g[i * c + j] = (0..d).map(|k| w[i * d + k] * w[j * d + k]).sum();
        }
    }
    let (vals, vecs) = symmetric_eigen(&g, c)?;
    let max = vals.iter().cloned().fold(0.0f64, f64::max);
    let mut ginv = vec![0.0; c * c];
    for (k, &lam) in vals.iter().enumerate() {
        if lam > 1e-12 * max && lam > 0.0 {
            for i in 0..c {
                for j in 0..c {
                    ginv[i * c + j] += vecs[i * c + k] * vecs[j * c + k] / lam;
                }
            }
        }
    }
    // M = Ginv W (c x d); P = I - W^T M
    let mut m = vec![0.0; c * d];
    for i in 0..c {
        for k in 0..d {
            m[i * d + k] = (0..c).map(|j| ginv[i * c + j] * w[j * d + k]).sum();
        }
    }
    let mut p = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            let wm: f64 = (0..c).map(|i| w[i * d + a] * m[i * d + b]).sum();
            p[a * d + b] = if a == b { 1.0 } else { 0.0 } - wm;
        }
    }
    Ok(p)
}

/// Orthonormalises the columns of a row-major `n x k` matrix in place
/// (modified Gram-Schmidt, applied twice). Equivalent to the Q of a QR
/// decomposition whose `R` has a positive diagonal.
pub(crate) fn orthonormalize_columns(a: &mut [f64], n: usize, k: usize) {
    for _pass in 0..2 {
        for j in 0..k {
            for prev in 0..j {
                let dot: f64 = (0..n).map(|i| a[i * k + j] * a[i * k + prev]).sum();
                for i in 0..n {
                    a[i * k + j] -= dot * a[i * k + prev];
                }
            }
            let norm: f64 = (0..n).map(|i| a[i * k + j].powi(2)).sum::<f64>().sqrt();
            if norm > 0.0 {
                for i in 0..n {
                    a[i * k + j] /= norm;
                }
            }
        }
    }
}

/// A Haar-uniform random rotation in `O(s)`: the Q factor of an `s x s`
/// standard Gaussian matrix, with `R`'s diagonal made positive.
pub(crate) fn random_orthogonal(s: usize, rng: &mut impl Rng) -> Vec<f64> {
    let mut g: Vec<f64> = (0..s * s).map(|_| rng.sample(StandardNormal)).collect();
    orthonormalize_columns(&mut g, s, s);
    g
}

/// The `s x s` identity, row-major.
pub(crate) fn identity(s: usize) -> Vec<f64> {
    let mut q = vec![0.0; s * s];
    for i in 0..s {
        q[i * s + i] = 1.0;
    }
    q
}

/// The transpose of a row-major `n x m` matrix.
pub(crate) fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            t[j * n + i] = a[i * m + j];
        }
    }
    t
}

/// Whether the columns of a row-major `n x k` matrix are orthonormal:
/// `|A^T A - I| <= tol` entrywise.
pub(crate) fn has_orthonormal_columns(a: &[f64], n: usize, k: usize, tol: f64) -> bool {
    (0..k).all(|p| {
        (0..k).all(|q| {
            let dot: f64 = (0..n).map(|i| a[i * k + p] * a[i * k + q]).sum();
            (dot - if p == q { 1.0 } else { 0.0 }).abs() <= tol
        })
    })
}

/// `A (n x k) * B (k x m)`, row-major (faer's blocked product, on rayon's
/// pool: the null-space fit's `P Sigma P` is two `d x d x d` products).
pub(crate) fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * m];
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(&mut out, n, m),
        faer::Accum::Replace,
        faer::MatRef::from_row_major_slice(a, n, k),
        faer::MatRef::from_row_major_slice(b, k, m),
        1.0,
        crate::util::host_par(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn eigen_reconstructs_and_is_descending() {
        let mut rng = StdRng::seed_from_u64(3);
        for n in [1usize, 2, 5, 17] {
            let x: Vec<f64> = (0..n * n).map(|_| rng.sample(StandardNormal)).collect();
            // A = X X^T, PSD
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] = (0..n).map(|k| x[i * n + k] * x[j * n + k]).sum();
                }
            }
            let (vals, vecs) = symmetric_eigen(&a, n).unwrap();
            for w in vals.windows(2) {
                assert!(w[0] >= w[1]);
            }
            for i in 0..n {
                for j in 0..n {
                    let rec: f64 = (0..n).map(|k| vecs[i * n + k] * vals[k] * vecs[j * n + k]).sum();
                    approx::assert_abs_diff_eq!(rec, a[i * n + j], epsilon = 1e-9 * (n as f64));
                }
            }
        }
    }

    #[test]
    fn projector_is_idempotent_and_kills_head_rows() {
        // binary head with dependent rows: second row = -first row
        let d = 6;
        let w: Vec<f64> = vec![
            1.0, 2.0, 0.0, -1.0, 0.5, 3.0, //
            -1.0, -2.0, 0.0, 1.0, -0.5, -3.0,
        ];
        let p = null_space_projector(&w, 2, d).unwrap();
        let pp = matmul(&p, &p, d, d, d);
        for (a, b) in pp.iter().zip(&p) {
            approx::assert_abs_diff_eq!(a, b, epsilon = 1e-12);
        }
        for r in 0..2 {
            for i in 0..d {
                let v: f64 = (0..d).map(|k| p[i * d + k] * w[r * d + k]).sum();
                approx::assert_abs_diff_eq!(v, 0.0, epsilon = 1e-12);
            }
        }
        // rank of P is d - 1
        let trace: f64 = (0..d).map(|i| p[i * d + i]).sum();
        approx::assert_abs_diff_eq!(trace, (d - 1) as f64, epsilon = 1e-10);
    }

    #[test]
    fn random_rotation_is_orthogonal() {
        let mut rng = StdRng::seed_from_u64(9);
        let s = 7;
        let q = random_orthogonal(s, &mut rng);
        let mut qt = vec![0.0; s * s];
        for i in 0..s {
            for j in 0..s {
                qt[j * s + i] = q[i * s + j];
            }
        }
        let i_ = matmul(&qt, &q, s, s, s);
        for i in 0..s {
            for j in 0..s {
                let e = if i == j { 1.0 } else { 0.0 };
                approx::assert_abs_diff_eq!(i_[i * s + j], e, epsilon = 1e-12);
            }
        }
    }
}
