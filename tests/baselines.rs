//! The baselines' losses against PyTorch (tests/data/baselines/reference.py,
//! torch 2.9.0, float64): DKD (three classes, four with other weights, and
//! two, where it reduces to weighted KD), RKD's distance and angle terms
//! (with coincident rows), Subclass Distillation's auxiliary loss at two
//! temperatures: loss values and autodiff gradients. Finite differences
//! check every gradient too. Then each method trains end to end.

mod common;

use burn::prelude::*;
use common::{check_gradient, device, host, rows};
use lelp::data::Dataset;
use lelp::teacher::{ModuleTeacher, TeacherEncoder};
use lelp::train::loss::{
    DkdWeights, cross_entropy, dkd_loss, kl_divergence, rkd_angle_loss, rkd_distance_loss, soft_target_loss,
    subclass_aux_loss,
};
use lelp::train::{
    DistillConfig, Distiller, DkdConfig, Method, MlpConfig, RkdConfig, Student, SubclassDistillationConfig, accuracy,
    class_logits,
};
use serde_json::Value;

fn reference() -> Value {
    let text = std::fs::read_to_string(common::data_path("baselines", "reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}

/// Loss value and gradient of `f` at `x`, autodiff on the device under test.
fn value_and_grad(f: &dyn Fn(Tensor<2>) -> Tensor<1>, x: Vec<f32>, n: usize, k: usize) -> (f64, Vec<f64>) {
    let device = device().autodiff();
    let x = rows(x, n, k, &device).require_grad();
    let loss = f(x.clone());
    let value = host(loss.clone())[0];
    let grads = loss.backward();
    (value, host(x.grad(&grads).unwrap()))
}

fn assert_matches(name: &str, case: &Value, got: (f64, Vec<f64>)) {
    let want = case["loss"].as_f64().unwrap();
    assert!(
        (got.0 - want).abs() <= 1e-4 * want.abs().max(1e-2),
        "{name}: loss {} vs PyTorch {want}",
        got.0
    );
    let wg: Vec<f64> = floats(&case["grad"]).into_iter().map(f64::from).collect();
    common::assert_close(&format!("{name} gradient"), &got.1, &wg, 1e-3, 1e-2);
}

fn one_hot(labels: &[usize], c: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * c];
    for (i, &l) in labels.iter().enumerate() {
        v[i * c + l] = 1.0;
    }
    rows(v, labels.len(), c, device)
}

#[test]
fn dkd_matches_pytorch_and_finite_differences() {
    let r = reference();
    let device = device().autodiff();
    for name in ["dkd_c3", "dkd_c4_soft", "dkd_c2"] {
        let case = &r[name];
        let (n, c, tau) = (
            usize_of(&case["n"]),
            usize_of(&case["c"]),
            case["tau"].as_f64().unwrap(),
        );
        let w = DkdWeights {
            ce: case["ce"].as_f64().unwrap(),
            tckd: case["tckd"].as_f64().unwrap(),
            nckd: case["nckd"].as_f64().unwrap(),
        };
        let labels: Vec<usize> = case["labels"].as_array().unwrap().iter().map(usize_of).collect();
        let y = one_hot(&labels, c, &device);
        let teacher = rows(floats(&case["teacher"]), n, c, &device);
        let log_q = burn::tensor::activation::log_softmax(teacher.div_scalar(tau), 1).detach();
        let f = |z: Tensor<2>| dkd_loss(z, log_q.clone(), y.clone(), tau, w);
        assert_matches(name, case, value_and_grad(&f, floats(&case["student"]), n, c));
        check_gradient(f, floats(&case["student"]), n, c);
    }
}

#[test]
fn dkd_with_two_classes_is_weighted_kd_plus_ce() {
    // NCKD vanishes with one non-target class: DKD = ce CE + tckd tau^2 KL,
    // whatever NCKD's weight
    let r = reference();
    let case = &r["dkd_c2"];
    let device = device();
    let (n, tau) = (usize_of(&case["n"]), 4.0);
    let labels: Vec<usize> = case["labels"].as_array().unwrap().iter().map(usize_of).collect();
    let y = one_hot(&labels, 2, &device);
    let log_q = burn::tensor::activation::log_softmax(rows(floats(&case["teacher"]), n, 2, &device).div_scalar(tau), 1);
    let z = rows(floats(&case["student"]), n, 2, &device);
    let kl = host(kl_divergence(z.clone(), log_q.clone(), tau))[0];
    let ce = host(cross_entropy(z.clone(), y.clone()))[0];
    for (ce_w, nckd) in [(0.0, 0.0), (0.0, 8.0), (0.7, 100.0)] {
        let w = DkdWeights {
            ce: ce_w,
            tckd: 1.5,
            nckd,
        };
        let dkd = host(dkd_loss(z.clone(), log_q.clone(), y.clone(), tau, w))[0];
        let want = 1.5 * tau * tau * kl + ce_w * ce;
        assert!(
            (dkd - want).abs() <= 1e-5 * want.abs().max(1.0),
            "ce {ce_w}, nckd {nckd}: DKD {dkd} vs {want}"
        );
    }
}

#[test]
fn the_trainer_optimises_each_baselines_own_loss() {
    // one batch holding every row, at a negligible learning rate: the
    // epoch's reported loss is the untrained student's loss, computed here
    // from the loss functions directly. A term the trainer dropped (or
    // added) shows up as a difference.
    let device = device();
    let transfer = Dataset::uci_digits().parity().unwrap().sample(64, 2).unwrap();
    let teacher = MlpConfig::new(64, vec![16], 2).with_seed(4).init(&device).unwrap();
    let out = ModuleTeacher::new(teacher)
        .unwrap()
        .encode(&transfer, 512, &device)
        .unwrap();
    let all: Vec<usize> = (0..transfer.len()).collect();
    let y = one_hot(transfer.labels(), 2, &device);
    let cfg = DistillConfig::new(1, 1e-12).with_batch_size(transfer.len());
    let log_q = |tau: f64| burn::tensor::activation::log_softmax(out.logits().clone().div_scalar(tau), 1);
    let h_t = out.embeddings().clone();
    let sd = SubclassDistillationConfig::new(4).with_aux_weight(0.5);
    let cases: Vec<(&str, lelp::train::TrainingTargets)> = vec![
        (
            "DKD",
            Method::Dkd(DkdConfig::new().with_ce(0.5).with_nckd(3.0))
                .prepare(&transfer, Some(&out))
                .unwrap(),
        ),
        (
            "RKD",
            Method::Rkd(RkdConfig::new().with_distance(2.0).with_angle(3.0))
                .prepare(&transfer, Some(&out))
                .unwrap(),
        ),
        ("SD teacher", sd.teacher_targets(2, transfer.len()).unwrap()),
    ];
    for (name, targets) in cases {
        let student = MlpConfig::new(64, vec![8], targets.outputs())
            .with_seed(3)
            .init(&device)
            .unwrap();
        let o = student.forward(transfer.inputs(&all, &device).unwrap()).unwrap();
        let direct = host(match name {
            "DKD" => {
                let w = DkdWeights {
                    ce: 0.5,
                    tckd: 1.0,
                    nckd: 3.0,
                };
                dkd_loss(o.logits, log_q(4.0), y.clone(), 4.0, w)
            }
            "RKD" => {
                soft_target_loss(o.logits, log_q(2.0), y.clone(), 1, 0.0, 2.0)
                    + rkd_distance_loss(o.embedding.clone(), h_t.clone()).mul_scalar(2.0)
                    + rkd_angle_loss(o.embedding, h_t.clone()).mul_scalar(3.0)
            }
            _ => {
                cross_entropy(class_logits(o.logits.clone(), 2, 4), y.clone())
                    + subclass_aux_loss(o.logits, 1.0).mul_scalar(0.5)
            }
        })[0];
        let trained = Distiller::new(cfg.clone())
            .fit(student, &transfer, &targets, None, &device)
            .unwrap();
        let reported = trained.history[0].train_loss;
        assert!(
            (reported - direct).abs() <= 1e-4 * direct.abs().max(1e-2),
            "{name}: the trainer's loss {reported} vs the direct loss {direct}"
        );
    }
}

#[test]
fn rkd_terms_match_pytorch_and_finite_differences() {
    let r = reference();
    let device = device().autodiff();
    type Loss = fn(Tensor<2>, Tensor<2>) -> Tensor<1>;
    let terms: [(&str, Loss); 2] = [("rkd_distance", rkd_distance_loss), ("rkd_angle", rkd_angle_loss)];
    for (name, loss) in terms {
        let case = &r[name];
        let (n, e, d) = (usize_of(&case["n"]), usize_of(&case["e"]), usize_of(&case["d"]));
        let teacher = rows(floats(&case["teacher"]), n, d, &device);
        let f = |s: Tensor<2>| loss(s, teacher.clone());
        assert_matches(name, case, value_and_grad(&f, floats(&case["student"]), n, e));
        check_gradient(f, floats(&case["student"]), n, e);
    }
}

#[test]
fn rkd_gradients_stay_finite_for_duplicate_rows() {
    let device = device().autodiff();
    let mut s = common::pseudo(6 * 3, 5);
    s.copy_within(0..3, 3); // rows 0 and 1 coincide
    let t = rows(common::pseudo(6 * 4, 6), 6, 4, &device);
    let x = rows(s, 6, 3, &device).require_grad();
    let loss = rkd_distance_loss(x.clone(), t.clone()) + rkd_angle_loss(x.clone(), t);
    let g = host(x.grad(&loss.backward()).unwrap());
    assert!(g.iter().all(|v| v.is_finite() && v.abs() < 1e3), "gradient {g:?}");
}

#[test]
fn rkd_is_blind_to_scale_and_rotation_of_the_teacher() {
    // relations up to scale: a scaled, rotated copy of the student is a
    // perfect teacher, whatever its width
    let device = device();
    let s = common::pseudo(8 * 3, 11);
    let mut t = vec![0.0f32; 8 * 4];
    for i in 0..8 {
        let (x, y, z) = (s[i * 3], s[i * 3 + 1], s[i * 3 + 2]);
        // rotate in the x-y plane, scale by 7, pad a fourth zero column
        let (c, sn) = (0.6f32, 0.8f32);
        t[i * 4..i * 4 + 4].copy_from_slice(&[7.0 * (c * x - sn * y), 7.0 * (sn * x + c * y), 7.0 * z, 0.0]);
    }
    let (st, tt) = (rows(s.clone(), 8, 3, &device), rows(t, 8, 4, &device));
    assert!(host(rkd_distance_loss(st.clone(), tt.clone()))[0] < 1e-9);
    assert!(host(rkd_angle_loss(st.clone(), tt))[0] < 1e-9);
    // and an unrelated teacher is not
    let other = rows(common::pseudo(8 * 4, 99), 8, 4, &device);
    assert!(host(rkd_distance_loss(st, other))[0] > 1e-3);
}

#[test]
fn subclass_aux_loss_matches_pytorch_and_finite_differences() {
    let r = reference();
    for name in ["aux_t1", "aux_t05"] {
        let case = &r[name];
        let (n, k, t) = (
            usize_of(&case["n"]),
            usize_of(&case["k"]),
            case["temperature"].as_f64().unwrap(),
        );
        let f = |z: Tensor<2>| subclass_aux_loss(z, t);
        assert_matches(name, case, value_and_grad(&f, floats(&case["logits"]), n, k));
        check_gradient(f, floats(&case["logits"]), n, k);
    }
}

#[test]
fn subclass_aux_loss_prefers_spread_batches() {
    // rows that all use the same subclass pattern score worse than rows
    // that each use a different subclass
    let device = device();
    let n = 4;
    let mut same = vec![0.0f32; n * n];
    let mut spread = vec![0.0f32; n * n];
    for i in 0..n {
        same[i * n] = 3.0;
        spread[i * n + i] = 3.0;
    }
    let l_same = host(subclass_aux_loss(rows(same, n, n, &device), 1.0))[0];
    let l_spread = host(subclass_aux_loss(rows(spread, n, n, &device), 1.0))[0];
    assert!(l_spread < l_same - 0.1, "spread {l_spread} vs same {l_same}");
}

#[test]
fn every_baseline_trains_and_learns() {
    let device = device();
    let (train, test) = Dataset::uci_digits().parity().unwrap().split(0.3, 0).unwrap();
    let transfer = train.sample(300, 1).unwrap();
    let cfg = DistillConfig::new(15, 3e-3).with_batch_size(32);
    // the usual teacher for DKD and RKD
    let plain = Method::Plain.prepare(&train, None).unwrap();
    let t = MlpConfig::new(64, vec![64], 2).with_seed(1).init(&device).unwrap();
    let teacher = ModuleTeacher::new(
        Distiller::new(cfg.clone())
            .fit(t, &train, &plain, None, &device)
            .unwrap()
            .student,
    )
    .unwrap();
    let out = teacher.encode(&transfer, 512, &device).unwrap();
    // a Subclass Distillation teacher: 2 x 4 outputs and the auxiliary loss
    let sd = SubclassDistillationConfig::new(4);
    let st = MlpConfig::new(64, vec![64], 8).with_seed(1).init(&device).unwrap();
    let sd_targets = sd.teacher_targets(2, train.len()).unwrap();
    let sd_teacher = Distiller::new(cfg.clone())
        .fit(st, &train, &sd_targets, None, &device)
        .unwrap()
        .student;
    let sd_acc = accuracy(&sd_teacher, &test, &device).unwrap();
    assert!(sd_acc > 0.85, "subclass teacher accuracy {sd_acc}");
    let sd_teacher = ModuleTeacher::new(sd_teacher).unwrap();
    let sd_out = sd_teacher.encode(&transfer, 512, &device).unwrap();
    // the auxiliary loss spreads the teacher over its subclasses: on the
    // transfer set more than one subclass per class is someone's argmax
    let z = host(sd_out.logits().clone());
    let mut used = std::collections::BTreeSet::new();
    for r in z.chunks(8) {
        used.insert(r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0);
    }
    assert!(used.len() > 2, "argmax subclasses used: {used:?}");
    for (method, outputs) in [
        (Method::Dkd(DkdConfig::new()), &out),
        (Method::Rkd(RkdConfig::new()), &out),
        (Method::SubclassDistillation(sd), &sd_out),
    ] {
        let targets = method.prepare(&transfer, Some(outputs)).unwrap();
        let s = MlpConfig::new(64, vec![32, 32], targets.outputs())
            .with_seed(2)
            .init(&device)
            .unwrap();
        let student = Distiller::new(cfg.clone())
            .fit(s, &transfer, &targets, None, &device)
            .unwrap()
            .student;
        let acc = accuracy(&student, &test, &device).unwrap();
        assert!(acc > 0.8, "{}: accuracy {acc}", method.name());
    }
    // a plain teacher is not a subclass teacher: a typed error
    let e = Method::SubclassDistillation(sd)
        .prepare(&transfer, Some(&out))
        .unwrap_err();
    assert!(matches!(e, lelp::LelpError::DimensionMismatch { .. }), "{e:?}");
}
