//! Transfer-set augmentation: new texts made from a transfer set's own, for
//! the teacher to label (Tang et al. 2019, "Distilling Task-Specific
//! Knowledge from BERT into Simple Neural Networks"; TinyBERT's
//! embedding-space word swaps).

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{LelpError, Result};
use crate::text::WordPiece;

/// Words that negate what follows; never dropped, swapped or swapped in.
/// Compared lowercased, with surrounding punctuation removed; any word
/// ending in `n't` (or `nt` after `do`, `does`, ... as typed in tweets) is
/// one too ([`is_negation`]).
pub const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor", "cannot", "without", "hardly",
    "barely", "scarcely", "cant", "dont", "doesnt", "didnt", "wont", "wouldnt", "isnt", "arent", "wasnt", "werent",
    "hasnt", "havent", "hadnt", "shouldnt", "couldnt", "mustnt", "aint", "nope", "nah",
];

/// Whether `word` (any case, surrounding punctuation allowed) is a negation.
///
/// ```
/// use lelp::text::is_negation;
/// assert!(is_negation("Not") && is_negation("don't,") && is_negation("never!"));
/// assert!(!is_negation("note") && !is_negation("good"));
/// ```
pub fn is_negation(word: &str) -> bool {
    let core = core_of(word).to_lowercase();
    core.ends_with("n't") || core.ends_with("n’t") || NEGATIONS.contains(&core.as_str())
}

/// The word without its leading and trailing punctuation.
fn core_of(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric())
}

/// The settings of an [`Augmenter`]; the defaults are Tang et al.'s
/// probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// New texts made per text (fewer when a short text has no more
    /// distinct ones).
    pub copies: usize,
    /// Probability that a word is dropped (0.1).
    pub drop: f64,
    /// Probability that a word is swapped for a neighbour (0.1; only words
    /// that have [`Neighbours`]).
    pub swap: f64,
    /// Probability that a copy is cut to an n-gram (0.25).
    pub ngram: f64,
    /// The longest n-gram kept (5).
    pub max_ngram: usize,
    /// The seed; the copies of a text depend only on it, the text and its
    /// position.
    pub seed: u64,
}

impl AugmentConfig {
    /// `copies` new texts per text, Tang et al.'s probabilities.
    pub fn new(copies: usize) -> Self {
        Self {
            copies,
            drop: 0.1,
            swap: 0.1,
            ngram: 0.25,
            max_ngram: 5,
            seed: 0,
        }
    }
}

crate::util::setters!(AugmentConfig {
    "Sets the drop probability." with_drop => drop: f64,
    "Sets the swap probability." with_swap => swap: f64,
    "Sets the n-gram probability." with_ngram => ngram: f64,
    "Sets the longest n-gram." with_max_ngram => max_ngram: usize,
    "Sets the seed." with_seed => seed: u64,
});

/// A text made by an [`Augmenter`]: `source` is the index of the text it
/// was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Augmented {
    /// Index of the source text in the slice given to [`Augmenter::augment`].
    pub source: usize,
    /// The new text (words joined by single spaces).
    pub text: String,
}

/// Each word's nearest neighbours in a static embedding table, for swaps.
#[derive(Debug, Clone, Default)]
pub struct Neighbours {
    map: HashMap<String, Vec<String>>,
}

impl Neighbours {
    /// For each distinct word of `words` (lowercased, punctuation trimmed)
    /// that is a swappable token of `tokenizer`'s vocabulary, its `k`
    /// nearest swappable tokens by cosine similarity of `table`'s rows
    /// (`[V, dims]` row-major, a row per token id, e.g. a
    /// [`static_table`](crate::deploy::static_table)), nearest first.
    /// Swappable: a whole-word token (no continuation prefix) of two or
    /// more lowercase letters, not a negation, whose row is not zero.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `table` is not
    /// `vocab_size * dims` values; [`LelpError::InvalidParameter`] for
    /// `dims` or `k` of 0.
    pub fn from_table<'a>(
        tokenizer: &WordPiece,
        table: &[f32],
        dims: usize,
        words: impl IntoIterator<Item = &'a str>,
        k: usize,
    ) -> Result<Self> {
        if dims == 0 || k == 0 {
            return Err(LelpError::InvalidParameter {
                name: "Neighbours",
                value: format!("dims {dims}, k {k}"),
                reason: "dims and k must be > 0",
            });
        }
        let tokens = tokenizer.tokens();
        if table.len() != tokens.len() * dims {
            return Err(LelpError::DimensionMismatch {
                what: "static table vs vocabulary size * dims",
                expected: tokens.len() * dims,
                got: table.len(),
            });
        }
        // the candidates, their rows normalised
        let mut cand: Vec<usize> = Vec::new();
        let mut unit: Vec<f32> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (id, t) in tokens.iter().enumerate() {
            let row = &table[id * dims..(id + 1) * dims];
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            let swappable = t.len() >= 2 && t.bytes().all(|b| b.is_ascii_lowercase()) && !is_negation(t);
            if swappable && norm > 0.0 && norm.is_finite() {
                index.insert(t.as_str(), cand.len());
                cand.push(id);
                unit.extend(row.iter().map(|x| x / norm));
            }
        }
        let mut queries: Vec<usize> = words
            .into_iter()
            .filter_map(|w| index.get(core_of(w).to_lowercase().as_str()).copied())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        queries.sort_unstable();
        let found: Vec<(String, Vec<String>)> = queries
            .par_iter()
            .map(|&q| {
                let qrow = &unit[q * dims..(q + 1) * dims];
                // (similarity, candidate), best first, at most k
                let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
                for (c, crow) in unit.chunks_exact(dims).enumerate() {
                    if c == q {
                        continue;
                    }
                    let s: f32 = qrow.iter().zip(crow).map(|(a, b)| a * b).sum();
                    if best.len() < k || s > best[best.len() - 1].0 {
                        let at = best.partition_point(|&(b, _)| b >= s);
                        best.insert(at, (s, c));
                        best.truncate(k);
                    }
                }
                let names = best.iter().map(|&(_, c)| tokens[cand[c]].clone()).collect();
                (tokens[cand[q]].clone(), names)
            })
            .collect();
        Ok(Self {
            map: found.into_iter().collect(),
        })
    }

    /// A word's neighbours, nearest first (`word` lowercased and trimmed of
    /// punctuation before the lookup).
    pub fn of(&self, word: &str) -> Option<&[String]> {
        self.map.get(&core_of(word).to_lowercase()).map(Vec::as_slice)
    }

    /// Words with neighbours.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no word has neighbours.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Makes new texts from a transfer set's own, for the teacher to label.
///
/// Each copy of a text is made word by word, then cut:
/// - a word is **dropped** with probability [`AugmentConfig::drop`] (Tang
///   et al. replace it with `[MASK]`; the crate's students and tokenizer
///   have no mask token in running text, so the word goes);
/// - else it is **swapped** with probability [`AugmentConfig::swap`] for one
///   of its nearest neighbours in embedding space ([`Neighbours`], from a
///   static table of the teacher's: [`static_table`](crate::deploy::static_table)),
///   its surrounding punctuation kept;
/// - then, with probability [`AugmentConfig::ngram`], the copy is cut to a
///   window of 1 to [`AugmentConfig::max_ngram`] consecutive words.
///
/// Negations ([`is_negation`]) are never dropped, swapped or swapped in, and
/// a window that would begin just after one begins with it: "not good"
/// never becomes "good". A copy equal to its source or to an earlier copy
/// of it is drawn again (up to ten draws per copy), so a short text may
/// yield fewer than `copies` new ones, never more.
///
/// The new texts carry no labels: the teacher labels them (its soft
/// outputs are the distillation targets; methods that need a hard label
/// take the teacher's argmax). A swap may change the meaning ("good" to
/// "bad" are neighbours in most embeddings), which is why the source's
/// label is not reused.
///
/// # Example
/// ```
/// use lelp::text::{AugmentConfig, Augmenter};
/// let aug = Augmenter::new(AugmentConfig::new(3).with_seed(7))?;
/// let texts = ["the film was not good at all", "great acting, weak plot"];
/// let new = aug.augment(&texts);
/// assert!(new.len() <= 6);
/// for a in &new {
///     assert!(!a.text.is_empty() && a.text != texts[a.source]);
///     // a negation is never cut from the word after it
///     assert!(!a.text.starts_with("good"));
/// }
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Augmenter {
    config: AugmentConfig,
    neighbours: Neighbours,
}

impl Augmenter {
    /// An augmenter without neighbours (words are dropped and copies cut,
    /// never swapped); add them with [`Augmenter::with_neighbours`].
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] for a probability outside `[0, 1]`,
    /// `drop + swap > 1`, or `max_ngram` of 0.
    pub fn new(config: AugmentConfig) -> Result<Self> {
        let probabilities = [config.drop, config.swap, config.ngram];
        if probabilities.iter().any(|p| !(0.0..=1.0).contains(p)) || config.drop + config.swap > 1.0 {
            return Err(LelpError::InvalidParameter {
                name: "AugmentConfig",
                value: format!("drop {}, swap {}, ngram {}", config.drop, config.swap, config.ngram),
                reason: "probabilities must be in [0, 1] and drop + swap at most 1",
            });
        }
        if config.max_ngram == 0 {
            return Err(LelpError::InvalidParameter {
                name: "max_ngram",
                value: "0".into(),
                reason: "must be > 0",
            });
        }
        Ok(Self {
            config,
            neighbours: Neighbours::default(),
        })
    }

    /// Swaps words for these neighbours.
    pub fn with_neighbours(mut self, neighbours: Neighbours) -> Self {
        self.neighbours = neighbours;
        self
    }

    /// The settings.
    pub fn config(&self) -> &AugmentConfig {
        &self.config
    }

    /// Up to `copies` new texts per text, in source order (a text's copies
    /// together); the same texts and settings give the same result.
    pub fn augment(&self, texts: &[&str]) -> Vec<Augmented> {
        let per_text: Vec<Vec<Augmented>> = texts
            .par_iter()
            .enumerate()
            .map(|(source, text)| self.copies_of(source, text))
            .collect();
        per_text.into_iter().flatten().collect()
    }

    fn copies_of(&self, source: usize, text: &str) -> Vec<Augmented> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let original = words.join(" ");
        let mut seen: HashSet<String> = HashSet::from([original]);
        let mut out = Vec::new();
        if words.is_empty() {
            return out;
        }
        // one stream per text: the copies of a text do not depend on the
        // others (nor on how rayon splits the work)
        let mut rng = StdRng::seed_from_u64(self.config.seed ^ (source as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // a copy equal to the source or to an earlier copy is drawn again,
        // up to ten draws per copy asked for
        for _ in 0..self.config.copies * 10 {
            if out.len() == self.config.copies {
                break;
            }
            let copy = self.one_copy(&words, &mut rng);
            if !copy.is_empty() && seen.insert(copy.clone()) {
                out.push(Augmented { source, text: copy });
            }
        }
        out
    }

    fn one_copy(&self, words: &[&str], rng: &mut StdRng) -> String {
        let c = &self.config;
        let mut kept: Vec<String> = Vec::with_capacity(words.len());
        for &w in words {
            let r: f64 = rng.random();
            if is_negation(w) {
                kept.push(w.to_string());
            } else if r < c.drop {
                continue;
            } else if r < c.drop + c.swap
                && let Some(n) = self.neighbours.of(w)
            {
                let pick = &n[rng.random_range(0..n.len())];
                kept.push(w.replacen(core_of(w), pick, 1));
            } else {
                kept.push(w.to_string());
            }
        }
        if !kept.is_empty() && rng.random::<f64>() < c.ngram {
            let n = rng.random_range(1..=c.max_ngram.min(kept.len()));
            let mut start = rng.random_range(0..=kept.len() - n);
            let end = start + n;
            // never cut a negation from the words it negates: the window
            // then begins with it (one word longer)
            while start > 0 && is_negation(&kept[start - 1]) {
                start -= 1;
            }
            kept = kept[start..end].to_vec();
        }
        kept.join(" ")
    }
}
