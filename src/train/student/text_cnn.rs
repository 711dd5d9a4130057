//! The 1-D CNN over token ids.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::Inputs;
use crate::error::{LelpError, Result};
use crate::teacher::TeacherModule;
use crate::util;

use super::{Student, StudentOutput, check_ids, seeded_linear, uniform_param};

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

impl TextCnnConfig {
    /// Builds the network with `table` (`[vocab, dim]` row-major) as its
    /// token embeddings, e.g. the teacher's static vocabulary table
    /// (`lelp::deploy::static_table` (feature `text`) with `dims = dim`),
    /// so the student starts from the teacher's view of each token;
    /// `frozen` keeps the table fixed in training.
    ///
    /// # Errors
    /// As [`TextCnnConfig::init`]; [`LelpError::DimensionMismatch`] when
    /// the table is not `vocab * dim` values; [`LelpError::NonFinite`] for
    /// NaN or infinite values.
    pub fn init_with_table(&self, table: Vec<f32>, frozen: bool, device: &Device) -> Result<TextCnn> {
        let mut cnn = self.init(device)?;
        cnn.embed.weight = super::table_param(table, self.vocab, self.dim, frozen, device)?;
        Ok(cnn)
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
    "A text CNN serves as a teacher too (its pooled layer is the embedding).",
    tables: ["embed.weight"]
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::train::{DistillConfig, Distiller, Method};

    /// The CNN starts from a given table; frozen, training leaves it as
    /// given, unfrozen it learns; a wrong size or a NaN is refused.
    #[test]
    fn a_cnn_starts_from_a_given_table() {
        let device = Device::flex();
        let (v, dim) = (12, 4);
        let table: Vec<f32> = (0..v * dim).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
        let cfg = TextCnnConfig::new(v, 2).with_dim(dim).with_channels(6);
        let data = Dataset::from_tokens(
            vec![vec![1, 2, 3], vec![4, 5], vec![6, 7, 8, 9], vec![10, 11]],
            vec![0, 1, 0, 1],
            2,
        )
        .unwrap();
        let targets = Method::Plain.prepare(&data, None).unwrap();
        let trained = |frozen: bool| {
            let cnn = cfg.init_with_table(table.clone(), frozen, &device).unwrap();
            assert_eq!(util::to_host_f32(cnn.embed.weight.val()).unwrap(), table);
            let cnn = Distiller::new(DistillConfig::new(5, 0.1))
                .fit(cnn, &data, &targets, None, &device)
                .unwrap()
                .student;
            util::to_host_f32(cnn.embed.weight.val()).unwrap()
        };
        assert_eq!(trained(true), table, "a frozen table is not trained");
        assert_ne!(trained(false), table, "an unfrozen one is");
        assert!(matches!(
            cfg.init_with_table(vec![0.0; 3], false, &device),
            Err(LelpError::DimensionMismatch {
                expected: 48,
                got: 3,
                ..
            })
        ));
        let mut bad = table.clone();
        bad[9] = f32::INFINITY;
        assert!(matches!(
            cfg.init_with_table(bad, false, &device),
            Err(LelpError::NonFinite { row: 2, col: 1, .. })
        ));
    }
}
