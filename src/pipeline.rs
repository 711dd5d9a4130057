//! The whole paper pipeline from raw data: train a teacher, compute its
//! outputs on the transfer set once, then train the same student
//! architecture with each [`Method`] and score it on a test set.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::distill::{DistillConfig, Distiller, accuracy};
use crate::error::{LelpError, Result};
use crate::method::Method;
use crate::student::{Cnn, CnnConfig, Mlp, MlpConfig, Student};
use crate::teacher::{LinearHead, TeacherEncoder, TeacherOutput};

/// A network architecture (teacher or student).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
    pub fn accuracy(&self, data: &Dataset, subclasses: usize, device: &Device) -> Result<f64> {
        match self {
            Network::Mlp(m) => accuracy(m, data, subclasses, device),
            Network::Cnn(m) => accuracy(m.as_ref(), data, subclasses, device),
        }
    }
}

impl TeacherEncoder for Network {
    fn num_classes(&self) -> usize {
        match self {
            Network::Mlp(m) => m.num_outputs(),
            Network::Cnn(m) => m.num_outputs(),
        }
    }
    fn embedding_dim(&self) -> usize {
        match self {
            Network::Mlp(m) => m.embedding_dim(),
            Network::Cnn(m) => m.embedding_dim(),
        }
    }
    fn forward(&self, inputs: Tensor<2>) -> Result<TeacherOutput> {
        let out = match self {
            Network::Mlp(m) => m.forward(inputs),
            Network::Cnn(m) => m.forward(inputs),
        };
        TeacherOutput::new(out.embedding, out.logits)
    }
    fn head(&self) -> Option<LinearHead> {
        match self {
            Network::Mlp(m) => m.linear_head().ok(),
            Network::Cnn(m) => m.linear_head().ok(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_student<S: Student>(
    student: S,
    method: &Method,
    transfer: &Dataset,
    teacher: Option<&TeacherOutput>,
    head: Option<&LinearHead>,
    test: &Dataset,
    config: &DistillConfig,
    device: &Device,
) -> Result<f64> {
    let targets = method.prepare(transfer, teacher, head)?;
    let trained = Distiller::new(config.clone()).fit(student, transfer, &targets, None, device)?;
    accuracy(&trained.student, test, targets.subclasses, device)
}

/// Trains a network of `arch` on `train` by cross-entropy (a teacher, or
/// the plain-training baseline).
///
/// # Errors
/// Those of [`Distiller::fit`].
pub fn train_network(
    arch: &Arch,
    train: &Dataset,
    config: &DistillConfig,
    seed: u64,
    device: &Device,
) -> Result<Network> {
    let ad = device.clone().autodiff();
    let net = arch.build(train, train.num_classes(), seed, &ad)?;
    let targets = Method::plain().prepare(train, None, None)?;
    let d = Distiller::new(config.clone().with_seed(seed));
    Ok(match net {
        Network::Mlp(m) => Network::Mlp(d.fit(m, train, &targets, None, device)?.student),
        Network::Cnn(m) => Network::Cnn(Box::new(d.fit(*m, train, &targets, None, device)?.student)),
    })
}

/// Trains a student of `arch` on `transfer` with `method` and returns its
/// accuracy on `test`. `teacher` holds the teacher's outputs on the
/// transfer rows (computed once by the caller).
///
/// # Errors
/// Those of [`Method::prepare`] and [`Distiller::fit`].
#[allow(clippy::too_many_arguments)]
pub fn distil_and_score(
    arch: &Arch,
    method: &Method,
    transfer: &Dataset,
    teacher: Option<&TeacherOutput>,
    head: Option<&LinearHead>,
    test: &Dataset,
    config: &DistillConfig,
    seed: u64,
    device: &Device,
) -> Result<f64> {
    let ad = device.clone().autodiff();
    let outputs = method.student_outputs(transfer.num_classes());
    let config = config.clone().with_seed(seed);
    match arch.build(transfer, outputs, seed, &ad)? {
        Network::Mlp(m) => fit_student(m, method, transfer, teacher, head, test, &config, device),
        Network::Cnn(m) => fit_student(*m, method, transfer, teacher, head, test, &config, device),
    }
}

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    let s = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, s)
}
