//! Quickstart: LELP vs. vanilla KD vs. feature KD on the embedded UCI
//! digits, binarised by parity (2 classes, 5 hidden digits each).
//!
//! ```text
//! cargo run --release --example quickstart [-- --device flex|ndarray|wgpu|tch] [--seeds 10] [--transfer 150] [--subclasses 5]
//! ```
//! The device can also be set with `LELP_DEVICE`. It trains a teacher MLP
//! on the training split, then the same small student MLP from a small
//! labelled transfer set by plain training, vanilla KD, feature KD, LELP and
//! the oracle (true digit as subclass), over 10 seeds, and prints test
//! accuracy (mean +- std).

use std::time::Instant;

use clap::Parser;
use lelp::data::Dataset;
use lelp::experiment::{Arch, Run, train_network};
use lelp::metrics::mean_std;
use lelp::train::{DistillConfig, FeatureKdConfig, KdConfig, LelpConfig, Method};

/// LELP against vanilla KD, feature KD, plain training and the oracle on
/// the embedded digits by parity.
#[derive(Parser)]
struct Args {
    /// Device: flex, ndarray, wgpu, tch (default: $LELP_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Seeds (teacher, transfer sample and student each).
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// Rows in the labelled transfer set.
    #[arg(long, default_value_t = 150)]
    transfer: usize,
    /// Subclasses per class S.
    #[arg(long, default_value_t = 5)]
    subclasses: usize,
    /// LELP's beta.
    #[arg(long, default_value_t = 0.3)]
    beta: f64,
    /// Distillation temperature.
    #[arg(long, default_value_t = 2.0)]
    tau: f64,
    /// Student epochs.
    #[arg(long, default_value_t = 60)]
    epochs: usize,
    /// Student hidden widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32,32")]
    student: Vec<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // glibc's malloc keeps large freed blocks (libtorch's tensors come from
    // it; docs/performance.md): first thing in main, in any program that trains
    lelp::device::keep_freed_memory();
    let Args {
        device,
        seeds,
        transfer: transfer_size,
        subclasses,
        beta,
        tau,
        epochs,
        student: student_hidden,
    } = Args::parse();
    let (device, device_name) = lelp::device::from_flag_or_env(device.as_deref())?;
    let start = Instant::now();

    let data = Dataset::uci_digits().parity()?;
    let (train, test) = data.split(0.3, 0)?;
    println!(
        "UCI digits by parity on {device_name}: {} train, {} test, transfer set {transfer_size}, {seeds} seeds",
        train.len(),
        test.len()
    );

    let teacher_arch = Arch::Mlp { hidden: vec![256, 128] };
    let student_desc = format!(
        "64-{}",
        student_hidden
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-")
    );
    let student_arch = Arch::Mlp { hidden: student_hidden };
    let teacher_cfg = DistillConfig::new(30, 1e-3).with_batch_size(64);
    let student_cfg = DistillConfig::new(epochs, 3e-3).with_batch_size(32);

    let kd = KdConfig::new().with_tau(tau);
    let methods = |seed: u64| {
        vec![
            Method::Plain,
            Method::VanillaKd(kd),
            Method::FeatureKd(FeatureKdConfig::new().with_kd(kd)),
            Method::Lelp(
                LelpConfig::new(subclasses)
                    .with_beta(beta)
                    .with_tau(tau)
                    .with_seed(seed),
            ),
            Method::Oracle(kd),
        ]
    };
    let names: Vec<String> = methods(0).iter().map(|m| m.name().to_string()).collect();
    let mut scores = vec![Vec::new(); names.len()];
    let mut teacher_scores = Vec::new();
    for seed in 0..seeds {
        let teacher = train_network(&teacher_arch, &train, &teacher_cfg, 1000 + seed, &device)?;
        teacher_scores.push(teacher.accuracy(&test, &device)?);
        let transfer = train.sample(transfer_size, seed)?;
        // the frozen teacher's outputs: computed once, shared by every method
        let outputs = teacher.encode(&transfer, &device)?;
        let run = Run {
            arch: &student_arch,
            transfer: &transfer,
            teacher: Some(&outputs),
            test: &test,
            config: &student_cfg,
            seed,
            initial_table: None,
        };
        for (i, m) in methods(seed).iter().enumerate() {
            scores[i].push(run.score(m, &device)?);
        }
        eprintln!("seed {seed} done ({:.1}s)", start.elapsed().as_secs_f64());
    }

    println!("\n| method | test accuracy (%) |");
    println!("|---|---|");
    let (m, s) = mean_std(&teacher_scores);
    println!(
        "| teacher (MLP 64-256-128, full train split) | {:.1} ± {:.1} |",
        100.0 * m,
        100.0 * s
    );
    for (name, sc) in names.iter().zip(&scores) {
        let (m, s) = mean_std(sc);
        println!("| {name} | {:.1} ± {:.1} |", 100.0 * m, 100.0 * s);
    }
    println!(
        "\nstudent MLP {student_desc}, {epochs} epochs, S = {subclasses}, beta = {beta}, tau = {tau}, alpha = 0; mean ± std over {seeds} seeds; {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
