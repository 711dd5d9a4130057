//! Step 1 of LELP: per-class subspaces of the teacher's embedding space.
//!
//! A [`SubspaceFinder`] consumes a stream of `(embeddings [B, d], labels
//! [B])` batches and returns a fitted [`Subspaces`]. The stream is reduced
//! by [`ClassMoments`] to per-class counts, means and centred second
//! moments, so memory is `O(C d^2)` whatever the number of rows; the
//! per-batch products `Z^T Z` run on the batches' device, and the
//! eigendecomposition runs once on the host (faer, f64) at the end.
//!
//! # Conventions (fixed, tested)
//! - Covariance denominator: `n_c - 1`.
//! - Null-space projection: `P = I - W^T (W W^T)^+ W`; the moments are
//!   accumulated on the raw embeddings and projected at the end
//!   (`mu' = P mu`, `Sigma' = P Sigma P`), which is exact.
//! - Eigenvalues in descending order; each eigenvector's largest-magnitude
//!   entry is made positive (before rotation).
//! - Rotation: `U_c = V_c Q_c`, `Q_c` the Q of a QR of an `S x S` standard
//!   Gaussian matrix with `R`'s diagonal made positive (Haar on `O(S)`),
//!   drawn per class in class order from `StdRng::seed_from_u64(seed)`.
//! - Scale: `sigma_c = sqrt(mean of class c's top-S eigenvalues)` (for
//!   random projections, of the variances along the projection).

use std::collections::HashMap;
use std::path::Path;

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{LelpError, Result};
use crate::linalg;
use crate::store::{self, F64Tensor};
use crate::teacher::LinearHead;
use crate::util;

/// Version of the on-disk format written by [`Subspaces::save`].
pub const FORMAT_VERSION: u32 = 1;

/// How the subspace of each class is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SubspaceKind {
    /// Top-`S` principal components of the class (LELP).
    Pca,
    /// `S` random orthonormal directions per class (the paper's ablation).
    RandomProjection,
}

/// The options of a subspace fit. Stored with the fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubspaceConfig {
    /// PCA or random projections.
    pub kind: SubspaceKind,
    /// Subspace dimension `S` per class (pseudo-subclasses per class).
    pub components: usize,
    /// Project embeddings onto the null space of the teacher's head first.
    pub null_space: bool,
    /// Subtract the class mean before projecting (`a = <u, h' - mu_c>`).
    pub centre: bool,
    /// Apply a seeded random rotation `Q_c` to each class basis.
    pub rotate: bool,
    /// Seed of the rotations / random projections.
    pub seed: u64,
}

impl SubspaceConfig {
    fn validate(&self) -> Result<()> {
        if self.components == 0 {
            return Err(LelpError::InvalidParameter {
                name: "components",
                value: "0".into(),
                reason: "at least one component per class is required",
            });
        }
        Ok(())
    }
}

/// Streaming per-class moments: counts, means and centred second moments
/// (`M2 = sum (h - mean)(h - mean)^T`), merged batch by batch with Chan et
/// al.'s pairwise update in f64.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::ClassMoments;
/// let device = Device::default();
/// let mut m = ClassMoments::new(2);
/// let x = Tensor::<2>::from_floats([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], &device);
/// m.update(x, &[0, 1, 0])?;
/// assert_eq!(m.counts(), &[2, 1]);
/// assert_eq!(m.mean(0).unwrap(), &[2.0, 3.0]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClassMoments {
    num_classes: usize,
    dim: Option<usize>,
    counts: Vec<u64>,
    means: Vec<f64>,
    m2: Vec<f64>,
    rows: usize,
}

impl ClassMoments {
    /// An empty accumulator for `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            dim: None,
            counts: vec![0; num_classes],
            means: Vec::new(),
            m2: Vec::new(),
            rows: 0,
        }
    }

    /// Adds a batch.
    ///
    /// # Shapes
    /// - `embeddings`: `[B, d]` (any device; products run there)
    /// - `labels`: `[B]`, each `< C`
    ///
    /// # Errors
    /// [`LelpError::LabelOutOfRange`], [`LelpError::NonFinite`],
    /// [`LelpError::DimensionMismatch`] (label count, or `d` changing
    /// between batches). On error the accumulator is unchanged.
    pub fn update(&mut self, embeddings: Tensor<2>, labels: &[usize]) -> Result<()> {
        let [b, d] = embeddings.dims();
        if labels.len() != b {
            return Err(LelpError::DimensionMismatch {
                what: "labels vs embedding rows",
                expected: b,
                got: labels.len(),
            });
        }
        if let Some(prev) = self.dim
            && prev != d
        {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width between batches",
                expected: prev,
                got: d,
            });
        }
        if b == 0 {
            return Ok(());
        }
        if d == 0 {
            return Err(LelpError::EmptyData {
                what: "embeddings have zero columns",
            });
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l >= self.num_classes) {
            return Err(LelpError::LabelOutOfRange {
                label: l,
                row: self.rows + i,
                num_classes: self.num_classes,
            });
        }
        util::check_finite(&embeddings, "embeddings", self.rows)?;
        // per-class batch statistics on the device
        let device = embeddings.device();
        let mut batch_stats = Vec::new();
        for c in 0..self.num_classes {
            let idx: Vec<usize> = (0..b).filter(|&i| labels[i] == c).collect();
            if idx.is_empty() {
                continue;
            }
            let n = idx.len();
            let xc = if n == b {
                embeddings.clone()
            } else {
                embeddings.clone().select(0, util::indices(&idx, &device))
            };
            let mean = xc.clone().mean_dim(0); // [1, d]
            let z = xc - mean.clone();
            let s = z.clone().transpose().matmul(z); // [d, d]
            let mean_h = util::to_host_f32(mean)?;
            let s_h = util::to_host_f32(s)?;
            batch_stats.push((c, n, mean_h, s_h));
        }
        // merge on the host (f64)
        if self.dim.is_none() {
            self.dim = Some(d);
            self.means = vec![0.0; self.num_classes * d];
            self.m2 = vec![0.0; self.num_classes * d * d];
        }
        for (c, n, mean_b, s_b) in batch_stats {
            let na = self.counts[c] as f64;
            let nb = n as f64;
            let ntot = na + nb;
            let mean = &mut self.means[c * d..(c + 1) * d];
            let delta: Vec<f64> = (0..d).map(|j| mean_b[j] as f64 - mean[j]).collect();
            let m2 = &mut self.m2[c * d * d..(c + 1) * d * d];
            let w = na * nb / ntot;
            for i in 0..d {
                let row = &mut m2[i * d..(i + 1) * d];
                let di = delta[i] * w;
                let srow = &s_b[i * d..(i + 1) * d];
                for j in 0..d {
                    row[j] += srow[j] as f64 + di * delta[j];
                }
            }
            for j in 0..d {
                mean[j] += delta[j] * nb / ntot;
            }
            self.counts[c] += n as u64;
        }
        self.rows += b;
        Ok(())
    }

    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Embedding dimension `d` (None before the first non-empty batch).
    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// Examples seen per class.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Rows seen in all.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The mean of class `c` (`[d]`), if it has examples.
    pub fn mean(&self, c: usize) -> Option<&[f64]> {
        let d = self.dim?;
        (c < self.num_classes && self.counts[c] > 0).then(|| &self.means[c * d..(c + 1) * d])
    }

    /// The covariance of class `c` (`[d, d]` row-major, `n_c - 1`
    /// denominator), if it has at least 2 examples.
    pub fn covariance(&self, c: usize) -> Option<Vec<f64>> {
        let d = self.dim?;
        if c >= self.num_classes || self.counts[c] < 2 {
            return None;
        }
        let denom = (self.counts[c] - 1) as f64;
        Some(self.m2[c * d * d..(c + 1) * d * d].iter().map(|v| v / denom).collect())
    }
}

/// Finds per-class subspaces of teacher embeddings.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::{PcaFinder, SubspaceFinder};
/// let device = Device::default();
/// // two classes in 3-d, each spread along a different axis
/// let x = Tensor::<2>::from_floats(
///     [[1.0, 0.0, 0.1], [-1.0, 0.0, -0.1], [2.0, 0.1, 0.0], [-2.0, -0.1, 0.0],
///      [0.0, 5.0, 1.0], [0.1, -5.0, 1.1], [0.0, 3.0, 0.9], [-0.1, -3.0, 1.0]],
///     &device,
/// );
/// let labels = vec![0, 0, 0, 0, 1, 1, 1, 1];
/// let fit = PcaFinder::new(1).with_rotation(false).fit([(x, labels)], 2, None)?;
/// // class 0's main direction is the first axis, class 1's the second
/// assert!(fit.basis(0)[0].abs() > 0.99);
/// assert!(fit.basis(1)[1].abs() > 0.99);
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub trait SubspaceFinder {
    /// The fit's configuration.
    fn config(&self) -> SubspaceConfig;

    /// Fits from accumulated moments.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`], [`LelpError::ClassTooSmall`],
    /// [`LelpError::TooManyComponents`], [`LelpError::DimensionMismatch`]
    /// (head vs. embeddings), [`LelpError::InvalidParameter`].
    fn fit_moments(&self, moments: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces>;

    /// Fits from a stream of `(embeddings [B, d], labels [B])` batches.
    /// The batches' device runs the products.
    ///
    /// # Errors
    /// Those of [`ClassMoments::update`] and [`SubspaceFinder::fit_moments`];
    /// [`LelpError::TooManyComponents`] and head mismatches are reported at
    /// the first batch, before any work.
    fn fit<I>(&self, batches: I, num_classes: usize, head: Option<&LinearHead>) -> Result<Subspaces>
    where
        I: IntoIterator<Item = (Tensor<2>, Vec<usize>)>,
        Self: Sized,
    {
        let cfg = self.config();
        cfg.validate()?;
        if num_classes == 0 {
            return Err(LelpError::EmptyData { what: "zero classes" });
        }
        if let Some(h) = head
            && h.num_classes() != num_classes
        {
            return Err(LelpError::DimensionMismatch {
                what: "head classes vs number of classes",
                expected: num_classes,
                got: h.num_classes(),
            });
        }
        let mut moments = ClassMoments::new(num_classes);
        for (x, y) in batches {
            let [_, d] = x.dims();
            if moments.dim().is_none() {
                check_dims(&cfg, d, head)?;
            }
            moments.update(x, &y)?;
        }
        self.fit_moments(&moments, head)
    }

    /// Fits from one embedding matrix, streamed in chunks of `batch_size`
    /// rows.
    ///
    /// # Errors
    /// As [`SubspaceFinder::fit`].
    fn fit_tensor(
        &self,
        embeddings: Tensor<2>,
        labels: &[usize],
        num_classes: usize,
        head: Option<&LinearHead>,
        batch_size: usize,
    ) -> Result<Subspaces>
    where
        Self: Sized,
    {
        let [n, _] = embeddings.dims();
        if labels.len() != n {
            return Err(LelpError::DimensionMismatch {
                what: "labels vs embedding rows",
                expected: n,
                got: labels.len(),
            });
        }
        let bs = batch_size.max(1);
        let batches = (0..n).step_by(bs).map(|s| {
            let e = (s + bs).min(n);
            (embeddings.clone().narrow(0, s, e - s), labels[s..e].to_vec())
        });
        self.fit(batches, num_classes, head)
    }
}

fn check_dims(cfg: &SubspaceConfig, d: usize, head: Option<&LinearHead>) -> Result<()> {
    if cfg.components > d {
        return Err(LelpError::TooManyComponents {
            components: cfg.components,
            dim: d,
        });
    }
    if let Some(h) = head
        && h.dim() != d
    {
        return Err(LelpError::DimensionMismatch {
            what: "head input width vs embedding width",
            expected: h.dim(),
            got: d,
        });
    }
    Ok(())
}

/// Common preparation: checks, projector, projected means and covariances.
struct Prepared {
    c: usize,
    d: usize,
    projector: Option<Vec<f64>>,
    means: Vec<f64>,
    covs: Vec<Vec<f64>>,
}

fn prepare(cfg: &SubspaceConfig, m: &ClassMoments, head: Option<&LinearHead>) -> Result<Prepared> {
    cfg.validate()?;
    let c = m.num_classes();
    let d = m.dim().ok_or(LelpError::EmptyData {
        what: "no embeddings were seen",
    })?;
    if m.rows() == 0 {
        return Err(LelpError::EmptyData {
            what: "no embeddings were seen",
        });
    }
    check_dims(cfg, d, head)?;
    let s = cfg.components;
    for (class, &n) in m.counts().iter().enumerate() {
        if (n as usize) < s + 1 {
            return Err(LelpError::ClassTooSmall {
                class,
                count: n as usize,
                required: s + 1,
                components: s,
            });
        }
    }
    let projector = if cfg.null_space {
        let head = head.ok_or(LelpError::InvalidParameter {
            name: "null_space",
            value: "true".into(),
            reason: "null-space projection needs the teacher's linear head",
        })?;
        if head.num_classes() != c {
            return Err(LelpError::DimensionMismatch {
                what: "head classes vs number of classes",
                expected: c,
                got: head.num_classes(),
            });
        }
        let w: Vec<f64> = head.weight().iter().map(|&v| v as f64).collect();
        Some(linalg::null_space_projector(&w, c, d)?)
    } else {
        None
    };
    let mut means = vec![0.0; c * d];
    let mut covs = Vec::with_capacity(c);
    for class in 0..c {
        let mu = m.mean(class).expect("class has examples");
        let cov = m.covariance(class).expect("class has >= 2 examples");
        match &projector {
            Some(p) => {
                let pm = linalg::matmul(p, mu, d, d, 1);
                means[class * d..(class + 1) * d].copy_from_slice(&pm);
                let pc = linalg::matmul(p, &cov, d, d, d);
                covs.push(linalg::matmul(&pc, p, d, d, d));
            }
            None => {
                means[class * d..(class + 1) * d].copy_from_slice(mu);
                covs.push(cov);
            }
        }
    }
    Ok(Prepared {
        c,
        d,
        projector,
        means,
        covs,
    })
}

/// The builder options both finders share.
macro_rules! shared_options {
    ($finder:ident, $seed_doc:literal) => {
        impl $finder {
            /// Projects onto the null space of the head first.
            pub fn with_null_space(mut self, on: bool) -> Self {
                self.config.null_space = on;
                self
            }
            /// Subtracts class means before projecting.
            pub fn with_centre(mut self, on: bool) -> Self {
                self.config.centre = on;
                self
            }
            #[doc = $seed_doc]
            pub fn with_seed(mut self, seed: u64) -> Self {
                self.config.seed = seed;
                self
            }
        }
    };
}

/// LELP's subspace finder: per-class PCA (see the module docs for the
/// conventions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcaFinder {
    config: SubspaceConfig,
}

impl PcaFinder {
    /// `components` (`S`) per class; null-space projection off (it needs a
    /// head), centring and rotation on, seed 0.
    pub fn new(components: usize) -> Self {
        Self {
            config: SubspaceConfig {
                kind: SubspaceKind::Pca,
                components,
                null_space: false,
                centre: true,
                rotate: true,
                seed: 0,
            },
        }
    }
    /// Randomly rotates each class basis.
    pub fn with_rotation(mut self, on: bool) -> Self {
        self.config.rotate = on;
        self
    }
}

shared_options!(PcaFinder, "Seed of the rotations.");

impl SubspaceFinder for PcaFinder {
    fn config(&self) -> SubspaceConfig {
        self.config
    }

    fn fit_moments(&self, moments: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces> {
        let cfg = self.config;
        let p = prepare(&cfg, moments, head)?;
        let (c, d, s) = (p.c, p.d, cfg.components);
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut bases = vec![0.0; c * d * s];
        let mut eigenvalues = vec![0.0; c * s];
        let mut rotations = vec![0.0; c * s * s];
        let mut scales = vec![0.0; c];
        for class in 0..c {
            let (vals, vecs) = linalg::symmetric_eigen(&p.covs[class], d)?;
            // V: d x S (top S, descending, sign-fixed)
            let mut v = vec![0.0; d * s];
            for i in 0..d {
                v[i * s..(i + 1) * s].copy_from_slice(&vecs[i * d..i * d + s]);
            }
            let top: Vec<f64> = vals[..s].iter().map(|&x| x.max(0.0)).collect();
            eigenvalues[class * s..(class + 1) * s].copy_from_slice(&top);
            scales[class] = (top.iter().sum::<f64>() / s as f64).sqrt();
            let q = if cfg.rotate {
                linalg::random_orthogonal(s, &mut rng)
            } else {
                identity(s)
            };
            let u = linalg::matmul(&v, &q, d, s, s);
            bases[class * d * s..(class + 1) * d * s].copy_from_slice(&u);
            rotations[class * s * s..(class + 1) * s * s].copy_from_slice(&q);
        }
        Ok(Subspaces {
            config: cfg,
            num_classes: c,
            dim: d,
            counts: moments.counts().to_vec(),
            means: p.means,
            bases,
            eigenvalues,
            rotations,
            scales,
            projector: p.projector,
            head: head.cloned(),
        })
    }
}

/// The paper's ablation: `S` random orthonormal directions per class
/// (Gaussian, projected onto the head's null space when enabled, then
/// orthonormalised), scaled like PCA by the class variance along them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomProjectionFinder {
    config: SubspaceConfig,
}

impl RandomProjectionFinder {
    /// `components` random directions per class; null space off, centring
    /// on, seed 0.
    pub fn new(components: usize) -> Self {
        Self {
            config: SubspaceConfig {
                kind: SubspaceKind::RandomProjection,
                components,
                null_space: false,
                centre: true,
                rotate: false,
                seed: 0,
            },
        }
    }
}

shared_options!(RandomProjectionFinder, "Seed of the random directions.");

impl SubspaceFinder for RandomProjectionFinder {
    fn config(&self) -> SubspaceConfig {
        self.config
    }

    fn fit_moments(&self, moments: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces> {
        let cfg = self.config;
        let p = prepare(&cfg, moments, head)?;
        let (c, d, s) = (p.c, p.d, cfg.components);
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut bases = vec![0.0; c * d * s];
        let mut eigenvalues = vec![0.0; c * s];
        let mut scales = vec![0.0; c];
        for class in 0..c {
            let mut g: Vec<f64> = (0..d * s).map(|_| StandardNormal.sample(&mut rng)).collect();
            if let Some(pr) = &p.projector {
                g = linalg::matmul(pr, &g, d, d, s);
            }
            linalg::orthonormalize_columns(&mut g, d, s);
            let cu = linalg::matmul(&p.covs[class], &g, d, d, s);
            for k in 0..s {
                let var: f64 = (0..d).map(|i| g[i * s + k] * cu[i * s + k]).sum();
                eigenvalues[class * s + k] = var.max(0.0);
            }
            scales[class] = (eigenvalues[class * s..(class + 1) * s].iter().sum::<f64>() / s as f64).sqrt();
            bases[class * d * s..(class + 1) * d * s].copy_from_slice(&g);
        }
        let rotations = (0..c).flat_map(|_| identity(s)).collect();
        Ok(Subspaces {
            config: cfg,
            num_classes: c,
            dim: d,
            counts: moments.counts().to_vec(),
            means: p.means,
            bases,
            eigenvalues,
            rotations,
            scales,
            projector: p.projector,
            head: head.cloned(),
        })
    }
}

fn identity(s: usize) -> Vec<f64> {
    let mut q = vec![0.0; s * s];
    for i in 0..s {
        q[i * s + i] = 1.0;
    }
    q
}

/// A fitted set of per-class subspaces: the artefact of LELP's step 1.
///
/// Holds the config, per-class counts, (projected) means `mu_c`, rotated
/// bases `U_c`, eigenvalues, rotations `Q_c`, scales `sigma_c`, and the
/// null-space projector and head when used. Save it with
/// [`Subspaces::save`]; a loaded fit gives identical targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Subspaces {
    config: SubspaceConfig,
    num_classes: usize,
    dim: usize,
    counts: Vec<u64>,
    means: Vec<f64>,
    bases: Vec<f64>,
    eigenvalues: Vec<f64>,
    rotations: Vec<f64>,
    scales: Vec<f64>,
    projector: Option<Vec<f64>>,
    head: Option<LinearHead>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    config: SubspaceConfig,
    num_classes: usize,
    dim: usize,
    counts: Vec<u64>,
    has_projector: bool,
    has_head: bool,
}

const JSON_NAME: &str = "subspaces.json";
const TENSORS_NAME: &str = "subspaces.safetensors";

impl Subspaces {
    /// The configuration used for the fit.
    pub fn config(&self) -> &SubspaceConfig {
        &self.config
    }
    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
    /// Embedding dimension `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// Components per class `S`.
    pub fn components(&self) -> usize {
        self.config.components
    }
    /// Examples seen per class.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
    /// Mean of class `c` after the optional projection, `[d]`.
    pub fn mean(&self, c: usize) -> &[f64] {
        &self.means[c * self.dim..(c + 1) * self.dim]
    }
    /// The rotated basis `U_c = V_c Q_c` of class `c`, `[d, S]` row-major.
    pub fn basis(&self, c: usize) -> &[f64] {
        let n = self.dim * self.config.components;
        &self.bases[c * n..(c + 1) * n]
    }
    /// The unrotated basis `V_c = U_c Q_c^T` of class `c`, `[d, S]` row-major.
    pub fn unrotated_basis(&self, c: usize) -> Vec<f64> {
        let s = self.config.components;
        let q = self.rotation(c);
        let mut qt = vec![0.0; s * s];
        for i in 0..s {
            for j in 0..s {
                qt[j * s + i] = q[i * s + j];
            }
        }
        linalg::matmul(self.basis(c), &qt, self.dim, s, s)
    }
    /// The top-`S` eigenvalues of class `c`, descending (variances along
    /// the directions for random projections).
    pub fn eigenvalues(&self, c: usize) -> &[f64] {
        let s = self.config.components;
        &self.eigenvalues[c * s..(c + 1) * s]
    }
    /// The rotation `Q_c`, `[S, S]` row-major (identity when rotation is off).
    pub fn rotation(&self, c: usize) -> &[f64] {
        let s = self.config.components;
        &self.rotations[c * s * s..(c + 1) * s * s]
    }
    /// The scale `sigma_c` of class `c`.
    pub fn scale(&self, c: usize) -> f64 {
        self.scales[c]
    }
    /// The null-space projector `P`, `[d, d]` row-major, when used.
    pub fn projector(&self) -> Option<&[f64]> {
        self.projector.as_deref()
    }
    /// The teacher head the fit was given.
    pub fn head(&self) -> Option<&LinearHead> {
        self.head.as_ref()
    }

    /// Standardised projections `a[n, c*S + s] = <u_cs, P h_n - mu_c> /
    /// sigma_c` (without `- mu_c` when centring is off), on `h`'s device.
    ///
    /// # Shapes
    /// - `h`: `[N, d]` -> `[N, C*S]`
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `h` is not `[N, d]`.
    pub fn projections(&self, h: Tensor<2>) -> Result<Tensor<2>> {
        let [_, d] = h.dims();
        if d != self.dim {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width vs fitted dim",
                expected: self.dim,
                got: d,
            });
        }
        let (c, s) = (self.num_classes, self.config.components);
        let k = c * s;
        // G[:, c*S+s] = P u_cs / sigma_c ; offset = <u_cs, mu_c> / sigma_c
        let mut g = vec![0.0; d * k];
        let mut offset = vec![0.0; k];
        for class in 0..c {
            let inv = if self.scales[class] > 1e-30 {
                1.0 / self.scales[class]
            } else {
                1.0
            };
            let u = self.basis(class);
            let pu = match &self.projector {
                Some(p) => linalg::matmul(p, u, d, d, s),
                None => u.to_vec(),
            };
            let mu = self.mean(class);
            for j in 0..s {
                let col = class * s + j;
                for i in 0..d {
                    g[i * k + col] = pu[i * s + j] * inv;
                }
                if self.config.centre {
                    offset[col] = (0..d).map(|i| u[i * s + j] * mu[i]).sum::<f64>() * inv;
                }
            }
        }
        let device = h.device();
        let gt = util::matrix_f64(&g, d, k, &device);
        let off = util::matrix_f64(&offset, 1, k, &device);
        Ok(h.matmul(gt) - off)
    }

    /// Saves the fit into directory `dir` (created if needed):
    /// `subspaces.json` (format version, config, sizes, counts) and
    /// `subspaces.safetensors` (f64 tensors `means [C, d]`, `bases [C, d,
    /// S]`, `eigenvalues [C, S]`, `rotations [C, S, S]`, `scales [C]`, and
    /// `projector [d, d]`, `head_weight [C, d]`, `head_bias [C]` when
    /// present).
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| LelpError::io(dir, e))?;
        let (c, d, s) = (self.num_classes, self.dim, self.config.components);
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            config: self.config,
            num_classes: c,
            dim: d,
            counts: self.counts.clone(),
            has_projector: self.projector.is_some(),
            has_head: self.head.is_some(),
        };
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        let jp = dir.join(JSON_NAME);
        std::fs::write(&jp, json).map_err(|e| LelpError::io(&jp, e))?;
        let mut tensors = vec![
            ("means".to_string(), F64Tensor::new(vec![c, d], &self.means)),
            ("bases".to_string(), F64Tensor::new(vec![c, d, s], &self.bases)),
            ("eigenvalues".to_string(), F64Tensor::new(vec![c, s], &self.eigenvalues)),
            ("rotations".to_string(), F64Tensor::new(vec![c, s, s], &self.rotations)),
            ("scales".to_string(), F64Tensor::new(vec![c], &self.scales)),
        ];
        if let Some(p) = &self.projector {
            tensors.push(("projector".into(), F64Tensor::new(vec![d, d], p)));
        }
        if let Some(h) = &self.head {
            let w: Vec<f64> = h.weight().iter().map(|&v| v as f64).collect();
            let b: Vec<f64> = h.bias().iter().map(|&v| v as f64).collect();
            tensors.push(("head_weight".into(), F64Tensor::new(vec![c, d], &w)));
            tensors.push(("head_bias".into(), F64Tensor::new(vec![c], &b)));
        }
        let mut meta = HashMap::new();
        meta.insert("lelp_format_version".to_string(), FORMAT_VERSION.to_string());
        store::write_safetensors(&dir.join(TENSORS_NAME), &tensors, meta)
    }

    /// Loads a fit saved by [`Subspaces::save`].
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`], [`LelpError::Truncated`],
    /// [`LelpError::Corrupted`] (bad JSON, missing tensors, shapes that
    /// disagree with the manifest), [`LelpError::FormatVersion`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let jp = dir.join(JSON_NAME);
        let text = std::fs::read_to_string(&jp).map_err(|e| LelpError::io(&jp, e))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| LelpError::corrupted(&jp, e.to_string()))?;
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| LelpError::corrupted(&jp, "no format_version"))?;
        if version != FORMAT_VERSION as u64 {
            return Err(LelpError::FormatVersion {
                path: jp,
                found: version as u32,
                supported: FORMAT_VERSION,
            });
        }
        let m: Manifest = serde_json::from_value(value).map_err(|e| LelpError::corrupted(&jp, e.to_string()))?;
        let tp = dir.join(TENSORS_NAME);
        let bytes = std::fs::read(&tp).map_err(|e| LelpError::io(&tp, e))?;
        let st = store::read_safetensors(&bytes, &tp)?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| LelpError::corrupted(&tp, e.to_string()))?;
        let file_version = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("lelp_format_version"))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| LelpError::corrupted(&tp, "no lelp_format_version metadata"))?;
        if file_version != FORMAT_VERSION {
            return Err(LelpError::FormatVersion {
                path: tp,
                found: file_version,
                supported: FORMAT_VERSION,
            });
        }
        let (c, d, s) = (m.num_classes, m.dim, m.config.components);
        if c == 0 || d == 0 || s == 0 || m.counts.len() != c {
            return Err(LelpError::corrupted(&jp, "inconsistent sizes in manifest"));
        }
        let get = |name: &str, shape: Vec<usize>| -> Result<Vec<f64>> {
            let (sh, v) = store::tensor_f64(&st, name, &tp)?;
            if sh != shape {
                return Err(LelpError::corrupted(
                    &tp,
                    format!("tensor '{name}' has shape {sh:?}, manifest says {shape:?}"),
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(LelpError::corrupted(&tp, format!("tensor '{name}' holds NaN/inf")));
            }
            Ok(v)
        };
        let means = get("means", vec![c, d])?;
        let bases = get("bases", vec![c, d, s])?;
        let eigenvalues = get("eigenvalues", vec![c, s])?;
        let rotations = get("rotations", vec![c, s, s])?;
        let scales = get("scales", vec![c])?;
        let projector = if m.has_projector {
            Some(get("projector", vec![d, d])?)
        } else {
            None
        };
        let head = if m.has_head {
            let w = get("head_weight", vec![c, d])?;
            let b = get("head_bias", vec![c])?;
            Some(LinearHead::new(
                w.iter().map(|&v| v as f32).collect(),
                b.iter().map(|&v| v as f32).collect(),
                c,
            )?)
        } else {
            None
        };
        Ok(Subspaces {
            config: m.config,
            num_classes: c,
            dim: d,
            counts: m.counts,
            means,
            bases,
            eigenvalues,
            rotations,
            scales,
            projector,
            head,
        })
    }
}
