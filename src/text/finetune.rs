//! A fine-tuned teacher: the whole sentence encoder trained with a linear
//! head on the labelled texts (BERT fine-tuning), written once to a BERT
//! folder keyed by everything that made it and read back on later runs.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Pooling, SentenceEncoder, TransformerStudentConfig};
use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::io::safetensors::OwnedTensor;
use crate::train::{DistillConfig, Distiller, LrSchedule, Method, Mlp, MlpConfig, Observer, OptimizerKind};

/// Settings of [`fine_tune`] (BERT fine-tuning's usual ones by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FineTuneConfig {
    /// Epochs over the labelled texts (default 2).
    pub epochs: usize,
    /// AdamW's peak learning rate (default 5e-5).
    pub lr: f64,
    /// Texts a step (default 32).
    pub batch_size: usize,
    /// WordPiece tokens a text, the special ones included (default 64).
    pub max_tokens: usize,
    /// AdamW's decoupled weight decay (default 0.01).
    pub weight_decay: f64,
    /// Share of the steps warming up, then linear decay (default 0.1).
    pub warmup: f64,
    /// Dropout in the encoder and on the pooled vector (default 0.1).
    pub dropout: f64,
    /// Seed of the head, the batches and the dropout masks (default 0).
    pub seed: u64,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        Self {
            epochs: 2,
            lr: 5e-5,
            batch_size: 32,
            max_tokens: 64,
            weight_decay: 0.01,
            warmup: 0.1,
            dropout: 0.1,
            seed: 0,
        }
    }
}

crate::util::setters!(FineTuneConfig {
    "Sets the epochs." with_epochs => epochs: usize,
    "Sets the learning rate." with_lr => lr: f64,
    "Sets the batch size." with_batch_size => batch_size: usize,
    "Sets the tokens a text." with_max_tokens => max_tokens: usize,
    "Sets the weight decay." with_weight_decay => weight_decay: f64,
    "Sets the warm-up share." with_warmup => warmup: f64,
    "Sets the dropout." with_dropout => dropout: f64,
    "Sets the seed." with_seed => seed: u64,
});

/// A fine-tuned teacher (see [`fine_tune`]).
#[derive(Debug)]
pub struct FineTuned {
    /// The fine-tuned encoder: mean pooling, no normalisation (what its
    /// head was trained on); its embeddings are the teacher's embedding.
    pub encoder: SentenceEncoder,
    /// The head trained with it: an [`Mlp`] without hidden layers (a
    /// linear layer `d -> C`), usable as the teacher's head
    /// ([`ModuleTeacher`](crate::teacher::ModuleTeacher)).
    pub head: Mlp,
    /// The BERT folder it lives in (config.json, tokenizer.json,
    /// model.safetensors, head.safetensors, fine-tune.json).
    pub dir: PathBuf,
    /// Whether it was read from an earlier run instead of trained now.
    pub cached: bool,
}

/// The record written last into a fine-tuned folder: what made it.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    config: FineTuneConfig,
    base_model: String,
    texts: usize,
    classes: usize,
}

/// Fine-tunes `base`'s whole encoder (read from `base_dir`, whose
/// `tokenizer.json` the folder copies) with a linear head on `texts` and
/// their `labels` (plain cross-entropy; AdamW with decay, linear warm-up
/// and decay, clipping at 1, dropout, lazy AdamW on the word-piece table)
/// and writes it under `cache_dir` as a BERT folder named by a hash of
/// the base encoder, the texts, the labels and `config`. A later call with
/// the same inputs reads that folder instead of training; two processes
/// asking at once train once (a lock beside the folder), and a folder
/// left half-written by a crash is trained again (its record is written
/// last). `observer` hears of the training.
///
/// # Errors
/// [`LelpError::EmptyData`] for no texts; [`LelpError::InvalidParameter`]
/// for labels outside `0..classes`, fewer than two classes, texts and
/// labels of different lengths, bad settings or a `base_dir` whose
/// tokenizer is not `base`'s; training and I/O errors.
#[allow(clippy::too_many_arguments)]
pub fn fine_tune(
    base: &SentenceEncoder,
    base_dir: &Path,
    texts: &[&str],
    labels: &[usize],
    classes: usize,
    config: &FineTuneConfig,
    cache_dir: &Path,
    device: &Device,
    observer: impl Observer + 'static,
) -> Result<FineTuned> {
    check(texts, labels, classes, config)?;
    // the folder pairs the weights with this tokenizer file: it must be the
    // one the texts are tokenised with (checked before any training)
    let tokenizer_json = crate::io::read(base_dir.join("tokenizer.json"))?;
    let read = super::WordPiece::parse_tokenizer_json(&tokenizer_json, base_dir.join("tokenizer.json"))?;
    if read.tokens() != base.tokenizer().tokens() || read.settings() != base.tokenizer().settings() {
        return Err(LelpError::InvalidParameter {
            name: "base_dir",
            value: base_dir.display().to_string(),
            reason: "its tokenizer.json is not the base encoder's tokenizer",
        });
    }
    let mut key = crate::util::Fnv64::default();
    key.update(&base.model_id().to_le_bytes());
    key.update(serde_json::to_string(config).unwrap_or_default().as_bytes());
    key.update(&(classes as u64).to_le_bytes());
    for (t, &l) in texts.iter().zip(labels) {
        key.update(&(t.len() as u64).to_le_bytes());
        key.update(t.as_bytes());
        key.update(&(l as u64).to_le_bytes());
    }
    let dir = cache_dir.join(format!("fine-tuned-{:016x}", key.finish()));
    let _lock = crate::io::lock(&cache_dir.join(format!("fine-tuned-{:016x}.lock", key.finish())))?;
    let cached = dir.join("fine-tune.json").exists();
    if !cached {
        train(
            base,
            &tokenizer_json,
            texts,
            labels,
            classes,
            config,
            &dir,
            device,
            observer,
        )?;
    }
    let encoder = SentenceEncoder::from_dir(&dir, device)?
        .with_max_seq_length(config.max_tokens)
        .with_pooling(Pooling::Mean, false);
    let head = read_head(&dir.join("head.safetensors"), encoder.embedding_dim(), classes, device)?;
    Ok(FineTuned {
        encoder,
        head,
        dir,
        cached,
    })
}

fn check(texts: &[&str], labels: &[usize], classes: usize, config: &FineTuneConfig) -> Result<()> {
    let bad = |name, value: String, reason| Err(LelpError::InvalidParameter { name, value, reason });
    if texts.is_empty() {
        return Err(LelpError::EmptyData { what: "texts" });
    }
    if texts.len() != labels.len() {
        return bad("labels", labels.len().to_string(), "must be as many as the texts");
    }
    if classes < 2 {
        return bad("classes", classes.to_string(), "at least two are needed");
    }
    if let Some(l) = labels.iter().find(|&&l| l >= classes) {
        return bad("labels", l.to_string(), "a label outside 0..classes");
    }
    if config.epochs == 0 || config.batch_size == 0 || config.max_tokens < 2 {
        return bad(
            "config",
            format!("{config:?}"),
            "needs epochs, a batch size and at least 2 tokens",
        );
    }
    Ok(())
}

/// Trains and writes the folder; the record goes last.
#[allow(clippy::too_many_arguments)]
fn train(
    base: &SentenceEncoder,
    tokenizer_json: &[u8],
    texts: &[&str],
    labels: &[usize],
    classes: usize,
    config: &FineTuneConfig,
    dir: &Path,
    device: &Device,
    observer: impl Observer + 'static,
) -> Result<()> {
    let tokenizer = base.tokenizer();
    let positions = base.bert().config().max_position_embeddings;
    let ids: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| tokenizer.encode(t, config.max_tokens.min(positions)))
        .collect();
    let data = Dataset::from_tokens(ids, labels.to_vec(), classes)?;
    let targets = Method::Plain.prepare(&data, None)?;
    let student = TransformerStudentConfig::new(classes)
        .with_dropout(config.dropout)
        .with_encoder_dropout(config.dropout)
        .with_seed(config.seed)
        .init(base.bert().clone(), device)?;
    let cfg = DistillConfig::new(config.epochs, config.lr)
        .with_batch_size(config.batch_size)
        .with_optimizer(OptimizerKind::AdamW)
        .with_weight_decay(config.weight_decay)
        .with_grad_clip(Some(1.0))
        .with_schedule(LrSchedule::WarmupLinear { warmup: config.warmup })
        .with_lazy_tables(true)
        .with_seed(config.seed);
    let trained = Distiller::new(cfg)
        .with_observer(observer)
        .fit(student, &data, &targets, None, device)?
        .student;
    let bert = trained.bert();
    let mut tensors: Vec<(String, OwnedTensor)> = bert
        .hf_tensors()?
        .into_iter()
        .map(|(n, (shape, v))| (n, OwnedTensor::f32(shape, &v)))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    crate::io::safetensors::write_safetensors_atomic(&dir.join("model.safetensors"), &tensors, meta.clone())?;
    let head = trained.head();
    let w = crate::util::to_host_f32(head.weight.val().transpose())?; // [C, d], PyTorch's layout
    let b = match &head.bias {
        Some(b) => crate::util::to_host_f32(b.val())?,
        None => vec![0.0; classes],
    };
    let d = bert.hidden_size();
    let head_tensors = vec![
        ("weight".to_string(), OwnedTensor::f32(vec![classes, d], &w)),
        ("bias".to_string(), OwnedTensor::f32(vec![classes], &b)),
    ];
    crate::io::safetensors::write_safetensors_atomic(&dir.join("head.safetensors"), &head_tensors, meta)?;
    crate::io::write_atomic(dir.join("config.json"), pretty(&bert.config()).as_bytes())?;
    crate::io::write_atomic(dir.join("tokenizer.json"), tokenizer_json)?;
    // the token limit it was trained with (read back by `from_dir`)
    let limit = config.max_tokens.min(positions);
    crate::io::write_atomic(
        dir.join("sentence_bert_config.json"),
        format!("{{\"max_seq_length\": {limit}}}").as_bytes(),
    )?;
    let record = Record {
        config: config.clone(),
        base_model: format!("{:016x}", base.model_id()),
        texts: texts.len(),
        classes,
    };
    crate::io::write_atomic(dir.join("fine-tune.json"), pretty(&record).as_bytes())
}

fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The head of a fine-tuned folder as a linear [`Mlp`].
fn read_head(path: &Path, d: usize, classes: usize, device: &Device) -> Result<Mlp> {
    let bytes = crate::io::read(path)?;
    let st = crate::io::safetensors::read_safetensors(&bytes, path)?;
    let (ws, w) = crate::io::safetensors::tensor_f32(&st, "weight", path)?;
    let (bs, b) = crate::io::safetensors::tensor_f32(&st, "bias", path)?;
    if ws != [classes, d] || bs != [classes] || w.iter().chain(&b).any(|x| !x.is_finite()) {
        return Err(LelpError::corrupted(
            path,
            format!("head of shape {ws:?} and {bs:?}, expected [{classes}, {d}] and [{classes}] (finite)"),
        ));
    }
    let mut mlp = MlpConfig::new(d, vec![], classes).init(device)?;
    let w = Tensor::<2>::from_data(TensorData::new(w, [classes, d]), device).transpose();
    mlp.head.weight = burn::module::Param::from_tensor(w);
    mlp.head.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
        TensorData::new(b, [classes]),
        device,
    )));
    Ok(mlp)
}
