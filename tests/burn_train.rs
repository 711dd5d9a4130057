//! The burn-train integration (feature `train`): the batcher hands each
//! row its own targets (a step's loss equals the loss computed from the
//! rows directly), a LELP run through `SupervisedTraining` learns, a run
//! resumes from burn-train's checkpoint, and inputs that do not fit are
//! typed errors before training.

mod common;

use burn::prelude::*;
use burn::train::metric::LossMetric;
use burn::train::{InferenceStep, SupervisedTraining, TrainStep};
use common::{device, host};
use lelp::data::Dataset;
use lelp::teacher::{ModuleTeacher, TeacherEncoder};
use lelp::train::burn_train::{DistillBatcher, DistillModel, dataloaders, learner};
use lelp::train::loss::soft_target_loss;
use lelp::train::{DistillConfig, Distiller, LelpConfig, Method, MlpConfig, Student, accuracy};

struct Setup {
    transfer: Dataset,
    test: Dataset,
    targets: lelp::train::TrainingTargets,
}

fn setup() -> Setup {
    let device = device();
    let (train, test) = Dataset::uci_digits().parity().unwrap().split(0.3, 0).unwrap();
    let plain = Method::Plain.prepare(&train, None).unwrap();
    let t = MlpConfig::new(64, vec![64], 2).with_seed(1).init(&device).unwrap();
    let teacher = Distiller::new(DistillConfig::new(10, 3e-3))
        .fit(t, &train, &plain, None, &device)
        .unwrap()
        .student;
    let transfer = train.sample(200, 3).unwrap();
    let out = ModuleTeacher::new(teacher)
        .unwrap()
        .encode(&transfer, 512, &device)
        .unwrap();
    let targets = Method::Lelp(LelpConfig::new(4)).prepare(&transfer, Some(&out)).unwrap();
    Setup {
        transfer,
        test,
        targets,
    }
}

#[test]
fn a_step_uses_each_rows_own_targets() {
    use burn::data::dataloader::batcher::Batcher;
    let s = setup();
    let device = device().autodiff();
    let cfg = DistillConfig::new(1, 1e-3);
    let student = MlpConfig::new(64, vec![16], s.targets.outputs()).init(&device).unwrap();
    let model = DistillModel::new(student.clone(), &s.transfer, &s.targets, &cfg, &device).unwrap();
    // an arbitrary, unsorted set of rows
    let rows = vec![17, 3, 150, 42, 99, 0, 7];
    let batch = DistillBatcher::new(&s.transfer, Some(&s.targets))
        .unwrap()
        .batch(rows.clone(), &device);
    let via_step = host(TrainStep::step(&model, batch.clone()).item.loss)[0];
    // the same loss from the rows picked directly out of the data and targets
    let sub = s.transfer.subset(&rows).unwrap();
    let logits = student
        .forward(sub.inputs(&(0..rows.len()).collect::<Vec<_>>(), &device).unwrap())
        .unwrap()
        .logits;
    let idx = Tensor::<1, Int>::from_data(
        TensorData::new(rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), [rows.len()]),
        &device,
    );
    let lt = s
        .targets
        .soft_targets()
        .unwrap()
        .log_probs()
        .clone()
        .to_device(&device)
        .select(0, idx);
    let mut oh = vec![0.0f32; rows.len() * 2];
    for (i, &r) in rows.iter().enumerate() {
        oh[i * 2 + s.transfer.labels()[r]] = 1.0;
    }
    let y = Tensor::<2>::from_data(TensorData::new(oh, [rows.len(), 2]), &device);
    let direct = host(soft_target_loss(
        logits,
        lt,
        y,
        s.targets.subclasses(),
        s.targets.alpha(),
        s.targets.tau(),
    ))[0];
    assert!(
        (via_step - direct).abs() <= 1e-5 * direct.abs().max(1.0),
        "step {via_step} vs rows {direct}"
    );
    // validation reports class logits and their cross-entropy
    let valid = DistillBatcher::new(&s.test, None)
        .unwrap()
        .batch(vec![0, 1, 2], &device.clone().without_autodiff());
    let out = InferenceStep::step(&model.valid(), valid);
    assert_eq!(out.output.dims(), [3, 2]);
}

#[test]
fn supervised_training_learns_and_resumes() {
    let s = setup();
    let base = device();
    let device = base.clone().autodiff();
    let cfg = DistillConfig::new(20, 3e-3).with_batch_size(32);
    let dir = common::tempdir("burn-train");
    let run = |from: Option<usize>, epochs: usize| {
        let student = MlpConfig::new(64, vec![32, 32], s.targets.outputs())
            .with_seed(5)
            .init(&device)
            .unwrap();
        let model = DistillModel::new(student, &s.transfer, &s.targets, &cfg, &device).unwrap();
        let (dl_train, dl_valid) = dataloaders(&s.transfer, &s.targets, &s.test, &cfg, &device).unwrap();
        let mut t = SupervisedTraining::new(&dir, dl_train, dl_valid)
            .num_epochs(epochs)
            .with_default_checkpointers()
            .metric_train_numeric(LossMetric::new())
            .with_application_logger(None);
        if let Some(e) = from {
            t = t.checkpoint(e);
        }
        t.launch(learner(model, &cfg).unwrap()).model.into_student()
    };
    // a student's outputs on fixed rows stand for its weights
    let probe: Vec<usize> = (0..16).collect();
    let w = |m: &lelp::train::Mlp| host(m.forward(s.test.inputs(&probe, &base).unwrap()).unwrap().logits);
    let first = run(None, 10);
    assert!(dir.join("checkpoint").join("model-10.bpk").exists());
    let acc10 = accuracy(&first, &s.test, &base).unwrap();
    // resuming at the last epoch trains nothing: the checkpoint's weights,
    // not a fresh initialisation, come back
    let loaded = run(Some(10), 10);
    assert_eq!(w(&loaded), w(&first));
    let resumed = run(Some(10), 20);
    assert!(dir.join("checkpoint").join("model-20.bpk").exists());
    let acc20 = accuracy(&resumed, &s.test, &base).unwrap();
    assert!(acc20 > 0.85, "accuracy after 20 epochs {acc20} (after 10: {acc10})");
    assert_ne!(w(&resumed), w(&first));
    // the schedules burn-train cannot take are a typed error
    let student = MlpConfig::new(64, vec![8], s.targets.outputs()).init(&device).unwrap();
    let model = DistillModel::new(student, &s.transfer, &s.targets, &cfg, &device).unwrap();
    let cosine = cfg
        .clone()
        .with_schedule(lelp::train::LrSchedule::Cosine { final_fraction: 0.1 });
    let Err(e) = learner(model, &cosine) else {
        panic!("a cosine schedule is refused")
    };
    assert!(
        matches!(e, lelp::LelpError::InvalidParameter { name: "schedule", .. }),
        "{e:?}"
    );
}

/// burn-train's steps cannot return errors, so inputs that do not fit are
/// refused before training: a student of another input width, and a
/// validation set of another width or kind.
#[test]
fn mismatched_inputs_are_typed_errors_before_training() {
    let s = setup();
    let device = device().autodiff();
    let cfg = DistillConfig::new(1, 1e-3);
    let wide = MlpConfig::new(65, vec![8], s.targets.outputs()).init(&device).unwrap();
    let Err(e) = DistillModel::new(wide, &s.transfer, &s.targets, &cfg, &device) else {
        panic!("a student of another width is refused")
    };
    assert!(matches!(e, lelp::LelpError::DimensionMismatch { .. }), "{e:?}");
    let narrow_test = {
        let lelp::data::Features::Dense { values, width } = s.test.features() else {
            unreachable!("the digits are dense")
        };
        let narrow: Vec<f32> = values.chunks(*width).flat_map(|r| r[..63].to_vec()).collect();
        Dataset::new(narrow, 63, s.test.labels().to_vec(), 2).unwrap()
    };
    let err = dataloaders(&s.transfer, &s.targets, &narrow_test, &cfg, &device).err();
    assert!(
        matches!(
            err,
            Some(lelp::LelpError::DimensionMismatch {
                expected: 64,
                got: 63,
                ..
            })
        ),
        "{err:?}"
    );
}

/// A training step seeds its dropout masks from its rows: the same batch
/// twice gives the same loss (unseeded masks would not), the same rows in
/// another order other masks.
#[cfg(feature = "text")]
#[test]
fn a_steps_dropout_masks_follow_its_rows() {
    use burn::data::dataloader::batcher::Batcher;
    use lelp::text::{Bert, BertConfig, TransformerStudentConfig};
    let device = device().autodiff();
    let seqs: Vec<Vec<u32>> = (0..8u32).map(|i| vec![1, 2 + i % 5, 3 + i % 3, 7]).collect();
    let data = Dataset::from_tokens(seqs, (0..8).map(|i| i % 2).collect(), 2).unwrap();
    let targets = Method::Plain.prepare(&data, None).unwrap();
    let config = BertConfig {
        vocab_size: 12,
        hidden_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 8,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
    };
    let student = TransformerStudentConfig::new(2)
        .with_dropout(0.3)
        .with_encoder_dropout(0.3)
        .init(Bert::random(&config, 1, &device).unwrap(), &device)
        .unwrap();
    let model = DistillModel::new(student, &data, &targets, &DistillConfig::new(1, 1e-3), &device).unwrap();
    let batcher = DistillBatcher::new(&data, Some(&targets)).unwrap();
    let loss = |rows: Vec<usize>| host(TrainStep::step(&model, batcher.batch(rows, &device)).item.loss)[0];
    let a = loss(vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(a, loss(vec![0, 1, 2, 3, 4, 5]));
    let b = loss(vec![5, 4, 3, 2, 1, 0]);
    assert!((a - b).abs() > 1e-4, "{a} vs {b}: the same masks for another order");
}
