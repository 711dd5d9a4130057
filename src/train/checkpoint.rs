//! Crash-consistent per-epoch checkpoints.
//!
//! One checkpoint is one atomic unit: epoch `k` writes its records
//! (`model.bpk`, `optimizer.bpk`, and `best.bpk` when the best epoch's
//! weights are kept) into a fresh folder `epoch-00000k/`, flushes each to
//! disk, then renames a new `state.json` over the old one. The manifest
//! names the folder, each file's length and FNV-1a hash, the training
//! config, and a fingerprint of the data, targets and method; only after
//! the rename are older folders pruned. A crash at any moment leaves the
//! previous manifest pointing at complete files (or no manifest: a fresh
//! start). On resume every file is checked against the manifest, and a
//! different run is refused.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::config::{DistillConfig, EpochReport, Trainee};
use super::student::Student;
use crate::error::{LelpError, Result};
use crate::util::Fnv64;

/// Version of `state.json`.
const CKPT_VERSION: u32 = 3;
const STATE: &str = "state.json";

/// One record file of a checkpoint, as the manifest knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredFile {
    name: String,
    len: u64,
    /// FNV-1a 64 of the bytes, hex.
    fnv64: String,
}

/// The checkpoint's `state.json`. serde_json (without its
/// `float_roundtrip` feature, which would rebuild burn's dependency tree)
/// can parse an f64 one ulp off, so every float is stored as its shortest
/// round-trip text and parsed with Rust's exact parser, and the config is
/// kept and compared as JSON text: a resumed run reads back exactly what it
/// wrote.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointState {
    format_version: u32,
    /// `serde_json::to_string(&config)`.
    config: String,
    /// FNV-1a 64 of the training rows, labels, targets and loss weights.
    fingerprint: String,
    epoch: usize,
    /// The folder holding this epoch's records.
    folder: String,
    files: Vec<StoredFile>,
    history: Vec<StoredReport>,
    #[serde(with = "exact_f64::option")]
    best_accuracy: Option<f64>,
    best_epoch: usize,
    num_params: usize,
    /// Whether the run stopped early at `epoch` (a finished run is not
    /// trained again).
    stopped_early: bool,
}

/// What a checkpoint directory holds, read without loading the model.
///
/// # Example
/// ```
/// use lelp::train::CheckpointInfo;
/// let dir = std::env::temp_dir().join("lelp-doc-no-checkpoint");
/// assert!(CheckpointInfo::read(&dir)?.is_none());
/// assert!(CheckpointInfo::parse(b"{not json", "state.json").is_err());
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointInfo {
    /// Epochs completed.
    pub epoch: usize,
    /// Their reports.
    pub history: Vec<EpochReport>,
    /// The best validation accuracy and its epoch, if any.
    pub best: Option<(f64, usize)>,
    /// Whether the run stopped early (it will not train again).
    pub stopped_early: bool,
}

impl CheckpointInfo {
    /// Reads `dir/state.json`; `None` when the directory holds no
    /// checkpoint.
    ///
    /// # Errors
    /// [`LelpError::Corrupted`] for a damaged manifest,
    /// [`LelpError::FormatVersion`] for another version, I/O errors.
    pub fn read(dir: impl AsRef<Path>) -> Result<Option<Self>> {
        let path = dir.as_ref().join(STATE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&bytes, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LelpError::io(&path, e)),
        }
    }

    /// Parses a manifest's bytes (`path` names it in errors).
    ///
    /// # Errors
    /// As [`CheckpointInfo::read`].
    pub fn parse(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let st = CheckpointState::parse(bytes, path.as_ref())?;
        Ok(Self {
            epoch: st.epoch,
            history: st.history(),
            best: st.best(),
            stopped_early: st.stopped_early,
        })
    }
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
    /// Parses and checks a manifest: version, shape of every field, a
    /// history as long as the epochs, record files inside the folder.
    fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let st: CheckpointState =
            crate::io::read_versioned(bytes, path, "checkpoint state", CKPT_VERSION..=CKPT_VERSION)?;
        let safe = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                && n != "."
                && n != ".."
        };
        if st.history.len() != st.epoch
            || !safe(&st.folder)
            || st.files.iter().any(|f| !safe(&f.name))
            || st.best_epoch > st.epoch
        {
            return Err(LelpError::corrupted(path, "inconsistent checkpoint manifest"));
        }
        Ok(st)
    }
    /// The history read back.
    pub(crate) fn history(&self) -> Vec<EpochReport> {
        self.history.iter().cloned().map(EpochReport::from).collect()
    }
    /// `(best accuracy, its epoch)`, if any.
    pub(crate) fn best(&self) -> Option<(f64, usize)> {
        self.best_accuracy.map(|a| (a, self.best_epoch))
    }
    pub(crate) fn epoch(&self) -> usize {
        self.epoch
    }
    pub(crate) fn stopped_early(&self) -> bool {
        self.stopped_early
    }
}

/// What one checkpoint records besides the records.
pub(crate) struct Progress<'a> {
    pub epoch: usize,
    pub history: &'a [EpochReport],
    pub best: Option<(f64, usize)>,
    pub stopped_early: bool,
}

/// The records of one checkpoint.
pub(crate) struct Records<'a, S: Student> {
    pub model: &'a Trainee<S>,
    pub optim: &'a burn::optim::ModuleOptimizer,
    pub best: Option<&'a Trainee<S>>,
}

/// A run's identity: its config and the fingerprint of what it trains on.
pub(crate) struct RunId<'a> {
    pub config: &'a DistillConfig,
    pub fingerprint: String,
}

fn config_text(config: &DistillConfig) -> String {
    serde_json::to_string(config).expect("config serialises")
}

fn record_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> LelpError {
    LelpError::Record {
        path: path.to_path_buf(),
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

/// Saves a module's record to `path`.
pub(crate) fn save_module<M: Module>(m: M, path: &Path) -> Result<()> {
    m.save_file(path).map_err(|e| record_error(path, e))
}

/// Flushes `path` to disk and returns its manifest entry.
fn seal(path: &Path) -> Result<StoredFile> {
    let bytes = crate::io::read(path)?;
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| LelpError::io(path, e))?;
    Ok(StoredFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        len: bytes.len() as u64,
        fnv64: format!("{:016x}", Fnv64::hash(&bytes)),
    })
}

fn folder_name(epoch: usize) -> String {
    format!("epoch-{epoch:06}")
}

/// Writes epoch `progress.epoch`'s records into a fresh folder, then the
/// manifest (atomically), then prunes older folders.
pub(crate) fn save<S: Student>(dir: &Path, id: &RunId<'_>, rec: Records<'_, S>, progress: Progress<'_>) -> Result<()> {
    let folder = folder_name(progress.epoch);
    let fd = dir.join(&folder);
    if fd.exists() {
        // a leftover of a run that crashed before its manifest named it
        std::fs::remove_dir_all(&fd).map_err(|e| LelpError::io(&fd, e))?;
    }
    std::fs::create_dir_all(&fd).map_err(|e| LelpError::io(&fd, e))?;
    save_module(rec.model.clone(), &fd.join("model.bpk"))?;
    let op = fd.join("optimizer.bpk");
    rec.optim.save(&op).map_err(|e| record_error(&op, e))?;
    let mut files = vec![seal(&fd.join("model.bpk"))?, seal(&op)?];
    if let Some(b) = rec.best {
        save_module(b.clone(), &fd.join("best.bpk"))?;
        files.push(seal(&fd.join("best.bpk"))?);
    }
    if let Ok(d) = std::fs::File::open(&fd) {
        let _ = d.sync_all();
    }
    let st = CheckpointState {
        format_version: CKPT_VERSION,
        config: config_text(id.config),
        fingerprint: id.fingerprint.clone(),
        epoch: progress.epoch,
        folder: folder.clone(),
        files,
        history: progress.history.iter().map(StoredReport::from).collect(),
        best_accuracy: progress.best.map(|b| b.0),
        best_epoch: progress.best.map_or(0, |b| b.1),
        num_params: rec.model.num_params(),
        stopped_early: progress.stopped_early,
    };
    let text = serde_json::to_string_pretty(&st).expect("state serialises");
    crate::io::write_atomic(dir.join(STATE), text.as_bytes())?;
    prune(dir, &folder);
    Ok(())
}

/// Removes every `epoch-*` folder but `keep` (best effort: a leftover is
/// removed by a later save).
fn prune(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("epoch-") && name != keep {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The manifest of `dir`, if any.
pub(crate) fn read_state(dir: &Path) -> Result<Option<CheckpointState>> {
    let path = dir.join(STATE);
    match std::fs::read(&path) {
        Ok(bytes) => CheckpointState::parse(&bytes, &path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LelpError::io(&path, e)),
    }
}

/// The path of a record after checking it against the manifest.
fn verified(dir: &Path, st: &CheckpointState, name: &str) -> Result<Option<PathBuf>> {
    let Some(f) = st.files.iter().find(|f| f.name == name) else {
        return Ok(None);
    };
    let path = dir.join(&st.folder).join(name);
    let bytes = crate::io::read(&path)?;
    if bytes.len() as u64 != f.len || format!("{:016x}", Fnv64::hash(&bytes)) != f.fnv64 {
        return Err(LelpError::corrupted(
            &path,
            "the record does not match the checkpoint manifest",
        ));
    }
    Ok(Some(path))
}

/// Loads model, optimizer and best-model records, checking that the
/// checkpoint belongs to this run and that every file is intact.
#[allow(clippy::type_complexity)]
pub(crate) fn load<S: Student>(
    dir: &Path,
    st: &CheckpointState,
    id: &RunId<'_>,
    model: Trainee<S>,
    optim: burn::optim::ModuleOptimizer,
) -> Result<(Trainee<S>, burn::optim::ModuleOptimizer, Option<Trainee<S>>)> {
    let mismatch = |reason: String| LelpError::CheckpointMismatch {
        path: dir.to_path_buf(),
        reason,
    };
    if st.config != config_text(id.config) {
        return Err(mismatch("the training configuration differs".into()));
    }
    if st.fingerprint != id.fingerprint {
        return Err(mismatch("the training rows, labels, targets or method differ".into()));
    }
    if st.num_params != model.num_params() {
        return Err(mismatch(format!(
            "model has {} parameters, checkpoint {}",
            model.num_params(),
            st.num_params
        )));
    }
    let missing = |n: &str| LelpError::corrupted(dir.join(STATE), format!("the manifest lists no {n}"));
    let mp = verified(dir, st, "model.bpk")?.ok_or_else(|| missing("model.bpk"))?;
    let op = verified(dir, st, "optimizer.bpk")?.ok_or_else(|| missing("optimizer.bpk"))?;
    let best = match verified(dir, st, "best.bpk")? {
        Some(bp) => Some(model.clone().try_load_file(&bp).map_err(|e| record_error(&bp, e))?),
        None => None,
    };
    let model = model.try_load_file(&mp).map_err(|e| record_error(&mp, e))?;
    let optim = optim.load(&op).map_err(|e| record_error(&op, e))?;
    // folders a crash left behind (after the manifest moved on, before the
    // prune) go now
    prune(dir, &st.folder);
    Ok((model, optim, best))
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
