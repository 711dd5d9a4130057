//! Training speed (issue 11): plain cross-entropy with Adam through
//! `Distiller`, on random data, for the sizes of benches/train_torch.py
//! (its PyTorch twin; run both with benches/run_train_bench.sh):
//!
//! - `mlp-large-b64` / `-b256`: MLP 384-512-256-2, 16,384 rows, 3 epochs;
//! - `mlp-tiny`: MLP 64-32-32-2, 4,096 rows, batch 32, 10 epochs;
//! - `mlp-text`: the text example's student, MLP 384-8-8-2, 4,000 rows,
//!   batch 32, 10 epochs;
//! - `kd-epoch` / `lelp-epoch`: one epoch of vanilla KD and of LELP (S = 8,
//!   a 2x8 head) on MLP 384-512-256, 16,384 rows, batch 64: LELP's
//!   overhead over KD once the targets exist (they are computed before the
//!   clock starts);
//! - `bag`: the text example's bag student (2^18 x 8 hashed embeddings, a
//!   2-way head), 2,000 token rows of 20 to 59 skewed ids, batch 32, 10
//!   epochs: the case where the table, not the batch, sets the step cost;
//!   `bag-lazy`: the same with `lazy_tables` (Adam on the touched rows).
//!
//! Each case runs three times after a warm-up; prints seconds per run, the
//! warm-up's time (a cold run when the case is the first of its process:
//! `LELP_BENCH_CASES=bag` runs only the listed cases) and the heap
//! allocations (calls and bytes) per optimizer step of the last run,
//! counted by a wrapper around the global allocator.
//! `LELP_BENCH_DEVICE` picks the device (flex by default).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use burn::prelude::*;
use lelp::data::Dataset;
use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder};
use lelp::train::{
    BagConfig, DistillConfig, Distiller, KdConfig, LelpConfig, Method, MlpConfig, Silent, Student, TrainingTargets,
};

use lelp::device;

#[cfg(feature = "mimalloc")]
type Inner = mimalloc::MiMalloc;
#[cfg(not(feature = "mimalloc"))]
type Inner = std::alloc::System;

/// Heap allocation calls and bytes since the start.
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The global allocator (mimalloc with the feature, else the system's),
/// counting allocation calls and bytes.
struct Counting(Inner);

// SAFETY: every call is forwarded unchanged to the inner allocator; the
// counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on
        unsafe { self.0.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on
        unsafe { self.0.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting(Inner {});

/// `n` rows of `d` features from a fixed linear-congruential stream, labels
/// from the sign of a fixed direction (learnable, seeded, no RNG crate).
fn data(n: usize, d: usize) -> Dataset {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let x: Vec<f32> = (0..n * d).map(|_| next()).collect();
    let y = (0..n)
        .map(|i| usize::from(x[i * d..(i + 1) * d].iter().step_by(3).sum::<f32>() > 0.0))
        .collect();
    Dataset::new(x, d, y, 2).unwrap()
}

/// The LCG stream of [`data`], as `u64`s.
fn stream(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    }
}

/// `n` token rows of 20 to 59 ids in `[0, buckets)`, skewed towards small
/// ids like word frequencies (`buckets * u^3`); the label says whether the
/// row's first id is in the lower half of the bucket range.
pub fn token_data(n: usize, buckets: usize) -> Dataset {
    let mut next = stream(0x5eed);
    let mut id = move || {
        let u = (next() % (1 << 24)) as f64 / (1u64 << 24) as f64;
        (u * u * u * buckets as f64) as u32
    };
    let seqs: Vec<Vec<u32>> = (0..n).map(|i| (0..20 + i % 40).map(|_| id()).collect()).collect();
    let y = seqs.iter().map(|s| usize::from(s[0] as usize * 64 < buckets)).collect();
    Dataset::from_tokens(seqs, y, 2).unwrap()
}

fn mlp(train: &Dataset, hidden: &[usize], targets: &TrainingTargets, device: &Device) -> lelp::train::Mlp {
    MlpConfig::new(train.num_features(), hidden.to_vec(), targets.outputs())
        .init(device)
        .unwrap()
}

fn time(
    name: &str,
    train: &Dataset,
    hidden: &[usize],
    targets: &TrainingTargets,
    cfg: &DistillConfig,
    device: &Device,
) {
    time_student(name, train, targets, cfg, device, || {
        mlp(train, hidden, targets, device)
    });
}

fn time_student<S: Student>(
    name: &str,
    train: &Dataset,
    targets: &TrainingTargets,
    cfg: &DistillConfig,
    device: &Device,
    init: impl Fn() -> S,
) {
    if !wanted(&[name]) {
        return;
    }
    let run = || {
        let s = init();
        let t0 = Instant::now();
        let t = Distiller::new(cfg.clone())
            .with_observer(Silent)
            .fit(s, train, targets, None, device)
            .unwrap();
        assert!(t.history.last().unwrap().train_loss.is_finite());
        t0.elapsed().as_secs_f64()
    };
    let first = run();
    let times: Vec<String> = (0..3).map(|_| format!("{:.3}", run())).collect();
    let (calls, bytes) = (ALLOCS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    run();
    let steps = (cfg.epochs * train.len().div_ceil(cfg.batch_size)) as f64;
    let calls = (ALLOCS.load(Ordering::Relaxed) - calls) as f64 / steps;
    let mb = (BYTES.load(Ordering::Relaxed) - bytes) as f64 / steps / 1e6;
    println!(
        "lelp {name}: {} s (first run in this process {first:.3} s); per step {calls:.0} allocations, {mb:.2} MB",
        times.join(" ")
    );
}

/// Whether `LELP_BENCH_CASES` (a comma list; unset: every case) names one
/// of `cases`: a case's data are built only when it runs, so a case alone
/// in its process has a cold first run.
fn wanted(cases: &[&str]) -> bool {
    std::env::var("LELP_BENCH_CASES").map_or(true, |only| only.split(',').any(|c| cases.contains(&c)))
}

fn main() {
    let name = std::env::var("LELP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let device = device::by_name(&name).unwrap();
    println!("device {name}, rayon threads {}", rayon_threads());
    if wanted(&["mlp-large-b64", "mlp-large-b256"]) {
        let large = data(16_384, 384);
        let plain = Method::Plain.prepare(&large, None).unwrap();
        for b in [64, 256] {
            let cfg = DistillConfig::new(3, 1e-3).with_batch_size(b);
            time(&format!("mlp-large-b{b}"), &large, &[512, 256], &plain, &cfg, &device);
        }
    }
    let cfg = DistillConfig::new(10, 1e-3).with_batch_size(32);
    for (case, rows, width, hidden) in [("mlp-tiny", 4_096, 64, [32, 32]), ("mlp-text", 4_000, 384, [8, 8])] {
        if wanted(&[case]) {
            let d = data(rows, width);
            time(
                case,
                &d,
                &hidden,
                &Method::Plain.prepare(&d, None).unwrap(),
                &cfg,
                &device,
            );
        }
    }
    if wanted(&["kd-epoch", "lelp-epoch"]) {
        epochs(&device);
    }
    if wanted(&["bag", "bag-lazy"]) {
        let tokens = token_data(2_000, 1 << 18);
        let plain = Method::Plain.prepare(&tokens, None).unwrap();
        let cfg = DistillConfig::new(10, 1e-2).with_batch_size(32);
        let bag = || BagConfig::new(1 << 18, 2).with_dim(8).init(&device).unwrap();
        time_student("bag", &tokens, &plain, &cfg, &device, bag);
        let lazy = cfg.with_lazy_tables(true);
        time_student("bag-lazy", &tokens, &plain, &lazy, &device, bag);
    }
}

/// KD vs LELP epochs on the same student body, from a fixed linear teacher.
fn epochs(device: &Device) {
    let large = data(16_384, 384);
    let w: Vec<f32> = (0..2 * 384).map(|i| ((i * 37 % 23) as f32 - 11.0) / 11.0).collect();
    let teacher = PrecomputedTeacher::new(LinearHead::new(w, vec![0.0, 0.0], [2, 384]).unwrap());
    let out = teacher.encode(&large, 4096, device).unwrap();
    let kd = Method::VanillaKd(KdConfig::new()).prepare(&large, Some(&out)).unwrap();
    let lelp = Method::Lelp(LelpConfig::new(8)).prepare(&large, Some(&out)).unwrap();
    let cfg = DistillConfig::new(1, 1e-3).with_batch_size(64);
    for _ in 0..2 {
        time("kd-epoch", &large, &[512, 256], &kd, &cfg, device);
        time("lelp-epoch", &large, &[512, 256], &lelp, &cfg, device);
    }
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
}
