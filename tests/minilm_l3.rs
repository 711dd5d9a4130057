//! A second real checkpoint, the 3-layer paraphrase-MiniLM-L3-v2 (feature
//! `text`; needs `scripts/fetch-minilm-l3.sh`, which converts its ONNX
//! export): sizes from its config, its tokenizer.json checked, token ids
//! equal to Hugging Face `tokenizers`' and sentence embeddings equal to
//! onnxruntime's run of the original ONNX graph within 1e-4 per component,
//! on the device under test (tests/data/minilm_l3/reference.py, versions
//! in versions.json next to it).

mod common;

use burn::prelude::*;
use lelp::text::SentenceEncoder;

fn l3_dir() -> std::path::PathBuf {
    std::env::var_os("LELP_MINILM_L3_DIR")
        .map(Into::into)
        .unwrap_or_else(|| lelp::text::default_cache_dir().join("paraphrase-MiniLM-L3-v2"))
}

fn encoder(device: &Device) -> SentenceEncoder {
    let dir = l3_dir();
    SentenceEncoder::from_dir(&dir, device).unwrap_or_else(|e| {
        panic!(
            "{e} (run `bash scripts/fetch-minilm-l3.sh` to fetch the model into {})",
            dir.display()
        )
    })
}

fn reference() -> (Vec<String>, Vec<Vec<u32>>, Vec<f64>) {
    let sentences: Vec<String> =
        serde_json::from_slice(&std::fs::read(common::data_path("minilm", "sentences.json")).unwrap()).unwrap();
    let ids: Vec<Vec<u32>> =
        serde_json::from_slice(&std::fs::read(common::data_path("minilm_l3", "ids.json")).unwrap()).unwrap();
    let (shape, emb) = common::load("minilm_l3", "embeddings.npy");
    assert_eq!(shape, vec![sentences.len(), 384]);
    (sentences, ids, emb)
}

#[test]
fn the_l3_checkpoint_equals_onnxruntime() {
    let (sentences, ids, want) = reference();
    let device = common::device();
    let enc = encoder(&device);
    // sizes come from the config: 3 layers of width 384, 17.2M parameters
    assert_eq!(enc.bert().num_layers(), 3);
    assert_eq!(enc.embedding_dim(), 384);
    assert_eq!(enc.bert().num_params(), 17_241_984);
    assert_eq!(enc.max_seq_length(), 128);
    for (s, want) in sentences.iter().zip(&ids) {
        assert_eq!(&enc.tokenize(s), want, "{s:?}");
    }
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let got = common::host(enc.encode(&texts, 8, &device).unwrap());
    let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
    eprintln!("largest difference per component: {worst:.2e}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4,
            "sentence {} component {}: {g} vs {w}",
            i / 384,
            i % 384
        );
    }
}

/// A transformer student initialised from the L3 checkpoint starts as the
/// checkpoint: its pooled embedding, normalised, is the encoder's.
#[test]
fn a_student_from_the_checkpoint_starts_as_the_checkpoint() {
    let device = common::device();
    let enc = encoder(&device);
    let student = lelp::text::TransformerStudentConfig::new(4)
        .init(enc.bert().clone(), &device)
        .unwrap();
    let texts = ["a first sentence", "and a second, longer one with more words"];
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| enc.tokenize(t)).collect();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let batch = lelp::data::TokenBatch::from_sequences(&refs, 128, &device).unwrap();
    let pooled = lelp::train::Student::forward(&student, lelp::data::Inputs::Tokens(batch))
        .unwrap()
        .embedding;
    let pooled = common::host(pooled);
    let want = common::host(enc.encode(&texts, 2, &device).unwrap());
    for r in 0..2 {
        let row = &pooled[r * 384..(r + 1) * 384];
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        for (a, b) in row.iter().zip(&want[r * 384..(r + 1) * 384]) {
            assert!((a / norm - b).abs() < 1e-5, "{} vs {b}", a / norm);
        }
    }
}
