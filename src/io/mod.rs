//! The crate's one IO layer: [`read`] and [`write_atomic`] (every file
//! the crate writes: subspace fits, checkpoints, model files, embedding
//! caches, `.npy`), a lock for caches two processes may fill at once, and
//! the file formats, NumPy `.npy` ([`npy`]) and safetensors helpers. Every
//! reader returns a typed error on damaged input.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{LelpError, Result};

pub mod npy;
pub(crate) mod safetensors;

/// The bytes of `path`.
///
/// # Errors
/// [`LelpError::FileNotFound`] or [`LelpError::Io`] naming the path.
pub fn read(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    std::fs::read(path).map_err(|e| LelpError::io(path, e))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (a name
/// unique to the process and the call, so concurrent writers never share
/// one), flushed to disk, renamed over `path`, the folder synced. Readers
/// see the old content or the new, never a part; the folder is created if
/// missing; the temporary file is removed when a step fails.
///
/// ```
/// let path = std::env::temp_dir().join(format!("lelp-doc-{}.txt", std::process::id()));
/// lelp::io::write_atomic(&path, b"hello")?;
/// assert_eq!(lelp::io::read(&path)?, b"hello");
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), lelp::LelpError>(())
/// ```
///
/// # Errors
/// [`LelpError::Io`] naming the path.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let path = path.as_ref();
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(|e| LelpError::io(&dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| LelpError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| LelpError::io(&tmp, e))?;
        f.sync_all().map_err(|e| LelpError::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| LelpError::io(path, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Parses a versioned JSON manifest (a fit's, a checkpoint's, a model
/// file's): its `format_version` is checked first, so a file from a newer
/// build is [`LelpError::FormatVersion`] rather than a confusing field
/// error; versions in `accepted` are read as `T`.
///
/// # Errors
/// [`LelpError::Corrupted`] for bad JSON, a missing version or fields
/// that do not fit `T` (the message starts with `what`);
/// [`LelpError::FormatVersion`] for a version outside `accepted`.
pub(crate) fn read_versioned<T: serde::de::DeserializeOwned>(
    text: &[u8],
    path: &Path,
    what: &str,
    accepted: std::ops::RangeInclusive<u32>,
) -> Result<T> {
    let bad = |reason: String| LelpError::corrupted(path, format!("{what}: {reason}"));
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| bad(e.to_string()))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("no format_version".into()))?;
    if !u32::try_from(version).is_ok_and(|v| accepted.contains(&v)) {
        return Err(LelpError::FormatVersion {
            path: path.to_path_buf(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: *accepted.end(),
        });
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// The folder of `path` (`.` for a bare name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An exclusive advisory lock on a file beside a cache entry, held until
/// dropped (the operating system releases it if the process dies, so a
/// crashed run leaves no stale lock).
#[cfg(feature = "text")]
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: std::fs::File,
}

/// Waits for the exclusive lock on `path` (created if missing): a second
/// process filling the same cache waits here, then finds the first's
/// result.
#[cfg(feature = "text")]
pub(crate) fn lock(path: &Path) -> Result<FileLock> {
    std::fs::create_dir_all(parent(path)).map_err(|e| LelpError::io(parent(path), e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| LelpError::io(path, e))?;
    file.lock().map_err(|e| LelpError::io(path, e))?;
    Ok(FileLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "text")]
    #[test]
    fn the_lock_is_exclusive_between_threads() {
        let path = std::env::temp_dir().join(format!("lelp-lock-test-{}.lock", std::process::id()));
        let released = std::sync::atomic::AtomicBool::new(false);
        let first = lock(&path).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let _second = lock(&path).unwrap();
                // only reachable once the first lock is gone
                released.load(std::sync::atomic::Ordering::SeqCst)
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            released.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(first);
            assert!(
                waiter.join().unwrap(),
                "the second lock was taken while the first was held"
            );
        });
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn concurrent_atomic_writes_leave_one_whole_file() {
        let dir = std::env::temp_dir().join(format!("lelp-atomic-{}", std::process::id()));
        let path = dir.join("out.bin");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(path, &vec![t; 100_000]).unwrap();
                    }
                });
            }
        });
        let bytes = read(&path).unwrap();
        assert_eq!(bytes.len(), 100_000);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "a file mixed from two writers");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporary files left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
