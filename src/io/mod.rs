//! File formats: NumPy `.npy` ([`npy`]) and the crate's safetensors
//! helpers. Every reader returns a typed error on damaged input.

pub mod npy;
pub(crate) mod safetensors;

/// Writes `bytes` to `path` atomically: a temporary file beside it,
/// flushed to disk, renamed over `path`, the folder synced. Readers see the
/// old content or the new, never a part; the folder is created if missing.
///
/// # Errors
/// [`LelpError::Io`](crate::LelpError::Io) naming the path.
pub fn write_atomic(path: impl AsRef<std::path::Path>, bytes: &[u8]) -> crate::Result<()> {
    safetensors::write_atomic(path.as_ref(), bytes)
}
