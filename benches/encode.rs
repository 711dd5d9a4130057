//! MiniLM encoding rate (feature `text`): the first 256 SpamAssassin emails
//! (subject and body), at most 128 tokens, batch 64, on the device named by
//! `LELP_BENCH_DEVICE` (flex by default); three timed runs after a warm-up.
//! Its PyTorch twin is benches/encode_st.py (same texts, 2 threads).
//!
//! ```text
//! bash scripts/fetch-minilm.sh && bash scripts/fetch-spam.sh
//! cargo bench --features text --bench encode
//! ```

use std::time::Instant;

use lelp::text::{SentenceEncoder, TextCorpus, default_minilm_dir, default_spam_dir};

use lelp::device;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let name = std::env::var("LELP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let device = device::by_name(&name).unwrap();
    let corpus = TextCorpus::spam_assassin(default_spam_dir()).expect("run scripts/fetch-spam.sh first");
    let texts: Vec<&str> = corpus.texts.iter().take(256).map(String::as_str).collect();
    let enc = SentenceEncoder::from_dir(default_minilm_dir(), &device)
        .expect("run scripts/fetch-minilm.sh first")
        .with_max_seq_length(128);
    enc.encode(&texts[..64], 64, &device).unwrap();
    for _ in 0..3 {
        let t0 = Instant::now();
        let e = enc.encode(&texts, 64, &device).unwrap();
        let _ = e.into_data();
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "lelp {name}: {} texts in {dt:.2} s = {:.1} texts/s",
            texts.len(),
            texts.len() as f64 / dt
        );
    }
}
