//! A Hugging Face sequence-classification checkpoint (what `transformers`'
//! `save_pretrained` writes for a fine-tuned `BertForSequenceClassification`
//! or `DistilBertForSequenceClassification`) as a teacher: its encoder, its
//! head as trained, its class names.
//!
//! The forward pass is `transformers`' (checked within 1e-4 on checkpoints
//! `transformers` wrote, tests/hf_classifier.rs): WordPiece (cased or
//! uncased, as the tokenizer files say), the encoder, the first token's
//! last hidden state (`[CLS]`), then
//! - BERT: the pooler (`dense`, tanh), then `classifier`;
//! - DistilBERT: `pre_classifier`, ReLU, then `classifier`.
//!
//! The classifier's input (the pooler's or `pre_classifier`'s output) is
//! the teacher's embedding: the head over it is one linear layer, so every
//! method of the crate applies, the null-space projections included.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde_json::Value;

use super::wordpiece::unsupported;
use super::{Bert, BertConfig, Pooling, SentenceEncoder, WordPiece, WordPieceSettings};
use crate::error::{LelpError, Result};
use crate::teacher::LinearHead;

/// The architectures [`HfClassifier`] reads (`config.json`'s `architectures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum HfArchitecture {
    /// `BertForSequenceClassification`: pooler (dense, tanh) and classifier.
    Bert,
    /// `DistilBertForSequenceClassification`: pre-classifier (dense, ReLU)
    /// and classifier.
    DistilBert,
}

impl HfArchitecture {
    /// The `transformers` class name.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Bert => "BertForSequenceClassification",
            Self::DistilBert => "DistilBertForSequenceClassification",
        }
    }
}

/// A fine-tuned Hugging Face text classifier, run here.
///
/// # Example
/// ```no_run
/// use burn::prelude::*;
/// use lelp::text::HfClassifier;
/// // a folder written by `model.save_pretrained(DIR)` and `tokenizer.save_pretrained(DIR)`
/// let teacher = HfClassifier::from_dir("my-finetuned-bert", &Device::default())?;
/// let logits = teacher.logits(&["great film", "dull plot"], 64)?; // [2, C], row-major
/// let best = &teacher.class_names()[if logits[0] > logits[1] { 0 } else { 1 }];
/// # let _ = best;
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug)]
pub struct HfClassifier {
    encoder: SentenceEncoder,
    architecture: HfArchitecture,
    /// The pooler or pre-classifier: `[d, d]` row-major `[out, in]`, and its bias.
    pre: (Vec<f32>, Vec<f32>),
    head: LinearHead,
    class_names: Vec<String>,
    dir: PathBuf,
}

/// Whether `dir` holds a Hugging Face sequence-classification checkpoint
/// (its `config.json` names an architecture ending in
/// `ForSequenceClassification`), as opposed to a sentence encoder.
pub fn is_classifier_dir(dir: impl AsRef<Path>) -> bool {
    let Ok(bytes) = std::fs::read(dir.as_ref().join("config.json")) else {
        return false;
    };
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("architectures")?
                .as_array()?
                .iter()
                .find_map(|a| a.as_str().map(|a| a.ends_with("ForSequenceClassification")))
        })
        .unwrap_or(false)
}

/// The architecture, the encoder's config and the class names of a
/// classification `config.json`.
fn read_config(path: &Path) -> Result<(HfArchitecture, BertConfig, Vec<String>)> {
    let bytes = crate::io::read(path)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
    let arch_value = v
        .get("architectures")
        .and_then(|a| a.as_array())
        .and_then(|a| a.first());
    let architecture = match arch_value.and_then(Value::as_str) {
        Some("BertForSequenceClassification") => HfArchitecture::Bert,
        Some("DistilBertForSequenceClassification") => HfArchitecture::DistilBert,
        _ => {
            return Err(unsupported(
                path,
                "architectures",
                v.get("architectures"),
                "lelp runs BertForSequenceClassification and DistilBertForSequenceClassification \
                 checkpoints (for another model, write its outputs and use --teacher-outputs)",
            ));
        }
    };
    match v.get("problem_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(p)) if p == "single_label_classification" => {}
        found => {
            return Err(unsupported(
                path,
                "problem_type",
                found,
                "lelp distils single-label classifiers (softmax over the classes)",
            ));
        }
    }
    let usize_of = |field: &str| -> Result<usize> {
        v.get(field)
            .and_then(Value::as_u64)
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| LelpError::corrupted(path, format!("'{field}' is missing or not a count")))
    };
    let config = match architecture {
        HfArchitecture::Bert => {
            match v.get("position_embedding_type") {
                None | Some(Value::Null) => {}
                Some(Value::String(p)) if p == "absolute" => {}
                found => {
                    return Err(unsupported(
                        path,
                        "position_embedding_type",
                        found,
                        "lelp's BERT has absolute position embeddings only",
                    ));
                }
            }
            check_activation(path, &v, "hidden_act")?;
            BertConfig::read(path)?
        }
        HfArchitecture::DistilBert => {
            check_activation(path, &v, "activation")?;
            BertConfig {
                vocab_size: usize_of("vocab_size")?,
                hidden_size: usize_of("dim")?,
                num_hidden_layers: usize_of("n_layers")?,
                num_attention_heads: usize_of("n_heads")?,
                intermediate_size: usize_of("hidden_dim")?,
                max_position_embeddings: usize_of("max_position_embeddings")?,
                // DistilBERT has no token types: one row of zeros is the same
                type_vocab_size: 1,
                // its layer norms are `nn.LayerNorm(eps=1e-12)`
                layer_norm_eps: 1e-12,
                hidden_act: "gelu".into(),
            }
        }
    };
    if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
        return Err(LelpError::corrupted(
            path,
            "the hidden width is not a multiple of the heads",
        ));
    }
    let names = class_names(path, &v)?;
    Ok((architecture, config, names))
}

fn check_activation(path: &Path, v: &Value, field: &str) -> Result<()> {
    match v.get(field).and_then(Value::as_str) {
        Some("gelu") => Ok(()),
        _ => Err(unsupported(
            path,
            field,
            v.get(field),
            "lelp's encoder runs the exact (erf) GELU only",
        )),
    }
}

/// The class names in id order from `id2label` (`{"0": "neg", ...}`).
fn class_names(path: &Path, v: &Value) -> Result<Vec<String>> {
    let Some(map) = v.get("id2label").and_then(Value::as_object) else {
        return Err(unsupported(
            path,
            "id2label",
            v.get("id2label"),
            "a classifier's config.json names its classes in id2label",
        ));
    };
    if map.len() < 2 {
        return Err(unsupported(
            path,
            "id2label",
            v.get("id2label"),
            "at least two classes are needed (one output is a regression head)",
        ));
    }
    let mut names = vec![None; map.len()];
    for (id, name) in map {
        let k = id.parse::<usize>().ok().filter(|&k| k < names.len());
        let name = name.as_str().map(str::trim).filter(|n| !n.is_empty());
        match (k, name) {
            (Some(k), Some(name)) if names[k].is_none() => names[k] = Some(name.to_string()),
            _ => {
                return Err(unsupported(
                    path,
                    "id2label",
                    v.get("id2label"),
                    "ids 0..n-1, each once, each with a non-empty name are needed",
                ));
            }
        }
    }
    let names: Vec<String> = names.into_iter().map(|n| n.expect("every id filled")).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != names.len() {
        return Err(unsupported(
            path,
            "id2label",
            v.get("id2label"),
            "two classes share a name",
        ));
    }
    Ok(names)
}

/// The tokenizer of a `save_pretrained` folder: `tokenizer.json` (a fast
/// tokenizer's), else `vocab.txt` with `tokenizer_config.json`'s
/// `do_lower_case` and `strip_accents`.
fn read_tokenizer(dir: &Path) -> Result<WordPiece> {
    let json = dir.join("tokenizer.json");
    if json.exists() {
        return WordPiece::from_tokenizer_json(json);
    }
    let vocab_path = dir.join("vocab.txt");
    if !vocab_path.exists() {
        return Err(LelpError::FileNotFound { path: json });
    }
    let cfg_path = dir.join("tokenizer_config.json");
    let cfg: Value = match std::fs::read(&cfg_path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| LelpError::corrupted(&cfg_path, e.to_string()))?,
        Err(_) => Value::Null,
    };
    let lowercase = cfg.get("do_lower_case").and_then(Value::as_bool).unwrap_or(true);
    let strip_accents = cfg.get("strip_accents").and_then(Value::as_bool).unwrap_or(lowercase);
    if cfg.get("tokenize_chinese_chars").and_then(Value::as_bool) == Some(false) {
        return Err(unsupported(
            &cfg_path,
            "tokenize_chinese_chars",
            cfg.get("tokenize_chinese_chars"),
            "lelp's tokenizer isolates CJK ideographs",
        ));
    }
    let text =
        String::from_utf8(crate::io::read(&vocab_path)?).map_err(|_| LelpError::corrupted(&vocab_path, "not UTF-8"))?;
    let settings = WordPieceSettings {
        lowercase,
        strip_accents,
        ..WordPieceSettings::default()
    };
    WordPiece::from_vocab_with_settings(text.lines().map(str::to_string), &settings).map_err(|e| match e {
        LelpError::InvalidParameter { value, .. } => {
            LelpError::corrupted(&vocab_path, format!("the special token '{value}' is missing"))
        }
        e => e,
    })
}

/// The checkpoint's tensors under BERT's names (no prefix), the map back
/// to its own names, and the head's tensors (pooler or pre-classifier,
/// classifier) by their names.
type Split = (
    super::bert::NamedTensors,
    HashMap<String, String>,
    super::bert::NamedTensors,
);

fn split_tensors(path: &Path, architecture: HfArchitecture, config: &BertConfig) -> Result<Split> {
    let bytes = crate::io::read(path)?;
    let st = crate::io::safetensors::read_safetensors(&bytes, path)?;
    let mut encoder = HashMap::new();
    let mut original = HashMap::new();
    let mut head = HashMap::new();
    for name in st.names() {
        let tensor = || crate::io::safetensors::tensor_f32(&st, name, path);
        let bert_name = match architecture {
            // `bert.` before the encoder's names (a bare `BertModel`
            // saved without it reads the same, and then lacks the head)
            HfArchitecture::Bert => match name.strip_prefix("bert.").unwrap_or(name) {
                "embeddings.position_ids" => continue,
                p if p.starts_with("pooler.") => {
                    head.insert(p.to_string(), tensor()?);
                    continue;
                }
                p if p.starts_with("embeddings.") || p.starts_with("encoder.") => p.to_string(),
                _ => {
                    head.insert(name.to_string(), tensor()?);
                    continue;
                }
            },
            HfArchitecture::DistilBert => match name.strip_prefix("distilbert.") {
                Some("embeddings.position_ids") => continue,
                Some(p) => distilbert_to_bert(p),
                None => {
                    head.insert(name.to_string(), tensor()?);
                    continue;
                }
            },
        };
        original.insert(bert_name.clone(), name.to_string());
        encoder.insert(bert_name, tensor()?);
    }
    if architecture == HfArchitecture::DistilBert {
        let d = config.hidden_size;
        encoder.insert(
            "embeddings.token_type_embeddings.weight".into(),
            (vec![1, d], vec![0.0; d]),
        );
    }
    Ok((encoder, original, head))
}

/// A DistilBERT tensor's BERT name (after the `distilbert.` prefix).
fn distilbert_to_bert(name: &str) -> String {
    let Some(rest) = name.strip_prefix("transformer.layer.") else {
        return name.to_string(); // embeddings.{word,position}_embeddings, embeddings.LayerNorm
    };
    let (layer, part) = rest.split_once('.').unwrap_or((rest, ""));
    let renamed = [
        ("attention.q_lin.", "attention.self.query."),
        ("attention.k_lin.", "attention.self.key."),
        ("attention.v_lin.", "attention.self.value."),
        ("attention.out_lin.", "attention.output.dense."),
        ("sa_layer_norm.", "attention.output.LayerNorm."),
        ("ffn.lin1.", "intermediate.dense."),
        ("ffn.lin2.", "output.dense."),
        ("output_layer_norm.", "output.LayerNorm."),
    ]
    .iter()
    .find_map(|(from, to)| part.strip_prefix(from).map(|p| format!("{to}{p}")))
    .unwrap_or_else(|| format!("distilbert:{part}"));
    format!("encoder.layer.{layer}.{renamed}")
}

/// Takes a dense layer `name` (`[out, in]` weight and bias) from the head's
/// tensors.
fn take_dense(
    head: &mut super::bert::NamedTensors,
    name: &str,
    [d_out, d_in]: [usize; 2],
    path: &Path,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut take = |suffix: &str, shape: Vec<usize>| -> Result<Vec<f32>> {
        let full = format!("{name}.{suffix}");
        let err = |reason: String| LelpError::ModelWeights {
            path: path.to_path_buf(),
            tensor: full.clone(),
            reason,
        };
        let (sh, v) = head
            .remove(&full)
            .ok_or_else(|| err("missing (the classification head)".into()))?;
        if sh != shape {
            return Err(err(format!("shape {sh:?}, expected {shape:?}")));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(err("NaN or inf values".into()));
        }
        Ok(v)
    };
    let w = take("weight", vec![d_out, d_in])?;
    let b = take("bias", vec![d_out])?;
    Ok((w, b))
}

impl HfClassifier {
    /// Loads a `save_pretrained` folder: `config.json` (the architecture,
    /// `id2label`), `model.safetensors` (f32, f16 or bf16), the tokenizer
    /// (`tokenizer.json`, or `vocab.txt` with `tokenizer_config.json`),
    /// onto `device`. Texts are cut at the position table's length, or at
    /// `tokenizer_config.json`'s `model_max_length` when lower.
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`] for a missing file (a checkpoint saved
    /// as `pytorch_model.bin` only: save it again with
    /// `safe_serialization=True`, `transformers`' default);
    /// [`LelpError::Unsupported`] naming the field that stops it (another
    /// architecture or activation, a multi-label or regression head, a
    /// tokenizer the crate cannot reproduce, an `id2label` without two
    /// distinct names); [`LelpError::ModelWeights`] naming a missing,
    /// unexpected or mis-shaped tensor (a head that does not match
    /// `id2label`).
    pub fn from_dir(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config_path = dir.join("config.json");
        let (architecture, config, class_names) = read_config(&config_path)?;
        let tokenizer = read_tokenizer(dir)?;
        if tokenizer.vocab_size() > config.vocab_size {
            let file = if dir.join("tokenizer.json").exists() {
                "tokenizer.json"
            } else {
                "vocab.txt"
            };
            return Err(LelpError::corrupted(
                dir.join(file),
                "the vocabulary is larger than the model's embedding table",
            ));
        }
        let weights = dir.join("model.safetensors");
        if !weights.exists() {
            return Err(LelpError::FileNotFound { path: weights });
        }
        let (tensors, original, mut head) = split_tensors(&weights, architecture, &config)?;
        let bert = Bert::from_renamed(tensors, original, "", &config, &weights, device)?;
        let (d, c) = (config.hidden_size, class_names.len());
        let pre_name = match architecture {
            HfArchitecture::Bert => "pooler.dense",
            HfArchitecture::DistilBert => "pre_classifier",
        };
        let pre = take_dense(&mut head, pre_name, [d, d], &weights).map_err(|e| match e {
            LelpError::ModelWeights { tensor, reason, path } if architecture == HfArchitecture::Bert => {
                LelpError::ModelWeights {
                    path,
                    tensor: format!("bert.{tensor}"),
                    reason,
                }
            }
            e => e,
        })?;
        let (w, b) = take_dense(&mut head, "classifier", [c, d], &weights).map_err(|e| match e {
            LelpError::ModelWeights { tensor, reason, path } if reason.starts_with("shape") => {
                LelpError::ModelWeights {
                    path,
                    tensor,
                    reason: format!("{reason}: config.json's id2label names {c} classes"),
                }
            }
            e => e,
        })?;
        if let Some(extra) = head.keys().min() {
            return Err(LelpError::ModelWeights {
                path: weights,
                tensor: extra.clone(),
                reason: "unexpected (not part of the architecture)".into(),
            });
        }
        let head = LinearHead::new(w, b, [c, d])?;
        let mut limit = config.max_position_embeddings;
        if let Ok(bytes) = std::fs::read(dir.join("tokenizer_config.json"))
            && let Some(m) = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("model_max_length")?.as_u64())
        {
            limit = limit.min(usize::try_from(m).unwrap_or(usize::MAX));
        }
        let mut id = crate::util::Fnv64::default();
        id.update(b"hf sequence classifier");
        for f in [&weights, &config_path] {
            id.update(&crate::io::read(f)?);
        }
        for t in tokenizer.tokens() {
            id.update(t.as_bytes());
        }
        id.update(format!("{:?}", tokenizer.settings()).as_bytes());
        let encoder = SentenceEncoder::from_parts(tokenizer, bert, limit.max(2), id.finish(), config.layer_norm_eps)
            .with_pooling(Pooling::First, false);
        Ok(Self {
            encoder,
            architecture,
            pre,
            head,
            class_names,
            dir: dir.to_path_buf(),
        })
    }

    /// Cuts texts at `tokens` tokens (`[CLS]` and `[SEP]` included; at
    /// most the model's limit).
    #[must_use]
    pub fn with_max_seq_length(mut self, tokens: usize) -> Self {
        self.encoder = self.encoder.with_max_seq_length(tokens);
        self
    }

    /// Where the encoder runs (see [`SentenceEncoder::with_path`]).
    #[must_use]
    pub fn with_path(mut self, path: super::EncoderPath) -> Self {
        self.encoder = self.encoder.with_path(path);
        self
    }

    /// The encoder (WordPiece, the transformer, first-token pooling, not
    /// normalised): its `encode` gives the `[CLS]` hidden states.
    pub fn encoder(&self) -> &SentenceEncoder {
        &self.encoder
    }

    /// The architecture.
    pub fn architecture(&self) -> HfArchitecture {
        self.architecture
    }

    /// The class names, in the checkpoint's id order (`id2label`).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// For each of `names` (a data set's or a model's classes), the
    /// checkpoint's class of that name: the order that puts the
    /// checkpoint's outputs in `names`' order. A checkpoint whose
    /// `id2label` is still `transformers`' default (`LABEL_0`, `LABEL_1`,
    /// ...) matches names that are its ids (`0`, `1`, ...) too.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] (`teacher`) naming the labels the
    /// checkpoint lacks and the classes it has beyond them, when the two
    /// sets differ.
    pub fn class_order(&self, names: &[String]) -> Result<Vec<usize>> {
        let defaults = self
            .class_names
            .iter()
            .enumerate()
            .all(|(k, n)| *n == format!("LABEL_{k}"));
        let find = |name: &str| {
            self.class_names.iter().position(|n| n == name).or_else(|| {
                name.parse::<usize>()
                    .ok()
                    .filter(|&k| defaults && k < self.class_names.len() && name == k.to_string())
            })
        };
        let order: Vec<Option<usize>> = names.iter().map(|n| find(n)).collect();
        let mut used: Vec<usize> = order.iter().flatten().copied().collect();
        used.sort_unstable();
        used.dedup();
        if order.iter().all(Option::is_some) && used.len() == self.class_names.len() && names.len() == used.len() {
            return Ok(order.into_iter().flatten().collect());
        }
        let missing: Vec<&str> = names
            .iter()
            .zip(&order)
            .filter(|(_, o)| o.is_none())
            .map(|(n, _)| n.as_str())
            .collect();
        let extra: Vec<&str> = (0..self.class_names.len())
            .filter(|k| !used.contains(k))
            .map(|k| self.class_names[k].as_str())
            .collect();
        Err(LelpError::InvalidParameter {
            name: "teacher",
            value: format!(
                "{} (its id2label lacks [{}] and has [{}] beyond them)",
                self.dir.display(),
                missing.join(", "),
                extra.join(", ")
            ),
            reason: "the checkpoint's classes (config.json's id2label) must be the labels, by name",
        })
    }

    /// The classifier: the linear layer over [`HfClassifier::features`].
    pub fn head(&self) -> &LinearHead {
        &self.head
    }

    /// The folder it was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Parameters: the encoder's and the head's.
    pub fn num_params(&self) -> usize {
        let (c, d) = (self.head.num_classes(), self.head.embedding_dim());
        self.encoder.bert().num_params() + d * d + d + c * d + c
    }

    /// What the head is, for a manifest: `"BertForSequenceClassification
    /// (pooler 384-384 tanh, classifier 384-10)"`.
    pub fn describe(&self) -> String {
        let (c, d) = (self.head.num_classes(), self.head.embedding_dim());
        let pre = match self.architecture {
            HfArchitecture::Bert => format!("pooler {d}-{d} tanh"),
            HfArchitecture::DistilBert => format!("pre_classifier {d}-{d} relu"),
        };
        format!("{} ({pre}, classifier {d}-{c})", self.architecture.class_name())
    }

    /// The classifier's input from `[CLS]` hidden states (row-major
    /// `[N, d]`): the pooler (tanh) or the pre-classifier (ReLU), on `device`.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the rows are not `d` wide.
    pub fn features_of_hidden(&self, hidden: Tensor<2>) -> Result<Tensor<2>> {
        let d = self.head.embedding_dim();
        let [_, w] = hidden.dims();
        if w != d {
            return Err(LelpError::DimensionMismatch {
                what: "hidden state width vs the classifier's",
                expected: d,
                got: w,
            });
        }
        let device = hidden.device();
        let wt = crate::util::matrix(self.pre.0.clone(), d, d, &device).transpose();
        let b = Tensor::<1>::from_data(TensorData::new(self.pre.1.clone(), [d]), &device);
        let z = hidden.matmul(wt) + b.unsqueeze_dim(0);
        Ok(match self.architecture {
            HfArchitecture::Bert => z.tanh(),
            HfArchitecture::DistilBert => burn::tensor::activation::relu(z),
        })
    }

    /// The classifier's input for `texts` (row-major `[N, d]`), encoded in
    /// batches of `batch_size` on the encoder's device.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for no texts; the encoder's errors.
    pub fn features(&self, texts: &[&str], batch_size: usize) -> Result<Vec<f32>> {
        let device = self.encoder.bert().device();
        let hidden = self.encoder.encode(texts, batch_size, &device)?;
        crate::util::to_host_f32(self.features_of_hidden(hidden)?)
    }

    /// The logits of `texts` (row-major `[N, C]`, classes in
    /// [`HfClassifier::class_names`]' order).
    ///
    /// # Errors
    /// As [`HfClassifier::features`].
    pub fn logits(&self, texts: &[&str], batch_size: usize) -> Result<Vec<f32>> {
        let device = self.encoder.bert().device();
        let hidden = self.encoder.encode(texts, batch_size, &device)?;
        let z = self.head.logits(self.features_of_hidden(hidden)?)?;
        crate::util::to_host_f32(z)
    }
}
