//! The MiniLM encoder's operations one by one, at its shapes for a batch of
//! 64 texts x 128 tokens (8,192 token rows, hidden 384, FFN 1,536, 12
//! heads of 32): the dense products, GELU, an addition, layer norm, the
//! attention products and softmax. Milliseconds per call (mean of 5 after a
//! warm-up) and the rate, on the device of `LELP_BENCH_DEVICE` (flex by
//! default). Backs the profile in docs/performance.md.
//!
//! ```text
//! cargo bench --bench encoder_ops
//! ```

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;

use lelp::device;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn time<const D: usize>(name: &str, work: f64, unit: &str, mut f: impl FnMut() -> Tensor<D>) {
    let _ = f().into_data();
    let t0 = Instant::now();
    for _ in 0..5 {
        let _ = f().into_data();
    }
    let dt = t0.elapsed().as_secs_f64() / 5.0;
    println!("{name}: {:.1} ms, {:.2} {unit}", dt * 1e3, work / dt / 1e9);
}

fn main() {
    let name = std::env::var("LELP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let dev = device::by_name(&name).unwrap();
    let rand = |shape: [usize; 2]| Tensor::<2>::random(shape, Distribution::Default, &dev);
    let (rows, d, ffn) = (8192usize, 384usize, 1536usize);
    let (x, w1, w2, h) = (rand([rows, d]), rand([d, ffn]), rand([ffn, d]), rand([rows, ffn]));
    let flop = 2.0 * (rows * d * ffn) as f64;
    println!("encoder ops on {name}");
    time("dense 8192x384 . 384x1536", flop, "GFLOP/s", || {
        x.clone().matmul(w1.clone())
    });
    time("dense 8192x1536 . 1536x384", flop, "GFLOP/s", || {
        h.clone().matmul(w2.clone())
    });
    let n = (rows * ffn) as f64;
    time("gelu 8192x1536", n, "G values/s", || {
        burn::tensor::activation::gelu(h.clone())
    });
    time("add 8192x1536", n, "G values/s", || h.clone() + h.clone());
    let ln = burn::nn::LayerNormConfig::new(d).init(&dev);
    time("layer norm 8192x384", (rows * d) as f64, "G values/s", || {
        ln.forward(x.clone())
    });
    let q = Tensor::<4>::random([64, 12, 128, 32], Distribution::Default, &dev);
    let s = Tensor::<4>::random([64, 12, 128, 128], Distribution::Default, &dev);
    let att = 2.0 * (64 * 12 * 128 * 128 * 32) as f64;
    time("q k^T 64x12 x 128x32x128", att, "GFLOP/s", || {
        q.clone()
            .matmul(q.clone().swap_dims(2, 3))
            .reshape([64 * 12 * 128, 128])
    });
    time(
        "softmax 64x12x128x128",
        (64 * 12 * 128 * 128) as f64,
        "G values/s",
        || burn::tensor::activation::softmax(s.clone(), 3).reshape([64 * 12 * 128, 128]),
    );
    time("p v 64x12 x 128x128x32", att, "GFLOP/s", || {
        s.clone().matmul(q.clone()).reshape([64 * 12 * 128, 32])
    });
}
