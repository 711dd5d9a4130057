//! MiniLM encoding rate (feature `text`): the first 256 SpamAssassin emails
//! (subject and body), at most 128 tokens, batch 64 (with
//! `LELP_BENCH_TEXTS=clinc`: the first 1,024 CLINC150 queries, short
//! texts, from `$LELP_TEXT_DATA`, default ../shared/data/text), on the device named by
//! `LELP_BENCH_DEVICE` (flex by default), by burn's graph and by the host
//! path (`EncoderPath`); three timed runs of each after a warm-up, the two
//! alternating. `LELP_BENCH_TOKENS` changes the length (e.g. 32 for short
//! texts). Its PyTorch twin is benches/encode_st.py (same texts, 2
//! threads).
//!
//! ```text
//! bash scripts/fetch-minilm.sh && bash scripts/fetch-spam.sh
//! cargo bench --features text --bench encode
//! ```

use std::time::Instant;

use lelp::text::{EncoderPath, SentenceEncoder, TextCorpus, default_minilm_dir, default_spam_dir};

use lelp::device;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let name = std::env::var("LELP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let tokens: usize = std::env::var("LELP_BENCH_TOKENS").map_or(128, |t| t.parse().expect("a number of tokens"));
    let device = device::by_name(&name).unwrap();
    let (corpus, n) = match std::env::var("LELP_BENCH_TEXTS").as_deref() {
        Ok("clinc") => {
            let dir = std::env::var("LELP_TEXT_DATA").unwrap_or_else(|_| "../shared/data/text".into());
            let path = std::path::Path::new(&dir).join("clinc150.jsonl.gz");
            (
                TextCorpus::from_jsonl(path).expect("CLINC150 under $LELP_TEXT_DATA"),
                1024,
            )
        }
        _ => (
            TextCorpus::spam_assassin(default_spam_dir()).expect("run scripts/fetch-spam.sh first"),
            256,
        ),
    };
    let texts: Vec<&str> = corpus.texts.iter().take(n).map(String::as_str).collect();
    let load = |path| {
        SentenceEncoder::from_dir(default_minilm_dir(), &device)
            .expect("run scripts/fetch-minilm.sh first")
            .with_max_seq_length(tokens)
            .with_path(path)
    };
    let wanted = std::env::var("LELP_BENCH_PATHS").unwrap_or_else(|_| "graph,host".into());
    let encoders: Vec<_> = [("graph", EncoderPath::Device), ("host", EncoderPath::Host)]
        .into_iter()
        .filter(|(n, _)| wanted.split(',').any(|w| w == *n))
        .map(|(n, p)| (n, load(p)))
        .collect();
    for (_, enc) in &encoders {
        enc.encode(&texts[..64], 64, &device).unwrap();
    }
    for _ in 0..3 {
        for (path, enc) in &encoders {
            let t0 = Instant::now();
            let e = enc.encode(&texts, 64, &device).unwrap();
            let _ = e.into_data();
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "lelp {name} {path}, {tokens} tokens: {} texts in {dt:.2} s = {:.1} texts/s",
                texts.len(),
                texts.len() as f64 / dt
            );
        }
    }
}
