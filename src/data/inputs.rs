//! What a batch of rows becomes on a device: [`Inputs`], a float tensor
//! or a [`TokenBatch`] of integer ids with their mask, and the
//! [`InputKind`] a student or teacher consumes.

use burn::prelude::*;

use crate::error::{LelpError, Result};

/// What kind of inputs a student or teacher consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// Dense `[B, F]` float rows.
    Dense,
    /// Token ids `[B, L]` with a mask.
    Tokens,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Dense => "dense features",
            InputKind::Tokens => "token ids",
        })
    }
}

/// A batch of token sequences on a device, right-padded with id 0.
///
/// # Shapes
/// - `ids`: `[B, L]` (`L` = the longest sequence in the batch)
/// - `mask`: `[B, L]`, 1 for a real token, 0 for padding
#[derive(Debug, Clone)]
pub struct TokenBatch {
    /// Token ids.
    pub ids: Tensor<2, Int>,
    /// Attention mask.
    pub mask: Tensor<2, Int>,
}

impl TokenBatch {
    /// Pads `sequences` to the longest one (capped at `max_len` tokens,
    /// longer ones truncated) and uploads ids and mask to `device`.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for no sequences or an empty sequence.
    pub fn from_sequences(sequences: &[&[u32]], max_len: usize, device: &Device) -> Result<Self> {
        if sequences.is_empty() {
            return Err(LelpError::EmptyData { what: "token batch" });
        }
        if sequences.iter().any(|s| s.is_empty()) {
            return Err(LelpError::EmptyData {
                what: "a token sequence",
            });
        }
        let len = sequences.iter().map(|s| s.len()).max().unwrap_or(1).min(max_len.max(1));
        let b = sequences.len();
        let mut ids = vec![0i64; b * len];
        let mut mask = vec![0i64; b * len];
        for (i, s) in sequences.iter().enumerate() {
            for (j, &t) in s.iter().take(len).enumerate() {
                ids[i * len + j] = t as i64;
                mask[i * len + j] = 1;
            }
        }
        Ok(Self {
            ids: Tensor::from_data(TensorData::new(ids, [b, len]), device),
            mask: Tensor::from_data(TensorData::new(mask, [b, len]), device),
        })
    }
}

/// A batch of inputs on a device, as students and teachers receive it.
#[derive(Debug, Clone)]
#[non_exhaustive]
// one value per batch, moved into the model: the variants' sizes do not matter
#[allow(clippy::large_enum_variant)]
pub enum Inputs {
    /// Dense features `[B, F]`.
    Dense(Tensor<2>),
    /// Token ids and mask.
    Tokens(TokenBatch),
}

impl Inputs {
    /// Rows `B` in the batch.
    pub fn rows(&self) -> usize {
        match self {
            Inputs::Dense(x) => x.dims()[0],
            Inputs::Tokens(t) => t.ids.dims()[0],
        }
    }

    /// The kind of the batch.
    pub fn kind(&self) -> InputKind {
        match self {
            Inputs::Dense(_) => InputKind::Dense,
            Inputs::Tokens(_) => InputKind::Tokens,
        }
    }

    /// The dense features, checking the width `F` when `width` is given.
    ///
    /// # Errors
    /// [`LelpError::InputKind`] for token inputs,
    /// [`LelpError::DimensionMismatch`] for another width.
    pub fn into_dense(self, width: Option<usize>) -> Result<Tensor<2>> {
        match self {
            Inputs::Dense(x) => {
                let [_, f] = x.dims();
                match width {
                    Some(w) if w != f => Err(LelpError::DimensionMismatch {
                        what: "input features vs model input width",
                        expected: w,
                        got: f,
                    }),
                    _ => Ok(x),
                }
            }
            other => Err(LelpError::InputKind {
                expected: InputKind::Dense,
                got: other.kind(),
            }),
        }
    }

    /// The token ids and mask.
    ///
    /// # Errors
    /// [`LelpError::InputKind`] for dense inputs.
    pub fn into_tokens(self) -> Result<TokenBatch> {
        match self {
            Inputs::Tokens(t) => Ok(t),
            other => Err(LelpError::InputKind {
                expected: InputKind::Tokens,
                got: other.kind(),
            }),
        }
    }
}
