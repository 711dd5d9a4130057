//! ONNX export (feature `text`): for every kind of token student (bag with
//! a hidden layer, normalised bag with subclasses and a calibration, static
//! int8 and float16 tables, CNN), onnxruntime's probabilities on the
//! exported graph equal the classifier's within 1e-5. The reference,
//! `tests/data/onnx/expected.json`, comes from onnxruntime run by
//! `tests/data/onnx/reference.py` (versions in it) on the committed `.onnx`
//! files; the test checks that the export still writes those bytes, so the
//! reference is of what the code writes. `cargo test --test onnx --
//! --ignored write_fixtures` rewrites the models, ids and graphs (then run
//! the script).

mod common;

use std::collections::BTreeMap;

use lelp::LelpError;
use lelp::data::HashedNgrams;
use lelp::deploy::{Calibration, Classifier, Featurizer, ModelFile, Quantization};
use lelp::text::{Bert, BertConfig, TransformerStudentConfig, WordPiece};
use lelp::train::{BagConfig, TextCnnConfig};
use serde::{Deserialize, Serialize};

const CASES: [&str; 5] = ["bag", "bag_subclass_calibrated", "static_int8", "static_f16", "cnn"];

fn texts() -> Vec<String> {
    vec![
        "free money, FREE money!".into(),
        String::new(),
        "meeting at noon".into(),
        "win a prize at noon, free".into(),
        "caf\u{e9} \u{1F600} free".into(),
        "a ".repeat(40),
    ]
}

fn small_wordpiece() -> WordPiece {
    let vocab = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "free", "money", "meet", "##ing", "at", "noon", "win", "a", "prize", ",",
        "!",
    ];
    WordPiece::from_vocab(vocab.iter().map(|s| s.to_string())).unwrap()
}

/// The fixture models, built with fixed seeds (written once by
/// `write_fixtures`; the test reads the committed files).
fn build(case: &str) -> ModelFile {
    let device = burn::prelude::Device::flex();
    let wp = small_wordpiece();
    let hashed = HashedNgrams {
        buckets: 512,
        bigrams: true,
        max_words: 64,
    };
    let names = |c: usize| (0..c).map(|i| format!("class {i}")).collect::<Vec<_>>();
    match case {
        "bag" => {
            let c = BagConfig {
                dim: 8,
                hidden: Some(6),
                seed: 1,
                ..BagConfig::new(512, 3)
            };
            ModelFile::new(&c.init(&device).unwrap(), Featurizer::hashed(&hashed), names(3)).unwrap()
        }
        "bag_subclass_calibrated" => {
            let c = BagConfig {
                dim: 8,
                normalize: true,
                seed: 2,
                ..BagConfig::new(512, 4)
            };
            let mut m = ModelFile::new(&c.init(&device).unwrap(), Featurizer::hashed(&hashed), names(2)).unwrap();
            m.manifest.calibration = Some(Calibration {
                temperature: 0.5,
                rows: 10,
                ece_before: 0.2,
                ece_after: 0.1,
            });
            m
        }
        "static_int8" | "static_f16" => {
            let c = BagConfig {
                dim: 8,
                normalize: true,
                seed: 3,
                ..BagConfig::new(wp.vocab_size() + 16, 2)
            };
            let f = Featurizer::wordpiece_with_bigrams(&wp, 32, 16);
            let m = ModelFile::new(&c.init(&device).unwrap(), f, names(2)).unwrap();
            let q = if case == "static_int8" {
                Quantization::Int8
            } else {
                Quantization::F16
            };
            m.quantized(q).unwrap()
        }
        "cnn" => {
            let c = TextCnnConfig {
                dim: 6,
                channels: 5,
                kernel: 5,
                seed: 4,
                ..TextCnnConfig::new(wp.vocab_size(), 3)
            };
            ModelFile::new(&c.init(&device).unwrap(), Featurizer::wordpiece(&wp, 32), names(3)).unwrap()
        }
        other => panic!("no case {other}"),
    }
}

/// What reference.py reads: the texts and each model's ids.
#[derive(Serialize, Deserialize)]
struct Inputs {
    texts: Vec<String>,
    ids: BTreeMap<String, Vec<Vec<u32>>>,
}

/// What reference.py writes: onnxruntime's probabilities for each model.
#[derive(Deserialize)]
struct Expected {
    probabilities: BTreeMap<String, Vec<Vec<f32>>>,
}

fn path(file: &str) -> std::path::PathBuf {
    common::data_path("onnx", file)
}

#[test]
#[ignore = "rewrites the fixtures; run by hand, then tests/data/onnx/reference.py"]
fn write_fixtures() {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut ids = BTreeMap::new();
    for case in CASES {
        let file = path(&format!("{case}.safetensors"));
        build(case).save(&file).unwrap();
        let m = ModelFile::read(&file).unwrap();
        std::fs::write(path(&format!("{case}.onnx")), m.to_onnx().unwrap()).unwrap();
        ids.insert(
            case.to_string(),
            Classifier::from_model(m).unwrap().token_ids(&refs).unwrap(),
        );
    }
    let inputs = Inputs { texts, ids };
    std::fs::write(path("inputs.json"), serde_json::to_string_pretty(&inputs).unwrap()).unwrap();
}

#[test]
fn onnxruntime_on_the_export_equals_the_classifier() {
    let inputs: Inputs = serde_json::from_slice(&std::fs::read(path("inputs.json")).unwrap()).unwrap();
    let expected: Expected = serde_json::from_slice(&std::fs::read(path("expected.json")).unwrap()).unwrap();
    let refs: Vec<&str> = inputs.texts.iter().map(String::as_str).collect();
    for case in CASES {
        let m = ModelFile::read(path(&format!("{case}.safetensors"))).unwrap();
        // the export writes the graph the reference ran
        let committed = std::fs::read(path(&format!("{case}.onnx"))).unwrap();
        assert!(
            m.to_onnx().unwrap() == committed,
            "{case}: the export no longer writes the graph onnxruntime ran; rerun write_fixtures and reference.py"
        );
        let classifier = Classifier::from_model(m).unwrap();
        assert_eq!(classifier.token_ids(&refs).unwrap(), inputs.ids[case], "{case}: ids");
        let want = &expected.probabilities[case];
        let got = classifier.predict(&refs).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g.probabilities.len(), w.len(), "{case} text {i}");
            for (a, b) in g.probabilities.iter().zip(w) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{case} text {i}: {:?} vs onnxruntime {w:?}",
                    g.probabilities
                );
            }
        }
    }
}

/// An export is a pure function of the model: a changed weight changes the
/// bytes, the same model gives the same bytes.
#[test]
fn the_export_follows_the_weights() {
    let a = build("bag").to_onnx().unwrap();
    assert_eq!(a, build("bag").to_onnx().unwrap());
    let mut other = build("bag");
    other.manifest.calibration = Some(Calibration {
        temperature: 2.0,
        rows: 1,
        ece_before: 0.0,
        ece_after: 0.0,
    });
    assert_ne!(a, other.to_onnx().unwrap());
}

/// A transformer student (a BERT encoder and a linear head) is refused
/// with a typed error, and has no token ids to give.
#[test]
fn a_student_over_sentence_embeddings_is_refused() {
    let device = burn::prelude::Device::flex();
    let wp = small_wordpiece();
    let config = BertConfig {
        vocab_size: wp.vocab_size(),
        hidden_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 16,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
    };
    let student = TransformerStudentConfig::new(2)
        .init(Bert::random(&config, 1, &device).unwrap(), &device)
        .unwrap();
    let model = ModelFile::with_transformer(&student, &wp, 16, vec!["a".into(), "b".into()]).unwrap();
    match model.to_onnx() {
        Err(LelpError::InvalidParameter { reason, .. }) => assert!(reason.contains("token students"), "{reason}"),
        other => panic!("expected a refusal, got {:?}", other.map(|b| b.len())),
    }
    let classifier = Classifier::from_model(model).unwrap();
    assert!(matches!(
        classifier.token_ids(&["free money"]),
        Err(LelpError::InvalidParameter { .. })
    ));
}
