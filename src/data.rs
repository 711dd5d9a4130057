//! The data model: labelled rows of dense features or token sequences,
//! and the device-side [`Inputs`] a batch of them becomes.
//!
//! A [`Dataset`] holds `N` rows, each with a class label (`< C`) and an
//! optional fine label (the true subclass, for the oracle). Its features
//! are either dense `f32` vectors ([`Features::Dense`], images flattened
//! row-major) or variable-length token-id sequences
//! ([`Features::Tokens`], for text students and teachers). A batch of rows
//! is handed to students and teachers as [`Inputs`]: a float tensor, or
//! integer ids with an attention mask, never ids disguised as floats.

use std::path::Path;

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{LelpError, Result};
use crate::io::npy::NpyArray;
use crate::util;

mod inputs;
pub use inputs::{InputKind, Inputs, TokenBatch};

#[cfg(feature = "digits")]
static UCI_X: &[u8] = include_bytes!("../data/uci-digits/X_u8.npy");
#[cfg(feature = "digits")]
static UCI_Y: &[u8] = include_bytes!("../data/uci-digits/y_u8.npy");

/// The features of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Features {
    /// Dense rows: `values` is `[N, width]` row-major.
    Dense {
        /// Row-major values.
        values: Vec<f32>,
        /// Features per row `F`.
        width: usize,
    },
    /// Token-id sequences, one per row (any lengths >= 1).
    Tokens {
        /// The sequences.
        sequences: Vec<Vec<u32>>,
    },
}

/// fastText-style features: lowercased word unigrams and (optionally)
/// bigrams, each hashed (FNV-1a) into one of `buckets` ids. Words are runs
/// of alphanumeric characters. A text without words gets the single id 0.
///
/// # Example
/// ```
/// use lelp::data::HashedNgrams;
/// let h = HashedNgrams::new(1 << 18);
/// let a = h.encode("Free money, FREE money!");
/// assert_eq!(a.len(), 4 + 3); // 4 words, 3 bigrams
/// assert_eq!(a[0], a[2]); // "free" twice
/// assert!(a.iter().all(|&id| id < 1 << 18));
/// assert_eq!(h.encode("..."), vec![0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedNgrams {
    /// Number of hash buckets (ids are `< buckets`).
    pub buckets: u32,
    /// Add word bigrams (on by default).
    pub bigrams: bool,
    /// At most this many words per text (the rest is ignored; default 400).
    pub max_words: usize,
}

impl HashedNgrams {
    /// Unigrams and bigrams into `buckets` ids, 400 words at most.
    pub fn new(buckets: u32) -> Self {
        Self {
            buckets: buckets.max(1),
            bigrams: true,
            max_words: 400,
        }
    }

    /// The ids of `text`'s n-grams, in order (unigrams, then bigrams).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(self.max_words)
            .map(str::to_lowercase)
            .collect();
        if words.is_empty() {
            return vec![0];
        }
        let hash = |parts: &[&str]| {
            let mut h = util::Fnv64::default();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    h.update(b" ");
                }
                h.update(p.as_bytes());
            }
            (h.finish() % self.buckets as u64) as u32
        };
        let mut ids: Vec<u32> = words.iter().map(|w| hash(&[w])).collect();
        if self.bigrams {
            ids.extend(words.windows(2).map(|p| hash(&[&p[0], &p[1]])));
        }
        ids
    }
}

/// An in-memory classification data set.
///
/// # Shapes
/// - features: `[N, F]` dense rows, or `N` token sequences
/// - `labels`: `[N]`, each `< num_classes`
/// - `fine_labels`: `[N]` (optional; e.g. the digit behind a parity label)
///
/// # Example
/// ```
/// use lelp::data::Dataset;
/// // four rows of two features, two classes
/// let data = Dataset::new(vec![0.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.9, 0.1], 2, vec![0, 1, 0, 1], 2)?;
/// assert_eq!((data.len(), data.num_features(), data.num_classes()), (4, 2, 2));
/// // token sequences work the same way
/// let text = Dataset::from_tokens(vec![vec![101, 7592, 102], vec![101, 102]], vec![1, 0], 2)?;
/// assert_eq!(text.len(), 2);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    features: Features,
    labels: Vec<usize>,
    fine_labels: Option<Vec<usize>>,
    /// Multi-label data: each row's set of labels (sorted, distinct).
    label_sets: Option<Vec<Vec<usize>>>,
    num_classes: usize,
    image_shape: Option<[usize; 2]>,
}

impl Dataset {
    /// Builds a data set of dense rows, checking sizes, labels and values.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`], [`LelpError::DimensionMismatch`],
    /// [`LelpError::LabelOutOfRange`], [`LelpError::NonFinite`].
    pub fn new(features: Vec<f32>, num_features: usize, labels: Vec<usize>, num_classes: usize) -> Result<Self> {
        if labels.is_empty() || num_features == 0 {
            return Err(LelpError::EmptyData { what: "data set" });
        }
        if features.len() != labels.len() * num_features {
            return Err(LelpError::DimensionMismatch {
                what: "feature values vs rows x features",
                expected: labels.len() * num_features,
                got: features.len(),
            });
        }
        util::check_labels(&labels, num_classes, 0)?;
        util::check_finite_host(&features, num_features, "features")?;
        Ok(Self {
            features: Features::Dense {
                values: features,
                width: num_features,
            },
            labels,
            fine_labels: None,
            label_sets: None,
            num_classes,
            image_shape: None,
        })
    }

    /// Builds a data set of token-id sequences (one per row, none empty).
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for no rows or an empty sequence,
    /// [`LelpError::DimensionMismatch`] when sequences and labels differ in
    /// number, [`LelpError::LabelOutOfRange`].
    pub fn from_tokens(sequences: Vec<Vec<u32>>, labels: Vec<usize>, num_classes: usize) -> Result<Self> {
        if labels.is_empty() {
            return Err(LelpError::EmptyData { what: "data set" });
        }
        if sequences.len() != labels.len() {
            return Err(LelpError::DimensionMismatch {
                what: "token sequences vs labels",
                expected: labels.len(),
                got: sequences.len(),
            });
        }
        if sequences.iter().any(|s| s.is_empty()) {
            return Err(LelpError::EmptyData {
                what: "a token sequence",
            });
        }
        util::check_labels(&labels, num_classes, 0)?;
        Ok(Self {
            features: Features::Tokens { sequences },
            labels,
            fine_labels: None,
            label_sets: None,
            num_classes,
            image_shape: None,
        })
    }

    /// Attaches fine labels (one per row).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the length differs.
    pub fn with_fine_labels(mut self, fine: Vec<usize>) -> Result<Self> {
        if fine.len() != self.labels.len() {
            return Err(LelpError::DimensionMismatch {
                what: "fine labels vs rows",
                expected: self.labels.len(),
                got: fine.len(),
            });
        }
        self.fine_labels = Some(fine);
        Ok(self)
    }

    /// Makes the data multi-label: each row's set of labels (any number,
    /// none included; repeats are merged). [`Dataset::labels`] then holds
    /// each row's first label (0 for a row with none), used only where one
    /// label a row is needed (stratified splits); training and evaluation
    /// read the sets ([`Dataset::target_matrix`]). Methods that need one
    /// class a row refuse such data ([`crate::train::Method::prepare`]).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the number of sets differs
    /// from the rows; [`LelpError::LabelOutOfRange`] for a label `>= C`.
    ///
    /// # Example
    /// ```
    /// use burn::prelude::*;
    /// use lelp::data::Dataset;
    /// let data = Dataset::new(vec![0.0, 1.0, 1.0, 0.0], 2, vec![0, 0], 3)?
    ///     .with_label_sets(vec![vec![0, 2], vec![]])?;
    /// assert!(data.is_multi_label());
    /// let y: Vec<f32> = data.target_matrix(&Device::default()).into_data().try_to_vec().unwrap();
    /// assert_eq!(y, vec![1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn with_label_sets(mut self, sets: Vec<Vec<usize>>) -> Result<Self> {
        if sets.len() != self.labels.len() {
            return Err(LelpError::DimensionMismatch {
                what: "label sets vs rows",
                expected: self.labels.len(),
                got: sets.len(),
            });
        }
        let mut clean = Vec::with_capacity(sets.len());
        for (row, mut set) in sets.into_iter().enumerate() {
            if let Some(&label) = set.iter().find(|&&l| l >= self.num_classes) {
                return Err(LelpError::LabelOutOfRange {
                    label,
                    row,
                    num_classes: self.num_classes,
                });
            }
            set.sort_unstable();
            set.dedup();
            clean.push(set);
        }
        self.labels = clean.iter().map(|s| s.first().copied().unwrap_or(0)).collect();
        self.label_sets = Some(clean);
        Ok(self)
    }

    /// Whether each row carries a set of labels ([`Dataset::with_label_sets`]).
    pub fn is_multi_label(&self) -> bool {
        self.label_sets.is_some()
    }

    /// Each row's set of labels (multi-label data only).
    pub fn label_sets(&self) -> Option<&[Vec<usize>]> {
        self.label_sets.as_deref()
    }

    /// The targets as a `[N, C]` matrix: one-hot rows, or for multi-label
    /// data a 1 for each of the row's labels.
    pub fn target_matrix(&self, device: &Device) -> Tensor<2> {
        let c = self.num_classes;
        match &self.label_sets {
            None => util::one_hot(&self.labels, c, device),
            Some(sets) => {
                let mut y = vec![0.0f32; sets.len() * c];
                for (r, set) in sets.iter().enumerate() {
                    for &l in set {
                        y[r * c + l] = 1.0;
                    }
                }
                util::matrix(y, sets.len(), c, device)
            }
        }
    }

    /// Declares the features to be `H x W` single-channel images.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `H * W != F`.
    pub fn with_image_shape(mut self, h: usize, w: usize) -> Result<Self> {
        if self.input_kind() != InputKind::Dense || h * w != self.num_features() {
            return Err(LelpError::DimensionMismatch {
                what: "image height x width vs features",
                expected: self.num_features(),
                got: h * w,
            });
        }
        self.image_shape = Some([h, w]);
        Ok(self)
    }

    /// Loads features (`[N, ...]`, u8 or float; scaled by `scale`) and class
    /// labels (`[N]`, integers) from `.npy` files. `num_classes` defaults to
    /// `max label + 1`.
    ///
    /// # Errors
    /// File errors and those of [`Dataset::new`].
    pub fn from_npy(
        features: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        scale: f32,
        num_classes: Option<usize>,
    ) -> Result<Self> {
        let x = NpyArray::read(features)?;
        let y = NpyArray::read(labels)?.to_labels()?;
        Self::from_arrays(&x, y, scale, num_classes)
    }

    fn from_arrays(x: &NpyArray, y: Vec<usize>, scale: f32, num_classes: Option<usize>) -> Result<Self> {
        let [n, f] = x.matrix_shape()?;
        if n != y.len() {
            return Err(LelpError::DimensionMismatch {
                what: "feature rows vs labels",
                expected: n,
                got: y.len(),
            });
        }
        let c = num_classes.unwrap_or_else(|| y.iter().max().map_or(0, |m| m + 1));
        let feats = x.to_f32().into_iter().map(|v| v * scale).collect();
        let mut ds = Self::new(feats, f, y, c)?;
        if x.shape.len() == 3 {
            ds.image_shape = Some([x.shape[1], x.shape[2]]);
        }
        Ok(ds)
    }

    /// The 1,797 UCI optical digits embedded in the crate (feature
    /// `digits`, on by default; 8x8, scaled to
    /// `[0, 1]`), 10 classes; fine labels are the digits too. See
    /// `data/uci-digits/README.md` for the attribution (CC BY 4.0).
    #[cfg(feature = "digits")]
    pub fn uci_digits() -> Self {
        let x = NpyArray::from_bytes(UCI_X, "embedded X_u8.npy").expect("embedded file is valid");
        let y = NpyArray::from_bytes(UCI_Y, "embedded y_u8.npy")
            .and_then(|a| a.to_labels())
            .expect("embedded file is valid");
        let ds = Self::from_arrays(&x, y.clone(), 1.0 / 16.0, Some(10)).expect("embedded data is valid");
        ds.with_fine_labels(y)
            .and_then(|d| d.with_image_shape(8, 8))
            .expect("embedded data is valid")
    }

    /// Relabels by `map[label]` (e.g. digit parity `[0,1,0,1,...]`), keeping
    /// the old labels as fine labels when none were set.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `map` does not cover every
    /// class; [`LelpError::LabelOutOfRange`] when a target is `>= new_classes`.
    pub fn relabel(mut self, map: &[usize], new_classes: usize) -> Result<Self> {
        if map.len() < self.num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "relabel map vs classes",
                expected: self.num_classes,
                got: map.len(),
            });
        }
        util::check_labels(map, new_classes, 0)?;
        if self.fine_labels.is_none() {
            self.fine_labels = Some(self.labels.clone());
        }
        self.labels = self.labels.iter().map(|&l| map[l]).collect();
        if let Some(sets) = self.label_sets.as_mut() {
            for set in sets {
                set.iter_mut().for_each(|l| *l = map[*l]);
                set.sort_unstable();
                set.dedup();
            }
        }
        self.num_classes = new_classes;
        Ok(self)
    }

    /// The same rows with these class labels (a student scored against
    /// its teacher's classes rather than the gold ones).
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when `labels` is not a label a
    /// row; [`LelpError::LabelOutOfRange`] for a label `>= num_classes`.
    #[cfg(feature = "text")]
    pub(crate) fn with_labels(mut self, labels: Vec<usize>) -> Result<Self> {
        if labels.len() != self.labels.len() {
            return Err(LelpError::DimensionMismatch {
                what: "labels vs rows",
                expected: self.labels.len(),
                got: labels.len(),
            });
        }
        util::check_labels(&labels, self.num_classes, 0)?;
        self.labels = labels;
        Ok(self)
    }

    /// Digit parity: even digits are class 0, odd digits class 1.
    ///
    /// # Errors
    /// As [`Dataset::relabel`].
    pub fn parity(self) -> Result<Self> {
        let map: Vec<usize> = (0..self.num_classes).map(|c| c % 2).collect();
        self.relabel(&map, 2)
    }

    /// Rows `N`.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Features per row `F` (dense data), or the longest sequence
    /// (token data).
    pub fn num_features(&self) -> usize {
        match &self.features {
            Features::Dense { width, .. } => *width,
            Features::Tokens { sequences } => sequences.iter().map(Vec::len).max().unwrap_or(0),
        }
    }
    /// Classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
    /// Class labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }
    /// Fine labels, when present.
    pub fn fine_labels(&self) -> Option<&[usize]> {
        self.fine_labels.as_deref()
    }
    /// Image shape `[H, W]`, when declared.
    pub fn image_shape(&self) -> Option<[usize; 2]> {
        self.image_shape
    }
    /// The features.
    pub fn features(&self) -> &Features {
        &self.features
    }
    /// The kind of inputs this data set produces.
    pub fn input_kind(&self) -> InputKind {
        match self.features {
            Features::Dense { .. } => InputKind::Dense,
            Features::Tokens { .. } => InputKind::Tokens,
        }
    }

    /// All dense features as a `[N, F]` tensor on `device`.
    ///
    /// # Errors
    /// [`LelpError::InputKind`] for token data.
    pub fn features_tensor(&self, device: &Device) -> Result<Tensor<2>> {
        match &self.features {
            Features::Dense { values, width } => Ok(util::matrix(values.clone(), self.len(), *width, device)),
            Features::Tokens { .. } => Err(LelpError::InputKind {
                expected: InputKind::Dense,
                got: InputKind::Tokens,
            }),
        }
    }

    /// The rows `rows` (in that order) as a batch of [`Inputs`] on `device`.
    ///
    /// # Errors
    /// [`LelpError::EmptyData`] for no rows, [`LelpError::LabelOutOfRange`]
    /// for a row index `>= N`.
    pub fn inputs(&self, rows: &[usize], device: &Device) -> Result<Inputs> {
        if rows.is_empty() {
            return Err(LelpError::EmptyData { what: "batch rows" });
        }
        if let Some((row, &i)) = rows.iter().enumerate().find(|(_, i)| **i >= self.len()) {
            return Err(LelpError::LabelOutOfRange {
                label: i,
                row,
                num_classes: self.len(),
            });
        }
        Ok(match &self.features {
            Features::Dense { values, width } => {
                let mut v = Vec::with_capacity(rows.len() * width);
                for &i in rows {
                    v.extend_from_slice(&values[i * width..(i + 1) * width]);
                }
                Inputs::Dense(util::matrix(v, rows.len(), *width, device))
            }
            Features::Tokens { sequences } => {
                let seqs: Vec<&[u32]> = rows.iter().map(|&i| sequences[i].as_slice()).collect();
                Inputs::Tokens(TokenBatch::from_sequences(&seqs, usize::MAX, device)?)
            }
        })
    }

    /// The rows `idx`, in that order.
    ///
    /// # Errors
    /// [`LelpError::RowOutOfRange`] for an index `>= N`.
    pub fn subset(&self, idx: &[usize]) -> Result<Self> {
        if let Some((position, &index)) = idx.iter().enumerate().find(|(_, i)| **i >= self.len()) {
            return Err(LelpError::RowOutOfRange {
                index,
                position,
                rows: self.len(),
            });
        }
        let features = match &self.features {
            Features::Dense { values, width } => {
                let mut v = Vec::with_capacity(idx.len() * width);
                for &i in idx {
                    v.extend_from_slice(&values[i * width..(i + 1) * width]);
                }
                Features::Dense {
                    values: v,
                    width: *width,
                }
            }
            Features::Tokens { sequences } => Features::Tokens {
                sequences: idx.iter().map(|&i| sequences[i].clone()).collect(),
            },
        };
        Ok(Self {
            features,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            fine_labels: self.fine_labels.as_ref().map(|fl| idx.iter().map(|&i| fl[i]).collect()),
            label_sets: self
                .label_sets
                .as_ref()
                .map(|ls| idx.iter().map(|&i| ls[i].clone()).collect()),
            num_classes: self.num_classes,
            image_shape: self.image_shape,
        })
    }

    /// This data set's rows followed by `other`'s: e.g. a labelled
    /// transfer set and teacher-labelled rows (unlabeled or augmented
    /// texts) for one distillation run.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the two differ in feature
    /// kind or width, number of classes, image shape, or when one has
    /// fine labels and the other not.
    ///
    /// # Example
    /// ```
    /// use lelp::data::Dataset;
    /// let a = Dataset::from_tokens(vec![vec![1, 2], vec![3]], vec![0, 1], 2)?;
    /// let b = Dataset::from_tokens(vec![vec![4, 5, 6]], vec![1], 2)?;
    /// let both = a.concat(&b)?;
    /// assert_eq!((both.len(), both.labels()), (3, &[0, 1, 1][..]));
    /// # Ok::<(), lelp::LelpError>(())
    /// ```
    pub fn concat(&self, other: &Dataset) -> Result<Self> {
        let mismatch = |what, expected: usize, got: usize| LelpError::DimensionMismatch { what, expected, got };
        if self.num_classes != other.num_classes {
            return Err(mismatch(
                "classes of the appended rows",
                self.num_classes,
                other.num_classes,
            ));
        }
        if self.image_shape != other.image_shape {
            let area = |s: Option<[usize; 2]>| s.map_or(0, |[h, w]| h * w);
            return Err(mismatch(
                "image shape (h x w) of the appended rows",
                area(self.image_shape),
                area(other.image_shape),
            ));
        }
        let features = match (&self.features, &other.features) {
            (Features::Dense { values: a, width: wa }, Features::Dense { values: b, width: wb }) => {
                if wa != wb {
                    return Err(mismatch("features of the appended rows", *wa, *wb));
                }
                Features::Dense {
                    values: [a.as_slice(), b.as_slice()].concat(),
                    width: *wa,
                }
            }
            (Features::Tokens { sequences: a }, Features::Tokens { sequences: b }) => Features::Tokens {
                sequences: a.iter().chain(b).cloned().collect(),
            },
            (a, _) => {
                // 0: dense rows, 1: token sequences
                let kind = |f: &Features| usize::from(matches!(f, Features::Tokens { .. }));
                return Err(mismatch(
                    "feature kind of the appended rows (0 dense, 1 tokens)",
                    kind(a),
                    1 - kind(a),
                ));
            }
        };
        let fine_labels = match (&self.fine_labels, &other.fine_labels) {
            (Some(a), Some(b)) => Some([a.as_slice(), b.as_slice()].concat()),
            (None, None) => None,
            (a, _) => {
                return Err(mismatch(
                    "fine labels of the appended rows (1 present, 0 absent)",
                    usize::from(a.is_some()),
                    usize::from(a.is_none()),
                ));
            }
        };
        let label_sets = match (&self.label_sets, &other.label_sets) {
            (Some(a), Some(b)) => Some([a.as_slice(), b.as_slice()].concat()),
            (None, None) => None,
            (a, _) => {
                return Err(mismatch(
                    "label sets of the appended rows (1 multi-label, 0 one label a row)",
                    usize::from(a.is_some()),
                    usize::from(a.is_none()),
                ));
            }
        };
        Ok(Self {
            features,
            labels: [self.labels.as_slice(), other.labels.as_slice()].concat(),
            fine_labels,
            label_sets,
            num_classes: self.num_classes,
            image_shape: self.image_shape,
        })
    }

    /// A seeded split stratified by fine label (class label when there are
    /// none): `fraction` of each stratum goes to the second part.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] unless `0 < fraction < 1`;
    /// [`LelpError::EmptyData`] when a part would be empty.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        let (a, b) = self.split_indices(fraction, seed)?;
        Ok((self.subset(&a)?, self.subset(&b)?))
    }

    /// The row indices of [`Dataset::split`] (to split several data sets
    /// over the same rows alike, e.g. a text corpus's teacher embeddings
    /// and its student features).
    ///
    /// # Errors
    /// As [`Dataset::split`].
    pub fn split_indices(&self, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(LelpError::InvalidParameter {
                name: "fraction",
                value: fraction.to_string(),
                reason: "must be in (0, 1)",
            });
        }
        let strata = self.fine_labels.as_deref().unwrap_or(&self.labels);
        let k = strata.iter().max().map_or(0, |m| m + 1);
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for s in 0..k {
            let mut rows: Vec<usize> = (0..self.len()).filter(|&i| strata[i] == s).collect();
            rows.shuffle(&mut rng);
            let nb = (rows.len() as f64 * fraction).round() as usize;
            b.extend_from_slice(&rows[..nb]);
            a.extend_from_slice(&rows[nb..]);
        }
        a.shuffle(&mut rng);
        b.shuffle(&mut rng);
        if a.is_empty() || b.is_empty() {
            return Err(LelpError::EmptyData { what: "a split part" });
        }
        Ok((a, b))
    }

    /// Exactly `n` rows drawn by a seeded shuffle stratified by fine label
    /// (class label when there are none): each stratum contributes in
    /// proportion to its size (largest-remainder rounding), so the sample
    /// is class-balanced like the data.
    ///
    /// # Errors
    /// [`LelpError::InvalidParameter`] when `n` is 0 or exceeds `N`.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Self> {
        self.subset(&self.sample_indices(n, seed)?)
    }

    /// The row indices of [`Dataset::sample`].
    ///
    /// # Errors
    /// As [`Dataset::sample`].
    pub fn sample_indices(&self, n: usize, seed: u64) -> Result<Vec<usize>> {
        if n == 0 || n > self.len() {
            return Err(LelpError::InvalidParameter {
                name: "n",
                value: n.to_string(),
                reason: "must be in 1..=N",
            });
        }
        let strata = self.fine_labels.as_deref().unwrap_or(&self.labels);
        let k = strata.iter().max().map_or(0, |m| m + 1);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut groups: Vec<Vec<usize>> = (0..k)
            .map(|s| {
                let mut rows: Vec<usize> = (0..self.len()).filter(|&i| strata[i] == s).collect();
                rows.shuffle(&mut rng);
                rows
            })
            .collect();
        let total = self.len() as f64;
        let exact: Vec<f64> = groups.iter().map(|g| g.len() as f64 * n as f64 / total).collect();
        let mut quota: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
        let mut missing = n - quota.iter().sum::<usize>();
        for &g in order.iter().cycle().take(k * 2) {
            if missing == 0 {
                break;
            }
            if quota[g] < groups[g].len() {
                quota[g] += 1;
                missing -= 1;
            }
        }
        let mut idx: Vec<usize> = Vec::with_capacity(n);
        for (g, q) in groups.iter_mut().zip(&quota) {
            idx.extend_from_slice(&g[..*q]);
        }
        idx.shuffle(&mut rng);
        Ok(idx)
    }
}

#[cfg(all(test, feature = "digits"))]
mod tests {
    use super::*;

    #[test]
    fn embedded_digits_load() {
        let d = Dataset::uci_digits();
        assert_eq!((d.len(), d.num_features(), d.num_classes()), (1797, 64, 10));
        let Features::Dense { values, .. } = d.features() else {
            panic!("digits are dense")
        };
        assert!(values.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let p = d.parity().unwrap();
        assert_eq!(p.num_classes(), 2);
        assert!(
            p.labels()
                .iter()
                .zip(p.fine_labels().unwrap())
                .all(|(&c, &f)| c == f % 2)
        );
    }

    #[test]
    fn split_is_stratified_and_disjoint() {
        let d = Dataset::uci_digits();
        let (a, b) = d.split(0.3, 1).unwrap();
        assert_eq!(a.len() + b.len(), d.len());
        for digit in 0..10 {
            let na = a.labels().iter().filter(|&&l| l == digit).count() as f64;
            let nb = b.labels().iter().filter(|&&l| l == digit).count() as f64;
            assert!((nb / (na + nb) - 0.3).abs() < 0.01);
        }
        assert!(matches!(d.split(1.0, 0), Err(LelpError::InvalidParameter { .. })));
    }

    #[test]
    fn sample_has_exactly_n_rows_balanced_by_stratum() {
        let d = Dataset::uci_digits();
        for n in [1usize, 17, 299, 300, 1796, 1797] {
            let s = d.sample(n, 3).unwrap();
            assert_eq!(s.len(), n);
        }
        let s = d.sample(300, 3).unwrap();
        for digit in 0..10 {
            let c = s.labels().iter().filter(|&&l| l == digit).count();
            assert!((29..=31).contains(&c), "digit {digit}: {c}");
        }
        assert!(d.sample(0, 0).is_err() && d.sample(1798, 0).is_err());
    }
}
