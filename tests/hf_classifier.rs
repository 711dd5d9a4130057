//! Hugging Face sequence-classification checkpoints as teachers (feature
//! `text`): folders written by `transformers`' `save_pretrained`
//! (tests/data/hf/reference.py, transformers 4.57.6: BERT uncased with a
//! fast tokenizer, BERT cased with the slow tokenizer's files only, BERT in
//! float16, DistilBERT cased) give `transformers`' token ids and logits
//! within 1e-4, on the device under test, by burn's graph and by the host
//! path; what the crate cannot run exactly is refused naming the field or
//! tensor.

mod common;

use std::path::{Path, PathBuf};

use lelp::LelpError;
use lelp::text::{EncoderPath, HfClassifier, is_classifier_dir};
use serde_json::Value;

fn expected() -> Vec<Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(common::data_path("hf", "expected.json")).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn folder(name: &str) -> PathBuf {
    common::data_path("hf", name)
}

#[test]
fn logits_and_ids_equal_transformers() {
    let device = common::device();
    let cases = expected();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let texts: Vec<&str> = case["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        let classes: Vec<&str> = case["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(is_classifier_dir(folder(name)), "{name}");
        for path in [EncoderPath::Device, EncoderPath::Host] {
            let model = HfClassifier::from_dir(folder(name), &device)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .with_path(path);
            assert_eq!(model.class_names(), classes.as_slice(), "{name}");
            for (text, ids) in texts.iter().zip(case["ids"].as_array().unwrap()) {
                let want: Vec<u32> = ids
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap() as u32)
                    .collect();
                assert_eq!(model.encoder().tokenize(text), want, "{name}: {text:?}");
            }
            let got = model.logits(&texts, 4).unwrap();
            let want: Vec<f64> = case["logits"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
                .collect();
            assert_eq!(got.len(), want.len(), "{name}");
            let worst = got
                .iter()
                .zip(&want)
                .map(|(&g, &w)| (f64::from(g) - w).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-4, "{name} ({path:?}): logits differ by {worst:e}");
            // the features are what the head reads: its logits again
            let feats = model.features(&texts, 4).unwrap();
            let d = model.head().embedding_dim();
            let c = model.head().num_classes();
            let (w, b) = (model.head().weight(), model.head().bias());
            for (row, z) in feats.chunks(d).zip(got.chunks(c)) {
                for k in 0..c {
                    let dot: f32 = b[k] + row.iter().zip(&w[k * d..(k + 1) * d]).map(|(x, y)| x * y).sum::<f32>();
                    assert!((dot - z[k]).abs() < 1e-4, "{name}: head over features");
                }
            }
        }
    }
}

/// A copy of the `bert-uncased` folder with `edit` applied to its config.json.
fn edited(tag: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = common::tempdir(tag);
    for f in std::fs::read_dir(folder("bert-uncased")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    let path = dir.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(&path, cfg.to_string()).unwrap();
    dir
}

fn refused_field(dir: &Path) -> String {
    match HfClassifier::from_dir(dir, &common::device()) {
        Err(LelpError::Unsupported { field, .. }) => field,
        other => panic!("{}: {other:?}", dir.display()),
    }
}

#[test]
fn what_the_crate_cannot_run_exactly_is_refused_by_name() {
    let arch = edited("roberta", |c| {
        c["architectures"] = serde_json::json!(["RobertaForSequenceClassification"])
    });
    assert_eq!(refused_field(&arch), "architectures");
    let multi = edited("multi", |c| c["problem_type"] = "multi_label_classification".into());
    assert_eq!(refused_field(&multi), "problem_type");
    let act = edited("act", |c| c["hidden_act"] = "gelu_new".into());
    assert_eq!(refused_field(&act), "hidden_act");
    let rel = edited("rel", |c| c["position_embedding_type"] = "relative_key".into());
    assert_eq!(refused_field(&rel), "position_embedding_type");
    let one = edited("one", |c| c["id2label"] = serde_json::json!({"0": "score"}));
    assert_eq!(refused_field(&one), "id2label");
    let twice = edited("twice", |c| {
        c["id2label"] = serde_json::json!({"0": "a", "1": "a", "2": "b"})
    });
    assert_eq!(refused_field(&twice), "id2label");
    let gap = edited("gap", |c| {
        c["id2label"] = serde_json::json!({"0": "a", "2": "b", "3": "c"})
    });
    assert_eq!(refused_field(&gap), "id2label");
    // a tokenizer the crate cannot reproduce
    let bpe = edited("bpe", |_| {});
    let tok_path = bpe.join("tokenizer.json");
    let mut tok: Value = serde_json::from_slice(&std::fs::read(&tok_path).unwrap()).unwrap();
    tok["model"]["type"] = "BPE".into();
    std::fs::write(&tok_path, tok.to_string()).unwrap();
    assert_eq!(refused_field(&bpe), "model.type");
}

#[test]
fn a_head_that_does_not_match_is_a_weight_error_naming_the_tensor() {
    let device = common::device();
    // id2label names four classes, the classifier has three rows
    let four = edited("four", |c| {
        c["id2label"] = serde_json::json!({"0": "a", "1": "b", "2": "c", "3": "d"});
    });
    match HfClassifier::from_dir(&four, &device) {
        Err(LelpError::ModelWeights { tensor, reason, .. }) => {
            assert_eq!(tensor, "classifier.weight");
            assert!(reason.contains("4 classes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // a bare encoder saved as if it were a classifier
    match HfClassifier::from_dir(folder("bert-no-head"), &device) {
        Err(LelpError::ModelWeights { tensor, reason, .. }) => {
            assert_eq!(tensor, "bert.pooler.dense.weight");
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // no safetensors file (a checkpoint saved as pytorch_model.bin)
    let bin = edited("bin", |_| {});
    std::fs::rename(bin.join("model.safetensors"), bin.join("pytorch_model.bin")).unwrap();
    match HfClassifier::from_dir(&bin, &device) {
        Err(LelpError::FileNotFound { path }) => assert!(path.ends_with("model.safetensors")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_sentence_encoder_folder_is_not_a_classifier() {
    let dir = common::tempdir("encoder");
    std::fs::write(
        dir.join("config.json"),
        r#"{"architectures": ["BertModel"], "hidden_act": "gelu"}"#,
    )
    .unwrap();
    assert!(!is_classifier_dir(&dir));
    assert!(!is_classifier_dir(dir.join("absent")));
}

/// The checkpoint's classes are matched with the data's by name; a
/// checkpoint still named `LABEL_0`, `LABEL_1`, ... (transformers' default)
/// matches labels that are its ids.
#[test]
fn classes_are_matched_by_name() {
    let device = common::device();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let named = HfClassifier::from_dir(folder("bert-uncased"), &device).unwrap();
    assert_eq!(
        named
            .class_order(&strings(&["positive", "negative", "neutral"]))
            .unwrap(),
        vec![2, 0, 1]
    );
    for bad in [
        &["positive", "negative"][..],
        &["positive", "negative", "neutral", "mixed"],
        &["0", "1", "2"],
    ] {
        match named.class_order(&strings(bad)) {
            Err(LelpError::InvalidParameter { name: "teacher", .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let defaults = edited("defaults", |c| {
        c["id2label"] = serde_json::json!({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"});
    });
    let unnamed = HfClassifier::from_dir(&defaults, &device).unwrap();
    assert_eq!(unnamed.class_order(&strings(&["2", "0", "1"])).unwrap(), vec![2, 0, 1]);
    assert_eq!(
        unnamed
            .class_order(&strings(&["LABEL_1", "LABEL_0", "LABEL_2"]))
            .unwrap(),
        vec![1, 0, 2]
    );
    assert!(unnamed.class_order(&strings(&["0", "1", "02"])).is_err());
    assert!(unnamed.class_order(&strings(&["neg", "neu", "pos"])).is_err());
}
