//! Losses of the three distillation methods, in log space.
//!
//! - [`soft_target_loss`]: `alpha * CE(y, softmax(l)) + (1 - alpha) * tau^2
//!   * KL(q || softmax(z / tau))`, the loss of vanilla KD (`S = 1`) and of
//!   LELP (`S > 1`, with class logits `l_c = logsumexp_s z[c*S+s]`).
//! - [`feature_loss`]: mean squared error between a projection of the
//!   student embedding and the teacher embedding.
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
    let [n, _] = class_logits.dims();
    (log_softmax(class_logits, 1) * one_hot)
        .sum()
        .neg()
        .div_scalar(n as f64)
}

/// Mean `KL(q || softmax(z / tau))` over the batch, from `log q`.
///
/// # Shapes
/// - `logits`, `log_targets`: `[N, K]` -> scalar `[1]`
pub fn kl_divergence(logits: Tensor<2>, log_targets: Tensor<2>, tau: f64) -> Tensor<1> {
    let [n, _] = logits.dims();
    let log_p = log_softmax(logits.div_scalar(tau), 1);
    let q = log_targets.clone().exp();
    // q * log q with log q = -inf -> 0: clamp first (q is exactly 0 there)
    let q_log_q = q.clone() * log_targets.clamp_min(-1.0e4);
    (q_log_q - q * log_p).sum().div_scalar(n as f64)
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
    let [_, c] = one_hot.dims();
    let kl = kl_divergence(logits.clone(), log_targets, tau).mul_scalar((1.0 - alpha) * tau * tau);
    if alpha > 0.0 {
        let ce = cross_entropy(class_logits(logits, c, subclasses), one_hot);
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
