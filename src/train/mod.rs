//! Step 3: train a student on the targets.
//!
//! - [`Student`]: any burn module with `C * S` output logits and an
//!   embedding; [`Mlp`] and [`Cnn`] come with the crate.
//! - [`Method`]: which targets and loss (plain, vanilla KD, feature KD,
//!   LELP, random projections, k-means, oracle), with serde configs.
//! - [`TrainingTargets`]: a method's targets for one transfer set, from
//!   [`Method::prepare`] or any [`PseudoLabeler`](crate::labeler::PseudoLabeler).
//! - [`Distiller`]: the training loop (seeded shuffles, validation, early
//!   stopping, exact resume from checkpoints), reporting to an [`Observer`].
//! - [`evaluate`], [`accuracy`], [`predict`], [`predict_inputs`]: class
//!   decisions `argmax_c logsumexp_s z[c S + s]`.
//! - [`dropout`]: dropout with per-step seeded masks (fits repeat and
//!   resume exactly).
//! - [`loss`]: the losses, in log space.

#[cfg(feature = "train")]
pub mod burn_train;
pub(crate) mod checkpoint;
mod config;
mod distiller;
mod dropout;
mod eval;
mod lazy;
pub mod loss;
mod method;
mod observer;
mod student;
mod targets;

pub use checkpoint::CheckpointInfo;
pub use config::{DistillConfig, EpochReport, LrSchedule, OptimizerKind, Trained, balanced_class_weights};
pub use distiller::Distiller;
pub(crate) use dropout::DropoutScope;
pub use dropout::{dropout, seed_dropout};
#[cfg(feature = "text")]
pub(crate) use eval::class_logits_of;
pub use eval::{Evaluation, accuracy, evaluate, predict, predict_inputs};
pub use method::{
    DkdConfig, FeatureKdConfig, KdConfig, LelpConfig, METHOD_NAMES, Method, RkdConfig, SubclassDistillationConfig,
};
pub use observer::{Observer, Silent, StderrProgress};
pub use student::{
    Bag, BagConfig, Cnn, CnnConfig, Mlp, MlpConfig, Student, StudentOutput, TextCnn, TextCnnConfig, class_logits,
};
#[cfg(feature = "text")]
pub(crate) use student::{check_ids, seeded_linear};
pub use targets::TrainingTargets;
