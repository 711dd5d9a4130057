//! The subspace fit over shards, in parallel: per-class moments of each
//! shard on its own thread (`ClassMoments`), merged exactly (Chan et al.'s
//! update, `ClassMoments::merge`), then one eigendecomposition per class
//! (`SubspaceFinder::fit_moments`). The same shape works across machines:
//! each worker ships its `ClassMoments` (d x d per class), not its rows.
//!
//! ```text
//! cargo run --release --example sharded_fit -- DIR [--subclasses 8] [--head HEAD.safetensors] [--chunk 4096]
//! cargo run --release --example sharded_fit -- --demo      # writes 4 random shards to a temp dir first
//! ```
//! `DIR` holds shards `NAME.emb.npy` (`[n, d]` f32 embeddings) with
//! `NAME.labels.npy` (`[n]` integer labels). Without `--head` the null-space
//! projection is off. Prints each shard's rows and time, the merged fit's
//! time and the explained variance of each class's subspace, and checks the
//! result against a second pass on one thread with other batch boundaries.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use lelp::io::npy::{self, NpyArray};
use lelp::subspace::{ClassMoments, PcaFinder, SubspaceConfig, SubspaceFinder};
use lelp::teacher::LinearHead;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Streams one shard through `moments`, `chunk` rows at a time.
fn shard_moments(emb: &Path, labels: &Path, classes: usize, chunk: usize) -> Result<ClassMoments, Error> {
    let device = Device::default();
    let x = NpyArray::read(emb)?;
    let y = NpyArray::read(labels)?.to_labels()?;
    let [n, d] = x.shape[..] else {
        return Err(format!("{}: expected [n, d], got {:?}", emb.display(), x.shape).into());
    };
    if y.len() != n {
        return Err(format!("{}: {} labels for {n} rows", labels.display(), y.len()).into());
    }
    let values = x.to_f32();
    let mut m = ClassMoments::new(classes);
    for start in (0..n).step_by(chunk.max(1)) {
        let end = (start + chunk).min(n);
        let t = Tensor::<2>::from_data(
            TensorData::new(values[start * d..end * d].to_vec(), [end - start, d]),
            &device,
        );
        m.update(t, &y[start..end])?;
    }
    Ok(m)
}

/// Writes 4 shards of random two-class embeddings (d = 64) under a temp dir.
fn demo_shards() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!("lelp-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let d = 64;
    for k in 0..4 {
        let n = 5_000 + 1_000 * k;
        let labels: Vec<usize> = (0..n).map(|i| (i * 7 + k) % 2).collect();
        let emb: Vec<f32> = (0..n * d)
            .map(|i| {
                let (r, j) = (i / d, i % d);
                // class-dependent scales: a few strong directions per class
                let scale = if j < 4 + 4 * labels[r] { 3.0 } else { 0.3 };
                next() * scale + labels[r] as f32
            })
            .collect();
        npy::write_f32(dir.join(format!("shard-{k}.emb.npy")), &[n, d], &emb)?;
        let l: Vec<i64> = labels.iter().map(|&v| v as i64).collect();
        npy::write_i64(dir.join(format!("shard-{k}.labels.npy")), &[n], &l)?;
    }
    eprintln!("wrote 4 demo shards to {}", dir.display());
    Ok(dir)
}

/// A LELP fit from per-class moments accumulated shard by shard, in parallel.
#[derive(Parser)]
struct Args {
    /// Folder of shards (NAME.emb.npy and NAME.labels.npy pairs).
    #[arg(required_unless_present = "demo")]
    dir: Option<PathBuf>,
    /// Write 4 random shards to a temporary folder and fit those.
    #[arg(long)]
    demo: bool,
    /// Subclasses per class S.
    #[arg(long, default_value_t = 8)]
    subclasses: usize,
    /// Rows read per chunk.
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// The teacher's head (safetensors), for the null-space projection.
    #[arg(long)]
    head: Option<PathBuf>,
}

fn main() -> Result<(), Error> {
    let args = Args::parse();
    let dir = match (&args.dir, args.demo) {
        (_, true) => demo_shards()?,
        (Some(d), false) => d.clone(),
        (None, false) => return Err("give a folder of shards, or --demo".into()),
    };
    let (s, chunk) = (args.subclasses, args.chunk);
    let head = args.head.as_ref().map(LinearHead::from_safetensors).transpose()?;
    let mut shards: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix(".emb.npy")?.to_string();
            let labels = p.with_file_name(format!("{name}.labels.npy"));
            labels.exists().then_some((p, labels))
        })
        .collect();
    shards.sort();
    if shards.is_empty() {
        return Err(format!("no NAME.emb.npy + NAME.labels.npy pairs in {}", dir.display()).into());
    }
    // classes: the largest label over all shards, plus one
    let mut classes = 0;
    for (_, l) in &shards {
        classes = classes.max(NpyArray::read(l)?.to_labels()?.into_iter().max().map_or(0, |m| m + 1));
    }
    let t0 = Instant::now();
    let parts: Vec<Result<(ClassMoments, f64), Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .map(|(e, l)| {
                scope.spawn(move || {
                    let t = Instant::now();
                    shard_moments(e, l, classes, chunk).map(|m| (m, t.elapsed().as_secs_f64()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a shard's thread panicked".into())))
            .collect()
    });
    let mut merged = ClassMoments::new(classes);
    for ((e, _), part) in shards.iter().zip(parts) {
        let (m, secs) = part?;
        println!("{}: {} rows in {secs:.2}s", e.display(), m.rows());
        merged.merge(&m)?;
    }
    let finder = PcaFinder::new(SubspaceConfig::new(s).with_null_space(head.is_some()));
    let fit = finder.fit_moments(&merged, head.as_ref())?;
    let parallel = t0.elapsed().as_secs_f64();
    println!(
        "{} shards, {} rows, {classes} classes, d = {}: merged fit in {parallel:.2}s",
        shards.len(),
        merged.rows(),
        fit.embedding_dim()
    );
    for c in 0..classes {
        let ev = fit.eigenvalues(c);
        let total: f64 = merged.covariance(c).map_or(f64::NAN, |cov| {
            let d = fit.embedding_dim();
            (0..d).map(|i| cov[i * d + i]).sum()
        });
        println!(
            "class {c}: {} rows, top {s} eigenvalues explain {:.1}% of the variance",
            fit.counts()[c],
            100.0 * ev.iter().sum::<f64>() / total
        );
    }
    // the same rows again on one thread, each shard as a single batch:
    // the merge is exact up to rounding, whatever the split
    let t1 = Instant::now();
    let mut single = ClassMoments::new(classes);
    for (e, l) in &shards {
        let m = shard_moments(e, l, classes, usize::MAX)?;
        single.merge(&m)?;
    }
    let one = finder.fit_moments(&single, head.as_ref())?;
    let diff = (0..classes)
        .flat_map(|c| {
            one.eigenvalues(c)
                .iter()
                .zip(fit.eigenvalues(c))
                .map(|(a, b)| (a - b).abs() / a.abs().max(1e-12))
        })
        .fold(0.0f64, f64::max);
    println!(
        "check: one thread, whole shards as batches, in {:.2}s; largest relative eigenvalue difference {diff:.1e}",
        t1.elapsed().as_secs_f64()
    );
    Ok(())
}
