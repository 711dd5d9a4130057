//! Benchmark: streaming per-class PCA fit, N = 100,000, d = 768, C = 2,
//! S = 8, on the data written by benches/fit_numpy.py (run both with
//! benches/run_fit_bench.sh). Reads the embeddings from disk in chunks of
//! 4096 rows, so the process never holds the whole matrix; reports wall
//! time per fit and the process's peak RSS after fits of growing N (a flat
//! peak shows memory independent of N), up to N = 1,000,000 (the file's
//! rows re-read ten times; `LELP_BENCH_BIG` changes it), then with the
//! null-space projection on (a fixed 2 x 768 head), and last with the
//! N = 100,000 batches read into memory first (as numpy has its array: the
//! time then leaves the file out, the peak RSS holds the data).
//!
//! `LELP_BENCH_DEVICE` picks the device (flex by default),
//! `LELP_BENCH_CHUNK` the rows per batch (4096 by default).

use std::io::{Read, Seek, SeekFrom};
use std::time::Instant;

use burn::prelude::*;
use lelp::subspace::{ClassMoments, PcaFinder, SubspaceConfig, SubspaceFinder};
use lelp::teacher::LinearHead;

use lelp::device;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const D: usize = 768;
const C: usize = 2;
const S: usize = 8;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Streams `n` rows of the .npy file in chunks.
struct Chunks {
    file: std::fs::File,
    buf: Vec<u8>,
    labels: Vec<usize>,
    n: usize,
    pos: usize,
    chunk: usize,
    device: Device,
    data_start: u64,
}

impl Iterator for Chunks {
    type Item = (Tensor<2>, Vec<usize>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.n {
            return None;
        }
        // past the file's rows, wrap around (N = 1,000,000 re-reads the
        // 100,000 rows on disk ten times: streamed, never held)
        let at = self.pos % self.labels.len();
        if at == 0 && self.pos > 0 {
            self.file.seek(SeekFrom::Start(self.data_start)).unwrap();
        }
        let rows = self.chunk.min(self.n - self.pos).min(self.labels.len() - at);
        self.buf.resize(rows * D * 4, 0);
        self.file.read_exact(&mut self.buf).expect("read chunk");
        let v: Vec<f32> = self
            .buf
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let y = self.labels[at..at + rows].to_vec();
        self.pos += rows;
        Some((Tensor::from_data(TensorData::new(v, [rows, D]), &self.device), y))
    }
}

fn open(dir: &std::path::Path, n: usize, chunk: usize, device: &Device) -> Chunks {
    let labels = lelp::io::npy::NpyArray::read(dir.join("labels.npy")).expect("run benches/fit_numpy.py first");
    let labels = labels.to_labels().unwrap();
    let mut file = std::fs::File::open(dir.join("emb.npy")).unwrap();
    // .npy v1 header: 10 bytes + header_len
    let mut head = [0u8; 10];
    file.read_exact(&mut head).unwrap();
    let hl = u16::from_le_bytes([head[8], head[9]]) as u64;
    file.seek(SeekFrom::Start(10 + hl)).unwrap();
    Chunks {
        file,
        buf: Vec::new(),
        labels,
        n,
        pos: 0,
        chunk,
        device: device.clone(),
        data_start: 10 + hl,
    }
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "target/bench-data".into()));
    let name = std::env::var("LELP_BENCH_DEVICE").unwrap_or_else(|_| "flex".into());
    let device = device::by_name(&name).unwrap();
    let chunk: usize = std::env::var("LELP_BENCH_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    println!("lelp PcaFinder on {name}: d={D} C={C} S={S}, chunks of {chunk} rows");
    println!("peak RSS before any fit: {:.0} MiB", peak_rss_mib());
    // null space off (as numpy's paths), then on with a fixed 2 x 768 head
    let w: Vec<f32> = (0..C * D).map(|i| ((i * 37 % 23) as f32 - 11.0) / 11.0).collect();
    let head = LinearHead::new(w, vec![0.0; C], [C, D]).unwrap();
    let big: usize = std::env::var("LELP_BENCH_BIG").map_or(1_000_000, |v| v.parse().unwrap_or(1_000_000));
    for (null_space, sizes) in [
        (false, vec![25_000usize, 50_000, 100_000, 100_000, big]),
        (true, vec![100_000, 100_000]),
    ] {
        for n in sizes {
            let t0 = Instant::now();
            let fit = PcaFinder::new(SubspaceConfig::new(S).with_null_space(null_space))
                .fit(open(&dir, n, chunk, &device), C, null_space.then_some(&head))
                .unwrap();
            device.sync().unwrap();
            let dt = t0.elapsed().as_secs_f64();
            assert_eq!(fit.counts().iter().sum::<u64>() as usize, n);
            println!(
                "N={n:>7}, null space {}: {dt:.3} s, peak RSS so far {:.0} MiB",
                if null_space { "on " } else { "off" },
                peak_rss_mib()
            );
        }
    }
    // phases of one streamed fit: reading the batches, the moments' updates
    // (the per-class products), the eigenpairs at the end
    let (mut t_read, mut t_update) = (0.0, 0.0);
    let mut moments = ClassMoments::new(C);
    let mut chunks = open(&dir, 100_000, chunk, &device);
    loop {
        let t0 = Instant::now();
        let Some((x, y)) = chunks.next() else { break };
        t_read += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        moments.update(x, &y).unwrap();
        t_update += t0.elapsed().as_secs_f64();
    }
    let t0 = Instant::now();
    PcaFinder::new(SubspaceConfig::new(S).with_null_space(false))
        .fit_moments(&moments, None)
        .unwrap();
    let t_eigen = t0.elapsed().as_secs_f64();
    println!(
        "phases of one N=100000 fit: reading {t_read:.3} s, batch updates {t_update:.3} s, eigenpairs {t_eigen:.3} s"
    );
    // the product alone: one class, 2,048 rows (a class's share of a
    // 4,096-row batch), in memory, updated 25 times; rate in N d^2 flops
    let rows = 2048;
    let x: Tensor<2> = open(&dir, rows, rows, &device).next().unwrap().0;
    let mut one = ClassMoments::new(1);
    one.update(x.clone(), &vec![0; rows]).unwrap();
    let t0 = Instant::now();
    for _ in 0..25 {
        one.update(x.clone(), &vec![0; rows]).unwrap();
    }
    let per = t0.elapsed().as_secs_f64() / 25.0;
    println!(
        "one class, {rows} x {D} update: {:.2} ms, {:.0} GFLOP/s (n d^2 / time)",
        per * 1e3,
        (rows * D * D) as f64 / per / 1e9
    );
    // in memory: the batches read first, the fit timed alone
    let batches: Vec<(Tensor<2>, Vec<usize>)> = open(&dir, 100_000, chunk, &device).collect();
    for _ in 0..2 {
        let t0 = Instant::now();
        let fit = PcaFinder::new(SubspaceConfig::new(S).with_null_space(false))
            .fit(batches.iter().cloned(), C, None)
            .unwrap();
        device.sync().unwrap();
        let dt = t0.elapsed().as_secs_f64();
        assert_eq!(fit.counts().iter().sum::<u64>(), 100_000);
        println!(
            "N= 100000, null space off, in memory: {dt:.3} s, peak RSS so far {:.0} MiB (with the data)",
            peak_rss_mib()
        );
    }
    // the eigenpairs alone on a harder spectrum (axis scales 1 + 10 / (1 + j)
    // over uniform noise: the top eigenvalues sit close to the noise bulk),
    // d = 768 and 2,048, 3,000 rows per class, S = 8 (fit_numpy.py times
    // numpy's full eigh at both sizes)
    for d in [768usize, 2048] {
        let rows = 6000;
        let mut state = 1u64;
        let v: Vec<f32> = (0..rows * d)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5) * (1.0 + 10.0 / (1.0 + (i % d) as f32))
            })
            .collect();
        let labels: Vec<usize> = (0..rows).map(|i| i % 2).collect();
        let mut m = ClassMoments::new(C);
        m.update(Tensor::from_data(TensorData::new(v, [rows, d]), &device), &labels)
            .unwrap();
        let t0 = Instant::now();
        PcaFinder::new(SubspaceConfig::new(S).with_null_space(false))
            .fit_moments(&m, None)
            .unwrap();
        println!(
            "harder spectrum, d={d}, 3000 rows per class: top {S} eigenpairs of {C} classes: {:.3} s",
            t0.elapsed().as_secs_f64()
        );
    }
}
