//! The HTTP server under load (feature `serve`): `lelp::serve` in this
//! process on 127.0.0.1, clients on threads with keep-alive HTTP/1.1
//! connections, for 1, 16 and 256 concurrent clients with one text a
//! request and with 64; each case runs for a fixed time (`LELP_SERVE_SECS`,
//! default 10) and reports requests and texts a second, the latency's
//! median and 99th percentile (from log-spaced buckets 1.2% wide), and every non-200 answer (503s counted
//! apart: the bounded queue refusing work, by design). Then, unless
//! `LELP_SOAK_MINUTES=0`, a soak run (16 clients, one text a request, 10
//! minutes by default) samples the process's resident memory every 10 s.
//! Traffic goes to 127.0.0.1 only, and stops by itself.
//!
//! The model is `LELP_SERVE_MODEL` when set (any model file the tool
//! wrote), else a bag student of the tool's default size (2^18 hashed
//! buckets, 8 wide, seeded weights: speed does not depend on training).
//! The texts are CLINC150 queries where `../shared/data/text` has them
//! (`LELP_TEXT_DATA`), else made-up sentences.
//!
//! ```text
//! cargo bench --features serve --bench serve
//! ```

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lelp::data::HashedNgrams;
use lelp::deploy::{Classifier, Featurizer, ModelFile};
use lelp::serve::{ServeConfig, serve};
use lelp::train::BagConfig;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn classifier() -> (Classifier, String) {
    if let Ok(p) = std::env::var("LELP_SERVE_MODEL") {
        return (Classifier::load(&p).expect("LELP_SERVE_MODEL is a model file"), p);
    }
    let bag = BagConfig::new(1 << 18, 2)
        .with_dim(8)
        .init(&burn::prelude::Device::flex())
        .unwrap();
    let m = ModelFile::new(
        &bag,
        Featurizer::hashed(&HashedNgrams::new(1 << 18)),
        vec!["a".into(), "b".into()],
    )
    .unwrap();
    (Classifier::from_model(m).unwrap(), "bag 2^18 x 8 (seeded)".into())
}

/// A keep-alive HTTP/1.1 connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Sends one request and reads its answer; the status.
    fn post(&mut self, body: &[u8]) -> std::io::Result<u16> {
        write!(
            self.writer,
            "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        self.writer.write_all(body)?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

/// Latencies in log-spaced buckets (200 a decade, about 1.2% wide, from
/// 100 ns to 100 s): a constant 14 KB a client however long the run, so
/// that the soak's memory is the server's, not the load generator's.
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
}

const PER_DECADE: f64 = 200.0;
const BUCKETS: usize = 9 * 200;

impl Histogram {
    fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
        }
    }

    fn record(&mut self, secs: f64) {
        let ns = (secs * 1e9).max(100.0);
        let b = (((ns / 100.0).log10() * PER_DECADE) as usize).min(BUCKETS - 1);
        self.counts[b] += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile in seconds (the bucket's geometric middle).
    fn quantile(&self, q: f64) -> f64 {
        let n = self.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return 100.0 * 10f64.powf((b as f64 + 0.5) / PER_DECADE) * 1e-9;
            }
        }
        f64::NAN
    }
}

struct Outcome {
    latencies: Histogram,
    ok: usize,
    rejected: usize,
    other: usize,
}

/// `clients` threads, each sending requests of `per_request` texts for
/// `secs` seconds.
fn load(addr: SocketAddr, texts: &Arc<Vec<String>>, clients: usize, per_request: usize, secs: f64) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let out = Arc::new(Mutex::new(Outcome {
        latencies: Histogram::new(),
        ok: 0,
        rejected: 0,
        other: 0,
    }));
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (stop, out, texts) = (Arc::clone(&stop), Arc::clone(&out), Arc::clone(texts));
            std::thread::spawn(move || {
                let mut client = Client::connect(addr).expect("connect");
                let (mut lat, mut ok, mut rejected, mut other) = (Histogram::new(), 0, 0, 0);
                let mut k = c * 131;
                while !stop.load(Ordering::Relaxed) {
                    let batch: Vec<&str> = (0..per_request)
                        .map(|j| texts[(k + j) % texts.len()].as_str())
                        .collect();
                    k += per_request;
                    let body = serde_json::to_vec(&batch).unwrap();
                    let t = Instant::now();
                    match client.post(&body) {
                        Ok(200) => ok += 1,
                        Ok(503) => rejected += 1,
                        Ok(_) => other += 1,
                        Err(_) => {
                            other += 1;
                            client = match Client::connect(addr) {
                                Ok(c) => c,
                                Err(_) => break,
                            };
                        }
                    }
                    lat.record(t.elapsed().as_secs_f64());
                }
                let mut o = out.lock().unwrap();
                o.latencies.merge(&lat);
                o.ok += ok;
                o.rejected += rejected;
                o.other += other;
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    Arc::try_unwrap(out).ok().unwrap().into_inner().unwrap()
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let secs: f64 = std::env::var("LELP_SERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let soak: f64 = std::env::var("LELP_SOAK_MINUTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let (texts, source) = common::texts(4096);
    let texts = Arc::new(texts);
    let (classifier, model) = classifier();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            serve(classifier, listener, ServeConfig::default(), async {
                stop_rx.await.ok();
            })
            .await
        })
    });
    println!("model: {model}; texts: {source}; {secs} s a case; default ServeConfig (batch 64, wait 2 ms, queue 1024)");
    println!(
        "| clients | texts/request | requests/s | texts/s | p50 ms | p99 ms | 200 | 503 | other |\n|---|---|---|---|---|---|---|---|---|"
    );
    for per_request in [1usize, 64] {
        for clients in [1usize, 16, 256] {
            let o = load(addr, &texts, clients, per_request, secs);
            let n = o.latencies.len();
            let (p50, p99) = (o.latencies.quantile(0.5), o.latencies.quantile(0.99));
            println!(
                "| {clients} | {per_request} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
                n as f64 / secs,
                (o.ok * per_request) as f64 / secs,
                p50 * 1e3,
                p99 * 1e3,
                o.ok,
                o.rejected,
                o.other
            );
        }
    }
    if soak > 0.0 {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (samples, done) = (Arc::clone(&samples), Arc::clone(&done));
            std::thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    samples.lock().unwrap().push((start.elapsed().as_secs_f64(), rss_mb()));
                    for _ in 0..100 {
                        if done.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        };
        let o = load(addr, &texts, 16, 1, soak * 60.0);
        done.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let s = samples.lock().unwrap();
        let rss: Vec<f64> = s.iter().map(|x| x.1).collect();
        println!(
            "soak: 16 clients, 1 text a request, {soak} min: {} requests ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, {} 503, {} other",
            o.latencies.len(),
            o.latencies.len() as f64 / (soak * 60.0),
            o.latencies.quantile(0.5) * 1e3,
            o.latencies.quantile(0.99) * 1e3,
            o.rejected,
            o.other
        );
        let first_minute: Vec<f64> = s.iter().filter(|x| x.0 < 60.0).map(|x| x.1).collect();
        println!(
            "resident memory (MB): first {:.1}, after 1 min {:.1}, last {:.1}, max {:.1} ({} samples)",
            rss.first().copied().unwrap_or(f64::NAN),
            first_minute.last().copied().unwrap_or(f64::NAN),
            rss.last().copied().unwrap_or(f64::NAN),
            rss.iter().copied().fold(f64::NAN, f64::max),
            rss.len()
        );
    }
    stop_tx.send(()).ok();
    let stats = server.join().unwrap().unwrap();
    println!(
        "server: {} requests, {} texts in {} batches ({:.1} texts a batch)",
        stats.requests,
        stats.texts,
        stats.batches,
        stats.texts as f64 / stats.batches.max(1) as f64
    );
}
