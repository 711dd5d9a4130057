//! Symmetric rank-k update on the host: the lower triangle of `Z^T Z` where
//! `Z`'s rows are chosen rows of a row-major `f32` matrix minus a shift (a
//! class's rows of a batch, centred), the product that dominates a
//! subspace fit on the CPU.
//!
//! On x86-64 with AVX2 and FMA (checked at run time) a blocked kernel runs:
//! blocks of [`KC`] rows are gathered, centred and packed in one go into
//! 16-column and 6-column panels; a 16 x 6 register tile (12 accumulators,
//! two loads and six broadcasts per row) computes each tile of the lower
//! triangle; the result's 16-row panels are dealt to the threads in turn
//! (each packs what it needs, so they never wait for each other).
//! Elsewhere the rows are gathered and faer's triangular product runs.
//! Both accumulate in `f32`.

use faer::Mat;

/// Rows per packed block (of 128, 192, 256, 512, 768 and 1,024, 512 was
/// the fastest at `d = 768` in a one-off timing; the spread was about 10%).
#[cfg_attr(not(all(target_arch = "x86_64", feature = "avx2")), allow(dead_code))] // the kernel's
const KC: usize = 512;
/// Rows centred together before they are dealt into the panels.
#[cfg_attr(not(all(target_arch = "x86_64", feature = "avx2")), allow(dead_code))] // the kernel's
const GROUP: usize = 16;
/// Register tile: rows of the result (columns of `Z`) ...
#[cfg_attr(not(all(target_arch = "x86_64", feature = "avx2")), allow(dead_code))] // the kernel's
const MR: usize = 16;
/// ... and columns of the result.
#[cfg_attr(not(all(target_arch = "x86_64", feature = "avx2")), allow(dead_code))] // the kernel's
const NR: usize = 6;

/// `Z`: rows `rows` of `x` (row-major `[_, d]`), each minus `shift` (`[d]`).
#[derive(Clone, Copy)]
pub(crate) struct Centred<'a> {
    pub x: &'a [f32],
    pub d: usize,
    pub rows: &'a [usize],
    pub shift: &'a [f32],
}

impl Centred<'_> {
    /// Columns `c0 .. c0 + dst.len()` of row `r` of `Z` into `dst` (zero
    /// past `d`).
    fn row_into(&self, r: usize, c0: usize, dst: &mut [f32]) {
        let c1 = (c0 + dst.len()).min(self.d);
        let src = &self.x[self.rows[r] * self.d + c0..self.rows[r] * self.d + c1];
        for ((o, &v), &m) in dst.iter_mut().zip(src).zip(&self.shift[c0..c1]) {
            *o = v - m;
        }
        dst[c1 - c0..].fill(0.0);
    }
}

/// The lower triangle (diagonal included) of `Z^T Z` (see [`Centred`]),
/// written into `out` (`d x d`, column-major: column `j` holds rows `j..d`
/// at `out.col_as_slice(j)[j..]`); the upper triangle is unspecified.
/// `threads` caps the parallelism (0: rayon's pool size).
pub(crate) fn centred_syrk(z: Centred<'_>, out: &mut Mat<f32>, threads: usize) {
    let d = z.d;
    assert!(z.shift.len() == d && z.rows.iter().all(|&r| (r + 1) * d <= z.x.len()));
    if out.nrows() != d || out.ncols() != d {
        *out = Mat::zeros(d, d);
    }
    #[cfg(all(target_arch = "x86_64", feature = "avx2"))]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        x86::syrk(z, out, threads);
        return;
    }
    faer_syrk(z, out, threads);
}

/// The rows gathered, then faer's triangular product (the portable path,
/// and what the tests compare the kernel with).
pub(crate) fn faer_syrk(z: Centred<'_>, out: &mut Mat<f32>, threads: usize) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let (n, d) = (z.rows.len(), z.d);
    if out.nrows() != d || out.ncols() != d {
        *out = Mat::zeros(d, d);
    }
    let mut g = vec![0.0; n * d];
    for (r, dst) in g.chunks_exact_mut(d.max(1)).enumerate() {
        z.row_into(r, 0, dst);
    }
    let zr = faer::MatRef::from_row_major_slice(&g, n, d);
    matmul(
        out.as_mut(),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        zr.transpose(),
        BlockStructure::Rectangular,
        zr,
        BlockStructure::Rectangular,
        1.0f32,
        faer::Par::rayon(threads),
    );
}

#[cfg(all(target_arch = "x86_64", feature = "avx2"))]
#[allow(unsafe_code)] // AVX2/FMA intrinsics (feature `avx2`); the crate's other unsafe code is one `mallopt` call (device.rs)
mod x86 {
    use super::{Centred, GROUP, KC, MR, NR};
    use faer::Mat;
    use std::arch::x86_64::*;
    use std::cell::RefCell;

    thread_local! {
        /// Per-thread buffers, reused across calls (fresh ones cost page
        /// faults on every call): the packed panels of a worker, and the
        /// result strips of a caller.
        static PACKED: RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
        static STRIPS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    }

    /// Tiles in panel `ib`'s strip: columns `0 .. min(d, 16 ib + 16)`,
    /// rounded up to whole tiles.
    fn tiles(ib: usize, d: usize) -> usize {
        (ib * MR + MR).min(d).div_ceil(NR)
    }

    pub(super) fn syrk(z: Centred<'_>, out: &mut Mat<f32>, threads: usize) {
        let d = z.d;
        let pool = if threads == 0 {
            rayon::current_num_threads()
        } else {
            threads
        };
        // panel ib (result rows 16 ib .. 16 ib + 16) goes to thread
        // ib % parts: the panels' work grows with ib, so the shares differ
        // by at most one panel. Each thread's strips are one slice.
        let ip = d.div_ceil(MR);
        let parts = pool.min(ip).max(1);
        let share = |t: usize| (t..ip).step_by(parts).map(|ib| tiles(ib, d) * NR * MR).sum::<usize>();
        STRIPS.with_borrow_mut(|buf| {
            buf.clear();
            buf.resize((0..parts).map(share).sum(), 0.0);
            let mut rest = buf.as_mut_slice();
            let mut shares = Vec::with_capacity(parts);
            for t in 0..parts {
                let (mine, tail) = rest.split_at_mut(share(t));
                shares.push(mine);
                rest = tail;
            }
            rayon::scope(|s| {
                for (t, mine) in shares.iter_mut().enumerate() {
                    s.spawn(move |_| {
                        // SAFETY: this module is only entered after
                        // checking AVX2 and FMA at run time (`centred_syrk`).
                        unsafe { panels(z, t, parts, mine) };
                    });
                }
            });
            for (t, mine) in shares.iter().enumerate() {
                let mut at = 0;
                for ib in (t..ip).step_by(parts) {
                    let strip = &mine[at..at + tiles(ib, d) * NR * MR];
                    at += strip.len();
                    let i0 = ib * MR;
                    let i1 = (i0 + MR).min(d);
                    for j in 0..i1 {
                        let col = out.col_as_slice_mut(j);
                        for i in i0.max(j)..i1 {
                            col[i] = strip[j * MR + i - i0];
                        }
                    }
                }
            }
        });
    }

    /// The result's row panels `t, t + parts, ...` (16 rows each, columns
    /// up to the diagonal, padded to whole tiles) accumulated into
    /// `strips`, one after another, each `[column][16]`:
    /// `strip[j * 16 + i - i0]`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn panels(z: Centred<'_>, t: usize, parts: usize, strips: &mut [f32]) {
        let (n, d) = (z.rows.len(), z.d);
        let (ip, jp) = (d.div_ceil(MR), d.div_ceil(NR));
        let mine: Vec<usize> = (t..ip).step_by(parts).collect();
        let needed = mine.last().map_or(0, |&ib| tiles(ib, d));
        PACKED.with_borrow_mut(|(pa, pb, lines)| {
            pa.resize(mine.len() * MR * KC, 0.0);
            pb.resize(jp * NR * KC, 0.0);
            // rows of Z, zero past d to whole panels of either width
            let width = (ip * MR).max(jp * NR);
            lines.resize(GROUP * width, 0.0);
            for r0 in (0..n).step_by(KC) {
                let kc = KC.min(n - r0);
                // rows centred GROUP at a time, then dealt into the panels
                // (a panel's rows are contiguous, so writing one row into
                // every panel would touch a page per panel)
                for g0 in (0..kc).step_by(GROUP) {
                    let g1 = (g0 + GROUP).min(kc);
                    for (g, line) in lines.chunks_exact_mut(width).take(g1 - g0).enumerate() {
                        z.row_into(r0 + g0 + g, 0, line);
                    }
                    for (q, &ib) in mine.iter().enumerate() {
                        for (g, line) in lines.chunks_exact(width).take(g1 - g0).enumerate() {
                            let at = q * MR * KC + (g0 + g) * MR;
                            pa[at..at + MR].copy_from_slice(&line[ib * MR..ib * MR + MR]);
                        }
                    }
                    for jb in 0..needed {
                        for (g, line) in lines.chunks_exact(width).take(g1 - g0).enumerate() {
                            let at = jb * NR * KC + (g0 + g) * NR;
                            pb[at..at + NR].copy_from_slice(&line[jb * NR..jb * NR + NR]);
                        }
                    }
                }
                // a 16-column panel stays in L1 while the 6-column panels
                // (a quarter of its bytes per row) stream past it
                let mut at = 0;
                for (q, &ib) in mine.iter().enumerate() {
                    let a = &pa[q * MR * KC..q * MR * KC + kc * MR];
                    for jb in 0..tiles(ib, d) {
                        let b = &pb[jb * NR * KC..jb * NR * KC + kc * NR];
                        let c = &mut strips[at..at + NR * MR];
                        at += NR * MR;
                        // SAFETY: AVX2/FMA enabled on this function; `a`
                        // and `b` hold `kc` rows of MR and NR values, `c` a
                        // whole tile (NR columns of MR values).
                        unsafe { kernel(kc, a, b, c, MR) };
                    }
                }
            }
        });
    }

    /// `c += A^T B` over `kc` rows: `a` rows of MR values, `b` rows of NR
    /// values; column `j` of the tile at `c[j * ldc..j * ldc + MR]`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn kernel(kc: usize, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize) {
        assert!(a.len() >= kc * MR && b.len() >= kc * NR && c.len() >= (NR - 1) * ldc + MR);
        let mut acc = [_mm256_setzero_ps(); 2 * NR];
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        // per row: two loads of A, six broadcasts of B, twelve FMAs
        for r in 0..kc {
            // SAFETY: r < kc, and the lengths were checked above.
            unsafe {
                let a0 = _mm256_loadu_ps(pa.add(r * MR));
                let a1 = _mm256_loadu_ps(pa.add(r * MR + 8));
                for j in 0..NR {
                    let bj = _mm256_broadcast_ss(&*pb.add(r * NR + j));
                    acc[2 * j] = _mm256_fmadd_ps(a0, bj, acc[2 * j]);
                    acc[2 * j + 1] = _mm256_fmadd_ps(a1, bj, acc[2 * j + 1]);
                }
            }
        }
        let pc = c.as_mut_ptr();
        for j in 0..NR {
            // SAFETY: j * ldc + MR <= c.len(), checked above.
            unsafe {
                let at = pc.add(j * ldc);
                _mm256_storeu_ps(at, _mm256_add_ps(_mm256_loadu_ps(at), acc[2 * j]));
                _mm256_storeu_ps(at.add(8), _mm256_add_ps(_mm256_loadu_ps(at.add(8)), acc[2 * j + 1]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Gram kernel: the dispatching one or the portable one.
    type Syrk = fn(Centred<'_>, &mut Mat<f32>, usize);

    fn data(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n * d)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    /// The kernel (or the portable path) against an f64 sum over the chosen
    /// rows minus the shift, for sizes around every block edge: `d` below,
    /// at and past the tile widths, `n` below one block, between blocks,
    /// and more threads than tiles.
    #[test]
    fn lower_triangle_matches_f64_reference() {
        for &(rows_in, d) in &[
            (1, 1),
            (3, 5),
            (7, 16),
            (129, 17),
            (300, 6),
            (1100, 40),
            (1500, 97),
            (2, 300),
        ] {
            let x = data(rows_in, d, (rows_in * 1000 + d) as u64);
            let shift: Vec<f32> = (0..d).map(|j| 0.01 * j as f32).collect();
            // every other row, then the last one twice
            let mut rows: Vec<usize> = (0..rows_in).step_by(2).collect();
            rows.push(rows_in - 1);
            let z = Centred {
                x: &x,
                d,
                rows: &rows,
                shift: &shift,
            };
            // the dispatch (the AVX2 kernel where the CPU and the `avx2`
            // feature have it) and the portable path, each against the f64 sum
            let paths: [(&str, Syrk); 2] = [("dispatch", centred_syrk), ("portable", faer_syrk)];
            for (threads, (path, syrk)) in [1, 2, 3].into_iter().flat_map(|t| paths.map(|p| (t, p))) {
                let mut g = Mat::<f32>::zeros(0, 0);
                syrk(z, &mut g, threads);
                for j in 0..d {
                    for i in j..d {
                        let want: f64 = rows
                            .iter()
                            .map(|&r| f64::from(x[r * d + i] - shift[i]) * f64::from(x[r * d + j] - shift[j]))
                            .sum();
                        let got = f64::from(g[(i, j)]);
                        assert!(
                            (got - want).abs() <= 1e-5 * (rows.len() as f64),
                            "{path}: rows={} d={d} threads={threads} ({i}, {j}): {got} vs {want}",
                            rows.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn overwrites_a_reused_output_like_faer() {
        let (n, d) = (50, 20);
        let x = data(n, d, 1);
        let rows: Vec<usize> = (0..n).collect();
        let shift = vec![0.0; d];
        let z = Centred {
            x: &x,
            d,
            rows: &rows,
            shift: &shift,
        };
        let mut g = Mat::<f32>::from_fn(d, d, |_, _| 7.0);
        centred_syrk(z, &mut g, 0);
        let mut reference = Mat::<f32>::zeros(d, d);
        faer_syrk(z, &mut reference, 1);
        for j in 0..d {
            for i in j..d {
                assert!((g[(i, j)] - reference[(i, j)]).abs() < 1e-4);
            }
        }
    }
}
