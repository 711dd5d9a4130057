//! Evaluation and prediction, in batches, with the shape checks that keep
//! a mismatched student or data set a typed error.

use burn::prelude::*;

use super::loss;
use super::student::{Student, class_logits};
use crate::data::{Dataset, Features, Inputs};
use crate::error::{LelpError, Result};
use crate::util;

/// Rows per evaluation batch.
const EVAL_BATCH: usize = 512;

/// A data set's inputs on a device: dense features uploaded once (batches
/// are row selections on the device), token sequences padded per batch.
pub(crate) enum DeviceRows<'a> {
    /// Boxed: with every backend compiled in, a tensor is several times
    /// larger than the other variant.
    Dense(Box<Tensor<2>>),
    Tokens(&'a Dataset, Device),
}

impl<'a> DeviceRows<'a> {
    pub(crate) fn new(data: &'a Dataset, device: &Device) -> Result<Self> {
        Ok(match data.features() {
            Features::Tokens { .. } => DeviceRows::Tokens(data, device.clone()),
            _ => DeviceRows::Dense(Box::new(data.features_tensor(device)?)),
        })
    }

    /// The distinct token ids of `rows`, sorted (None for dense rows).
    pub(crate) fn token_ids(&self, rows: &[usize]) -> Option<Vec<usize>> {
        let DeviceRows::Tokens(data, _) = self else {
            return None;
        };
        let Features::Tokens { sequences } = data.features() else {
            return None;
        };
        let mut ids: Vec<usize> = rows
            .iter()
            .flat_map(|&r| sequences[r].iter().map(|&t| t as usize))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Some(ids)
    }

    /// The batch of `rows`; `idx` is the same rows on the device.
    pub(crate) fn batch(&self, rows: &[usize], idx: &Tensor<1, Int>) -> Result<Inputs> {
        match self {
            DeviceRows::Dense(x) => Ok(Inputs::Dense((**x).clone().select(0, idx.clone()))),
            DeviceRows::Tokens(data, device) => data.inputs(rows, device),
        }
    }
}

/// Subclasses per class of a student with `outputs` logits over `classes`
/// classes.
pub(crate) fn subclasses_of(outputs: usize, classes: usize) -> Result<usize> {
    if classes == 0 || outputs == 0 || !outputs.is_multiple_of(classes) {
        return Err(LelpError::DimensionMismatch {
            what: "student outputs vs a multiple of the classes (C * S)",
            expected: classes * (outputs / classes.max(1)).max(1),
            got: outputs,
        });
    }
    Ok(outputs / classes)
}

/// Rows whose class argmax equals the label, as a device scalar.
pub(crate) fn hits(logits: Tensor<2>, labels: Tensor<1, Int>, num_classes: usize, subclasses: usize) -> Tensor<1, Int> {
    class_logits(logits, num_classes, subclasses)
        .argmax(1)
        .squeeze_dim::<1>(1)
        .equal(labels)
        .int()
        .sum()
}

/// Multi-label rows whose every label is right (a positive logit for each
/// label the row has, a negative one for the others: sigmoid at 0.5), as a
/// device scalar; `targets` holds 0/1 a label.
pub(crate) fn multi_label_hits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1, Int> {
    let wrong = (logits.greater_elem(0.0).float() - targets).abs().sum_dim(1);
    wrong.lower_elem(0.5).int().sum()
}

/// Reads device-side running sums (loss, hits) back to the host.
pub(crate) fn read_sums(loss: &Option<Tensor<1>>, hits: &Option<Tensor<1, Int>>) -> Result<(f64, f64)> {
    let l = match loss {
        Some(t) => util::to_host_f32(t.clone())?[0] as f64,
        None => 0.0,
    };
    let h = match hits {
        Some(t) => util::to_host_f32(t.clone().float())?[0] as f64,
        None => 0.0,
    };
    Ok((l, h))
}

/// A labelled data set prepared once for repeated evaluation.
pub(crate) struct EvalSet<'a> {
    rows: DeviceRows<'a>,
    one_hot: Tensor<2>,
    labels: Tensor<1, Int>,
    multi_label: bool,
    n: usize,
    c: usize,
    device: Device,
}

impl<'a> EvalSet<'a> {
    pub(crate) fn new(data: &'a Dataset, device: &Device) -> Result<Self> {
        Ok(Self {
            rows: DeviceRows::new(data, device)?,
            one_hot: data.target_matrix(device),
            labels: util::indices(data.labels(), device),
            multi_label: data.is_multi_label(),
            n: data.len(),
            c: data.num_classes(),
            device: device.clone(),
        })
    }

    /// Mean cross-entropy of the class logits and accuracy; one read-back.
    pub(crate) fn evaluate<S: Student>(&self, student: &S) -> Result<Evaluation> {
        let s = subclasses_of(student.num_outputs(), self.c)?;
        let mut loss_acc: Option<Tensor<1>> = None;
        let mut hits_acc: Option<Tensor<1, Int>> = None;
        for start in (0..self.n).step_by(EVAL_BATCH) {
            let len = EVAL_BATCH.min(self.n - start);
            let rows: Vec<usize> = (start..start + len).collect();
            let idx = util::indices(&rows, &self.device);
            let z = student.forward(self.rows.batch(&rows, &idx)?)?.logits;
            let y = self.one_hot.clone().narrow(0, start, len);
            let (ce, h) = if self.multi_label {
                if s != 1 {
                    return Err(LelpError::DimensionMismatch {
                        what: "a multi-label student's outputs vs one a label",
                        expected: self.c,
                        got: student.num_outputs(),
                    });
                }
                (loss::binary_cross_entropy(z.clone(), y.clone()), multi_label_hits(z, y))
            } else {
                let ce = loss::cross_entropy(class_logits(z.clone(), self.c, s), y);
                (ce, hits(z, self.labels.clone().narrow(0, start, len), self.c, s))
            };
            let ce = ce.mul_scalar(len as f64);
            loss_acc = Some(loss_acc.map_or(ce.clone(), |a| a + ce));
            hits_acc = Some(hits_acc.map_or(h.clone(), |a| a + h));
        }
        let (l, h) = read_sums(&loss_acc, &hits_acc)?;
        Ok(Evaluation {
            loss: l / self.n as f64,
            accuracy: h / self.n as f64,
        })
    }
}

/// A student's score on a labelled data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy of the class logits `l_c = logsumexp_s z[c S + s]`
    /// (multi-label data: the mean binary cross-entropy a label).
    pub loss: f64,
    /// Fraction of rows whose class argmax equals the label (multi-label
    /// data: whose every label is right at probability 0.5, scikit-learn's
    /// subset accuracy).
    pub accuracy: f64,
}

/// Cross-entropy of the class logits and accuracy of `student` on `data`,
/// in batches on `device`. `S` is the student's outputs over `data`'s
/// classes.
///
/// # Errors
/// [`LelpError::DimensionMismatch`] when the student's outputs are not a
/// multiple of the classes or its input width differs from the data's;
/// [`LelpError::InputKind`]; [`LelpError::Backend`].
pub fn evaluate<S: Student>(student: &S, data: &Dataset, device: &Device) -> Result<Evaluation> {
    EvalSet::new(data, device)?.evaluate(student)
}

/// Accuracy of `student` on `data` (see [`evaluate`]).
///
/// # Errors
/// As [`evaluate`].
pub fn accuracy<S: Student>(student: &S, data: &Dataset, device: &Device) -> Result<f64> {
    Ok(evaluate(student, data, device)?.accuracy)
}

/// Class predictions `argmax_c l_c` of `student` for every row of `data`
/// (its labels are not read), in batches on `device`.
///
/// # Errors
/// As [`evaluate`].
pub fn predict<S: Student>(student: &S, data: &Dataset, device: &Device) -> Result<Vec<usize>> {
    let c = data.num_classes();
    let s = subclasses_of(student.num_outputs(), c)?;
    let rows = DeviceRows::new(data, device)?;
    let mut preds = Vec::with_capacity(data.len());
    let all: Vec<usize> = (0..data.len()).collect();
    for chunk in all.chunks(EVAL_BATCH) {
        let idx = util::indices(chunk, device);
        let z = student.forward(rows.batch(chunk, &idx)?)?.logits;
        preds.extend(util::argmax_rows(&class_logits(z, c, s))?);
    }
    Ok(preds)
}

/// The class logits `l_c` of `student` for every row of `data`, row-major
/// `[N, C]` on the host, in batches on `device`.
#[cfg(feature = "text")]
pub(crate) fn class_logits_of<S: Student>(student: &S, data: &Dataset, device: &Device) -> Result<Vec<f32>> {
    let c = data.num_classes();
    let s = subclasses_of(student.num_outputs(), c)?;
    let rows = DeviceRows::new(data, device)?;
    let mut out = Vec::with_capacity(data.len() * c);
    let all: Vec<usize> = (0..data.len()).collect();
    for chunk in all.chunks(EVAL_BATCH) {
        let idx = util::indices(chunk, device);
        let z = student.forward(rows.batch(chunk, &idx)?)?.logits;
        out.extend(util::to_host_f32(class_logits(z, c, s))?);
    }
    Ok(out)
}

/// Class predictions for one batch of inputs of a student over
/// `num_classes` classes (for inputs without labels: raw text through a
/// tokenizer, a stream of requests).
///
/// # Errors
/// As [`evaluate`].
pub fn predict_inputs<S: Student>(student: &S, inputs: Inputs, num_classes: usize) -> Result<Vec<usize>> {
    let s = subclasses_of(student.num_outputs(), num_classes)?;
    let z = student.forward(inputs)?.logits;
    util::argmax_rows(&class_logits(z, num_classes, s))
}
