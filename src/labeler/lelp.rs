//! LELP's targets (Eq. 5) from a fitted subspace.

use burn::tensor::activation::log_softmax;

use super::{LabelerInput, PseudoLabeler, PseudoTargets, check_logits, compose};
use crate::error::Result;
use crate::subspace::Subspaces;
use crate::util;

/// LELP's targets (Eq. 5): `q_cs = softmax(z/tau)_c * softmax_s(a_cs / beta)`,
/// with `a` the standardised projections of a fitted [`Subspaces`].
///
/// Build it with [`LelpLabeler::builder`]; the defaults (`tau = 2`, `beta =
/// 0.3`) are those of [`LelpConfig`](crate::train::LelpConfig). A saved
/// fit, loaded with [`Subspaces::load`], makes the same targets.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Dataset;
/// use lelp::labeler::{LabelerInput, LelpLabeler, PseudoLabeler};
/// use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder};
///
/// let device = Device::default();
/// // the embedded UCI digits, binarised by parity, stand in for embeddings
/// let data = Dataset::uci_digits().parity()?;
/// let h = data.features_tensor(&device)?;
/// let cfg = SubspaceConfig::new(4).with_null_space(false).with_seed(7);
/// let fit = PcaFinder::new(cfg).fit_tensor(h.clone(), data.labels(), 2, None)?;
/// // pretend logits: the labels, softened
/// let z: Vec<f32> = data.labels().iter().flat_map(|&l| if l == 0 { [2.0, 0.0] } else { [0.0, 2.0] }).collect();
/// let z = Tensor::<2>::from_data(TensorData::new(z, [data.len(), 2]), &device);
/// let labeler = LelpLabeler::builder(fit).beta(0.3).tau(2.0).build()?;
/// let targets = labeler.targets(LabelerInput::new(h, z))?;
/// assert_eq!(targets.log_probs().dims(), [1797, 8]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LelpLabeler {
    subspaces: Subspaces,
    beta: f64,
    tau: f64,
}

/// Builder of a [`LelpLabeler`]; [`LelpLabelerBuilder::build`] validates.
#[derive(Debug, Clone)]
#[must_use]
pub struct LelpLabelerBuilder {
    subspaces: Subspaces,
    beta: f64,
    tau: f64,
}

impl LelpLabelerBuilder {
    /// Subclass temperature `beta` (default 0.3).
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }
    /// Teacher temperature `tau` (default 2).
    pub fn tau(mut self, tau: f64) -> Self {
        self.tau = tau;
        self
    }
    /// The labeler.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`](crate::LelpError::InvalidParameter)
    /// unless `beta` and `tau` are finite and `> 0`.
    pub fn build(self) -> Result<LelpLabeler> {
        util::check_positive("beta", self.beta)?;
        util::check_positive("tau", self.tau)?;
        Ok(LelpLabeler {
            subspaces: self.subspaces,
            beta: self.beta,
            tau: self.tau,
        })
    }
}

impl LelpLabeler {
    /// A builder over a fitted subspace.
    pub fn builder(subspaces: Subspaces) -> LelpLabelerBuilder {
        LelpLabelerBuilder {
            subspaces,
            beta: 0.3,
            tau: 2.0,
        }
    }
    /// The fitted subspaces.
    pub fn subspaces(&self) -> &Subspaces {
        &self.subspaces
    }
    /// The subclass temperature `beta`.
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// The teacher temperature `tau`.
    pub fn tau(&self) -> f64 {
        self.tau
    }
}

impl PseudoLabeler for LelpLabeler {
    fn num_classes(&self) -> usize {
        self.subspaces.num_classes()
    }
    fn subclasses(&self) -> usize {
        self.subspaces.subclasses()
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        let (c, s) = (self.num_classes(), self.subclasses());
        let n = input.rows();
        check_logits(&input.logits, c, n)?;
        util::check_finite(&input.embeddings, "embeddings", 0)?;
        let a = self.subspaces.projections(input.embeddings)?; // [N, C*S]
        let log_within = log_softmax(a.div_scalar(self.beta).reshape([n, c, s]), 2);
        compose(input.logits, log_within, self.tau)
    }
}
