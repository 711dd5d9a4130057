//! The deployed students' forward passes on the host: plain `f32` slices,
//! no autodiff, no device, `Send + Sync`. The same arithmetic as the burn
//! modules they are exported from (tests/deploy.rs checks them against
//! burn's `forward` on the same texts), one text at a time, so a
//! prediction never depends on what else is in the batch.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{LelpError, Result};
use crate::train::{Bag, BagConfig, Mlp, MlpConfig, Student, TextCnn, TextCnnConfig};

/// A student's architecture, as recorded in a model file's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Architecture {
    /// A bag of token embeddings ([`Bag`]).
    Bag(BagConfig),
    /// A 1-D CNN over token ids ([`TextCnn`]).
    TextCnn(TextCnnConfig),
    /// An MLP over dense inputs ([`Mlp`]).
    Mlp(MlpConfig),
}

impl Architecture {
    /// Output width `K` (`C * S`).
    pub fn outputs(&self) -> usize {
        match self {
            Architecture::Bag(c) => c.outputs,
            Architecture::TextCnn(c) => c.outputs,
            Architecture::Mlp(c) => c.outputs,
        }
    }

    /// A short name: `bag`, `cnn` or `mlp`.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Bag(_) => "bag",
            Architecture::TextCnn(_) => "cnn",
            Architecture::Mlp(_) => "mlp",
        }
    }
}

/// A dense layer `y = x W + b`, `W` row-major `[d_in, d_out]` (burn's
/// layout).
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    d_in: usize,
    d_out: usize,
}

impl Dense {
    /// The weight (`[d_in, d_out]`, row-major) and bias.
    pub(crate) fn parts(&self) -> (&[f32], &[f32]) {
        (&self.w, &self.b)
    }

    pub(crate) fn d_in(&self) -> usize {
        self.d_in
    }

    pub(crate) fn d_out(&self) -> usize {
        self.d_out
    }

    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let mut y = self.b.clone();
        for (i, &xi) in x.iter().enumerate().take(self.d_in) {
            if xi == 0.0 {
                continue;
            }
            let row = &self.w[i * self.d_out..(i + 1) * self.d_out];
            for (yj, &wij) in y.iter_mut().zip(row) {
                *yj += xi * wij;
            }
        }
        y
    }
}

fn relu(v: &mut [f32]) {
    for x in v {
        *x = x.max(0.0);
    }
}

/// A trained student's weights on the host, ready to predict.
#[derive(Debug, Clone)]
pub struct Network {
    arch: Architecture,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Bag {
        embed: Vec<f32>,
        dim: usize,
        normalize: bool,
        hidden: Option<Dense>,
        head: Dense,
    },
    Cnn {
        embed: Vec<f32>,
        dim: usize,
        conv_w: Vec<f32>,
        conv_b: Vec<f32>,
        kernel: usize,
        head: Dense,
    },
    Mlp {
        layers: Vec<Dense>,
        head: Dense,
    },
}

/// Named host tensors: name -> (shape, row-major values).
pub(crate) type Tensors = HashMap<String, (Vec<usize>, Vec<f32>)>;

pub(crate) fn linear_tensors(out: &mut Tensors, name: &str, l: &burn::nn::Linear) -> Result<()> {
    let w = l.weight.val();
    let dims = w.dims();
    out.insert(format!("{name}.weight"), (dims.to_vec(), crate::util::to_host_f32(w)?));
    let b = match &l.bias {
        Some(b) => crate::util::to_host_f32(b.val())?,
        None => vec![0.0; dims[1]],
    };
    out.insert(format!("{name}.bias"), (vec![dims[1]], b));
    Ok(())
}

/// A student that can be written to a model file: its architecture and
/// its weights as named host tensors. Implemented by the crate's text
/// students ([`Bag`], [`TextCnn`], [`Mlp`]).
pub trait Deployable: Student + sealed::Sealed {
    /// The architecture record.
    fn architecture(&self) -> Architecture;
    /// The host copy of the weights.
    ///
    /// # Errors
    /// [`LelpError::Backend`] when the weights cannot be read back.
    fn to_network(&self) -> Result<Network>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::train::Bag {}
    impl Sealed for crate::train::TextCnn {}
    impl Sealed for crate::train::Mlp {}
}

impl Deployable for Bag {
    fn architecture(&self) -> Architecture {
        let (buckets, dim) = {
            let d = self.embed.weight.val().dims();
            (d[0], d[1])
        };
        Architecture::Bag(BagConfig {
            buckets,
            dim,
            hidden: self.hidden_layer.as_ref().map(|h| h.weight.val().dims()[1]),
            normalize: self.normalize,
            outputs: self.outputs,
            seed: 0,
        })
    }

    fn to_network(&self) -> Result<Network> {
        let mut t = Tensors::new();
        let e = self.embed.weight.val();
        t.insert("embed.weight".into(), (e.dims().to_vec(), crate::util::to_host_f32(e)?));
        if let Some(h) = &self.hidden_layer {
            linear_tensors(&mut t, "hidden", h)?;
        }
        linear_tensors(&mut t, "head", &self.head)?;
        Network::from_tensors(self.architecture(), t, Path::new("<memory>"))
    }
}

impl Deployable for TextCnn {
    fn architecture(&self) -> Architecture {
        let [channels, dim, kernel] = self.conv.weight.val().dims();
        Architecture::TextCnn(TextCnnConfig {
            vocab: self.vocab,
            dim,
            channels,
            kernel,
            outputs: self.outputs,
            seed: 0,
        })
    }

    fn to_network(&self) -> Result<Network> {
        let mut t = Tensors::new();
        let e = self.embed.weight.val();
        t.insert("embed.weight".into(), (e.dims().to_vec(), crate::util::to_host_f32(e)?));
        let w = self.conv.weight.val();
        let dims = w.dims();
        t.insert("conv.weight".into(), (dims.to_vec(), crate::util::to_host_f32(w)?));
        let b = match &self.conv.bias {
            Some(b) => crate::util::to_host_f32(b.val())?,
            None => vec![0.0; dims[0]],
        };
        t.insert("conv.bias".into(), (vec![dims[0]], b));
        linear_tensors(&mut t, "head", &self.head)?;
        Network::from_tensors(self.architecture(), t, Path::new("<memory>"))
    }
}

impl Deployable for Mlp {
    fn architecture(&self) -> Architecture {
        let first = self.layers.first().unwrap_or(&self.head);
        Architecture::Mlp(MlpConfig {
            input: first.weight.val().dims()[0],
            hidden: self.layers.iter().map(|l| l.weight.val().dims()[1]).collect(),
            outputs: self.outputs,
            seed: 0,
        })
    }

    fn to_network(&self) -> Result<Network> {
        let mut t = Tensors::new();
        for (i, l) in self.layers.iter().enumerate() {
            linear_tensors(&mut t, &format!("layers.{i}"), l)?;
        }
        linear_tensors(&mut t, "head", &self.head)?;
        Network::from_tensors(self.architecture(), t, Path::new("<memory>"))
    }
}

/// Takes tensors out of a map by name and checks their shapes and values.
struct Taker<'a> {
    tensors: Tensors,
    path: &'a Path,
}

impl Taker<'_> {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let err = |reason: String| LelpError::ModelWeights {
            path: self.path.to_path_buf(),
            tensor: format!("student.{name}"),
            reason,
        };
        let (sh, v) = self.tensors.remove(name).ok_or_else(|| err("missing".into()))?;
        if sh != shape {
            return Err(err(format!("shape {sh:?}, expected {shape:?}")));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(err("NaN or inf values".into()));
        }
        Ok(v)
    }

    fn dense(&mut self, name: &str, d_in: usize, d_out: usize) -> Result<Dense> {
        Ok(Dense {
            w: self.take(&format!("{name}.weight"), &[d_in, d_out])?,
            b: self.take(&format!("{name}.bias"), &[d_out])?,
            d_in,
            d_out,
        })
    }

    fn finish(self) -> Result<()> {
        match self.tensors.keys().min() {
            None => Ok(()),
            Some(extra) => Err(LelpError::ModelWeights {
                path: self.path.to_path_buf(),
                tensor: format!("student.{extra}"),
                reason: "unexpected (not part of the architecture)".into(),
            }),
        }
    }
}

fn check_arch(arch: &Architecture, path: &Path) -> Result<()> {
    let ok = match arch {
        Architecture::Bag(c) => c.buckets > 0 && c.dim > 0 && c.outputs > 0 && c.hidden != Some(0),
        Architecture::TextCnn(c) => {
            c.vocab > 0 && c.dim > 0 && c.channels > 0 && c.outputs > 0 && !c.kernel.is_multiple_of(2)
        }
        Architecture::Mlp(c) => c.input > 0 && c.outputs > 0 && !c.hidden.contains(&0),
    };
    if ok {
        Ok(())
    } else {
        Err(LelpError::corrupted(
            path,
            format!("the manifest's architecture {arch:?} has a zero size or an even kernel"),
        ))
    }
}

impl Network {
    /// Builds the network from named tensors (as written in a model file,
    /// without the `student.` prefix), checking every name and shape
    /// against `arch`.
    pub(crate) fn from_tensors(arch: Architecture, tensors: Tensors, path: &Path) -> Result<Self> {
        check_arch(&arch, path)?;
        let mut t = Taker { tensors, path };
        let body = match &arch {
            Architecture::Bag(c) => {
                let embed = t.take("embed.weight", &[c.buckets, c.dim])?;
                let hidden = c.hidden.map(|h| t.dense("hidden", c.dim, h)).transpose()?;
                let head = t.dense("head", c.hidden.unwrap_or(c.dim), c.outputs)?;
                Body::Bag {
                    embed,
                    dim: c.dim,
                    normalize: c.normalize,
                    hidden,
                    head,
                }
            }
            Architecture::TextCnn(c) => Body::Cnn {
                embed: t.take("embed.weight", &[c.vocab, c.dim])?,
                dim: c.dim,
                conv_w: t.take("conv.weight", &[c.channels, c.dim, c.kernel])?,
                conv_b: t.take("conv.bias", &[c.channels])?,
                kernel: c.kernel,
                head: t.dense("head", c.channels, c.outputs)?,
            },
            Architecture::Mlp(c) => {
                let mut layers = Vec::new();
                let mut prev = c.input;
                for (i, &h) in c.hidden.iter().enumerate() {
                    layers.push(t.dense(&format!("layers.{i}"), prev, h)?);
                    prev = h;
                }
                let head = t.dense("head", prev, c.outputs)?;
                Body::Mlp { layers, head }
            }
        };
        t.finish()?;
        Ok(Self { arch, body })
    }

    /// The architecture.
    pub fn architecture(&self) -> &Architecture {
        &self.arch
    }

    /// The token embedding table (row-major `[rows, width]`) and its width:
    /// bag, static and CNN students; none for an MLP.
    pub fn embedding_table(&self) -> Option<(&[f32], usize)> {
        match &self.body {
            Body::Bag { embed, dim, .. } | Body::Cnn { embed, dim, .. } => Some((embed, *dim)),
            Body::Mlp { .. } => None,
        }
    }

    /// The token embedding table and its width (bag, static and CNN
    /// students; none for an MLP).
    pub(crate) fn table_mut(&mut self) -> Option<(&mut Vec<f32>, usize)> {
        match &mut self.body {
            Body::Bag { embed, dim, .. } | Body::Cnn { embed, dim, .. } => Some((embed, *dim)),
            Body::Mlp { .. } => None,
        }
    }

    /// The weights as named tensors (without the `student.` prefix).
    pub(crate) fn tensors(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let mut out: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
        fn push_dense<'a>(out: &mut Vec<(String, Vec<usize>, &'a [f32])>, name: &str, d: &'a Dense) {
            out.push((format!("{name}.weight"), vec![d.d_in, d.d_out], &d.w));
            out.push((format!("{name}.bias"), vec![d.d_out], &d.b));
        }
        match &self.body {
            Body::Bag {
                embed,
                dim,
                hidden,
                head,
                ..
            } => {
                out.push(("embed.weight".into(), vec![embed.len() / dim, *dim], embed));
                if let Some(h) = hidden {
                    push_dense(&mut out, "hidden", h);
                }
                push_dense(&mut out, "head", head);
            }
            Body::Cnn {
                embed,
                dim,
                conv_w,
                conv_b,
                kernel,
                head,
            } => {
                out.push(("embed.weight".into(), vec![embed.len() / dim, *dim], embed));
                let channels = conv_b.len();
                out.push(("conv.weight".into(), vec![channels, *dim, *kernel], conv_w));
                out.push(("conv.bias".into(), vec![channels], conv_b));
                push_dense(&mut out, "head", head);
            }
            Body::Mlp { layers, head } => {
                for (i, l) in layers.iter().enumerate() {
                    push_dense(&mut out, &format!("layers.{i}"), l);
                }
                push_dense(&mut out, "head", head);
            }
        }
        out
    }

    /// The number of parameters.
    pub fn num_params(&self) -> usize {
        self.tensors().iter().map(|(_, _, v)| v.len()).sum()
    }

    /// Logits (`K = C * S`) of one token sequence (bag and CNN students).
    pub(crate) fn logits_tokens(&self, ids: &[u32]) -> Vec<f32> {
        match &self.body {
            Body::Bag {
                embed,
                dim,
                normalize,
                hidden,
                head,
            } => {
                let mut mean = vec![0.0f32; *dim];
                for &id in ids {
                    let row = &embed[id as usize * dim..(id as usize + 1) * dim];
                    for (m, &e) in mean.iter_mut().zip(row) {
                        *m += e;
                    }
                }
                let n = ids.len().max(1) as f32;
                for m in &mut mean {
                    *m /= n;
                }
                if *normalize {
                    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    for m in &mut mean {
                        *m /= norm;
                    }
                }
                let h = match hidden {
                    Some(l) => {
                        let mut h = l.forward(&mean);
                        relu(&mut h);
                        h
                    }
                    None => mean,
                };
                head.forward(&h)
            }
            Body::Cnn {
                embed,
                dim,
                conv_w,
                conv_b,
                kernel,
                head,
            } => {
                let (d, k, len) = (*dim, *kernel, ids.len());
                let channels = conv_b.len();
                let pad = (k - 1) / 2;
                // max over positions of relu(conv); a sequence shorter than
                // one position still has its (zero-padded) outputs
                let mut pooled = vec![f32::NEG_INFINITY; channels];
                for t in 0..len {
                    for (c, p) in pooled.iter_mut().enumerate() {
                        let mut acc = conv_b[c];
                        for j in 0..k {
                            let pos = t as isize + j as isize - pad as isize;
                            if pos < 0 || pos >= len as isize {
                                continue;
                            }
                            let e = &embed[ids[pos as usize] as usize * d..(ids[pos as usize] as usize + 1) * d];
                            let w = &conv_w[c * d * k..(c + 1) * d * k];
                            for (i, &ei) in e.iter().enumerate() {
                                acc += w[i * k + j] * ei;
                            }
                        }
                        *p = p.max(acc.max(0.0));
                    }
                }
                head.forward(&pooled)
            }
            Body::Mlp { .. } => unreachable!("token inputs are checked before the forward pass"),
        }
    }

    /// Writes the token students' body into an ONNX graph and returns the
    /// name of its logits (an MLP is refused before).
    pub(crate) fn onnx_logits(&self, ops: &mut super::onnx::Ops<'_>, q: Option<super::Quantization>) -> String {
        match &self.body {
            Body::Bag {
                embed,
                dim,
                normalize,
                hidden,
                head,
            } => ops.bag((embed, *dim), q, *normalize, hidden.as_ref(), head),
            Body::Cnn {
                embed,
                dim,
                conv_w,
                conv_b,
                kernel,
                head,
            } => ops.cnn((embed, *dim), q, (conv_w, conv_b, *kernel), head),
            Body::Mlp { .. } => unreachable!("an MLP student is refused before its export"),
        }
    }

    /// Logits of one dense row (MLP students).
    pub(crate) fn logits_dense(&self, x: &[f32]) -> Vec<f32> {
        match &self.body {
            Body::Mlp { layers, head } => {
                let mut h = x.to_vec();
                for l in layers {
                    h = l.forward(&h);
                    relu(&mut h);
                }
                head.forward(&h)
            }
            _ => unreachable!("dense inputs are checked before the forward pass"),
        }
    }

    /// The token vocabulary (bag buckets or CNN vocabulary); `None` for
    /// dense students.
    pub(crate) fn vocab(&self) -> Option<usize> {
        match &self.arch {
            Architecture::Bag(c) => Some(c.buckets),
            Architecture::TextCnn(c) => Some(c.vocab),
            Architecture::Mlp(_) => None,
        }
    }
}

/// The logistic function, `1 / (1 + exp(-z))`, stable for large `|z|`.
pub(crate) fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Class probabilities from `C * S` logits: the class logit is
/// `logsumexp_s z[c * S + s]`, then a softmax over the classes.
pub(crate) fn class_probabilities(z: &[f32], classes: usize) -> Vec<f32> {
    let s = z.len() / classes.max(1);
    let class_logits: Vec<f32> = (0..classes)
        .map(|c| {
            let part = &z[c * s..(c + 1) * s];
            let m = part.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            m + part.iter().map(|&x| (x - m).exp()).sum::<f32>().ln()
        })
        .collect();
    let m = class_logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = class_logits.iter().map(|&l| (l - m).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}
