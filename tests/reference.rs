//! The fit and the targets against an independent numpy computation
//! (tests/data/reference.py, numpy 2.4.6, float64): per-class means,
//! covariances, eigenvalues, eigenvectors (same sign rule), the null-space
//! projector and the final targets, on the UCI digits, on random data and
//! on wide random data (d = 275).
//! Tolerance: 1e-4 relative.

mod common;

use common::{assert_close, device, host, load};
use lelp::data::Inputs;
use lelp::labeler::{LabelerInput, LelpLabeler, PseudoLabeler};
use lelp::subspace::{ClassMoments, PcaFinder, SubspaceConfig, SubspaceFinder};
use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder, load_embeddings_npy};

struct Params {
    s: usize,
    null_space: bool,
    centre: bool,
    tau: f64,
    beta: f64,
}

fn params(case: &str) -> Params {
    let text = std::fs::read_to_string(common::data_path(case, "params.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    Params {
        s: v["S"].as_u64().unwrap() as usize,
        null_space: v["null_space"].as_bool().unwrap(),
        centre: v["centre"].as_bool().unwrap(),
        tau: v["tau"].as_f64().unwrap(),
        beta: v["beta"].as_f64().unwrap(),
    }
}

fn check_case(case: &str) {
    let device = device();
    let p = params(case);
    let emb = load_embeddings_npy(common::data_path(case, "emb.npy"), &device).unwrap();
    let labels = lelp::io::npy::NpyArray::read(common::data_path(case, "labels.npy"))
        .unwrap()
        .to_labels()
        .unwrap();
    let teacher = PrecomputedTeacher::from_npy(
        common::data_path(case, "head_w.npy"),
        common::data_path(case, "head_b.npy"),
    )
    .unwrap();
    let head: LinearHead = teacher.head().unwrap();
    let c = head.num_classes();
    let [n, d] = emb.dims();

    // raw moments (before projection) against numpy's, for the random case (no projection)
    let mut m = ClassMoments::new(c);
    for s in (0..n).step_by(97) {
        let e = (s + 97).min(n);
        m.update(emb.clone().narrow(0, s, e - s), &labels[s..e]).unwrap();
    }
    let cfg = SubspaceConfig::new(p.s)
        .with_null_space(p.null_space)
        .with_centre(p.centre)
        .with_rotation(false);
    let fit = PcaFinder::new(cfg).fit_moments(&m, Some(&head)).unwrap();

    let (_, means) = load(case, "means.npy");
    // the wide case has no d x d outputs (covariances, projector) on disk
    let optional = |file: &str| common::data_path(case, file).exists().then(|| load(case, file).1);
    let covs = optional("covs.npy");
    let (_, eigvals) = load(case, "eigvals.npy");
    let (_, bases) = load(case, "bases.npy");
    let proj = optional("projector.npy");
    let (_, targets) = load(case, "targets.npy");
    let scale = |v: &[f64]| v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    for class in 0..c {
        let want_mean = &means[class * d..(class + 1) * d];
        assert_close("mean", fit.mean(class), want_mean, 1e-4, scale(want_mean));
        assert_close(
            "eigenvalues",
            fit.eigenvalues(class),
            &eigvals[class * p.s..(class + 1) * p.s],
            1e-4,
            0.0,
        );
        let want_basis = &bases[class * d * p.s..(class + 1) * d * p.s];
        assert_close("basis", fit.basis(class), want_basis, 1e-4, 1.0);
        if let (false, Some(covs)) = (p.null_space, &covs) {
            let want_cov = &covs[class * d * d..(class + 1) * d * d];
            assert_close(
                "covariance",
                &m.covariance(class).unwrap(),
                want_cov,
                1e-4,
                scale(want_cov),
            );
        }
    }
    match (fit.projector(), &proj) {
        (Some(pr), Some(want)) => assert_close("projector", pr, want, 1e-4, 1.0),
        (Some(pr), None) => {
            // P W^T = 0 and P = P^2 (the wide case stores no projector)
            let w = teacher.head().unwrap();
            for r in 0..c {
                let row: Vec<f64> = w.weight()[r * d..(r + 1) * d].iter().map(|&v| f64::from(v)).collect();
                let pw: Vec<f64> = (0..d).map(|i| (0..d).map(|j| pr[i * d + j] * row[j]).sum()).collect();
                assert_close("P w", &pw, &vec![0.0; d], 1e-4, 1e-6);
            }
        }
        (None, _) => assert!(!p.null_space),
    }

    let out = teacher.forward(Inputs::Dense(emb)).unwrap();
    let t = LelpLabeler::builder(fit)
        .beta(p.beta)
        .tau(p.tau)
        .build()
        .unwrap()
        .targets(LabelerInput::from_teacher(&out))
        .unwrap();
    assert_eq!(t.log_probs().dims(), [n, c * p.s]);
    let q = host(t.probs());
    // probabilities: 1e-4 relative, with an absolute floor for tiny entries
    assert_close("targets", &q, &targets, 1e-4, 1e-3);
}

#[test]
fn digits_with_null_space_and_centring_match_numpy() {
    check_case("digits");
}

#[test]
fn random_data_without_projection_or_centring_match_numpy() {
    check_case("random");
}

/// d = 275: the block Krylov eigensolver, kernel tiles cut at the edge, a
/// covariance of rank 199 < d, the null-space projection through the
/// head's row basis.
#[test]
fn wide_embeddings_through_the_krylov_eigensolver_match_numpy() {
    check_case("wide");
}
