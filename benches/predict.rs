//! Deployed-classifier speed and size (feature `text`): for each student
//! kind (bag over hashed n-grams, CNN over WordPiece ids, the static
//! student over the teacher's vocabulary table, MLP over the sentence
//! embeddings with its encoder embedded, transformer students from the
//! teacher's bottom two layers and from paraphrase-MiniLM-L3-v2 where
//! `scripts/fetch-minilm-l3.sh` put it) and for the teacher
//! (all-MiniLM-L6-v2 with an MLP head, as the `lelp` tool builds it), on
//! raw strings through `lelp::deploy::Classifier`, in one process:
//! - cold: the first prediction after loading the file, and the load itself;
//! - one text: median and 99th percentile over 200 calls (50 for the
//!   encoder-backed models);
//! - throughput: texts a second in a batch of 512 (the median of five).
//!
//! The texts are the first 512 CLINC150 queries where
//! `../shared/data/text/clinc150.jsonl.gz` is (`$LELP_TEXT_DATA`), else
//! made-up sentences of 5 to 40 words. Weights are a seeded
//! initialisation: speed does not depend on training.
//!
//! ```text
//! bash scripts/fetch-minilm.sh
//! cargo bench --features text --bench predict
//! ```
//!
//! `LELP_PREDICT_MODEL=FILE` measures that model file alone (no encoder
//! needed).

mod common;

use std::time::Instant;

use burn::prelude::*;
use lelp::data::HashedNgrams;
use lelp::deploy::{Classifier, Featurizer, ModelFile};
use lelp::text::{SentenceEncoder, TransformerStudentConfig, default_cache_dir, default_minilm_dir};
use lelp::train::{BagConfig, MlpConfig, TextCnnConfig};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn measure(name: &str, model: &ModelFile, texts: &[&str], batch: usize, singles: usize) {
    let path = std::env::temp_dir().join(format!("lelp-bench-{name}-{}.safetensors", std::process::id()));
    model.save(&path).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let t0 = Instant::now();
    let c = Classifier::load(&path).unwrap();
    let load = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    c.predict_one(texts[0]).unwrap();
    let first = t1.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = texts
        .iter()
        .cycle()
        .skip(1)
        .take(singles)
        .map(|t| {
            let s = Instant::now();
            c.predict_one(t).unwrap();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let batch_texts: Vec<&str> = texts.iter().copied().cycle().take(batch).collect();
    // the median of five batches (one batch alone varied by 2x here)
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let t2 = Instant::now();
            c.predict(&batch_texts).unwrap();
            batch as f64 / t2.elapsed().as_secs_f64()
        })
        .collect();
    let rate = quantile(&mut rates, 0.5);
    let (p50, p99) = (quantile(&mut lat, 0.5), quantile(&mut lat, 0.99));
    let (student, encoder) = c.num_params();
    println!(
        "| {name} | {:.1} MB | {student} + {encoder} | {:.0} ms | {:.2} ms | {p50:.3} ms | {p99:.3} ms | {rate:.0} ({batch}) |",
        size as f64 / 1e6,
        load * 1e3,
        first * 1e3
    );
    std::fs::remove_file(&path).ok();
}

fn main() {
    let device = Device::flex();
    let (texts, source) = common::texts(512);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    println!(
        "{} texts ({source}), flex, {} rayon threads\n",
        refs.len(),
        rayon::current_num_threads()
    );
    println!(
        "| model | file | parameters (student + encoder) | load | first text | one text, median | one text, p99 | texts/s (batch) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // one model file of the user's (benches/onnx_vs_lelp.sh runs it beside
    // onnxruntime on the same file's ONNX export)
    if let Ok(p) = std::env::var("LELP_PREDICT_MODEL") {
        let m = ModelFile::read(&p).expect("LELP_PREDICT_MODEL is a model file");
        let name = std::path::Path::new(&p)
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().to_string());
        measure(&name, &m, &refs, 512, 200);
        return;
    }
    let dir = default_minilm_dir();
    let encoder = SentenceEncoder::from_dir(&dir, &device).expect("run scripts/fetch-minilm.sh first");
    let names = vec!["a".to_string(), "b".to_string()];
    let bag = BagConfig::new(1 << 18, 2).with_dim(8).init(&device).unwrap();
    let m = ModelFile::new(&bag, Featurizer::hashed(&HashedNgrams::new(1 << 18)), names.clone()).unwrap();
    measure("bag 2^18 x 8", &m, &refs, 512, 200);
    let cnn = TextCnnConfig::new(encoder.tokenizer().vocab_size(), 2)
        .with_dim(32)
        .with_channels(64)
        .init(&device)
        .unwrap();
    let m = ModelFile::new(&cnn, Featurizer::wordpiece(encoder.tokenizer(), 64), names.clone()).unwrap();
    measure("cnn 32 x 64, 64 tokens", &m, &refs, 512, 200);
    // the static student: the vocabulary table (PCA to 256), mean-pooled, normalised
    let stat = BagConfig::new(encoder.tokenizer().vocab_size(), 2)
        .with_dim(256)
        .with_normalize(true)
        .init(&device)
        .unwrap();
    let m = ModelFile::new(&stat, Featurizer::wordpiece(encoder.tokenizer(), 128), names.clone()).unwrap();
    measure("static 30,522 x 256, 128 tokens", &m, &refs, 512, 200);
    let mlp = MlpConfig::new(384, vec![128], 2).init(&device).unwrap();
    let m = ModelFile::with_encoder(&mlp, &dir, 128, names.clone()).unwrap();
    measure("mlp 384-128 + MiniLM-L6, 128 tokens", &m, &refs, 512, 50);
    // transformer students: the teacher's bottom two layers, and the L3
    let two = TransformerStudentConfig::new(2)
        .init(encoder.bert().clone().truncated(2).unwrap(), &device)
        .unwrap();
    let m = ModelFile::with_transformer(&two, encoder.tokenizer(), 64, names.clone()).unwrap();
    measure(
        "transformer: MiniLM-L6's bottom 2 layers, 64 tokens",
        &m,
        &refs,
        512,
        50,
    );
    match SentenceEncoder::from_dir(default_cache_dir().join("paraphrase-MiniLM-L3-v2"), &device) {
        Ok(l3) => {
            let s = TransformerStudentConfig::new(2)
                .init(l3.bert().clone(), &device)
                .unwrap();
            let m = ModelFile::with_transformer(&s, l3.tokenizer(), 64, names.clone()).unwrap();
            measure("transformer: MiniLM-L3, 64 tokens", &m, &refs, 512, 50);
        }
        Err(e) => eprintln!("no L3 row ({e}; bash scripts/fetch-minilm-l3.sh)"),
    }
    // the teacher as the tool builds it: the encoder and an MLP head 384-256-C
    let head = MlpConfig::new(384, vec![256], 2).init(&device).unwrap();
    let m = ModelFile::with_encoder(&head, &dir, 128, names).unwrap();
    measure("teacher: MiniLM-L6 + mlp 384-256, 128 tokens", &m, &refs, 512, 50);
}
