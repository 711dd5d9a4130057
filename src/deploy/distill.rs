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

/// The student a model is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StudentKind {
    /// Hashed word unigrams and bigrams, a mean of embeddings, a linear
    /// head ([`Bag`]): the fastest.
    Bag,
    /// A 1-D CNN over the teacher's WordPiece ids ([`TextCnn`]).
    Cnn,
    /// An MLP over the teacher's sentence embeddings ([`Mlp`]): as slow as
    /// the encoder, whose weights its model file carries.
    Mlp,
    /// A static student from the teacher ([`static_table`](super::static_table)):
    /// WordPiece ids, the teacher's vocabulary table (PCA, SIF weights),
    /// mean-pooled, a linear head; the table fine-tuned with the head
    /// unless [`DistillOptions::static_frozen`].
    Static,
    /// A transformer over the teacher's WordPiece ids, fine-tuned end to
    /// end ([`TransformerStudent`](crate::text::TransformerStudent)): the
    /// teacher's bottom [`DistillOptions::transformer_layers`] layers, or a
    /// pretrained checkpoint ([`DistillOptions::transformer_init`]). Its
    /// model file carries its encoder; the slowest to train.
    Transformer,
}

impl std::fmt::Display for StudentKind {
    /// The name `lelp distill --student` takes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StudentKind::Bag => "bag",
            StudentKind::Cnn => "cnn",
            StudentKind::Mlp => "mlp",
            StudentKind::Static => "static",
            StudentKind::Transformer => "transformer",
        })
    }
}

impl std::str::FromStr for StudentKind {
    type Err = LelpError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bag" => Ok(StudentKind::Bag),
            "cnn" => Ok(StudentKind::Cnn),
            "mlp" => Ok(StudentKind::Mlp),
            "static" => Ok(StudentKind::Static),
            "transformer" => Ok(StudentKind::Transformer),
            other => Err(LelpError::InvalidParameter {
                name: "student",
                value: other.into(),
                reason: "not a student kind of this version (bag, cnn, mlp, static, transformer)",
            }),
        }
    }
}

/// Settings of [`distill`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DistillOptions {
    /// The student (default bag).
    pub student: StudentKind,
    /// The method (default auto).
    pub method: MethodChoice,
    /// The teacher: a BERT sentence-transformers folder, whose encoder gets
    /// an MLP head trained on the labels here (default: all-MiniLM-L6-v2
    /// where `scripts/fetch-minilm.sh` puts it), or a fine-tuned Hugging
    /// Face classifier folder (`BertForSequenceClassification`,
    /// `DistilBertForSequenceClassification`, as `save_pretrained` writes
    /// it: [`HfClassifier`](crate::text::HfClassifier)), which is the
    /// teacher as it is: its classes (`id2label`) must be the data's, its
    /// embedding is its classifier's input, and the MLP student is refused
    /// with it (that student's file embeds a sentence encoder).
    /// With [`DistillOptions::teacher_outputs`] it is not the teacher: the
    /// CNN, static and transformer students take their tokenizer (and the
    /// static student its table, the transformer its layers) from it, and
    /// the bag student does not read it.
    pub teacher_dir: PathBuf,
    /// The user's own teacher: its outputs for every row of the corpus
    /// ([`TeacherOutputs::read`]). The encoder's head is then not trained;
    /// the student learns to imitate these outputs, and the methods that
    /// read embeddings run only when the outputs carry them (the
    /// null-space projections, which need the teacher's head, never;
    /// Subclass Distillation trains a `C * S` head of its own on the
    /// supplied embeddings and the labels, and its student imitates that
    /// head). Unlabeled
    /// texts and augmentation need a teacher that runs here and are
    /// refused with them, as is the MLP student (its file would need the
    /// teacher's encoder).
    pub teacher_outputs: Option<TeacherOutputs>,
    /// What `--method auto` chooses by (none: by agreement with the user's
    /// own teacher, supplied outputs or a fine-tuned classifier folder,
    /// else by accuracy).
    pub choose_by: Option<ChooseBy>,
    /// Tokens a text for the encoder (default 128).
    pub max_tokens: usize,
    /// Student epochs (default 10).
    pub epochs: usize,
    /// Seed of splits, initialisations and batches (default 0).
    pub seed: u64,
    /// Share of the rows held out for test when the file has no `split`
    /// (default 0.2).
    pub test_fraction: f64,
    /// Share of the training rows held out to choose the method (default 0.2).
    pub validation_fraction: f64,
    /// Subclasses per class of the subclass methods (default 4).
    pub subclasses: usize,
    /// Bag student: embedding width (default 8) and hash buckets (default 2^18).
    pub bag_dim: usize,
    /// Bag student: hash buckets (default 2^18).
    pub bag_buckets: u32,
    /// MLP student: hidden widths (default `[128]`).
    pub mlp_hidden: Vec<usize>,
    /// CNN student: WordPiece tokens a text (default 64).
    pub cnn_tokens: usize,
    /// Static student: principal components kept of the vocabulary table
    /// (default 256).
    pub static_dims: usize,
    /// Static student: keep the vocabulary table as the teacher's pass made
    /// it and train the head alone, model2vec's way (default false: the
    /// table is fine-tuned with the head, lazy Adam on the rows a batch
    /// reads, which measured better: docs/results/transfer-sets.md).
    pub static_frozen: bool,
    /// Static student: hashed rows for pairs of adjacent WordPiece tokens
    /// after the vocabulary's ([`StaticTable::with_bigrams`](super::StaticTable::with_bigrams);
    /// 0: none), the model file's featuriser reading the pairs too.
    pub static_bigrams: u32,
    /// Static student: the training texts' most frequent pairs whose rows
    /// start from the teacher's encoding (the rest start at zero).
    pub static_encoded_bigrams: usize,
    /// Transformer student: the teacher's bottom layers it starts from
    /// (default 2; DistilBERT's initialisation), when
    /// [`DistillOptions::transformer_init`] is not set.
    pub transformer_layers: usize,
    /// Transformer student: a pretrained BERT folder to start from instead
    /// (config.json, tokenizer.json, model.safetensors; its vocabulary must
    /// be the teacher's), e.g. paraphrase-MiniLM-L3-v2 from
    /// `scripts/fetch-minilm-l3.sh`.
    pub transformer_init: Option<PathBuf>,
    /// Transformer student: WordPiece tokens a text (default 64).
    pub transformer_tokens: usize,
    /// New texts made from each labelled training text (default 0):
    /// Tang et al.'s word drops, swaps for neighbours in the teacher's
    /// static vocabulary table (negations never touched) and n-grams
    /// ([`Augmenter`](crate::text::Augmenter)), labelled by the teacher like
    /// unlabeled texts. Copies of the rows that choose the method are kept
    /// out of the candidates' training, and the test rows are never copied.
    /// Each copy is encoded by the teacher (cached with the corpus).
    pub augment: usize,
    /// Where sentence embeddings are cached (none: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Draw each student's training on standard error
    /// ([`StderrProgress`](crate::train::StderrProgress): a bar per batch on
    /// a terminal, a line per epoch); off by default.
    pub training_progress: bool,
    /// Fit a temperature on the validation rows (the file's, else the
    /// share `auto` holds out), which the final student then does not
    /// train on, so that the model file's probabilities mean what they say
    /// ([`Manifest::calibration`](super::Manifest::calibration)); off by
    /// default.
    pub calibrate: bool,
    /// Store the student's embedding table in int8 or float16
    /// ([`ModelFile::quantized`]); bag, static and CNN students only. The
    /// test scores and fidelity are the quantized file's.
    pub quantize: Option<super::Quantization>,
    /// How the classes weigh in the teacher head's loss and every
    /// student's ([`ClassWeight`]; alike by default).
    pub class_weight: ClassWeight,
    /// Multi-label data: how each label's decision threshold is chosen on
    /// the validation rows (the file's, else the share `auto` holds out,
    /// which the final student then does not train on); stored in the
    /// model file ([`Manifest::multi_label`](super::Manifest::multi_label)).
    /// Default: the F1 of each label ([`ThresholdRule::F1`]).
    pub thresholds: ThresholdRule,
    /// A cascade ([`Manifest::cascade`](super::Manifest::cascade)): the
    /// student answers the texts it is sure of, the teacher the others.
    /// Its decision temperature is fitted on the validation rows (the
    /// file's, else the share `auto` holds out, which the final student
    /// then does not train on) against the teacher's classes, and its
    /// threshold meets the target there. With the tool's own teacher, the
    /// teacher becomes the fallback model file
    /// ([`DistillReport::fallback`]); with supplied outputs or a
    /// fine-tuned classifier, the texts under the threshold are marked for
    /// it ([`AnsweredBy::Deferred`](super::AnsweredBy)). None by default.
    pub cascade: Option<crate::metrics::CascadeTarget>,
    /// Fine-tune the teacher's whole encoder with a linear head on the
    /// training rows first ([`crate::text::fine_tune`]; its
    /// `max_tokens` and `seed` are taken from these options), and distil
    /// that teacher: mean pooling without normalisation, its head as the
    /// teacher's head. The folder is kept under the cache (beside
    /// [`DistillOptions::cache_dir`], so a second run with the same data
    /// and settings reads it), else in a temporary folder removed at the
    /// end. Only with a sentence encoder's folder as the teacher and one
    /// class a row. None by default: the frozen encoder with an MLP head.
    pub teacher_tune: Option<crate::text::FineTuneConfig>,
    /// `--student auto`: choose the student kind (with the method) within
    /// a latency and size budget ([`StudentBudget`]), by agreement with
    /// the teacher on the validation rows unless
    /// [`DistillOptions::choose_by`] says otherwise;
    /// [`DistillOptions::student`] is then ignored. None by default.
    pub student_budget: Option<StudentBudget>,
}

impl Default for DistillOptions {
    fn default() -> Self {
        Self {
            student: StudentKind::Bag,
            method: MethodChoice::Auto,
            teacher_dir: crate::text::default_minilm_dir(),
            teacher_outputs: None,
            choose_by: None,
            max_tokens: 128,
            epochs: 10,
            seed: 0,
            test_fraction: 0.2,
            validation_fraction: 0.2,
            subclasses: 4,
            bag_dim: 8,
            bag_buckets: 1 << 18,
            mlp_hidden: vec![128],
            cnn_tokens: 64,
            static_dims: 256,
            static_frozen: false,
            static_bigrams: 0,
            static_encoded_bigrams: 0,
            transformer_layers: 2,
            transformer_init: None,
            transformer_tokens: 64,
            augment: 0,
            cache_dir: None,
            training_progress: false,
            calibrate: false,
            quantize: None,
            class_weight: ClassWeight::None,
            thresholds: ThresholdRule::F1,
            cascade: None,
            teacher_tune: None,
            student_budget: None,
        }
    }
}

/// Where [`distill`] is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// Texts encoded by the teacher so far.
    Encoding {
        /// Done.
        done: usize,
        /// All.
        total: usize,
    },
    /// The teacher's encoder is being fine-tuned
    /// ([`DistillOptions::teacher_tune`]; read from the cache when an
    /// earlier run made it).
    TeacherTune {
        /// Training rows.
        rows: usize,
        /// Epochs.
        epochs: usize,
    },
    /// The teacher's head is trained, or its supplied outputs are checked.
    Teacher {
        /// Its test accuracy.
        test_accuracy: f64,
    },
    /// A candidate of `--method auto` is done.
    Candidate {
        /// Its outcome.
        candidate: &'a Candidate,
        /// Candidates done.
        done: usize,
        /// Candidates.
        total: usize,
    },
    /// A round of `--student auto`'s search starts.
    Round {
        /// The round, from 1.
        round: usize,
        /// Rounds at most.
        rounds: usize,
        /// Candidates it trains.
        candidates: usize,
        /// Epochs each trains in it.
        epochs: f64,
    },
    /// A candidate of `--student auto` finished its round.
    Student {
        /// Its record so far.
        candidate: &'a StudentCandidate,
        /// Candidates done in this round.
        done: usize,
        /// Candidates in this round.
        total: usize,
    },
    /// The final student's training starts.
    Final {
        /// The method.
        method: &'a Method,
        /// Transfer rows.
        rows: usize,
    },
}

/// What [`distill`] made.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DistillReport {
    /// The model, its manifest filled in.
    pub model: ModelFile,
    /// The teacher's test accuracy (multi-label data: its subset accuracy
    /// at probability 0.5).
    pub teacher_accuracy: f64,
    /// The student's test accuracy (multi-label data: the model file's
    /// subset accuracy at its thresholds).
    pub student_accuracy: f64,
    /// How faithfully the model file's student imitates the teacher on the
    /// test rows (top-1 agreement overall and per class, KL and TV
    /// distances, agreement by teacher confidence). Multi-label data:
    /// over every (text, label) decision as a two-class forecast (classes
    /// `absent`, `present`; both decided at 0.5).
    pub fidelity: Fidelity,
    /// The model file's scores against the labels on the test rows
    /// (precision, recall and F1 per class, their macro and weighted
    /// means, top-k accuracy, the expected calibration error; multi-label
    /// data: [`crate::metrics::multi_label_scores`] at the file's
    /// thresholds).
    pub scores: crate::metrics::Scores,
    /// The chosen candidate's validation accuracy (auto only).
    pub validation_accuracy: Option<f64>,
    /// The chosen candidate's validation agreement with the teacher (auto only).
    pub validation_agreement: Option<f64>,
    /// What auto chose by.
    pub chosen_by: ChooseBy,
    /// The method the model was trained with.
    pub method: Method,
    /// Every candidate (auto only).
    pub candidates: Vec<Candidate>,
    /// The methods auto left out, each with the reason (supplied teacher
    /// outputs without embeddings or a head).
    pub left_out: Vec<(String, String)>,
    /// Texts a second the teacher's encoder ran at (over the whole corpus,
    /// or over 64 texts when the embeddings came from the cache); none when
    /// the teacher's outputs were supplied.
    pub encode_rate: Option<f64>,
    /// Labelled training rows, unlabeled rows, test rows.
    pub rows: (usize, usize, usize),
    /// Augmented rows in the final student's transfer set
    /// ([`DistillOptions::augment`]).
    pub augmented_rows: usize,
    /// With [`DistillOptions::cascade`] and the tool's own teacher: the
    /// fallback model (the teacher's encoder and head in one file), to be
    /// saved beside the model with [`ModelFile::save_with_fallback`].
    pub fallback: Option<ModelFile>,
    /// With [`DistillOptions::cascade`]: the cascade on the test rows at
    /// its threshold (the share the student answers, the cascade's
    /// accuracy and agreement with the teacher).
    pub cascade_test: Option<crate::metrics::CoveragePoint>,
    /// With [`DistillOptions::student_budget`]: every candidate (kind and
    /// method) with its latency, size, validation scores, training and
    /// where it ended; empty otherwise.
    pub students: Vec<StudentCandidate>,
    /// With [`DistillOptions::student_budget`]: the search's seconds (the
    /// candidates' training and scoring, not the final student's).
    pub student_search_seconds: Option<f64>,
}

/// A trained student of any kind.
pub(super) enum AnyStudent {
    Bag(Bag),
    Cnn(TextCnn),
    Mlp(Mlp),
    Transformer(TransformerStudent),
}

/// Where the teacher's outputs come from.
enum TeacherSide {
    /// A head trained over the encoder's sentence embeddings (the rows of
    /// [`Views::dense`]).
    Head(Box<ModuleTeacher<Mlp>>),
    /// The user's model's logits, row-major `[rows, classes]`; the rows of
    /// [`Views::dense`] are its embeddings when it gave them (else a
    /// stand-in that no method reads: the logits again).
    Supplied(Vec<f32>),
}

/// The rows, in both views, and the teacher's outputs on them.
pub(super) struct Views {
    /// Sentence embeddings (the teacher's input), labelled rows then unlabeled.
    dense: Dataset,
    /// The student's input, the same rows.
    student: Dataset,
    teacher: TeacherSide,
    sd_teacher: Option<ModuleTeacher<Mlp>>,
    /// The WordPiece vocabulary size (CNN and static students).
    vocab: usize,
    /// The static student's table.
    table: Option<Vec<f32>>,
    /// The transformer student's initial encoder.
    bert: Option<Bert>,
}

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

/// Trains a head `d -> 256 -> outputs` over the sentence embeddings.
fn train_head(
    train: &Dataset,
    outputs: usize,
    targets: &crate::train::TrainingTargets,
    opts: &DistillOptions,
    device: &Device,
) -> Result<Mlp> {
    let head = MlpConfig::new(train.num_features(), vec![256], outputs)
        .with_seed(opts.seed.wrapping_add(7))
        .init(device)?;
    let cfg = DistillConfig::new(30, 1e-3)
        .with_batch_size(64)
        .with_seed(opts.seed)
        .with_class_weights(opts.class_weight.weights(train));
    Ok(Distiller::new(cfg).fit(head, train, targets, None, device)?.student)
}

impl Views {
    /// The rows in both views; the Subclass Distillation teacher (a head
    /// with `C * S` outputs on the training rows) when a method needs it.
    #[allow(clippy::too_many_arguments)]
    fn new(
        dense: Dataset,
        texts: &[&str],
        tools: &Featurizers,
        methods: &[Method],
        teacher: TeacherSide,
        train_idx: &[usize],
        opts: &DistillOptions,
        device: &Device,
    ) -> Result<Self> {
        let student = tools.view(opts.student, &dense, texts, opts)?;
        let c = dense.num_classes();
        let sd_teacher = methods
            .iter()
            .find_map(|m| match m {
                Method::SubclassDistillation(sd) => Some(*sd),
                _ => None,
            })
            .map(|sd| -> Result<_> {
                let train = dense.subset(train_idx)?;
                let targets = sd.teacher_targets(c, train.len())?;
                ModuleTeacher::new(train_head(&train, c * sd.subclasses, &targets, opts, device)?)
            })
            .transpose()?;
        Ok(Self {
            dense,
            student,
            teacher,
            sd_teacher,
            vocab: tools.wordpiece.as_ref().map_or(0, crate::text::WordPiece::vocab_size),
            table: None,
            bert: None,
        })
    }

    /// The teacher's outputs on `rows` for `method` (Subclass
    /// Distillation's teacher has `C * S` outputs).
    fn teacher_output(&self, method: &Method, rows: &[usize], device: &Device) -> Result<TeacherOutput> {
        let dense = self.dense.subset(rows)?;
        match (method, &self.sd_teacher, &self.teacher) {
            (Method::SubclassDistillation(_), Some(t), _) => t.encode(&dense, 512, device),
            (_, _, TeacherSide::Head(t)) => t.encode(&dense, 512, device),
            (_, _, TeacherSide::Supplied(_)) => {
                let crate::data::Features::Dense { values, width } = dense.features() else {
                    return Err(invalid(
                        "teacher",
                        "supplied".into(),
                        "the teacher's rows are not dense",
                    ));
                };
                let c = dense.num_classes();
                let z = crate::util::matrix(self.teacher_logits(rows, device)?, rows.len(), c, device);
                TeacherOutput::new(crate::util::matrix(values.clone(), rows.len(), *width, device), z)
            }
        }
    }

    /// The teacher's class logits on `rows`, row-major.
    fn teacher_logits(&self, rows: &[usize], device: &Device) -> Result<Vec<f32>> {
        let c = self.dense.num_classes();
        match &self.teacher {
            TeacherSide::Head(t) => {
                crate::util::to_host_f32(t.encode(&self.dense.subset(rows)?, 512, device)?.logits().clone())
            }
            TeacherSide::Supplied(z) => Ok(rows
                .iter()
                .flat_map(|&r| z[r * c..(r + 1) * c].iter().copied())
                .collect()),
        }
    }

    /// Accuracy, agreement with the teacher and macro-F1 (scikit-learn's
    /// conventions, [`crate::metrics::Scores`]) of the class logits
    /// `logits` of `rows`. Multi-label data: the subset accuracy, the share
    /// of rows whose label set is the teacher's, and the macro-F1 over the
    /// labels, every label decided at probability 0.5.
    pub(super) fn score(&self, logits: &[f32], rows: &[usize], device: &Device) -> Result<(f64, f64, f64)> {
        let c = self.dense.num_classes();
        let teacher = self.teacher_logits(rows, device)?;
        if let Some(sets) = self.dense.label_sets() {
            if logits.len() != rows.len() * c {
                return Err(LelpError::DimensionMismatch {
                    what: "predictions vs scored rows",
                    expected: rows.len() * c,
                    got: logits.len(),
                });
            }
            let probs: Vec<f32> = logits.iter().map(|&z| super::net::sigmoid(z)).collect();
            let truth: Vec<Vec<usize>> = rows.iter().map(|&r| sets[r].clone()).collect();
            let s = crate::metrics::multi_label_scores(&probs, &truth, c, &vec![0.5; c])?;
            // a label is said at probability 0.5, logit 0, by both
            let agree = logits
                .chunks(c)
                .zip(teacher.chunks(c))
                .filter(|(a, b)| a.iter().zip(*b).all(|(x, y)| (*x >= 0.0) == (*y >= 0.0)))
                .count();
            return Ok((s.accuracy, agree as f64 / rows.len().max(1) as f64, s.macro_f1));
        }
        let argmax = |row: &[f32]| (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
        let preds: Vec<usize> = logits.chunks(c.max(1)).map(argmax).collect();
        let preds = &preds[..];
        let labels = self.dense.labels();
        if preds.len() != rows.len() {
            return Err(LelpError::DimensionMismatch {
                what: "predictions vs scored rows",
                expected: rows.len(),
                got: preds.len(),
            });
        }
        let (mut right, mut agree) = (0usize, 0usize);
        for ((&p, &r), z) in preds.iter().zip(rows).zip(teacher.chunks(c)) {
            right += usize::from(p == labels[r]);
            agree += usize::from(p == argmax(z));
        }
        let n = rows.len().max(1) as f64;
        // macro-F1 of the hard predictions: one-hot rows
        let mut one_hot = vec![0.0f32; rows.len() * c];
        for (k, &p) in preds.iter().enumerate() {
            one_hot[k * c + p.min(c - 1)] = 1.0;
        }
        let truth: Vec<usize> = rows.iter().map(|&r| labels[r]).collect();
        let macro_f1 = crate::metrics::scores(&one_hot, &truth, c).map_or(0.0, |s| s.macro_f1);
        Ok((right as f64 / n, agree as f64 / n, macro_f1))
    }

    /// Trains a student with `method` on `rows` and returns it with its
    /// class logits for the `eval` rows (row-major).
    pub(super) fn train(
        &self,
        method: &Method,
        rows: &[usize],
        eval: &[usize],
        opts: &DistillOptions,
        device: &Device,
    ) -> Result<(AnyStudent, Vec<f32>)> {
        let data = self.student.subset(rows)?;
        let targets = self.targets(method, &data, rows, device)?;
        let s = init_student(opts.student, targets.outputs(), &self.parts(), opts, device)?;
        let weights = opts.class_weight.weights(&data);
        let s = fit_student(s, opts.student, &data, &targets, (opts.epochs, weights), opts, device)?;
        let logits = logits_of(&s, &self.student.subset(eval)?, device)?;
        Ok((s, logits))
    }

    /// `method`'s targets for `rows`, whose student view is `data`.
    pub(super) fn targets(
        &self,
        method: &Method,
        data: &Dataset,
        rows: &[usize],
        device: &Device,
    ) -> Result<crate::train::TrainingTargets> {
        let outputs = self.teacher_output(method, rows, device)?;
        method.prepare(data, Some(&outputs))
    }

    /// What a fresh student is made from.
    pub(super) fn parts(&self) -> StudentParts<'_> {
        StudentParts {
            vocab: self.vocab,
            table: self.table.as_deref(),
            bert: self.bert.as_ref(),
            features: self.dense.num_features(),
        }
    }
}

/// What a fresh student is made from: the WordPiece vocabulary's size (CNN
/// and static), the static student's table, the transformer's encoder, the
/// sentence embedding's width (MLP).
pub(super) struct StudentParts<'a> {
    pub(super) vocab: usize,
    pub(super) table: Option<&'a [f32]>,
    pub(super) bert: Option<&'a Bert>,
    pub(super) features: usize,
}

/// A fresh student of `kind` with `k` outputs (seeded by the options).
pub(super) fn init_student(
    kind: StudentKind,
    k: usize,
    parts: &StudentParts<'_>,
    opts: &DistillOptions,
    device: &Device,
) -> Result<AnyStudent> {
    Ok(match kind {
        StudentKind::Bag => AnyStudent::Bag(
            BagConfig::new(opts.bag_buckets as usize, k)
                .with_dim(opts.bag_dim)
                .with_seed(opts.seed)
                .init(device)?,
        ),
        StudentKind::Cnn => AnyStudent::Cnn(
            TextCnnConfig::new(parts.vocab, k)
                .with_dim(32)
                .with_channels(64)
                .with_seed(opts.seed)
                .init(device)?,
        ),
        StudentKind::Static => {
            let table = parts
                .table
                .ok_or_else(|| invalid("student", "static".into(), "no vocabulary table was built"))?;
            let rows = parts.vocab + opts.static_bigrams as usize;
            AnyStudent::Bag(
                BagConfig::new(rows, k)
                    .with_dim(table.len() / rows.max(1))
                    .with_normalize(true)
                    .with_seed(opts.seed)
                    .init_with_table(table.to_vec(), opts.static_frozen, device)?,
            )
        }
        StudentKind::Mlp => AnyStudent::Mlp(
            MlpConfig::new(parts.features, opts.mlp_hidden.clone(), k)
                .with_seed(opts.seed)
                .init(device)?,
        ),
        StudentKind::Transformer => {
            let bert = parts
                .bert
                .cloned()
                .ok_or_else(|| invalid("student", "transformer".into(), "no initial encoder was loaded"))?;
            AnyStudent::Transformer(
                TransformerStudentConfig::new(k)
                    .with_seed(opts.seed)
                    .init(bert, device)?,
            )
        }
    })
}

/// `student` (of `kind`) trained `epochs` more epochs on `data` with
/// `targets` and the class weights `weights`; a fresh optimiser each call.
pub(super) fn fit_student(
    student: AnyStudent,
    kind: StudentKind,
    data: &Dataset,
    targets: &crate::train::TrainingTargets,
    (epochs, weights): (usize, Option<Vec<f64>>),
    opts: &DistillOptions,
    device: &Device,
) -> Result<AnyStudent> {
    let lr = match kind {
        StudentKind::Mlp => 3e-3,
        StudentKind::Transformer => 1e-4,
        _ => 1e-2,
    };
    let mut cfg = DistillConfig::new(epochs, lr)
        .with_batch_size(32)
        .with_seed(opts.seed)
        .with_lazy_tables(lazy_tables(kind, opts))
        .with_class_weights(weights);
    if kind == StudentKind::Transformer {
        // BERT fine-tuning: AdamW, decay 0.01, clipping, 10% warm-up then linear decay
        cfg = cfg
            .with_optimizer(OptimizerKind::AdamW)
            .with_weight_decay(0.01)
            .with_grad_clip(Some(1.0))
            .with_schedule(LrSchedule::WarmupLinear { warmup: 0.1 });
    }
    let mut distiller = Distiller::new(cfg);
    if opts.training_progress {
        distiller = distiller.with_observer(crate::train::StderrProgress);
    }
    Ok(match student {
        AnyStudent::Bag(s) => AnyStudent::Bag(distiller.fit(s, data, targets, None, device)?.student),
        AnyStudent::Cnn(s) => AnyStudent::Cnn(distiller.fit(s, data, targets, None, device)?.student),
        AnyStudent::Mlp(s) => AnyStudent::Mlp(distiller.fit(s, data, targets, None, device)?.student),
        AnyStudent::Transformer(s) => AnyStudent::Transformer(distiller.fit(s, data, targets, None, device)?.student),
    })
}

/// A student's class logits on `data`'s rows, row-major.
pub(super) fn logits_of(student: &AnyStudent, data: &Dataset, device: &Device) -> Result<Vec<f32>> {
    match student {
        AnyStudent::Bag(s) => class_logits_of(s, data, device),
        AnyStudent::Cnn(s) => class_logits_of(s, data, device),
        AnyStudent::Mlp(s) => class_logits_of(s, data, device),
        AnyStudent::Transformer(s) => class_logits_of(s, data, device),
    }
}

/// Whether the student's table trains with lazy Adam (faster, accuracy
/// level with dense Adam: docs/performance.md): the bag's 2^18-row table,
/// the transformer's word-piece table and the static student's trainable
/// table.
fn lazy_tables(kind: StudentKind, opts: &DistillOptions) -> bool {
    match kind {
        StudentKind::Bag | StudentKind::Transformer => true,
        StudentKind::Static => !opts.static_frozen,
        StudentKind::Cnn | StudentKind::Mlp => false,
    }
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
    let (choice, opts) = match (footprints, &opts.student_budget) {
        (Some(fps), Some(b)) => {
            let by = opts.choose_by.unwrap_or(ChooseBy::Agreement);
            let (fit, val) = validation_split(corpus, &rows_for, opts)?;
            let w = budget::search(
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
    // (and the rows a temperature is fitted on)
    let held = calibration_rows(corpus, &train_idx, file_val.as_deref(), opts)?;
    let (rows, labelled_rows) = final_rows(labelled, &unl_idx[..u], (&unl_idx[u..], &aug_sources), &held);
    progress(Progress::Final {
        method: &choice.method,
        rows: rows.len(),
    });
    let (trained, preds) = views.train(&choice.method, &rows, &test_idx, opts, device)?;
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
/// thresholds are fitted on: the file's validation rows, else the share of
/// the training rows `auto` validates on (the same draw); none when
/// nothing is fitted.
fn calibration_rows(
    corpus: &TextCorpus,
    train_idx: &[usize],
    file_val: Option<&[usize]>,
    opts: &DistillOptions,
) -> Result<Vec<usize>> {
    let fixed = matches!(opts.thresholds, ThresholdRule::Fixed(_));
    if !opts.calibrate && opts.cascade.is_none() && (corpus.label_sets.is_none() || fixed) {
        return Ok(Vec::new());
    }
    let held = match file_val {
        Some(v) => v.to_vec(),
        None => stratified(corpus, train_idx, opts.validation_fraction, opts.seed)?.1,
    };
    if held.is_empty() {
        return Err(invalid(
            "calibrate",
            "true".into(),
            "no validation rows to fit a temperature, a cascade or thresholds on (too few training rows)",
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

/// The checks of supplied teacher outputs against the corpus and options.
fn check_supplied(t: &TeacherOutputs, corpus: &TextCorpus, unlabeled: &[String], opts: &DistillOptions) -> Result<()> {
    if t.rows() != corpus.len() {
        return Err(LelpError::DimensionMismatch {
            what: "teacher outputs' rows vs the data's rows",
            expected: corpus.len(),
            got: t.rows(),
        });
    }
    if t.class_names != corpus.class_names {
        let value = t.class_names.join(",");
        return Err(invalid(
            "teacher_outputs",
            value,
            "their classes are not the data's, in its order",
        ));
    }
    let refuse = |name, value: String, reason| Err(invalid(name, value, reason));
    if !unlabeled.is_empty() {
        let reason = "unlabeled texts need the teacher's outputs, and supplied outputs cover the data's rows only";
        return refuse("unlabeled", unlabeled.len().to_string(), reason);
    }
    if opts.augment > 0 {
        let reason = "augmented copies are labelled by a teacher that runs here, not by supplied outputs";
        return refuse("augment", opts.augment.to_string(), reason);
    }
    if opts.student == StudentKind::Mlp {
        let reason = "an MLP student reads the teacher encoder's embeddings when it predicts: with supplied outputs \
                      choose bag, cnn, static or transformer";
        return refuse("student", "mlp".into(), reason);
    }
    Ok(())
}

/// The supplied teacher's stage: its test accuracy, and its embeddings
/// (or a stand-in no applicable method reads) as the dense rows.
fn supplied_stage(t: &TeacherOutputs, corpus: &TextCorpus, test_idx: &[usize]) -> Result<TeacherStage> {
    let preds = t.predictions();
    let right = test_idx.iter().filter(|&&r| preds[r] == corpus.labels[r]).count();
    let accuracy = right as f64 / test_idx.len().max(1) as f64;
    let c = corpus.class_names.len();
    let dense = match &t.embeddings {
        Some(e) => Dataset::new(e.clone(), t.embedding_dim, corpus.labels.clone(), c)?,
        None => Dataset::new(t.logits.clone(), c, corpus.labels.clone(), c)?,
    };
    Ok(TeacherStage {
        teacher: TeacherSide::Supplied(t.logits.clone()),
        accuracy,
        dense,
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

/// The manifest's record of a supplied teacher (or of none).
fn supplied_record(t: Option<&TeacherOutputs>, accuracy: f64) -> TeacherRecord {
    TeacherRecord {
        name: t
            .and_then(|t| t.path.file_name())
            .map_or_else(|| "supplied outputs".into(), |n| n.to_string_lossy().into_owned()),
        id: t.map_or_else(String::new, |t| format!("{:016x}", t.id)),
        head: t.map_or_else(|| "supplied outputs".into(), TeacherOutputs::describe),
        parameters: 0,
        test_accuracy: Some(accuracy),
    }
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

/// The options' checks that need no work: two classes at least, a
/// validation fraction in `(0, 1)`, `S` in `1..=64`.
fn check_options(corpus: &TextCorpus, opts: &DistillOptions) -> Result<()> {
    let c = corpus.class_names.len();
    if c < 2 {
        return Err(invalid("classes", c.to_string(), "at least two classes are needed"));
    }
    if !(opts.validation_fraction > 0.0 && opts.validation_fraction < 1.0) {
        return Err(invalid(
            "validation_fraction",
            opts.validation_fraction.to_string(),
            "must be in (0, 1)",
        ));
    }
    // at most 64 subclasses a class: the subclass teachers have C * S outputs
    if opts.subclasses == 0 || opts.subclasses > 64 {
        return Err(invalid("subclasses", opts.subclasses.to_string(), "must be in 1..=64"));
    }
    // Tang et al. used 20 copies; past 100 the teacher's encoding dominates
    if opts.augment > 100 {
        return Err(invalid("augment", opts.augment.to_string(), "must be in 0..=100"));
    }
    if opts.static_bigrams > 0 && opts.student != StudentKind::Static {
        let v = opts.static_bigrams.to_string();
        return Err(invalid("static_bigrams", v, "bigram rows are for the static student"));
    }
    // 2^20 rows of 256 floats are a gigabyte
    if opts.static_bigrams > 1 << 20 {
        let v = opts.static_bigrams.to_string();
        return Err(invalid("static_bigrams", v, "must be in 0..=1048576"));
    }
    if opts.static_encoded_bigrams > 0 && opts.static_bigrams == 0 {
        let v = opts.static_encoded_bigrams.to_string();
        return Err(invalid(
            "static_encoded_bigrams",
            v,
            "needs bigram rows (static_bigrams > 0)",
        ));
    }
    // zero rows that never train change nothing but the file's size
    if opts.static_bigrams > 0 && opts.static_frozen && opts.static_encoded_bigrams == 0 {
        let v = opts.static_bigrams.to_string();
        return Err(invalid(
            "static_bigrams",
            v,
            "a frozen table's bigram rows need static_encoded_bigrams > 0",
        ));
    }
    if let (Some(q), StudentKind::Mlp | StudentKind::Transformer) = (opts.quantize, opts.student) {
        return Err(invalid(
            "quantize",
            q.to_string(),
            "only the bag, static and cnn students have an embedding table to quantize",
        ));
    }
    if corpus.label_sets.is_some() {
        check_multi_label(opts)?;
    }
    if opts.teacher_tune.is_some()
        && (opts.teacher_outputs.is_some() || crate::text::is_classifier_dir(&opts.teacher_dir))
    {
        let reason = "fine-tuning needs a sentence encoder's folder as the teacher (not supplied outputs or a \
                      fine-tuned classifier, which is already tuned)";
        return Err(invalid("teacher_tune", "true".into(), reason));
    }
    if let Some(b) = &opts.student_budget {
        b.check()?;
    }
    if let Some(crate::metrics::CascadeTarget::Agreement(v) | crate::metrics::CascadeTarget::Coverage(v)) = opts.cascade
        && !(v > 0.0 && v <= 1.0)
    {
        return Err(invalid(
            "cascade",
            v.to_string(),
            "a target agreement or coverage in (0, 1]",
        ));
    }
    if opts.student == StudentKind::Transformer && opts.transformer_tokens < 2 {
        return Err(invalid(
            "transformer_tokens",
            opts.transformer_tokens.to_string(),
            "must be at least 2 ([CLS] and [SEP])",
        ));
    }
    Ok(())
}

/// The transformer student's initial encoder: the pretrained folder of
/// [`DistillOptions::transformer_init`] (whose vocabulary must be the
/// teacher's: the student reads the teacher's token ids), else the
/// teacher's bottom [`DistillOptions::transformer_layers`] layers.
fn transformer_encoder(teacher: &SentenceEncoder, opts: &DistillOptions, device: &Device) -> Result<Bert> {
    let Some(dir) = &opts.transformer_init else {
        return teacher.bert().clone().truncated(opts.transformer_layers);
    };
    let init = SentenceEncoder::from_dir(dir, device)?;
    if init.tokenizer().tokens() != teacher.tokenizer().tokens()
        || init.tokenizer().settings() != teacher.tokenizer().settings()
    {
        return Err(LelpError::InvalidParameter {
            name: "transformer_init",
            value: dir.display().to_string(),
            reason: "its tokenizer is not the teacher's (the student reads the teacher's token ids)",
        });
    }
    Ok(init.bert().clone())
}

/// The manifest's record of the teacher: the encoder's folder name and
/// identity, its head over `c` classes, parameters and test accuracy.
fn teacher_record(
    encoder: &SentenceEncoder,
    opts: &DistillOptions,
    corpus: &TextCorpus,
    head_params: usize,
    accuracy: f64,
) -> TeacherRecord {
    let (dir, c) = (&opts.teacher_dir, corpus.class_names.len());
    TeacherRecord {
        name: dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        id: format!("{:016x}", encoder.model_id()),
        head: format!("mlp {}-256-{c}", encoder.embedding_dim()),
        parameters: encoder.bert().num_params() + head_params,
        test_accuracy: Some(accuracy),
    }
}

/// The sentence embeddings of `texts` (host, row-major; from the cache
/// where there is one) and the encoder's rate in texts a second (over the
/// texts, or over 64 of them when the cache answered).
fn embed(
    encoder: &SentenceEncoder,
    texts: &[&str],
    opts: &DistillOptions,
    device: &Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Vec<f32>, f64)> {
    let t0 = Instant::now();
    let on_batch = |done, total| progress(Progress::Encoding { done, total });
    let emb = match &opts.cache_dir {
        Some(dir) => encoder.encode_cached(texts, 64, device, dir, on_batch)?,
        None => encoder.encode_with_progress(texts, 64, device, on_batch)?,
    };
    let secs = t0.elapsed().as_secs_f64();
    let rate = if secs > 1.0 {
        texts.len() as f64 / secs
    } else {
        let few = &texts[..texts.len().min(64)];
        let t = Instant::now();
        encoder.encode(few, 64, device)?;
        few.len() as f64 / t.elapsed().as_secs_f64()
    };
    Ok((crate::util::to_host_f32(emb)?, rate))
}

/// A fine-tuned classifier folder as the teacher, and its classifier as a
/// linear [`Mlp`] over its embedding with the rows in the data's class
/// order.
///
/// # Errors
/// Those of [`HfClassifier::from_dir`](crate::text::HfClassifier::from_dir);
/// [`LelpError::InvalidParameter`] when its classes are not the data's or
/// the student is the MLP.
fn hf_teacher(corpus: &TextCorpus, opts: &DistillOptions, device: &Device) -> Result<(crate::text::HfClassifier, Mlp)> {
    if opts.student == StudentKind::Mlp {
        let reason = "an MLP student's file embeds a sentence encoder: with a fine-tuned classifier as the \
                      teacher choose bag, cnn, static or transformer";
        return Err(invalid("student", "mlp".into(), reason));
    }
    let clf = crate::text::HfClassifier::from_dir(&opts.teacher_dir, device)?.with_max_seq_length(opts.max_tokens);
    let order = clf.class_order(&corpus.class_names)?;
    // the classifier's rows in the data's class order, as an [in, out] Linear
    let (head, d) = (clf.head(), clf.head().embedding_dim());
    let c = corpus.class_names.len();
    let mut w = vec![0.0f32; d * c];
    let mut b = vec![0.0f32; c];
    for (k, &j) in order.iter().enumerate() {
        b[k] = head.bias()[j];
        for i in 0..d {
            w[i * c + k] = head.weight()[j * d + i];
        }
    }
    let mut mlp = crate::train::MlpConfig::new(d, Vec::new(), c).init(device)?;
    mlp.head.weight = burn::module::Param::from_tensor(crate::util::matrix(w, d, c, device));
    mlp.head.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
        TensorData::new(b, [c]),
        device,
    )));
    Ok((clf, mlp))
}

/// The manifest's record of a fine-tuned classifier teacher.
fn hf_record(clf: &crate::text::HfClassifier, accuracy: f64) -> TeacherRecord {
    let dir = clf.dir();
    TeacherRecord {
        name: dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        id: format!("{:016x}", clf.encoder().model_id()),
        head: clf.describe(),
        parameters: clf.num_params(),
        test_accuracy: Some(accuracy),
    }
}

/// The trained teacher, its test accuracy, and the sentence embeddings of
/// every row labelled (unlabeled rows with the teacher's prediction).
struct TeacherStage {
    teacher: TeacherSide,
    accuracy: f64,
    dense: Dataset,
}

/// The teacher's head trained on the training rows of `(emb, d)` (row-major
/// sentence embeddings of width `d`), scored on the test rows, and the
/// labels of the unlabeled rows.
fn teacher_stage(
    corpus: &TextCorpus,
    (emb, d): (Vec<f32>, usize),
    (train_idx, test_idx, unl_idx): (&[usize], &[usize], &[usize]),
    given: Option<Mlp>,
    opts: &DistillOptions,
    device: &Device,
) -> Result<TeacherStage> {
    let c = corpus.class_names.len();
    let mut labels = corpus.labels.clone();
    labels.extend(std::iter::repeat_n(0, unl_idx.len()));
    let mut sets = corpus.label_sets.clone();
    if let Some(s) = sets.as_mut() {
        s.extend(std::iter::repeat_n(Vec::new(), unl_idx.len()));
    }
    let with_sets = |d: Dataset, sets: &Option<Vec<Vec<usize>>>| match sets {
        Some(s) => d.with_label_sets(s.clone()),
        None => Ok(d),
    };
    let all = with_sets(Dataset::new(emb, d, labels.clone(), c)?, &sets)?;
    let head = match given {
        Some(head) => head,
        None => {
            let train = all.subset(train_idx)?;
            train_head(&train, c, &Method::Plain.prepare(&train, None)?, opts, device)?
        }
    };
    let accuracy = accuracy(&head, &all.subset(test_idx)?, device)?;
    let teacher = ModuleTeacher::new(head)?;
    if unl_idx.is_empty() {
        return Ok(TeacherStage {
            teacher: TeacherSide::Head(Box::new(teacher)),
            accuracy,
            dense: all,
        });
    }
    // unlabeled rows take the teacher's prediction as their label (multi-
    // label data: the labels it gives a probability of 0.5 or more)
    let out = teacher.encode(&all.subset(unl_idx)?, 512, device)?;
    if let Some(s) = sets.as_mut() {
        let z = crate::util::to_host_f32(out.logits().clone())?;
        for (set, row) in s[corpus.len()..].iter_mut().zip(z.chunks(c)) {
            *set = (0..c).filter(|&k| row[k] >= 0.0).collect();
        }
    } else {
        labels[corpus.len()..].copy_from_slice(&out.predictions()?);
    }
    let crate::data::Features::Dense { values, .. } = all.features() else {
        unreachable!("built dense above")
    };
    let dense = with_sets(Dataset::new(values.clone(), d, labels, c)?, &sets)?;
    Ok(TeacherStage {
        teacher: TeacherSide::Head(Box::new(teacher)),
        accuracy,
        dense,
    })
}

/// Fine-tunes the teacher's encoder on the training rows
/// ([`DistillOptions::teacher_tune`]): under the cache's `fine-tuned`
/// folder, else a temporary one.
fn tune_teacher(
    base: &SentenceEncoder,
    corpus: &TextCorpus,
    train_idx: &[usize],
    cfg: &crate::text::FineTuneConfig,
    opts: &DistillOptions,
    device: &Device,
) -> Result<crate::text::FineTuned> {
    let texts: Vec<&str> = train_idx.iter().map(|&r| corpus.texts[r].as_str()).collect();
    let labels: Vec<usize> = train_idx.iter().map(|&r| corpus.labels[r]).collect();
    let cfg = cfg.clone().with_max_tokens(opts.max_tokens).with_seed(opts.seed);
    let cache = match &opts.cache_dir {
        Some(c) => c.with_file_name("fine-tuned"),
        None => tune_scratch(opts.seed).join("fine-tuned"),
    };
    let c = corpus.class_names.len();
    let dir = opts.teacher_dir.as_path();
    if opts.training_progress {
        crate::text::fine_tune(
            base,
            dir,
            &texts,
            &labels,
            c,
            &cfg,
            &cache,
            device,
            crate::train::StderrProgress,
        )
    } else {
        crate::text::fine_tune(
            base,
            dir,
            &texts,
            &labels,
            c,
            &cfg,
            &cache,
            device,
            crate::train::Silent,
        )
    }
}

/// The temporary folder of a fine-tuned teacher without a cache.
fn tune_scratch(seed: u64) -> PathBuf {
    std::env::temp_dir().join(format!("lelp-fine-tuned-{}-{seed}", std::process::id()))
}

/// A model file of `student` over the encoder folder `dir`, whose pooled
/// vector is L2-normalised unless the teacher was fine-tuned (its head
/// reads the plain mean).
pub(super) fn encoder_file(
    student: &Mlp,
    dir: &std::path::Path,
    tokens: usize,
    names: Vec<String>,
    opts: &DistillOptions,
) -> Result<ModelFile> {
    let mut file = ModelFile::with_encoder(student, dir, tokens, names)?;
    if opts.teacher_tune.is_some()
        && let Featurizer::SentenceEncoder { normalize, .. } = &mut file.manifest.featurizer
    {
        *normalize = false;
    }
    Ok(file)
}

/// The token students' featurisers.
struct Featurizers {
    hasher: HashedNgrams,
    /// The encoder's tokenizer (none when no encoder was loaded: a bag
    /// student of supplied outputs).
    wordpiece: Option<crate::text::WordPiece>,
    /// The encoder's token limit (its own limit and `--tokens`, whichever is lower).
    encoder_tokens: usize,
    /// The transformer student's token limit (its option and the
    /// encoder's positions, whichever is lower).
    transformer_tokens: usize,
}

impl Featurizers {
    /// The featurisers of a run: `initial` is the transformer student's
    /// starting encoder, whose positions cap its tokens.
    fn new(encoder: Option<&SentenceEncoder>, initial: Option<&Bert>, opts: &DistillOptions) -> Self {
        let positions = initial.map_or(usize::MAX, |b| b.config().max_position_embeddings);
        Self {
            hasher: HashedNgrams::new(opts.bag_buckets),
            wordpiece: encoder.map(|e| e.tokenizer().clone()),
            encoder_tokens: encoder.map_or(opts.max_tokens, SentenceEncoder::max_seq_length),
            transformer_tokens: opts.transformer_tokens.min(positions),
        }
    }

    /// The student's view of the rows of `dense` (whose texts are `texts`).
    fn view(&self, kind: StudentKind, dense: &Dataset, texts: &[&str], opts: &DistillOptions) -> Result<Dataset> {
        let (labels, c) = (dense.labels().to_vec(), dense.num_classes());
        let tokens: Vec<Vec<u32>> = match kind {
            StudentKind::Mlp => return Ok(dense.clone()),
            StudentKind::Bag => texts.iter().map(|t| self.hasher.encode(t)).collect(),
            StudentKind::Cnn => {
                let wp = self.wordpiece()?;
                texts.iter().map(|t| wp.encode(t, opts.cnn_tokens)).collect()
            }
            StudentKind::Static => {
                let wp = self.wordpiece()?;
                let (max, buckets) = (self.encoder_tokens, opts.static_bigrams);
                texts.iter().map(|t| wp.encode_with_bigrams(t, max, buckets)).collect()
            }
            StudentKind::Transformer => {
                let wp = self.wordpiece()?;
                texts.iter().map(|t| wp.encode(t, self.transformer_tokens)).collect()
            }
        };
        let view = Dataset::from_tokens(tokens, labels, c)?;
        match dense.label_sets() {
            Some(sets) => view.with_label_sets(sets.to_vec()),
            None => Ok(view),
        }
    }

    /// The encoder's tokenizer.
    fn wordpiece(&self) -> Result<&crate::text::WordPiece> {
        self.wordpiece.as_ref().ok_or_else(|| {
            invalid(
                "teacher_dir",
                "none".into(),
                "this student needs the encoder's tokenizer",
            )
        })
    }

    /// The model file of a trained student.
    fn model_file(&self, trained: &AnyStudent, corpus: &TextCorpus, opts: &DistillOptions) -> Result<ModelFile> {
        let names = corpus.class_names.clone();
        match trained {
            AnyStudent::Bag(s) if opts.student == StudentKind::Static => {
                let featurizer =
                    Featurizer::wordpiece_with_bigrams(self.wordpiece()?, self.encoder_tokens, opts.static_bigrams);
                ModelFile::new(s, featurizer, names)
            }
            AnyStudent::Bag(s) => ModelFile::new(s, Featurizer::hashed(&self.hasher), names),
            AnyStudent::Cnn(s) => ModelFile::new(s, Featurizer::wordpiece(self.wordpiece()?, opts.cnn_tokens), names),
            AnyStudent::Mlp(s) => encoder_file(s, &opts.teacher_dir, self.encoder_tokens, names, opts),
            AnyStudent::Transformer(s) => {
                ModelFile::with_transformer(s, self.wordpiece()?, self.transformer_tokens, names)
            }
        }
    }
}
