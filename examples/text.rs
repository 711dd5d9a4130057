//! Text: distil all-MiniLM-L6-v2 (frozen, run in Rust, with an MLP head
//! trained on its sentence embeddings) into a deployable student, and
//! compare the distillation methods.
//!
//! ```text
//! cargo run --release --features text --example text                     # the quickstart: SpamAssassin, bag student
//! cargo run --release --features text --example text -- --corpus tweets-binary --student mlp --transfer 250,1000,4000 --methods all
//! ```
//! Options: `--corpus spam|tweets|tweets-binary|20ng-tech|20ng-6|clinc-parity|clinc-10|FILE.csv|FILE.jsonl[.gz]`
//! (CSV/JSONL: columns text, label, optional fine_label and split; the
//! 20 Newsgroups and CLINC150 tasks read `20ng.jsonl.gz` and
//! `clinc150.jsonl.gz` from `$LELP_TEXT_DATA`, default
//! `../shared/data/text`; a file with a `split` uses its own train and
//! test rows); `--regroup parity|NEW=OLD,OLD;...` (few classes from the
//! corpus's classes, the old class kept as the fine label); `--student
//! bag|cnn|mlp` (bag: hashed word unigrams and bigrams, 2^18 buckets, a mean of
//! `--dim` (8) wide embeddings and a linear head; cnn: a 1-D CNN over the
//! teacher's WordPiece ids, first 64 tokens, 32-wide embeddings, 64
//! channels; mlp: an MLP over the frozen sentence embeddings, `--hidden
//! 8,8`); `--transfer` sizes (`all` for the
//! whole training split); `--methods default|all` (all adds feature KD,
//! k-means, random projections, DKD, RKD and Subclass Distillation, whose
//! teacher head is trained again with `C * S` outputs); `--teacher-embedding
//! hidden|sentence` (which embedding LELP splits: the MLP head's last
//! hidden layer, with its null space, or the sentence embedding itself,
//! without); `--teacher-head mlp|linear` (the trainable head over the
//! frozen encoder: an MLP 384-256-C, or a linear layer 384-C, whose
//! embedding is the sentence embedding, split in its null space);
//! `--seeds 5`, `--tokens 128`, `--s 4`, `--epochs 10`,
//! `--device`; `--out FILE.jsonl` appends one line per run (with the
//! alignment of the run's pseudo-subclasses to the fine labels, where
//! both exist); `--align` prints, instead of training students, how well
//! LELP's (null space on and off), k-means' and random projections'
//! pseudo-subclasses line up with the fine labels on the training split,
//! for S = 2, 4, 8, 16 (purity and NMI, lelp::metrics); `--export DIR`
//! writes the sentence embeddings and labels as `.npy` (for the experiment
//! runner's tuned comparison) and stops.
//!
//! The first run fetches the model and the corpus (scripts/fetch-*.sh) and
//! encodes the texts once, cached under ~/.cache/lelp/embeddings.

mod support;

use std::io::Write;
use std::time::Instant;

use burn::prelude::*;
use lelp::data::{Dataset, HashedNgrams, Inputs, TokenBatch};
use lelp::labeler::KMeansConfig;
use lelp::metrics::{SubclassAlignment, argmax_subclasses, subclass_alignment};
use lelp::teacher::{ModuleTeacher, TeacherEncoder, TeacherOutput};
use lelp::text::{Regroup, SentenceEncoder, TextCorpus, default_minilm_dir, default_spam_dir};
use lelp::train::{
    BagConfig, DistillConfig, Distiller, DkdConfig, FeatureKdConfig, KdConfig, LelpConfig, Method, Mlp, MlpConfig,
    RkdConfig, SubclassDistillationConfig, TrainingTargets, accuracy, predict_inputs,
};
use support::{arg, mean_std};

const BUCKETS: u32 = 1 << 18;

type Error = Box<dyn std::error::Error>;

fn fetch(script: &str, present: bool) -> Result<(), Error> {
    if !present {
        eprintln!("fetching with scripts/{script} ...");
        let ok = std::process::Command::new("bash")
            .arg(format!("scripts/{script}"))
            .status()?
            .success();
        if !ok {
            return Err(format!("scripts/{script} failed").into());
        }
    }
    Ok(())
}

fn home() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into()))
}

/// A set of ../shared/data/text (or `$LELP_TEXT_DATA`), with a clear
/// message when it is absent.
fn text_set(file: &str) -> Result<TextCorpus, Error> {
    let dir = std::env::var("LELP_TEXT_DATA").unwrap_or_else(|_| "../shared/data/text".into());
    let path = std::path::Path::new(&dir).join(file);
    if !path.exists() {
        return Err(format!(
            "{} not found: point LELP_TEXT_DATA at the folder holding {file} (20 Newsgroups and CLINC150 as JSON lines with text, label, fine_label, split)",
            path.display()
        )
        .into());
    }
    Ok(TextCorpus::from_jsonl(path)?)
}

fn load_corpus(name: &str) -> Result<TextCorpus, Error> {
    Ok(match name {
        // 20 Newsgroups: {comp, sci} (9 newsgroups) against the rest (11),
        // or its 6 groups; the newsgroup is the fine label
        "20ng-tech" => text_set("20ng.jsonl.gz")?.regroup(&"tech=comp,sci;rest=misc,politics,rec,religion".parse()?)?,
        "20ng-6" => text_set("20ng.jsonl.gz")?,
        // CLINC150: domains by parity of their sorted order (5 domains, 75
        // intents a class), or the 10 domains; the intent is the fine label
        "clinc-parity" => text_set("clinc150.jsonl.gz")?.regroup(&Regroup::Parity)?,
        "clinc-10" => text_set("clinc150.jsonl.gz")?,
        "spam" => {
            fetch("fetch-spam.sh", default_spam_dir().join("spam-2").exists())?;
            TextCorpus::spam_assassin(default_spam_dir())?
        }
        "tweets" | "tweets-binary" => {
            let dir = std::env::var("LELP_TWEETS_DIR")
                .map(Into::into)
                .unwrap_or_else(|_| home().join(".cache/lelp/crowdflower"));
            fetch("fetch-tweets.sh", dir.join("tweets.csv").exists())?;
            // tweets-binary drops "neutral" after encoding (one cache for both)
            TextCorpus::from_csv(dir.join("tweets.csv"))?
        }
        f if f.ends_with(".jsonl") || f.ends_with(".jsonl.gz") => TextCorpus::from_jsonl(f)?,
        f => TextCorpus::from_csv(f)?,
    })
}

/// The student kinds.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bag,
    Cnn,
    Mlp,
}

/// A trained student of either kind.
enum Trained {
    Bag(lelp::train::Bag),
    Cnn(lelp::train::TextCnn),
    Mlp(Mlp),
}

/// Texts per second of a token student, featurising included: in one
/// batch, and one text at a time.
fn rates<S: lelp::train::Student>(
    s: &S,
    sample: &[&str],
    featurize: &dyn Fn(&str) -> Vec<u32>,
    c: usize,
    device: &Device,
) -> Result<(f64, f64), Error> {
    let t1 = Instant::now();
    let seqs: Vec<Vec<u32>> = sample.iter().map(|t| featurize(t)).collect();
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    predict_inputs(
        s,
        Inputs::Tokens(TokenBatch::from_sequences(&refs, usize::MAX, device)?),
        c,
    )?;
    let batch = sample.len() as f64 / t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    for t in sample.iter().take(100) {
        let ids = featurize(t);
        predict_inputs(
            s,
            Inputs::Tokens(TokenBatch::from_sequences(&[&ids], usize::MAX, device)?),
            c,
        )?;
    }
    Ok((batch, 100.0 / t2.elapsed().as_secs_f64()))
}

/// How well the targets' argmax pseudo-subclasses line up with the rows'
/// fine labels (`None` without soft targets of `S > 1` or fine labels).
fn alignment(targets: &TrainingTargets, data: &Dataset) -> Result<Option<SubclassAlignment>, Error> {
    let (Some(soft), Some(fine)) = (targets.soft_targets(), data.fine_labels()) else {
        return Ok(None);
    };
    if soft.subclasses() < 2 {
        return Ok(None);
    }
    let sub = argmax_subclasses(soft, data.labels())?;
    Ok(Some(subclass_alignment(&sub, data.labels(), fine)?))
}

/// `--align`: the pseudo-subclasses of each subclass method on the whole
/// training split against its fine labels, for several S, without
/// training a student. Prints a table; with `out`, one JSON line each.
fn alignment_study(
    train: &Dataset,
    outputs: &TeacherOutput,
    null_space_ok: bool,
    corpus_name: &str,
    out: &mut Option<std::fs::File>,
) -> Result<(), Error> {
    println!("\n| method | S | purity | NMI | majority share |\n|---|---|---|---|---|");
    for s in [2, 4, 8, 16] {
        let lelp = LelpConfig::new(s).with_seed(0);
        let mut methods = vec![
            ("LELP, no null space", Method::Lelp(lelp.with_null_space(false))),
            ("k-means", Method::KMeans(KMeansConfig::new(s).with_seed(0))),
            (
                "random proj., no null space",
                Method::RandomProjection(lelp.with_null_space(false)),
            ),
        ];
        if null_space_ok {
            methods.insert(0, ("LELP", Method::Lelp(lelp)));
            methods.push(("random proj.", Method::RandomProjection(lelp)));
        }
        for (name, m) in methods {
            let targets = m.prepare(train, Some(outputs))?;
            let a = alignment(&targets, train)?.ok_or("no fine labels to align with")?;
            println!("| {name} | {s} | {:.3} | {:.3} | {:.3} |", a.purity, a.nmi, a.majority);
            if let Some(f) = out.as_mut() {
                let row = serde_json::json!({
                    "corpus": corpus_name, "kind": "alignment", "method": name, "s": s,
                    "rows": train.len(), "purity": a.purity, "nmi": a.nmi, "majority": a.majority,
                    "per_class": a.per_class,
                });
                writeln!(f, "{row}")?;
            }
        }
    }
    Ok(())
}

/// The teacher head's hidden widths: none (linear) or one layer of 256.
fn head_hidden(linear: bool) -> Vec<usize> {
    if linear { vec![] } else { vec![256] }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str, default: &str| arg(&args, name).unwrap_or_else(|| default.to_string());
    let device_name = arg(&args, "--device")
        .or_else(|| std::env::var("LELP_DEVICE").ok())
        .unwrap_or_else(|| "flex".into());
    let device = support::device::by_name(&device_name)?;
    let corpus_name = opt("--corpus", "spam");
    let kind = match opt("--student", "bag").as_str() {
        "bag" => Kind::Bag,
        "cnn" => Kind::Cnn,
        "mlp" => Kind::Mlp,
        s => return Err(format!("unknown student '{s}' (bag, cnn, mlp)").into()),
    };
    let tokens: usize = opt("--tokens", "128").parse()?;
    let seeds: u64 = opt("--seeds", "5").parse()?;
    let subclasses: usize = opt("--s", "4").parse()?;
    let dim: usize = opt("--dim", "8").parse()?;
    let epochs: usize = opt("--epochs", "10").parse()?;
    let hidden: Vec<usize> = opt("--hidden", "8,8")
        .split(',')
        .map(|w| w.trim().parse())
        .collect::<Result<_, _>>()?;
    let all_methods = opt("--methods", "default") == "all";
    let sentence_embedding = opt("--teacher-embedding", "hidden") == "sentence";
    let linear_head = match opt("--teacher-head", "mlp").as_str() {
        "mlp" => false,
        "linear" => true,
        h => return Err(format!("unknown teacher head '{h}' (mlp, linear)").into()),
    };
    let out_path = arg(&args, "--out");
    let student_name = opt("--student", "bag");
    let start = Instant::now();

    fetch(
        "fetch-minilm.sh",
        default_minilm_dir().join("model.safetensors").exists(),
    )?;
    let mut corpus = load_corpus(&corpus_name)?;
    if let Some(spec) = arg(&args, "--regroup") {
        corpus = corpus.regroup(&spec.parse()?)?;
    }
    let texts: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let c = corpus.class_names.len();
    let n = corpus.len();

    // the teacher's sentence embeddings: encoded once, cached
    let encoder = SentenceEncoder::from_dir(default_minilm_dir(), &device)?.with_max_seq_length(tokens);
    let t0 = Instant::now();
    let mut last = Instant::now();
    let emb = encoder.encode_cached(
        &texts,
        64,
        &device,
        home().join(".cache/lelp/embeddings"),
        |done, total| {
            if last.elapsed().as_secs_f64() > 5.0 || done == total {
                eprintln!(
                    "encoding {done}/{total} texts ({:.1}/s)",
                    done as f64 / t0.elapsed().as_secs_f64()
                );
                last = Instant::now();
            }
        },
    )?;
    let encode_secs = t0.elapsed().as_secs_f64();
    if args.iter().any(|a| a == "--encode-only") {
        return Ok(());
    }
    let emb: Vec<f32> = emb.into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
    let mut dense = Dataset::new(emb, encoder.embedding_dim(), corpus.labels.clone(), c)?;
    // the student's token view: hashed n-grams (bag) or WordPiece ids (cnn)
    let wordpiece = encoder.tokenizer().clone();
    let featurize = move |t: &str| -> Vec<u32> {
        match kind {
            Kind::Cnn => wordpiece.encode(t, 64),
            _ => HashedNgrams::new(BUCKETS).encode(t),
        }
    };
    let mut hashed = corpus.tokens(&featurize)?;
    if let Some(f) = &corpus.fine_labels {
        dense = dense.with_fine_labels(f.clone())?;
        hashed = hashed.with_fine_labels(f.clone())?;
    }
    let (corpus, dense, hashed, c, n) = if corpus_name == "tweets-binary" {
        let keep = ["negative", "positive"];
        let binary = corpus.select_classes(&keep)?;
        let rows: Vec<usize> = (0..n)
            .filter(|&i| keep.contains(&corpus.class_names[corpus.labels[i]].as_str()))
            .collect();
        let map = |d: &Dataset| -> Result<Dataset, Error> { Ok(d.subset(&rows)?.relabel(&[0, 0, 1], 2)?) };
        let (d, h) = (map(&dense)?, map(&hashed)?);
        // relabel kept the 3-class labels as fine labels: none are wanted here
        let strip = |d: Dataset| -> Result<Dataset, Error> {
            Ok(match d.features() {
                lelp::data::Features::Dense { values, width } => {
                    Dataset::new(values.clone(), *width, d.labels().to_vec(), 2)?
                }
                _ => Dataset::from_tokens(
                    rows.iter().map(|&i| featurize(&corpus.texts[i])).collect(),
                    d.labels().to_vec(),
                    2,
                )?,
            })
        };
        let len = rows.len();
        (binary, strip(d)?, strip(h)?, 2, len)
    } else {
        (corpus, dense, hashed, c, n)
    };

    // one split for both views of the rows (stratified by fine label, else class)
    if let Some(dir) = arg(&args, "--export") {
        // the sentence embeddings and labels as .npy, for the experiment
        // runner's tuned comparison (`{"npy": ...}` data source)
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let lelp::data::Features::Dense { values, width } = dense.features() else {
            return Err("dense features expected".into());
        };
        lelp::io::npy::write_f32(dir.join("emb.npy"), &[dense.len(), *width], values)?;
        let labels: Vec<i64> = dense.labels().iter().map(|&l| l as i64).collect();
        lelp::io::npy::write_i64(dir.join("labels.npy"), &[dense.len()], &labels)?;
        if let Some(f) = dense.fine_labels() {
            let fine: Vec<i64> = f.iter().map(|&l| l as i64).collect();
            lelp::io::npy::write_i64(dir.join("fine_labels.npy"), &[dense.len()], &fine)?;
        }
        if let Some(splits) = &corpus.splits {
            // the file's own split: 0 train, 1 test, 2 any other (CLINC150's val)
            let code = |s: &String| match s.as_str() {
                "train" => 0,
                "test" => 1,
                _ => 2,
            };
            let split: Vec<i64> = splits.iter().map(code).collect();
            lelp::io::npy::write_i64(dir.join("split.npy"), &[dense.len()], &split)?;
        }
        eprintln!("wrote {} rows to {}", dense.len(), dir.display());
        return Ok(());
    }
    // the file's own split where it has one, else 30% of the rows for test
    let (train_idx, test_idx) = if corpus.splits.is_some() {
        (corpus.split_rows("train")?, corpus.split_rows("test")?)
    } else {
        dense.split_indices(0.3, 0)?
    };
    let (train_dense, train_bag) = (dense.subset(&train_idx)?, hashed.subset(&train_idx)?);
    let (test_dense, test_bag) = (dense.subset(&test_idx)?, hashed.subset(&test_idx)?);
    let sizes: Vec<usize> = opt("--transfer", "1000")
        .split(',')
        .map(|s| {
            if s.trim() == "all" {
                Ok(train_idx.len())
            } else {
                s.trim().parse()
            }
        })
        .collect::<Result<_, _>>()?;
    let align_only = args.iter().any(|a| a == "--align");
    println!(
        "{corpus_name} on {device_name}: {n} texts ({} train, {} test, {c} classes{}), MiniLM at {tokens} tokens{}",
        train_idx.len(),
        test_idx.len(),
        if corpus.fine_labels.is_some() {
            ", fine labels"
        } else {
            ""
        },
        if align_only {
            String::new() // no students are trained: no transfer sizes, seeds or student
        } else {
            format!(", transfer sizes {sizes:?}, {seeds} seeds, {student_name} student")
        }
    );

    // teacher head on the frozen sentence embeddings: an MLP, or linear
    let e = encoder.embedding_dim();
    let head_name = if linear_head {
        format!("linear head {e}-{c}")
    } else {
        format!("MLP head {e}-256-{c}")
    };
    let head = MlpConfig::new(encoder.embedding_dim(), head_hidden(linear_head), c)
        .with_seed(7)
        .init(&device)?;
    let plain = Method::Plain.prepare(&train_dense, None)?;
    let head = Distiller::new(DistillConfig::new(30, 1e-3).with_batch_size(64))
        .fit(head, &train_dense, &plain, None, &device)?
        .student;
    let teacher_acc = accuracy(&head, &test_dense, &device)?;
    let teacher = ModuleTeacher::new(head)?;
    let mut out = out_path
        .map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p))
        .transpose()?;
    if align_only {
        println!(
            "teacher: {:.1}% test accuracy; pseudo-subclasses of the training split ({} rows) against the fine labels:",
            100.0 * teacher_acc,
            train_dense.len()
        );
        let mut outputs = teacher.encode(&train_dense, 512, &device)?;
        if sentence_embedding {
            outputs = TeacherOutput::new(train_dense.features_tensor(&device)?, outputs.logits().clone())?;
        }
        return alignment_study(&train_dense, &outputs, !sentence_embedding, &corpus_name, &mut out);
    }
    // Subclass Distillation's teacher: the same head with C * S outputs,
    // trained with the auxiliary loss (only for --methods all)
    let sd = SubclassDistillationConfig::new(subclasses);
    let sd_teacher = if all_methods {
        let h = MlpConfig::new(encoder.embedding_dim(), head_hidden(linear_head), c * subclasses)
            .with_seed(7)
            .init(&device)?;
        let targets = sd.teacher_targets(c, train_dense.len())?;
        let h = Distiller::new(DistillConfig::new(30, 1e-3).with_batch_size(64))
            .fit(h, &train_dense, &targets, None, &device)?
            .student;
        eprintln!(
            "subclass teacher ({} outputs): {:.1}% test accuracy",
            c * subclasses,
            100.0 * accuracy(&h, &test_dense, &device)?
        );
        Some(ModuleTeacher::new(h)?)
    } else {
        None
    };

    let kd = KdConfig::new();
    let lelp = |seed: u64| {
        LelpConfig::new(subclasses)
            .with_seed(seed)
            .with_null_space(!sentence_embedding)
    };
    let methods = |seed: u64| {
        let mut m = vec![("plain", Method::Plain), ("vanilla KD", Method::VanillaKd(kd))];
        if all_methods {
            m.push(("feature KD", Method::FeatureKd(FeatureKdConfig::new())));
            m.push(("k-means", Method::KMeans(KMeansConfig::new(subclasses).with_seed(seed))));
            m.push(("random proj.", Method::RandomProjection(lelp(seed))));
            m.push(("DKD", Method::Dkd(DkdConfig::new())));
            m.push(("RKD", Method::Rkd(RkdConfig::new())));
            m.push(("subclass distillation", Method::SubclassDistillation(sd)));
        }
        m.push(("LELP", Method::Lelp(lelp(seed))));
        if all_methods && !sentence_embedding {
            m.push(("LELP, no null space", Method::Lelp(lelp(seed).with_null_space(false))));
        }
        if corpus.fine_labels.is_some() {
            m.push(("oracle", Method::Oracle(kd)));
        }
        m
    };
    let names: Vec<&str> = methods(0).iter().map(|(n, _)| *n).collect();
    let mut last_student = None;
    // the row view used to draw stratified transfer sets
    let mut view = Dataset::new(vec![0.0; train_idx.len()], 1, train_dense.labels().to_vec(), c)?;
    if let Some(f) = train_dense.fine_labels() {
        view = view.with_fine_labels(f.to_vec())?;
    }
    for &size in &sizes {
        let mut scores = vec![Vec::new(); names.len()];
        for seed in 0..seeds {
            let t_idx = view.sample_indices(size.min(view.len()), seed)?;
            let (transfer_dense, transfer_bag) = (train_dense.subset(&t_idx)?, train_bag.subset(&t_idx)?);
            let mut outputs = teacher.encode(&transfer_dense, 512, &device)?;
            if sentence_embedding {
                // LELP splits the sentence embedding itself (no linear head over it)
                let h = transfer_dense.features_tensor(&device)?;
                outputs = TeacherOutput::new(h, outputs.logits().clone())?;
            }
            let sd_outputs = sd_teacher
                .as_ref()
                .map(|t| t.encode(&transfer_dense, 512, &device))
                .transpose()?;
            for (i, (name, m)) in methods(seed).iter().enumerate() {
                let outputs = match (m, &sd_outputs) {
                    (Method::SubclassDistillation(_), Some(o)) => o,
                    _ => &outputs,
                };
                let cfg = DistillConfig::new(epochs, if kind == Kind::Mlp { 3e-3 } else { 1e-2 })
                    .with_batch_size(32)
                    .with_seed(seed);
                let transfer = if kind == Kind::Mlp {
                    &transfer_dense
                } else {
                    &transfer_bag
                };
                let targets = m.prepare(transfer, Some(outputs))?;
                let aligned = alignment(&targets, transfer)?;
                let (acc, student) = match kind {
                    Kind::Bag => {
                        let s = BagConfig::new(BUCKETS as usize, targets.outputs())
                            .with_dim(dim)
                            .with_seed(seed)
                            .init(&device)?;
                        let t = Distiller::new(cfg).fit(s, &transfer_bag, &targets, None, &device)?;
                        (accuracy(&t.student, &test_bag, &device)?, Trained::Bag(t.student))
                    }
                    Kind::Cnn => {
                        let s = lelp::train::TextCnnConfig::new(encoder.tokenizer().vocab_size(), targets.outputs())
                            .with_dim(32)
                            .with_channels(64)
                            .with_seed(seed)
                            .init(&device)?;
                        let t = Distiller::new(cfg).fit(s, &transfer_bag, &targets, None, &device)?;
                        (accuracy(&t.student, &test_bag, &device)?, Trained::Cnn(t.student))
                    }
                    Kind::Mlp => {
                        let s = MlpConfig::new(encoder.embedding_dim(), hidden.clone(), targets.outputs())
                            .with_seed(seed)
                            .init(&device)?;
                        let t = Distiller::new(cfg).fit(s, &transfer_dense, &targets, None, &device)?;
                        (accuracy(&t.student, &test_dense, &device)?, Trained::Mlp(t.student))
                    }
                };
                scores[i].push(acc);
                last_student = Some(student);
                if let Some(f) = out.as_mut() {
                    let row = serde_json::json!({
                        "corpus": corpus_name, "student": student_name,
                        "teacher_embedding": if sentence_embedding || linear_head { "sentence" } else { "hidden" },
                        "teacher_head": if linear_head { "linear" } else { "mlp" },
                        "method": name, "s": subclasses, "transfer_size": t_idx.len(), "seed": seed,
                        "accuracy": acc, "teacher_accuracy": teacher_acc, "tokens": tokens,
                        "hidden": if kind == Kind::Mlp { Some(&hidden) } else { None },
                        "purity": aligned.as_ref().map(|a| a.purity), "nmi": aligned.as_ref().map(|a| a.nmi),
                        "majority": aligned.as_ref().map(|a| a.majority),
                    });
                    writeln!(f, "{row}")?;
                }
            }
            eprintln!(
                "transfer {size}, seed {seed} done ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
        }
        println!("\ntransfer set {size}:\n\n| method | test accuracy (%) |\n|---|---|");
        println!(
            "| teacher (MiniLM + {head_name}, full train split) | {:.1} |",
            100.0 * teacher_acc
        );
        for (name, sc) in names.iter().zip(&scores) {
            let (m, s) = mean_std(sc);
            println!("| {name} | {:.1} ± {:.1} |", 100.0 * m, 100.0 * s);
        }
    }

    // the student a user would deploy: size and speed
    let sample: Vec<&str> = corpus.texts.iter().map(String::as_str).take(512).collect();
    let path = std::env::temp_dir().join(format!("lelp-text-student-{}.bpk", std::process::id()));
    let (params, batch_rate, single_rate) = match last_student.ok_or("no student trained")? {
        Trained::Bag(s) => {
            s.clone().save_file(&path).map_err(|e| format!("{e}"))?;
            let (b, one) = rates(&s, &sample, &featurize, c, &device)?;
            (s.num_params(), b, one)
        }
        Trained::Cnn(s) => {
            s.clone().save_file(&path).map_err(|e| format!("{e}"))?;
            let (b, one) = rates(&s, &sample, &featurize, c, &device)?;
            (s.num_params(), b, one)
        }
        Trained::Mlp(s) => {
            // the MLP needs the encoder's embeddings: its rate is the encoder's
            s.clone().save_file(&path).map_err(|e| format!("{e}"))?;
            (s.num_params(), f64::NAN, f64::NAN)
        }
    };
    let bytes = std::fs::metadata(&path)?.len();
    let _ = std::fs::remove_file(&path);
    println!(
        "\nstudent: {params} parameters, {:.2} MB on disk{}",
        bytes as f64 / 1e6,
        if batch_rate.is_nan() {
            " (over the encoder's embeddings: as fast as MiniLM itself)".to_string()
        } else {
            format!(", {batch_rate:.0} texts/s in a batch of 512, {single_rate:.0} texts/s one at a time")
        }
    );
    let encoding = if encode_secs < 1.0 {
        "read from the cache".to_string()
    } else {
        format!("encoded in {encode_secs:.0}s, {:.1} texts/s", n as f64 / encode_secs)
    };
    println!(
        "teacher: MiniLM-L6 ({} parameters) + {head_name}; embeddings {encoding}",
        encoder.bert().num_params()
    );
    println!(
        "{epochs} epochs, Adam, batch 32, S = {subclasses}, beta = 0.3, tau = 2, LELP on the {} embedding; {:.0}s in all",
        if sentence_embedding || linear_head {
            "sentence"
        } else {
            "teacher's hidden"
        },
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
