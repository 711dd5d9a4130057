//! Purity, NMI and the subclass alignment: against scikit-learn 1.6.1
//! (tests/data/metrics/reference.py), and the alignment of the oracle's and
//! LELP's targets with the true digits of the parity task; the fidelity to
//! a teacher against numpy (tests/data/fidelity/reference.py); the
//! classification scores against scikit-learn 1.7.2
//! (tests/data/scores/reference.py).

mod common;

use common::device;
use lelp::data::Dataset;
use lelp::metrics::{argmax_subclasses, nmi, purity, subclass_alignment};
use lelp::teacher::{ModuleTeacher, TeacherEncoder};
use lelp::train::{DistillConfig, Distiller, KdConfig, LelpConfig, Method, MlpConfig};

#[derive(serde::Deserialize)]
struct Case {
    groups: Vec<usize>,
    truth: Vec<usize>,
    purity: f64,
    nmi: f64,
}

#[derive(serde::Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[test]
fn purity_and_nmi_match_scikit_learn() {
    let text = std::fs::read_to_string(common::data_path("metrics", "expected.json")).unwrap();
    let r: Reference = serde_json::from_str(&text).unwrap();
    assert_eq!(r.cases.len(), 5);
    for (i, c) in r.cases.iter().enumerate() {
        let p = purity(&c.groups, &c.truth).unwrap();
        let m = nmi(&c.groups, &c.truth).unwrap();
        assert!((p - c.purity).abs() < 1e-12, "case {i}: purity {p} vs {}", c.purity);
        assert!((m - c.nmi).abs() < 1e-10, "case {i}: nmi {m} vs {}", c.nmi);
        // NMI is symmetric; purity is not in general
        assert!((nmi(&c.truth, &c.groups).unwrap() - m).abs() < 1e-12);
    }
}

/// The oracle puts each row's class mass on its digit's slot: the argmax
/// pseudo-subclass is the digit, purity and NMI are 1. LELP's split of the
/// same rows finds part of the digit structure: above the majority share
/// and far above a split that ignores the data.
#[test]
fn oracle_aligns_exactly_and_lelp_beats_chance() {
    let device = device();
    let data = Dataset::uci_digits().parity().unwrap();
    let (train, _) = data.split(0.3, 0).unwrap();
    let teacher = MlpConfig::new(64, vec![64], 2).with_seed(0).init(&device).unwrap();
    let plain = Method::Plain.prepare(&train, None).unwrap();
    let teacher = Distiller::new(DistillConfig::new(5, 3e-3))
        .fit(teacher, &train, &plain, None, &device)
        .unwrap()
        .student;
    let out = ModuleTeacher::new(teacher)
        .unwrap()
        .encode(&train, 512, &device)
        .unwrap();
    let fine = train.fine_labels().unwrap();

    let oracle = Method::Oracle(KdConfig::new()).prepare(&train, Some(&out)).unwrap();
    let sub = argmax_subclasses(oracle.soft_targets().unwrap(), train.labels()).unwrap();
    let a = subclass_alignment(&sub, train.labels(), fine).unwrap();
    assert_eq!(a.purity, 1.0);
    assert!((a.nmi - 1.0).abs() < 1e-12);
    assert!(a.majority < 0.3, "five digits a class: majority {}", a.majority);

    let lelp = Method::Lelp(LelpConfig::new(5).with_seed(3))
        .prepare(&train, Some(&out))
        .unwrap();
    let sub = argmax_subclasses(lelp.soft_targets().unwrap(), train.labels()).unwrap();
    let l = subclass_alignment(&sub, train.labels(), fine).unwrap();
    // a split by row index carries no information about the digit
    let by_index: Vec<usize> = (0..train.len()).map(|i| i % 5).collect();
    let chance = subclass_alignment(&by_index, train.labels(), fine).unwrap();
    assert!(chance.nmi < 0.05, "index split nmi {}", chance.nmi);
    assert!(l.nmi > chance.nmi + 0.1, "LELP nmi {} vs chance {}", l.nmi, chance.nmi);
    assert!(
        l.purity > l.majority,
        "LELP purity {} vs majority {}",
        l.purity,
        l.majority
    );

    let bad_labels = vec![2; train.len()];
    assert!(matches!(
        argmax_subclasses(lelp.soft_targets().unwrap(), &bad_labels),
        Err(lelp::LelpError::LabelOutOfRange { .. })
    ));
}

#[derive(serde::Deserialize)]
struct FidelityCase {
    classes: usize,
    teacher: Vec<f32>,
    student: Vec<f32>,
    agreement: f64,
    per_class: Vec<lelp::metrics::ClassAgreement>,
    confusion: Vec<Vec<usize>>,
    mean_kl: f64,
    mean_tv: f64,
    by_confidence: Vec<lelp::metrics::ConfidenceBin>,
}

#[derive(serde::Deserialize)]
struct FidelityReference {
    cases: Vec<FidelityCase>,
}

/// `fidelity` against numpy (tests/data/fidelity/reference.py): the
/// teacher-by-student confusion and the confidence groups' rows exactly;
/// agreement overall, per class and per group, and the groups' bounds to
/// 1e-12 (a ratio numpy forms as a mean); KL and TV to 1e-9 (both sum in
/// f64 over the same f32 inputs).
#[test]
fn fidelity_matches_numpy() {
    let text = std::fs::read_to_string(common::data_path("fidelity", "expected.json")).unwrap();
    let r: FidelityReference = serde_json::from_str(&text).unwrap();
    assert_eq!(r.cases.len(), 5);
    for (k, case) in r.cases.iter().enumerate() {
        let f = lelp::metrics::fidelity(&case.teacher, &case.student, case.classes).unwrap();
        assert_eq!(f.rows, case.teacher.len() / case.classes, "case {k}");
        assert!((f.agreement - case.agreement).abs() < 1e-12, "case {k}");
        for (a, e) in f.per_class.iter().zip(&case.per_class) {
            assert_eq!(a.rows, e.rows, "case {k}");
            let (x, y) = (a.agreement.unwrap_or(-1.0), e.agreement.unwrap_or(-1.0));
            assert!((x - y).abs() < 1e-12, "case {k}: {x} vs {y}");
        }
        assert_eq!(f.per_class.len(), case.per_class.len(), "case {k}");
        assert_eq!(f.confusion, case.confusion, "case {k}");
        assert!(
            (f.mean_kl - case.mean_kl).abs() < 1e-9,
            "case {k}: {} vs {}",
            f.mean_kl,
            case.mean_kl
        );
        assert!(
            (f.mean_tv - case.mean_tv).abs() < 1e-9,
            "case {k}: {} vs {}",
            f.mean_tv,
            case.mean_tv
        );
        assert_eq!(f.by_confidence.len(), 10, "case {k}");
        for (b, e) in f.by_confidence.iter().zip(&case.by_confidence) {
            assert_eq!(b.rows, e.rows, "case {k}");
            match (b.agreement, e.agreement) {
                (Some(a), Some(ea)) => assert!((a - ea).abs() < 1e-12, "case {k}: {a} vs {ea}"),
                (a, ea) => assert_eq!(a, ea, "case {k}"),
            }
            match (b.confidence, e.confidence) {
                (Some((lo, hi)), Some((elo, ehi))) => {
                    assert!((lo - elo).abs() < 1e-12 && (hi - ehi).abs() < 1e-12, "case {k}")
                }
                (None, None) => {}
                other => panic!("case {k}: {other:?}"),
            }
        }
    }
}

#[test]
fn fidelity_refuses_bad_input() {
    use lelp::LelpError;
    use lelp::metrics::fidelity;
    assert!(matches!(fidelity(&[], &[], 2), Err(LelpError::EmptyData { .. })));
    assert!(matches!(
        fidelity(&[0.5, 0.5], &[0.5, 0.5], 0),
        Err(LelpError::EmptyData { .. })
    ));
    assert!(matches!(
        fidelity(&[0.5, 0.5], &[0.5, 0.5, 0.5], 2),
        Err(LelpError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        fidelity(&[0.5, 0.5, 0.2], &[0.5, 0.5, 0.2], 2),
        Err(LelpError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        fidelity(&[0.5, 0.5, 0.1, 0.9], &[0.5, 0.5, f32::NAN, 0.9], 2),
        Err(LelpError::NonFinite { row: 1, col: 0, .. })
    ));
}

#[derive(serde::Deserialize)]
struct ScoresReference {
    cases: Vec<ScoresCase>,
}

#[derive(serde::Deserialize)]
struct ScoresCase {
    name: String,
    classes: usize,
    probs: Vec<Vec<f32>>,
    labels: Vec<usize>,
    accuracy: f64,
    precision: Vec<f64>,
    recall: Vec<f64>,
    f1: Vec<f64>,
    support: Vec<usize>,
    macro_precision: f64,
    macro_recall: f64,
    macro_f1: f64,
    weighted_f1: f64,
    top_k: Vec<(usize, f64)>,
    ece: f64,
}

/// Precision, recall, F1 (per class, macro and weighted), top-k accuracy
/// and the expected calibration error equal scikit-learn's and numpy's
/// (tests/data/scores/reference.py): a majority-class model on 95/5 data,
/// classes absent from the labels or the predictions, a handful of rows,
/// tied probabilities.
#[test]
fn scores_match_scikit_learn() {
    let text = std::fs::read_to_string(common::data_path("scores", "expected.json")).unwrap();
    let r: ScoresReference = serde_json::from_str(&text).unwrap();
    assert_eq!(r.cases.len(), 5);
    let close = |a: f64, b: f64, what: &str, name: &str| assert!((a - b).abs() < 1e-9, "{name} {what}: {a} vs {b}");
    for case in &r.cases {
        let name = case.name.as_str();
        let probs: Vec<f32> = case.probs.iter().flatten().copied().collect();
        let s = lelp::metrics::scores(&probs, &case.labels, case.classes).unwrap();
        assert_eq!(s.rows, case.labels.len());
        close(s.accuracy, case.accuracy, "accuracy", name);
        assert_eq!(s.per_class.len(), case.classes, "{name}");
        for (k, c) in s.per_class.iter().enumerate() {
            close(c.precision, case.precision[k], "precision", name);
            close(c.recall, case.recall[k], "recall", name);
            close(c.f1, case.f1[k], "f1", name);
            assert_eq!(c.support, case.support[k], "{name}");
        }
        close(s.macro_precision, case.macro_precision, "macro precision", name);
        close(s.macro_recall, case.macro_recall, "macro recall", name);
        close(s.macro_f1, case.macro_f1, "macro F1", name);
        close(s.weighted_f1, case.weighted_f1, "weighted F1", name);
        assert_eq!(s.top_k.len(), case.top_k.len(), "{name}");
        for ((k, a), (ek, e)) in s.top_k.iter().zip(&case.top_k) {
            assert_eq!(k, ek, "{name}");
            close(*a, *e, "top-k", name);
        }
        close(s.ece, case.ece, "ECE", name);
    }
}

#[test]
fn scores_refuse_bad_input() {
    use lelp::LelpError;
    assert!(matches!(
        lelp::metrics::scores(&[], &[], 2),
        Err(LelpError::EmptyData { .. })
    ));
    assert!(matches!(
        lelp::metrics::scores(&[0.5, 0.5, 1.0], &[0, 1], 2),
        Err(LelpError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        lelp::metrics::scores(&[0.5, 0.5, 1.0, 0.0], &[0, 2], 2),
        Err(LelpError::LabelOutOfRange { label: 2, row: 1, .. })
    ));
    assert!(matches!(
        lelp::metrics::scores(&[0.5, f32::NAN], &[0], 2),
        Err(LelpError::NonFinite { row: 0, col: 1, .. })
    ));
}

/// The cascade's threshold is the best of every candidate, found by brute
/// force with `coverage_curve` at each of the student's top probabilities:
/// for a target agreement the most coverage that meets it, for a target
/// coverage the highest threshold that reaches it.
#[test]
fn cascade_threshold_is_the_brute_force_best() {
    use lelp::metrics::{CascadeTarget, cascade_threshold, coverage_curve};
    let (n, c) = (60, 3);
    let noise = common::pseudo(n * c * 2, 5);
    let norm = |row: &[f32]| -> Vec<f32> {
        let e: Vec<f32> = row.iter().map(|v| (3.0 * v).exp()).collect();
        let s: f32 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    };
    let student: Vec<f32> = noise[..n * c].chunks(c).flat_map(norm).collect();
    let teacher: Vec<f32> = noise[..n * c]
        .iter()
        .zip(&noise[n * c..])
        .map(|(a, b)| a + 0.7 * b)
        .collect::<Vec<_>>()
        .chunks(c)
        .flat_map(norm)
        .collect();
    let labels: Vec<usize> = (0..n).map(|i| i % c).collect();
    let mut candidates: Vec<f64> = student
        .chunks(c)
        .map(|r| f64::from(r.iter().copied().fold(f32::MIN, f32::max)))
        .collect();
    candidates.push(1.0);
    let curve = coverage_curve(&student, &teacher, &labels, c, &candidates).unwrap();
    for a in [0.8, 0.9, 0.95, 1.0] {
        let (t, p) = cascade_threshold(&student, &teacher, &labels, c, CascadeTarget::Agreement(a)).unwrap();
        let best = curve
            .iter()
            .filter(|q| q.agreement >= a)
            .map(|q| q.coverage)
            .fold(0.0, f64::max);
        assert!(
            (p.coverage - best).abs() < 1e-12 && p.agreement >= a,
            "agreement {a}: {t} {p:?}, best {best}"
        );
    }
    for v in [0.25, 0.5, 0.9] {
        let (t, p) = cascade_threshold(&student, &teacher, &labels, c, CascadeTarget::Coverage(v)).unwrap();
        let best = curve
            .iter()
            .filter(|q| q.coverage >= v)
            .map(|q| q.threshold)
            .fold(0.0, f64::max);
        assert!(t == best && p.coverage >= v, "coverage {v}: {t} vs {best}");
    }
    for bad in [0.0, 1.5, f64::NAN] {
        assert!(cascade_threshold(&student, &teacher, &labels, c, CascadeTarget::Agreement(bad)).is_err());
    }
}
