//! The HTTP server (feature `serve`), over real sockets on 127.0.0.1: its
//! predictions are the classifier's, concurrent requests each get their
//! own answers, every kind of bad input is a 4xx with a JSON error (never
//! a crash or a hung worker), shutdown answers the accepted requests, and
//! a model file replaced on disk changes nothing while serving.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lelp::data::HashedNgrams;
use lelp::deploy::{Classifier, Featurizer, ModelFile};
use lelp::serve::{ServeConfig, ServeStats, serve};
use lelp::train::BagConfig;

fn model_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lelp-serve-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bag = BagConfig {
        dim: 8,
        seed: 7,
        ..BagConfig::new(1024, 3)
    }
    .init(&burn::prelude::Device::flex())
    .unwrap();
    let m = ModelFile::new(
        &bag,
        Featurizer::hashed(&HashedNgrams::new(1024)),
        vec!["ham".into(), "spam".into(), "eggs".into()],
    )
    .unwrap();
    let p = dir.join("model.safetensors");
    m.save(&p).unwrap();
    p
}

/// A server on a free port in its own runtime; `stop` ends it and returns
/// its stats.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<lelp::Result<ServeStats>>>,
}

impl Running {
    fn start(model: &std::path::Path, config: ServeConfig) -> Self {
        let classifier = Classifier::load(model).unwrap();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                serve(classifier, listener, config, async {
                    rx.await.ok();
                })
                .await
            })
        });
        Self {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> ServeStats {
        self.stop.take().unwrap().send(()).ok();
        self.thread.take().unwrap().join().unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
    }
}

/// The status, headers and body of one HTTP/1.1 exchange (`Connection:
/// close`, the body read to the end).
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

fn read_reply(mut s: TcpStream) -> Reply {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    read_reply(s)
}

/// Waits until the server reads `n` request bodies (its
/// `lelp_requests_reading` gauge), at most 10 s.
fn wait_reading(addr: SocketAddr, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = format!("lelp_requests_reading {n}\n");
    while !String::from_utf8(request(addr, "GET", "/metrics", b"").body)
        .unwrap()
        .contains(&want)
    {
        assert!(Instant::now() < deadline, "the server never read {n} bodies");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn predict(addr: SocketAddr, texts: &[&str]) -> Reply {
    request(
        addr,
        "POST",
        "/predict",
        serde_json::to_string(texts).unwrap().as_bytes(),
    )
}

/// The labels and probabilities of a 200 reply.
fn predictions(r: &Reply, names: &[String]) -> Vec<(String, Vec<f32>)> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let probs = names
                .iter()
                .map(|n| p["probabilities"][n].as_f64().unwrap() as f32)
                .collect();
            (p["label"].as_str().unwrap().to_string(), probs)
        })
        .collect()
}

fn expected(model: &std::path::Path, texts: &[&str]) -> Vec<(String, Vec<f32>)> {
    let c = Classifier::load(model).unwrap();
    c.predict(texts)
        .unwrap()
        .into_iter()
        .map(|p| (c.class_names()[p.label].clone(), p.probabilities))
        .collect()
}

#[test]
fn predictions_are_the_classifiers_and_concurrent_requests_get_their_own() {
    let model = model_file("predict");
    let names: Vec<String> = vec!["ham".into(), "spam".into(), "eggs".into()];
    let server = Running::start(
        &model,
        ServeConfig {
            max_wait: Duration::from_millis(20),
            ..ServeConfig::default()
        },
    );
    let texts = ["free money now", "", "see you at noon", "caf\u{e9} \u{1F600}"];
    let want = expected(&model, &texts);
    assert_eq!(predictions(&predict(server.addr, &texts), &names), want);
    // the object form
    let r = request(
        server.addr,
        "POST",
        "/predict",
        serde_json::json!({"texts": texts}).to_string().as_bytes(),
    );
    assert_eq!(predictions(&r, &names), want);

    // 32 clients at once, each with its own texts: batched together, each
    // answered with its own predictions in its own order
    let addr = server.addr;
    let handles: Vec<_> = (0..32)
        .map(|i| {
            std::thread::spawn(move || {
                let texts: Vec<String> = (0..1 + i % 5).map(|k| format!("client {i} text {k} money")).collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let r = predict(addr, &refs);
                (texts, r)
            })
        })
        .collect();
    let mut sent = texts.len() * 2;
    for h in handles {
        let (texts, r) = h.join().unwrap();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        sent += texts.len();
        let names: Vec<String> = vec!["ham".into(), "spam".into(), "eggs".into()];
        assert_eq!(predictions(&r, &names), expected(&model, &refs));
    }
    let health = request(server.addr, "GET", "/health", b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["classes"], serde_json::json!(names));
    let metrics = String::from_utf8(request(server.addr, "GET", "/metrics", b"").body).unwrap();
    assert!(
        metrics.contains(&format!("lelp_texts_total {sent}")),
        "{sent} texts sent:\n{metrics}"
    );
    assert!(metrics.contains("lelp_requests_total{status=\"200\"} 34"), "{metrics}");
    let stats = server.stop();
    assert_eq!(stats.texts, sent as u64);
    assert!(stats.batches <= 34, "{stats:?}");
}

#[test]
fn bad_input_is_a_4xx_with_a_json_error_and_the_server_goes_on() {
    let model = model_file("bad");
    let server = Running::start(
        &model,
        ServeConfig {
            max_texts: 8,
            max_text_bytes: 1000,
            read_timeout: Duration::from_millis(300),
            ..ServeConfig::default()
        },
    );
    let a = server.addr;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"[\"free".to_vec(), 400, "not JSON"),
        ("a number", b"[\"ok\", 3]".to_vec(), 400, "text 1 is a number"),
        ("null", b"[null]".to_vec(), 400, "text 0 is null"),
        (
            "an object without texts",
            b"{\"text\": \"x\"}".to_vec(),
            400,
            "a JSON list",
        ),
        ("a bare string", b"\"free money\"".to_vec(), 400, "a JSON list"),
        ("invalid UTF-8", b"[\"\xff\xfe\"]".to_vec(), 400, "not JSON"),
        (
            "too many texts",
            serde_json::to_vec(&["x"; 9]).unwrap(),
            413,
            "at most 8",
        ),
        (
            "a text too long",
            serde_json::to_vec(&["x".repeat(1001)]).unwrap(),
            413,
            "at most 1000",
        ),
    ];
    for (what, body, status, says) in cases {
        let r = request(a, "POST", "/predict", &body);
        assert_eq!(r.status, status, "{what}: {}", String::from_utf8_lossy(&r.body));
        let err = r.json()["error"].as_str().unwrap().to_string();
        assert!(err.contains(says), "{what}: {err}");
    }
    // an empty list is a defined result: no predictions
    let r = predict(a, &[]);
    assert_eq!(
        (r.status, r.json()["predictions"].clone()),
        (200, serde_json::json!([]))
    );
    // a 10 MB body is refused from its declared length, unread
    let mut s = TcpStream::connect(a).unwrap();
    write!(
        s,
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let r = read_reply(s);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"].as_str().unwrap().contains("bytes"));
    // a client that never finishes its body gets 408 after the read timeout
    let started = Instant::now();
    let mut s = TcpStream::connect(a).unwrap();
    write!(
        s,
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n[\"free"
    )
    .unwrap();
    let r = read_reply(s);
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
    assert!(started.elapsed() < Duration::from_secs(5));
    // unknown routes and methods
    assert_eq!(request(a, "GET", "/nope", b"").status, 404);
    assert_eq!(request(a, "GET", "/predict", b"").status, 405);
    assert!(request(a, "GET", "/nope", b"").json()["error"].is_string());
    // and the server still answers
    let names: Vec<String> = vec!["ham".into(), "spam".into(), "eggs".into()];
    assert_eq!(
        predictions(&predict(a, &["free money"]), &names),
        expected(&model, &["free money"])
    );
    let metrics = String::from_utf8(request(a, "GET", "/metrics", b"").body).unwrap();
    assert!(metrics.contains("lelp_requests_total{status=\"400\"} 6"), "{metrics}");
    assert!(metrics.contains("lelp_requests_total{status=\"413\"} 3"), "{metrics}");
    assert!(metrics.contains("lelp_requests_total{status=\"408\"} 1"), "{metrics}");
}

/// Shutdown while a request is being received: the server stops
/// accepting, the request (its body finished after the shutdown began) is
/// answered, then the server returns and the port refuses connections.
#[test]
fn shutdown_answers_the_accepted_requests() {
    let model = model_file("shutdown");
    let server = Running::start(&model, ServeConfig::default());
    let addr = server.addr;
    let body = br#"["free money"]"#;
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body[..5]).unwrap();
    s.flush().unwrap();
    // the request is in (its body being read) before shutdown begins
    wait_reading(addr, 1);
    let stopping = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(200));
    assert!(!stopping.is_finished(), "the server returned with a request open");
    s.write_all(&body[5..]).unwrap();
    let r = read_reply(s);
    let names: Vec<String> = vec!["ham".into(), "spam".into(), "eggs".into()];
    assert_eq!(predictions(&r, &names), expected(&model, &["free money"]));
    let stats = stopping.join().unwrap();
    assert_eq!((stats.texts, stats.cut_short), (1, false));
    assert!(TcpStream::connect(addr).is_err(), "the port still accepts");
}

/// A client that holds its request open past the grace period does not
/// hold the server: it returns when the grace period ends, and says so.
#[test]
fn the_grace_period_bounds_shutdown() {
    let model = model_file("grace");
    let server = Running::start(
        &model,
        ServeConfig {
            grace: Duration::from_millis(300),
            ..ServeConfig::default()
        },
    );
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[\"never finished"
    )
    .unwrap();
    wait_reading(server.addr, 1);
    let started = Instant::now();
    let stats = server.stop();
    assert!(stats.cut_short, "{stats:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// The model is read once: a file replaced (here, by garbage) while
/// serving changes no answer.
#[test]
fn a_model_file_replaced_while_serving_changes_nothing() {
    let model = model_file("replaced");
    let texts = ["free money now", "see you at noon"];
    let want = expected(&model, &texts);
    let server = Running::start(&model, ServeConfig::default());
    std::fs::write(&model, b"not a model any more").unwrap();
    let names: Vec<String> = vec!["ham".into(), "spam".into(), "eggs".into()];
    assert_eq!(predictions(&predict(server.addr, &texts), &names), want);
    let r = predict(server.addr, &texts);
    assert!(r.head.to_ascii_lowercase().contains("content-type: application/json"));
    server.stop();
}
