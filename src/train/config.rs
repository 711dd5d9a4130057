//! The distiller's settings ([`DistillConfig`], its optimizer and
//! learning-rate schedule, class weights) and what a run of
//! [`Distiller::fit`](super::Distiller::fit) works on and returns (the
//! `Trainee`, each epoch's [`EpochReport`], the [`Trained`] student).

use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{LelpError, Result};
use crate::util;

/// Optimizer choice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OptimizerKind {
    /// Adam (burn's `AdamConfig` defaults).
    Adam,
    /// AdamW (decoupled weight decay, `weight_decay` of the config; what
    /// BERT fine-tuning uses).
    AdamW,
    /// SGD with the given momentum (0 for none).
    Sgd {
        /// Momentum factor.
        momentum: f64,
    },
}

/// Learning-rate schedule: the epoch schedules are evaluated once per
/// epoch, [`LrSchedule::WarmupLinear`] at every step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LrSchedule {
    /// Constant learning rate.
    Constant,
    /// Cosine decay from `lr` to `lr * final_fraction` over the epochs.
    Cosine {
        /// Final learning rate as a fraction of the initial one.
        final_fraction: f64,
    },
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// BERT fine-tuning's schedule, per optimizer step: linear warm-up
    /// from 0 over the first `warmup` fraction of all steps, then linear
    /// decay to 0 at the last (Hugging Face's
    /// `get_linear_schedule_with_warmup`, step `s` of `T` with `W =
    /// ceil(warmup * T)` warm-up steps: `lr * s / W` for `s < W`, else
    /// `lr * (T - s) / (T - W)`; the first step's rate is 0 as there).
    WarmupLinear {
        /// Fraction of all steps spent warming up, in `[0, 1)`.
        warmup: f64,
    },
}

/// Training configuration (serialisable; stored in checkpoints).
///
/// # Example
/// ```
/// use lelp::train::{DistillConfig, LrSchedule};
/// let cfg = DistillConfig::new(60, 3e-3).with_batch_size(32).with_schedule(LrSchedule::Cosine { final_fraction: 0.1 });
/// assert!((cfg.lr_at(59) - 3e-4).abs() < 1e-12);
/// assert!(DistillConfig::new(0, 3e-3).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// L2 weight decay (0 for none).
    pub weight_decay: f64,
    /// Shuffling seed.
    pub seed: u64,
    /// Stop when validation accuracy has not improved for this many
    /// epochs (needs a validation set).
    pub patience: Option<usize>,
    /// Return the weights of the best validation epoch (needs a
    /// validation set).
    pub restore_best: bool,
    /// Clip each parameter's gradient to this L2 norm (burn's clipping is
    /// per parameter tensor, not over all parameters at once); `None`
    /// for no clipping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip: Option<f64>,
    /// Lazy Adam on the student's embedding tables
    /// ([`Student::embedding_tables`](crate::train::Student::embedding_tables): the [`Bag`](crate::train::Bag)'s and
    /// [`TextCnn`](crate::train::TextCnn)'s token embeddings, the
    /// transformer student's word-piece table): only the rows a batch
    /// reads are updated, their moments and weights as
    /// Adam (or AdamW) would; the other rows and their moments stay. A
    /// step then costs what the batch reads, not the table's size (PyTorch's
    /// `SparseAdam`). Off by default; SGD ignores it (a zero gradient row
    /// moves only through momentum and decay).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lazy_tables: bool,
    /// A weight for each class (indexed by label; finite, `>= 0`, one at
    /// least `> 0`): every per-row term of the loss becomes a weighted mean
    /// over the batch, each row weighted by its label's class weight (see
    /// [`balanced_class_weights`]). `None`: every row alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weights: Option<Vec<f64>>,
}

/// scikit-learn's `class_weight="balanced"`: `n / (C * n_c)` for a class
/// of `n_c` of the `n` labels (0 for a class without rows), so that every
/// class weighs as much in the loss as in a balanced data set.
///
/// ```
/// let w = lelp::train::balanced_class_weights(&[0, 0, 0, 1], 2);
/// assert_eq!(w, [4.0 / 6.0, 2.0]);
/// ```
pub fn balanced_class_weights(labels: &[usize], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        if l < classes {
            counts[l] += 1;
        }
    }
    let n = labels.len() as f64;
    counts
        .iter()
        .map(|&k| if k == 0 { 0.0 } else { n / (classes as f64 * k as f64) })
        .collect()
}

impl DistillConfig {
    /// `epochs` epochs of Adam at `lr`, batch 64, constant schedule, seed 0,
    /// no early stopping.
    pub fn new(epochs: usize, lr: f64) -> Self {
        Self {
            epochs,
            batch_size: 64,
            lr,
            optimizer: OptimizerKind::Adam,
            schedule: LrSchedule::Constant,
            weight_decay: 0.0,
            seed: 0,
            patience: None,
            restore_best: false,
            grad_clip: None,
            lazy_tables: false,
            class_weights: None,
        }
    }
    /// The learning rate of `epoch` (0-based). For
    /// [`LrSchedule::WarmupLinear`] this counts each epoch as one step,
    /// which is not what the `Distiller` runs: use
    /// [`DistillConfig::lr_at_step`] there.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.lr_at_step(epoch, 0, 1)
    }

    /// The learning rate of step `batch` (0-based) of `epoch` (0-based)
    /// when every epoch has `batches` steps.
    ///
    /// ```
    /// use lelp::train::{DistillConfig, LrSchedule};
    /// let cfg = DistillConfig::new(2, 1e-3).with_schedule(LrSchedule::WarmupLinear { warmup: 0.25 });
    /// // 2 epochs x 4 steps: 2 warm-up steps, then 6 of decay
    /// let lrs: Vec<f64> = (0..2).flat_map(|e| (0..4).map(move |b| (e, b))).map(|(e, b)| cfg.lr_at_step(e, b, 4)).collect();
    /// let want = [0.0, 0.5e-3, 1e-3, 5.0 / 6.0 * 1e-3, 4.0 / 6.0 * 1e-3, 0.5e-3, 2.0 / 6.0 * 1e-3, 1.0 / 6.0 * 1e-3];
    /// assert!(lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-15));
    /// ```
    pub fn lr_at_step(&self, epoch: usize, batch: usize, batches: usize) -> f64 {
        match self.schedule {
            LrSchedule::WarmupLinear { warmup } => {
                let total = (self.epochs * batches.max(1)) as f64;
                let step = (epoch * batches.max(1) + batch) as f64;
                let warm = (warmup * total).ceil();
                let f = if step < warm {
                    step / warm
                } else {
                    ((total - step) / (total - warm).max(1.0)).max(0.0)
                };
                self.lr * f
            }
            _ => self.lr_at_epoch(epoch),
        }
    }

    /// The epoch schedules' rate of `epoch`.
    fn lr_at_epoch(&self, epoch: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant | LrSchedule::WarmupLinear { .. } => self.lr,
            LrSchedule::Cosine { final_fraction } => {
                let t = if self.epochs > 1 {
                    epoch as f64 / (self.epochs - 1) as f64
                } else {
                    0.0
                };
                let f = final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
                self.lr * f
            }
            LrSchedule::Step { every, gamma } => self.lr * gamma.powi((epoch / every.max(1)) as i32),
        }
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] naming the bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: String, reason| Err(LelpError::InvalidParameter { name, value, reason });
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "must be > 0");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "must be > 0");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr.to_string(), "must be finite and > 0");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", self.weight_decay.to_string(), "must be finite and >= 0");
        }
        if let Some(c) = self.grad_clip
            && !(c.is_finite() && c > 0.0)
        {
            return bad("grad_clip", c.to_string(), "must be finite and > 0");
        }
        if let LrSchedule::WarmupLinear { warmup } = self.schedule
            && !(0.0..1.0).contains(&warmup)
        {
            return bad("warmup", warmup.to_string(), "must be in [0, 1)");
        }
        if let Some(w) = &self.class_weights
            && (w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || !w.iter().any(|&x| x > 0.0))
        {
            return bad(
                "class_weights",
                format!("{w:?}"),
                "each finite and >= 0, at least one > 0",
            );
        }
        Ok(())
    }
}

util::setters!(DistillConfig {
    "Sets the batch size." with_batch_size => batch_size: usize,
    "Sets the optimizer." with_optimizer => optimizer: OptimizerKind,
    "Sets the schedule." with_schedule => schedule: LrSchedule,
    "Sets the L2 weight decay." with_weight_decay => weight_decay: f64,
    "Sets the shuffling seed." with_seed => seed: u64,
    "Returns the best validation epoch's weights." with_restore_best => restore_best: bool,
    "Clips each parameter's gradient to this L2 norm." with_grad_clip => grad_clip: Option<f64>,
    "Updates only the touched rows of the student's embedding tables (lazy Adam)." with_lazy_tables => lazy_tables: bool,
    "Weighs each row of the loss by its class's weight." with_class_weights => class_weights: Option<Vec<f64>>,
});

impl DistillConfig {
    /// Stops when validation accuracy has not improved for `patience`
    /// epochs (needs a validation set).
    #[must_use]
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }
}

/// What was measured in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Learning rate used (under a per-step schedule, the epoch's first
    /// step's).
    pub lr: f64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (class argmax vs labels).
    pub train_accuracy: f64,
    /// Validation cross-entropy on class logits.
    pub valid_loss: Option<f64>,
    /// Validation accuracy.
    pub valid_accuracy: Option<f64>,
}

/// The model being trained: the student and, for feature KD, the learned
/// projection `A: e -> d` of its embedding.
#[derive(Module, Debug)]
pub(crate) struct Trainee<S> {
    /// The student.
    pub(crate) student: S,
    /// Feature-KD projection (None otherwise).
    pub(crate) projector: Option<Linear>,
}

/// The outcome of [`Distiller::fit`](crate::train::Distiller::fit).
#[derive(Debug)]
pub struct Trained<S> {
    /// The trained student, in evaluation mode (`Module::valid` applied).
    pub student: S,
    /// Per-epoch reports.
    pub history: Vec<EpochReport>,
    /// Whether training stopped early.
    pub stopped_early: bool,
    /// The epoch (1-based) most accurate on the validation set, the first
    /// of ties; none without one. With
    /// [`DistillConfig::restore_best`], the epoch `student` is from.
    pub best_epoch: Option<usize>,
}
