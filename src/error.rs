//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `lelp`, one variant per cause.
///
/// Every variant carries the data needed to act on it (which class, which
/// row, which file). Bad user data (NaN embeddings, out-of-range labels, a
/// class too small for the requested number of subclasses, a damaged file)
/// always comes back as one of these, never as a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LelpError {
    /// An embedding, logit or feature value is NaN or infinite.
    #[error("non-finite value in {what} at row {row}, column {col}")]
    NonFinite {
        /// Which input held the value (`"embeddings"`, `"logits"`, ...).
        what: &'static str,
        /// Row of the first offending value (global, counted across batches).
        row: usize,
        /// Column of the first offending value.
        col: usize,
    },
    /// Every method tried by an automatic choice failed on the data.
    #[error("every one of the {tried} candidate methods failed on this data (see each candidate's error)")]
    AllCandidatesFailed {
        /// Methods tried.
        tried: usize,
    },
    /// A row index is not smaller than the number of rows.
    #[error("row index {index} (at position {position} of the index list) is out of range for {rows} rows")]
    RowOutOfRange {
        /// The index asked for.
        index: usize,
        /// Its position in the list of indices.
        position: usize,
        /// Rows there are.
        rows: usize,
    },
    /// A class label is not smaller than the number of classes.
    #[error("label {label} at row {row} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The offending label.
        label: usize,
        /// Its row (global, counted across batches).
        row: usize,
        /// The number of classes the fit was configured for.
        num_classes: usize,
    },
    /// A class has too few examples to estimate `S` principal directions
    /// (at least `S + 1` are needed for a covariance of rank `S`; k-means
    /// needs `S`).
    #[error("class {class} has {count} examples; at least {required} are needed for {subclasses} subclasses")]
    ClassTooSmall {
        /// The class.
        class: usize,
        /// Examples seen for it.
        count: usize,
        /// Examples required.
        required: usize,
        /// The requested number of subclasses `S`.
        subclasses: usize,
    },
    /// A class has too few rows for a stratified split to hold one of them
    /// out (`lelp distill` holds out test and validation rows by class, and
    /// never leaves a class out of either silently).
    #[error(
        "class '{class}' has {rows} row(s) among the {part}; at least {needed} are needed to hold one out (add rows of it, or give the file a split column)"
    )]
    ClassTooRare {
        /// The class's name.
        class: String,
        /// Its rows among those being split.
        rows: usize,
        /// Rows needed.
        needed: usize,
        /// The rows being split (`labelled rows`, `training rows`).
        part: &'static str,
    },
    /// More subclasses were requested than the embedding has dimensions.
    #[error("{subclasses} subclasses requested but the embedding has only {embedding_dim} dimensions")]
    TooManySubclasses {
        /// The requested `S`.
        subclasses: usize,
        /// The embedding dimension `d`.
        embedding_dim: usize,
    },
    /// A class's (projected) embeddings vary along fewer than `S`
    /// directions: the rest would be rounding noise. Lower `S`, or turn the
    /// null-space projection off (it removes `rank(W)` directions).
    #[error("class {class} has rank {rank} after projection; {subclasses} subclasses need rank >= {subclasses}")]
    RankDeficient {
        /// The class.
        class: usize,
        /// Directions with variance above `1e-9` of the largest.
        rank: usize,
        /// The requested `S`.
        subclasses: usize,
    },
    /// Two sizes that must agree do not (head vs. embedding width, batch
    /// rows vs. label count, ...).
    #[error("dimension mismatch in {what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// What was compared.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// The data set (or the stream of batches) is empty.
    #[error("empty data set: {what}")]
    EmptyData {
        /// What was empty.
        what: &'static str,
    },
    /// A hyperparameter is outside its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Its value, as given.
        value: String,
        /// The valid range.
        reason: &'static str,
    },
    /// An experiment config or tuning grid is invalid (bad JSON, an
    /// unknown option, an unequal tuning budget, ...).
    #[error("invalid experiment config: {reason}")]
    InvalidConfig {
        /// What is wrong, naming the method or field.
        reason: String,
    },
    /// A model folder asks for behaviour the crate does not reproduce: a
    /// `tokenizer.json` with a cased or accent-keeping normaliser, another
    /// pre-tokeniser, a SentencePiece model; a sentence-transformers
    /// pooling other than the mean. Refused rather than run differently
    /// from the model's own library.
    #[error("{path}: {field} = {found}: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The JSON field, e.g. `normalizer.lowercase`.
        field: String,
        /// Its value in the file (shortened).
        found: String,
        /// What lelp does instead, or why it cannot.
        reason: &'static str,
    },
    /// A file does not exist.
    #[error("file not found: {path}")]
    FileNotFound {
        /// The path asked for.
        path: PathBuf,
    },
    /// A file ended before the data its header promised.
    #[error("file {path} is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes required.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// A file is not in the expected format, or its content is damaged.
    #[error("file {path} is corrupted or not in the expected format: {reason}")]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// A saved artefact was written by an incompatible format version.
    #[error("file {path} has format version {found}; this build reads version {supported}")]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// An I/O error other than a missing file.
    #[error("I/O error on {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A model or optimizer record could not be saved or loaded.
    #[error("record error on {path}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// burn's description of the failure.
        message: String,
        /// burn's error, where it gave one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A backend operation failed (device lost, out of memory, a tensor
    /// read back in another type, ...).
    #[error("backend execution failed: {message}")]
    Backend {
        /// The backend's description.
        message: String,
        /// burn's error, where it gave one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An iterative numerical routine did not converge (faer's
    /// eigendecomposition on a pathological matrix).
    #[error("{what} did not converge")]
    NoConvergence {
        /// The routine.
        what: &'static str,
    },
    /// Training diverged: the epoch's loss became NaN or infinite.
    #[error("training diverged: the loss of epoch {epoch} is not finite")]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
    },
    /// A batch of one input kind reached a model that takes another (token
    /// ids given to a dense student, or the reverse).
    #[error("inputs are {got}, but the model takes {expected}")]
    InputKind {
        /// What the model takes.
        expected: crate::data::InputKind,
        /// What it was given.
        got: crate::data::InputKind,
    },
    /// Soft targets are not probability distributions over `C * S`
    /// outputs (a custom labeler's rows do not sum to 1, or hold NaN).
    #[error("invalid soft targets at row {row}: {reason}")]
    InvalidTargets {
        /// The first offending row.
        row: usize,
        /// What was wrong.
        reason: String,
    },
    /// A record (row, line, file) of a data file cannot be used.
    #[error("{path}, row {row}: {reason}")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// The row or line, 1-based (0 when the whole file is the record).
        row: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A pretrained model's weight file lacks a tensor, has one the
    /// architecture does not know, or has one of the wrong shape.
    #[error("model weights {path}: tensor '{tensor}' {reason}")]
    ModelWeights {
        /// The weight file.
        path: PathBuf,
        /// The tensor's name in the file.
        tensor: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A result fell short of a target the caller set (the `lelp` tool's
    /// `--min-agreement`); what was made is kept.
    #[error("{what} is {achieved:.4}, under the target {target:.4}")]
    BelowTarget {
        /// What was measured (`"test agreement with the teacher"`).
        what: &'static str,
        /// The measured value.
        achieved: f64,
        /// The target.
        target: f64,
    },
    /// No student kind of `--student auto` meets the latency and size
    /// budget (`lelp::deploy::StudentBudget`, feature `text`); nothing was
    /// trained.
    #[error("no student kind meets the budget ({budget}): {achieved}")]
    OverBudget {
        /// The budget in words.
        budget: String,
        /// What each kind achieved (latency, size, with int8 where tried).
        achieved: String,
    },
    /// A checkpoint does not belong to this run (other config or model shape).
    #[error("checkpoint {path} does not match this run: {reason}")]
    CheckpointMismatch {
        /// The checkpoint directory.
        path: PathBuf,
        /// What differed.
        reason: String,
    },
}

/// `Result` with [`LelpError`].
pub type Result<T, E = LelpError> = std::result::Result<T, E>;

impl LelpError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            LelpError::FileNotFound { path }
        } else {
            LelpError::Io { path, source }
        }
    }

    /// A [`LelpError::Backend`] keeping `source`.
    pub(crate) fn backend(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        LelpError::Backend {
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn corrupted(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        LelpError::Corrupted {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
