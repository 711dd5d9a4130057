//! A saved fit loads back identical and gives identical targets; heads load
//! from .npy and safetensors.

mod common;

use common::{device, host};
use lelp::data::Dataset;
use lelp::labeler::{LabelerInput, LelpLabeler, PseudoLabeler};
use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder, Subspaces};
use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder};

#[test]
fn saved_fit_loads_identical_and_gives_identical_targets() {
    let device = device();
    let data = Dataset::uci_digits().parity().unwrap();
    let w: Vec<f32> = (0..128).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
    let head = LinearHead::new(w, vec![0.1, -0.2], [2, 64]).unwrap();
    let out = PrecomputedTeacher::new(head).encode(&data, 512, &device).unwrap();
    let fit = PcaFinder::new(SubspaceConfig::new(5).with_seed(42).with_batch_size(512))
        .fit_teacher(&out, data.labels())
        .unwrap();
    assert!(fit.projector().is_some() && fit.head().is_some());
    let path = common::tempdir("persist").join("fit.safetensors");
    fit.save(&path).unwrap();
    // saving again over the file replaces it whole
    fit.save(&path).unwrap();
    let loaded = Subspaces::load(&path).unwrap();
    assert_eq!(fit, loaded);
    let targets = |f: Subspaces| {
        let l = LelpLabeler::builder(f).beta(0.3).tau(2.0).build().unwrap();
        host(l.targets(LabelerInput::from_teacher(&out)).unwrap().log_probs().clone())
    };
    assert_eq!(targets(fit), targets(loaded));
}

#[test]
fn head_loads_from_npy_and_safetensors_alike() {
    let w = common::data_path("random", "head_w.npy");
    let b = common::data_path("random", "head_b.npy");
    let from_npy = LinearHead::from_npy(&w, &b).unwrap();
    assert_eq!((from_npy.num_classes(), from_npy.embedding_dim()), (3, 12));
    // write the same head as safetensors (f32) and read it back
    let dir = common::tempdir("head");
    let p = dir.join("head.safetensors");
    let to_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let wb = to_bytes(from_npy.weight());
    let bb = to_bytes(from_npy.bias());
    let tensors = vec![
        (
            "weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![3, 12], &wb).unwrap(),
        ),
        (
            "bias",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![3], &bb).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(tensors, None, &p).unwrap();
    let from_st = LinearHead::from_safetensors(&p).unwrap();
    assert_eq!(from_npy, from_st);
    let t = PrecomputedTeacher::from_safetensors(&p).unwrap();
    assert_eq!(t.embedding_dim(), 12);
}
