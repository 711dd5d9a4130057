//! Transformer-student training speed (feature `text`): the 3-layer
//! paraphrase-MiniLM-L3-v2 (17.2M parameters) fine-tuned with a 2-way head
//! through `Distiller`, the way the text example trains it (mean pooling,
//! dropout 0.1 in the encoder and on the pooled vector, as the twin's
//! `BertModel` in training mode; AdamW at 1e-4 with weight decay 0.01,
//! each parameter's gradient clipped to norm 1), plain cross-entropy; 512
//! rows of `L` token ids (`[CLS]`, random word pieces, `[SEP]`), batch 32,
//! one epoch (16 steps), for `L` = 32 (tweets, queries) and 128 (emails);
//! `-lazy`: the same with `lazy_tables` (AdamW on the word-piece rows a
//! batch reads; the twin has no such case, its AdamW is dense).
//! Each case: the first run of its process (cold), then three warm runs;
//! prints seconds and tokens a second. The PyTorch twin is
//! benches/transformer_torch.py; benches/run_transformer_bench.sh runs
//! both, one process a case. Without the L3 checkpoint (a GPU machine
//! that cannot fetch it) the same architecture is initialised at random:
//! the speed is the same.
//!
//! ```text
//! bash scripts/fetch-minilm-l3.sh
//! cargo bench --features text --bench transformer
//! LELP_BENCH_CASES=l32 cargo bench --features text --bench transformer
//! LELP_BENCH_INIT=teacher:2 cargo bench --features text --bench transformer   # MiniLM-L6's bottom 2 layers
//! LELP_BENCH_KEEP_FREED=0 cargo bench --features text --bench transformer   # glibc malloc's defaults
//! ```
//!
//! The bench calls `lelp::device::keep_freed_memory()` first, as the
//! crate's binaries do, unless `LELP_BENCH_KEEP_FREED=0`.

use std::time::Instant;

use lelp::data::Dataset;
use lelp::device;
use lelp::text::{Bert, BertConfig, SentenceEncoder, TransformerStudentConfig, default_cache_dir};
use lelp::train::{DistillConfig, Distiller, Method, OptimizerKind, Silent};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `n` rows of `len` ids: 101, `len - 2` ids in 1,000..30,000 from a
/// fixed LCG stream, 102; labels alternate.
fn rows(n: usize, len: usize) -> Dataset {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        1_000 + ((state >> 33) % 29_000) as u32
    };
    let seqs: Vec<Vec<u32>> = (0..n)
        .map(|_| {
            let mut s = vec![101];
            s.extend((0..len - 2).map(|_| next()));
            s.push(102);
            s
        })
        .collect();
    Dataset::from_tokens(seqs, (0..n).map(|i| i % 2).collect(), 2).unwrap()
}

fn main() {
    let keep = std::env::var("LELP_BENCH_KEEP_FREED").map_or(true, |v| v != "0");
    let kept = keep && device::keep_freed_memory();
    let name = std::env::var("LELP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let device = device::by_name(&name).unwrap();
    let dir = default_cache_dir().join("paraphrase-MiniLM-L3-v2");
    // LELP_BENCH_INIT=teacher:2: MiniLM-L6's bottom two layers instead (the
    // CLI's default transformer student; the PyTorch twin has no such case)
    let teacher_layers = std::env::var("LELP_BENCH_INIT")
        .ok()
        .and_then(|v| v.strip_prefix("teacher:").and_then(|k| k.parse::<usize>().ok()));
    let loaded = match teacher_layers {
        Some(k) => SentenceEncoder::from_dir(lelp::text::default_minilm_dir(), &device)
            .and_then(|e| e.bert().clone().truncated(k)),
        None => SentenceEncoder::from_dir(&dir, &device).map(|e| e.bert().clone()),
    };
    let bert = match loaded {
        Ok(b) => b,
        Err(e) => {
            println!("no checkpoint ({e}): its architecture at random (scripts/fetch-minilm-l3.sh for the weights)");
            let l3 = BertConfig {
                vocab_size: 30_522,
                hidden_size: 384,
                num_hidden_layers: 3,
                num_attention_heads: 12,
                intermediate_size: 1_536,
                max_position_embeddings: 512,
                type_vocab_size: 2,
                layer_norm_eps: 1e-12,
                hidden_act: "gelu".into(),
            };
            Bert::random(&l3, 0, &device).unwrap()
        }
    };
    println!(
        "device {name}, {} layers, glibc malloc keeps freed blocks: {kept}",
        bert.num_layers()
    );
    let only = std::env::var("LELP_BENCH_CASES").ok();
    for (len, lazy) in [(32, false), (32, true), (128, false), (128, true)] {
        let case = format!("l{len}{}", if lazy { "-lazy" } else { "" });
        if only.as_ref().is_some_and(|o| !o.split(',').any(|c| c == case)) {
            continue;
        }
        let data = rows(512, len);
        let targets = Method::Plain.prepare(&data, None).unwrap();
        let config = DistillConfig::new(1, 1e-4)
            .with_batch_size(32)
            .with_optimizer(OptimizerKind::AdamW)
            .with_weight_decay(0.01)
            .with_grad_clip(Some(1.0))
            .with_lazy_tables(lazy);
        let run = || {
            let student = TransformerStudentConfig::new(2).init(bert.clone(), &device).unwrap();
            let t0 = Instant::now();
            let t = Distiller::new(config.clone())
                .with_observer(Silent)
                .fit(student, &data, &targets, None, &device)
                .unwrap();
            assert!(t.history[0].train_loss.is_finite());
            t0.elapsed().as_secs_f64()
        };
        let first = run();
        let times: Vec<f64> = (0..3).map(|_| run()).collect();
        let mean = times.iter().sum::<f64>() / 3.0;
        let shown: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
        println!(
            "lelp {case}: {} s an epoch (first run in this process {first:.2} s); {:.0} tokens/s",
            shown.join(" "),
            (512 * len) as f64 / mean
        );
    }
}
