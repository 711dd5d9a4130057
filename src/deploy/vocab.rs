//! A static embedding table from a sentence encoder (model2vec's recipe):
//! every vocabulary token through the encoder alone, PCA, SIF weights.

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
/// `corpus` (tokens absent from it weigh 1), the whole table then scaled
/// so that the corpus's texts, mean-pooled, have a mean norm of 1. The rows
/// of `[CLS]`, `[SEP]` and `[PAD]` are zero. A text is then the mean of its tokens' rows: use
/// the table as a [`Bag`](crate::train::Bag)'s embeddings
/// ([`BagConfig::init_with_table`](crate::train::BagConfig::init_with_table)).
///
/// # Errors
/// [`LelpError::InvalidParameter`] for `dims` of 0 or above the
/// encoder's width; the encoder's and the fit's errors.
pub fn static_table(encoder: &SentenceEncoder, corpus: &[&str], dims: usize, device: &Device) -> Result<Vec<f32>> {
    let d = encoder.embedding_dim();
    if dims == 0 || dims > d {
        return Err(LelpError::InvalidParameter {
            name: "dims",
            value: dims.to_string(),
            reason: "must be in 1..=the encoder's width",
        });
    }
    let tok = encoder.tokenizer();
    let v = tok.vocab_size();
    let special = tok.encode("", 2); // [CLS] [SEP]
    let (cls, sep, pad) = (special[0], special[1], tok.pad_id());
    // 1. the vocabulary pass
    let mut rows = vec![0.0f32; v * d];
    let ids: Vec<u32> = (0..v as u32).collect();
    for chunk in ids.chunks(1024) {
        let seqs: Vec<[u32; 3]> = chunk.iter().map(|&i| [cls, i, sep]).collect();
        let refs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
        // the token's own output (position 1): the mean with [CLS] and
        // [SEP] would share two thirds of every row
        let hidden = encoder.token_states(&refs, device)?; // [B * 3, d]
        for (k, &i) in chunk.iter().enumerate() {
            let row = &hidden[(3 * k + 1) * d..(3 * k + 2) * d];
            rows[i as usize * d..(i as usize + 1) * d].copy_from_slice(row);
        }
    }
    // 2. PCA through the subspace fit: one class, centred, unrotated
    let cfg = SubspaceConfig::new(dims).with_null_space(false).with_rotation(false);
    let x = crate::util::matrix(rows.clone(), v, d, device);
    let fit = PcaFinder::new(cfg).fit_tensor(x, &vec![0; v], 1, None)?;
    let (mean, basis) = (fit.mean(0), fit.unrotated_basis(0)); // [d], [d, dims]
    // 3. SIF weights from the corpus's token counts
    let mut counts = vec![0u64; v];
    let mut total = 0u64;
    for t in corpus {
        for &id in tok.encode(t, usize::MAX).iter() {
            if id != cls && id != sep {
                counts[id as usize] += 1;
                total += 1;
            }
        }
    }
    let centred: Vec<f64> = rows
        .chunks(d)
        .flat_map(|row| row.iter().zip(mean).map(|(&x, m)| f64::from(x) - m))
        .collect();
    let mut table = crate::subspace::linalg::matmul(&centred, &basis, v, d, dims); // [V, dims]
    for i in 0..v {
        let special = i as u32 == cls || i as u32 == sep || i as u32 == pad;
        let p = if total > 0 {
            counts[i] as f64 / total as f64
        } else {
            0.0
        };
        let w = if special { 0.0 } else { SIF_A / (SIF_A + p) };
        for x in &mut table[i * dims..(i + 1) * dims] {
            *x *= w;
        }
    }
    // one scale for the whole table: the corpus's texts, mean-pooled, have
    // a mean norm of 1 (SIF weights and PCA leave them far smaller, too
    // small for a head to learn from in a few epochs)
    let mut norms = 0.0;
    let mut texts = 0usize;
    for t in corpus {
        let ids: Vec<u32> = tok.encode(t, usize::MAX);
        let mut pooled = vec![0.0f64; dims];
        for &id in &ids {
            for (p, x) in pooled
                .iter_mut()
                .zip(&table[id as usize * dims..(id as usize + 1) * dims])
            {
                *p += x;
            }
        }
        let n = pooled.iter().map(|x| x * x).sum::<f64>().sqrt() / ids.len().max(1) as f64;
        if n > 0.0 {
            norms += n;
            texts += 1;
        }
    }
    let scale = if texts > 0 && norms > 0.0 {
        texts as f64 / norms
    } else {
        1.0
    };
    Ok(table.into_iter().map(|x| (x * scale) as f32).collect())
}
