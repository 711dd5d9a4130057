//! The model file: one safetensors file holding a trained student's
//! weights and the JSON manifest that says how to read them ([`Manifest`]:
//! featuriser, classes, architecture, method, teacher, metrics, the fitted
//! temperature and the table's storage), written atomically and read with
//! every part checked.

use std::collections::HashMap;
use std::path::Path;

use super::manifest::{Featurizer, Manifest, Metrics, Quantization};
use super::net::{self, Architecture, Deployable, Network, Tensors};
use crate::error::{LelpError, Result};
use crate::io::safetensors::OwnedTensor;
use crate::text::{BertConfig, Pooling, TransformerStudent, WordPiece};
use crate::train::Student;

/// An int8 embedding table and its row scales, as float32 values.
fn read_int8_table(st: &safetensors::SafeTensors<'_>, path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let (shape, codes) = crate::io::safetensors::tensor_i8(st, "student.embed.weight", path)?;
    let (sshape, scales) = crate::io::safetensors::tensor_f32(st, INT8_SCALE, path)?;
    let bad = |reason: String| LelpError::ModelWeights {
        path: path.to_path_buf(),
        tensor: INT8_SCALE.into(),
        reason,
    };
    let (rows, dim) = match shape[..] {
        [r, d] if d > 0 => (r, d),
        _ => return Err(bad(format!("the int8 table has shape {shape:?}"))),
    };
    if sshape != [rows] {
        return Err(bad(format!("shape {sshape:?}, expected [{rows}]")));
    }
    if scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return Err(bad("negative, NaN or inf scales".into()));
    }
    let values = codes
        .iter()
        .enumerate()
        .map(|(k, &c)| f32::from(c) * scales[k / dim])
        .collect();
    Ok((shape, values))
}

/// The newest model-file format version this build writes and reads
/// (older versions are read too; newer ones are refused by name). 2 since
/// 0.3.0, whose files a 0.2 build would misread (a transformer student's
/// pooling, the static student's bigram ids): it refuses them instead. 3
/// since 0.4.0 for a file with a fitted temperature
/// ([`Manifest::calibration`]), a quantized table
/// ([`Manifest::quantization`]) or a cased tokenizer
/// ([`WordPieceSettings::lowercase`](crate::text::WordPieceSettings::lowercase)), which a 0.3 build would ignore or
/// misread: it refuses them; a file with none of them is still written as 2.
/// 4 for a multi-label file ([`Manifest::multi_label`]: one sigmoid a
/// label, which an earlier build would read as a softmax) or a cascade
/// ([`Manifest::cascade`], whose fallback an earlier build would ignore),
/// or class weights by name (which an earlier build cannot read).
pub const FORMAT_VERSION: u32 = 4;
const MANIFEST_KEY: &str = "lelp.manifest";
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &str = "lelp-model";

/// The int8 code and scale of each row of a `[rows, dim]` table.
pub(super) fn int8_rows(table: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut codes = Vec::with_capacity(table.len());
    let mut scales = Vec::with_capacity(table.len() / dim.max(1));
    for row in table.chunks(dim.max(1)) {
        let top = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = top / 127.0;
        scales.push(scale);
        codes.extend(row.iter().map(|&v| {
            if scale > 0.0 {
                (v / scale).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            }
        }));
    }
    (codes, scales)
}

/// The name of the int8 table's row scales in a model file.
const INT8_SCALE: &str = "student.embed.weight.int8_scale";
/// A trained student with everything needed to predict on raw text: the
/// manifest, the weights and (for students over sentence embeddings) the
/// encoder's weights.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The manifest; its method, teacher and metrics may be filled in before
    /// saving.
    pub manifest: Manifest,
    pub(super) network: Network,
    pub(super) encoder: Option<Tensors>,
}

impl ModelFile {
    /// A model of a token student (bag or CNN) with its featuriser.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when the student's outputs are not
    /// a multiple of the classes, or the featuriser does not fit the
    /// student (a hashed featuriser for a CNN, more buckets than the bag
    /// has rows, a sentence encoder without its weights: use
    /// [`ModelFile::with_encoder`]).
    pub fn new(student: &impl Deployable, featurizer: Featurizer, class_names: Vec<String>) -> Result<Self> {
        Self::assemble(student.to_network()?, featurizer, class_names, None)
    }

    /// A model from its parts, with a fresh manifest, checked.
    fn assemble(
        network: Network,
        featurizer: Featurizer,
        class_names: Vec<String>,
        encoder: Option<Tensors>,
    ) -> Result<Self> {
        let manifest = Manifest {
            format_version: 2,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            subclasses: subclasses_of(network.architecture().outputs(), class_names.len())?,
            class_names,
            featurizer,
            architecture: network.architecture().clone(),
            student: None,
            method: None,
            teacher: None,
            metrics: Metrics::default(),
            calibration: None,
            quantization: None,
            class_weight: None,
            multi_label: None,
            cascade: None,
        };
        let model = Self {
            manifest,
            network,
            encoder,
        };
        model.check().map_err(misfit)?;
        Ok(model)
    }

    /// A model of an MLP student over the sentence embeddings of the
    /// encoder in `encoder_dir` (a sentence-transformers folder: config.json,
    /// tokenizer.json, model.safetensors), `max_tokens` tokens a text. The
    /// encoder's weights go into the file.
    ///
    /// # Errors
    /// File errors of the encoder folder; [`LelpError::InvalidParameter`]
    /// when the student's input width is not the encoder's.
    pub fn with_encoder(
        student: &crate::train::Mlp,
        encoder_dir: impl AsRef<Path>,
        max_tokens: usize,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let dir = encoder_dir.as_ref();
        let config = BertConfig::read(dir.join("config.json"))?;
        let tokenizer = WordPiece::from_tokenizer_json(dir.join("tokenizer.json"))?;
        let weights = dir.join("model.safetensors");
        let bytes = crate::io::read(&weights)?;
        let st = crate::io::safetensors::read_safetensors(&bytes, &weights)?;
        let mut encoder = Tensors::new();
        for name in st.names() {
            let short = name.strip_prefix("bert.").unwrap_or(name);
            if crate::text::UNUSED_BERT_TENSORS.contains(&short) {
                continue;
            }
            let (shape, v) = crate::io::safetensors::tensor_f32(&st, name, &weights)?;
            encoder.insert(short.to_string(), (shape, v));
        }
        // the encoder's identity, as SentenceEncoder computes it (the
        // weights already in memory are not read again)
        let mut id = crate::util::Fnv64::default();
        id.update(&bytes);
        for f in [dir.join("config.json"), dir.join("tokenizer.json")] {
            id.update(&crate::io::read(&f)?);
        }
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        let featurizer = Featurizer::SentenceEncoder {
            name,
            id: format!("{:016x}", id.finish()),
            max_tokens: max_tokens.max(2).min(config.max_position_embeddings.max(2)),
            config,
            vocab: tokenizer.tokens(),
            tokenizer: tokenizer.settings(),
            pooling: Pooling::Mean,
            normalize: true,
        };
        Self::assemble(student.to_network()?, featurizer, class_names, Some(encoder))
    }

    /// A model of a trained transformer student: its fine-tuned encoder
    /// (carried in the file), pooling and linear head, over `tokenizer`'s
    /// ids (the one the student was trained on), `max_tokens` tokens a
    /// text (at most the encoder's positions). Predictions equal the
    /// student's own forward pass (tested); the encoder runs on the host
    /// path on CPU devices, as the teacher's does.
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use lelp::deploy::{Classifier, ModelFile};
    /// use lelp::text::{Bert, BertConfig, TransformerStudentConfig, WordPiece};
    /// let device = Device::default();
    /// let words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "free", "money", "lunch", "noon"];
    /// let tokenizer = WordPiece::from_vocab(words.iter().map(|w| w.to_string()))?;
    /// let config = BertConfig {
    ///     vocab_size: 8, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2,
    ///     intermediate_size: 16, max_position_embeddings: 16, type_vocab_size: 2,
    ///     layer_norm_eps: 1e-12, hidden_act: "gelu".into(),
    /// };
    /// let student = TransformerStudentConfig::new(2).init(Bert::random(&config, 1, &device)?, &device)?;
    /// // ... trained with the Distiller on the tokenizer's ids ...
    /// let model = ModelFile::with_transformer(&student, &tokenizer, 16, vec!["ham".into(), "spam".into()])?;
    /// let classifier = Classifier::from_model(model)?;
    /// let p = classifier.predict_one("free money")?;
    /// assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when the outputs are not a multiple
    /// of the classes or the tokenizer has more words than the encoder;
    /// [`LelpError::Backend`] when the weights cannot be read back.
    pub fn with_transformer(
        student: &TransformerStudent,
        tokenizer: &WordPiece,
        max_tokens: usize,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let bert = student.bert();
        let config = bert.config();
        let encoder = bert.hf_tensors()?;
        let mut id = crate::util::Fnv64::default();
        // the config, the vocabulary and the tokenizer's settings, then the weights
        id.update(serde_json::to_string(&config).unwrap_or_default().as_bytes());
        for t in tokenizer.tokens() {
            id.update(t.as_bytes()).update(&[0]);
        }
        id.update(format!("{:?}", tokenizer.settings()).as_bytes());
        let mut names: Vec<&String> = encoder.keys().collect();
        names.sort();
        for name in names {
            id.update(name.as_bytes());
            for v in &encoder[name].1 {
                id.update(&v.to_le_bytes());
            }
        }
        let mut head = Tensors::new();
        net::linear_tensors(&mut head, "head", student.head())?;
        let arch = Architecture::Mlp(crate::train::MlpConfig {
            input: config.hidden_size,
            hidden: vec![],
            outputs: student.num_outputs(),
            seed: 0,
        });
        let network = Network::from_tensors(arch, head, Path::new("<memory>"))?;
        let featurizer = Featurizer::SentenceEncoder {
            name: format!("transformer student ({} layers)", config.num_hidden_layers),
            id: format!("{:016x}", id.finish()),
            max_tokens: max_tokens.max(2).min(config.max_position_embeddings.max(2)),
            config,
            vocab: tokenizer.tokens(),
            tokenizer: tokenizer.settings(),
            pooling: student.pooling(),
            normalize: false,
        };
        Self::assemble(network, featurizer, class_names, Some(encoder))
    }

    /// The student's weights.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Parameters of the student (the embedded encoder's not counted).
    pub fn num_params(&self) -> usize {
        self.network.num_params()
    }

    /// Parameters of the embedded encoder (0 without one).
    pub fn encoder_params(&self) -> usize {
        self.encoder
            .as_ref()
            .map_or(0, |t| t.values().map(|(_, v)| v.len()).sum())
    }

    /// The file's bytes.
    ///
    /// # Errors
    /// [`LelpError::Corrupted`] if serialisation fails.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        // the oldest version that carries everything the file holds: a 0.3
        // build reads an uncalibrated file, and refuses a calibrated one
        let mut manifest = self.manifest.clone();
        let cased = match &manifest.featurizer {
            Featurizer::WordPiece { tokenizer, .. } | Featurizer::SentenceEncoder { tokenizer, .. } => {
                !(tokenizer.lowercase && tokenizer.strip_accents)
            }
            Featurizer::HashedNgrams { .. } => false,
        };
        let newer = manifest.calibration.is_some() || manifest.quantization.is_some() || cased;
        let custom = matches!(manifest.class_weight, Some(super::ClassWeight::Custom(_)));
        let four = manifest.multi_label.is_some() || manifest.cascade.is_some() || custom;
        manifest.format_version = match (four, newer) {
            (true, _) => 4,
            (false, true) => 3,
            (false, false) => 2,
        };
        let manifest =
            serde_json::to_string(&manifest).map_err(|e| LelpError::corrupted("<manifest>", e.to_string()))?;
        let mut views: Vec<(String, OwnedTensor)> = Vec::new();
        for (n, shape, v) in self.network.tensors() {
            let name = format!("student.{n}");
            let tensor = match (n.as_str(), self.manifest.quantization) {
                ("embed.weight", Some(Quantization::F16)) => OwnedTensor::f16(shape, v),
                ("embed.weight", Some(Quantization::Int8)) => {
                    let (codes, scales) = int8_rows(v, shape[1]);
                    views.push((INT8_SCALE.into(), OwnedTensor::f32(vec![shape[0]], &scales)));
                    OwnedTensor::i8(shape, &codes)
                }
                _ => OwnedTensor::f32(shape, v),
            };
            views.push((name, tensor));
        }
        if let Some(enc) = &self.encoder {
            let mut names: Vec<&String> = enc.keys().collect();
            names.sort();
            for n in names {
                let (shape, v) = &enc[n];
                views.push((format!("encoder.{n}"), OwnedTensor::f32(shape.clone(), v)));
            }
        }
        let metadata = HashMap::from([
            (FORMAT_KEY.to_string(), FORMAT_NAME.to_string()),
            (MANIFEST_KEY.to_string(), manifest),
        ]);
        safetensors::serialize(views.iter().map(|(n, v)| (n.as_str(), v)), Some(metadata))
            .map_err(|e| LelpError::corrupted("<model>", e.to_string()))
    }

    /// The same model with its embedding table stored as `q` (bag, static
    /// and CNN students): the values rounded here as the file stores them,
    /// so what it predicts in memory is what the file will (int8: each row
    /// to its nearest multiple of the row's largest magnitude over 127,
    /// at most half a step off; f16: to the nearest half-precision value).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a student without an embedding
    /// table (an MLP over sentence embeddings, a transformer student) or a
    /// model already quantized.
    ///
    /// ```
    /// use lelp::data::HashedNgrams;
    /// use lelp::deploy::{Featurizer, ModelFile, Quantization};
    /// use lelp::train::BagConfig;
    /// let bag = BagConfig::new(4096, 2).with_dim(16).init(&burn::prelude::Device::default())?;
    /// let model = ModelFile::new(&bag, Featurizer::hashed(&HashedNgrams::new(4096)), vec!["a".into(), "b".into()])?;
    /// let small = model.clone().quantized(Quantization::Int8)?;
    /// assert!(small.to_bytes()?.len() * 3 < model.to_bytes()?.len());
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn quantized(mut self, q: Quantization) -> Result<Self> {
        if let Some(had) = self.manifest.quantization {
            return Err(LelpError::InvalidParameter {
                name: "quantize",
                value: q.to_string(),
                reason: if had == q {
                    "the model is already stored so"
                } else {
                    "the model is already quantized: quantize its float32 file instead"
                },
            });
        }
        let Some((table, dim)) = self.network.table_mut() else {
            return Err(LelpError::InvalidParameter {
                name: "quantize",
                value: q.to_string(),
                reason: "only students with an embedding table (bag, static, cnn) are quantized",
            });
        };
        match q {
            Quantization::F16 => table.iter_mut().for_each(|v| *v = half::f16::from_f32(*v).to_f32()),
            Quantization::Int8 => {
                let (codes, scales) = int8_rows(table, dim);
                for ((v, &c), k) in table.iter_mut().zip(&codes).zip(0..) {
                    *v = f32::from(c) * scales[k / dim];
                }
            }
        }
        self.manifest.quantization = Some(q);
        Ok(self)
    }

    /// Writes the file atomically (creating its folder).
    ///
    /// # Errors
    /// I/O errors naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Writes a cascade ([`Manifest::cascade`]) to `path` and its
    /// `fallback` beside it as `<path's stem>.fallback.safetensors`,
    /// recording the fallback's file name and identity in the manifest;
    /// the fallback is written first, each file whole or not at all.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a model without a cascade or a
    /// fallback of other classes; I/O errors.
    pub fn save_with_fallback(&mut self, path: impl AsRef<Path>, fallback: &ModelFile) -> Result<()> {
        let path = path.as_ref();
        if fallback.manifest.class_names != self.manifest.class_names {
            return Err(LelpError::InvalidParameter {
                name: "fallback",
                value: fallback.manifest.class_names.join(","),
                reason: "the fallback's classes are not the model's, in its order",
            });
        }
        let stem = path
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
        let name = format!("{stem}.fallback.safetensors");
        let Some(cascade) = self.manifest.cascade.as_mut() else {
            return Err(LelpError::InvalidParameter {
                name: "fallback",
                value: name,
                reason: "the model has no cascade",
            });
        };
        let bytes = fallback.to_bytes()?;
        let mut id = crate::util::Fnv64::default();
        id.update(&bytes);
        crate::io::write_atomic(path.with_file_name(&name), &bytes)?;
        cascade.fallback = Some(name.into());
        cascade.fallback_id = Some(format!("{:016x}", id.finish()));
        self.save(path)
    }

    /// Reads a model file.
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`] / [`LelpError::Io`]; those of
    /// [`ModelFile::from_bytes`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = crate::io::read(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses a model file's bytes (`path` names them in errors).
    ///
    /// # Errors
    /// [`LelpError::Truncated`] / [`LelpError::Corrupted`] for a damaged or
    /// foreign file or a manifest that disagrees with the tensors,
    /// [`LelpError::FormatVersion`] for a newer format,
    /// [`LelpError::ModelWeights`] naming a missing, unexpected, mis-shaped
    /// or non-finite tensor.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let st = crate::io::safetensors::read_safetensors(bytes, path)?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT_NAME) {
            return Err(LelpError::corrupted(
                path,
                "not a lelp model file (its safetensors metadata has no format = lelp-model)",
            ));
        }
        let text = meta
            .get(MANIFEST_KEY)
            .ok_or_else(|| LelpError::corrupted(path, "no lelp.manifest in the metadata"))?;
        let manifest: Manifest = crate::io::read_versioned(text.as_bytes(), path, "manifest", 1..=FORMAT_VERSION)?;
        let (mut student, mut encoder) = (Tensors::new(), Tensors::new());
        let int8 = manifest.quantization == Some(Quantization::Int8);
        for name in st.names() {
            if int8 && name == INT8_SCALE {
                continue;
            }
            let (shape, v) = if int8 && name == "student.embed.weight" {
                read_int8_table(&st, path)?
            } else {
                crate::io::safetensors::tensor_f32(&st, name, path)?
            };
            if let Some(n) = name.strip_prefix("student.") {
                student.insert(n.to_string(), (shape, v));
            } else if let Some(n) = name.strip_prefix("encoder.") {
                encoder.insert(n.to_string(), (shape, v));
            } else {
                return Err(LelpError::ModelWeights {
                    path: path.to_path_buf(),
                    tensor: name.to_string(),
                    reason: "unexpected (neither student.* nor encoder.*)".into(),
                });
            }
        }
        let network = Network::from_tensors(manifest.architecture.clone(), student, path)?;
        let has_encoder = matches!(manifest.featurizer, Featurizer::SentenceEncoder { .. });
        if !has_encoder && !encoder.is_empty() {
            return Err(LelpError::corrupted(
                path,
                "encoder tensors in a model without a sentence encoder",
            ));
        }
        let model = Self {
            manifest,
            network,
            encoder: has_encoder.then_some(encoder),
        };
        model.check().map_err(|reason| LelpError::corrupted(path, reason))?;
        Ok(model)
    }

    /// Checks that the manifest, the featuriser and the weights fit together.
    fn check(&self) -> std::result::Result<(), String> {
        let m = &self.manifest;
        let bad = |reason: String| Err(reason);
        let c = m.class_names.len();
        if c < 2 {
            return bad(format!("{c} class names; at least 2 are needed"));
        }
        let mut names: Vec<&String> = m.class_names.iter().collect();
        names.sort();
        names.dedup();
        if names.len() != c {
            return bad("the class names repeat".into());
        }
        if let Some(k) = &m.calibration
            && !(k.temperature.is_finite() && k.temperature > 0.0)
        {
            return bad(format!("calibration temperature {} is not positive", k.temperature));
        }
        if let Some(k) = &m.cascade
            && !(k.temperature.is_finite() && k.temperature > 0.0 && (0.0..=1.0).contains(&k.threshold))
        {
            return bad(format!(
                "cascade temperature {} or threshold {} out of range",
                k.temperature, k.threshold
            ));
        }
        if let Some(ml) = &m.multi_label {
            if ml.thresholds.len() != c || ml.thresholds.iter().any(|t| !(0.0..=1.0).contains(t)) {
                return bad(format!(
                    "{} multi-label thresholds for {c} labels, or one outside [0, 1]",
                    ml.thresholds.len()
                ));
            }
            if m.subclasses != 1 {
                return bad("a multi-label model with subclasses".into());
            }
        }
        if m.subclasses == 0 || m.architecture.outputs() != c.saturating_mul(m.subclasses) {
            return bad(format!(
                "{} outputs for {c} classes and {} subclasses",
                m.architecture.outputs(),
                m.subclasses
            ));
        }
        if m.architecture != *self.network.architecture() {
            return bad("the manifest's architecture is not the weights'".into());
        }
        match (&m.featurizer, &m.architecture) {
            (Featurizer::HashedNgrams { buckets, .. }, Architecture::Bag(a)) if *buckets as usize <= a.buckets => {
                if *buckets == 0 {
                    return bad("zero hash buckets".into());
                }
            }
            (
                Featurizer::WordPiece {
                    max_tokens,
                    vocab,
                    bigram_buckets,
                    ..
                },
                Architecture::Bag(_) | Architecture::TextCnn(_),
            ) => {
                if *max_tokens < 2 {
                    return bad(format!("max_tokens {max_tokens} < 2"));
                }
                if *bigram_buckets > 0 && !matches!(m.architecture, Architecture::Bag(_)) {
                    return bad("bigram ids are for a bag over WordPiece ids".into());
                }
                if Some(vocab.len() + *bigram_buckets as usize) > self.network.vocab() {
                    return bad("the vocabulary and its bigram ids are more than the student's embedding table".into());
                }
            }
            (
                Featurizer::SentenceEncoder {
                    config,
                    vocab,
                    max_tokens,
                    ..
                },
                Architecture::Mlp(a),
            ) => {
                if a.input != config.hidden_size || vocab.len() > config.vocab_size || *max_tokens < 2 {
                    return bad("the sentence encoder does not fit the student or its vocabulary".into());
                }
                if config.num_attention_heads == 0
                    || !config.hidden_size.is_multiple_of(config.num_attention_heads)
                    || config.hidden_act != "gelu"
                    || config.type_vocab_size == 0
                    || *max_tokens > config.max_position_embeddings
                {
                    return bad(format!(
                        "the encoder config does not hold together (heads {}, width {}, activation '{}', token types {}, {} tokens of {} positions)",
                        config.num_attention_heads,
                        config.hidden_size,
                        config.hidden_act,
                        config.type_vocab_size,
                        max_tokens,
                        config.max_position_embeddings
                    ));
                }
                if self.encoder.is_none() {
                    return bad("a sentence-encoder model without encoder weights".into());
                }
            }
            (f, a) => {
                return bad(format!(
                    "featurizer {} does not fit a {} student of {} inputs",
                    f.name(),
                    a.name(),
                    self.network.vocab().map_or("dense".into(), |v| format!("{v} token")),
                ));
            }
        }
        Ok(())
    }
}

/// A model built in memory whose parts do not fit together.
fn misfit(detail: String) -> LelpError {
    LelpError::InvalidParameter {
        name: "ModelFile",
        value: detail,
        reason: "the featurizer, the class names and the student do not fit together",
    }
}

fn subclasses_of(outputs: usize, classes: usize) -> Result<usize> {
    if classes < 2 || outputs == 0 || !outputs.is_multiple_of(classes) {
        return Err(LelpError::InvalidParameter {
            name: "class_names",
            value: format!("{classes} classes for {outputs} outputs"),
            reason: "needs at least 2 classes and outputs a multiple of the classes",
        });
    }
    Ok(outputs / classes)
}
