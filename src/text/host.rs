//! The frozen encoder's forward pass on the host: the same BERT as
//! [`Bert`], run with faer's products (its run-time-dispatched AVX-512 and
//! AVX2 kernels) on rayon's pool, fused elementwise passes, buffers reused
//! across layers, and each text over its own tokens (no padding). The
//! sentence encoder runs it on CPU devices; `tests/minilm.rs` and the unit
//! tests below keep it equal to the burn path.

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::bert::Bert;
use super::student::Pooling;
use crate::error::{LelpError, Result};

/// A dense layer `y = x W + b`, `W` row-major `[in, out]` (burn's layout).
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
}

/// Layer norm's scale and shift.
struct Norm {
    g: Vec<f32>,
    b: Vec<f32>,
}

struct Layer {
    /// Query, key and value side by side: `[d, 3d]`.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// A BERT's weights on the host, for inference only.
pub(crate) struct HostBert {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Token type 0's row (the sentence pipeline's only type).
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    d: usize,
    heads: usize,
    ffn: usize,
    vocab: usize,
    positions: usize,
    eps: f32,
}

impl std::fmt::Debug for HostBert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBert")
            .field("layers", &self.layers.len())
            .field("hidden", &self.d)
            .field("heads", &self.heads)
            .finish()
    }
}

/// The working buffers of a forward pass, reused across its layers and,
/// through [`HostBert::embed_in`], across batches (fresh large buffers
/// page-fault at every touch).
#[derive(Default)]
pub(crate) struct Buffers {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    hidden: Vec<f32>,
}

impl HostBert {
    /// Copies `bert`'s weights to the host; `eps` is its layer norms'
    /// epsilon (the config's `layer_norm_eps`).
    ///
    /// # Errors
    /// [`LelpError::Backend`] when a tensor cannot be read back.
    pub(crate) fn from_bert(bert: &Bert, eps: f64) -> Result<Self> {
        let p = bert.host_parts()?;
        let d = p.d;
        let layers = p
            .layers
            .into_iter()
            .map(|l| {
                let mut w = Vec::with_capacity(d * 3 * d);
                for i in 0..d {
                    for part in [&l.query.0, &l.key.0, &l.value.0] {
                        w.extend_from_slice(&part[i * d..(i + 1) * d]);
                    }
                }
                let b = [l.query.1, l.key.1, l.value.1].concat();
                let dense = |(w, b): (Vec<f32>, Vec<f32>)| Dense { w, b };
                let norm = |(g, b): (Vec<f32>, Vec<f32>)| Norm { g, b };
                Layer {
                    qkv: Dense { w, b },
                    attention_out: dense(l.attention_out),
                    attention_norm: norm(l.attention_norm),
                    intermediate: dense(l.intermediate),
                    output: dense(l.output),
                    output_norm: norm(l.output_norm),
                }
            })
            .collect();
        Ok(Self {
            vocab: p.word.len() / d,
            positions: p.position.len() / d,
            word: p.word,
            position: p.position,
            token_type: p.token_type[..d].to_vec(),
            embedding_norm: Norm {
                g: p.embedding_norm.0,
                b: p.embedding_norm.1,
            },
            layers,
            d,
            heads: p.heads,
            ffn: p.ffn,
            eps: eps as f32,
        })
    }

    /// Sentence embeddings of token sequences: the last hidden state
    /// mean-pooled over each sequence's tokens, L2-normalised; row-major
    /// `[seqs, d]`.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for no sequences or an empty one (as
    /// `TokenBatch` refuses them on the graph path);
    /// [`LelpError::DimensionMismatch`] for a sequence longer than the
    /// position table or a token id outside the vocabulary.
    #[cfg(test)]
    pub(crate) fn embed(&self, seqs: &[&[u32]]) -> Result<Vec<f32>> {
        self.embed_in(seqs, &mut Buffers::default(), Pooling::Mean, true)
    }

    /// [`HostBert::embed`] with the working buffers `buf` (reused across
    /// calls), pooled by `pooling` and L2-normalised if `normalize`.
    pub(crate) fn embed_in(
        &self,
        seqs: &[&[u32]],
        buf: &mut Buffers,
        pooling: Pooling,
        normalize: bool,
    ) -> Result<Vec<f32>> {
        self.forward_in(seqs, buf)?;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        Ok(pool(&buf.x, &lens, self.d, pooling, normalize))
    }

    /// The last hidden state of every token of `seqs`, one sequence after
    /// the other without padding: `[T, d]`, `T` the tokens in all.
    ///
    /// # Errors
    /// As [`HostBert::embed`].
    pub(crate) fn hidden_states(&self, seqs: &[&[u32]]) -> Result<Vec<f32>> {
        let mut buf = Buffers::default();
        self.forward_in(seqs, &mut buf)?;
        Ok(buf.x)
    }

    /// The forward pass: leaves the last hidden state in `buf.x`.
    fn forward_in(&self, seqs: &[&[u32]], buf: &mut Buffers) -> Result<()> {
        let d = self.d;
        if seqs.is_empty() || seqs.iter().any(|s| s.is_empty()) {
            return Err(LelpError::EmptyData {
                what: "token sequences",
            });
        }
        for s in seqs {
            if s.len() > self.positions {
                return Err(LelpError::DimensionMismatch {
                    what: "sequence length vs position embeddings",
                    expected: self.positions,
                    got: s.len(),
                });
            }
            if let Some(&id) = s.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(LelpError::DimensionMismatch {
                    what: "token id vs vocabulary size",
                    expected: self.vocab,
                    got: id as usize,
                });
            }
        }
        let tokens: usize = seqs.iter().map(|s| s.len()).sum();
        self.embeddings(seqs, &mut buf.x);
        // every value is written before it is read (biases, attention blocks)
        buf.qkv.resize(tokens * 3 * d, 0.0);
        buf.ctx.resize(tokens * d, 0.0);
        buf.hidden.resize(tokens * self.ffn, 0.0);
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        for layer in &self.layers {
            self.layer(layer, &lens, buf);
        }
        Ok(())
    }

    /// Word + position + token-type embeddings, layer-normalised, into
    /// `x`: `[T, d]`.
    fn embeddings(&self, seqs: &[&[u32]], x: &mut Vec<f32>) {
        let d = self.d;
        x.clear();
        for s in seqs {
            for (pos, &id) in s.iter().enumerate() {
                let w = &self.word[id as usize * d..][..d];
                let p = &self.position[pos * d..][..d];
                x.extend(w.iter().zip(p).zip(&self.token_type).map(|((a, b), c)| a + b + c));
            }
        }
        layer_norm(x, &self.embedding_norm, d, self.eps);
    }

    /// One post-LayerNorm transformer layer, `buf.x` updated in place.
    fn layer(&self, l: &Layer, lens: &[usize], buf: &mut Buffers) {
        let (d, t) = (self.d, buf.x.len() / self.d);
        fill_rows(&mut buf.qkv, &l.qkv.b);
        gemm(&mut buf.qkv, &buf.x, &l.qkv.w, t, d, 3 * d);
        attention(&buf.qkv, &mut buf.ctx, lens, d, self.heads);
        // residual and bias first, the product added onto them
        add_rows(&mut buf.x, &l.attention_out.b);
        gemm(&mut buf.x, &buf.ctx, &l.attention_out.w, t, d, d);
        layer_norm(&mut buf.x, &l.attention_norm, d, self.eps);
        fill_rows(&mut buf.hidden, &l.intermediate.b);
        gemm(&mut buf.hidden, &buf.x, &l.intermediate.w, t, d, self.ffn);
        buf.hidden.par_chunks_mut(CHUNK).for_each(|c| {
            simd(
                #[inline(always)]
                || {
                    for v in c.iter_mut() {
                        *v = gelu(*v);
                    }
                },
            )
        });
        add_rows(&mut buf.x, &l.output.b);
        gemm(&mut buf.x, &buf.hidden, &l.output.w, t, self.ffn, d);
        layer_norm(&mut buf.x, &l.output_norm, d, self.eps);
    }
}

/// Values per parallel task of the elementwise passes.
const CHUNK: usize = 1 << 15;

/// Products smaller than this many multiply-adds run on one thread.
const PARALLEL_MACS: usize = 1 << 22;

/// `c += a b`, all row-major (`a`: `n x k`, `b`: `k x m`).
fn gemm(c: &mut [f32], a: &[f32], b: &[f32], n: usize, k: usize, m: usize) {
    let par = if n * k * m < PARALLEL_MACS {
        Par::Seq
    } else {
        crate::util::host_par()
    };
    faer::linalg::matmul::matmul(
        MatMut::from_row_major_slice_mut(c, n, m),
        Accum::Add,
        MatRef::from_row_major_slice(a, n, k),
        MatRef::from_row_major_slice(b, k, m),
        1.0f32,
        par,
    );
}

/// Every row of `x` set to `row`.
fn fill_rows(x: &mut [f32], row: &[f32]) {
    x.par_chunks_mut(row.len() * (CHUNK / row.len()).max(1))
        .for_each(|c| c.chunks_mut(row.len()).for_each(|r| r.copy_from_slice(row)));
}

/// `row` added to every row of `x`.
fn add_rows(x: &mut [f32], row: &[f32]) {
    x.par_chunks_mut(row.len() * (CHUNK / row.len()).max(1)).for_each(|c| {
        c.chunks_mut(row.len())
            .for_each(|r| r.iter_mut().zip(row).for_each(|(v, b)| *v += b))
    });
}

/// Layer norm of every row of `x` (width `d`) in place.
fn layer_norm(x: &mut [f32], n: &Norm, d: usize, eps: f32) {
    x.par_chunks_mut(d * (CHUNK / d).max(1)).for_each(|c| {
        simd(
            #[inline(always)]
            || layer_norm_rows(c, n, d, eps),
        )
    });
}

/// [`layer_norm`] of the rows of one chunk.
#[inline(always)]
fn layer_norm_rows(c: &mut [f32], n: &Norm, d: usize, eps: f32) {
    for r in c.chunks_mut(d) {
        let mean = sum(r) / d as f32;
        for v in r.iter_mut() {
            *v -= mean;
        }
        let var = sum_squares(r) / d as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in r.iter_mut().zip(&n.g).zip(&n.b) {
            *v = *v * inv * g + b;
        }
    }
}

/// Scaled dot-product attention of every text and head: `qkv` holds each
/// token's query, key and value side by side (`[T, 3d]`), the context goes
/// to `ctx` (`[T, d]`); a text attends to its own tokens only.
fn attention(qkv: &[f32], ctx: &mut [f32], lens: &[usize], d: usize, heads: usize) {
    let dh = d / heads;
    let scale = 1.0 / (dh as f32).sqrt();
    let mut parts = Vec::with_capacity(lens.len());
    let (mut rest, mut start) = (ctx, 0);
    for &l in lens {
        let (mine, tail) = rest.split_at_mut(l * d);
        parts.push((start, l, mine));
        rest = tail;
        start += l;
    }
    parts
        .into_par_iter()
        .for_each_init(Vec::new, |scores: &mut Vec<f32>, (start, l, out)| {
            if l == 0 {
                return;
            }
            scores.resize(l * l, 0.0);
            let rows = &qkv[start * 3 * d..];
            for h in 0..heads {
                let view = |offset: usize| MatRef::from_row_major_slice_with_stride(&rows[offset..], l, dh, 3 * d);
                let (q, k, v) = (view(h * dh), view(d + h * dh), view(2 * d + h * dh));
                faer::linalg::matmul::matmul(
                    MatMut::from_row_major_slice_mut(scores, l, l),
                    Accum::Replace,
                    q,
                    k.transpose(),
                    1.0f32,
                    Par::Seq,
                );
                simd(
                    #[inline(always)]
                    || {
                        for r in scores.chunks_mut(l) {
                            softmax(r, scale);
                        }
                    },
                );
                // the row-major `l x dh` block at stride `d`, built as the
                // transpose of a column-major view: faer 0.24.4's
                // `from_row_major_slice_with_stride_mut` makes a column-major
                // view (its strides swapped) and writes out of bounds
                let block = MatMut::from_column_major_slice_with_stride_mut(&mut out[h * dh..], dh, l, d);
                faer::linalg::matmul::matmul(
                    block.transpose_mut(),
                    Accum::Replace,
                    MatRef::from_row_major_slice(scores, l, l),
                    v,
                    1.0f32,
                    Par::Seq,
                );
            }
        });
}

/// Runs `f` compiled for the widest SIMD instructions the CPU has (AVX2
/// and FMA where present, chosen at run time; pulp's safe dispatch), so
/// the elementwise loops inlined into it vectorise at that width.
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `softmax(scale * r)` in place.
#[inline(always)]
fn softmax(r: &mut [f32], scale: f32) {
    let max = lanes(r, f32::NEG_INFINITY, |m, v| if v > m { v } else { m }, f32::max);
    for v in r.iter_mut() {
        *v = exp((*v - max) * scale);
    }
    let inv = 1.0 / sum(r);
    for v in r.iter_mut() {
        *v *= inv;
    }
}

/// Lanes of the SIMD width a reduction runs over.
const LANES: usize = 16;

/// A reduction of `v` over [`LANES`] independent accumulators (so it
/// vectorises: a single running value would be a serial chain), the
/// lanes combined by `merge`.
#[inline(always)]
fn lanes(v: &[f32], init: f32, step: impl Fn(f32, f32) -> f32, merge: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let mut chunks = v.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = step(*a, x);
        }
    }
    let mut total = init;
    for &x in chunks.remainder() {
        total = step(total, x);
    }
    for a in acc {
        total = merge(total, a);
    }
    total
}

/// The sum of `v`.
#[inline(always)]
fn sum(v: &[f32]) -> f32 {
    lanes(v, 0.0, |a, x| a + x, |a, b| a + b)
}

/// The sum of squares of `v`.
#[inline(always)]
fn sum_squares(v: &[f32]) -> f32 {
    lanes(v, 0.0, |a, x| a + x * x, |a, b| a + b)
}

/// Each sequence's rows of `x` pooled (the mean, or its first row) and,
/// if `normalize`, L2-normalised (norm floored at 1e-12, as the burn
/// path): `[seqs, d]`.
fn pool(x: &[f32], lens: &[usize], d: usize, pooling: Pooling, normalize: bool) -> Vec<f32> {
    let mut out = vec![0.0f32; lens.len() * d];
    let mut start = 0;
    for (i, &l) in lens.iter().enumerate() {
        let row = &mut out[i * d..(i + 1) * d];
        let rows = match pooling {
            Pooling::Mean => start..start + l,
            Pooling::First => start..start + 1,
        };
        let count = rows.len() as f32;
        for t in rows {
            row.iter_mut().zip(&x[t * d..(t + 1) * d]).for_each(|(o, v)| *o += v);
        }
        row.iter_mut().for_each(|v| *v /= count.max(1e-9));
        if normalize {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|v| *v /= norm);
        }
        start += l;
    }
    out
}

/// `e^x` in `f32` without branches (so loops over it vectorise):
/// `x = k ln 2 + r` with `|r| <= ln 2 / 2` (Cody and Waite's two-part
/// `ln 2`), `e^r` by its degree-7 Taylor polynomial (truncation below
/// 6e-9 relative), `2^k` written into the exponent bits. Inputs are
/// clamped to `[-87, 88]` (so the exponent bits stay valid): below -87 it
/// returns `e^-87` (about 1.6e-38, harmless in softmax and erf), above 88
/// `e^88`.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4; // 355 / 512: k * LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let rounded = x * std::f32::consts::LOG2_E + ROUND;
    let k = rounded - ROUND;
    // k as an integer from the bits (`as i32` would saturate, a branch)
    let k_int = rounded.to_bits().wrapping_sub(ROUND.to_bits());
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(k_int.wrapping_add(127) << 23)
}

/// `erf(x)` by Abramowitz and Stegun's formula 7.1.26 (absolute error at
/// most 1.5e-7 in exact arithmetic; under 6e-7 in `f32`, tested), with
/// [`exp`].
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * exp(-z * z)).copysign(x)
}

/// GELU, the erf form: `x (1 + erf(x / sqrt 2)) / 2`.
#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TokenBatch;
    use crate::text::BertConfig;
    use burn::prelude::*;

    /// `erf` in `f64` by its Maclaurin series (exact enough for `|x| <= 4`).
    fn erf_series(x: f64) -> f64 {
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_f64() {
        let mut worst = 0.0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let want = (x as f64).exp();
            worst = worst.max(((exp(x) as f64 - want) / want).abs());
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        assert!(exp(-1e4) >= 0.0 && exp(-1e4) < 1e-37);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn erf_is_within_a_s_bound() {
        let mut worst = 0.0f64;
        for i in -40_000..=40_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf(x) as f64 - erf_series(x as f64)).abs());
        }
        // A&S's 1.5e-7 and the f32 rounding of `1 - poly e^{-z^2}`
        assert!(worst < 6e-7, "worst absolute error {worst}");
        assert_eq!(erf(9.0), 1.0);
        assert_eq!(erf(-9.0), -1.0);
    }

    fn tiny() -> BertConfig {
        crate::text::tiny::config()
    }

    /// The burn path's pooled, normalised embedding of a padded batch.
    fn burn_embed(bert: &Bert, seqs: &[&[u32]], device: &Device) -> Vec<f32> {
        let batch = TokenBatch::from_sequences(seqs, 12, device).unwrap();
        let hidden = bert.forward(batch.ids, batch.mask.clone()).unwrap();
        let mean = crate::text::mean_pool(hidden, batch.mask);
        let norm = mean.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
        crate::util::to_host_f32(mean / norm).unwrap()
    }

    #[test]
    fn host_forward_equals_the_burn_path_on_ragged_batches() {
        let device = Device::flex();
        // larger weights than BERT's 0.02 so attention is far from uniform
        let mut c = tiny();
        c.num_hidden_layers = 3;
        let bert = Bert::random_with_std(&c, 7, 0.4, &device).unwrap();
        let host = HostBert::from_bert(&bert, c.layer_norm_eps).unwrap();
        let seqs: [&[u32]; 4] = [&[1, 5, 9, 2], &[1, 44, 3, 3, 17, 8, 30, 2], &[1, 2], &[1, 49, 7, 11, 2]];
        let want = burn_embed(&bert, &seqs, &device);
        let got = host.embed(&seqs).unwrap();
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "worst difference {worst}");
        // one at a time equals the batch (no padding leaks between texts)
        for (i, s) in seqs.iter().enumerate() {
            let one = host.embed(&[s]).unwrap();
            let diff = one.iter().zip(&got[i * 16..(i + 1) * 16]).map(|(a, b)| (a - b).abs());
            assert!(diff.fold(0.0f32, f32::max) < 1e-6);
        }
    }

    /// The encoder's token states (the vocabulary pass reads them) by
    /// the host path equal the graph's, padding dropped.
    #[test]
    fn token_states_agree_across_paths() {
        use crate::text::{EncoderPath, SentenceEncoder};
        let device = Device::flex();
        let c = tiny();
        let tok = crate::text::tiny::wordpiece();
        let bert = Bert::random_with_std(&c, 3, 0.4, &device).unwrap();
        let enc =
            |path| SentenceEncoder::from_parts(tok.clone(), bert.clone(), 12, 0, c.layer_norm_eps).with_path(path);
        let seqs: [&[u32]; 3] = [&[2, 9, 3], &[2, 40, 41, 42, 43, 3], &[2, 3]];
        let host = enc(EncoderPath::Host).token_states(&seqs, &device).unwrap();
        let graph = enc(EncoderPath::Device).token_states(&seqs, &device).unwrap();
        assert_eq!(host.len(), 11 * 16);
        assert_eq!(graph.len(), host.len());
        let worst = host
            .iter()
            .zip(&graph)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "worst difference {worst}");
        assert!(enc(EncoderPath::Auto).uses_host(), "flex takes the host path");
    }

    /// Working buffers reused across batches of other sizes (as
    /// `encode` reuses them, longest batch first) give what fresh ones do.
    #[test]
    fn reused_buffers_hold_nothing_over() {
        let device = Device::flex();
        let c = tiny();
        let bert = Bert::random_with_std(&c, 5, 0.4, &device).unwrap();
        let host = HostBert::from_bert(&bert, c.layer_norm_eps).unwrap();
        let big: [&[u32]; 3] = [&[1, 5, 9, 2, 7, 7, 7], &[1, 44, 3, 2], &[1, 8, 2]];
        let small: [&[u32]; 1] = [&[1, 30, 31, 2]];
        let mut buf = Buffers::default();
        for seqs in [&big[..], &small[..], &big[..]] {
            let reused = host.embed_in(seqs, &mut buf, Pooling::Mean, true).unwrap();
            assert_eq!(reused, host.embed(seqs).unwrap());
        }
    }

    /// The other poolings (the first token; no normalisation, as a
    /// transformer student's model file reads its encoder) equal the
    /// graph's `SentenceEncoder::embed` with the same settings.
    #[test]
    fn first_token_and_unnormalised_pooling_equal_the_graph() {
        let device = Device::flex();
        let c = tiny();
        let bert = Bert::random_with_std(&c, 9, 0.4, &device).unwrap();
        let host = HostBert::from_bert(&bert, c.layer_norm_eps).unwrap();
        let seqs: [&[u32]; 3] = [&[1, 5, 9, 2, 7], &[1, 44, 2], &[1, 8, 3, 3, 2]];
        let vocab: Vec<String> = (0..c.vocab_size).map(|i| format!("w{i}")).collect();
        let mut vocab = vocab;
        for (i, t) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].iter().enumerate() {
            vocab[i] = t.to_string();
        }
        let tokenizer = crate::text::WordPiece::from_vocab(vocab).unwrap();
        for pooling in [Pooling::First, Pooling::Mean] {
            let enc =
                crate::text::SentenceEncoder::from_parts(tokenizer.clone(), bert.clone(), 16, 0, c.layer_norm_eps)
                    .with_pooling(pooling, false);
            let batch = crate::data::TokenBatch::from_sequences(&seqs, 16, &device).unwrap();
            let graph: Vec<f32> = enc.embed(batch).unwrap().into_data().try_to_vec().unwrap();
            let got = host.embed_in(&seqs, &mut Buffers::default(), pooling, false).unwrap();
            for (a, b) in got.iter().zip(&graph) {
                assert!((a - b).abs() < 1e-5, "{pooling:?}: {a} vs {b}");
            }
            // not normalised: the rows' norms are not all 1
            let norms: Vec<f32> = got
                .chunks(c.hidden_size)
                .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
                .collect();
            assert!(norms.iter().any(|n| (n - 1.0).abs() > 1e-2), "{norms:?}");
        }
    }

    #[test]
    fn host_forward_refuses_what_the_model_cannot_read() {
        let device = Device::flex();
        let c = tiny();
        let bert = Bert::random(&c, 1, &device).unwrap();
        let host = HostBert::from_bert(&bert, c.layer_norm_eps).unwrap();
        let long = vec![1u32; 13];
        assert!(matches!(
            host.embed(&[&long]),
            Err(LelpError::DimensionMismatch {
                expected: 12,
                got: 13,
                ..
            })
        ));
        assert!(matches!(
            host.embed(&[&[1, 50, 2]]),
            Err(LelpError::DimensionMismatch {
                expected: 50,
                got: 50,
                ..
            })
        ));
        for seqs in [&[][..], &[&[][..], &[1, 2][..]][..]] {
            assert!(matches!(host.embed(seqs), Err(LelpError::EmptyData { .. })));
        }
        let one = host.embed(&[&[1, 2]]).unwrap();
        assert!((one.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
