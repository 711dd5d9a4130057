//! # lelp: LELP knowledge distillation for binary and few-class problems
//!
//! Placeholder crate docs; see README.
#![warn(missing_docs)]

pub mod error;
pub mod labeler;
mod linalg;
pub mod npy;
mod store;
pub mod subspace;
pub mod teacher;
mod util;

pub use error::{LelpError, Result};
pub use labeler::{LabelerInput, LelpLabeler, OracleLabeler, PseudoLabeler, PseudoTargets, SoftmaxLabeler};
pub use subspace::{ClassMoments, PcaFinder, RandomProjectionFinder, SubspaceConfig, SubspaceFinder, SubspaceKind, Subspaces};
pub use teacher::{LinearHead, ModuleTeacher, PrecomputedTeacher, TeacherEncoder, TeacherOutput, load_embeddings_npy};
pub mod data;
pub mod loss;
pub mod method;
pub mod student;
pub use data::Dataset;
pub use method::{LelpOptions, Method, PreparedTargets};
pub use student::{Cnn, CnnConfig, Mlp, MlpConfig, Student, StudentOutput, class_logits};
pub mod distill;
pub use distill::{DistillConfig, Distiller, EpochReport, LrSchedule, OptimizerKind, Trained, Trainee, accuracy, evaluate, predict};
mod device;
pub use device::{available_devices, device_by_name, device_from_env};
pub mod pipeline;
pub use pipeline::{Arch, Network};
