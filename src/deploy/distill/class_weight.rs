//! How the classes weigh in the losses of [`distill`](super::distill).

use super::*;

/// How [`distill`] weighs the classes in the losses it trains with.
///
/// As text (`FromStr`, the tool's `--class-weight`): `none`, `balanced`,
/// or weights by class name, `NAME=W,NAME=W` (classes not named weigh 1).
///
/// ```
/// use lelp::deploy::ClassWeight;
/// let w: ClassWeight = "spam=4,ham=0.5".parse()?;
/// assert_eq!(w, ClassWeight::Custom(vec![("spam".into(), 4.0), ("ham".into(), 0.5)]));
/// assert_eq!(w.to_string(), "spam=4,ham=0.5");
/// assert!("spam=-1".parse::<ClassWeight>().is_err());
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClassWeight {
    /// Every row alike (the default).
    #[default]
    None,
    /// scikit-learn's `balanced`: a row weighs `n / (C n_c)` for its class
    /// of `n_c` rows among the `n` it trains on
    /// ([`balanced_class_weights`](crate::train::balanced_class_weights)),
    /// in the teacher head's loss and in every term of the student's loss
    /// that is per row (the distillation terms included).
    Balanced,
    /// A weight for each named class (finite, `>= 0`), in the same
    /// losses; classes not named weigh 1. A name the data lacks is an
    /// error ([`distill`] checks before any long work).
    Custom(Vec<(String, f64)>),
}

impl ClassWeight {
    /// The weights for `train`'s rows (none when every row weighs alike).
    /// A custom rule must have been put in class order by
    /// [`ClassWeight::resolve`].
    pub(crate) fn weights(&self, train: &Dataset) -> Option<Vec<f64>> {
        match self {
            ClassWeight::None => None,
            ClassWeight::Balanced => Some(crate::train::balanced_class_weights(
                train.labels(),
                train.num_classes(),
            )),
            ClassWeight::Custom(w) => Some(w.iter().map(|(_, v)| *v).collect()),
        }
    }

    /// A custom rule as one weight for each of `classes`, in their order
    /// (1 for a class not named); the others as they are.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a name that is not one of
    /// `classes`, a name given twice, or a weight not finite and `>= 0`.
    pub fn resolve(&self, classes: &[String]) -> Result<ClassWeight> {
        let ClassWeight::Custom(given) = self else {
            return Ok(self.clone());
        };
        let bad = |value: String, reason| LelpError::InvalidParameter {
            name: "class-weight",
            value,
            reason,
        };
        let mut w = vec![1.0; classes.len()];
        let mut seen = vec![false; classes.len()];
        for (name, v) in given {
            let k = classes
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| bad(name.clone(), "no class of the data has this name"))?;
            if std::mem::replace(&mut seen[k], true) {
                return Err(bad(name.clone(), "a class is given two weights"));
            }
            if !(v.is_finite() && *v >= 0.0) {
                return Err(bad(format!("{name}={v}"), "a weight is finite and >= 0"));
            }
            w[k] = *v;
        }
        if w.iter().all(|&v| v == 0.0) {
            return Err(bad(self.to_string(), "at least one class must weigh more than 0"));
        }
        Ok(ClassWeight::Custom(classes.iter().cloned().zip(w).collect()))
    }
}

impl std::str::FromStr for ClassWeight {
    type Err = LelpError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason| LelpError::InvalidParameter {
            name: "class-weight",
            value: s.to_string(),
            reason,
        };
        match s.trim() {
            "none" => Ok(Self::None),
            "balanced" => Ok(Self::Balanced),
            other if other.contains('=') => {
                let mut w = Vec::new();
                for part in other.split(',').filter(|p| !p.trim().is_empty()) {
                    let (name, v) = part
                        .rsplit_once('=')
                        .ok_or(bad("balanced, none, or NAME=W,NAME=W (a weight for each named class)"))?;
                    let v: f64 = v.trim().parse().map_err(|_| bad("a weight is a number"))?;
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(bad("a weight is finite and >= 0"));
                    }
                    if name.trim().is_empty() {
                        return Err(bad("each weight needs a class name: NAME=W"));
                    }
                    w.push((name.trim().to_string(), v));
                }
                Ok(Self::Custom(w))
            }
            _ => Err(bad("balanced, none, or NAME=W,NAME=W (a weight for each named class)")),
        }
    }
}

impl std::fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Balanced => f.write_str("balanced"),
            Self::Custom(w) => {
                let parts: Vec<String> = w.iter().map(|(n, v)| format!("{n}={v}")).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}
