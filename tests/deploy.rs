//! The model file and the classifier (feature `text`): the host forward
//! pass equals burn's on the same texts (burn is the reference), a file
//! round-trips, every kind of damage is a typed error naming the file, and
//! one classifier serves many threads.

mod common;

use std::sync::Arc;

use burn::prelude::*;
use lelp::LelpError;
use lelp::data::{HashedNgrams, Inputs, TokenBatch};
use lelp::deploy::{Classifier, Featurizer, ModelFile, read_labelled, read_texts};
use lelp::text::WordPiece;
use lelp::text::{SentenceEncoder, default_minilm_dir};
use lelp::train::{BagConfig, MlpConfig, Student, TextCnnConfig, class_logits};

/// Texts of every awkward kind: empty, control, zero-width and
/// right-to-left characters, a long text, emoji.
fn awkward_texts() -> Vec<String> {
    vec![
        "free money, FREE money!".into(),
        String::new(),
        "   ".into(),
        "tab\tand\u{0007}bell and \u{0000} nul".into(),
        "zero\u{200b}width\u{200d}joiner \u{feff}bom".into(),
        "\u{202e}right to left\u{202c} \u{05e9}\u{05dc}\u{05d5}\u{05dd} \u{0645}\u{0631}\u{062d}\u{0628}\u{0627}"
            .into(),
        "caf\u{e9} na\u{ef}ve \u{1F600} \u{4e2d}\u{6587}".into(),
        "meeting at noon".into(),
        "word ".repeat(200_000), // about 1 MB
    ]
}

/// The class probabilities burn computes for one batch of token sequences.
fn burn_probabilities<S: Student>(s: &S, seqs: &[Vec<u32>], classes: usize, device: &Device) -> Vec<Vec<f32>> {
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    let batch = TokenBatch::from_sequences(&refs, usize::MAX, device).unwrap();
    let z = s.forward(Inputs::Tokens(batch)).unwrap().logits;
    let sub = s.num_outputs() / classes;
    let p = burn::tensor::activation::softmax(class_logits(z, classes, sub), 1);
    let v = common::host(p);
    v.chunks(classes)
        .map(|r| r.iter().map(|&x| x as f32).collect())
        .collect()
}

fn assert_probs_close(what: &str, got: &[Vec<f32>], want: &[Vec<f32>]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() < 1e-5, "{what} text {i}: {g:?} vs burn {w:?}");
        }
    }
}

/// The classifier's class probabilities for `texts`.
fn probabilities(classifier: &Classifier, texts: &[&str]) -> Vec<Vec<f32>> {
    classifier
        .predict(texts)
        .unwrap()
        .into_iter()
        .map(|p| p.probabilities)
        .collect()
}

fn names(c: usize) -> Vec<String> {
    (0..c).map(|i| format!("class-{i}")).collect()
}

/// A bag student over hashed n-grams with `C * S = 2 * 3` outputs and a
/// hidden layer (seeded weights: the comparison with burn holds for any).
fn trained_bag(device: &Device) -> (lelp::train::Bag, HashedNgrams) {
    let hasher = HashedNgrams::new(1 << 10);
    let bag = BagConfig::new(1 << 10, 6)
        .with_dim(8)
        .with_hidden(Some(5))
        .with_seed(3)
        .init(device)
        .unwrap();
    (bag, hasher)
}

#[test]
fn bag_classifier_equals_burn_on_awkward_texts() {
    let device = common::device();
    let (bag, hasher) = trained_bag(&device);
    bag_equals_burn(bag, hasher, &device);
    // with the mean L2-normalised (the static student's pooling)
    let bag = BagConfig::new(1 << 10, 4)
        .with_dim(8)
        .with_normalize(true)
        .with_seed(4)
        .init(&device)
        .unwrap();
    bag_equals_burn(bag, HashedNgrams::new(1 << 10), &device);
}

fn bag_equals_burn(bag: lelp::train::Bag, hasher: HashedNgrams, device: &Device) {
    let device = device.clone();
    let model = ModelFile::new(&bag, Featurizer::hashed(&hasher), names(2)).unwrap();
    let dir = common::tempdir("deploy-bag");
    let path = dir.join("nested/missing/folder/model.safetensors");
    model.save(&path).unwrap();
    let classifier = Classifier::load(&path).unwrap();
    let texts = awkward_texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = probabilities(&classifier, &refs);
    // burn on the whole batch at once: padding must not change a text's result
    let seqs: Vec<Vec<u32>> = refs.iter().map(|t| hasher.encode(t)).collect();
    let want = burn_probabilities(&bag, &seqs, 2, &device);
    assert_probs_close("bag", &got, &want);
    for p in classifier.predict(&refs).unwrap() {
        assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(p.label, if p.probabilities[1] > p.probabilities[0] { 1 } else { 0 });
    }
}

fn small_wordpiece() -> WordPiece {
    let vocab = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "free", "money", "meet", "##ing", "at", "noon", "win", "a", "prize", ",",
        "!",
    ];
    WordPiece::from_vocab(vocab.iter().map(|s| s.to_string())).unwrap()
}

#[test]
fn cnn_classifier_equals_burn_and_ignores_batch_padding() {
    let device = common::device();
    let wp = small_wordpiece();
    let cnn = TextCnnConfig::new(wp.vocab_size(), 2)
        .with_dim(6)
        .with_channels(5)
        .with_seed(11)
        .init(&device)
        .unwrap();
    let model = ModelFile::new(&cnn, Featurizer::wordpiece(&wp, 16), names(2)).unwrap();
    let bytes = model.to_bytes().unwrap();
    let classifier = Classifier::from_model(ModelFile::from_bytes(&bytes, "cnn.safetensors").unwrap()).unwrap();
    let texts = awkward_texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = probabilities(&classifier, &refs);
    let seqs: Vec<Vec<u32>> = refs.iter().map(|t| wp.encode(t, 16)).collect();
    // sequences of different lengths in one padded batch, and each alone
    let batched = burn_probabilities(&cnn, &seqs, 2, &device);
    assert_probs_close("cnn (batched)", &got, &batched);
    let alone: Vec<Vec<f32>> = seqs
        .iter()
        .map(|s| burn_probabilities(&cnn, std::slice::from_ref(s), 2, &device).remove(0))
        .collect();
    assert_probs_close("cnn (alone)", &got, &alone);
}

/// A static student with bigram rows: its file reads the pairs of
/// adjacent pieces as training did (the classifier equals burn on
/// `encode_with_bigrams`' ids, not on the pieces alone); a file that
/// names more bigram ids than the table holds is refused when read, a CNN
/// with bigram ids when built.
#[test]
fn a_static_student_with_bigram_rows_predicts_as_trained() {
    let device = common::device();
    let wp = small_wordpiece();
    let (b, dim) = (32u32, 6);
    let rows = wp.vocab_size() + b as usize;
    let table: Vec<f32> = (0..rows * dim).map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0).collect();
    let bag = BagConfig::new(rows, 2)
        .with_dim(dim)
        .with_normalize(true)
        .with_seed(5)
        .init_with_table(table, false, &device)
        .unwrap();
    let model = ModelFile::new(&bag, Featurizer::wordpiece_with_bigrams(&wp, 16, b), names(2)).unwrap();
    let bytes = model.to_bytes().unwrap();
    let read = |b: &[u8]| ModelFile::from_bytes(b, "static.safetensors");
    let classifier = Classifier::from_model(read(&bytes).unwrap()).unwrap();
    let mut texts = awkward_texts();
    texts.extend([
        "free money at noon".into(),
        "win a prize, win money!".into(),
        "meeting".into(),
    ]);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = probabilities(&classifier, &refs);
    let pairs: Vec<Vec<u32>> = refs.iter().map(|t| wp.encode_with_bigrams(t, 16, b)).collect();
    assert_probs_close(
        "static with bigrams",
        &got,
        &burn_probabilities(&bag, &pairs, 2, &device),
    );
    let pieces: Vec<Vec<u32>> = refs.iter().map(|t| wp.encode(t, 16)).collect();
    let alone = burn_probabilities(&bag, &pieces, 2, &device);
    assert!(
        got.iter().zip(&alone).any(|(g, a)| (g[0] - a[0]).abs() > 1e-3),
        "the pairs' rows change the scores"
    );
    let e = read(&with_manifest(&bytes, |m| {
        m["featurizer"]["bigram_buckets"] = (b + 1).into()
    }))
    .unwrap_err();
    assert!(matches!(e, LelpError::Corrupted { .. }), "{e:?}");
    let cnn = TextCnnConfig::new(rows, 2)
        .with_dim(4)
        .with_channels(3)
        .init(&device)
        .unwrap();
    let e = ModelFile::new(&cnn, Featurizer::wordpiece_with_bigrams(&wp, 16, b), names(2)).unwrap_err();
    assert!(matches!(e, LelpError::InvalidParameter { .. }), "{e:?}");
}

#[test]
fn one_classifier_serves_many_threads() {
    let device = common::device();
    let (bag, hasher) = trained_bag(&device);
    let model = ModelFile::new(&bag, Featurizer::hashed(&hasher), names(2)).unwrap();
    let classifier = Arc::new(Classifier::from_model(model).unwrap());
    let texts: Vec<String> = (0..64)
        .map(|i| format!("text number {i} free money {}", i % 7))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = classifier.predict(&refs).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (c, t) = (Arc::clone(&classifier), texts.clone());
            std::thread::spawn(move || {
                let refs: Vec<&str> = t.iter().map(String::as_str).collect();
                (0..10).map(|_| c.predict(&refs).unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for got in h.join().unwrap() {
            assert_eq!(got, want);
        }
    }
}

/// `bytes` with its manifest replaced by `edit(manifest)`.
fn with_manifest(bytes: &[u8], edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = meta.metadata().clone().unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&meta["lelp.manifest"]).unwrap();
    edit(&mut m);
    meta.insert("lelp.manifest".into(), m.to_string());
    let tensors: Vec<(String, safetensors::tensor::TensorView)> = st.tensors();
    safetensors::serialize(tensors, Some(meta)).unwrap()
}

#[test]
fn damaged_foreign_and_newer_files_are_typed_errors_naming_the_file() {
    let device = common::device();
    let (bag, hasher) = trained_bag(&device);
    let model = ModelFile::new(&bag, Featurizer::hashed(&hasher), names(2)).unwrap();
    let bytes = model.to_bytes().unwrap();
    let read = |b: &[u8]| ModelFile::from_bytes(b, "m.safetensors");
    assert!(read(&bytes).is_ok());
    // truncated anywhere
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = read(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(e, LelpError::Truncated { .. } | LelpError::Corrupted { .. }),
            "cut {cut}: {e:?}"
        );
        assert!(e.to_string().contains("m.safetensors"), "{e}");
    }
    // a newer format version is refused by name
    let newer = with_manifest(&bytes, |m| m["format_version"] = 99.into());
    let e = read(&newer).unwrap_err();
    assert!(
        matches!(
            e,
            LelpError::FormatVersion {
                found: 99,
                supported: lelp::deploy::FORMAT_VERSION,
                ..
            }
        ),
        "{e:?}"
    );
    // this build writes version 2 (3 only with a fitted temperature:
    // tests/cli.rs) and reads the 0.2 builds' version 1
    let m: serde_json::Value = serde_json::to_value(&read(&bytes).unwrap().manifest).unwrap();
    assert_eq!(m["format_version"], 2);
    assert!(read(&with_manifest(&bytes, |m| m["format_version"] = 1.into())).is_ok());
    // a foreign safetensors file (no lelp manifest)
    let foreign = safetensors::serialize(
        vec![(
            "w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0u8; 4]).unwrap(),
        )],
        None,
    )
    .unwrap();
    let e = read(&foreign).unwrap_err();
    assert!(
        matches!(&e, LelpError::Corrupted { reason, .. } if reason.contains("not a lelp model")),
        "{e:?}"
    );
    // a manifest that disagrees with the weights
    let e = read(&with_manifest(&bytes, |m| {
        m["class_names"] = serde_json::json!(["a", "b", "c"])
    }))
    .unwrap_err();
    assert!(matches!(e, LelpError::Corrupted { .. }), "{e:?}");
    let e = read(&with_manifest(&bytes, |m| m["architecture"]["dim"] = 9.into())).unwrap_err();
    assert!(matches!(e, LelpError::ModelWeights { .. }), "{e:?}");
    let e = read(&with_manifest(&bytes, |m| {
        m["featurizer"]["buckets"] = (1u64 << 20).into()
    }))
    .unwrap_err();
    assert!(matches!(e, LelpError::Corrupted { .. }), "{e:?}");
    let e = read(&with_manifest(&bytes, |m| {
        m["class_names"] = serde_json::json!(["a", "a"])
    }))
    .unwrap_err();
    assert!(matches!(e, LelpError::Corrupted { .. }), "{e:?}");
    // a NaN weight
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut head = st.tensor("student.head.bias").unwrap().data().to_vec();
    head[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut tensors: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != "student.head.bias")
        .collect();
    tensors.push((
        "student.head.bias".into(),
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![6], &head).unwrap(),
    ));
    let nan = safetensors::serialize(tensors, meta.metadata().clone()).unwrap();
    let e = read(&nan).unwrap_err();
    assert!(
        matches!(&e, LelpError::ModelWeights { tensor, .. } if tensor == "student.head.bias"),
        "{e:?}"
    );
    // a missing file
    let e = Classifier::load("/nonexistent/model.safetensors").unwrap_err();
    assert!(matches!(e, LelpError::FileNotFound { .. }), "{e:?}");
}

#[test]
fn a_model_whose_parts_do_not_fit_is_refused_when_built() {
    let device = common::device();
    let (bag, hasher) = trained_bag(&device);
    // 6 outputs are not a multiple of 4 classes
    let e = ModelFile::new(&bag, Featurizer::hashed(&hasher), names(4)).unwrap_err();
    assert!(matches!(e, LelpError::InvalidParameter { .. }), "{e:?}");
    // more hash buckets than the bag has rows
    let e = ModelFile::new(&bag, Featurizer::hashed(&HashedNgrams::new(1 << 12)), names(2)).unwrap_err();
    assert!(matches!(e, LelpError::InvalidParameter { .. }), "{e:?}");
}

#[test]
fn input_files_name_the_file_and_the_row() {
    let dir = common::tempdir("deploy-inputs");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // plain lines: an empty line is an empty text
    let p = write("t.txt", b"one\n\nthree\n");
    assert_eq!(read_texts(&p).unwrap(), ["one", "", "three"]);
    // invalid UTF-8 on line 2
    let p = write("bad.txt", b"fine\nbad \xff byte\n");
    let e = read_texts(&p).unwrap_err();
    assert!(matches!(&e, LelpError::BadRecord { row: 2, .. }), "{e:?}");
    assert!(e.to_string().contains("bad.txt"), "{e}");
    let p = write("bad.csv", b"text,label\nok,a\nbad \xc3\x28,b\n");
    let e = read_labelled(&p).unwrap_err();
    assert!(matches!(&e, LelpError::BadRecord { row: 3, .. }), "{e:?}");
    // CSV without a text column, JSON line without a text
    let p = write("notext.csv", b"body,label\nhello,a\n");
    assert!(matches!(
        read_texts(&p).unwrap_err(),
        LelpError::BadRecord { row: 1, .. }
    ));
    let p = write("t.jsonl", b"{\"text\": \"a\"}\n\n{\"body\": \"b\"}\n");
    assert!(matches!(
        read_texts(&p).unwrap_err(),
        LelpError::BadRecord { row: 3, .. }
    ));
    // CSV without a label column
    let p = write("nolabel.csv", b"text,category\nhello,a\n");
    let e = read_labelled(&p).unwrap_err();
    assert!(
        matches!(&e, LelpError::BadRecord { row: 1, reason, .. } if reason.contains("label")),
        "{e:?}"
    );
    // CSV with the text column read for predictions, quotes and all
    let p = write("q.csv", b"id,text\n1,\"a, \"\"quoted\"\" text\"\n2,\n");
    assert_eq!(read_texts(&p).unwrap(), ["a, \"quoted\" text", ""]);
}

#[test]
fn mlp_classifier_carries_its_encoder_and_equals_burn() {
    let device = common::device();
    let dir = default_minilm_dir();
    let encoder = SentenceEncoder::from_dir(&dir, &device)
        .unwrap_or_else(|e| panic!("{e} (run `bash scripts/fetch-minilm.sh`)"))
        .with_max_seq_length(32);
    let mlp = MlpConfig::new(384, vec![16], 4).with_seed(5).init(&device).unwrap();
    let model = ModelFile::with_encoder(&mlp, &dir, 32, names(2)).unwrap();
    assert_eq!(model.manifest.subclasses, 2);
    assert_eq!(model.encoder_params(), encoder.bert().num_params());
    let path = common::tempdir("deploy-mlp").join("mlp.safetensors");
    model.save(&path).unwrap();
    let classifier = Classifier::load_on(&path, &device).unwrap();
    let texts = [
        "a sentence about money",
        "",
        "zero\u{200b}width and \u{202e}rtl",
        "the meeting is at noon",
    ];
    let got: Vec<Vec<f32>> = classifier
        .predict(&texts)
        .unwrap()
        .into_iter()
        .map(|p| p.probabilities)
        .collect();
    let emb = encoder.encode(&texts, 8, &device).unwrap();
    let z = mlp.forward(Inputs::Dense(emb)).unwrap().logits;
    let p = burn::tensor::activation::softmax(class_logits(z, 2, 2), 1);
    let want: Vec<Vec<f32>> = common::host(p)
        .chunks(2)
        .map(|r| r.iter().map(|&x| x as f32).collect())
        .collect();
    assert_probs_close("mlp", &got, &want);
}

#[test]
fn a_frozen_table_stays_as_given_through_training() {
    use lelp::data::Dataset;
    use lelp::train::{DistillConfig, Distiller, Method};
    let device = common::device();
    let (v, dim) = (16, 4);
    let table: Vec<f32> = (0..v * dim).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
    let data = Dataset::from_tokens(
        vec![vec![1, 2], vec![3, 4, 5], vec![6], vec![7, 8]],
        vec![0, 1, 0, 1],
        2,
    )
    .unwrap();
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let train = |frozen: bool| {
        let bag = BagConfig::new(v, 2)
            .with_dim(dim)
            .init_with_table(table.clone(), frozen, &device)
            .unwrap();
        let bag = Distiller::new(DistillConfig::new(5, 0.1))
            .fit(bag, &data, &targets, None, &device)
            .unwrap()
            .student;
        let bytes = ModelFile::new(&bag, Featurizer::hashed(&HashedNgrams::new(16)), names(2))
            .unwrap()
            .to_bytes()
            .unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let w: Vec<f32> = st
            .tensor("student.embed.weight")
            .unwrap()
            .data()
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        w
    };
    assert_eq!(train(true), table, "a frozen table is not trained");
    assert_ne!(train(false), table, "an unfrozen one is");
    // a table of the wrong size or with NaNs is refused
    assert!(
        BagConfig::new(v, 2)
            .with_dim(dim)
            .init_with_table(vec![0.0; 3], true, &device)
            .is_err()
    );
    let mut bad = table.clone();
    bad[5] = f32::NAN;
    assert!(matches!(
        BagConfig::new(v, 2).with_dim(dim).init_with_table(bad, true, &device),
        Err(LelpError::NonFinite { row: 1, col: 1, .. })
    ));
}

/// A transformer student, trained a little (so its weights are its own,
/// not the initialisation's), written to a model file and read back:
/// the classifier's probabilities equal the student's own forward pass
/// on the same ids (burn's graph on the test device), for both poolings,
/// through the host path (Flex, ndarray) or the graph (the other
/// backends).
#[test]
fn a_transformer_student_deploys_and_predicts_as_its_forward() {
    use lelp::data::Dataset;
    use lelp::text::{Bert, BertConfig, Pooling, TransformerStudentConfig};
    use lelp::train::{DistillConfig, Distiller, Method, OptimizerKind};
    let device = common::device();
    let words = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "free", "money", "win", "prize", "lunch", "noon", "meeting", "see", "##s",
        "the", "at",
    ];
    let tokenizer = WordPiece::from_vocab(words.iter().map(|w| w.to_string())).unwrap();
    let config = BertConfig {
        vocab_size: words.len(),
        hidden_size: 8,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 12,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
    };
    let train_texts = [
        "free money",
        "win the prize",
        "free prizes",
        "win money",
        "lunch at noon",
        "see the meeting",
        "meetings at noon",
        "see lunch",
    ];
    let ids: Vec<Vec<u32>> = train_texts.iter().map(|t| tokenizer.encode(t, 12)).collect();
    let data = Dataset::from_tokens(ids, vec![1, 1, 1, 1, 0, 0, 0, 0], 2).unwrap();
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let texts = [
        "free money at noon",
        "",
        "prize",
        "the meeting, the lunch!",
        "unknown words only",
    ];
    for pooling in [Pooling::Mean, Pooling::First] {
        let bert = Bert::random(&config, 3, &device).unwrap();
        let student = TransformerStudentConfig::new(2)
            .with_pooling(pooling)
            .init(bert, &device)
            .unwrap();
        let cfg = DistillConfig::new(5, 1e-2)
            .with_batch_size(4)
            .with_optimizer(OptimizerKind::AdamW);
        let student = Distiller::new(cfg)
            .fit(student, &data, &targets, None, &device)
            .unwrap()
            .student;
        let model = ModelFile::with_transformer(&student, &tokenizer, 12, names(2)).unwrap();
        assert_eq!(model.manifest.subclasses, 1);
        assert_eq!(model.encoder_params(), student.bert().num_params());
        let path = common::tempdir("deploy-transformer").join("t.safetensors");
        model.save(&path).unwrap();
        let classifier = Classifier::load_on(&path, &device).unwrap();
        let got: Vec<Vec<f32>> = classifier
            .predict(&texts)
            .unwrap()
            .into_iter()
            .map(|p| p.probabilities)
            .collect();
        let seqs: Vec<Vec<u32>> = texts.iter().map(|t| tokenizer.encode(t, 12)).collect();
        let want = burn_probabilities(&student, &seqs, 2, &device);
        assert_probs_close(&format!("transformer {pooling:?}"), &got, &want);
        // the file says what it holds
        match &classifier.manifest().featurizer {
            Featurizer::SentenceEncoder {
                pooling: p,
                normalize,
                config: c,
                ..
            } => assert_eq!((*p, *normalize, c.num_hidden_layers), (pooling, false, 2)),
            other => panic!("{other:?}"),
        }
    }
}

/// int8 and f16 tables: each value within half an int8 step of its row
/// (the row's largest magnitude over 127) or within f16's rounding of the
/// float32 one; the file stores them so (int8: a quarter of the table's
/// bytes and a scale a row, f16: half; format version 3) and reads back
/// predicting exactly as the quantized model in memory; a second
/// quantization is refused (a student without a table: tests/cli.rs).
#[test]
fn quantized_tables_are_smaller_and_read_back_as_quantized() {
    use lelp::deploy::Quantization;
    let device = common::device();
    let (bag, hasher) = trained_bag(&device);
    let wp = small_wordpiece();
    let cnn = TextCnnConfig::new(wp.vocab_size(), 2)
        .with_dim(6)
        .with_channels(5)
        .with_seed(11)
        .init(&device)
        .unwrap();
    let texts = awkward_texts();
    let refs: Vec<&str> = texts[..8].iter().map(String::as_str).collect();
    for (what, model) in [
        (
            "bag",
            ModelFile::new(&bag, Featurizer::hashed(&hasher), names(2)).unwrap(),
        ),
        (
            "cnn",
            ModelFile::new(&cnn, Featurizer::wordpiece(&wp, 16), names(2)).unwrap(),
        ),
    ] {
        let (table, dim) = model.network().embedding_table().unwrap();
        let full_bytes = model.to_bytes().unwrap().len();
        for q in [Quantization::Int8, Quantization::F16] {
            let small = model.clone().quantized(q).unwrap();
            assert_eq!(small.manifest.quantization, Some(q));
            let (rounded, d) = small.network().embedding_table().unwrap();
            assert_eq!((rounded.len(), d), (table.len(), dim));
            for (row, new) in table.chunks(dim).zip(rounded.chunks(dim)) {
                let step = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
                for (&v, &r) in row.iter().zip(new) {
                    let bound = match q {
                        Quantization::Int8 => step * 0.5 + 1e-7,
                        _ => v.abs() * 2f32.powi(-11) + 1e-7,
                    };
                    assert!((v - r).abs() <= bound, "{what} {q}: {v} -> {r}");
                }
            }
            let bytes = small.to_bytes().unwrap();
            let table_bytes = table.len() * 4;
            let saved = full_bytes - bytes.len();
            let (rows, expect) = (
                table.len() / dim,
                match q {
                    Quantization::Int8 => table_bytes - table.len() - 4 * (table.len() / dim),
                    _ => table_bytes / 2,
                },
            );
            // the header grows by the manifest's new field and the scales' entry
            assert!(
                saved + 256 >= expect && saved <= expect,
                "{what} {q}: saved {saved} of {table_bytes} ({rows} rows)"
            );
            let back = ModelFile::from_bytes(&bytes, "q.safetensors").unwrap();
            assert_eq!(back.manifest.format_version, 3);
            assert_eq!(back.network().embedding_table().unwrap().0, rounded, "{what} {q}");
            let a = probabilities(&Classifier::from_model(small.clone()).unwrap(), &refs);
            let b = probabilities(&Classifier::from_model(back).unwrap(), &refs);
            assert_eq!(a, b, "{what} {q}");
            assert!(matches!(
                small.quantized(Quantization::Int8),
                Err(LelpError::InvalidParameter { name: "quantize", .. })
            ));
        }
    }
}

/// A cased tokenizer travels in the model file, which is then format
/// version 3 (a 0.3 build, which lowercases every text, refuses it rather
/// than misread it); an uncased one stays version 2.
#[test]
fn a_cased_tokenizer_is_kept_and_marks_the_file_version_3() {
    let device = common::device();
    let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Free", "free", "money"];
    let settings = lelp::text::WordPieceSettings {
        lowercase: false,
        strip_accents: false,
        ..Default::default()
    };
    let cased = WordPiece::from_vocab_with_settings(vocab.iter().map(|s| s.to_string()), &settings).unwrap();
    let uncased = WordPiece::from_vocab(vocab.iter().map(|s| s.to_string())).unwrap();
    assert_eq!(cased.encode("Free money", 8), vec![2, 4, 6, 3]);
    assert_eq!(uncased.encode("Free money", 8), vec![2, 5, 6, 3]);
    let cnn = TextCnnConfig::new(vocab.len(), 2)
        .with_dim(4)
        .with_channels(3)
        .init(&device)
        .unwrap();
    for (tok, version) in [(&cased, 3), (&uncased, 2)] {
        let bytes = ModelFile::new(&cnn, Featurizer::wordpiece(tok, 8), names(2))
            .unwrap()
            .to_bytes()
            .unwrap();
        let back = ModelFile::from_bytes(&bytes, "m.safetensors").unwrap();
        assert_eq!(back.manifest.format_version, version);
        let lelp::deploy::Featurizer::WordPiece { tokenizer, .. } = &back.manifest.featurizer else {
            panic!("a wordpiece featuriser")
        };
        assert_eq!(tokenizer.lowercase, tok.settings().lowercase);
    }
}

/// A fine-tuned teacher (`DistillOptions::teacher_tune`) is the teacher the
/// run distils and writes as a cascade's fallback: the fallback file's
/// probabilities equal the fine-tuned encoder's plain mean (no
/// normalisation) through its linear head, read back from the cache.
#[test]
fn a_fine_tuned_teacher_is_distilled_and_written_as_it_is() {
    use lelp::deploy::{DistillOptions, MethodChoice, distill};
    use lelp::text::{FineTuneConfig, TextCorpus, fine_tune};
    if common::device_name() != "flex" {
        return; // the tool's pipeline runs on flex; tested there
    }
    let device = common::device();
    let dir = default_minilm_dir();
    let mut jsonl = String::new();
    let words = [["goal", "match", "team", "coach"], ["bank", "loan", "price", "stock"]];
    for i in 0..60usize {
        let (label, w) = (["sport", "money"][i % 2], words[i % 2]);
        let split = if i < 40 { "train" } else { "test" };
        jsonl.push_str(&format!(
            "{{\"text\": \"the {} and the {} today\", \"label\": \"{label}\", \"split\": \"{split}\"}}\n",
            w[i % 4],
            w[(i / 2) % 4]
        ));
    }
    let corpus = TextCorpus::parse_jsonl(jsonl.as_bytes(), "tune.jsonl").unwrap();
    let cache = common::tempdir("deploy-tune").join("embeddings");
    let mut opts = DistillOptions::default();
    opts.teacher_dir = dir.clone();
    opts.method = MethodChoice::Fixed(lelp::train::Method::VanillaKd(Default::default()));
    opts.max_tokens = 16;
    opts.epochs = 2;
    opts.cache_dir = Some(cache.clone());
    opts.teacher_tune = Some(FineTuneConfig::default().with_epochs(1));
    opts.cascade = Some(lelp::metrics::CascadeTarget::Coverage(0.5));
    let report = distill(&corpus, &[], &opts, &Device::flex(), &mut |_| {}).unwrap();
    let teacher = report.model.manifest.teacher.as_ref().unwrap();
    assert!(
        teacher.name.ends_with("fine-tuned") && teacher.head.starts_with("linear"),
        "{teacher:?}"
    );
    let fallback = Classifier::from_model_on(report.fallback.expect("a fallback file"), &device).unwrap();
    // the same fine-tuning, read from the cache the run wrote
    let base = SentenceEncoder::from_dir(&dir, &device)
        .unwrap()
        .with_max_seq_length(16);
    let train: Vec<&str> = corpus.texts[..40].iter().map(String::as_str).collect();
    let cfg = FineTuneConfig::default()
        .with_epochs(1)
        .with_max_tokens(16)
        .with_seed(0);
    let ft = fine_tune(
        &base,
        &dir,
        &train,
        &corpus.labels[..40],
        2,
        &cfg,
        &cache.with_file_name("fine-tuned"),
        &device,
        lelp::train::Silent,
    )
    .unwrap();
    assert!(ft.cached, "the run's folder is read back");
    let texts: Vec<&str> = corpus.texts[40..].iter().map(String::as_str).collect();
    let got: Vec<Vec<f32>> = fallback
        .predict(&texts)
        .unwrap()
        .into_iter()
        .map(|p| p.probabilities)
        .collect();
    let emb = ft.encoder.with_max_seq_length(16).encode(&texts, 8, &device).unwrap();
    let z = ft.head.forward(Inputs::Dense(emb)).unwrap().logits;
    let p = burn::tensor::activation::softmax(z, 1);
    let want: Vec<Vec<f32>> = common::host(p)
        .chunks(2)
        .map(|r| r.iter().map(|&x| x as f32).collect())
        .collect();
    assert_probs_close("fine-tuned fallback", &got, &want);
}

/// `--student auto` (`DistillOptions::student_budget`): a kind over the
/// size limit as float32 is tried with an int8 table, a kind over it
/// either way is not trained, the halving spends two full trainings'
/// epochs in all and ends with one candidate, the exhaustive search keeps
/// the best validation agreement, the model file is the chosen kind's
/// (quantized as it had to be), and a budget nothing meets is a typed
/// error naming what each kind achieved.
#[test]
fn the_student_is_chosen_within_a_budget() {
    use lelp::deploy::{DistillOptions, Outcome, Search, StudentBudget, StudentKind, distill};
    use lelp::text::TextCorpus;
    if common::device_name() != "flex" {
        return; // the tool's pipeline runs on flex; tested there
    }
    let mut jsonl = String::new();
    let words = [["goal", "match", "team", "coach"], ["bank", "loan", "price", "stock"]];
    for i in 0..80usize {
        let (label, w) = (["sport", "money"][i % 2], words[i % 2]);
        let split = ["train", "train", "val", "test"][(i / 2) % 4];
        jsonl.push_str(&format!(
            "{{\"text\": \"the {} and the {} today\", \"label\": \"{label}\", \"split\": \"{split}\"}}\n",
            w[i % 4],
            w[(i / 2) % 4]
        ));
    }
    let corpus = TextCorpus::parse_jsonl(jsonl.as_bytes(), "budget.jsonl").unwrap();
    let mut opts = DistillOptions::default();
    opts.teacher_dir = default_minilm_dir();
    opts.max_tokens = 16;
    opts.epochs = 3;
    opts.cache_dir = Some(common::tempdir("deploy-budget").join("embeddings"));
    // 3.5 MB: the bag (8.4 MB float32, 3.15 MB int8: a byte a value and
    // a float32 scale a row) and the CNN (4.3 MB, 1.4 MB) fit with int8
    // tables, the static student (31.6 MB, 8.3 MB) does not
    let limit = 3.5;
    opts.student_budget = Some(StudentBudget::default().with_max_size_mb(limit));
    let report = distill(&corpus, &[], &opts, &Device::flex(), &mut |_| {}).unwrap();
    let trained: Vec<_> = report
        .students
        .iter()
        .filter(|c| c.outcome != Outcome::OverBudget)
        .collect();
    for c in &report.students {
        let within = c.size_mb <= limit;
        assert_eq!(within, c.outcome != Outcome::OverBudget, "{c:?}");
        assert!(c.quantize.is_some(), "every kind is over 3.5 MB as float32: {c:?}");
    }
    assert!(
        report
            .students
            .iter()
            .any(|c| c.kind == StudentKind::Static && c.outcome == Outcome::OverBudget)
    );
    assert_eq!(trained.len(), 2 * 9, "bag and CNN with every method");
    // three trainings' epochs in all (the default): the search's rounds and
    // the chosen one trained on to the full epochs
    let spent: f64 = trained.iter().map(|c| c.epochs).sum();
    assert!(
        (spent - 3.0 * 3.0).abs() < 1e-6,
        "three trainings' epochs in all, spent {spent}"
    );
    let chosen: Vec<_> = trained.iter().filter(|c| c.outcome == Outcome::Chosen).collect();
    assert_eq!(chosen.len(), 1);
    assert!((chosen[0].epochs - 3.0).abs() < 1e-6, "{:?}", chosen[0]);
    let m = &report.model.manifest;
    assert_eq!(m.student, Some(chosen[0].kind));
    assert_eq!(m.quantization.is_some(), chosen[0].quantize.is_some());
    let file_mb = report.model.to_bytes().unwrap().len() as f64 / 1e6;
    assert!(file_mb <= limit, "the written file is within the limit: {file_mb} MB");
    assert!(report.student_search_seconds.unwrap() > 0.0);

    // exhaustive: every candidate the full epochs, the best agreement kept
    opts.student_budget = Some(
        StudentBudget::default()
            .with_kinds(vec![StudentKind::Bag, StudentKind::Cnn])
            .with_search(Search::Exhaustive),
    );
    opts.method = lelp::deploy::MethodChoice::Auto;
    let report = distill(&corpus, &[], &opts, &Device::flex(), &mut |_| {}).unwrap();
    assert!(
        report
            .students
            .iter()
            .all(|c| c.epochs == 3.0 || matches!(c.outcome, Outcome::Failed(_)))
    );
    let best = report
        .students
        .iter()
        .filter_map(|c| Some((c, c.validation_agreement?)))
        .fold(None::<(&lelp::deploy::StudentCandidate, f64)>, |b, (c, a)| match b {
            Some((_, ba)) if ba >= a => b,
            _ => Some((c, a)),
        })
        .unwrap()
        .0;
    assert_eq!(best.outcome, Outcome::Chosen, "{:?}", report.students);
    assert_eq!(report.model.manifest.student, Some(best.kind));

    // nothing fits: a typed error naming each kind, before any training
    opts.student_budget = Some(StudentBudget::default().with_max_size_mb(0.01));
    match distill(&corpus, &[], &opts, &Device::flex(), &mut |_| {}) {
        Err(LelpError::OverBudget { budget, achieved }) => {
            assert!(budget.contains("0.01 MB"), "{budget}");
            for kind in ["bag (int8)", "static (int8)", "cnn (int8)"] {
                assert!(achieved.contains(kind), "{achieved}");
            }
        }
        other => panic!("expected OverBudget, got {:?}", other.map(|r| r.student_accuracy)),
    }
}

/// `best_epoch`: the final student is the one of the epoch most accurate
/// on the validation rows, exactly: equal to the student trained for that
/// many epochs alone (the same held-out rows: both calibrated on them),
/// and not to the last epoch's when that one scores lower or later.
#[test]
fn the_best_epoch_is_the_student_of_that_epoch() {
    use lelp::deploy::{DistillOptions, MethodChoice, distill};
    use lelp::text::TextCorpus;
    use lelp::train::Method;
    if common::device_name() != "flex" {
        return; // the tool's pipeline runs on flex; tested there
    }
    let words = [["goal", "match", "team", "coach"], ["bank", "loan", "price", "stock"]];
    let mut jsonl = String::new();
    let mut val = Vec::new();
    for i in 0..96usize {
        // every fifth row mislabelled, so that epochs differ on the validation rows
        let label = ["sport", "money"][(i % 2) ^ usize::from(i % 5 == 0)];
        let split = ["train", "train", "val", "test"][(i / 2) % 4];
        let text = format!(
            "the {} and the {} today",
            words[i % 2][i % 4],
            words[(i / 3) % 2][(i / 2) % 4]
        );
        if split == "val" {
            val.push((text.clone(), label));
        }
        jsonl.push_str(&format!(
            "{{\"text\": \"{text}\", \"label\": \"{label}\", \"split\": \"{split}\"}}\n"
        ));
    }
    let corpus = TextCorpus::parse_jsonl(jsonl.as_bytes(), "epochs.jsonl").unwrap();
    let mut opts = DistillOptions::default();
    opts.teacher_dir = default_minilm_dir();
    opts.max_tokens = 16;
    opts.method = MethodChoice::Fixed(Method::from_name("kd", 4, 0).unwrap());
    opts.cache_dir = Some(common::tempdir("deploy-best-epoch").join("embeddings"));
    // calibrated: the final student leaves the validation rows out either way
    opts.calibrate = true;
    let texts: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let run = |epochs: usize, best: bool| {
        let mut o = opts.clone();
        o.epochs = epochs;
        o.best_epoch = Some(best);
        let report = distill(&corpus, &[], &o, &Device::flex(), &mut |_| {}).unwrap();
        assert_eq!(report.best_epoch.is_some(), best);
        let kept_at = report.best_epoch;
        let classifier = Classifier::from_model(report.model).unwrap();
        let names = &classifier.manifest().class_names;
        let right = val
            .iter()
            .filter(|(t, l)| names[classifier.predict_one(t).unwrap().label] == *l)
            .count();
        (probabilities(&classifier, &texts), right, kept_at)
    };
    let epochs = 12;
    let each: Vec<_> = (1..=epochs).map(|e| run(e, false)).collect();
    // the first epoch with the most validation rows right (later ties do not replace it)
    let most = each.iter().map(|(_, r, _)| *r).max().unwrap();
    let best = each.iter().position(|(_, r, _)| *r == most).unwrap();
    let (kept, _, kept_at) = run(epochs, true);
    assert_eq!(kept_at, Some(best + 1));
    let same = |a: &[Vec<f32>], b: &[Vec<f32>]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-6))
    };
    assert!(
        same(&kept, &each[best].0),
        "the student of epoch {} of {epochs}",
        best + 1
    );
    if best + 1 < epochs {
        assert!(!same(&kept, &each[epochs - 1].0), "not the last epoch's");
    }
}
