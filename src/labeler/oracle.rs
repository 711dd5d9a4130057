//! The oracle labeler: true fine labels as subclasses (an upper bound).

use burn::prelude::*;

use super::{LabelerInput, PseudoLabeler, PseudoTargets, check_logits, compose};
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::util;

/// The oracle (upper bound): the true fine label picks the subclass.
///
/// `slot_of[f] = Some((c, s))` maps fine label `f` to class `c` and slot
/// `s`. The row's mass `p_c` for the fine label's class goes to slot `s`;
/// the other classes spread their `p_c'` uniformly over their `S` slots.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleLabeler {
    num_classes: usize,
    subclasses: usize,
    slot_of: Vec<Option<(usize, usize)>>,
    tau: f64,
}

impl OracleLabeler {
    /// The table read off a data set's labels and fine labels: class `c`'s
    /// fine labels take slots `0, 1, ...` in increasing order, `S` is the
    /// largest number of fine labels in one class, and a fine label absent
    /// from the data gets no slot.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when the data set has no fine labels,
    /// a fine label occurs under two classes, or `tau` is not `> 0`.
    ///
    /// # Example
    /// ```
    /// use lelp::data::Dataset;
    /// use lelp::labeler::{OracleLabeler, PseudoLabeler};
    /// let digits = Dataset::uci_digits().parity()?;
    /// let oracle = OracleLabeler::from_dataset(&digits, 2.0)?;
    /// assert_eq!((oracle.num_classes(), oracle.subclasses()), (2, 5));
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn from_dataset(data: &Dataset, tau: f64) -> Result<Self> {
        util::check_positive("tau", tau)?;
        let fine = data.fine_labels().ok_or(LelpError::InvalidParameter {
            name: "fine_labels",
            value: "None".into(),
            reason: "the oracle labeler needs a data set with fine labels",
        })?;
        let nf = fine.iter().max().map_or(0, |m| m + 1);
        let mut class_of: Vec<Option<usize>> = vec![None; nf];
        for (&f, &c) in fine.iter().zip(data.labels()) {
            match class_of[f] {
                Some(prev) if prev != c => {
                    return Err(LelpError::InvalidParameter {
                        name: "fine_labels",
                        value: f.to_string(),
                        reason: "a fine label occurs under two classes",
                    });
                }
                _ => class_of[f] = Some(c),
            }
        }
        let mut next = vec![0usize; data.num_classes()];
        let slot_of = class_of
            .into_iter()
            .map(|c| {
                c.map(|c| {
                    next[c] += 1;
                    (c, next[c] - 1)
                })
            })
            .collect();
        Ok(Self {
            num_classes: data.num_classes(),
            subclasses: next.iter().copied().max().unwrap_or(1).max(1),
            slot_of,
            tau,
        })
    }

    /// The teacher temperature.
    pub fn tau(&self) -> f64 {
        self.tau
    }

    /// The slot `(class, s)` of fine label `f`, if it has one.
    pub fn slot(&self, f: usize) -> Option<(usize, usize)> {
        self.slot_of.get(f).copied().flatten()
    }
}

impl PseudoLabeler for OracleLabeler {
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn subclasses(&self) -> usize {
        self.subclasses
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        let (c, s) = (self.num_classes, self.subclasses);
        let n = input.rows();
        check_logits(&input.logits, c, n)?;
        let fine = input.fine_labels.ok_or(LelpError::InvalidParameter {
            name: "fine_labels",
            value: "None".into(),
            reason: "the oracle labeler needs the true fine labels",
        })?;
        if fine.len() != n {
            return Err(LelpError::DimensionMismatch {
                what: "fine labels vs rows",
                expected: n,
                got: fine.len(),
            });
        }
        // log of the within-class distribution: one-hot for the fine label's
        // class, uniform for the others
        let mut within = vec![-(s as f32).ln(); n * c * s];
        for (row, &f) in fine.iter().enumerate() {
            let (fc, fs) = self.slot(f).ok_or(LelpError::LabelOutOfRange {
                label: f,
                row,
                num_classes: self.slot_of.len(),
            })?;
            for j in 0..s {
                within[row * c * s + fc * s + j] = if j == fs { 0.0 } else { f32::NEG_INFINITY };
            }
        }
        let device = input.logits.device();
        let log_within = Tensor::<3>::from_data(TensorData::new(within, [n, c, s]), &device);
        compose(input.logits, log_within, self.tau)
    }
}
