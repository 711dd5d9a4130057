//! Every bad input gives its own typed error, never a panic, and nothing
//! is lost: an accumulator that rejected a batch is unchanged.

mod common;

use burn::prelude::*;
use common::device;
use lelp::LelpError;
use lelp::data::{Dataset, Inputs};
use lelp::labeler::{LabelerInput, PseudoLabeler, PseudoTargets, SoftmaxLabeler};
use lelp::subspace::{ClassMoments, PcaFinder, SubspaceConfig, SubspaceFinder, Subspaces};
use lelp::teacher::{LinearHead, TeacherOutput};
use lelp::train::{
    DistillConfig, Distiller, KdConfig, LelpConfig, Method, MlpConfig, Student, TrainingTargets, accuracy, evaluate,
    predict,
};

fn blobs(n: usize, d: usize) -> (Tensor<2>, Vec<usize>) {
    let device = device();
    // a multiplicative hash: full-rank classes (a linear pattern mod a prime
    // would give rank-1 classes, which the finder rightly refuses)
    let v: Vec<f32> = (0..n * d)
        .map(|i| (((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    (
        Tensor::from_data(TensorData::new(v, [n, d]), &device),
        (0..n).map(|i| i % 2).collect(),
    )
}

/// PCA with `s` subclasses and no head.
fn pca(s: usize) -> PcaFinder {
    PcaFinder::new(SubspaceConfig::new(s).with_null_space(false))
}

#[test]
fn nan_and_infinite_embeddings_are_rejected_with_their_position() {
    let device = device();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut v = vec![0.5f32; 12];
        v[7] = bad;
        let x = Tensor::<2>::from_data(TensorData::new(v, [4, 3]), &device);
        let mut m = ClassMoments::new(2);
        let (ok_x, ok_y) = blobs(10, 3);
        m.update(ok_x, &ok_y).unwrap();
        let before = m.clone();
        let err = m.update(x, &[0, 1, 0, 1]).unwrap_err();
        assert!(matches!(err, LelpError::NonFinite { row: 12, col: 1, .. }), "{err:?}");
        assert_eq!(m, before, "a rejected batch leaves the accumulator unchanged");
    }
}

#[test]
fn label_out_of_range_is_rejected() {
    let (x, mut y) = blobs(8, 3);
    y[5] = 2;
    let err = pca(1).fit([(x, y)], 2, None).unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::LabelOutOfRange {
                label: 2,
                row: 5,
                num_classes: 2
            }
        ),
        "{err:?}"
    );
}

#[test]
fn class_too_small_for_s_subclasses() {
    let (x, _) = blobs(8, 5);
    // class 1 has 3 examples: enough for S = 2, not for S = 3
    let y = vec![0, 0, 0, 0, 0, 1, 1, 1];
    let ok = pca(2).fit([(x.clone(), y.clone())], 2, None);
    assert!(ok.is_ok(), "{ok:?}");
    let err = pca(3).fit([(x.clone(), y.clone())], 2, None).unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::ClassTooSmall {
                class: 1,
                count: 3,
                required: 4,
                subclasses: 3
            }
        ),
        "{err:?}"
    );
    // an absent class
    let err = pca(1).fit([(x, vec![0; 8])], 2, None).unwrap_err();
    assert!(
        matches!(err, LelpError::ClassTooSmall { class: 1, count: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn more_subclasses_than_dimensions() {
    let (x, y) = blobs(40, 3);
    let err = pca(4).fit([(x, y)], 2, None).unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::TooManySubclasses {
                subclasses: 4,
                embedding_dim: 3
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rank_deficient_classes_are_an_error_not_noise() {
    let device = device();
    // class 0 varies along one axis only (rank 1); class 1 is constant
    let rows: Vec<[f32; 3]> = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                [i as f32, 1.0, 2.0]
            } else {
                [5.0, 5.0, 5.0]
            }
        })
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(rows.concat(), [20, 3]), &device);
    let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
    let err = pca(2).fit([(x.clone(), y.clone())], 2, None).unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::RankDeficient {
                class: 0,
                rank: 1,
                subclasses: 2
            }
        ),
        "{err:?}"
    );
    let err = pca(1).fit([(x, y)], 2, None).unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::RankDeficient {
                class: 1,
                rank: 0,
                subclasses: 1
            }
        ),
        "{err:?}"
    );
    // the null space of a 2-class head removes a direction: 3-d data of
    // full rank keeps 2 directions, so S = 3 cannot be had
    let (x, y) = blobs(60, 3);
    let head = LinearHead::new(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0], vec![0.0; 2], [2, 3]).unwrap();
    let err = PcaFinder::new(SubspaceConfig::new(2))
        .fit([(x, y)], 2, Some(&head))
        .unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::RankDeficient {
                rank: 1,
                subclasses: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn head_and_embedding_dimensions_disagree() {
    let (x, y) = blobs(40, 3);
    let head = LinearHead::new(vec![1.0; 8], vec![0.0; 2], [2, 4]).unwrap();
    let err = PcaFinder::new(SubspaceConfig::new(1))
        .fit([(x.clone(), y.clone())], 2, Some(&head))
        .unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::DimensionMismatch {
                expected: 4,
                got: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let err = head.logits(x).unwrap_err();
    assert!(matches!(err, LelpError::DimensionMismatch { .. }), "{err:?}");
    // a bias that does not match the classes, a weight of the wrong size
    assert!(matches!(
        LinearHead::new(vec![1.0; 6], vec![0.0; 3], [2, 3]),
        Err(LelpError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        LinearHead::new(vec![1.0; 6], vec![0.0; 2], [2, 4]),
        Err(LelpError::DimensionMismatch { .. })
    ));
    // null space (the default) without a head
    let err = PcaFinder::new(SubspaceConfig::new(1))
        .fit([(blobs(40, 3).0, y)], 2, None)
        .unwrap_err();
    assert!(
        matches!(err, LelpError::InvalidParameter { name: "null_space", .. }),
        "{err:?}"
    );
}

#[test]
fn a_transposed_burn_weight_is_not_mistaken_for_a_head() {
    // burn's nn::Linear stores [d_in, d_out] = [3, 2]; read as [C, d] = [2, 3]
    // it would give a wrong null space. The explicit shape catches it:
    // 6 values as [3, 2] need a 3-entry bias.
    let w = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert!(matches!(
        LinearHead::new(w.clone(), vec![0.0; 2], [3, 2]),
        Err(LelpError::DimensionMismatch { .. })
    ));
    // from_linear transposes for you
    let device = device();
    let lin = burn::nn::LinearConfig::new(3, 2).init(&device);
    let head = LinearHead::from_linear(&lin).unwrap();
    assert_eq!((head.num_classes(), head.embedding_dim()), (2, 3));
    let wl = common::host(lin.weight.val()); // [3, 2]
    for c in 0..2 {
        for j in 0..3 {
            assert_eq!(head.weight()[c * 3 + j] as f64, wl[j * 2 + c]);
        }
    }
}

#[test]
fn empty_data_set() {
    let err = pca(1).fit(Vec::<(Tensor<2>, Vec<usize>)>::new(), 2, None).unwrap_err();
    assert!(matches!(err, LelpError::EmptyData { .. }), "{err:?}");
    let device = device();
    let err = pca(1)
        .fit([(Tensor::<2>::zeros([0, 3], &device), vec![])], 2, None)
        .unwrap_err();
    assert!(matches!(err, LelpError::EmptyData { .. }), "{err:?}");
    assert!(matches!(
        Dataset::new(vec![], 3, vec![], 2),
        Err(LelpError::EmptyData { .. })
    ));
    assert!(matches!(
        Dataset::from_tokens(vec![vec![1, 2], vec![]], vec![0, 1], 2),
        Err(LelpError::EmptyData { .. })
    ));
}

#[test]
fn bad_hyperparameters() {
    let (x, y) = blobs(40, 3);
    assert!(matches!(
        pca(0).fit([(x.clone(), y)], 2, None),
        Err(LelpError::InvalidParameter { name: "subclasses", .. })
    ));
    for tau in [0.0, -1.0, f64::NAN] {
        let e = SoftmaxLabeler::new(2, tau).unwrap_err();
        assert!(matches!(e, LelpError::InvalidParameter { name: "tau", .. }));
        let e = Method::VanillaKd(KdConfig::new().with_tau(tau)).validate().unwrap_err();
        assert!(matches!(e, LelpError::InvalidParameter { name: "tau", .. }));
    }
    for (cfg, name) in [
        (LelpConfig::new(4).with_beta(0.0), "beta"),
        (LelpConfig::new(4).with_alpha(1.5), "alpha"),
        (LelpConfig::new(0), "subclasses"),
    ] {
        let e = Method::Lelp(cfg).validate().unwrap_err();
        assert!(
            matches!(e, LelpError::InvalidParameter { name: n, .. } if n == name),
            "{e:?}"
        );
    }
    let device = device();
    let z = Tensor::<2>::zeros([40, 2], &device);
    let e = SoftmaxLabeler::new(3, 1.0)
        .unwrap()
        .targets(LabelerInput::new(x, z))
        .unwrap_err();
    assert!(matches!(
        e,
        LelpError::DimensionMismatch {
            expected: 3,
            got: 2,
            ..
        }
    ));
    assert!(matches!(
        DistillConfig::new(0, 1e-3).validate(),
        Err(LelpError::InvalidParameter { name: "epochs", .. })
    ));
}

#[test]
fn labels_and_rows_disagree() {
    let (x, _) = blobs(10, 3);
    let mut m = ClassMoments::new(2);
    let e = m.update(x, &[0, 1]).unwrap_err();
    assert!(matches!(
        e,
        LelpError::DimensionMismatch {
            expected: 10,
            got: 2,
            ..
        }
    ));
}

#[test]
fn custom_targets_that_are_not_distributions_are_refused() {
    let device = device();
    let ok = Tensor::<2>::from_floats([[-std::f32::consts::LN_2, -std::f32::consts::LN_2]], &device);
    assert!(PseudoTargets::new(ok.clone(), 2, 1, 1.0).is_ok());
    assert!(matches!(
        PseudoTargets::new(ok.clone(), 1, 1, 1.0),
        Err(LelpError::DimensionMismatch { .. })
    ));
    let unnormalised = Tensor::<2>::from_floats([[0.0, 0.0]], &device);
    assert!(matches!(
        PseudoTargets::new(unnormalised, 2, 1, 1.0),
        Err(LelpError::InvalidTargets { row: 0, .. })
    ));
    let nan = Tensor::<2>::from_floats([[f32::NAN, 0.0]], &device);
    assert!(matches!(
        PseudoTargets::new(nan, 2, 1, 1.0),
        Err(LelpError::InvalidTargets { .. })
    ));
    assert!(matches!(
        TrainingTargets::soft(PseudoTargets::new(ok, 2, 1, 1.0).unwrap(), 2.0),
        Err(LelpError::InvalidParameter { name: "alpha", .. })
    ));
}

fn parity_sample(n: usize) -> Dataset {
    Dataset::uci_digits().parity().unwrap().sample(n, 0).unwrap()
}

#[test]
fn mismatched_training_inputs_are_typed_errors() {
    let device = device();
    let train = parity_sample(100);
    let plain = Method::Plain.prepare(&train, None).unwrap();
    let student = || MlpConfig::new(64, vec![8], 2).init(&device.clone().autodiff()).unwrap();
    let d = Distiller::new(DistillConfig::new(1, 1e-3));
    // a validation set with another class count
    let ten_classes = Dataset::uci_digits().sample(50, 0).unwrap();
    let e = d
        .fit(student(), &train, &plain, Some(&ten_classes), &device)
        .unwrap_err();
    assert!(
        matches!(
            e,
            LelpError::DimensionMismatch {
                expected: 2,
                got: 10,
                ..
            }
        ),
        "{e:?}"
    );
    // targets made for other rows
    let other = Method::Plain.prepare(&parity_sample(90), None).unwrap();
    let e = d.fit(student(), &train, &other, None, &device).unwrap_err();
    assert!(matches!(e, LelpError::DimensionMismatch { .. }), "{e:?}");
    // token data for a dense student
    let tokens = Dataset::from_tokens(
        (0..100).map(|i| vec![1, i as u32 + 2]).collect(),
        train.labels().to_vec(),
        2,
    )
    .unwrap();
    let tok_targets = Method::Plain.prepare(&tokens, None).unwrap();
    let e = d.fit(student(), &tokens, &tok_targets, None, &device).unwrap_err();
    assert!(matches!(e, LelpError::InputKind { .. }), "{e:?}");
}

#[test]
fn a_student_on_a_plain_device_is_moved_not_a_panic() {
    let device = device();
    let train = parity_sample(64);
    let plain = Method::Plain.prepare(&train, None).unwrap();
    // built without .autodiff(): fit moves it
    let student = MlpConfig::new(64, vec![8], 2).with_seed(3).init(&device).unwrap();
    let trained = Distiller::new(DistillConfig::new(2, 1e-2))
        .fit(student, &train, &plain, None, &device)
        .unwrap();
    assert_eq!(trained.history.len(), 2);
    assert!(trained.history[1].train_loss < trained.history[0].train_loss);
}

#[test]
fn evaluation_of_mismatched_students_and_data_is_a_typed_error() {
    let device = device();
    let data = parity_sample(50);
    // 5 outputs do not split into 2 classes
    let odd = MlpConfig::new(64, vec![8], 5).init(&device).unwrap();
    for e in [
        accuracy(&odd, &data, &device).unwrap_err(),
        evaluate(&odd, &data, &device).unwrap_err(),
        predict(&odd, &data, &device).unwrap_err(),
    ] {
        assert!(matches!(e, LelpError::DimensionMismatch { got: 5, .. }), "{e:?}");
    }
    // a student for 63 features on 64-feature data
    let narrow = MlpConfig::new(63, vec![8], 2).init(&device).unwrap();
    let e = accuracy(&narrow, &data, &device).unwrap_err();
    assert!(
        matches!(
            e,
            LelpError::DimensionMismatch {
                expected: 63,
                got: 64,
                ..
            }
        ),
        "{e:?}"
    );
    let e = narrow
        .forward(Inputs::Dense(Tensor::zeros([2, 64], &device)))
        .unwrap_err();
    assert!(matches!(e, LelpError::DimensionMismatch { .. }), "{e:?}");
}

#[test]
fn teacher_outputs_must_match_the_data() {
    let device = device();
    let data = parity_sample(40);
    let h = Tensor::<2>::zeros([39, 4], &device);
    let t = TeacherOutput::new(h.clone(), Tensor::zeros([39, 2], &device)).unwrap();
    let e = Method::VanillaKd(KdConfig::new()).prepare(&data, Some(&t)).unwrap_err();
    assert!(
        matches!(
            e,
            LelpError::DimensionMismatch {
                expected: 40,
                got: 39,
                ..
            }
        ),
        "{e:?}"
    );
    let e = Method::VanillaKd(KdConfig::new()).prepare(&data, None).unwrap_err();
    assert!(
        matches!(e, LelpError::InvalidParameter { name: "teacher", .. }),
        "{e:?}"
    );
    assert!(matches!(
        TeacherOutput::new(h, Tensor::zeros([38, 2], &device)),
        Err(LelpError::DimensionMismatch { .. })
    ));
}

fn saved_fit() -> std::path::PathBuf {
    let (x, y) = blobs(60, 4);
    let fit = pca(2).fit([(x, y)], 2, None).unwrap();
    let path = common::tempdir("bad-files").join("fit.safetensors");
    fit.save(&path).unwrap();
    path
}

/// Replaces `from` by `to` (same length) in the file's bytes.
fn patch(path: &std::path::Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let bytes = std::fs::read(path).unwrap();
    let pos = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} not in the file"));
    let mut out = bytes.clone();
    out[pos..pos + to.len()].copy_from_slice(to.as_bytes());
    std::fs::write(path, out).unwrap();
}

#[test]
fn missing_file() {
    let dir = common::tempdir("missing");
    assert!(matches!(
        Subspaces::load(dir.join("none.safetensors")),
        Err(LelpError::FileNotFound { .. })
    ));
    assert!(matches!(
        LinearHead::from_npy(dir.join("w.npy"), dir.join("b.npy")),
        Err(LelpError::FileNotFound { .. })
    ));
}

#[test]
fn truncated_file() {
    let p = saved_fit();
    let bytes = std::fs::read(&p).unwrap();
    for cut in [4usize, 40, bytes.len() - 9] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = Subspaces::load(&p).unwrap_err();
        assert!(matches!(e, LelpError::Truncated { .. }), "cut {cut}: {e:?}");
    }
}

#[test]
fn corrupted_file() {
    // a manifest whose sizes disagree with the tensors
    let p = saved_fit();
    patch(&p, r#"embedding_dim\":4"#, r#"embedding_dim\":5"#);
    assert!(matches!(Subspaces::load(&p), Err(LelpError::Corrupted { .. })));
    // a flipped byte in the header
    let p = saved_fit();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[10] = b'#';
    std::fs::write(&p, bytes).unwrap();
    assert!(matches!(Subspaces::load(&p), Err(LelpError::Corrupted { .. })));
    // a safetensors file that is not a fit
    let p = saved_fit();
    patch(&p, "lelp_subspaces", "something_else");
    assert!(matches!(Subspaces::load(&p), Err(LelpError::Corrupted { .. })));
}

#[test]
fn other_format_version() {
    let p = saved_fit();
    patch(&p, r#"format_version\":2"#, r#"format_version\":9"#);
    let e = Subspaces::load(&p).unwrap_err();
    assert!(
        matches!(
            e,
            LelpError::FormatVersion {
                found: 9,
                supported: 2,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_zero_dimensional_head_file_is_an_error() {
    let dir = common::tempdir("zero-d");
    lelp::io::npy::write_f32(dir.join("w.npy"), &[], &[1.0]).unwrap();
    lelp::io::npy::write_f32(dir.join("b.npy"), &[1], &[0.0]).unwrap();
    let e = LinearHead::from_npy(dir.join("w.npy"), dir.join("b.npy")).unwrap_err();
    assert!(matches!(e, LelpError::Corrupted { .. }), "{e:?}");
}

#[test]
fn token_ids_past_the_embedding_table_are_a_typed_error() {
    let device = device();
    let bag = lelp::train::BagConfig::new(100, 2).init(&device).unwrap();
    let cnn = lelp::train::TextCnnConfig::new(100, 2)
        .with_dim(4)
        .with_channels(4)
        .init(&device)
        .unwrap();
    let batch = || lelp::data::TokenBatch::from_sequences(&[&[5, 100], &[7]], 16, &device).unwrap();
    for e in [
        bag.forward(Inputs::Tokens(batch())).unwrap_err(),
        cnn.forward(Inputs::Tokens(batch())).unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                LelpError::DimensionMismatch {
                    expected: 100,
                    got: 100,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    // dense rows for a token student
    let e = bag.forward(Inputs::Dense(Tensor::zeros([2, 3], &device))).unwrap_err();
    assert!(matches!(e, LelpError::InputKind { .. }), "{e:?}");
}

#[test]
fn a_row_index_out_of_range_names_the_index_not_a_label() {
    let data = lelp::data::Dataset::uci_digits();
    let n = data.len();
    let err = data.subset(&[0, 3, n + 7]).unwrap_err();
    assert!(
        matches!(err, LelpError::RowOutOfRange { index, position: 2, rows } if index == n + 7 && rows == n),
        "{err:?}"
    );
}
