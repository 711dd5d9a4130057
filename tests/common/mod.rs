//! Shared test helpers: the device under test and reference-file loading.
#![allow(dead_code)]

use burn::prelude::*;
use lelp::io::npy::NpyArray;

/// The device named by `LELP_TEST_DEVICE` (flex when unset).
pub fn device() -> Device {
    lelp::device::from_env("LELP_TEST_DEVICE").expect("LELP_TEST_DEVICE names a device this build supports")
}

/// The name of the device under test.
pub fn device_name() -> String {
    std::env::var("LELP_TEST_DEVICE").unwrap_or_else(|_| "flex".into())
}

/// Path of a reference file under tests/data.
pub fn data_path(case: &str, file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(case)
        .join(file)
}

/// Loads a reference array as (shape, f64 values).
pub fn load(case: &str, file: &str) -> (Vec<usize>, Vec<f64>) {
    let a = NpyArray::read(data_path(case, file)).unwrap();
    (a.shape.clone(), a.to_f64())
}

/// Asserts `|a - b| <= rel * max(|b|, floor)` elementwise.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64, floor: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = rel * w.abs().max(floor);
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w} (tol {tol})");
    }
}

/// Reads a tensor back as f64.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// A row-major `[n, k]` tensor on `device`.
pub fn rows(v: Vec<f32>, n: usize, k: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [n, k]), device)
}

/// Deterministic numbers in `[-2, 2)`.
pub fn pseudo(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32 + 1).wrapping_mul(2654435761u32) ^ seed) % 1000) as f32 / 250.0 - 2.0)
        .collect()
}

/// Central finite differences of `f` at `z` against autodiff.
pub fn check_gradient(f: impl Fn(Tensor<2>) -> Tensor<1>, z0: Vec<f32>, n: usize, k: usize) {
    let device = device().autodiff();
    let z = rows(z0.clone(), n, k, &device).require_grad();
    let loss = f(z.clone());
    let grads = loss.backward();
    let g = host(z.grad(&grads).unwrap());
    let eps = 1e-2f32;
    for i in 0..z0.len() {
        let mut plus = z0.clone();
        plus[i] += eps;
        let mut minus = z0.clone();
        minus[i] -= eps;
        let lp = host(f(rows(plus, n, k, &device)))[0];
        let lm = host(f(rows(minus, n, k, &device)))[0];
        let fd = (lp - lm) / (2.0 * eps as f64);
        assert!(
            (fd - g[i]).abs() <= 2e-3 + 2e-2 * fd.abs(),
            "entry {i}: finite difference {fd} vs autodiff {}",
            g[i]
        );
    }
}

/// A fresh temporary directory.
pub fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lelp-test-{name}-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}
