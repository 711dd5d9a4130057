//! A BERT encoder (all-MiniLM-L6-v2's architecture) as burn modules, with
//! weights loaded from a Hugging Face `model.safetensors`.

use std::collections::HashMap;
use std::path::Path;

use burn::module::Param;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use serde::{Deserialize, Serialize};

use crate::error::{LelpError, Result};
use crate::train::dropout;

/// Host tensors by Hugging Face name: shape and row-major values.
pub(crate) type NamedTensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// The parts of a BERT `config.json` the encoder needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width `d`.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Absolute positions.
    pub max_position_embeddings: usize,
    /// Token types.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The activation (only `"gelu"`, the erf form, is supported).
    pub hidden_act: String,
}

impl BertConfig {
    /// Reads `config.json`.
    ///
    /// # Errors
    /// File errors; [`LelpError::Corrupted`] for missing fields or an
    /// unsupported activation or head count.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = crate::io::read(path)?;
        let c: BertConfig = serde_json::from_slice(&bytes).map_err(|e| LelpError::corrupted(path, e.to_string()))?;
        if c.hidden_act != "gelu" {
            return Err(LelpError::corrupted(
                path,
                format!("activation '{}' is not supported", c.hidden_act),
            ));
        }
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(LelpError::corrupted(path, "hidden_size is not a multiple of the heads"));
        }
        Ok(c)
    }
}

/// One transformer layer (post-LayerNorm, as BERT).
#[derive(Module, Debug)]
pub struct BertLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    heads: usize,
    /// Dropout on the attention probabilities and on both sublayers'
    /// outputs in training (BERT's `attention_probs_dropout_prob` and
    /// `hidden_dropout_prob`); 0 unless [`Bert::with_dropout`] set it.
    dropout: f64,
}

/// A BERT encoder: embeddings and transformer layers; its output is the
/// last hidden state `[B, L, d]`.
#[derive(Module, Debug)]
pub struct Bert {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<BertLayer>,
    /// Dropout on the embedding layer's output in training.
    dropout: f64,
    /// The layer norms' epsilon (burn's `LayerNorm` keeps its own private).
    layer_norm_eps: f64,
}

impl BertLayer {
    /// The layer on `x`, the `[B * L, d]` rows of a `[B, L, d]` batch.
    /// Rows, not the 3-D batch: each `Linear` is then one GEMM, and its
    /// weight's gradient one GEMM too, where burn broadcasts a 3-D input's
    /// product over the batch and sums `B` weight-sized gradients.
    fn forward(&self, x: Tensor<2>, [b, l]: [usize; 2], mask_bias: Tensor<4>) -> Tensor<2> {
        let d = x.dims()[1];
        let h = self.heads;
        let dh = d / h;
        let split = |t: Tensor<2>| t.reshape([b, l, h, dh]).swap_dims(1, 2); // [B, H, L, Dh]
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt()) + mask_bias;
        let probs = dropout(softmax(scores, 3), self.dropout);
        let ctx = probs.matmul(v).swap_dims(1, 2).reshape([b * l, d]);
        let attended = dropout(self.attention_out.forward(ctx), self.dropout);
        let x = self.attention_norm.forward(attended + x);
        let ff = self.output.forward(gelu(self.intermediate.forward(x.clone())));
        self.output_norm.forward(dropout(ff, self.dropout) + x)
    }
}

impl Bert {
    /// The last hidden state for token `ids` with attention `mask` (1 for
    /// tokens, 0 for padding), token type 0, positions `0..L`.
    ///
    /// # Shapes
    /// - `ids`, `mask`: `[B, L]` -> `[B, L, d]`
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `L` exceeds the positions.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Result<Tensor<3>> {
        let [b, l] = ids.dims();
        let max = self.position.weight.val().dims()[0];
        if l > max {
            return Err(LelpError::DimensionMismatch {
                what: "sequence length vs position embeddings",
                expected: max,
                got: l,
            });
        }
        let device = ids.device();
        let pos = Tensor::<1, Int>::arange(0..l as i64, &device)
            .reshape([1, l])
            .repeat_dim(0, b);
        let types = Tensor::<2, Int>::zeros([b, l], &device);
        let x = self.word.forward(ids) + self.position.forward(pos) + self.token_type.forward(types);
        let x = dropout(self.embedding_norm.forward(x), self.dropout);
        Ok(self.layers_forward(x, mask))
    }

    /// The transformer layers alone on input embeddings `x` (what
    /// [`Bert::forward`] runs after its embedding layer), with attention
    /// `mask` (1 for tokens, 0 for padding).
    ///
    /// # Shapes
    /// - `x`: `[B, L, d]`, `mask`: `[B, L]` -> `[B, L, d]`
    pub fn layers_forward(&self, x: Tensor<3>, mask: Tensor<2, Int>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        // 0 where attended, a large negative number at padding (as BERT)
        let bias = (mask.float().neg() + 1.0)
            .mul_scalar(f32::MIN as f64 / 2.0)
            .reshape([b, 1, 1, l]);
        let mut x = x.reshape([b * l, d]);
        for layer in &self.layers {
            x = layer.forward(x, [b, l], bias.clone());
        }
        x.reshape([b, l, d])
    }

    /// This encoder with dropout `p` in training: on the embeddings'
    /// output, the attention probabilities and each sublayer's output
    /// before its residual, as BERT (`p = 0.1` in its configs). Inference
    /// is unchanged: dropout acts only on an autodiff device, in a
    /// training step. Encoders start with none.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for `p` outside `[0, 1)`.
    pub fn with_dropout(mut self, p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(LelpError::InvalidParameter {
                name: "dropout",
                value: p.to_string(),
                reason: "must be in [0, 1)",
            });
        }
        self.dropout = p;
        for layer in &mut self.layers {
            layer.dropout = p;
        }
        Ok(self)
    }

    /// The encoder's dropout probability in training.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// This encoder with only its bottom `k` layers (DistilBERT-style
    /// initialisation of a smaller student from a teacher).
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] unless `1 <= k <= ` the layers.
    pub fn truncated(mut self, k: usize) -> Result<Self> {
        if k == 0 || k > self.layers.len() {
            return Err(LelpError::InvalidParameter {
                name: "layers",
                value: k.to_string(),
                reason: "must be in 1..=the encoder's layers",
            });
        }
        self.layers.truncate(k);
        Ok(self)
    }

    /// A randomly initialised encoder of `config` (BERT's initialisation:
    /// weights from N(0, 0.02), biases 0, layer norms 1 and 0), drawn
    /// from a host RNG seeded by `seed`, so the same on every backend.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a config whose width is not a
    /// multiple of its heads, or with zero layers or heads.
    pub fn random(config: &BertConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::random_with_std(config, seed, 0.02, device)
    }

    /// [`Bert::random`] with weights from N(0, `std`).
    pub(crate) fn random_with_std(config: &BertConfig, seed: u64, std: f32, device: &Device) -> Result<Self> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let c = config;
        if c.num_attention_heads == 0
            || c.num_hidden_layers == 0
            || !c.hidden_size.is_multiple_of(c.num_attention_heads)
        {
            return Err(LelpError::InvalidParameter {
                name: "config",
                value: format!(
                    "{} layers, hidden {}, {} heads",
                    c.num_hidden_layers, c.hidden_size, c.num_attention_heads
                ),
                reason: "needs layers and heads, and a width divisible by the heads",
            });
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, std).map_err(|_| LelpError::InvalidParameter {
            name: "std",
            value: std.to_string(),
            reason: "must be finite and non-negative",
        })?;
        let mut tensors = HashMap::new();
        let d = c.hidden_size;
        let mut add = |name: String, shape: Vec<usize>, fill: Option<f32>| {
            let n = shape.iter().product();
            let v = match fill {
                Some(x) => vec![x; n],
                None => (0..n).map(|_| normal.sample(&mut rng)).collect(),
            };
            tensors.insert(name, (shape, v));
        };
        let norm = |add: &mut dyn FnMut(String, Vec<usize>, Option<f32>), name: &str| {
            add(format!("{name}.weight"), vec![d], Some(1.0));
            add(format!("{name}.bias"), vec![d], Some(0.0));
        };
        add("embeddings.word_embeddings.weight".into(), vec![c.vocab_size, d], None);
        add(
            "embeddings.position_embeddings.weight".into(),
            vec![c.max_position_embeddings, d],
            None,
        );
        add(
            "embeddings.token_type_embeddings.weight".into(),
            vec![c.type_vocab_size, d],
            None,
        );
        norm(&mut add, "embeddings.LayerNorm");
        for i in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            for (name, out, inp) in [
                ("attention.self.query", d, d),
                ("attention.self.key", d, d),
                ("attention.self.value", d, d),
                ("attention.output.dense", d, d),
                ("intermediate.dense", c.intermediate_size, d),
                ("output.dense", d, c.intermediate_size),
            ] {
                add(format!("{p}.{name}.weight"), vec![out, inp], None);
                add(format!("{p}.{name}.bias"), vec![out], Some(0.0));
            }
            norm(&mut add, &format!("{p}.attention.output.LayerNorm"));
            norm(&mut add, &format!("{p}.output.LayerNorm"));
        }
        Self::from_tensors(tensors, c, Path::new("<random>"), device)
    }

    /// Hidden width `d`.
    pub fn hidden_size(&self) -> usize {
        self.word.weight.val().dims()[1]
    }

    /// Vocabulary size (rows of the word embedding table).
    pub fn vocab_size(&self) -> usize {
        self.word.weight.val().dims()[0]
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.word.weight.val().device()
    }

    /// Transformer layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The config this encoder has (its sizes, from its weights; the
    /// layer norms' epsilon it was built with; `gelu`).
    pub fn config(&self) -> BertConfig {
        let first = self.layers.first();
        BertConfig {
            vocab_size: self.vocab_size(),
            hidden_size: self.hidden_size(),
            num_hidden_layers: self.layers.len(),
            num_attention_heads: first.map_or(1, |l| l.heads),
            intermediate_size: first.map_or(0, |l| l.intermediate.weight.val().dims()[1]),
            max_position_embeddings: self.position.weight.val().dims()[0],
            type_vocab_size: self.token_type.weight.val().dims()[0],
            layer_norm_eps: self.layer_norm_eps,
            hidden_act: "gelu".into(),
        }
    }

    /// The weights as host tensors with Hugging Face's names and layout
    /// (a linear weight `[out, in]`), what [`Bert::load`] reads: a
    /// fine-tuned encoder written to a model file or a checkpoint folder.
    ///
    /// # Errors
    /// [`LelpError::Backend`] when the weights cannot be read back.
    pub(crate) fn hf_tensors(&self) -> Result<NamedTensors> {
        let p = self.host_parts()?;
        let (d, ffn) = (p.d, p.ffn);
        let mut out = HashMap::new();
        let mut table = |name: &str, v: Vec<f32>| {
            out.insert(format!("embeddings.{name}.weight"), (vec![v.len() / d, d], v));
        };
        table("word_embeddings", p.word);
        table("position_embeddings", p.position);
        table("token_type_embeddings", p.token_type);
        type Out = NamedTensors;
        let norm = |out: &mut Out, name: String, (g, b): HostDense| {
            out.insert(format!("{name}.weight"), (vec![g.len()], g));
            out.insert(format!("{name}.bias"), (vec![b.len()], b));
        };
        // burn's [in, out] row-major to PyTorch's [out, in]
        let dense = |out: &mut Out, name: String, (w, b): HostDense, d_in: usize| {
            let d_out = b.len();
            let t: Vec<f32> = (0..d_out * d_in).map(|k| w[(k % d_in) * d_out + k / d_in]).collect();
            out.insert(format!("{name}.weight"), (vec![d_out, d_in], t));
            out.insert(format!("{name}.bias"), (vec![d_out], b));
        };
        norm(&mut out, "embeddings.LayerNorm".into(), p.embedding_norm);
        for (i, l) in p.layers.into_iter().enumerate() {
            let n = |s: &str| format!("encoder.layer.{i}.{s}");
            dense(&mut out, n("attention.self.query"), l.query, d);
            dense(&mut out, n("attention.self.key"), l.key, d);
            dense(&mut out, n("attention.self.value"), l.value, d);
            dense(&mut out, n("attention.output.dense"), l.attention_out, d);
            norm(&mut out, n("attention.output.LayerNorm"), l.attention_norm);
            dense(&mut out, n("intermediate.dense"), l.intermediate, d);
            dense(&mut out, n("output.dense"), l.output, ffn);
            norm(&mut out, n("output.LayerNorm"), l.output_norm);
        }
        Ok(out)
    }

    /// The word-piece embedding table `[vocab, d]`.
    #[cfg(test)]
    pub(crate) fn word_table(&self) -> Tensor<2> {
        self.word.weight.val()
    }

    /// Loads the weights of a Hugging Face BERT `model.safetensors` (names
    /// as in `bert-base`: `embeddings.*`, `encoder.layer.N.*`; a `bert.`
    /// prefix is accepted) for `config`, on `device`.
    ///
    /// # Errors
    /// [`LelpError::ModelWeights`] naming the tensor for a missing,
    /// unexpected or mis-shaped weight; file errors.
    pub fn load(path: impl AsRef<Path>, config: &BertConfig, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let bytes = crate::io::read(path)?;
        let st = crate::io::safetensors::read_safetensors(&bytes, path)?;
        let mut store = WeightStore::new(&st, path)?;
        let bert = Self::from_store(&mut store, config, device)?;
        store.finish()?;
        Ok(bert)
    }

    /// Builds the encoder from host tensors named as in a Hugging Face
    /// checkpoint without prefix (`path` names their file in errors).
    pub(crate) fn from_tensors(
        tensors: NamedTensors,
        config: &BertConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self> {
        Self::from_renamed(tensors, HashMap::new(), "encoder.", config, path, device)
    }

    /// Builds the encoder from host tensors under BERT's names without
    /// prefix; errors name a tensor by `original` (BERT name -> the
    /// checkpoint's) where it has it, else by `prefix` and the BERT name.
    pub(crate) fn from_renamed(
        tensors: NamedTensors,
        original: HashMap<String, String>,
        prefix: &str,
        config: &BertConfig,
        path: &Path,
        device: &Device,
    ) -> Result<Self> {
        let mut store = WeightStore {
            tensors,
            prefix,
            path,
            original,
        };
        let bert = Self::from_store(&mut store, config, device)?;
        store.finish()?;
        Ok(bert)
    }

    fn from_store(w: &mut WeightStore, c: &BertConfig, device: &Device) -> Result<Self> {
        let d = c.hidden_size;
        let embedding = |w: &mut WeightStore, name: &str, n: usize| -> Result<Embedding> {
            let mut e = EmbeddingConfig::new(n, d).init(device);
            e.weight = Param::from_tensor(w.take(name, &[n, d], device)?);
            Ok(e)
        };
        let word = embedding(w, "embeddings.word_embeddings.weight", c.vocab_size)?;
        let position = embedding(w, "embeddings.position_embeddings.weight", c.max_position_embeddings)?;
        let token_type = embedding(w, "embeddings.token_type_embeddings.weight", c.type_vocab_size)?;
        let embedding_norm = w.layer_norm("embeddings.LayerNorm", d, c.layer_norm_eps, device)?;
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(BertLayer {
                    query: w.linear(&format!("{p}.attention.self.query"), d, d, device)?,
                    key: w.linear(&format!("{p}.attention.self.key"), d, d, device)?,
                    value: w.linear(&format!("{p}.attention.self.value"), d, d, device)?,
                    attention_out: w.linear(&format!("{p}.attention.output.dense"), d, d, device)?,
                    attention_norm: w.layer_norm(
                        &format!("{p}.attention.output.LayerNorm"),
                        d,
                        c.layer_norm_eps,
                        device,
                    )?,
                    intermediate: w.linear(&format!("{p}.intermediate.dense"), d, c.intermediate_size, device)?,
                    output: w.linear(&format!("{p}.output.dense"), c.intermediate_size, d, device)?,
                    output_norm: w.layer_norm(&format!("{p}.output.LayerNorm"), d, c.layer_norm_eps, device)?,
                    heads: c.num_attention_heads,
                    dropout: 0.0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            dropout: 0.0,
            layer_norm_eps: c.layer_norm_eps,
        })
    }
}

/// A dense layer's weights on the host: `[in, out]` row-major, and the bias.
pub(crate) type HostDense = (Vec<f32>, Vec<f32>);

/// One layer's weights on the host (layer norms as scale and shift).
pub(crate) struct HostLayerParts {
    pub(crate) query: HostDense,
    pub(crate) key: HostDense,
    pub(crate) value: HostDense,
    pub(crate) attention_out: HostDense,
    pub(crate) attention_norm: HostDense,
    pub(crate) intermediate: HostDense,
    pub(crate) output: HostDense,
    pub(crate) output_norm: HostDense,
}

/// A [`Bert`]'s weights on the host, for the host inference path.
pub(crate) struct HostParts {
    pub(crate) word: Vec<f32>,
    pub(crate) position: Vec<f32>,
    pub(crate) token_type: Vec<f32>,
    pub(crate) embedding_norm: HostDense,
    pub(crate) layers: Vec<HostLayerParts>,
    pub(crate) d: usize,
    pub(crate) heads: usize,
    pub(crate) ffn: usize,
}

impl Bert {
    /// The weights read back to the host.
    pub(crate) fn host_parts(&self) -> Result<HostParts> {
        use crate::util::to_host_f32;
        let dense = |l: &Linear| -> Result<HostDense> {
            let w = to_host_f32(l.weight.val())?;
            let out = l.weight.val().dims()[1];
            let b = match &l.bias {
                Some(b) => to_host_f32(b.val())?,
                None => vec![0.0; out],
            };
            Ok((w, b))
        };
        let norm = |n: &LayerNorm| -> Result<HostDense> {
            let g = to_host_f32(n.gamma.val())?;
            let b = match &n.beta {
                Some(b) => to_host_f32(b.val())?,
                None => vec![0.0; g.len()],
            };
            Ok((g, b))
        };
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(HostLayerParts {
                    query: dense(&l.query)?,
                    key: dense(&l.key)?,
                    value: dense(&l.value)?,
                    attention_out: dense(&l.attention_out)?,
                    attention_norm: norm(&l.attention_norm)?,
                    intermediate: dense(&l.intermediate)?,
                    output: dense(&l.output)?,
                    output_norm: norm(&l.output_norm)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HostParts {
            word: to_host_f32(self.word.weight.val())?,
            position: to_host_f32(self.position.weight.val())?,
            token_type: to_host_f32(self.token_type.weight.val())?,
            embedding_norm: norm(&self.embedding_norm)?,
            ffn: self.layers.first().map_or(0, |l| l.intermediate.weight.val().dims()[1]),
            heads: self.layers.first().map_or(1, |l| l.heads),
            d: self.hidden_size(),
            layers,
        })
    }
}

/// The tensors of a checkpoint, taken one by one; what is left unused
/// (beyond names the sentence pipeline ignores) is an error.
struct WeightStore<'a> {
    tensors: NamedTensors,
    prefix: &'a str,
    path: &'a Path,
    /// The checkpoint's own name of a tensor stored under a BERT name
    /// (a DistilBERT's `distilbert.transformer.layer.0.attention.q_lin`);
    /// absent: the prefix and the BERT name.
    original: HashMap<String, String>,
}

/// Tensors of a BERT checkpoint that the sentence pipeline does not use.
pub(crate) const UNUSED: [&str; 3] = ["embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"];

impl<'a> WeightStore<'a> {
    fn new(st: &safetensors::SafeTensors<'_>, path: &'a Path) -> Result<Self> {
        let names: Vec<String> = st.names().into_iter().map(String::from).collect();
        let prefix = if names.iter().all(|n| n.starts_with("bert.")) && !names.is_empty() {
            "bert."
        } else {
            ""
        };
        let mut tensors = HashMap::new();
        for n in names {
            let short = n.strip_prefix(prefix).unwrap_or(&n).to_string();
            if UNUSED.contains(&short.as_str()) {
                continue;
            }
            let (shape, v) = crate::io::safetensors::tensor_f32(st, &n, path)?;
            tensors.insert(short, (shape, v));
        }
        Ok(Self {
            tensors,
            prefix,
            path,
            original: HashMap::new(),
        })
    }

    /// The tensor's name as the checkpoint writes it.
    fn full_name(&self, name: &str) -> String {
        self.original
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("{}{name}", self.prefix))
    }

    fn take(&mut self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor<2>> {
        let full = self.full_name(name);
        let (sh, v) = self.tensors.remove(name).ok_or_else(|| LelpError::ModelWeights {
            path: self.path.to_path_buf(),
            tensor: full.clone(),
            reason: "missing".into(),
        })?;
        if sh != shape {
            return Err(LelpError::ModelWeights {
                path: self.path.to_path_buf(),
                tensor: full,
                reason: format!("shape {sh:?}, expected {shape:?}"),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(LelpError::ModelWeights {
                path: self.path.to_path_buf(),
                tensor: full,
                reason: "NaN or inf values".into(),
            });
        }
        let (r, c) = match *shape {
            [n] => (1, n),
            [r, c] => (r, c),
            _ => unreachable!("weights are vectors or matrices"),
        };
        Ok(Tensor::from_data(TensorData::new(v, [r, c]), device))
    }

    fn vector(&mut self, name: &str, n: usize, device: &Device) -> Result<Tensor<1>> {
        Ok(self.take(name, &[n], device)?.reshape([n]))
    }

    /// A PyTorch `Linear` (`weight [out, in]`, transposed to burn's `[in, out]`).
    fn linear(&mut self, name: &str, d_in: usize, d_out: usize, device: &Device) -> Result<Linear> {
        let mut l = LinearConfig::new(d_in, d_out).init(device);
        l.weight = Param::from_tensor(
            self.take(&format!("{name}.weight"), &[d_out, d_in], device)?
                .transpose(),
        );
        l.bias = Some(Param::from_tensor(self.vector(
            &format!("{name}.bias"),
            d_out,
            device,
        )?));
        Ok(l)
    }

    fn layer_norm(&mut self, name: &str, d: usize, eps: f64, device: &Device) -> Result<LayerNorm> {
        let mut n = LayerNormConfig::new(d).with_epsilon(eps).init(device);
        n.gamma = Param::from_tensor(self.vector(&format!("{name}.weight"), d, device)?);
        n.beta = Some(Param::from_tensor(self.vector(&format!("{name}.bias"), d, device)?));
        Ok(n)
    }

    /// Errors on the first tensor nothing took.
    fn finish(self) -> Result<()> {
        match self.tensors.keys().min() {
            None => Ok(()),
            Some(extra) => Err(LelpError::ModelWeights {
                path: self.path.to_path_buf(),
                tensor: self.full_name(extra),
                reason: "unexpected (not part of the architecture)".into(),
            }),
        }
    }
}
