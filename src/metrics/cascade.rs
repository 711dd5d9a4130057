//! A student-then-teacher cascade: its coverage curve (what the student
//! answers and what the cascade then agrees with at each threshold) and
//! the threshold that meets a target agreement or coverage.

use serde::{Deserialize, Serialize};

use super::{fidelity, scores};
use crate::error::{LelpError, Result};

/// One point of a student-then-teacher cascade's coverage curve
/// ([`coverage_curve`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoveragePoint {
    /// The student answers where its top probability is at least this.
    pub threshold: f64,
    /// Share of rows the student answers.
    pub coverage: f64,
    /// The student's accuracy on the rows it answers (none when it
    /// answers none).
    pub student_accuracy: Option<f64>,
    /// Accuracy of the cascade: the student's class where it answers, the
    /// teacher's elsewhere.
    pub accuracy: f64,
    /// The cascade's agreement with the teacher (1 on the deferred rows).
    pub agreement: f64,
}

/// What a cascade would do at each of `thresholds`: the student (class
/// probabilities `student`, row-major `[n, classes]`) answers the rows
/// whose top probability reaches the threshold, the teacher (`teacher`,
/// the same shape) the others. The dial between speed (coverage: the
/// share of rows that never reach the teacher) and fidelity.
///
/// # Errors
/// As [`scores`] and [`fidelity`] for the shapes, labels and values.
///
/// ```
/// use lelp::metrics::coverage_curve;
/// // the student is sure and right on row 0, unsure and wrong on row 1
/// let student = [0.9, 0.1, 0.6, 0.4];
/// let teacher = [0.8, 0.2, 0.3, 0.7];
/// let c = coverage_curve(&student, &teacher, &[0, 1], 2, &[0.5, 0.8])?;
/// assert_eq!((c[0].coverage, c[0].accuracy, c[0].agreement), (1.0, 0.5, 0.5));
/// assert_eq!((c[1].coverage, c[1].accuracy, c[1].agreement), (0.5, 1.0, 1.0));
/// assert_eq!(c[1].student_accuracy, Some(1.0));
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn coverage_curve(
    student: &[f32],
    teacher: &[f32],
    labels: &[usize],
    classes: usize,
    thresholds: &[f64],
) -> Result<Vec<CoveragePoint>> {
    // the shape, label and value checks of the two measures
    scores(student, labels, classes)?;
    fidelity(teacher, student, classes)?;
    let rows: Vec<(f64, usize, usize)> = student
        .chunks(classes)
        .zip(teacher.chunks(classes))
        .map(|(s, t)| {
            let a = crate::util::argmax(s);
            (f64::from(s[a]), a, crate::util::argmax(t))
        })
        .collect();
    let n = labels.len() as f64;
    Ok(thresholds
        .iter()
        .map(|&threshold| {
            let (mut answered, mut student_right, mut right, mut agree) = (0usize, 0usize, 0usize, 0usize);
            for (&(conf, s, t), &l) in rows.iter().zip(labels) {
                let said = if conf >= threshold {
                    answered += 1;
                    student_right += usize::from(s == l);
                    s
                } else {
                    t
                };
                right += usize::from(said == l);
                agree += usize::from(said == t);
            }
            CoveragePoint {
                threshold,
                coverage: answered as f64 / n,
                student_accuracy: (answered > 0).then(|| student_right as f64 / answered as f64),
                accuracy: right as f64 / n,
                agreement: agree as f64 / n,
            }
        })
        .collect())
}

/// What a cascade's threshold is chosen for ([`cascade_threshold`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CascadeTarget {
    /// The cascade agrees with the teacher on at least this share of the
    /// rows, the student answering as many as it can.
    Agreement(f64),
    /// The student answers at least this share of the rows, the surest
    /// ones.
    Coverage(f64),
}

/// The threshold of a student-then-teacher cascade that meets `target` on
/// these rows, and the cascade there ([`coverage_curve`]'s point). The
/// candidates are the student's top probabilities (the student answers a
/// row at or over the threshold) and 1.0: for
/// [`CascadeTarget::Agreement`] the one that lets the student answer the
/// most rows with the target met, for [`CascadeTarget::Coverage`] the
/// highest one at which the student answers the share asked for.
///
/// # Errors
/// As [`coverage_curve`]; [`LelpError::InvalidParameter`] for a target
/// outside (0, 1]. Every agreement is reachable: at 1.0 the teacher
/// answers (nearly) every row.
///
/// ```
/// use lelp::metrics::{CascadeTarget, cascade_threshold};
/// // rows by the student's confidence: 0.9 agrees, 0.8 disagrees, 0.7 agrees
/// let student = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3];
/// let teacher = [0.9, 0.1, 0.2, 0.8, 0.8, 0.2];
/// let (t, p) = cascade_threshold(&student, &teacher, &[0, 1, 0], 2, CascadeTarget::Agreement(1.0))?;
/// assert_eq!((t, p.coverage), (0.9f32 as f64, 1.0 / 3.0)); // past 0.8 the student would disagree
/// let (t, p) = cascade_threshold(&student, &teacher, &[0, 1, 0], 2, CascadeTarget::Coverage(0.6))?;
/// assert_eq!((t, p.coverage), (0.8f32 as f64, 2.0 / 3.0));
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn cascade_threshold(
    student: &[f32],
    teacher: &[f32],
    labels: &[usize],
    classes: usize,
    target: CascadeTarget,
) -> Result<(f64, CoveragePoint)> {
    let (CascadeTarget::Agreement(v) | CascadeTarget::Coverage(v)) = target;
    if !(v > 0.0 && v <= 1.0) {
        return Err(LelpError::InvalidParameter {
            name: "cascade target",
            value: v.to_string(),
            reason: "an agreement or coverage in (0, 1]",
        });
    }
    scores(student, labels, classes)?;
    fidelity(teacher, student, classes)?;
    // (confidence, the student agrees with the teacher), surest first
    let mut rows: Vec<(f64, bool)> = student
        .chunks(classes)
        .zip(teacher.chunks(classes))
        .map(|(s, t)| {
            (
                f64::from(s[crate::util::argmax(s)]),
                crate::util::argmax(s) == crate::util::argmax(t),
            )
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = rows.len() as f64;
    // the cascade at threshold rows[i].0: the student answers rows[..=i] and the ties after
    let (mut best, mut disagree) = (1.0f64, 0usize);
    let mut i = 0;
    while i < rows.len() {
        let conf = rows[i].0;
        while i < rows.len() && rows[i].0 == conf {
            disagree += usize::from(!rows[i].1);
            i += 1;
        }
        let (coverage, agreement) = (i as f64 / n, 1.0 - disagree as f64 / n);
        match target {
            CascadeTarget::Agreement(a) if agreement >= a => best = conf,
            CascadeTarget::Agreement(_) => {}
            CascadeTarget::Coverage(c) if coverage >= c => {
                best = conf;
                break;
            }
            CascadeTarget::Coverage(_) => {}
        }
    }
    let point = coverage_curve(student, teacher, labels, classes, &[best])?.remove(0);
    Ok((best, point))
}
