//! Dropout whose masks come from a per-thread host generator that the
//! [`Distiller`](super::Distiller) seeds at every training step from the
//! run's seed, the epoch and the batch.
//!
//! burn's `Dropout` draws from the backend's generator, which is global to
//! the process (fits on other threads, tests in parallel, draw from it
//! too) and is not part of a checkpoint, so a fit with dropout neither
//! repeats nor resumes to the same weights. These masks do both, and are
//! the same on every backend (drawn on the host, uploaded as a constant).

use std::cell::RefCell;

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

thread_local! {
    static MASKS: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

/// Seeds this thread's dropout generator (the Distiller does it before
/// every step; a training loop of one's own can do the same).
pub fn seed_dropout(seed: u64) {
    MASKS.with(|m| *m.borrow_mut() = Some(StdRng::seed_from_u64(seed)));
}

/// Inverted dropout: in a training step (`x` on an autodiff device) each
/// entry is zeroed with probability `p` and the others scaled by
/// `1 / (1 - p)`; elsewhere (inference, evaluation) `x` unchanged. The
/// mask comes from this thread's generator ([`seed_dropout`]; unseeded, a
/// seed from the operating system).
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
    if p <= 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let dims = x.dims();
    let n: usize = dims.iter().product();
    let scale = (1.0 / (1.0 - p)) as f32;
    // keep where a uniform u32 falls below (1 - p) 2^32
    let threshold = ((1.0 - p) * 4_294_967_296.0) as u64;
    let draw = |rng: &mut StdRng| -> Vec<f32> {
        (0..n)
            .map(|_| {
                if u64::from(rng.next_u32()) < threshold {
                    scale
                } else {
                    0.0
                }
            })
            .collect()
    };
    let mask = MASKS.with(|m| {
        let mut m = m.borrow_mut();
        draw(m.get_or_insert_with(StdRng::from_os_rng))
    });
    let device = x.device();
    x * Tensor::from_data(TensorData::new(mask, dims), &device)
}
