//! The same seed gives the same bits on Flex in another process and with
//! another thread count, including burn-flex's parallel paths (a matmul
//! above its 192^3 threshold, a sum over more than 4M elements) and a fit
//! plus training run. Children run with `RAYON_NUM_THREADS=1` and `=2`.

use std::process::Command;

use burn::prelude::*;
use lelp::data::Dataset;
use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder};
use lelp::train::{DistillConfig, Distiller, LelpConfig, Method, MlpConfig, Student};

const CHILD_ENV: &str = "LELP_DETERMINISM_CHILD";

/// FNV-1a of every bit this process computes.
fn digest() -> u64 {
    let device = Device::flex();
    let mut bits: Vec<u32> = Vec::new();
    let mut push = |t: Tensor<2>| {
        let v: Vec<f32> = t.into_data().try_to_vec().unwrap();
        bits.extend(v.into_iter().map(f32::to_bits));
    };
    // a matmul big enough for burn-flex's parallel gemm
    let n = 256;
    let a: Vec<f32> = (0..n * n)
        .map(|i| ((i * 2654435761usize) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let a = Tensor::<2>::from_data(TensorData::new(a, [n, n]), &device);
    push(a.clone().matmul(a.clone().transpose()));
    // a sum over more than 4M elements (the parallel reduction)
    let big = a.clone().repeat_dim(0, 80); // [20480, 256] = 5.2M
    push(big.sum().reshape([1, 1]));
    // a fit and a short LELP training run
    let data = Dataset::uci_digits().parity().unwrap();
    let x = data.features_tensor(&device).unwrap();
    let fit = PcaFinder::new(SubspaceConfig::new(4).with_null_space(false))
        .fit_tensor(x.clone(), data.labels(), 2, None)
        .unwrap();
    let basis: Vec<f32> = fit.basis(0).iter().map(|&v| v as f32).collect();
    push(Tensor::from_data(TensorData::new(basis, [1, 64 * 4]), &device));
    let z = x.clone().narrow(1, 0, 2);
    let out = lelp::teacher::TeacherOutput::new(x.clone(), z).unwrap();
    let targets = Method::Lelp(LelpConfig::new(3).with_null_space(false))
        .prepare(&data, Some(&out))
        .unwrap();
    let student = MlpConfig::new(64, vec![256, 256], 6)
        .with_seed(3)
        .init(&device)
        .unwrap();
    let t = Distiller::new(DistillConfig::new(2, 1e-3).with_batch_size(600))
        .fit(student, &data, &targets, None, &device)
        .unwrap();
    push(t.student.forward(lelp::data::Inputs::Dense(x)).unwrap().logits);
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bits {
        for byte in b.to_le_bytes() {
            h = (h ^ byte as u64).wrapping_mul(0x100000001b3);
        }
    }
    h
}

#[test]
#[ignore = "the child process of same_bits_across_processes_and_thread_counts"]
fn child_prints_digest() {
    if std::env::var(CHILD_ENV).is_ok() {
        println!("DIGEST {:016x}", digest());
    }
}

#[test]
fn same_bits_across_processes_and_thread_counts() {
    let here = format!("DIGEST {:016x}", digest());
    let exe = std::env::current_exe().unwrap();
    for threads in ["1", "2"] {
        let out = Command::new(&exe)
            .args([
                "--exact",
                "child_prints_digest",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.find("DIGEST").map(|i| &l[i..]))
            .expect("the child printed its digest");
        assert_eq!(line.trim(), here, "RAYON_NUM_THREADS={threads} in another process");
    }
}
