//! The experiment config (JSON) and the data sources it names.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::grid::MethodEntry;
use super::network::Arch;
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::io::npy::NpyArray;
use crate::train::DistillConfig;

/// A comparison: data, teacher and student, transfer-set sizes, seeds,
/// methods (each optionally with a tuning grid) and where results go.
///
/// ```
/// use lelp::experiment::ExperimentConfig;
/// let cfg = ExperimentConfig::from_json(r#"{
///     "name": "digits", "data": {"source": "uci-digits", "grouping": "parity"},
///     "transfer_sizes": [150], "seeds": [0, 1],
///     "teacher": {"arch": {"Mlp": {"hidden": [256, 128]}}, "epochs": 30, "lr": 0.001},
///     "student": {"arch": {"Mlp": {"hidden": [32, 32]}}, "epochs": 60, "lr": 0.003, "batch_size": 32},
///     "methods": [{"kind": "plain"}, {"kind": "vanilla_kd", "tau": 2}],
///     "output": "results/digits"
/// }"#)?;
/// assert_eq!(cfg.methods.len(), 2);
/// assert!(cfg.data.load()?.num_classes() == 2);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name in tables and rows.
    pub name: String,
    /// The data.
    pub data: DataSpec,
    /// Share of the rows held out for testing when the source has no split
    /// of its own (default 0.3).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Transfer-set sizes (each a seeded sample of the training split).
    pub transfer_sizes: Vec<usize>,
    /// The teacher network and its training.
    pub teacher: NetSpec,
    /// The student network and its training.
    pub student: NetSpec,
    /// Seeds (the teacher's and each student's).
    pub seeds: Vec<u64>,
    /// The methods compared.
    pub methods: Vec<MethodEntry>,
    /// The tuning protocol, when grids are given.
    #[serde(default)]
    pub tuning: Option<Tuning>,
    /// Folder of `results.jsonl` and `table.md`.
    pub output: PathBuf,
}

/// The tuning protocol's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// Share of each transfer set held out to select a grid point (default 0.25).
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
}

fn default_validation_fraction() -> f64 {
    0.25
}

fn default_test_fraction() -> f64 {
    0.3
}

/// Where the rows come from and how their labels are grouped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The source.
    pub source: Source,
    /// `"parity"`, `"none"`, or a map from label to class.
    #[serde(default)]
    pub grouping: Grouping,
    /// Folder of `mnist-10k` (`X_u8.npy`, `y_u8.npy`; default
    /// `../shared/data/mnist-10k`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
}

/// A data source.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The embedded UCI digits (feature `digits`).
    UciDigits,
    /// 10,000 MNIST digits from `data_dir` (`scripts/fetch-mnist.sh`).
    #[serde(rename = "mnist-10k")]
    Mnist10k,
    /// Your own `.npy` files.
    Npy {
        /// Features `[N, ...]`, u8 or f32.
        features: PathBuf,
        /// Labels `[N]`.
        labels: PathBuf,
        /// Fine labels `[N]` (for the oracle and alignment).
        #[serde(default)]
        fine_labels: Option<PathBuf>,
        /// Factor applied to the features (default 1).
        #[serde(default = "one")]
        scale: f32,
        /// `[height, width]` for CNNs.
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

/// How labels are grouped into the task's classes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Grouping {
    /// The labels as they are.
    #[default]
    None,
    /// `"parity"` (even against odd labels) or `"none"`.
    Named(String),
    /// Class of each label.
    Map(Vec<usize>),
}

/// A network and how it is trained.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    /// Architecture.
    pub arch: Arch,
    /// Epochs.
    pub epochs: usize,
    /// Learning rate.
    pub lr: f64,
    /// Batch size (default 64).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Lazy Adam on the network's embedding tables (the bag's hashed
    /// table; [`DistillConfig::lazy_tables`]); default false.
    #[serde(default)]
    pub lazy_tables: bool,
}

fn default_batch() -> usize {
    64
}

impl NetSpec {
    /// The training configuration.
    pub fn distill_config(&self) -> DistillConfig {
        DistillConfig::new(self.epochs, self.lr)
            .with_batch_size(self.batch_size)
            .with_lazy_tables(self.lazy_tables)
    }
}

impl ExperimentConfig {
    /// Reads a config file.
    ///
    /// # Errors
    /// File errors; [`LelpError::InvalidConfig`] for bad JSON, unknown
    /// fields or an unequal tuning budget ([`ExperimentConfig::check`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LelpError::io(path, e))?;
        Self::from_json(&text).map_err(|e| match e {
            LelpError::InvalidConfig { reason } => LelpError::InvalidConfig {
                reason: format!("{}: {reason}", path.display()),
            },
            e => e,
        })
    }

    /// Parses a config.
    ///
    /// # Errors
    /// As [`ExperimentConfig::from_file`].
    pub fn from_json(text: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| LelpError::InvalidConfig { reason: e.to_string() })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks what can be checked before any work: at least one seed,
    /// method and transfer size; the tuning budget
    /// ([`super::check_budget`]); a validation fraction in `(0, 1)`.
    ///
    /// # Errors
    /// [`LelpError::InvalidConfig`] naming the problem.
    pub fn check(&self) -> Result<Option<usize>> {
        let bad = |reason: &str| {
            Err(LelpError::InvalidConfig {
                reason: reason.to_string(),
            })
        };
        if self.seeds.is_empty() {
            return bad("no seeds");
        }
        if self.methods.is_empty() {
            return bad("no methods");
        }
        if self.transfer_sizes.is_empty() {
            return bad("no transfer sizes");
        }
        if let Some(t) = &self.tuning
            && !(t.validation_fraction > 0.0 && t.validation_fraction < 1.0)
        {
            return bad("tuning.validation_fraction must be in (0, 1)");
        }
        super::check_budget(&self.methods, self.tuning.is_some())
    }
}

impl DataSpec {
    /// The rows, grouped.
    ///
    /// # Errors
    /// File errors; [`LelpError::InvalidConfig`] for an unknown grouping
    /// name or a source this build lacks.
    pub fn load(&self) -> Result<Dataset> {
        let ds = match &self.source {
            #[cfg(feature = "digits")]
            Source::UciDigits => Dataset::uci_digits(),
            #[cfg(not(feature = "digits"))]
            Source::UciDigits => {
                return Err(LelpError::InvalidConfig {
                    reason: "uci-digits needs the `digits` feature".into(),
                });
            }
            Source::Mnist10k => {
                let dir = self
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
        match &self.grouping {
            Grouping::None => Ok(ds),
            Grouping::Named(n) if n == "parity" => ds.parity(),
            Grouping::Named(n) if n == "none" => Ok(ds),
            Grouping::Named(n) => Err(LelpError::InvalidConfig {
                reason: format!("unknown grouping '{n}' (use \"parity\", \"none\" or a map)"),
            }),
            Grouping::Map(m) => {
                let k = m.iter().max().map_or(1, |x| x + 1);
                ds.relabel(m, k)
            }
        }
    }

    /// The train and test rows of `data` (as [`DataSpec::load`] returned
    /// it): the source's own split where it has one, else a seeded random
    /// `test_fraction`.
    ///
    /// # Errors
    /// File errors; [`LelpError::DimensionMismatch`] when the split file's
    /// length is not the data's.
    pub fn train_test(&self, data: &Dataset, test_fraction: f64) -> Result<(Dataset, Dataset)> {
        if let Source::Npy { split: Some(path), .. } = &self.source {
            let split = NpyArray::read(path)?.to_labels()?;
            if split.len() != data.len() {
                return Err(LelpError::DimensionMismatch {
                    what: "the split file's rows",
                    expected: data.len(),
                    got: split.len(),
                });
            }
            let rows = |code: usize| -> Vec<usize> { (0..split.len()).filter(|&i| split[i] == code).collect() };
            return Ok((data.subset(&rows(0))?, data.subset(&rows(1))?));
        }
        data.split(test_fraction, 12345)
    }
}
