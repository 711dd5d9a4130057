//! Seeded fuzzing of every file reader: `.npy`, safetensors heads, saved
//! subspace fits, checkpoint manifests, text corpora and model files
//! (feature `text`) each get 10,000 mutated,
//! truncated, spliced and random inputs. Zero panics, no call slower than a
//! second, and no single allocation larger than the input can justify (a
//! header that claims 2^40 elements must not allocate them): a counting
//! global allocator records the largest allocation of each call.
//!
//! Longer runs: the `cargo fuzz` targets in `fuzz/` drive the same entry
//! points.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use lelp::io::npy::{self, NpyArray};
use lelp::subspace::{PcaFinder, SubspaceConfig, SubspaceFinder, Subspaces};
use lelp::teacher::LinearHead;
use lelp::train::CheckpointInfo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Records the largest single allocation of the current thread since its
/// last reset. Per thread: the tests of this file run in parallel, and
/// rayon's workers (burn's and faer's pool) allocate their own scratch,
/// which a process-wide maximum would pin on whichever parse ran then.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: a thread being torn down has no slot left
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PER_FORMAT: usize = 10_000;

/// One mutation of `seed`, chosen by `rng`.
fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.random_range(0..8) {
        // flip a few bits
        0 => {
            for _ in 0..rng.random_range(1..8) {
                if !b.is_empty() {
                    let i = rng.random_range(0..b.len());
                    b[i] ^= 1 << rng.random_range(0..8);
                }
            }
        }
        // truncate
        1 => b.truncate(rng.random_range(0..=b.len())),
        // overwrite bytes with boundary values and syntax
        2 => {
            let pool = [
                0u8, 0xff, 0x7f, 0x80, b'9', b'(', b')', b',', b'"', b'{', b'}', b'[', b']', b':', b'-',
            ];
            for _ in 0..rng.random_range(1..6) {
                if !b.is_empty() {
                    let i = rng.random_range(0..b.len());
                    b[i] = pool[rng.random_range(0..pool.len())];
                }
            }
        }
        // splice a huge number over a digit run (shapes, offsets, lengths)
        3 => {
            let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let i = digits[rng.random_range(0..digits.len())];
                let big = [
                    "1099511627776",
                    "18446744073709551615",
                    "99999999999999999999",
                    "0",
                    "-1",
                ];
                let s = big[rng.random_range(0..big.len())].as_bytes();
                let end = (i..b.len()).find(|&j| !b[j].is_ascii_digit()).unwrap_or(b.len());
                b.splice(i..end, s.iter().copied());
            }
        }
        // overwrite a length prefix (the first 12 bytes) with random bytes
        4 => {
            for i in 0..b.len().min(12) {
                if rng.random_bool(0.3) {
                    b[i] = rng.random();
                }
            }
        }
        // insert or delete a run
        5 => {
            if b.is_empty() || rng.random_bool(0.5) {
                let i = rng.random_range(0..=b.len());
                let n = rng.random_range(1..64);
                let ins: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(i..i, ins);
            } else {
                let i = rng.random_range(0..b.len());
                let j = rng.random_range(i..=b.len().min(i + 64));
                b.drain(i..j);
            }
        }
        // random bytes
        6 => {
            let n = rng.random_range(0..256);
            b = (0..n).map(|_| rng.random()).collect();
        }
        // a valid prefix and random tail
        _ => {
            let keep = rng.random_range(0..=b.len());
            b.truncate(keep);
            b.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
        }
    }
    b
}

/// Runs `parse` on mutations of the seeds; returns how many inputs parsed.
fn fuzz(name: &str, seeds: &[Vec<u8>], seed: u64, parse: impl Fn(&[u8]) -> bool) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut accepted = 0;
    let mut slowest = Duration::ZERO;
    for i in 0..PER_FORMAT {
        let base = &seeds[i % seeds.len()];
        let input = if i < seeds.len() {
            base.clone()
        } else {
            mutate(base, &mut rng)
        };
        LARGEST.with(|l| l.set(0));
        let t0 = Instant::now();
        let out = catch_unwind(AssertUnwindSafe(|| parse(&input)));
        let took = t0.elapsed();
        let largest = LARGEST.with(Cell::get);
        slowest = slowest.max(took);
        let dump = || {
            let p = std::env::temp_dir().join(format!("lelp-fuzz-{name}-{i}.bin"));
            std::fs::write(&p, &input).unwrap();
            p
        };
        match out {
            Ok(ok) => accepted += ok as usize,
            Err(_) => panic!("{name}: input {i} panicked; saved to {}", dump().display()),
        }
        assert!(
            took < Duration::from_secs(1),
            "{name}: input {i} took {took:?}; saved to {}",
            dump().display()
        );
        // the parse may copy the input a few times (bytes, f32 -> f64, JSON
        // text); it must never size an allocation from a claimed length
        let bound = 16 * input.len() + (1 << 20);
        assert!(
            largest <= bound,
            "{name}: input {i} ({} bytes) allocated {largest} bytes at once; saved to {}",
            input.len(),
            dump().display()
        );
    }
    eprintln!("{name}: {PER_FORMAT} inputs, {accepted} accepted, slowest {slowest:?}");
    accepted
}

fn npy_seeds() -> Vec<Vec<u8>> {
    let dir = common::tempdir("fuzz-npy");
    let mut seeds = Vec::new();
    let f = dir.join("f.npy");
    npy::write_f32(&f, &[3, 4], &(0..12).map(|i| i as f32 * 0.5).collect::<Vec<_>>()).unwrap();
    seeds.push(std::fs::read(&f).unwrap());
    npy::write_i64(&f, &[5], &[0, 1, 2, 3, 4]).unwrap();
    seeds.push(std::fs::read(&f).unwrap());
    npy::write_f32(&f, &[], &[1.5]).unwrap();
    seeds.push(std::fs::read(&f).unwrap());
    seeds.push(std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/uci-digits/y_u8.npy")).unwrap());
    seeds
}

fn head_seed() -> Vec<u8> {
    let to_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let w = to_bytes(&[0.5, -1.0, 2.0, 0.25, 1.0, -0.5]);
    let b = to_bytes(&[0.1, -0.1]);
    let tensors = vec![
        (
            "weight",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &w).unwrap(),
        ),
        (
            "bias",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &b).unwrap(),
        ),
    ];
    safetensors::serialize(tensors, None).unwrap()
}

fn subspace_seeds() -> Vec<Vec<u8>> {
    let device = common::device();
    let data = lelp::data::Dataset::uci_digits().sample(200, 0).unwrap();
    let x = data.features_tensor(&device).unwrap().narrow(1, 20, 12);
    let labels: Vec<usize> = data.labels().iter().map(|l| l % 2).collect();
    let head = LinearHead::new((0..24).map(|i| (i % 5) as f32 - 2.0).collect(), vec![0.0, 0.1], [2, 12]).unwrap();
    let dir = common::tempdir("fuzz-fit");
    [(2usize, true), (3, false)]
        .iter()
        .map(|&(s, ns)| {
            let fit = PcaFinder::new(SubspaceConfig::new(s).with_null_space(ns))
                .fit_tensor(x.clone(), &labels, 2, ns.then_some(&head))
                .unwrap();
            let p = dir.join(format!("fit-{s}.safetensors"));
            fit.save(&p).unwrap();
            std::fs::read(&p).unwrap()
        })
        .collect()
}

fn checkpoint_seed() -> Vec<u8> {
    use lelp::train::{DistillConfig, Distiller, Method, MlpConfig};
    let device = common::device();
    let data = lelp::data::Dataset::uci_digits()
        .parity()
        .unwrap()
        .sample(64, 0)
        .unwrap();
    let valid = lelp::data::Dataset::uci_digits()
        .parity()
        .unwrap()
        .sample(32, 1)
        .unwrap();
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let dir = common::tempdir("fuzz-ckpt");
    let student = MlpConfig::new(64, vec![4], 2).init(&device).unwrap();
    Distiller::new(DistillConfig::new(3, 1e-2).with_restore_best(true))
        .with_checkpoints(&dir)
        .fit(student, &data, &targets, Some(&valid), &device)
        .unwrap();
    std::fs::read(dir.join("state.json")).unwrap()
}

#[test]
fn npy_reader_survives_fuzzing() {
    let accepted = fuzz("npy", &npy_seeds(), 1, |b| NpyArray::from_bytes(b, "fuzz.npy").is_ok());
    assert!(accepted >= 4, "the valid seeds parse");
}

#[test]
fn safetensors_head_reader_survives_fuzzing() {
    let accepted = fuzz("head", &[head_seed()], 2, |b| {
        LinearHead::from_safetensors_bytes(b, "fuzz.safetensors", "weight", "bias").is_ok()
    });
    assert!(accepted >= 1);
}

#[test]
fn subspace_reader_survives_fuzzing() {
    let seeds = subspace_seeds();
    let accepted = fuzz("subspaces", &seeds, 3, |b| {
        Subspaces::from_bytes(b, "fuzz.safetensors").is_ok()
    });
    assert!(accepted >= seeds.len());
}

#[test]
fn checkpoint_manifest_reader_survives_fuzzing() {
    let accepted = fuzz("checkpoint", &[checkpoint_seed()], 4, |b| {
        CheckpointInfo::parse(b, "state.json").is_ok()
    });
    assert!(accepted >= 1);
}

#[cfg(feature = "text")]
mod text {
    use super::*;
    use lelp::text::TextCorpus;

    const CSV: &str = "sentiment,confidence,text\nnegative,1,\"I hate \"\"this\"\", really\"\npositive,0.8,Love it!\nneutral,1,\"multi\nline\"\n";
    const JSONL: &str = "{\"text\": \"free money\", \"label\": \"spam\", \"fine_label\": \"spam-1\"}\n{\"text\": \"meeting at 3\", \"label\": 0, \"fine_label\": \"easy-ham-1\"}\n";

    #[test]
    fn csv_corpus_reader_survives_fuzzing() {
        let ok = TextCorpus::parse_csv(CSV.as_bytes(), "seed.csv").unwrap();
        assert_eq!(ok.texts[0], "I hate \"this\", really");
        assert_eq!(ok.class_names, ["negative", "neutral", "positive"]);
        let accepted = fuzz("csv", &[CSV.as_bytes().to_vec()], 5, |b| {
            TextCorpus::parse_csv(b, "fuzz.csv").is_ok()
        });
        assert!(accepted >= 1);
    }

    #[test]
    fn jsonl_corpus_reader_survives_fuzzing() {
        let ok = TextCorpus::parse_jsonl(JSONL.as_bytes(), "seed.jsonl").unwrap();
        assert_eq!(ok.fine_labels, Some(vec![1, 0]));
        let accepted = fuzz("jsonl", &[JSONL.as_bytes().to_vec()], 6, |b| {
            TextCorpus::parse_jsonl(b, "fuzz.jsonl").is_ok()
        });
        assert!(accepted >= 1);
    }

    /// Two small model files: a bag over hashed n-grams with subclasses and
    /// a hidden layer, a CNN over a WordPiece vocabulary.
    fn model_seeds() -> Vec<Vec<u8>> {
        use lelp::deploy::{Featurizer, ModelFile};
        use lelp::train::{BagConfig, TextCnnConfig};
        let device = common::device();
        let names = vec!["ham".to_string(), "spam".to_string()];
        let bag = BagConfig::new(32, 4)
            .with_dim(3)
            .with_hidden(Some(2))
            .init(&device)
            .unwrap();
        let hasher = lelp::data::HashedNgrams::new(32);
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "free", "##dom", "money"];
        let wp = lelp::text::WordPiece::from_vocab(vocab.iter().map(|s| s.to_string())).unwrap();
        let cnn = TextCnnConfig::new(7, 2)
            .with_dim(3)
            .with_channels(2)
            .init(&device)
            .unwrap();
        vec![
            ModelFile::new(&bag, Featurizer::hashed(&hasher), names.clone())
                .unwrap()
                .to_bytes()
                .unwrap(),
            ModelFile::new(&cnn, Featurizer::wordpiece(&wp, 8), names)
                .unwrap()
                .to_bytes()
                .unwrap(),
        ]
    }

    #[test]
    fn model_file_reader_survives_fuzzing() {
        use lelp::deploy::{Classifier, ModelFile};
        let seeds = model_seeds();
        let accepted = fuzz("model", &seeds, 7, |b| {
            // a file that reads must also build a classifier that predicts
            ModelFile::from_bytes(b, "fuzz.safetensors")
                .and_then(Classifier::from_model)
                .and_then(|c| c.predict(&["free money", ""]))
                .is_ok()
        });
        assert!(accepted >= seeds.len());
    }

    #[test]
    fn bad_rows_name_the_file_and_the_row() {
        let e = TextCorpus::parse_csv(b"text,label\nfine,a\n,b\n", "x.csv").unwrap_err();
        assert!(matches!(&e, lelp::LelpError::BadRecord { row: 3, .. }), "{e:?}");
        let e = TextCorpus::parse_csv(b"words,label\nfine,a\n", "x.csv").unwrap_err();
        assert!(matches!(&e, lelp::LelpError::BadRecord { row: 1, .. }), "{e:?}");
        let e = TextCorpus::parse_jsonl(b"{\"text\": \"a\", \"label\": 1}\n{\"text\": 3}\n", "x.jsonl").unwrap_err();
        assert!(matches!(&e, lelp::LelpError::BadRecord { row: 2, .. }), "{e:?}");
        let e = TextCorpus::parse_jsonl(b"not json\n", "x.jsonl").unwrap_err();
        assert!(e.to_string().contains("x.jsonl, row 1"), "{e}");
    }
}
