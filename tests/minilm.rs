//! The MiniLM teacher against the Python stack (feature `text`; needs
//! `scripts/fetch-minilm.sh`): token ids equal Hugging Face `tokenizers`'
//! for every reference sentence, and sentence embeddings equal
//! sentence-transformers' within 1e-4 per component, on the device under
//! test, by burn's graph and by the host path (`EncoderPath`), which also
//! equal each other within 1e-5. Reference values:
//! tests/data/minilm/reference.py (versions in
//! versions.json next to it). Weight files with a missing, unexpected or
//! mis-shaped tensor are typed errors naming it.

mod common;

use std::collections::HashMap;

use burn::prelude::*;
use lelp::LelpError;
use lelp::text::{Bert, BertConfig, EncoderPath, SentenceEncoder, default_minilm_dir};

fn reference_ids() -> (Vec<String>, Vec<Vec<u32>>) {
    let dir = common::data_path("minilm", "");
    let sentences: Vec<String> = serde_json::from_slice(&std::fs::read(dir.join("sentences.json")).unwrap()).unwrap();
    let ids: Vec<Vec<u32>> = serde_json::from_slice(&std::fs::read(dir.join("ids.json")).unwrap()).unwrap();
    (sentences, ids)
}

fn reference() -> (Vec<String>, Vec<Vec<u32>>, Vec<f64>) {
    let (sentences, ids) = reference_ids();
    let (shape, emb) = common::load("minilm", "embeddings.npy");
    assert_eq!(shape, vec![sentences.len(), 384]);
    (sentences, ids, emb)
}

fn encoder(device: &Device) -> SentenceEncoder {
    let dir = default_minilm_dir();
    SentenceEncoder::from_dir(&dir, device).unwrap_or_else(|e| {
        panic!(
            "{e} (run `bash scripts/fetch-minilm.sh` to fetch the model into {})",
            dir.display()
        )
    })
}

#[test]
fn token_ids_equal_the_python_tokenizer() {
    let (sentences, ids) = reference_ids();
    let enc = encoder(&Device::flex());
    assert!(sentences.len() >= 20);
    for (s, want) in sentences.iter().zip(&ids) {
        assert_eq!(&enc.tokenize(s), want, "{s:?}");
    }
    assert_eq!(ids.last().unwrap().len(), 256, "truncated at 256 tokens");
}

#[test]
fn sentence_embeddings_equal_sentence_transformers() {
    for path in [EncoderPath::Device, EncoderPath::Host] {
        embeddings_equal_sentence_transformers(path);
    }
}

fn embeddings_equal_sentence_transformers(path: EncoderPath) {
    let (sentences, _, want) = reference();
    let device = common::device();
    let enc = encoder(&device).with_path(path);
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let got = common::host(enc.encode(&texts, 8, &device).unwrap());
    assert_eq!(got.len(), want.len());
    let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
    eprintln!("{path:?}: largest difference per component: {worst:.2e}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4,
            "{path:?}: sentence {} component {}: {g} vs {w}",
            i / 384,
            i % 384
        );
    }
    // unit norm, and batching does not change the result
    let one = common::host(enc.encode(&texts[..3], 1, &device).unwrap());
    for (a, b) in one.iter().zip(&got[..3 * 384]) {
        assert!((a - b).abs() <= 1e-5);
    }
}

/// The host path is the graph's arithmetic, within float rounding.
#[test]
fn the_host_path_equals_the_graph() {
    let (sentences, _) = reference_ids();
    let device = common::device();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let graph = encoder(&device).with_path(EncoderPath::Device);
    let host = encoder(&device).with_path(EncoderPath::Host);
    let a = common::host(graph.encode(&texts, 8, &device).unwrap());
    let b = common::host(host.encode(&texts, 8, &device).unwrap());
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-5, "largest difference {worst:.2e}");
}

/// Tensors by name: shape and values.
type Weights = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// A tiny BERT's weights under their Hugging Face names.
fn tiny_weights() -> (BertConfig, Weights) {
    let c: BertConfig = serde_json::from_str(
        r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 16, "max_position_embeddings": 12, "type_vocab_size": 2,
            "layer_norm_eps": 1e-12, "hidden_act": "gelu"}"#,
    )
    .unwrap();
    let mut w = HashMap::new();
    let mut put = |name: &str, shape: Vec<usize>| {
        let n: usize = shape.iter().product();
        w.insert(
            name.to_string(),
            (shape, (0..n).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect()),
        );
    };
    put("embeddings.word_embeddings.weight", vec![10, 8]);
    put("embeddings.position_embeddings.weight", vec![12, 8]);
    put("embeddings.token_type_embeddings.weight", vec![2, 8]);
    for p in [
        "embeddings.LayerNorm",
        "encoder.layer.0.attention.output.LayerNorm",
        "encoder.layer.0.output.LayerNorm",
    ] {
        put(&format!("{p}.weight"), vec![8]);
        put(&format!("{p}.bias"), vec![8]);
    }
    for (p, o, i) in [
        ("encoder.layer.0.attention.self.query", 8, 8),
        ("encoder.layer.0.attention.self.key", 8, 8),
        ("encoder.layer.0.attention.self.value", 8, 8),
        ("encoder.layer.0.attention.output.dense", 8, 8),
        ("encoder.layer.0.intermediate.dense", 16, 8),
        ("encoder.layer.0.output.dense", 8, 16),
    ] {
        put(&format!("{p}.weight"), vec![o, i]);
        put(&format!("{p}.bias"), vec![o]);
    }
    (c, w)
}

fn write(w: &Weights, path: &std::path::Path) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .iter()
        .map(|(n, (s, v))| (n.clone(), s.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.as_str(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

#[test]
fn weight_files_that_do_not_fit_are_typed_errors_naming_the_tensor() {
    let device = Device::flex();
    let dir = common::tempdir("bert-weights");
    let path = dir.join("model.safetensors");
    let (c, w) = tiny_weights();
    write(&w, &path);
    let bert = Bert::load(&path, &c, &device).unwrap();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 4, 2, 0], [1, 4]), &device);
    let mask = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 1, 1, 0], [1, 4]), &device);
    assert_eq!(bert.forward(ids, mask).unwrap().dims(), [1, 4, 8]);

    let expect = |w: &Weights, tensor: &str, reason: &str| {
        write(w, &path);
        match Bert::load(&path, &c, &device) {
            Err(LelpError::ModelWeights {
                tensor: t, reason: r, ..
            }) => {
                assert_eq!(t, tensor);
                assert!(r.contains(reason), "{r}");
            }
            other => panic!("expected ModelWeights for {tensor}, got {other:?}"),
        }
    };
    let mut missing = w.clone();
    missing.remove("encoder.layer.0.intermediate.dense.bias");
    expect(&missing, "encoder.layer.0.intermediate.dense.bias", "missing");
    let mut extra = w.clone();
    extra.insert("encoder.layer.1.output.dense.bias".into(), (vec![8], vec![0.0; 8]));
    expect(&extra, "encoder.layer.1.output.dense.bias", "unexpected");
    let mut transposed = w.clone();
    transposed.insert(
        "encoder.layer.0.output.dense.weight".into(),
        (vec![16, 8], vec![0.0; 128]),
    );
    expect(&transposed, "encoder.layer.0.output.dense.weight", "shape");
    // a sequence longer than the position table
    let long = Tensor::<2, Int>::zeros([1, 13], &device);
    assert!(matches!(
        bert.forward(long.clone(), long),
        Err(LelpError::DimensionMismatch {
            expected: 12,
            got: 13,
            ..
        })
    ));
}

/// Two callers encoding the same texts into the same cache at once: one
/// encodes (a progress call per batch), the other waits on the cache's
/// lock and reads its file (one progress call), and both get the same rows.
#[test]
fn a_second_caller_waits_for_the_cache_instead_of_encoding_again() {
    let device = common::device();
    let enc = encoder(&device);
    let cache = std::env::temp_dir().join(format!("lelp-cache-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let texts: Vec<String> = (0..8).map(|i| format!("text number {i} for the cache")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (calls, rows): (Vec<usize>, Vec<Vec<f32>>) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut calls = 0;
                    let t = enc.encode_cached(&refs, 2, &device, &cache, |_, _| calls += 1).unwrap();
                    (calls, t.into_data().try_to_vec::<f32>().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).unzip()
    });
    let mut sorted = calls.clone();
    sorted.sort();
    assert_eq!(sorted, vec![1, 4], "progress calls per caller: {calls:?}");
    assert_eq!(rows[0], rows[1]);
    // exactly one cache file, no temporary left behind
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".npy"));
    std::fs::remove_dir_all(&cache).unwrap();
}

/// The fine-tuned teacher: trained once (the second call reads the folder
/// and gives the same encoder and head), learns the labels (its head over
/// its own embeddings fits them; the frozen encoder's embeddings moved), a
/// folder left without its record (a crash before the end) is trained
/// again, and bad labels are typed errors.
#[test]
fn a_fine_tuned_teacher_is_trained_once_and_learns_its_labels() {
    use lelp::teacher::{ModuleTeacher, TeacherEncoder};
    use lelp::text::{FineTuneConfig, fine_tune};
    use lelp::train::Silent;
    let device = common::device();
    let base = encoder(&device);
    let good = [
        "a wonderful day",
        "great food and kind people",
        "i love this",
        "what a lovely gift",
    ];
    let bad = [
        "a terrible day",
        "awful food and rude people",
        "i hate this",
        "what a broken gift",
    ];
    let texts: Vec<&str> = good.iter().chain(&bad).copied().collect();
    let labels: Vec<usize> = (0..8).map(|i| usize::from(i >= 4)).collect();
    let config = FineTuneConfig::default()
        .with_epochs(4)
        .with_lr(1e-3)
        .with_batch_size(4)
        .with_max_tokens(16)
        .with_warmup(0.0);
    let cache = common::tempdir("fine-tune");
    let run = || {
        fine_tune(
            &base,
            &default_minilm_dir(),
            &texts,
            &labels,
            2,
            &config,
            &cache,
            &device,
            Silent,
        )
        .unwrap()
    };
    let first = run();
    assert!(!first.cached);
    let emb = |enc: &SentenceEncoder| common::host(enc.encode(&texts, 8, &device).unwrap());
    let tuned = emb(&first.encoder);
    // the head over the fine-tuned embeddings separates the two kinds
    let data = lelp::data::Dataset::new(tuned.iter().map(|&x| x as f32).collect(), 384, labels.clone(), 2).unwrap();
    let out = ModuleTeacher::new(first.head.clone())
        .unwrap()
        .encode(&data, 8, &device)
        .unwrap();
    let logits = common::host(out.logits().clone());
    let hits = (0..8)
        .filter(|&i| (logits[2 * i + 1] > logits[2 * i]) == (labels[i] == 1))
        .count();
    assert_eq!(hits, 8, "{logits:?}");
    // the encoder moved: its mean-pooled states are no longer the base's
    let frozen = emb(&encoder(&device).with_pooling(lelp::text::Pooling::Mean, false));
    let moved = tuned
        .iter()
        .zip(&frozen)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved > 1e-2, "{moved}");
    // trained once: the second call reads the folder, the same numbers
    let second = run();
    assert!(second.cached);
    assert_eq!(second.dir, first.dir);
    assert_eq!(emb(&second.encoder), tuned);
    // a folder without its record (a crash before the end) is trained again
    std::fs::remove_file(first.dir.join("fine-tune.json")).unwrap();
    assert!(!run().cached);
    // bad labels
    let e = fine_tune(
        &base,
        &default_minilm_dir(),
        &texts,
        &[0, 1, 2, 0, 1, 0, 1, 0],
        2,
        &config,
        &cache,
        &device,
        Silent,
    )
    .unwrap_err();
    assert!(matches!(e, LelpError::InvalidParameter { name: "labels", .. }), "{e:?}");
    let _ = std::fs::remove_dir_all(&cache);
}
