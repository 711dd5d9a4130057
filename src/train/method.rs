//! Distillation methods as data: which targets, which loss, with named,
//! validated options. A [`Method`] is a serde type, so an experiment's JSON
//! config names methods in the library's own schema.
//!
//! | method | targets | loss |
//! |---|---|---|
//! | [`Method::Plain`] | ground truth | CE |
//! | [`Method::VanillaKd`] | `softmax(z/tau)` (C) | `alpha CE + (1-alpha) tau^2 KL` |
//! | [`Method::FeatureKd`] | teacher embedding + `softmax(z/tau)` | `weight MSE(A e, h/s)` + as KD |
//! | [`Method::Lelp`] | Eq. 5 over `C*S` | as KD over `C*S` outputs |
//! | [`Method::RandomProjection`] | Eq. 5 with random directions | as LELP |
//! | [`Method::KMeans`] | per-class k-means clusters | as LELP |
//! | [`Method::Oracle`] | true fine label as subclass | as LELP |
//!
//! Any other [`PseudoLabeler`](crate::labeler::PseudoLabeler) trains
//! through [`TrainingTargets::from_labeler`].

use serde::{Deserialize, Serialize};

use super::targets::{TrainingTargets, check_teacher};
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::labeler::{KMeansConfig, KMeansLabeler, LelpLabeler, OracleLabeler, SoftmaxLabeler};
use crate::subspace::{PcaFinder, RandomProjectionFinder, SubspaceConfig, SubspaceFinder};
use crate::teacher::TeacherOutput;
use crate::util;

/// Options of vanilla KD (Hinton et al. 2015) and of the oracle.
///
/// # Example
/// ```
/// use lelp::train::KdConfig;
/// let kd = KdConfig::new().with_tau(4.0);
/// assert_eq!((kd.tau, kd.alpha), (4.0, 0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KdConfig {
    /// Teacher temperature `tau` (default 2).
    pub tau: f64,
    /// Weight `alpha` of the ground-truth cross-entropy (default 0).
    pub alpha: f64,
}

impl Default for KdConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl KdConfig {
    /// `tau = 2`, `alpha = 0`.
    pub fn new() -> Self {
        Self { tau: 2.0, alpha: 0.0 }
    }
    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for `tau` not `> 0` or `alpha`
    /// outside `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        util::check_positive("tau", self.tau)?;
        util::check_unit("alpha", self.alpha)
    }
}

util::setters!(KdConfig {
    "Teacher temperature." with_tau => tau: f64,
    "Weight of the ground-truth loss." with_alpha => alpha: f64,
});

/// Options of feature KD: `weight * MSE(A e_s, h_T / s)` with a learned
/// linear `A: e -> d` and `s` the RMS of the teacher embeddings, plus
/// vanilla KD's loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureKdConfig {
    /// Weight of the feature term (default 1).
    pub weight: f64,
    /// The KD part's options.
    #[serde(flatten)]
    pub kd: KdConfig,
}

impl Default for FeatureKdConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl FeatureKdConfig {
    /// Weight 1, `tau = 2`, `alpha = 0`.
    pub fn new() -> Self {
        Self {
            weight: 1.0,
            kd: KdConfig::new(),
        }
    }
    /// Checks the options.
    ///
    /// # Errors
    /// As [`KdConfig::validate`], and for a weight not finite and `>= 0`.
    pub fn validate(&self) -> Result<()> {
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(LelpError::InvalidParameter {
                name: "feature_weight",
                value: self.weight.to_string(),
                reason: "must be finite and >= 0",
            });
        }
        self.kd.validate()
    }
}

util::setters!(FeatureKdConfig {
    "Weight of the feature term." with_weight => weight: f64,
    "The KD part's options." with_kd => kd: KdConfig,
});

/// Options of LELP (and of its random-projection ablation): the subspace
/// fit, the subclass temperature and the loss.
///
/// Defaults: `S = 8`, `beta = 0.3`, `tau = 2`, `alpha = 0`, null space,
/// centring and rotation on, classes grouped by the ground truth.
///
/// # Example
/// ```
/// use lelp::train::LelpConfig;
/// let cfg = LelpConfig::new(5).with_beta(0.5).with_null_space(false);
/// assert_eq!((cfg.subspace.subclasses, cfg.beta, cfg.subspace.null_space), (5, 0.5, false));
/// assert!(LelpConfig::new(5).with_beta(0.0).validate().is_err());
/// // the JSON the experiment runner reads
/// let json = serde_json::to_string(&cfg).unwrap();
/// let back: LelpConfig = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, cfg);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LelpConfig {
    /// The subspace fit (`S`, null space, centring, rotation, seed).
    #[serde(flatten)]
    pub subspace: SubspaceConfig,
    /// Subclass temperature `beta`.
    pub beta: f64,
    /// Teacher temperature `tau`.
    pub tau: f64,
    /// Weight `alpha` of the ground-truth cross-entropy.
    pub alpha: f64,
    /// Group rows by the teacher's argmax instead of the labels (an
    /// unlabeled transfer set).
    pub teacher_labels: bool,
}

impl Default for LelpConfig {
    fn default() -> Self {
        Self::new(8)
    }
}

impl LelpConfig {
    /// `S` subclasses per class, the other options at their defaults.
    pub fn new(subclasses: usize) -> Self {
        Self {
            subspace: SubspaceConfig::new(subclasses),
            beta: 0.3,
            tau: 2.0,
            alpha: 0.0,
            teacher_labels: false,
        }
    }
    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a bad `S`, temperature or
    /// `alpha`.
    pub fn validate(&self) -> Result<()> {
        self.subspace.validate()?;
        util::check_positive("beta", self.beta)?;
        util::check_positive("tau", self.tau)?;
        util::check_unit("alpha", self.alpha)
    }
    /// Sets the null-space projection.
    #[must_use]
    pub fn with_null_space(mut self, on: bool) -> Self {
        self.subspace.null_space = on;
        self
    }
    /// Sets centring.
    #[must_use]
    pub fn with_centre(mut self, on: bool) -> Self {
        self.subspace.centre = on;
        self
    }
    /// Sets the random rotation.
    #[must_use]
    pub fn with_rotation(mut self, on: bool) -> Self {
        self.subspace.rotate = on;
        self
    }
    /// Sets the seed of the rotations / random directions.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.subspace.seed = seed;
        self
    }
}

util::setters!(LelpConfig {
    "Subclass temperature." with_beta => beta: f64,
    "Teacher temperature." with_tau => tau: f64,
    "Weight of the ground-truth loss." with_alpha => alpha: f64,
    "Groups rows by the teacher's argmax." with_teacher_labels => teacher_labels: bool,
});

/// A distillation method. Build its targets once per transfer set with
/// [`Method::prepare`].
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Dataset;
/// use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder};
/// use lelp::train::{LelpConfig, Method};
///
/// let device = Device::default();
/// let data = Dataset::uci_digits().parity()?.sample(300, 0)?;
/// // a stand-in teacher: a fixed linear head over the raw pixels
/// let w: Vec<f32> = (0..128).map(|i| ((i * 37 % 23) as f32 - 11.0) / 11.0).collect();
/// let teacher = PrecomputedTeacher::new(LinearHead::new(w, vec![0.0, 0.0], [2, 64])?);
/// let out = teacher.encode(&data, 256, &device)?;
/// let method = Method::Lelp(LelpConfig::new(4));
/// let targets = method.prepare(&data, Some(&out))?;
/// assert_eq!((targets.num_classes(), targets.subclasses()), (2, 4));
/// // methods are serde types: the experiment runner's JSON schema
/// let json = serde_json::to_string(&method).unwrap();
/// assert!(json.starts_with(r#"{"kind":"lelp""#));
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Method {
    /// No teacher: cross-entropy on the labels.
    Plain,
    /// Vanilla KD (Hinton et al. 2015).
    VanillaKd(KdConfig),
    /// Feature KD (FitNet-style embedding distillation) plus vanilla KD.
    FeatureKd(FeatureKdConfig),
    /// LELP with PCA subspaces.
    Lelp(LelpConfig),
    /// LELP's ablation with random projections instead of PCA.
    RandomProjection(LelpConfig),
    /// The clustering baseline: per-class k-means of the teacher embeddings.
    #[serde(rename = "kmeans")]
    KMeans(KMeansConfig),
    /// The oracle upper bound: the data set's true fine labels as subclasses.
    Oracle(KdConfig),
}

impl Method {
    /// The method's name, for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Plain => "plain",
            Method::VanillaKd(_) => "vanilla KD",
            Method::FeatureKd(_) => "feature KD",
            Method::Lelp(_) => "LELP",
            Method::RandomProjection(_) => "random proj.",
            Method::KMeans(_) => "k-means",
            Method::Oracle(_) => "oracle",
        }
    }

    /// Whether the method needs a teacher.
    pub fn needs_teacher(&self) -> bool {
        !matches!(self, Method::Plain)
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] naming the bad option.
    pub fn validate(&self) -> Result<()> {
        match self {
            Method::Plain => Ok(()),
            Method::VanillaKd(k) | Method::Oracle(k) => k.validate(),
            Method::FeatureKd(f) => f.validate(),
            Method::Lelp(l) | Method::RandomProjection(l) => l.validate(),
            Method::KMeans(k) => k.validate(),
        }
    }

    /// Subclasses per class `S` the method asks of the student (for the
    /// oracle, read off `data`'s fine labels).
    ///
    /// # Errors
    /// Those of [`OracleLabeler::from_dataset`] for the oracle.
    pub fn subclasses(&self, data: &Dataset) -> Result<usize> {
        Ok(match self {
            Method::Plain | Method::VanillaKd(_) | Method::FeatureKd(_) => 1,
            Method::Lelp(l) | Method::RandomProjection(l) => l.subspace.subclasses,
            Method::KMeans(k) => k.subclasses,
            Method::Oracle(k) => {
                use crate::labeler::PseudoLabeler;
                OracleLabeler::from_dataset(data, k.tau)?.subclasses()
            }
        })
    }

    /// Computes the method's training targets once for a transfer set.
    ///
    /// `teacher` holds the frozen teacher's outputs on `data`'s rows, with
    /// its head attached when the null-space projection is on (it may be
    /// `None` for [`Method::Plain`]).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for bad options, or when a teacher
    /// (or its head) is needed and missing; [`LelpError::DimensionMismatch`]
    /// when teacher and data disagree; the errors of the subspace fit and
    /// the labelers.
    pub fn prepare(&self, data: &Dataset, teacher: Option<&TeacherOutput>) -> Result<TrainingTargets> {
        self.validate()?;
        let Some(t) = teacher.filter(|_| self.needs_teacher()) else {
            if self.needs_teacher() {
                return Err(LelpError::InvalidParameter {
                    name: "teacher",
                    value: "None".into(),
                    reason: "this method needs the teacher's outputs",
                });
            }
            return TrainingTargets::hard(data.num_classes(), data.len());
        };
        check_teacher(t, data)?;
        let c = data.num_classes();
        match self {
            Method::Plain => TrainingTargets::hard(c, data.len()),
            Method::VanillaKd(k) => TrainingTargets::from_labeler(&SoftmaxLabeler::new(c, k.tau)?, t, data, k.alpha),
            Method::FeatureKd(f) => {
                TrainingTargets::from_labeler(&SoftmaxLabeler::new(c, f.kd.tau)?, t, data, f.kd.alpha)?
                    .with_features(t, f.weight)
            }
            Method::Lelp(l) | Method::RandomProjection(l) => {
                let labels = grouping(t, data, l.teacher_labels)?;
                let fit = if matches!(self, Method::Lelp(_)) {
                    PcaFinder::new(l.subspace).fit_teacher(t, &labels)?
                } else {
                    RandomProjectionFinder::new(l.subspace).fit_teacher(t, &labels)?
                };
                let labeler = LelpLabeler::builder(fit.clone()).beta(l.beta).tau(l.tau).build()?;
                Ok(TrainingTargets::from_labeler(&labeler, t, data, l.alpha)?.with_subspaces(fit))
            }
            Method::KMeans(k) => {
                let labels = grouping(t, data, k.teacher_labels)?;
                let km = KMeansLabeler::fit(t.embeddings().clone(), &labels, c, k)?;
                TrainingTargets::from_labeler(&km, t, data, k.alpha)
            }
            Method::Oracle(k) => {
                TrainingTargets::from_labeler(&OracleLabeler::from_dataset(data, k.tau)?, t, data, k.alpha)
            }
        }
    }
}

/// The labels rows are grouped by: the ground truth, or the teacher's
/// argmax for an unlabeled transfer set.
fn grouping(teacher: &TeacherOutput, data: &Dataset, teacher_labels: bool) -> Result<Vec<usize>> {
    if teacher_labels {
        teacher.predictions()
    } else {
        Ok(data.labels().to_vec())
    }
}
