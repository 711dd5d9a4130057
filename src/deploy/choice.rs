//! The method of a distillation: its names on the command line, what
//! `--method auto` tries (less what supplied teacher outputs cannot
//! teach), and the choice among the candidates on the validation rows by
//! accuracy or by agreement with the teacher.

use serde::{Deserialize, Serialize};

use super::TeacherOutputs;
use super::distill::{DistillOptions, Progress, RowSets, Views, invalid, stratified};
use crate::error::{LelpError, Result};
use crate::text::TextCorpus;
use crate::train::Method;
use burn::prelude::Device;

/// The method of a distillation: given, or chosen on a validation split.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MethodChoice {
    /// Train every [`auto_candidates`] method on the training rows, score
    /// it on the validation rows (the file's `val` or `validation` split,
    /// else a stratified share of the training rows), keep the best (ties
    /// to the earlier, simpler one), train it again on every labelled row
    /// but the test rows.
    Auto,
    /// This method.
    Fixed(Method),
}

/// A method by its command-line name with `subclasses` subclasses where it
/// takes them: `auto`, `plain`, `kd`, `fkd`, `dkd`, `rkd`, `kmeans`, `sd`
/// (Subclass Distillation), `lelp`, `lelp-no-null`, `random-proj`.
///
/// # Errors
/// [`LelpError::InvalidParameter`] for another name.
pub fn parse_method(name: &str, subclasses: usize, seed: u64) -> Result<MethodChoice> {
    match name {
        "auto" => Ok(MethodChoice::Auto),
        // the oracle reads the data's true fine labels, which a labelled
        // file does not carry (the study's: lelp::experiment)
        "oracle" => Err(invalid(
            "method",
            name.into(),
            "the oracle needs the true fine labels (the study's, lelp::experiment)",
        )),
        _ => Method::from_name(name, subclasses, seed)
            .map(MethodChoice::Fixed)
            .map_err(|_| {
                invalid(
                    "method",
                    name.into(),
                    "unknown (auto, plain, kd, fkd, dkd, rkd, kmeans, sd, lelp, lelp-no-null, random-proj)",
                )
            }),
    }
}

/// What `--method auto` compares: plain training, vanilla KD, feature KD,
/// DKD, RKD, k-means, Subclass Distillation and LELP (with and without
/// the null space), the subclass methods with `subclasses` subclasses:
/// the first nine of [`METHOD_NAMES`](crate::train::METHOD_NAMES).
pub fn auto_candidates(subclasses: usize, seed: u64) -> Vec<Method> {
    crate::train::METHOD_NAMES[..9]
        .iter()
        .filter_map(|n| Method::from_name(n, subclasses, seed).ok())
        .collect()
}

/// What `--method auto` keeps the best candidate by, on the validation rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChooseBy {
    /// Accuracy against the labels.
    Accuracy,
    /// Agreement with the teacher's classes (how faithfully the student
    /// imitates it).
    Agreement,
    /// Macro-F1 against the labels (every class counts alike: for
    /// imbalanced data, where accuracy rewards the majority class).
    #[serde(rename = "macro-f1")]
    MacroF1,
}

impl ChooseBy {
    /// This measure of (accuracy, agreement, macro-F1).
    pub(crate) fn of(self, (accuracy, agreement, macro_f1): (f64, f64, f64)) -> f64 {
        match self {
            ChooseBy::Accuracy => accuracy,
            ChooseBy::Agreement => agreement,
            ChooseBy::MacroF1 => macro_f1,
        }
    }
}

impl std::str::FromStr for ChooseBy {
    type Err = LelpError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "accuracy" => Ok(ChooseBy::Accuracy),
            "agreement" => Ok(ChooseBy::Agreement),
            "macro-f1" => Ok(ChooseBy::MacroF1),
            other => Err(invalid("choose_by", other.into(), "accuracy, agreement or macro-f1")),
        }
    }
}

impl std::fmt::Display for ChooseBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChooseBy::Accuracy => "accuracy",
            ChooseBy::Agreement => "agreement",
            ChooseBy::MacroF1 => "macro-f1",
        })
    }
}

/// One method tried by `--method auto`, and how it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The method's name.
    pub name: String,
    /// The method and its settings.
    pub method: Method,
    /// Accuracy on the validation split (none when it failed).
    pub validation_accuracy: Option<f64>,
    /// Agreement with the teacher on the validation split (none when it
    /// failed; absent in files written before 0.4).
    #[serde(default)]
    pub validation_agreement: Option<f64>,
    /// Macro-F1 on the validation split (none when it failed; absent in
    /// files written before 0.4).
    #[serde(default)]
    pub validation_macro_f1: Option<f64>,
    /// Why it failed (a class too small for its subclasses, say).
    pub error: Option<String>,
}

/// Methods auto left out, each with the reason.
pub(super) type LeftOut = Vec<(String, String)>;

/// Why a method is left out for multi-label data.
const MULTI_LABEL: &str = "multi-label data: the subclass methods split each class's rows into subclasses and DKD \
                           splits the target class from the rest, both need one class a row (plain, kd, fkd and rkd \
                           have a multi-label form)";

/// Why `method` cannot learn from supplied outputs `t` (none when it can).
fn inapplicable(method: &Method, t: &TeacherOutputs) -> Option<&'static str> {
    if matches!(method, Method::Oracle(_)) {
        return Some("it reads true fine labels, which the tool does not take");
    }
    let needs_embeddings = !matches!(method, Method::Plain | Method::VanillaKd(_) | Method::Dkd(_));
    if needs_embeddings && t.embeddings.is_none() {
        return Some("it reads the teacher's embeddings, which the supplied outputs do not carry");
    }
    match method {
        Method::Lelp(l) | Method::RandomProjection(l) if l.subspace.null_space => Some(
            "its null-space projection needs the teacher's head, which supplied outputs do not carry \
             (lelp-no-null runs without it)",
        ),
        _ => None,
    }
}

/// The methods a run tries (the user's, or auto's candidates that apply)
/// and, for auto, those left out with the reason.
pub(super) fn methods_for(opts: &DistillOptions, multi_label: bool) -> Result<(Vec<Method>, LeftOut)> {
    let supplied = opts.teacher_outputs.as_ref();
    let why = |m: &Method| match supplied.and_then(|t| inapplicable(m, t)) {
        None if multi_label && !m.supports_multi_label() => Some(MULTI_LABEL),
        reason => reason,
    };
    match &opts.method {
        MethodChoice::Fixed(m) => match why(m) {
            Some(reason) => Err(invalid("method", m.label(), reason)),
            None => Ok((vec![m.clone()], Vec::new())),
        },
        MethodChoice::Auto => {
            let (mut keep, mut left_out) = (Vec::new(), Vec::new());
            for m in auto_candidates(opts.subclasses, opts.seed) {
                match why(&m) {
                    Some(reason) => left_out.push((m.label(), reason.to_string())),
                    None => keep.push(m),
                }
            }
            Ok((keep, left_out))
        }
    }
}

/// The method of a run and how it was chosen.
pub(super) struct Choice {
    pub(super) method: Method,
    /// What auto chose by.
    pub(super) by: ChooseBy,
    /// The chosen candidate's validation accuracy and agreement (auto only).
    pub(super) accuracy: Option<f64>,
    pub(super) agreement: Option<f64>,
    /// Every candidate (auto only).
    pub(super) candidates: Vec<Candidate>,
}

/// The method: the user's, or (auto) the candidate best on the validation
/// rows (the file's, else a stratified share of the training rows) by
/// [`DistillOptions::choose_by`], with every candidate's record.
pub(super) fn pick_method(
    views: &Views,
    candidates: &[Method],
    corpus: &TextCorpus,
    rows: &RowSets<'_>,
    opts: &DistillOptions,
    device: &Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Choice> {
    // the user's own model (its outputs or its checkpoint): by agreement
    let own = opts.teacher_outputs.is_some() || crate::text::is_classifier_dir(&opts.teacher_dir);
    let by = opts
        .choose_by
        .unwrap_or(if own { ChooseBy::Agreement } else { ChooseBy::Accuracy });
    match (&opts.method, candidates) {
        (MethodChoice::Fixed(_), [m]) => Ok(Choice {
            method: m.clone(),
            by,
            accuracy: None,
            agreement: None,
            candidates: Vec::new(),
        }),
        _ => {
            let (fit, val) = validation_split(corpus, rows, opts)?;
            let all = try_candidates(views, candidates, (&fit, &val), by, opts, device, progress);
            let score = |c: &Candidate| match by {
                ChooseBy::Accuracy => c.validation_accuracy,
                ChooseBy::Agreement => c.validation_agreement,
                ChooseBy::MacroF1 => c.validation_macro_f1,
            };
            // the best by `by`; ties to the earlier (simpler) candidate
            let best = all
                .iter()
                .filter_map(|c| Some((c, score(c)?)))
                .fold(None::<(&Candidate, f64)>, |b, (c, a)| match b {
                    Some((_, ba)) if ba >= a => b,
                    _ => Some((c, a)),
                })
                .map(|(c, _)| c.clone())
                .ok_or(LelpError::AllCandidatesFailed {
                    tried: candidates.len(),
                })?;
            Ok(Choice {
                method: best.method,
                by,
                accuracy: best.validation_accuracy,
                agreement: best.validation_agreement,
                candidates: all,
            })
        }
    }
}

/// The rows auto's candidates train on and are scored on: the training
/// rows and the file's validation rows, else a stratified share of the
/// training rows held out (with the unlabeled and augmented rows a
/// candidate may learn from: [`candidate_rows`]).
pub(super) fn validation_split(
    corpus: &TextCorpus,
    rows: &RowSets<'_>,
    opts: &DistillOptions,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let (fit, val) = match rows.file_val {
        Some(v) => (rows.train.to_vec(), v.to_vec()),
        None => stratified(corpus, rows.train, opts.validation_fraction, opts.seed)?,
    };
    Ok((candidate_rows(fit, &val, rows), val))
}

/// The rows a candidate of auto trains on: `fit`, the unlabeled rows and
/// the augmented rows made from anything but a validation row (a copy of
/// one would leak it into training).
fn candidate_rows(mut fit: Vec<usize>, val: &[usize], rows: &RowSets<'_>) -> Vec<usize> {
    let in_val: std::collections::HashSet<usize> = val.iter().copied().collect();
    let copies = rows
        .augmented
        .iter()
        .zip(rows.aug_sources)
        .filter(|(_, s)| !in_val.contains(s))
        .map(|(&r, _)| r);
    fit.extend(rows.unlabeled.iter().copied().chain(copies));
    fit
}

/// `--method auto`: every candidate trained on `fit` and scored on `val`
/// (accuracy and agreement with the teacher); kept at its best epoch
/// there when the options keep it (as [`DistillOptions::best_epoch`] says).
fn try_candidates(
    views: &Views,
    methods: &[Method],
    (fit, val): (&[usize], &[usize]),
    by: ChooseBy,
    opts: &DistillOptions,
    device: &Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (k, m) in methods.iter().enumerate() {
        let outcome = views
            .train(
                m,
                (fit, val),
                opts.keeps_best_epoch().then_some((val, by)),
                opts,
                device,
            )
            .and_then(|(_, preds, _)| views.score(&preds, val, device));
        let cand = Candidate {
            name: m.label(),
            method: m.clone(),
            validation_accuracy: outcome.as_ref().ok().map(|r| r.0),
            validation_agreement: outcome.as_ref().ok().map(|r| r.1),
            validation_macro_f1: outcome.as_ref().ok().map(|r| r.2),
            error: outcome.err().map(|e| e.to_string()),
        };
        progress(Progress::Candidate {
            candidate: &cand,
            done: k + 1,
            total: methods.len(),
        });
        candidates.push(cand);
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_never_train_on_copies_of_validation_rows() {
        // corpus rows 0..6 (0..4 fit, 4..6 validation), unlabeled 6..8,
        // augmented 8..14 made from rows 0, 4, 1, 5, 5, 3
        let (train, unlabeled, augmented) = ([0, 1, 2, 3, 4, 5], [6, 7], [8, 9, 10, 11, 12, 13]);
        let rows = RowSets {
            train: &train,
            file_val: None,
            unlabeled: &unlabeled,
            augmented: &augmented,
            aug_sources: &[0, 4, 1, 5, 5, 3],
        };
        let fit = candidate_rows(vec![0, 1, 2, 3], &[4, 5], &rows);
        assert_eq!(fit, vec![0, 1, 2, 3, 6, 7, 8, 10, 13]);
    }
}
