//! A static embedding table from a sentence encoder (model2vec's recipe):
//! every vocabulary token through the encoder alone, PCA, SIF weights.

use std::collections::HashMap;

use burn::prelude::*;

use crate::error::{LelpError, Result};
use crate::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder};
use crate::text::SentenceEncoder;

/// SIF's smoothing constant `a` in `a / (a + p)`.
const SIF_A: f64 = 1e-4;

/// A `[V, dims]` row-major table, one row a WordPiece token of `encoder`'s
/// vocabulary: the encoder's output at the token's position when it runs on
/// `[CLS] token [SEP]` alone, reduced to `dims`
/// principal components by the crate's own subspace fit (one class,
/// centred, no rotation, no null space), and scaled by its SIF weight
/// `1e-4 / (1e-4 + p)`, `p` the token's share of the WordPiece tokens of
/// `corpus` (tokens absent from it weigh 1; when the corpus has no tokens,
/// `p` from Zipf's law over the vocabulary's order, model2vec's fallback:
/// see [`Weighting`]), the whole table then scaled
/// so that the corpus's texts, mean-pooled over their tokens' rows, have a
/// mean norm of 1 (not scaled without texts; the same scale for bigram
/// rows). The rows
/// of `[CLS]`, `[SEP]` and `[PAD]` are zero. A text is then the mean of its tokens' rows: use
/// the table as a [`Bag`](crate::train::Bag)'s embeddings
/// ([`BagConfig::init_with_table`](crate::train::BagConfig::init_with_table)).
/// [`StaticTable`] adds rows for pairs of adjacent tokens.
///
/// # Errors
/// [`LelpError::InvalidParameter`] for `dims` of 0 or above the
/// encoder's width; the encoder's and the fit's errors.
pub fn static_table(encoder: &SentenceEncoder, corpus: &[&str], dims: usize, device: &Device) -> Result<Vec<f32>> {
    StaticTable::new(dims).build(encoder, corpus, device)
}

/// How [`StaticTable`] weighs its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Weighting {
    /// SIF, `1e-4 / (1e-4 + p)`: `p` a token's share of the corpus's
    /// tokens (a pair's of its pairs); with no tokens in the corpus, the
    /// token at row `i` of `V` gets Zipf's `p = (1 / (i + 2)) / sum_j 1 /
    /// (j + 2)`, model2vec's estimate (BERT's WordPiece ids are only
    /// roughly in frequency order).
    #[default]
    Sif,
    /// Every row weighs 1 (the projections alone).
    None,
}

/// The static student's table ([`static_table`]'s recipe), optionally with
/// `bigram_buckets` rows after the vocabulary's for pairs of adjacent
/// WordPiece tokens ([`WordPiece::encode_with_bigrams`](crate::text::WordPiece::encode_with_bigrams)
/// is the matching input). The corpus's `encoded_bigrams` most frequent
/// pairs start from the teacher: the mean of the encoder's outputs at the
/// two tokens of `[CLS] a b [SEP]`, reduced and scaled as the token rows
/// are (SIF by the pair's share of the corpus's pairs); the first pair to
/// reach a bucket keeps it, and every other bucket starts at zero (a zero
/// row leaves a text's normalised mean where the token rows put it).
///
/// # Example
/// ```no_run
/// # fn main() -> lelp::Result<()> {
/// use lelp::deploy::StaticTable;
/// use lelp::device::Device;
/// use lelp::text::{SentenceEncoder, default_minilm_dir};
/// let device = Device::default();
/// let encoder = SentenceEncoder::from_dir(default_minilm_dir(), &device)?;
/// let corpus = ["not good at all", "really good"];
/// let table = StaticTable::new(256).with_bigrams(1 << 16, 20_000).build(&encoder, &corpus, &device)?;
/// assert_eq!(table.len(), (encoder.tokenizer().vocab_size() + (1 << 16)) * 256);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaticTable {
    /// Principal components kept (the table's width).
    pub dims: usize,
    /// Hashed rows for token pairs after the vocabulary's (0: none).
    pub bigram_buckets: u32,
    /// The corpus's most frequent pairs encoded by the teacher.
    pub encoded_bigrams: usize,
    /// The rows' weights (SIF by default).
    pub weighting: Weighting,
}

impl StaticTable {
    /// `dims` wide, no bigram rows.
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            bigram_buckets: 0,
            encoded_bigrams: 0,
            weighting: Weighting::Sif,
        }
    }

    /// The rows weighed by `weighting`.
    pub fn with_weighting(mut self, weighting: Weighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// `buckets` hashed rows for token pairs, the corpus's `encoded` most
    /// frequent pairs from the teacher.
    pub fn with_bigrams(mut self, buckets: u32, encoded: usize) -> Self {
        self.bigram_buckets = buckets;
        self.encoded_bigrams = encoded;
        self
    }

    /// The `[V + bigram_buckets, dims]` row-major table.
    ///
    /// # Errors
    /// As [`static_table`].
    pub fn build(&self, encoder: &SentenceEncoder, corpus: &[&str], device: &Device) -> Result<Vec<f32>> {
        let (d, dims) = (encoder.embedding_dim(), self.dims);
        if dims == 0 || dims > d {
            return Err(LelpError::InvalidParameter {
                name: "dims",
                value: dims.to_string(),
                reason: "must be in 1..=the encoder's width",
            });
        }
        // 2^24 rows of 256 floats are 16 GiB
        if self.bigram_buckets > 1 << 24 {
            return Err(LelpError::InvalidParameter {
                name: "bigram_buckets",
                value: self.bigram_buckets.to_string(),
                reason: "must be at most 2^24",
            });
        }
        let tok = encoder.tokenizer();
        let v = tok.vocab_size();
        let special = tok.encode("", 2); // [CLS] [SEP]
        let (cls, sep, pad) = (special[0], special[1], tok.pad_id());
        // 1. the vocabulary pass: the token's own output (position 1; the
        // mean with [CLS] and [SEP] would share two thirds of every row)
        let ids: Vec<Vec<u32>> = (0..v as u32).map(|i| vec![cls, i, sep]).collect();
        let rows = inner_means(encoder, &ids, device)?;
        // 2. PCA through the subspace fit: one class, centred, unrotated
        let cfg = SubspaceConfig::new(dims).with_null_space(false).with_rotation(false);
        let x = crate::util::matrix(rows.clone(), v, d, device);
        let fit = PcaFinder::new(cfg).fit_tensor(x, &vec![0; v], 1, None)?;
        let (mean, basis) = (fit.mean(0), fit.unrotated_basis(0)); // [d], [d, dims]
        let project = |rows: &[f32], n: usize| {
            let centred: Vec<f64> = rows
                .chunks(d)
                .flat_map(|row| row.iter().zip(mean).map(|(&x, m)| f64::from(x) - m))
                .collect();
            crate::subspace::linalg::matmul(&centred, &basis, n, d, dims)
        };
        // 3. SIF weights from the corpus's token and pair counts
        let encoded: Vec<Vec<u32>> = corpus.iter().map(|t| tok.encode(t, usize::MAX)).collect();
        let with_pairs = self.bigram_buckets > 0 && self.encoded_bigrams > 0;
        let (counts, pairs) = token_counts(&encoded, v, [cls, sep, pad], with_pairs);
        let sif = |count: u64, total: u64| match self.weighting {
            Weighting::Sif => SIF_A / (SIF_A + if total > 0 { count as f64 / total as f64 } else { 0.0 }),
            Weighting::None => 1.0,
        };
        let total: u64 = counts.iter().sum();
        // no corpus tokens: Zipf's law over the vocabulary's order
        let zipf_sum: f64 = (0..v).map(|i| 1.0 / (i + 2) as f64).sum();
        let zipf = |i: usize| match self.weighting {
            Weighting::Sif => SIF_A / (SIF_A + 1.0 / (i + 2) as f64 / zipf_sum),
            Weighting::None => 1.0,
        };
        let mut table = project(&rows, v); // [V, dims]
        for i in 0..v {
            let special = i as u32 == cls || i as u32 == sep || i as u32 == pad;
            let w = match (special, total) {
                (true, _) => 0.0,
                (false, 0) => zipf(i),
                (false, _) => sif(counts[i], total),
            };
            table[i * dims..(i + 1) * dims].iter_mut().for_each(|x| *x *= w);
        }
        // 4. the pairs' rows, the most frequent from the teacher
        let b = self.bigram_buckets as usize;
        let mut bigrams = vec![0.0f64; b * dims];
        if b > 0 && !pairs.is_empty() {
            let pair_total: u64 = pairs.values().sum();
            let mut top: Vec<((u32, u32), u64)> = pairs.into_iter().collect();
            top.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            top.truncate(self.encoded_bigrams);
            let seqs: Vec<Vec<u32>> = top.iter().map(|&((a, c), _)| vec![cls, a, c, sep]).collect();
            let rows = project(&inner_means(encoder, &seqs, device)?, top.len());
            let mut taken = vec![false; b];
            for (k, &((a, c), count)) in top.iter().enumerate() {
                let slot = (tok.bigram_id(a, c, self.bigram_buckets) as usize) - v;
                if !std::mem::replace(&mut taken[slot], true) {
                    let w = sif(count, pair_total);
                    for (dst, x) in bigrams[slot * dims..(slot + 1) * dims]
                        .iter_mut()
                        .zip(&rows[k * dims..])
                    {
                        *dst = x * w;
                    }
                }
            }
        }
        table.extend(bigrams);
        // one scale for the whole table: the corpus's texts, mean-pooled, have
        // a mean norm of 1 (SIF weights and PCA leave them far smaller, too
        // small for a head to learn from in a few epochs)
        let scale = pooled_norm_scale(&table, dims, &encoded);
        Ok(table.into_iter().map(|x| (x * scale) as f32).collect())
    }
}

/// Each token's count in `texts` (`[CLS] ... [SEP]` ids, a vocabulary of
/// `v`) and, `with_pairs`, each pair of adjacent tokens'; the `special`
/// ids written in a text are not counted, nor their pairs.
fn token_counts(
    texts: &[Vec<u32>],
    v: usize,
    special: [u32; 3],
    with_pairs: bool,
) -> (Vec<u64>, HashMap<(u32, u32), u64>) {
    let mut counts = vec![0u64; v];
    let mut pairs: HashMap<(u32, u32), u64> = HashMap::new();
    let plain = |id: u32| !special.contains(&id);
    for ids in texts {
        let inner = &ids[1..ids.len() - 1];
        for &id in inner.iter().filter(|&&id| plain(id)) {
            counts[id as usize] += 1;
        }
        if with_pairs {
            for w in inner.windows(2).filter(|w| plain(w[0]) && plain(w[1])) {
                *pairs.entry((w[0], w[1])).or_default() += 1;
            }
        }
    }
    (counts, pairs)
}

/// The encoder's outputs at the inner tokens of each sequence (all of one
/// length, `[CLS] ... [SEP]`), averaged: `[N, d]`.
fn inner_means(encoder: &SentenceEncoder, seqs: &[Vec<u32>], device: &Device) -> Result<Vec<f32>> {
    let d = encoder.embedding_dim();
    let mut out = vec![0.0f32; seqs.len() * d];
    for (c, chunk) in seqs.chunks(1024).enumerate() {
        let len = chunk[0].len();
        let refs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
        let hidden = encoder.token_states(&refs, device)?; // [B * len, d]
        for k in 0..chunk.len() {
            let row = &mut out[(c * 1024 + k) * d..(c * 1024 + k + 1) * d];
            for p in 1..len - 1 {
                for (o, x) in row.iter_mut().zip(&hidden[(len * k + p) * d..(len * k + p + 1) * d]) {
                    *o += x / (len - 2) as f32;
                }
            }
        }
    }
    Ok(out)
}

/// The factor that gives the texts (`ids`, their bag mean over `table`'s
/// rows) a mean norm of 1; 1 without texts.
fn pooled_norm_scale(table: &[f64], dims: usize, texts: &[Vec<u32>]) -> f64 {
    let mut norms = 0.0;
    let mut n = 0usize;
    for ids in texts {
        let mut pooled = vec![0.0f64; dims];
        for &id in ids {
            for (p, x) in pooled
                .iter_mut()
                .zip(&table[id as usize * dims..(id as usize + 1) * dims])
            {
                *p += x;
            }
        }
        let norm = pooled.iter().map(|x| x * x).sum::<f64>().sqrt() / ids.len().max(1) as f64;
        if norm > 0.0 {
            norms += norm;
            n += 1;
        }
    }
    if n > 0 && norms > 0.0 { n as f64 / norms } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Bert;

    fn tiny_encoder(device: &Device) -> SentenceEncoder {
        let c = crate::text::tiny::config();
        let bert = Bert::random_with_std(&c, 11, 0.4, device).unwrap();
        SentenceEncoder::from_parts(crate::text::tiny::wordpiece(), bert, 12, 0, c.layer_norm_eps)
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// With every principal component kept the projection is a rotation,
    /// so the table's inner products are the encoder's, centred, times the
    /// SIF weights and one scale: a pair's row is the mean of the outputs
    /// at its two tokens, weighted by the pair's share of the pairs; the
    /// token rows are `static_table`'s; unencoded buckets are zero.
    #[test]
    fn bigram_rows_are_the_teachers_pairs_in_the_tokens_space() {
        let device = Device::flex();
        let enc = tiny_encoder(&device);
        let (v, d, b) = (50usize, 16usize, 64u32);
        let corpus = ["w5 w6 w7", "w5 w6", "w8 w9 w5 w6", "w8 w9"];
        let table = StaticTable::new(d)
            .with_bigrams(b, 2)
            .build(&enc, &corpus, &device)
            .unwrap();
        assert_eq!(table.len(), (v + b as usize) * d);
        let plain = static_table(&enc, &corpus, d, &device).unwrap();
        assert_eq!(table[..v * d], plain[..], "the token rows are static_table's");
        // the encoder's own outputs, centred on the vocabulary's mean
        let seqs: Vec<Vec<u32>> = (0..v as u32).map(|i| vec![2, i, 3]).collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let hidden = enc.token_states(&refs, &device).unwrap();
        let h: Vec<Vec<f64>> = (0..v)
            .map(|i| {
                hidden[(3 * i + 1) * d..(3 * i + 2) * d]
                    .iter()
                    .map(|&x| f64::from(x))
                    .collect()
            })
            .collect();
        let mu: Vec<f64> = (0..d).map(|j| h.iter().map(|r| r[j]).sum::<f64>() / v as f64).collect();
        let centre = |r: &[f64]| r.iter().zip(&mu).map(|(x, m)| x - m).collect::<Vec<f64>>();
        let pair = |a: u32, c: u32| {
            let s = enc.token_states(&[&[2, a, c, 3]], &device).unwrap();
            centre(
                &(0..d)
                    .map(|j| (f64::from(s[d + j]) + f64::from(s[2 * d + j])) / 2.0)
                    .collect::<Vec<_>>(),
            )
        };
        let row = |i: usize| {
            table[i * d..(i + 1) * d]
                .iter()
                .map(|&x| f64::from(x))
                .collect::<Vec<f64>>()
        };
        // SIF weights by hand: 11 tokens, w5 and w6 three times each;
        // 7 pairs, (w5, w6) three times, (w8, w9) twice
        let sif = |count: f64, total: f64| 1e-4 / (1e-4 + count / total);
        let (w5, w7) = (sif(3.0, 11.0), sif(1.0, 11.0));
        let (p56, p89) = (sif(3.0, 7.0), sif(2.0, 7.0));
        // the scale, from one token row's norm
        let c5 = centre(&h[5]);
        let scale = (dot(&row(5), &row(5)) / dot(&c5, &c5)).sqrt() / w5;
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-4 * want.abs().max(1e-3);
        let tok = enc.tokenizer();
        let (s56, s89) = (tok.bigram_id(5, 6, b) as usize, tok.bigram_id(8, 9, b) as usize);
        assert_ne!(s56, s89, "the test's two pairs share a bucket: pick others");
        let (c56, c89, c7) = (pair(5, 6), pair(8, 9), centre(&h[7]));
        for (got, want) in [
            (dot(&row(s56), &row(7)), scale * scale * p56 * w7 * dot(&c56, &c7)),
            (dot(&row(s56), &row(s56)), scale * scale * p56 * p56 * dot(&c56, &c56)),
            (dot(&row(s89), &row(s56)), scale * scale * p89 * p56 * dot(&c89, &c56)),
            (dot(&row(7), &row(5)), scale * scale * w7 * w5 * dot(&c7, &c5)),
        ] {
            assert!(close(got, want), "{got} vs {want}");
        }
        // the other buckets start at zero ((w6, w7) was not among the two encoded)
        let nonzero = (v..v + b as usize)
            .filter(|&i| row(i).iter().any(|&x| x != 0.0))
            .count();
        assert_eq!(nonzero, 2);
    }

    /// Without a corpus the rows take Zipf's weights over the vocabulary's
    /// order (model2vec's fallback) and no scale; `Weighting::None` leaves
    /// the projections alone. With every component kept each row's norm
    /// is its centred output's times its weight.
    #[test]
    fn without_a_corpus_the_weights_follow_zipf() {
        let device = Device::flex();
        let enc = tiny_encoder(&device);
        let (v, d) = (50usize, 16usize);
        let seqs: Vec<Vec<u32>> = (0..v as u32).map(|i| vec![2, i, 3]).collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let hidden = enc.token_states(&refs, &device).unwrap();
        let h = |i: usize| {
            hidden[(3 * i + 1) * d..(3 * i + 2) * d]
                .iter()
                .map(|&x| f64::from(x))
                .collect::<Vec<f64>>()
        };
        let mu: Vec<f64> = (0..d)
            .map(|j| (0..v).map(|i| h(i)[j]).sum::<f64>() / v as f64)
            .collect();
        let norm = |r: &[f64]| r.iter().map(|x| x * x).sum::<f64>().sqrt();
        let centred = |i: usize| norm(&h(i).iter().zip(&mu).map(|(x, m)| x - m).collect::<Vec<_>>());
        let zipf = StaticTable::new(d).build(&enc, &[], &device).unwrap();
        let flat = StaticTable::new(d)
            .with_weighting(Weighting::None)
            .build(&enc, &[], &device)
            .unwrap();
        let harmonic: f64 = (0..v).map(|i| 1.0 / (i + 2) as f64).sum();
        for i in 4..v {
            let row = |t: &[f32]| norm(&t[i * d..(i + 1) * d].iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
            let want = 1e-4 / (1e-4 + 1.0 / (i + 2) as f64 / harmonic);
            let (got, flat) = (row(&zipf) / centred(i), row(&flat) / centred(i));
            assert!((got - want).abs() < 1e-4 * want, "row {i}: {got} vs {want}");
            assert!((flat - 1.0).abs() < 1e-4, "row {i}: {flat}");
        }
        // the special tokens' rows are zero either way
        for t in [&zipf, &flat] {
            assert!(t[..d].iter().chain(&t[2 * d..4 * d]).all(|&x| x == 0.0));
        }
    }
}
