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

mod distill_cmd;
mod eval_cmd;
mod model_cmds;
mod progress;
mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use distill_cmd::{DistillArgs, distill};
use lelp::LelpError;
use lelp::deploy::{Classifier, Progress, read_texts_column};
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
