//! Small host/device transfer helpers shared by the crate.

use burn::prelude::*;

use crate::error::{LelpError, Result};

/// Reads a float tensor back to the host as `f32`, in row-major order.
pub(crate) fn to_host_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.try_into_data().map_err(|e| LelpError::Backend {
        message: format!("{e:?}"),
    })?;
    data.try_into_vec_as::<f32>().map_err(|e| LelpError::Backend {
        message: format!("{e:?}"),
    })
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
        .map_err(|e| LelpError::Backend {
            message: format!("{e:?}"),
        })?;
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
