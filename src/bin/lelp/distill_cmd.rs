//! `lelp distill`: its arguments, parsed into `DistillOptions`, and the
//! run (data, teacher, the library's pipeline, the summary, the files).

use std::path::PathBuf;

use lelp::LelpError;
use lelp::deploy::{ChooseBy, DistillOptions, StudentKind, TeacherOutputs, parse_method, read_texts_column};
use lelp::metrics::CascadeTarget;

use crate::progress::Reporter;
use crate::{Columns, default_teacher, summary};

#[derive(clap::Args, Debug)]
pub(crate) struct DistillArgs {
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

pub(crate) fn distill(
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
