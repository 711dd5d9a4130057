//! The settings of [`distill`](super::distill), what it reports while it
//! works and what it returns, and the checks of the settings that need no
//! work.

use super::*;

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
    /// A static student from the teacher ([`static_table`](crate::deploy::static_table)):
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
    /// Share of the training rows held out, when the file has no validation
    /// rows, to choose the method and the student (and to fit a
    /// temperature, a cascade or thresholds, or pick the best epoch on)
    /// (default 0.2).
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
    /// after the vocabulary's ([`StaticTable::with_bigrams`](crate::deploy::StaticTable::with_bigrams);
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
    /// ([`Manifest::calibration`](crate::deploy::Manifest::calibration)); off by
    /// default.
    pub calibrate: bool,
    /// Store the student's embedding table in int8 or float16
    /// ([`ModelFile::quantized`]); bag, static and CNN students only. The
    /// test scores and fidelity are the quantized file's.
    pub quantize: Option<crate::deploy::Quantization>,
    /// How the classes weigh in the teacher head's loss and every
    /// student's ([`ClassWeight`]; alike by default).
    pub class_weight: ClassWeight,
    /// Multi-label data: how each label's decision threshold is chosen on
    /// the validation rows (the file's, else the share `auto` holds out,
    /// which the final student then does not train on); stored in the
    /// model file ([`Manifest::multi_label`](crate::deploy::Manifest::multi_label)).
    /// Default: the F1 of each label ([`ThresholdRule::F1`]).
    pub thresholds: ThresholdRule,
    /// A cascade ([`Manifest::cascade`](crate::deploy::Manifest::cascade)): the
    /// student answers the texts it is sure of, the teacher the others.
    /// Its decision temperature is fitted on the validation rows (the
    /// file's, else the share `auto` holds out, which the final student
    /// then does not train on) against the teacher's classes, and its
    /// threshold meets the target there. With the tool's own teacher, the
    /// teacher becomes the fallback model file
    /// ([`DistillReport::fallback`]); with supplied outputs or a
    /// fine-tuned classifier, the texts under the threshold are marked for
    /// it ([`AnsweredBy::Deferred`](crate::deploy::AnsweredBy)). None by default.
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
    /// Keep each student's best epoch: the weights after the epoch with the
    /// best score on the validation rows (agreement with the teacher's
    /// classes when choosing by agreement, else accuracy against the
    /// labels: when choosing by macro-F1 too, and on multi-label data,
    /// subset accuracy), not the last epoch's; `epochs` is then the most
    /// it trains. The final student then
    /// leaves the validation rows out of its training, as with
    /// [`DistillOptions::calibrate`]. None (the default): on with
    /// [`DistillOptions::student_budget`], whose search compares the
    /// candidates at their best, off otherwise.
    pub best_epoch: Option<bool>,
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
            best_epoch: None,
        }
    }
}

impl DistillOptions {
    /// Whether the students keep their best epoch
    /// ([`DistillOptions::best_epoch`], its default resolved).
    pub fn keeps_best_epoch(&self) -> bool {
        self.best_epoch.unwrap_or(self.student_budget.is_some())
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
    /// When the options keep the best epoch
    /// ([`DistillOptions::keeps_best_epoch`]): the epoch the final student
    /// was kept at (1-based, of [`DistillOptions::epochs`]), the first of
    /// its best on the validation rows.
    pub best_epoch: Option<usize>,
}

/// The options' checks that need no work: two classes at least, a
/// validation fraction in `(0, 1)`, `S` in `1..=64`.
pub(super) fn check_options(corpus: &TextCorpus, opts: &DistillOptions) -> Result<()> {
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
