//! The networks of a comparison (teacher and student architectures) and
//! one run: a student trained with a method and scored.

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::teacher::{ModuleTeacher, TeacherEncoder, TeacherOutput};
use crate::train::{
    Bag, BagConfig, Cnn, CnnConfig, DistillConfig, Distiller, Method, Mlp, MlpConfig, TextCnn, TextCnnConfig,
    TrainingTargets, accuracy,
};

/// A network architecture (teacher or student): over dense features (MLP,
/// CNN) or over token ids (the text students).
///
/// Serialised as `{"Mlp": {"hidden": [32, 32]}}`, `{"Cnn": {"channels":
/// [16, 32], "hidden": 64}}`, `{"Bag": {"buckets": 262144, "dim": 8}}`,
/// `{"TextCnn": {"vocab": 30522, "dim": 32, "channels": 64}}` (the
/// experiment configs' schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arch {
    /// An MLP with these hidden widths (the last is the embedding).
    Mlp {
        /// Hidden widths.
        hidden: Vec<usize>,
    },
    /// A two-block CNN (needs image-shaped data).
    Cnn {
        /// Conv channels.
        channels: [usize; 2],
        /// Embedding width.
        hidden: usize,
    },
    /// A bag of hashed n-grams: a mean of `dim`-wide embeddings and a
    /// linear head (needs token data, e.g. [`crate::data::HashedNgrams`]).
    Bag {
        /// Hash buckets (embedding rows).
        buckets: usize,
        /// Embedding width.
        dim: usize,
    },
    /// A 1-D CNN over token ids (needs token data, e.g. WordPiece ids).
    TextCnn {
        /// Vocabulary size (embedding rows).
        vocab: usize,
        /// Embedding width.
        dim: usize,
        /// Convolution channels.
        channels: usize,
    },
}

/// A network of any [`Arch`].
#[derive(Debug, Clone)]
pub enum Network {
    /// An MLP.
    Mlp(Mlp),
    /// A CNN.
    Cnn(Box<Cnn>),
    /// A bag of hashed n-grams.
    Bag(Bag),
    /// A 1-D CNN over token ids.
    TextCnn(TextCnn),
}

/// `$body` with `$m` bound to the network inside any variant.
macro_rules! each {
    ($net:expr, $m:ident => $body:expr) => {
        match $net {
            Network::Mlp($m) => $body,
            Network::Cnn(b) => {
                let $m = b.as_ref();
                $body
            }
            Network::Bag($m) => $body,
            Network::TextCnn($m) => $body,
        }
    };
}

impl Arch {
    /// A freshly initialised network over `data`'s features with `outputs`
    /// outputs.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a CNN over data without an image
    /// shape; the configs' own errors.
    pub fn build(&self, data: &Dataset, outputs: usize, seed: u64, device: &Device) -> Result<Network> {
        match self {
            Arch::Mlp { hidden } => Ok(Network::Mlp(
                MlpConfig::new(data.num_features(), hidden.clone(), outputs)
                    .with_seed(seed)
                    .init(device)?,
            )),
            Arch::Cnn { channels, hidden } => {
                let [h, w] = data.image_shape().ok_or(LelpError::InvalidParameter {
                    name: "arch",
                    value: "Cnn".into(),
                    reason: "a CNN needs image-shaped data (Dataset::with_image_shape)",
                })?;
                Ok(Network::Cnn(Box::new(
                    CnnConfig::new(h, w, outputs)
                        .with_channels(*channels)
                        .with_hidden(*hidden)
                        .with_seed(seed)
                        .init(device)?,
                )))
            }
            Arch::Bag { buckets, dim } => Ok(Network::Bag(
                BagConfig::new(*buckets, outputs)
                    .with_dim(*dim)
                    .with_seed(seed)
                    .init(device)?,
            )),
            Arch::TextCnn { vocab, dim, channels } => Ok(Network::TextCnn(
                TextCnnConfig::new(*vocab, outputs)
                    .with_dim(*dim)
                    .with_channels(*channels)
                    .with_seed(seed)
                    .init(device)?,
            )),
        }
    }
}

impl Arch {
    /// [`Arch::build`] with `table` (when given) as a token student's
    /// initial embedding table, trained with the rest: `[buckets, dim]`
    /// for the bag, `[vocab, dim]` for the CNN, row-major (e.g. the
    /// teacher's static vocabulary table,
    /// `lelp::deploy::static_table` (feature `text`), for a CNN over its
    /// WordPiece ids).
    ///
    /// # Errors
    /// As [`Arch::build`]; [`LelpError::InvalidParameter`] for a table on
    /// a network without one (MLP, image CNN); the table's own errors
    /// ([`crate::train::BagConfig::init_with_table`]).
    pub fn build_with_table(
        &self,
        data: &Dataset,
        outputs: usize,
        seed: u64,
        table: Option<&[f32]>,
        device: &Device,
    ) -> Result<Network> {
        let Some(table) = table else {
            return self.build(data, outputs, seed, device);
        };
        match self {
            Arch::Bag { buckets, dim } => Ok(Network::Bag(
                BagConfig::new(*buckets, outputs)
                    .with_dim(*dim)
                    .with_seed(seed)
                    .init_with_table(table.to_vec(), false, device)?,
            )),
            Arch::TextCnn { vocab, dim, channels } => Ok(Network::TextCnn(
                TextCnnConfig::new(*vocab, outputs)
                    .with_dim(*dim)
                    .with_channels(*channels)
                    .with_seed(seed)
                    .init_with_table(table.to_vec(), false, device)?,
            )),
            Arch::Mlp { .. } | Arch::Cnn { .. } => Err(LelpError::InvalidParameter {
                name: "initial_table",
                value: format!("{} values", table.len()),
                reason: "only the token students (Bag, TextCnn) have an embedding table",
            }),
        }
    }
}

impl Network {
    /// Accuracy on `data`.
    ///
    /// # Errors
    /// Backend read-back errors.
    pub fn accuracy(&self, data: &Dataset, device: &Device) -> Result<f64> {
        each!(self, m => accuracy(m, data, device))
    }

    /// Trainable parameters.
    pub fn num_params(&self) -> usize {
        use burn::module::Module;
        each!(self, m => m.num_params())
    }

    /// Saves the weights in burn's record format (`.bpk`).
    ///
    /// # Errors
    /// [`LelpError::Record`] when burn cannot write the file.
    pub fn save_file(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        each!(self, m => crate::train::checkpoint::save_module(m.clone(), path))
    }

    /// The frozen network's outputs on every row of `data`, head attached.
    ///
    /// # Errors
    /// Those of [`TeacherEncoder::encode`].
    pub fn encode(&self, data: &Dataset, device: &Device) -> Result<TeacherOutput> {
        each!(self, m => ModuleTeacher::new(m.clone())?.encode(data, 512, device))
    }
}

/// Trains a network of `arch` on `train` by cross-entropy (a teacher, or
/// the plain-training baseline).
///
/// # Errors
/// Those of [`Arch::build`] and [`Distiller::fit`].
pub fn train_network(
    arch: &Arch,
    train: &Dataset,
    config: &DistillConfig,
    seed: u64,
    device: &Device,
) -> Result<Network> {
    let targets = Method::Plain.prepare(train, None)?;
    train_network_on(arch, train, &targets, config, seed, device)
}

/// Trains a network of `arch` with `targets.outputs()` outputs on `train`
/// (e.g. a Subclass Distillation teacher).
///
/// # Errors
/// Those of [`Arch::build`] and [`Distiller::fit`].
pub fn train_network_on(
    arch: &Arch,
    train: &Dataset,
    targets: &TrainingTargets,
    config: &DistillConfig,
    seed: u64,
    device: &Device,
) -> Result<Network> {
    let net = arch.build(train, targets.outputs(), seed, device)?;
    net.fit(train, targets, &config.clone().with_seed(seed), device)
}

impl Network {
    /// This network trained on `data` towards `targets` (by the
    /// [`Distiller`] with `config`).
    ///
    /// # Errors
    /// Those of [`Distiller::fit`].
    pub fn fit(
        self,
        data: &Dataset,
        targets: &TrainingTargets,
        config: &DistillConfig,
        device: &Device,
    ) -> Result<Self> {
        let d = Distiller::new(config.clone());
        Ok(match self {
            Network::Mlp(m) => Network::Mlp(d.fit(m, data, targets, None, device)?.student),
            Network::Cnn(m) => Network::Cnn(Box::new(d.fit(*m, data, targets, None, device)?.student)),
            Network::Bag(m) => Network::Bag(d.fit(m, data, targets, None, device)?.student),
            Network::TextCnn(m) => Network::TextCnn(d.fit(m, data, targets, None, device)?.student),
        })
    }
}

/// One run of the comparison: a student of `arch` trained on `transfer`
/// with a method (targets from the teacher's outputs `teacher`), scored on
/// `test`.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// Student architecture.
    pub arch: &'a Arch,
    /// Transfer set.
    pub transfer: &'a Dataset,
    /// The teacher's outputs on the transfer set (`None` for methods that
    /// need none).
    pub teacher: Option<&'a TeacherOutput>,
    /// Where the student is scored.
    pub test: &'a Dataset,
    /// Training configuration (its seed is replaced by `seed`).
    pub config: &'a DistillConfig,
    /// Seed of the student's initialisation and shuffles.
    pub seed: u64,
    /// A token student's initial embedding table (`None`: a seeded random
    /// one); see [`Arch::build_with_table`].
    pub initial_table: Option<&'a [f32]>,
}

impl Run<'_> {
    /// Accuracy on `test` of a student trained with `method`.
    ///
    /// # Errors
    /// Those of [`Method::prepare`], [`Arch::build`] and [`Distiller::fit`].
    pub fn score(&self, method: &Method, device: &Device) -> Result<f64> {
        let targets = method.prepare(self.transfer, self.teacher)?;
        self.train(&targets, device)?.accuracy(self.test, device)
    }

    /// A student of `arch` (seeded by `seed`) trained on `transfer`
    /// towards `targets` (e.g. from [`Method::prepare`], when the caller
    /// also wants to inspect them).
    ///
    /// # Errors
    /// Those of [`Arch::build_with_table`] and [`Distiller::fit`].
    pub fn train(&self, targets: &TrainingTargets, device: &Device) -> Result<Network> {
        let config = self.config.clone().with_seed(self.seed);
        self.arch
            .build_with_table(self.transfer, targets.outputs(), self.seed, self.initial_table, device)?
            .fit(self.transfer, targets, &config, device)
    }
}
