//! Step 2: pseudo-subclass targets.
//!
//! A [`PseudoLabeler`] turns the teacher's embeddings and logits into soft
//! targets over `C * S` outputs (index `c * S + s`), returned in log space
//! ([`PseudoTargets`]) so the loss never takes the log of a softmax. The
//! targets carry the teacher temperature `tau` they were made at; the loss
//! uses the same one, so the two cannot disagree.
//!
//! - [`LelpLabeler`] (Eq. 5): `q_cs = p_c * softmax_s(a_cs / beta)` with
//!   `p = softmax(z / tau)` and `a` the standardised projections of a
//!   fitted [`Subspaces`](crate::subspace::Subspaces).
//! - [`SoftmaxLabeler`] (vanilla KD): `q_c = softmax(z / tau)_c`, `S = 1`.
//! - [`KMeansLabeler`]: soft assignment to per-class k-means centroids.
//! - [`OracleLabeler`]: the true fine label as the subclass (upper bound).
//!
//! For every labeler, `sum_s q_cs = p_c`: the class-level information of
//! plain KD is kept exactly ([`compose`] is the one place that builds
//! `log q` from the two factors).

mod kmeans;
mod lelp;
mod oracle;

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

pub use kmeans::{KMeansConfig, KMeansLabeler};
pub use lelp::{LelpLabeler, LelpLabelerBuilder};
pub use oracle::OracleLabeler;

use crate::error::{LelpError, Result};
use crate::util;

/// What a labeler may look at for one batch.
///
/// # Shapes
/// - `embeddings`: `[N, d]`
/// - `logits`: `[N, C]`
/// - `fine_labels`: `[N]` (only the oracle needs them)
#[derive(Debug, Clone)]
pub struct LabelerInput<'a> {
    /// Teacher embeddings `h`.
    pub embeddings: Tensor<2>,
    /// Teacher logits `z`.
    pub logits: Tensor<2>,
    /// True fine labels, when the data set has them.
    pub fine_labels: Option<&'a [usize]>,
}

impl<'a> LabelerInput<'a> {
    /// Input from embeddings and logits.
    pub fn new(embeddings: Tensor<2>, logits: Tensor<2>) -> Self {
        Self {
            embeddings,
            logits,
            fine_labels: None,
        }
    }
    /// Input from a teacher's outputs.
    pub fn from_teacher(teacher: &crate::teacher::TeacherOutput) -> Self {
        Self::new(teacher.embeddings().clone(), teacher.logits().clone())
    }
    /// Adds fine labels (for [`OracleLabeler`]).
    pub fn with_fine_labels(mut self, fine: &'a [usize]) -> Self {
        self.fine_labels = Some(fine);
        self
    }
    /// Rows `N`.
    pub fn rows(&self) -> usize {
        self.embeddings.dims()[0]
    }
}

/// Soft targets over `C * S` pseudo-subclasses, in log space, with the
/// teacher temperature they were made at.
///
/// # Shapes
/// - `log_probs`: `[N, C*S]`, index `c * S + s`; entries may be `-inf`
///   (zero probability, e.g. the oracle).
#[derive(Debug, Clone)]
pub struct PseudoTargets {
    log_probs: Tensor<2>,
    num_classes: usize,
    subclasses: usize,
    tau: f64,
}

impl PseudoTargets {
    /// Targets from `log q` (`[N, C*S]`), checked: the width is `C * S`,
    /// `tau` is finite and positive, no entry is NaN or `+inf`, and every
    /// row is a distribution (`sum exp(log q) = 1` within `1e-3`).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`], [`LelpError::InvalidParameter`],
    /// [`LelpError::InvalidTargets`] naming the first bad row.
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use lelp::labeler::PseudoTargets;
    /// let device = Device::default();
    /// let q = Tensor::<2>::from_floats([[0.5f32.ln(), 0.25f32.ln(), 0.25f32.ln(), f32::NEG_INFINITY]], &device);
    /// let t = PseudoTargets::new(q, 2, 2, 1.0)?;
    /// let p: Vec<f32> = t.class_probs().into_data().try_to_vec().unwrap();
    /// assert!((p[0] - 0.75).abs() < 1e-6 && (p[1] - 0.25).abs() < 1e-6);
    /// // rows that do not sum to one are refused
    /// let bad = Tensor::<2>::from_floats([[0.0, 0.0, 0.0, 0.0]], &device);
    /// assert!(PseudoTargets::new(bad, 2, 2, 1.0).is_err());
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn new(log_probs: Tensor<2>, num_classes: usize, subclasses: usize, tau: f64) -> Result<Self> {
        util::check_positive("tau", tau)?;
        let [_, k] = log_probs.dims();
        if num_classes == 0 || subclasses == 0 || k != num_classes * subclasses {
            return Err(LelpError::DimensionMismatch {
                what: "target width vs classes x subclasses",
                expected: num_classes * subclasses,
                got: k,
            });
        }
        let host = util::to_host_f32(log_probs.clone())?;
        for (row, r) in host.chunks(k).enumerate() {
            if r.iter().any(|v| v.is_nan() || *v == f32::INFINITY) {
                return Err(LelpError::InvalidTargets {
                    row,
                    reason: "NaN or +inf in log q".into(),
                });
            }
            let total: f64 = r.iter().map(|&v| (v as f64).exp()).sum();
            if (total - 1.0).abs() > 1e-3 {
                return Err(LelpError::InvalidTargets {
                    row,
                    reason: format!("probabilities sum to {total}, not 1"),
                });
            }
        }
        Ok(Self::trusted(log_probs, num_classes, subclasses, tau))
    }

    /// Targets this crate built itself (normalised by construction).
    pub(crate) fn trusted(log_probs: Tensor<2>, num_classes: usize, subclasses: usize, tau: f64) -> Self {
        Self {
            log_probs,
            num_classes,
            subclasses,
            tau,
        }
    }

    /// `log q`, `[N, C*S]`.
    pub fn log_probs(&self) -> &Tensor<2> {
        &self.log_probs
    }
    /// `q = exp(log q)`, `[N, C*S]`: non-negative, rows sum to 1.
    pub fn probs(&self) -> Tensor<2> {
        self.log_probs.clone().exp()
    }
    /// Class-level probabilities `sum_s q_cs`, `[N, C]`.
    pub fn class_probs(&self) -> Tensor<2> {
        let [n, _] = self.log_probs.dims();
        self.probs()
            .reshape([n, self.num_classes, self.subclasses])
            .sum_dim(2)
            .reshape([n, self.num_classes])
    }
    /// Classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
    /// Subclasses per class `S`.
    pub fn subclasses(&self) -> usize {
        self.subclasses
    }
    /// The teacher temperature `tau` the targets were made at (the loss
    /// uses it on the student side).
    pub fn tau(&self) -> f64 {
        self.tau
    }
    /// Rows `N`.
    pub fn len(&self) -> usize {
        self.log_probs.dims()[0]
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Turns teacher outputs into soft pseudo-subclass targets.
///
/// Implement it for a labeler of your own and hand the result to
/// [`TrainingTargets::from_labeler`](crate::train::TrainingTargets::from_labeler);
/// build the result with [`PseudoTargets::new`] (checked) or [`compose`].
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::labeler::{LabelerInput, PseudoLabeler, SoftmaxLabeler};
/// let device = Device::default();
/// let z = Tensor::<2>::from_floats([[2.0, 0.0]], &device);
/// let h = Tensor::<2>::zeros([1, 4], &device);
/// let t = SoftmaxLabeler::new(2, 1.0)?.targets(LabelerInput::new(h, z))?;
/// let q: Vec<f32> = t.probs().into_data().try_to_vec().unwrap();
/// assert!((q[0] - 0.880797).abs() < 1e-5);
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub trait PseudoLabeler {
    /// Classes `C`.
    fn num_classes(&self) -> usize;
    /// Subclasses per class `S` (1 for vanilla KD).
    fn subclasses(&self) -> usize;
    /// Targets for a batch.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] for inputs of the wrong shape,
    /// [`LelpError::NonFinite`] for NaN/inf inputs, and labeler-specific
    /// errors (the oracle without fine labels).
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets>;
}

/// Eq. 5 in log space: `log q_cs = log softmax(z / tau)_c + log w_cs`, from
/// teacher logits `z` (`[N, C]`) and a within-class log distribution
/// `log w` (`[N, C, S]`, each `[n, c, :]` summing to 1 in probability).
/// Every labeler of this crate builds its targets here, so `sum_s q_cs =
/// softmax(z / tau)_c` holds for all of them.
///
/// # Errors
/// [`LelpError::DimensionMismatch`] when the shapes disagree,
/// [`LelpError::InvalidParameter`] for a bad `tau`.
pub fn compose(logits: Tensor<2>, log_within: Tensor<3>, tau: f64) -> Result<PseudoTargets> {
    util::check_positive("tau", tau)?;
    let [n, c] = logits.dims();
    let [wn, wc, s] = log_within.dims();
    if (wn, wc) != (n, c) {
        return Err(LelpError::DimensionMismatch {
            what: "within-class distribution [N, C, S] vs logits [N, C]",
            expected: n * c,
            got: wn * wc,
        });
    }
    let log_p = log_softmax(logits.div_scalar(tau), 1).reshape([n, c, 1]);
    Ok(PseudoTargets::trusted(
        (log_within + log_p).reshape([n, c * s]),
        c,
        s,
        tau,
    ))
}

/// Checks teacher logits against the labeler's class count and the rows.
fn check_logits(logits: &Tensor<2>, c: usize, rows: usize) -> Result<()> {
    let [n, lc] = logits.dims();
    if lc != c {
        return Err(LelpError::DimensionMismatch {
            what: "teacher logit width vs classes",
            expected: c,
            got: lc,
        });
    }
    if n != rows {
        return Err(LelpError::DimensionMismatch {
            what: "logit rows vs embedding rows",
            expected: rows,
            got: n,
        });
    }
    util::check_finite(logits, "teacher logits", 0)
}

/// Vanilla KD's targets: `softmax(z / tau)` over `C` classes (`S = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxLabeler {
    num_classes: usize,
    tau: f64,
}

impl SoftmaxLabeler {
    /// `num_classes` classes at temperature `tau`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for `tau` not finite and `> 0`, or
    /// zero classes.
    pub fn new(num_classes: usize, tau: f64) -> Result<Self> {
        util::check_positive("tau", tau)?;
        if num_classes == 0 {
            return Err(LelpError::EmptyData { what: "zero classes" });
        }
        Ok(Self { num_classes, tau })
    }
}

impl PseudoLabeler for SoftmaxLabeler {
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn subclasses(&self) -> usize {
        1
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        let n = input.rows();
        check_logits(&input.logits, self.num_classes, n)?;
        let device = input.logits.device();
        // one subclass: the within-class distribution is a point mass
        compose(input.logits, Tensor::zeros([n, self.num_classes, 1], &device), self.tau)
    }
}
