//! Crash consistency: a checkpointed training run is SIGKILLed at seeded
//! random moments (at least 20 times, mostly just after an epoch's
//! checkpoint folder appears, so many kills land during its writes). After
//! each kill the directory holds a readable checkpoint of a complete epoch
//! (or none yet), the next process resumes from it or fails with a typed
//! error, and the run that finally completes ends bit-identical to an
//! uninterrupted run in this process: same history, same weights. The
//! children alternate `RAYON_NUM_THREADS=1` and `2`, so the same bits across
//! processes and thread counts are checked too. Runs on Flex (the files,
//! not the backend, are under test).

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::prelude::*;
use lelp::data::{Dataset, Inputs};
use lelp::teacher::{LinearHead, PrecomputedTeacher, TeacherEncoder};
use lelp::train::{
    CheckpointInfo, DistillConfig, Distiller, LelpConfig, Method, Mlp, MlpConfig, Student, Trained, TrainingTargets,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const EPOCHS: usize = 40;
const CHILD_ENV: &str = "LELP_KILL_TEST_DIR";

fn setup(device: &Device) -> (Dataset, Dataset, TrainingTargets) {
    let data = Dataset::uci_digits().parity().unwrap();
    let (train, valid) = data.split(0.2, 3).unwrap();
    let train = train.sample(400, 0).unwrap();
    let w: Vec<f32> = (0..128).map(|i| ((i * 37 % 23) as f32 - 11.0) / 11.0).collect();
    let teacher = PrecomputedTeacher::new(LinearHead::new(w, vec![0.0, 0.1], [2, 64]).unwrap());
    let out = teacher.encode(&train, 512, device).unwrap();
    let targets = Method::Lelp(LelpConfig::new(3)).prepare(&train, Some(&out)).unwrap();
    (train, valid, targets)
}

fn run(dir: Option<&std::path::Path>) -> Trained<Mlp> {
    let device = Device::flex();
    let (train, valid, targets) = setup(&device);
    let student = MlpConfig::new(64, vec![96, 64], 6).with_seed(1).init(&device).unwrap();
    let cfg = DistillConfig::new(EPOCHS, 3e-3)
        .with_batch_size(32)
        .with_seed(2)
        .with_restore_best(true);
    let d = Distiller::new(cfg);
    let d = match dir {
        Some(dir) => d.with_checkpoints(dir),
        None => d,
    };
    d.fit(student, &train, &targets, Some(&valid), &device).unwrap()
}

fn outputs(s: &Mlp) -> Vec<u32> {
    let device = Device::flex();
    let data = Dataset::uci_digits().sample(300, 9).unwrap();
    let out = s
        .forward(Inputs::Dense(data.features_tensor(&device).unwrap()))
        .unwrap();
    let v: Vec<f32> = out.logits.into_data().try_to_vec().unwrap();
    v.into_iter().map(f32::to_bits).collect()
}

/// The child process: train with checkpoints in `$LELP_KILL_TEST_DIR`.
#[test]
#[ignore = "the child process of killed_runs_resume_to_the_uninterrupted_result"]
fn child_trains_with_checkpoints() {
    let dir = std::env::var(CHILD_ENV).expect("run by the parent test");
    run(Some(std::path::Path::new(&dir)));
}

fn epoch_folders(dir: &std::path::Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("epoch-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn killed_runs_resume_to_the_uninterrupted_result() {
    let t0 = Instant::now();
    let reference = run(None);
    let epoch_time = t0.elapsed() / EPOCHS as u32;
    let dir = common::tempdir("kill");
    let exe = std::env::current_exe().unwrap();
    let mut rng = StdRng::seed_from_u64(20261130);
    let (mut kills, mut spawns, mut last_epoch, mut mid_write) = (0usize, 0usize, 0usize, 0usize);
    loop {
        spawns += 1;
        assert!(spawns < 200, "the run never completed");
        let threads = if spawns % 2 == 0 { "1" } else { "2" };
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_trains_with_checkpoints",
                "--ignored",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .env("RAYON_NUM_THREADS", threads)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // kill after this child's first new epoch folder appears: at once
        // (mid-write) 30% of the time, else after a random slice of 0 to 2
        // epochs; no more kills after 60
        let seen = epoch_folders(&dir);
        let extra = if rng.random_bool(0.3) {
            Duration::ZERO
        } else {
            epoch_time.mul_f64(rng.random_range(0.0..2.0))
        };
        let mut deadline: Option<Instant> = None;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st);
            }
            if deadline.is_none() && epoch_folders(&dir).difference(&seen).next().is_some() {
                deadline = Some(Instant::now() + extra);
            }
            if kills < 60 && deadline.is_some_and(|d| Instant::now() >= d) {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                break None;
            }
            std::thread::sleep(Duration::from_micros(300));
        };
        if let Some(st) = status {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert!(st.success(), "a resumed child failed after {kills} kills: {err}");
            break;
        }
        // after a kill: a readable manifest of a complete epoch, never older
        let info = CheckpointInfo::read(&dir).unwrap();
        let epoch = info.as_ref().map_or(0, |i| i.epoch);
        // a folder newer than the manifest's: the kill landed while an
        // epoch's records were being written
        let newest = epoch_folders(&dir).into_iter().max().unwrap_or_default();
        if newest > format!("epoch-{epoch:06}") {
            mid_write += 1;
        }
        assert!(epoch >= last_epoch, "checkpoint went back from {last_epoch} to {epoch}");
        if let Some(i) = &info {
            assert_eq!(i.history.len(), i.epoch);
            assert_eq!(
                i.history[..],
                reference.history[..i.epoch],
                "history so far equals the reference"
            );
        }
        last_epoch = epoch;
    }
    eprintln!(
        "{kills} kills ({mid_write} during an epoch's writes) over {spawns} processes, epoch time {epoch_time:?}"
    );
    assert!(kills >= 20, "only {kills} kills");
    assert!(mid_write >= 1, "no kill landed during a checkpoint write");
    // the completed run, read back in this process: same history, same bits
    let done = run(Some(&dir));
    assert_eq!(done.history, reference.history);
    assert_eq!(
        outputs(&done.student),
        outputs(&reference.student),
        "bit-identical weights"
    );
    // only the last epoch's folder is left
    assert_eq!(epoch_folders(&dir).len(), 1);
}

#[test]
fn a_checkpoint_of_other_data_or_a_damaged_record_is_refused() {
    let device = Device::flex();
    let (train, _, targets) = setup(&device);
    let dir = common::tempdir("refuse");
    let student = || MlpConfig::new(64, vec![8], 6).with_seed(1).init(&device).unwrap();
    let cfg = DistillConfig::new(2, 3e-3);
    Distiller::new(cfg.clone())
        .with_checkpoints(&dir)
        .fit(student(), &train, &targets, None, &device)
        .unwrap();
    // a resume against anything else is refused before any weight is read
    let refused = |data: &Dataset, targets: &TrainingTargets| {
        let e = Distiller::new(cfg.clone())
            .with_checkpoints(&dir)
            .fit(student(), data, targets, None, &device)
            .unwrap_err();
        assert!(
            matches!(&e, lelp::LelpError::CheckpointMismatch { reason, .. } if reason.contains("targets or method")),
            "{e:?}"
        );
    };
    // other rows of the same size, same method and student shape
    let w: Vec<f32> = (0..128).map(|i| ((i * 37 % 23) as f32 - 11.0) / 11.0).collect();
    let teacher = PrecomputedTeacher::new(LinearHead::new(w, vec![0.0, 0.1], [2, 64]).unwrap());
    let other = Dataset::uci_digits().parity().unwrap().sample(train.len(), 99).unwrap();
    assert_eq!(other.len(), train.len());
    let other_out = teacher.encode(&other, 512, &device).unwrap();
    refused(
        &other,
        &Method::Lelp(LelpConfig::new(3))
            .prepare(&other, Some(&other_out))
            .unwrap(),
    );
    // the same rows, another method with the same output width (S = 3 at another beta)
    let out = teacher.encode(&train, 512, &device).unwrap();
    refused(
        &train,
        &Method::Lelp(LelpConfig::new(3).with_beta(1.0))
            .prepare(&train, Some(&out))
            .unwrap(),
    );
    // a flipped byte in the model record: a typed error, not other weights
    let folder = epoch_folders(&dir).into_iter().next().unwrap();
    let mp = dir.join(folder).join("model.bpk");
    let mut bytes = std::fs::read(&mp).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&mp, bytes).unwrap();
    let e = Distiller::new(cfg)
        .with_checkpoints(&dir)
        .fit(student(), &train, &targets, None, &device)
        .unwrap_err();
    assert!(matches!(e, lelp::LelpError::Corrupted { .. }), "{e:?}");
}
