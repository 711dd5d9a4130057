//! Cross-backend agreement: the device under test (`LELP_TEST_DEVICE`)
//! against burn's Flex backend, on the same data and seed. The fitted
//! subspaces and the targets agree within 1e-4 relative; one epoch of
//! LELP training gives the same loss within 1e-3 relative (a sum of
//! f32 reductions whose order differs between backends).
//!
//! Without a second backend compiled in (the README's `cargo test`) these
//! tests are ignored, visibly, rather than comparing Flex with itself; CI
//! runs them with `--features ndarray,wgpu,tch` on each device. Under Flex
//! the fit and targets are checked against numpy in tests/reference.rs.

mod common;

use burn::prelude::*;
use common::host;
use lelp::data::Dataset;
use lelp::labeler::{LabelerInput, LelpLabeler, PseudoLabeler};
use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder, Subspaces};
use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder};
use lelp::train::{DistillConfig, Distiller, LelpConfig, Method, MlpConfig};

fn head() -> LinearHead {
    let w: Vec<f32> = (0..128).map(|i| ((i * 53 % 29) as f32 - 14.0) / 14.0).collect();
    LinearHead::new(w, vec![0.2, -0.1], [2, 64]).unwrap()
}

fn fit_and_targets(device: &Device) -> (Subspaces, Vec<f64>) {
    let data = Dataset::uci_digits().parity().unwrap();
    let out = PrecomputedTeacher::new(head()).encode(&data, 512, device).unwrap();
    let fit = PcaFinder::new(SubspaceConfig::new(5).with_seed(3).with_batch_size(256))
        .fit_teacher(&out, data.labels())
        .unwrap();
    let t = LelpLabeler::builder(fit.clone())
        .build()
        .unwrap()
        .targets(LabelerInput::from_teacher(&out))
        .unwrap();
    (fit, host(t.probs()))
}

fn one_epoch_loss(device: &Device) -> f64 {
    let data = Dataset::uci_digits().parity().unwrap().sample(400, 2).unwrap();
    let teacher = PrecomputedTeacher::new(head()).encode(&data, 512, device).unwrap();
    let targets = Method::Lelp(LelpConfig::new(4).with_alpha(0.1))
        .prepare(&data, Some(&teacher))
        .unwrap();
    let student = MlpConfig::new(64, vec![16], 8).with_seed(1).init(device).unwrap();
    let cfg = DistillConfig::new(1, 1e-2).with_batch_size(50);
    Distiller::new(cfg)
        .fit(student, &data, &targets, None, device)
        .unwrap()
        .history[0]
        .train_loss
}

#[test]
#[cfg_attr(
    not(any(feature = "ndarray", feature = "wgpu", feature = "tch")),
    ignore = "needs a second backend: --features ndarray, wgpu or tch"
)]
fn fit_and_targets_agree_with_flex() {
    let (fa, qa) = fit_and_targets(&Device::flex());
    let (fb, qb) = fit_and_targets(&common::device());
    for c in 0..2 {
        common::assert_close("mean", fb.mean(c), fa.mean(c), 1e-4, 1e-2);
        common::assert_close("eigenvalues", fb.eigenvalues(c), fa.eigenvalues(c), 1e-4, 0.0);
        common::assert_close("basis", fb.basis(c), fa.basis(c), 1e-4, 1.0);
    }
    common::assert_close("targets", &qb, &qa, 1e-4, 1e-3);
}

#[test]
#[cfg_attr(
    not(any(feature = "ndarray", feature = "wgpu", feature = "tch")),
    ignore = "needs a second backend: --features ndarray, wgpu or tch"
)]
fn one_epoch_loss_agrees_with_flex() {
    let a = one_epoch_loss(&Device::flex());
    let b = one_epoch_loss(&common::device());
    assert!((a - b).abs() <= 1e-3 * a.abs(), "flex {a} vs device under test {b}");
}
