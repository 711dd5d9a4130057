//! Students: networks trained to imitate the teacher.
//!
//! A [`Student`] maps a batch of [`Inputs`] (dense rows or token ids) to logits (`C * S` of them for LELP,
//! `C` otherwise) and an embedding (its last hidden layer, for feature KD).
//! The class logits of a LELP student are `l_c = logsumexp_s z[c * S + s]`
//! ([`class_logits`]), and its prediction is `argmax_c l_c`.
//!
//! Parameters are initialised from a seeded host RNG (uniform
//! `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, PyTorch's default), so the same
//! seed gives the same initial weights on every backend. One network a
//! file: [`Mlp`], [`Cnn`], [`Bag`], [`TextCnn`].

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use rand::Rng;
use rand::rngs::StdRng;

use crate::data::Inputs;
use crate::error::{LelpError, Result};

/// A student's outputs for one batch.
///
/// # Shapes
/// - `logits`: `[N, K]` (`K = C * S` for LELP, `C` otherwise)
/// - `embedding`: `[N, e]`
#[derive(Debug, Clone)]
pub struct StudentOutput {
    /// Output logits.
    pub logits: Tensor<2>,
    /// Last hidden layer.
    pub embedding: Tensor<2>,
}

/// A trainable student network.
///
/// Implement it for any burn module to train it with
/// [`Distiller`](crate::train::Distiller): return `K` logits (`C * S` for
/// LELP, `C` for KD) and the last hidden layer. Reject inputs the network
/// does not take with [`Inputs::into_dense`] / [`Inputs::into_tokens`]
/// (typed errors, no panic).
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::Inputs;
/// use lelp::train::{MlpConfig, Student};
/// let device = Device::default();
/// let mlp = MlpConfig::new(64, vec![32], 10).with_seed(1).init(&device)?;
/// let out = mlp.forward(Inputs::Dense(Tensor::zeros([3, 64], &device)))?;
/// assert_eq!(out.logits.dims(), [3, 10]);
/// assert_eq!(out.embedding.dims(), [3, 32]);
/// // the wrong width is an error, not a panic inside burn
/// assert!(mlp.forward(Inputs::Dense(Tensor::zeros([3, 63], &device))).is_err());
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub trait Student: Module + burn::module::ModuleDisplay {
    /// Logits and embedding for a batch.
    ///
    /// # Errors
    /// [`LelpError::InputKind`] / [`LelpError::DimensionMismatch`] for
    /// inputs the network does not take.
    fn forward(&self, inputs: Inputs) -> Result<StudentOutput>;
    /// Output width `K`.
    fn num_outputs(&self) -> usize;
    /// Embedding width `e`.
    fn embedding_dim(&self) -> usize;
    /// The module paths (relative to the student, e.g. `"embed.weight"`)
    /// of embedding tables a batch reads only a few rows of, **indexed by
    /// the batch's token ids** (row `i` is token id `i`'s). With
    /// [`DistillConfig::lazy_tables`](crate::train::DistillConfig::lazy_tables)
    /// Adam updates only those rows of them (the trainer names the
    /// batch's distinct ids), so a step costs what the batch reads, not
    /// the table's size. A path that is not a parameter of the student is
    /// an [`LelpError::InvalidParameter`] when training starts. None by
    /// default; the crate's [`Bag`] and [`TextCnn`] name their token
    /// embeddings, the `TransformerStudent` (feature `text`) its
    /// word-piece table.
    fn embedding_tables(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Class logits from `C * S` subclass logits: `l_c = logsumexp_s z[c*S+s]`.
/// With `S = 1` this is the identity.
///
/// # Shapes
/// - `z`: `[N, C*S]` -> `[N, C]`
pub fn class_logits(z: Tensor<2>, num_classes: usize, subclasses: usize) -> Tensor<2> {
    if subclasses == 1 {
        return z;
    }
    let [n, _] = z.dims();
    let z3 = z.reshape([n, num_classes, subclasses]);
    let m = z3.clone().max_dim(2).detach(); // [n, c, 1]
    ((z3 - m.clone()).exp().sum_dim(2).log() + m).reshape([n, num_classes])
}

pub(crate) fn uniform_param<const D: usize>(
    shape: [usize; D],
    fan_in: usize,
    rng: &mut StdRng,
    device: &Device,
) -> Param<Tensor<D>> {
    let k = 1.0 / (fan_in as f32).sqrt();
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-k..k)).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

/// An embedding table from host values `table` (`[rows, dim]`
/// row-major), trainable unless `frozen`: the checks and upload shared by
/// the token students' `init_with_table`.
pub(crate) fn table_param(
    table: Vec<f32>,
    rows: usize,
    dim: usize,
    frozen: bool,
    device: &Device,
) -> Result<Param<Tensor<2>>> {
    if table.len() != rows * dim {
        return Err(LelpError::DimensionMismatch {
            what: "embedding table vs rows * dim",
            expected: rows * dim,
            got: table.len(),
        });
    }
    if let Some(i) = table.iter().position(|x| !x.is_finite()) {
        return Err(LelpError::NonFinite {
            what: "embedding table",
            row: i / dim,
            col: i % dim,
        });
    }
    let w = Tensor::from_data(TensorData::new(table, [rows, dim]), device);
    Ok(Param::from_tensor(w).set_require_grad(!frozen))
}

/// A `d_in -> d_out` linear layer drawn from `rng` (PyTorch's default
/// uniform initialisation), the same on every backend.
pub(crate) fn seeded_linear(d_in: usize, d_out: usize, rng: &mut StdRng, device: &Device) -> Linear {
    Linear {
        weight: uniform_param([d_in, d_out], d_in, rng, device),
        bias: Some(uniform_param([d_out], d_in, rng, device)),
    }
}

/// [`Student`] and [`TeacherModule`] for a network with a `hidden(inputs)`
/// embedding, a `head: Linear`, an `outputs` count and an embedding-width
/// field.
macro_rules! head_network {
    ($ty:ty, $width:ident, $teacher_doc:literal) => {
        head_network!($ty, $width, $teacher_doc, tables: []);
    };
    ($ty:ty, $width:ident, $teacher_doc:literal, tables: [$($table:literal),*]) => {
        #[doc = $teacher_doc]
        impl TeacherModule for $ty {
            fn embed(&self, inputs: Inputs) -> Result<Tensor<2>> {
                self.hidden(inputs)
            }
            fn classifier(&self) -> &Linear {
                &self.head
            }
        }

        impl Student for $ty {
            fn forward(&self, inputs: Inputs) -> Result<StudentOutput> {
                let h = self.hidden(inputs)?;
                Ok(StudentOutput {
                    logits: self.head.forward(h.clone()),
                    embedding: h,
                })
            }
            fn num_outputs(&self) -> usize {
                self.outputs
            }
            fn embedding_dim(&self) -> usize {
                self.$width
            }
            fn embedding_tables(&self) -> Vec<String> {
                vec![$($table.to_string()),*]
            }
        }
    };
}

/// Errors unless every id is `< vocab`: one read-back per batch, so an id
/// past the embedding table is a typed error, not an out-of-bounds gather
/// inside the backend.
pub(crate) fn check_ids(ids: &Tensor<2, Int>, vocab: usize, what: &'static str) -> Result<()> {
    let max = ids.clone().max().try_into_scalar::<i64>().map_err(LelpError::backend)?;
    if max >= vocab as i64 {
        return Err(LelpError::DimensionMismatch {
            what,
            expected: vocab,
            got: max as usize,
        });
    }
    Ok(())
}

mod bag;
mod cnn;
mod mlp;
mod text_cnn;

pub use bag::{Bag, BagConfig};
pub use cnn::{Cnn, CnnConfig};
pub use mlp::{Mlp, MlpConfig};
pub use text_cnn::{TextCnn, TextCnnConfig};
