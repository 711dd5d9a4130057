//! The model file's manifest: how a text becomes the student's input, what
//! the file records of its method, teacher and scores, its cascade,
//! multi-label thresholds, storage and calibration. The JSON under the
//! file's `lelp.manifest` key ([`ModelFile`](super::ModelFile) reads and
//! writes it).

use serde::{Deserialize, Serialize};

use super::net::Architecture;
use super::{Candidate, ChooseBy, StudentKind};
use crate::data::HashedNgrams;
use crate::error::{LelpError, Result};
use crate::text::{BertConfig, Pooling, WordPiece, WordPieceSettings};
use crate::train::Method;

/// How a text becomes the student's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Featurizer {
    /// Hashed word n-grams ([`HashedNgrams`]): bag students.
    HashedNgrams {
        /// Hash buckets (token ids are smaller).
        buckets: u32,
        /// Word bigrams on.
        bigrams: bool,
        /// Words read per text at most.
        max_words: usize,
    },
    /// WordPiece ids (`[CLS] ... [SEP]`, at most `max_tokens`): CNN and
    /// static students.
    #[serde(rename = "wordpiece")]
    WordPiece {
        /// Tokens per text at most, the special tokens included.
        max_tokens: usize,
        /// The vocabulary in id order.
        vocab: Vec<String>,
        /// The special tokens and WordPiece settings (BERT's when absent,
        /// as in files written before 0.3.0).
        #[serde(default)]
        tokenizer: WordPieceSettings,
        /// Hashed ids for pairs of adjacent pieces after the vocabulary's
        /// ([`WordPiece::encode_with_bigrams`]; 0, none, when absent).
        #[serde(default, skip_serializing_if = "is_zero")]
        bigram_buckets: u32,
    },
    /// The sentence embedding of a BERT encoder, whose weights the model
    /// file carries: MLP students over a sentence encoder (mean pooling,
    /// L2 normalisation), and transformer students (their fine-tuned
    /// encoder and pooling, no normalisation; a linear head).
    SentenceEncoder {
        /// The encoder's folder name when it was written (informative).
        name: String,
        /// The encoder's identity (FNV-1a of its files, hex).
        id: String,
        /// Tokens per text at most.
        max_tokens: usize,
        /// The BERT config.
        config: BertConfig,
        /// The vocabulary in id order.
        vocab: Vec<String>,
        /// The special tokens and WordPiece settings (BERT's when absent).
        #[serde(default)]
        tokenizer: WordPieceSettings,
        /// The pooling (the mean when absent, as in files before 0.3.0).
        #[serde(default)]
        pooling: Pooling,
        /// L2 normalisation of the pooled vector (on when absent).
        #[serde(default = "yes")]
        normalize: bool,
    },
}

fn yes() -> bool {
    true
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Featurizer {
    /// The settings of `hasher`.
    pub fn hashed(hasher: &HashedNgrams) -> Self {
        Featurizer::HashedNgrams {
            buckets: hasher.buckets,
            bigrams: hasher.bigrams,
            max_words: hasher.max_words,
        }
    }

    /// `tokenizer`'s vocabulary, `max_tokens` tokens a text.
    pub fn wordpiece(tokenizer: &WordPiece, max_tokens: usize) -> Self {
        Self::wordpiece_with_bigrams(tokenizer, max_tokens, 0)
    }

    /// [`Featurizer::wordpiece`] with `bigram_buckets` hashed ids for pairs
    /// of adjacent pieces ([`WordPiece::encode_with_bigrams`]; the static
    /// student's bigram rows, [`StaticTable`](super::StaticTable)).
    pub fn wordpiece_with_bigrams(tokenizer: &WordPiece, max_tokens: usize, bigram_buckets: u32) -> Self {
        Featurizer::WordPiece {
            max_tokens,
            vocab: tokenizer.tokens(),
            tokenizer: tokenizer.settings(),
            bigram_buckets,
        }
    }

    /// A short name: `hashed_ngrams`, `wordpiece` or `sentence_encoder`.
    pub fn name(&self) -> &'static str {
        match self {
            Featurizer::HashedNgrams { .. } => "hashed_ngrams",
            Featurizer::WordPiece { .. } => "wordpiece",
            Featurizer::SentenceEncoder { .. } => "sentence_encoder",
        }
    }
}

/// The distillation method of a model, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodRecord {
    /// The method and its settings.
    pub method: Method,
    /// `user` (given) or `validation` (chosen by `--method auto`).
    pub chosen_by: String,
    /// With `chosen_by = validation`: what the choice maximised (absent in
    /// files written before 0.4, which chose by accuracy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<ChooseBy>,
    /// With `chosen_by = validation`: every candidate and its validation
    /// accuracy.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// The teacher a model was distilled from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeacherRecord {
    /// The encoder's folder name, or the supplied outputs' file name.
    pub name: String,
    /// The encoder's identity (FNV-1a of its files, hex), or the supplied
    /// outputs file's.
    pub id: String,
    /// The trained head over the encoder, e.g. `mlp 384-256-2`, or what
    /// the supplied outputs held (`supplied logits and 768-d embeddings`).
    pub head: String,
    /// Parameters (encoder and head; 0 when the outputs were supplied).
    pub parameters: usize,
    /// Test accuracy.
    pub test_accuracy: Option<f64>,
}

/// Accuracies and row counts of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Accuracy on the validation rows (when a validation split was used).
    pub validation_accuracy: Option<f64>,
    /// Accuracy on the test rows.
    pub test_accuracy: Option<f64>,
    /// Top-1 agreement with the teacher on the test rows (absent in files
    /// written before 0.4).
    #[serde(default)]
    pub test_agreement: Option<f64>,
    /// The student's fidelity to the teacher on the test rows (absent in
    /// files written before 0.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<crate::metrics::Fidelity>,
    /// The student's scores against the labels on the test rows
    /// (precision, recall, F1, top-k accuracy, calibration error; absent in
    /// files written before 0.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_scores: Option<crate::metrics::Scores>,
    /// Labelled training rows.
    pub train_rows: usize,
    /// Unlabeled rows added to the transfer set.
    pub unlabeled_rows: usize,
    /// Augmented rows added to the transfer set (absent in files written
    /// before 0.3.0: read as 0).
    #[serde(default)]
    pub augmented_rows: usize,
    /// Test rows.
    pub test_rows: usize,
}

/// A model file's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The file format version (2 when written by this build; 3 with a
    /// calibration, a quantized table or a cased tokenizer; 4 with a
    /// multi-label head, a cascade or class weights by name: see
    /// [`FORMAT_VERSION`](super::FORMAT_VERSION)).
    pub format_version: u32,
    /// The version of the crate that wrote the file.
    pub crate_version: String,
    /// Class names, indexed by label.
    pub class_names: Vec<String>,
    /// Subclasses per class `S` of the student's outputs (`C * S` logits).
    pub subclasses: usize,
    /// How texts become inputs.
    pub featurizer: Featurizer,
    /// The student.
    pub architecture: Architecture,
    /// The kind of student `lelp distill` made (none in files written
    /// before 0.4, or by [`ModelFile::new`](super::ModelFile::new) and its kin until set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub student: Option<StudentKind>,
    /// The method (none when unknown).
    #[serde(default)]
    pub method: Option<MethodRecord>,
    /// The teacher (none when unknown).
    #[serde(default)]
    pub teacher: Option<TeacherRecord>,
    /// Accuracies.
    #[serde(default)]
    pub metrics: Metrics,
    /// The temperature the student's outputs are divided by before the
    /// softmax, fitted on held-out rows (`lelp distill --calibrate`), and
    /// what it did there; none: the outputs as trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// How the student's embedding table is stored
    /// ([`ModelFile::quantized`](super::ModelFile::quantized)); none: float32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
    /// How the classes were weighted in training
    /// ([`DistillOptions::class_weight`](super::DistillOptions::class_weight));
    /// none: alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<super::ClassWeight>,
    /// Multi-label students: one sigmoid a label instead of a softmax over
    /// the classes, and each label's decision threshold; none: one class a
    /// text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_label: Option<MultiLabel>,
    /// A cascade: the student answers the texts it is sure of, a fallback
    /// model (the teacher) the others; none: the student answers all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<Cascade>,
}

/// A student-then-fallback cascade (`lelp distill --cascade`): the student
/// answers a text when its top probability, its outputs divided by
/// `temperature`, reaches `threshold`; the fallback model answers the
/// others, in one batch ([`Classifier::predict`](super::Classifier::predict)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cascade {
    /// The fallback model file, relative to this file's folder; none when
    /// the teacher runs only elsewhere (supplied outputs, a fine-tuned
    /// classifier): the texts under the threshold are then marked for the
    /// user to send to it ([`AnsweredBy::Deferred`](super::AnsweredBy)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<std::path::PathBuf>,
    /// The fallback file's identity (FNV-1a of its bytes, hexadecimal),
    /// checked when it is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_id: Option<String>,
    /// The temperature the student's outputs are divided by to decide,
    /// fitted on the validation rows against the teacher's classes.
    pub temperature: f64,
    /// The top-probability threshold: the student answers at or over it.
    pub threshold: f64,
    /// What the threshold was chosen for: `agreement` or `coverage`.
    pub target: String,
    /// The target's value (e.g. 0.99 agreement with the teacher).
    pub target_value: f64,
    /// The validation rows the temperature and threshold were fitted on.
    pub rows: usize,
    /// The validation rows at the threshold: the share the student
    /// answers, and the cascade's accuracy and agreement with the teacher.
    pub validation: crate::metrics::CoveragePoint,
    /// The validation rows' curve at other thresholds.
    pub curve: Vec<crate::metrics::CoveragePoint>,
}

/// A multi-label model's decision rule: label `k` is predicted when its
/// probability is at least `thresholds[k]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultiLabel {
    /// One threshold a label, in [0, 1].
    pub thresholds: Vec<f32>,
    /// How they were chosen.
    pub rule: crate::metrics::ThresholdRule,
    /// Validation rows they were fitted on (0 for a fixed rule).
    pub rows: usize,
    /// Those rows' macro-F1 at the thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_macro_f1: Option<f64>,
    /// Those rows' macro-F1 with every threshold 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_macro_f1_at_half: Option<f64>,
}

impl MultiLabel {
    /// Every label at 0.5.
    pub fn at_half(labels: usize) -> Self {
        Self {
            thresholds: vec![0.5; labels],
            rule: crate::metrics::ThresholdRule::Fixed(0.5),
            rows: 0,
            validation_macro_f1: None,
            validation_macro_f1_at_half: None,
        }
    }
}

/// A smaller storage for a student's embedding table (the bulk of a bag,
/// static or CNN student's file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Quantization {
    /// One signed byte a value and one float32 scale a row (the row's
    /// largest magnitude over 127): a quarter of float32's size.
    Int8,
    /// IEEE half precision: half of float32's size.
    F16,
}

impl std::str::FromStr for Quantization {
    type Err = LelpError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "int8" => Ok(Self::Int8),
            "f16" => Ok(Self::F16),
            other => Err(LelpError::InvalidParameter {
                name: "quantize",
                value: other.to_string(),
                reason: "int8 or f16",
            }),
        }
    }
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Int8 => "int8",
            Self::F16 => "f16",
        })
    }
}

/// A temperature fitted so that a model's probabilities mean what they say
/// ([`fit_temperature`](super::fit_temperature)), and the rows it was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The outputs are divided by it before the softmax (1: unchanged).
    pub temperature: f64,
    /// The held-out rows it was fitted on.
    pub rows: usize,
    /// Expected calibration error on those rows before and after.
    pub ece_before: f64,
    /// See `ece_before`.
    pub ece_after: f64,
}
