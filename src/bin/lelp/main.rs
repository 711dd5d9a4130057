//! `lelp`: from a labelled text file to a small, fast classifier that
//! behaves like a sentence encoder, in one command; then predict and
//! evaluate with the model file.
//!
//! ```text
//! cargo install --path . --features cli
//! lelp distill --data train.csv --student bag --method auto --out model.safetensors
//! lelp predict model.safetensors --input texts.txt --output predictions.jsonl
//! lelp eval model.safetensors --data test.csv
//! lelp info model.safetensors
//! lelp quantize model.safetensors small.safetensors --to int8 --data test.csv
//! lelp export --onnx model.safetensors model.onnx
//! lelp serve model.safetensors --port 8080   # built with --features cli,serve
//! # your own fine-tuned classifier as the teacher (a save_pretrained folder)
//! lelp distill --data train.jsonl --teacher my-finetuned-bert --out model.safetensors
//! lelp eval model.safetensors --data test.jsonl --teacher my-finetuned-bert
//! # your own model's outputs as the teacher, fidelity as the measure
//! lelp distill --data train.jsonl --teacher-outputs teacher.jsonl --min-agreement 0.95
//! lelp eval model.safetensors --data test.jsonl --teacher-outputs teacher-test.jsonl --disagreements d.jsonl
//! ```
//!
//! Exit codes: 0 success; 1 a failure of the work itself (training
//! diverged, every candidate method failed, the student under
//! `--min-agreement`); 2 a bad command line or
//! option value; 3 bad input data (a row, a label, an empty file); 4 a
//! damaged, truncated, foreign or too-new file; 5 a missing file or an
//! I/O error; 70 an internal error (a bug: please report it).

mod eval_cmd;
mod model_cmds;
mod progress;
mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lelp::LelpError;
use lelp::deploy::{
    ChooseBy, Classifier, DistillOptions, Progress, StudentKind, TeacherOutputs, parse_method, read_texts_column,
};
use lelp::metrics::CascadeTarget;
use progress::Reporter;
use summary::summary;

// glibc's allocator maps and unmaps the multi-megabyte buffers of every
// training step afresh, and each new mapping page-faults again: a
// process's first fit runs slower than later ones (docs/performance.md,
// "Cold runs"). mimalloc keeps them for Rust's
// allocations; `keep_freed_memory` in `main` does the same for libtorch's
// (the `tch` device), which go through malloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Distil a sentence encoder into a small text classifier, and use it.
#[derive(Parser, Debug)]
#[command(name = "lelp", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress lines on standard error.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Where the teacher and embedded encoders run: flex (burn's CPU backend, always built), or
    /// ndarray, wgpu, tch when the tool was built with that feature.
    #[arg(long, global = true, default_value = "flex")]
    device: String,
}

const EXIT_CODES: &str = "Exit codes: 0 success; 1 the work failed (training diverged, every candidate failed, \
agreement under --min-agreement); \
2 bad command line or option value; 3 bad input data; 4 damaged, foreign or too-new file; \
5 missing file or I/O error; 70 internal error.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a teacher head on the labelled data, distil a student, write the model file.
    Distill(Box<DistillArgs>),
    /// Predict texts (plain lines, CSV with a `text` column, or JSON lines with a `text` field); writes JSON lines.
    Predict {
        /// The model file.
        model: PathBuf,
        /// The texts; `-` reads standard input, one text a line.
        #[arg(long, short, default_value = "-")]
        input: PathBuf,
        /// Where to write the JSON lines (written whole or not at all); standard output by default.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The CSV column or JSON field holding the text.
        #[arg(long, default_value = "text")]
        text_column: String,
        /// Also write the K most probable classes of each text (`top`: label and probability,
        /// most probable first).
        #[arg(long, value_name = "K")]
        top_k: Option<usize>,
        /// Give a label only when its probability is at least P (0 to 1): below it the line's
        /// `label` is null, an explicit "no label".
        #[arg(long, value_name = "P")]
        threshold: Option<f64>,
        /// Also write each text's token ids (`ids`): the input of the model's ONNX export
        /// (bag, static and cnn students).
        #[arg(long)]
        ids: bool,
    },
    /// Accuracy of a model on a labelled file (CSV or JSON lines with text and label), and its
    /// agreement with a teacher (a fine-tuned classifier folder, or its outputs).
    Eval {
        /// The model file.
        model: PathBuf,
        /// The labelled data.
        #[arg(long, short)]
        data: PathBuf,
        /// Where to write the JSON report; standard output by default.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        columns: Columns,
        /// The teacher's outputs for the rows of --data (JSON lines, as for distill): the report
        /// adds the model's fidelity to it (agreement overall, per class and by the teacher's
        /// confidence; KL and total-variation distances).
        #[arg(long, conflicts_with = "teacher")]
        teacher_outputs: Option<PathBuf>,
        /// A fine-tuned Hugging Face classifier folder (BertForSequenceClassification,
        /// DistilBertForSequenceClassification) run here as the teacher: the report adds the
        /// model's fidelity to it, as with --teacher-outputs.
        #[arg(long)]
        teacher: Option<PathBuf>,
        /// With --teacher: tokens a text for it (as distill's --tokens).
        #[arg(long, default_value_t = 128, requires = "teacher")]
        tokens: usize,
        /// With --teacher or --teacher-outputs: write the rows where the model and the teacher
        /// disagree (JSON lines: row, text, label, teacher, student, both confidences).
        #[arg(long)]
        disagreements: Option<PathBuf>,
    },
    /// Store a model file's embedding table in int8 (a quarter of the size) or f16 (half) and
    /// report what that changes on a labelled file, if given.
    Quantize {
        /// The model file (bag, static or cnn student, float32).
        model: PathBuf,
        /// Where to write the quantized model file.
        out: PathBuf,
        /// int8 (one byte a value and a scale a row) or f16.
        #[arg(long, default_value = "int8")]
        to: String,
        /// Labelled data to compare the two files on (accuracy and agreement).
        #[arg(long, short)]
        data: Option<PathBuf>,
        #[command(flatten)]
        columns: Columns,
    },
    /// Write a bag, static or cnn student as an ONNX model (token ids and mask in, logits and
    /// probabilities out) and its manifest (featuriser settings, class names) as JSON beside it.
    Export {
        /// Write ONNX (the one format exported today).
        #[arg(long, required = true)]
        onnx: bool,
        /// The model file.
        model: PathBuf,
        /// The ONNX file to write; the manifest goes to the same name with `.json`.
        out: PathBuf,
    },
    /// Serve a model over HTTP (built with the `serve` feature): POST /predict with a JSON list
    /// of texts, GET /health, GET /metrics; Ctrl-C or SIGTERM stops it after answering every
    /// accepted request.
    #[cfg(feature = "serve")]
    Serve(model_cmds::ServeArgs),
    /// The model file's manifest (without vocabularies) as JSON.
    Info {
        /// The model file.
        model: PathBuf,
    },
}

/// Where the texts and labels are in CSV and JSON-lines files.
#[derive(clap::Args, Debug)]
struct Columns {
    /// The CSV column or JSON field holding the text.
    #[arg(long, default_value = "text")]
    text_column: String,
    /// The CSV column or JSON field holding the label (CSV: `sentiment` when there is no `label`).
    #[arg(long, default_value = "label")]
    label_column: String,
    /// Multi-label data: the separator between a row's labels in the label column (e.g. `|`).
    /// A JSON label that is a list (`["a", "b"]`, `[]` for none) needs none.
    #[arg(long, value_name = "SEP")]
    label_separator: Option<String>,
}

impl Columns {
    /// The labelled file at `path`, read with these columns.
    fn read(&self, path: &Path) -> lelp::Result<lelp::text::TextCorpus> {
        lelp::deploy::read_labelled_with(
            path,
            &self.text_column,
            &self.label_column,
            self.label_separator.as_deref(),
        )
    }
}

#[derive(clap::Args, Debug)]
struct DistillArgs {
    /// Labelled data: CSV with `text` and `label` columns or JSON lines with `text` and `label`
    /// fields (optional `split`: train/test), gzip if the name ends in .gz.
    #[arg(long, short)]
    data: PathBuf,
    /// Unlabeled texts added to the transfer set (labelled by the teacher): lines, CSV or JSON lines.
    #[arg(long)]
    unlabeled: Option<PathBuf>,
    #[command(flatten)]
    columns: Columns,
    /// The teacher: a sentence encoder folder (BERT: config.json, tokenizer.json,
    /// model.safetensors), which gets a head trained on the labels [default: all-MiniLM-L6-v2
    /// from scripts/fetch-minilm.sh], or your fine-tuned Hugging Face classifier as
    /// save_pretrained wrote it (BertForSequenceClassification,
    /// DistilBertForSequenceClassification; its id2label names the data's labels), run as it is.
    /// With --teacher-outputs, only the cnn, static and transformer students read it (their
    /// tokenizer, table or layers).
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// Your own model as the teacher: its outputs for every row of --data, JSON lines with
    /// `logits` or `probs` (an object by class name, or a list after a first line
    /// {"classes": [...]}), optional `embedding` and `id` (matched with the data's `id`). The
    /// student learns to imitate them; auto chooses by agreement with them.
    #[arg(long)]
    teacher_outputs: Option<PathBuf>,
    /// What auto keeps the best candidate by on the validation rows: accuracy, agreement (with
    /// the teacher) or macro-f1 (every class alike: for imbalanced data) [default: agreement with --teacher-outputs or a fine-tuned classifier
    /// --teacher, else accuracy].
    #[arg(long)]
    choose_by: Option<String>,
    /// Fine-tune the teacher's whole encoder with a linear head on the training rows before
    /// distilling (BERT fine-tuning: AdamW 5e-5, warm-up, --tokens tokens; kept under the cache,
    /// so a second run reads it). A sentence encoder's folder only; one class a row.
    #[arg(long)]
    teacher_tune: bool,
    /// Epochs of --teacher-tune.
    #[arg(long, default_value_t = 2, value_name = "N")]
    teacher_tune_epochs: usize,
    /// A cascade: the student answers the texts it is sure of, the teacher the rest (written
    /// beside the model as OUT-stem.fallback.safetensors, loaded with it). The threshold meets
    /// --target-agreement (default 0.99) or --target-coverage on the validation rows.
    #[arg(long)]
    cascade: bool,
    /// The cascade's agreement with the teacher on the validation rows, in (0, 1]; implies
    /// --cascade.
    #[arg(long, value_name = "A", conflicts_with = "target_coverage")]
    target_agreement: Option<f64>,
    /// The share of texts the student answers in the cascade, in (0, 1]; implies --cascade.
    #[arg(long, value_name = "C")]
    target_coverage: Option<f64>,
    /// Exit with code 1 (the model file is still written) when the student agrees with the
    /// teacher on fewer than this share of the test rows, e.g. 0.97.
    #[arg(long)]
    min_agreement: Option<f64>,
    /// The student: bag (hashed n-grams, fastest), cnn (WordPiece CNN), static (the teacher's
    /// vocabulary table and a head, both trained), mlp (over the teacher's embeddings),
    /// transformer (the teacher's bottom --layers layers or --init, fine-tuned; slowest to train),
    /// or auto (the --students kinds within --max-latency-ms and --max-size-mb, with the method,
    /// chosen by agreement with the teacher on the validation rows).
    #[arg(long, default_value = "bag")]
    student: String,
    /// --student auto: the kinds tried, comma-separated.
    #[arg(long, default_value = "bag,static,cnn", value_name = "KINDS")]
    students: String,
    /// --student auto: the largest median one-text latency allowed, milliseconds (measured here).
    #[arg(long, value_name = "L")]
    max_latency_ms: Option<f64>,
    /// --student auto: the largest model file allowed, megabytes (a kind over it is tried with an
    /// int8 table).
    #[arg(long, value_name = "M")]
    max_size_mb: Option<f64>,
    /// --student auto: halving (successive halving: every candidate a slice of an epoch, the
    /// best third of each kind trains on, then the best third of the kinds, and the chosen one
    /// on to the full epochs; --search-trainings full trainings' worth in all) or exhaustive
    /// (every candidate the full epochs).
    #[arg(long, default_value = "halving")]
    search: String,
    /// --student auto --search halving: what the search and the chosen student's training cost
    /// together, in full trainings' worth of epochs, more than 1 [default: 3] (more: slices
    /// closer to full training, a choice closer to the exhaustive one).
    #[arg(long, value_name = "B")]
    search_trainings: Option<f64>,
    /// Keep each student's best epoch on the validation rows (by agreement with the teacher when
    /// choosing by agreement on one class a text, else accuracy; --epochs is then the most it
    /// trains; the final student leaves those rows out) [default: on with --student auto, whose search compares
    /// the candidates at their best, off otherwise].
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    best_epoch: Option<String>,
    /// Static student: keep the teacher's vocabulary table fixed, train the head alone
    /// (model2vec's way; fine-tuning the table is the default).
    #[arg(long)]
    frozen_table: bool,
    /// Static student: hashed rows for pairs of adjacent word pieces after the vocabulary's
    /// (0: none); the training texts' --encoded-bigrams most frequent pairs start from the teacher.
    #[arg(long, default_value_t = 0)]
    bigrams: u32,
    /// Static student, with --bigrams: pairs whose rows start from the teacher's encoding.
    #[arg(long, default_value_t = 0)]
    encoded_bigrams: usize,
    /// Transformer student: the teacher's bottom layers it starts from.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Transformer student: a pretrained BERT folder to start from instead (the teacher's
    /// vocabulary), e.g. paraphrase-MiniLM-L3-v2 from scripts/fetch-minilm-l3.sh.
    #[arg(long)]
    init: Option<PathBuf>,
    /// auto (chosen on a validation split), plain, kd, fkd, dkd, rkd, kmeans, sd, lelp, lelp-no-null, random-proj.
    #[arg(long, default_value = "auto")]
    method: String,
    /// Subclasses per class of the subclass methods.
    #[arg(long, default_value_t = 4)]
    subclasses: usize,
    /// Student epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Seed of splits, initialisation and batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Tokens a text for the teacher's encoder.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Share of the rows held out for test when the file has no split column.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// New texts made from each labelled training text (word drops, swaps for the teacher's
    /// vocabulary neighbours, n-grams; negations kept), labelled by the teacher: 0 to 100.
    #[arg(long, default_value_t = 0)]
    augment: usize,
    /// Do not cache the teacher's embeddings (in ~/.cache/lelp/embeddings).
    #[arg(long)]
    no_cache: bool,
    /// Fit a temperature on the validation rows (held out of the final student) so that the
    /// probabilities predict returns mean what they say; stored in the model file.
    #[arg(long)]
    calibrate: bool,
    /// Store the student's embedding table in int8 (a quarter of the size) or f16 (half): bag,
    /// static and cnn students. The reported scores are the quantized file's.
    #[arg(long, value_name = "int8|f16")]
    quantize: Option<String>,
    /// Weigh the classes in the teacher head's loss and every student's: `balanced` (each class
    /// as much as in a balanced data set, scikit-learn's rule), `none`, or by class name
    /// (`spam=4,ham=1`; classes not named weigh 1).
    #[arg(long, default_value = "none", value_name = "balanced|none|NAME=W,...")]
    class_weight: String,
    /// Multi-label data: each label's decision threshold, chosen on the validation rows for the
    /// label's best F1 (`f1`) or accuracy (`accuracy`), or one probability for every label
    /// (e.g. `0.5`); stored in the model file.
    #[arg(long, value_name = "f1|accuracy|P")]
    thresholds: Option<String>,
    /// One metric for both choices: what auto keeps the best candidate by (--choose-by) and
    /// how multi-label thresholds are fitted (--thresholds); `macro-f1` (every class alike) or
    /// `accuracy`. The two flags, where given, win.
    #[arg(long, value_name = "accuracy|macro-f1")]
    metric: Option<String>,
    /// Where to write the model file.
    #[arg(long, short, default_value = "model.safetensors")]
    out: PathBuf,
}

/// The student's short name, with its details: the kind the manifest
/// records (files before 0.4 have none: then a transformer student is
/// known by its encoder without normalisation, a static student as a bag
/// over WordPiece ids).
fn student_name(m: &lelp::deploy::Manifest) -> String {
    use lelp::deploy::{Architecture, Featurizer};
    let kind = m.student.map(|k| k.to_string());
    match (&m.featurizer, &m.architecture) {
        (
            Featurizer::SentenceEncoder {
                normalize: false,
                config,
                ..
            },
            _,
        ) => format!("transformer, {} layers", config.num_hidden_layers),
        (Featurizer::WordPiece { bigram_buckets: 0, .. }, Architecture::Bag(_)) => "static".to_string(),
        (Featurizer::WordPiece { bigram_buckets, .. }, Architecture::Bag(_)) => {
            format!("static, {bigram_buckets} bigram rows")
        }
        _ => kind.unwrap_or_else(|| m.architecture.name().to_string()),
    }
}

/// The documented exit code of an error.
fn exit_code(e: &LelpError) -> u8 {
    match e {
        LelpError::InvalidParameter { .. } => 2,
        LelpError::BadRecord { .. }
        | LelpError::EmptyData { .. }
        | LelpError::LabelOutOfRange { .. }
        | LelpError::NonFinite { .. }
        | LelpError::ClassTooSmall { .. }
        | LelpError::ClassTooRare { .. }
        | LelpError::DimensionMismatch { .. } => 3,
        LelpError::Corrupted { .. }
        | LelpError::Truncated { .. }
        | LelpError::FormatVersion { .. }
        | LelpError::ModelWeights { .. }
        | LelpError::Unsupported { .. } => 4,
        LelpError::FileNotFound { .. } | LelpError::Io { .. } => 5,
        _ => 1,
    }
}

fn main() -> ExitCode {
    lelp::device::keep_freed_memory();
    // a panic is a bug: report it as one, with its own exit code, never 101
    std::panic::set_hook(Box::new(|info| {
        eprintln!("lelp: internal error (please report it): {info}");
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("lelp: error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::from(exit_code(&e))
        }
        Err(_) => ExitCode::from(70),
    }
}

fn run(cli: Cli) -> lelp::Result<()> {
    let mut reporter = Reporter::new(!cli.quiet);
    let device = lelp::device::by_name(&cli.device)?;
    match cli.command {
        Command::Distill(args) => distill(*args, cli.quiet, &device, &mut reporter),
        Command::Predict {
            model,
            input,
            output,
            text_column,
            top_k,
            threshold,
            ids,
        } => {
            let rules = Rules { top_k, threshold, ids };
            predict(
                &model,
                &input,
                &text_column,
                output.as_deref(),
                rules,
                &device,
                &mut reporter,
            )
        }
        Command::Eval {
            model,
            data,
            output,
            columns,
            teacher_outputs,
            teacher,
            tokens,
            disagreements,
        } => {
            let teacher = eval_cmd::EvalTeacher {
                outputs: teacher_outputs.as_deref(),
                dir: teacher.as_deref(),
                tokens,
                disagreements: disagreements.as_deref(),
            };
            eval_cmd::eval(&model, &data, &columns, output.as_deref(), &teacher, &device)
        }
        Command::Quantize {
            model,
            out,
            to,
            data,
            columns,
        } => model_cmds::quantize(&model, &out, &to, data.as_deref(), &columns, &device),
        Command::Export { model, out, .. } => model_cmds::export_onnx(&model, &out),
        #[cfg(feature = "serve")]
        Command::Serve(args) => model_cmds::serve(&args, &device),
        Command::Info { model } => model_cmds::info(&model),
    }
}

/// Writes `text` to `path` atomically, or to standard output.
fn emit(path: Option<&Path>, text: &str) -> lelp::Result<()> {
    match path {
        Some(p) => lelp::io::write_atomic(p, text.as_bytes()),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // a closed pipe (`| head`) is not an error of ours
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(LelpError::Io {
                    path: "<stdout>".into(),
                    source: e,
                }),
                _ => Ok(()),
            }
        }
    }
}

/// The default teacher folder; fetched with the repository's script when
/// it is missing and the script is at hand.
fn default_teacher(reporter: &mut Reporter) -> lelp::Result<PathBuf> {
    let dir = lelp::text::default_minilm_dir();
    if dir.join("model.safetensors").exists() {
        return Ok(dir);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-minilm.sh");
    if script.exists() {
        reporter.line(&format!(
            "fetching all-MiniLM-L6-v2 with {} (once) ...",
            script.display()
        ));
        let ok = std::process::Command::new("bash")
            .arg(&script)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok && dir.join("model.safetensors").exists() {
            return Ok(dir);
        }
    }
    Err(LelpError::FileNotFound {
        path: dir.join("model.safetensors"),
    })
}

fn distill(
    args: DistillArgs,
    quiet: bool,
    device: &burn::prelude::Device,
    reporter: &mut Reporter,
) -> lelp::Result<()> {
    let (student, student_budget) = student_choice(&args)?;
    let method = parse_method(&args.method, args.subclasses, args.seed)?;
    // option values are checked before any file is read or fetched
    let class_weight: lelp::deploy::ClassWeight = args.class_weight.parse()?;
    // --metric sets --choose-by and --thresholds where they are not given
    let metric = match args.metric.as_deref() {
        None => None,
        Some("accuracy") => Some((ChooseBy::Accuracy, lelp::metrics::ThresholdRule::Accuracy)),
        Some("macro-f1") => Some((ChooseBy::MacroF1, lelp::metrics::ThresholdRule::F1)),
        Some(other) => {
            return Err(LelpError::InvalidParameter {
                name: "metric",
                value: other.to_string(),
                reason: "accuracy or macro-f1",
            });
        }
    };
    let thresholds: lelp::metrics::ThresholdRule = match (&args.thresholds, metric) {
        (Some(t), _) => t.parse()?,
        (None, Some((_, t))) => t,
        (None, None) => lelp::metrics::ThresholdRule::F1,
    };
    let quantize: Option<lelp::deploy::Quantization> = args.quantize.as_deref().map(str::parse).transpose()?;
    let choose_by: Option<ChooseBy> = match (args.choose_by.as_deref(), metric) {
        (Some(c), _) => Some(c.parse()?),
        (None, Some((c, _))) => Some(c),
        (None, None) => None,
    };
    if let Some(a) = args.min_agreement
        && !(a > 0.0 && a <= 1.0)
    {
        return Err(LelpError::InvalidParameter {
            name: "min-agreement",
            value: a.to_string(),
            reason: "must be in (0, 1]",
        });
    }
    if args.subclasses == 0 || args.subclasses > 64 {
        return Err(LelpError::InvalidParameter {
            name: "subclasses",
            value: args.subclasses.to_string(),
            reason: "must be in 1..=64",
        });
    }
    if args.augment > 100 {
        return Err(LelpError::InvalidParameter {
            name: "augment",
            value: args.augment.to_string(),
            reason: "must be in 0..=100",
        });
    }
    let corpus = args.columns.read(&args.data)?;
    if corpus.class_names.len() < 2 {
        return Err(LelpError::BadRecord {
            path: args.data.clone(),
            row: 0,
            reason: format!(
                "{} class ({}): distillation needs at least two",
                corpus.class_names.len(),
                corpus.class_names.join(", ")
            ),
        });
    }
    let unlabeled = args
        .unlabeled
        .as_ref()
        .map(|p| read_texts_column(p, &args.columns.text_column))
        .transpose()?
        .unwrap_or_default();
    let teacher_outputs = args
        .teacher_outputs
        .as_ref()
        .map(|p| TeacherOutputs::read(p, &args.data, &corpus))
        .transpose()?;
    // a bag student of supplied outputs reads no encoder
    let teacher_dir = match args.teacher {
        Some(d) => d,
        None if teacher_outputs.is_some() && student == StudentKind::Bag => lelp::text::default_minilm_dir(),
        None => default_teacher(reporter)?,
    };
    let mut opts = DistillOptions::default();
    opts.student = student;
    opts.student_budget = student_budget;
    opts.method = method;
    opts.teacher_dir = teacher_dir;
    opts.teacher_outputs = teacher_outputs;
    opts.choose_by = choose_by;
    opts.max_tokens = args.tokens;
    opts.epochs = args.epochs;
    opts.seed = args.seed;
    opts.subclasses = args.subclasses;
    opts.test_fraction = args.test_fraction;
    opts.augment = args.augment;
    opts.calibrate = args.calibrate;
    opts.best_epoch = args.best_epoch.as_deref().map(|v| v == "on");
    opts.quantize = quantize;
    opts.class_weight = class_weight;
    opts.thresholds = thresholds;
    opts.teacher_tune = args
        .teacher_tune
        .then(|| lelp::text::FineTuneConfig::default().with_epochs(args.teacher_tune_epochs));
    opts.cascade = match (args.cascade, args.target_agreement, args.target_coverage) {
        (_, Some(a), _) => Some(CascadeTarget::Agreement(a)),
        (_, None, Some(c)) => Some(CascadeTarget::Coverage(c)),
        (true, None, None) => Some(CascadeTarget::Agreement(0.99)),
        (false, None, None) => None,
    };
    opts.static_frozen = args.frozen_table;
    opts.static_bigrams = args.bigrams;
    opts.static_encoded_bigrams = args.encoded_bigrams;
    opts.transformer_layers = args.layers;
    opts.transformer_init = args.init;
    // a bar per batch and a line per epoch, on a terminal only (logs stay short)
    opts.training_progress = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !args.no_cache {
        opts.cache_dir = Some(lelp::text::default_cache_dir().join("embeddings"));
    }
    reporter.line(&format!(
        "{}: {} texts, {} classes ({}){}",
        args.data.display(),
        corpus.len(),
        corpus.class_names.len(),
        corpus.class_names.join(", "),
        if unlabeled.is_empty() {
            String::new()
        } else {
            format!("; {} unlabeled texts", unlabeled.len())
        }
    ));
    let mut report = lelp::deploy::distill(&corpus, &unlabeled, &opts, device, &mut |p| reporter.progress(&p))?;
    match report.fallback.take() {
        Some(fallback) => report.model.save_with_fallback(&args.out, &fallback)?,
        None => report.model.save(&args.out)?,
    }
    summary(&report, &corpus.texts, &args.out, device)?;
    match args.min_agreement {
        Some(target) if report.fidelity.agreement < target => Err(LelpError::BelowTarget {
            what: "the student's test agreement with its teacher",
            achieved: report.fidelity.agreement,
            target,
        }),
        _ => Ok(()),
    }
}

/// The student kind, or `--student auto`'s budget (its flags refused
/// without it).
fn student_choice(args: &DistillArgs) -> lelp::Result<(StudentKind, Option<lelp::deploy::StudentBudget>)> {
    if args.student != "auto" {
        let given = [
            ("max-latency-ms", args.max_latency_ms.is_some()),
            ("max-size-mb", args.max_size_mb.is_some()),
            ("students", args.students != "bag,static,cnn"),
            ("search", args.search != "halving"),
            ("search-trainings", args.search_trainings.is_some()),
        ];
        if let Some((name, _)) = given.iter().find(|(_, g)| *g) {
            return Err(LelpError::InvalidParameter {
                name,
                value: args.student.clone(),
                reason: "a budget and its search are for --student auto",
            });
        }
        return Ok((args.student.parse()?, None));
    }
    let kinds = args
        .students
        .split(',')
        .map(|k| k.trim().parse())
        .collect::<lelp::Result<Vec<StudentKind>>>()?;
    let mut b = lelp::deploy::StudentBudget::default()
        .with_kinds(kinds)
        .with_search(args.search.parse()?);
    if let Some(ms) = args.max_latency_ms {
        b = b.with_max_latency_ms(ms);
    }
    if let Some(mb) = args.max_size_mb {
        b = b.with_max_size_mb(mb);
    }
    if let Some(t) = args.search_trainings {
        b = b.with_trainings(t);
    }
    Ok((StudentKind::Bag, Some(b)))
}

/// `predict`'s decision rules.
#[derive(Debug, Clone, Copy)]
struct Rules {
    top_k: Option<usize>,
    threshold: Option<f64>,
    /// Write the token ids too.
    ids: bool,
}

fn predict(
    model: &Path,
    input: &Path,
    column: &str,
    output: Option<&Path>,
    rules: Rules,
    device: &burn::prelude::Device,
    reporter: &mut Reporter,
) -> lelp::Result<()> {
    if let Some(t) = rules.threshold {
        lelp::deploy::check_threshold(t)?;
    }
    if rules.top_k == Some(0) {
        return Err(LelpError::InvalidParameter {
            name: "top_k",
            value: "0".into(),
            reason: "must be at least 1",
        });
    }
    let classifier = Classifier::load_on(model, device)?;
    let texts = read_texts_column(input, column)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let names = classifier.class_names();
    let multi_label = classifier.manifest().multi_label.is_some();
    let cascade = classifier.manifest().cascade.is_some();
    let mut out = String::new();
    let mut done = 0;
    for chunk in refs.chunks(512) {
        let ids = if rules.ids {
            classifier.token_ids(chunk)?
        } else {
            Vec::new()
        };
        for (i, p) in classifier.predict(chunk)?.into_iter().enumerate() {
            let probs: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(&p.probabilities)
                .map(|(n, &v)| (n.clone(), serde_json::json!(v)))
                .collect();
            let label = match rules.threshold {
                Some(t) => p.label_over(t)?.map(|l| names[l].as_str()),
                None => Some(names[p.label].as_str()),
            };
            let mut line = serde_json::json!({"label": label, "probabilities": probs});
            if cascade {
                line["answered_by"] = serde_json::json!(p.answered_by);
            }
            if multi_label {
                // the labels over their thresholds (or over --threshold)
                let said: Vec<&str> = match rules.threshold {
                    Some(t) => (0..names.len())
                        .filter(|&k| f64::from(p.probabilities[k]) >= t)
                        .map(|k| names[k].as_str())
                        .collect(),
                    None => p.labels.iter().map(|&k| names[k].as_str()).collect(),
                };
                line["labels"] = serde_json::json!(said);
            }
            if let Some(k) = rules.top_k {
                let top: Vec<serde_json::Value> = p
                    .top_k(k)
                    .into_iter()
                    .map(|(c, v)| serde_json::json!({"label": names[c], "probability": v}))
                    .collect();
                line["top"] = serde_json::json!(top);
            }
            if let Some(ids) = ids.get(i) {
                line["ids"] = serde_json::json!(ids);
            }
            out.push_str(&line.to_string());
            out.push('\n');
        }
        done += chunk.len();
        reporter.progress(&Progress::Encoding {
            done,
            total: refs.len(),
        });
    }
    emit(output, &out)
}
