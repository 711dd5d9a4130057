//! safetensors helpers: typed errors around the `safetensors` crate.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, View};

use crate::error::{LelpError, Result};

/// Parses safetensors bytes, mapping every failure to a typed error.
pub(crate) fn read_safetensors<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    if bytes.len() < 8 {
        return Err(LelpError::Truncated {
            path: path.to_path_buf(),
            expected: 8,
            found: bytes.len(),
        });
    }
    let header = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let available = bytes.len() as u64 - 8;
    if header > available {
        return Err(LelpError::Truncated {
            path: path.to_path_buf(),
            expected: usize::try_from(header.saturating_add(8)).unwrap_or(usize::MAX),
            found: bytes.len(),
        });
    }
    let header = header as usize; // <= bytes.len()
    // the data length promised by the header: the largest end offset
    let header_json: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header])
        .map_err(|e| LelpError::corrupted(path, format!("bad safetensors header: {e}")))?;
    let data_len = header_json
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "__metadata__")
                .filter_map(|(_, v)| v.get("data_offsets")?.get(1)?.as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let expected = usize::try_from(data_len)
        .ok()
        .and_then(|l| l.checked_add(8 + header))
        .unwrap_or(usize::MAX);
    if bytes.len() < expected {
        return Err(LelpError::Truncated {
            path: path.to_path_buf(),
            expected,
            found: bytes.len(),
        });
    }
    SafeTensors::deserialize(bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))
}

/// Reads a named tensor as `(shape, f32 values)`; accepts F32, F64, F16 and BF16.
pub(crate) fn tensor_f32(st: &SafeTensors<'_>, name: &str, path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let (shape, v) = tensor_f64(st, name, path)?;
    Ok((shape, v.into_iter().map(|x| x as f32).collect()))
}

/// Reads a named tensor as `(shape, f64 values)`; accepts F32, F64, F16 and BF16.
pub(crate) fn tensor_f64(st: &SafeTensors<'_>, name: &str, path: &Path) -> Result<(Vec<usize>, Vec<f64>)> {
    let t = st
        .tensor(name)
        .map_err(|_| LelpError::corrupted(path, format!("missing tensor '{name}'")))?;
    let shape = t.shape().to_vec();
    let data = t.data();
    let v = match t.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        // half-precision checkpoints (`torch_dtype: float16/bfloat16`)
        // widen exactly
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f64::from(half::f16::from_le_bytes([c[0], c[1]]).to_f32()))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| f64::from(half::bf16::from_le_bytes([c[0], c[1]]).to_f32()))
            .collect(),
        other => {
            return Err(LelpError::corrupted(
                path,
                format!("tensor '{name}' has dtype {other:?}; expected F32, F64, F16 or BF16"),
            ));
        }
    };
    Ok((shape, v))
}

/// An owned little-endian tensor (f32 or f64) for writing.
pub(crate) struct OwnedTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl OwnedTensor {
    pub(crate) fn f64(shape: Vec<usize>, values: &[f64]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: Dtype::F64,
            shape,
            bytes,
        }
    }

    #[cfg(feature = "text")] // model files only
    pub(crate) fn f32(shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: Dtype::F32,
            shape,
            bytes,
        }
    }
}

#[cfg(feature = "text")] // model files only
impl OwnedTensor {
    pub(crate) fn f16(shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        Self {
            dtype: Dtype::F16,
            shape,
            bytes,
        }
    }

    pub(crate) fn i8(shape: Vec<usize>, values: &[i8]) -> Self {
        Self {
            dtype: Dtype::I8,
            shape,
            bytes: values.iter().map(|&v| v as u8).collect(),
        }
    }
}

/// Reads a named I8 tensor as `(shape, values)`.
#[cfg(feature = "text")] // model files only
pub(crate) fn tensor_i8(st: &SafeTensors<'_>, name: &str, path: &Path) -> Result<(Vec<usize>, Vec<i8>)> {
    let t = st
        .tensor(name)
        .map_err(|_| LelpError::corrupted(path, format!("missing tensor '{name}'")))?;
    if t.dtype() != Dtype::I8 {
        return Err(LelpError::corrupted(
            path,
            format!("tensor '{name}' has dtype {:?}; expected I8", t.dtype()),
        ));
    }
    Ok((t.shape().to_vec(), t.data().iter().map(|&b| b as i8).collect()))
}

impl View for &OwnedTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes named tensors with string metadata, atomically (see
/// [`write_atomic`](super::write_atomic)).
pub(crate) fn write_safetensors_atomic(
    path: &Path,
    tensors: &[(String, OwnedTensor)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let items: Vec<(&str, &OwnedTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let bytes = safetensors::serialize(items, Some(metadata)).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
    super::write_atomic(path, &bytes)
}
