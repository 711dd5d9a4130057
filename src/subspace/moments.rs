//! Streaming per-class moments (Chan et al.'s pairwise merge, f64).

use burn::prelude::*;

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

/// One class's statistics of one batch: count, mean `[d]`, centred
/// scatter `[d, d]`.
struct BatchStats {
    class: usize,
    count: u64,
    mean: Vec<f64>,
    scatter: Vec<f64>,
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
        util::check_finite(&embeddings, "embeddings", self.rows)?;
        let stats = self.batch_stats(embeddings, labels)?;
        self.init_dim(d);
        for st in stats {
            self.absorb(st);
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
            self.absorb(BatchStats {
                class,
                count: other.counts[class],
                mean: other.means[class * d..(class + 1) * d].to_vec(),
                scatter: other.m2[class * d * d..(class + 1) * d * d].to_vec(),
            });
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
    /// batch's device and read back once per class (on Flex, on the host:
    /// [`host_batch_stats`]).
    fn batch_stats(&self, embeddings: Tensor<2>, labels: &[usize]) -> Result<Vec<BatchStats>> {
        let [b, d] = embeddings.dims();
        let device = embeddings.device();
        if util::is_flex(&device) {
            return Ok(host_batch_stats(
                &util::to_host_f32(embeddings)?,
                d,
                labels,
                self.num_classes,
            ));
        }
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
                scatter: util::to_host_f32(scatter)?.into_iter().map(f64::from).collect(),
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

    /// Chan et al.'s merge of one class's batch statistics.
    fn absorb(&mut self, st: BatchStats) {
        let d = self.dim.expect("initialised before absorbing");
        let c = st.class;
        let na = self.counts[c] as f64;
        let nb = st.count as f64;
        let ntot = na + nb;
        let mean = &mut self.means[c * d..(c + 1) * d];
        let delta: Vec<f64> = (0..d).map(|j| st.mean[j] - mean[j]).collect();
        let m2 = &mut self.m2[c * d * d..(c + 1) * d * d];
        let w = na * nb / ntot;
        for i in 0..d {
            let row = &mut m2[i * d..(i + 1) * d];
            let di = delta[i] * w;
            let srow = &st.scatter[i * d..(i + 1) * d];
            for j in 0..d {
                row[j] += srow[j] + di * delta[j];
            }
        }
        for j in 0..d {
            mean[j] += delta[j] * nb / ntot;
        }
        self.counts[c] += st.count;
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
        Some(self.m2[c * d * d..(c + 1) * d * d].iter().map(|v| v / denom).collect())
    }
}

/// [`ClassMoments`]'s batch statistics on the host, for `x` row-major
/// `[b, d]`: per class the rows are gathered, centred on their f64 mean (in
/// f32, as on a device) and the scatter `Z^T Z` is one f32 product of which
/// only the lower triangle is computed (a symmetric rank-k update), then
/// mirrored into f64.
fn host_batch_stats(x: &[f32], d: usize, labels: &[usize], num_classes: usize) -> Vec<BatchStats> {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let mut out = Vec::new();
    for class in 0..num_classes {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        if rows.is_empty() {
            continue;
        }
        let n = rows.len();
        let mut mean = vec![0.0f64; d];
        for &r in &rows {
            for (m, &v) in mean.iter_mut().zip(&x[r * d..(r + 1) * d]) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let mut z = Vec::with_capacity(n * d);
        for &r in &rows {
            z.extend(x[r * d..(r + 1) * d].iter().zip(&mean32).map(|(&v, &m)| v - m));
        }
        let zr = faer::MatRef::from_row_major_slice(&z, n, d);
        let mut g = faer::Mat::<f32>::zeros(d, d);
        matmul(
            g.as_mut(),
            BlockStructure::TriangularLower,
            faer::Accum::Replace,
            zr.transpose(),
            BlockStructure::Rectangular,
            zr,
            BlockStructure::Rectangular,
            1.0f32,
            util::host_par(),
        );
        let mut scatter = vec![0.0f64; d * d];
        for j in 0..d {
            for i in j..d {
                let v = f64::from(g[(i, j)]);
                scatter[i * d + j] = v;
                scatter[j * d + i] = v;
            }
        }
        out.push(BatchStats {
            class,
            count: n as u64,
            mean,
            scatter,
        });
    }
    out
}
