//! How well a partition matches true labels: purity and normalised mutual
//! information (NMI), and how well a method's pseudo-subclasses line up
//! with true fine classes within each class.
//!
//! LELP, k-means and random projections split each class `c` into `S`
//! pseudo-subclasses. Where the data has real fine classes (the digits of a
//! parity task, the newsgroups of a 20 Newsgroups group), the question "did
//! the split find the fine structure?" is answered by comparing, within
//! each class, the argmax pseudo-subclass of each row
//! ([`argmax_subclasses`]) with the row's fine label
//! ([`subclass_alignment`]).
//!
//! [`fidelity`] measures the other thing a user asks of a student: how
//! often it says what its teacher says, where and how far they differ;
//! [`scores`] what a classifier's user reads besides accuracy (precision,
//! recall and F1 per class, their macro and weighted means, top-k
//! accuracy, the expected calibration error).
//!
//! Conventions (those of scikit-learn's `normalized_mutual_info_score`
//! with `average_method="arithmetic"`, which tests/metrics.rs checks
//! against): natural logarithms; `NMI = MI / ((H(a) + H(b)) / 2)`; two
//! partitions that each put every row in one group score 1; otherwise a
//! mutual information of 0 scores 0.
//!
//! ```
//! use lelp::metrics::{nmi, purity};
//! let clusters = [0, 0, 1, 1, 1, 2];
//! let truth = [5, 5, 7, 7, 5, 9];
//! assert!((purity(&clusters, &truth)? - 5.0 / 6.0).abs() < 1e-12);
//! assert!(nmi(&clusters, &truth)? > 0.5);
//! # Ok::<(), lelp::LelpError>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{LelpError, Result};
use crate::labeler::PseudoTargets;

mod cascade;
mod multi_label;
pub use cascade::{CascadeTarget, CoveragePoint, cascade_threshold, coverage_curve};
pub use multi_label::{ThresholdRule, fit_thresholds, multi_label_scores};

/// Counts of each (group, truth) pair, with the row count of each side.
struct Contingency {
    joint: BTreeMap<(usize, usize), usize>,
    groups: BTreeMap<usize, usize>,
    truth: BTreeMap<usize, usize>,
    n: usize,
}

fn contingency(groups: &[usize], truth: &[usize]) -> Result<Contingency> {
    if groups.len() != truth.len() {
        return Err(LelpError::DimensionMismatch {
            what: "partition and true labels (rows)",
            expected: truth.len(),
            got: groups.len(),
        });
    }
    if groups.is_empty() {
        return Err(LelpError::EmptyData { what: "partition" });
    }
    let mut c = Contingency {
        joint: BTreeMap::new(),
        groups: BTreeMap::new(),
        truth: BTreeMap::new(),
        n: groups.len(),
    };
    for (&g, &t) in groups.iter().zip(truth) {
        *c.joint.entry((g, t)).or_default() += 1;
        *c.groups.entry(g).or_default() += 1;
        *c.truth.entry(t).or_default() += 1;
    }
    Ok(c)
}

fn entropy(counts: &BTreeMap<usize, usize>, n: usize) -> f64 {
    let n = n as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Purity of `groups` against `truth`: the share of rows whose true label
/// is the most common true label of their group. 1 when every group is
/// pure; a single group scores the share of the most common true label.
///
/// # Errors
/// [`LelpError::DimensionMismatch`] for slices of different lengths,
/// [`LelpError::EmptyData`] for empty ones.
pub fn purity(groups: &[usize], truth: &[usize]) -> Result<f64> {
    let c = contingency(groups, truth)?;
    let mut best: BTreeMap<usize, usize> = BTreeMap::new();
    for (&(g, _), &k) in &c.joint {
        let b = best.entry(g).or_default();
        *b = (*b).max(k);
    }
    Ok(best.values().sum::<usize>() as f64 / c.n as f64)
}

/// Normalised mutual information of `groups` and `truth` (arithmetic-mean
/// normalisation, natural logarithms): 1 for the same partition up to
/// renaming, about 0 for independent ones.
///
/// # Errors
/// As [`purity`].
pub fn nmi(groups: &[usize], truth: &[usize]) -> Result<f64> {
    let c = contingency(groups, truth)?;
    if c.groups.len() == 1 && c.truth.len() == 1 {
        return Ok(1.0);
    }
    let n = c.n as f64;
    let mut mi = 0.0;
    for (&(g, t), &k) in &c.joint {
        let pij = k as f64 / n;
        let pi = c.groups[&g] as f64 / n;
        let pj = c.truth[&t] as f64 / n;
        mi += pij * (pij / (pi * pj)).ln();
    }
    if mi <= 0.0 {
        return Ok(0.0);
    }
    let norm = 0.5 * (entropy(&c.groups, c.n) + entropy(&c.truth, c.n));
    Ok((mi / norm).min(1.0))
}

/// How one class's pseudo-subclasses line up with its true fine classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAlignment {
    /// The class.
    pub class: usize,
    /// Its rows.
    pub rows: usize,
    /// Distinct fine labels among them.
    pub fine_classes: usize,
    /// Distinct pseudo-subclasses among them.
    pub subclasses: usize,
    /// [`purity`] of the pseudo-subclasses against the fine labels.
    pub purity: f64,
    /// [`nmi`] of the pseudo-subclasses and the fine labels.
    pub nmi: f64,
    /// The purity of no split at all: the share of the class's most common
    /// fine label (the floor `purity` starts from).
    pub majority: f64,
}

/// Pseudo-subclasses against fine labels, class by class, and their
/// row-weighted means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubclassAlignment {
    /// One entry per class present, in class order.
    pub per_class: Vec<ClassAlignment>,
    /// Row-weighted mean of the classes' purities.
    pub purity: f64,
    /// Row-weighted mean of the classes' NMIs.
    pub nmi: f64,
    /// Row-weighted mean of the classes' majority shares.
    pub majority: f64,
}

/// Compares `subclasses[i]` (row `i`'s pseudo-subclass within its class
/// `labels[i]`) with `fine[i]` (its true fine label), within each class.
///
/// # Errors
/// [`LelpError::DimensionMismatch`] for slices of different lengths,
/// [`LelpError::EmptyData`] for empty ones.
pub fn subclass_alignment(subclasses: &[usize], labels: &[usize], fine: &[usize]) -> Result<SubclassAlignment> {
    for (what, got) in [
        ("pseudo-subclasses (rows)", subclasses.len()),
        ("fine labels (rows)", fine.len()),
    ] {
        if got != labels.len() {
            return Err(LelpError::DimensionMismatch {
                what,
                expected: labels.len(),
                got,
            });
        }
    }
    if labels.is_empty() {
        return Err(LelpError::EmptyData { what: "labels" });
    }
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &c) in labels.iter().enumerate() {
        by_class.entry(c).or_default().push(i);
    }
    let mut per_class = Vec::with_capacity(by_class.len());
    for (class, rows) in by_class {
        let s: Vec<usize> = rows.iter().map(|&i| subclasses[i]).collect();
        let f: Vec<usize> = rows.iter().map(|&i| fine[i]).collect();
        let one = vec![0; rows.len()];
        per_class.push(ClassAlignment {
            class,
            rows: rows.len(),
            fine_classes: contingency(&one, &f)?.truth.len(),
            subclasses: contingency(&one, &s)?.truth.len(),
            purity: purity(&s, &f)?,
            nmi: nmi(&s, &f)?,
            majority: purity(&one, &f)?,
        });
    }
    let n = labels.len() as f64;
    let mean = |g: fn(&ClassAlignment) -> f64| per_class.iter().map(|a| g(a) * a.rows as f64).sum::<f64>() / n;
    Ok(SubclassAlignment {
        purity: mean(|a| a.purity),
        nmi: mean(|a| a.nmi),
        majority: mean(|a| a.majority),
        per_class,
    })
}

/// Each row's pseudo-subclass within its class: `argmax_s q[c S + s]` for
/// `c = labels[i]` (the first maximum on ties).
///
/// # Shapes
/// - `targets`: `[N, C * S]`; `labels`: `N` values below `C`
///
/// # Errors
/// [`LelpError::DimensionMismatch`] for `labels` of another length,
/// [`LelpError::LabelOutOfRange`] for a label `>= C`, backend errors.
pub fn argmax_subclasses(targets: &PseudoTargets, labels: &[usize]) -> Result<Vec<usize>> {
    if labels.len() != targets.len() {
        return Err(LelpError::DimensionMismatch {
            what: "labels (rows of the targets)",
            expected: targets.len(),
            got: labels.len(),
        });
    }
    let (c, s) = (targets.num_classes(), targets.subclasses());
    let lp = crate::util::to_host_f32(targets.log_probs().clone())?;
    labels
        .iter()
        .enumerate()
        .map(|(i, &label)| {
            if label >= c {
                return Err(LelpError::LabelOutOfRange {
                    label,
                    row: i,
                    num_classes: c,
                });
            }
            let row = &lp[i * c * s + label * s..i * c * s + (label + 1) * s];
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            Ok(best)
        })
        .collect()
}

/// How faithfully a student imitates its teacher on the same rows: the
/// question a user who distils their own model asks first.
///
/// Conventions (tests/data/fidelity/reference.py computes the same with
/// numpy): `agreement` is the share of rows whose argmax classes agree
/// (ties to the lower class, as everywhere in the crate); `per_class[c]`
/// is that share among the rows the teacher puts in class `c` (its
/// recall of the teacher's decisions); `mean_kl` is the mean of
/// `KL(p_teacher || p_student)` in nats, with the student's probabilities
/// floored at `1e-12` and terms of zero teacher probability counting 0;
/// `mean_tv` the mean total-variation distance `0.5 * sum_c |p_t - p_s|`;
/// `by_confidence` splits the rows into ten groups of (nearly) equal size
/// by the teacher's top probability, ascending (a stable sort: ties keep
/// row order; group `k` holds sorted rows `k n / 10 .. (k + 1) n / 10`,
/// so groups are empty when there are fewer than ten rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Rows compared.
    pub rows: usize,
    /// Share of rows on which the student's class is the teacher's.
    pub agreement: f64,
    /// Per teacher class: its rows and the share the student agrees on.
    pub per_class: Vec<ClassAgreement>,
    /// `confusion[t][s]`: rows the teacher puts in class `t` and the
    /// student in class `s`.
    pub confusion: Vec<Vec<usize>>,
    /// Mean `KL(teacher || student)` over the rows, in nats.
    pub mean_kl: f64,
    /// Mean total-variation distance between the two distributions.
    pub mean_tv: f64,
    /// Agreement in ten groups of rows by the teacher's confidence,
    /// least confident first.
    pub by_confidence: Vec<ConfidenceBin>,
}

/// The student's agreement on the rows the teacher puts in one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAgreement {
    /// Rows the teacher puts in this class.
    pub rows: usize,
    /// Share of them the student puts there too (none without rows).
    pub agreement: Option<f64>,
}

/// One group of rows by the teacher's confidence (its top probability).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceBin {
    /// The group's lowest and highest teacher confidence (none when empty).
    pub confidence: Option<(f64, f64)>,
    /// Rows in the group.
    pub rows: usize,
    /// The student's agreement with the teacher in the group (none when
    /// empty).
    pub agreement: Option<f64>,
}

/// The fidelity of a student to its teacher from both models' class
/// probabilities on the same rows (row-major `[n, classes]`), see
/// [`Fidelity`].
///
/// # Errors
/// [`LelpError::EmptyData`] for no rows or no classes;
/// [`LelpError::DimensionMismatch`] when the two matrices differ in size
/// or are not whole rows of `classes`; [`LelpError::NonFinite`] for a NaN
/// or infinite probability.
///
/// ```
/// use lelp::metrics::fidelity;
/// let teacher = [0.9, 0.1, 0.4, 0.6, 0.2, 0.8];
/// let student = [0.8, 0.2, 0.7, 0.3, 0.1, 0.9];
/// let f = fidelity(&teacher, &student, 2)?;
/// assert_eq!(f.rows, 3);
/// assert!((f.agreement - 2.0 / 3.0).abs() < 1e-12);
/// assert_eq!(f.confusion, vec![vec![1, 0], vec![1, 1]]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn fidelity(teacher: &[f32], student: &[f32], classes: usize) -> Result<Fidelity> {
    if classes == 0 || teacher.is_empty() {
        return Err(LelpError::EmptyData { what: "fidelity rows" });
    }
    if teacher.len() != student.len() || !teacher.len().is_multiple_of(classes) {
        return Err(LelpError::DimensionMismatch {
            what: "teacher and student probabilities (values)",
            expected: teacher.len(),
            got: student.len(),
        });
    }
    for (what, probs) in [("teacher probabilities", teacher), ("student probabilities", student)] {
        if let Some(i) = probs.iter().position(|v| !v.is_finite()) {
            return Err(LelpError::NonFinite {
                what,
                row: i / classes,
                col: i % classes,
            });
        }
    }
    let n = teacher.len() / classes;
    let mut confusion = vec![vec![0usize; classes]; classes];
    let (mut kl, mut tv) = (0.0f64, 0.0f64);
    let mut conf = Vec::with_capacity(n);
    let mut agree = Vec::with_capacity(n);
    for (t, s) in teacher.chunks(classes).zip(student.chunks(classes)) {
        let (at, as_) = (crate::util::argmax(t), crate::util::argmax(s));
        confusion[at][as_] += 1;
        agree.push(at == as_);
        conf.push(f64::from(t[at]));
        for (&pt, &ps) in t.iter().zip(s) {
            let (pt, ps) = (f64::from(pt), f64::from(ps));
            if pt > 0.0 {
                kl += pt * (pt / ps.max(1e-12)).ln();
            }
            tv += 0.5 * (pt - ps).abs();
        }
    }
    let share = |hits: usize, rows: usize| (rows > 0).then(|| hits as f64 / rows as f64);
    let per_class = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let rows = row.iter().sum();
            ClassAgreement {
                rows,
                agreement: share(row[c], rows),
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| conf[a].total_cmp(&conf[b]));
    let by_confidence = (0..10)
        .map(|k| {
            let group = &order[k * n / 10..(k + 1) * n / 10];
            ConfidenceBin {
                confidence: group.first().map(|&f| (conf[f], conf[group[group.len() - 1]])),
                rows: group.len(),
                agreement: share(group.iter().filter(|&&r| agree[r]).count(), group.len()),
            }
        })
        .collect();
    let hits = agree.iter().filter(|&&a| a).count();
    Ok(Fidelity {
        rows: n,
        agreement: hits as f64 / n as f64,
        per_class,
        confusion,
        mean_kl: kl / n as f64,
        mean_tv: tv / n as f64,
        by_confidence,
    })
}

/// A classifier's scores against the true labels: what practitioners
/// read besides accuracy (a 95/5 data set rewards predicting the
/// majority; macro-F1 does not).
///
/// Conventions (scikit-learn's, which tests/data/scores/reference.py
/// computes: `precision_recall_fscore_support` with `zero_division=0`,
/// `top_k_accuracy_score`): a class's precision is 0 when nothing is
/// predicted in it, its recall 0 when no row has it, its F1 0 when both
/// are; the macro averages run over the classes that occur in the labels
/// or the predictions (scikit-learn's default label set), the weighted
/// F1 weighs each class by its rows; argmax ties go to the lower class.
/// `top_k[j]` is the share of rows whose label is among the `k` most
/// probable classes, for `k` in 2, 3 and 5 where `k` is below the
/// number of classes (among tied probabilities the higher class ranks
/// first, as in scikit-learn). `ece` is the expected calibration error over ten
/// equal-width bins of the top probability (`(0, 0.1], ..., (0.9, 1]`,
/// an exact 0 in the first): the rows-weighted mean of `|accuracy -
/// mean confidence|` per bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Rows scored.
    pub rows: usize,
    /// Share of rows whose predicted class is the label.
    pub accuracy: f64,
    /// Per class, in class order.
    pub per_class: Vec<ClassScores>,
    /// Unweighted mean precision over the classes present.
    pub macro_precision: f64,
    /// Unweighted mean recall over the classes present.
    pub macro_recall: f64,
    /// Unweighted mean F1 over the classes present.
    pub macro_f1: f64,
    /// Mean F1 weighted by each class's rows.
    pub weighted_f1: f64,
    /// `(k, share)`: the label among the `k` most probable classes.
    pub top_k: Vec<(usize, f64)>,
    /// Expected calibration error (ten equal-width bins).
    pub ece: f64,
    /// Multi-label data: F1 of every (row, label) decision pooled
    /// (scikit-learn's `average="micro"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_f1: Option<f64>,
    /// Multi-label data: the share of (row, label) decisions that are
    /// wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hamming_loss: Option<f64>,
}

/// One class's precision, recall, F1 and rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the rows predicted in the class, the share that have it.
    pub precision: f64,
    /// Of the rows that have the class, the share predicted in it.
    pub recall: f64,
    /// The harmonic mean of the two.
    pub f1: f64,
    /// Rows that have the class.
    pub support: usize,
}

/// [`Scores`] of class probabilities `probs` (row-major `[n, classes]`)
/// against `labels`.
///
/// # Errors
/// [`LelpError::EmptyData`] for no rows or no classes;
/// [`LelpError::DimensionMismatch`] when `probs` is not `labels.len()`
/// rows of `classes`; [`LelpError::LabelOutOfRange`] for a label of no
/// class; [`LelpError::NonFinite`] for a NaN or infinite probability.
///
/// ```
/// use lelp::metrics::scores;
/// // 4 rows, 2 classes; the model always says class 0
/// let probs = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4];
/// let s = scores(&probs, &[0, 0, 0, 1], 2)?;
/// assert_eq!(s.accuracy, 0.75);
/// assert_eq!(s.per_class[1].recall, 0.0);
/// assert!((s.macro_f1 - (6.0 / 7.0) / 2.0).abs() < 1e-12); // F1 of class 0 is 6/7
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn scores(probs: &[f32], labels: &[usize], classes: usize) -> Result<Scores> {
    let n = labels.len();
    check_probabilities(probs, n, classes)?;
    if let Some(row) = labels.iter().position(|&l| l >= classes) {
        return Err(LelpError::LabelOutOfRange {
            label: labels[row],
            row,
            num_classes: classes,
        });
    }
    let (mut support, mut predicted, mut hits) = (vec![0usize; classes], vec![0usize; classes], vec![0usize; classes]);
    let top_ks: Vec<usize> = [2, 3, 5].into_iter().filter(|&k| k < classes).collect();
    let mut top_hits = vec![0usize; top_ks.len()];
    let (mut bin_rows, mut bin_right, mut bin_conf) = ([0usize; 10], [0usize; 10], [0.0f64; 10]);
    for (row, &l) in probs.chunks(classes).zip(labels) {
        let p = crate::util::argmax(row);
        support[l] += 1;
        predicted[p] += 1;
        hits[l] += usize::from(p == l);
        // the label's rank as scikit-learn's top_k_accuracy_score counts
        // it (a stable ascending sort, reversed): classes more probable
        // than it, and tied ones of a higher index
        let rank = (0..classes)
            .filter(|&k| row[k] > row[l] || (row[k] == row[l] && k > l))
            .count();
        for (h, &k) in top_hits.iter_mut().zip(&top_ks) {
            *h += usize::from(rank < k);
        }
        let conf = f64::from(row[p]);
        let bin = ((conf * 10.0).ceil() as usize).clamp(1, 10) - 1;
        bin_rows[bin] += 1;
        bin_right[bin] += usize::from(p == l);
        bin_conf[bin] += conf;
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: Vec<ClassScores> = (0..classes)
        .map(|k| {
            let precision = ratio(hits[k], predicted[k]);
            let recall = ratio(hits[k], support[k]);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScores {
                precision,
                recall,
                f1,
                support: support[k],
            }
        })
        .collect();
    let present: Vec<&ClassScores> = (0..classes)
        .filter(|&k| support[k] + predicted[k] > 0)
        .map(|k| &per_class[k])
        .collect();
    let mean = |f: fn(&ClassScores) -> f64| present.iter().map(|c| f(c)).sum::<f64>() / present.len() as f64;
    let weighted_f1 = per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / n as f64;
    let ece = (0..10)
        .filter(|&b| bin_rows[b] > 0)
        .map(|b| {
            let rows = bin_rows[b] as f64;
            rows / n as f64 * (bin_right[b] as f64 / rows - bin_conf[b] / rows).abs()
        })
        .sum();
    Ok(Scores {
        rows: n,
        accuracy: hits.iter().sum::<usize>() as f64 / n as f64,
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_f1,
        top_k: top_ks
            .iter()
            .zip(&top_hits)
            .map(|(&k, &h)| (k, h as f64 / n as f64))
            .collect(),
        ece,
        per_class,
        micro_f1: None,
        hamming_loss: None,
    })
}

/// The checks of scored probabilities: rows and classes, `n * classes`
/// values (row-major), every one finite.
pub(crate) fn check_probabilities(probs: &[f32], n: usize, classes: usize) -> Result<()> {
    if n == 0 || classes == 0 {
        return Err(LelpError::EmptyData { what: "scored rows" });
    }
    if probs.len() != n * classes {
        return Err(LelpError::DimensionMismatch {
            what: "probabilities vs rows x classes",
            expected: n * classes,
            got: probs.len(),
        });
    }
    match probs.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(LelpError::NonFinite {
            what: "probabilities",
            row: i / classes,
            col: i % classes,
        }),
        None => Ok(()),
    }
}

/// Mean and sample standard deviation (`n - 1` denominator; 0 for fewer
/// than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_partition_is_perfect() {
        let a = [0, 0, 1, 1, 2, 2];
        let b = [7, 7, 3, 3, 9, 9];
        assert_eq!(purity(&a, &b).unwrap(), 1.0);
        assert!((nmi(&a, &b).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn single_groups_and_independence() {
        // both constant: a perfect (trivial) match
        assert_eq!(nmi(&[1, 1, 1], &[4, 4, 4]).unwrap(), 1.0);
        // one constant, the other not: no information
        assert_eq!(nmi(&[1, 1, 1, 1], &[0, 1, 0, 1]).unwrap(), 0.0);
        // exactly independent halves
        assert_eq!(nmi(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(), 0.0);
        assert_eq!(purity(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap(), 0.5);
    }

    #[test]
    fn bad_lengths_are_typed() {
        assert!(matches!(nmi(&[0], &[0, 1]), Err(LelpError::DimensionMismatch { .. })));
        assert!(matches!(purity(&[], &[]), Err(LelpError::EmptyData { .. })));
        assert!(matches!(
            subclass_alignment(&[0, 1], &[0, 0], &[0]),
            Err(LelpError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn alignment_is_per_class() {
        // class 0: subclasses follow fine labels exactly; class 1: one
        // subclass for two fine labels
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        let fine = [0, 0, 1, 1, 2, 2, 2, 3];
        let sub = [1, 1, 0, 0, 0, 0, 0, 0];
        let a = subclass_alignment(&sub, &labels, &fine).unwrap();
        assert_eq!(a.per_class.len(), 2);
        assert_eq!(a.per_class[0].purity, 1.0);
        assert_eq!(a.per_class[1].purity, 0.75);
        assert_eq!(a.per_class[1].majority, 0.75);
        assert_eq!(a.per_class[1].nmi, 0.0);
        assert_eq!(a.per_class[1].fine_classes, 2);
        assert_eq!(a.per_class[1].subclasses, 1);
        assert!((a.purity - 0.875).abs() < 1e-12);
        assert!((a.majority - 0.625).abs() < 1e-12);
    }

    #[test]
    fn mean_std_uses_n_minus_one() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[4.0]), (4.0, 0.0));
    }
}
