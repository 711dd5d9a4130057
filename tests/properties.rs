//! Properties of the fit and the targets that must hold for any data:
//! orthonormal bases, an idempotent projector with `P W^T = 0`, targets
//! that are non-negative and sum to 1, `sum_s q_cs = p_c`, Eq. 5 equal to
//! a host computation from the fit's parts, rotations that keep the
//! subspace, sharded moments that merge exactly.

mod common;

use burn::prelude::*;
use common::{device, host};
use lelp::data::{Dataset, Inputs};
use lelp::labeler::{KMeansConfig, KMeansLabeler, LabelerInput, LelpLabeler, PseudoLabeler};
use lelp::subspace::{
    ClassMoments, PcaFinder, RandomProjectionFinder, SubspaceConfig, SubspaceFinder, SubspaceKind, Subspaces,
};
use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder, TeacherOutput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Digits as 64-d "embeddings", 10 classes, and a seeded random head.
fn digits_setup(seed: u64, classes: usize) -> (Tensor<2>, Vec<usize>, LinearHead) {
    let device = device();
    let data = Dataset::uci_digits();
    let map: Vec<usize> = (0..10).map(|d| d % classes).collect();
    let data = data.relabel(&map, classes).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let w: Vec<f32> = (0..classes * 64).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b: Vec<f32> = (0..classes).map(|_| rng.random_range(-0.5..0.5)).collect();
    (
        data.features_tensor(&device).unwrap(),
        data.labels().to_vec(),
        LinearHead::new(w, b, [classes, 64]).unwrap(),
    )
}

/// PCA with `s` subclasses, null space on, streamed in `batch` rows.
fn pca(s: usize, seed: u64, batch: usize) -> PcaFinder {
    PcaFinder::new(SubspaceConfig::new(s).with_seed(seed).with_batch_size(batch))
}

fn labeler(fit: Subspaces, beta: f64, tau: f64) -> LelpLabeler {
    LelpLabeler::builder(fit).beta(beta).tau(tau).build().unwrap()
}

fn gram(u: &[f64], d: usize, s: usize) -> Vec<f64> {
    let mut g = vec![0.0; s * s];
    for i in 0..s {
        for j in 0..s {
            g[i * s + j] = (0..d).map(|k| u[k * s + i] * u[k * s + j]).sum();
        }
    }
    g
}

#[test]
fn bases_are_orthonormal_for_pca_and_random_projections() {
    for (classes, s) in [(2usize, 1usize), (2, 8), (3, 4), (5, 2)] {
        let (x, y, head) = digits_setup(classes as u64, classes);
        for fit in [
            pca(s, 7, 500).fit_tensor(x.clone(), &y, classes, Some(&head)).unwrap(),
            RandomProjectionFinder::new(SubspaceConfig::new(s).with_batch_size(500))
                .fit_tensor(x.clone(), &y, classes, Some(&head))
                .unwrap(),
        ] {
            for c in 0..classes {
                let g = gram(fit.basis(c), 64, s);
                for i in 0..s {
                    for j in 0..s {
                        let e = if i == j { 1.0 } else { 0.0 };
                        assert!(
                            (g[i * s + j] - e).abs() < 1e-9,
                            "C={classes} S={s} class {c}: U^T U[{i},{j}] = {}",
                            g[i * s + j]
                        );
                    }
                }
                for w in fit
                    .eigenvalues(c)
                    .windows(2)
                    .filter(|_| fit.kind() == SubspaceKind::Pca)
                {
                    assert!(w[0] >= w[1], "eigenvalues descending");
                }
            }
        }
    }
}

#[test]
fn projector_is_idempotent_and_annihilates_the_head() {
    for classes in [2usize, 3, 5] {
        let (x, y, head) = digits_setup(11 + classes as u64, classes);
        let fit = pca(2, 0, 700).fit_tensor(x, &y, classes, Some(&head)).unwrap();
        let p = fit.projector().unwrap();
        let d = 64;
        for i in 0..d {
            for j in 0..d {
                let pp: f64 = (0..d).map(|k| p[i * d + k] * p[k * d + j]).sum();
                assert!((pp - p[i * d + j]).abs() < 1e-9, "P^2 = P");
                assert!((p[i * d + j] - p[j * d + i]).abs() < 1e-12, "P symmetric");
            }
            for c in 0..classes {
                let pw: f64 = (0..d).map(|k| p[i * d + k] * head.weight()[c * d + k] as f64).sum();
                assert!(pw.abs() < 1e-6, "P W^T = 0, got {pw}");
            }
        }
        // the fitted directions lie in the null space: W u = 0
        for c in 0..classes {
            let u = fit.basis(c);
            for r in 0..classes {
                for k in 0..2 {
                    let wu: f64 = (0..d).map(|i| head.weight()[r * d + i] as f64 * u[i * 2 + k]).sum();
                    assert!(wu.abs() < 1e-5, "W u = {wu}");
                }
            }
        }
    }
}

#[test]
fn targets_are_distributions_that_keep_the_class_probabilities() {
    let device = device();
    for (classes, s, beta, tau) in [(2usize, 5usize, 0.3, 2.0), (3, 4, 1.0, 1.0), (5, 2, 0.05, 4.0)] {
        let (x, y, head) = digits_setup(3, classes);
        let fit = pca(s, 1, 1000).fit_tensor(x.clone(), &y, classes, Some(&head)).unwrap();
        let out = PrecomputedTeacher::new(head).forward(Inputs::Dense(x)).unwrap();
        let t = labeler(fit, beta, tau)
            .targets(LabelerInput::from_teacher(&out))
            .unwrap();
        let q = host(t.probs());
        let p = host(burn::tensor::activation::softmax(
            out.logits().clone().div_scalar(tau),
            1,
        ));
        let n = y.len();
        for r in 0..n {
            let row = &q[r * classes * s..(r + 1) * classes * s];
            assert!(row.iter().all(|&v| v >= 0.0));
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
            for c in 0..classes {
                let sc: f64 = row[c * s..(c + 1) * s].iter().sum();
                assert!(
                    (sc - p[r * classes + c]).abs() < 1e-5,
                    "sum_s q[{r},{c},s] = {sc} vs p = {}",
                    p[r * classes + c]
                );
            }
        }
        let _ = device.clone();
    }
}

/// Eq. 5 on the host in f64 from the fit's parts (projector, bases, means,
/// scales) and the logits: an independent computation of the targets.
fn eq5_on_host(fit: &Subspaces, h: &[f64], z: &[f64], n: usize, beta: f64, tau: f64) -> Vec<f64> {
    let (c, s, d) = (fit.num_classes(), fit.subclasses(), fit.embedding_dim());
    let mut q = vec![0.0; n * c * s];
    for r in 0..n {
        let hr = &h[r * d..(r + 1) * d];
        let ph: Vec<f64> = match fit.projector() {
            Some(p) => (0..d).map(|i| (0..d).map(|k| p[i * d + k] * hr[k]).sum()).collect(),
            None => hr.to_vec(),
        };
        let zr = &z[r * c..(r + 1) * c];
        let zmax = zr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let ez: Vec<f64> = zr.iter().map(|v| ((v - zmax) / tau).exp()).collect();
        let zs: f64 = ez.iter().sum();
        for class in 0..c {
            let u = fit.basis(class);
            let mu = fit.mean(class);
            let a: Vec<f64> = (0..s)
                .map(|j| (0..d).map(|i| u[i * s + j] * (ph[i] - mu[i])).sum::<f64>() / fit.scale(class))
                .collect();
            let amax = a.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let ea: Vec<f64> = a.iter().map(|v| ((v - amax) / beta).exp()).collect();
            let es: f64 = ea.iter().sum();
            for j in 0..s {
                q[(r * c + class) * s + j] = ez[class] / zs * ea[j] / es;
            }
        }
    }
    q
}

#[test]
fn lelp_targets_match_eq5_computed_on_the_host() {
    for (classes, s, beta, tau, rotate) in [
        (2usize, 5usize, 0.3, 2.0, true),
        (3, 3, 1.0, 1.0, false),
        (2, 1, 0.3, 2.0, true),
    ] {
        let (x, y, head) = digits_setup(21 + s as u64, classes);
        let finder = PcaFinder::new(SubspaceConfig::new(s).with_rotation(rotate).with_seed(9));
        let fit = finder.fit_tensor(x.clone(), &y, classes, Some(&head)).unwrap();
        let out = PrecomputedTeacher::new(head).forward(Inputs::Dense(x.clone())).unwrap();
        let got = host(
            labeler(fit.clone(), beta, tau)
                .targets(LabelerInput::from_teacher(&out))
                .unwrap()
                .probs(),
        );
        let want = eq5_on_host(&fit, &host(x), &host(out.logits().clone()), y.len(), beta, tau);
        common::assert_close("q", &got, &want, 1e-4, 1e-3);
        // the property that makes LELP a refinement of KD can fail: break
        // it by perturbing one entry and the comparison must notice
        let mut broken = want.clone();
        broken[0] += 1e-2;
        assert!(got.iter().zip(&broken).any(|(g, w)| (g - w).abs() > 1e-3));
    }
}

#[test]
fn sharded_moments_merge_into_the_single_fit() {
    let (x, y, head) = digits_setup(31, 3);
    let n = y.len();
    let single = pca(3, 2, 4096).fit_tensor(x.clone(), &y, 3, Some(&head)).unwrap();
    // four shards of uneven size, each with its own accumulator
    let cuts = [0usize, 300, 350, 1200, n];
    let mut merged = ClassMoments::new(3);
    for w in cuts.windows(2) {
        let mut shard = ClassMoments::new(3);
        shard
            .update(x.clone().narrow(0, w[0], w[1] - w[0]), &y[w[0]..w[1]])
            .unwrap();
        merged.merge(&shard).unwrap();
    }
    let sharded = pca(3, 2, 4096).fit_moments(&merged, Some(&head)).unwrap();
    assert_eq!(merged.counts(), single.counts());
    for c in 0..3 {
        // within 1e-6 of the data's scale (pixels in [0, 1]; the largest
        // eigenvalue; unit vectors): the shards' f32 batch statistics are
        // merged in f64, so only the f32 rounding of each batch differs
        common::assert_close("mean", sharded.mean(c), single.mean(c), 1e-6, 1.0);
        let top = single.eigenvalues(c)[0];
        common::assert_close("eigenvalues", sharded.eigenvalues(c), single.eigenvalues(c), 1e-6, top);
        common::assert_close("basis", sharded.basis(c), single.basis(c), 1e-6, 1.0);
    }
    // merging moments of another width is refused
    let mut other = ClassMoments::new(3);
    other.update(x.narrow(1, 0, 10), &y).unwrap();
    let e = merged.merge(&other).unwrap_err();
    assert!(
        matches!(e, lelp::LelpError::DimensionMismatch { what, .. } if what.contains("width")),
        "{e:?}"
    );
}

#[test]
fn rotation_keeps_the_subspace_and_changes_the_basis() {
    let (x, y, head) = digits_setup(8, 2);
    let s = 4;
    let cfg = SubspaceConfig::new(s).with_batch_size(900);
    let plain = PcaFinder::new(cfg.with_rotation(false))
        .fit_tensor(x.clone(), &y, 2, Some(&head))
        .unwrap();
    let rotated = PcaFinder::new(cfg.with_seed(3))
        .fit_tensor(x.clone(), &y, 2, Some(&head))
        .unwrap();
    let again = PcaFinder::new(cfg.with_seed(3))
        .fit_tensor(x, &y, 2, Some(&head))
        .unwrap();
    assert_eq!(rotated, again, "seeded rotations are reproducible");
    let d = 64;
    for c in 0..2 {
        // same projector U U^T = V V^T
        let (u, v) = (rotated.basis(c), plain.basis(c));
        for i in 0..d {
            for j in 0..d {
                let uu: f64 = (0..s).map(|k| u[i * s + k] * u[j * s + k]).sum();
                let vv: f64 = (0..s).map(|k| v[i * s + k] * v[j * s + k]).sum();
                assert!((uu - vv).abs() < 1e-9);
            }
        }
        assert!(
            u.iter().zip(v).any(|(a, b)| (a - b).abs() > 1e-3),
            "the basis itself changed"
        );
        // unrotated basis recovers V
        let back = rotated.unrotated_basis(c);
        for (a, b) in back.iter().zip(v) {
            assert!((a - b).abs() < 1e-9);
        }
    }
}

#[test]
fn streaming_fit_is_independent_of_batch_size() {
    let (x, y, head) = digits_setup(2, 3);
    let a = pca(3, 0, 1797).fit_tensor(x.clone(), &y, 3, Some(&head)).unwrap();
    let b = pca(3, 0, 37).fit_tensor(x, &y, 3, Some(&head)).unwrap();
    for c in 0..3 {
        for (p, q) in a.mean(c).iter().zip(b.mean(c)) {
            assert!((p - q).abs() < 1e-6);
        }
        for (p, q) in a.eigenvalues(c).iter().zip(b.eigenvalues(c)) {
            assert!((p - q).abs() < 1e-5 * p.abs().max(1e-3));
        }
        for (p, q) in a.basis(c).iter().zip(b.basis(c)) {
            assert!((p - q).abs() < 1e-4, "{p} vs {q}");
        }
    }
}

#[test]
fn sigmoid_teacher_maps_to_two_logits() {
    let device = device();
    let head = LinearHead::new(vec![1.0, -2.0, 0.5], vec![0.25], [1, 3]).unwrap();
    assert_eq!(head.num_classes(), 2);
    let teacher = PrecomputedTeacher::new(head);
    let h = Tensor::<2>::from_floats([[1.0, 1.0, 2.0], [0.0, -1.0, 0.0]], &device);
    let out = teacher.forward(Inputs::Dense(h.clone())).unwrap();
    let z = host(out.logits().clone());
    // z = w.h + b: row 0: 1 - 2 + 1 + 0.25 = 0.25; row 1: 2 + 0.25 = 2.25
    assert_eq!(z, vec![0.0, 0.25, 0.0, 2.25]);
    // a raw 1-column logit tensor is mapped too
    let o = TeacherOutput::new(h, Tensor::<2>::from_floats([[3.0], [-1.0]], &device)).unwrap();
    assert_eq!(host(o.logits().clone()), vec![0.0, 3.0, 0.0, -1.0]);
}

#[test]
fn kmeans_labeler_finds_separated_clusters_and_keeps_class_probabilities() {
    let device = device();
    // class 0: blobs at (0,0) and (10,0); class 1: blobs at (0,10) and (10,10)
    let mut rng = StdRng::seed_from_u64(4);
    let centres = [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
    let (mut x, mut y, mut blob) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..200 {
        let b = i % 4;
        x.push(centres[b][0] + rng.random_range(-0.5..0.5));
        x.push(centres[b][1] + rng.random_range(-0.5..0.5));
        y.push(b / 2);
        blob.push(b);
    }
    let h = Tensor::<2>::from_data(TensorData::new(x, [200, 2]), &device);
    let km = KMeansLabeler::fit(h.clone(), &y, 2, &KMeansConfig::new(2).with_tau(1.0)).unwrap();
    let z = Tensor::<2>::from_data(
        TensorData::new(
            y.iter()
                .flat_map(|&c| if c == 0 { [1.0f32, -1.0] } else { [-1.0, 1.0] })
                .collect::<Vec<_>>(),
            [200, 2],
        ),
        &device,
    );
    let t = km.targets(LabelerInput::new(h, z.clone())).unwrap();
    let q = host(t.probs());
    let p = host(burn::tensor::activation::softmax(z, 1));
    // the row's own class puts (almost) all its mass on one slot, the same slot for the same blob
    let mut slot_of_blob = [usize::MAX; 4];
    for r in 0..200 {
        let c = y[r];
        let row = &q[r * 4..(r + 1) * 4];
        let sc: f64 = row[c * 2..c * 2 + 2].iter().sum();
        assert!((sc - p[r * 2 + c]).abs() < 1e-5);
        let slot = if row[c * 2] > row[c * 2 + 1] { 0 } else { 1 };
        assert!(row[c * 2 + slot] > 0.99 * sc, "row {r}: {row:?}");
        if slot_of_blob[blob[r]] == usize::MAX {
            slot_of_blob[blob[r]] = slot;
        }
        assert_eq!(slot_of_blob[blob[r]], slot);
    }
    assert_ne!(slot_of_blob[0], slot_of_blob[1]);
    // too few rows for the clusters
    let small = Tensor::<2>::zeros([3, 2], &device);
    assert!(matches!(
        KMeansLabeler::fit(small, &[0, 0, 1], 2, &KMeansConfig::new(2)),
        Err(lelp::LelpError::ClassTooSmall { class: 1, count: 1, .. })
    ));
}
