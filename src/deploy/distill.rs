//! From a labelled text file to a model file: the teacher (a frozen BERT
//! sentence encoder with a trained MLP head, or the user's own model's
//! outputs supplied with the data), the student's features, the method
//! (given, or chosen on a validation split by accuracy or by agreement with
//! the teacher), the final student, its fidelity to the teacher and its
//! manifest.

mod budget;
mod cascade;
mod class_weight;
mod multi_label;
mod options;
mod search;
mod student;
mod teacher;

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::choice::{Candidate, ChooseBy, MethodChoice, methods_for, pick_method, validation_split};
use super::{Classifier, Featurizer, MethodRecord, Metrics, ModelFile, TeacherOutputs, TeacherRecord};
use crate::data::{Dataset, HashedNgrams};
use crate::error::{LelpError, Result};
use crate::metrics::{Fidelity, ThresholdRule};
use crate::teacher::{ModuleTeacher, TeacherEncoder, TeacherOutput};
use crate::text::{Augmented, Bert, SentenceEncoder, TextCorpus, TransformerStudent, TransformerStudentConfig};
use crate::train::class_logits_of;
use crate::train::{
    Bag, BagConfig, DistillConfig, Distiller, LrSchedule, Method, Mlp, MlpConfig, OptimizerKind, TextCnn,
    TextCnnConfig, accuracy,
};
pub use budget::{Outcome, Search, StudentBudget, StudentCandidate};
use cascade::cascade_stage;
pub use class_weight::ClassWeight;
use multi_label::{check_multi_label, spread, strata, thresholds};
use options::check_options;
pub use options::{DistillOptions, DistillReport, Progress, StudentKind};
pub(in crate::deploy) use student::*;
use teacher::*;

pub(super) fn invalid(name: &'static str, value: String, reason: &'static str) -> LelpError {
    LelpError::InvalidParameter { name, value, reason }
}

/// The labelled rows' train, validation and test indices: the file's own
/// `split` where it has one (`train`; `val` or `validation` when present;
/// `test`, else a held-out share of `train`), else a stratified share of
/// all rows for test (validation is then carved from train when needed).
/// Row indices of the training, validation (the file's own, if any) and
/// test parts.
type Splits = (Vec<usize>, Option<Vec<usize>>, Vec<usize>);

fn splits(corpus: &TextCorpus, opts: &DistillOptions) -> Result<Splits> {
    let all: Vec<usize> = (0..corpus.len()).collect();
    let (pool, val, test) = match &corpus.splits {
        Some(_) => {
            let train = corpus.split_rows("train")?;
            let val = corpus
                .split_rows("val")
                .or_else(|_| corpus.split_rows("validation"))
                .ok();
            (train, val, corpus.split_rows("test").unwrap_or_default())
        }
        None => (all, None, Vec::new()),
    };
    if !test.is_empty() {
        return Ok((pool, val, test));
    }
    let (a, b) = stratified(corpus, &pool, opts.test_fraction, opts.seed)?;
    Ok((a, val, b))
}

/// `rows` split in two, stratified by label: `fraction` of each class to
/// the second part.
pub(super) fn stratified(
    corpus: &TextCorpus,
    rows: &[usize],
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(invalid("fraction", fraction.to_string(), "must be in (0, 1)"));
    }
    // Dataset::split_indices' draw (one seeded generator, the classes in
    // order, each shuffled), with every class on both sides: at least one
    // row held out and one kept
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    let part = if rows.len() == corpus.len() {
        "labelled rows"
    } else {
        "training rows"
    };
    let strata = strata(corpus);
    for class in 0..=corpus.class_names.len() {
        let mut mine: Vec<usize> = rows.iter().copied().filter(|&r| strata[r] == class).collect();
        if mine.is_empty() {
            continue;
        }
        if mine.len() < 2 {
            if corpus.label_sets.is_some() {
                // a label's rows may sit in other strata: `spread` sees to it
                kept.extend_from_slice(&mine);
                continue;
            }
            return Err(LelpError::ClassTooRare {
                class: corpus.class_names[class].clone(),
                rows: mine.len(),
                needed: 2,
                part,
            });
        }
        mine.shuffle(&mut rng);
        let n = ((mine.len() as f64 * fraction).round() as usize).clamp(1, mine.len() - 1);
        held.extend_from_slice(&mine[..n]);
        kept.extend_from_slice(&mine[n..]);
    }
    kept.shuffle(&mut rng);
    held.shuffle(&mut rng);
    if let Some(sets) = &corpus.label_sets {
        spread(sets, &corpus.class_names, (&mut kept, &mut held), part)?;
    }
    if kept.is_empty() || held.is_empty() {
        return Err(LelpError::EmptyData { what: "a split part" });
    }
    Ok((kept, held))
}

/// The whole pipeline: encodes `corpus` (and `unlabeled`) with the teacher's
/// encoder and trains the teacher's head on the training rows, or takes the
/// teacher's outputs supplied with the data
/// ([`DistillOptions::teacher_outputs`]); distils the student with the
/// method (given, or chosen on a validation split of the training rows:
/// see [`MethodChoice::Auto`] and [`DistillOptions::choose_by`]) on the
/// training rows plus the unlabeled rows (labelled with the teacher's
/// prediction); measures the model file's fidelity to the teacher on the
/// test rows; and returns the model with its manifest filled in.
/// `progress` hears of each step.
///
/// # Errors
/// [`LelpError::InvalidParameter`] for fewer than two classes or bad
/// options (supplied outputs with unlabeled texts, augmentation, the MLP
/// student, or a method that needs embeddings or a head they lack);
/// [`LelpError::DimensionMismatch`] for supplied outputs of another row
/// count than the corpus's and [`LelpError::InvalidParameter`] for other
/// classes; [`LelpError::FileNotFound`] when the
/// teacher's folder is missing (run `scripts/fetch-minilm.sh`); the errors
/// of encoding, training and the chosen method (a class with too few rows
/// for its subclasses); with `auto`, an error only when every candidate
/// failed.
pub fn distill(
    corpus: &TextCorpus,
    unlabeled: &[String],
    opts: &DistillOptions,
    device: &Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<DistillReport> {
    // --student auto: the pipeline prepares for the kind that needs most
    // (static: its table; CNN: the tokenizer) until the choice
    let primary;
    let opts = match &opts.student_budget {
        Some(b) => {
            let mut o = opts.clone();
            o.student = b.primary();
            primary = o;
            &primary
        }
        None => opts,
    };
    check_options(corpus, opts)?;
    // custom class weights by name, checked and put in class order now
    let resolved;
    let opts = match &opts.class_weight {
        ClassWeight::Custom(_) => {
            let mut o = opts.clone();
            o.class_weight = opts.class_weight.resolve(&corpus.class_names)?;
            resolved = o;
            &resolved
        }
        _ => opts,
    };
    let supplied = opts.teacher_outputs.as_ref();
    if let Some(t) = supplied {
        check_supplied(t, corpus, unlabeled, opts)?;
    }
    let (methods, left_out) = methods_for(opts, corpus.label_sets.is_some())?;
    let (train_idx, file_val, test_idx) = splits(corpus, opts)?;
    // the encoder: the teacher's; with supplied outputs the student's
    // tokenizer, table or layers only (none for the bag)
    let hf = match supplied {
        None if crate::text::is_classifier_dir(&opts.teacher_dir) => Some(hf_teacher(corpus, opts, device)?),
        _ => None,
    };
    let own = match (supplied, opts.student, &hf) {
        (Some(_), StudentKind::Bag, _) | (_, _, Some(_)) => None,
        _ => Some(SentenceEncoder::from_dir(&opts.teacher_dir, device)?.with_max_seq_length(opts.max_tokens)),
    };
    // a fine-tuned teacher: its encoder, its head, and the options that
    // name its folder (the MLP student's and the fallback's files read it)
    let (own, tuned_head, tuned) = match (own, &opts.teacher_tune) {
        (Some(base), Some(cfg)) => {
            progress(Progress::TeacherTune {
                rows: train_idx.len(),
                epochs: cfg.epochs,
            });
            let ft = tune_teacher(&base, corpus, &train_idx, cfg, opts, device)?;
            let mut o = opts.clone();
            o.teacher_dir = ft.dir.clone();
            let name = opts.teacher_dir.file_name().map_or_else(
                || opts.teacher_dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            (
                Some(ft.encoder.with_max_seq_length(opts.max_tokens)),
                Some(ft.head),
                Some((o, ft.dir, name)),
            )
        }
        (own, _) => (own, None, None),
    };
    let opts = tuned.as_ref().map_or(opts, |(o, _, _)| o);
    let encoder: Option<&SentenceEncoder> = hf.as_ref().map(|(h, _)| h.encoder()).or(own.as_ref());
    // the transformer student's start, before any long work: a bad
    // `--layers` or `--init` fails now, not after the encoding
    let initial = match (encoder, opts.student) {
        (Some(e), StudentKind::Transformer) => Some(transformer_encoder(e, opts, device)?),
        _ => None,
    };
    let tools = Featurizers::new(encoder, initial.as_ref(), opts);
    // --student auto: the kinds within the budget, before any long work
    let footprints = match &opts.student_budget {
        Some(b) => Some(budget_footprints(
            b, &tools, encoder, &methods, corpus, &train_idx, opts, device,
        )?),
        None => None,
    };
    let kinds: Vec<StudentKind> = match &footprints {
        Some((within, _)) => within.iter().map(|f| f.kind).collect(),
        None => vec![opts.student],
    };
    let (n, u) = (corpus.len(), unlabeled.len());
    let mut labelled = train_idx.clone();
    labelled.extend(file_val.iter().flatten());
    let (table, augmented) = match encoder {
        Some(e) => augment_stage(e, corpus, unlabeled, &labelled, opts, device)?,
        None => (None, Vec::new()),
    };
    let texts = all_texts(corpus, unlabeled, &augmented);
    // the teacher labels the unlabeled rows and the augmented ones
    let unl_idx: Vec<usize> = (n..texts.len()).collect();
    let aug_sources: Vec<usize> = augmented.iter().map(|a| a.source).collect();
    let (stage, encode_rate) = match (supplied, encoder) {
        (Some(t), _) => (supplied_stage(t, corpus, &test_idx)?, None),
        (None, Some(e)) => {
            let (mut emb, rate) = embed(e, &texts, opts, device, progress)?;
            let d = e.embedding_dim();
            let mut head = tuned_head.clone();
            if let Some((clf, mlp)) = &hf {
                // the [CLS] states through the pooler: the classifier's input
                let mut features = Vec::with_capacity(emb.len());
                for chunk in emb.chunks(4096 * d) {
                    let h = crate::util::matrix(chunk.to_vec(), chunk.len() / d, d, device);
                    features.extend(crate::util::to_host_f32(clf.features_of_hidden(h)?)?);
                }
                emb = features;
                head = Some(mlp.clone());
            }
            let rows = (&train_idx[..], &test_idx[..], &unl_idx[..]);
            (teacher_stage(corpus, (emb, d), rows, head, opts, device)?, Some(rate))
        }
        (None, None) => {
            return Err(invalid(
                "teacher",
                "none".into(),
                "no teacher: neither an encoder nor outputs",
            ));
        }
    };
    progress(Progress::Teacher {
        test_accuracy: stage.accuracy,
    });
    let mut views = Views::new(
        stage.dense,
        &texts,
        &tools,
        &methods,
        stage.teacher,
        &train_idx,
        opts,
        device,
    )?;
    let rows_for = RowSets {
        train: &train_idx,
        file_val: file_val.as_deref(),
        unlabeled: &unl_idx[..u],
        augmented: &unl_idx[u..],
        aug_sources: &aug_sources,
    };
    views.bert = initial;
    if let (true, Some(e)) = (kinds.contains(&StudentKind::Static), encoder) {
        views.table = Some(match table {
            Some(t) => t,
            None => static_student_table(e, &texts, &rows_for, opts, device)?,
        });
    }
    let (students, student_search_seconds, chosen);
    // --student auto with the best epoch: the search's own chosen student
    let mut reused = None;
    let (choice, opts) = match (footprints, &opts.student_budget) {
        (Some(fps), Some(b)) => {
            let by = opts.choose_by.unwrap_or(ChooseBy::Agreement);
            let (fit, val) = validation_split(corpus, &rows_for, opts)?;
            let mut w = search::search(
                &views,
                &tools,
                &texts,
                fps,
                &methods,
                (&fit, &val),
                (b, by),
                opts,
                device,
                progress,
            )?;
            let mut o = opts.clone();
            o.student = w.kind;
            o.quantize = w.quantize.or(o.quantize);
            o.method = MethodChoice::Fixed(w.method.clone());
            views.student = tools.view(w.kind, &views.dense, &texts, &o)?;
            let choice = w.choice(by);
            reused = w.student.take();
            (students, student_search_seconds, chosen) = (w.records, Some(w.seconds), o);
            (choice, &chosen)
        }
        _ => {
            (students, student_search_seconds) = (Vec::new(), None);
            let choice = pick_method(&views, &methods, corpus, &rows_for, opts, device, progress)?;
            (choice, opts)
        }
    };
    // the final student learns from every labelled row but the test rows
    // (and the rows a temperature is fitted on or its best epoch picked on)
    let held = calibration_rows(corpus, &train_idx, file_val.as_deref(), opts)?;
    let (rows, labelled_rows) = final_rows(labelled, &unl_idx[..u], (&unl_idx[u..], &aug_sources), &held);
    let (trained, preds, best_epoch) = match reused {
        // trained on the same rows as the final student's (no held row)
        Some(s) => {
            let preds = logits_of(&s, &views.student.subset(&test_idx)?, device)?;
            (s, preds, None)
        }
        None => {
            progress(Progress::Final {
                method: &choice.method,
                rows: rows.len(),
            });
            let best_on = opts.keeps_best_epoch().then_some((&held[..], choice.by));
            views.train(&choice.method, (&rows, &test_idx), best_on, opts, device)?
        }
    };
    let (student_accuracy, _, _) = views.score(&preds, &test_idx, device)?;
    let mut model = tools.model_file(&trained, corpus, opts)?;
    if corpus.label_sets.is_some() {
        // one sigmoid a label from here on; the thresholds are fitted below
        model.manifest.multi_label = Some(super::MultiLabel::at_half(corpus.class_names.len()));
    }
    if let Some(q) = opts.quantize {
        model = model.quantized(q)?;
    }
    match &corpus.label_sets {
        Some(sets) => model.manifest.multi_label = Some(thresholds(&model, &texts, &held, sets, opts, device)?),
        None if opts.calibrate => {
            model.manifest.calibration = Some(calibrate(&model, &texts, &held, corpus, device)?);
        }
        None => {}
    }
    let mut cascade_test = None;
    if let Some(target) = opts.cascade {
        let (k, test) = cascade_stage(&model, &views, &texts, (&held, &test_idx), target, device)?;
        model.manifest.cascade = Some(k);
        cascade_test = Some(test);
    }
    let fallback = match (&views.teacher, encoder, &hf, opts.cascade) {
        (TeacherSide::Head(h), Some(_), None, Some(_)) => Some(encoder_file(
            h.module(),
            &opts.teacher_dir,
            tools.encoder_tokens,
            corpus.class_names.clone(),
            opts,
        )?),
        _ => None,
    };
    let (fidelity, scores) = test_fidelity(&model, &views, &texts, &test_idx, device)?;
    // multi-label: the file's subset accuracy at its thresholds
    let student_accuracy = if corpus.label_sets.is_some() {
        scores.accuracy
    } else {
        student_accuracy
    };
    let teacher = match (&views.teacher, encoder, &hf) {
        (TeacherSide::Head(_), _, Some((clf, _))) => hf_record(clf, stage.accuracy),
        (TeacherSide::Head(h), Some(e), None) => {
            let mut r = teacher_record(e, opts, corpus, h.module().num_params(), stage.accuracy);
            if let Some((_, _, base)) = &tuned {
                r.name = format!("{base} fine-tuned");
                r.head = format!("linear {}-{}", e.embedding_dim(), corpus.class_names.len());
            }
            r
        }
        _ => supplied_record(supplied, stage.accuracy),
    };
    model.manifest.method = Some(MethodRecord {
        method: choice.method.clone(),
        chosen_by: if choice.candidates.is_empty() {
            "user"
        } else {
            "validation"
        }
        .into(),
        metric: (!choice.candidates.is_empty()).then_some(choice.by),
        candidates: choice.candidates.clone(),
    });
    model.manifest.teacher = Some(teacher);
    model.manifest.student = Some(opts.student);
    model.manifest.class_weight = Some(opts.class_weight.clone()).filter(|w| *w != ClassWeight::None);
    model.manifest.metrics = Metrics {
        validation_accuracy: choice.accuracy,
        test_accuracy: Some(student_accuracy),
        test_agreement: Some(fidelity.agreement),
        fidelity: Some(fidelity.clone()),
        test_scores: Some(scores.clone()),
        train_rows: labelled_rows,
        unlabeled_rows: u,
        augmented_rows: augmented.len(),
        test_rows: test_idx.len(),
    };
    // a fine-tuned teacher in a temporary folder goes with the run
    if tuned.is_some() && opts.cache_dir.is_none() {
        let _ = std::fs::remove_dir_all(tune_scratch(opts.seed));
    }
    Ok(DistillReport {
        model,
        teacher_accuracy: stage.accuracy,
        student_accuracy,
        fidelity,
        scores,
        validation_accuracy: choice.accuracy,
        validation_agreement: choice.agreement,
        chosen_by: choice.by,
        method: choice.method,
        candidates: choice.candidates,
        left_out,
        encode_rate,
        rows: (labelled_rows, u, test_idx.len()),
        augmented_rows: augmented.len(),
        fallback,
        cascade_test,
        students,
        student_search_seconds,
        best_epoch,
    })
}

/// `--student auto`'s kinds within the budget (and those over it),
/// measured on untrained students before the teacher's encoding: the
/// static student's with a zero table of its shape, all with the widest
/// head a candidate method gives them.
#[allow(clippy::too_many_arguments)]
fn budget_footprints(
    b: &StudentBudget,
    tools: &Featurizers,
    encoder: Option<&SentenceEncoder>,
    methods: &[Method],
    corpus: &TextCorpus,
    train_idx: &[usize],
    opts: &DistillOptions,
    device: &Device,
) -> Result<(Vec<budget::Footprint>, Vec<StudentCandidate>)> {
    let vocab = tools.wordpiece.as_ref().map_or(0, crate::text::WordPiece::vocab_size);
    let table = match (b.kinds.contains(&StudentKind::Static), encoder) {
        (true, Some(e)) => {
            let dims = opts.static_dims.min(e.embedding_dim());
            Some(vec![0.0f32; (vocab + opts.static_bigrams as usize) * dims])
        }
        _ => None,
    };
    let parts = StudentParts {
        vocab,
        table: table.as_deref(),
        bert: None,
        features: 0,
    };
    let subclass_method = methods.iter().any(|m| {
        matches!(
            m,
            Method::Lelp(_) | Method::RandomProjection(_) | Method::KMeans(_) | Method::SubclassDistillation(_)
        )
    });
    let c = corpus.class_names.len();
    let k = if subclass_method { c * opts.subclasses } else { c };
    let sample: Vec<&str> = train_idx.iter().take(101).map(|&i| corpus.texts[i].as_str()).collect();
    budget::footprints(b, tools, &parts, (k, &sample), corpus, opts, device)
}

/// The rows a temperature (`--calibrate`), a cascade or multi-label
/// thresholds are fitted on, or the final student's best epoch picked on:
/// the file's validation rows, else the share of the training rows `auto`
/// validates on (the same draw); none when none of these asks for them.
fn calibration_rows(
    corpus: &TextCorpus,
    train_idx: &[usize],
    file_val: Option<&[usize]>,
    opts: &DistillOptions,
) -> Result<Vec<usize>> {
    let fixed = matches!(opts.thresholds, ThresholdRule::Fixed(_));
    let multi_label_thresholds = corpus.label_sets.is_some() && !fixed;
    if !opts.calibrate && opts.cascade.is_none() && !multi_label_thresholds && !opts.keeps_best_epoch() {
        return Ok(Vec::new());
    }
    let held = match file_val {
        Some(v) => v.to_vec(),
        None => stratified(corpus, train_idx, opts.validation_fraction, opts.seed)?.1,
    };
    if held.is_empty() {
        let (name, value) = match opts.calibrate || opts.cascade.is_some() || multi_label_thresholds {
            true => ("calibrate", "true"),
            false => ("best_epoch", "on"),
        };
        return Err(invalid(
            name,
            value.into(),
            "no validation rows to fit a temperature, a cascade or thresholds on, or to pick the best epoch by \
             (too few training rows)",
        ));
    }
    Ok(held)
}

/// The final student's rows: the labelled rows less `held`, the unlabeled
/// rows, and the augmented rows not made from a held row; and how many
/// labelled rows that is.
fn final_rows(
    labelled: Vec<usize>,
    unlabeled: &[usize],
    (augmented, sources): (&[usize], &[usize]),
    held: &[usize],
) -> (Vec<usize>, usize) {
    let held: std::collections::HashSet<usize> = held.iter().copied().collect();
    let mut rows: Vec<usize> = labelled.into_iter().filter(|r| !held.contains(r)).collect();
    let labelled_rows = rows.len();
    rows.extend(unlabeled);
    rows.extend(
        augmented
            .iter()
            .zip(sources)
            .filter(|(_, src)| !held.contains(src))
            .map(|(&r, _)| r),
    );
    (rows, labelled_rows)
}

/// The temperature of the model file's outputs fitted on the `held` rows
/// (which it did not train on), with their calibration error before and
/// after.
fn calibrate(
    model: &ModelFile,
    texts: &[&str],
    held: &[usize],
    corpus: &TextCorpus,
    device: &Device,
) -> Result<super::Calibration> {
    let c = corpus.class_names.len();
    let classifier = Classifier::from_model_on(model.clone(), device)?;
    let held_texts: Vec<&str> = held.iter().map(|&r| texts[r]).collect();
    let mut raw = Vec::with_capacity(held.len());
    for chunk in held_texts.chunks(512) {
        classifier.outputs_into(chunk, &mut raw)?;
    }
    let labels: Vec<usize> = held.iter().map(|&r| corpus.labels[r]).collect();
    let temperature = super::fit_temperature(&raw.concat(), &labels, c)?;
    let ece = |t: f32| -> Result<f64> {
        let probs: Vec<f32> = raw
            .iter()
            .flat_map(|z| super::net::class_probabilities(&z.iter().map(|v| v / t).collect::<Vec<_>>(), c))
            .collect();
        Ok(crate::metrics::scores(&probs, &labels, c)?.ece)
    };
    Ok(super::Calibration {
        temperature,
        rows: held.len(),
        ece_before: ece(1.0)?,
        ece_after: ece(temperature as f32)?,
    })
}

/// The model file's fidelity to the teacher and its scores against the
/// labels on the test rows: the file's own predictions on the test texts
/// (what a user ships) against the teacher's probabilities and the labels.
fn test_fidelity(
    model: &ModelFile,
    views: &Views,
    texts: &[&str],
    test_idx: &[usize],
    device: &Device,
) -> Result<(Fidelity, crate::metrics::Scores)> {
    let c = views.dense.num_classes();
    let classifier = Classifier::from_model_on(model.clone(), device)?;
    let test_texts: Vec<&str> = test_idx.iter().map(|&i| texts[i]).collect();
    let mut student = Vec::with_capacity(test_idx.len() * c);
    for chunk in test_texts.chunks(512) {
        for p in classifier.predict(chunk)? {
            student.extend(p.probabilities);
        }
    }
    let logits = views.teacher_logits(test_idx, device)?;
    if let (Some(sets), Some(ml)) = (views.dense.label_sets(), &model.manifest.multi_label) {
        // every (text, label) decision as a two-class forecast
        let binary = |p: f32| [1.0 - p, p];
        let teacher: Vec<f32> = logits.iter().flat_map(|&z| binary(super::net::sigmoid(z))).collect();
        let flat: Vec<f32> = student.iter().flat_map(|&p| binary(p)).collect();
        let truth: Vec<Vec<usize>> = test_idx.iter().map(|&r| sets[r].clone()).collect();
        return Ok((
            crate::metrics::fidelity(&teacher, &flat, 2)?,
            crate::metrics::multi_label_scores(&student, &truth, c, &ml.thresholds)?,
        ));
    }
    let teacher: Vec<f32> = logits.chunks(c).flat_map(super::outputs::softmax).collect();
    let labels: Vec<usize> = test_idx.iter().map(|&r| views.dense.labels()[r]).collect();
    Ok((
        crate::metrics::fidelity(&teacher, &student, c)?,
        crate::metrics::scores(&student, &labels, c)?,
    ))
}

/// The texts of the rows: the corpus's, the unlabeled ones, the augmented ones.
fn all_texts<'a>(corpus: &'a TextCorpus, unlabeled: &'a [String], augmented: &'a [Augmented]) -> Vec<&'a str> {
    let given = corpus.texts.iter().chain(unlabeled).map(String::as_str);
    given.chain(augmented.iter().map(|a| a.text.as_str())).collect()
}

/// The row sets of a run: training rows, the file's validation rows (if
/// any), the unlabeled rows, and the augmented rows with the corpus row
/// each was made from.
pub(super) struct RowSets<'a> {
    pub(super) train: &'a [usize],
    pub(super) file_val: Option<&'a [usize]>,
    pub(super) unlabeled: &'a [usize],
    pub(super) augmented: &'a [usize],
    pub(super) aug_sources: &'a [usize],
}

/// The augmented texts of the labelled rows `labelled` (none when
/// [`DistillOptions::augment`] is 0), and the vocabulary table their swaps
/// came from when it is the static student's too (same dimensions).
fn augment_stage(
    encoder: &SentenceEncoder,
    corpus: &TextCorpus,
    unlabeled: &[String],
    labelled: &[usize],
    opts: &DistillOptions,
    device: &Device,
) -> Result<(Option<Vec<f32>>, Vec<Augmented>)> {
    if opts.augment == 0 {
        return Ok((None, Vec::new()));
    }
    let sources: Vec<&str> = labelled.iter().map(|&i| corpus.texts[i].as_str()).collect();
    // the static student's SIF counts: the texts it learns from
    let seen: Vec<&str> = sources
        .iter()
        .copied()
        .chain(unlabeled.iter().map(String::as_str))
        .collect();
    let dims = opts.static_dims.min(encoder.embedding_dim());
    // one vocabulary pass: the static student's table (with its bigram
    // rows) is the neighbours' too
    let mut spec = super::StaticTable::new(dims);
    if opts.student == StudentKind::Static {
        spec = spec.with_bigrams(opts.static_bigrams, opts.static_encoded_bigrams);
    }
    let table = spec.build(encoder, &seen, device)?;
    let tokens = &table[..encoder.tokenizer().vocab_size() * dims];
    let words = sources.iter().flat_map(|t| t.split_whitespace());
    let neighbours = crate::text::Neighbours::from_table(encoder.tokenizer(), tokens, dims, words, 15)?;
    let config = crate::text::AugmentConfig::new(opts.augment).with_seed(opts.seed);
    let mut augmented = crate::text::Augmenter::new(config)?
        .with_neighbours(neighbours)
        .augment(&sources);
    // sources index `labelled`: make them corpus rows
    for a in &mut augmented {
        a.source = labelled[a.source];
    }
    augmented.retain(|a| !a.text.trim().is_empty());
    let table = (opts.student == StudentKind::Static).then_some(table);
    Ok((table, augmented))
}

/// The static student's table from the texts the student learns from
/// (its SIF counts never see the test rows).
fn static_student_table(
    encoder: &SentenceEncoder,
    texts: &[&str],
    rows: &RowSets<'_>,
    opts: &DistillOptions,
    device: &Device,
) -> Result<Vec<f32>> {
    let seen: Vec<&str> = rows
        .train
        .iter()
        .chain(rows.file_val.into_iter().flatten())
        .chain(rows.unlabeled)
        .map(|&i| texts[i])
        .collect();
    let dims = opts.static_dims.min(encoder.embedding_dim());
    super::StaticTable::new(dims)
        .with_bigrams(opts.static_bigrams, opts.static_encoded_bigrams)
        .build(encoder, &seen, device)
}
