//! The comparison's loop: per seed a teacher, per transfer set the
//! teacher's outputs once, per method a (tuned) student scored on the test
//! split.

use std::collections::BTreeMap;
use std::time::Instant;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::config::ExperimentConfig;
use super::grid::{MethodEntry, select};
use super::network::{Arch, Network, Run, train_network, train_network_on};
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::metrics::mean_std;
use crate::teacher::TeacherOutput;
use crate::train::{DistillConfig, Method};

/// One scored student: a line of `results.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The experiment's name.
    pub experiment: String,
    /// The device's name.
    pub device: String,
    /// The method's table name.
    pub method: String,
    /// `S` of subclass methods.
    pub s: Option<usize>,
    /// Rows in the transfer set.
    pub transfer_size: usize,
    /// The seed.
    pub seed: u64,
    /// Test accuracy.
    pub accuracy: f64,
    /// The seed's teacher's test accuracy.
    pub teacher_accuracy: f64,
    /// Seconds spent (tuning included).
    pub seconds: f64,
    /// The setting scored (the selected grid point when tuning).
    #[serde(default)]
    pub setting: Option<serde_json::Value>,
    /// The selected point's validation accuracy (tuning only).
    #[serde(default)]
    pub validation_accuracy: Option<f64>,
}

/// What [`run`] reports as it goes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The rows of the study, before any training.
    Start {
        /// Training rows.
        train: usize,
        /// Test rows.
        test: usize,
        /// Classes.
        classes: usize,
        /// Grid points per tuned method, if tuning.
        budget: Option<usize>,
    },
    /// A seed's teacher is trained.
    Teacher {
        /// The seed.
        seed: u64,
        /// Its test accuracy.
        accuracy: f64,
        /// Seconds since the start.
        elapsed: f64,
    },
    /// A student is scored.
    Row(&'a Row),
}

/// Runs the comparison `cfg` on `device` (named `device_name` in the
/// rows), calling `on_event` as it goes (e.g. to append each row to a
/// file, so an interrupted study keeps what it finished). Returns every
/// row.
///
/// # Errors
/// [`ExperimentConfig::check`]'s, the data's, and the first training error.
pub fn run(
    cfg: &ExperimentConfig,
    device: &Device,
    device_name: &str,
    on_event: &mut dyn FnMut(Event<'_>) -> Result<()>,
) -> Result<Vec<Row>> {
    let budget = cfg.check()?;
    let data = cfg.data.load()?;
    let (train, test) = cfg.data.train_test(&data, cfg.test_fraction)?;
    on_event(Event::Start {
        train: train.len(),
        test: test.len(),
        classes: train.num_classes(),
        budget,
    })?;
    let start = Instant::now();
    let tcfg = cfg.teacher.distill_config();
    let mut rows = Vec::new();
    for &seed in &cfg.seeds {
        let teacher = train_network(&cfg.teacher.arch, &train, &tcfg, 1000 + seed, device)?;
        let teacher_accuracy = teacher.accuracy(&test, device)?;
        on_event(Event::Teacher {
            seed,
            accuracy: teacher_accuracy,
            elapsed: start.elapsed().as_secs_f64(),
        })?;
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
            let plain_outputs = teachers.plain.encode(&transfer, device)?;
            for entry in &cfg.methods {
                let cell = Cell {
                    cfg,
                    transfer: &transfer,
                    test: &test,
                    plain_outputs: &plain_outputs,
                    seed,
                    device,
                };
                let mut row = cell.score(entry, &mut teachers)?;
                row.device = device_name.to_string();
                row.teacher_accuracy = teacher_accuracy;
                on_event(Event::Row(&row))?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// One seed and transfer set of the study.
struct Cell<'a> {
    cfg: &'a ExperimentConfig,
    transfer: &'a Dataset,
    test: &'a Dataset,
    plain_outputs: &'a TeacherOutput,
    seed: u64,
    device: &'a Device,
}

impl Cell<'_> {
    /// The row of `entry`: tuned on a validation split of the transfer set
    /// when it has a grid and the config tunes, then trained on the whole
    /// transfer set and scored on the test split.
    fn score(&self, entry: &MethodEntry, teachers: &mut Teachers<'_>) -> Result<Row> {
        let t0 = Instant::now();
        let scfg = self.cfg.student.distill_config();
        let tuned = match (&self.cfg.tuning, entry.grid.is_empty()) {
            (Some(t), false) => Some(select(
                entry,
                self.transfer,
                t.validation_fraction,
                self.seed,
                |method, fit, valid| {
                    let outputs = teachers.outputs(method, fit, self.device)?;
                    self.run(&scfg, fit, &outputs, valid).score(method, self.device)
                },
            )?),
            _ => None,
        };
        let method = tuned
            .as_ref()
            .map_or_else(|| entry.for_seed(self.seed), |(m, _)| m.clone());
        let outputs = match method {
            Method::SubclassDistillation(_) => teachers.outputs(&method, self.transfer, self.device)?,
            _ => self.plain_outputs.clone(),
        };
        let accuracy = self
            .run(&scfg, self.transfer, &outputs, self.test)
            .score(&method, self.device)?;
        Ok(Row {
            experiment: self.cfg.name.clone(),
            device: String::new(),
            method: entry.name(),
            s: entry.subclasses(),
            transfer_size: self.transfer.len(),
            seed: self.seed,
            accuracy,
            teacher_accuracy: f64::NAN,
            seconds: t0.elapsed().as_secs_f64(),
            setting: Some(
                serde_json::to_value(&method).map_err(|e| LelpError::InvalidConfig { reason: e.to_string() })?,
            ),
            validation_accuracy: tuned.map(|(_, v)| v),
        })
    }

    fn run<'b>(
        &'b self,
        config: &'b DistillConfig,
        transfer: &'b Dataset,
        teacher: &'b TeacherOutput,
        test: &'b Dataset,
    ) -> Run<'b> {
        Run {
            arch: &self.cfg.student.arch,
            transfer,
            teacher: Some(teacher),
            test,
            config,
            seed: self.seed,
            initial_table: None,
        }
    }
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
    /// The outputs on `rows` of the teacher `method` distils.
    fn outputs(&mut self, method: &Method, rows: &Dataset, device: &Device) -> Result<TeacherOutput> {
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

/// The study's table in Markdown: the teacher's mean ± std over seeds,
/// then per transfer size and method (in first-seen order) the mean ± std
/// test accuracy in percent and the number of seeds.
///
/// ```
/// use lelp::experiment::{Row, markdown_table};
/// let row = |method: &str, seed, accuracy| Row {
///     experiment: "x".into(), device: "flex".into(), method: method.into(), s: None,
///     transfer_size: 100, seed, accuracy, teacher_accuracy: 0.9, seconds: 1.0,
///     setting: None, validation_accuracy: None,
/// };
/// let t = markdown_table("x", &[row("KD", 0, 0.80), row("KD", 1, 0.82)]);
/// assert!(t.contains("| 100 | KD | 81.0 ± 1.4 | 2 |"));
/// ```
pub fn markdown_table(name: &str, rows: &[Row]) -> String {
    let mut order: Vec<&str> = Vec::new();
    let mut by: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    let mut teacher = BTreeMap::new();
    for r in rows {
        let idx = match order.iter().position(|m| *m == r.method) {
            Some(i) => i,
            None => {
                order.push(&r.method);
                order.len() - 1
            }
        };
        by.entry((r.transfer_size, idx)).or_default().push(r.accuracy);
        teacher.insert(r.seed, r.teacher_accuracy);
    }
    let teacher: Vec<f64> = teacher.into_values().collect();
    let (tm, ts) = mean_std(&teacher);
    let mut s = format!(
        "### {name}\n\nteacher: {:.1} ± {:.1} % ({} seeds)\n\n| transfer set | method | accuracy (%) | seeds |\n|---|---|---|---|\n",
        100.0 * tm,
        100.0 * ts,
        teacher.len()
    );
    for ((size, idx), v) in by {
        let (mean, std) = mean_std(&v);
        s.push_str(&format!(
            "| {size} | {} | {:.1} ± {:.1} | {} |\n",
            order[idx],
            100.0 * mean,
            100.0 * std,
            v.len()
        ));
    }
    s
}
