//! Deployment (feature `text`): one model file for a trained text student,
//! a [`Classifier`] that predicts on raw strings, and [`distill`], the whole
//! pipeline from a labelled text file to that model file (what the `lelp`
//! command-line tool runs).
//!
//! ## The model file
//! One safetensors file. Its metadata holds the manifest ([`Manifest`], JSON
//! under the key `lelp.manifest`, with `format = lelp-model`): the format
//! version, the featuriser (hashing settings, or the WordPiece vocabulary
//! and token limit, or the sentence encoder's config and vocabulary), the
//! class names, the student's architecture, the method and its settings
//! (with every candidate's validation accuracy when the method was chosen
//! automatically), the teacher's identity, validation and test accuracy,
//! and the crate version. Its tensors are the student's weights
//! (`student.*`, burn's layout: a linear weight is `[in, out]`) and, for a
//! student over sentence embeddings, the encoder's (`encoder.*`, Hugging
//! Face names and layout), so the file is all a prediction needs.
//!
//! Files are written atomically (a temporary file beside the target,
//! flushed, renamed): a reader sees the old file or the new one. Reading
//! checks everything: a damaged, truncated or foreign file, a tensor of the
//! wrong shape or with NaNs, a manifest that disagrees with its tensors, a
//! newer format version ([`LelpError::FormatVersion`](crate::LelpError::FormatVersion)) are typed errors
//! naming the file.
//!
//! ## Example
//! ```
//! //! use lelp::data::{Dataset, HashedNgrams};
//! use lelp::deploy::{Classifier, Featurizer, ModelFile};
//! use lelp::train::{BagConfig, DistillConfig, Distiller, Method};
//!
//! let device = Device::default();
//! let texts = ["free money now", "win a free prize", "see you at lunch", "the meeting is at noon"];
//! let hasher = HashedNgrams::new(1 << 12);
//! let ids: Vec<Vec<u32>> = texts.iter().map(|t| hasher.encode(t)).collect();
//! let train = Dataset::from_tokens(ids, vec![1, 1, 0, 0], 2)?;
//! let bag = BagConfig::new(1 << 12, 2).with_dim(8).init(&device)?;
//! let targets = Method::Plain.prepare(&train, None)?;
//! let bag = Distiller::new(DistillConfig::new(30, 0.1)).fit(bag, &train, &targets, None, &device)?.student;
//!
//! let model = ModelFile::new(&bag, Featurizer::hashed(&hasher), vec!["ham".into(), "spam".into()])?;
//! let path = std::env::temp_dir().join(format!("lelp-doc-{}.safetensors", std::process::id()));
//! model.save(&path)?;
//! let classifier = Classifier::load(&path)?;
//! let p = classifier.predict(&["a free prize", ""])?;
//! assert_eq!(classifier.class_names()[p[0].label], "spam");
//! assert!((p[1].probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5); // an empty text gets a prediction
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), lelp::LelpError>(())
//! ```

mod choice;
mod classifier;
mod distill;
mod input;
mod manifest;
mod model_file;
mod net;
mod onnx;
mod outputs;
mod vocab;

pub use choice::{Candidate, ChooseBy, MethodChoice, auto_candidates, parse_method};
pub use classifier::{AnsweredBy, Classifier, Prediction, check_threshold, fit_temperature};
pub use distill::{
    ClassWeight, DistillOptions, DistillReport, Outcome, Progress, Search, StudentBudget, StudentCandidate,
    StudentKind, distill,
};
pub use input::{read_labelled, read_labelled_columns, read_labelled_with, read_texts, read_texts_column};
pub use manifest::{
    Calibration, Cascade, Featurizer, Manifest, MethodRecord, Metrics, MultiLabel, Quantization, TeacherRecord,
};
pub use model_file::{FORMAT_VERSION, ModelFile};
pub use net::{Architecture, Deployable, Network};
pub use outputs::{OutputKind, TeacherOutputs};
pub use vocab::{StaticTable, Weighting, static_table};
