//! Losses of the distillation methods, in log space.
//!
//! - [`soft_target_loss`]: `alpha * CE(y, softmax(l)) + (1 - alpha) * tau^2
//!   * KL(q || softmax(z / tau))`, the loss of vanilla KD (`S = 1`) and of
//!   LELP (`S > 1`, with class logits `l_c = logsumexp_s z[c*S+s]`).
//! - [`feature_loss`]: mean squared error between a projection of the
//!   student embedding and the teacher embedding.
//! - [`dkd_loss`]: decoupled KD (target and non-target terms weighted
//!   apart).
//! - [`rkd_distance_loss`], [`rkd_angle_loss`]: relational KD on
//!   embeddings.
//! - [`subclass_aux_loss`]: Subclass Distillation's auxiliary loss on the
//!   teacher's subclass logits.
//! - [`binary_cross_entropy`], [`bernoulli_kd_loss`]: multi-label data, one
//!   sigmoid a label; KD with each label a Bernoulli variable.
//!
//! The KL is computed as `sum q (log q - log_softmax(z / tau))` from log
//! targets; zero-probability targets (`log q = -inf`) contribute 0.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::student::class_logits;

/// Mean cross-entropy `-log softmax(l)[y]` over the batch.
///
/// # Shapes
/// - `class_logits`: `[N, C]`; `one_hot`: `[N, C]` -> scalar `[1]`
pub fn cross_entropy(class_logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<1> {
    cross_entropy_rows(class_logits, one_hot).mean()
}

/// [`cross_entropy`] of each row, `[N, 1]`.
pub(crate) fn cross_entropy_rows(class_logits: Tensor<2>, one_hot: Tensor<2>) -> Tensor<2> {
    (log_softmax(class_logits, 1) * one_hot).sum_dim(1).neg()
}

/// The mean of per-row losses `[N, 1]`, or with row weights `w` (`[N,
/// 1]`, `>= 0`) their weighted mean `sum w_i l_i / sum w_i` (PyTorch's
/// reduction of a class-weighted cross-entropy); 0 when every weight of
/// the batch is 0.
pub(crate) fn reduce_rows(rows: Tensor<2>, w: Option<&Tensor<2>>) -> Tensor<1> {
    match w {
        None => rows.mean(),
        Some(w) => (rows * w.clone()).sum() / w.clone().sum().clamp_min(1e-12),
    }
}

/// Mean binary cross-entropy of one sigmoid a label against targets in
/// [0, 1] (PyTorch's `BCEWithLogitsLoss`, the mean over rows and labels),
/// in the stable form `max(z, 0) - z y + log(1 + exp(-|z|))`.
///
/// # Shapes
/// - `logits`, `targets`: `[N, C]` -> scalar `[1]`
pub fn binary_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    bce_rows(logits, targets).mean()
}

/// [`binary_cross_entropy`] of each row (the mean over its labels), `[N, 1]`.
pub(crate) fn bce_rows(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
    let soft_plus = logits.clone().abs().neg().exp().log1p();
    (logits.clone().clamp_min(0.0) - logits * targets + soft_plus).mean_dim(1)
}

/// Multi-label knowledge distillation, each label a Bernoulli variable:
/// `alpha BCE(z, y) + (1 - alpha) tau^2 BCE(z / tau, p)`, `p` the teacher's
/// per-label probabilities at `tau` (`sigmoid(z_T / tau)`), `y` the labels
/// (0/1). With one label it is softmax KD over two classes with logits
/// `(0, z)` up to the teacher's entropy (a constant: the same gradients).
///
/// # Shapes
/// - `logits`, `labels`, `teacher_probs`: `[N, C]` -> scalar `[1]`
pub fn bernoulli_kd_loss(
    logits: Tensor<2>,
    labels: Tensor<2>,
    teacher_probs: Tensor<2>,
    alpha: f64,
    tau: f64,
) -> Tensor<1> {
    bernoulli_kd_rows(logits, labels, teacher_probs, alpha, tau).mean()
}

/// [`bernoulli_kd_loss`] of each row, `[N, 1]`.
pub(crate) fn bernoulli_kd_rows(
    logits: Tensor<2>,
    labels: Tensor<2>,
    teacher_probs: Tensor<2>,
    alpha: f64,
    tau: f64,
) -> Tensor<2> {
    let soft = bce_rows(logits.clone().div_scalar(tau), teacher_probs).mul_scalar((1.0 - alpha) * tau * tau);
    if alpha > 0.0 {
        soft + bce_rows(logits, labels).mul_scalar(alpha)
    } else {
        soft
    }
}

/// Mean `KL(q || softmax(z / tau))` over the batch, from `log q`.
///
/// # Shapes
/// - `logits`, `log_targets`: `[N, K]` -> scalar `[1]`
pub fn kl_divergence(logits: Tensor<2>, log_targets: Tensor<2>, tau: f64) -> Tensor<1> {
    kl_rows(logits, log_targets, tau).mean()
}

/// [`kl_divergence`] of each row, `[N, 1]`.
fn kl_rows(logits: Tensor<2>, log_targets: Tensor<2>, tau: f64) -> Tensor<2> {
    let log_p = log_softmax(logits.div_scalar(tau), 1);
    let q = log_targets.clone().exp();
    // q * log q with log q = -inf -> 0: clamp first (q is exactly 0 there)
    let q_log_q = q.clone() * log_targets.clamp_min(-1.0e4);
    (q_log_q - q * log_p).sum_dim(1)
}

/// The soft-target distillation loss (vanilla KD with `S = 1`, LELP with
/// `S > 1`).
///
/// `L = alpha * CE(y, softmax(l)) + (1 - alpha) * tau^2 * KL(q ||
/// softmax(z / tau))`, with `l = class_logits(z)`.
///
/// # Shapes
/// - `logits`: `[N, C*S]`; `log_targets`: `[N, C*S]`; `one_hot`: `[N, C]`
pub fn soft_target_loss(
    logits: Tensor<2>,
    log_targets: Tensor<2>,
    one_hot: Tensor<2>,
    subclasses: usize,
    alpha: f64,
    tau: f64,
) -> Tensor<1> {
    soft_target_rows(logits, log_targets, one_hot, subclasses, alpha, tau).mean()
}

/// [`soft_target_loss`] of each row, `[N, 1]`.
pub(crate) fn soft_target_rows(
    logits: Tensor<2>,
    log_targets: Tensor<2>,
    one_hot: Tensor<2>,
    subclasses: usize,
    alpha: f64,
    tau: f64,
) -> Tensor<2> {
    let [_, c] = one_hot.dims();
    let kl = kl_rows(logits.clone(), log_targets, tau).mul_scalar((1.0 - alpha) * tau * tau);
    if alpha > 0.0 {
        let ce = cross_entropy_rows(class_logits(logits, c, subclasses), one_hot);
        kl + ce.mul_scalar(alpha)
    } else {
        kl
    }
}

/// Mean squared error per element between `projected` student embeddings
/// and teacher embeddings.
///
/// # Shapes
/// - `projected`, `teacher`: `[N, d]` -> scalar `[1]`
pub fn feature_loss(projected: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
    (projected - teacher).square().mean()
}

/// [`feature_loss`] of each row (the mean over its entries), `[N, 1]`.
pub(crate) fn feature_rows(projected: Tensor<2>, teacher: Tensor<2>) -> Tensor<2> {
    (projected - teacher).square().mean_dim(1)
}

/// `log sum_j exp(x_ij)` per row, stable (the row maximum is factored out;
/// it is a constant for the gradient, which stays exact).
///
/// # Shapes
/// - `x`: `[N, K]` -> `[N, 1]`
fn logsumexp_rows(x: Tensor<2>) -> Tensor<2> {
    let m = x.clone().max_dim(1).detach();
    (x - m.clone()).exp().sum_dim(1).log() + m
}

/// The weights of [`dkd_loss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DkdWeights {
    /// Cross-entropy on the labels.
    pub ce: f64,
    /// Target-class term (TCKD, `alpha` in Zhao et al.).
    pub tckd: f64,
    /// Non-target-class term (NCKD, `beta` in Zhao et al.).
    pub nckd: f64,
}

impl DkdWeights {
    /// Each weight finite and `>= 0`.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        for (name, w) in [("dkd_ce", self.ce), ("tckd", self.tckd), ("nckd", self.nckd)] {
            crate::util::check_weight(name, w)?;
        }
        Ok(())
    }
}

/// Decoupled KD (Zhao et al. 2022): `ce * CE(y, softmax(z)) + tau^2 *
/// (tckd * KL(b_T || b_S) + nckd * KL(q^_T || p^_S))`, where `b = [p_t,
/// 1 - p_t]` is the binary target-vs-rest split of the softened
/// distributions and `^` the distribution over the non-target classes.
///
/// With two classes the non-target distribution has one class, NCKD is
/// exactly 0, and DKD is `tckd` times vanilla KD's KL (plus the CE term).
///
/// # Shapes
/// - `logits`, `log_targets` (the teacher's `log softmax(z_T / tau)`),
///   `one_hot`: `[N, C]` -> scalar `[1]`
pub fn dkd_loss(logits: Tensor<2>, log_targets: Tensor<2>, one_hot: Tensor<2>, tau: f64, w: DkdWeights) -> Tensor<1> {
    dkd_rows(logits, log_targets, one_hot, tau, w).mean()
}

/// [`dkd_loss`] of each row, `[N, 1]`.
pub(crate) fn dkd_rows(
    logits: Tensor<2>,
    log_targets: Tensor<2>,
    one_hot: Tensor<2>,
    tau: f64,
    w: DkdWeights,
) -> Tensor<2> {
    let log_p = log_softmax(logits.clone().div_scalar(tau), 1);
    let log_q = log_targets.clamp_min(-1.0e4);
    // the target column pushed to exp(-1e4) = 0: sums over the others
    let mask_target = |x: Tensor<2>| x - one_hot.clone().mul_scalar(1.0e4);
    let (lp_t, lq_t) = (
        (log_p.clone() * one_hot.clone()).sum_dim(1),
        (log_q.clone() * one_hot.clone()).sum_dim(1),
    );
    let lp_nt = logsumexp_rows(mask_target(log_p.clone()));
    let lq_nt = logsumexp_rows(mask_target(log_q.clone()));
    let tckd = lq_t.clone().exp() * (lq_t - lp_t) + lq_nt.clone().exp() * (lq_nt.clone() - lp_nt.clone());
    let (lp_hat, lq_hat) = (log_p - lp_nt, log_q - lq_nt);
    let others = one_hot.clone().neg().add_scalar(1.0);
    let nckd = (lq_hat.clone().exp() * (lq_hat - lp_hat) * others).sum_dim(1);
    let kd = (tckd.mul_scalar(w.tckd) + nckd.mul_scalar(w.nckd)).mul_scalar(tau * tau);
    if w.ce > 0.0 {
        kd + cross_entropy_rows(logits, one_hot).mul_scalar(w.ce)
    } else {
        kd
    }
}

/// The Huber loss with threshold 1 (PyTorch's `smooth_l1_loss`), mean over
/// entries: `0.5 x^2` for `|x| < 1`, else `|x| - 0.5`.
fn smooth_l1<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    let x = (a - b).abs();
    let m = x.clone().clamp_max(1.0);
    (m.clone().square().mul_scalar(0.5) + x - m).mean()
}

/// Pairwise Euclidean distances, 0 on the diagonal; squared distances are
/// clamped at `1e-12` before the root (finite gradients for coincident
/// rows).
fn pairwise_distances(x: Tensor<2>) -> Tensor<2> {
    let [n, _] = x.dims();
    let sq = x.clone().square().sum_dim(1); // [N, 1]
    let prod = x.clone().matmul(x.transpose());
    let d = (sq.clone() + sq.transpose() - prod.mul_scalar(2.0))
        .clamp_min(1e-12)
        .sqrt();
    let eye = Tensor::<2>::eye(n, &d.device());
    d * eye.neg().add_scalar(1.0)
}

/// RKD's distance term (Park et al. 2019): Huber loss between the pairwise
/// distances of student and teacher embeddings, each divided by its mean
/// over the `N (N - 1)` pairs. Widths may differ: relations are compared,
/// not coordinates.
///
/// # Shapes
/// - `student`: `[N, e]`, `teacher`: `[N, d]` -> scalar `[1]`
pub fn rkd_distance_loss(student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
    let [n, _] = student.dims();
    let pairs = (n * n.saturating_sub(1)).max(1) as f64;
    let normalised = |x: Tensor<2>| {
        let d = pairwise_distances(x);
        let mean = d.clone().sum().div_scalar(pairs).clamp_min(1e-12);
        d / mean.unsqueeze_dim(0)
    };
    smooth_l1(normalised(student), normalised(teacher.detach()))
}

/// RKD's angle term: Huber loss between the cosines of the angles
/// `(x_j - x_i, x_k - x_i)` over all triplets, student against teacher.
///
/// Pairs closer than `1e-6` count as coincident: their direction is 0 and
/// carries no gradient (a plain normalisation, as `F.normalize`, divides
/// by `1e-12` there and sends gradients of order `1e12` into duplicate
/// rows, e.g. duplicate texts in one batch).
///
/// # Shapes
/// - `student`: `[N, e]`, `teacher`: `[N, d]` -> scalar `[1]`
pub fn rkd_angle_loss(student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
    let cosines = |x: Tensor<2>| {
        let [n, d] = x.dims();
        // diff[i, j] = x_j - x_i, unit length (0 for coincident rows)
        let diff = x.clone().unsqueeze_dim::<3>(0).expand([n, n, d]) - x.unsqueeze_dim::<3>(1);
        let norm = diff.clone().square().sum_dim(2).clamp_min(1e-24).sqrt();
        let apart = norm.clone().greater_elem(1e-6).float().detach();
        let unit = diff / norm.clamp_min(1e-6) * apart;
        unit.clone().matmul(unit.swap_dims(1, 2)) // [N, N, N]
    };
    smooth_l1(cosines(student), cosines(teacher.detach()))
}

/// Subclass Distillation's auxiliary loss on the teacher (Mueller,
/// Kornblith, Hinton 2020, as in the authors' reference code): each row
/// of subclass logits is standardised over its `K = C*S` entries and
/// scaled by `1 / sqrt(T K)`, so that `v_i . v_i = 1 / T`; the loss is
/// `mean_i logsumexp_j (v_i . v_j) - 1 / T - log N`, the cross-entropy of
/// picking each example out of its batch by its subclass pattern, less
/// `log N`. It falls as the examples' patterns decorrelate: it spreads a
/// batch over the subclasses.
///
/// # Shapes
/// - `logits`: `[N, C*S]` -> scalar `[1]`
pub fn subclass_aux_loss(logits: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [n, k] = logits.dims();
    let mean = logits.clone().mean_dim(1);
    let centred = logits - mean;
    let var = centred.clone().square().mean_dim(1);
    let v = centred / (var + 1e-9).sqrt().mul_scalar((temperature * k as f64).sqrt());
    let sims = v.clone().matmul(v.transpose());
    logsumexp_rows(sims)
        .mean()
        .reshape([1])
        .sub_scalar(1.0 / temperature + (n as f64).ln())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{matrix_f64, one_hot, to_host_f32};

    fn case(name: &str) -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/class_weights/expected.json");
        let all: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        all[name].clone()
    }

    fn mat(v: &serde_json::Value, device: &Device) -> Tensor<2> {
        let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        matrix_f64(&flat, rows.len(), rows[0].len(), device)
    }

    fn list<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Vec<T> {
        serde_json::from_value(v.clone()).unwrap()
    }

    fn weights(labels: &[usize], w: &[f64], device: &Device) -> Tensor<2> {
        let rows: Vec<f64> = labels.iter().map(|&l| w[l]).collect();
        matrix_f64(&rows, labels.len(), 1, device)
    }

    fn value(t: Tensor<1>) -> f64 {
        f64::from(to_host_f32(t).unwrap()[0])
    }

    /// The weighted mean of the per-row losses equals numpy's
    /// (tests/data/class_weights/reference.py) for cross-entropy, the
    /// soft-target loss with subclasses and DKD; without weights the row
    /// losses reduce to the public mean losses.
    #[test]
    fn class_weighted_losses_match_numpy() {
        let device = Device::flex();
        let c = case("soft");
        let labels: Vec<usize> = list(&c["labels"]);
        let (classes, s) = (
            c["classes"].as_u64().unwrap() as usize,
            c["subclasses"].as_u64().unwrap() as usize,
        );
        let (tau, alpha) = (c["tau"].as_f64().unwrap(), c["alpha"].as_f64().unwrap());
        let (z, lq) = (mat(&c["logits"], &device), mat(&c["log_targets"], &device));
        let y = one_hot(&labels, classes, &device);
        let w = weights(&labels, &list::<f64>(&c["weights"]), &device);
        let rows = soft_target_rows(z.clone(), lq.clone(), y.clone(), s, alpha, tau);
        let got = value(reduce_rows(rows.clone(), Some(&w)));
        let want = c["loss"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "soft: {got} vs {want}");
        let plain = value(soft_target_loss(z.clone(), lq, y.clone(), s, alpha, tau));
        let want = c["unweighted"].as_f64().unwrap();
        assert!(
            (plain - want).abs() < 1e-5 * want.abs().max(1.0),
            "unweighted: {plain} vs {want}"
        );
        assert!((value(reduce_rows(rows, None)) - plain).abs() < 1e-6);
        let ce = value(reduce_rows(
            cross_entropy_rows(class_logits(z, classes, s), y),
            Some(&w),
        ));
        let want = c["ce"].as_f64().unwrap();
        assert!((ce - want).abs() < 1e-5 * want.abs().max(1.0), "ce: {ce} vs {want}");

        let c = case("dkd");
        let labels: Vec<usize> = list(&c["labels"]);
        let classes = c["classes"].as_u64().unwrap() as usize;
        let tau = c["tau"].as_f64().unwrap();
        let dw = DkdWeights {
            ce: c["dkd"]["ce"].as_f64().unwrap(),
            tckd: c["dkd"]["tckd"].as_f64().unwrap(),
            nckd: c["dkd"]["nckd"].as_f64().unwrap(),
        };
        let (z, lq) = (mat(&c["logits"], &device), mat(&c["log_targets"], &device));
        let y = one_hot(&labels, classes, &device);
        let w = weights(&labels, &list::<f64>(&c["weights"]), &device);
        let got = value(reduce_rows(
            dkd_rows(z.clone(), lq.clone(), y.clone(), tau, dw),
            Some(&w),
        ));
        let want = c["loss"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "dkd: {got} vs {want}");
        let plain = value(dkd_loss(z, lq, y, tau, dw));
        let want = c["unweighted"].as_f64().unwrap();
        assert!(
            (plain - want).abs() < 1e-4 * want.abs().max(1.0),
            "dkd unweighted: {plain} vs {want}"
        );

        let c = case("balanced");
        let labels: Vec<usize> = list(&c["labels"]);
        let got = crate::train::balanced_class_weights(&labels, c["classes"].as_u64().unwrap() as usize);
        let want: Vec<f64> = list(&c["weights"]);
        assert!(
            got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{got:?} vs {want:?}"
        );
    }

    /// Binary cross-entropy and Bernoulli KD equal numpy's
    /// (tests/data/multi_label/reference.py); with one label, Bernoulli KD
    /// is softmax KD over two classes whose logits are `(0, z)`.
    #[test]
    fn multi_label_losses_match_numpy() {
        let device = Device::flex();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/multi_label/expected.json");
        let all: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let c = &all["losses"];
        let (tau, alpha) = (c["tau"].as_f64().unwrap(), c["alpha"].as_f64().unwrap());
        let (z, t, y) = (
            mat(&c["logits"], &device),
            mat(&c["teacher_logits"], &device),
            mat(&c["labels"], &device),
        );
        let got = value(binary_cross_entropy(z.clone(), y.clone()));
        let want = c["bce"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "bce: {got} vs {want}");
        let p = burn::tensor::activation::sigmoid(t.div_scalar(tau));
        let got = value(bernoulli_kd_loss(z, y, p, alpha, tau));
        let want = c["bernoulli_kd"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "kd: {got} vs {want}");

        // one label: sigmoid(z) = softmax((0, z))[1], so Bernoulli KD is softmax
        // KD over two classes up to the teacher's entropy (the KL leaves it
        // out, the BCE keeps it): the same gradients
        let z1 = matrix_f64(&[1.5, -0.7, 3.0], 3, 1, &device);
        let zt = matrix_f64(&[0.4, -2.0, 1.0], 3, 1, &device);
        let y1 = matrix_f64(&[1.0, 0.0, 1.0], 3, 1, &device);
        let two = |x: Tensor<2>| Tensor::cat(vec![x.clone().zeros_like(), x], 1);
        let q = burn::tensor::activation::log_softmax(two(zt.clone()).div_scalar(tau), 1);
        let softmax_kd = value(soft_target_loss(
            two(z1.clone()),
            q,
            one_hot(&[1, 0, 1], 2, &device),
            1,
            alpha,
            tau,
        ));
        let p1: Vec<f64> = [0.4f64, -2.0, 1.0]
            .iter()
            .map(|t| 1.0 / (1.0 + (-t / tau).exp()))
            .collect();
        let entropy = p1
            .iter()
            .map(|p| -(p * p.ln() + (1.0 - p) * (1.0 - p).ln()))
            .sum::<f64>()
            / 3.0;
        let p1 = burn::tensor::activation::sigmoid(zt.div_scalar(tau));
        let bernoulli = value(bernoulli_kd_loss(z1, y1, p1, alpha, tau));
        let gap = (1.0 - alpha) * tau * tau * entropy;
        assert!(
            (bernoulli - softmax_kd - gap).abs() < 1e-5,
            "{bernoulli} - {softmax_kd} vs {gap}"
        );
    }

    /// Weights that are all equal change nothing (the weighted mean is the
    /// mean); a zero weight removes its rows from the loss.
    #[test]
    fn uniform_weights_are_the_mean_and_zero_weights_drop_rows() {
        let device = Device::flex();
        let rows = matrix_f64(&[1.0, 2.0, 3.0, 10.0], 4, 1, &device);
        let two = matrix_f64(&[2.0; 4], 4, 1, &device);
        assert!((value(reduce_rows(rows.clone(), Some(&two))) - 4.0).abs() < 1e-6);
        let drop_last = matrix_f64(&[1.0, 1.0, 1.0, 0.0], 4, 1, &device);
        assert!((value(reduce_rows(rows, Some(&drop_last))) - 2.0).abs() < 1e-6);
    }
}
