//! A saved fit loads back identical and gives identical targets; heads load
//! from .npy and safetensors.

mod common;

use common::{device, host};
use lelp::{
    Dataset, LabelerInput, LelpLabeler, LinearHead, PcaFinder, PrecomputedTeacher, PseudoLabeler, SubspaceFinder,
    Subspaces, TeacherEncoder,
};

#[test]
fn saved_fit_loads_identical_and_gives_identical_targets() {
    let device = device();
    let data = Dataset::uci_digits().parity().unwrap();
    let x = data.features_tensor(&device);
    let w: Vec<f32> = (0..128).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
    let head = LinearHead::new(w, vec![0.1, -0.2], 2).unwrap();
    let fit = PcaFinder::new(5)
        .with_null_space(true)
        .with_seed(42)
        .fit_tensor(x.clone(), data.labels(), 2, Some(&head), 512)
        .unwrap();
    let dir = common::tempdir("persist");
    fit.save(&dir).unwrap();
    let loaded = Subspaces::load(&dir).unwrap();
    assert_eq!(fit, loaded);
    let out = PrecomputedTeacher::new(head).forward(x).unwrap();
    let a = LelpLabeler::new(fit, 0.3, 2.0)
        .targets(LabelerInput::new(out.embeddings.clone(), out.logits.clone()))
        .unwrap();
    let b = LelpLabeler::new(loaded, 0.3, 2.0)
        .targets(LabelerInput::new(out.embeddings, out.logits))
        .unwrap();
    assert_eq!(host(a.log_probs), host(b.log_probs));
}

#[test]
fn head_loads_from_npy_and_safetensors_alike() {
    let w = common::data_path("random", "head_w.npy");
    let b = common::data_path("random", "head_b.npy");
    let from_npy = LinearHead::from_npy(&w, &b).unwrap();
    assert_eq!((from_npy.num_classes(), from_npy.dim()), (3, 12));
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
