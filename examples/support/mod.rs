//! Shared by the example binaries (and, through `#[path]`, the benches and
//! tests): the paper pipeline from raw data (train a teacher, compute its
//! outputs on the transfer set once, train the same student architecture
//! with each method and score it), device selection by name, flags.
#![allow(dead_code)]

pub mod device;

use burn::prelude::*;
use lelp::data::Dataset;
use lelp::teacher::{ModuleTeacher, TeacherEncoder, TeacherOutput};
use lelp::train::{Cnn, CnnConfig, DistillConfig, Distiller, Method, Mlp, MlpConfig, accuracy};
use lelp::{LelpError, Result};
use serde::{Deserialize, Serialize};

/// The value after flag `name` in `args`.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A network architecture (teacher or student).
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
}

/// A trained network of either architecture.
#[derive(Debug, Clone)]
pub enum Network {
    /// An MLP.
    Mlp(Mlp),
    /// A CNN.
    Cnn(Box<Cnn>),
}

impl Arch {
    fn build(&self, data: &Dataset, outputs: usize, seed: u64, device: &Device) -> Result<Network> {
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
        }
    }
}

impl Network {
    /// Test accuracy.
    ///
    /// # Errors
    /// Backend read-back errors.
    pub fn accuracy(&self, data: &Dataset, device: &Device) -> Result<f64> {
        match self {
            Network::Mlp(m) => accuracy(m, data, device),
            Network::Cnn(m) => accuracy(m.as_ref(), data, device),
        }
    }

    /// The frozen network's outputs on every row of `data`, head attached.
    ///
    /// # Errors
    /// Those of [`TeacherEncoder::encode`].
    pub fn encode(&self, data: &Dataset, device: &Device) -> Result<TeacherOutput> {
        match self {
            Network::Mlp(m) => ModuleTeacher::new(m.clone())?.encode(data, 512, device),
            Network::Cnn(m) => ModuleTeacher::new((**m).clone())?.encode(data, 512, device),
        }
    }
}

fn fit_student<S: lelp::train::Student>(
    student: S,
    targets: &lelp::train::TrainingTargets,
    transfer: &Dataset,
    test: &Dataset,
    config: &DistillConfig,
    device: &Device,
) -> Result<f64> {
    let trained = Distiller::new(config.clone()).fit(student, transfer, targets, None, device)?;
    accuracy(&trained.student, test, device)
}

/// Trains a network of `arch` on `train` by cross-entropy (a teacher, or
/// the plain-training baseline).
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
pub fn train_network_on(
    arch: &Arch,
    train: &Dataset,
    targets: &lelp::train::TrainingTargets,
    config: &DistillConfig,
    seed: u64,
    device: &Device,
) -> Result<Network> {
    let net = arch.build(train, targets.outputs(), seed, device)?;
    let d = Distiller::new(config.clone().with_seed(seed));
    Ok(match net {
        Network::Mlp(m) => Network::Mlp(d.fit(m, train, targets, None, device)?.student),
        Network::Cnn(m) => Network::Cnn(Box::new(d.fit(*m, train, targets, None, device)?.student)),
    })
}

/// One run of the comparison: a student of `arch` trained on `transfer`
/// with `method` (targets from the teacher's outputs `teacher`), scored on
/// `test`.
pub struct Run<'a> {
    /// Student architecture.
    pub arch: &'a Arch,
    /// Transfer set.
    pub transfer: &'a Dataset,
    /// The teacher's outputs on the transfer set.
    pub teacher: Option<&'a TeacherOutput>,
    /// Test set.
    pub test: &'a Dataset,
    /// Training configuration.
    pub config: &'a DistillConfig,
    /// Seed of the student's initialisation and shuffles.
    pub seed: u64,
}

impl Run<'_> {
    /// Test accuracy of a student trained with `method`.
    pub fn score(&self, method: &Method, device: &Device) -> Result<f64> {
        let targets = method.prepare(self.transfer, self.teacher)?;
        let config = self.config.clone().with_seed(self.seed);
        match self.arch.build(self.transfer, targets.outputs(), self.seed, device)? {
            Network::Mlp(m) => fit_student(m, &targets, self.transfer, self.test, &config, device),
            Network::Cnn(m) => fit_student(*m, &targets, self.transfer, self.test, &config, device),
        }
    }
}

/// Mean and sample standard deviation (the library's, so the examples
/// and the tests agree; not every example uses it).
#[allow(unused_imports)]
pub use lelp::metrics::mean_std;
