//! Distillation methods: a pseudo-labeler + a loss + what it needs from
//! the teacher, behind one type so one pipeline compares them.
//!
//! | method | targets | loss |
//! |---|---|---|
//! | [`Method::plain`] | ground truth | CE |
//! | [`Method::vanilla_kd`] | `softmax(z/tau)` (C) | `alpha CE + (1-alpha) tau^2 KL` |
//! | [`Method::feature_kd`] | teacher embedding (+ `softmax(z/tau)`) | `lambda MSE(A e, h/s) + alpha CE + (1-alpha) tau^2 KL` |
//! | [`Method::lelp`] | Eq. 5 over `C*S` | as vanilla KD over `C*S` outputs |
//! | [`Method::random_projection`] | Eq. 5 with random directions | as LELP |
//! | [`Method::kmeans`] | per-class k-means clusters | as LELP |
//! | [`Method::oracle`] | true fine label as subclass | as LELP |
//! | [`Method::custom`] | any [`PseudoLabeler`] | as LELP |

use std::sync::Arc;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::kmeans::KMeansLabeler;
use crate::labeler::{LabelerInput, LelpLabeler, OracleLabeler, PseudoLabeler, SoftmaxLabeler};
use crate::subspace::{PcaFinder, RandomProjectionFinder, SubspaceFinder, Subspaces};
use crate::teacher::{LinearHead, TeacherOutput};
use crate::util;

/// Options of LELP's subspace step, as used by [`Method::lelp`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LelpOptions {
    /// Subclasses per class `S`.
    pub subclasses: usize,
    /// Subclass temperature `beta`.
    pub beta: f64,
    /// Null-space projection (needs the teacher's head).
    pub null_space: bool,
    /// Centre projections on the class mean.
    pub centre: bool,
    /// Random rotation of each class basis.
    pub rotate: bool,
    /// Group rows by the teacher's argmax instead of the labels (an
    /// unlabeled transfer set).
    pub teacher_labels: bool,
    /// Seed of the rotations / random directions.
    pub seed: u64,
}

impl LelpOptions {
    /// `S` subclasses, `beta = 0.3`, null space, centring and rotation on.
    pub fn new(subclasses: usize) -> Self {
        Self {
            subclasses,
            beta: 0.3,
            null_space: true,
            centre: true,
            rotate: true,
            teacher_labels: false,
            seed: 0,
        }
    }
}

#[derive(Clone)]
enum Targets {
    None,
    Softmax,
    Lelp(LelpOptions),
    Random(LelpOptions),
    Oracle(OracleLabeler),
    KMeans(LelpOptions),
    Custom(Arc<dyn PseudoLabeler + Send + Sync>),
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Targets::None => write!(f, "None"),
            Targets::Softmax => write!(f, "Softmax"),
            Targets::Lelp(o) => write!(f, "Lelp({o:?})"),
            Targets::Random(o) => write!(f, "Random({o:?})"),
            Targets::Oracle(o) => write!(f, "Oracle({o:?})"),
            Targets::KMeans(o) => write!(f, "KMeans({o:?})"),
            Targets::Custom(_) => write!(f, "Custom"),
        }
    }
}

/// A distillation method. Build one with the constructors, then
/// [`Method::prepare`] its targets once for a transfer set.
#[derive(Debug, Clone)]
pub struct Method {
    name: String,
    targets: Targets,
    alpha: f64,
    tau: f64,
    feature_weight: f64,
}

impl Method {
    /// No teacher: cross-entropy on the labels.
    pub fn plain() -> Self {
        Self {
            name: "plain".into(),
            targets: Targets::None,
            alpha: 1.0,
            tau: 1.0,
            feature_weight: 0.0,
        }
    }

    /// Vanilla KD (Hinton et al. 2015).
    pub fn vanilla_kd(tau: f64, alpha: f64) -> Self {
        Self {
            name: "vanilla KD".into(),
            targets: Targets::Softmax,
            alpha,
            tau,
            feature_weight: 0.0,
        }
    }

    /// Feature KD (FitNet-style embedding distillation): `feature_weight *
    /// MSE(A e_s, h_T / s)` with a learned linear `A: e -> d` and `s` the
    /// RMS of the teacher embeddings, plus vanilla KD's `alpha CE + (1 -
    /// alpha) tau^2 KL`.
    pub fn feature_kd(feature_weight: f64, tau: f64, alpha: f64) -> Self {
        Self {
            name: "feature KD".into(),
            targets: Targets::Softmax,
            alpha,
            tau,
            feature_weight,
        }
    }

    /// LELP with PCA subspaces.
    pub fn lelp(options: LelpOptions, tau: f64, alpha: f64) -> Self {
        Self {
            name: "LELP".into(),
            targets: Targets::Lelp(options),
            alpha,
            tau,
            feature_weight: 0.0,
        }
    }

    /// LELP's ablation with random projections instead of PCA.
    pub fn random_projection(options: LelpOptions, tau: f64, alpha: f64) -> Self {
        Self {
            name: "random proj.".into(),
            targets: Targets::Random(options),
            alpha,
            tau,
            feature_weight: 0.0,
        }
    }

    /// The clustering baseline: per-class k-means of the teacher
    /// embeddings (`options.subclasses` clusters, soft assignment at
    /// temperature `options.beta`, seeded by `options.seed`; the null-space,
    /// centring and rotation options do not apply).
    pub fn kmeans(options: LelpOptions, tau: f64, alpha: f64) -> Self {
        Self {
            name: "k-means".into(),
            targets: Targets::KMeans(options),
            alpha,
            tau,
            feature_weight: 0.0,
        }
    }

    /// The oracle upper bound: true fine labels as subclasses.
    pub fn oracle(labeler: OracleLabeler, alpha: f64) -> Self {
        let tau = labeler.tau();
        Self {
            name: "oracle".into(),
            targets: Targets::Oracle(labeler),
            alpha,
            tau,
            feature_weight: 0.0,
        }
    }

    /// Any pseudo-labeler with the soft-target loss.
    pub fn custom(
        name: impl Into<String>,
        labeler: Arc<dyn PseudoLabeler + Send + Sync>,
        tau: f64,
        alpha: f64,
    ) -> Self {
        Self {
            name: name.into(),
            targets: Targets::Custom(labeler),
            alpha,
            tau,
            feature_weight: 0.0,
        }
    }

    /// Renames the method (for tables).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The method's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the method needs a teacher.
    pub fn needs_teacher(&self) -> bool {
        !matches!(self.targets, Targets::None)
    }

    /// Student output width for `num_classes` classes.
    pub fn student_outputs(&self, num_classes: usize) -> usize {
        num_classes * self.subclasses()
    }

    /// Subclasses per class `S` of the targets (1 for plain/KD).
    pub fn subclasses(&self) -> usize {
        match &self.targets {
            Targets::None | Targets::Softmax => 1,
            Targets::Lelp(o) | Targets::Random(o) | Targets::KMeans(o) => o.subclasses,
            Targets::Oracle(o) => o.subclasses(),
            Targets::Custom(l) => l.subclasses(),
        }
    }

    /// Whether the method has a feature term.
    pub fn uses_features(&self) -> bool {
        self.feature_weight > 0.0
    }

    /// Computes the method's training targets once for a transfer set.
    ///
    /// `teacher` holds the frozen teacher's outputs on `data`'s rows (it may
    /// be `None` for [`Method::plain`]); `head` is needed for null-space
    /// projection.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when a teacher is needed and
    /// missing, plus the errors of the subspace fit and labelers.
    pub fn prepare(
        &self,
        data: &Dataset,
        teacher: Option<&TeacherOutput>,
        head: Option<&LinearHead>,
    ) -> Result<PreparedTargets> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(LelpError::InvalidParameter {
                name: "alpha",
                value: self.alpha.to_string(),
                reason: "must be in [0, 1]",
            });
        }
        let c = data.num_classes();
        let teacher_needed = || LelpError::InvalidParameter {
            name: "teacher",
            value: "None".into(),
            reason: "this method needs the teacher's outputs",
        };
        let mut subspaces = None;
        let log_targets = match &self.targets {
            Targets::None => None,
            other => {
                let t = teacher.ok_or_else(teacher_needed)?;
                if t.len() != data.len() {
                    return Err(LelpError::DimensionMismatch {
                        what: "teacher rows vs data rows",
                        expected: data.len(),
                        got: t.len(),
                    });
                }
                let input = LabelerInput::new(t.embeddings.clone(), t.logits.clone());
                let input = match data.fine_labels() {
                    Some(f) => input.with_fine_labels(f),
                    None => input,
                };
                let pt = match other {
                    Targets::None => unreachable!(),
                    Targets::Softmax => SoftmaxLabeler::new(c, self.tau).targets(input)?,
                    Targets::Lelp(o) | Targets::Random(o) => {
                        let labels = if o.teacher_labels {
                            argmax_rows(&t.logits)?
                        } else {
                            data.labels().to_vec()
                        };
                        let head = if o.null_space { head } else { None };
                        let fit = if matches!(other, Targets::Lelp(_)) {
                            PcaFinder::new(o.subclasses)
                                .with_null_space(o.null_space)
                                .with_centre(o.centre)
                                .with_rotation(o.rotate)
                                .with_seed(o.seed)
                                .fit_tensor(t.embeddings.clone(), &labels, c, head, 4096)?
                        } else {
                            RandomProjectionFinder::new(o.subclasses)
                                .with_null_space(o.null_space)
                                .with_centre(o.centre)
                                .with_seed(o.seed)
                                .fit_tensor(t.embeddings.clone(), &labels, c, head, 4096)?
                        };
                        let pt = LelpLabeler::new(fit.clone(), o.beta, self.tau).targets(input)?;
                        subspaces = Some(fit);
                        pt
                    }
                    Targets::Oracle(o) => o.targets(input)?,
                    Targets::KMeans(o) => {
                        let labels = if o.teacher_labels {
                            argmax_rows(&t.logits)?
                        } else {
                            data.labels().to_vec()
                        };
                        KMeansLabeler::fit(
                            t.embeddings.clone(),
                            &labels,
                            c,
                            o.subclasses,
                            o.beta,
                            self.tau,
                            50,
                            o.seed,
                        )?
                        .targets(input)?
                    }
                    Targets::Custom(l) => l.targets(input)?,
                };
                Some(pt.log_probs)
            }
        };
        let teacher_features = if self.uses_features() {
            let t = teacher.ok_or_else(teacher_needed)?;
            let rms = t.embeddings.clone().square().mean().sqrt();
            let rms = util::to_host_f32(rms)?[0].max(1e-12);
            Some(t.embeddings.clone().div_scalar(rms as f64))
        } else {
            None
        };
        Ok(PreparedTargets {
            log_targets,
            teacher_features,
            subclasses: self.subclasses(),
            num_classes: c,
            alpha: self.alpha,
            tau: self.tau,
            feature_weight: self.feature_weight,
            subspaces,
        })
    }
}

fn argmax_rows(logits: &Tensor<2>) -> Result<Vec<usize>> {
    let [_, c] = logits.dims();
    let v = util::to_host_f32(logits.clone())?;
    Ok(v.chunks(c)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
                .0
        })
        .collect())
}

/// A method's targets for one transfer set, computed once and reused
/// every epoch.
///
/// # Shapes
/// - `log_targets`: `[N, C*S]` (None for plain training)
/// - `teacher_features`: `[N, d]`, scaled to unit RMS (feature KD only)
#[derive(Debug, Clone)]
pub struct PreparedTargets {
    /// `log q` per row.
    pub log_targets: Option<Tensor<2>>,
    /// Teacher embeddings, scaled.
    pub teacher_features: Option<Tensor<2>>,
    /// `S`.
    pub subclasses: usize,
    /// `C`.
    pub num_classes: usize,
    /// Weight of the ground-truth CE.
    pub alpha: f64,
    /// Distillation temperature.
    pub tau: f64,
    /// Weight of the feature term.
    pub feature_weight: f64,
    /// The fitted subspaces (LELP and random projections).
    pub subspaces: Option<Subspaces>,
}
