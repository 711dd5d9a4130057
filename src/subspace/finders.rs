//! LELP's PCA finder and the random-projection ablation.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use super::linalg;
use super::{ClassMoments, SubspaceConfig, SubspaceFinder, SubspaceKind, SubspaceParts, Subspaces, check_dims};
use crate::error::{LelpError, Result};
use crate::teacher::LinearHead;

impl Prepared {
    /// The fit from the finder's directions, checked by
    /// [`Subspaces::from_parts`].
    fn finish(
        self,
        kind: SubspaceKind,
        config: SubspaceConfig,
        moments: &ClassMoments,
        head: Option<&LinearHead>,
        dirs: Directions,
    ) -> Result<Subspaces> {
        Subspaces::from_parts(SubspaceParts {
            kind,
            config,
            num_classes: self.c,
            embedding_dim: self.d,
            counts: moments.counts().to_vec(),
            means: self.means,
            bases: dirs.bases,
            eigenvalues: dirs.eigenvalues,
            rotations: dirs.rotations,
            scales: dirs.scales,
            projector: self.projector,
            head: head.cloned(),
        })
    }
}

/// What a finder chooses per class (see [`SubspaceParts`]).
struct Directions {
    bases: Vec<f64>,
    eigenvalues: Vec<f64>,
    rotations: Option<Vec<f64>>,
    scales: Vec<f64>,
}

/// Eigenvalues at or below this fraction of the largest one count as zero.
const RANK_TOL: f64 = 1e-9;

/// Common preparation: checks, projector, projected means and covariances.
struct Prepared {
    c: usize,
    d: usize,
    projector: Option<Vec<f64>>,
    means: Vec<f64>,
    covs: Vec<Vec<f64>>,
}

fn prepare(cfg: &SubspaceConfig, m: &ClassMoments, head: Option<&LinearHead>) -> Result<Prepared> {
    cfg.validate()?;
    let c = m.num_classes();
    let d = m.embedding_dim().ok_or(LelpError::EmptyData {
        what: "no embeddings were seen",
    })?;
    if m.rows() == 0 {
        return Err(LelpError::EmptyData {
            what: "no embeddings were seen",
        });
    }
    check_dims(cfg, d, head)?;
    let s = cfg.subclasses;
    for (class, &n) in m.counts().iter().enumerate() {
        if (n as usize) < s + 1 {
            return Err(LelpError::ClassTooSmall {
                class,
                count: n as usize,
                required: s + 1,
                subclasses: s,
            });
        }
    }
    let basis = if cfg.null_space {
        let head = head.ok_or(LelpError::InvalidParameter {
            name: "null_space",
            value: "true".into(),
            reason: "null-space projection needs the teacher's linear head",
        })?;
        if head.num_classes() != c {
            return Err(LelpError::DimensionMismatch {
                what: "head classes vs number of classes",
                expected: c,
                got: head.num_classes(),
            });
        }
        let w: Vec<f64> = head.weight().iter().map(|&v| v as f64).collect();
        // P = I - U U^T with U a basis of the head's rows
        Some(linalg::row_space_basis(&w, c, d)?)
    } else {
        None
    };
    let mut means = vec![0.0; c * d];
    let mut covs = Vec::with_capacity(c);
    for class in 0..c {
        let mu = m.mean(class).expect("class has examples");
        let cov = m.covariance(class).expect("class has >= 2 examples");
        match &basis {
            Some((u, r)) => {
                // P mu = mu - U (U^T mu)
                let ut_mu = linalg::matmul(&linalg::transpose(u, d, *r), mu, *r, d, 1);
                let u_ut_mu = linalg::matmul(u, &ut_mu, d, *r, 1);
                for (j, (m, s)) in mu.iter().zip(&u_ut_mu).enumerate() {
                    means[class * d + j] = m - s;
                }
                covs.push(linalg::project_symmetric(u, *r, &cov, d));
            }
            None => {
                means[class * d..(class + 1) * d].copy_from_slice(mu);
                covs.push(cov);
            }
        }
    }
    Ok(Prepared {
        c,
        d,
        projector: basis.map(|(u, r)| linalg::projector_from_basis(&u, r, d)),
        means,
        covs,
    })
}

/// LELP's subspace finder: per-class PCA (see the module docs for the
/// conventions).
///
/// A class whose projected covariance has fewer than `S` eigenvalues above
/// `1e-9` times the largest eigenvalue of any class is
/// [`LelpError::RankDeficient`]: its extra directions would be rounding
/// noise.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder};
/// let device = Device::default();
/// let x = Tensor::<2>::from_floats([[1.0, 0.2], [-1.0, 0.1], [2.0, -0.1], [-2.0, 0.0]], &device);
/// let fit = PcaFinder::new(SubspaceConfig::new(1).with_null_space(false)).fit_tensor(x, &[0, 0, 0, 0], 1, None)?;
/// assert!(fit.unrotated_basis(0)[0] > 0.99);
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcaFinder {
    config: SubspaceConfig,
}

impl PcaFinder {
    /// A PCA finder with `config`.
    pub fn new(config: SubspaceConfig) -> Self {
        Self { config }
    }
}

impl SubspaceFinder for PcaFinder {
    fn config(&self) -> SubspaceConfig {
        self.config
    }

    fn fit_moments(&self, moments: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces> {
        let cfg = self.config;
        let p = prepare(&cfg, moments, head)?;
        let (c, d, s) = (p.c, p.d, cfg.subclasses);
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut bases = vec![0.0; c * d * s];
        let mut eigenvalues = vec![0.0; c * s];
        let mut rotations = vec![0.0; c * s * s];
        let mut scales = vec![0.0; c];
        let evds = p
            .covs
            .iter()
            .map(|cov| linalg::top_symmetric_eigen(cov, d, s))
            .collect::<Result<Vec<_>>>()?;
        let largest = evds.iter().map(|(vals, _)| vals[0]).fold(0.0f64, f64::max);
        for (class, (vals, _)) in evds.iter().enumerate() {
            let rank = vals.iter().filter(|&&v| v > RANK_TOL * largest).count();
            if rank < s {
                return Err(LelpError::RankDeficient {
                    class,
                    rank,
                    subclasses: s,
                });
            }
        }
        for (class, (vals, v)) in evds.into_iter().enumerate() {
            // v: d x S (top S, descending, sign-fixed)
            let top: Vec<f64> = vals[..s].iter().map(|&x| x.max(0.0)).collect();
            eigenvalues[class * s..(class + 1) * s].copy_from_slice(&top);
            scales[class] = (top.iter().sum::<f64>() / s as f64).sqrt();
            let q = if cfg.rotate {
                linalg::random_orthogonal(s, &mut rng)
            } else {
                linalg::identity(s)
            };
            let u = linalg::matmul(&v, &q, d, s, s);
            bases[class * d * s..(class + 1) * d * s].copy_from_slice(&u);
            rotations[class * s * s..(class + 1) * s * s].copy_from_slice(&q);
        }
        let dirs = Directions {
            bases,
            eigenvalues,
            rotations: Some(rotations),
            scales,
        };
        p.finish(SubspaceKind::Pca, cfg, moments, head, dirs)
    }
}

/// The paper's ablation: `S` random orthonormal directions per class
/// (Gaussian, projected onto the head's null space when enabled, then
/// orthonormalised), scaled like PCA by the class variance along them.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::subspace::{RandomProjectionFinder, SubspaceConfig, SubspaceFinder, SubspaceKind};
/// let device = Device::default();
/// let x = Tensor::<2>::from_floats([[1.0, 0.2, 0.0], [-1.0, 0.1, 0.3], [2.0, -0.1, 0.1], [-2.0, 0.0, -0.2]], &device);
/// let fit = RandomProjectionFinder::new(SubspaceConfig::new(2).with_null_space(false))
///     .fit_tensor(x, &[0, 0, 0, 0], 1, None)?;
/// assert_eq!((fit.kind(), fit.subclasses()), (SubspaceKind::RandomProjection, 2));
/// # Ok::<(), lelp::LelpError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomProjectionFinder {
    config: SubspaceConfig,
}

impl RandomProjectionFinder {
    /// A random-projection finder with `config` (its `rotate` is ignored:
    /// random directions need no rotation).
    pub fn new(config: SubspaceConfig) -> Self {
        Self { config }
    }
}

impl SubspaceFinder for RandomProjectionFinder {
    fn config(&self) -> SubspaceConfig {
        self.config
    }

    fn fit_moments(&self, moments: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces> {
        let cfg = self.config;
        let p = prepare(&cfg, moments, head)?;
        let (c, d, s) = (p.c, p.d, cfg.subclasses);
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut bases = vec![0.0; c * d * s];
        let mut eigenvalues = vec![0.0; c * s];
        let mut scales = vec![0.0; c];
        for class in 0..c {
            let mut g: Vec<f64> = (0..d * s).map(|_| StandardNormal.sample(&mut rng)).collect();
            if let Some(pr) = &p.projector {
                g = linalg::matmul(pr, &g, d, d, s);
            }
            linalg::orthonormalize_columns(&mut g, d, s);
            let cu = linalg::matmul(&p.covs[class], &g, d, d, s);
            for k in 0..s {
                let var: f64 = (0..d).map(|i| g[i * s + k] * cu[i * s + k]).sum();
                eigenvalues[class * s + k] = var.max(0.0);
            }
            scales[class] = (eigenvalues[class * s..(class + 1) * s].iter().sum::<f64>() / s as f64).sqrt();
            bases[class * d * s..(class + 1) * d * s].copy_from_slice(&g);
        }
        // a class with no variance along its directions has nothing to split
        let largest = scales.iter().fold(0.0f64, |a, &b| a.max(b * b));
        if let Some(class) = scales.iter().position(|&v| v * v <= RANK_TOL * largest || v == 0.0) {
            return Err(LelpError::RankDeficient {
                class,
                rank: 0,
                subclasses: s,
            });
        }
        let dirs = Directions {
            bases,
            eigenvalues,
            rotations: None,
            scales,
        };
        p.finish(SubspaceKind::RandomProjection, cfg, moments, head, dirs)
    }
}
