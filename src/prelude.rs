//! The items most programs use, in one import: `use lelp::prelude::*;`.
//!
//! ```
//! use lelp::prelude::*;
//! let data = Dataset::uci_digits().parity()?;
//! let targets = Method::Lelp(LelpConfig::new(4)).validate();
//! assert!(targets.is_ok() && data.num_classes() == 2);
//! # Ok::<(), LelpError>(())
//! ```

pub use crate::data::{Dataset, HashedNgrams, Inputs, TokenBatch};
pub use crate::error::{LelpError, Result};
pub use crate::labeler::{KMeansConfig, LelpLabeler, OracleLabeler, PseudoLabeler, PseudoTargets};
pub use crate::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder, Subspaces};
pub use crate::teacher::{LinearHead, ModuleTeacher, PrecomputedTeacher, TeacherEncoder, TeacherOutput};
pub use crate::train::{
    Bag, BagConfig, DistillConfig, Distiller, DkdConfig, FeatureKdConfig, KdConfig, LelpConfig, Method, Mlp, MlpConfig,
    RkdConfig, Student, SubclassDistillationConfig, TextCnn, TextCnnConfig, Trained, TrainingTargets, accuracy,
    evaluate, predict,
};

#[cfg(feature = "text")]
pub use crate::deploy::{Classifier, DistillOptions, Featurizer, MethodChoice, ModelFile, StudentKind};
#[cfg(feature = "text")]
pub use crate::text::{SentenceEncoder, TextCorpus, WordPiece};
