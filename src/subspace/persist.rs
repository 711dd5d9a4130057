//! Saving and loading a fit: one safetensors file, written atomically.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{SubspaceConfig, SubspaceKind, SubspaceParts, Subspaces};
use crate::error::{LelpError, Result};
use crate::io::safetensors::{self as st, OwnedTensor};
use crate::teacher::LinearHead;

/// Version of the on-disk format written by [`Subspaces::save`].
pub const FORMAT_VERSION: u32 = 2;

/// The metadata key holding the JSON manifest.
const MANIFEST_KEY: &str = "lelp_subspaces";

/// What the file's metadata says about the tensors.
#[derive(Serialize, Deserialize)]
struct Manifest {
    format_version: u32,
    kind: SubspaceKind,
    config: SubspaceConfig,
    num_classes: usize,
    embedding_dim: usize,
    counts: Vec<u64>,
    has_projector: bool,
    has_head: bool,
}

impl Subspaces {
    /// Saves the fit to one safetensors file at `path`: f64 tensors
    /// `means [C, d]`, `bases [C, d, S]`, `eigenvalues [C, S]`, `rotations
    /// [C, S, S]`, `scales [C]`, and `projector [d, d]`, `head_weight [C,
    /// d]`, `head_bias [C]` when present, with a JSON manifest (format
    /// version, kind, config, sizes, counts) in the file's metadata.
    ///
    /// The file is written next to `path`, flushed to disk and renamed over
    /// it, so a crash leaves either the old file or the new one, never a
    /// mix.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (c, d, s) = (self.num_classes(), self.embedding_dim(), self.subclasses());
        let p = &self.parts;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            kind: p.kind,
            config: p.config,
            num_classes: c,
            embedding_dim: d,
            counts: p.counts.clone(),
            has_projector: p.projector.is_some(),
            has_head: p.head.is_some(),
        };
        let mut tensors = vec![
            ("means".to_string(), OwnedTensor::f64(vec![c, d], &p.means)),
            ("bases".to_string(), OwnedTensor::f64(vec![c, d, s], &p.bases)),
            ("eigenvalues".to_string(), OwnedTensor::f64(vec![c, s], &p.eigenvalues)),
            (
                "rotations".to_string(),
                OwnedTensor::f64(vec![c, s, s], &self.rotations),
            ),
            ("scales".to_string(), OwnedTensor::f64(vec![c], &p.scales)),
        ];
        if let Some(pr) = &p.projector {
            tensors.push(("projector".into(), OwnedTensor::f64(vec![d, d], pr)));
        }
        if let Some(h) = &p.head {
            let w: Vec<f64> = h.weight().iter().map(|&v| v as f64).collect();
            let b: Vec<f64> = h.bias().iter().map(|&v| v as f64).collect();
            tensors.push(("head_weight".into(), OwnedTensor::f64(vec![c, d], &w)));
            tensors.push(("head_bias".into(), OwnedTensor::f64(vec![c], &b)));
        }
        let mut meta = HashMap::new();
        meta.insert(
            MANIFEST_KEY.to_string(),
            serde_json::to_string(&manifest).expect("manifest serialises"),
        );
        st::write_safetensors_atomic(path, &tensors, meta)
    }

    /// Loads a fit saved by [`Subspaces::save`].
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`], [`LelpError::Truncated`],
    /// [`LelpError::Corrupted`] (bad header or manifest, missing tensors,
    /// shapes that disagree with the manifest, NaN/inf values, a fit that
    /// fails [`Subspaces::from_parts`]'s checks),
    /// [`LelpError::FormatVersion`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = crate::io::read(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses the bytes of a file written by [`Subspaces::save`] (`path`
    /// names it in errors). Nothing is allocated beyond what the bytes hold.
    ///
    /// # Errors
    /// As [`Subspaces::load`], without the I/O errors.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = st::read_safetensors(bytes, path)?;
        let m = read_manifest(bytes, path)?;
        let (c, d, s) = (m.num_classes, m.embedding_dim, m.config.subclasses);
        let get = |name: &str, shape: Vec<usize>| read_tensor(&file, name, shape, path);
        let parts = SubspaceParts {
            kind: m.kind,
            config: m.config,
            num_classes: c,
            embedding_dim: d,
            counts: m.counts,
            means: get("means", vec![c, d])?,
            bases: get("bases", vec![c, d, s])?,
            eigenvalues: get("eigenvalues", vec![c, s])?,
            rotations: Some(get("rotations", vec![c, s, s])?),
            scales: get("scales", vec![c])?,
            projector: m.has_projector.then(|| get("projector", vec![d, d])).transpose()?,
            head: if m.has_head {
                let w = get("head_weight", vec![c, d])?;
                let b = get("head_bias", vec![c])?;
                Some(LinearHead::new(
                    w.iter().map(|&v| v as f32).collect(),
                    b.iter().map(|&v| v as f32).collect(),
                    [c, d],
                )?)
            } else {
                None
            },
        };
        Subspaces::from_parts(parts).map_err(|e| LelpError::corrupted(path, e.to_string()))
    }
}

/// The manifest from the file's metadata, version checked first.
fn read_manifest(bytes: &[u8], path: &Path) -> Result<Manifest> {
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
    let text = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(MANIFEST_KEY))
        .ok_or_else(|| LelpError::corrupted(path, "no lelp_subspaces manifest in the metadata"))?;
    let m: Manifest =
        crate::io::read_versioned(text.as_bytes(), path, "bad manifest", FORMAT_VERSION..=FORMAT_VERSION)?;
    let (c, d, s) = (m.num_classes, m.embedding_dim, m.config.subclasses);
    // sizes must be non-zero, and no product may overflow (a hostile
    // manifest must not make us allocate)
    let sane =
        c > 0 && d > 0 && s > 0 && m.counts.len() == c && c.checked_mul(d).and_then(|x| x.checked_mul(s)).is_some();
    if !sane || d.checked_mul(d).is_none() {
        return Err(LelpError::corrupted(path, "inconsistent sizes in the manifest"));
    }
    Ok(m)
}

/// A named f64 tensor of exactly `shape`, all finite.
fn read_tensor(file: &safetensors::SafeTensors<'_>, name: &str, shape: Vec<usize>, path: &Path) -> Result<Vec<f64>> {
    let (sh, v) = st::tensor_f64(file, name, path)?;
    if sh != shape {
        return Err(LelpError::corrupted(
            path,
            format!("tensor '{name}' has shape {sh:?}, the manifest says {shape:?}"),
        ));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(LelpError::corrupted(path, format!("tensor '{name}' holds NaN/inf")));
    }
    Ok(v)
}
