//! Every bad input gives its own typed error, never a panic, and nothing
//! is lost: an accumulator that rejected a batch is unchanged.

mod common;

use burn::prelude::*;
use common::device;
use lelp::{
    ClassMoments, Dataset, LabelerInput, LelpError, LinearHead, PcaFinder, PseudoLabeler, SoftmaxLabeler,
    SubspaceFinder, Subspaces,
};

fn blobs(n: usize, d: usize) -> (Tensor<2>, Vec<usize>) {
    let device = device();
    let v: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
    (
        Tensor::from_data(TensorData::new(v, [n, d]), &device),
        (0..n).map(|i| i % 2).collect(),
    )
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
        let before = m.counts().to_vec();
        let err = m.update(x, &[0, 1, 0, 1]).unwrap_err();
        assert!(matches!(err, LelpError::NonFinite { row: 12, col: 1, .. }), "{err:?}");
        assert_eq!(
            m.counts(),
            &before[..],
            "a rejected batch leaves the accumulator unchanged"
        );
    }
}

#[test]
fn label_out_of_range_is_rejected() {
    let (x, mut y) = blobs(8, 3);
    y[5] = 2;
    let err = PcaFinder::new(1).fit([(x, y)], 2, None).unwrap_err();
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
fn class_too_small_for_s_components() {
    let (x, _) = blobs(8, 5);
    // class 1 has 3 examples: enough for S = 2, not for S = 3
    let y = vec![0, 0, 0, 0, 0, 1, 1, 1];
    assert!(PcaFinder::new(2).fit([(x.clone(), y.clone())], 2, None).is_ok());
    let err = PcaFinder::new(3).fit([(x.clone(), y.clone())], 2, None).unwrap_err();
    assert!(
        matches!(
            err,
            LelpError::ClassTooSmall {
                class: 1,
                count: 3,
                required: 4,
                components: 3
            }
        ),
        "{err:?}"
    );
    // an absent class
    let err = PcaFinder::new(1).fit([(x, vec![0; 8])], 2, None).unwrap_err();
    assert!(
        matches!(err, LelpError::ClassTooSmall { class: 1, count: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn more_components_than_dimensions() {
    let (x, y) = blobs(40, 3);
    let err = PcaFinder::new(4).fit([(x, y)], 2, None).unwrap_err();
    assert!(
        matches!(err, LelpError::TooManyComponents { components: 4, dim: 3 }),
        "{err:?}"
    );
}

#[test]
fn head_and_embedding_dimensions_disagree() {
    let (x, y) = blobs(40, 3);
    let head = LinearHead::new(vec![1.0; 8], vec![0.0; 2], 2).unwrap(); // d = 4
    let err = PcaFinder::new(1)
        .with_null_space(true)
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
    // a head whose bias does not match its classes
    assert!(matches!(
        LinearHead::new(vec![1.0; 6], vec![0.0; 3], 2),
        Err(LelpError::DimensionMismatch { .. })
    ));
    // null space requested without a head
    let err = PcaFinder::new(1)
        .with_null_space(true)
        .fit([(blobs(40, 3).0, y)], 2, None)
        .unwrap_err();
    assert!(
        matches!(err, LelpError::InvalidParameter { name: "null_space", .. }),
        "{err:?}"
    );
}

#[test]
fn empty_data_set() {
    let err = PcaFinder::new(1)
        .fit(Vec::<(Tensor<2>, Vec<usize>)>::new(), 2, None)
        .unwrap_err();
    assert!(matches!(err, LelpError::EmptyData { .. }), "{err:?}");
    let device = device();
    let err = PcaFinder::new(1)
        .fit([(Tensor::<2>::zeros([0, 3], &device), vec![])], 2, None)
        .unwrap_err();
    assert!(matches!(err, LelpError::EmptyData { .. }), "{err:?}");
    assert!(matches!(
        Dataset::new(vec![], 3, vec![], 2),
        Err(LelpError::EmptyData { .. })
    ));
}

#[test]
fn bad_hyperparameters() {
    let (x, y) = blobs(40, 3);
    assert!(matches!(
        PcaFinder::new(0).fit([(x.clone(), y)], 2, None),
        Err(LelpError::InvalidParameter { name: "components", .. })
    ));
    let device = device();
    let z = Tensor::<2>::zeros([40, 2], &device);
    for tau in [0.0, -1.0, f64::NAN] {
        let e = SoftmaxLabeler::new(2, tau)
            .targets(LabelerInput::new(x.clone(), z.clone()))
            .unwrap_err();
        assert!(matches!(e, LelpError::InvalidParameter { name: "tau", .. }));
    }
    let e = SoftmaxLabeler::new(3, 1.0)
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

fn saved_fit() -> std::path::PathBuf {
    let (x, y) = blobs(60, 4);
    let fit = PcaFinder::new(2).fit([(x, y)], 2, None).unwrap();
    let dir = common::tempdir("bad-files");
    fit.save(&dir).unwrap();
    dir
}

#[test]
fn missing_file() {
    let dir = common::tempdir("missing");
    assert!(matches!(Subspaces::load(&dir), Err(LelpError::FileNotFound { .. })));
    let dir = saved_fit();
    std::fs::remove_file(dir.join("subspaces.safetensors")).unwrap();
    assert!(matches!(Subspaces::load(&dir), Err(LelpError::FileNotFound { .. })));
    assert!(matches!(
        LinearHead::from_npy(dir.join("w.npy"), dir.join("b.npy")),
        Err(LelpError::FileNotFound { .. })
    ));
}

#[test]
fn truncated_file() {
    let dir = saved_fit();
    let p = dir.join("subspaces.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    for cut in [4usize, 40, bytes.len() - 9] {
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = Subspaces::load(&dir).unwrap_err();
        assert!(matches!(e, LelpError::Truncated { .. }), "cut {cut}: {e:?}");
    }
}

#[test]
fn corrupted_file() {
    let dir = saved_fit();
    // garbage JSON
    std::fs::write(dir.join("subspaces.json"), "{not json").unwrap();
    assert!(matches!(Subspaces::load(&dir), Err(LelpError::Corrupted { .. })));
    // valid JSON whose sizes disagree with the tensors
    let dir = saved_fit();
    let jp = dir.join("subspaces.json");
    let text = std::fs::read_to_string(&jp)
        .unwrap()
        .replace("\"dim\": 4", "\"dim\": 5");
    std::fs::write(&jp, text).unwrap();
    assert!(matches!(Subspaces::load(&dir), Err(LelpError::Corrupted { .. })));
    // a flipped byte in the safetensors header
    let dir = saved_fit();
    let p = dir.join("subspaces.safetensors");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[10] = b'#';
    std::fs::write(&p, bytes).unwrap();
    assert!(matches!(Subspaces::load(&dir), Err(LelpError::Corrupted { .. })));
}

#[test]
fn other_format_version() {
    let dir = saved_fit();
    let jp = dir.join("subspaces.json");
    let text = std::fs::read_to_string(&jp)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 99");
    std::fs::write(&jp, text).unwrap();
    let e = Subspaces::load(&dir).unwrap_err();
    assert!(
        matches!(
            e,
            LelpError::FormatVersion {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{e:?}"
    );
}
