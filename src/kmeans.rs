//! The clustering baseline (the paper's Table 1): pseudo-subclasses from
//! k-means within each class of the teacher's embeddings.
//!
//! Per class `c`, k-means with `S` centroids `m_cs` (k-means++ seeding from
//! `StdRng::seed_from_u64(seed)`, Lloyd iterations, f64 on the host). The
//! targets are soft assignments scaled like LELP's:
//! `q_cs = p_c * softmax_s(-||h - m_cs||^2 / (v_c * beta))` with `v_c` the
//! mean squared distance of class `c`'s rows to their nearest centroid.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{LelpError, Result};
use crate::labeler::{LabelerInput, PseudoLabeler, PseudoTargets};
use crate::util;

/// Pseudo-subclasses from per-class k-means of the teacher embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansLabeler {
    num_classes: usize,
    subclasses: usize,
    dim: usize,
    /// `[C, S, d]` row-major.
    centroids: Vec<f64>,
    /// `v_c`, `[C]`.
    scales: Vec<f64>,
    beta: f64,
    tau: f64,
}

impl KMeansLabeler {
    /// Fits `subclasses` centroids per class on `embeddings` (`[N, d]`)
    /// grouped by `labels`, with at most `iterations` Lloyd steps.
    ///
    /// # Errors
    /// [`LelpError::ClassTooSmall`] when a class has fewer rows than
    /// centroids, [`LelpError::LabelOutOfRange`], [`LelpError::NonFinite`],
    /// [`LelpError::DimensionMismatch`].
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        embeddings: Tensor<2>,
        labels: &[usize],
        num_classes: usize,
        subclasses: usize,
        beta: f64,
        tau: f64,
        iterations: usize,
        seed: u64,
    ) -> Result<Self> {
        let [n, d] = embeddings.dims();
        if labels.len() != n {
            return Err(LelpError::DimensionMismatch {
                what: "labels vs embedding rows",
                expected: n,
                got: labels.len(),
            });
        }
        if subclasses == 0 {
            return Err(LelpError::InvalidParameter {
                name: "subclasses",
                value: "0".into(),
                reason: "at least one cluster per class is required",
            });
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
            return Err(LelpError::LabelOutOfRange {
                label,
                row,
                num_classes,
            });
        }
        util::check_finite(&embeddings, "embeddings", 0)?;
        let x = util::to_host_f32(embeddings)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut centroids = vec![0.0; num_classes * subclasses * d];
        let mut scales = vec![1.0; num_classes];
        for c in 0..num_classes {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            if rows.len() < subclasses {
                return Err(LelpError::ClassTooSmall {
                    class: c,
                    count: rows.len(),
                    required: subclasses,
                    components: subclasses,
                });
            }
            let pts: Vec<&[f32]> = rows.iter().map(|&i| &x[i * d..(i + 1) * d]).collect();
            let (cent, v) = kmeans(&pts, d, subclasses, iterations, &mut rng);
            centroids[c * subclasses * d..(c + 1) * subclasses * d].copy_from_slice(&cent);
            scales[c] = if v > 1e-30 { v } else { 1.0 };
        }
        Ok(Self {
            num_classes,
            subclasses,
            dim: d,
            centroids,
            scales,
            beta,
            tau,
        })
    }

    /// Centroid `s` of class `c`, `[d]`.
    pub fn centroid(&self, c: usize, s: usize) -> &[f64] {
        let o = (c * self.subclasses + s) * self.dim;
        &self.centroids[o..o + self.dim]
    }
}

fn sq_dist(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64 - y).powi(2)).sum()
}

/// k-means++ then Lloyd; returns centroids `[k, d]` and the mean squared
/// distance to the nearest centroid.
fn kmeans(pts: &[&[f32]], d: usize, k: usize, iterations: usize, rng: &mut StdRng) -> (Vec<f64>, f64) {
    let n = pts.len();
    let mut cent: Vec<f64> = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    cent.extend(pts[first].iter().map(|&v| v as f64));
    let mut best: Vec<f64> = pts.iter().map(|p| sq_dist(p, &cent[..d])).collect();
    while cent.len() < k * d {
        let total: f64 = best.iter().sum();
        let pick = if total > 0.0 {
            let mut r = rng.random_range(0.0..total);
            let mut idx = n - 1;
            for (i, &b) in best.iter().enumerate() {
                if r < b {
                    idx = i;
                    break;
                }
                r -= b;
            }
            idx
        } else {
            rng.random_range(0..n)
        };
        let start = cent.len();
        cent.extend(pts[pick].iter().map(|&v| v as f64));
        for (i, p) in pts.iter().enumerate() {
            best[i] = best[i].min(sq_dist(p, &cent[start..start + d]));
        }
    }
    let mut assign = vec![0usize; n];
    for _ in 0..iterations.max(1) {
        let mut changed = false;
        for (i, p) in pts.iter().enumerate() {
            let (j, _) = (0..k)
                .map(|j| (j, sq_dist(p, &cent[j * d..(j + 1) * d])))
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            if j != assign[i] {
                changed = true;
                assign[i] = j;
            }
        }
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (i, p) in pts.iter().enumerate() {
            counts[assign[i]] += 1;
            for (s, &v) in sums[assign[i] * d..(assign[i] + 1) * d].iter_mut().zip(p.iter()) {
                *s += v as f64;
            }
        }
        for j in 0..k {
            if counts[j] > 0 {
                for t in 0..d {
                    cent[j * d + t] = sums[j * d + t] / counts[j] as f64;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let v = pts
        .iter()
        .map(|p| {
            (0..k)
                .map(|j| sq_dist(p, &cent[j * d..(j + 1) * d]))
                .fold(f64::INFINITY, f64::min)
        })
        .sum::<f64>()
        / n as f64;
    (cent, v)
}

impl PseudoLabeler for KMeansLabeler {
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn subclasses(&self) -> usize {
        self.subclasses
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        let (c, s, d) = (self.num_classes, self.subclasses, self.dim);
        let [n, hd] = input.embeddings.dims();
        if hd != d {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width vs centroid width",
                expected: d,
                got: hd,
            });
        }
        let [ln, lc] = input.logits.dims();
        if lc != c || ln != n {
            return Err(LelpError::DimensionMismatch {
                what: "teacher logits vs [rows, classes]",
                expected: c,
                got: lc,
            });
        }
        for (name, t) in [("beta", self.beta), ("tau", self.tau)] {
            if !(t.is_finite() && t > 0.0) {
                return Err(LelpError::InvalidParameter {
                    name,
                    value: t.to_string(),
                    reason: "must be finite and > 0",
                });
            }
        }
        let device = input.embeddings.device();
        // -||h - m||^2 / (v_c beta) = (2 h.m - ||m||^2 - ||h||^2) / (v_c beta); the ||h||^2 term
        // is constant within a class and cancels in the per-class softmax.
        let k = c * s;
        let mut mt = vec![0.0f64; d * k];
        let mut off = vec![0.0f64; k];
        for j in 0..k {
            let cls = j / s;
            let w = 1.0 / (self.scales[cls] * self.beta);
            let m = &self.centroids[j * d..(j + 1) * d];
            for t in 0..d {
                mt[t * k + j] = 2.0 * m[t] * w;
            }
            off[j] = m.iter().map(|v| v * v).sum::<f64>() * w;
        }
        let a = input.embeddings.matmul(util::matrix_f64(&mt, d, k, &device)) - util::matrix_f64(&off, 1, k, &device);
        let log_sub = log_softmax(a.reshape([n, c, s]), 2);
        let log_p = log_softmax(input.logits.div_scalar(self.tau), 1).reshape([n, c, 1]);
        Ok(PseudoTargets {
            log_probs: (log_sub + log_p).reshape([n, c * s]),
            num_classes: c,
            subclasses: s,
        })
    }
}
