//! The transformer student (feature `text`): gradients through attention
//! against finite differences on a tiny encoder, end-to-end training with
//! AdamW and gradient clipping on a token task, pooling and dropout, the
//! teacher-layer initialisation, and typed errors for bad inputs.

mod common;

use burn::prelude::*;
use common::{check_gradient, device, host, pseudo};
use lelp::LelpError;
use lelp::data::{Dataset, Inputs, TokenBatch};
use lelp::text::{Bert, BertConfig, Pooling, TransformerStudentConfig};
use lelp::train::{DistillConfig, Distiller, Method, OptimizerKind, Student, accuracy};

fn tiny(layers: usize) -> BertConfig {
    BertConfig {
        vocab_size: 20,
        hidden_size: 8,
        num_hidden_layers: layers,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 16,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
    }
}

/// d/dx of a weighted sum of the layers' output, through attention
/// (softmax over a padded mask), the feed-forward GELU and both layer
/// norms, against central differences of every input entry.
#[test]
fn attention_gradients_match_finite_differences() {
    let device = device().autodiff();
    let bert = Bert::random(&tiny(2), 3, &device).unwrap();
    let (l, d) = (4, 8);
    let weights = common::rows(pseudo(l * d, 11), l, d, &device).reshape([1, l, d]);
    let mask = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 1, 1, 0], [1, l]), &device);
    check_gradient(
        |z| {
            let out = bert.layers_forward(z.reshape([1, l, d]), mask.clone());
            (out * weights.clone()).sum()
        },
        pseudo(l * d, 5),
        l,
        d,
    );
}

/// Token sequences whose class is whether id 7 occurs.
fn token_task(n: usize) -> Dataset {
    let mut state = 12345u64;
    let mut next = move |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let mut seqs = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let len = 3 + next(6) as usize;
        let mut s: Vec<u32> = (0..len).map(|_| 8 + next(12) as u32).collect();
        if i % 2 == 0 {
            let at = next(len as u64) as usize;
            s[at] = 7;
        }
        labels.push(i % 2);
        seqs.push(s);
    }
    Dataset::from_tokens(seqs, labels, 2).unwrap()
}

#[test]
fn a_random_student_learns_a_token_task_with_adamw_and_clipping() {
    let device = device();
    let data = token_task(256);
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let bert = Bert::random(&tiny(1), 1, &device).unwrap();
    let student = TransformerStudentConfig::new(2).init(bert, &device).unwrap();
    let cfg = DistillConfig::new(30, 3e-3)
        .with_batch_size(32)
        .with_optimizer(OptimizerKind::AdamW)
        .with_weight_decay(0.01)
        .with_grad_clip(Some(1.0));
    let before = accuracy(&student, &data, &device).unwrap();
    let trained = Distiller::new(cfg)
        .fit(student, &data, &targets, None, &device)
        .unwrap();
    let after = accuracy(&trained.student, &data, &device).unwrap();
    assert!(after > 0.95 && after > before, "accuracy {before} -> {after}");
    // in evaluation mode dropout is off: the same logits twice
    let batch = || Inputs::Tokens(TokenBatch::from_sequences(&[&[7, 9, 10], &[8, 9]], 16, &device).unwrap());
    let a = host(trained.student.forward(batch()).unwrap().logits);
    let b = host(trained.student.forward(batch()).unwrap().logits);
    assert_eq!(a, b);
}

#[test]
fn pooling_truncation_and_bad_inputs() {
    let device = device();
    let bert = Bert::random(&tiny(3), 2, &device).unwrap();
    assert_eq!(bert.num_layers(), 3);
    let ids: [&[u32]; 2] = [&[2, 5, 9, 3], &[2, 3]];
    let batch = || Inputs::Tokens(TokenBatch::from_sequences(&ids, 16, &device).unwrap());
    let mean = TransformerStudentConfig::new(3)
        .with_dropout(0.0)
        .init(bert.clone(), &device)
        .unwrap();
    let first = TransformerStudentConfig::new(3)
        .with_dropout(0.0)
        .with_pooling(Pooling::First)
        .init(bert.clone(), &device)
        .unwrap();
    let (em, ef) = (
        host(mean.forward(batch()).unwrap().embedding),
        host(first.forward(batch()).unwrap().embedding),
    );
    // mean pooling of the short text ignores its padding: the same as alone
    let alone = host(
        mean.forward(Inputs::Tokens(
            TokenBatch::from_sequences(&[&[2, 3]], 16, &device).unwrap(),
        ))
        .unwrap()
        .embedding,
    );
    for (a, b) in alone.iter().zip(&em[8..]) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert!(em.iter().zip(&ef).any(|(a, b)| (a - b).abs() > 1e-3));
    // the teacher's bottom layers
    let two = bert.clone().truncated(2).unwrap();
    assert_eq!(two.num_layers(), 2);
    assert!(matches!(
        bert.clone().truncated(0),
        Err(LelpError::InvalidParameter { .. })
    ));
    assert!(matches!(
        bert.clone().truncated(4),
        Err(LelpError::InvalidParameter { .. })
    ));
    // ids past the vocabulary, dense inputs, texts past the positions
    let e = mean
        .forward(Inputs::Tokens(
            TokenBatch::from_sequences(&[&[2, 25]], 16, &device).unwrap(),
        ))
        .unwrap_err();
    assert!(matches!(e, LelpError::DimensionMismatch { .. }), "{e:?}");
    let e = mean.forward(Inputs::Dense(Tensor::zeros([1, 8], &device))).unwrap_err();
    assert!(matches!(e, LelpError::InputKind { .. }), "{e:?}");
    let long: Vec<u32> = vec![4; 20];
    let e = mean
        .forward(Inputs::Tokens(
            TokenBatch::from_sequences(&[&long], 64, &device).unwrap(),
        ))
        .unwrap_err();
    assert!(matches!(e, LelpError::DimensionMismatch { .. }), "{e:?}");
    assert!(TransformerStudentConfig::new(0).init(bert.clone(), &device).is_err());
    assert!(matches!(
        TransformerStudentConfig::new(2).with_dropout(1.0).init(bert, &device),
        Err(LelpError::InvalidParameter { name: "dropout", .. })
    ));
    assert!(matches!(
        Bert::random(
            &BertConfig {
                num_attention_heads: 3,
                ..tiny(1)
            },
            0,
            &device
        ),
        Err(LelpError::InvalidParameter { .. })
    ));
}

/// Logits of `student` on fixed texts (evaluation: no dropout).
fn probe(student: &lelp::text::TransformerStudent, device: &Device) -> Vec<f64> {
    let ids: [&[u32]; 3] = [&[7, 9, 10], &[8, 9], &[12, 7, 15, 11]];
    host(
        student
            .forward(Inputs::Tokens(TokenBatch::from_sequences(&ids, 16, device).unwrap()))
            .unwrap()
            .logits,
    )
}

/// An observer that panics after epoch `crash_after` (a crash of the
/// process's fit) and records the epoch a fit resumed from.
struct Watch {
    crash_after: usize,
    resumed_at: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl lelp::train::Observer for Watch {
    fn on_epoch(&mut self, report: &lelp::train::EpochReport, _epochs: usize) {
        assert!(
            report.epoch < self.crash_after,
            "simulated crash after epoch {}",
            report.epoch
        );
    }
    fn on_resume(&mut self, epoch: usize) {
        self.resumed_at.store(epoch, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Encoder dropout acts in training (a fit with it ends elsewhere than one
/// without), its masks repeat (two fits agree), and a fit interrupted and
/// resumed from its checkpoint draws the same masks as one that ran
/// through: before the Distiller seeded the dropout generator at every
/// step, the masks after a resume were fresh draws.
#[test]
fn encoder_dropout_is_seeded_per_step_so_fits_repeat_and_resume() {
    let device = device();
    let data = token_task(96);
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let student = |p: f64| {
        let bert = Bert::random(&tiny(1), 4, &device).unwrap();
        TransformerStudentConfig::new(2)
            .with_dropout(0.0)
            .with_encoder_dropout(p)
            .init(bert, &device)
            .unwrap()
    };
    let cfg = DistillConfig::new(4, 3e-3)
        .with_batch_size(16)
        .with_optimizer(OptimizerKind::AdamW)
        .with_seed(5);
    let fit = |p: f64, d: Distiller| d.fit(student(p), &data, &targets, None, &device).unwrap().student;
    let through = probe(&fit(0.3, Distiller::new(cfg.clone())), &device);
    let again = probe(&fit(0.3, Distiller::new(cfg.clone())), &device);
    let without = probe(&fit(0.0, Distiller::new(cfg.clone())), &device);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()));
    assert!(close(&again, &through), "{again:?} vs {through:?}");
    assert!(!close(&without, &through), "dropout changed nothing: {without:?}");
    // crash after epoch 2, then resume from the checkpoint to the end
    let dir = common::tempdir("dropout-resume");
    let resumed_at = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let watch = |crash_after| Watch {
        crash_after,
        resumed_at: resumed_at.clone(),
    };
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fit(
            0.3,
            Distiller::new(cfg.clone())
                .with_checkpoints(&dir)
                .with_observer(watch(2)),
        )
    }));
    assert!(crashed.is_err());
    let resumed = fit(
        0.3,
        Distiller::new(cfg.clone())
            .with_checkpoints(&dir)
            .with_observer(watch(usize::MAX)),
    );
    assert!(
        resumed_at.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the fit did not resume"
    );
    let resumed = probe(&resumed, &device);
    assert!(close(&resumed, &through), "{resumed:?} vs {through:?}");
    let _ = std::fs::remove_dir_all(&dir);
    // the encoder's probability is checked like the head's
    assert!(matches!(
        TransformerStudentConfig::new(2)
            .with_encoder_dropout(-0.1)
            .init(Bert::random(&tiny(1), 4, &device).unwrap(), &device),
        Err(LelpError::InvalidParameter {
            name: "encoder_dropout",
            ..
        })
    ));
}
