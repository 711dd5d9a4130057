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
//! Tuning (`"tuning": {"validation_fraction": 0.25}` and a `"grid"` per
//! method, e.g. `{"kind": "vanilla_kd", "grid": {"tau": [1, 2, 4]}}`):
//! every method with a grid gets the same number of grid points (the
//! runner refuses an unequal budget); per seed and transfer set, each point
//! trains on the transfer set less a stratified validation part and is
//! scored on that part, never on the test split; the best point is
//! retrained on the whole transfer set and scored on the test split. The
//! selected setting is recorded with each row. Subclass Distillation
//! trains its own teacher (`C * S` outputs and the auxiliary loss) per
//! seed and teacher setting.
//!
//! Data sources: `"uci-digits"` (embedded), `"mnist-10k"` (from
//! `data_dir`, default `../shared/data/mnist-10k`; `scripts/fetch-mnist.sh`
//! fetches it), or `{"npy": {...}}` for your own `.npy` files (features
//! `[N, ...]` u8 or f32, labels `[N]`, optional fine labels `[N]`, and an
//! optional `"split"` `[N]`: the data's own split, 0 train and 1 test,
//! instead of a random `test_fraction`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

mod support;

use burn::prelude::Device;
use lelp::data::Dataset;
use lelp::io::npy::NpyArray;
use lelp::teacher::TeacherOutput;
use lelp::train::{DistillConfig, Method};
use serde::{Deserialize, Serialize};
use support::{Arch, Network, Run, arg, mean_std, train_network, train_network_on};

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
    #[serde(default)]
    tuning: Option<Tuning>,
    output: PathBuf,
}

/// The tuning protocol's options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tuning {
    /// Share of each transfer set held out to select a grid point.
    #[serde(default = "default_validation_fraction")]
    validation_fraction: f64,
}

fn default_validation_fraction() -> f64 {
    0.25
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
        /// The data's own split, `[N]` integers: 0 train, 1 test, other
        /// values unused (instead of a random `test_fraction`).
        #[serde(default)]
        split: Option<PathBuf>,
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
    /// Values to try per option (a cartesian product), for tuning.
    #[serde(default)]
    grid: BTreeMap<String, Vec<serde_json::Value>>,
    #[serde(flatten)]
    method: Method,
}

impl MethodEntry {
    /// The method with its seed set to the run's.
    fn for_seed(&self, seed: u64) -> Method {
        let mut m = self.method.clone();
        set_seed(&mut m, seed);
        m
    }

    fn name(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.method.name().to_string())
    }

    /// The grid's points (the method itself without a grid), each checked:
    /// every grid key must be an option of the method.
    fn points(&self) -> Result<Vec<Method>, Box<dyn std::error::Error>> {
        let mut points = vec![serde_json::to_value(&self.method)?];
        for (key, values) in &self.grid {
            if values.is_empty() {
                return Err(format!("{}: empty grid for '{key}'", self.name()).into());
            }
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut p = p.clone();
                        p[key.as_str()] = v.clone();
                        p
                    })
                })
                .collect();
        }
        points
            .into_iter()
            .map(|p| {
                let m: Method = serde_json::from_value(p.clone())?;
                let back = serde_json::to_value(&m)?;
                for key in self.grid.keys() {
                    let same = match (back.get(key), p.get(key)) {
                        (Some(a), Some(b)) => a == b || (a.as_f64().is_some() && a.as_f64() == b.as_f64()),
                        _ => false,
                    };
                    if !same {
                        return Err(format!("{}: '{key}' is not an option of this method", self.name()).into());
                    }
                }
                Ok(m)
            })
            .collect()
    }

    fn s(&self) -> Option<usize> {
        match &self.method {
            Method::Lelp(l) | Method::RandomProjection(l) => Some(l.subspace.subclasses),
            Method::KMeans(k) => Some(k.subclasses),
            Method::SubclassDistillation(sd) => Some(sd.subclasses),
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
    /// The setting scored (the selected grid point when tuning).
    #[serde(default)]
    setting: Option<serde_json::Value>,
    /// The selected point's validation accuracy (tuning only).
    #[serde(default)]
    validation_accuracy: Option<f64>,
}

/// The train and test rows: the source's own split where it has one, else
/// a seeded random `test_fraction`.
fn train_test(
    spec: &DataSpec,
    data: &Dataset,
    test_fraction: f64,
) -> Result<(Dataset, Dataset), Box<dyn std::error::Error>> {
    if let Source::Npy { split: Some(path), .. } = &spec.source {
        let split = NpyArray::read(path)?.to_labels()?;
        if split.len() != data.len() {
            return Err(format!("{}: {} rows, the data has {}", path.display(), split.len(), data.len()).into());
        }
        let rows = |code: usize| -> Vec<usize> { (0..split.len()).filter(|&i| split[i] == code).collect() };
        return Ok((data.subset(&rows(0))?, data.subset(&rows(1))?));
    }
    Ok(data.split(test_fraction, 12345)?)
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
            ..
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
    let (train, test) = train_test(&cfg.data, &data, cfg.test_fraction)?;
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
    let budget = check_budget(&cfg)?;
    let mut rows = Vec::new();
    for &seed in &cfg.seeds {
        let teacher = train_network(&cfg.teacher.arch, &train, &tcfg, 1000 + seed, &device)?;
        let teacher_acc = teacher.accuracy(&test, &device)?;
        eprintln!(
            "seed {seed}: teacher {:.2}% ({:.0}s)",
            100.0 * teacher_acc,
            start.elapsed().as_secs_f64()
        );
        let mut teachers = Teachers {
            plain: teacher,
            subclass: BTreeMap::new(),
            arch: &cfg.teacher.arch,
            train: &train,
            config: &tcfg,
            seed,
        };
        for &size in &cfg.transfer_sizes {
            let transfer = train.sample(size.min(train.len()), seed)?;
            // the teacher's outputs on the transfer set: once, for every method but SD
            let plain_outputs = teachers.plain.encode(&transfer, &device)?;
            for entry in &cfg.methods {
                let t0 = Instant::now();
                let tuned = match (&cfg.tuning, entry.grid.is_empty()) {
                    (Some(t), false) => Some(select(
                        entry,
                        &mut teachers,
                        &transfer,
                        t,
                        &cfg.student,
                        &scfg,
                        seed,
                        &device,
                    )?),
                    _ => None,
                };
                let method = tuned.as_ref().map_or_else(|| entry.for_seed(seed), |(m, _)| m.clone());
                let outputs = match method {
                    Method::SubclassDistillation(_) => teachers.outputs(&method, &transfer, &device)?,
                    _ => plain_outputs.clone(),
                };
                let run = Run {
                    arch: &cfg.student.arch,
                    transfer: &transfer,
                    teacher: Some(&outputs),
                    test: &test,
                    config: &scfg,
                    seed,
                };
                let acc = run.score(&method, &device)?;
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
                    setting: Some(serde_json::to_value(&method)?),
                    validation_accuracy: tuned.map(|(_, v)| v),
                };
                writeln!(out, "{}", serde_json::to_string(&row)?)?;
                rows.push(row);
            }
        }
        out.flush()?;
    }
    if let Some(b) = budget {
        eprintln!("tuned: {b} grid points per method, selected on validation splits of the transfer sets");
    }
    let table = markdown_table(&cfg.name, &rows);
    std::fs::write(cfg.output.join("table.md"), &table)?;
    println!("{table}");
    eprintln!("wrote {} ({:.0}s)", results.display(), start.elapsed().as_secs_f64());
    Ok(())
}

/// The teachers of one seed: the plain one, and Subclass Distillation's,
/// trained on demand per teacher setting (`S`, auxiliary weight and
/// temperature).
struct Teachers<'a> {
    plain: Network,
    subclass: BTreeMap<(usize, u64, u64), Network>,
    arch: &'a Arch,
    train: &'a Dataset,
    config: &'a DistillConfig,
    seed: u64,
}

impl Teachers<'_> {
    /// The teacher `method` distils, on `rows`.
    fn outputs(&mut self, method: &Method, rows: &Dataset, device: &Device) -> lelp::Result<TeacherOutput> {
        let Method::SubclassDistillation(sd) = method else {
            return self.plain.encode(rows, device);
        };
        let key = (sd.subclasses, sd.aux_weight.to_bits(), sd.aux_temperature.to_bits());
        if !self.subclass.contains_key(&key) {
            let targets = sd.teacher_targets(self.train.num_classes(), self.train.len())?;
            let net = train_network_on(self.arch, self.train, &targets, self.config, 1000 + self.seed, device)?;
            self.subclass.insert(key, net);
        }
        self.subclass[&key].encode(rows, device)
    }
}

/// The number of grid points every tuned method gets; an error when they
/// differ (an unfair budget), a grid names an unknown option, or a grid
/// comes without `"tuning"`.
fn check_budget(cfg: &Config) -> Result<Option<usize>, Box<dyn std::error::Error>> {
    if cfg.tuning.is_none() {
        if let Some(e) = cfg.methods.iter().find(|e| !e.grid.is_empty()) {
            return Err(format!(
                "{} has a grid but the config has no \"tuning\": it would be ignored",
                e.name()
            )
            .into());
        }
        return Ok(None);
    }
    let mut budget = None;
    for e in cfg.methods.iter().filter(|e| !e.grid.is_empty()) {
        let n = e.points()?.len();
        match budget {
            None => budget = Some(n),
            Some(b) if b != n => {
                return Err(format!("unequal tuning budget: {} has {n} grid points, others {b}", e.name()).into());
            }
            _ => {}
        }
    }
    Ok(budget)
}

/// The tuning protocol for one method on one transfer set: each grid
/// point trains on the transfer set less a stratified validation part and
/// is scored there; returns the best point (the first on ties) and its
/// validation accuracy.
#[allow(clippy::too_many_arguments)]
fn select(
    entry: &MethodEntry,
    teachers: &mut Teachers<'_>,
    transfer: &Dataset,
    tuning: &Tuning,
    student: &NetSpec,
    config: &DistillConfig,
    seed: u64,
    device: &Device,
) -> Result<(Method, f64), Box<dyn std::error::Error>> {
    let (fit, valid) = transfer.split(tuning.validation_fraction, seed)?;
    let mut best: Option<(Method, f64)> = None;
    for point in entry.points()? {
        let mut method = point;
        set_seed(&mut method, seed);
        let outputs = teachers.outputs(&method, &fit, device)?;
        let run = Run {
            arch: &student.arch,
            transfer: &fit,
            teacher: Some(&outputs),
            test: &valid,
            config,
            seed,
        };
        let acc = run.score(&method, device)?;
        if best.as_ref().is_none_or(|(_, b)| acc > *b) {
            best = Some((method, acc));
        }
    }
    Ok(best.expect("a grid has at least one point"))
}

fn set_seed(m: &mut Method, seed: u64) {
    match m {
        Method::Lelp(l) | Method::RandomProjection(l) => l.subspace.seed = seed,
        Method::KMeans(k) => k.seed = seed,
        _ => {}
    }
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
