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
//! ## The pipeline, module by module
//! Teacher: `h = f_T(x)` in `R^d`, logits `z = W h + b`, `C` classes.
//!
//! | step | module | main items |
//! |---|---|---|
//! | data | [`data`] | [`Dataset`](data::Dataset) (dense rows or token ids), [`Inputs`](data::Inputs) |
//! | 0. teacher outputs | [`teacher`] | [`TeacherEncoder`](teacher::TeacherEncoder), [`PrecomputedTeacher`](teacher::PrecomputedTeacher), [`ModuleTeacher`](teacher::ModuleTeacher), [`LinearHead`](teacher::LinearHead) |
//! | 1. subspaces | [`subspace`] | [`SubspaceFinder`](subspace::SubspaceFinder), [`PcaFinder`](subspace::PcaFinder), [`Subspaces`](subspace::Subspaces), [`ClassMoments`](subspace::ClassMoments) |
//! | 2. targets | [`labeler`] | [`PseudoLabeler`](labeler::PseudoLabeler), [`LelpLabeler`](labeler::LelpLabeler), [`PseudoTargets`](labeler::PseudoTargets) |
//! | 3. training | [`train`] | [`Student`](train::Student), [`Method`](train::Method), [`TrainingTargets`](train::TrainingTargets), [`Distiller`](train::Distiller) |
//! | diagnostics | [`metrics`] | [`subclass_alignment`](metrics::subclass_alignment), [`purity`](metrics::purity), [`nmi`](metrics::nmi), [`fidelity`](metrics::fidelity) (a student against its teacher) |
//! | files | [`io`] | [`npy`](io::npy), [`write_atomic`](io::write_atomic) |
//! | deployment (feature `text`) | `deploy` | `ModelFile`, `Classifier`, `distill`, `TeacherOutputs` (your own model's outputs as the teacher) |
//! | one import | [`prelude`] | the items above |
//!
//! 1. **Subspaces.** Optionally project onto the null space of the head,
//!    `P = I - W^T (W W^T)^+ W`, `h' = P h`. Per class `c`: mean `mu_c`,
//!    covariance (denominator `n_c - 1`), top-`S` eigenvectors `V_c`
//!    (descending eigenvalues, each vector's largest-magnitude entry
//!    positive), a seeded Haar rotation `U_c = V_c Q_c`, and a scale
//!    `sigma_c = sqrt(mean of the top-S eigenvalues)`. The fit streams
//!    batches, so memory is `O(C d^2)` for any `N`.
//! 2. **Targets**, Eq. 5: `p = softmax(z / tau)`, `a_cs = <u_cs, h' -
//!    mu_c> / sigma_c`, `q_cs = p_c softmax_s(a_cs / beta)`. `sum_s q_cs =
//!    p_c`, so the class-level information of vanilla KD is kept exactly.
//! 3. **Student**: `C * S` output logits, class logits `l_c =
//!    logsumexp_s z[c S + s]`, loss `alpha CE(y, softmax(l)) + (1 - alpha)
//!    tau^2 KL(q || softmax(z / tau))` computed in log space.
//!
//! Each trait is an extension point: a finder of your own returns
//! [`Subspaces::from_parts`](subspace::Subspaces::from_parts), a labeler of
//! your own trains through
//! [`TrainingTargets::from_labeler`](train::TrainingTargets::from_labeler),
//! any burn module implementing [`Student`](train::Student) trains with the
//! [`Distiller`](train::Distiller).
//!
//! ## Example
//! ```
//! use burn::prelude::*;
//! use lelp::data::Dataset;
//! use lelp::teacher::{ModuleTeacher, TeacherEncoder};
//! use lelp::train::{accuracy, DistillConfig, Distiller, KdConfig, LelpConfig, Method, MlpConfig};
//!
//! let device = Device::default();
//! // UCI digits by parity: two classes hiding five digits each
//! let (train, test) = Dataset::uci_digits().parity()?.split(0.3, 0)?;
//! let teacher = MlpConfig::new(64, vec![128], 2).with_seed(0).init(&device)?;
//! let teacher = Distiller::new(DistillConfig::new(10, 3e-3))
//!     .fit(teacher, &train, &Method::Plain.prepare(&train, None)?, None, &device)?
//!     .student;
//! let teacher = ModuleTeacher::new(teacher)?;
//! // the teacher's outputs on a small transfer set, computed once
//! let transfer = train.sample(200, 0)?;
//! let out = teacher.encode(&transfer, 512, &device)?;
//! for method in [Method::VanillaKd(KdConfig::new()), Method::Lelp(LelpConfig::new(5))] {
//!     let targets = method.prepare(&transfer, Some(&out))?;
//!     let student = MlpConfig::new(64, vec![32], targets.outputs()).with_seed(1).init(&device)?;
//!     let trained = Distiller::new(DistillConfig::new(10, 3e-3)).fit(student, &transfer, &targets, None, &device)?;
//!     assert!(accuracy(&trained.student, &test, &device)? > 0.6, "{}", method.name());
//! }
//! # Ok::<(), lelp::LelpError>(())
//! ```
//!
//! ## Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `digits` | yes | [`Dataset::uci_digits`](data::Dataset::uci_digits): the 1,797 UCI digits embedded in the crate (115 KB, CC BY 4.0) |
//! | `experiment` | yes | [`experiment`]: the comparison study as library code (networks, tuning grids with the equal-budget rule and validation selection, the JSON-config runner) |
//! | `avx2` | yes | the subspace fit's AVX2/FMA Gram kernel (x86-64, detected at run time), with [`device::keep_freed_memory`]'s `mallopt` call (Linux with glibc) the crate's only `unsafe` code; without it the fit runs faer's portable product |
//! | `text` | no | `lelp::text`: the all-MiniLM-L6-v2 sentence encoder in burn and its WordPiece tokenizer (adds `unicode-normalization`, `unicode-general-category`) |
//! | `cli` | no | the `lelp` command-line tool (`distill`, `predict`, `eval`, `info`; docs/deploy.md): `cargo install --path . --features cli`; adds `text` and `clap` |
//! | `serve` | no | `lelp::serve`: an HTTP server for a model file (micro-batching, a bounded queue, limits, Prometheus metrics, graceful shutdown) and `lelp serve`; adds `text`, axum and tokio |
//! | `train` | no | `lelp::train::burn_train`: distillation through burn-train's `Learner` and `SupervisedTraining` (metrics, dashboard, checkpointers, multi-device); adds burn's `train` and `tui` features |
//! | `ndarray` | no | burn's ndarray CPU backend (`Device::ndarray()`) |
//! | `wgpu` | no | burn's wgpu backend (Vulkan, Metal, DX12; lavapipe on CPU-only Linux) |
//! | `tch` | no | burn's libtorch backend (needs libtorch 2.9.0 at build and run time) |
//! | `cuda` | no | burn's CUDA backend |
//!
//! burn's pure-Rust Flex CPU backend is always there (`Device::default()`).
//! Library code takes a `&Device` from its caller and never picks one.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![deny(
    rustdoc::broken_intra_doc_links,
    rustdoc::private_intra_doc_links,
    rustdoc::bare_urls
)]

pub mod data;
#[cfg(feature = "text")]
pub mod deploy;
pub mod device;
pub mod error;
#[cfg(feature = "experiment")]
pub mod experiment;
pub mod io;
pub mod labeler;
pub mod metrics;
pub mod prelude;
#[cfg(feature = "serve")]
pub mod serve;
pub mod subspace;
pub mod teacher;
#[cfg(feature = "text")]
pub mod text;
pub mod train;
mod util;

pub use error::{LelpError, Result};

/// The README's code, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
