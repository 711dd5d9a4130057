//! The study's protocol (lelp::experiment) on real training: tuning
//! selects the known-best grid point of a constructed case, a whole study
//! runs from a config and reports every row, and an unfair budget is
//! refused before any training.

mod common;

use common::device;
use lelp::LelpError;
use lelp::data::Dataset;
use lelp::experiment::{Arch, Event, ExperimentConfig, MethodEntry, Run, markdown_table, run, select, train_network};
use lelp::teacher::TeacherOutput;
use lelp::train::{DistillConfig, Method};

/// A teacher whose logits are negated: it predicts the wrong class of
/// every row. Vanilla KD with `alpha = 0` imitates it (and fails);
/// `alpha = 1` is the ground-truth cross-entropy alone. Tuning on a
/// validation split must pick `alpha = 1`, listed second so that a
/// selection that keeps the first point would fail.
#[test]
fn tuning_picks_the_known_best_point_of_a_constructed_case() {
    let device = device();
    let data = Dataset::uci_digits().parity().unwrap();
    let (train, _) = data.split(0.3, 0).unwrap();
    let arch = Arch::Mlp { hidden: vec![32] };
    let cfg = DistillConfig::new(15, 1e-3).with_batch_size(64);
    let teacher = train_network(&arch, &train, &cfg, 1, &device).unwrap();
    let transfer = train.sample(400, 3).unwrap();
    let entry: MethodEntry =
        serde_json::from_str(r#"{"kind": "vanilla_kd", "tau": 1, "grid": {"alpha": [0.0, 1.0]}}"#).unwrap();
    let student_cfg = DistillConfig::new(30, 3e-3).with_batch_size(32);
    let mut scores = Vec::new();
    let (best, acc) = select(&entry, &transfer, 0.25, 5, |m, fit, valid| {
        let out = teacher.encode(fit, &device)?;
        let flipped = TeacherOutput::new(out.embeddings().clone(), out.logits().clone().neg())?;
        let run = Run {
            arch: &Arch::Mlp { hidden: vec![16] },
            transfer: fit,
            teacher: Some(&flipped),
            test: valid,
            config: &student_cfg,
            seed: 5,
            initial_table: None,
        };
        let a = run.score(m, &device)?;
        scores.push(a);
        Ok(a)
    })
    .unwrap();
    assert!(
        matches!(best, Method::VanillaKd(k) if k.alpha == 1.0),
        "selected {best:?}, scores {scores:?}"
    );
    assert_eq!(acc, scores[1]);
    assert!(scores[0] < 0.3 && scores[1] > 0.8, "{scores:?}");
}

fn config(methods: &str, tuning: &str) -> String {
    format!(
        r#"{{
        "name": "tiny", "data": {{"source": "uci-digits", "grouping": "parity"}},
        "transfer_sizes": [100, 200], "seeds": [0, 1],
        "teacher": {{"arch": {{"Mlp": {{"hidden": [64]}}}}, "epochs": 10, "lr": 0.001}},
        "student": {{"arch": {{"Mlp": {{"hidden": [16]}}}}, "epochs": 10, "lr": 0.003, "batch_size": 32}},
        "methods": {methods}, {tuning}
        "output": "unused"
    }}"#
    )
}

#[test]
fn a_student_spec_turns_lazy_tables_on() {
    let on =
        config(r#"[{"kind": "plain"}]"#, "").replace(r#""batch_size": 32"#, r#""batch_size": 32, "lazy_tables": true"#);
    let cfg = ExperimentConfig::from_json(&on).unwrap();
    assert!(cfg.student.distill_config().lazy_tables);
    let off = ExperimentConfig::from_json(&config(r#"[{"kind": "plain"}]"#, "")).unwrap();
    assert!(!off.student.distill_config().lazy_tables);
    let typo =
        config(r#"[{"kind": "plain"}]"#, "").replace(r#""batch_size": 32"#, r#""batch_size": 32, "lazy_table": true"#);
    assert!(ExperimentConfig::from_json(&typo).is_err());
}

#[test]
fn a_study_reports_every_row_in_order() {
    let cfg = ExperimentConfig::from_json(&config(
        r#"[{"kind": "plain"}, {"kind": "vanilla_kd", "grid": {"tau": [1, 4]}},
            {"kind": "lelp", "subclasses": 2, "grid": {"subclasses": [2, 3]}}]"#,
        r#""tuning": {"validation_fraction": 0.3},"#,
    ))
    .unwrap();
    let mut events = Vec::new();
    let rows = run(&cfg, &device(), "test", &mut |e| {
        events.push(match e {
            Event::Start { budget, train, .. } => format!("start {budget:?} {train}"),
            Event::Teacher { seed, .. } => format!("teacher {seed}"),
            Event::Row(r) => format!("row {} {} {}", r.seed, r.transfer_size, r.method),
            _ => "other".into(),
        });
        Ok(())
    })
    .unwrap();
    assert_eq!(rows.len(), 2 * 2 * 3);
    assert_eq!(events[0], "start Some(2) 1258");
    assert_eq!(events[1], "teacher 0");
    assert_eq!(events[2], "row 0 100 plain");
    assert_eq!(events[4], "row 0 100 LELP");
    assert_eq!(events[8], "teacher 1");
    for r in &rows {
        assert!(r.teacher_accuracy > 0.85 && r.accuracy > 0.6, "{r:?}");
        assert_eq!(r.device, "test");
        // tuned methods record the selected point and its validation accuracy
        assert_eq!(r.validation_accuracy.is_some(), r.method != "plain", "{r:?}");
        let setting = r.setting.as_ref().unwrap();
        if r.method == "LELP" {
            let s = setting["subclasses"].as_u64().unwrap();
            assert!(s == 2 || s == 3);
            assert_eq!(setting["seed"].as_u64(), Some(r.seed));
        }
    }
    let table = markdown_table(&cfg.name, &rows);
    assert_eq!(table.matches("| 2 |").count(), 6, "{table}");
}

#[test]
fn an_unfair_budget_is_refused_before_any_work() {
    let text = config(
        r#"[{"kind": "vanilla_kd", "grid": {"tau": [1, 2, 4]}},
            {"kind": "lelp", "subclasses": 2, "grid": {"subclasses": [2, 3]}}]"#,
        r#""tuning": {},"#,
    );
    match ExperimentConfig::from_json(&text) {
        Err(LelpError::InvalidConfig { reason }) => assert!(reason.contains("unequal"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // a config built in code is checked again by run(), before the teacher trains
    let mut cfg = ExperimentConfig::from_json(&config(r#"[{"kind": "plain"}]"#, r#""tuning": {},"#)).unwrap();
    cfg.methods
        .push(serde_json::from_str(r#"{"kind": "vanilla_kd", "grid": {"tau": []}}"#).unwrap());
    let mut called = false;
    let r = run(&cfg, &device(), "test", &mut |_| {
        called = true;
        Ok(())
    });
    assert!(matches!(r, Err(LelpError::InvalidConfig { .. })), "{r:?}");
    assert!(!called);
}

#[test]
fn config_errors_name_the_problem() {
    for (text, needle) in [
        (config(r#"[]"#, ""), "no methods"),
        (config(r#"[{"kind": "plain"}]"#, "\"typo\": 1,"), "typo"),
        (
            config(r#"[{"kind": "vanilla_kd", "grid": {"tau": [1]}}]"#, ""),
            "no \"tuning\"",
        ),
        (
            config(r#"[{"kind": "plain"}]"#, r#""tuning": {"validation_fraction": 1.5},"#),
            "validation_fraction",
        ),
    ] {
        match ExperimentConfig::from_json(&text) {
            Err(LelpError::InvalidConfig { reason }) => assert!(reason.contains(needle), "{needle}: {reason}"),
            other => panic!("{needle}: {other:?}"),
        }
    }
}

/// Every config the repository's studies ran from still parses and passes
/// the budget check (the schema is the library's now).
#[test]
fn the_repository_configs_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    if !dir.exists() {
        return; // a packaged crate leaves the study's configs out
    }
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            ExperimentConfig::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 10, "{n} configs");
}

/// A run's initial table reaches the token students and is refused by the
/// networks that have none.
#[test]
fn an_initial_table_is_for_token_students_only() {
    let device = device();
    let tokens = Dataset::from_tokens(vec![vec![1, 2], vec![3], vec![4, 5, 1]], vec![0, 1, 0], 2).unwrap();
    let table: Vec<f32> = (0..6 * 4).map(|i| i as f32 / 24.0).collect();
    let cnn = Arch::TextCnn {
        vocab: 6,
        dim: 4,
        channels: 3,
    };
    assert!(cnn.build_with_table(&tokens, 2, 0, Some(&table), &device).is_ok());
    // a table of another size is the table's error
    assert!(matches!(
        cnn.build_with_table(&tokens, 2, 0, Some(&table[..8]), &device),
        Err(LelpError::DimensionMismatch {
            expected: 24,
            got: 8,
            ..
        })
    ));
    let dense = Dataset::new(vec![0.0, 1.0, 1.0, 0.0], 2, vec![0, 1], 2).unwrap();
    let mlp = Arch::Mlp { hidden: vec![4] };
    assert!(matches!(
        mlp.build_with_table(&dense, 2, 0, Some(&table), &device),
        Err(LelpError::InvalidParameter {
            name: "initial_table",
            ..
        })
    ));
    assert!(mlp.build_with_table(&dense, 2, 0, None, &device).is_ok());
}
