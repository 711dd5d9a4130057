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
/// Each but `flex` needs its cargo feature.
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
