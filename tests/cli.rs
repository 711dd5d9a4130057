//! The `lelp` command-line tool (feature `cli`), run as a user runs it:
//! distil on a small labelled file, predict, evaluate, and every kind of bad
//! input ending with its documented exit code and a message, never a
//! panic. The distillation test needs all-MiniLM-L6-v2
//! (`scripts/fetch-minilm.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lelp::data::HashedNgrams;
use lelp::deploy::{Featurizer, ModelFile};
use lelp::train::BagConfig;

/// The tool runs on burn's default device whatever the suite's device:
/// under another `LELP_TEST_DEVICE` these tests would only repeat the Flex
/// run, so they pass without running there.
fn elsewhere() -> bool {
    let other = common::device_name() != "flex";
    if other {
        eprintln!("the lelp tool runs on flex; tested in the flex run");
    }
    other
}

fn lelp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lelp"))
        .args(args)
        .env("LELP_MINILM_DIR", lelp::text::default_minilm_dir())
        .output()
        .expect("the lelp binary runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `lelp distill` on `data` into `model`, short (5 epochs, 32 tokens, no
/// cache, quiet), with `args` (student, method, ...).
fn distill(data: &Path, model: &Path, args: &[&str]) -> Output {
    let mut all = vec!["distill", "--data", s(data)];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--epochs",
        "5",
        "--tokens",
        "32",
        "--no-cache",
        "--quiet",
        "--out",
        s(model),
    ]);
    lelp(&all)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A labelled JSON-lines file with its own split: sport against money,
/// sentences built from two word lists.
fn sport_money(dir: &Path) -> (PathBuf, Vec<(String, String)>) {
    let sport = ["match", "goal", "team", "coach", "league", "score", "player", "season"];
    let money = ["bank", "loan", "price", "market", "stock", "profit", "budget", "tax"];
    let filler = ["the", "a", "new", "big", "today", "this", "week", "report"];
    let mut lines = String::new();
    let mut test = Vec::new();
    for i in 0..120usize {
        let (label, words) = if i % 2 == 0 {
            ("sport", &sport)
        } else {
            ("money", &money)
        };
        let text = format!(
            "{} {} {} {} {}",
            filler[i % 8],
            words[i % 8],
            words[(i / 3 + 1) % 8],
            filler[(i / 5) % 8],
            words[(i / 7 + 3) % 8]
        );
        let split = if i % 5 == 0 { "test" } else { "train" };
        if split == "test" {
            test.push((text.clone(), label.to_string()));
        }
        lines.push_str(&serde_json::json!({"text": text, "label": label, "split": split}).to_string());
        lines.push('\n');
    }
    (write(dir, "sport-money.jsonl", lines.as_bytes()), test)
}

#[test]
fn distill_predict_and_eval_agree() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-distill");
    let (data, test) = sport_money(&dir);
    let model = dir.join("out/model.safetensors");
    let o = distill(
        &data,
        &model,
        &["--student", "bag", "--method", "auto", "--subclasses", "2"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("test accuracy"), "{stdout}");

    // the manifest records the choice and every candidate's validation score
    let info = lelp(&["info", s(&model)]);
    assert_eq!(code(&info), 0, "{}", stderr(&info));
    let m: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(m["method"]["chosen_by"], "validation");
    let candidates = m["method"]["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 9);
    let best = candidates
        .iter()
        .filter_map(|c| Some((c, c["validation_accuracy"].as_f64()?)))
        .fold(None::<(&serde_json::Value, f64)>, |b, (c, a)| match b {
            Some((_, ba)) if ba >= a => b,
            _ => Some((c, a)),
        })
        .unwrap();
    assert_eq!(m["method"]["method"], best.0["method"], "the best candidate is chosen");
    assert_eq!(m["metrics"]["validation_accuracy"].as_f64(), Some(best.1));
    assert_eq!(m["metrics"]["test_rows"], 24);
    assert_eq!(m["class_names"], serde_json::json!(["money", "sport"]));

    // predict the test texts, then score them here
    let texts: String = test.iter().map(|(t, _)| format!("{t}\n")).collect();
    let input = write(&dir, "test.txt", texts.as_bytes());
    let out = dir.join("preds/p.jsonl");
    let p = lelp(&[
        "predict",
        s(&model),
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--quiet",
    ]);
    assert_eq!(code(&p), 0, "{}", stderr(&p));
    let preds: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(preds.len(), test.len());
    let mut correct = 0;
    for (p, (_, label)) in preds.iter().zip(&test) {
        let probs = p["probabilities"].as_object().unwrap();
        let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{p}");
        correct += (p["label"] == label.as_str()) as usize;
    }
    let ours = correct as f64 / test.len() as f64;

    // eval on the test rows: the tool's accuracy, ours, and the manifest's
    let test_file: String = test
        .iter()
        .map(|(t, l)| format!("{}\n", serde_json::json!({"text": t, "label": l})))
        .collect();
    let test_file = write(&dir, "test.jsonl", test_file.as_bytes());
    let e = lelp(&["eval", s(&model), "--data", s(&test_file)]);
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let r: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let acc = r["accuracy"].as_f64().unwrap();
    assert!((acc - ours).abs() < 1e-12, "eval {acc} vs predict {ours}");
    let recorded = m["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!((acc - recorded).abs() < 1e-12, "eval {acc} vs training's {recorded}");
    assert!(acc > 0.8, "two word lists are easy: {acc}");

    // precision, recall and F1 of the predictions, counted here, in eval's
    // report and (the same test rows) in the manifest
    let mut f1s = Vec::new();
    for class in ["money", "sport"] {
        let tp = preds
            .iter()
            .zip(&test)
            .filter(|(p, (_, l))| p["label"] == class && l == class)
            .count() as f64;
        let said = preds.iter().filter(|p| p["label"] == class).count() as f64;
        let have = test.iter().filter(|(_, l)| l == class).count() as f64;
        let (precision, recall) = (tp / said.max(1.0), tp / have.max(1.0));
        let f1 = if tp > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        let pc = &r["per_class"][class];
        assert!((pc["precision"].as_f64().unwrap() - precision).abs() < 1e-12, "{pc}");
        assert!((pc["recall"].as_f64().unwrap() - recall).abs() < 1e-12, "{pc}");
        assert!((pc["f1"].as_f64().unwrap() - f1).abs() < 1e-12, "{pc}");
        f1s.push(f1);
    }
    let macro_f1 = (f1s[0] + f1s[1]) / 2.0;
    assert!((r["macro_f1"].as_f64().unwrap() - macro_f1).abs() < 1e-12);
    let recorded = m["metrics"]["test_scores"]["macro_f1"].as_f64().unwrap();
    assert!((recorded - macro_f1).abs() < 1e-12, "manifest {recorded} vs {macro_f1}");
    assert!(r["ece"].as_f64().unwrap() >= 0.0);
    assert!(stdout.contains("macro-F1"), "{stdout}");
}

#[test]
fn a_static_student_starts_from_the_teacher() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-static");
    let (data, _) = sport_money(&dir);
    let model = dir.join("static.safetensors");
    let o = distill(&data, &model, &["--student", "static", "--method", "kd"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("student  static ("), "{stdout}");
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["featurizer"]["kind"], "wordpiece");
    assert_eq!(m["architecture"]["dim"], 256);
    assert_eq!(m["featurizer"]["vocab_size"], m["architecture"]["buckets"]);
    let acc = m["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "the teacher's table separates two word lists: {acc}");
    // the table is fine-tuned by default: the rows of the tokens the
    // texts use move, every other row stays the teacher's, as
    // --frozen-table leaves all of them
    let frozen = dir.join("frozen.safetensors");
    let o = distill(
        &data,
        &frozen,
        &["--student", "static", "--method", "kd", "--frozen-table"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (tuned, kept) = (table(&model), table(&frozen));
    assert_eq!(tuned.len(), kept.len());
    let moved = tuned.chunks(256).zip(kept.chunks(256)).filter(|(a, b)| a != b).count();
    let rows = kept.len() / 256;
    assert!(moved > 0 && moved < rows / 100, "{moved} of {rows} rows moved");
    // with bigram rows (the table frozen, so the rows are the build's):
    // the table grows by them, the file's featuriser reads the pairs, the
    // 50 most frequent pairs start from the teacher, the others at zero
    let pairs = dir.join("pairs.safetensors");
    let flags = [
        "--student",
        "static",
        "--method",
        "kd",
        "--frozen-table",
        "--bigrams",
        "4096",
        "--encoded-bigrams",
        "50",
    ];
    let o = distill(&data, &pairs, &flags);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("student  static, 4096 bigram rows ("));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&pairs)]).stdout).unwrap();
    assert_eq!(m["featurizer"]["bigram_buckets"], 4096);
    let v = m["featurizer"]["vocab_size"].as_u64().unwrap() as usize;
    assert_eq!(m["architecture"]["buckets"].as_u64(), Some(v as u64 + 4096));
    let with_pairs = table(&pairs);
    assert_eq!(with_pairs.len(), (v + 4096) * 256);
    assert_eq!(with_pairs[..v * 256], kept[..], "the token rows are the teacher's");
    let nonzero = with_pairs[v * 256..]
        .chunks(256)
        .filter(|r| r.iter().any(|&x| x != 0.0))
        .count();
    // two of the 50 may share a bucket
    assert!((45..=50).contains(&nonzero), "{nonzero} bigram rows are not zero");
    // bigram rows are the static student's
    let o = distill(&data, &pairs, &["--student", "bag", "--bigrams", "16"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // and zero rows in a frozen table would never train
    let o = distill(
        &data,
        &pairs,
        &["--student", "static", "--frozen-table", "--bigrams", "16"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// A static student's `[V, 256]` table from its model file (the one
/// tensor of that width).
fn table(model: &Path) -> Vec<f32> {
    let bytes = std::fs::read(model).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, view) = st
        .tensors()
        .into_iter()
        .find(|(_, v)| v.shape().len() == 2 && v.shape()[1] == 256 && v.shape()[0] > 256)
        .expect("a [V, 256] table");
    view.data()
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn a_transformer_student_starts_from_the_teachers_bottom_layer_and_ships() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-transformer");
    let (data, test) = sport_money(&dir);
    let model = dir.join("transformer.safetensors");
    let o = distill(
        &data,
        &model,
        &["--student", "transformer", "--layers", "1", "--method", "kd"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["featurizer"]["kind"], "sentence_encoder");
    assert_eq!(m["featurizer"]["config"]["num_hidden_layers"], 1);
    assert_eq!(m["featurizer"]["normalize"], false);
    assert_eq!(m["architecture"]["hidden"].as_array().map(Vec::len), Some(0));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("student  transformer, 1 layers"), "{stdout}");
    let acc = m["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "two word lists are easy: {acc}");
    // the file alone predicts: eval on the test rows agrees with the manifest
    let rows: String = test
        .iter()
        .map(|(t, l)| format!("{}\n", serde_json::json!({"text": t, "label": l})))
        .collect();
    let test_file = write(&dir, "test.jsonl", rows.as_bytes());
    let e = lelp(&["eval", s(&model), "--data", s(&test_file)]);
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let r: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let eval = r["accuracy"].as_f64().unwrap();
    // the host path against training's graph: a near tie may flip one row
    assert!(
        (eval - acc).abs() <= 1.0 / test.len() as f64 + 1e-12,
        "eval {eval} vs training's {acc}"
    );
    // a pretrained start that is not a BERT folder: a missing file (exit 5)
    let o = distill(
        &data,
        &model,
        &["--student", "transformer", "--init", s(&dir.join("nowhere"))],
    );
    assert_eq!(code(&o), 5, "{}", stderr(&o));
}

#[test]
fn augmented_copies_join_the_transfer_set() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-augment");
    let (data, test) = sport_money(&dir);
    let model = dir.join("augment.safetensors");
    let o = distill(&data, &model, &["--student", "bag", "--method", "kd", "--augment", "3"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    let (train, augmented) = (
        m["metrics"]["train_rows"].as_u64().unwrap(),
        m["metrics"]["augmented_rows"].as_u64().unwrap(),
    );
    assert_eq!(m["metrics"]["test_rows"].as_u64().unwrap(), test.len() as u64);
    // three copies a training text, fewer only where a short text has
    // fewer than three distinct variants
    assert!(
        augmented > 2 * train && augmented <= 3 * train,
        "{augmented} copies of {train} rows"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("+ {augmented} augmented")), "{stdout}");
    let acc = m["metrics"]["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "two word lists are easy: {acc}");
}

/// A small bag model written through the library (no teacher needed).
fn small_model(dir: &Path) -> PathBuf {
    let device = burn::prelude::Device::flex();
    let bag = BagConfig::new(64, 2).with_dim(4).init(&device).unwrap();
    let model = ModelFile::new(
        &bag,
        Featurizer::hashed(&HashedNgrams::new(64)),
        vec!["ham".into(), "spam".into()],
    )
    .unwrap();
    let p = dir.join("small.safetensors");
    model.save(&p).unwrap();
    p
}

#[test]
fn bad_input_ends_with_its_documented_exit_code() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-bad");
    let model = small_model(&dir);
    let texts = write(&dir, "texts.txt", b"hello\n\nfree money\n");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["distill".into(), "--bogus".into()], 2, "--bogus"),
        (
            vec![
                "distill".into(),
                "--data".into(),
                "x.csv".into(),
                "--subclasses".into(),
                "1000000000".into(),
            ],
            2,
            "subclasses",
        ),
        (
            vec![
                "distill".into(),
                "--data".into(),
                "x.csv".into(),
                "--augment".into(),
                "101".into(),
            ],
            2,
            "augment",
        ),
        (
            vec![
                "distill".into(),
                "--data".into(),
                "x.csv".into(),
                "--student".into(),
                "bert".into(),
            ],
            2,
            "bert",
        ),
        (
            vec![
                "distill".into(),
                "--data".into(),
                "x.csv".into(),
                "--method".into(),
                "magic".into(),
            ],
            2,
            "magic",
        ),
        (
            vec!["distill".into(), "--data".into(), s(&dir.join("missing.csv")).into()],
            5,
            "missing.csv",
        ),
        (
            vec![
                "distill".into(),
                "--data".into(),
                s(&write(&dir, "nolabel.csv", b"text,category\nhi,a\n")).into(),
            ],
            3,
            "nolabel.csv, row 1",
        ),
        (
            vec![
                "distill".into(),
                "--data".into(),
                s(&write(&dir, "one.csv", b"text,label\nhi,a\nho,a\n")).into(),
            ],
            3,
            "at least two",
        ),
        (
            vec![
                "distill".into(),
                "--data".into(),
                s(&write(&dir, "empty.csv", b"text,label\nhi,a\n ,b\n")).into(),
            ],
            3,
            "empty.csv, row 3: empty text",
        ),
        (
            vec!["predict".into(), s(&dir.join("none.safetensors")).into()],
            5,
            "none.safetensors",
        ),
        (
            vec![
                "predict".into(),
                s(&write(&dir, "junk.safetensors", b"\x10\0\0\0\0\0\0\0{\"a\":1}")).into(),
            ],
            4,
            "junk.safetensors",
        ),
        (
            vec!["predict".into(), s(&texts).into()], // a text file is not a model
            4,
            "texts.txt",
        ),
        (
            vec![
                "predict".into(),
                s(&model).into(),
                "--input".into(),
                s(&write(&dir, "bad.txt", b"ok\nnot \xff utf-8\n")).into(),
            ],
            3,
            "bad.txt, row 2",
        ),
        (
            vec![
                "eval".into(),
                s(&model).into(),
                "--data".into(),
                s(&write(&dir, "other.csv", b"text,label\nhi,ham\nyo,eggs\n")).into(),
            ],
            3,
            "'eggs'",
        ),
    ];
    for (args, want, needle) in cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = lelp(&refs);
        let err = stderr(&o);
        assert_eq!(code(&o), want, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn columns_are_chosen_by_name() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-columns");
    let model = small_model(&dir);
    let csv = write(&dir, "t.csv", b"id,body,kind\n1,free money,spam\n2,see you,ham\n");
    let o = lelp(&[
        "predict",
        s(&model),
        "--input",
        s(&csv),
        "--text-column",
        "body",
        "--quiet",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = lelp(&[
        "eval",
        s(&model),
        "--data",
        s(&csv),
        "--text-column",
        "body",
        "--label-column",
        "kind",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["rows"], 2);
    // the default column is missing: an error naming it
    let o = lelp(&["predict", s(&model), "--input", s(&csv)]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("no 'text' column"), "{}", stderr(&o));
}

#[test]
fn predict_writes_whole_files_and_predicts_empty_texts() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-predict");
    let model = small_model(&dir);
    let texts = write(
        &dir,
        "in.csv",
        "id,text\n1,free money\n2,\n3,\"\u{202e}rtl \u{200b}\"\n".as_bytes(),
    );
    let out = dir.join("a/b/c/out.jsonl");
    let o = lelp(&["predict", s(&model), "--input", s(&texts), "--output", s(&out)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 3);
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(["ham", "spam"].contains(&v["label"].as_str().unwrap()), "{l}");
    }
    // no temporary file is left beside the output
    let left: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

/// A labelled file with ids (sport against money, as [`sport_money`]) and a
/// teacher that is not the labels: it follows the words, except on every
/// seventh row, where it says the other class (a teacher's own mistakes,
/// which no student can learn from the text). Its outputs come as
/// probabilities keyed by class, shuffled out of the data's order (matched
/// by id). Returns the data, the outputs, and the teacher's class per row.
fn supplied_teacher(dir: &Path) -> (PathBuf, PathBuf, Vec<&'static str>) {
    let (data, _) = sport_money(dir);
    let text = std::fs::read_to_string(&data).unwrap();
    let (mut with_ids, mut outputs, mut classes) = (String::new(), Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["id"] = serde_json::json!(format!("r{i}"));
        with_ids.push_str(&v.to_string());
        with_ids.push('\n');
        let sport = (v["label"] == "sport") != (i % 7 == 0);
        let p = if sport { 0.85 } else { 0.1 };
        classes.push(if sport { "sport" } else { "money" });
        let o = serde_json::json!({"id": format!("r{i}"), "probs": {"sport": p, "money": 1.0 - p}});
        outputs.push(o.to_string());
    }
    outputs.reverse();
    let data = write(dir, "ids.jsonl", with_ids.as_bytes());
    let outputs = write(dir, "teacher.jsonl", (outputs.join("\n") + "\n").as_bytes());
    (data, outputs, classes)
}

#[test]
fn a_supplied_teacher_is_imitated_and_measured_by_agreement() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-supplied");
    let (data, outputs, teacher) = supplied_teacher(&dir);
    let model = dir.join("model.safetensors");
    let o = distill(&data, &model, &["--teacher-outputs", s(&outputs), "--seed", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("chosen by agreement on the validation rows"),
        "{stdout}"
    );
    assert!(stdout.contains("left out"), "{stdout}");

    // without embeddings, auto tries the methods that read logits alone,
    // and keeps the best by agreement with the teacher
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["method"]["metric"], "agreement");
    let candidates = m["method"]["candidates"].as_array().unwrap();
    let names: Vec<&str> = candidates.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["plain", "vanilla KD", "DKD"]);
    let best = candidates
        .iter()
        .map(|c| c["validation_agreement"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    let chosen = candidates
        .iter()
        .find(|c| c["method"] == m["method"]["method"])
        .unwrap();
    assert_eq!(chosen["validation_agreement"].as_f64(), Some(best));
    assert_eq!(m["teacher"]["head"], "supplied probabilities");
    assert_eq!(m["teacher"]["name"], "teacher.jsonl");

    // the test rows' agreement in the manifest is the model's own: predict
    // them here and count against the teacher's classes
    let corpus = lelp::text::TextCorpus::from_jsonl(&data).unwrap();
    let test_rows = corpus.split_rows("test").unwrap();
    let texts: String = test_rows.iter().map(|&r| corpus.texts[r].clone() + "\n").collect();
    let input = write(&dir, "test.txt", texts.as_bytes());
    let p = lelp(&["predict", s(&model), "--input", s(&input)]);
    assert_eq!(code(&p), 0, "{}", stderr(&p));
    let said: Vec<String> = String::from_utf8_lossy(&p.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["label"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let agree = test_rows
        .iter()
        .zip(&said)
        .filter(|(r, l)| teacher[**r] == l.as_str())
        .count();
    let agreement = agree as f64 / test_rows.len() as f64;
    assert_eq!(m["metrics"]["test_agreement"].as_f64(), Some(agreement));
    assert_eq!(m["metrics"]["fidelity"]["rows"], test_rows.len());
    // the teacher's own mistakes sit on four test rows (i = 0, 35, 70, 105),
    // which no student can learn from the text: at most 20 of 24; a
    // student that imitates the teacher gets the other rows
    assert!((0.75..1.0).contains(&agreement), "{agreement}");

    // eval against the same outputs: the fidelity of every row, and the
    // rows of disagreement written out, each one a real disagreement
    let dis = dir.join("disagreements.jsonl");
    let e = lelp(&[
        "eval",
        s(&model),
        "--data",
        s(&data),
        "--teacher-outputs",
        s(&outputs),
        "--disagreements",
        s(&dis),
    ]);
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let r: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let f = &r["fidelity"];
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&dis)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rows = f["rows"].as_u64().unwrap() as usize;
    assert_eq!(rows, corpus.len());
    let agreed = (f["agreement"].as_f64().unwrap() * rows as f64).round() as usize;
    assert_eq!(lines.len(), rows - agreed);
    for l in &lines {
        let row = l["row"].as_u64().unwrap() as usize - 1;
        assert_eq!(l["teacher"], teacher[row]);
        assert_ne!(l["student"], l["teacher"]);
        assert_eq!(l["text"], corpus.texts[row].as_str());
    }
    let right = (0..corpus.len())
        .filter(|&i| teacher[i] == corpus.class_names[corpus.labels[i]])
        .count();
    assert_eq!(r["teacher_accuracy"].as_f64(), Some(right as f64 / corpus.len() as f64));
}

#[test]
fn min_agreement_fails_the_run_and_keeps_the_model() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-min-agreement");
    let (data, outputs, _) = supplied_teacher(&dir);
    let model = dir.join("model.safetensors");
    let args = [
        "--teacher-outputs",
        s(&outputs),
        "--method",
        "kd",
        "--min-agreement",
        "0.99",
    ];
    let o = distill(&data, &model, &args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("under the target 0.99"), "{}", stderr(&o));
    assert!(model.exists(), "the model file is kept");
    // a target outside (0, 1] is a bad option, before any work
    let fresh = dir.join("fresh.safetensors");
    let o = distill(
        &data,
        &fresh,
        &["--teacher-outputs", s(&outputs), "--min-agreement", "1.5"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!fresh.exists());
}

#[test]
fn bad_teacher_outputs_are_refused_by_file_and_line() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-bad-outputs");
    let (data, _, _) = supplied_teacher(&dir);
    let model = dir.join("model.safetensors");
    let line = |i: usize, body: &str| format!("{{\"id\": \"r{i}\", {body}}}");
    let good = |i: usize| line(i, "\"logits\": {\"sport\": 1.0, \"money\": -1.0}");
    let file = |bad_row: usize, bad: String| -> String {
        (0..120)
            .map(|i| if i == bad_row { bad.clone() } else { good(i) } + "\n")
            .collect()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "nan",
            file(3, line(3, "\"logits\": {\"sport\": NaN, \"money\": 0}")),
            "not JSON",
        ),
        (
            "no-header",
            file(5, line(5, "\"logits\": [1.0, 2.0, 3.0]")),
            "needs a first line",
        ),
        (
            "mixed",
            file(6, line(6, "\"probs\": {\"sport\": 0.7, \"money\": 0.3}")),
            "mixes",
        ),
        (
            "class",
            file(7, line(7, "\"logits\": {\"sport\": 1, \"golf\": 0}")),
            "'golf' is not a label",
        ),
        (
            "dup",
            file(9, line(8, "\"logits\": {\"sport\": 1, \"money\": 0}")),
            "again",
        ),
        (
            "empty",
            "{\"classes\": [\"sport\", \"money\"]}\n\n".to_string(),
            "no outputs",
        ),
        (
            "missing",
            (0..119).map(|i| good(i) + "\n").collect(),
            "has no teacher output",
        ),
        (
            "noid",
            file(4, "{\"logits\": {\"sport\": 1, \"money\": 0}}".into()),
            "no `id`",
        ),
        (
            "probs",
            (0..120)
                .map(|i| line(i, "\"probs\": {\"sport\": 0.7, \"money\": 0.7}") + "\n")
                .collect(),
            "sum to",
        ),
        (
            "width",
            "{\"classes\": [\"sport\", \"money\"]}\n".to_string()
                + &(0..120)
                    .map(|i| line(i, "\"logits\": [1.0, 2.0, 3.0]") + "\n")
                    .collect::<String>(),
            "3 values for 2 classes",
        ),
    ];
    for (name, text, says) in cases {
        let outputs = write(&dir, &format!("{name}.jsonl"), text.as_bytes());
        let o = distill(&data, &model, &["--teacher-outputs", s(&outputs)]);
        let err = stderr(&o);
        assert_eq!(code(&o), 3, "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
        assert!(err.contains(".jsonl"), "{name} names the file: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!model.exists(), "{name}: nothing written");
    }
    // a method that reads embeddings, with logits alone: a bad option
    let outputs = write(&dir, "logits.jsonl", file(0, good(0)).as_bytes());
    let o = distill(
        &data,
        &model,
        &["--teacher-outputs", s(&outputs), "--method", "lelp-no-null"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("embeddings"), "{}", stderr(&o));
    // an MLP student needs the encoder's embeddings when it predicts
    let o = distill(&data, &model, &["--teacher-outputs", s(&outputs), "--student", "mlp"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!model.exists());
}

/// Supplied embeddings open the methods that read them, and the tool still
/// refuses those that would not imitate the supplied outputs: the
/// null-space projections (no head is supplied); `--choose-by accuracy`
/// overrides the default.
#[test]
fn supplied_embeddings_open_the_embedding_methods() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-supplied-emb");
    let (data, outputs, _) = supplied_teacher(&dir);
    // the same outputs with a 4-d embedding on every line: the class's
    // direction, and the row's number as noise
    let text = std::fs::read_to_string(&outputs).unwrap();
    let lines: String = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let p = v["probs"]["sport"].as_f64().unwrap();
            let i: f64 = v["id"].as_str().unwrap()[1..].parse().unwrap();
            v["embedding"] = serde_json::json!([p, 1.0 - p, (i * 0.37).sin(), (i * 0.11).cos()]);
            v.to_string() + "\n"
        })
        .collect();
    let outputs = write(&dir, "with-embeddings.jsonl", lines.as_bytes());
    let model = dir.join("model.safetensors");
    for method in ["lelp", "random-proj"] {
        let o = distill(&data, &model, &["--teacher-outputs", s(&outputs), "--method", method]);
        assert_eq!(code(&o), 2, "{method}: {}", stderr(&o));
        assert!(!model.exists(), "{method}");
    }
    let args = [
        "--teacher-outputs",
        s(&outputs),
        "--subclasses",
        "2",
        "--choose-by",
        "accuracy",
    ];
    let o = distill(&data, &model, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["method"]["metric"], "accuracy");
    let candidates = m["method"]["candidates"].as_array().unwrap();
    let names: Vec<&str> = candidates.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let want = [
        "plain",
        "vanilla KD",
        "feature KD",
        "DKD",
        "RKD",
        "k-means (S = 2)",
        "subclass distillation (S = 2)",
        "LELP, no null space (S = 2)",
    ];
    assert_eq!(names, want);
    assert!(candidates.iter().all(|c| c["error"].is_null()), "{m}");
    assert_eq!(m["teacher"]["head"], "supplied probabilities and 4-d embeddings");
}

/// A labelled file over the words of the small checkpoints'
/// vocabulary (tests/data/hf), labelled with `classes` in turn.
fn checkpoint_data(dir: &Path, classes: &[&str]) -> PathBuf {
    let words = [
        "the", "The", "cat", "Cat", "sat", "on", "mat", "good", "Good", "bad", "film", "plot", "dull", "great", "not",
        "is", "was", "a", "very", "café", "naive", "play", "!", "?",
    ];
    let mut lines = String::new();
    for i in 0..160usize {
        let text = format!(
            "{} {} {} {}",
            words[i % 24],
            words[(i / 2 + 5) % 24],
            words[(i * 7 + 3) % 24],
            words[(i / 5 + 11) % 24]
        );
        let split = if i % 5 == 0 { "test" } else { "train" };
        let label = classes[i % classes.len()];
        lines.push_str(&serde_json::json!({"text": text, "label": label, "split": split}).to_string());
        lines.push('\n');
    }
    write(dir, "checkpoint-data.jsonl", lines.as_bytes())
}

/// A fine-tuned classifier folder (written by `transformers`) is the
/// teacher as it is: the tool runs it, maps its classes onto the data's by
/// name, reports its accuracy and the student's agreement with it, and
/// `eval --teacher` measures against it as `distill` did.
#[test]
fn a_fine_tuned_classifier_folder_is_the_teacher() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-hf");
    let ckpt = common::data_path("hf", "distilbert-cased");
    // the data names the classes in another order than id2label
    let data = checkpoint_data(&dir, &["weather", "other", "billing", "travel"]);
    let model = dir.join("model.safetensors");
    let o = distill(&data, &model, &["--teacher", s(&ckpt), "--seed", "3"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert!(
        m["teacher"]["head"]
            .as_str()
            .unwrap()
            .starts_with("DistilBertForSequenceClassification"),
        "{}",
        m["teacher"]
    );
    // the user's own model: auto chooses by agreement, and every method
    // runs (the head is known: the null-space projection too)
    assert_eq!(m["method"]["metric"], "agreement");
    let names: Vec<&str> = m["method"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"LELP (S = 4)"), "{names:?}");

    // the teacher's classes, computed here by the library on the test rows
    let corpus = lelp::text::TextCorpus::from_jsonl(&data).unwrap();
    let test_rows = corpus.split_rows("test").unwrap();
    let clf = lelp::text::HfClassifier::from_dir(&ckpt, &burn::prelude::Device::default()).unwrap();
    let texts: Vec<&str> = test_rows.iter().map(|&r| corpus.texts[r].as_str()).collect();
    let logits = clf.logits(&texts, 16).unwrap();
    let said: Vec<&str> = logits
        .chunks(4)
        .map(|z| clf.class_names()[(0..4).fold(0, |b, k| if z[k] > z[b] { k } else { b })].as_str())
        .collect();
    assert!(
        said.iter().any(|&c| c != said[0]),
        "a teacher that says one class tests nothing"
    );
    let right = test_rows
        .iter()
        .zip(&said)
        .filter(|(r, c)| corpus.class_names[corpus.labels[**r]] == **c)
        .count();
    let accuracy = right as f64 / test_rows.len() as f64;
    assert_eq!(m["teacher"]["test_accuracy"].as_f64(), Some(accuracy));

    // eval against the folder: the test rows' agreement equals distill's
    let test_file: String = test_rows
        .iter()
        .map(|&r| {
            let label = &corpus.class_names[corpus.labels[r]];
            serde_json::json!({"text": corpus.texts[r], "label": label}).to_string() + "\n"
        })
        .collect();
    let test_data = write(&dir, "test.jsonl", test_file.as_bytes());
    let dis = dir.join("disagreements.jsonl");
    let e = lelp(&[
        "eval",
        s(&model),
        "--data",
        s(&test_data),
        "--teacher",
        s(&ckpt),
        "--disagreements",
        s(&dis),
    ]);
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let r: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(r["teacher_accuracy"].as_f64(), Some(accuracy));
    // --disagreements without a teacher is refused
    let o = lelp(&["eval", s(&model), "--data", s(&test_data), "--disagreements", s(&dis)]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(r["fidelity"]["agreement"], m["metrics"]["test_agreement"]);
    // the cascade's dial: the student answers everything at threshold 0
    // (its own agreement), fewer rows as the threshold rises, and every
    // deferred row takes the teacher's class
    let curve = r["cascade"].as_array().unwrap();
    assert_eq!(curve[0]["coverage"], 1.0);
    assert_eq!(curve[0]["agreement"], r["fidelity"]["agreement"]);
    for pair in curve.windows(2) {
        assert!(pair[1]["coverage"].as_f64() <= pair[0]["coverage"].as_f64(), "{pair:?}");
        assert!(
            pair[1]["agreement"].as_f64() >= pair[0]["agreement"].as_f64(),
            "{pair:?}"
        );
    }
    for l in std::fs::read_to_string(&dis).unwrap().lines() {
        let l: serde_json::Value = serde_json::from_str(l).unwrap();
        let row = l["row"].as_u64().unwrap() as usize - 1;
        assert_eq!(l["teacher"], said[row]);
        assert_ne!(l["student"], l["teacher"]);
    }
}

/// What cannot be distilled from a classifier folder is refused before
/// any work, with the reason.
#[test]
fn a_classifier_folder_that_does_not_fit_the_data_is_refused() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-hf-bad");
    let ckpt = common::data_path("hf", "distilbert-cased");
    let model = dir.join("model.safetensors");
    // a label the checkpoint does not know
    let data = checkpoint_data(&dir, &["weather", "misc", "billing", "travel"]);
    let o = distill(&data, &model, &["--teacher", s(&ckpt)]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("lacks [misc]"), "{}", stderr(&o));
    // the MLP student's file embeds a sentence encoder
    let data = checkpoint_data(&dir, &["weather", "other", "billing", "travel"]);
    let o = distill(&data, &model, &["--teacher", s(&ckpt), "--student", "mlp"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("fine-tuned classifier"), "{}", stderr(&o));
    // a checkpoint the crate cannot run exactly: the field, exit 4
    let arch = common::tempdir("cli-hf-arch");
    for f in std::fs::read_dir(&ckpt).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, arch.join(f.file_name().unwrap())).unwrap();
    }
    let cfg = std::fs::read_to_string(arch.join("config.json")).unwrap();
    std::fs::write(
        arch.join("config.json"),
        cfg.replace(
            "DistilBertForSequenceClassification",
            "RobertaForSequenceClassification",
        ),
    )
    .unwrap();
    let o = distill(&data, &model, &["--teacher", s(&arch)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("architectures"), "{}", stderr(&o));
    assert!(!model.exists(), "nothing written");
}

/// `predict --top-k` lists the most probable classes in order, and
/// `--threshold` gives an explicit null label where the top probability is
/// under it; a threshold outside [0, 1] or a top-k of 0 is refused.
#[test]
fn predict_applies_the_decision_rules() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-rules");
    let model = small_model(&dir);
    let input = write(&dir, "texts.txt", b"free money now\nlunch at noon?\n\nwin win win\n");
    let plain = lelp(&["predict", s(&model), "--input", s(&input), "--quiet"]);
    assert_eq!(code(&plain), 0, "{}", stderr(&plain));
    let lines = |o: &Output| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let plain = lines(&plain);
    let top = |v: &serde_json::Value| -> f64 {
        v["probabilities"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    // a threshold between the lines' top probabilities splits them
    let mut tops: Vec<f64> = plain.iter().map(top).collect();
    tops.sort_by(f64::total_cmp);
    let cut = (tops[0] + tops[tops.len() - 1]) / 2.0;
    assert!(tops[0] < cut && cut < tops[tops.len() - 1], "{tops:?}");
    let cut_s = format!("{cut}");
    let ruled = lelp(&[
        "predict",
        s(&model),
        "--input",
        s(&input),
        "--quiet",
        "--top-k",
        "2",
        "--threshold",
        &cut_s,
    ]);
    assert_eq!(code(&ruled), 0, "{}", stderr(&ruled));
    for (p, r) in plain.iter().zip(lines(&ruled)) {
        assert_eq!(p["probabilities"], r["probabilities"]);
        if top(p) >= cut {
            assert_eq!(r["label"], p["label"]);
        } else {
            assert!(r["label"].is_null(), "{r}");
        }
        let t = r["top"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["label"], p["label"]);
        assert!(t[0]["probability"].as_f64() >= t[1]["probability"].as_f64());
    }
    for bad in [
        ["--threshold", "1.5"],
        ["--threshold", "-0.1"],
        ["--threshold", "NaN"],
        ["--top-k", "0"],
    ] {
        let mut args = vec!["predict", s(&model), "--input", s(&input)];
        args.extend(bad);
        let o = lelp(&args);
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }
}

/// `--calibrate` fits a temperature on the validation rows, holds them out
/// of the final student, records it (format version 3), and predict's
/// probabilities follow it.
#[test]
fn calibrate_fits_a_temperature_on_held_out_rows() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-calibrate");
    let (data, _) = sport_money(&dir);
    let plain_model = dir.join("plain.safetensors");
    let o = distill(&data, &plain_model, &["--method", "kd", "--seed", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let model = dir.join("calibrated.safetensors");
    let o = distill(&data, &model, &["--method", "kd", "--seed", "2", "--calibrate"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("calibrated: temperature"));
    let info = |m: &Path| -> serde_json::Value { serde_json::from_slice(&lelp(&["info", s(m)]).stdout).unwrap() };
    let (plain, calibrated) = (info(&plain_model), info(&model));
    assert_eq!(plain["format_version"], 2);
    assert!(plain.get("calibration").is_none());
    assert_eq!(calibrated["format_version"], 3);
    let k = &calibrated["calibration"];
    let t = k["temperature"].as_f64().unwrap();
    assert!(t > 0.0 && t.is_finite(), "{k}");
    // the held rows are the validation share of the 96 labelled rows
    let held = k["rows"].as_u64().unwrap();
    assert!((15..=25).contains(&held), "{k}");
    assert_eq!(
        calibrated["metrics"]["train_rows"].as_u64().unwrap() + held,
        plain["metrics"]["train_rows"].as_u64().unwrap()
    );
    for e in ["ece_before", "ece_after"] {
        assert!((0.0..=1.0).contains(&k[e].as_f64().unwrap()), "{k}");
    }
}

/// `--choose-by macro-f1` keeps the candidate with the best validation
/// macro-F1 and says so in the manifest; an unknown metric is refused.
#[test]
fn auto_chooses_by_macro_f1() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-macro-f1");
    let (data, _) = sport_money(&dir);
    let model = dir.join("model.safetensors");
    let o = distill(&data, &model, &["--choose-by", "macro-f1", "--subclasses", "2"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["method"]["metric"], "macro-f1");
    let candidates = m["method"]["candidates"].as_array().unwrap();
    let best = candidates
        .iter()
        .filter_map(|c| c["validation_macro_f1"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let chosen = candidates
        .iter()
        .find(|c| c["method"] == m["method"]["method"])
        .unwrap();
    assert_eq!(chosen["validation_macro_f1"].as_f64(), Some(best));
    let o = distill(&data, &model, &["--choose-by", "f1"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// `lelp quantize` writes the int8 file, a quarter of the table's size,
/// and compares the two files on a labelled file; `distill --quantize`
/// ships the quantized file; a student without a table and an unknown
/// storage are refused (exit 2).
#[test]
fn quantize_shrinks_the_file_and_reports_what_it_costs() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-quantize");
    let (data, _) = sport_money(&dir);
    let model = dir.join("model.safetensors");
    let o = distill(&data, &model, &["--method", "kd"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let small = dir.join("small.safetensors");
    let q = lelp(&["quantize", s(&model), s(&small), "--to", "int8", "--data", s(&data)]);
    assert_eq!(code(&q), 0, "{}", stderr(&q));
    let r: serde_json::Value = serde_json::from_slice(&q.stdout).unwrap();
    let (before, after) = (r["bytes_before"].as_f64().unwrap(), r["bytes_after"].as_f64().unwrap());
    // the bag's 2^18 x 8 table dominates the file: a byte a value and a
    // 4-byte scale a row of 8, 12 of 32 bytes
    assert!(after < 0.4 * before, "{before} -> {after}");
    assert!(r["agreement"].as_f64().unwrap() > 0.9, "{r}");
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&small)]).stdout).unwrap();
    assert_eq!(m["quantization"], "int8");
    // eval reads it
    let e = lelp(&["eval", s(&small), "--data", s(&data)]);
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let acc: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(acc["accuracy"].as_f64(), r["accuracy_after"].as_f64());
    // at distill
    let shipped = dir.join("shipped.safetensors");
    let o = distill(&data, &shipped, &["--method", "kd", "--quantize", "f16"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&shipped)]).stdout).unwrap();
    assert_eq!(m["quantization"], "f16");
    for bad in [
        vec!["quantize", s(&model), s(&small), "--to", "int4"],
        vec!["quantize", s(&small), s(&dir.join("again.safetensors"))],
    ] {
        let o = lelp(&bad);
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }
    let o = distill(&data, &shipped, &["--student", "mlp", "--quantize", "int8"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// A rare class is never left out of the held-out rows silently: with two
/// rows one is held out for test (where plain rounding of 20% would hold
/// out none); where a split would leave it on one side only, the run stops
/// with exit code 3 naming the class.
#[test]
fn a_rare_class_is_held_out_or_refused_by_name() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-rare");
    let (data, _) = sport_money(&dir);
    let base: String = std::fs::read_to_string(&data)
        .unwrap()
        .lines()
        .map(|l| {
            // no split column: the tool draws test and validation rows
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("split");
            v.to_string() + "\n"
        })
        .collect();
    let with = |n: usize| {
        let rare: String = (0..n)
            .map(|i| {
                serde_json::json!({"text": format!("rain and wind today {i}"), "label": "weather"}).to_string() + "\n"
            })
            .collect();
        write(&dir, &format!("rare-{n}.jsonl"), (base.clone() + &rare).as_bytes())
    };
    let model = dir.join("model.safetensors");
    // two rows: one held out for test, one trained on (a fixed method
    // needs no validation rows)
    let o = distill(&with(2), &model, &["--method", "kd"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    let k = m["class_names"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == "weather")
        .unwrap();
    assert_eq!(m["metrics"]["test_scores"]["per_class"][k]["support"], 1);
    // auto also needs a validation row of it, which one training row cannot give
    let o = distill(&with(2), &model, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("'weather' has 1 row(s) among the training rows"),
        "{}",
        stderr(&o)
    );
    // one row: nothing to hold out
    let o = distill(&with(1), &model, &["--method", "kd"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("'weather' has 1 row(s) among the labelled rows"),
        "{}",
        stderr(&o)
    );
}

/// `lelp export --onnx` writes the graph and the manifest beside it (the
/// graph's values are checked against onnxruntime in tests/onnx.rs);
/// `predict --ids` writes the ids the graph takes, the classifier's; an
/// ONNX name ending in `.json` and a missing model are refused.
#[test]
fn export_writes_onnx_and_its_manifest() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-export");
    let model = small_model(&dir);
    let onnx = dir.join("small.onnx");
    let o = lelp(&["export", "--onnx", s(&model), s(&onnx)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bytes = std::fs::read(&onnx).unwrap();
    assert_eq!(r["bytes"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(bytes, ModelFile::read(&model).unwrap().to_onnx().unwrap());
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("small.json")).unwrap()).unwrap();
    assert_eq!(manifest["class_names"], serde_json::json!(["ham", "spam"]));
    assert_eq!(manifest["featurizer"]["kind"], "hashed_ngrams");

    let texts = write(&dir, "texts.txt", b"free money\n\nsee you at noon\n");
    let p = lelp(&["predict", s(&model), "--input", s(&texts), "--ids"]);
    assert_eq!(code(&p), 0, "{}", stderr(&p));
    let hasher = HashedNgrams::new(64);
    let lines: Vec<serde_json::Value> = String::from_utf8(p.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (line, text) in lines.iter().zip(["free money", "", "see you at noon"]) {
        assert_eq!(line["ids"], serde_json::json!(hasher.encode(text)), "{text:?}");
    }

    let o = lelp(&["export", "--onnx", s(&model), s(&dir.join("x.json"))]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = lelp(&["export", "--onnx", s(&dir.join("missing.safetensors")), s(&onnx)]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    let o = lelp(&["export", s(&model), s(&onnx)]);
    assert_eq!(code(&o), 2, "--onnx is required: {}", stderr(&o));
}

/// `--class-weight balanced` trains and is recorded in the manifest
/// (none: not recorded); another value is refused with exit code 2.
#[test]
fn class_weight_is_recorded_and_checked() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-class-weight");
    let (data, _) = sport_money(&dir);
    let model = dir.join("model.safetensors");
    let o = distill(&data, &model, &["--method", "kd", "--class-weight", "balanced"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["class_weight"], "balanced");
    let plain = dir.join("plain.safetensors");
    let o = distill(&data, &plain, &["--method", "kd"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&plain)]).stdout).unwrap();
    assert!(m.get("class_weight").is_none(), "{m}");
    let o = distill(&data, &model, &["--class-weight", "inverse"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // weights by class name: recorded in class order, the unnamed class at 1
    let custom = dir.join("custom.safetensors");
    let o = distill(&data, &custom, &["--method", "kd", "--class-weight", "sport=3"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&custom)]).stdout).unwrap();
    assert_eq!(
        m["class_weight"]["custom"],
        serde_json::json!([["money", 1.0], ["sport", 3.0]]),
        "{m}"
    );
    // a class the data lacks, a negative weight, a class named twice: exit 2, nothing written
    for bad in ["golf=2", "sport=-1", "sport=1,sport=2"] {
        let out = dir.join("bad.safetensors");
        let o = distill(&data, &out, &["--class-weight", bad]);
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("class-weight"), "{bad}: {}", stderr(&o));
        assert!(!out.exists());
    }
}

/// A multi-label CSV (labels split at `|`): sport, money and weather words,
/// each row one or two of them.
fn topics(dir: &Path) -> PathBuf {
    let words = [
        ["match", "goal", "team", "coach", "league", "player"],
        ["bank", "loan", "price", "market", "stock", "budget"],
        ["rain", "storm", "sunny", "wind", "snow", "cloud"],
    ];
    let names = ["sport", "money", "weather"];
    let mut csv = String::from("text,label\n");
    for i in 0..180usize {
        let a = i % 3;
        let mut set = vec![a];
        if i % 2 == 0 {
            set.push((a + 1 + (i / 6) % 2) % 3);
        }
        let mut text: Vec<&str> = set
            .iter()
            .flat_map(|&k| [words[k][i % 6], words[k][(i / 3) % 6]])
            .collect();
        text.extend(["the", "news", "today"]);
        let labels: Vec<&str> = set.iter().map(|&k| names[k]).collect();
        csv.push_str(&format!("{},{}\n", text.join(" "), labels.join("|")));
    }
    write(dir, "topics.csv", csv.as_bytes())
}

/// Multi-label data through the tool: distil with `--label-separator`,
/// the thresholds in the file, `predict` writing the labels over them,
/// `eval` scoring label sets; what multi-label data refuses ends with exit
/// code 2 and says why.
#[test]
fn multi_label_data_distils_predicts_and_evaluates() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-multi-label");
    let data = topics(&dir);
    let model = dir.join("model.safetensors");
    // 20 epochs: a label's sigmoid must clear its threshold, not only win an argmax
    let o = lelp(&[
        "distill",
        "--data",
        s(&data),
        "--label-separator",
        "|",
        "--method",
        "kd",
        "--epochs",
        "20",
        "--tokens",
        "32",
        "--no-cache",
        "--quiet",
        "--out",
        s(&model),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("subset accuracy"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    let t = m["multi_label"]["thresholds"]
        .as_array()
        .expect("thresholds in the manifest");
    assert_eq!(t.len(), 3, "{m}");
    assert_eq!(m["multi_label"]["rule"], "f1");
    let texts = write(
        &dir,
        "texts.txt",
        b"goal team rain storm the news today\nbank loan the news today\n",
    );
    let out = lelp(&["predict", s(&model), "--input", s(&texts)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // the labels written are those at or over their thresholds, in class order
    for line in &lines {
        let over: Vec<&str> = ["money", "sport", "weather"]
            .into_iter()
            .zip(t)
            .filter(|(name, t)| line["probabilities"][*name].as_f64().unwrap() >= t.as_f64().unwrap())
            .map(|(name, _)| name)
            .collect();
        assert_eq!(line["labels"], serde_json::json!(over), "{line}");
    }
    assert!(
        lines[1]["labels"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("money")),
        "{lines:?}"
    );
    let e = lelp(&["eval", s(&model), "--data", s(&data), "--label-separator", "|"]);
    assert_eq!(code(&e), 0, "{}", stderr(&e));
    let r: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(r["multi_label"], true);
    assert!(r["subset_accuracy"].as_f64().unwrap() > 0.8, "{r}");
    assert!(r["micro_f1"].as_f64().unwrap() > 0.9, "{r}");
    // a fixed threshold for every label
    let fixed = dir.join("fixed.safetensors");
    let o = distill(
        &data,
        &fixed,
        &["--label-separator", "|", "--method", "plain", "--thresholds", "0.4"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&fixed)]).stdout).unwrap();
    assert!(
        m["multi_label"]["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| (v.as_f64().unwrap() - 0.4).abs() < 1e-6),
        "{m}"
    );
    // one metric for auto and the thresholds
    let by_accuracy = dir.join("accuracy.safetensors");
    let o = distill(&data, &by_accuracy, &["--label-separator", "|", "--metric", "accuracy"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&by_accuracy)]).stdout).unwrap();
    assert_eq!(m["multi_label"]["rule"], "accuracy", "{m}");
    assert_eq!(m["method"]["metric"], "accuracy", "{m}");
    // refused, by name, before any training
    for (args, word) in [
        (&["--metric", "f2"][..], "metric"),
        (&["--method", "lelp"][..], "one class a row"),
        (&["--class-weight", "balanced"][..], "thresholds"),
        (&["--thresholds", "1.5"][..], "thresholds"),
        (&["--calibrate"][..], "thresholds"),
        (&["--cascade"][..], "one class a text"),
        (&["--teacher-tune"][..], "one class a row"),
    ] {
        let mut all = vec!["--label-separator", "|"];
        all.extend_from_slice(args);
        let o = distill(&data, &dir.join("no.safetensors"), &all);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(word), "{args:?}: {}", stderr(&o));
        assert!(!dir.join("no.safetensors").exists());
    }
    let onnx = dir.join("m.onnx");
    let o = lelp(&["export", "--onnx", s(&model), s(&onnx)]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // an empty label cell names its row
    let bad = write(&dir, "bad.csv", b"text,label\ngoal match,sport\nbank loan,\n");
    let o = distill(&bad, &dir.join("no.safetensors"), &["--label-separator", "|"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("row 3") || stderr(&o).contains(":3"),
        "{}",
        stderr(&o)
    );
}

/// A cascade through the tool: the fallback file (the teacher) written
/// beside the model, `predict` saying who answered each text, the
/// fallback's answers equal to the teacher file's own, and a missing or
/// swapped fallback, a target outside (0, 1] and a cascade of multi-label
/// data refused by name.
#[test]
fn a_cascade_hands_unsure_texts_to_the_teacher() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-cascade");
    let (data, test) = sport_money(&dir);
    let model = dir.join("model.safetensors");
    let o = distill(&data, &model, &["--method", "kd", "--target-coverage", "0.5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(summary.contains("cascade  threshold"), "{summary}");
    // the one-text rate: means over texts predicted alone, and the cascade's
    // expected one between the student's and the teacher's
    let line = summary
        .lines()
        .find(|l| l.contains("one text at a time"))
        .expect("one-text line");
    let ms = |after: &str| -> f64 {
        line.split(after)
            .nth(1)
            .unwrap()
            .split(" ms")
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (student_ms, teacher_ms, cascade_ms) = (ms("the student "), ms("the teacher "), ms("coverage "));
    assert!(
        student_ms < cascade_ms && cascade_ms <= student_ms + teacher_ms,
        "{line}"
    );
    let fallback = dir.join("model.fallback.safetensors");
    assert!(fallback.exists());
    let m: serde_json::Value = serde_json::from_slice(&lelp(&["info", s(&model)]).stdout).unwrap();
    assert_eq!(m["cascade"]["fallback"], "model.fallback.safetensors", "{m}");
    assert!(m["cascade"]["validation"]["coverage"].as_f64().unwrap() >= 0.5, "{m}");
    let texts: String = test.iter().map(|(t, _)| format!("{t}\n")).collect();
    let input = write(&dir, "texts.txt", texts.as_bytes());
    let read = |model: &Path| -> Vec<serde_json::Value> {
        let o = lelp(&["predict", s(model), "--input", s(&input)]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (cascade, teacher) = (read(&model), read(&fallback));
    let handed = cascade.iter().filter(|p| p["answered_by"] == "fallback").count();
    assert!(
        handed > 0 && handed < cascade.len(),
        "{handed} of {} handed on",
        cascade.len()
    );
    for (c, t) in cascade.iter().zip(&teacher) {
        match c["answered_by"].as_str().unwrap() {
            // the teacher's answer (the same within float rounding: other batches)
            "fallback" => {
                assert_eq!(c["label"], t["label"]);
                for (k, v) in t["probabilities"].as_object().unwrap() {
                    let got = c["probabilities"][k].as_f64().unwrap();
                    assert!((got - v.as_f64().unwrap()).abs() < 1e-4, "{c} vs {t}");
                }
            }
            "student" => {}
            other => panic!("answered by {other}"),
        }
    }
    // a swapped fallback is refused (exit 4), a missing one named (exit 5)
    let other = dir.join("other.safetensors");
    let o = distill(&data, &other, &["--method", "plain", "--seed", "3"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let kept = std::fs::read(&fallback).unwrap();
    std::fs::copy(&other, &fallback).unwrap();
    let o = lelp(&["predict", s(&model), "--input", s(&input)]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    std::fs::remove_file(&fallback).unwrap();
    let o = lelp(&["predict", s(&model), "--input", s(&input)]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stderr(&o).contains("model.fallback.safetensors"), "{}", stderr(&o));
    std::fs::write(&fallback, kept).unwrap();
    for bad in [&["--target-agreement", "1.5"][..], &["--target-coverage", "0"][..]] {
        let o = distill(&data, &dir.join("no.safetensors"), bad);
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
        assert!(!dir.join("no.safetensors").exists());
    }
}

/// `--student auto` through the tool: the table of candidates with the
/// chosen one marked, the chosen kind in the file; a budget nothing meets
/// exits 1 naming what each kind achieved and writes nothing; budget flags
/// without `--student auto`, an unknown kind or search exit 2.
#[test]
fn student_auto_chooses_within_the_budget() {
    if elsewhere() {
        return;
    }
    let dir = common::tempdir("cli-student-auto");
    let (data, _) = sport_money(&dir);
    let model = dir.join("model.safetensors");
    let args = ["--student", "auto", "--students", "bag,cnn", "--method", "kd"];
    let o = distill(&data, &model, &args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(summary.contains("students chosen by agreement"), "{summary}");
    let chosen: Vec<&str> = summary.lines().filter(|l| l.ends_with("chosen")).collect();
    assert_eq!(chosen.len(), 1, "{summary}");
    let kind = chosen[0].split_whitespace().nth(1).unwrap();
    let info = lelp(&["info", s(&model)]);
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(info.contains(&format!("\"student\": \"{kind}\"")), "{kind}: {info}");
    // nothing fits: exit 1, what each kind achieved, no file
    let none = dir.join("none.safetensors");
    let o = distill(&data, &none, &["--student", "auto", "--max-size-mb", "0.01"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("no student kind meets the budget") && e.contains("cnn (int8)"),
        "{e}"
    );
    assert!(!none.exists());
    for (args, what) in [
        (&["--student", "bag", "--max-latency-ms", "1"][..], "max-latency-ms"),
        (&["--student", "auto", "--students", "bag,mlp"][..], "bag,mlp"),
        (&["--student", "auto", "--search", "grid"][..], "grid"),
        (&["--student", "auto", "--max-size-mb=-1"][..], "max_size_mb"),
    ] {
        let o = distill(&data, &none, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(what), "{args:?}: {}", stderr(&o));
        assert!(!none.exists());
    }
}
