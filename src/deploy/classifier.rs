//! The classifier runtime: a model file's student and featuriser on raw
//! strings ([`Classifier`]), its predictions and the decision rules on them
//! ([`Prediction`]), and the temperature that calibrates them
//! ([`fit_temperature`]).

use std::path::Path;
use std::sync::Mutex;

use burn::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use super::net::{self, Network};
use super::{Featurizer, Manifest, ModelFile};
use crate::data::HashedNgrams;
use crate::error::{LelpError, Result};
use crate::text::{Bert, SentenceEncoder, WordPiece, WordPieceSettings};

/// The temperature `T` that minimises the mean negative log-likelihood of
/// `labels` under the class probabilities of `outputs / T` (row-major
/// `[n, classes * S]` raw outputs, subclass probabilities summed per class
/// as [`Classifier::predict`] does): temperature scaling (Guo et al. 2017).
/// `T` is searched on a log grid over [0.05, 20] and refined by golden
/// section; it changes no class's rank when `S = 1`.
///
/// # Errors
/// [`LelpError::EmptyData`] for no rows; [`LelpError::DimensionMismatch`]
/// when `outputs` is not whole rows of a multiple of `classes`;
/// [`LelpError::LabelOutOfRange`] for a label of no class;
/// [`LelpError::NonFinite`] for a NaN or infinite output.
pub fn fit_temperature(outputs: &[f32], labels: &[usize], classes: usize) -> Result<f64> {
    let n = labels.len();
    if n == 0 || classes == 0 {
        return Err(LelpError::EmptyData {
            what: "calibration rows",
        });
    }
    let width = outputs.len() / n;
    if outputs.len() != n * width || width == 0 || !width.is_multiple_of(classes) {
        return Err(LelpError::DimensionMismatch {
            what: "outputs vs rows x classes x subclasses",
            expected: n * classes,
            got: outputs.len(),
        });
    }
    if let Some(i) = outputs.iter().position(|v| !v.is_finite()) {
        return Err(LelpError::NonFinite {
            what: "outputs",
            row: i / width,
            col: i % width,
        });
    }
    if let Some(row) = labels.iter().position(|&l| l >= classes) {
        return Err(LelpError::LabelOutOfRange {
            label: labels[row],
            row,
            num_classes: classes,
        });
    }
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        let mut scaled = vec![0.0f32; width];
        let mut total = 0.0f64;
        for (row, &l) in outputs.chunks(width).zip(labels) {
            for (s, &z) in scaled.iter_mut().zip(row) {
                *s = z / t;
            }
            let p = net::class_probabilities(&scaled, classes);
            total -= f64::from(p[l].max(1e-12)).ln();
        }
        total / n as f64
    };
    let (lo, hi) = (0.05f64.ln(), 20f64.ln());
    let steps = 40;
    let grid: Vec<f64> = (0..=steps).map(|k| lo + (hi - lo) * k as f64 / steps as f64).collect();
    let best = grid
        .iter()
        .map(|&u| (u, nll(u)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.0, |(u, _)| u);
    let step = (hi - lo) / steps as f64;
    let (mut a, mut b) = ((best - step).max(lo), (best + step).min(hi));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if nll(c) < nll(d) {
            b = d;
        } else {
            a = c;
        }
    }
    Ok(((a + b) / 2.0).exp())
}

/// One prediction: the label and every class's probability, with the
/// decision rules a caller applies to them ([`Prediction::top_k`],
/// [`Prediction::label_over`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The predicted class (`argmax` of the probabilities).
    pub label: usize,
    /// Class probabilities (they sum to 1); for a multi-label model, one
    /// independent probability a label.
    pub probabilities: Vec<f32>,
    /// The labels the model gives: `[label]`; for a multi-label model,
    /// every label whose probability reaches its threshold
    /// ([`Manifest::multi_label`](super::Manifest::multi_label)), possibly
    /// none.
    pub labels: Vec<usize>,
    /// Who answered: the student, or in a cascade
    /// ([`Manifest::cascade`](super::Manifest::cascade)) the fallback
    /// model, or nobody yet (the text is for the teacher that runs
    /// elsewhere; `label` and `probabilities` are then the student's).
    pub answered_by: AnsweredBy,
}

/// Who answered a [`Prediction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnsweredBy {
    /// The student (every text of a model without a cascade).
    #[default]
    Student,
    /// A cascade's fallback model (the teacher), the student being unsure.
    Fallback,
    /// Nobody: the student is unsure and the cascade's fallback runs
    /// elsewhere (or was not loaded: [`Classifier::from_model`]).
    Deferred,
}

impl Prediction {
    /// The `k` most probable classes with their probabilities, most
    /// probable first (ties to the lower class, as the label); all of them
    /// when `k` is larger.
    ///
    /// ```
    /// use lelp::deploy::Prediction;
    /// let p = Prediction { label: 1, probabilities: vec![0.2, 0.5, 0.3], labels: vec![1], answered_by: Default::default() };
    /// assert_eq!(p.top_k(2), vec![(1, 0.5), (2, 0.3)]);
    /// ```
    pub fn top_k(&self, k: usize) -> Vec<(usize, f32)> {
        let mut order: Vec<usize> = (0..self.probabilities.len()).collect();
        order.sort_by(|&a, &b| self.probabilities[b].total_cmp(&self.probabilities[a]).then(a.cmp(&b)));
        order.into_iter().take(k).map(|c| (c, self.probabilities[c])).collect()
    }

    /// The label when its probability is at least `threshold`, else none:
    /// an explicit "no label" for texts the model is unsure of.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a threshold outside [0, 1].
    ///
    /// ```
    /// use lelp::deploy::Prediction;
    /// let p = Prediction { label: 1, probabilities: vec![0.2, 0.5, 0.3], labels: vec![1], answered_by: Default::default() };
    /// assert_eq!(p.label_over(0.5)?, Some(1));
    /// assert_eq!(p.label_over(0.6)?, None);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn label_over(&self, threshold: f64) -> Result<Option<usize>> {
        check_threshold(threshold)?;
        let p = self.probabilities.get(self.label).copied().unwrap_or(0.0);
        Ok((f64::from(p) >= threshold).then_some(self.label))
    }
}

/// A decision threshold must be a probability.
///
/// # Errors
/// [`LelpError::InvalidParameter`] outside [0, 1] (NaN included).
pub fn check_threshold(threshold: f64) -> Result<()> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(LelpError::InvalidParameter {
            name: "threshold",
            value: threshold.to_string(),
            reason: "must be a probability in [0, 1]",
        })
    }
}

enum Featurize {
    Hashed(HashedNgrams),
    WordPiece(WordPiece, usize, u32),
    // burn modules are Send but not Sync: one encoding at a time
    Encoder(Box<Mutex<SentenceEncoder>>, Device),
}

/// A trained student that predicts on raw strings: featuriser and network
/// together, no autodiff, `Send + Sync` (share it across threads with an
/// `Arc`). Token students (bag, CNN) run on the host one text at a time
/// (a batch in parallel on rayon's pool); students over sentence embeddings
/// run the embedded encoder on burn's default device first.
pub struct Classifier {
    manifest: Manifest,
    network: Network,
    featurize: Featurize,
    encoder_params: usize,
    /// A cascade's fallback (loaded by [`Classifier::load`]).
    fallback: Option<Box<Classifier>>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("classes", &self.manifest.class_names)
            .field("architecture", &self.manifest.architecture.name())
            .field("featurizer", &self.manifest.featurizer.name())
            .finish()
    }
}

impl Classifier {
    /// Loads a model file; an embedded encoder runs on burn's Flex CPU
    /// backend (see [`Classifier::from_model`]).
    ///
    /// # Errors
    /// Those of [`ModelFile::read`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_on(path, &Device::flex())
    }

    /// [`Classifier::load`] with an embedded encoder on `device` (token
    /// students run on the host whatever the device).
    ///
    /// # Errors
    /// As [`Classifier::load`].
    pub fn load_on(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let mut me = Self::from_model_at(ModelFile::read(path)?, path, device)?;
        let fallback = me.manifest.cascade.as_ref().and_then(|c| c.fallback.clone());
        if let Some(name) = fallback {
            let file = path.parent().unwrap_or(Path::new(".")).join(name);
            let bytes = crate::io::read(&file)?;
            let mut id = crate::util::Fnv64::default();
            id.update(&bytes);
            let want = me.manifest.cascade.as_ref().and_then(|c| c.fallback_id.clone());
            if want.is_some_and(|w| w != format!("{:016x}", id.finish())) {
                return Err(LelpError::corrupted(
                    &file,
                    format!(
                        "not the cascade's fallback (its identity differs from {}'s record)",
                        path.display()
                    ),
                ));
            }
            let fb = Self::from_model_at(ModelFile::from_bytes(&bytes, &file)?, &file, device)?;
            me = me.with_fallback(fb)?;
        }
        Ok(me)
    }

    /// The classifier with `fallback` answering the texts its cascade
    /// ([`Manifest::cascade`]) hands on; [`Classifier::load`] does this
    /// for the file the manifest names.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a model without a cascade, or a
    /// fallback whose classes are not the model's (in its order).
    pub fn with_fallback(mut self, fallback: Classifier) -> Result<Self> {
        if self.manifest.cascade.is_none() {
            return Err(LelpError::InvalidParameter {
                name: "fallback",
                value: fallback.manifest.class_names.join(","),
                reason: "the model has no cascade to hand texts on",
            });
        }
        if fallback.manifest.class_names != self.manifest.class_names {
            return Err(LelpError::InvalidParameter {
                name: "fallback",
                value: fallback.manifest.class_names.join(","),
                reason: "the fallback's classes are not the model's, in its order",
            });
        }
        self.fallback = Some(Box::new(fallback));
        Ok(self)
    }

    /// A classifier from a model in memory. An embedded encoder runs on
    /// burn's Flex CPU backend (whatever other backends the build has:
    /// `Device::default()` would pick wgpu or libtorch before Flex); use
    /// [`Classifier::from_model_on`] for another device.
    ///
    /// # Errors
    /// [`LelpError::Corrupted`] for a featuriser that cannot be rebuilt
    /// (a vocabulary without its special tokens, encoder weights that do not
    /// fit the config).
    pub fn from_model(model: ModelFile) -> Result<Self> {
        Self::from_model_on(model, &Device::flex())
    }

    /// [`Classifier::from_model`] with an embedded encoder on `device`.
    ///
    /// # Errors
    /// As [`Classifier::from_model`].
    pub fn from_model_on(model: ModelFile, device: &Device) -> Result<Self> {
        Self::from_model_at(model, Path::new("<memory>"), device)
    }

    fn from_model_at(model: ModelFile, path: &Path, device: &Device) -> Result<Self> {
        let ModelFile {
            manifest,
            network,
            encoder,
        } = model;
        let wordpiece = |vocab: &[String], settings: &WordPieceSettings| {
            WordPiece::from_vocab_with_settings(vocab.iter().cloned(), settings)
                .map_err(|e| LelpError::corrupted(path, format!("manifest vocabulary: {e}")))
        };
        let mut encoder_params = 0;
        let featurize = match &manifest.featurizer {
            Featurizer::HashedNgrams {
                buckets,
                bigrams,
                max_words,
            } => Featurize::Hashed(HashedNgrams {
                buckets: *buckets,
                bigrams: *bigrams,
                max_words: *max_words,
            }),
            Featurizer::WordPiece {
                max_tokens,
                vocab,
                tokenizer,
                bigram_buckets,
            } => Featurize::WordPiece(wordpiece(vocab, tokenizer)?, *max_tokens, *bigram_buckets),
            Featurizer::SentenceEncoder {
                config,
                vocab,
                max_tokens,
                id,
                tokenizer,
                pooling,
                normalize,
                ..
            } => {
                let tensors = encoder.ok_or_else(|| LelpError::corrupted(path, "no encoder weights"))?;
                encoder_params = tensors.values().map(|(_, v)| v.len()).sum();
                let device = device.clone().without_autodiff();
                let bert = Bert::from_tensors(tensors, config, path, &device)?;
                let id = u64::from_str_radix(id, 16).unwrap_or(0);
                let enc = SentenceEncoder::from_parts(
                    wordpiece(vocab, tokenizer)?,
                    bert,
                    *max_tokens,
                    id,
                    config.layer_norm_eps,
                )
                .with_pooling(*pooling, *normalize);
                enc.prepare()?;
                Featurize::Encoder(Box::new(Mutex::new(enc)), device)
            }
        };
        Ok(Self {
            fallback: None,
            manifest,
            network,
            featurize,
            encoder_params,
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Class names, indexed by label.
    pub fn class_names(&self) -> &[String] {
        &self.manifest.class_names
    }

    /// Parameters of the student, and of the embedded encoder (0 for token
    /// students).
    pub fn num_params(&self) -> (usize, usize) {
        (self.network.num_params(), self.encoder_params)
    }

    /// Predicts every text (an empty text gets a prediction too).
    ///
    /// # Errors
    /// [`LelpError::Backend`] when the encoder fails (students over
    /// sentence embeddings only).
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let c = self.manifest.class_names.len();
        let t = self.manifest.calibration.as_ref().map_or(1.0, |k| k.temperature as f32);
        let multi = self.manifest.multi_label.as_ref();
        let finish = |z: Vec<f32>| {
            let z: Vec<f32> = if t == 1.0 { z } else { z.iter().map(|v| v / t).collect() };
            let probabilities = match multi {
                Some(_) => z.iter().map(|&v| net::sigmoid(v)).collect(),
                None => net::class_probabilities(&z, c),
            };
            let label = crate::util::argmax(&probabilities);
            let labels = match multi {
                Some(m) => (0..c).filter(|&k| probabilities[k] >= m.thresholds[k]).collect(),
                None => vec![label],
            };
            Prediction {
                label,
                probabilities,
                labels,
                answered_by: AnsweredBy::Student,
            }
        };
        let mut raw = Vec::with_capacity(texts.len());
        self.outputs_into(texts, &mut raw)?;
        let Some(cascade) = &self.manifest.cascade else {
            return Ok(raw.into_iter().map(finish).collect());
        };
        // the texts the student is unsure of, by its decision temperature
        // in f32, as the threshold was chosen (a JSON round trip of its f64 may be an ulp off)
        let (k, threshold) = (cascade.temperature as f32, cascade.threshold as f32);
        let unsure: Vec<usize> = raw
            .iter()
            .enumerate()
            .filter(|(_, z)| {
                let p = net::class_probabilities(&z.iter().map(|v| v / k).collect::<Vec<_>>(), c);
                p[crate::util::argmax(&p)] < threshold
            })
            .map(|(i, _)| i)
            .collect();
        let mut out: Vec<Prediction> = raw.into_iter().map(finish).collect();
        match &self.fallback {
            Some(fb) if !unsure.is_empty() => {
                // one batch for the fallback
                let handed: Vec<&str> = unsure.iter().map(|&i| texts[i]).collect();
                for (&i, mut p) in unsure.iter().zip(fb.predict(&handed)?) {
                    p.answered_by = AnsweredBy::Fallback;
                    out[i] = p;
                }
            }
            Some(_) => {}
            None => unsure.iter().for_each(|&i| out[i].answered_by = AnsweredBy::Deferred),
        }
        Ok(out)
    }

    /// The student's raw outputs (`C * S` logits, no temperature) for
    /// `texts`, appended to `out`.
    pub(crate) fn outputs_into(&self, texts: &[&str], out: &mut Vec<Vec<f32>>) -> Result<()> {
        match &self.featurize {
            Featurize::Hashed(h) => out.par_extend(texts.par_iter().map(|t| self.network.logits_tokens(&h.encode(t)))),
            Featurize::WordPiece(wp, max, bigrams) => out.par_extend(
                texts
                    .par_iter()
                    .map(|t| self.network.logits_tokens(&wp.encode_with_bigrams(t, *max, *bigrams))),
            ),
            Featurize::Encoder(enc, device) => {
                if texts.is_empty() {
                    return Ok(());
                }
                let enc = enc.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let d = enc.embedding_dim();
                let rows = crate::util::to_host_f32(enc.encode(texts, 64, device)?)?;
                out.extend(rows.chunks(d).map(|x| self.network.logits_dense(x)));
            }
        }
        Ok(())
    }

    /// The token ids the student reads for each text: hashed word n-gram
    /// ids (bag students) or WordPiece ids (static and CNN students), as
    /// [`Classifier::predict`] computes them. They are the input of the
    /// model's ONNX export ([`ModelFile::to_onnx`]), padded to one length
    /// with a mask.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a student over sentence
    /// embeddings (an MLP or transformer student reads the encoder's
    /// output, not ids).
    pub fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        match &self.featurize {
            Featurize::Hashed(h) => Ok(texts.iter().map(|t| h.encode(t)).collect()),
            Featurize::WordPiece(wp, max, bigrams) => Ok(texts
                .iter()
                .map(|t| wp.encode_with_bigrams(t, *max, *bigrams))
                .collect()),
            Featurize::Encoder(..) => Err(LelpError::InvalidParameter {
                name: "token_ids",
                value: self.network.architecture().name().into(),
                reason: "a student over sentence embeddings reads the encoder's output, not token ids",
            }),
        }
    }

    /// Predicts one text.
    ///
    /// # Errors
    /// As [`Classifier::predict`].
    pub fn predict_one(&self, text: &str) -> Result<Prediction> {
        Ok(self.predict(&[text])?.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Temperature scaling finds the temperature a model's outputs were
    /// inflated by: labels drawn from `softmax(z)`, outputs `3 z`.
    #[test]
    fn fit_temperature_recovers_an_inflation() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let (n, c) = (20_000, 5);
        let mut outputs = Vec::with_capacity(n * c);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let z: Vec<f32> = (0..c).map(|_| rng.random_range(-2.0f32..2.0)).collect();
            let p = net::class_probabilities(&z, c);
            let u: f32 = rng.random();
            let mut acc = 0.0;
            let label = p.iter().position(|&q| {
                acc += q;
                u < acc
            });
            labels.push(label.unwrap_or(c - 1));
            outputs.extend(z.iter().map(|v| 3.0 * v));
        }
        let t = fit_temperature(&outputs, &labels, c).unwrap();
        assert!((t - 3.0).abs() < 0.15, "{t}");
        // already calibrated outputs keep a temperature near 1
        let plain: Vec<f32> = outputs.iter().map(|v| v / 3.0).collect();
        let t1 = fit_temperature(&plain, &labels, c).unwrap();
        assert!((t1 - 1.0).abs() < 0.05, "{t1}");
        assert!(matches!(
            fit_temperature(&outputs[..7], &labels[..2], c),
            Err(LelpError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn classifier_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Classifier>();
    }
}
