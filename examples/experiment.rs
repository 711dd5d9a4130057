//! Experiment runner: the paper's comparison, driven by a JSON config.
//!
//! ```text
//! cargo run --release --example experiment -- experiments/mnist-parity.json [--device flex] [--seeds N]
//! ```
//! For each seed it trains the teacher once on the training split, computes
//! the teacher's outputs on each transfer set once, then trains the student
//! with every method and scores it on the test split. It appends one JSON
//! line per run to `<output>/results.jsonl` (rewritten at the start), writes
//! `<output>/table.md` (mean ± std per setting and method), and, with
//! `--plot`, SVG plots of accuracy against the transfer-set size and S.
//!
//! Data sources: `"uci-digits"` (embedded), `"mnist-10k"` (from
//! `data_dir`, default `../shared/data/mnist-10k`; `scripts/fetch-mnist.sh`
//! fetches it), or `{"npy": {...}}` for your own `.npy` files (features
//! `[N, ...]` u8 or f32, labels `[N]`, optional fine labels `[N]`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

mod support;

use lelp::data::Dataset;
use lelp::io::npy::NpyArray;
use lelp::train::{DistillConfig, Method};
use serde::{Deserialize, Serialize};
use support::{Arch, Run, arg, mean_std, train_network};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    data: DataSpec,
    #[serde(default = "default_test_fraction")]
    test_fraction: f64,
    transfer_sizes: Vec<usize>,
    teacher: NetSpec,
    student: NetSpec,
    seeds: Vec<u64>,
    methods: Vec<MethodEntry>,
    output: PathBuf,
}

fn default_test_fraction() -> f64 {
    0.3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataSpec {
    source: Source,
    /// `"parity"`, `"none"`, or a map from fine label to class.
    #[serde(default)]
    grouping: Grouping,
    /// Folder of `mnist-10k` (X_u8.npy, y_u8.npy).
    #[serde(default)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Source {
    UciDigits,
    #[serde(rename = "mnist-10k")]
    Mnist10k,
    Npy {
        features: PathBuf,
        labels: PathBuf,
        #[serde(default)]
        fine_labels: Option<PathBuf>,
        #[serde(default = "one")]
        scale: f32,
        #[serde(default)]
        image_shape: Option<[usize; 2]>,
    },
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Grouping {
    #[default]
    None,
    Named(String),
    Map(Vec<usize>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetSpec {
    arch: Arch,
    epochs: usize,
    lr: f64,
    #[serde(default = "default_batch")]
    batch_size: usize,
}

fn default_batch() -> usize {
    64
}

/// A method in the library's own schema (`{"kind": "lelp", "subclasses":
/// 5, ...}`, see `lelp::train::Method`) with an optional table label.
#[derive(Debug, Clone, Deserialize)]
struct MethodEntry {
    #[serde(default)]
    label: Option<String>,
    #[serde(flatten)]
    method: Method,
}

impl MethodEntry {
    /// The method with its seed set to the run's.
    fn for_seed(&self, seed: u64) -> Method {
        let mut m = self.method.clone();
        match &mut m {
            Method::Lelp(l) | Method::RandomProjection(l) => l.subspace.seed = seed,
            Method::KMeans(k) => k.seed = seed,
            _ => {}
        }
        m
    }

    fn name(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.method.name().to_string())
    }

    fn s(&self) -> Option<usize> {
        match &self.method {
            Method::Lelp(l) | Method::RandomProjection(l) => Some(l.subspace.subclasses),
            Method::KMeans(k) => Some(k.subclasses),
            _ => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Row {
    experiment: String,
    device: String,
    method: String,
    s: Option<usize>,
    transfer_size: usize,
    seed: u64,
    accuracy: f64,
    teacher_accuracy: f64,
    seconds: f64,
}

fn load_data(spec: &DataSpec) -> Result<Dataset, Box<dyn std::error::Error>> {
    let ds = match &spec.source {
        Source::UciDigits => Dataset::uci_digits(),
        Source::Mnist10k => {
            let dir = spec
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("../shared/data/mnist-10k"));
            let d = Dataset::from_npy(dir.join("X_u8.npy"), dir.join("y_u8.npy"), 1.0 / 255.0, Some(10))?;
            let fine = d.labels().to_vec();
            d.with_fine_labels(fine)?.with_image_shape(28, 28)?
        }
        Source::Npy {
            features,
            labels,
            fine_labels,
            scale,
            image_shape,
        } => {
            let mut d = Dataset::from_npy(features, labels, *scale, None)?;
            if let Some(f) = fine_labels {
                d = d.with_fine_labels(NpyArray::read(f)?.to_labels()?)?;
            }
            if let Some([h, w]) = image_shape {
                d = d.with_image_shape(*h, *w)?;
            }
            d
        }
    };
    Ok(match &spec.grouping {
        Grouping::None => ds,
        Grouping::Named(n) if n == "parity" => ds.parity()?,
        Grouping::Named(n) if n == "none" => ds,
        Grouping::Named(n) => return Err(format!("unknown grouping '{n}' (use \"parity\", \"none\" or a map)").into()),
        Grouping::Map(m) => {
            let k = m.iter().max().map_or(1, |x| x + 1);
            ds.relabel(m, k)?
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .iter()
        .skip(1)
        .find(|a| a.ends_with(".json"))
        .ok_or("usage: experiment CONFIG.json [--device NAME] [--seeds N] [--plot]")?;
    let mut cfg: Config = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    if let Some(n) = arg(&args, "--seeds") {
        cfg.seeds.truncate(n.parse()?);
    }
    let device_name = arg(&args, "--device")
        .or_else(|| std::env::var("LELP_DEVICE").ok())
        .unwrap_or_else(|| "flex".into());
    let device = support::device::by_name(&device_name)?;
    let data = load_data(&cfg.data)?;
    let (train, test) = data.split(cfg.test_fraction, 12345)?;
    std::fs::create_dir_all(&cfg.output)?;
    let results = cfg.output.join("results.jsonl");
    let mut out = std::fs::File::create(&results)?;
    eprintln!(
        "{}: {} train / {} test rows, {} classes, {} seeds, {} methods, transfer sizes {:?} on {device_name}",
        cfg.name,
        train.len(),
        test.len(),
        train.num_classes(),
        cfg.seeds.len(),
        cfg.methods.len(),
        cfg.transfer_sizes
    );
    let start = Instant::now();
    let tcfg = DistillConfig::new(cfg.teacher.epochs, cfg.teacher.lr).with_batch_size(cfg.teacher.batch_size);
    let scfg = DistillConfig::new(cfg.student.epochs, cfg.student.lr).with_batch_size(cfg.student.batch_size);
    let mut rows = Vec::new();
    for &seed in &cfg.seeds {
        let teacher = train_network(&cfg.teacher.arch, &train, &tcfg, 1000 + seed, &device)?;
        let teacher_acc = teacher.accuracy(&test, &device)?;
        eprintln!(
            "seed {seed}: teacher {:.2}% ({:.0}s)",
            100.0 * teacher_acc,
            start.elapsed().as_secs_f64()
        );
        for &size in &cfg.transfer_sizes {
            let transfer = train.sample(size.min(train.len()), seed)?;
            let outputs = teacher.encode(&transfer, &device)?;
            let run = Run {
                arch: &cfg.student.arch,
                transfer: &transfer,
                teacher: Some(&outputs),
                test: &test,
                config: &scfg,
                seed,
            };
            for entry in &cfg.methods {
                let t0 = Instant::now();
                let acc = run.score(&entry.for_seed(seed), &device)?;
                let row = Row {
                    experiment: cfg.name.clone(),
                    device: device_name.clone(),
                    method: entry.name(),
                    s: entry.s(),
                    transfer_size: transfer.len(),
                    seed,
                    accuracy: acc,
                    teacher_accuracy: teacher_acc,
                    seconds: t0.elapsed().as_secs_f64(),
                };
                writeln!(out, "{}", serde_json::to_string(&row)?)?;
                rows.push(row);
            }
        }
        out.flush()?;
    }
    let table = markdown_table(&cfg.name, &rows);
    std::fs::write(cfg.output.join("table.md"), &table)?;
    println!("{table}");
    eprintln!("wrote {} ({:.0}s)", results.display(), start.elapsed().as_secs_f64());
    Ok(())
}

fn markdown_table(name: &str, rows: &[Row]) -> String {
    let mut by: BTreeMap<(usize, usize), (String, Vec<f64>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in rows {
        if !order.contains(&r.method) {
            order.push(r.method.clone());
        }
        let idx = order.iter().position(|m| m == &r.method).unwrap();
        by.entry((r.transfer_size, idx))
            .or_insert_with(|| (r.method.clone(), Vec::new()))
            .1
            .push(r.accuracy);
    }
    let teacher: Vec<f64> = {
        let mut seen = BTreeMap::new();
        for r in rows {
            seen.insert(r.seed, r.teacher_accuracy);
        }
        seen.into_values().collect()
    };
    let (tm, ts) = mean_std(&teacher);
    let mut s = format!(
        "### {name}\n\nteacher: {:.1} ± {:.1} % ({} seeds)\n\n| transfer set | method | accuracy (%) | seeds |\n|---|---|---|---|\n",
        100.0 * tm,
        100.0 * ts,
        teacher.len()
    );
    for ((size, _), (m, v)) in by {
        let (mean, std) = mean_std(&v);
        s.push_str(&format!(
            "| {size} | {m} | {:.1} ± {:.1} | {} |\n",
            100.0 * mean,
            100.0 * std,
            v.len()
        ));
    }
    s
}
