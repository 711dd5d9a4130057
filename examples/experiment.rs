//! Experiment runner: the paper's comparison, driven by a JSON config (a
//! thin front end to `lelp::experiment`, where the protocol is documented
//! and tested).
//!
//! ```text
//! cargo run --release --example experiment -- experiments/mnist-parity.json [--device flex] [--seeds N]
//! ```
//! For each seed it trains the teacher once on the training split, computes
//! the teacher's outputs on each transfer set once, then trains the student
//! with every method and scores it on the test split. It writes one JSON
//! line per run to `<output>/results.jsonl` as it goes (the file is
//! rewritten at the start) and `<output>/table.md` (mean ± std per setting
//! and method) at the end; `examples/plot.rs` draws the rows.
//!
//! Tuning (`"tuning": {"validation_fraction": 0.25}` and a `"grid"` per
//! method, e.g. `{"kind": "vanilla_kd", "grid": {"tau": [1, 2, 4]}}`):
//! every method with a grid gets the same number of grid points (an
//! unequal budget is refused); per seed and transfer set, each point
//! trains on the transfer set less a stratified validation part and is
//! scored on that part, never on the test split; the best point is
//! retrained on the whole transfer set and scored on the test split.
//!
//! Data sources: `"uci-digits"` (embedded), `"mnist-10k"` (from
//! `data_dir`, default `../shared/data/mnist-10k`; `scripts/fetch-mnist.sh`
//! fetches it), or `{"npy": {...}}` for your own `.npy` files (features
//! `[N, ...]` u8 or f32, labels `[N]`, optional fine labels `[N]`, and an
//! optional `"split"` `[N]`: the data's own split, 0 train and 1 test,
//! instead of a random `test_fraction`).

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use lelp::experiment::{Event, ExperimentConfig, markdown_table, run};

/// Runs the comparison a JSON config describes.
#[derive(Parser)]
struct Args {
    /// The experiment config (JSON).
    config: PathBuf,
    /// Device: flex, ndarray, wgpu, tch (default: $LELP_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Run only the first N seeds of the config.
    #[arg(long)]
    seeds: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    lelp::device::keep_freed_memory(); // large freed blocks kept (docs/performance.md)
    let args = Args::parse();
    let mut cfg = ExperimentConfig::from_file(&args.config)?;
    if let Some(n) = args.seeds {
        cfg.seeds.truncate(n.max(1));
    }
    let (device, device_name) = lelp::device::from_flag_or_env(args.device.as_deref())?;
    std::fs::create_dir_all(&cfg.output)?;
    let results = cfg.output.join("results.jsonl");
    let mut out = std::fs::File::create(&results)?;
    let started = std::time::Instant::now();
    let rows = run(&cfg, &device, &device_name, &mut |event| {
        match event {
            Event::Start {
                train,
                test,
                classes,
                budget,
            } => {
                eprintln!(
                    "{}: {train} train / {test} test rows, {classes} classes, {} seeds, {} methods, transfer sizes {:?} on {device_name}",
                    cfg.name,
                    cfg.seeds.len(),
                    cfg.methods.len(),
                    cfg.transfer_sizes
                );
                if let Some(b) = budget {
                    eprintln!("tuned: {b} grid points per method, selected on validation splits of the transfer sets");
                }
            }
            Event::Teacher {
                seed,
                accuracy,
                elapsed,
            } => {
                eprintln!("seed {seed}: teacher {:.2}% ({elapsed:.0}s)", 100.0 * accuracy);
            }
            Event::Row(row) => {
                let line =
                    serde_json::to_string(row).map_err(|e| lelp::LelpError::InvalidConfig { reason: e.to_string() })?;
                writeln!(out, "{line}")
                    .and_then(|()| out.flush())
                    .map_err(|e| lelp::LelpError::Io {
                        path: results.clone(),
                        source: e,
                    })?;
            }
            _ => {}
        }
        Ok(())
    })?;
    let table = markdown_table(&cfg.name, &rows);
    std::fs::write(cfg.output.join("table.md"), &table)?;
    println!("{table}");
    eprintln!("wrote {} ({:.0}s)", results.display(), started.elapsed().as_secs_f64());
    Ok(())
}
