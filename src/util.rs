//! Small host/device transfer helpers shared by the crate.

use burn::prelude::*;

use crate::error::{LelpError, Result};

/// Reads a float tensor back to the host as `f32`, in row-major order.
pub(crate) fn to_host_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(LelpError::backend)?;
    data.try_into_vec_as::<f32>().map_err(LelpError::backend)
}

/// Whether `device` is burn's Flex CPU device, whose tensors live in host
/// memory: there the fit runs its products through faer on the host
/// (faster than Flex's matmul, and a symmetric product computes half).
pub(crate) fn is_flex(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// Whether `device` keeps its tensors in host memory and computes on the
/// CPU (Flex, ndarray): there host code with faer beats burn's graph.
#[cfg(feature = "text")]
#[allow(deprecated)] // the ndarray device is deprecated in burn 0.22 but supported here
pub(crate) fn is_host_cpu(device: &Device) -> bool {
    if is_flex(device) {
        return true;
    }
    #[cfg(feature = "ndarray")]
    if device.clone().without_autodiff() == Device::ndarray() {
        return true;
    }
    false
}

/// The parallelism of host linear algebra: rayon's pool (burn's too).
pub(crate) fn host_par() -> faer::Par {
    faer::Par::rayon(0)
}

/// Uploads a row-major `f32` matrix to `device`.
pub(crate) fn matrix(data: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Uploads an `f64` row-major matrix to `device` as `f32`.
pub(crate) fn matrix_f64(data: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    matrix(data.iter().map(|&v| v as f32).collect(), rows, cols, device)
}

/// Uploads an index vector to `device`.
pub(crate) fn indices(idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}

/// Errors with [`LelpError::NonFinite`] naming the first NaN/inf entry of
/// `t` (row offset by `row_offset`). One device reduction when all is well;
/// the tensor is read back only when something is wrong.
pub(crate) fn check_finite(t: &Tensor<2>, what: &'static str, row_offset: usize) -> Result<()> {
    let ok = t
        .clone()
        .is_finite()
        .all()
        .try_into_scalar::<bool>()
        .map_err(LelpError::backend)?;
    if ok {
        return Ok(());
    }
    let [_, cols] = t.dims();
    let host = to_host_f32(t.clone())?;
    let pos = host.iter().position(|v| !v.is_finite()).unwrap_or(0);
    Err(LelpError::NonFinite {
        what,
        row: row_offset + pos / cols.max(1),
        col: pos % cols.max(1),
    })
}

/// Host-side finiteness check of a row-major matrix.
pub(crate) fn check_finite_host(v: &[f32], cols: usize, what: &'static str) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(pos) => Err(LelpError::NonFinite {
            what,
            row: pos / cols.max(1),
            col: pos % cols.max(1),
        }),
    }
}

/// Errors with [`LelpError::LabelOutOfRange`] for the first label
/// `>= num_classes` (rows counted from `row_offset`).
pub(crate) fn check_labels(labels: &[usize], num_classes: usize, row_offset: usize) -> Result<()> {
    match labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
        None => Ok(()),
        Some((row, &label)) => Err(LelpError::LabelOutOfRange {
            label,
            row: row_offset + row,
            num_classes,
        }),
    }
}

/// Errors with [`LelpError::InvalidParameter`] unless `t` is finite and > 0.
pub(crate) fn check_positive(name: &'static str, t: f64) -> Result<()> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(LelpError::InvalidParameter {
            name,
            value: t.to_string(),
            reason: "must be finite and > 0",
        })
    }
}

/// Errors with [`LelpError::InvalidParameter`] unless `w` is finite and >= 0.
pub(crate) fn check_weight(name: &'static str, w: f64) -> Result<()> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(LelpError::InvalidParameter {
            name,
            value: w.to_string(),
            reason: "must be finite and >= 0",
        })
    }
}

/// Errors with [`LelpError::InvalidParameter`] for zero subclasses.
pub(crate) fn check_subclasses(s: usize) -> Result<()> {
    if s == 0 {
        return Err(LelpError::InvalidParameter {
            name: "subclasses",
            value: "0".into(),
            reason: "must be >= 1",
        });
    }
    Ok(())
}

/// Errors with [`LelpError::InvalidParameter`] unless `0 <= v <= 1`.
pub(crate) fn check_unit(name: &'static str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(LelpError::InvalidParameter {
            name,
            value: v.to_string(),
            reason: "must be in [0, 1]",
        })
    }
}

/// One-hot rows `[N, C]` of `labels` on `device` (labels already checked).
pub(crate) fn one_hot(labels: &[usize], num_classes: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * num_classes];
    for (i, &l) in labels.iter().enumerate() {
        v[i * num_classes + l] = 1.0;
    }
    matrix(v, labels.len(), num_classes, device)
}

/// The index of a row's largest value (the first of ties; 0 for an empty
/// row or one of NaNs).
pub(crate) fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b })
}

/// Row-wise argmax of a `[N, C]` tensor, read back to the host.
pub(crate) fn argmax_rows(t: &Tensor<2>) -> Result<Vec<usize>> {
    let v = to_host_f32(t.clone().argmax(1).float())?;
    Ok(v.into_iter().map(|x| x as usize).collect())
}

/// Builder setters `with_x(value)` for the public fields of a config
/// struct: `setters!(Ty { "doc" with_x => x: T, ... })`.
macro_rules! setters {
    ($ty:ty { $($doc:literal $setter:ident => $field:ident : $fty:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = $doc]
                #[must_use]
                pub fn $setter(mut self, value: $fty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;

/// SplitMix64's finaliser: a well-mixed 64-bit value from `z` (Steele,
/// Lea and Flood's constants).
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a, 64 bits: a fast content hash for fingerprints and file checks
/// (corruption, not adversaries).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub(crate) fn update(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
    pub(crate) fn hash(bytes: &[u8]) -> u64 {
        Self::default().update(bytes).finish()
    }
}
