//! Multi-label scores and decision thresholds: each row has a set of
//! labels, the model a probability a label, and a label is predicted when
//! its probability reaches the label's threshold.

use serde::{Deserialize, Serialize};

use super::{ClassScores, Scores};
use crate::error::{LelpError, Result};

/// How [`fit_thresholds`] chooses each label's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdRule {
    /// The cut that maximises the label's F1 on the rows (ties to the cut
    /// nearest 0.5): rare labels get lower thresholds.
    #[default]
    F1,
    /// The cut that maximises the label's accuracy (the share of rows
    /// whose decision for it is right).
    Accuracy,
    /// The same threshold for every label.
    Fixed(f32),
}

impl std::str::FromStr for ThresholdRule {
    type Err = LelpError;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "f1" => Ok(Self::F1),
            "accuracy" => Ok(Self::Accuracy),
            other => match other.parse::<f32>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(Self::Fixed(p)),
                _ => Err(LelpError::InvalidParameter {
                    name: "thresholds",
                    value: s.to_string(),
                    reason: "f1, accuracy, or a probability in [0, 1]",
                }),
            },
        }
    }
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::F1 => f.write_str("f1"),
            Self::Accuracy => f.write_str("accuracy"),
            Self::Fixed(p) => write!(f, "{p}"),
        }
    }
}

/// The checks shared by [`multi_label_scores`] and [`fit_thresholds`].
fn check(probs: &[f32], sets: &[Vec<usize>], classes: usize) -> Result<()> {
    super::check_probabilities(probs, sets.len(), classes)?;
    if let Some((row, &label)) = sets
        .iter()
        .enumerate()
        .find_map(|(r, s)| s.iter().find(|&&l| l >= classes).map(|l| (r, l)))
    {
        return Err(LelpError::LabelOutOfRange {
            label,
            row,
            num_classes: classes,
        });
    }
    Ok(())
}

/// Scores of multi-label predictions: `probs` (row-major `[n, classes]`,
/// one probability a label), a label predicted when its probability is at
/// least its threshold, against each row's set of labels. As scikit-learn
/// scores indicator matrices: `accuracy` is the subset accuracy (the
/// predicted set equals the row's), per label precision, recall and F1
/// (0 where undefined), their unweighted means over every label, the
/// support-weighted mean F1, `micro_f1` over all decisions pooled,
/// `hamming_loss`; `ece` over every (row, label) probability as a binary
/// forecast (ten bins of the probability of the more likely outcome);
/// no top-k.
///
/// # Errors
/// [`LelpError::EmptyData`] for no rows or labels;
/// [`LelpError::DimensionMismatch`] for `probs` or `thresholds` of another
/// size; [`LelpError::LabelOutOfRange`]; [`LelpError::NonFinite`];
/// [`LelpError::InvalidParameter`] for a threshold outside [0, 1].
///
/// ```
/// use lelp::metrics::multi_label_scores;
/// // 2 rows, 3 labels
/// let probs = [0.9, 0.2, 0.6, 0.1, 0.7, 0.3];
/// let s = multi_label_scores(&probs, &[vec![0, 2], vec![1, 2]], 3, &[0.5; 3])?;
/// assert_eq!(s.accuracy, 0.5); // row 0 is right, row 1 misses label 2
/// assert_eq!(s.hamming_loss, Some(1.0 / 6.0));
/// assert_eq!(s.per_class[2].recall, 0.5);
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn multi_label_scores(probs: &[f32], sets: &[Vec<usize>], classes: usize, thresholds: &[f32]) -> Result<Scores> {
    check(probs, sets, classes)?;
    if thresholds.len() != classes {
        return Err(LelpError::DimensionMismatch {
            what: "thresholds vs labels",
            expected: classes,
            got: thresholds.len(),
        });
    }
    if let Some(t) = thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(LelpError::InvalidParameter {
            name: "thresholds",
            value: t.to_string(),
            reason: "a threshold is a probability in [0, 1]",
        });
    }
    let n = sets.len();
    let (mut tp, mut fp, mut fneg) = (vec![0usize; classes], vec![0usize; classes], vec![0usize; classes]);
    let mut exact = 0usize;
    let (mut bin_rows, mut bin_right, mut bin_conf) = ([0usize; 10], [0usize; 10], [0.0f64; 10]);
    let mut truth = vec![false; classes];
    for (row, set) in probs.chunks(classes).zip(sets) {
        truth.iter_mut().for_each(|t| *t = false);
        set.iter().for_each(|&l| truth[l] = true);
        let mut all_right = true;
        for k in 0..classes {
            let said = row[k] >= thresholds[k];
            match (said, truth[k]) {
                (true, true) => tp[k] += 1,
                (true, false) => fp[k] += 1,
                (false, true) => fneg[k] += 1,
                (false, false) => {}
            }
            all_right &= said == truth[k];
            // the binary forecast: its more likely outcome and that one's probability
            let p = f64::from(row[k]);
            let (conf, outcome) = if p >= 0.5 { (p, true) } else { (1.0 - p, false) };
            let bin = ((conf * 10.0).ceil() as usize).clamp(1, 10) - 1;
            bin_rows[bin] += 1;
            bin_right[bin] += usize::from(outcome == truth[k]);
            bin_conf[bin] += conf;
        }
        exact += usize::from(all_right);
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let f1 = |p: f64, r: f64| if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
    let per_class: Vec<ClassScores> = (0..classes)
        .map(|k| {
            let (precision, recall) = (ratio(tp[k], tp[k] + fp[k]), ratio(tp[k], tp[k] + fneg[k]));
            ClassScores {
                precision,
                recall,
                f1: f1(precision, recall),
                support: tp[k] + fneg[k],
            }
        })
        .collect();
    let mean = |f: fn(&ClassScores) -> f64| per_class.iter().map(f).sum::<f64>() / classes as f64;
    let support: usize = per_class.iter().map(|c| c.support).sum();
    let weighted_f1 = if support == 0 {
        0.0
    } else {
        per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / support as f64
    };
    let (stp, sfp, sfn): (usize, usize, usize) = (tp.iter().sum(), fp.iter().sum(), fneg.iter().sum());
    let decisions = (n * classes) as f64;
    let ece = (0..10)
        .filter(|&b| bin_rows[b] > 0)
        .map(|b| {
            let rows = bin_rows[b] as f64;
            rows / decisions * (bin_right[b] as f64 / rows - bin_conf[b] / rows).abs()
        })
        .sum();
    Ok(Scores {
        rows: n,
        accuracy: exact as f64 / n as f64,
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_f1,
        top_k: Vec::new(),
        ece,
        per_class,
        micro_f1: Some(f1(ratio(stp, stp + sfp), ratio(stp, stp + sfn))),
        hamming_loss: Some((sfp + sfn) as f64 / decisions),
    })
}

/// Each label's threshold chosen on these rows by `rule`. The candidates
/// are the label's distinct probabilities (a row is predicted at or over
/// the threshold, so each is the cut just under it, as scikit-learn's
/// `precision_recall_curve` counts them) and a cut above the highest
/// (none predicted); ties go to the candidate nearest 0.5. A label no row has keeps 0.5 under [`ThresholdRule::F1`]
/// (every cut scores 0).
///
/// # Errors
/// As [`multi_label_scores`]; [`LelpError::InvalidParameter`] for a fixed
/// threshold outside [0, 1].
///
/// ```
/// use lelp::metrics::{ThresholdRule, fit_thresholds};
/// // one label; the positives score 0.3 and 0.4, the negatives 0.1 and 0.2
/// let probs = [0.3, 0.4, 0.1, 0.2];
/// let sets = [vec![0], vec![0], vec![], vec![]];
/// let t = fit_thresholds(&probs, &sets, 1, ThresholdRule::F1)?;
/// assert_eq!(t[0], 0.3); // both positives, no negative; 0.5 would find none
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn fit_thresholds(probs: &[f32], sets: &[Vec<usize>], classes: usize, rule: ThresholdRule) -> Result<Vec<f32>> {
    check(probs, sets, classes)?;
    if let ThresholdRule::Fixed(p) = rule {
        if !(0.0..=1.0).contains(&p) {
            return Err(LelpError::InvalidParameter {
                name: "thresholds",
                value: p.to_string(),
                reason: "a threshold is a probability in [0, 1]",
            });
        }
        return Ok(vec![p; classes]);
    }
    let n = sets.len();
    let mut has = vec![false; n * classes];
    for (r, set) in sets.iter().enumerate() {
        set.iter().for_each(|&l| has[r * classes + l] = true);
    }
    Ok((0..classes)
        .map(|k| {
            let mut rows: Vec<(f32, bool)> = (0..n).map(|r| (probs[r * classes + k], has[r * classes + k])).collect();
            rows.sort_by(|a, b| b.0.total_cmp(&a.0));
            let positives = rows.iter().filter(|r| r.1).count();
            if positives == 0 && rule == ThresholdRule::F1 {
                return 0.5;
            }
            // predicting the top `i` rows: `tp` of them positive
            let score = |i: usize, tp: usize| match rule {
                ThresholdRule::F1 => 2.0 * tp as f64 / (i + positives) as f64,
                _ => (tp + (n - i) - (positives - tp)) as f64 / n as f64,
            };
            // the top `i` rows predicted: the lowest of them, exactly (`>=`)
            let cut = |i: usize| match i {
                0 => (rows[0].0 + 1.0) / 2.0,
                i => rows[i - 1].0,
            };
            let mut best = (score(0, 0), cut(0));
            let mut tp = 0;
            for i in 1..=n {
                tp += usize::from(rows[i - 1].1);
                // only between distinct probabilities: a cut inside a tie is not one
                if i < n && rows[i].0 == rows[i - 1].0 {
                    continue;
                }
                let (s, c) = (score(i, tp), cut(i));
                if s > best.0 || (s == best.0 && (c - 0.5).abs() < (best.1 - 0.5).abs()) {
                    best = (s, c);
                }
            }
            best.1
        })
        .collect())
}
