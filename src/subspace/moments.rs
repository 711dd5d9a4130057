//! Streaming per-class moments (Chan et al.'s pairwise merge, f64).

use burn::prelude::*;

use super::syrk::{self, Centred};
use crate::error::{LelpError, Result};
use crate::util;

/// Streaming per-class moments: counts, means and centred second moments
/// (`M2 = sum (h - mean)(h - mean)^T`), merged batch by batch with Chan et
/// al.'s pairwise update in f64.
///
/// Two accumulators over disjoint rows (shards, workers) combine exactly
/// with [`ClassMoments::merge`], so a fit can be spread over machines.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::subspace::ClassMoments;
/// let device = Device::default();
/// let mut m = ClassMoments::new(2);
/// let x = Tensor::<2>::from_floats([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], &device);
/// m.update(x, &[0, 1, 0])?;
/// assert_eq!(m.counts(), &[2, 1]);
/// assert_eq!(m.mean(0).unwrap(), &[2.0, 3.0]);
/// // a second shard, merged
/// let mut other = ClassMoments::new(2);
/// other.update(Tensor::<2>::from_floats([[6.0, 7.0]], &device), &[1])?;
/// m.merge(&other)?;
/// assert_eq!(m.mean(1).unwrap(), &[4.0, 5.0]);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMoments {
    num_classes: usize,
    dim: Option<usize>,
    counts: Vec<u64>,
    means: Vec<f64>,
    m2: Vec<f64>,
    rows: usize,
}

/// One class's statistics of one batch on a device: count, mean `[d]`,
/// centred scatter `[d, d]` (row-major).
struct BatchStats {
    class: usize,
    count: u64,
    mean: Vec<f64>,
    scatter: Vec<f32>,
}

impl ClassMoments {
    /// An empty accumulator for `num_classes` classes.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            dim: None,
            counts: vec![0; num_classes],
            means: Vec::new(),
            m2: Vec::new(),
            rows: 0,
        }
    }

    /// Adds a batch.
    ///
    /// # Shapes
    /// - `embeddings`: `[B, d]` (any device; products run there)
    /// - `labels`: `[B]`, each `< C`
    ///
    /// # Errors
    /// [`LelpError::LabelOutOfRange`], [`LelpError::NonFinite`],
    /// [`LelpError::DimensionMismatch`] (label count, or `d` changing
    /// between batches). On error the accumulator is unchanged.
    pub fn update(&mut self, embeddings: Tensor<2>, labels: &[usize]) -> Result<()> {
        let [b, d] = embeddings.dims();
        self.check_batch(b, d, labels)?;
        if b == 0 {
            return Ok(());
        }
        if util::is_flex(&embeddings.device()) {
            let x = util::to_host_f32(embeddings)?;
            self.update_host(&x, d, labels)?;
        } else {
            util::check_finite(&embeddings, "embeddings", self.rows)?;
            let stats = self.device_batch_stats(embeddings, labels)?;
            self.init_dim(d);
            for st in stats {
                let g = &st.scatter;
                self.absorb(st.class, st.count, &st.mean, |j| &g[j * d + j..(j + 1) * d]);
            }
        }
        self.rows += b;
        Ok(())
    }

    /// Adds the moments of `other` (disjoint rows), exactly as if its rows
    /// had been streamed into `self`.
    ///
    /// # Errors
    /// [`LelpError::DimensionMismatch`] when the class counts or widths
    /// differ.
    pub fn merge(&mut self, other: &ClassMoments) -> Result<()> {
        if other.num_classes != self.num_classes {
            return Err(LelpError::DimensionMismatch {
                what: "classes of merged moments",
                expected: self.num_classes,
                got: other.num_classes,
            });
        }
        let Some(d) = other.dim else {
            return Ok(());
        };
        if let Some(mine) = self.dim
            && mine != d
        {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width of merged moments",
                expected: mine,
                got: d,
            });
        }
        self.init_dim(d);
        for class in 0..self.num_classes {
            if other.counts[class] == 0 {
                continue;
            }
            let mean = &other.means[class * d..(class + 1) * d];
            let m2 = &other.m2[class * d * d..(class + 1) * d * d];
            self.absorb(class, other.counts[class], mean, |j| &m2[j * d + j..(j + 1) * d]);
        }
        self.rows += other.rows;
        Ok(())
    }

    fn check_batch(&self, b: usize, d: usize, labels: &[usize]) -> Result<()> {
        if labels.len() != b {
            return Err(LelpError::DimensionMismatch {
                what: "labels vs embedding rows",
                expected: b,
                got: labels.len(),
            });
        }
        if let Some(prev) = self.dim
            && prev != d
        {
            return Err(LelpError::DimensionMismatch {
                what: "embedding width between batches",
                expected: prev,
                got: d,
            });
        }
        if b > 0 && d == 0 {
            return Err(LelpError::EmptyData {
                what: "embeddings have zero columns",
            });
        }
        util::check_labels(labels, self.num_classes, self.rows)
    }

    /// Per-class count, mean and scatter of a batch, computed on the
    /// batch's device and read back once per class (on Flex the host does
    /// it: [`ClassMoments::update_host`]).
    fn device_batch_stats(&self, embeddings: Tensor<2>, labels: &[usize]) -> Result<Vec<BatchStats>> {
        let [b, _] = embeddings.dims();
        let device = embeddings.device();
        let mut out = Vec::new();
        for class in 0..self.num_classes {
            let idx: Vec<usize> = (0..b).filter(|&i| labels[i] == class).collect();
            if idx.is_empty() {
                continue;
            }
            let xc = if idx.len() == b {
                embeddings.clone()
            } else {
                embeddings.clone().select(0, util::indices(&idx, &device))
            };
            let mean = xc.clone().mean_dim(0); // [1, d]
            let z = xc - mean.clone();
            let scatter = z.clone().transpose().matmul(z); // [d, d]
            out.push(BatchStats {
                class,
                count: idx.len() as u64,
                mean: util::to_host_f32(mean)?.into_iter().map(f64::from).collect(),
                scatter: util::to_host_f32(scatter)?,
            });
        }
        Ok(out)
    }

    fn init_dim(&mut self, d: usize) {
        if self.dim.is_none() {
            self.dim = Some(d);
            self.means = vec![0.0; self.num_classes * d];
            self.m2 = vec![0.0; self.num_classes * d * d];
        }
    }

    /// Chan et al.'s merge of one class's batch statistics: `count` rows
    /// with mean `mean` and centred scatter whose `j`-th line, entries
    /// `j..d` of row (or column) `j`, is `line(j)`. Only that triangle of
    /// the symmetric `M2` is kept (row-major upper: `m2[j * d + i]`,
    /// `i >= j`); [`ClassMoments::covariance`] mirrors it.
    fn absorb<'a, T: Copy + Into<f64> + 'a>(
        &mut self,
        c: usize,
        count: u64,
        batch_mean: &[f64],
        line: impl Fn(usize) -> &'a [T],
    ) {
        let d = self.dim.expect("initialised before absorbing");
        let na = self.counts[c] as f64;
        let nb = count as f64;
        let ntot = na + nb;
        let mean = &mut self.means[c * d..(c + 1) * d];
        let delta: Vec<f64> = batch_mean.iter().zip(mean.iter()).map(|(b, a)| b - a).collect();
        let m2 = &mut self.m2[c * d * d..(c + 1) * d * d];
        let w = na * nb / ntot;
        for j in 0..d {
            let dj = delta[j] * w;
            let row = &mut m2[j * d + j..(j + 1) * d];
            for ((m, &s), &di) in row.iter_mut().zip(line(j)).zip(&delta[j..]) {
                *m += s.into() + dj * di;
            }
        }
        for (m, dl) in mean.iter_mut().zip(&delta) {
            *m += dl * nb / ntot;
        }
        self.counts[c] += count;
    }

    /// Number of classes `C`.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Embedding dimension `d` (None before the first non-empty batch).
    pub fn embedding_dim(&self) -> Option<usize> {
        self.dim
    }

    /// Examples seen per class.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Rows seen in all.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The mean of class `c` (`[d]`), if it has examples.
    pub fn mean(&self, c: usize) -> Option<&[f64]> {
        let d = self.dim?;
        (c < self.num_classes && self.counts[c] > 0).then(|| &self.means[c * d..(c + 1) * d])
    }

    /// The covariance of class `c` (`[d, d]` row-major, `n_c - 1`
    /// denominator), if it has at least 2 examples.
    pub fn covariance(&self, c: usize) -> Option<Vec<f64>> {
        let d = self.dim?;
        if c >= self.num_classes || self.counts[c] < 2 {
            return None;
        }
        let denom = (self.counts[c] - 1) as f64;
        let m2 = &self.m2[c * d * d..(c + 1) * d * d];
        let mut cov = vec![0.0; d * d];
        for j in 0..d {
            for i in j..d {
                let v = m2[j * d + i] / denom;
                cov[j * d + i] = v;
                cov[i * d + j] = v;
            }
        }
        Some(cov)
    }
}

thread_local! {
    /// Per-thread scratch of [`ClassMoments::update_host`]: a class's row
    /// indices and the scatter, reused across batches (a fresh
    /// `d x d` matrix per class and batch costs page faults).
    static HOST_SCRATCH: std::cell::RefCell<(Vec<usize>, faer::Mat<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), faer::Mat::new())) };
}

impl ClassMoments {
    /// [`ClassMoments::update`] for a batch on the host (Flex), `x`
    /// row-major `[b, d]`, labels checked. One pass sums each class's rows
    /// in f64 (a non-finite sum means a non-finite entry, located then,
    /// before anything changes); per class the scatter `Z^T Z` of the
    /// rows centred on their mean (in f32, as on a device; the kernel
    /// centres while it packs) is one f32 product of which only the lower
    /// triangle is computed (a symmetric rank-k update), merged at once.
    fn update_host(&mut self, x: &[f32], d: usize, labels: &[usize]) -> Result<()> {
        let num_classes = self.num_classes;
        let mut counts = vec![0usize; num_classes];
        let mut sums = vec![0.0f64; num_classes * d];
        for (row, &c) in x.chunks_exact(d).zip(labels) {
            counts[c] += 1;
            for (s, &v) in sums[c * d..(c + 1) * d].iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        if sums.iter().any(|s| !s.is_finite()) {
            let row_offset = self.rows;
            util::check_finite_host(x, d, "embeddings").map_err(|e| match e {
                LelpError::NonFinite { what, row, col } => LelpError::NonFinite {
                    what,
                    row: row + row_offset,
                    col,
                },
                other => other,
            })?;
        }
        self.init_dim(d);
        HOST_SCRATCH.with_borrow_mut(|(rows, g)| {
            for class in 0..num_classes {
                let n = counts[class];
                if n == 0 {
                    continue;
                }
                let mean: Vec<f64> = sums[class * d..(class + 1) * d].iter().map(|s| s / n as f64).collect();
                let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
                rows.clear();
                rows.extend(labels.iter().enumerate().filter(|(_, l)| **l == class).map(|(r, _)| r));
                let z = Centred {
                    x,
                    d,
                    rows,
                    shift: &mean32,
                };
                syrk::centred_syrk(z, g, 0);
                self.absorb(class, n as u64, &mean, |j| &g.col_as_slice(j)[j..]);
            }
        });
        Ok(())
    }
}
