//! Multi-label data end to end through the library: reading label lists,
//! the scores and thresholds against scikit-learn
//! (tests/data/multi_label/reference.py), training with one sigmoid a
//! label, the methods that refuse such data, and a multi-label model file
//! predicting the labels over its thresholds.

mod common;

use burn::prelude::*;
use lelp::LelpError;
use lelp::data::{Dataset, HashedNgrams};
use lelp::deploy::{Classifier, Featurizer, ModelFile, MultiLabel, read_labelled_with};
use lelp::metrics::{ThresholdRule, fit_thresholds, multi_label_scores};
use lelp::teacher::TeacherOutput;
use lelp::train::{BagConfig, DistillConfig, Distiller, Method, Student, TrainingTargets};

fn expected() -> serde_json::Value {
    let path = common::data_path("multi_label", "expected.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn list<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Vec<T> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Subset accuracy, Hamming loss, micro/macro/weighted F1 and per-label
/// precision, recall and F1 equal scikit-learn's; the fitted thresholds
/// equal a brute-force search with scikit-learn's scores.
#[test]
fn scores_and_thresholds_match_scikit_learn() {
    let all = expected();
    let c = &all["scores"];
    let rows: Vec<Vec<f32>> = list(&c["probs"]);
    let probs: Vec<f32> = rows.concat();
    let sets: Vec<Vec<usize>> = list(&c["sets"]);
    let k = c["classes"].as_u64().unwrap() as usize;
    let thresholds: Vec<f32> = list(&c["thresholds"]);
    let s = multi_label_scores(&probs, &sets, k, &thresholds).unwrap();
    let close = |what: &str, got: f64, want: f64| assert!((got - want).abs() < 1e-9, "{what}: {got} vs {want}");
    close("subset accuracy", s.accuracy, c["subset_accuracy"].as_f64().unwrap());
    close("hamming", s.hamming_loss.unwrap(), c["hamming_loss"].as_f64().unwrap());
    close("micro f1", s.micro_f1.unwrap(), c["micro_f1"].as_f64().unwrap());
    close("macro f1", s.macro_f1, c["macro_f1"].as_f64().unwrap());
    close("weighted f1", s.weighted_f1, c["weighted_f1"].as_f64().unwrap());
    for (name, got) in [
        ("precision", s.per_class.iter().map(|p| p.precision).collect::<Vec<_>>()),
        ("recall", s.per_class.iter().map(|p| p.recall).collect()),
        ("f1", s.per_class.iter().map(|p| p.f1).collect()),
    ] {
        let want: Vec<f64> = list(&c[name]);
        for (g, w) in got.iter().zip(&want) {
            close(name, *g, *w);
        }
    }
    for (rule, key) in [
        (ThresholdRule::F1, "f1_thresholds"),
        (ThresholdRule::Accuracy, "accuracy_thresholds"),
    ] {
        let got = fit_thresholds(&probs, &sets, k, rule).unwrap();
        let want: Vec<f64> = list(&c[key]);
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{key}: {got:?} vs {want:?}");
        }
    }
    assert_eq!(
        fit_thresholds(&probs, &sets, k, ThresholdRule::Fixed(0.3)).unwrap(),
        vec![0.3; k]
    );
    // bad input: thresholds outside [0, 1], the wrong count, a label past the end
    assert!(matches!(
        multi_label_scores(&probs, &sets, k, &[0.5, 0.5, 0.5, 0.5, 1.5]),
        Err(LelpError::InvalidParameter { .. })
    ));
    assert!(matches!(
        multi_label_scores(&probs, &sets, k, &[0.5]),
        Err(LelpError::DimensionMismatch { .. })
    ));
    let mut past = sets.clone();
    past[3].push(k);
    assert!(matches!(
        fit_thresholds(&probs, &past, k, ThresholdRule::F1),
        Err(LelpError::LabelOutOfRange { .. })
    ));
    assert!("1.5".parse::<ThresholdRule>().is_err() && "f2".parse::<ThresholdRule>().is_err());
    assert_eq!("0.25".parse::<ThresholdRule>().unwrap(), ThresholdRule::Fixed(0.25));
}

/// A JSON list or a CSV cell split at the separator makes a multi-label
/// corpus; an empty label, a list member that is not a string and an
/// empty cell are errors naming the row.
#[test]
fn label_lists_are_read_and_bad_ones_named() {
    let dir = common::tempdir("multi-label-read");
    let json = dir.join("a.jsonl");
    std::fs::write(
        &json,
        "{\"text\": \"one\", \"label\": [\"x\", \"y\"]}\n{\"text\": \"two\", \"label\": \"y\"}\n\
         {\"text\": \"three\", \"label\": []}\n",
    )
    .unwrap();
    let c = read_labelled_with(&json, "text", "label", None).unwrap();
    assert_eq!(c.class_names, ["x", "y"]);
    assert_eq!(c.label_sets, Some(vec![vec![0, 1], vec![1], vec![]]));
    let csv = dir.join("a.csv");
    std::fs::write(&csv, "text,label\nalpha,b | a\nbeta,a\n").unwrap();
    let c = read_labelled_with(&csv, "text", "label", Some("|")).unwrap();
    assert_eq!(c.label_sets, Some(vec![vec![0, 1], vec![0]]));
    // without a separator the same file is one label a row
    assert!(
        read_labelled_with(&csv, "text", "label", None)
            .unwrap()
            .label_sets
            .is_none()
    );
    let row_of = |e: LelpError| match e {
        LelpError::BadRecord { row, .. } => row,
        other => panic!("expected a bad record, got {other}"),
    };
    std::fs::write(&csv, "text,label\nalpha,a|\nbeta,a\n").unwrap();
    assert_eq!(
        row_of(read_labelled_with(&csv, "text", "label", Some("|")).unwrap_err()),
        2
    );
    std::fs::write(&csv, "text,label\nalpha,a\nbeta,\n").unwrap();
    assert_eq!(
        row_of(read_labelled_with(&csv, "text", "label", Some("|")).unwrap_err()),
        3
    );
    std::fs::write(
        &json,
        "{\"text\": \"one\", \"label\": [\"x\"]}\n{\"text\": \"two\", \"label\": [1.5, {}]}\n",
    )
    .unwrap();
    assert_eq!(row_of(read_labelled_with(&json, "text", "label", None).unwrap_err()), 2);
    std::fs::write(&json, "{\"text\": \"one\", \"label\": [\"x\", \" \"]}\n").unwrap();
    assert_eq!(row_of(read_labelled_with(&json, "text", "label", None).unwrap_err()), 1);
    assert!(matches!(
        read_labelled_with(&csv, "text", "label", Some("")),
        Err(LelpError::InvalidParameter { .. })
    ));
}

/// Texts whose words name their labels: label `k` is present when word
/// `w{k}` is; 3 labels, any subset, filler words.
fn toy(n: usize, seed: u64) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut texts, mut sets) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let set: Vec<usize> = (0..3).filter(|_| next() % 100 < 40).collect();
        let mut words: Vec<String> = set.iter().map(|k| format!("w{k}")).collect();
        words.extend((0..3).map(|_| format!("f{}", next() % 20)));
        texts.push(words.join(" "));
        sets.push(set);
    }
    (texts, sets)
}

fn tokens(texts: &[String], hasher: &HashedNgrams) -> Vec<Vec<u32>> {
    texts.iter().map(|t| hasher.encode(t)).collect()
}

/// A bag student learns multi-label data with one sigmoid a label, plain
/// and from a teacher's per-label probabilities; its model file predicts
/// the labels over its thresholds, with the student's sigmoids as
/// probabilities.
#[test]
fn a_bag_student_learns_label_sets_and_its_file_predicts_them() {
    let device = common::device();
    let hasher = HashedNgrams::new(1 << 12);
    let (texts, sets) = toy(300, 1);
    let data = Dataset::from_tokens(tokens(&texts, &hasher), vec![0; texts.len()], 3)
        .unwrap()
        .with_label_sets(sets.clone())
        .unwrap();
    let (test_texts, test_sets) = toy(100, 2);
    let test = Dataset::from_tokens(tokens(&test_texts, &hasher), vec![0; 100], 3)
        .unwrap()
        .with_label_sets(test_sets.clone())
        .unwrap();
    let fit = |targets: &TrainingTargets| {
        let student = BagConfig::new(1 << 12, 3)
            .with_dim(8)
            .with_seed(3)
            .init(&device)
            .unwrap();
        let cfg = DistillConfig::new(15, 1e-2).with_batch_size(32).with_seed(5);
        Distiller::new(cfg)
            .fit(student, &data, targets, Some(&test), &device)
            .unwrap()
    };
    let plain = fit(&Method::Plain.prepare(&data, None).unwrap());
    let acc = plain.history.last().unwrap().valid_accuracy.unwrap();
    assert!(acc >= 0.9, "plain subset accuracy {acc}");
    // a teacher that knows the labels: logits +-4
    let z: Vec<f32> = sets
        .iter()
        .flat_map(|s| (0..3).map(move |k| if s.contains(&k) { 4.0 } else { -4.0 }))
        .collect();
    let logits = Tensor::<2>::from_data(TensorData::new(z, [texts.len(), 3]), &device);
    let teacher = TeacherOutput::new(logits.clone(), logits).unwrap();
    let kd = Method::VanillaKd(Default::default())
        .prepare(&data, Some(&teacher))
        .unwrap();
    assert!(kd.is_multi_label() && kd.bernoulli_targets().is_some());
    let trained = fit(&kd);
    let acc = trained.history.last().unwrap().valid_accuracy.unwrap();
    assert!(acc >= 0.9, "kd subset accuracy {acc}");

    // the model file: sigmoid probabilities, labels over the thresholds
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut model = ModelFile::new(&trained.student, Featurizer::hashed(&hasher), names).unwrap();
    let mut ml = MultiLabel::at_half(3);
    ml.thresholds = vec![0.5, 0.9, 0.1];
    model.manifest.multi_label = Some(ml);
    let dir = common::tempdir("multi-label-file");
    let path = dir.join("m.safetensors");
    model.save(&path).unwrap();
    let read = ModelFile::read(&path).unwrap();
    assert_eq!(read.manifest.format_version, 4);
    let clf = Classifier::from_model_on(read, &device).unwrap();
    let refs: Vec<&str> = test_texts.iter().map(String::as_str).collect();
    let preds = clf.predict(&refs).unwrap();
    let z = trained
        .student
        .forward(test.inputs(&(0..100).collect::<Vec<_>>(), &device).unwrap())
        .unwrap()
        .logits;
    let z: Vec<f32> = z.into_data().convert::<f32>().try_to_vec().unwrap();
    for (p, row) in preds.iter().zip(z.chunks(3)) {
        for k in 0..3 {
            let s = 1.0 / (1.0 + (-row[k]).exp());
            assert!(
                (p.probabilities[k] - s).abs() < 1e-4,
                "{:?} vs {row:?}",
                p.probabilities
            );
        }
        let over: Vec<usize> = (0..3).filter(|&k| p.probabilities[k] >= [0.5, 0.9, 0.1][k]).collect();
        assert_eq!(p.labels, over);
    }
    // a file whose thresholds do not fit its labels is refused on reading
    let mut bad = ModelFile::read(&path).unwrap();
    bad.manifest.multi_label.as_mut().unwrap().thresholds = vec![0.5, 2.0, 0.5];
    bad.save(dir.join("bad.safetensors")).unwrap();
    assert!(ModelFile::read(dir.join("bad.safetensors")).is_err());
}

/// The subclass methods and DKD refuse multi-label data by name; single-
/// label targets on it (and multi-label targets on single-label data) and
/// class weights are refused too.
#[test]
fn methods_without_a_multi_label_form_refuse_it() {
    let device = common::device();
    let x: Vec<f32> = (0..40).map(|i| (i % 7) as f32).collect();
    let sets: Vec<Vec<usize>> = (0..10).map(|i| if i % 2 == 0 { vec![0, 1] } else { vec![1] }).collect();
    let data = Dataset::new(x.clone(), 4, vec![0; 10], 2)
        .unwrap()
        .with_label_sets(sets)
        .unwrap();
    let h = data.features_tensor(&device).unwrap();
    let z = Tensor::<2>::zeros([10, 2], &device);
    let teacher = TeacherOutput::new(h, z).unwrap();
    for m in [
        lelp::deploy::parse_method("lelp", 2, 0).unwrap(),
        lelp::deploy::parse_method("kmeans", 2, 0).unwrap(),
        lelp::deploy::parse_method("dkd", 2, 0).unwrap(),
        lelp::deploy::parse_method("sd", 2, 0).unwrap(),
    ] {
        let lelp::deploy::MethodChoice::Fixed(m) = m else {
            panic!("a fixed method")
        };
        assert!(!m.supports_multi_label());
        match m.prepare(&data, Some(&teacher)) {
            Err(LelpError::InvalidParameter { name: "method", .. }) => {}
            other => panic!("{} on multi-label data: {other:?}", m.name()),
        }
    }
    for name in ["plain", "kd", "fkd", "rkd"] {
        let lelp::deploy::MethodChoice::Fixed(m) = lelp::deploy::parse_method(name, 2, 0).unwrap() else {
            panic!("a fixed method")
        };
        let t = m.prepare(&data, Some(&teacher)).unwrap();
        assert!(t.is_multi_label(), "{name}");
    }
    let student = lelp::train::MlpConfig::new(4, vec![8], 2).init(&device).unwrap();
    let cfg = DistillConfig::new(1, 1e-2);
    let single = TrainingTargets::hard(2, 10).unwrap();
    assert!(matches!(
        Distiller::new(cfg.clone()).fit(student.clone(), &data, &single, None, &device),
        Err(LelpError::InvalidParameter { name: "targets", .. })
    ));
    let one = Dataset::new(x, 4, vec![0; 10], 2).unwrap();
    let multi = TrainingTargets::multi_label(2, 10).unwrap();
    assert!(
        Distiller::new(cfg.clone())
            .fit(student.clone(), &one, &multi, None, &device)
            .is_err()
    );
    let weighted = cfg.with_class_weights(Some(vec![1.0, 2.0]));
    assert!(matches!(
        Distiller::new(weighted).fit(student, &data, &multi, None, &device),
        Err(LelpError::InvalidParameter {
            name: "class_weights",
            ..
        })
    ));
}
