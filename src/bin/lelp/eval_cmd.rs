//! `lelp eval`: a model file's scores on a labelled file (one class a text
//! or label sets), and with a teacher its fidelity to it, the cascade
//! curve and the rows where the two disagree.

use std::path::Path;

use lelp::LelpError;
use lelp::deploy::{Classifier, TeacherOutputs};

use crate::{Columns, emit};

/// `eval`'s teacher: its outputs for the data's rows, and where to write
/// the rows the model and the teacher disagree on.
pub(crate) struct EvalTeacher<'a> {
    pub(crate) outputs: Option<&'a Path>,
    pub(crate) dir: Option<&'a Path>,
    /// The folder's token limit.
    pub(crate) tokens: usize,
    pub(crate) disagreements: Option<&'a Path>,
}

pub(crate) fn eval(
    model: &Path,
    data: &Path,
    columns: &Columns,
    output: Option<&Path>,
    teacher: &EvalTeacher<'_>,
    device: &burn::prelude::Device,
) -> lelp::Result<()> {
    let classifier = Classifier::load_on(model, device)?;
    let corpus = columns.read(data)?;
    let names = classifier.class_names();
    // the file's classes by name onto the model's
    let map: Vec<usize> = corpus
        .class_names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            names.iter().position(|m| m == n).ok_or_else(|| {
                let first = corpus.labels.iter().position(|&l| l == k).unwrap_or(0);
                LelpError::BadRecord {
                    path: data.to_path_buf(),
                    row: first + 1,
                    reason: format!(
                        "label '{n}' (record {}) is not a class of the model ({})",
                        first + 1,
                        names.join(", ")
                    ),
                }
            })
        })
        .collect::<lelp::Result<_>>()?;
    if classifier.manifest().multi_label.is_some() {
        if teacher.outputs.is_some() || teacher.dir.is_some() {
            return Err(LelpError::InvalidParameter {
                name: "teacher",
                value: "a multi-label model".into(),
                reason: "eval's fidelity to a teacher is for one class a text",
            });
        }
        return eval_multi_label(&classifier, &corpus, &map, (model, data), output);
    }
    if corpus.label_sets.is_some() {
        return Err(LelpError::InvalidParameter {
            name: "data",
            value: data.display().to_string(),
            reason: "a multi-label file (label lists), and the model gives one class a text",
        });
    }
    if teacher.disagreements.is_some() && teacher.outputs.is_none() && teacher.dir.is_none() {
        return Err(LelpError::InvalidParameter {
            name: "disagreements",
            value: teacher
                .disagreements
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            reason: "needs a teacher: --teacher or --teacher-outputs",
        });
    }
    // the teacher's outputs are read (and checked) before any prediction:
    // (source, probabilities in the model's class order, its classes)
    let outputs = match (teacher.outputs, teacher.dir) {
        (Some(p), _) => {
            let o = TeacherOutputs::read_for(p, data, corpus.len(), names)?;
            Some((o.path.display().to_string(), o.probabilities(), o.predictions()))
        }
        (None, Some(dir)) => Some(hf_teacher_probabilities(dir, teacher.tokens, &corpus, names, device)?),
        (None, None) => None,
    };
    let refs: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let c = names.len();
    let mut confusion = vec![vec![0usize; c]; c];
    let mut student = Vec::with_capacity(corpus.len() * c);
    for (chunk, labels) in refs.chunks(512).zip(corpus.labels.chunks(512)) {
        for (p, &l) in classifier.predict(chunk)?.iter().zip(labels) {
            confusion[map[l]][p.label] += 1;
            student.extend_from_slice(&p.probabilities);
        }
    }
    let n = corpus.len();
    let correct: usize = (0..c).map(|i| confusion[i][i]).sum();
    let labels: Vec<usize> = corpus.labels.iter().map(|&l| map[l]).collect();
    let scores = lelp::metrics::scores(&student, &labels, c)?;
    let per_class: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let rows: usize = confusion[i].iter().sum();
            let acc = (rows > 0).then(|| confusion[i][i] as f64 / rows as f64);
            let s = &scores.per_class[i];
            let v = serde_json::json!({"rows": rows, "accuracy": acc, "precision": s.precision,
                "recall": s.recall, "f1": s.f1});
            (name.clone(), v)
        })
        .collect();
    let top_k: serde_json::Map<String, serde_json::Value> = scores
        .top_k
        .iter()
        .map(|(k, a)| (k.to_string(), serde_json::json!(a)))
        .collect();
    let mut report = serde_json::json!({
        "model": model.display().to_string(),
        "data": data.display().to_string(),
        "rows": n,
        "accuracy": correct as f64 / n as f64,
        "macro_f1": scores.macro_f1,
        "weighted_f1": scores.weighted_f1,
        "macro_precision": scores.macro_precision,
        "macro_recall": scores.macro_recall,
        "top_k": top_k,
        "ece": scores.ece,
        "per_class": per_class,
        "classes": names,
        "confusion": confusion,
    });
    if let Some((source, teacher_probs, teacher_preds)) = &outputs {
        let fidelity = lelp::metrics::fidelity(teacher_probs, &student, c)?;
        let key = if teacher.dir.is_some() {
            "teacher"
        } else {
            "teacher_outputs"
        };
        report[key] = serde_json::json!(source);
        report["teacher_accuracy"] = serde_json::json!(
            teacher_preds
                .iter()
                .zip(&corpus.labels)
                .filter(|(t, l)| **t == map[**l])
                .count() as f64
                / n as f64
        );
        report["fidelity"] = serde_json::to_value(&fidelity).unwrap_or_default();
        // the dial of a student-then-teacher cascade on this file
        let thresholds = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];
        let curve = lelp::metrics::coverage_curve(&student, teacher_probs, &labels, c, &thresholds)?;
        report["cascade"] = serde_json::to_value(&curve).unwrap_or_default();
        if let Some(path) = teacher.disagreements {
            let lines = disagreement_lines(&corpus, &map, names, teacher_probs, &student);
            lelp::io::write_atomic(path, lines.as_bytes())?;
        }
    }
    emit(
        output,
        &format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()),
    )
}

/// `eval` of a multi-label model: every row's labels (a file of one label
/// a row counts as sets of one) against the labels over the model's
/// thresholds.
fn eval_multi_label(
    classifier: &Classifier,
    corpus: &lelp::text::TextCorpus,
    map: &[usize],
    (model, data): (&Path, &Path),
    output: Option<&Path>,
) -> lelp::Result<()> {
    let names = classifier.class_names();
    let c = names.len();
    let thresholds = classifier
        .manifest()
        .multi_label
        .as_ref()
        .map_or_else(|| vec![0.5; c], |m| m.thresholds.clone());
    let sets: Vec<Vec<usize>> = match &corpus.label_sets {
        Some(sets) => sets.iter().map(|s| s.iter().map(|&l| map[l]).collect()).collect(),
        None => corpus.labels.iter().map(|&l| vec![map[l]]).collect(),
    };
    let refs: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let mut probs = Vec::with_capacity(corpus.len() * c);
    for chunk in refs.chunks(512) {
        for p in classifier.predict(chunk)? {
            probs.extend(p.probabilities);
        }
    }
    let scores = lelp::metrics::multi_label_scores(&probs, &sets, c, &thresholds)?;
    let at_half = lelp::metrics::multi_label_scores(&probs, &sets, c, &vec![0.5; c])?;
    let per_class: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(&scores.per_class)
        .zip(&thresholds)
        .map(|((name, s), t)| {
            let v = serde_json::json!({"rows": s.support, "precision": s.precision, "recall": s.recall,
                "f1": s.f1, "threshold": t});
            (name.clone(), v)
        })
        .collect();
    let report = serde_json::json!({
        "model": model.display().to_string(),
        "data": data.display().to_string(),
        "rows": corpus.len(),
        "multi_label": true,
        "subset_accuracy": scores.accuracy,
        "hamming_loss": scores.hamming_loss,
        "micro_f1": scores.micro_f1,
        "macro_f1": scores.macro_f1,
        "weighted_f1": scores.weighted_f1,
        "macro_precision": scores.macro_precision,
        "macro_recall": scores.macro_recall,
        "macro_f1_at_half": at_half.macro_f1,
        "ece": scores.ece,
        "per_class": per_class,
        "classes": names,
    });
    emit(
        output,
        &format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()),
    )
}

/// A fine-tuned classifier folder's probabilities for the texts of
/// `corpus`, in the model's class order (`names`), and its classes: the
/// folder, the probabilities and the predictions.
fn hf_teacher_probabilities(
    dir: &Path,
    tokens: usize,
    corpus: &lelp::text::TextCorpus,
    names: &[String],
    device: &burn::prelude::Device,
) -> lelp::Result<(String, Vec<f32>, Vec<usize>)> {
    let clf = lelp::text::HfClassifier::from_dir(dir, device)?.with_max_seq_length(tokens);
    // the model's class k is the checkpoint's class order[k]
    let order = clf.class_order(names)?;
    let refs: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let logits = clf.logits(&refs, 64)?;
    let c = names.len();
    let mut probs = Vec::with_capacity(logits.len());
    let mut preds = Vec::with_capacity(corpus.len());
    for row in logits.chunks(c) {
        let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = order.iter().map(|&j| (row[j] - top).exp()).collect();
        let sum: f32 = e.iter().sum();
        let p: Vec<f32> = e.iter().map(|v| v / sum).collect();
        preds.push((0..c).fold(0, |b, k| if p[k] > p[b] { k } else { b }));
        probs.extend(p);
    }
    Ok((dir.display().to_string(), probs, preds))
}

/// JSON lines of the rows where the model's class is not the teacher's:
/// the row (1-based), its text and label, both classes and confidences.
fn disagreement_lines(
    corpus: &lelp::text::TextCorpus,
    map: &[usize],
    names: &[String],
    teacher: &[f32],
    student: &[f32],
) -> String {
    let c = names.len();
    let argmax = |row: &[f32]| (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
    let mut out = String::new();
    for (i, (t, s)) in teacher.chunks(c).zip(student.chunks(c)).enumerate() {
        let (at, as_) = (argmax(t), argmax(s));
        if at == as_ {
            continue;
        }
        let line = serde_json::json!({
            "row": i + 1,
            "text": corpus.texts[i],
            "label": names[map[corpus.labels[i]]],
            "teacher": names[at],
            "teacher_confidence": t[at],
            "student": names[as_],
            "student_confidence": s[as_],
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}
