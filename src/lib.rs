//! # lelp: LELP knowledge distillation for binary and few-class problems
//!
//! With two to five classes, a teacher's softened class probabilities carry
//! little "dark knowledge". LELP (Learning Embedding Linear Projections;
//! Loo, Iliopoulos, Hu, Vee, arXiv 2409.20449) recovers it from the
//! teacher's final-layer embedding: within each class it finds the few
//! directions along which the embedding varies most, splits the class into
//! `S` pseudo-subclasses along them, and trains the student on the
//! resulting `C * S`-way soft targets.
//!
//! ## The method, as implemented
//! Teacher: `h = f_T(x)` in `R^d`, logits `z = W h + b`, `C` classes.
//!
//! 1. **Subspaces** ([`SubspaceFinder`], [`PcaFinder`]). Optionally project
//!    onto the null space of the head, `P = I - W^T (W W^T)^+ W`,
//!    `h' = P h`. Per class `c`: mean `mu_c`, covariance (denominator
//!    `n_c - 1`), top-`S` eigenvectors `V_c` (descending eigenvalues, each
//!    vector's largest-magnitude entry positive), a seeded Haar rotation
//!    `U_c = V_c Q_c`, and a scale `sigma_c = sqrt(mean of the top-S
//!    eigenvalues)`. The fit streams batches ([`ClassMoments`]), so memory
//!    is `O(C d^2)` for any `N`.
//! 2. **Targets** ([`PseudoLabeler`], [`LelpLabeler`]), Eq. 5:
//!    `p = softmax(z / tau)`, `a_cs = <u_cs, h' - mu_c> / sigma_c`,
//!    `q_cs = p_c softmax_s(a_cs / beta)`. `sum_s q_cs = p_c`, so the
//!    class-level information of vanilla KD is kept exactly; with `S = 1`
//!    the targets equal vanilla KD's ([`SoftmaxLabeler`]).
//! 3. **Student** ([`Student`], [`Distiller`]): `C * S` output logits,
//!    class logits `l_c = logsumexp_s z[c S + s]` ([`class_logits`]), loss
//!    `alpha CE(y, softmax(l)) + (1 - alpha) tau^2 KL(q || softmax(z / tau))`
//!    computed in log space ([`loss`]).
//!
//! Vanilla KD, feature KD, random projections and an oracle labeler are
//! [`Method`]s of the same pipeline, so one run compares them.
//!
//! ## Example
//! ```
//! use burn::prelude::*;
//! use lelp::{Dataset, LabelerInput, LelpLabeler, PcaFinder, PseudoLabeler, SubspaceFinder};
//!
//! let device = Device::default();
//! // the embedded UCI digits, binarised by parity, stand in for embeddings
//! let data = Dataset::uci_digits().parity()?;
//! let h = data.features_tensor(&device);
//! let fit = PcaFinder::new(4).with_seed(7).fit_tensor(h.clone(), data.labels(), 2, None, 512)?;
//! // pretend logits: the labels, softened
//! let z: Vec<f32> = data.labels().iter().flat_map(|&l| if l == 0 { [2.0, 0.0] } else { [0.0, 2.0] }).collect();
//! let z = Tensor::<2>::from_data(TensorData::new(z, [data.len(), 2]), &device);
//! let targets = LelpLabeler::new(fit, 0.3, 2.0).targets(LabelerInput::new(h, z))?;
//! assert_eq!(targets.log_probs.dims(), [1797, 8]);
//! # Ok::<(), lelp::LelpError>(())
//! ```
//!
//! ## Backends
//! Library code takes a `&Device` from its caller. Enable burn backends
//! with this crate's features `ndarray`, `wgpu`, `tch`, `cuda`; burn's
//! pure-Rust Flex backend is always there. [`device_by_name`] maps a name
//! to a device for examples and tests.
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
pub use subspace::{
    ClassMoments, PcaFinder, RandomProjectionFinder, SubspaceConfig, SubspaceFinder, SubspaceKind, Subspaces,
};
pub use teacher::{LinearHead, ModuleTeacher, PrecomputedTeacher, TeacherEncoder, TeacherOutput, load_embeddings_npy};
pub mod data;
pub mod loss;
pub mod method;
pub mod student;
pub use data::Dataset;
pub use method::{LelpOptions, Method, PreparedTargets};
pub use student::{Cnn, CnnConfig, Mlp, MlpConfig, Student, StudentOutput, class_logits};
pub mod distill;
pub use distill::{
    DistillConfig, Distiller, EpochReport, LrSchedule, OptimizerKind, Trained, Trainee, accuracy, evaluate, predict,
};
mod device;
pub use device::{available_devices, device_by_name, device_from_env};
pub mod pipeline;
pub use pipeline::{Arch, Network};
pub mod kmeans;
pub use kmeans::KMeansLabeler;
