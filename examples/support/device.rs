#![allow(dead_code)] // each user (examples, benches, tests) needs a different part
//! Picking a burn device by name at run time (`flex`, `ndarray`, `wgpu`,
//! `tch`, `cuda`), for examples, benches and the test suite.

use burn::prelude::*;

use lelp::{LelpError, Result};

/// The device names this build supports (depends on enabled features).
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

/// The device called `name`: `flex` (default CPU), `ndarray`, `wgpu`,
/// `tch` (libtorch CPU), `cuda`. Each but `flex` needs its cargo feature.
///
/// # Errors
/// [`LelpError::InvalidParameter`] for an unknown name or a backend this
/// build lacks.
///
/// `by_name("abacus")` is an error.
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
/// `LELP_DEVICE`), `flex` when unset.
///
/// # Errors
/// As [`by_name`].
pub fn from_env(var: &str) -> Result<Device> {
    by_name(&std::env::var(var).unwrap_or_else(|_| "flex".into()))
}
