//! What the trainer consumes: a method's targets for one transfer set.

use burn::prelude::*;

use super::loss::DkdWeights;
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::labeler::{LabelerInput, PseudoLabeler, PseudoTargets};
use crate::subspace::Subspaces;
use crate::teacher::TeacherOutput;
use crate::util;

/// A method's training targets for one transfer set, computed once and
/// reused every epoch: soft targets (or none, for plain training), the
/// loss weights, and for feature KD the teacher embeddings.
///
/// Make them with [`Method::prepare`](crate::train::Method::prepare), or
/// from any [`PseudoLabeler`] with [`TrainingTargets::from_labeler`] (a
/// labeler of your own, or a [`LelpLabeler`](crate::labeler::LelpLabeler)
/// over a saved fit).
///
/// # Shapes
/// - soft targets: `[N, C*S]` in log space
/// - teacher features: `[N, d]`, scaled to unit RMS (feature KD only)
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Dataset;
/// use lelp::labeler::SoftmaxLabeler;
/// use lelp::teacher::TeacherOutput;
/// use lelp::train::TrainingTargets;
/// let device = Device::default();
/// let data = Dataset::new(vec![0.0, 1.0, 1.0, 0.0], 2, vec![1, 0], 2)?;
/// let h = data.features_tensor(&device)?;
/// let teacher = TeacherOutput::new(h.clone(), h)?; // logits = features, for the example
/// let targets = TrainingTargets::from_labeler(&SoftmaxLabeler::new(2, 2.0)?, &teacher, &data, 0.1)?;
/// assert_eq!((targets.num_classes(), targets.subclasses(), targets.tau()), (2, 1, 2.0));
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TrainingTargets {
    soft: Option<PseudoTargets>,
    /// Multi-label KD: the teacher's per-label probabilities
    /// `sigmoid(z / tau)`, `[N, C]`, and `tau`.
    bernoulli: Option<(Tensor<2>, f64)>,
    num_classes: usize,
    alpha: f64,
    features: Option<Tensor<2>>,
    feature_weight: f64,
    subspaces: Option<Subspaces>,
    rows: usize,
    /// The loss over the soft targets, and the terms added to it.
    extra: LossTerms,
}

/// What a method adds to, or puts in place of, the soft-target loss.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct LossTerms {
    /// DKD instead of the KL (soft targets over `C` classes).
    dkd: Option<DkdWeights>,
    /// RKD's distance and angle weights (on the teacher features).
    relational: Option<(f64, f64)>,
    /// Subclass Distillation's teacher: hard labels, `S` subclasses, and
    /// the auxiliary loss's weight and temperature.
    subclass_teacher: Option<(usize, f64, f64)>,
    /// The feature term alone, no loss on the logits, for a student of
    /// `S` subclasses a class ([`TrainingTargets::embedding_regression`]).
    regression: Option<usize>,
    /// Multi-label data: one sigmoid a label, binary cross-entropy.
    multi_label: bool,
}

impl TrainingTargets {
    /// Plain training: cross-entropy on the labels of `rows` examples of
    /// `num_classes` classes.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for zero classes or rows.
    pub fn hard(num_classes: usize, rows: usize) -> Result<Self> {
        if num_classes == 0 || rows == 0 {
            return Err(LelpError::EmptyData {
                what: "hard targets with zero classes or rows",
            });
        }
        Ok(Self {
            soft: None,
            bernoulli: None,
            num_classes,
            alpha: 1.0,
            features: None,
            feature_weight: 0.0,
            subspaces: None,
            rows,
            extra: LossTerms::default(),
        })
    }

    /// Soft targets with ground-truth weight `alpha` in
    /// `alpha CE + (1 - alpha) tau^2 KL`; `tau` is the targets' own.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] unless `0 <= alpha <= 1`;
    /// [`LelpError::EmptyData`] for no rows.
    pub fn soft(targets: PseudoTargets, alpha: f64) -> Result<Self> {
        util::check_unit("alpha", alpha)?;
        if targets.is_empty() {
            return Err(LelpError::EmptyData { what: "soft targets" });
        }
        Ok(Self {
            num_classes: targets.num_classes(),
            rows: targets.len(),
            soft: Some(targets),
            bernoulli: None,
            alpha,
            features: None,
            feature_weight: 0.0,
            subspaces: None,
            extra: LossTerms::default(),
        })
    }

    /// Plain training on multi-label data ([`Dataset::with_label_sets`]):
    /// binary cross-entropy of one sigmoid a label, averaged over the
    /// labels (PyTorch's `BCEWithLogitsLoss`).
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for zero classes or rows.
    pub fn multi_label(num_classes: usize, rows: usize) -> Result<Self> {
        let mut t = Self::hard(num_classes, rows)?;
        t.extra.multi_label = true;
        Ok(t)
    }

    /// Knowledge distillation on multi-label data, per label: each label a
    /// Bernoulli variable, the teacher's `p = sigmoid(z_T / tau)` its soft
    /// target. The loss of a row is the mean over labels of
    /// `alpha BCE(z_S, y) + (1 - alpha) tau^2 BCE(z_S / tau, p)`
    /// ([`loss::bernoulli_kd_loss`](crate::train::loss::bernoulli_kd_loss)).
    /// It is softmax KD's counterpart for independent labels: feature KD
    /// and RKD add their terms to it as to the softmax one.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] unless `0 <= alpha <= 1` and `tau`
    /// is finite and `> 0`; [`LelpError::EmptyData`] for no rows.
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use lelp::teacher::TeacherOutput;
    /// use lelp::train::TrainingTargets;
    /// let device = Device::default();
    /// let z = Tensor::<2>::from_floats([[2.0, -1.0, 0.5]], &device);
    /// let teacher = TeacherOutput::new(z.clone(), z)?;
    /// let t = TrainingTargets::bernoulli(&teacher, 2.0, 0.5)?;
    /// assert!(t.is_multi_label() && t.tau() == 2.0 && t.outputs() == 3);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn bernoulli(teacher: &TeacherOutput, tau: f64, alpha: f64) -> Result<Self> {
        util::check_unit("alpha", alpha)?;
        util::check_positive("tau", tau)?;
        let mut t = Self::multi_label(teacher.num_classes(), teacher.len())?;
        let p = burn::tensor::activation::sigmoid(teacher.logits().clone().div_scalar(tau)).detach();
        t.bernoulli = Some((p, tau));
        t.alpha = alpha;
        Ok(t)
    }

    /// Whether the targets are multi-label (one sigmoid a label).
    pub fn is_multi_label(&self) -> bool {
        self.extra.multi_label
    }

    /// Multi-label KD's soft targets: the teacher's per-label
    /// probabilities at the temperature, `[N, C]`.
    pub fn bernoulli_targets(&self) -> Option<&Tensor<2>> {
        self.bernoulli.as_ref().map(|(p, _)| p)
    }

    /// Runs `labeler` on a teacher's outputs over `data` (its fine labels
    /// go to the labeler) and wraps the result as [`TrainingTargets::soft`].
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when teacher and data rows or
    /// classes differ; the labeler's errors; those of
    /// [`TrainingTargets::soft`].
    pub fn from_labeler(
        labeler: &dyn PseudoLabeler,
        teacher: &TeacherOutput,
        data: &Dataset,
        alpha: f64,
    ) -> Result<Self> {
        check_teacher(teacher, data, 1)?;
        let mut input = LabelerInput::from_teacher(teacher);
        if let Some(f) = data.fine_labels() {
            input = input.with_fine_labels(f);
        }
        Self::soft(labeler.targets(input)?, alpha)
    }

    /// An embedding-regression stage (tokenlearn's): the loss is the
    /// feature term `MSE(A e_s, h / s)` alone, with `h` any embedding of
    /// the rows (`[N, d]`: the teacher's sentence embedding, PCA-reduced or
    /// not; `s` its RMS) and `A` a learned linear map that is dropped after
    /// the fit. Nothing reaches the student's head: train it on the task
    /// afterwards by fitting the returned student again with a method's
    /// targets. `subclasses` is the `S` of those targets (1 for KD, LELP's
    /// for LELP), so the student's `C * S` outputs fit both stages. Rows
    /// need labels only to be counted (the teacher's argmax
    /// serves for unlabeled text); the accuracy a fit reports during this
    /// stage is the untrained head's, so leave early stopping and
    /// [`restore_best`](crate::train::DistillConfig::restore_best) off for it.
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use lelp::data::Dataset;
    /// use lelp::train::{DistillConfig, Distiller, Method, MlpConfig, TrainingTargets};
    /// let device = Device::default();
    /// let data = Dataset::new((0..64).map(|i| (i % 7) as f32).collect(), 4, vec![0, 1].repeat(8), 2)?;
    /// // the teacher's view of each row (here a fixed map of the inputs)
    /// let h = data.features_tensor(&device)?.matmul(Tensor::ones([4, 3], &device));
    /// let student = MlpConfig::new(4, vec![8], 2).init(&device)?;
    /// let stage1 = TrainingTargets::embedding_regression(2, 1, h)?;
    /// let student = Distiller::new(DistillConfig::new(2, 1e-2)).fit(student, &data, &stage1, None, &device)?.student;
    /// // then the task, from the regressed student
    /// let task = Method::Plain.prepare(&data, None)?;
    /// let trained = Distiller::new(DistillConfig::new(2, 1e-2)).fit(student, &data, &task, None, &device)?;
    /// assert_eq!(trained.history.len(), 2);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for zero classes, rows or feature
    /// columns; [`LelpError::InvalidParameter`] for zero subclasses, or
    /// features that are not all finite or all zero.
    pub fn embedding_regression(num_classes: usize, subclasses: usize, features: Tensor<2>) -> Result<Self> {
        let [rows, d] = features.dims();
        let mut t = Self::hard(num_classes, rows)?;
        if d == 0 {
            return Err(LelpError::EmptyData {
                what: "embedding-regression features with zero columns",
            });
        }
        util::check_subclasses(subclasses)?;
        // the mean square in f64 on the host: large finite values do not overflow
        let host = util::to_host_f32(features.clone())?;
        let ms = host.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / host.len() as f64;
        if !(ms.is_finite() && ms > 0.0) {
            return Err(LelpError::InvalidParameter {
                name: "features",
                value: format!("mean square {ms}"),
                reason: "must be finite and not all zero",
            });
        }
        t.features = Some(features.div_scalar(ms.sqrt()));
        t.feature_weight = 1.0;
        t.extra.regression = Some(subclasses);
        Ok(t)
    }

    /// Whether the loss is the feature term alone
    /// ([`TrainingTargets::embedding_regression`]).
    pub fn is_regression(&self) -> bool {
        self.extra.regression.is_some()
    }

    /// Adds feature KD's term `weight * MSE(A e_s, h_T / s)` (a learned
    /// linear `A`, `s` the RMS of the teacher embeddings).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a weight not finite and `>= 0`,
    /// or on an embedding-regression stage (its feature term is its whole
    /// loss); [`LelpError::DimensionMismatch`] for another number of rows.
    pub fn with_features(mut self, teacher: &TeacherOutput, weight: f64) -> Result<Self> {
        if self.is_regression() {
            return Err(LelpError::InvalidParameter {
                name: "targets",
                value: "embedding regression".into(),
                reason: "an embedding-regression stage takes no other loss term",
            });
        }
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(LelpError::InvalidParameter {
                name: "feature_weight",
                value: weight.to_string(),
                reason: "must be finite and >= 0",
            });
        }
        if teacher.len() != self.rows {
            return Err(LelpError::DimensionMismatch {
                what: "teacher rows vs target rows",
                expected: self.rows,
                got: teacher.len(),
            });
        }
        let h = teacher.embeddings().clone();
        let rms = util::to_host_f32(h.clone().square().mean().sqrt())?[0].max(1e-12);
        self.features = Some(h.div_scalar(rms as f64));
        self.feature_weight = weight;
        Ok(self)
    }

    /// Replaces the KL by decoupled KD's loss ([`dkd_loss`](crate::train::loss::dkd_loss)); the targets'
    /// `alpha` is ignored (DKD weighs its own CE term).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for weights not finite and `>= 0`,
    /// or targets with subclasses (DKD splits classes, not subclasses).
    pub fn with_dkd(mut self, weights: DkdWeights) -> Result<Self> {
        weights.validate()?;
        if self.soft.is_none() || self.subclasses() != 1 {
            return Err(LelpError::InvalidParameter {
                name: "dkd",
                value: format!("{} subclasses", self.subclasses()),
                reason: "DKD needs soft targets over the classes (S = 1)",
            });
        }
        self.extra.dkd = Some(weights);
        Ok(self)
    }

    /// Adds RKD's terms `distance * L_D + angle * L_A`
    /// ([`rkd_distance_loss`](crate::train::loss::rkd_distance_loss), [`rkd_angle_loss`](crate::train::loss::rkd_angle_loss)) between the student's
    /// embedding and the teacher's.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for weights not finite and `>= 0`;
    /// [`LelpError::DimensionMismatch`] for another number of rows.
    pub fn with_relational(mut self, teacher: &TeacherOutput, distance: f64, angle: f64) -> Result<Self> {
        util::check_weight("rkd_distance", distance)?;
        util::check_weight("rkd_angle", angle)?;
        let weight = self.feature_weight;
        self = self.with_features(teacher, weight)?;
        self.extra.relational = Some((distance, angle));
        Ok(self)
    }

    /// The targets of a Subclass Distillation teacher (Mueller et al.
    /// 2020): cross-entropy on the labels through `C * subclasses` outputs
    /// (class logits by logsumexp), plus `weight` times the auxiliary loss
    /// ([`subclass_aux_loss`](crate::train::loss::subclass_aux_loss)) at `temperature`.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for zero classes or rows;
    /// [`LelpError::InvalidParameter`] for zero subclasses, a weight not
    /// finite and `>= 0` or a temperature not `> 0`.
    pub fn subclass_teacher(
        num_classes: usize,
        rows: usize,
        subclasses: usize,
        weight: f64,
        temperature: f64,
    ) -> Result<Self> {
        util::check_subclasses(subclasses)?;
        util::check_weight("aux_weight", weight)?;
        util::check_positive("aux_temperature", temperature)?;
        let mut t = Self::hard(num_classes, rows)?;
        t.extra.subclass_teacher = Some((subclasses, weight, temperature));
        Ok(t)
    }

    /// DKD's weights, when the loss is DKD.
    pub fn dkd(&self) -> Option<DkdWeights> {
        self.extra.dkd
    }
    /// RKD's distance and angle weights, when set.
    pub fn relational(&self) -> Option<(f64, f64)> {
        self.extra.relational
    }
    /// The Subclass Distillation teacher's auxiliary weight and temperature.
    pub fn subclass_aux(&self) -> Option<(f64, f64)> {
        self.extra.subclass_teacher.map(|(_, w, t)| (w, t))
    }

    /// The loss weights as numbers, for a checkpoint's fingerprint.
    pub(crate) fn loss_weights(&self) -> Vec<f64> {
        let mut w = vec![self.alpha, self.tau(), self.feature_weight];
        if let Some(d) = self.extra.dkd {
            w.extend([1.0, d.ce, d.tckd, d.nckd]);
        }
        if let Some((d, a)) = self.extra.relational {
            w.extend([2.0, d, a]);
        }
        if let Some((s, aw, at)) = self.extra.subclass_teacher {
            w.extend([3.0, s as f64, aw, at]);
        }
        if let Some(s) = self.extra.regression {
            w.extend([4.0, s as f64]);
        }
        w
    }

    pub(crate) fn with_subspaces(mut self, fit: Subspaces) -> Self {
        self.subspaces = Some(fit);
        self
    }

    /// The soft targets (None for plain training).
    pub fn soft_targets(&self) -> Option<&PseudoTargets> {
        self.soft.as_ref()
    }
    /// Classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
    /// Subclasses per class `S` (1 for plain training and KD; the
    /// student's for a Subclass Distillation teacher and for an
    /// embedding-regression stage).
    pub fn subclasses(&self) -> usize {
        match (&self.soft, self.extra.subclass_teacher) {
            (Some(t), _) => t.subclasses(),
            (None, Some((s, _, _))) => s,
            (None, None) => self.extra.regression.unwrap_or(1),
        }
    }
    /// The student's output width, `C * S`.
    pub fn outputs(&self) -> usize {
        self.num_classes * self.subclasses()
    }
    /// Rows `N` the targets are for.
    pub fn len(&self) -> usize {
        self.rows
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
    /// Weight of the ground-truth cross-entropy (1 for plain training).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// The temperature of the soft targets (1 for plain training).
    pub fn tau(&self) -> f64 {
        match (&self.soft, &self.bernoulli) {
            (Some(s), _) => s.tau(),
            (None, Some((_, tau))) => *tau,
            (None, None) => 1.0,
        }
    }
    /// The scaled teacher embeddings of feature KD.
    pub fn teacher_features(&self) -> Option<&Tensor<2>> {
        self.features.as_ref()
    }
    /// Weight of the feature term (0 without one).
    pub fn feature_weight(&self) -> f64 {
        self.feature_weight
    }
    /// The fitted subspaces (LELP and random projections from
    /// [`Method::prepare`](crate::train::Method::prepare)): save them to
    /// reuse the fit.
    pub fn subspaces(&self) -> Option<&Subspaces> {
        self.subspaces.as_ref()
    }

    /// The targets of rows `rows` (indices into these targets' rows, in
    /// that order, repeats allowed): the per-row tensors (soft targets,
    /// multi-label probabilities, teacher features) are selected, the rest
    /// is shared. Training on a slice of an epoch (`--student auto`'s
    /// successive halving) without fitting a method's targets again.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for no rows, [`LelpError::DimensionMismatch`]
    /// for an index past the last row.
    #[cfg(feature = "text")]
    pub(crate) fn rows_at(&self, rows: &[usize], device: &Device) -> Result<Self> {
        if rows.is_empty() {
            return Err(LelpError::EmptyData { what: "target rows" });
        }
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.rows) {
            return Err(LelpError::DimensionMismatch {
                what: "target row index vs target rows",
                expected: self.rows,
                got: bad,
            });
        }
        let idx = util::indices(rows, device);
        let pick = |t: &Tensor<2>| t.clone().select(0, idx.clone());
        let mut out = self.clone();
        out.soft = self
            .soft
            .as_ref()
            .map(|t| PseudoTargets::trusted(pick(t.log_probs()), t.num_classes(), t.subclasses(), t.tau()));
        out.bernoulli = self.bernoulli.as_ref().map(|(t, tau)| (pick(t), *tau));
        out.features = self.features.as_ref().map(pick);
        out.rows = rows.len();
        Ok(out)
    }

    /// Checks that the targets fit a training set.
    pub(crate) fn check_data(&self, data: &Dataset) -> Result<()> {
        if data.len() != self.rows {
            return Err(LelpError::DimensionMismatch {
                what: "target rows vs training rows",
                expected: data.len(),
                got: self.rows,
            });
        }
        if data.num_classes() != self.num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "target classes vs training classes",
                expected: data.num_classes(),
                got: self.num_classes,
            });
        }
        if data.is_multi_label() != self.is_multi_label() {
            return Err(LelpError::InvalidParameter {
                name: "targets",
                value: if self.is_multi_label() {
                    "multi-label"
                } else {
                    "one label a row"
                }
                .into(),
                reason: "the targets and the data disagree on multi-label: build multi-label targets \
                         (TrainingTargets::multi_label, ::bernoulli) for data with label sets, and only for it",
            });
        }
        Ok(())
    }
}

/// Checks that a teacher's outputs cover `data`'s rows, with `C * subclasses`
/// outputs (a Subclass Distillation teacher has `S > 1`).
pub(crate) fn check_teacher(teacher: &TeacherOutput, data: &Dataset, subclasses: usize) -> Result<()> {
    if teacher.len() != data.len() {
        return Err(LelpError::DimensionMismatch {
            what: "teacher rows vs data rows",
            expected: data.len(),
            got: teacher.len(),
        });
    }
    if teacher.num_classes() != data.num_classes() * subclasses {
        return Err(LelpError::DimensionMismatch {
            what: if subclasses == 1 {
                "teacher classes vs data classes"
            } else {
                "subclass teacher outputs vs classes x subclasses"
            },
            expected: data.num_classes() * subclasses,
            got: teacher.num_classes(),
        });
    }
    Ok(())
}

#[cfg(all(test, feature = "text"))]
mod tests {
    use super::*;

    /// A slice's targets are the chosen rows of every per-row tensor, in
    /// the order asked (repeats kept); an index past the end is refused.
    #[test]
    fn rows_at_selects_the_rows_asked_for() {
        let device = Device::default();
        // 3 rows over 2 classes: log q of (0.9, 0.1), (0.2, 0.8), (0.5, 0.5)
        let q = [[0.9f32, 0.1], [0.2, 0.8], [0.5, 0.5]];
        let log_q: Vec<f32> = q.iter().flatten().map(|p| p.ln()).collect();
        let t = PseudoTargets::new(util::matrix(log_q, 3, 2, &device), 2, 1, 2.0).unwrap();
        let features = util::matrix(vec![1.0, 2.0, 3.0], 3, 1, &device);
        let mut targets = TrainingTargets::soft(t, 0.5).unwrap();
        targets.features = Some(features);
        let picked = targets.rows_at(&[2, 0, 0], &device).unwrap();
        assert_eq!(picked.len(), 3);
        assert_eq!((picked.tau(), picked.alpha()), (2.0, 0.5));
        let p = util::to_host_f32(picked.soft_targets().unwrap().probs()).unwrap();
        let want = [0.5f32, 0.5, 0.9, 0.1, 0.9, 0.1];
        assert!(p.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{p:?}");
        let f = util::to_host_f32(picked.teacher_features().unwrap().clone()).unwrap();
        assert_eq!(f, [3.0, 1.0, 1.0]);
        assert!(targets.rows_at(&[3], &device).is_err());
        assert!(targets.rows_at(&[], &device).is_err());
    }
}
