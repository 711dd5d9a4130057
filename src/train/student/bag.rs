//! The fastText-style bag of token embeddings.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::Inputs;
use crate::error::{LelpError, Result};
use crate::teacher::TeacherModule;
use crate::util;

use super::{Student, StudentOutput, check_ids, seeded_linear};

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
    /// (`lelp::deploy::static_table` (feature `text`)); `frozen` keeps
    /// the table fixed in training (only the head, and the hidden layer if
    /// any, learn).
    ///
    /// # Errors
    /// As [`BagConfig::init`]; [`LelpError::DimensionMismatch`] when the
    /// table is not `buckets * dim` values; [`LelpError::NonFinite`] for
    /// NaN or infinite values.
    pub fn init_with_table(&self, table: Vec<f32>, frozen: bool, device: &Device) -> Result<Bag> {
        let mut bag = self.init(device)?;
        bag.embed.weight = super::table_param(table, self.buckets, self.dim, frozen, device)?;
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
    "A bag of embeddings serves as a teacher too (its pooled layer is the embedding).",
    tables: ["embed.weight"]
);
