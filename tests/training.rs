//! Losses and the training loop: the soft-target loss equals a host
//! computation; autodiff gradients agree with finite differences for every
//! loss; a run resumed from a checkpoint ends with the same weights as an
//! uninterrupted one; training actually learns; every method trains.

mod common;

use burn::prelude::*;
use common::{check_gradient, device, host, pseudo, rows};
use lelp::LelpError;
use lelp::data::{Dataset, Inputs, TokenBatch};
use lelp::labeler::{LabelerInput, OracleLabeler, PseudoLabeler};
use lelp::teacher::{ModuleTeacher, TeacherEncoder, TeacherOutput};
use lelp::train::loss::{cross_entropy, feature_loss, kl_divergence, soft_target_loss};
use lelp::train::{
    Bag, BagConfig, CnnConfig, DistillConfig, Distiller, FeatureKdConfig, KdConfig, LelpConfig, LrSchedule, Method,
    MlpConfig, OptimizerKind, Student, TrainingTargets, accuracy,
};

#[test]
fn soft_target_loss_equals_a_host_computation() {
    let device = device();
    let (n, c, s) = (8, 2, 3);
    let k = c * s;
    let z = pseudo(n * k, 1);
    let lq = pseudo(n * k, 2);
    // log q: a normalised row from arbitrary numbers, one exact zero
    let mut log_q = vec![0.0f64; n * k];
    for r in 0..n {
        let row = &lq[r * k..(r + 1) * k];
        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        for j in 0..k {
            log_q[r * k + j] = row[j] as f64 - lse;
        }
    }
    log_q[3] = f64::NEG_INFINITY;
    let renorm = (0..k).filter(|&j| j != 3).map(|j| log_q[j].exp()).sum::<f64>().ln();
    for v in &mut log_q[..k] {
        *v -= renorm;
    }
    let labels: Vec<usize> = (0..n).map(|i| (i * 7) % c).collect();
    for (alpha, tau) in [(0.0, 2.0), (0.3, 1.0), (1.0, 4.0)] {
        // host, f64: alpha CE(y, softmax(logsumexp_s z)) + (1-alpha) tau^2 KL(q || softmax(z/tau))
        let mut want = 0.0;
        for r in 0..n {
            let zr: Vec<f64> = z[r * k..(r + 1) * k].iter().map(|&v| v as f64).collect();
            let zt: Vec<f64> = zr.iter().map(|v| v / tau).collect();
            let m = zt.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + zt.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let kl: f64 = (0..k)
                .filter(|&j| log_q[r * k + j].is_finite())
                .map(|j| log_q[r * k + j].exp() * (log_q[r * k + j] - (zt[j] - lse)))
                .sum();
            let l: Vec<f64> = (0..c)
                .map(|cl| zr[cl * s..(cl + 1) * s].iter().map(|v| v.exp()).sum::<f64>().ln())
                .collect();
            let ml = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lsel = ml + l.iter().map(|v| (v - ml).exp()).sum::<f64>().ln();
            let ce = -(l[labels[r]] - lsel);
            want += alpha * ce + (1.0 - alpha) * tau * tau * kl;
        }
        want /= n as f64;
        let lq32: Vec<f32> = log_q.iter().map(|&v| v as f32).collect();
        let mut oh = vec![0.0; n * c];
        for (i, &l) in labels.iter().enumerate() {
            oh[i * c + l] = 1.0;
        }
        let got = host(soft_target_loss(
            rows(z.clone(), n, k, &device),
            rows(lq32, n, k, &device),
            rows(oh, n, c, &device),
            s,
            alpha,
            tau,
        ))[0];
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
            "alpha {alpha} tau {tau}: {got} vs {want}"
        );
    }
}

#[test]
fn gradients_of_every_loss_match_finite_differences() {
    let device = device().autodiff();
    let (n, c, s) = (4, 2, 3);
    let k = c * s;
    let targets = burn::tensor::activation::log_softmax(rows(pseudo(n * k, 9), n, k, &device), 1).detach();
    let mut oh = vec![0.0; n * c];
    for i in 0..n {
        oh[i * c + i % c] = 1.0;
    }
    let y = rows(oh, n, c, &device);
    let z0 = pseudo(n * k, 4);
    // LELP's soft-target loss with a CE term (exercises logsumexp class logits)
    let (t, yy) = (targets.clone(), y.clone());
    check_gradient(
        move |z| soft_target_loss(z, t.clone(), yy.clone(), s, 0.3, 2.0),
        z0.clone(),
        n,
        k,
    );
    // KL alone, with a zero-probability target (oracle-style -inf)
    let mut lt = host(targets.clone()).into_iter().map(|v| v as f32).collect::<Vec<_>>();
    lt[1] = f32::NEG_INFINITY;
    let lt = rows(lt, n, k, &device);
    check_gradient(move |z| kl_divergence(z, lt.clone(), 1.5), z0.clone(), n, k);
    // vanilla KD (S = 1)
    let kd_t = burn::tensor::activation::log_softmax(rows(pseudo(n * c, 5), n, c, &device), 1).detach();
    let yy = y.clone();
    check_gradient(
        move |z| soft_target_loss(z, kd_t.clone(), yy.clone(), 1, 0.5, 3.0),
        pseudo(n * c, 6),
        n,
        c,
    );
    // plain cross-entropy
    check_gradient(move |z| cross_entropy(z, y.clone()), pseudo(n * c, 7), n, c);
    // feature term
    let tf = rows(pseudo(n * 5, 8), n, 5, &device);
    check_gradient(move |e| feature_loss(e, tf.clone()), pseudo(n * 5, 10), n, 5);
}

#[test]
fn zero_probability_targets_give_finite_loss() {
    let device = device();
    let data = Dataset::uci_digits()
        .parity()
        .unwrap()
        .subset(&(0..40).collect::<Vec<_>>())
        .unwrap();
    let teacher = TeacherOutput::new(
        rows(pseudo(40 * 3, 1), 40, 3, &device),
        rows(pseudo(80, 2), 40, 2, &device),
    )
    .unwrap();
    let t = Method::Oracle(KdConfig::new().with_tau(1.0))
        .prepare(&data, Some(&teacher))
        .unwrap();
    let lt = t.soft_targets().unwrap().log_probs().clone();
    assert!(
        host(lt.clone()).iter().any(|v| v.is_infinite()),
        "oracle targets have exact zeros"
    );
    let z = rows(pseudo(40 * 10, 3), 40, 10, &device);
    let y = rows(vec![0.5; 80], 40, 2, &device);
    let l = host(soft_target_loss(z, lt, y, 5, 0.0, 1.0))[0];
    assert!(l.is_finite() && l > 0.0, "loss {l}");
}

fn small_setup() -> (Dataset, Dataset) {
    let data = Dataset::uci_digits().parity().unwrap();
    let (train, test) = data.split(0.3, 0).unwrap();
    (train.sample(300, 1).unwrap(), test)
}

/// The network as a function: its logits and embedding on fixed inputs
/// (equal weights give bit-identical outputs).
fn fingerprint<S: Student>(s: &S, data: &Dataset) -> Vec<f64> {
    let out = s
        .forward(Inputs::Dense(data.features_tensor(&device()).unwrap()))
        .unwrap();
    let mut v = host(out.logits);
    v.extend(host(out.embedding));
    v
}

#[test]
fn resumed_training_ends_with_the_same_weights() {
    let device = device();
    let (train, _) = small_setup();
    let teacher_net = MlpConfig::new(64, vec![32], 2).with_seed(3).init(&device).unwrap();
    let out = ModuleTeacher::new(teacher_net)
        .unwrap()
        .encode(&train, 128, &device)
        .unwrap();
    let method = Method::Lelp(LelpConfig::new(3));
    let targets = method.prepare(&train, Some(&out)).unwrap();
    let cfg = DistillConfig::new(4, 1e-2).with_batch_size(50).with_seed(5);
    let student = || {
        MlpConfig::new(64, vec![16], 6)
            .with_seed(9)
            .init(&device.clone().autodiff())
            .unwrap()
    };

    let full = Distiller::new(cfg.clone())
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    let dir = common::tempdir("resume");
    let part = Distiller::new(cfg.clone())
        .with_checkpoints(&dir)
        .with_stop_after(2)
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    assert_eq!(part.history.len(), 2);
    let folder = dir.join("epoch-000002");
    assert!(folder.join("model.bpk").exists() && folder.join("optimizer.bpk").exists());
    assert_eq!(lelp::train::CheckpointInfo::read(&dir).unwrap().unwrap().epoch, 2);
    let resumed = Distiller::new(cfg.clone())
        .with_checkpoints(&dir)
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    assert_eq!(resumed.history.len(), 4);
    assert_eq!(resumed.history, full.history);
    assert_eq!(
        fingerprint(&resumed.student, &train),
        fingerprint(&full.student, &train),
        "resumed weights equal uninterrupted weights"
    );
    assert_ne!(
        fingerprint(&part.student, &train),
        fingerprint(&full.student, &train),
        "the interrupted run differs"
    );
    // a checkpoint of another configuration is refused
    let other = Distiller::new(cfg.with_seed(6))
        .with_checkpoints(&dir)
        .fit(student(), &train, &targets, None, &device);
    assert!(matches!(other, Err(LelpError::CheckpointMismatch { .. })));
}

#[test]
fn lazy_tables_resume_exactly_and_differ_from_dense_adam() {
    let device = device();
    // token rows: a bag whose table rows are read by a few batches each
    let seqs: Vec<Vec<u32>> = (0..120u32)
        .map(|i| vec![i % 50, (i * 7) % 97, (i * 13 + 5) % 200])
        .collect();
    let labels: Vec<usize> = (0..120).map(|i| usize::from(i % 50 < 25)).collect();
    let train = Dataset::from_tokens(seqs, labels, 2).unwrap();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let cfg = DistillConfig::new(4, 2e-2)
        .with_batch_size(16)
        .with_seed(2)
        .with_lazy_tables(true);
    let student = || BagConfig::new(256, 2).with_dim(4).with_seed(7).init(&device).unwrap();
    // every table row seen through the head: one-token inputs 0..256
    let probe: Vec<[u32; 1]> = (0..256u32).map(|i| [i]).collect();
    let probe: Vec<&[u32]> = probe.iter().map(|p| &p[..]).collect();
    let logits = |s: &Bag| {
        let batch = TokenBatch::from_sequences(&probe, 8, &device).unwrap();
        host(s.forward(Inputs::Tokens(batch)).unwrap().logits)
    };
    let full = Distiller::new(cfg.clone())
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    let dir = common::tempdir("resume-lazy");
    Distiller::new(cfg.clone())
        .with_checkpoints(&dir)
        .with_stop_after(2)
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    let resumed = Distiller::new(cfg.clone())
        .with_checkpoints(&dir)
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    assert_eq!(
        resumed.history, full.history,
        "lazy Adam's state survives the checkpoint"
    );
    assert_eq!(logits(&resumed.student), logits(&full.student));
    let dense = Distiller::new(cfg.with_lazy_tables(false))
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    assert_ne!(
        logits(&dense.student),
        logits(&full.student),
        "lazy and dense Adam take different steps"
    );
}

/// A bag inside another module: its table's path is `bag.embed.weight`.
#[derive(Module, Debug)]
struct Wrapped {
    bag: Bag,
    table: String,
}

impl Student for Wrapped {
    fn forward(&self, inputs: Inputs) -> lelp::Result<lelp::train::StudentOutput> {
        self.bag.forward(inputs)
    }
    fn num_outputs(&self) -> usize {
        self.bag.num_outputs()
    }
    fn embedding_dim(&self) -> usize {
        self.bag.embedding_dim()
    }
    fn embedding_tables(&self) -> Vec<String> {
        vec![self.table.clone()]
    }
}

#[test]
fn a_lazy_table_that_is_not_a_parameter_is_a_typed_error() {
    let device = device();
    let train = Dataset::from_tokens((0..20u32).map(|i| vec![i, i + 1]).collect(), [0, 1].repeat(10), 2).unwrap();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let cfg = DistillConfig::new(1, 1e-2).with_lazy_tables(true);
    let fit = |table: &str| {
        let bag = BagConfig::new(32, 2).with_dim(4).init(&device).unwrap();
        let s = Wrapped {
            bag,
            table: table.into(),
        };
        Distiller::new(cfg.clone()).fit(s, &train, &targets, None, &device)
    };
    assert!(matches!(
        fit("embed.weight"),
        Err(LelpError::InvalidParameter {
            name: "Student::embedding_tables",
            ..
        })
    ));
    assert!(fit("bag.embed.weight").is_ok());
}

#[test]
fn training_learns_and_early_stopping_stops() {
    let device = device();
    let (train, test) = small_setup();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let student = MlpConfig::new(64, vec![32], 2)
        .with_seed(1)
        .init(&device.clone().autodiff())
        .unwrap();
    let before = accuracy(&student.valid(), &test, &device).unwrap();
    let cfg = DistillConfig::new(40, 1e-2)
        .with_batch_size(32)
        .with_patience(3)
        .with_restore_best(true);
    let dir = common::tempdir("early");
    let trained = Distiller::new(cfg.clone())
        .with_checkpoints(&dir)
        .fit(student, &train, &targets, Some(&test), &device)
        .unwrap();
    let after = accuracy(&trained.student, &test, &device).unwrap();
    assert!(after > 0.85 && after > before + 0.2, "accuracy {before} -> {after}");
    let best = trained
        .history
        .iter()
        .filter_map(|r| r.valid_accuracy)
        .fold(0.0, f64::max);
    assert!(
        (after - best).abs() < 1e-12,
        "restore_best returns the best epoch's weights"
    );
    // validation accuracy plateaus on 300 examples well before 40 epochs
    assert!(
        trained.stopped_early && trained.history.len() < 40,
        "ran {} epochs",
        trained.history.len()
    );
    let best_epoch = trained
        .history
        .iter()
        .position(|r| r.valid_accuracy == Some(best))
        .unwrap()
        + 1;
    assert_eq!(trained.best_epoch, Some(best_epoch), "the first of the best epochs");
    assert_eq!(
        trained.history.len(),
        best_epoch + 3,
        "stops `patience` epochs after the best one"
    );
    // a finished early-stopped run is not trained again from its checkpoint
    let again = Distiller::new(cfg)
        .with_checkpoints(&dir)
        .fit(
            MlpConfig::new(64, vec![32], 2).with_seed(1).init(&device).unwrap(),
            &train,
            &targets,
            Some(&test),
            &device,
        )
        .unwrap();
    assert!(again.stopped_early);
    assert_eq!(again.history, trained.history);
    assert_eq!(accuracy(&again.student, &test, &device).unwrap(), after);
}

#[test]
fn student_output_width_must_match_the_method() {
    let device = device();
    let (train, _) = small_setup();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let student = MlpConfig::new(64, vec![8], 5).init(&device.clone().autodiff()).unwrap();
    let e = Distiller::new(DistillConfig::new(1, 1e-2)).fit(student, &train, &targets, None, &device);
    assert!(matches!(
        e,
        Err(LelpError::DimensionMismatch {
            expected: 2,
            got: 5,
            ..
        })
    ));
}

#[test]
fn feature_kd_term_is_learned_across_different_widths() {
    let device = device();
    let (train, _) = small_setup();
    // the teacher embedding is a fixed random 48-d function of the input
    let x = train.features_tensor(&device).unwrap();
    let proj = rows(pseudo(64 * 48, 11), 64, 48, &device);
    let teacher = TeacherOutput::new(x.matmul(proj).tanh(), rows(pseudo(600, 2), 300, 2, &device)).unwrap();
    let with = |w: f64| {
        let targets = Method::FeatureKd(FeatureKdConfig::new().with_weight(w))
            .prepare(&train, Some(&teacher))
            .unwrap();
        let student = MlpConfig::new(64, vec![8], 2).with_seed(2).init(&device).unwrap();
        let cfg = DistillConfig::new(8, 1e-2).with_batch_size(32);
        Distiller::new(cfg)
            .fit(student, &train, &targets, None, &device)
            .unwrap()
            .history
    };
    let (kd_only, feat) = (with(0.0), with(1.0));
    assert_eq!(feat.len(), 8);
    // the feature term adds a positive MSE to the same KD loss...
    assert!(feat[0].train_loss > kd_only[0].train_loss + 1e-3);
    // ...which the learned projection then drives down
    let gap = |h: &[lelp::train::EpochReport], e: usize| h[e].train_loss;
    assert!(
        gap(&feat, 7) - gap(&kd_only, 7) < 0.8 * (gap(&feat, 0) - gap(&kd_only, 0)),
        "feature term {:.4} -> {:.4}",
        gap(&feat, 0) - gap(&kd_only, 0),
        gap(&feat, 7) - gap(&kd_only, 7)
    );
}

#[test]
fn embedding_regression_moves_the_embedding_towards_the_teacher_and_never_the_head() {
    let device = device();
    let (train, test) = small_setup();
    // the teacher's view: a fixed random 48-d function of the input
    let x = train.features_tensor(&device).unwrap();
    let h = x.clone().matmul(rows(pseudo(64 * 48, 11), 64, 48, &device)).tanh();
    let stage1 = TrainingTargets::embedding_regression(2, 1, h).unwrap();
    assert!(stage1.is_regression());
    assert_eq!((stage1.outputs(), stage1.len()), (2, 300));
    let student = MlpConfig::new(64, vec![8], 2).with_seed(2).init(&device).unwrap();
    let head = |s: &lelp::train::Mlp| {
        let t = ModuleTeacher::new(s.clone()).unwrap();
        let h = t.head().unwrap();
        (h.weight().to_vec(), h.bias().to_vec())
    };
    let embedding = |s: &lelp::train::Mlp| host(s.forward(Inputs::Dense(x.clone())).unwrap().embedding);
    let (before, body_before) = (head(&student), embedding(&student));
    let cfg = DistillConfig::new(12, 1e-2).with_batch_size(32);
    let fit = Distiller::new(cfg.clone())
        .fit(student, &train, &stage1, None, &device)
        .unwrap();
    // the loss is the projection's error alone, and it falls...
    let loss: Vec<f64> = fit.history.iter().map(|r| r.train_loss).collect();
    assert!(loss[11] < 0.5 * loss[0], "regression loss {loss:?}");
    // ...the student's body moves (not only the map A)...
    let moved = embedding(&fit.student)
        .iter()
        .zip(&body_before)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved > 1e-2, "the embedding moved by {moved}");
    // ...while no gradient reaches the head: Adam leaves it bit for bit
    assert_eq!(head(&fit.student), before);
    // the regressed student then learns the task from there
    let task = Method::Plain.prepare(&train, None).unwrap();
    let trained = Distiller::new(cfg)
        .fit(fit.student, &train, &task, None, &device)
        .unwrap();
    assert!(accuracy(&trained.student, &test, &device).unwrap() > 0.8);
    // typed errors, never a panic, for features that cannot be regressed
    for bad in [
        Tensor::<2>::zeros([4, 3], &device),
        Tensor::<2>::from_data(TensorData::new(vec![f32::NAN; 6], [2, 3]), &device),
    ] {
        assert!(matches!(
            TrainingTargets::embedding_regression(2, 1, bad),
            Err(LelpError::InvalidParameter { name: "features", .. })
        ));
    }
    assert!(matches!(
        TrainingTargets::embedding_regression(2, 1, Tensor::<2>::zeros([0, 3], &device)),
        Err(LelpError::EmptyData { .. })
    ));
    assert!(matches!(
        TrainingTargets::embedding_regression(2, 0, Tensor::<2>::ones([4, 3], &device)),
        Err(LelpError::InvalidParameter { name: "subclasses", .. })
    ));
    assert!(matches!(
        TrainingTargets::embedding_regression(2, 1, Tensor::<2>::zeros([4, 0], &device)),
        Err(LelpError::EmptyData { .. })
    ));
    // a LELP student (C * S outputs) regresses too, and keeps its width
    let h = x.clone().matmul(rows(pseudo(64 * 5, 12), 64, 5, &device));
    let wide = TrainingTargets::embedding_regression(2, 4, h).unwrap();
    assert_eq!((wide.subclasses(), wide.outputs()), (4, 8));
    let lelp_student = MlpConfig::new(64, vec![8], 8).with_seed(3).init(&device).unwrap();
    let fit = Distiller::new(DistillConfig::new(1, 1e-2)).fit(lelp_student, &train, &wide, None, &device);
    assert_eq!(fit.unwrap().student.num_outputs(), 8);
    // the stage is the feature term alone: no other term is added to it
    let teacher = TeacherOutput::new(x, rows(pseudo(600, 2), 300, 2, &device)).unwrap();
    assert!(matches!(
        wide.with_features(&teacher, 0.0),
        Err(LelpError::InvalidParameter { name: "targets", .. })
    ));
}

#[test]
fn cnn_student_learns_digits_and_exposes_its_head() {
    let device = device();
    let (train, test) = small_setup();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let cnn = CnnConfig::new(8, 8, 2)
        .with_channels([4, 8])
        .with_hidden(16)
        .with_seed(2)
        .init(&device.clone().autodiff())
        .unwrap();
    let out = cnn
        .forward(Inputs::Dense(
            train.features_tensor(&device.clone().autodiff()).unwrap(),
        ))
        .unwrap();
    assert_eq!(out.logits.dims(), [300, 2]);
    assert_eq!(out.embedding.dims(), [300, 16]);
    let cfg = DistillConfig::new(15, 1e-2).with_batch_size(32);
    let trained = Distiller::new(cfg).fit(cnn, &train, &targets, None, &device).unwrap();
    let acc = accuracy(&trained.student, &test, &device).unwrap();
    assert!(acc > 0.8, "CNN accuracy {acc}");
    let teacher = ModuleTeacher::new(trained.student).unwrap();
    let head = teacher.head().unwrap();
    assert_eq!((head.num_classes(), head.embedding_dim()), (2, 16));
    assert!(matches!(
        CnnConfig::new(2, 2, 2).init(&device),
        Err(LelpError::InvalidParameter { .. })
    ));
}

#[test]
fn learning_rate_schedules() {
    let cfg = DistillConfig::new(11, 0.1);
    assert_eq!(cfg.lr_at(7), 0.1);
    let cos = cfg.clone().with_schedule(LrSchedule::Cosine { final_fraction: 0.1 });
    assert!((cos.lr_at(0) - 0.1).abs() < 1e-12);
    assert!((cos.lr_at(5) - 0.055).abs() < 1e-12);
    assert!((cos.lr_at(10) - 0.01).abs() < 1e-12);
    let step = cfg.with_schedule(LrSchedule::Step { every: 4, gamma: 0.5 });
    assert_eq!((step.lr_at(3), step.lr_at(4), step.lr_at(9)), (0.1, 0.05, 0.025));
}

/// BERT's per-step warm-up and linear decay equal Hugging Face's
/// `get_linear_schedule_with_warmup` (tests/data/lr_schedule/reference.py),
/// the Distiller reports the rate of each epoch's first step, and a
/// warm-up fraction outside [0, 1) is refused.
#[test]
fn warmup_then_linear_decay_equals_hugging_face() {
    let path = common::data_path("lr_schedule", "expected.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for case in v["cases"].as_array().unwrap() {
        let (epochs, batches) = (
            case["epochs"].as_u64().unwrap() as usize,
            case["batches"].as_u64().unwrap() as usize,
        );
        let cfg = DistillConfig::new(epochs, case["lr"].as_f64().unwrap()).with_schedule(LrSchedule::WarmupLinear {
            warmup: case["warmup"].as_f64().unwrap(),
        });
        let want: Vec<f64> = case["lrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(want.len(), epochs * batches);
        for (s, w) in want.iter().enumerate() {
            let got = cfg.lr_at_step(s / batches, s % batches, batches);
            assert!(
                (got - w).abs() <= 1e-12 * w.abs().max(1e-3),
                "{case}: step {s}: {got} vs {w}"
            );
        }
    }
    // the Distiller steps it: 300 rows in batches of 100, 4 epochs, 3 warm-up steps of 12
    let device = device();
    let (train, _) = small_setup();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let student = MlpConfig::new(64, vec![8], 2)
        .with_seed(2)
        .init(&device.clone().autodiff())
        .unwrap();
    let cfg = DistillConfig::new(4, 0.01)
        .with_batch_size(100)
        .with_schedule(LrSchedule::WarmupLinear { warmup: 0.25 });
    let trained = Distiller::new(cfg.clone())
        .fit(student, &train, &targets, None, &device)
        .unwrap();
    let reported: Vec<f64> = trained.history.iter().map(|r| r.lr).collect();
    let want: Vec<f64> = (0..4).map(|e| cfg.lr_at_step(e, 0, 3)).collect();
    assert_eq!(reported, want);
    assert_eq!(reported[0], 0.0);
    assert!((reported[1] - 0.01).abs() < 1e-15, "epoch 2 starts at step 3, the peak");
    for bad in [-0.1, 1.0, f64::NAN] {
        let cfg = DistillConfig::new(2, 0.1).with_schedule(LrSchedule::WarmupLinear { warmup: bad });
        assert!(matches!(
            cfg.validate(),
            Err(LelpError::InvalidParameter { name: "warmup", .. })
        ));
    }
}

#[test]
fn sgd_with_momentum_trains_too() {
    let device = device();
    let (train, test) = small_setup();
    let targets = Method::VanillaKd(KdConfig::new().with_alpha(0.5))
        .prepare(
            &train,
            Some(
                &TeacherOutput::new(
                    train.features_tensor(&device).unwrap(),
                    // a perfect teacher's logits: +-3 by label
                    rows(
                        train
                            .labels()
                            .iter()
                            .flat_map(|&l| if l == 0 { [3.0, 0.0] } else { [0.0, 3.0] })
                            .collect(),
                        300,
                        2,
                        &device,
                    ),
                )
                .unwrap(),
            ),
        )
        .unwrap();
    let student = MlpConfig::new(64, vec![32], 2)
        .with_seed(4)
        .init(&device.clone().autodiff())
        .unwrap();
    let cfg = DistillConfig::new(30, 0.05)
        .with_optimizer(OptimizerKind::Sgd { momentum: 0.9 })
        .with_schedule(LrSchedule::Cosine { final_fraction: 0.1 })
        .with_batch_size(32);
    let trained = Distiller::new(cfg)
        .fit(student, &train, &targets, None, &device)
        .unwrap();
    let acc = accuracy(&trained.student, &test, &device).unwrap();
    assert!(acc > 0.85, "SGD accuracy {acc}");
    assert!(trained.history.last().unwrap().train_loss < trained.history[0].train_loss);
}

#[test]
fn a_diverging_run_is_reported_not_returned() {
    let device = device();
    let (train, _) = small_setup();
    let targets = Method::Plain.prepare(&train, None).unwrap();
    let student = MlpConfig::new(64, vec![16], 2)
        .with_seed(1)
        .init(&device.clone().autodiff())
        .unwrap();
    // an absurd learning rate drives the weights, then the loss, to inf/NaN
    let cfg = DistillConfig::new(5, 1e30).with_batch_size(32);
    let e = Distiller::new(cfg).fit(student, &train, &targets, None, &device);
    assert!(matches!(e, Err(LelpError::Diverged { .. })), "{e:?}");
}

#[test]
fn oracle_table_is_read_off_the_data() {
    let parity = Dataset::uci_digits().parity().unwrap();
    let oracle = OracleLabeler::from_dataset(&parity, 1.0).unwrap();
    assert_eq!((oracle.num_classes(), oracle.subclasses()), (2, 5));
    // digit f is class f % 2, slot f / 2
    for f in 0..10 {
        assert_eq!(oracle.slot(f), Some((f % 2, f / 2)));
    }
    // each row's mass sits on its digit's slot
    let device = device();
    let sub = parity.subset(&(0..50).collect::<Vec<_>>()).unwrap();
    let h = sub.features_tensor(&device).unwrap();
    let z = rows(pseudo(100, 3), 50, 2, &device);
    let q = host(
        oracle
            .targets(LabelerInput::new(h, z).with_fine_labels(sub.fine_labels().unwrap()))
            .unwrap()
            .probs(),
    );
    for (r, &f) in sub.fine_labels().unwrap().iter().enumerate() {
        let (c, slot) = (f % 2, f / 2);
        for j in 0..5 {
            assert_eq!(q[r * 10 + c * 5 + j] > 0.0, j == slot, "row {r} digit {f}");
        }
    }
    // a fine label absent from the data gets no slot
    let gaps = Dataset::new(vec![0.0; 4], 1, vec![0, 1, 0, 1], 2)
        .unwrap()
        .with_fine_labels(vec![0, 3, 0, 5])
        .unwrap();
    let o = OracleLabeler::from_dataset(&gaps, 1.0).unwrap();
    assert_eq!(o.subclasses(), 2);
    assert_eq!(
        (o.slot(0), o.slot(1), o.slot(3), o.slot(5)),
        (Some((0, 0)), None, Some((1, 0)), Some((1, 1)))
    );
    // no fine labels, or a fine label under two classes
    let plain = Dataset::new(vec![0.0; 4], 1, vec![0, 1, 0, 1], 2).unwrap();
    let Err(e) = OracleLabeler::from_dataset(&plain, 1.0) else {
        panic!("no fine labels is refused")
    };
    assert!(matches!(e, lelp::LelpError::InvalidParameter { .. }), "{e:?}");
    let clash = plain.with_fine_labels(vec![0, 0, 1, 1]).unwrap();
    assert!(matches!(
        OracleLabeler::from_dataset(&clash, 1.0),
        Err(LelpError::InvalidParameter {
            name: "fine_labels",
            ..
        })
    ));
}

/// Balanced class weights on a 95/5 data set whose classes overlap: the
/// unweighted student mostly answers the majority, the weighted one finds
/// many more of the minority's rows (recall), on the same seed; all-equal
/// weights train as none (the weighted mean is the mean: the same
/// predictions up to rounding).
#[test]
fn balanced_class_weights_raise_the_minority_recall() {
    let device = device();
    let (n, d) = (400, 4);
    let noise = pseudo(n * d, 11);
    let mut x = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let y = usize::from(i % 20 == 0); // 5% of the rows are class 1
        labels.push(y);
        for j in 0..d {
            // class 1 shifted by 1 along every axis, noise uniform on [-4, 4): overlapping
            x.push(noise[i * d + j] * 2.0 + if y == 1 { 1.0 } else { 0.0 });
        }
    }
    let data = Dataset::new(x, d, labels.clone(), 2).unwrap();
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let recall = |weights: Option<Vec<f64>>| {
        let student = MlpConfig::new(d, vec![16], 2).with_seed(3).init(&device).unwrap();
        let cfg = DistillConfig::new(40, 1e-2).with_seed(5).with_class_weights(weights);
        let trained = Distiller::new(cfg)
            .fit(student, &data, &targets, None, &device)
            .unwrap();
        let pred = lelp::train::predict(&trained.student, &data, &device).unwrap();
        let found = pred.iter().zip(&labels).filter(|&(&p, &y)| y == 1 && p == 1).count();
        (found as f64 / 20.0, pred)
    };
    let (plain, plain_pred) = recall(None);
    let (balanced, _) = recall(Some(lelp::train::balanced_class_weights(&labels, 2)));
    assert!(
        balanced >= plain + 0.3,
        "minority recall: {plain} unweighted, {balanced} balanced"
    );
    let (_, uniform_pred) = recall(Some(vec![3.0, 3.0]));
    let same = plain_pred.iter().zip(&uniform_pred).filter(|(a, b)| a == b).count();
    assert!(same >= 396, "equal weights changed {} of {n} predictions", n - same);
    // weights that do not fit the classes are refused
    let student = MlpConfig::new(d, vec![16], 2).init(&device).unwrap();
    let bad = DistillConfig::new(1, 1e-2).with_class_weights(Some(vec![1.0, 1.0, 1.0]));
    assert!(matches!(
        Distiller::new(bad).fit(student, &data, &targets, None, &device),
        Err(LelpError::InvalidParameter { .. })
    ));
}
