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

use serde::{Deserialize, Serialize};

use super::{LabelerInput, PseudoLabeler, PseudoTargets, check_logits, compose};
use crate::error::{LelpError, Result};
use crate::util;

/// Options of the k-means baseline.
///
/// # Example
/// ```
/// use lelp::labeler::KMeansConfig;
/// let cfg = KMeansConfig::new(5).with_beta(0.5);
/// assert_eq!((cfg.subclasses, cfg.beta, cfg.tau, cfg.iterations), (5, 0.5, 2.0, 50));
/// assert!(KMeansConfig::new(5).with_tau(-1.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KMeansConfig {
    /// Clusters (pseudo-subclasses) per class `S`.
    pub subclasses: usize,
    /// Temperature of the soft assignment (in units of the class's mean
    /// squared distance to its nearest centroid).
    pub beta: f64,
    /// Teacher temperature `tau`.
    pub tau: f64,
    /// Weight `alpha` of the ground-truth cross-entropy in the loss.
    pub alpha: f64,
    /// Group rows by the teacher's argmax instead of the labels.
    pub teacher_labels: bool,
    /// Most Lloyd iterations.
    pub iterations: usize,
    /// Seed of the k-means++ initialisation.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self::new(8)
    }
}

impl KMeansConfig {
    /// `S` clusters per class, `beta = 0.3`, `tau = 2`, `alpha = 0`, 50
    /// iterations, seed 0.
    pub fn new(subclasses: usize) -> Self {
        Self {
            subclasses,
            beta: 0.3,
            tau: 2.0,
            alpha: 0.0,
            teacher_labels: false,
            iterations: 50,
            seed: 0,
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for `S = 0`, a temperature not
    /// `> 0` or `alpha` outside `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        if self.subclasses == 0 {
            return Err(LelpError::InvalidParameter {
                name: "subclasses",
                value: "0".into(),
                reason: "at least one cluster per class is required",
            });
        }
        util::check_positive("beta", self.beta)?;
        util::check_positive("tau", self.tau)?;
        util::check_unit("alpha", self.alpha)
    }
}

util::setters!(KMeansConfig {
    "Soft-assignment temperature." with_beta => beta: f64,
    "Teacher temperature." with_tau => tau: f64,
    "Weight of the ground-truth loss." with_alpha => alpha: f64,
    "Groups rows by the teacher's argmax." with_teacher_labels => teacher_labels: bool,
    "Most Lloyd iterations." with_iterations => iterations: usize,
    "Seed." with_seed => seed: u64,
});

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
    /// Fits `config.subclasses` centroids per class on `embeddings`
    /// (`[N, d]`) grouped by `labels` (each `< num_classes`).
    ///
    /// # Errors
    /// [`LelpError::ClassTooSmall`] when a class has fewer rows than
    /// centroids, [`LelpError::LabelOutOfRange`], [`LelpError::NonFinite`],
    /// [`LelpError::DimensionMismatch`], and those of
    /// [`KMeansConfig::validate`].
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use lelp::labeler::{KMeansConfig, KMeansLabeler, PseudoLabeler};
    /// let device = Device::default();
    /// let h = Tensor::<2>::from_floats([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]], &device);
    /// let km = KMeansLabeler::fit(h, &[0, 0, 0, 0], 1, &KMeansConfig::new(2))?;
    /// assert_eq!((km.num_classes(), km.subclasses()), (1, 2));
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn fit(embeddings: Tensor<2>, labels: &[usize], num_classes: usize, config: &KMeansConfig) -> Result<Self> {
        config.validate()?;
        let (subclasses, iterations) = (config.subclasses, config.iterations);
        let [n, d] = embeddings.dims();
        if labels.len() != n {
            return Err(LelpError::DimensionMismatch {
                what: "labels vs embedding rows",
                expected: n,
                got: labels.len(),
            });
        }
        util::check_labels(labels, num_classes, 0)?;
        util::check_finite(&embeddings, "embeddings", 0)?;
        let x = util::to_host_f32(embeddings)?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut centroids = vec![0.0; num_classes * subclasses * d];
        let mut scales = vec![1.0; num_classes];
        for c in 0..num_classes {
            let rows: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            if rows.len() < subclasses {
                return Err(LelpError::ClassTooSmall {
                    class: c,
                    count: rows.len(),
                    required: subclasses,
                    subclasses,
                });
            }
            let pts: Vec<&[f32]> = rows.iter().map(|&i| &x[i * d..(i + 1) * d]).collect();
            let (cent, v) = kmeans(&pts, d, subclasses, iterations, &mut rng);
            centroids[c * subclasses * d..(c + 1) * subclasses * d].copy_from_slice(&cent);
            scales[c] = v;
        }
        // a class whose rows all sit on their centroids has no spread to
        // scale by: relative to the largest class, treat it as unit spread
        let largest = scales.iter().copied().fold(0.0f64, f64::max);
        for v in &mut scales {
            if *v <= 1e-12 * largest || *v == 0.0 {
                *v = if largest > 0.0 { largest } else { 1.0 };
            }
        }
        Ok(Self {
            num_classes,
            subclasses,
            dim: d,
            centroids,
            scales,
            beta: config.beta,
            tau: config.tau,
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
        check_logits(&input.logits, c, n)?;
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
        compose(input.logits, log_softmax(a.reshape([n, c, s]), 2), self.tau)
    }
}
