//! Step 2: pseudo-subclass targets.
//!
//! A [`PseudoLabeler`] turns the teacher's embeddings and logits into soft
//! targets over `C * S` outputs (index `c * S + s`), returned in log space
//! ([`PseudoTargets`]) so the loss never takes the log of a softmax.
//!
//! - [`LelpLabeler`] (Eq. 5): `q_cs = p_c * softmax_s(a_cs / beta)` with
//!   `p = softmax(z / tau)` and `a` the standardised projections of a
//!   fitted [`Subspaces`].
//! - [`SoftmaxLabeler`] (vanilla KD): `q_c = softmax(z / tau)_c`, `S = 1`.
//! - [`OracleLabeler`]: the true fine label as the subclass (upper bound).
//!
//! For every labeler, `sum_s q_cs = p_c`: the class-level information of
//! plain KD is kept exactly.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::subspace::Subspaces;
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
    /// Adds fine labels (for [`OracleLabeler`]).
    pub fn with_fine_labels(mut self, fine: &'a [usize]) -> Self {
        self.fine_labels = Some(fine);
        self
    }
}

/// Soft targets over `C * S` pseudo-subclasses, in log space.
///
/// # Shapes
/// - `log_probs`: `[N, C*S]`, index `c * S + s`; entries may be `-inf`
///   (zero probability, e.g. the oracle).
#[derive(Debug, Clone)]
pub struct PseudoTargets {
    /// `log q`, `[N, C*S]`.
    pub log_probs: Tensor<2>,
    /// Classes `C`.
    pub num_classes: usize,
    /// Subclasses per class `S`.
    pub subclasses: usize,
}

impl PseudoTargets {
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
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::{LabelerInput, PseudoLabeler, SoftmaxLabeler};
/// let device = Device::default();
/// let z = Tensor::<2>::from_floats([[2.0, 0.0]], &device);
/// let h = Tensor::<2>::zeros([1, 4], &device);
/// let t = SoftmaxLabeler::new(2, 1.0).targets(LabelerInput::new(h, z))?;
/// let q: Vec<f32> = t.probs().into_data().try_into_vec_as().unwrap();
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

fn check_temperature(name: &'static str, t: f64) -> Result<()> {
    if !(t.is_finite() && t > 0.0) {
        return Err(LelpError::InvalidParameter {
            name,
            value: t.to_string(),
            reason: "must be finite and > 0",
        });
    }
    Ok(())
}

/// Vanilla KD's targets: `softmax(z / tau)` over `C` classes (`S = 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxLabeler {
    num_classes: usize,
    tau: f64,
}

impl SoftmaxLabeler {
    /// `num_classes` classes at temperature `tau`.
    pub fn new(num_classes: usize, tau: f64) -> Self {
        Self { num_classes, tau }
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
        check_temperature("tau", self.tau)?;
        let [n, _] = input.embeddings.dims();
        check_logits(&input.logits, self.num_classes, n)?;
        Ok(PseudoTargets {
            log_probs: log_softmax(input.logits.div_scalar(self.tau), 1),
            num_classes: self.num_classes,
            subclasses: 1,
        })
    }
}

/// LELP's targets (Eq. 5): `q_cs = softmax(z/tau)_c * softmax_s(a_cs / beta)`.
#[derive(Debug, Clone)]
pub struct LelpLabeler {
    subspaces: Subspaces,
    beta: f64,
    tau: f64,
}

impl LelpLabeler {
    /// Targets from a fitted subspace, subclass temperature `beta`, teacher
    /// temperature `tau`.
    pub fn new(subspaces: Subspaces, beta: f64, tau: f64) -> Self {
        Self { subspaces, beta, tau }
    }
    /// The fitted subspaces.
    pub fn subspaces(&self) -> &Subspaces {
        &self.subspaces
    }
}

impl PseudoLabeler for LelpLabeler {
    fn num_classes(&self) -> usize {
        self.subspaces.num_classes()
    }
    fn subclasses(&self) -> usize {
        self.subspaces.components()
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        check_temperature("tau", self.tau)?;
        check_temperature("beta", self.beta)?;
        let (c, s) = (self.num_classes(), self.subclasses());
        let [n, _] = input.embeddings.dims();
        check_logits(&input.logits, c, n)?;
        util::check_finite(&input.embeddings, "embeddings", 0)?;
        let a = self.subspaces.projections(input.embeddings)?; // [N, C*S]
        let log_sub = log_softmax(a.div_scalar(self.beta).reshape([n, c, s]), 2);
        let log_p = log_softmax(input.logits.div_scalar(self.tau), 1).reshape([n, c, 1]);
        Ok(PseudoTargets {
            log_probs: (log_sub + log_p).reshape([n, c * s]),
            num_classes: c,
            subclasses: s,
        })
    }
}

/// The oracle (upper bound): the true fine label picks the subclass.
///
/// `subclass_of[f] = (c, s)` maps fine label `f` to class `c` and slot `s`.
/// The row's mass `p_c` for the fine label's class goes to slot `s`; the
/// other classes spread their `p_c'` uniformly over their `S` slots.
#[derive(Debug, Clone)]
pub struct OracleLabeler {
    num_classes: usize,
    subclasses: usize,
    subclass_of: Vec<(usize, usize)>,
    tau: f64,
}

impl OracleLabeler {
    /// An oracle with the given fine-label table.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when a table entry is out of range.
    pub fn new(num_classes: usize, subclasses: usize, subclass_of: Vec<(usize, usize)>, tau: f64) -> Result<Self> {
        if subclass_of.iter().any(|&(c, s)| c >= num_classes || s >= subclasses) {
            return Err(LelpError::InvalidParameter {
                name: "subclass_of",
                value: format!("{subclass_of:?}"),
                reason: "entries must be (class < C, slot < S)",
            });
        }
        Ok(Self {
            num_classes,
            subclasses,
            subclass_of,
            tau,
        })
    }

    /// The table read off a data set's labels and fine labels: class `c`'s
    /// fine labels take slots `0, 1, ...` in increasing order, and `S` is
    /// the largest number of fine labels in one class.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when the data set has no fine labels
    /// or a fine label occurs under two classes.
    ///
    /// # Example
    /// ```
    /// use lelp::{Dataset, OracleLabeler, PseudoLabeler};
    /// let digits = Dataset::uci_digits().parity()?;
    /// let oracle = OracleLabeler::from_dataset(&digits, 2.0)?;
    /// assert_eq!((oracle.num_classes(), oracle.subclasses()), (2, 5));
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn from_dataset(data: &Dataset, tau: f64) -> Result<Self> {
        let fine = data.fine_labels().ok_or(LelpError::InvalidParameter {
            name: "fine_labels",
            value: "None".into(),
            reason: "the oracle labeler needs a data set with fine labels",
        })?;
        let nf = fine.iter().max().map_or(0, |m| m + 1);
        let mut class_of: Vec<Option<usize>> = vec![None; nf];
        for (&f, &c) in fine.iter().zip(data.labels()) {
            match class_of[f] {
                Some(prev) if prev != c => {
                    return Err(LelpError::InvalidParameter {
                        name: "fine_labels",
                        value: f.to_string(),
                        reason: "a fine label occurs under two classes",
                    });
                }
                _ => class_of[f] = Some(c),
            }
        }
        let mut next = vec![0usize; data.num_classes()];
        let mut table = Vec::with_capacity(nf);
        for c in class_of {
            // a fine label absent from the data gets a slot of class 0; it is never looked up
            let c = c.unwrap_or(0);
            table.push((c, next[c]));
            next[c] += 1;
        }
        let subclasses = next.iter().copied().max().unwrap_or(1).max(1);
        Self::new(data.num_classes(), subclasses, table, tau)
    }

    /// The teacher temperature.
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// The table for parity-binarised digits: digit `f` is class `f % 2`,
    /// slot `f / 2` (`C = 2`, `S = 5`).
    pub fn digit_parity(tau: f64) -> Self {
        Self {
            num_classes: 2,
            subclasses: 5,
            subclass_of: (0..10).map(|f| (f % 2, f / 2)).collect(),
            tau,
        }
    }
}

impl PseudoLabeler for OracleLabeler {
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn subclasses(&self) -> usize {
        self.subclasses
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        check_temperature("tau", self.tau)?;
        let (c, s) = (self.num_classes, self.subclasses);
        let [n, _] = input.embeddings.dims();
        check_logits(&input.logits, c, n)?;
        let fine = input.fine_labels.ok_or(LelpError::InvalidParameter {
            name: "fine_labels",
            value: "None".into(),
            reason: "the oracle labeler needs the true fine labels",
        })?;
        if fine.len() != n {
            return Err(LelpError::DimensionMismatch {
                what: "fine labels vs rows",
                expected: n,
                got: fine.len(),
            });
        }
        // log of the within-class distribution: one-hot for the fine label's
        // class, uniform for the others
        let mut sub = vec![-(s as f32).ln(); n * c * s];
        for (row, &f) in fine.iter().enumerate() {
            let (fc, fs) = *self.subclass_of.get(f).ok_or(LelpError::LabelOutOfRange {
                label: f,
                row,
                num_classes: self.subclass_of.len(),
            })?;
            for j in 0..s {
                sub[row * c * s + fc * s + j] = if j == fs { 0.0 } else { f32::NEG_INFINITY };
            }
        }
        let device = input.logits.device();
        let log_sub = util::matrix(sub, n, c * s, &device).reshape([n, c, s]);
        let log_p = log_softmax(input.logits.div_scalar(self.tau), 1).reshape([n, c, 1]);
        Ok(PseudoTargets {
            log_probs: (log_sub + log_p).reshape([n, c * s]),
            num_classes: c,
            subclasses: s,
        })
    }
}
