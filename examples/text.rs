//! Text quickstart: distil all-MiniLM-L6-v2 (frozen, with an MLP head
//! trained on its sentence embeddings) into a fastText-style student
//! (hashed word unigrams and bigrams, 2^18 buckets, mean of 8-wide
//! embeddings, a linear head) on the SpamAssassin corpus (ham / spam, the
//! five collection groups as fine labels for the oracle).
//!
//! ```text
//! cargo run --release --features text --example text [-- --tokens 128 --transfer 1000 --seeds 5 --dim 8 --s 4 --device flex]
//! ```
//! The first run fetches the model and the corpus (scripts/fetch-*.sh) and
//! encodes the 6,046 emails once (subject and body, first `--tokens`
//! tokens), cached under ~/.cache/lelp/embeddings; later runs read the
//! cache.

mod support;

use std::time::Instant;

use burn::prelude::*;
use lelp::data::{Dataset, HashedNgrams, Inputs, TokenBatch};
use lelp::teacher::{ModuleTeacher, TeacherEncoder};
use lelp::text::{SentenceEncoder, TextCorpus, default_minilm_dir, default_spam_dir};
use lelp::train::{
    BagConfig, DistillConfig, Distiller, KdConfig, LelpConfig, Method, MlpConfig, accuracy, predict_inputs,
};
use support::{arg, mean_std};

const BUCKETS: u32 = 1 << 18;

fn fetch(script: &str, present: bool) -> Result<(), Box<dyn std::error::Error>> {
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let device_name = arg(&args, "--device")
        .or_else(|| std::env::var("LELP_DEVICE").ok())
        .unwrap_or_else(|| "flex".into());
    let device = support::device::by_name(&device_name)?;
    let tokens: usize = arg(&args, "--tokens").map(|s| s.parse()).transpose()?.unwrap_or(128);
    let transfer_size: usize = arg(&args, "--transfer").map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let seeds: u64 = arg(&args, "--seeds").map(|s| s.parse()).transpose()?.unwrap_or(5);
    let subclasses: usize = arg(&args, "--s").map(|s| s.parse()).transpose()?.unwrap_or(4);
    let dim: usize = arg(&args, "--dim").map(|s| s.parse()).transpose()?.unwrap_or(8);
    let start = Instant::now();

    fetch(
        "fetch-minilm.sh",
        default_minilm_dir().join("model.safetensors").exists(),
    )?;
    fetch("fetch-spam.sh", default_spam_dir().join("spam-2").exists())?;
    let corpus = TextCorpus::spam_assassin(default_spam_dir())?;
    let texts: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let n = corpus.len();

    // the teacher's sentence embeddings: encoded once, cached
    let encoder = SentenceEncoder::from_dir(default_minilm_dir(), &device)?.with_max_seq_length(tokens);
    let cache =
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".cache/lelp/embeddings");
    let t0 = Instant::now();
    let mut last = Instant::now();
    let emb = encoder.encode_cached(&texts, 64, &device, &cache, |done, total| {
        if last.elapsed().as_secs_f64() > 2.0 || done == total {
            eprintln!(
                "encoding {done}/{total} emails ({:.1} emails/s)",
                done as f64 / t0.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
    })?;
    let encode_secs = t0.elapsed().as_secs_f64();
    let emb: Vec<f32> = emb.into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
    let fine = corpus.fine_labels.clone().expect("SpamAssassin has groups");
    let dense = Dataset::new(emb, encoder.embedding_dim(), corpus.labels.clone(), 2)?.with_fine_labels(fine)?;
    let hashed = corpus.tokens(|t| HashedNgrams::new(BUCKETS).encode(t))?;

    // one split for both views of the rows, stratified by group
    let (train_idx, test_idx) = dense.split_indices(0.3, 0)?;
    let (train_dense, train_bag) = (dense.subset(&train_idx)?, hashed.subset(&train_idx)?);
    let test_bag = hashed.subset(&test_idx)?;
    let test_dense = dense.subset(&test_idx)?;
    println!(
        "SpamAssassin on {device_name}: {n} emails ({} train, {} test), MiniLM at {tokens} tokens, transfer set {transfer_size}, {seeds} seeds",
        train_idx.len(),
        test_idx.len()
    );

    // teacher head: an MLP on the frozen sentence embeddings
    let head = MlpConfig::new(encoder.embedding_dim(), vec![256], 2)
        .with_seed(7)
        .init(&device)?;
    let plain = Method::Plain.prepare(&train_dense, None)?;
    let head = Distiller::new(DistillConfig::new(30, 1e-3).with_batch_size(64))
        .fit(head, &train_dense, &plain, None, &device)?
        .student;
    let teacher_acc = accuracy(&head, &test_dense, &device)?;
    let teacher = ModuleTeacher::new(head)?;

    let kd = KdConfig::new();
    let methods = |seed: u64| {
        vec![
            Method::Plain,
            Method::VanillaKd(kd),
            Method::Lelp(LelpConfig::new(subclasses).with_seed(seed)),
            Method::Oracle(kd),
        ]
    };
    let names: Vec<&str> = methods(0).iter().map(Method::name).collect();
    let mut scores = vec![Vec::new(); names.len()];
    let mut last_student = None;
    let train_view = Dataset::new(vec![0.0; train_bag.len()], 1, train_bag.labels().to_vec(), 2)?
        .with_fine_labels(train_bag.fine_labels().expect("groups").to_vec())?;
    for seed in 0..seeds {
        let t_idx = train_view.sample_indices(transfer_size.min(train_view.len()), seed)?;
        let transfer_dense = train_dense.subset(&t_idx)?;
        let transfer_bag = train_bag.subset(&t_idx)?;
        let out = teacher.encode(&transfer_dense, 512, &device)?;
        for (i, m) in methods(seed).iter().enumerate() {
            let targets = m.prepare(&transfer_bag, Some(&out))?;
            let student = BagConfig::new(BUCKETS as usize, targets.outputs())
                .with_dim(dim)
                .with_seed(seed)
                .init(&device)?;
            let cfg = DistillConfig::new(10, 1e-2).with_batch_size(32).with_seed(seed);
            let trained = Distiller::new(cfg).fit(student, &transfer_bag, &targets, None, &device)?;
            scores[i].push(accuracy(&trained.student, &test_bag, &device)?);
            last_student = Some(trained.student);
        }
        eprintln!("seed {seed} done ({:.0}s)", start.elapsed().as_secs_f64());
    }

    println!("\n| method | test accuracy (%) |");
    println!("|---|---|");
    println!(
        "| teacher (MiniLM + MLP head, full train split) | {:.1} |",
        100.0 * teacher_acc
    );
    for (name, sc) in names.iter().zip(&scores) {
        let (m, s) = mean_std(sc);
        println!("| {name} | {:.1} ± {:.1} |", 100.0 * m, 100.0 * s);
    }

    // the student a user would deploy: size and speed
    let student = last_student.expect("at least one seed");
    let path = std::env::temp_dir().join(format!("lelp-text-student-{}.bpk", std::process::id()));
    student.clone().save_file(&path).map_err(|e| format!("{e}"))?;
    let bytes = std::fs::metadata(&path)?.len();
    let _ = std::fs::remove_file(&path);
    let featurize = HashedNgrams::new(BUCKETS);
    let sample: Vec<&str> = texts.iter().copied().take(512).collect();
    let t1 = Instant::now();
    let seqs: Vec<Vec<u32>> = sample.iter().map(|t| featurize.encode(t)).collect();
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    let preds = predict_inputs(
        &student,
        Inputs::Tokens(TokenBatch::from_sequences(&refs, usize::MAX, &device)?),
        2,
    )?;
    let batch_rate = preds.len() as f64 / t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    for t in sample.iter().take(100) {
        let ids = featurize.encode(t);
        predict_inputs(
            &student,
            Inputs::Tokens(TokenBatch::from_sequences(&[&ids], usize::MAX, &device)?),
            2,
        )?;
    }
    let single_rate = 100.0 / t2.elapsed().as_secs_f64();
    println!(
        "\nstudent (last trained, {}): {} parameters, {:.1} MB on disk, {:.0} emails/s in a batch of 512, {:.0} emails/s one at a time",
        names.last().unwrap(),
        student.num_params(),
        bytes as f64 / 1e6,
        batch_rate,
        single_rate
    );
    let encoding = if encode_secs < 1.0 {
        "read from the cache".to_string()
    } else {
        format!("encoded in {encode_secs:.0}s, {:.1} emails/s", n as f64 / encode_secs)
    };
    println!(
        "teacher: MiniLM-L6 ({} parameters in the encoder) + MLP head; embeddings {encoding}",
        encoder.bert().num_params()
    );
    println!(
        "bag student 2^18 x {dim}, 10 epochs, Adam 1e-2, batch 32, S = {subclasses}, beta = 0.3, tau = 2; {:.0}s in all",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
