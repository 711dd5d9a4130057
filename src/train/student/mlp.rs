//! The MLP student (and teacher head).

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

use super::{Student, StudentOutput, seeded_linear};

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
