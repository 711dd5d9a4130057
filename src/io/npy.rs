//! Minimal reader and writer for NumPy `.npy` files (format versions 1, 2, 3).
//!
//! Supports C-order arrays of `u8`, `i32`, `i64`, `u32`, `u64`, `f32` and
//! `f64` in little-endian byte order: what a Python teacher's
//! `np.save(...)` produces. Every malformed input gives a typed
//! [`LelpError`], never a panic.

use std::path::{Path, PathBuf};

use crate::error::{LelpError, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element type of an `.npy` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyDtype {
    /// `|u1`
    U8,
    /// `<i4`
    I32,
    /// `<i8`
    I64,
    /// `<u4`
    U32,
    /// `<u8`
    U64,
    /// `<f4`
    F32,
    /// `<f8`
    F64,
}

impl NpyDtype {
    fn parse(descr: &str) -> Option<Self> {
        Some(match descr {
            "|u1" | "<u1" | "u1" => NpyDtype::U8,
            "<i4" => NpyDtype::I32,
            "<i8" => NpyDtype::I64,
            "<u4" => NpyDtype::U32,
            "<u8" => NpyDtype::U64,
            "<f4" => NpyDtype::F32,
            "<f8" => NpyDtype::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            NpyDtype::U8 => 1,
            NpyDtype::I32 | NpyDtype::U32 | NpyDtype::F32 => 4,
            NpyDtype::I64 | NpyDtype::U64 | NpyDtype::F64 => 8,
        }
    }
}

/// An array read from an `.npy` file: its shape, element type and raw
/// little-endian bytes.
#[derive(Debug, Clone)]
pub struct NpyArray {
    /// The array's shape (C order).
    pub shape: Vec<usize>,
    /// The element type.
    pub dtype: NpyDtype,
    bytes: Vec<u8>,
    path: PathBuf,
}

impl NpyArray {
    /// Reads an `.npy` file.
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`], [`LelpError::Truncated`] when the data
    /// is shorter than the header promises, [`LelpError::Corrupted`] for a
    /// bad magic string, header, dtype or Fortran order.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = crate::io::read(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses `.npy` bytes; `path` is only used in error messages.
    ///
    /// # Errors
    /// As [`NpyArray::read`].
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (start, data_start) = preamble(bytes, &path)?;
        let header = std::str::from_utf8(&bytes[start..data_start])
            .map_err(|_| LelpError::corrupted(&path, "header is not UTF-8"))?;
        let (dtype, shape) = parse_header(header, &path)?;
        let nbytes = shape
            .iter()
            .try_fold(dtype.size(), |a, &b| a.checked_mul(b))
            .ok_or_else(|| LelpError::corrupted(&path, "shape overflows"))?;
        let data = &bytes[data_start..];
        if data.len() < nbytes {
            return Err(LelpError::Truncated {
                path,
                expected: data_start.saturating_add(nbytes),
                found: bytes.len(),
            });
        }
        if data.len() > nbytes {
            return Err(LelpError::corrupted(
                &path,
                format!("{} trailing bytes after the data", data.len() - nbytes),
            ));
        }
        Ok(NpyArray {
            shape,
            dtype,
            bytes: data.to_vec(),
            path,
        })
    }

    /// The file the array was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements converted to `f32` (row-major).
    ///
    /// `u8` values are converted as they are (0..255); scale them yourself.
    pub fn to_f32(&self) -> Vec<f32> {
        let b = &self.bytes;
        match self.dtype {
            NpyDtype::U8 => b.iter().map(|&v| v as f32).collect(),
            NpyDtype::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            NpyDtype::F64 => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")) as f32)
                .collect(),
            NpyDtype::I32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            NpyDtype::U32 => b
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            NpyDtype::I64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")) as f32)
                .collect(),
            NpyDtype::U64 => b
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("chunk of 8")) as f32)
                .collect(),
        }
    }

    /// The elements as `f64` (row-major).
    pub fn to_f64(&self) -> Vec<f64> {
        match self.dtype {
            NpyDtype::F64 => self
                .bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")))
                .collect(),
            _ => self.to_f32().into_iter().map(f64::from).collect(),
        }
    }

    /// The elements as class labels.
    ///
    /// # Errors
    /// [`LelpError::Corrupted`] when the array holds floats or negative values.
    pub fn to_labels(&self) -> Result<Vec<usize>> {
        let b = &self.bytes;
        let signed: Vec<i64> = match self.dtype {
            NpyDtype::U8 => b.iter().map(|&v| v as i64).collect(),
            NpyDtype::I32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
            NpyDtype::U32 => b
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64)
                .collect(),
            NpyDtype::I64 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")))
                .collect(),
            NpyDtype::U64 => b
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("chunk of 8")).min(i64::MAX as u64) as i64)
                .collect(),
            NpyDtype::F32 | NpyDtype::F64 => {
                return Err(LelpError::corrupted(
                    &self.path,
                    "labels must be stored as integers, found floats",
                ));
            }
        };
        signed
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                usize::try_from(v)
                    .map_err(|_| LelpError::corrupted(&self.path, format!("negative label {v} at row {i}")))
            })
            .collect()
    }

    /// The shape as `[rows, cols]`, flattening trailing axes; a 1-D array
    /// is one column.
    ///
    /// # Errors
    /// [`LelpError::Corrupted`] for a 0-D array.
    pub fn matrix_shape(&self) -> Result<[usize; 2]> {
        match self.shape.as_slice() {
            [] => Err(LelpError::corrupted(
                &self.path,
                "expected at least 1 axis, found a scalar",
            )),
            [n] => Ok([*n, 1]),
            [n, rest @ ..] => Ok([*n, rest.iter().product()]),
        }
    }
}

/// Finds `'key': value` in the header dict and returns `value` (up to the
/// next top-level comma).
/// Checks the magic string and version; returns where the header starts
/// and where the data starts.
fn preamble(bytes: &[u8], path: &Path) -> Result<(usize, usize)> {
    let truncated = |expected: usize| LelpError::Truncated {
        path: path.to_path_buf(),
        expected,
        found: bytes.len(),
    };
    if bytes.len() < 10 {
        return Err(truncated(10));
    }
    if &bytes[..6] != MAGIC {
        return Err(LelpError::corrupted(path, "missing .npy magic string"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(truncated(12));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(LelpError::corrupted(path, format!("unsupported .npy version {v}"))),
    };
    let data_start = start.saturating_add(header_len);
    if bytes.len() < data_start {
        return Err(truncated(data_start));
    }
    Ok((start, data_start))
}

/// The dtype and shape from the header's Python dict.
fn parse_header(header: &str, path: &Path) -> Result<(NpyDtype, Vec<usize>)> {
    let field =
        |key: &str| dict_value(header, key).ok_or_else(|| LelpError::corrupted(path, format!("header has no '{key}'")));
    let descr = field("descr")?.trim().trim_matches(|c| c == '\'' || c == '"');
    let dtype =
        NpyDtype::parse(descr).ok_or_else(|| LelpError::corrupted(path, format!("unsupported dtype '{descr}'")))?;
    if field("fortran_order")?.trim() != "False" {
        return Err(LelpError::corrupted(path, "Fortran-order arrays are not supported"));
    }
    let shape_str = field("shape")?.trim().trim_start_matches('(').trim_end_matches(')');
    let shape = shape_str
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<usize>()
                .map_err(|_| LelpError::corrupted(path, format!("bad shape entry '{p}'")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((dtype, shape))
}

fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat1 = format!("'{key}':");
    let pat2 = format!("\"{key}\":");
    let pos = header
        .find(&pat1)
        .map(|p| p + pat1.len())
        .or_else(|| header.find(&pat2).map(|p| p + pat2.len()))?;
    let rest = &header[pos..];
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

/// Writes a little-endian `f32` array as `.npy` (version 1.0, C order).
///
/// # Errors
/// [`LelpError::DimensionMismatch`] when `data.len()` does not match
/// `shape`; I/O errors from writing.
pub fn write_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_raw(path.as_ref(), "<f4", shape, &bytes, data.len())
}

/// Writes an `i64` array as `.npy` (version 1.0, C order).
///
/// # Errors
/// As [`write_f32`].
pub fn write_i64(path: impl AsRef<Path>, shape: &[usize], data: &[i64]) -> Result<()> {
    let mut bytes = Vec::with_capacity(data.len() * 8);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_raw(path.as_ref(), "<i8", shape, &bytes, data.len())
}

fn write_raw(path: &Path, descr: &str, shape: &[usize], data: &[u8], count: usize) -> Result<()> {
    let expected: usize = shape.iter().product();
    if expected != count {
        return Err(LelpError::DimensionMismatch {
            what: "npy data length vs shape",
            expected,
            got: count,
        });
    }
    let shape_str = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_str}, }}");
    let unpadded = 10 + header.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    super::write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_f32_and_labels() {
        let dir = std::env::temp_dir().join(format!("lelp-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        write_f32(&p, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        let a = NpyArray::read(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.to_f32(), vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        let q = dir.join("l.npy");
        write_i64(&q, &[3], &[0, 4, 2]).unwrap();
        assert_eq!(NpyArray::read(&q).unwrap().to_labels().unwrap(), vec![0, 4, 2]);
        write_i64(&q, &[2], &[0, -1]).unwrap();
        assert!(matches!(
            NpyArray::read(&q).unwrap().to_labels(),
            Err(LelpError::Corrupted { .. })
        ));
    }

    #[test]
    fn damaged_files_give_typed_errors() {
        let dir = std::env::temp_dir().join(format!("lelp-npy-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        write_f32(&p, &[4, 4], &[0.5; 16]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // truncated data
        assert!(matches!(
            NpyArray::from_bytes(&bytes[..bytes.len() - 5], &p),
            Err(LelpError::Truncated { .. })
        ));
        // truncated header
        assert!(matches!(
            NpyArray::from_bytes(&bytes[..20], &p),
            Err(LelpError::Truncated { .. })
        ));
        // bad magic
        let mut bad = bytes.clone();
        bad[1] = b'X';
        assert!(matches!(
            NpyArray::from_bytes(&bad, &p),
            Err(LelpError::Corrupted { .. })
        ));
        // unsupported dtype
        let s = String::from_utf8_lossy(&bytes).replace("<f4", "<c8");
        assert!(matches!(
            NpyArray::from_bytes(s.as_bytes(), &p),
            Err(LelpError::Corrupted { .. })
        ));
        assert!(matches!(
            NpyArray::read(dir.join("missing.npy")),
            Err(LelpError::FileNotFound { .. })
        ));
    }
}
