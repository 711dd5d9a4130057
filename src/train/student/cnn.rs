//! The small image CNN.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::Inputs;
use crate::error::{LelpError, Result};
use crate::teacher::TeacherModule;
use crate::util;

use super::{Student, StudentOutput, seeded_linear, uniform_param};

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
