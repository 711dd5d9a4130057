//! The commands on a model file: `quantize`, `export --onnx`, `serve` and
//! `info`.

use std::path::Path;

use lelp::deploy::{Classifier, ModelFile};

use crate::{Columns, emit};

/// `lelp quantize`: the model file with its table in int8 or f16, and (with
/// `data`) both files' accuracy and their agreement on it, as JSON.
pub(crate) fn quantize(
    model: &Path,
    out: &Path,
    to: &str,
    data: Option<&Path>,
    columns: &Columns,
    device: &burn::prelude::Device,
) -> lelp::Result<()> {
    let q: lelp::deploy::Quantization = to.parse()?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let bytes_before = size(model);
    let full = ModelFile::read(model)?;
    let small = full.clone().quantized(q)?;
    small.save(out)?;
    let mut report = serde_json::json!({
        "model": model.display().to_string(),
        "out": out.display().to_string(),
        "quantization": q.to_string(),
        "bytes_before": bytes_before,
        "bytes_after": size(out),
    });
    if let Some(data) = data {
        let corpus = columns.read(data)?;
        if corpus.label_sets.is_some() || full.manifest.multi_label.is_some() {
            return Err(lelp::LelpError::InvalidParameter {
                name: "data",
                value: data.display().to_string(),
                reason: "quantize --data compares one class a text; score a multi-label file with `lelp eval`",
            });
        }
        let texts: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
        let (a, b) = (
            Classifier::from_model_on(full, device)?,
            Classifier::from_model_on(small, device)?,
        );
        let names = a.class_names().to_vec();
        let (mut right_a, mut right_b, mut agree) = (0usize, 0usize, 0usize);
        for (chunk, labels) in texts.chunks(512).zip(corpus.labels.chunks(512)) {
            for ((pa, pb), &l) in a.predict(chunk)?.iter().zip(b.predict(chunk)?).zip(labels) {
                let label = &corpus.class_names[l];
                right_a += usize::from(&names[pa.label] == label);
                right_b += usize::from(&names[pb.label] == label);
                agree += usize::from(pa.label == pb.label);
            }
        }
        let n = texts.len().max(1) as f64;
        report["data"] = serde_json::json!(data.display().to_string());
        report["accuracy_before"] = serde_json::json!(right_a as f64 / n);
        report["accuracy_after"] = serde_json::json!(right_b as f64 / n);
        report["agreement"] = serde_json::json!(agree as f64 / n);
    }
    emit(
        None,
        &format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()),
    )
}

pub(crate) fn info(model: &Path) -> lelp::Result<()> {
    let m = ModelFile::read(model)?;
    let mut v = serde_json::to_value(&m.manifest).unwrap_or_default();
    if let Some(f) = v.get_mut("featurizer").and_then(|f| f.as_object_mut())
        && let Some(vocab) = f.remove("vocab")
    {
        let len = vocab.as_array().map_or(0, Vec::len);
        f.insert("vocab_size".into(), serde_json::json!(len));
    }
    v["student_parameters"] = serde_json::json!(m.num_params());
    v["encoder_parameters"] = serde_json::json!(m.encoder_params());
    emit(
        None,
        &format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()),
    )
}

/// `lelp export --onnx MODEL OUT`: the student as ONNX, and its manifest
/// (featuriser settings, class names, calibration) as JSON beside it.
pub(crate) fn export_onnx(model: &Path, out: &Path) -> lelp::Result<()> {
    let sidecar = out.with_extension("json");
    if sidecar == out {
        return Err(lelp::LelpError::InvalidParameter {
            name: "export OUT",
            value: out.display().to_string(),
            reason: "the ONNX file's name must not end in .json (the manifest is written beside it as OUT.json)",
        });
    }
    let m = ModelFile::read(model)?;
    let onnx = m.to_onnx()?;
    let manifest = serde_json::to_string_pretty(&m.manifest).unwrap_or_default();
    lelp::io::write_atomic(out, &onnx)?;
    lelp::io::write_atomic(&sidecar, format!("{manifest}\n").as_bytes())?;
    let report = serde_json::json!({
        "model": model.display().to_string(),
        "onnx": out.display().to_string(),
        "manifest": sidecar.display().to_string(),
        "bytes": onnx.len(),
        "student": m.network().architecture().name(),
        "featurizer": m.manifest.featurizer.name(),
        "quantization": m.manifest.quantization.map(|q| q.to_string()),
        "inputs": "ids: int64 [batch, tokens]; mask: float32 [batch, tokens] (1 a token, 0 padding)",
        "outputs": "logits: float32 [batch, C*S]; probabilities: float32 [batch, C]",
    });
    emit(
        None,
        &format!("{}\n", serde_json::to_string_pretty(&report).unwrap_or_default()),
    )
}

/// `lelp serve`'s options.
#[cfg(feature = "serve")]
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// The model file (read once, at start).
    model: std::path::PathBuf,
    /// The address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port (0: any free one; the address is printed on standard error).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Texts predicted together at most.
    #[arg(long, default_value_t = 64)]
    max_batch: usize,
    /// Milliseconds the worker waits, after the first request of a batch, for requests still
    /// being read (it does not wait when none is).
    #[arg(long, default_value_t = 2)]
    max_wait_ms: u64,
    /// Requests waiting at most; one more is answered 503 at once.
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    /// A request body's bytes at most (413 over it).
    #[arg(long, default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Texts a request at most (413 over it).
    #[arg(long, default_value_t = 1024)]
    max_texts: usize,
    /// A text's bytes at most (413 over it).
    #[arg(long, default_value_t = 100_000)]
    max_text_bytes: usize,
    /// Seconds a client has to send its whole body (408 after).
    #[arg(long, default_value_t = 10.0)]
    read_timeout_s: f64,
}

/// `lelp serve`: the model over HTTP until Ctrl-C or SIGTERM.
#[cfg(feature = "serve")]
pub(crate) fn serve(args: &ServeArgs, device: &burn::prelude::Device) -> lelp::Result<()> {
    use std::time::Duration;
    if !(args.read_timeout_s.is_finite() && args.read_timeout_s > 0.0) {
        return Err(lelp::LelpError::InvalidParameter {
            name: "read-timeout-s",
            value: args.read_timeout_s.to_string(),
            reason: "a positive number of seconds",
        });
    }
    let config = lelp::serve::ServeConfig {
        max_batch: args.max_batch,
        max_wait: Duration::from_millis(args.max_wait_ms),
        queue: args.queue,
        max_body_bytes: args.max_body_bytes,
        max_texts: args.max_texts,
        max_text_bytes: args.max_text_bytes,
        read_timeout: Duration::from_secs_f64(args.read_timeout_s),
        ..lelp::serve::ServeConfig::default()
    };
    let classifier = Classifier::load_on(&args.model, device)?;
    let io = |what: String| {
        move |e: std::io::Error| lelp::LelpError::Io {
            path: what.into(),
            source: e,
        }
    };
    let addr = format!("{}:{}", args.host, args.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("the async runtime".into()))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .map_err(io(addr.clone()))?;
        let bound = listener.local_addr().map_err(io(addr.clone()))?;
        eprintln!(
            "lelp: serving {} on http://{bound} (POST /predict, GET /health, GET /metrics); Ctrl-C stops",
            args.model.display()
        );
        let stats = lelp::serve::serve(classifier, listener, config, stop_signal()).await?;
        eprintln!(
            "lelp: stopped after {} requests ({} answered 200, {} refused with 503), {} texts in {} batches{}",
            stats.requests,
            stats.ok,
            stats.rejected,
            stats.texts,
            stats.batches,
            if stats.cut_short {
                "; connections still open after the grace period were dropped"
            } else {
                ""
            }
        );
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM where there is one.
#[cfg(feature = "serve")]
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                tokio::signal::ctrl_c().await.ok();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.ok();
}
