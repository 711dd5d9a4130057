//! `tokenizer.json` is checked, not assumed: BERT WordPiece files, uncased
//! and cased
//! (with BERT's token names and prefix, and with others) tokenise exactly
//! as the Hugging Face `tokenizers` library does, and every field whose
//! value the crate cannot reproduce is refused by name
//! (tests/data/tokenizer/reference.py, tokenizers 0.22.2), special tokens
//! written in a text included.

use lelp::LelpError;
use lelp::text::{WordPiece, WordPieceSettings};
use serde_json::Value;

fn cases(file: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tokenizer")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn parse(tokenizer: &Value) -> lelp::Result<WordPiece> {
    WordPiece::parse_tokenizer_json(tokenizer.to_string().as_bytes(), "case/tokenizer.json")
}

#[test]
fn accepted_files_tokenise_as_the_reference_library() {
    let cases = cases("accepted.json");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let tok = parse(&case["tokenizer"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (text, ids) in case["texts"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["ids"].as_array().unwrap())
        {
            let want: Vec<u32> = ids
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(tok.encode(text.as_str().unwrap(), 512), want, "{name}: {text}");
        }
        // the settings survive a round trip through the vocabulary (a model file's path)
        let again = WordPiece::from_vocab_with_settings(tok.tokens(), &tok.settings()).unwrap();
        for text in case["texts"].as_array().unwrap() {
            let t = text.as_str().unwrap();
            assert_eq!(again.encode(t, 512), tok.encode(t, 512), "{name}: {t}");
        }
    }
}

#[test]
fn the_file_names_its_special_tokens_and_prefix() {
    let case = &cases("accepted.json")[2];
    let s = parse(&case["tokenizer"]).unwrap().settings();
    assert_eq!(
        s,
        WordPieceSettings {
            unk: "<unk>".into(),
            cls: "<s>".into(),
            sep: "</s>".into(),
            pad: "<pad>".into(),
            prefix: "@@".into(),
            max_word_chars: 100,
            added_tokens: Some(["<pad>", "<unk>", "</s>", "<s>"].map(String::from).to_vec()),
            lowercase: true,
            strip_accents: true,
        }
    );
    // a cased file's settings say so
    let cased = cases("accepted.json")
        .into_iter()
        .find(|c| c["name"] == "cased")
        .unwrap();
    let s = parse(&cased["tokenizer"]).unwrap().settings();
    assert!(!s.lowercase && !s.strip_accents);
}

#[test]
fn every_field_the_crate_cannot_reproduce_is_refused_by_name() {
    let cases = cases("refused.json");
    assert_eq!(cases.len(), 16);
    for case in cases {
        let want = case["field"].as_str().unwrap();
        match parse(&case["tokenizer"]) {
            Err(LelpError::Unsupported {
                field, path, reason, ..
            }) => {
                assert_eq!(field, want);
                assert!(path.ends_with("case/tokenizer.json"));
                assert!(!reason.is_empty());
            }
            other => panic!("{want}: {other:?}"),
        }
    }
}

#[test]
fn damaged_files_are_corrupted_not_unsupported() {
    for text in ["", "[1, 2]", "{\"model\": 3", "null"] {
        let r = WordPiece::parse_tokenizer_json(text.as_bytes(), "x.json");
        assert!(matches!(r, Err(LelpError::Corrupted { .. })), "{text:?}: {r:?}");
    }
    // a special token the post-processor names but the vocabulary lacks
    let mut tok = cases("accepted.json")[0]["tokenizer"].clone();
    tok["model"]["vocab"].as_object_mut().unwrap().remove("[CLS]");
    tok["added_tokens"] = Value::Array(vec![]);
    assert!(matches!(parse(&tok), Err(LelpError::Corrupted { reason, .. }) if reason.contains("[CLS]")));
}

/// A sentence-transformers folder whose pooling is not the mean is refused
/// by name before any weight is read (lelp pools by the mean only).
#[test]
fn a_folder_with_another_pooling_is_refused() {
    let dir = std::env::temp_dir().join(format!("lelp-pooling-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let tok = &cases("accepted.json")[0]["tokenizer"];
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    let config = serde_json::json!({
        "vocab_size": 64, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "max_position_embeddings": 32, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_act": "gelu"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let device = burn::prelude::Device::flex();
    for (pooling, field) in [
        (
            serde_json::json!({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}),
            "pooling_mode_mean_tokens",
        ),
        (
            serde_json::json!({"pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}),
            "pooling_mode_max_tokens",
        ),
    ] {
        std::fs::write(dir.join("1_Pooling/config.json"), pooling.to_string()).unwrap();
        match lelp::text::SentenceEncoder::from_dir(&dir, &device) {
            Err(LelpError::Unsupported { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // mean pooling passes the check and fails later, on the absent weights
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        r#"{"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false}"#,
    )
    .unwrap();
    let r = lelp::text::SentenceEncoder::from_dir(&dir, &device);
    assert!(matches!(r, Err(LelpError::FileNotFound { .. })), "{r:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
