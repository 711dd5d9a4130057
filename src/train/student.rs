//! Students: networks trained to imitate the teacher.
//!
//! A [`Student`] maps a batch of [`Inputs`] (dense rows or token ids) to logits (`C * S` of them for LELP,
//! `C` otherwise) and an embedding (its last hidden layer, for feature KD).
//! The class logits of a LELP student are `l_c = logsumexp_s z[c * S + s]`
//! ([`class_logits`]), and its prediction is `argmax_c l_c`.
//!
//! Parameters are initialised from a seeded host RNG (uniform
//! `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, PyTorch's default), so the same
//! seed gives the same initial weights on every backend.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::Inputs;
use crate::error::{LelpError, Result};
use crate::teacher::TeacherModule;
use crate::util;

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

fn uniform_param<const D: usize>(
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
        }
    };
}

/// Configuration of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Input features `F`.
    pub input: usize,
    /// Hidden widths; the last is the embedding width. Empty: a linear
    /// model, whose embedding is its input (a linear head over frozen
    /// features, e.g. a sentence encoder's).
    pub hidden: Vec<usize>,
    /// Outputs `K`.
    pub outputs: usize,
    /// Initialisation seed.
    pub seed: u64,
}

impl MlpConfig {
    /// An MLP `input -> hidden... -> outputs` with ReLU, seed 0.
    pub fn new(input: usize, hidden: Vec<usize>, outputs: usize) -> Self {
        Self {
            input,
            hidden,
            outputs,
            seed: 0,
        }
    }

    /// Builds the network on `device`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a zero width.
    pub fn init(&self, device: &Device) -> Result<Mlp> {
        if self.input == 0 || self.outputs == 0 || self.hidden.contains(&0) {
            return Err(LelpError::InvalidParameter {
                name: "MlpConfig",
                value: format!("{self:?}"),
                reason: "needs input and outputs > 0 and hidden widths > 0",
            });
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut layers = Vec::new();
        let mut prev = self.input;
        for &h in &self.hidden {
            layers.push(seeded_linear(prev, h, &mut rng, device));
            prev = h;
        }
        let head = seeded_linear(prev, self.outputs, &mut rng, device);
        Ok(Mlp {
            layers,
            head,
            outputs: self.outputs,
            embedding_dim: prev,
        })
    }
}

util::setters!(MlpConfig {
    "Sets the initialisation seed." with_seed => seed: u64,
    "Sets the output width." with_outputs => outputs: usize,
});

/// A multi-layer perceptron with ReLU hidden layers and a linear head
/// (with no hidden layer: a linear model whose embedding is its input).
#[derive(Module, Debug)]
pub struct Mlp {
    pub(crate) layers: Vec<Linear>,
    pub(crate) head: Linear,
    pub(crate) outputs: usize,
    embedding_dim: usize,
}

impl Mlp {
    fn hidden(&self, inputs: Inputs) -> Result<Tensor<2>> {
        let first = self.layers.first().unwrap_or(&self.head);
        let width = first.weight.val().dims()[0];
        let mut h = inputs.into_dense(Some(width))?;
        for l in &self.layers {
            h = relu(l.forward(h));
        }
        Ok(h)
    }
}

head_network!(
    Mlp,
    embedding_dim,
    "An MLP serves as a teacher too (its last hidden layer is the embedding)."
);

/// Configuration of a [`Cnn`]: two 3x3 conv + ReLU + 2x2 max-pool blocks,
/// a hidden linear layer (the embedding) and a linear head, for
/// single-channel `H x W` images given as flattened `[N, H*W]` rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CnnConfig {
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Channels of the two conv blocks.
    pub channels: [usize; 2],
    /// Embedding width.
    pub hidden: usize,
    /// Outputs `K`.
    pub outputs: usize,
    /// Initialisation seed.
    pub seed: u64,
}

impl CnnConfig {
    /// A CNN for `height x width` images with 16/32 channels and a 64-wide
    /// embedding.
    pub fn new(height: usize, width: usize, outputs: usize) -> Self {
        Self {
            height,
            width,
            channels: [16, 32],
            hidden: 64,
            outputs,
            seed: 0,
        }
    }

    /// Builds the network on `device`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for images smaller than 4x4 or zero
    /// widths.
    pub fn init(&self, device: &Device) -> Result<Cnn> {
        if self.height < 4 || self.width < 4 || self.outputs == 0 || self.hidden == 0 || self.channels.contains(&0) {
            return Err(LelpError::InvalidParameter {
                name: "CnnConfig",
                value: format!("{self:?}"),
                reason: "images need at least 4x4 pixels and all widths must be > 0",
            });
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let conv = |cin: usize, cout: usize, rng: &mut StdRng| {
            let mut c: Conv2d = Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device);
            c.weight = uniform_param([cout, cin, 3, 3], cin * 9, rng, device);
            c.bias = Some(uniform_param([cout], cin * 9, rng, device));
            c
        };
        let conv1 = conv(1, self.channels[0], &mut rng);
        let conv2 = conv(self.channels[0], self.channels[1], &mut rng);
        let flat = self.channels[1] * (self.height / 4) * (self.width / 4);
        let fc = seeded_linear(flat, self.hidden, &mut rng, device);
        let head = seeded_linear(self.hidden, self.outputs, &mut rng, device);
        Ok(Cnn {
            conv1,
            conv2,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc,
            head,
            height: self.height,
            width: self.width,
            outputs: self.outputs,
            hidden: self.hidden,
        })
    }
}

util::setters!(CnnConfig {
    "Sets the conv channels." with_channels => channels: [usize; 2],
    "Sets the embedding width." with_hidden => hidden: usize,
    "Sets the initialisation seed." with_seed => seed: u64,
    "Sets the output width." with_outputs => outputs: usize,
});

/// A small CNN for single-channel images (see [`CnnConfig`]).
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Linear,
    head: Linear,
    height: usize,
    width: usize,
    outputs: usize,
    hidden: usize,
}

impl Cnn {
    fn hidden(&self, inputs: Inputs) -> Result<Tensor<2>> {
        let x = inputs.into_dense(Some(self.height * self.width))?;
        let [n, _] = x.dims();
        let img = x.reshape([n, 1, self.height, self.width]);
        let h = self.pool.forward(relu(self.conv1.forward(img)));
        let h = self.pool.forward(relu(self.conv2.forward(h)));
        let [_, c, hh, ww] = h.dims();
        Ok(relu(self.fc.forward(h.reshape([n, c * hh * ww]))))
    }
}

head_network!(
    Cnn,
    hidden,
    "A CNN serves as a teacher too (its hidden layer is the embedding)."
);

/// Errors unless every id is `< vocab`: one read-back per batch, so an id
/// past the embedding table is a typed error, not an out-of-bounds gather
/// inside the backend.
fn check_ids(ids: &Tensor<2, Int>, vocab: usize, what: &'static str) -> Result<()> {
    let max = ids
        .clone()
        .max()
        .try_into_scalar::<i64>()
        .map_err(|e| LelpError::Backend {
            message: format!("{e:?}"),
        })?;
    if max >= vocab as i64 {
        return Err(LelpError::DimensionMismatch {
            what,
            expected: vocab,
            got: max as usize,
        });
    }
    Ok(())
}

/// Configuration of a [`Bag`]: a fastText-style student over token ids.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::{Inputs, TokenBatch};
/// use lelp::train::{BagConfig, Student};
/// let device = Device::default();
/// let bag = BagConfig::new(1 << 18, 2).with_dim(16).init(&device)?;
/// let batch = TokenBatch::from_sequences(&[&[5, 9, 262_000], &[7]], 512, &device)?;
/// let out = bag.forward(Inputs::Tokens(batch))?;
/// assert_eq!(out.logits.dims(), [2, 2]);
/// assert_eq!(bag.num_params(), (1 << 18) * 16 + 16 * 2 + 2);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BagConfig {
    /// Token ids (hash buckets) `V`; ids must be `< V`.
    pub buckets: usize,
    /// Embedding width `e` (default 32).
    pub dim: usize,
    /// An optional ReLU hidden layer after the mean (its width is then the
    /// embedding); none by default.
    pub hidden: Option<usize>,
    /// Divide the mean by its L2 norm (model2vec's pooling, for static
    /// tables whose rows differ widely in norm); off by default.
    #[serde(default)]
    pub normalize: bool,
    /// Outputs `K`.
    pub outputs: usize,
    /// Initialisation seed.
    pub seed: u64,
}

impl BagConfig {
    /// `buckets` token embeddings of width 32, mean-pooled, then a linear
    /// layer to `outputs`.
    pub fn new(buckets: usize, outputs: usize) -> Self {
        Self {
            buckets,
            dim: 32,
            hidden: None,
            normalize: false,
            outputs,
            seed: 0,
        }
    }

    /// Builds the network on `device`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a zero size.
    pub fn init(&self, device: &Device) -> Result<Bag> {
        if self.buckets == 0 || self.dim == 0 || self.outputs == 0 || self.hidden == Some(0) {
            return Err(LelpError::InvalidParameter {
                name: "BagConfig",
                value: format!("{self:?}"),
                reason: "buckets, dim, hidden and outputs must be > 0",
            });
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        // fastText's initialisation: U(-1/e, 1/e)
        let k = 1.0 / self.dim as f32;
        let w: Vec<f32> = (0..self.buckets * self.dim).map(|_| rng.random_range(-k..k)).collect();
        let mut embed = burn::nn::EmbeddingConfig::new(self.buckets, self.dim).init(device);
        embed.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [self.buckets, self.dim]), device));
        let hidden_layer = self.hidden.map(|h| seeded_linear(self.dim, h, &mut rng, device));
        let width = self.hidden.unwrap_or(self.dim);
        let head = seeded_linear(width, self.outputs, &mut rng, device);
        Ok(Bag {
            embed,
            hidden_layer,
            head,
            buckets: self.buckets,
            outputs: self.outputs,
            width,
            normalize: self.normalize,
        })
    }
}

impl BagConfig {
    /// Builds the network with `table` (`[buckets, dim]` row-major) as its
    /// token embeddings, e.g. a teacher's static vocabulary table
    /// ([`static_table`](crate::deploy::static_table)); `frozen` keeps
    /// the table fixed in training (only the head, and the hidden layer if
    /// any, learn).
    ///
    /// # Errors
    /// As [`BagConfig::init`]; [`LelpError::DimensionMismatch`] when the
    /// table is not `buckets * dim` values; [`LelpError::NonFinite`] for
    /// NaN or infinite values.
    pub fn init_with_table(&self, table: Vec<f32>, frozen: bool, device: &Device) -> Result<Bag> {
        let mut bag = self.init(device)?;
        if table.len() != self.buckets * self.dim {
            return Err(LelpError::DimensionMismatch {
                what: "embedding table vs buckets * dim",
                expected: self.buckets * self.dim,
                got: table.len(),
            });
        }
        if let Some(i) = table.iter().position(|x| !x.is_finite()) {
            return Err(LelpError::NonFinite {
                what: "embedding table",
                row: i / self.dim,
                col: i % self.dim,
            });
        }
        let w = Tensor::from_data(TensorData::new(table, [self.buckets, self.dim]), device);
        bag.embed.weight = Param::from_tensor(w).set_require_grad(!frozen);
        Ok(bag)
    }
}

util::setters!(BagConfig {
    "Sets the embedding width." with_dim => dim: usize,
    "Sets the hidden layer (None for none)." with_hidden => hidden: Option<usize>,
    "Sets L2 normalisation of the mean." with_normalize => normalize: bool,
    "Sets the initialisation seed." with_seed => seed: u64,
    "Sets the output width." with_outputs => outputs: usize,
});

/// A fastText-style student: token embeddings averaged over the mask,
/// optionally a ReLU layer, then a linear head. Its inputs are token ids
/// (hashed word n-grams from [`HashedNgrams`](crate::data::HashedNgrams),
/// or WordPiece ids).
#[derive(Module, Debug)]
pub struct Bag {
    pub(crate) embed: burn::nn::Embedding,
    pub(crate) hidden_layer: Option<Linear>,
    pub(crate) head: Linear,
    buckets: usize,
    pub(crate) outputs: usize,
    width: usize,
    pub(crate) normalize: bool,
}

impl Bag {
    fn hidden(&self, inputs: Inputs) -> Result<Tensor<2>> {
        let t = inputs.into_tokens()?;
        let [b, l] = t.ids.dims();
        check_ids(&t.ids, self.buckets, "token id vs bag buckets")?;
        let e = self.embed.forward(t.ids); // [B, L, e]
        let d = e.dims()[2];
        let mask = t.mask.float().reshape([b, l, 1]);
        let sum = (e * mask.clone()).sum_dim(1).reshape([b, d]);
        let count = mask.sum_dim(1).reshape([b, 1]).clamp_min(1.0);
        let mut mean = sum / count;
        if self.normalize {
            let norm = mean.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
            mean = mean / norm;
        }
        Ok(match &self.hidden_layer {
            Some(h) => relu(h.forward(mean)),
            None => mean,
        })
    }
}

head_network!(
    Bag,
    width,
    "A bag of embeddings serves as a teacher too (its pooled layer is the embedding)."
);

/// Configuration of a [`TextCnn`]: a 1-D convolutional student over token
/// ids (WordPiece ids of the teacher's tokenizer, say): token embeddings, one
/// convolution with ReLU, a max over the sequence (padding masked), a linear
/// head.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::data::{Inputs, TokenBatch};
/// use lelp::train::{Student, TextCnnConfig};
/// let device = Device::default();
/// let cnn = TextCnnConfig::new(30_522, 2).with_dim(16).with_channels(32).init(&device)?;
/// let batch = TokenBatch::from_sequences(&[&[101, 7592, 102], &[101, 102]], 64, &device)?;
/// let out = cnn.forward(Inputs::Tokens(batch))?;
/// assert_eq!((out.logits.dims(), out.embedding.dims()), ([2, 2], [2, 32]));
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextCnnConfig {
    /// Vocabulary size; ids must be smaller.
    pub vocab: usize,
    /// Token embedding width (default 64).
    pub dim: usize,
    /// Convolution channels: the embedding width of the student (default 128).
    pub channels: usize,
    /// Convolution width in tokens (default 3).
    pub kernel: usize,
    /// Outputs `K`.
    pub outputs: usize,
    /// Initialisation seed.
    pub seed: u64,
}

impl TextCnnConfig {
    /// A CNN over `vocab` token ids with `outputs` logits.
    pub fn new(vocab: usize, outputs: usize) -> Self {
        Self {
            vocab,
            dim: 64,
            channels: 128,
            kernel: 3,
            outputs,
            seed: 0,
        }
    }

    /// Builds the network on `device`.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a zero size or an even kernel.
    pub fn init(&self, device: &Device) -> Result<TextCnn> {
        if self.vocab == 0 || self.dim == 0 || self.channels == 0 || self.outputs == 0 || self.kernel.is_multiple_of(2)
        {
            return Err(LelpError::InvalidParameter {
                name: "TextCnnConfig",
                value: format!("{self:?}"),
                reason: "sizes must be > 0 and the kernel odd",
            });
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut embed = burn::nn::EmbeddingConfig::new(self.vocab, self.dim).init(device);
        embed.weight = uniform_param([self.vocab, self.dim], self.dim, &mut rng, device);
        let mut conv = burn::nn::conv::Conv1dConfig::new(self.dim, self.channels, self.kernel)
            .with_padding(burn::nn::PaddingConfig1d::Same)
            .init(device);
        conv.weight = uniform_param(
            [self.channels, self.dim, self.kernel],
            self.dim * self.kernel,
            &mut rng,
            device,
        );
        conv.bias = Some(uniform_param([self.channels], self.dim * self.kernel, &mut rng, device));
        let head = seeded_linear(self.channels, self.outputs, &mut rng, device);
        Ok(TextCnn {
            embed,
            conv,
            head,
            vocab: self.vocab,
            outputs: self.outputs,
            channels: self.channels,
        })
    }
}

util::setters!(TextCnnConfig {
    "Sets the token embedding width." with_dim => dim: usize,
    "Sets the convolution channels." with_channels => channels: usize,
    "Sets the convolution width (odd)." with_kernel => kernel: usize,
    "Sets the initialisation seed." with_seed => seed: u64,
    "Sets the output width." with_outputs => outputs: usize,
});

/// A 1-D CNN over token ids (see [`TextCnnConfig`]).
#[derive(Module, Debug)]
pub struct TextCnn {
    pub(crate) embed: burn::nn::Embedding,
    pub(crate) conv: burn::nn::conv::Conv1d,
    pub(crate) head: Linear,
    pub(crate) vocab: usize,
    pub(crate) outputs: usize,
    channels: usize,
}

impl TextCnn {
    fn hidden(&self, inputs: Inputs) -> Result<Tensor<2>> {
        let t = inputs.into_tokens()?;
        let [b, l] = t.ids.dims();
        check_ids(&t.ids, self.vocab, "token id vs vocabulary")?;
        let e = self.embed.forward(t.ids); // [B, L, e]
        // padding positions embed as zeros, as the convolution's own
        // padding does: a text's outputs do not depend on how far its
        // batch is padded
        let mask = t.mask.clone().float().reshape([b, l, 1]);
        let e = (e * mask).swap_dims(1, 2); // [B, e, L]
        let h = relu(self.conv.forward(e)); // [B, C, L]
        // padding cannot win the max: push it far below any activation
        let pad = (t.mask.float().neg() + 1.0).mul_scalar(1e9).reshape([b, 1, l]);
        Ok((h - pad).max_dim(2).reshape([b, self.channels]))
    }
}

head_network!(
    TextCnn,
    channels,
    "A text CNN serves as a teacher too (its pooled layer is the embedding)."
);
