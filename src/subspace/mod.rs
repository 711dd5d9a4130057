//! Step 1 of LELP: per-class subspaces of the teacher's embedding space.
//!
//! A [`SubspaceFinder`] consumes a stream of `(embeddings [B, d], labels
//! [B])` batches and returns a fitted [`Subspaces`]: [`PcaFinder`] (LELP),
//! [`RandomProjectionFinder`] (the paper's ablation), or your own (build
//! the result with [`Subspaces::from_parts`]). The stream is reduced
//! by [`ClassMoments`] to per-class counts, means and centred second
//! moments, so memory is `O(C d^2)` whatever the number of rows; the
//! per-batch products `Z^T Z` run on the batches' device (on burn's Flex
//! CPU device, the host's own symmetric rank-k kernel), and the top-`S`
//! eigenpairs are found once per class on the host in f64 at the end
//! (block Krylov for `d >= 256`, checked by its residuals, else faer's
//! full decomposition).
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

mod finders;
pub(crate) mod linalg;
mod moments;
mod persist;
mod syrk;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use finders::{PcaFinder, RandomProjectionFinder};
pub use moments::ClassMoments;
pub use persist::FORMAT_VERSION;

use crate::error::{LelpError, Result};
use crate::teacher::{LinearHead, TeacherOutput};
use crate::util;

/// How the subspace of each class was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SubspaceKind {
    /// Top-`S` principal components of the class (LELP).
    Pca,
    /// `S` random orthonormal directions per class (the paper's ablation).
    RandomProjection,
    /// A user's own [`SubspaceFinder`].
    Custom,
}

/// The options of a subspace fit, stored with it.
///
/// Defaults (the same as [`LelpConfig`](crate::train::LelpConfig)'s):
/// null-space projection, centring and rotation on, seed 0, streamed in
/// batches of 4,096 rows. The null-space projection needs the teacher's
/// linear head; turn it off when there is none.
///
/// # Example
/// ```
/// use lelp::subspace::SubspaceConfig;
/// let cfg = SubspaceConfig::new(8).with_null_space(false).with_seed(3);
/// assert_eq!((cfg.subclasses, cfg.null_space, cfg.centre, cfg.rotate), (8, false, true, true));
/// assert!(SubspaceConfig::new(0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubspaceConfig {
    /// Subspace dimension `S` per class: the pseudo-subclasses per class.
    pub subclasses: usize,
    /// Project embeddings onto the null space of the teacher's head first.
    pub null_space: bool,
    /// Subtract the class mean before projecting (`a = <u, h' - mu_c>`).
    pub centre: bool,
    /// Apply a seeded random rotation `Q_c` to each class basis (PCA only).
    pub rotate: bool,
    /// Seed of the rotations / random projections.
    pub seed: u64,
    /// Rows per streamed batch in [`SubspaceFinder::fit_tensor`] (memory,
    /// not results, depends on it).
    pub batch_size: usize,
}

impl Default for SubspaceConfig {
    fn default() -> Self {
        Self::new(8)
    }
}

impl SubspaceConfig {
    /// `S = subclasses` per class, with the defaults above.
    pub fn new(subclasses: usize) -> Self {
        Self {
            subclasses,
            null_space: true,
            centre: true,
            rotate: true,
            seed: 0,
            batch_size: 4096,
        }
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for `S = 0` or a zero batch size.
    pub fn validate(&self) -> Result<()> {
        if self.subclasses == 0 {
            return Err(LelpError::InvalidParameter {
                name: "subclasses",
                value: "0".into(),
                reason: "at least one subclass per class is required",
            });
        }
        if self.batch_size == 0 {
            return Err(LelpError::InvalidParameter {
                name: "batch_size",
                value: "0".into(),
                reason: "must be > 0",
            });
        }
        Ok(())
    }
}

util::setters!(SubspaceConfig {
    "Projects onto the null space of the head first (needs the head)." with_null_space => null_space: bool,
    "Subtracts class means before projecting." with_centre => centre: bool,
    "Randomly rotates each class basis (PCA)." with_rotation => rotate: bool,
    "Seed of the rotations / random directions." with_seed => seed: u64,
    "Rows per streamed batch." with_batch_size => batch_size: usize,
});

/// Finds per-class subspaces of teacher embeddings.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder};
/// let device = Device::default();
/// // two classes in 3-d, each spread along a different axis
/// let x = Tensor::<2>::from_floats(
///     [[1.0, 0.0, 0.1], [-1.0, 0.0, -0.1], [2.0, 0.1, 0.0], [-2.0, -0.1, 0.0],
///      [0.0, 5.0, 1.0], [0.1, -5.0, 1.1], [0.0, 3.0, 0.9], [-0.1, -3.0, 1.0]],
///     &device,
/// );
/// let labels = vec![0, 0, 0, 0, 1, 1, 1, 1];
/// let cfg = SubspaceConfig::new(1).with_rotation(false).with_null_space(false);
/// let fit = PcaFinder::new(cfg).fit([(x, labels)], 2, None)?;
/// // class 0's main direction is the first axis, class 1's the second
/// assert!(fit.basis(0)[0].abs() > 0.99);
/// assert!(fit.basis(1)[1].abs() > 0.99);
/// # Ok::<(), lelp::LelpError>(())
/// ```
///
/// Implement [`SubspaceFinder::config`] and [`SubspaceFinder::fit_moments`]
/// for a finder of your own; the streaming methods come with the trait.
/// They read `subclasses`, `null_space` and `batch_size` from the config.
pub trait SubspaceFinder {
    /// The fit's configuration.
    fn config(&self) -> SubspaceConfig;

    /// Fits from accumulated moments ([`ClassMoments`] gives each class's
    /// count, mean and covariance).
    ///
    /// # Errors
    /// [`LelpError::EmptyData`], [`LelpError::ClassTooSmall`],
    /// [`LelpError::TooManySubclasses`], [`LelpError::RankDeficient`], [`LelpError::DimensionMismatch`]
    /// (head vs. embeddings), [`LelpError::InvalidParameter`].
    fn fit_moments(&self, moments: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces>;

    /// Fits from a stream of `(embeddings [B, d], labels [B])` batches.
    /// The batches' device runs the products.
    ///
    /// # Errors
    /// Those of [`ClassMoments::update`] and [`SubspaceFinder::fit_moments`];
    /// [`LelpError::TooManySubclasses`] and head mismatches are reported at
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
            if moments.embedding_dim().is_none() {
                check_dims(&cfg, d, head)?;
            }
            moments.update(x, &y)?;
        }
        self.fit_moments(&moments, head)
    }

    /// Fits from one embedding matrix, streamed in chunks of the config's
    /// `batch_size` rows.
    ///
    /// # Errors
    /// As [`SubspaceFinder::fit`].
    fn fit_tensor(
        &self,
        embeddings: Tensor<2>,
        labels: &[usize],
        num_classes: usize,
        head: Option<&LinearHead>,
    ) -> Result<Subspaces>
    where
        Self: Sized,
    {
        let batch_size = self.config().batch_size;
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

    /// Fits on a teacher's outputs, grouping rows by `labels` (the ground
    /// truth, or [`TeacherOutput::predictions`] for an unlabeled transfer
    /// set), with the output's head for the null-space projection.
    ///
    /// # Errors
    /// As [`SubspaceFinder::fit`].
    fn fit_teacher(&self, teacher: &TeacherOutput, labels: &[usize]) -> Result<Subspaces>
    where
        Self: Sized,
    {
        let head = if self.config().null_space { teacher.head() } else { None };
        self.fit_tensor(teacher.embeddings().clone(), labels, teacher.num_classes(), head)
    }
}

fn check_dims(cfg: &SubspaceConfig, d: usize, head: Option<&LinearHead>) -> Result<()> {
    if cfg.subclasses > d {
        return Err(LelpError::TooManySubclasses {
            subclasses: cfg.subclasses,
            embedding_dim: d,
        });
    }
    if let Some(h) = head
        && h.embedding_dim() != d
    {
        return Err(LelpError::DimensionMismatch {
            what: "head input width vs embedding width",
            expected: h.embedding_dim(),
            got: d,
        });
    }
    Ok(())
}

/// The raw pieces of a fit, for a [`SubspaceFinder`] of your own: build
/// a [`Subspaces`] with [`Subspaces::from_parts`], which checks them.
///
/// # Shapes
/// All matrices row-major `f64`; `C` classes, `d` embedding width, `S`
/// subclasses per class.
/// - `counts`: `[C]`; `means`: `[C, d]` (after the optional projection)
/// - `bases`: `[C, d, S]`, each class's columns orthonormal
/// - `eigenvalues`: `[C, S]` (variances along the directions)
/// - `rotations`: `[C, S, S]` (`None`: identity)
/// - `scales`: `[C]`, `sigma_c > 0`
/// - `projector`: `[d, d]` (`None`: no projection)
#[derive(Debug, Clone, PartialEq)]
pub struct SubspaceParts {
    /// How the directions were chosen.
    pub kind: SubspaceKind,
    /// The options (`subclasses` is `S`).
    pub config: SubspaceConfig,
    /// Classes `C`.
    pub num_classes: usize,
    /// Embedding width `d`.
    pub embedding_dim: usize,
    /// Rows seen per class.
    pub counts: Vec<u64>,
    /// Class means `mu_c`.
    pub means: Vec<f64>,
    /// Bases `U_c`.
    pub bases: Vec<f64>,
    /// Variances along each direction.
    pub eigenvalues: Vec<f64>,
    /// Rotations `Q_c`.
    pub rotations: Option<Vec<f64>>,
    /// Scales `sigma_c`.
    pub scales: Vec<f64>,
    /// Null-space projector `P`.
    pub projector: Option<Vec<f64>>,
    /// The teacher head the fit used.
    pub head: Option<LinearHead>,
}

/// A fitted set of per-class subspaces: the artefact of LELP's step 1.
///
/// Holds the config, per-class counts, (projected) means `mu_c`, rotated
/// bases `U_c`, eigenvalues, rotations `Q_c`, scales `sigma_c`, and the
/// null-space projector and head when used. Save it with
/// [`Subspaces::save`] (one file); a loaded fit gives identical targets,
/// so one fit serves any number of students.
///
/// # Example
/// ```
/// use lelp::subspace::{SubspaceConfig, SubspaceKind, SubspaceParts, Subspaces};
/// // one class in 2-d, one direction: the first axis
/// let parts = SubspaceParts {
///     kind: SubspaceKind::Custom,
///     config: SubspaceConfig::new(1).with_null_space(false),
///     num_classes: 1,
///     embedding_dim: 2,
///     counts: vec![10],
///     means: vec![0.0, 0.0],
///     bases: vec![1.0, 0.0],
///     eigenvalues: vec![4.0],
///     rotations: None,
///     scales: vec![2.0],
///     projector: None,
///     head: None,
/// };
/// let fit = Subspaces::from_parts(parts)?;
/// assert_eq!((fit.num_classes(), fit.subclasses(), fit.embedding_dim()), (1, 1, 2));
/// let path = std::env::temp_dir().join(format!("lelp-doc-{}.safetensors", std::process::id()));
/// fit.save(&path)?;
/// assert_eq!(Subspaces::load(&path)?, fit);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Subspaces {
    parts: SubspaceParts,
    /// `Q_c`, `[C, S, S]` (identity filled in when the parts had none).
    rotations: Vec<f64>,
}

impl Subspaces {
    /// A fit from its parts, checked.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for zero classes, width or subclasses;
    /// [`LelpError::DimensionMismatch`] for a part of the wrong length;
    /// [`LelpError::NonFinite`] for NaN/inf entries;
    /// [`LelpError::InvalidParameter`] for a scale that is not `> 0` or a
    /// basis whose columns are not orthonormal (within `1e-6`).
    pub fn from_parts(mut parts: SubspaceParts) -> Result<Self> {
        let (c, d, s) = (parts.num_classes, parts.embedding_dim, parts.config.subclasses);
        if c == 0 || d == 0 || s == 0 {
            return Err(LelpError::EmptyData {
                what: "subspaces with zero classes, width or subclasses",
            });
        }
        let rotations = parts
            .rotations
            .take()
            .unwrap_or_else(|| (0..c).flat_map(|_| linalg::identity(s)).collect());
        let mut sizes = vec![
            ("counts", parts.counts.len(), c),
            ("means", parts.means.len(), c * d),
            ("bases", parts.bases.len(), c * d * s),
            ("eigenvalues", parts.eigenvalues.len(), c * s),
            ("rotations", rotations.len(), c * s * s),
            ("scales", parts.scales.len(), c),
        ];
        if let Some(p) = &parts.projector {
            sizes.push(("projector", p.len(), d * d));
        }
        for (what, got, expected) in sizes {
            if got != expected {
                return Err(LelpError::DimensionMismatch { what, expected, got });
            }
        }
        if let Some(h) = &parts.head
            && (h.num_classes(), h.embedding_dim()) != (c, d)
        {
            return Err(LelpError::DimensionMismatch {
                what: "head [C, d] vs subspaces",
                expected: c * d,
                got: h.num_classes() * h.embedding_dim(),
            });
        }
        let mut all: Vec<(&'static str, &[f64], usize)> = vec![
            ("means", &parts.means, d),
            ("bases", &parts.bases, d * s),
            ("eigenvalues", &parts.eigenvalues, s),
            ("rotations", &rotations, s * s),
            ("scales", &parts.scales, 1),
        ];
        if let Some(p) = &parts.projector {
            all.push(("projector", p, d));
        }
        for (what, v, cols) in all {
            if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
                return Err(LelpError::NonFinite {
                    what,
                    row: pos / cols,
                    col: pos % cols,
                });
            }
        }
        if let Some(&bad) = parts.scales.iter().find(|&&v| v <= 0.0) {
            return Err(LelpError::InvalidParameter {
                name: "scales",
                value: bad.to_string(),
                reason: "every class scale sigma_c must be > 0",
            });
        }
        for class in 0..c {
            let u = &parts.bases[class * d * s..(class + 1) * d * s];
            if !linalg::has_orthonormal_columns(u, d, s, 1e-6) {
                return Err(LelpError::InvalidParameter {
                    name: "bases",
                    value: format!("class {class}"),
                    reason: "each class basis must have orthonormal columns",
                });
            }
        }
        Ok(Self { parts, rotations })
    }

    /// The parts of the fit (rotations filled in).
    pub fn into_parts(self) -> SubspaceParts {
        let mut p = self.parts;
        p.rotations = Some(self.rotations);
        p
    }

    /// How the directions were chosen.
    pub fn kind(&self) -> SubspaceKind {
        self.parts.kind
    }
    /// The configuration used for the fit.
    pub fn config(&self) -> &SubspaceConfig {
        &self.parts.config
    }
    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.parts.num_classes
    }
    /// Embedding dimension `d`.
    pub fn embedding_dim(&self) -> usize {
        self.parts.embedding_dim
    }
    /// Subclasses per class `S`.
    pub fn subclasses(&self) -> usize {
        self.parts.config.subclasses
    }
    /// Examples seen per class.
    pub fn counts(&self) -> &[u64] {
        &self.parts.counts
    }
    /// Mean of class `c` after the optional projection, `[d]`.
    ///
    /// # Panics
    /// When `c >= C` (a programming error, like slice indexing).
    pub fn mean(&self, c: usize) -> &[f64] {
        let d = self.embedding_dim();
        &self.parts.means[c * d..(c + 1) * d]
    }
    /// The rotated basis `U_c = V_c Q_c` of class `c`, `[d, S]` row-major.
    ///
    /// # Panics
    /// When `c >= C`.
    pub fn basis(&self, c: usize) -> &[f64] {
        let n = self.embedding_dim() * self.subclasses();
        &self.parts.bases[c * n..(c + 1) * n]
    }
    /// The unrotated basis `V_c = U_c Q_c^T` of class `c`, `[d, S]` row-major.
    ///
    /// # Panics
    /// When `c >= C`.
    pub fn unrotated_basis(&self, c: usize) -> Vec<f64> {
        let s = self.subclasses();
        let qt = linalg::transpose(self.rotation(c), s, s);
        linalg::matmul(self.basis(c), &qt, self.embedding_dim(), s, s)
    }
    /// The top-`S` eigenvalues of class `c`, descending (variances along
    /// the directions for random projections).
    ///
    /// # Panics
    /// When `c >= C`.
    pub fn eigenvalues(&self, c: usize) -> &[f64] {
        let s = self.subclasses();
        &self.parts.eigenvalues[c * s..(c + 1) * s]
    }
    /// The rotation `Q_c`, `[S, S]` row-major (identity when rotation is off).
    ///
    /// # Panics
    /// When `c >= C`.
    pub fn rotation(&self, c: usize) -> &[f64] {
        let s = self.subclasses();
        &self.rotations[c * s * s..(c + 1) * s * s]
    }
    /// The scale `sigma_c` of class `c`.
    ///
    /// # Panics
    /// When `c >= C`.
    pub fn scale(&self, c: usize) -> f64 {
        self.parts.scales[c]
    }
    /// The null-space projector `P`, `[d, d]` row-major, when used.
    pub fn projector(&self) -> Option<&[f64]> {
        self.parts.projector.as_deref()
    }
    /// The teacher head the fit was given.
    pub fn head(&self) -> Option<&LinearHead> {
        self.parts.head.as_ref()
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
        if d != self.embedding_dim() {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width vs fitted embedding dim",
                expected: self.embedding_dim(),
                got: d,
            });
        }
        let (c, s) = (self.num_classes(), self.subclasses());
        let k = c * s;
        // G[:, c*S+s] = P u_cs / sigma_c ; offset = <u_cs, mu_c> / sigma_c
        let mut g = vec![0.0; d * k];
        let mut offset = vec![0.0; k];
        for class in 0..c {
            let inv = 1.0 / self.scale(class); // > 0, checked by from_parts
            let u = self.basis(class);
            let pu = match self.projector() {
                Some(p) => linalg::matmul(p, u, d, d, s),
                None => u.to_vec(),
            };
            let mu = self.mean(class);
            for j in 0..s {
                let col = class * s + j;
                for i in 0..d {
                    g[i * k + col] = pu[i * s + j] * inv;
                }
                if self.config().centre {
                    offset[col] = (0..d).map(|i| u[i * s + j] * mu[i]).sum::<f64>() * inv;
                }
            }
        }
        let device = h.device();
        let gt = util::matrix_f64(&g, d, k, &device);
        let off = util::matrix_f64(&offset, 1, k, &device);
        Ok(h.matmul(gt) - off)
    }
}
