//! The training loop: distil prepared targets into a student.
//!
//! [`Distiller::fit`] trains a [`Student`] (plus, for feature KD, a learned
//! projection) on a transfer set with [`TrainingTargets`] computed once. It
//! shuffles with a seed per epoch (`seed + epoch`), so a run resumed from a
//! checkpoint sees the same batches as an uninterrupted one, and seeds the
//! [`dropout`](super::dropout) masks at every step (likewise); evaluates a
//! validation set each epoch; stops early on a plateau; reports progress
//! to an [`Observer`] of the caller's choosing; and writes a checkpoint
//! (model, optimizer state, history) after every epoch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::grad_clipping::GradientClipping;
use burn::module::ParamGroup;
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, SgdConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::checkpoint::{self, Progress, Records, RunId};
use super::config::{DistillConfig, EpochReport, OptimizerKind, Trained, Trainee};
use super::eval::{DeviceRows, EvalSet, hits, multi_label_hits, read_sums};
use super::lazy::{Decay, LazyAdam, RowsHint};
use super::loss;
use super::observer::{Observer, Silent};
use super::student::{Student, class_logits, seeded_linear};
use super::targets::TrainingTargets;
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::util;

/// Runs the training loop.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Dataset;
/// use lelp::teacher::{ModuleTeacher, TeacherEncoder};
/// use lelp::train::{accuracy, DistillConfig, Distiller, LelpConfig, Method, MlpConfig};
///
/// let device = Device::default();
/// let (train, test) = Dataset::uci_digits().parity()?.split(0.3, 0)?;
/// // a teacher: an MLP trained by plain cross-entropy
/// let teacher = MlpConfig::new(64, vec![64], 2).with_seed(1).init(&device)?;
/// let plain = Method::Plain.prepare(&train, None)?;
/// let teacher = Distiller::new(DistillConfig::new(5, 3e-3)).fit(teacher, &train, &plain, None, &device)?.student;
/// let teacher = ModuleTeacher::new(teacher)?;
/// // LELP targets on a 300-row transfer set, then a small student
/// let transfer = train.sample(300, 1)?;
/// let out = teacher.encode(&transfer, 512, &device)?;
/// let targets = Method::Lelp(LelpConfig::new(4)).prepare(&transfer, Some(&out))?;
/// let student = MlpConfig::new(64, vec![16], targets.outputs()).with_seed(2).init(&device)?;
/// let trained = Distiller::new(DistillConfig::new(5, 3e-3)).fit(student, &transfer, &targets, None, &device)?;
/// assert_eq!(trained.history.len(), 5);
/// assert!(accuracy(&trained.student, &test, &device)? > 0.6);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Clone)]
pub struct Distiller {
    config: DistillConfig,
    checkpoint_dir: Option<PathBuf>,
    stop_after: Option<usize>,
    observer: Arc<Mutex<dyn Observer>>,
}

impl std::fmt::Debug for Distiller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distiller")
            .field("config", &self.config)
            .field("checkpoint_dir", &self.checkpoint_dir)
            .field("stop_after", &self.stop_after)
            .finish_non_exhaustive()
    }
}

/// The loop's state that survives a checkpoint.
struct RunState<S: Student> {
    model: Trainee<S>,
    optim: burn::optim::ModuleOptimizer,
    /// Lazy Adam's rows of the next step (the batch's token ids).
    rows_hint: Option<RowsHint>,
    start_epoch: usize,
    history: Vec<EpochReport>,
    best: Option<(f64, usize)>,
    best_model: Option<Trainee<S>>,
    stopped_early: bool,
}

/// One epoch's running sums, on the device.
#[derive(Default)]
struct Sums {
    loss: Option<Tensor<1>>,
    hits: Option<Tensor<1, Int>>,
}

impl Distiller {
    /// A distiller with `config`, no checkpoints, silent.
    pub fn new(config: DistillConfig) -> Self {
        Self {
            config,
            checkpoint_dir: None,
            stop_after: None,
            observer: Arc::new(Mutex::new(Silent)),
        }
    }

    /// Writes a checkpoint to `dir` after every epoch and resumes from it
    /// when it already holds one for the same configuration.
    #[must_use]
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// Stops after `n` epochs of this call, as if interrupted: with
    /// [`Distiller::with_checkpoints`], a later call resumes where it
    /// stopped, bit-identically. Trains in slices (a job with a time
    /// limit, a shared machine); the result equals one uninterrupted run
    /// (tests/training.rs).
    #[must_use]
    pub fn with_stop_after(mut self, n: usize) -> Self {
        self.stop_after = Some(n);
        self
    }

    /// Reports progress to `observer` (for example
    /// [`StderrProgress`](crate::train::StderrProgress)).
    #[must_use]
    pub fn with_observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Arc::new(Mutex::new(observer));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &DistillConfig {
        &self.config
    }

    fn observe(&self, f: impl FnOnce(&mut dyn Observer)) {
        if let Ok(mut o) = self.observer.lock() {
            f(&mut *o);
        }
    }

    /// Trains `student` on `train` with `targets`, evaluating on `valid`.
    ///
    /// The student may live on any device; it is moved to
    /// `device.autodiff()` for training and returned in evaluation mode.
    /// `targets` must be for `train`'s rows and classes, and the student's
    /// output width must be their `C * S`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a bad config,
    /// [`LelpError::DimensionMismatch`] / [`LelpError::InputKind`] for
    /// student, targets or data sets that do not fit together,
    /// [`LelpError::Diverged`] when the loss becomes NaN or infinite,
    /// [`LelpError::Record`] / [`LelpError::CheckpointMismatch`] for
    /// checkpoint problems.
    pub fn fit<S: Student>(
        &self,
        student: S,
        train: &Dataset,
        targets: &TrainingTargets,
        valid: Option<&Dataset>,
        device: &Device,
    ) -> Result<Trained<S>> {
        let cfg = &self.config;
        cfg.validate()?;
        check_shapes(&student, train, targets, valid)?;
        check_tables(&student, cfg)?;
        // the thread's dropout generator is put back as it was on return
        let _masks = super::DropoutScope::enter();
        let device = device.clone().autodiff();
        let student = student.fork(&device).train();
        let projector = self.projector(&student, targets, &device);
        let id = RunId {
            config: cfg,
            fingerprint: match &self.checkpoint_dir {
                // the lazy tables too: their optimizer state is only
                // restored to the same tables
                Some(_) if cfg.lazy_tables => {
                    format!(
                        "{}:{}",
                        fingerprint(train, targets)?,
                        student.embedding_tables().join(",")
                    )
                }
                Some(_) => fingerprint(train, targets)?,
                None => String::new(),
            },
        };
        let mut state = self.start(Trainee { student, projector }, &id)?;
        if state.stopped_early {
            return Ok(finish(state, cfg.restore_best));
        }
        let rows = DeviceRows::new(train, &device)?;
        let y = train.target_matrix(&device);
        let labels = util::indices(train.labels(), &device);
        let row_weights = row_weights(cfg, train, &device)?;
        // softmax targets' log-probabilities, or multi-label targets' probabilities
        let log_targets = targets
            .soft_targets()
            .map(|t| t.log_probs())
            .or(targets.bernoulli_targets())
            .map(|t| t.clone().to_device(&device).detach());
        let features = targets
            .teacher_features()
            .map(|t| t.clone().to_device(&device).detach());
        let valid_set = valid
            .map(|v| EvalSet::new(v, &device.clone().without_autodiff()))
            .transpose()?;
        let batch = BatchContext {
            rows: &rows,
            y: &y,
            labels: &labels,
            log_targets: log_targets.as_ref(),
            features: features.as_ref(),
            row_weights: row_weights.as_ref(),
            targets,
            device: &device,
        };
        for (ran, epoch) in (state.start_epoch..cfg.epochs).enumerate() {
            if self.stop_after.is_some_and(|stop| ran >= stop) {
                break;
            }
            let mut report;
            (state, report) = self.train_epoch(state, &batch, epoch, train.len())?;
            if let Some(v) = &valid_set {
                let e = v.evaluate(&state.model.student.valid())?;
                report.valid_loss = Some(e.loss);
                report.valid_accuracy = Some(e.accuracy);
                self.track_best(&mut state, e.accuracy, epoch + 1)?;
            }
            self.observe(|o| o.on_epoch(&report, cfg.epochs));
            state.history.push(report);
            let stop = matches!((cfg.patience, state.best), (Some(p), Some((_, be))) if epoch + 1 - be >= p);
            state.stopped_early = stop;
            if let Some(dir) = &self.checkpoint_dir {
                let progress = Progress {
                    epoch: epoch + 1,
                    history: &state.history,
                    best: state.best,
                    stopped_early: stop,
                };
                let records = Records {
                    model: &state.model,
                    optim: &state.optim,
                    best: state.best_model.as_ref().filter(|_| cfg.restore_best),
                };
                checkpoint::save(dir, &id, records, progress)?;
            }
            if stop {
                self.observe(|o| o.on_early_stop(epoch + 1));
                break;
            }
        }
        Ok(finish(state, cfg.restore_best))
    }

    /// Feature KD's projection `A: e -> d`, seeded from the config.
    fn projector<S: Student>(&self, student: &S, targets: &TrainingTargets, device: &Device) -> Option<Linear> {
        feature_projector(student.embedding_dim(), targets, self.config.seed, device)
    }

    /// A fresh run state, or the one a checkpoint holds.
    fn start<S: Student>(&self, model: Trainee<S>, id: &RunId<'_>) -> Result<RunState<S>> {
        let (optim, rows_hint) = optimizer(&self.config, &model.student.embedding_tables());
        let dir = self.checkpoint_dir.as_deref();
        let Some((dir, st)) = dir
            .map(|d| checkpoint::read_state(d).map(|st| st.map(|st| (d, st))))
            .transpose()?
            .flatten()
        else {
            return Ok(RunState {
                model,
                optim,
                rows_hint,
                start_epoch: 0,
                history: Vec::new(),
                best: None,
                best_model: None,
                stopped_early: false,
            });
        };
        let (model, optim, best_model) = checkpoint::load(dir, &st, id, model, optim)?;
        self.observe(|o| o.on_resume(st.epoch()));
        Ok(RunState {
            model,
            optim,
            rows_hint,
            start_epoch: st.epoch(),
            history: st.history(),
            best: st.best(),
            best_model,
            stopped_early: st.stopped_early(),
        })
    }

    /// One pass over the shuffled rows; the loss and hit sums stay on the
    /// device and are read back once. Takes the state by value: the
    /// optimizer then holds the only reference to each parameter and
    /// updates it in place where the backend can.
    fn train_epoch<S: Student>(
        &self,
        mut state: RunState<S>,
        ctx: &BatchContext<'_>,
        epoch: usize,
        n: usize,
    ) -> Result<(RunState<S>, EpochReport)> {
        let cfg = &self.config;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(cfg.seed.wrapping_add(epoch as u64)));
        let batches = n.div_ceil(cfg.batch_size);
        let lr = cfg.lr_at_step(epoch, 0, batches);
        let mut sums = Sums::default();
        for (bi, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let lr = cfg.lr_at_step(epoch, bi, batches);
            // dropout masks from (seed, epoch, batch): a fit repeats, a resumed one matches
            super::seed_dropout(step_seed(cfg.seed, epoch, bi));
            let l = ctx.step_loss(&state.model, chunk, &mut sums)?;
            let grads = GradientsParams::from_grads(l.backward(), &state.model);
            if let Some(hint) = &state.rows_hint
                && let Some(ids) = ctx.rows.token_ids(chunk)
                && let Ok(mut h) = hint.lock()
            {
                let max = ids.last().copied().unwrap_or(0);
                *h = Some((util::indices(&ids, &ctx.device.clone().without_autodiff()), max));
            }
            state.model = state.optim.step(lr, state.model, grads);
            self.observe(|o| o.on_batch(epoch + 1, cfg.epochs, bi + 1, batches));
        }
        let (loss_sum, correct) = read_sums(&sums.loss, &sums.hits)?;
        if !loss_sum.is_finite() {
            return Err(LelpError::Diverged { epoch: epoch + 1 });
        }
        let report = EpochReport {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / n as f64,
            train_accuracy: correct / n as f64,
            valid_loss: None,
            valid_accuracy: None,
        };
        Ok((state, report))
    }

    fn track_best<S: Student>(&self, state: &mut RunState<S>, accuracy: f64, epoch: usize) -> Result<()> {
        if state.best.is_some_and(|(b, _)| accuracy <= b) {
            return Ok(());
        }
        state.best = Some((accuracy, epoch));
        if self.config.restore_best {
            state.best_model = Some(state.model.clone());
        }
        Ok(())
    }
}

/// The dropout generator's seed for one training step: SplitMix64's finaliser over the run's seed, the epoch and the
/// batch, so neighbouring steps and seeds draw unrelated masks.
fn step_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    util::splitmix64(
        seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (batch as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
    )
}

/// Everything a training step reads, uploaded once per run.
struct BatchContext<'a> {
    rows: &'a DeviceRows<'a>,
    y: &'a Tensor<2>,
    labels: &'a Tensor<1, Int>,
    log_targets: Option<&'a Tensor<2>>,
    features: Option<&'a Tensor<2>>,
    row_weights: Option<&'a Tensor<2>>,
    targets: &'a TrainingTargets,
    device: &'a Device,
}

impl BatchContext<'_> {
    /// The loss of one batch (adding its detached loss and hits to `sums`).
    fn step_loss<S: Student>(&self, model: &Trainee<S>, chunk: &[usize], sums: &mut Sums) -> Result<Tensor<1>> {
        let t = self.targets;
        let (c, s) = (t.num_classes(), t.subclasses());
        let idx = util::indices(chunk, self.device);
        let out = model.student.forward(self.rows.batch(chunk, &idx)?)?;
        let yb = self.y.clone().select(0, idx.clone());
        let rows = |x: Option<&Tensor<2>>| x.map(|x| x.clone().select(0, idx.clone()));
        let batch_hits = if t.is_multi_label() {
            multi_label_hits(out.logits.clone().detach(), yb.clone())
        } else {
            hits(
                out.logits.clone().detach(),
                self.labels.clone().select(0, idx.clone()),
                c,
                s,
            )
        };
        let l = batch_loss(
            t,
            &out,
            model.projector.as_ref(),
            yb,
            rows(self.log_targets),
            rows(self.features),
            rows(self.row_weights),
        );
        let batch_loss = l.clone().detach().mul_scalar(chunk.len() as f64);
        sums.loss = Some(sums.loss.take().map_or(batch_loss.clone(), |a| a + batch_loss));
        sums.hits = Some(sums.hits.take().map_or(batch_hits.clone(), |a| a + batch_hits));
        Ok(l)
    }
}

/// The loss of one batch of `targets`' method: the soft-target loss (or
/// DKD, or cross-entropy without soft targets), plus the auxiliary, feature
/// and relational terms the targets carry. `log_targets`, `features` and
/// `row_weights` (the class weights of the rows' labels, `[N, 1]`) are the
/// batch's rows; `projector` is feature KD's. For multi-label targets,
/// `one_hot` holds each row's labels (0/1 a label) and `log_targets` the
/// teacher's per-label probabilities (not their logarithms). The per-row terms (the
/// soft-target or DKD loss, the cross-entropy, the feature term) are
/// weighted means over the rows; the batch-relational ones (RKD, Subclass
/// Distillation's auxiliary loss) are not per row and stay unweighted.
/// Shared by [`Distiller`] and the burn-train model.
pub(crate) fn batch_loss(
    t: &TrainingTargets,
    out: &super::StudentOutput,
    projector: Option<&Linear>,
    one_hot: Tensor<2>,
    log_targets: Option<Tensor<2>>,
    features: Option<Tensor<2>>,
    row_weights: Option<Tensor<2>>,
) -> Tensor<1> {
    let (c, s) = (t.num_classes(), t.subclasses());
    let w = row_weights.as_ref();
    if t.is_regression() {
        // the feature term alone (the projector exists: its weight is 1)
        if let (Some(tf), Some(p)) = (&features, projector) {
            return loss::reduce_rows(loss::feature_rows(p.forward(out.embedding.clone()), tf.clone()), w);
        }
    }
    let rows = match (log_targets, t.dkd()) {
        (probs, _) if t.is_multi_label() => match probs {
            Some(p) => loss::bernoulli_kd_rows(out.logits.clone(), one_hot, p, t.alpha(), t.tau()),
            None => loss::bce_rows(out.logits.clone(), one_hot),
        },
        (Some(lt), Some(dw)) => loss::dkd_rows(out.logits.clone(), lt, one_hot, t.tau(), dw),
        (Some(lt), None) => loss::soft_target_rows(out.logits.clone(), lt, one_hot, s, t.alpha(), t.tau()),
        (None, _) => loss::cross_entropy_rows(class_logits(out.logits.clone(), c, s), one_hot),
    };
    let mut l = loss::reduce_rows(rows, w);
    if let Some((weight, temperature)) = t.subclass_aux() {
        l = l + loss::subclass_aux_loss(out.logits.clone(), temperature).mul_scalar(weight);
    }
    if let (Some(tf), Some(p)) = (&features, projector) {
        let proj = p.forward(out.embedding.clone());
        l = l + loss::reduce_rows(loss::feature_rows(proj, tf.clone()), w).mul_scalar(t.feature_weight());
    }
    if let (Some(th), Some((dist, angle))) = (features, t.relational()) {
        if dist > 0.0 {
            l = l + loss::rkd_distance_loss(out.embedding.clone(), th.clone()).mul_scalar(dist);
        }
        if angle > 0.0 {
            l = l + loss::rkd_angle_loss(out.embedding.clone(), th).mul_scalar(angle);
        }
    }
    l
}

/// The class weight of each training row's label, `[N, 1]` (none without
/// class weights).
///
/// # Errors
/// [`LelpError::InvalidParameter`] when the weights are not one a class.
fn row_weights(cfg: &DistillConfig, train: &Dataset, device: &Device) -> Result<Option<Tensor<2>>> {
    let Some(w) = &cfg.class_weights else {
        return Ok(None);
    };
    if train.is_multi_label() {
        return Err(LelpError::InvalidParameter {
            name: "class_weights",
            value: format!("{} weights", w.len()),
            reason: "class weights weigh a row by its one label; multi-label data has none \
                     (its per-label thresholds answer imbalance)",
        });
    }
    if w.len() != train.num_classes() {
        return Err(LelpError::InvalidParameter {
            name: "class_weights",
            value: format!("{} weights", w.len()),
            reason: "one weight a class of the training data",
        });
    }
    let rows: Vec<f32> = train.labels().iter().map(|&l| w[l] as f32).collect();
    let n = rows.len();
    Ok(Some(Tensor::<1>::from_floats(rows.as_slice(), device).reshape([n, 1])))
}

/// Feature KD's projection `A: e -> d` (None unless the targets carry a
/// feature term), seeded: zero bias, weights from `seed`.
pub(crate) fn feature_projector(
    embedding_dim: usize,
    targets: &TrainingTargets,
    seed: u64,
    device: &Device,
) -> Option<Linear> {
    let tf = targets.teacher_features().filter(|_| targets.feature_weight() > 0.0)?;
    let [_, d] = tf.dims();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut p = seeded_linear(embedding_dim, d, &mut rng, device);
    // the projection starts with no offset
    p.bias = Some(burn::module::Param::from_tensor(Tensor::zeros([d], device)));
    Some(p)
}

/// The checks that keep mismatched inputs a typed error.
pub(crate) fn check_shapes<S: Student>(
    student: &S,
    train: &Dataset,
    targets: &TrainingTargets,
    valid: Option<&Dataset>,
) -> Result<()> {
    targets.check_data(train)?;
    if student.num_outputs() != targets.outputs() {
        return Err(LelpError::DimensionMismatch {
            what: "student outputs vs classes x subclasses",
            expected: targets.outputs(),
            got: student.num_outputs(),
        });
    }
    match valid {
        Some(v) => check_validation(train, v),
        None => Ok(()),
    }
}

/// With [`DistillConfig::lazy_tables`], every table the student names
/// must be one of its parameters (a misspelt path would train densely
/// without a word).
pub(crate) fn check_tables<S: Student>(student: &S, cfg: &DistillConfig) -> Result<()> {
    let tables = student.embedding_tables();
    if !cfg.lazy_tables || tables.is_empty() {
        return Ok(());
    }
    let mut paths = ParamPaths::default();
    student.visit(&mut paths);
    match tables.into_iter().find(|t| !paths.found.contains(t)) {
        Some(missing) => Err(LelpError::InvalidParameter {
            name: "Student::embedding_tables",
            value: missing,
            reason: "not a float parameter path of the student (e.g. \"embed.weight\")",
        }),
        None => Ok(()),
    }
}

/// The dotted paths of a module's float parameters.
#[derive(Default)]
struct ParamPaths {
    stack: Vec<String>,
    found: Vec<String>,
}

impl burn::module::ModuleVisitor for ParamPaths {
    fn visit_float<const D: usize>(&mut self, _param: &burn::module::Param<Tensor<D>>) {
        self.found.push(self.stack.join("."));
    }
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }
}

/// A validation set must have the training set's classes and inputs.
pub(crate) fn check_validation(train: &Dataset, valid: &Dataset) -> Result<()> {
    if valid.num_classes() != train.num_classes() {
        return Err(LelpError::DimensionMismatch {
            what: "validation classes vs training classes",
            expected: train.num_classes(),
            got: valid.num_classes(),
        });
    }
    if valid.input_kind() != train.input_kind() {
        return Err(LelpError::InputKind {
            expected: train.input_kind(),
            got: valid.input_kind(),
        });
    }
    if valid.input_kind() == crate::data::InputKind::Dense && valid.num_features() != train.num_features() {
        return Err(LelpError::DimensionMismatch {
            what: "validation features vs training features",
            expected: train.num_features(),
            got: valid.num_features(),
        });
    }
    Ok(())
}

/// FNV-1a of what a run trains on: rows, labels, soft targets, loss
/// weights. A checkpoint of another run is refused on resume.
fn fingerprint(train: &Dataset, targets: &TrainingTargets) -> Result<String> {
    use crate::data::Features;
    let mut h = util::Fnv64::default();
    for &l in train.labels() {
        h.update(&(l as u64).to_le_bytes());
    }
    for set in train.label_sets().unwrap_or_default() {
        h.update(&(set.len() as u64).to_le_bytes());
        for &l in set {
            h.update(&(l as u64).to_le_bytes());
        }
    }
    match train.features() {
        Features::Dense { values, width } => {
            h.update(&(*width as u64).to_le_bytes());
            for v in values {
                h.update(&v.to_le_bytes());
            }
        }
        Features::Tokens { sequences } => {
            for s in sequences {
                h.update(&(s.len() as u64).to_le_bytes());
                for t in s {
                    h.update(&t.to_le_bytes());
                }
            }
        }
    }
    for x in targets.loss_weights() {
        h.update(&x.to_le_bytes());
    }
    h.update(&(targets.outputs() as u64).to_le_bytes());
    if let Some(t) = targets.soft_targets() {
        for v in util::to_host_f32(t.log_probs().clone())? {
            h.update(&v.to_le_bytes());
        }
    }
    if let Some(p) = targets.bernoulli_targets() {
        for v in util::to_host_f32(p.clone())? {
            h.update(&v.to_le_bytes());
        }
    }
    if let Some(f) = targets.teacher_features() {
        for d in f.dims() {
            h.update(&(d as u64).to_le_bytes());
        }
    }
    Ok(format!("{:016x}", h.finish()))
}

/// The optimizer of `cfg`; with [`DistillConfig::lazy_tables`] and Adam or
/// AdamW, lazy Adam on the student's `tables` (paths relative to the
/// student, which is the `student` field of the trained module).
/// With lazy Adam, also the handle through which the trainer names each
/// step's rows.
pub(crate) fn optimizer(cfg: &DistillConfig, tables: &[String]) -> (burn::optim::ModuleOptimizer, Option<RowsHint>) {
    let optim = dense_optimizer(cfg);
    let decay = match cfg.optimizer {
        _ if !cfg.lazy_tables || tables.is_empty() => return (optim, None),
        OptimizerKind::Adam if cfg.weight_decay > 0.0 => Decay::L2(cfg.weight_decay as f32),
        OptimizerKind::Adam => Decay::None,
        OptimizerKind::AdamW => Decay::Decoupled(cfg.weight_decay as f32),
        OptimizerKind::Sgd { .. } => return (optim, None),
    };
    let paths: Vec<String> = tables.iter().map(|t| format!("student.{t}")).collect();
    let clip = cfg.grad_clip.map(|c| GradientClipping::Norm(c as f32));
    let lazy = LazyAdam::new(decay);
    let rows = lazy.rows.clone();
    (optim.with_group(ParamGroup::from_paths(paths), lazy, clip), Some(rows))
}

fn dense_optimizer(cfg: &DistillConfig) -> burn::optim::ModuleOptimizer {
    let decay = (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32));
    let clip = cfg
        .grad_clip
        .map(|c| burn::grad_clipping::GradientClippingConfig::Norm(c as f32));
    match cfg.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_weight_decay(decay)
            .with_grad_clipping(clip)
            .init(),
        OptimizerKind::AdamW => burn::optim::AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
        OptimizerKind::Sgd { momentum } => {
            let m = (momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0));
            SgdConfig::new()
                .with_momentum(m)
                .with_weight_decay(decay)
                .with_gradient_clipping(clip)
                .init()
        }
    }
}

fn finish<S: Student>(state: RunState<S>, restore_best: bool) -> Trained<S> {
    let model = match (restore_best, state.best_model) {
        (true, Some(b)) => b,
        _ => state.model,
    };
    Trained {
        student: model.student.valid(),
        history: state.history,
        stopped_early: state.stopped_early,
        best_epoch: state.best.map(|(_, epoch)| epoch),
    }
}
