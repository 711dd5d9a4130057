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
//! | [`Method::Dkd`] | `softmax(z/tau)` (C) | `ce CE + tau^2 (tckd TCKD + nckd NCKD)` |
//! | [`Method::Rkd`] | teacher embedding + `softmax(z/tau)` | `distance L_D + angle L_A` + as KD |
//! | [`Method::SubclassDistillation`] | a subclass teacher's `softmax(z/tau)` (C*S) | as LELP |
//!
//! Any other [`PseudoLabeler`](crate::labeler::PseudoLabeler) trains
//! through [`TrainingTargets::from_labeler`].

use serde::{Deserialize, Serialize};

use super::loss::DkdWeights;
use super::targets::{TrainingTargets, check_teacher};
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::labeler::{KMeansConfig, KMeansLabeler, LelpLabeler, OracleLabeler, PseudoTargets, SoftmaxLabeler};
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

/// Options of decoupled KD (Zhao et al. 2022): the KL split into a
/// target-class term (TCKD) and a non-target-class term (NCKD), weighted
/// apart, plus cross-entropy on the labels.
///
/// Defaults are the paper's CIFAR-100 setting: `tau = 4`, `ce = 1`,
/// `tckd = 1` (its `alpha`), `nckd = 8` (its `beta`); the paper's linear
/// warm-up of the KD terms over the first epochs is not applied. With two
/// classes NCKD is 0 and DKD is `ce` CE plus `tckd` times vanilla KD.
///
/// # Example
/// ```
/// use lelp::train::DkdConfig;
/// let dkd = DkdConfig::new().with_nckd(2.0);
/// assert_eq!((dkd.tau, dkd.tckd, dkd.nckd), (4.0, 1.0, 2.0));
/// assert!(DkdConfig::new().with_tau(0.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DkdConfig {
    /// Temperature (default 4).
    pub tau: f64,
    /// Weight of the cross-entropy on the labels (default 1).
    pub ce: f64,
    /// Weight of the target-class term (default 1).
    pub tckd: f64,
    /// Weight of the non-target-class term (default 8).
    pub nckd: f64,
}

impl Default for DkdConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DkdConfig {
    /// `tau = 4`, `ce = 1`, `tckd = 1`, `nckd = 8`.
    pub fn new() -> Self {
        Self {
            tau: 4.0,
            ce: 1.0,
            tckd: 1.0,
            nckd: 8.0,
        }
    }
    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for `tau` not `> 0` or a weight not
    /// finite and `>= 0`.
    pub fn validate(&self) -> Result<()> {
        util::check_positive("tau", self.tau)?;
        self.weights().validate()
    }

    /// The loss's weights.
    pub(crate) fn weights(&self) -> DkdWeights {
        DkdWeights {
            ce: self.ce,
            tckd: self.tckd,
            nckd: self.nckd,
        }
    }
}

util::setters!(DkdConfig {
    "Temperature." with_tau => tau: f64,
    "Weight of the cross-entropy." with_ce => ce: f64,
    "Weight of the target-class term." with_tckd => tckd: f64,
    "Weight of the non-target-class term." with_nckd => nckd: f64,
});

/// Options of relational KD (Park et al. 2019): the student's embeddings
/// keep the teacher's pairwise distances and triplet angles (each up to
/// scale), plus vanilla KD's loss.
///
/// Defaults: `distance = 25`, `angle = 50` (the paper's weights for
/// classification), KD at `tau = 2`, `alpha = 0`. Relations are compared,
/// not coordinates, so student and teacher widths may differ without a
/// projection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RkdConfig {
    /// Weight of the distance term (default 25).
    pub distance: f64,
    /// Weight of the angle term (default 50).
    pub angle: f64,
    /// The KD part's options.
    #[serde(flatten)]
    pub kd: KdConfig,
}

impl Default for RkdConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl RkdConfig {
    /// `distance = 25`, `angle = 50`, KD's defaults.
    pub fn new() -> Self {
        Self {
            distance: 25.0,
            angle: 50.0,
            kd: KdConfig::new(),
        }
    }
    /// Checks the options.
    ///
    /// # Errors
    /// As [`KdConfig::validate`], and for a weight not finite and `>= 0`.
    pub fn validate(&self) -> Result<()> {
        util::check_weight("rkd_distance", self.distance)?;
        util::check_weight("rkd_angle", self.angle)?;
        self.kd.validate()
    }
}

util::setters!(RkdConfig {
    "Weight of the distance term." with_distance => distance: f64,
    "Weight of the angle term." with_angle => angle: f64,
    "The KD part's options." with_kd => kd: KdConfig,
});

/// Options of Subclass Distillation (Mueller, Kornblith, Hinton 2020):
/// the teacher is trained with `C * S` outputs (class logits by logsumexp)
/// and an auxiliary loss that spreads examples over the subclasses
/// ([`SubclassDistillationConfig::teacher_targets`]); the student is then
/// distilled on the teacher's `softmax(z / tau)` over the `C * S`
/// subclasses, as LELP's student is.
///
/// Defaults: `S = 4`, auxiliary weight 1 and temperature 1 (the values of
/// the authors' reference notebook, whose docstring adds that the
/// temperature is usually below 1), `tau = 2`, `alpha = 0`.
///
/// # Example
/// ```
/// use lelp::train::SubclassDistillationConfig;
/// let sd = SubclassDistillationConfig::new(5).with_aux_temperature(0.5);
/// assert_eq!((sd.subclasses, sd.aux_weight, sd.aux_temperature), (5, 1.0, 0.5));
/// let t = sd.teacher_targets(2, 100)?;
/// assert_eq!(t.outputs(), 10); // the teacher has C * S outputs
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubclassDistillationConfig {
    /// Subclasses per class `S` (default 4).
    pub subclasses: usize,
    /// Weight of the teacher's auxiliary loss (default 1).
    pub aux_weight: f64,
    /// Temperature of the auxiliary loss (default 1).
    pub aux_temperature: f64,
    /// Distillation temperature `tau` (default 2).
    pub tau: f64,
    /// Weight `alpha` of the ground-truth cross-entropy (default 0).
    pub alpha: f64,
}

impl Default for SubclassDistillationConfig {
    fn default() -> Self {
        Self::new(4)
    }
}

impl SubclassDistillationConfig {
    /// `S` subclasses per class, the other options at their defaults.
    pub fn new(subclasses: usize) -> Self {
        Self {
            subclasses,
            aux_weight: 1.0,
            aux_temperature: 1.0,
            tau: 2.0,
            alpha: 0.0,
        }
    }
    /// Checks the options.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for zero subclasses, a temperature
    /// not `> 0`, a weight not finite and `>= 0` or `alpha` outside
    /// `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        util::check_subclasses(self.subclasses)?;
        util::check_weight("aux_weight", self.aux_weight)?;
        util::check_positive("aux_temperature", self.aux_temperature)?;
        util::check_positive("tau", self.tau)?;
        util::check_unit("alpha", self.alpha)
    }
    /// The targets that train the teacher: labels through `C * S` outputs
    /// plus the auxiliary loss (train a student of `C * S` outputs on them
    /// with [`Distiller`](crate::train::Distiller), then use it as the
    /// teacher).
    ///
    /// # Errors
    /// As [`SubclassDistillationConfig::validate`];
    /// [`LelpError::EmptyData`] for zero classes or rows.
    pub fn teacher_targets(&self, num_classes: usize, rows: usize) -> Result<TrainingTargets> {
        self.validate()?;
        TrainingTargets::subclass_teacher(
            num_classes,
            rows,
            self.subclasses,
            self.aux_weight,
            self.aux_temperature,
        )
    }
}

util::setters!(SubclassDistillationConfig {
    "Weight of the auxiliary loss." with_aux_weight => aux_weight: f64,
    "Temperature of the auxiliary loss." with_aux_temperature => aux_temperature: f64,
    "Distillation temperature." with_tau => tau: f64,
    "Weight of the ground-truth loss." with_alpha => alpha: f64,
});

/// The command-line names of the methods ([`Method::from_name`],
/// [`Method::cli_name`]): `--method auto`'s candidates first, in its order,
/// then the random-projection ablation and the oracle.
pub const METHOD_NAMES: [&str; 11] = [
    "plain",
    "kd",
    "fkd",
    "dkd",
    "rkd",
    "kmeans",
    "sd",
    "lelp",
    "lelp-no-null",
    "random-proj",
    "oracle",
];

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
    /// Decoupled KD (Zhao et al. 2022).
    Dkd(DkdConfig),
    /// Relational KD (Park et al. 2019) plus vanilla KD.
    Rkd(RkdConfig),
    /// Subclass Distillation (Mueller et al. 2020): needs a teacher trained
    /// on [`SubclassDistillationConfig::teacher_targets`], whose `C * S`
    /// logits [`Method::prepare`] reads.
    SubclassDistillation(SubclassDistillationConfig),
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
            Method::Dkd(_) => "DKD",
            Method::Rkd(_) => "RKD",
            Method::SubclassDistillation(_) => "subclass distillation",
        }
    }

    /// A method by its command-line name (one of [`METHOD_NAMES`]: the
    /// `lelp` tool's `--method` and the model file's tables read them),
    /// with its default settings, the subclass methods with `subclasses`
    /// subclasses and `seed`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for another name, listing the names.
    ///
    /// # Example
    /// ```
    /// use lelp::train::{METHOD_NAMES, Method};
    /// let m = Method::from_name("lelp-no-null", 4, 0)?;
    /// assert_eq!(m.label(), "LELP, no null space (S = 4)");
    /// for name in METHOD_NAMES {
    ///     assert_eq!(Method::from_name(name, 4, 0)?.cli_name(), name);
    /// }
    /// assert!(Method::from_name("KD", 4, 0).is_err());
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn from_name(name: &str, subclasses: usize, seed: u64) -> Result<Self> {
        let lelp = LelpConfig::new(subclasses).with_seed(seed);
        Ok(match name {
            "plain" => Method::Plain,
            "kd" => Method::VanillaKd(KdConfig::new()),
            "fkd" => Method::FeatureKd(FeatureKdConfig::new()),
            "dkd" => Method::Dkd(DkdConfig::new()),
            "rkd" => Method::Rkd(RkdConfig::new()),
            "kmeans" => Method::KMeans(KMeansConfig::new(subclasses).with_seed(seed)),
            "sd" => Method::SubclassDistillation(SubclassDistillationConfig::new(subclasses)),
            "lelp" => Method::Lelp(lelp),
            "lelp-no-null" => Method::Lelp(lelp.with_null_space(false)),
            "random-proj" => Method::RandomProjection(lelp),
            "oracle" => Method::Oracle(KdConfig::new()),
            other => {
                return Err(LelpError::InvalidParameter {
                    name: "method",
                    value: other.into(),
                    reason: "unknown (plain, kd, fkd, dkd, rkd, kmeans, sd, lelp, lelp-no-null, random-proj, oracle)",
                });
            }
        })
    }

    /// The method's command-line name ([`Method::from_name`] reads it
    /// back, settings aside).
    pub fn cli_name(&self) -> &'static str {
        match self {
            Method::Plain => "plain",
            Method::VanillaKd(_) => "kd",
            Method::FeatureKd(_) => "fkd",
            Method::Dkd(_) => "dkd",
            Method::Rkd(_) => "rkd",
            Method::KMeans(_) => "kmeans",
            Method::SubclassDistillation(_) => "sd",
            Method::Lelp(l) if !l.subspace.null_space => "lelp-no-null",
            Method::Lelp(_) => "lelp",
            Method::RandomProjection(_) => "random-proj",
            Method::Oracle(_) => "oracle",
        }
    }

    /// The method's name for tables with the settings that tell its
    /// variants apart: `LELP (S = 4)`, `LELP, no null space (S = 4)`,
    /// `k-means (S = 4)`, `vanilla KD`.
    pub fn label(&self) -> String {
        match self {
            Method::Lelp(l) if !l.subspace.null_space => {
                format!("LELP, no null space (S = {})", l.subspace.subclasses)
            }
            Method::Lelp(l) | Method::RandomProjection(l) => format!("{} (S = {})", self.name(), l.subspace.subclasses),
            Method::KMeans(k) => format!("{} (S = {})", self.name(), k.subclasses),
            Method::SubclassDistillation(s) => format!("{} (S = {})", self.name(), s.subclasses),
            _ => self.name().to_string(),
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
            Method::Dkd(d) => d.validate(),
            Method::Rkd(r) => r.validate(),
            Method::SubclassDistillation(sd) => sd.validate(),
        }
    }

    /// Subclasses per class `S` the method asks of the student (for the
    /// oracle, read off `data`'s fine labels).
    ///
    /// # Errors
    /// Those of [`OracleLabeler::from_dataset`] for the oracle.
    pub fn subclasses(&self, data: &Dataset) -> Result<usize> {
        Ok(match self {
            Method::Plain | Method::VanillaKd(_) | Method::FeatureKd(_) | Method::Dkd(_) | Method::Rkd(_) => 1,
            Method::SubclassDistillation(sd) => sd.subclasses,
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
            return match data.is_multi_label() {
                true => TrainingTargets::multi_label(data.num_classes(), data.len()),
                false => TrainingTargets::hard(data.num_classes(), data.len()),
            };
        };
        if data.is_multi_label() {
            return self.prepare_multi_label(data, t);
        }
        let c = data.num_classes();
        // a Subclass Distillation teacher has C * S outputs
        let teacher_subclasses = match self {
            Method::SubclassDistillation(sd) => sd.subclasses,
            _ => 1,
        };
        check_teacher(t, data, teacher_subclasses)?;
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
            Method::Dkd(d) => {
                TrainingTargets::from_labeler(&SoftmaxLabeler::new(c, d.tau)?, t, data, 0.0)?.with_dkd(d.weights())
            }
            Method::Rkd(r) => TrainingTargets::from_labeler(&SoftmaxLabeler::new(c, r.kd.tau)?, t, data, r.kd.alpha)?
                .with_relational(t, r.distance, r.angle),
            Method::SubclassDistillation(sd) => subclass_targets(sd, t, data),
        }
    }
}

impl Method {
    /// Whether the method has a multi-label form: plain training, vanilla
    /// KD (each label a Bernoulli variable), feature KD and RKD (their
    /// terms read embeddings, not classes). The subclass methods (LELP,
    /// random projections, k-means, the oracle, Subclass Distillation)
    /// split each class's rows into subclasses, which needs one class a
    /// row; DKD splits one target class from the rest.
    pub fn supports_multi_label(&self) -> bool {
        matches!(
            self,
            Method::Plain | Method::VanillaKd(_) | Method::FeatureKd(_) | Method::Rkd(_)
        )
    }

    /// [`Method::prepare`] on multi-label data.
    fn prepare_multi_label(&self, data: &Dataset, t: &TeacherOutput) -> Result<TrainingTargets> {
        check_teacher(t, data, 1)?;
        match self {
            Method::Plain => TrainingTargets::multi_label(data.num_classes(), data.len()),
            Method::VanillaKd(k) => TrainingTargets::bernoulli(t, k.tau, k.alpha),
            Method::FeatureKd(f) => TrainingTargets::bernoulli(t, f.kd.tau, f.kd.alpha)?.with_features(t, f.weight),
            Method::Rkd(r) => {
                TrainingTargets::bernoulli(t, r.kd.tau, r.kd.alpha)?.with_relational(t, r.distance, r.angle)
            }
            _ => Err(LelpError::InvalidParameter {
                name: "method",
                value: self.name().into(),
                reason: "multi-label data: this method needs one class a row (the subclass methods split each \
                         class's rows, DKD one target class from the rest); use plain, kd, fkd or rkd",
            }),
        }
    }
}

/// Subclass Distillation's student targets: the teacher's `C * S` logits
/// (checked by [`Method::prepare`]) softened at `tau`.
fn subclass_targets(sd: &SubclassDistillationConfig, t: &TeacherOutput, data: &Dataset) -> Result<TrainingTargets> {
    let (c, s) = (data.num_classes(), sd.subclasses);
    let log_q = burn::tensor::activation::log_softmax(t.logits().clone().div_scalar(sd.tau), 1).detach();
    TrainingTargets::soft(PseudoTargets::new(log_q, c, s, sd.tau)?, sd.alpha)
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
