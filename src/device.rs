//! Picking a burn device by name at run time (`flex`, `ndarray`, `wgpu`,
//! `tch`, `cuda`): for programs that take the device from a flag or an
//! environment variable. Library code itself never picks a device.
//!
//! ```
//! let device = lelp::device::by_name("flex")?;
//! assert!(lelp::device::by_name("abacus").is_err());
//! assert!(lelp::device::available().contains(&"flex"));
//! # let _ = device;
//! # Ok::<(), lelp::LelpError>(())
//! ```

use burn::prelude::Device;

use crate::error::{LelpError, Result};

/// The device names this build supports (depends on the enabled features),
/// `flex` first.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["flex"];
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "tch") {
        v.push("tch");
    }
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    v
}

/// The device called `name`: `flex` (the default CPU backend; also the
/// empty name), `ndarray`, `wgpu`, `tch` (or `libtorch`, CPU), `cuda`.
/// Each but `flex` needs its cargo feature. A program that trains on
/// `tch` calls [`keep_freed_memory`] first in `main` (libtorch's buffers
/// come from glibc's `malloc`).
///
/// # Errors
/// [`LelpError::InvalidParameter`] for an unknown name or a backend this
/// build lacks.
#[allow(deprecated)] // ndarray and libtorch devices are deprecated in burn 0.22 but supported here
pub fn by_name(name: &str) -> Result<Device> {
    let missing = |reason| LelpError::InvalidParameter {
        name: "device",
        value: name.to_string(),
        reason,
    };
    match name {
        "flex" | "" => Ok(Device::flex()),
        "ndarray" => {
            #[cfg(feature = "ndarray")]
            return Ok(Device::ndarray());
            #[cfg(not(feature = "ndarray"))]
            Err(missing("built without the `ndarray` feature"))
        }
        "wgpu" => {
            #[cfg(feature = "wgpu")]
            return Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice));
            #[cfg(not(feature = "wgpu"))]
            Err(missing("built without the `wgpu` feature"))
        }
        "tch" | "libtorch" => {
            #[cfg(feature = "tch")]
            return Ok(Device::libtorch());
            #[cfg(not(feature = "tch"))]
            Err(missing("built without the `tch` feature"))
        }
        "cuda" => {
            #[cfg(feature = "cuda")]
            return Ok(Device::cuda(0));
            #[cfg(not(feature = "cuda"))]
            Err(missing("built without the `cuda` feature"))
        }
        _ => Err(missing("unknown device; use flex, ndarray, wgpu, tch or cuda")),
    }
}

/// The device named by the environment variable `var` (e.g.
/// `LELP_DEVICE`), `flex` when it is unset.
///
/// # Errors
/// As [`by_name`].
pub fn from_env(var: &str) -> Result<Device> {
    by_name(&std::env::var(var).unwrap_or_default())
}

/// The device named by `flag` when given, else by `LELP_DEVICE`, else
/// `flex`; with the name used (for reports).
///
/// # Errors
/// As [`by_name`].
pub fn from_flag_or_env(flag: Option<&str>) -> Result<(Device, String)> {
    let name = match flag {
        Some(f) => f.to_string(),
        None => std::env::var("LELP_DEVICE").unwrap_or_else(|_| "flex".into()),
    };
    Ok((by_name(&name)?, if name.is_empty() { "flex".into() } else { name }))
}

/// Makes glibc's `malloc` keep freed blocks of up to 256 MiB (32 MiB
/// before glibc 2.35) for reuse instead of handing each back to the
/// kernel; returns whether glibc took the settings. Call it once, at the
/// start of a program's `main`.
///
/// libtorch (the `tch` device) allocates every tensor through `malloc`,
/// and glibc serves blocks past its threshold (dynamic, 32 MiB at most)
/// with a fresh mapping that it unmaps on `free`: a word-piece table's
/// gradient (30,522 x 384 floats, 47 MB), its optimizer passes and,
/// until the threshold has grown, every other large buffer of a training
/// step then page-fault in anew (what this saves is measured in
/// docs/performance.md). It is the
/// in-code form of the `GLIBC_TUNABLES` line in that file's "Cold runs":
/// it covers every `malloc` in the process, Rust's allocations too where
/// the global allocator is the system's (the crate's binaries use
/// mimalloc for those).
///
/// Process-wide and not undone; the cost is memory held by the process
/// after a peak (up to 1 GiB free at the top of each malloc arena before
/// it is trimmed). Nothing changes, and it returns `false`, off Linux
/// with glibc, or when the environment already sets either threshold
/// (`GLIBC_TUNABLES`, or the older `MALLOC_MMAP_THRESHOLD_` and
/// `MALLOC_TRIM_THRESHOLD_`): the user's choice stands.
///
/// ```
/// // first thing in main, before any tensor is allocated
/// let changed = lelp::device::keep_freed_memory();
/// # let _ = changed;
/// ```
pub fn keep_freed_memory() -> bool {
    !thresholds_in_environment() && glibc_keep_freed_memory()
}

/// Whether the process's environment sets malloc's mmap or trim threshold.
fn thresholds_in_environment() -> bool {
    let legacy = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"];
    sets_a_threshold(std::env::var("GLIBC_TUNABLES").ok().as_deref())
        || legacy.iter().any(|v| std::env::var_os(v).is_some())
}

/// Whether a `GLIBC_TUNABLES` value sets malloc's mmap or trim threshold
/// (colon-separated `name=value` pairs).
fn sets_a_threshold(tunables: Option<&str>) -> bool {
    tunables.is_some_and(|t| {
        t.split(':').any(|pair| {
            let name = pair.split('=').next().unwrap_or("").trim();
            name == "glibc.malloc.mmap_threshold" || name == "glibc.malloc.trim_threshold"
        })
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // FFI: glibc's mallopt (the crate's other unsafe code is the AVX2 kernel)
fn glibc_keep_freed_memory() -> bool {
    // SAFETY: mallopt only sets the allocator's parameters; glibc takes
    // its own lock. glibc before 2.35 caps the mmap threshold at half its
    // heap size (32 MiB on 64-bit) and refuses more: then the cap. The
    // trim threshold is set only when the mmap one was taken.
    unsafe {
        let mmap = libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20) == 1
            || libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1;
        mmap && libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_keep_freed_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::{keep_freed_memory, sets_a_threshold, thresholds_in_environment};

    /// The user's own thresholds stand; other tunables do not count.
    #[test]
    fn only_a_threshold_in_glibc_tunables_counts_as_the_users_choice() {
        assert!(!sets_a_threshold(None));
        assert!(!sets_a_threshold(Some("")));
        assert!(!sets_a_threshold(Some("glibc.malloc.arena_max=2")));
        assert!(!sets_a_threshold(Some("glibc.malloc.mmap_max=0")));
        assert!(sets_a_threshold(Some("glibc.malloc.mmap_threshold=268435456")));
        assert!(sets_a_threshold(Some(
            "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1073741824"
        )));
    }

    /// On Linux with glibc (and no thresholds in the environment) glibc
    /// accepts the settings, again on a second call; elsewhere nothing.
    /// (A sanitizer's malloc, whose `mallopt` refuses everything, would
    /// fail this: the crate's CI runs none.)
    #[test]
    fn glibc_accepts_the_settings_where_it_is_the_allocator() {
        let expected = cfg!(all(target_os = "linux", target_env = "gnu")) && !thresholds_in_environment();
        assert_eq!(keep_freed_memory(), expected);
        assert_eq!(keep_freed_memory(), expected);
    }
}
