//! An HTTP server for a model file (feature `serve`): what `lelp serve`
//! runs, for a downstream crate to embed as well.
//!
//! - `POST /predict` takes a JSON list of texts (`["a", "b"]`, or
//!   `{"texts": ["a", "b"]}`) and answers `{"predictions": [{"label": ...,
//!   "probabilities": {name: p, ...}}, ...]}` in the same order (a
//!   multi-label model adds `"labels": [...]`, those over their thresholds;
//!   a cascade `"answered_by"`), as `lelp
//!   predict` writes them.
//! - Concurrent requests are **micro-batched**: one worker takes every
//!   request queued, and while others are still being read waits for
//!   them up to [`ServeConfig::max_wait`] after the first, until the
//!   batch's texts reach [`ServeConfig::max_batch`]; it predicts them in
//!   one call (on every core the classifier's pool has). A lone request
//!   is not held back.
//! - The queue is **bounded** ([`ServeConfig::queue`] requests): a request
//!   that finds it full is answered 503 at once (with `Retry-After`), never
//!   held or dropped silently.
//! - Limits: the body's size (413), the texts a request (413), a text's
//!   length (413), the time to receive a body (408: a client that never
//!   finishes its body does not hold a worker). Malformed JSON, a text that
//!   is not a string, invalid UTF-8: 400. Every error body is JSON,
//!   `{"error": "..."}`.
//! - `GET /health`: 200 with the model's classes while serving.
//! - `GET /metrics`: Prometheus' text format: requests by status, texts,
//!   batches, the queue's depth, the requests being read, and request latency (quantiles 0.5, 0.9,
//!   0.99 over the last 10,000 requests, with its sum and count).
//! - Graceful shutdown: when the `shutdown` future completes, the server
//!   stops accepting, answers every request it accepted within
//!   [`ServeConfig::grace`], and returns.
//!
//! The model is read once, at start: a model file replaced on disk while
//! serving changes nothing until the server is restarted.
//!
//! ```no_run
//! use lelp::deploy::Classifier;
//! use lelp::serve::{ServeConfig, serve};
//! # async fn run() -> lelp::Result<()> {
//! let classifier = Classifier::load("model.safetensors")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.map_err(|e| lelp::LelpError::Io {
//!     path: "127.0.0.1:8080".into(),
//!     source: e,
//! })?;
//! let stats = serve(classifier, listener, ServeConfig::default(), async {
//!     tokio::signal::ctrl_c().await.ok();
//! })
//! .await?;
//! println!("answered {} requests", stats.requests);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use crate::deploy::{Classifier, Prediction};
use crate::error::{LelpError, Result};

/// The server's limits and batching.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// The worker stops taking requests into a batch once it holds this
    /// many texts (default 64; the last request taken may carry it over).
    pub max_batch: usize,
    /// How long the worker waits for requests still being read after the
    /// first of a batch (default 2 ms; it does not wait when none is).
    pub max_wait: Duration,
    /// Requests waiting at most; one more is answered 503 (default 1,024).
    pub queue: usize,
    /// A request body's bytes at most (default 1 MiB).
    pub max_body_bytes: usize,
    /// Texts a request at most (default 1,024).
    pub max_texts: usize,
    /// A text's bytes at most (default 100,000).
    pub max_text_bytes: usize,
    /// The time a client has to send its whole body (default 10 s).
    pub read_timeout: Duration,
    /// After shutdown is asked for, the time left to answer the accepted
    /// requests (default 30 s). [`serve`] returns then even if
    /// connections are still open (a client that never finishes its body
    /// or never reads its answer); they end with the tokio runtime (as
    /// `lelp serve`'s does when it returns) or when their client gives up.
    pub grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            max_batch: 64,
            max_wait: Duration::from_millis(2),
            queue: 1024,
            max_body_bytes: 1 << 20,
            max_texts: 1024,
            max_text_bytes: 100_000,
            read_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(30),
        }
    }
}

impl ServeConfig {
    fn check(&self) -> Result<()> {
        let bad = |name: &'static str, value: String| {
            Err(LelpError::InvalidParameter {
                name,
                value,
                reason: "must be at least 1",
            })
        };
        if self.max_batch == 0 {
            return bad("max_batch", "0".into());
        }
        if self.queue == 0 {
            return bad("queue", "0".into());
        }
        if self.max_body_bytes == 0 || self.max_texts == 0 || self.max_text_bytes == 0 {
            return bad("max_body_bytes, max_texts or max_text_bytes", "0".into());
        }
        if self.read_timeout.is_zero() {
            return bad("read_timeout", "0 s".into());
        }
        Ok(())
    }
}

/// What a server did, returned when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServeStats {
    /// Requests answered on `/predict` and unknown routes (every status;
    /// `/health` and `/metrics` are not counted).
    pub requests: u64,
    /// Requests answered 200.
    pub ok: u64,
    /// Requests refused because the queue was full (503).
    pub rejected: u64,
    /// Texts predicted.
    pub texts: u64,
    /// Batches the worker ran.
    pub batches: u64,
    /// Connections were still open when the grace period ended.
    pub cut_short: bool,
}

/// One request's texts on their way to the worker, and where its answer
/// goes.
struct Job {
    texts: Vec<String>,
    answer: oneshot::Sender<std::result::Result<Vec<Prediction>, String>>,
}

/// Latencies kept for the quantiles.
const WINDOW: usize = 10_000;
/// The statuses counted by `/metrics`.
const STATUSES: [u16; 9] = [200, 400, 404, 405, 408, 413, 500, 503, 0];

#[derive(Default)]
struct Metrics {
    by_status: [AtomicU64; STATUSES.len()],
    texts: AtomicU64,
    batches: AtomicU64,
    queued: AtomicUsize,
    /// `/predict` requests being read and parsed (not yet queued).
    arriving: AtomicUsize,
    latencies: Mutex<VecDeque<f64>>,
    latency_sum: Mutex<f64>,
}

impl Metrics {
    fn count(&self, status: StatusCode, started: Instant) {
        let i = STATUSES
            .iter()
            .position(|&s| s == status.as_u16())
            .unwrap_or(STATUSES.len() - 1);
        self.by_status[i].fetch_add(1, Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        let mut l = self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if l.len() == WINDOW {
            l.pop_front();
        }
        l.push_back(secs);
        drop(l);
        *self
            .latency_sum
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += secs;
    }

    fn stats(&self) -> ServeStats {
        let status = |code: u16| {
            STATUSES
                .iter()
                .position(|&s| s == code)
                .map_or(0, |i| self.by_status[i].load(Ordering::Relaxed))
        };
        ServeStats {
            requests: self.by_status.iter().map(|c| c.load(Ordering::Relaxed)).sum(),
            ok: status(200),
            rejected: status(503),
            texts: self.texts.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            cut_short: false,
        }
    }

    /// Prometheus' text exposition format.
    fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        s.push_str("# HELP lelp_requests_total Requests answered, by HTTP status (0: another status).\n");
        s.push_str("# TYPE lelp_requests_total counter\n");
        for (i, code) in STATUSES.iter().enumerate() {
            let _ = writeln!(
                s,
                "lelp_requests_total{{status=\"{code}\"}} {}",
                self.by_status[i].load(Ordering::Relaxed)
            );
        }
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut s,
            "lelp_texts_total",
            "Texts predicted.",
            self.texts.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "lelp_batches_total",
            "Batches the worker predicted.",
            self.batches.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP lelp_queue_depth Requests waiting for the worker.\n# TYPE lelp_queue_depth gauge\nlelp_queue_depth {}",
            self.queued.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP lelp_requests_reading Requests whose body is being read.\n# TYPE lelp_requests_reading gauge\nlelp_requests_reading {}",
            self.arriving.load(Ordering::Relaxed)
        );
        let mut l: Vec<f64> = self
            .latencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        l.sort_by(f64::total_cmp);
        s.push_str(
            "# HELP lelp_request_duration_seconds Request latency, quantiles over the last 10000 requests.\n\
             # TYPE lelp_request_duration_seconds summary\n",
        );
        for q in [0.5, 0.9, 0.99] {
            let v = if l.is_empty() {
                f64::NAN
            } else {
                l[((q * l.len() as f64).ceil() as usize).clamp(1, l.len()) - 1]
            };
            let _ = writeln!(s, "lelp_request_duration_seconds{{quantile=\"{q}\"}} {v}");
        }
        let sum = *self
            .latency_sum
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count: u64 = self.by_status.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        let _ = writeln!(s, "lelp_request_duration_seconds_sum {sum}");
        let _ = writeln!(s, "lelp_request_duration_seconds_count {count}");
        s
    }
}

struct Shared {
    config: ServeConfig,
    classes: Vec<String>,
    /// A multi-label model: answers carry `labels`.
    multi_label: bool,
    /// A cascade: answers say who answered.
    cascade: bool,
    queue: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
}

type AppState = Arc<Shared>;

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": message.into() }).to_string();
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json_ok(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// A refusal: its status and message (the JSON error body).
type Refusal = (StatusCode, String);

/// Reads the whole body within the size limit and the read timeout.
async fn read_body(body: Body, config: &ServeConfig) -> std::result::Result<Vec<u8>, Refusal> {
    let limit = config.max_body_bytes;
    let read = async {
        let mut body = body;
        let mut buf = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| (StatusCode::BAD_REQUEST, format!("reading the body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {limit} bytes")));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf)
    };
    match tokio::time::timeout(config.read_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {:?}", config.read_timeout),
        )),
    }
}

/// The texts of a request body: a JSON list of strings, or an object with
/// one (`texts`).
fn parse_texts(bytes: &[u8], config: &ServeConfig) -> std::result::Result<Vec<String>, Refusal> {
    let bad = |m: String| Err((StatusCode::BAD_REQUEST, m));
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    let list = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) => match o.remove("texts") {
            Some(serde_json::Value::Array(a)) => a,
            _ => return bad("expected a JSON list of texts, or {\"texts\": [...]}".into()),
        },
        _ => return bad("expected a JSON list of texts, or {\"texts\": [...]}".into()),
    };
    if list.len() > config.max_texts {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{} texts; at most {} a request", list.len(), config.max_texts),
        ));
    }
    let mut texts = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        match v {
            serde_json::Value::String(s) if s.len() > config.max_text_bytes => {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("text {i} has {} bytes; at most {}", s.len(), config.max_text_bytes),
                ));
            }
            serde_json::Value::String(s) => texts.push(s),
            other => {
                let kind = match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Array(_) => "a list",
                    _ => "an object",
                };
                return bad(format!("text {i} is {kind}, not a string"));
            }
        }
    }
    Ok(texts)
}

async fn predict(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let response = predict_inner(&state, request).await;
    state.metrics.count(response.status(), started);
    response
}

/// Counts a request as arriving until it is queued or refused.
struct Arrival<'a>(&'a AtomicUsize);

impl<'a> Arrival<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn predict_inner(state: &Shared, request: Request) -> Response {
    let arrival = Arrival::new(&state.metrics.arriving);
    // a declared length over the limit is refused before reading a byte
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > state.config.max_body_bytes as u64) {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {n} bytes; at most {} bytes", state.config.max_body_bytes),
        );
    }
    let bytes = match read_body(request.into_body(), &state.config).await {
        Ok(b) => b,
        Err((status, m)) => return json_error(status, m),
    };
    let texts = match parse_texts(&bytes, &state.config) {
        Ok(t) => t,
        Err((status, m)) => return json_error(status, m),
    };
    let predictions = if texts.is_empty() {
        Vec::new()
    } else {
        let (tx, rx) = oneshot::channel();
        state.metrics.queued.fetch_add(1, Ordering::Relaxed);
        // no longer arriving before it is queued: the worker never waits
        // for a request that is already in the queue
        drop(arrival);
        let sent = state.queue.try_send(Job { texts, answer: tx });
        if let Err(e) = sent {
            state.metrics.queued.fetch_sub(1, Ordering::Relaxed);
            let mut r = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                match e {
                    mpsc::error::TrySendError::Full(_) => "the queue is full; retry later",
                    mpsc::error::TrySendError::Closed(_) => "the server is shutting down",
                },
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        match rx.await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
            Err(_) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "the worker stopped"),
        }
    };
    let names = &state.classes;
    let items: Vec<serde_json::Value> = predictions
        .iter()
        .map(|p| {
            let probs: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(&p.probabilities)
                .map(|(n, &v)| (n.clone(), serde_json::json!(v)))
                .collect();
            let mut v = serde_json::json!({"label": names[p.label], "probabilities": probs});
            // a multi-label model's answer is its set of labels (possibly empty)
            if state.multi_label {
                let labels: Vec<&String> = p.labels.iter().map(|&k| &names[k]).collect();
                v["labels"] = serde_json::json!(labels);
            }
            if state.cascade {
                v["answered_by"] = serde_json::json!(p.answered_by);
            }
            v
        })
        .collect();
    json_ok(serde_json::json!({ "predictions": items }).to_string())
}

async fn health(State(state): State<AppState>) -> Response {
    json_ok(serde_json::json!({"status": "ok", "classes": state.classes}).to_string())
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = (StatusCode::OK, state.metrics.render()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn method_not_allowed(State(state): State<AppState>) -> Response {
    let r = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "POST /predict, GET /health, GET /metrics",
    );
    state.metrics.count(r.status(), Instant::now());
    r
}

async fn not_found(State(state): State<AppState>) -> Response {
    let r = json_error(
        StatusCode::NOT_FOUND,
        "no such route: POST /predict, GET /health, GET /metrics",
    );
    state.metrics.count(r.status(), Instant::now());
    r
}

/// The worker: takes the requests waiting (up to `max_batch` texts, or
/// `max_wait` after the first), predicts them in one call on a blocking
/// thread, answers each; ends when every sender is gone and the queue is
/// empty.
async fn worker(classifier: Arc<Classifier>, mut rx: mpsc::Receiver<Job>, config: ServeConfig, metrics: Arc<Metrics>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut n = jobs[0].texts.len();
        let deadline = tokio::time::Instant::now() + config.max_wait;
        while n < config.max_batch {
            // what is queued joins at once; the worker waits (up to
            // max_wait) only while other requests are still being read,
            // so a lone request is never held back
            let job = match rx.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) if metrics.arriving.load(Ordering::Relaxed) == 0 => break,
                Err(mpsc::error::TryRecvError::Empty) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => job,
                    _ => break,
                },
            };
            n += job.texts.len();
            jobs.push(job);
        }
        metrics.queued.fetch_sub(jobs.len(), Ordering::Relaxed);
        let counts: Vec<usize> = jobs.iter().map(|j| j.texts.len()).collect();
        let texts: Vec<String> = jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.texts)).collect();
        let c = Arc::clone(&classifier);
        let result = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            c.predict(&refs)
        })
        .await
        .map_err(|e| format!("the prediction panicked: {e}"))
        .and_then(|r| r.map_err(|e| e.to_string()));
        metrics.batches.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(all) => {
                metrics.texts.fetch_add(all.len() as u64, Ordering::Relaxed);
                // each job takes its share, in order (a client gone since
                // is no error of the batch)
                let mut all = all.into_iter();
                for (job, k) in jobs.into_iter().zip(counts) {
                    let _ = job.answer.send(Ok(all.by_ref().take(k).collect()));
                }
            }
            Err(message) => {
                for job in jobs {
                    let _ = job.answer.send(Err(message.clone()));
                }
            }
        }
    }
}

/// The routes over a state whose queue the caller drains.
fn router(state: AppState) -> Router {
    Router::new()
        .route("/predict", post(predict).fallback(method_not_allowed))
        .route("/health", get(health).fallback(method_not_allowed))
        .route("/metrics", get(metrics).fallback(method_not_allowed))
        .fallback(not_found)
        .with_state(state)
}

/// Serves `classifier` on `listener` until `shutdown` completes, then
/// answers every request already accepted and returns what it did.
///
/// # Errors
/// [`LelpError::InvalidParameter`] for a zero limit in `config`;
/// [`LelpError::Io`] when the listener fails.
pub async fn serve(
    classifier: Classifier,
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<ServeStats> {
    config.check()?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| "<listener>".to_string(), |a| a.to_string());
    let (tx, rx) = mpsc::channel(config.queue);
    let metrics = Arc::new(Metrics::default());
    let state = Arc::new(Shared {
        config: config.clone(),
        classes: classifier.class_names().to_vec(),
        multi_label: classifier.manifest().multi_label.is_some(),
        cascade: classifier.manifest().cascade.is_some(),
        queue: tx,
        metrics: Arc::clone(&metrics),
    });
    let grace = config.grace;
    let worker = tokio::spawn(worker(Arc::new(classifier), rx, config, Arc::clone(&metrics)));
    let (asked_tx, asked_rx) = oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = asked_tx.send(());
    });
    let deadline = async move {
        if asked_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        r = server => Some(r),
        () = deadline => None,
    };
    let mut stats = metrics.stats();
    match served {
        Some(r) => {
            // the router (and with it the queue's sender) is gone: the
            // worker answers what is left and ends
            let _ = worker.await;
            stats = metrics.stats();
            r.map_err(|e| LelpError::Io {
                path: addr.into(),
                source: e,
            })?;
        }
        None => {
            worker.abort();
            stats.cut_short = true;
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn state(queue: usize) -> (AppState, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(queue);
        let state = Arc::new(Shared {
            config: ServeConfig::default(),
            classes: vec!["a".into(), "b".into()],
            multi_label: false,
            cascade: false,
            queue: tx,
            metrics: Arc::new(Metrics::default()),
        });
        (state, rx)
    }

    fn post(body: &'static str) -> Request {
        Request::builder()
            .method("POST")
            .uri("/predict")
            .body(Body::from(body))
            .unwrap()
    }

    /// A request that finds the queue full is answered 503 at once, with
    /// Retry-After, and counted; the queued one is still there.
    #[tokio::test]
    async fn a_full_queue_answers_503() {
        let (state, mut rx) = state(1);
        let app = router(Arc::clone(&state));
        // the first request waits in the queue (nobody drains it) ...
        let first = tokio::spawn(app.clone().oneshot(post(r#"["x"]"#)));
        while state.metrics.queued.load(Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
        // ... so the second finds it full
        let r = app.clone().oneshot(post(r#"["y"]"#)).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        assert_eq!(state.metrics.stats().rejected, 1);
        let job = rx.recv().await.unwrap();
        assert_eq!(job.texts, ["x"]);
        job.answer
            .send(Ok(vec![Prediction {
                label: 1,
                probabilities: vec![0.25, 0.75],
                labels: vec![1],
                answered_by: Default::default(),
            }]))
            .ok();
        let r = first.await.unwrap().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["predictions"][0]["label"], "b");
        assert_eq!(v["predictions"][0]["probabilities"]["b"], 0.75);
    }

    /// Prometheus' text format: every sample line is `name{labels} value`
    /// with a declared TYPE, the quantiles ordered.
    #[test]
    fn metrics_render_in_prometheus_text_format() {
        let m = Metrics::default();
        for ms in [1u64, 2, 3, 4, 100] {
            m.count(StatusCode::OK, Instant::now() - Duration::from_millis(ms));
        }
        m.count(StatusCode::BAD_REQUEST, Instant::now());
        let text = m.render();
        let mut typed = std::collections::HashSet::new();
        let mut quantiles = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap().to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (name, value) = line.rsplit_once(' ').unwrap();
            let base = name.split('{').next().unwrap();
            let family = base.trim_end_matches("_sum").trim_end_matches("_count");
            assert!(typed.contains(family), "{line}: no TYPE for {family}");
            let v: f64 = value.parse().unwrap();
            if name.contains("quantile") {
                quantiles.push(v);
            }
        }
        assert!(text.contains("lelp_requests_total{status=\"200\"} 5"), "{text}");
        assert!(text.contains("lelp_requests_total{status=\"400\"} 1"), "{text}");
        assert!(text.contains("lelp_request_duration_seconds_count 6"), "{text}");
        assert_eq!(quantiles.len(), 3);
        assert!(quantiles.windows(2).all(|w| w[0] <= w[1]), "{quantiles:?}");
        // the p99 of six latencies is the largest, about 100 ms
        assert!((0.1..0.2).contains(&quantiles[2]), "{quantiles:?}");
    }

    /// A body without a declared length is measured while it is read:
    /// over the limit, 413.
    #[tokio::test]
    async fn an_undeclared_body_over_the_limit_is_refused() {
        let (state, _rx) = state(4);
        let app = router(Arc::clone(&state));
        let req = Request::builder()
            .method("POST")
            .uri("/predict")
            .body(Body::from(vec![b' '; 2 << 20]))
            .unwrap();
        let r = app.oneshot(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(state.metrics.stats().requests, 1);
    }

    #[test]
    fn zero_limits_are_refused() {
        for c in [
            ServeConfig {
                max_batch: 0,
                ..ServeConfig::default()
            },
            ServeConfig {
                queue: 0,
                ..ServeConfig::default()
            },
            ServeConfig {
                read_timeout: Duration::ZERO,
                ..ServeConfig::default()
            },
        ] {
            assert!(matches!(c.check(), Err(LelpError::InvalidParameter { .. })));
        }
    }
}
