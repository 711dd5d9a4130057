//! The training loop: distil a teacher's prepared targets into a student.
//!
//! [`Distiller::fit`] trains a [`Student`] (plus, for feature KD, a learned
//! projection) on a transfer set with a [`PreparedTargets`] computed once by
//! [`Method::prepare`](crate::Method::prepare). It shuffles with a seed per
//! epoch (`seed + epoch`), so a run resumed from a checkpoint sees the same
//! batches as an uninterrupted one; evaluates a validation set each epoch;
//! stops early on a plateau; prints progress to stderr; and writes a
//! checkpoint (model, optimizer state, history) after every epoch.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::loss;
use crate::method::PreparedTargets;
use crate::student::{Student, class_logits};
use crate::util;

/// Optimizer choice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OptimizerKind {
    /// Adam (burn's `AdamConfig` defaults).
    Adam,
    /// SGD with the given momentum (0 for none).
    Sgd {
        /// Momentum factor.
        momentum: f64,
    },
}

/// Learning-rate schedule, evaluated once per epoch.
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
}

/// Training configuration (serialisable; stored in checkpoints).
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
    /// Print progress to stderr.
    pub progress: bool,
}

impl DistillConfig {
    /// `epochs` epochs of Adam at `lr`, batch 64, constant schedule, seed 0,
    /// no early stopping, progress on.
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
            progress: true,
        }
    }
    /// Sets the batch size.
    pub fn with_batch_size(mut self, b: usize) -> Self {
        self.batch_size = b;
        self
    }
    /// Sets the optimizer.
    pub fn with_optimizer(mut self, o: OptimizerKind) -> Self {
        self.optimizer = o;
        self
    }
    /// Sets the schedule.
    pub fn with_schedule(mut self, s: LrSchedule) -> Self {
        self.schedule = s;
        self
    }
    /// Sets the weight decay.
    pub fn with_weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Enables early stopping.
    pub fn with_patience(mut self, p: usize) -> Self {
        self.patience = Some(p);
        self
    }
    /// Returns the best validation epoch's weights.
    pub fn with_restore_best(mut self, on: bool) -> Self {
        self.restore_best = on;
        self
    }
    /// Turns progress output on or off.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// The learning rate of `epoch` (0-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
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

    fn validate(&self) -> Result<()> {
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
        Ok(())
    }

    fn comparable(&self) -> Self {
        let mut c = self.clone();
        c.progress = false;
        c
    }
}

/// What was measured in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Learning rate used.
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
pub struct Trainee<S> {
    /// The student.
    pub student: S,
    /// Feature-KD projection (None otherwise).
    pub projector: Option<Linear>,
}

/// The outcome of [`Distiller::fit`].
#[derive(Debug)]
pub struct Trained<S> {
    /// The trained student, in evaluation mode (`Module::valid` applied).
    pub student: S,
    /// Per-epoch reports.
    pub history: Vec<EpochReport>,
    /// Whether training stopped early.
    pub stopped_early: bool,
}

/// The checkpoint's `state.json`. serde_json (without its
/// `float_roundtrip` feature, which would rebuild burn's dependency tree)
/// can parse an f64 one ulp off, so every float is stored as its shortest
/// round-trip text and parsed with Rust's exact parser, and the config is
/// kept and compared as JSON text: a resumed run reads back exactly what it
/// wrote.
#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format_version: u32,
    /// `serde_json::to_string(&config.comparable())`.
    config: String,
    epoch: usize,
    history: Vec<StoredReport>,
    #[serde(with = "exact_f64::option")]
    best_accuracy: Option<f64>,
    best_epoch: usize,
    num_params: usize,
}

/// [`EpochReport`] with exactly round-tripping floats.
#[derive(Serialize, Deserialize)]
struct StoredReport {
    epoch: usize,
    #[serde(with = "exact_f64")]
    lr: f64,
    #[serde(with = "exact_f64")]
    train_loss: f64,
    #[serde(with = "exact_f64")]
    train_accuracy: f64,
    #[serde(with = "exact_f64::option")]
    valid_loss: Option<f64>,
    #[serde(with = "exact_f64::option")]
    valid_accuracy: Option<f64>,
}

impl From<&EpochReport> for StoredReport {
    fn from(r: &EpochReport) -> Self {
        Self {
            epoch: r.epoch,
            lr: r.lr,
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            valid_loss: r.valid_loss,
            valid_accuracy: r.valid_accuracy,
        }
    }
}

impl From<StoredReport> for EpochReport {
    fn from(r: StoredReport) -> Self {
        Self {
            epoch: r.epoch,
            lr: r.lr,
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            valid_loss: r.valid_loss,
            valid_accuracy: r.valid_accuracy,
        }
    }
}

/// f64 as its shortest round-trip decimal text (`{:?}`), parsed back with
/// `str::parse`, which is correctly rounded.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("not a float: {text}")))
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_some(&format!("{v:?}")),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|t| t.parse().map_err(|_| D::Error::custom(format!("not a float: {t}"))))
                .transpose()
        }
    }
}

const CKPT_VERSION: u32 = 1;

/// Runs the training loop.
#[derive(Debug, Clone)]
pub struct Distiller {
    config: DistillConfig,
    checkpoint_dir: Option<PathBuf>,
    stop_after: Option<usize>,
}

impl Distiller {
    /// A distiller with `config`, no checkpoints.
    pub fn new(config: DistillConfig) -> Self {
        Self {
            config,
            checkpoint_dir: None,
            stop_after: None,
        }
    }

    /// Writes a checkpoint to `dir` after every epoch and resumes from it
    /// when it already holds one for the same configuration.
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// Stops after epoch `n` of this call (as if interrupted); a later call
    /// with the same checkpoint directory resumes.
    pub fn with_stop_after(mut self, n: usize) -> Self {
        self.stop_after = Some(n);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DistillConfig {
        &self.config
    }

    /// Trains `student` on `train` with `targets`, evaluating on `valid`.
    ///
    /// `student` must have been built on `device.autodiff()` (see the
    /// example); `targets` must come from
    /// [`Method::prepare`](crate::Method::prepare) on the same `train`
    /// rows. The student's output width must be `C * S` of the targets.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a bad config,
    /// [`LelpError::DimensionMismatch`] for mismatched shapes,
    /// [`LelpError::Diverged`] when the loss becomes NaN or infinite,
    /// [`LelpError::Record`] / [`LelpError::CheckpointMismatch`] for
    /// checkpoint problems.
    pub fn fit<S>(
        &self,
        student: S,
        train: &Dataset,
        targets: &PreparedTargets,
        valid: Option<&Dataset>,
        device: &Device,
    ) -> Result<Trained<S>>
    where
        S: Student,
    {
        let cfg = &self.config;
        cfg.validate()?;
        let device = device.clone().autodiff();
        let c = train.num_classes();
        let k = c * targets.subclasses;
        if student.num_outputs() != k {
            return Err(LelpError::DimensionMismatch {
                what: "student outputs vs classes x subclasses",
                expected: k,
                got: student.num_outputs(),
            });
        }
        if let Some(lt) = &targets.log_targets
            && lt.dims() != [train.len(), k]
        {
            return Err(LelpError::DimensionMismatch {
                what: "target rows vs training rows",
                expected: train.len(),
                got: lt.dims()[0],
            });
        }
        if let Some(v) = valid
            && v.num_features() != train.num_features()
        {
            return Err(LelpError::DimensionMismatch {
                what: "validation features vs training features",
                expected: train.num_features(),
                got: v.num_features(),
            });
        }
        let projector = match &targets.teacher_features {
            Some(tf) if targets.feature_weight > 0.0 => {
                let [_, d] = tf.dims();
                let e = student.embedding_dim();
                let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0x5eed);
                let k_ = 1.0 / (e as f32).sqrt();
                let w: Vec<f32> = (0..e * d).map(|_| rand::Rng::random_range(&mut rng, -k_..k_)).collect();
                Some(Linear {
                    weight: burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(w, [e, d]), &device)),
                    bias: Some(burn::module::Param::from_tensor(Tensor::zeros([d], &device))),
                })
            }
            _ => None,
        };
        let mut model = Trainee { student, projector };
        let mut optim = match cfg.optimizer {
            OptimizerKind::Adam => {
                let mut a = AdamConfig::new();
                if cfg.weight_decay > 0.0 {
                    a = a.with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)));
                }
                a.init()
            }
            OptimizerKind::Sgd { momentum } => {
                let mut s = SgdConfig::new();
                if momentum > 0.0 {
                    s = s.with_momentum(Some(MomentumConfig::new().with_momentum(momentum).with_dampening(0.0)));
                }
                if cfg.weight_decay > 0.0 {
                    s = s.with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)));
                }
                s.init()
            }
        };

        // device-resident training data, targets and one-hot labels
        let n = train.len();
        let x = train.features_tensor(&device);
        let mut onehot = vec![0.0f32; n * c];
        for (i, &l) in train.labels().iter().enumerate() {
            onehot[i * c + l] = 1.0;
        }
        let y = util::matrix(onehot, n, c, &device);
        let lt = targets
            .log_targets
            .as_ref()
            .map(|t| t.clone().to_device(&device).detach());
        let tf = targets
            .teacher_features
            .as_ref()
            .map(|t| t.clone().to_device(&device).detach());

        // resume
        let mut start_epoch = 0;
        let mut history: Vec<EpochReport> = Vec::new();
        let mut best: Option<(f64, usize)> = None;
        let mut best_model: Option<Trainee<S>> = None;
        if let Some(dir) = &self.checkpoint_dir
            && dir.join("state.json").exists()
        {
            let (m, o, st) = self.load_checkpoint(dir, model, optim)?;
            model = m;
            optim = o;
            start_epoch = st.epoch;
            history = st.history.into_iter().map(EpochReport::from).collect();
            best = st.best_accuracy.map(|a| (a, st.best_epoch));
            if cfg.restore_best && dir.join("best.bpk").exists() {
                let bm = model.clone();
                best_model = Some(bm.try_load_file(dir.join("best.bpk")).map_err(|e| LelpError::Record {
                    path: dir.join("best.bpk"),
                    message: e.to_string(),
                })?);
            }
        }

        let labels = util::indices(train.labels(), &device);
        let valid_set = valid.map(|v| EvalSet::new(v, &device.clone().without_autodiff()));
        let show_bar = cfg.progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
        let batches = n.div_ceil(cfg.batch_size);
        let mut stopped_early = false;
        for (ran, epoch) in (start_epoch..cfg.epochs).enumerate() {
            if let Some(stop) = self.stop_after
                && ran >= stop
            {
                break;
            }
            let lr = cfg.lr_at(epoch);
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut StdRng::seed_from_u64(cfg.seed.wrapping_add(epoch as u64)));
            // running sums stay on the device; they are read back once per
            // epoch (and per batch only to draw a progress bar on a terminal)
            let mut loss_acc: Option<Tensor<1>> = None;
            let mut hits_acc: Option<Tensor<1, Int>> = None;
            for (bi, chunk) in order.chunks(cfg.batch_size).enumerate() {
                let idx = util::indices(chunk, &device);
                let xb = x.clone().select(0, idx.clone());
                let yb = y.clone().select(0, idx.clone());
                let out = model.student.forward(xb);
                let mut l = match &lt {
                    Some(lt) => loss::soft_target_loss(
                        out.logits.clone(),
                        lt.clone().select(0, idx.clone()),
                        yb.clone(),
                        targets.subclasses,
                        targets.alpha,
                        targets.tau,
                    ),
                    None => loss::cross_entropy(class_logits(out.logits.clone(), c, targets.subclasses), yb.clone()),
                };
                if let (Some(tf), Some(p)) = (&tf, &model.projector) {
                    let proj = p.forward(out.embedding.clone());
                    l = l + loss::feature_loss(proj, tf.clone().select(0, idx.clone()))
                        .mul_scalar(targets.feature_weight);
                }
                let batch_loss = l.clone().detach().mul_scalar(chunk.len() as f64);
                let batch_hits = hits(
                    out.logits.detach(),
                    labels.clone().select(0, idx),
                    c,
                    targets.subclasses,
                );
                loss_acc = Some(loss_acc.map_or(batch_loss.clone(), |a| a + batch_loss));
                hits_acc = Some(hits_acc.map_or(batch_hits.clone(), |a| a + batch_hits));
                let grads = GradientsParams::from_grads(l.backward(), &model);
                model = optim.step(lr, model, grads);
                if show_bar {
                    let seen = (bi * cfg.batch_size + chunk.len()) as f64;
                    let (ls, hs) = read_sums(&loss_acc, &hits_acc)?;
                    progress_line(epoch + 1, cfg.epochs, bi + 1, batches, ls / seen, hs / seen);
                }
            }
            let (loss_sum, correct) = read_sums(&loss_acc, &hits_acc)?;
            if !loss_sum.is_finite() {
                return Err(LelpError::Diverged { epoch: epoch + 1 });
            }
            let mut report = EpochReport {
                epoch: epoch + 1,
                lr,
                train_loss: loss_sum / n as f64,
                train_accuracy: correct / n as f64,
                valid_loss: None,
                valid_accuracy: None,
            };
            if valid.is_some() {
                let v = valid_set.as_ref().expect("built when a validation set is given");
                let (vl, va) = v.evaluate(&model.student.valid(), targets.subclasses)?;
                report.valid_loss = Some(vl);
                report.valid_accuracy = Some(va);
                if best.is_none_or(|(b, _)| va > b) {
                    best = Some((va, epoch + 1));
                    if cfg.restore_best {
                        best_model = Some(model.clone());
                        if let Some(dir) = &self.checkpoint_dir {
                            save_module(model.clone(), &dir.join("best.bpk"))?;
                        }
                    }
                }
            }
            if cfg.progress {
                let mut e = std::io::stderr();
                let _ = writeln!(
                    e,
                    "\repoch {:>3}/{} lr {:.2e} loss {:.4} acc {:.4}{}",
                    epoch + 1,
                    cfg.epochs,
                    lr,
                    report.train_loss,
                    report.train_accuracy,
                    match (report.valid_loss, report.valid_accuracy) {
                        (Some(l), Some(a)) => format!(" | valid loss {l:.4} acc {a:.4}"),
                        _ => String::new(),
                    }
                );
            }
            history.push(report);
            if let Some(dir) = &self.checkpoint_dir {
                self.save_checkpoint(dir, &model, &optim, epoch + 1, &history, best)?;
            }
            if let (Some(p), Some((_, be))) = (cfg.patience, best)
                && epoch + 1 - be >= p
            {
                stopped_early = true;
                break;
            }
        }
        let final_model = match (cfg.restore_best, best_model) {
            (true, Some(b)) => b,
            _ => model,
        };
        Ok(Trained {
            student: final_model.student.valid(),
            history,
            stopped_early,
        })
    }

    fn config_text(&self) -> String {
        serde_json::to_string(&self.config.comparable()).expect("config serialises")
    }

    fn save_checkpoint<S: Student>(
        &self,
        dir: &Path,
        model: &Trainee<S>,
        optim: &burn::optim::ModuleOptimizer,
        epoch: usize,
        history: &[EpochReport],
        best: Option<(f64, usize)>,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| LelpError::io(dir, e))?;
        save_module(model.clone(), &dir.join("model.bpk"))?;
        let op = dir.join("optimizer.bpk");
        optim.save(&op).map_err(|e| LelpError::Record {
            path: op.clone(),
            message: e.to_string(),
        })?;
        let st = CheckpointState {
            format_version: CKPT_VERSION,
            config: self.config_text(),
            epoch,
            history: history.iter().map(StoredReport::from).collect(),
            best_accuracy: best.map(|b| b.0),
            best_epoch: best.map_or(0, |b| b.1),
            num_params: model.num_params(),
        };
        let sp = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&st).expect("state serialises"))
            .map_err(|e| LelpError::io(&tmp, e))?;
        std::fs::rename(&tmp, &sp).map_err(|e| LelpError::io(&sp, e))
    }

    #[allow(clippy::type_complexity)]
    fn load_checkpoint<S: Student>(
        &self,
        dir: &Path,
        model: Trainee<S>,
        optim: burn::optim::ModuleOptimizer,
    ) -> Result<(Trainee<S>, burn::optim::ModuleOptimizer, CheckpointState)> {
        let sp = dir.join("state.json");
        let text = std::fs::read_to_string(&sp).map_err(|e| LelpError::io(&sp, e))?;
        let st: CheckpointState = serde_json::from_str(&text).map_err(|e| LelpError::corrupted(&sp, e.to_string()))?;
        if st.format_version != CKPT_VERSION {
            return Err(LelpError::FormatVersion {
                path: sp,
                found: st.format_version,
                supported: CKPT_VERSION,
            });
        }
        if st.config != self.config_text() {
            return Err(LelpError::CheckpointMismatch {
                path: dir.to_path_buf(),
                reason: "the training configuration differs".into(),
            });
        }
        if st.num_params != model.num_params() {
            return Err(LelpError::CheckpointMismatch {
                path: dir.to_path_buf(),
                reason: format!(
                    "model has {} parameters, checkpoint {}",
                    model.num_params(),
                    st.num_params
                ),
            });
        }
        let mp = dir.join("model.bpk");
        let model = model.try_load_file(&mp).map_err(|e| LelpError::Record {
            path: mp.clone(),
            message: e.to_string(),
        })?;
        let op = dir.join("optimizer.bpk");
        let optim = optim.load(&op).map_err(|e| LelpError::Record {
            path: op.clone(),
            message: e.to_string(),
        })?;
        Ok((model, optim, st))
    }
}

fn save_module<M: Module>(m: M, path: &Path) -> Result<()> {
    m.save_file(path).map_err(|e| LelpError::Record {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Rows whose class argmax equals the label, as a device scalar.
fn hits(logits: Tensor<2>, labels: Tensor<1, Int>, num_classes: usize, subclasses: usize) -> Tensor<1, Int> {
    class_logits(logits, num_classes, subclasses)
        .argmax(1)
        .squeeze_dim::<1>(1)
        .equal(labels)
        .int()
        .sum()
}

/// Reads the device-side running sums (loss, hits) back to the host.
fn read_sums(loss: &Option<Tensor<1>>, hits: &Option<Tensor<1, Int>>) -> Result<(f64, f64)> {
    let l = match loss {
        Some(t) => util::to_host_f32(t.clone())?[0] as f64,
        None => 0.0,
    };
    let h = match hits {
        Some(t) => util::to_host_f32(t.clone().float())?[0] as f64,
        None => 0.0,
    };
    Ok((l, h))
}

fn progress_line(epoch: usize, epochs: usize, batch: usize, batches: usize, loss: f64, acc: f64) {
    let mut e = std::io::stderr();
    let width = 30;
    let filled = width * batch / batches.max(1);
    let _ = write!(
        e,
        "\repoch {epoch:>3}/{epochs} [{}{}] {batch}/{batches} loss {loss:.4} acc {acc:.4}",
        "=".repeat(filled),
        " ".repeat(width - filled)
    );
    let _ = e.flush();
}

const EVAL_BATCH: usize = 512;

/// A data set uploaded once for repeated evaluation.
struct EvalSet {
    x: Tensor<2>,
    one_hot: Tensor<2>,
    labels: Tensor<1, Int>,
    n: usize,
    c: usize,
}

impl EvalSet {
    fn new(data: &Dataset, device: &Device) -> Self {
        let (n, c) = (data.len(), data.num_classes());
        let mut oh = vec![0.0f32; n * c];
        for (i, &l) in data.labels().iter().enumerate() {
            oh[i * c + l] = 1.0;
        }
        Self {
            x: data.features_tensor(device),
            one_hot: util::matrix(oh, n, c, device),
            labels: util::indices(data.labels(), device),
            n,
            c,
        }
    }

    /// Mean cross-entropy of the class logits and accuracy; one read-back.
    fn evaluate<S: Student>(&self, student: &S, subclasses: usize) -> Result<(f64, f64)> {
        let mut loss_acc = None;
        let mut hits_acc = None;
        for s in (0..self.n).step_by(EVAL_BATCH) {
            let len = EVAL_BATCH.min(self.n - s);
            let z = student.forward(self.x.clone().narrow(0, s, len)).logits;
            let ce = loss::cross_entropy(
                class_logits(z.clone(), self.c, subclasses),
                self.one_hot.clone().narrow(0, s, len),
            )
            .mul_scalar(len as f64);
            let h = hits(z, self.labels.clone().narrow(0, s, len), self.c, subclasses);
            loss_acc = Some(match loss_acc {
                Some(a) => a + ce,
                None => ce,
            });
            hits_acc = Some(match hits_acc {
                Some(a) => a + h,
                None => h,
            });
        }
        let (l, h) = read_sums(&loss_acc, &hits_acc)?;
        Ok((l / self.n as f64, h / self.n as f64))
    }
}

/// Class predictions (`argmax_c l_c`) of a student on `data`, in batches.
///
/// # Errors
/// [`LelpError::Backend`] when results cannot be read back.
pub fn predict<S: Student>(student: &S, data: &Dataset, subclasses: usize, device: &Device) -> Result<Vec<usize>> {
    let c = data.num_classes();
    let x = data.features_tensor(device);
    let n = data.len();
    let mut preds = Vec::with_capacity(n);
    for s in (0..n).step_by(EVAL_BATCH) {
        let len = EVAL_BATCH.min(n - s);
        preds.push(class_logits(student.forward(x.clone().narrow(0, s, len)).logits, c, subclasses).argmax(1));
    }
    let all = util::to_host_f32(Tensor::cat(preds, 0).float())?;
    Ok(all.into_iter().map(|v| v as usize).collect())
}

/// Cross-entropy of the class logits and accuracy of a student on `data`.
///
/// # Errors
/// [`LelpError::Backend`] when results cannot be read back.
pub fn evaluate<S: Student>(student: &S, data: &Dataset, subclasses: usize, device: &Device) -> Result<(f64, f64)> {
    EvalSet::new(data, device).evaluate(student, subclasses)
}

/// Accuracy of a student on `data`.
///
/// # Errors
/// As [`evaluate`].
pub fn accuracy<S: Student>(student: &S, data: &Dataset, subclasses: usize, device: &Device) -> Result<f64> {
    Ok(evaluate(student, data, subclasses, device)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_floats_round_trip_exactly() {
        // a loss seen on wgpu that serde_json's default parser reads one ulp off
        let v = 2.5431097412109374f64;
        let plain: f64 = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_ne!(
            plain.to_bits(),
            v.to_bits(),
            "serde_json without float_roundtrip is lossy here"
        );
        let r = EpochReport {
            epoch: 2,
            lr: 3e-3,
            train_loss: v,
            train_accuracy: 0.36666666666666664,
            valid_loss: Some(v / 3.0),
            valid_accuracy: None,
        };
        let text = serde_json::to_string(&StoredReport::from(&r)).unwrap();
        let back: EpochReport = serde_json::from_str::<StoredReport>(&text).unwrap().into();
        assert_eq!(back, r);
    }
}
