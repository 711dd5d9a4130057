//! Per-epoch checkpoints: model and optimizer records plus `state.json`
//! (history, best epoch), so a run resumes exactly.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::distiller::{DistillConfig, EpochReport, Trainee};
use super::student::Student;
use crate::error::{LelpError, Result};

/// Version of `state.json`.
const CKPT_VERSION: u32 = 2;

/// The checkpoint's `state.json`. serde_json (without its
/// `float_roundtrip` feature, which would rebuild burn's dependency tree)
/// can parse an f64 one ulp off, so every float is stored as its shortest
/// round-trip text and parsed with Rust's exact parser, and the config is
/// kept and compared as JSON text: a resumed run reads back exactly what it
/// wrote.
#[derive(Serialize, Deserialize)]
pub(crate) struct CheckpointState {
    format_version: u32,
    /// `serde_json::to_string(&config)`.
    config: String,
    pub(crate) epoch: usize,
    history: Vec<StoredReport>,
    #[serde(with = "exact_f64::option")]
    best_accuracy: Option<f64>,
    best_epoch: usize,
    num_params: usize,
    /// Whether the run stopped early at `epoch` (a finished run is not
    /// trained again).
    #[serde(default)]
    pub(crate) stopped_early: bool,
}

/// [`EpochReport`] with exactly round-tripping floats.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredReport {
    epoch: usize,
    #[serde(with = "exact_f64")]
    lr: f64,
    #[serde(with = "exact_f64")]
    train_loss: f64,
    #[serde(with = "exact_f64")]
    train_accuracy: f64,
    #[serde(with = "exact_f64::option")]
    valid_loss: Option<f64>,
    #[serde(with = "exact_f64::option")]
    valid_accuracy: Option<f64>,
}

impl From<&EpochReport> for StoredReport {
    fn from(r: &EpochReport) -> Self {
        Self {
            epoch: r.epoch,
            lr: r.lr,
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            valid_loss: r.valid_loss,
            valid_accuracy: r.valid_accuracy,
        }
    }
}

impl From<StoredReport> for EpochReport {
    fn from(r: StoredReport) -> Self {
        Self {
            epoch: r.epoch,
            lr: r.lr,
            train_loss: r.train_loss,
            train_accuracy: r.train_accuracy,
            valid_loss: r.valid_loss,
            valid_accuracy: r.valid_accuracy,
        }
    }
}

/// f64 as its shortest round-trip decimal text (`{:?}`), parsed back with
/// `str::parse`, which is correctly rounded.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("not a float: {text}")))
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_some(&format!("{v:?}")),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|t| t.parse().map_err(|_| D::Error::custom(format!("not a float: {t}"))))
                .transpose()
        }
    }
}

impl CheckpointState {
    /// The history read back.
    pub(crate) fn history(&self) -> Vec<EpochReport> {
        self.history.iter().cloned().map(EpochReport::from).collect()
    }
    /// `(best accuracy, its epoch)`, if any.
    pub(crate) fn best(&self) -> Option<(f64, usize)> {
        self.best_accuracy.map(|a| (a, self.best_epoch))
    }
}

/// What one checkpoint records besides the records.
pub(crate) struct Progress<'a> {
    pub epoch: usize,
    pub history: &'a [EpochReport],
    pub best: Option<(f64, usize)>,
    pub stopped_early: bool,
}

fn config_text(config: &DistillConfig) -> String {
    serde_json::to_string(config).expect("config serialises")
}

fn record_error(path: &Path, e: impl std::fmt::Display) -> LelpError {
    LelpError::Record {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Saves a module's record to `path`.
pub(crate) fn save_module<M: Module>(m: M, path: &Path) -> Result<()> {
    m.save_file(path).map_err(|e| record_error(path, e))
}

/// Writes model, optimizer and `state.json` (the last atomically, so a
/// present state names complete records).
pub(crate) fn save<S: Student>(
    dir: &Path,
    config: &DistillConfig,
    model: &Trainee<S>,
    optim: &burn::optim::ModuleOptimizer,
    progress: Progress<'_>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| LelpError::io(dir, e))?;
    save_module(model.clone(), &dir.join("model.bpk"))?;
    let op = dir.join("optimizer.bpk");
    optim.save(&op).map_err(|e| record_error(&op, e))?;
    let st = CheckpointState {
        format_version: CKPT_VERSION,
        config: config_text(config),
        epoch: progress.epoch,
        history: progress.history.iter().map(StoredReport::from).collect(),
        best_accuracy: progress.best.map(|b| b.0),
        best_epoch: progress.best.map_or(0, |b| b.1),
        num_params: model.num_params(),
        stopped_early: progress.stopped_early,
    };
    let text = serde_json::to_string_pretty(&st).expect("state serialises");
    crate::io::safetensors::write_atomic(&dir.join("state.json"), text.as_bytes())
}

/// Whether `dir` holds a checkpoint.
pub(crate) fn exists(dir: &Path) -> bool {
    dir.join("state.json").exists()
}

/// Loads model and optimizer records and the state, checking that they
/// belong to this run.
#[allow(clippy::type_complexity)]
pub(crate) fn load<S: Student>(
    dir: &Path,
    config: &DistillConfig,
    model: Trainee<S>,
    optim: burn::optim::ModuleOptimizer,
) -> Result<(Trainee<S>, burn::optim::ModuleOptimizer, CheckpointState)> {
    let sp = dir.join("state.json");
    let text = std::fs::read_to_string(&sp).map_err(|e| LelpError::io(&sp, e))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| LelpError::corrupted(&sp, e.to_string()))?;
    let found = value.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
    if found != CKPT_VERSION as u64 {
        return Err(LelpError::FormatVersion {
            path: sp,
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: CKPT_VERSION,
        });
    }
    let st: CheckpointState = serde_json::from_value(value).map_err(|e| LelpError::corrupted(&sp, e.to_string()))?;
    if st.config != config_text(config) {
        return Err(LelpError::CheckpointMismatch {
            path: dir.to_path_buf(),
            reason: "the training configuration differs".into(),
        });
    }
    if st.num_params != model.num_params() {
        return Err(LelpError::CheckpointMismatch {
            path: dir.to_path_buf(),
            reason: format!(
                "model has {} parameters, checkpoint {}",
                model.num_params(),
                st.num_params
            ),
        });
    }
    let mp = dir.join("model.bpk");
    let model = model.try_load_file(&mp).map_err(|e| record_error(&mp, e))?;
    let op = dir.join("optimizer.bpk");
    let optim = optim.load(&op).map_err(|e| record_error(&op, e))?;
    Ok((model, optim, st))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_floats_round_trip_exactly() {
        // a loss seen on wgpu that serde_json's default parser reads one ulp off
        let v = 2.5431097412109374f64;
        let plain: f64 = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_ne!(
            plain.to_bits(),
            v.to_bits(),
            "serde_json without float_roundtrip is lossy here"
        );
        let r = EpochReport {
            epoch: 2,
            lr: 3e-3,
            train_loss: v,
            train_accuracy: 0.36666666666666664,
            valid_loss: Some(v / 3.0),
            valid_accuracy: None,
        };
        let text = serde_json::to_string(&StoredReport::from(&r)).unwrap();
        let back: EpochReport = serde_json::from_str::<StoredReport>(&text).unwrap().into();
        assert_eq!(back, r);
    }
}
