//! Distillation through burn-train (feature `train`): any [`Method`](crate::train::Method)'s
//! targets and any [`Student`] as a burn-train model, so a run goes
//! through burn's `Learner` and `SupervisedTraining` with its metrics
//! (loss, accuracy), terminal dashboard, checkpointers, early stopping and
//! execution strategies (single device, multi-device).
//!
//! The loss is the one [`Distiller`](crate::train::Distiller) uses (one
//! function serves both loops). Teacher targets travel with the batch: the
//! data loader yields row indices, and [`DistillBatcher`] gathers each
//! batch's inputs, labels, soft targets and teacher features.
//!
//! ```no_run
//! use burn::prelude::*;
//! use burn::train::metric::{AccuracyMetric, LossMetric};
//! use burn::train::SupervisedTraining;
//! use lelp::data::Dataset;
//! use lelp::train::burn_train::{dataloaders, learner, DistillModel};
//! use lelp::train::{DistillConfig, Method, MlpConfig};
//!
//! let device = Device::default().autodiff();
//! let (train, valid) = Dataset::uci_digits().parity()?.split(0.3, 0)?;
//! let targets = Method::Plain.prepare(&train, None)?;
//! let cfg = DistillConfig::new(10, 3e-3).with_batch_size(32);
//! let student = MlpConfig::new(64, vec![32, 32], targets.outputs()).init(&device)?;
//! let model = DistillModel::new(student, &train, &targets, &cfg, &device)?;
//! let (dl_train, dl_valid) = dataloaders(&train, &targets, &valid, &cfg, &device)?;
//! let result = SupervisedTraining::new("/tmp/lelp-burn-train", dl_train, dl_valid)
//!     .num_epochs(cfg.epochs)
//!     .metric_train_numeric(LossMetric::new())
//!     .metric_valid_numeric(AccuracyMetric::new())
//!     .launch(learner(model, &cfg)?);
//! let student = result.model.into_student();
//! # Ok::<(), lelp::LelpError>(())
//! ```

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::lr_scheduler::constant::ConstantLr;
use burn::nn::Linear;
use burn::prelude::*;
use burn::train::{ClassificationOutput, InferenceStep, Learner, TrainOutput, TrainStep};

use super::distiller::{batch_loss, check_shapes, check_validation, feature_projector, optimizer};
use super::{DistillConfig, LrSchedule, Student, TrainingTargets, class_logits, loss};
use crate::data::{Dataset, Inputs};
use crate::error::{LelpError, Result};
use crate::util;

/// One batch: the student's inputs, the labels (one-hot and as indices),
/// and the rows' soft targets and teacher features when the method has
/// them.
#[derive(Debug, Clone)]
pub struct DistillBatch {
    /// The student's inputs.
    pub inputs: Inputs,
    /// One-hot labels `[B, C]`.
    pub one_hot: Tensor<2>,
    /// Label indices `[B]`.
    pub labels: Tensor<1, Int>,
    /// The rows' soft targets in log space `[B, C*S]`.
    pub log_targets: Option<Tensor<2>>,
    /// The rows' teacher features `[B, d]` (feature KD, RKD).
    pub features: Option<Tensor<2>>,
    /// The class weights of the rows' labels `[B, 1]`
    /// ([`DistillConfig::class_weights`]; none for validation).
    pub row_weights: Option<Tensor<2>>,
    /// The seed of the step's dropout masks ([`seed_dropout`](crate::train::seed_dropout)):
    /// a hash of the batch's rows in order, so a run whose loader shuffles
    /// from a seed draws the same masks again.
    pub dropout_seed: u64,
}

/// Host rows of a matrix, gathered per batch.
#[derive(Debug, Clone)]
struct HostRows {
    values: Arc<Vec<f32>>,
    width: usize,
}

impl HostRows {
    fn new(t: &Tensor<2>) -> Result<Self> {
        let [_, width] = t.dims();
        Ok(Self {
            values: Arc::new(util::to_host_f32(t.clone())?),
            width,
        })
    }

    fn gather(&self, rows: &[usize], device: &Device) -> Tensor<2> {
        let w = self.width;
        let mut v = Vec::with_capacity(rows.len() * w);
        for &r in rows {
            v.extend_from_slice(&self.values[r * w..(r + 1) * w]);
        }
        util::matrix(v, rows.len(), w, device)
    }
}

/// Gathers [`DistillBatch`]es from row indices of one data set (and, for
/// training, its targets). Rows come from the loaders of [`dataloaders`],
/// which only yield indices of the data set they were built for.
#[derive(Debug, Clone)]
pub struct DistillBatcher {
    data: Arc<Dataset>,
    log_targets: Option<HostRows>,
    features: Option<HostRows>,
    class_weights: Option<Arc<Vec<f64>>>,
}

impl DistillBatcher {
    /// A batcher over `data`'s rows with `targets`' soft targets and
    /// features (None: labels only, e.g. for validation).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the targets are for other
    /// rows or classes; [`LelpError::InvalidParameter`] for multi-label
    /// data (train it with [`crate::train::Distiller`]); backend read-back
    /// errors.
    pub fn new(data: &Dataset, targets: Option<&TrainingTargets>) -> Result<Self> {
        if data.is_multi_label() {
            return Err(LelpError::InvalidParameter {
                name: "data",
                value: "multi-label".into(),
                reason: "burn-train's classification output takes one label a row: train multi-label data \
                         with Distiller",
            });
        }
        let (mut log_targets, mut features) = (None, None);
        if let Some(t) = targets {
            t.check_data(data)?;
            log_targets = t.soft_targets().map(|s| HostRows::new(s.log_probs())).transpose()?;
            features = t.teacher_features().map(HostRows::new).transpose()?;
        }
        Ok(Self {
            data: Arc::new(data.clone()),
            log_targets,
            features,
            class_weights: None,
        })
    }

    /// Batches that weigh each row by its label's class weight (one a
    /// class of the data).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when the weights are not one a
    /// class, or not finite and `>= 0` with one at least `> 0`.
    pub fn with_class_weights(mut self, weights: Vec<f64>) -> Result<Self> {
        DistillConfig::new(1, 1.0)
            .with_class_weights(Some(weights.clone()))
            .validate()?;
        if weights.len() != self.data.num_classes() {
            return Err(LelpError::InvalidParameter {
                name: "class_weights",
                value: format!("{} weights", weights.len()),
                reason: "one weight a class of the training data",
            });
        }
        self.class_weights = Some(Arc::new(weights));
        Ok(self)
    }

    /// Row indices `0..N` as a burn dataset, for a data loader.
    pub fn rows(&self) -> InMemDataset<usize> {
        InMemDataset::new((0..self.data.len()).collect())
    }
}

impl Batcher<usize, DistillBatch> for DistillBatcher {
    fn batch(&self, rows: Vec<usize>, device: &Device) -> DistillBatch {
        // indices come from `rows()`, so they are in range: not user input
        let inputs = self
            .data
            .inputs(&rows, device)
            .expect("row indices from DistillBatcher::rows are in range");
        let labels: Vec<usize> = rows.iter().map(|&r| self.data.labels()[r]).collect();
        let mut seed = util::Fnv64::default();
        for r in &rows {
            seed.update(&(*r as u64).to_le_bytes());
        }
        DistillBatch {
            inputs,
            one_hot: util::one_hot(&labels, self.data.num_classes(), device),
            labels: util::indices(&labels, device),
            log_targets: self.log_targets.as_ref().map(|t| t.gather(&rows, device)),
            features: self.features.as_ref().map(|t| t.gather(&rows, device)),
            row_weights: self.class_weights.as_ref().map(|w| {
                let v: Vec<f32> = labels.iter().map(|&l| w[l] as f32).collect();
                util::matrix(v, labels.len(), 1, device)
            }),
            dropout_seed: seed.finish(),
        }
    }
}

/// A burn data loader of [`DistillBatch`]es.
pub type Loader = Arc<dyn DataLoader<DistillBatch>>;

/// Training and validation loaders for [`DistillModel`]: batches of
/// `config.batch_size` rows, the training rows shuffled from
/// `config.seed`, on `device` (training) and its inner device
/// (validation: no autodiff).
///
/// # Errors
/// As [`DistillBatcher::new`]; [`LelpError::DimensionMismatch`] or
/// [`LelpError::InputKind`] when the validation set has other classes or
/// inputs than the training set (burn-train's steps cannot return an
/// error, so this is checked before).
pub fn dataloaders(
    train: &Dataset,
    targets: &TrainingTargets,
    valid: &Dataset,
    config: &DistillConfig,
    device: &Device,
) -> Result<(Loader, Loader)> {
    config.validate()?;
    check_validation(train, valid)?;
    let mut tb = DistillBatcher::new(train, Some(targets))?;
    if let Some(w) = &config.class_weights {
        tb = tb.with_class_weights(w.clone())?;
    }
    let vb = DistillBatcher::new(valid, None)?;
    let (train_rows, valid_rows) = (tb.rows(), vb.rows());
    let dl_train = DataLoaderBuilder::new(tb)
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .set_device(device.clone())
        .build(train_rows);
    let dl_valid = DataLoaderBuilder::new(vb)
        .batch_size(config.batch_size.max(256))
        .set_device(device.clone().without_autodiff())
        .build(valid_rows);
    Ok((dl_train, dl_valid))
}

/// A student and a method's loss as a burn-train model: `TrainStep` runs
/// the method's loss (the same function as
/// [`Distiller`](crate::train::Distiller)'s), `InferenceStep` the
/// cross-entropy of the class logits (logsumexp over subclasses). Both
/// report class logits, so burn's accuracy metric scores classes.
#[derive(Module, Debug)]
pub struct DistillModel<S: Module> {
    /// The student.
    pub student: S,
    /// Feature KD's projection (None otherwise).
    pub projector: Option<Linear>,
    #[module(skip)]
    targets: TrainingTargets,
}

impl<S: Student> DistillModel<S> {
    /// `student` trained on `targets` over `train` (checked: outputs,
    /// rows, classes, and the student's forward pass on one row of
    /// `train`), feature KD's projection seeded from `config.seed`, on
    /// `device`.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] for a student or targets that do
    /// not fit `train`; the student's error when it cannot take `train`'s
    /// inputs (e.g. another input width).
    ///
    /// # Panics
    /// burn-train's steps cannot return errors: a batch the student
    /// rejects there panics. The checks here and in [`dataloaders`] cover
    /// the shapes; a token id past a text student's vocabulary in a later
    /// row is found only when its batch runs.
    pub fn new(
        student: S,
        train: &Dataset,
        targets: &TrainingTargets,
        config: &DistillConfig,
        device: &Device,
    ) -> Result<Self> {
        check_shapes(&student, train, targets, None)?;
        let student = student.fork(device);
        if !train.is_empty() {
            student.forward(train.inputs(&[0], device)?)?;
        }
        let projector = feature_projector(student.embedding_dim(), targets, config.seed, device);
        Ok(Self {
            student,
            projector,
            targets: targets.clone(),
        })
    }

    /// The trained student.
    pub fn into_student(self) -> S {
        self.student
    }

    fn class_logits(&self, logits: Tensor<2>) -> Tensor<2> {
        class_logits(logits, self.targets.num_classes(), self.targets.subclasses())
    }
}

impl<S: Student + 'static> TrainStep for DistillModel<S> {
    type Input = DistillBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DistillBatch) -> TrainOutput<ClassificationOutput> {
        crate::train::seed_dropout(batch.dropout_seed);
        // inputs were checked against the student when the model was built
        let out = self
            .student
            .forward(batch.inputs)
            .expect("inputs of the data set the model was checked against");
        let l = batch_loss(
            &self.targets,
            &out,
            self.projector.as_ref(),
            batch.one_hot,
            batch.log_targets,
            batch.features,
            batch.row_weights,
        );
        let grads = l.backward();
        let logits = self.class_logits(out.logits.detach());
        TrainOutput::new(self, grads, ClassificationOutput::new(l.detach(), logits, batch.labels))
    }
}

impl<S: Student + 'static> InferenceStep for DistillModel<S> {
    type Input = DistillBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DistillBatch) -> ClassificationOutput {
        let out = self
            .student
            .forward(batch.inputs)
            .expect("inputs of the data set the model was checked against");
        let logits = self.class_logits(out.logits);
        let l = loss::cross_entropy(logits.clone(), batch.one_hot);
        ClassificationOutput::new(l, logits, batch.labels)
    }
}

/// A burn-train `Learner` for `model` with the optimizer of `config`
/// (Adam or SGD, weight decay) at its constant learning rate.
///
/// # Errors
/// [`LelpError::InvalidParameter`] for a schedule other than
/// [`LrSchedule::Constant`] (burn-train schedules per step: pass one of
/// burn's schedulers to `Learner::new` yourself).
pub fn learner<S: Student + 'static>(
    model: DistillModel<S>,
    config: &DistillConfig,
) -> Result<Learner<DistillModel<S>>> {
    config.validate()?;
    if config.schedule != LrSchedule::Constant {
        return Err(LelpError::InvalidParameter {
            name: "schedule",
            value: format!("{:?}", config.schedule),
            reason: "burn-train schedules per step: build the Learner with one of burn's schedulers",
        });
    }
    super::distiller::check_tables(&model.student, config)?;
    // no rows hint: lazy Adam finds the touched rows from the gradient
    let (optim, _) = optimizer(config, &model.student.embedding_tables());
    Ok(Learner::new(model, optim, ConstantLr::new(config.lr)))
}
