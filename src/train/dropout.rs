//! Dropout whose masks come from a per-thread host generator that the
//! [`Distiller`](super::Distiller) seeds at every training step from the
//! run's seed, the epoch and the batch.
//!
//! burn's `Dropout` draws from the backend's generator, which is global to
//! the process (fits on other threads, tests in parallel, draw from it
//! too) and is not part of a checkpoint, so a fit with dropout neither
//! repeats nor resumes to the same weights. These masks do both, and are
//! the same on every backend (drawn on the host, uploaded as a constant).

use std::cell::Cell;

use burn::prelude::*;

use crate::util::splitmix64;

thread_local! {
    /// The generator's state: SplitMix64's counter (fast, and plenty
    /// random for masks: a mask of the L3 at 128 tokens is ~30M draws).
    static MASKS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Seeds this thread's dropout generator (the Distiller does it before
/// every step; a training loop of one's own can do the same).
pub fn seed_dropout(seed: u64) {
    MASKS.set(Some(seed));
}

/// This thread's generator as it was when the scope began, put back when
/// it ends: a fit that runs inside another's step on the same thread (a
/// rayon task stolen while the outer fit waits on a parallel product)
/// leaves the outer fit's masks as they were.
pub(crate) struct DropoutScope(Option<u64>);

impl DropoutScope {
    pub(crate) fn enter() -> Self {
        Self(MASKS.get())
    }
}

impl Drop for DropoutScope {
    fn drop(&mut self) {
        MASKS.set(self.0);
    }
}

/// Inverted dropout: in a training step (`x` on an autodiff device) each
/// entry is zeroed with probability `p` and the others scaled by
/// `1 / (1 - p)`; elsewhere (inference, evaluation) `x` unchanged. The
/// mask comes from this thread's generator ([`seed_dropout`]; outside a
/// fit and never seeded, a seed from the operating system). `p` is a
/// probability in `[0, 1)`: 0 or NaN leave `x` as it is, 1 and above zero
/// it.
///
/// # Example
/// ```
/// use burn::prelude::*;
/// use lelp::train::{dropout, seed_dropout};
/// let device = Device::default();
/// let x = Tensor::<2>::ones([4, 256], &device);
/// // inference: unchanged
/// assert_eq!(dropout(x.clone(), 0.5).sum().into_scalar::<f32>(), 1024.0);
/// // training: about half zeroed, the rest doubled; the same mask for the same seed
/// let ad = device.autodiff();
/// let draw = || {
///     seed_dropout(7);
///     dropout(Tensor::<2>::ones([4, 256], &ad), 0.5).into_data().try_to_vec::<f32>().unwrap()
/// };
/// let (a, b) = (draw(), draw());
/// assert_eq!(a, b);
/// let kept = a.iter().filter(|v| **v == 2.0).count();
/// assert!(kept > 400 && kept < 624 && a.iter().all(|v| *v == 0.0 || *v == 2.0));
/// ```
pub fn dropout<const D: usize>(x: Tensor<D>, p: f64) -> Tensor<D> {
    if p.is_nan() || p <= 0.0 || !x.device().is_autodiff() {
        return x;
    }
    if p >= 1.0 {
        return x.zeros_like();
    }
    let dims = x.dims();
    let n: usize = dims.iter().product();
    let scale = (1.0 / (1.0 - p)) as f32;
    // keep where a uniform u32 (each half of a 64-bit draw) falls below
    // (1 - p) 2^32
    let threshold = ((1.0 - p) * 4_294_967_296.0) as u64;
    let keep = |bits: u64| if bits < threshold { scale } else { 0.0 };
    let mut state = MASKS.get().unwrap_or_else(rand::random);
    let mut mask = Vec::with_capacity(n + 1);
    while mask.len() < n {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = splitmix64(state);
        mask.push(keep(z >> 32));
        mask.push(keep(z & 0xffff_ffff));
    }
    mask.truncate(n);
    MASKS.set(Some(state));
    let device = x.device();
    x * Tensor::from_data(TensorData::new(mask, dims), &device)
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::{dropout, seed_dropout};
    use crate::data::Dataset;
    use crate::train::{DistillConfig, Distiller, Method, MlpConfig};

    /// A fit run on this thread between two draws (it seeds the generator
    /// at each of its steps) leaves the second draw what it would have
    /// been without it; p at or past 1 zeroes, NaN leaves as is.
    #[test]
    fn a_fit_leaves_the_threads_masks_as_they_were() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let draw = || {
            dropout(Tensor::<2>::ones([2, 64], &ad), 0.5)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        seed_dropout(3);
        let (a1, a2) = (draw(), draw());
        seed_dropout(3);
        let b1 = draw();
        let rows: Vec<f32> = (0..32).map(|i| (i % 7) as f32 - 3.0).collect();
        let data = Dataset::new(rows, 4, (0..8).map(|i| i % 2).collect(), 2).unwrap();
        let targets = Method::Plain.prepare(&data, None).unwrap();
        let mlp = MlpConfig::new(4, vec![4], 2).init(&device).unwrap();
        Distiller::new(DistillConfig::new(2, 1e-2).with_batch_size(2))
            .fit(mlp, &data, &targets, None, &device)
            .unwrap();
        assert_eq!((a1, a2), (b1, draw()));
        let ones = || Tensor::<2>::ones([2, 3], &ad);
        assert_eq!(dropout(ones(), 1.0).sum().into_scalar::<f32>(), 0.0);
        assert_eq!(dropout(ones(), f64::NAN).sum().into_scalar::<f32>(), 6.0);
    }
}
