//! Losses and the training loop: LELP's loss with S = 1 equals vanilla
//! KD's; autodiff gradients agree with finite differences for every loss;
//! a run resumed from a checkpoint ends with the same weights as an
//! uninterrupted one; training actually learns.

mod common;

use burn::prelude::*;
use common::{device, host};
use lelp::loss::{cross_entropy, feature_loss, kl_divergence, soft_target_loss};
use lelp::{Dataset, DistillConfig, Distiller, LelpOptions, Method, MlpConfig, OracleLabeler, Student, TeacherEncoder};

fn rows(v: Vec<f32>, n: usize, k: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [n, k]), device)
}

fn pseudo(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32 + 1).wrapping_mul(2654435761u32) ^ seed) % 1000) as f32 / 250.0 - 2.0)
        .collect()
}

#[test]
fn lelp_loss_with_one_subclass_equals_vanilla_kd_loss() {
    let device = device();
    let (n, c) = (16, 3);
    let z = rows(pseudo(n * c, 1), n, c, &device);
    let zt = rows(pseudo(n * c, 2), n, c, &device);
    let mut oh = vec![0.0; n * c];
    for i in 0..n {
        oh[i * c + i % c] = 1.0;
    }
    let y = rows(oh, n, c, &device);
    let data = Dataset::new(vec![0.0; n], 1, (0..n).map(|i| i % c).collect(), c).unwrap();
    let teacher = lelp::TeacherOutput::new(rows(pseudo(n * 4, 3), n, 4, &device), zt).unwrap();
    let mut opts = LelpOptions::new(1);
    opts.null_space = false;
    opts.rotate = false;
    for alpha in [0.0, 0.3] {
        let kd = Method::vanilla_kd(2.0, alpha)
            .prepare(&data, Some(&teacher), None)
            .unwrap();
        let lelp = Method::lelp(opts, 2.0, alpha)
            .prepare(&data, Some(&teacher), None)
            .unwrap();
        let a = soft_target_loss(z.clone(), kd.log_targets.unwrap(), y.clone(), 1, alpha, 2.0);
        let b = soft_target_loss(z.clone(), lelp.log_targets.unwrap(), y.clone(), 1, alpha, 2.0);
        assert_eq!(host(a), host(b));
    }
}

/// Central finite differences of `f` at `z` against autodiff.
fn check_gradient(f: impl Fn(Tensor<2>) -> Tensor<1>, z0: Vec<f32>, n: usize, k: usize) {
    let device = device().autodiff();
    let z = rows(z0.clone(), n, k, &device).require_grad();
    let loss = f(z.clone());
    let grads = loss.backward();
    let g = host(z.grad(&grads).unwrap());
    let eps = 1e-2f32;
    for i in 0..z0.len() {
        let mut plus = z0.clone();
        plus[i] += eps;
        let mut minus = z0.clone();
        minus[i] -= eps;
        let lp = host(f(rows(plus, n, k, &device)))[0];
        let lm = host(f(rows(minus, n, k, &device)))[0];
        let fd = (lp - lm) / (2.0 * eps as f64);
        assert!(
            (fd - g[i]).abs() <= 2e-3 + 2e-2 * fd.abs(),
            "entry {i}: finite difference {fd} vs autodiff {}",
            g[i]
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
    let teacher = lelp::TeacherOutput::new(
        rows(pseudo(40 * 3, 1), 40, 3, &device),
        rows(pseudo(80, 2), 40, 2, &device),
    )
    .unwrap();
    let t = Method::oracle(OracleLabeler::digit_parity(1.0), 0.0)
        .prepare(&data, Some(&teacher), None)
        .unwrap();
    let lt = t.log_targets.unwrap();
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
    let out = s.forward(data.features_tensor(&device()));
    let mut v = host(out.logits);
    v.extend(host(out.embedding));
    v
}

#[test]
fn resumed_training_ends_with_the_same_weights() {
    let device = device();
    let (train, _) = small_setup();
    let teacher_net = MlpConfig::new(64, vec![32], 2).with_seed(3).init(&device).unwrap();
    let out = lelp::ModuleTeacher::new(teacher_net, 2, 32, |m: &lelp::Mlp, x| {
        let o = m.forward(x);
        (o.embedding, o.logits)
    })
    .forward_all(train.features_tensor(&device), 128)
    .unwrap();
    let method = Method::lelp(
        {
            let mut o = LelpOptions::new(3);
            o.null_space = false;
            o
        },
        2.0,
        0.0,
    );
    let targets = method.prepare(&train, Some(&out), None).unwrap();
    let cfg = DistillConfig::new(4, 1e-2)
        .with_batch_size(50)
        .with_seed(5)
        .with_progress(false);
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
    assert!(dir.join("model.bpk").exists() && dir.join("optimizer.bpk").exists());
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
    assert!(matches!(other, Err(lelp::LelpError::CheckpointMismatch { .. })));
}

#[test]
fn training_learns_and_early_stopping_stops() {
    let device = device();
    let (train, test) = small_setup();
    let targets = Method::plain().prepare(&train, None, None).unwrap();
    let student = MlpConfig::new(64, vec![32], 2)
        .with_seed(1)
        .init(&device.clone().autodiff())
        .unwrap();
    let before = lelp::accuracy(&student.valid(), &test, 1, &device).unwrap();
    let cfg = DistillConfig::new(40, 1e-2)
        .with_batch_size(32)
        .with_patience(3)
        .with_restore_best(true)
        .with_progress(false);
    let trained = Distiller::new(cfg)
        .fit(student, &train, &targets, Some(&test), &device)
        .unwrap();
    let after = lelp::accuracy(&trained.student, &test, 1, &device).unwrap();
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
    assert_eq!(
        trained.history.len(),
        best_epoch + 3,
        "stops `patience` epochs after the best one"
    );
}

#[test]
fn student_output_width_must_match_the_method() {
    let device = device();
    let (train, _) = small_setup();
    let targets = Method::plain().prepare(&train, None, None).unwrap();
    let student = MlpConfig::new(64, vec![8], 5).init(&device.clone().autodiff()).unwrap();
    let e =
        Distiller::new(DistillConfig::new(1, 1e-2).with_progress(false)).fit(student, &train, &targets, None, &device);
    assert!(matches!(
        e,
        Err(lelp::LelpError::DimensionMismatch {
            expected: 2,
            got: 5,
            ..
        })
    ));
}

#[test]
fn feature_kd_handles_different_student_and_teacher_widths() {
    let device = device();
    let (train, _) = small_setup();
    let teacher = lelp::TeacherOutput::new(
        rows(pseudo(300 * 48, 1), 300, 48, &device),
        rows(pseudo(600, 2), 300, 2, &device),
    )
    .unwrap();
    let targets = Method::feature_kd(1.0, 2.0, 0.0)
        .prepare(&train, Some(&teacher), None)
        .unwrap();
    assert_eq!(targets.teacher_features.as_ref().unwrap().dims(), [300, 48]);
    let student = MlpConfig::new(64, vec![8], 2).init(&device.clone().autodiff()).unwrap();
    let t = Distiller::new(DistillConfig::new(2, 1e-2).with_progress(false))
        .fit(student, &train, &targets, None, &device)
        .unwrap();
    assert!(t.history.iter().all(|r| r.train_loss.is_finite()));
}

#[test]
fn cnn_student_learns_digits_and_exposes_its_head() {
    let device = device();
    let (train, test) = small_setup();
    let targets = Method::plain().prepare(&train, None, None).unwrap();
    let cnn = lelp::CnnConfig::new(8, 8, 2)
        .with_channels([4, 8])
        .with_hidden(16)
        .with_seed(2)
        .init(&device.clone().autodiff())
        .unwrap();
    let out = cnn.forward(train.features_tensor(&device.clone().autodiff()));
    assert_eq!(out.logits.dims(), [300, 2]);
    assert_eq!(out.embedding.dims(), [300, 16]);
    let cfg = DistillConfig::new(15, 1e-2).with_batch_size(32).with_progress(false);
    let trained = Distiller::new(cfg).fit(cnn, &train, &targets, None, &device).unwrap();
    let acc = lelp::accuracy(&trained.student, &test, 1, &device).unwrap();
    assert!(acc > 0.8, "CNN accuracy {acc}");
    let head = trained.student.linear_head().unwrap();
    assert_eq!((head.num_classes(), head.dim()), (2, 16));
    assert!(matches!(
        lelp::CnnConfig::new(2, 2, 2).init(&device),
        Err(lelp::LelpError::InvalidParameter { .. })
    ));
}

#[test]
fn learning_rate_schedules() {
    use lelp::LrSchedule;
    let cfg = DistillConfig::new(11, 0.1);
    assert_eq!(cfg.lr_at(7), 0.1);
    let cos = cfg.clone().with_schedule(LrSchedule::Cosine { final_fraction: 0.1 });
    assert!((cos.lr_at(0) - 0.1).abs() < 1e-12);
    assert!((cos.lr_at(5) - 0.055).abs() < 1e-12);
    assert!((cos.lr_at(10) - 0.01).abs() < 1e-12);
    let step = cfg.with_schedule(LrSchedule::Step { every: 4, gamma: 0.5 });
    assert_eq!((step.lr_at(3), step.lr_at(4), step.lr_at(9)), (0.1, 0.05, 0.025));
}

#[test]
fn sgd_with_momentum_trains_too() {
    let device = device();
    let (train, test) = small_setup();
    let targets = Method::vanilla_kd(2.0, 0.5)
        .prepare(
            &train,
            Some(
                &lelp::TeacherOutput::new(
                    train.features_tensor(&device),
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
            None,
        )
        .unwrap();
    let student = MlpConfig::new(64, vec![32], 2)
        .with_seed(4)
        .init(&device.clone().autodiff())
        .unwrap();
    let cfg = DistillConfig::new(30, 0.05)
        .with_optimizer(lelp::OptimizerKind::Sgd { momentum: 0.9 })
        .with_schedule(lelp::LrSchedule::Cosine { final_fraction: 0.1 })
        .with_batch_size(32)
        .with_progress(false);
    let trained = Distiller::new(cfg)
        .fit(student, &train, &targets, None, &device)
        .unwrap();
    let acc = lelp::accuracy(&trained.student, &test, 1, &device).unwrap();
    assert!(acc > 0.85, "SGD accuracy {acc}");
    assert!(trained.history.last().unwrap().train_loss < trained.history[0].train_loss);
}

#[test]
fn a_diverging_run_is_reported_not_returned() {
    let device = device();
    let (train, _) = small_setup();
    let targets = Method::plain().prepare(&train, None, None).unwrap();
    let student = MlpConfig::new(64, vec![16], 2)
        .with_seed(1)
        .init(&device.clone().autodiff())
        .unwrap();
    // an absurd learning rate drives the weights, then the loss, to inf/NaN
    let cfg = DistillConfig::new(5, 1e30).with_batch_size(32).with_progress(false);
    let e = Distiller::new(cfg).fit(student, &train, &targets, None, &device);
    assert!(matches!(e, Err(lelp::LelpError::Diverged { .. })), "{e:?}");
}

#[test]
fn oracle_table_is_read_off_the_data() {
    use lelp::PseudoLabeler;
    let parity = Dataset::uci_digits().parity().unwrap();
    let from_data = OracleLabeler::from_dataset(&parity, 1.0).unwrap();
    assert_eq!((from_data.num_classes(), from_data.subclasses()), (2, 5));
    // same targets as the hand-written parity table
    let device = device();
    let sub = parity.subset(&(0..50).collect::<Vec<_>>()).unwrap();
    let h = sub.features_tensor(&device);
    let z = rows(pseudo(100, 3), 50, 2, &device);
    let input = || lelp::LabelerInput::new(h.clone(), z.clone()).with_fine_labels(sub.fine_labels().unwrap());
    let a = host(from_data.targets(input()).unwrap().probs());
    let b = host(OracleLabeler::digit_parity(1.0).targets(input()).unwrap().probs());
    assert_eq!(a, b);
    // no fine labels, or a fine label under two classes
    let plain = Dataset::new(vec![0.0; 4], 1, vec![0, 1, 0, 1], 2).unwrap();
    assert!(OracleLabeler::from_dataset(&plain, 1.0).is_err());
    let clash = plain.with_fine_labels(vec![0, 0, 1, 1]).unwrap();
    assert!(matches!(
        OracleLabeler::from_dataset(&clash, 1.0),
        Err(lelp::LelpError::InvalidParameter {
            name: "fine_labels",
            ..
        })
    ));
}
