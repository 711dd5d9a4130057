//! `--student auto`: the budget (the kinds tried, their latency and size
//! limits, how the candidates are compared), each kind's measured
//! footprint, and every candidate's record; the search itself is in
//! [`search`](super::search).

use super::*;
use crate::deploy::Quantization;

/// `--student auto` ([`DistillOptions::student_budget`]): the student kinds
/// tried, the budget each must meet, and how the candidates (every kind
/// within the budget with every method) are compared.
///
/// # Example
/// ```
/// use lelp::deploy::{Search, StudentBudget, StudentKind};
/// let b = StudentBudget::default().with_max_latency_ms(0.5).with_max_size_mb(4.0);
/// assert_eq!(b.kinds, [StudentKind::Bag, StudentKind::Static, StudentKind::Cnn]);
/// assert_eq!(b.search, Search::Halving);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StudentBudget {
    /// The kinds tried (default bag, static, CNN: those without an
    /// encoder in their file; the MLP and transformer students run the
    /// teacher's layers and are chosen by name).
    pub kinds: Vec<StudentKind>,
    /// The largest median one-text latency allowed, in milliseconds,
    /// measured here on the distilling device through
    /// [`Classifier::predict_one`] (none: no limit).
    pub max_latency_ms: Option<f64>,
    /// The largest model file allowed, in megabytes (10^6 bytes; none: no
    /// limit). A kind over it as float32 is tried with an int8 table
    /// ([`Quantization::Int8`]) when that fits and no quantization was asked.
    pub max_size_mb: Option<f64>,
    /// How the candidates are compared (default [`Search::Halving`]).
    pub search: Search,
    /// What the halving and the chosen student's training cost together,
    /// in full trainings' worth of epochs (default 3; more than 1): more
    /// gives every slice more epochs, so a ranking closer to the
    /// exhaustive search's, at that cost.
    pub trainings: f64,
}

impl Default for StudentBudget {
    fn default() -> Self {
        Self {
            kinds: vec![StudentKind::Bag, StudentKind::Static, StudentKind::Cnn],
            max_latency_ms: None,
            max_size_mb: None,
            search: Search::Halving,
            trainings: 3.0,
        }
    }
}

impl StudentBudget {
    /// The kinds tried.
    #[must_use]
    pub fn with_kinds(mut self, kinds: Vec<StudentKind>) -> Self {
        self.kinds = kinds;
        self
    }
    /// The largest one-text latency allowed, in milliseconds.
    #[must_use]
    pub fn with_max_latency_ms(mut self, ms: f64) -> Self {
        self.max_latency_ms = Some(ms);
        self
    }
    /// The largest model file allowed, in megabytes.
    #[must_use]
    pub fn with_max_size_mb(mut self, mb: f64) -> Self {
        self.max_size_mb = Some(mb);
        self
    }
    /// How the candidates are compared.
    #[must_use]
    pub fn with_search(mut self, search: Search) -> Self {
        self.search = search;
        self
    }
    /// What the halving and the chosen student's training cost together,
    /// in full trainings' worth of epochs (more than 1).
    #[must_use]
    pub fn with_trainings(mut self, trainings: f64) -> Self {
        self.trainings = trainings;
        self
    }

    /// The budget in words (`"one text <= 0.5 ms, file <= 4 MB"`).
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ms) = self.max_latency_ms {
            parts.push(format!("one text <= {ms} ms"));
        }
        if let Some(mb) = self.max_size_mb {
            parts.push(format!("file <= {mb} MB"));
        }
        if parts.is_empty() {
            "no limit".into()
        } else {
            parts.join(", ")
        }
    }

    /// Kinds this search can train, each once; limits positive and finite.
    pub(super) fn check(&self) -> Result<()> {
        let names = || self.kinds.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        if self.kinds.is_empty() {
            return Err(invalid(
                "student_budget",
                "no kinds".into(),
                "name at least one student kind",
            ));
        }
        if self
            .kinds
            .iter()
            .any(|k| !matches!(k, StudentKind::Bag | StudentKind::Static | StudentKind::Cnn))
        {
            return Err(invalid(
                "student_budget",
                names(),
                "auto chooses among bag, static and cnn (name mlp or transformer with --student)",
            ));
        }
        if (1..self.kinds.len()).any(|i| self.kinds[..i].contains(&self.kinds[i])) {
            return Err(invalid("student_budget", names(), "a kind is named twice"));
        }
        let limits = [
            ("max_latency_ms", self.max_latency_ms),
            ("max_size_mb", self.max_size_mb),
            ("trainings", Some(self.trainings)),
        ];
        for (name, v) in limits {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(invalid(name, v.to_string(), "must be positive and finite"));
            }
        }
        if self.trainings <= 1.0 {
            return Err(invalid(
                "trainings",
                self.trainings.to_string(),
                "must be more than 1: the chosen student's own training is one",
            ));
        }
        Ok(())
    }

    /// The kind the pipeline prepares for before the choice: static when
    /// tried (its table), else CNN (the encoder's tokenizer), else bag.
    pub(super) fn primary(&self) -> StudentKind {
        [StudentKind::Static, StudentKind::Cnn]
            .into_iter()
            .find(|k| self.kinds.contains(k))
            .unwrap_or(StudentKind::Bag)
    }
}

/// How `--student auto` compares its candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Search {
    /// Successive halving at rate 3: every candidate trains a slice of an
    /// epoch, the best third of each kind (by the validation score) trains
    /// on, until one a kind is left, then the best third of those; the
    /// slices are sized so that the search and the chosen student's
    /// training cost [`StudentBudget::trainings`] full trainings' worth of
    /// epochs in all, whatever the number of candidates.
    Halving,
    /// Every candidate trains the full epochs (as `--method auto` does for
    /// one kind): the reference the halving is checked against.
    Exhaustive,
}

impl std::str::FromStr for Search {
    type Err = LelpError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "halving" => Ok(Search::Halving),
            "exhaustive" => Ok(Search::Exhaustive),
            other => Err(invalid("search", other.into(), "halving or exhaustive")),
        }
    }
}

impl std::fmt::Display for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Search::Halving => "halving",
            Search::Exhaustive => "exhaustive",
        })
    }
}

/// One candidate of `--student auto` (a kind with a method), and how it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StudentCandidate {
    /// The student kind.
    pub kind: StudentKind,
    /// The table's storage when the kind needs int8 (or the run asked for
    /// a quantization) to meet the size limit.
    pub quantize: Option<Quantization>,
    /// The method's name (empty for a kind over the budget, which trains
    /// with none).
    pub method: String,
    /// Median one-text latency of the kind's model file, milliseconds.
    pub latency_ms: f64,
    /// The kind's model file size, megabytes.
    pub size_mb: f64,
    /// Validation accuracy after its last round, or its best round when
    /// the options keep the best epoch (none: not trained or failed).
    pub validation_accuracy: Option<f64>,
    /// Validation agreement with the teacher, as the accuracy.
    pub validation_agreement: Option<f64>,
    /// Validation macro-F1, as the accuracy.
    pub validation_macro_f1: Option<f64>,
    /// Epochs of the candidates' training rows it trained, in all.
    pub epochs: f64,
    /// Seconds it trained and was scored, in all.
    pub seconds: f64,
    /// Where it ended.
    pub outcome: Outcome,
}

/// Where a candidate of `--student auto` ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Chosen: the final student is this kind and method. When the options
    /// keep the best epoch, it is this candidate's own student trained on
    /// to the full epochs (its training rows are those of a final student
    /// then: every labelled row but the test and validation rows); else
    /// one trained again from the start on every labelled row but the
    /// test rows.
    Chosen,
    /// Trained, and not chosen: in the halving, dropped after this round
    /// (1-based); in the exhaustive search, round 1 for all.
    Dropped {
        /// The round.
        round: usize,
    },
    /// The kind's file is over the budget: not trained.
    OverBudget,
    /// Its training failed (the error).
    Failed(String),
}

/// A kind's file as it would be written: its latency and size.
#[derive(Debug, Clone)]
pub(super) struct Footprint {
    pub(super) kind: StudentKind,
    pub(super) quantize: Option<Quantization>,
    pub(super) latency_ms: f64,
    pub(super) size_mb: f64,
}

/// Each kind's latency and size, measured on an untrained student with
/// `k` outputs (a trained one has the same file and speed), and whether
/// it is within the budget (with an int8 table if that is what it takes).
///
/// # Errors
/// [`LelpError::OverBudget`] when no kind is within it, naming what each
/// achieved; the errors of building a student or its file.
pub(super) fn footprints(
    budget: &StudentBudget,
    tools: &Featurizers,
    parts: &StudentParts<'_>,
    (k, texts): (usize, &[&str]),
    corpus: &TextCorpus,
    opts: &DistillOptions,
    device: &Device,
) -> Result<(Vec<Footprint>, Vec<StudentCandidate>)> {
    let (mut within, mut over) = (Vec::new(), Vec::new());
    for &kind in &budget.kinds {
        let mut o = opts.clone();
        o.student = kind;
        let student = init_student(kind, k, parts, &o, device)?;
        let float = tools.model_file(&student, corpus, &o)?;
        let size = |file: &ModelFile| -> Result<f64> { Ok(file.to_bytes()?.len() as f64 / 1e6) };
        let mut file = match opts.quantize {
            Some(q) => float.quantized(q)?,
            None => float,
        };
        let mut size_mb = size(&file)?;
        let mut quantize = opts.quantize;
        // int8 only where the size asks for it (it reads as fast)
        if let (None, Some(max)) = (opts.quantize, budget.max_size_mb)
            && size_mb > max
        {
            file = file.quantized(Quantization::Int8)?;
            size_mb = size(&file)?;
            quantize = Some(Quantization::Int8);
        }
        let fp = Footprint {
            kind,
            quantize,
            latency_ms: one_text_ms(file, texts, device)?,
            size_mb,
        };
        let fits = budget.max_size_mb.is_none_or(|m| fp.size_mb <= m)
            && budget.max_latency_ms.is_none_or(|m| fp.latency_ms <= m);
        if fits {
            within.push(fp);
        } else {
            over.push(record(&fp, String::new(), Outcome::OverBudget));
        }
    }
    if within.is_empty() {
        let achieved = over
            .iter()
            .map(|c| {
                let q = c.quantize.map_or(String::new(), |q| format!(" ({q})"));
                format!("{}{q} {:.3} ms, {:.2} MB", c.kind, c.latency_ms, c.size_mb)
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(LelpError::OverBudget {
            budget: budget.describe(),
            achieved,
        });
    }
    Ok((within, over))
}

/// Median one-text latency of `file` over 101 calls, milliseconds.
fn one_text_ms(file: ModelFile, texts: &[&str], device: &Device) -> Result<f64> {
    if texts.is_empty() {
        return Err(LelpError::EmptyData {
            what: "texts to time a student on",
        });
    }
    let classifier = Classifier::from_model_on(file, device)?;
    let warm: Vec<&str> = texts.iter().copied().take(8).collect();
    classifier.predict(&warm)?;
    let mut ms = Vec::with_capacity(101);
    for text in texts.iter().cycle().take(101) {
        let t = Instant::now();
        classifier.predict_one(text)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[ms.len() / 2])
}

pub(super) fn record(fp: &Footprint, method: String, outcome: Outcome) -> StudentCandidate {
    StudentCandidate {
        kind: fp.kind,
        quantize: fp.quantize,
        method,
        latency_ms: fp.latency_ms,
        size_mb: fp.size_mb,
        validation_accuracy: None,
        validation_agreement: None,
        validation_macro_f1: None,
        epochs: 0.0,
        seconds: 0.0,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_checked() {
        let ok = StudentBudget::default();
        assert!(ok.check().is_ok());
        assert!(ok.clone().with_kinds(vec![]).check().is_err());
        assert!(
            ok.clone()
                .with_kinds(vec![StudentKind::Bag, StudentKind::Bag])
                .check()
                .is_err()
        );
        assert!(ok.clone().with_kinds(vec![StudentKind::Mlp]).check().is_err());
        assert!(ok.clone().with_max_latency_ms(0.0).check().is_err());
        assert!(ok.clone().with_max_size_mb(f64::NAN).check().is_err());
        assert!(ok.clone().with_trainings(0.0).check().is_err());
        assert!(ok.clone().with_trainings(1.0).check().is_err());
        assert_eq!(ok.primary(), StudentKind::Static);
        assert_eq!(ok.with_kinds(vec![StudentKind::Bag]).primary(), StudentKind::Bag);
        assert_eq!("exhaustive".parse::<Search>().unwrap(), Search::Exhaustive);
        assert!("grid".parse::<Search>().is_err());
    }
}
