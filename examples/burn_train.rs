//! Distillation through burn-train (feature `train`): the quickstart's
//! setting (UCI digits by parity, teacher MLP 64-256-128, 150-example
//! transfer set, student MLP 64-32-32, 60 epochs, LELP with S = 5) trained
//! by burn's `SupervisedTraining`, with its metrics and dashboard.
//!
//! ```text
//! cargo run --release --features train --example burn_train                       # one run, burn's dashboard
//! cargo run --release --features train --example burn_train -- --compare 5        # burn-train vs Distiller, 5 seeds, KD and LELP
//! cargo run --release --features train --example burn_train -- --resume           # 30 epochs, then resume from burn's checkpoint to 60
//! cargo run --release --features train --example burn_train -- --devices 2        # ExecutionStrategy::MultiDevice, two workers on the device
//! ```
//! `--ddp` runs burn's `DistributedDataParallel` strategy over `--devices`
//! copies of the device (collectives: CUDA in burn 0.22).
//! `--device flex|ndarray|wgpu|tch|cuda` picks the device (each but flex
//! needs its cargo feature); `--devices N` runs burn's multi-device
//! strategy over N copies of it (on one CPU: N workers sharing the cores).
//! burn-train validates on the test split here (it needs a validation
//! loader; the reported accuracy is the final student's, as the
//! quickstart's). Run directories go under the system temp dir.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{ExecutionStrategy, MultiDeviceOptim, SupervisedTraining, TrainingStrategy};
use clap::Parser;
use lelp::data::Dataset;
use lelp::experiment::{Arch, train_network};
use lelp::metrics::mean_std;
use lelp::train::burn_train::{DistillModel, dataloaders, learner};
use lelp::train::{DistillConfig, Distiller, KdConfig, LelpConfig, Method, Mlp, MlpConfig, accuracy};

type Error = Box<dyn std::error::Error>;

struct Setting {
    train: Dataset,
    test: Dataset,
    config: DistillConfig,
}

/// A student trained on `transfer` with `method` by burn-train, on `device`.
#[allow(clippy::too_many_arguments)]
fn burn_train_fit(
    s: &Setting,
    transfer: &Dataset,
    method: &Method,
    outputs: &lelp::teacher::TeacherOutput,
    seed: u64,
    dir: &std::path::Path,
    epochs: (Option<usize>, usize),
    devices: usize,
    base: &Device,
    ddp: bool,
) -> Result<Mlp, Error> {
    let device = base.clone().autodiff();
    let targets = method.prepare(transfer, Some(outputs))?;
    let cfg = s.config.clone().with_seed(seed);
    let student = MlpConfig::new(64, vec![32, 32], targets.outputs())
        .with_seed(seed)
        .init(&device)?;
    let model = DistillModel::new(student, transfer, &targets, &cfg, &device)?;
    let (dl_train, dl_valid) = dataloaders(transfer, &targets, &s.test, &cfg, &device)?;
    let mut run = SupervisedTraining::new(dir, dl_train, dl_valid)
        .num_epochs(epochs.1)
        .with_default_checkpointers()
        .metric_train_numeric(LossMetric::new())
        .metric_train_numeric(AccuracyMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .with_application_logger(None);
    if let Some(from) = epochs.0 {
        run = run.checkpoint(from);
    }
    if ddp {
        // data parallel with collectives (burn 0.22 implements them on CUDA)
        let list = vec![base.clone(); devices];
        let config = DistributedConfig {
            all_reduce_op: ReduceOperation::Mean,
        };
        run = run.with_training_strategy(TrainingStrategy::Default(ExecutionStrategy::ddp(list, config)));
    } else if devices > 1 {
        let list = vec![base.clone(); devices];
        run = run.with_training_strategy(TrainingStrategy::Default(ExecutionStrategy::MultiDevice(
            list,
            MultiDeviceOptim::OptimMainDevice,
        )));
    }
    let result = run.launch(learner(model, &cfg)?);
    Ok(result.model.into_student())
}

/// The quickstart's LELP run through burn-train.
#[derive(Parser)]
struct Args {
    /// Compare burn-train with the Distiller over this many seeds (KD and LELP).
    #[arg(long)]
    compare: Option<u64>,
    /// Run burn's multi-device strategy over N copies of the device.
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// Train 30 epochs, then resume from burn's checkpoint to 60.
    #[arg(long)]
    resume: bool,
    /// burn's DistributedDataParallel strategy over --devices copies (CUDA only in burn 0.22).
    #[arg(long)]
    ddp: bool,
    /// Device: flex, ndarray, wgpu, tch, cuda (default: $LELP_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// The same student trained by the crate's `Distiller`, for comparison.
fn distiller_accuracy(
    s: &Setting,
    transfer: &Dataset,
    m: &Method,
    outputs: &lelp::teacher::TeacherOutput,
    seed: u64,
    device: &Device,
) -> Result<f64, Error> {
    let targets = m.prepare(transfer, Some(outputs))?;
    let st = MlpConfig::new(64, vec![32, 32], targets.outputs())
        .with_seed(seed)
        .init(device)?;
    let cfg = s.config.clone().with_seed(seed);
    let trained = Distiller::new(cfg).fit(st, transfer, &targets, None, device)?;
    Ok(accuracy(&trained.student, &s.test, device)?)
}

/// Mean ± std per method: burn-train's and the Distiller's.
fn print_table(table: &[(String, Vec<f64>, Vec<f64>)]) {
    println!("\n| method | burn-train (%) | Distiller (%) |\n|---|---|---|");
    for (name, bt, d) in table {
        if bt.is_empty() {
            continue;
        }
        let (m1, s1) = mean_std(bt);
        let dist = if d.is_empty() {
            "not run (--compare N)".to_string()
        } else {
            let (m2, s2) = mean_std(d);
            format!("{:.1} ± {:.1}", 100.0 * m2, 100.0 * s2)
        };
        println!("| {name} | {:.1} ± {:.1} | {dist} |", 100.0 * m1, 100.0 * s1);
    }
}

fn main() -> Result<(), Error> {
    lelp::device::keep_freed_memory(); // large freed blocks kept (docs/performance.md)
    let Args {
        compare,
        devices,
        resume,
        ddp,
        device,
    } = Args::parse();
    let (device, device_name) = lelp::device::from_flag_or_env(device.as_deref())?;
    if ddp && device_name != "cuda" {
        // burn 0.22 panics in DistributedContext::init on other devices
        // ("Distributed operations are not supported for device Flex(Cpu)")
        return Err("--ddp needs --device cuda: burn 0.22 implements collectives on CUDA only".into());
    }
    let (train, test) = Dataset::uci_digits().parity()?.split(0.3, 0)?;
    let s = Setting {
        train,
        test,
        config: DistillConfig::new(60, 3e-3).with_batch_size(32),
    };
    let methods = |seed: u64| {
        [
            Method::VanillaKd(KdConfig::new()),
            Method::Lelp(LelpConfig::new(5).with_seed(seed)),
        ]
    };
    let root = std::env::temp_dir().join(format!("lelp-burn-train-{}", std::process::id()));
    let teacher_cfg = DistillConfig::new(30, 1e-3).with_batch_size(64);
    let teacher_arch = Arch::Mlp { hidden: vec![256, 128] };
    let seeds = compare.unwrap_or(1);
    let start = Instant::now();
    let mut table: Vec<(String, Vec<f64>, Vec<f64>)> = methods(0)
        .iter()
        .map(|m| (m.name().to_string(), Vec::new(), Vec::new()))
        .collect();
    for seed in 0..seeds {
        let teacher = train_network(&teacher_arch, &s.train, &teacher_cfg, 1000 + seed, &device)?;
        let transfer = s.train.sample(150, seed)?;
        let outputs = teacher.encode(&transfer, &device)?;
        for (i, m) in methods(seed).iter().enumerate() {
            if compare.is_none() && i == 0 {
                continue; // one run (LELP) unless comparing
            }
            let dir = root.join(format!("{}-{seed}", m.name().replace(' ', "-")));
            // one run of 60 epochs, or 30 and then a resume from burn's checkpoint to 60
            let phases: &[(Option<usize>, usize)] = if resume {
                &[(None, 30), (Some(30), 60)]
            } else {
                &[(None, 60)]
            };
            let mut student = None;
            for &(from, to) in phases {
                if from.is_some() {
                    eprintln!("stopped after 30 epochs; resuming from burn-train's checkpoint");
                }
                let fit = burn_train_fit(
                    &s,
                    &transfer,
                    m,
                    &outputs,
                    seed,
                    &dir,
                    (from, to),
                    devices,
                    &device,
                    ddp,
                )?;
                student = Some(fit);
            }
            let student = student.ok_or("no training phase ran")?;
            let acc_bt = accuracy(&student, &s.test, &device)?;
            table[i].1.push(acc_bt);
            if compare.is_some() {
                table[i]
                    .2
                    .push(distiller_accuracy(&s, &transfer, m, &outputs, seed, &device)?);
            }
            eprintln!(
                "seed {seed}, {}: burn-train {:.1}% ({:.0}s)",
                m.name(),
                100.0 * acc_bt,
                start.elapsed().as_secs_f64()
            );
        }
    }
    print_table(&table);
    println!(
        "\nUCI parity, transfer 150, student 64-32-32, 60 epochs, Adam 3e-3, batch 32; {seeds} seed(s), {devices} device(s){}; {:.0}s; runs in {}",
        if resume { ", resumed at epoch 30" } else { "" },
        start.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}
