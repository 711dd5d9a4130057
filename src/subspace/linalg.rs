//! Host-side dense linear algebra in `f64`: the small, once-per-fit pieces
//! (symmetric eigendecomposition, pseudo-inverse projector, random rotations).
//!
//! Matrices are row-major `Vec<f64>`. The full eigendecomposition is faer's
//! `self_adjoint_eigen` (burn 0.22's linalg has no symmetric eigensolver);
//! the top few pairs of a large matrix come from block Krylov first.

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
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| LelpError::NoConvergence {
            what: "the symmetric eigendecomposition",
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

/// Dimensions from which [`top_symmetric_eigen`] tries block Krylov first
/// (below, the full decomposition costs less than a millisecond or two).
const KRYLOV_MIN_DIM: usize = 256;

/// Largest Krylov basis tried before falling back to the full
/// decomposition: a third of the dimension, between 64 and 512 columns.
fn krylov_max_basis(n: usize) -> usize {
    (n / 3).clamp(64, 512)
}

/// A Ritz pair counts as converged when its residual `|A u - theta u|` is at
/// most this fraction of the largest eigenvalue.
const KRYLOV_TOL: f64 = 1e-11;

/// The `k` largest eigenpairs of a symmetric positive semi-definite `n x n`
/// matrix (row-major): `(values [k], vectors [n, k] row-major)`, values
/// descending, each vector with the sign rule of [`fix_sign`].
///
/// For `n >= 256` and `k <= n / 4` (and a block that fits twice in the
/// basis) a block Krylov method runs first: block size `k + 8`, a fixed
/// random start, each new block orthogonalised twice against the basis,
/// Rayleigh-Ritz on the whole basis each time it has doubled and at the
/// end, at most `n / 3` columns (64 to 512). Its answer is accepted only
/// when every returned pair's residual `|A u - theta u|` is at most `1e-11`
/// times the largest eigenvalue; otherwise (slow convergence, e.g.
/// `lambda_k` nearly equal to `lambda_{k+1}`) the full decomposition of
/// [`symmetric_eigen`] answers. The full one costs `O(n^3)` (0.07 to 0.09 s
/// at `n = 768`, 1.2 s at 2,048), Krylov `O(n^2 k)` per block.
pub(crate) fn top_symmetric_eigen(a: &[f64], n: usize, k: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    top_eigen_within(a, n, k, krylov_max_basis(n))
}

/// [`top_symmetric_eigen`] with a Krylov basis of at most `max_basis`.
fn top_eigen_within(a: &[f64], n: usize, k: usize, max_basis: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let k = k.min(n);
    if n >= KRYLOV_MIN_DIM
        && k >= 1
        && 4 * k <= n
        && 2 * (k + 8) <= max_basis
        && let Some(found) = block_krylov(a, n, k, max_basis)
    {
        return Ok(found);
    }
    let (vals, vecs) = symmetric_eigen(a, n)?;
    let mut top = vec![0.0; n * k];
    for i in 0..n {
        top[i * k..(i + 1) * k].copy_from_slice(&vecs[i * n..i * n + k]);
    }
    Ok((vals[..k].to_vec(), top))
}

/// Block Krylov with Rayleigh-Ritz for the top `k` eigenpairs of the
/// symmetric `a`; `None` when the basis would pass `max_basis` columns
/// before every pair converged (see [`top_symmetric_eigen`]).
fn block_krylov(a: &[f64], n: usize, k: usize, max_basis: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    use rand::SeedableRng;
    let am = Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (a[i * n + j] + a[j * n + i]));
    let p = (k + 8).min(n);
    let max_basis = max_basis.min(n);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x4c45_4c50);
    let mut block = Mat::<f64>::from_fn(n, p, |_, _| rng.sample(StandardNormal));
    let mut v = Mat::<f64>::zeros(n, max_basis); // orthonormal basis V
    let mut av = Mat::<f64>::zeros(n, max_basis); // A V
    let mut h = Mat::<f64>::zeros(max_basis, max_basis); // V^T A V
    let mut m = 0;
    let mut next_check = 0;
    loop {
        // orthonormalise the new block against V (block Gram-Schmidt,
        // twice, as products) and itself (column by column), dropping
        // directions already in the span
        let norms0: Vec<f64> = (0..block.ncols())
            .map(|j| dot(block.col_as_slice(j), block.col_as_slice(j)).sqrt())
            .collect();
        if m > 0 {
            for _pass in 0..2 {
                let vm = v.as_ref().subcols(0, m);
                let c = vm.transpose() * block.as_ref();
                block -= vm * c.as_ref();
            }
        }
        let mut added = 0;
        for (j, &norm0) in norms0.iter().enumerate() {
            if m + added == max_basis {
                break;
            }
            let mut w = block.col_as_slice(j).to_vec();
            for _pass in 0..2 {
                for q in m..m + added {
                    let qc = v.col_as_slice(q);
                    let c = dot(qc, &w);
                    w.iter_mut().zip(qc).for_each(|(x, y)| *x -= c * y);
                }
            }
            let norm = dot(&w, &w).sqrt();
            if norm0 == 0.0 || norm <= 1e-10 * norm0 {
                continue;
            }
            v.col_as_slice_mut(m + added)
                .iter_mut()
                .zip(&w)
                .for_each(|(x, y)| *x = y / norm);
            added += 1;
        }
        if added == 0 && m < k {
            return None;
        }
        if added > 0 {
            let new = am.as_ref() * v.as_ref().subcols(m, added);
            av.as_mut().subcols_mut(m, added).copy_from(&new);
            let hm = v.as_ref().subcols(0, m + added).transpose() * new.as_ref();
            for j in 0..added {
                for i in 0..m + added {
                    h[(i, m + j)] = hm[(i, j)];
                    h[(m + j, i)] = hm[(i, j)];
                }
            }
        }
        let exhausted = added == 0 || m + added == n;
        m += added;
        let last = exhausted || m + p > max_basis;
        // Rayleigh-Ritz costs O(m^3): only at doubling sizes and at the end
        if m >= k && (m >= next_check || last) {
            next_check = 2 * m;
            // Rayleigh-Ritz on the whole basis
            let hs = Mat::<f64>::from_fn(m, m, |i, j| 0.5 * (h[(i, j)] + h[(j, i)]));
            let evd = hs.self_adjoint_eigen(Side::Lower).ok()?;
            let (y, s) = (evd.U(), evd.S());
            let top: Vec<usize> = (0..m).rev().take(k).collect();
            let yk = Mat::<f64>::from_fn(m, k, |i, j| y[(i, top[j])]);
            let u = v.as_ref().subcols(0, m) * yk.as_ref();
            let au = av.as_ref().subcols(0, m) * yk.as_ref();
            let theta: Vec<f64> = top.iter().map(|&c| s[c]).collect();
            let scale = theta[0].abs().max(f64::MIN_POSITIVE);
            let converged = (0..k).all(|j| {
                let r: f64 = (0..n).map(|i| (au[(i, j)] - theta[j] * u[(i, j)]).powi(2)).sum();
                r.sqrt() <= KRYLOV_TOL * scale
            });
            if converged || exhausted {
                return Some((theta, row_major_signed(&u)));
            }
        }
        if last {
            return None;
        }
        // next block: A times the block just added
        block = av.as_ref().subcols(m - added, added).to_owned();
    }
}

/// The columns of `u` (`n x k`) as a row-major `[n, k]` buffer, each
/// column's sign fixed by [`fix_sign`].
fn row_major_signed(u: &Mat<f64>) -> Vec<f64> {
    let (n, k) = (u.nrows(), u.ncols());
    let mut vecs = vec![0.0; n * k];
    for j in 0..k {
        let mut c = u.col_as_slice(j).to_vec();
        fix_sign(&mut c);
        for (i, x) in c.into_iter().enumerate() {
            vecs[i * k + j] = x;
        }
    }
    vecs
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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

/// `I - U U^T` for `U` (`d x r`, orthonormal columns), row-major: with `U`
/// from [`row_space_basis`], `P = I - W^T (W W^T)^+ W`, the orthogonal
/// projector onto the null space of the head `W`.
pub(crate) fn projector_from_basis(u: &[f64], r: usize, d: usize) -> Vec<f64> {
    let mut p = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            let uu: f64 = (0..r).map(|k| u[a * r + k] * u[b * r + k]).sum();
            p[a * d + b] = if a == b { 1.0 } else { 0.0 } - uu;
        }
    }
    p
}

/// An orthonormal basis `U` (`d x r`, row-major) of the row space of `w`
/// (`c x d`), with `U U^T = W^T (W W^T)^+ W`: `u_k = W^T v_k /
/// sqrt(lambda_k)` for each eigenpair of `W W^T` with `lambda_k > 1e-12 *
/// max`. The pseudo-inverse's cutoff handles dependent rows (a binary head
/// whose rows are opposite).
pub(crate) fn row_space_basis(w: &[f64], c: usize, d: usize) -> Result<(Vec<f64>, usize)> {
    // G = W W^T (c x c)
    let mut g = vec![0.0; c * c];
    for i in 0..c {
        for j in 0..c {
            g[i * c + j] = (0..d).map(|k| w[i * d + k] * w[j * d + k]).sum();
        }
    }
    let (vals, vecs) = symmetric_eigen(&g, c)?;
    let max = vals.iter().cloned().fold(0.0f64, f64::max);
    let kept: Vec<usize> = (0..c).filter(|&k| vals[k] > 1e-12 * max && vals[k] > 0.0).collect();
    let r = kept.len();
    let mut u = vec![0.0; d * r];
    for (col, &k) in kept.iter().enumerate() {
        let norm = vals[k].sqrt();
        for a in 0..d {
            u[a * r + col] = (0..c).map(|i| w[i * d + a] * vecs[i * c + k]).sum::<f64>() / norm;
        }
    }
    Ok((u, r))
}

/// `(I - U U^T) A (I - U U^T)` for a symmetric `d x d` `a` and `U`
/// (`d x r`, orthonormal columns): the covariance seen through the null
/// space projector in `O(d^2 r)`, where the two dense products cost
/// `O(d^3)`.
pub(crate) fn project_symmetric(u: &[f64], r: usize, a: &[f64], d: usize) -> Vec<f64> {
    // F = A U (d x r), G = U^T F (r x r), H = U G (d x r):
    // result = A - U F^T - F U^T + H U^T
    let f = matmul(a, u, d, d, r);
    let g = matmul(&transpose(u, d, r), &f, r, d, r);
    let h = matmul(u, &g, d, r, r);
    let mut out = a.to_vec();
    for i in 0..d {
        for j in 0..d {
            out[i * d + j] -= (0..r)
                .map(|k| u[i * r + k] * f[j * r + k] + f[i * r + k] * u[j * r + k] - h[i * r + k] * u[j * r + k])
                .sum::<f64>();
        }
    }
    out
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

    fn null_space_projector(w: &[f64], c: usize, d: usize) -> Result<Vec<f64>> {
        let (u, r) = row_space_basis(w, c, d)?;
        Ok(projector_from_basis(&u, r, d))
    }

    /// `Q diag(lambda) Q^T` for a random orthogonal `Q` (`n x n`).
    fn with_spectrum(lambda: &[f64], rng: &mut StdRng) -> Vec<f64> {
        let n = lambda.len();
        let mut q: Vec<f64> = (0..n * n).map(|_| rng.sample(StandardNormal)).collect();
        orthonormalize_columns(&mut q, n, n);
        let ql: Vec<f64> = (0..n * n).map(|i| q[i] * lambda[i % n]).collect();
        matmul(&ql, &transpose(&q, n, n), n, n, n)
    }

    /// `U U^T` for the row-major `n x k` `u`.
    fn projector(u: &[f64], n: usize, k: usize) -> Vec<f64> {
        matmul(u, &transpose(u, n, k), n, k, n)
    }

    #[test]
    fn block_krylov_agrees_with_the_full_decomposition() {
        let mut rng = StdRng::seed_from_u64(11);
        let (n, k) = (300usize, 8usize);
        let spectra: Vec<(&str, Vec<f64>)> = vec![
            ("decaying 1/i", (0..n).map(|i| 1.0 / (1.0 + i as f64)).collect()),
            (
                "32 strong directions over noise",
                (0..n)
                    .map(|i| if i < 32 { 9.0 - 0.25 * i as f64 } else { 0.01 })
                    .collect(),
            ),
            (
                "top eigenvalue three times, gap at k",
                (0..n)
                    .map(|i| [5.0, 5.0, 5.0, 3.0, 3.0, 2.5, 2.0, 1.5][i.min(7)] / (1.0 + (i / 8) as f64))
                    .collect(),
            ),
            (
                "rank 4 < k",
                (0..n).map(|i| if i < 4 { 4.0 - i as f64 } else { 0.0 }).collect(),
            ),
        ];
        for (name, lambda) in spectra {
            let a = with_spectrum(&lambda, &mut rng);
            let (vals, vecs) = block_krylov(&a, n, k, 256).unwrap_or_else(|| panic!("{name}: no convergence"));
            let (full_vals, full_vecs) = symmetric_eigen(&a, n).unwrap();
            let full_top: Vec<f64> = (0..n * k).map(|i| full_vecs[(i / k) * n + i % k]).collect();
            for j in 0..k {
                approx::assert_abs_diff_eq!(vals[j], full_vals[j], epsilon = 1e-10 * full_vals[0]);
            }
            // the subspace of the eigenvalues above the rank (all k when
            // the rank allows) is the same
            let r = full_vals.iter().take(k).filter(|&&v| v > 1e-9 * full_vals[0]).count();
            let pick = |u: &[f64]| (0..n * r).map(|i| u[(i / r) * k + i % r]).collect::<Vec<f64>>();
            let (pk, pf) = (projector(&pick(&vecs), n, r), projector(&pick(&full_top), n, r));
            let worst = pk.iter().zip(&pf).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-8, "{name}: projectors differ by {worst}");
            // where the eigenvalues are distinct the vectors themselves agree
            if name.starts_with("decaying") || name.starts_with("32") {
                for (x, y) in vecs.iter().zip(&full_top) {
                    approx::assert_abs_diff_eq!(x, y, epsilon = 1e-8);
                }
            }
        }
    }

    #[test]
    fn top_eigen_falls_back_when_krylov_stalls() {
        // lambda_k and lambda_{k+1} a hair apart inside a tight cluster:
        // a small basis cannot resolve them, the full decomposition answers
        let mut rng = StdRng::seed_from_u64(12);
        let (n, k) = (256usize, 8usize);
        let lambda: Vec<f64> = (0..n).map(|i| 1.0 + 1e-6 * (n - i) as f64).collect();
        let a = with_spectrum(&lambda, &mut rng);
        let small = 2 * (k + 8);
        assert!(block_krylov(&a, n, k, small).is_none());
        let (vals, vecs) = top_eigen_within(&a, n, k, small).unwrap();
        let (full_vals, full_vecs) = symmetric_eigen(&a, n).unwrap();
        assert_eq!(vals, full_vals[..k]);
        for i in 0..n {
            assert_eq!(vecs[i * k..(i + 1) * k], full_vecs[i * n..i * n + k]);
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
    fn low_rank_projection_equals_the_dense_products() {
        let mut rng = StdRng::seed_from_u64(13);
        let d = 9;
        // three head rows, the third a combination of the first two
        let mut w: Vec<f64> = (0..2 * d).map(|_| rng.sample(StandardNormal)).collect();
        let third: Vec<f64> = (0..d).map(|k| 2.0 * w[k] - 0.5 * w[d + k]).collect();
        w.extend(third);
        let (u, r) = row_space_basis(&w, 3, d).unwrap();
        assert_eq!(r, 2);
        assert!(has_orthonormal_columns(&u, d, r, 1e-12));
        let x: Vec<f64> = (0..d * d).map(|_| rng.sample(StandardNormal)).collect();
        let a = matmul(&x, &transpose(&x, d, d), d, d, d);
        let p = null_space_projector(&w, 3, d).unwrap();
        let dense = matmul(&matmul(&p, &a, d, d, d), &p, d, d, d);
        for (x, y) in project_symmetric(&u, r, &a, d).iter().zip(&dense) {
            approx::assert_abs_diff_eq!(x, y, epsilon = 1e-10);
        }
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
