//! Cross-backend agreement: the device under test (`LELP_TEST_DEVICE`)
//! against burn's Flex backend, on the same data and seed. The fitted
//! subspaces and the targets agree within 1e-4 relative; one epoch of
//! LELP training gives the same loss within 1e-3 relative (a sum of
//! f32 reductions whose order differs between backends).

mod common;

use burn::prelude::*;
use common::host;
use lelp::{
    Dataset, DistillConfig, Distiller, LabelerInput, LelpLabeler, LelpOptions, LinearHead, Method, MlpConfig,
    PcaFinder, PseudoLabeler, SubspaceFinder, Subspaces, TeacherOutput,
};

fn head() -> LinearHead {
    let w: Vec<f32> = (0..128).map(|i| ((i * 53 % 29) as f32 - 14.0) / 14.0).collect();
    LinearHead::new(w, vec![0.2, -0.1], 2).unwrap()
}

fn fit_and_targets(device: &Device) -> (Subspaces, Vec<f64>) {
    let data = Dataset::uci_digits().parity().unwrap();
    let x = data.features_tensor(device);
    let head = head();
    let fit = PcaFinder::new(5)
        .with_null_space(true)
        .with_seed(3)
        .fit_tensor(x.clone(), data.labels(), 2, Some(&head), 256)
        .unwrap();
    let z = head.logits(x.clone()).unwrap();
    let t = LelpLabeler::new(fit.clone(), 0.3, 2.0)
        .targets(LabelerInput::new(x, z))
        .unwrap();
    (fit, host(t.probs()))
}

fn one_epoch_loss(device: &Device) -> f64 {
    let data = Dataset::uci_digits().parity().unwrap().sample(400, 2).unwrap();
    let x = data.features_tensor(device);
    let z = head().logits(x.clone()).unwrap();
    let teacher = TeacherOutput::new(x, z).unwrap();
    let targets = Method::lelp(LelpOptions::new(4), 2.0, 0.1)
        .prepare(&data, Some(&teacher), Some(&head()))
        .unwrap();
    let student = MlpConfig::new(64, vec![16], 8)
        .with_seed(1)
        .init(&device.clone().autodiff())
        .unwrap();
    let cfg = DistillConfig::new(1, 1e-2).with_batch_size(50).with_progress(false);
    Distiller::new(cfg)
        .fit(student, &data, &targets, None, device)
        .unwrap()
        .history[0]
        .train_loss
}

#[test]
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
fn one_epoch_loss_agrees_with_flex() {
    let a = one_epoch_loss(&Device::flex());
    let b = one_epoch_loss(&common::device());
    assert!((a - b).abs() <= 1e-3 * a.abs(), "flex {a} vs device under test {b}");
}
