//! A downstream crate's view: only public items, each trait implemented
//! by "user" code and run end to end through the trainer.
//!
//! - a custom `SubspaceFinder` (seeded random orthonormal directions,
//!   built with `Subspaces::from_parts` from `ClassMoments`),
//! - a custom `PseudoLabeler` (nearest class centroid halves),
//! - a custom burn `Student` (a residual MLP), and a token student (an
//!   embedding bag over token ids) trained on integer inputs,
//! - a custom `TeacherModule` wrapped by `ModuleTeacher`,
//! - C > 2 end to end, teacher labels, k-means, random projections, the
//!   oracle, a saved fit reused for two students, `predict`.

mod common;

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, relu};
use common::device;
use lelp::data::{Dataset, Inputs};
use lelp::labeler::{KMeansConfig, LabelerInput, LelpLabeler, PseudoLabeler, PseudoTargets, compose};
use lelp::subspace::{ClassMoments, SubspaceConfig, SubspaceFinder, SubspaceKind, SubspaceParts, Subspaces};
use lelp::teacher::{LinearHead, ModuleTeacher, TeacherEncoder, TeacherModule, TeacherOutput};
use lelp::train::{
    DistillConfig, Distiller, EpochReport, KdConfig, LelpConfig, Method, Observer, Student, StudentOutput,
    TrainingTargets, accuracy, predict, predict_inputs,
};
use lelp::{LelpError, Result};

// ---------------------------------------------------------------- teacher

#[derive(Module, Debug)]
struct UserTeacher {
    body: Linear,
    head: Linear,
}

impl TeacherModule for UserTeacher {
    fn embed(&self, inputs: Inputs) -> Result<Tensor<2>> {
        Ok(relu(self.body.forward(inputs.into_dense(Some(64))?)))
    }
    fn classifier(&self) -> &Linear {
        &self.head
    }
}

/// Trains a user teacher on `data` through a student wrapper (plain CE).
#[derive(Module, Debug)]
struct TeacherAsStudent {
    net: UserTeacher,
}

impl Student for TeacherAsStudent {
    fn forward(&self, inputs: Inputs) -> Result<StudentOutput> {
        let h = self.net.embed(inputs)?;
        Ok(StudentOutput {
            logits: self.net.head.forward(h.clone()),
            embedding: h,
        })
    }
    fn num_outputs(&self) -> usize {
        self.net.head.weight.val().dims()[1]
    }
    fn embedding_dim(&self) -> usize {
        self.net.body.weight.val().dims()[1]
    }
}

fn trained_teacher(train: &Dataset, device: &Device) -> ModuleTeacher<UserTeacher> {
    let c = train.num_classes();
    let net = UserTeacher {
        body: LinearConfig::new(64, 96).init(device),
        head: LinearConfig::new(96, c).init(device),
    };
    let plain = Method::Plain.prepare(train, None).unwrap();
    let t = Distiller::new(DistillConfig::new(15, 3e-3).with_seed(1))
        .fit(TeacherAsStudent { net }, train, &plain, None, device)
        .unwrap();
    ModuleTeacher::new(t.student.net).unwrap()
}

// ---------------------------------------------------------------- student

#[derive(Module, Debug)]
struct ResidualMlp {
    input: Linear,
    block: Linear,
    out: Linear,
}

impl ResidualMlp {
    fn new(outputs: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(64, 24).init(device),
            block: LinearConfig::new(24, 24).init(device),
            out: LinearConfig::new(24, outputs).init(device),
        }
    }
}

impl Student for ResidualMlp {
    fn forward(&self, inputs: Inputs) -> Result<StudentOutput> {
        let h = relu(self.input.forward(inputs.into_dense(Some(64))?));
        let h = h.clone() + relu(self.block.forward(h));
        Ok(StudentOutput {
            logits: self.out.forward(h.clone()),
            embedding: h,
        })
    }
    fn num_outputs(&self) -> usize {
        self.out.weight.val().dims()[1]
    }
    fn embedding_dim(&self) -> usize {
        24
    }
}

/// A bag of token embeddings (mean over the mask) and a linear head.
#[derive(Module, Debug)]
struct TokenBag {
    embed: Embedding,
    out: Linear,
}

impl Student for TokenBag {
    fn forward(&self, inputs: Inputs) -> Result<StudentOutput> {
        let t = inputs.into_tokens()?;
        let e = self.embed.forward(t.ids); // [B, L, e]
        let [b, l, w] = e.dims();
        let mask = t.mask.float().reshape([b, l, 1]);
        let sum = (e * mask.clone()).sum_dim(1).reshape([b, w]);
        let count = mask.sum_dim(1).reshape([b, 1]);
        let h = sum / count;
        Ok(StudentOutput {
            logits: self.out.forward(h.clone()),
            embedding: h,
        })
    }
    fn num_outputs(&self) -> usize {
        self.out.weight.val().dims()[1]
    }
    fn embedding_dim(&self) -> usize {
        self.out.weight.val().dims()[0]
    }
}

// ---------------------------------------------------------------- finder

/// Seeded random orthonormal directions per class (Gram-Schmidt), scaled
/// by the class variance along them: a user's own finder.
struct RandomOrthogonal {
    config: SubspaceConfig,
}

impl SubspaceFinder for RandomOrthogonal {
    fn config(&self) -> SubspaceConfig {
        self.config
    }
    fn fit_moments(&self, m: &ClassMoments, head: Option<&LinearHead>) -> Result<Subspaces> {
        let (c, s) = (m.num_classes(), self.config.subclasses);
        let d = m.embedding_dim().ok_or(LelpError::EmptyData { what: "moments" })?;
        let mut state = self.config.seed.wrapping_add(0x9e3779b97f4a7c15);
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f64 / 1000.0 - 1.0
        };
        let (mut means, mut bases, mut eig, mut scales) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for class in 0..c {
            means.extend_from_slice(m.mean(class).ok_or(LelpError::EmptyData { what: "a class" })?);
            let cov = m.covariance(class).ok_or(LelpError::EmptyData { what: "a class" })?;
            let mut u = vec![0.0; d * s];
            for k in 0..s {
                let mut v: Vec<f64> = (0..d).map(|_| next()).collect();
                for p in 0..k {
                    let dot: f64 = (0..d).map(|i| v[i] * u[i * s + p]).sum();
                    for i in 0..d {
                        v[i] -= dot * u[i * s + p];
                    }
                }
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                for i in 0..d {
                    u[i * s + k] = v[i] / norm;
                }
            }
            let vars: Vec<f64> = (0..s)
                .map(|k| {
                    (0..d)
                        .map(|i| {
                            (0..d)
                                .map(|j| u[i * s + k] * cov[i * d + j] * u[j * s + k])
                                .sum::<f64>()
                        })
                        .sum()
                })
                .collect();
            scales.push((vars.iter().sum::<f64>() / s as f64).sqrt());
            eig.extend(vars);
            bases.extend(u);
        }
        Subspaces::from_parts(SubspaceParts {
            kind: SubspaceKind::Custom,
            config: self.config,
            num_classes: c,
            embedding_dim: d,
            counts: m.counts().to_vec(),
            means,
            bases,
            eigenvalues: eig,
            rotations: None,
            scales,
            projector: None,
            head: head.cloned(),
        })
    }
}

// ---------------------------------------------------------------- labeler

/// Two subclasses per class: which side of the class mean the embedding's
/// first coordinate falls on, softly (a user's own labeler).
struct HalfLabeler {
    num_classes: usize,
    means: Vec<f32>,
    tau: f64,
}

impl PseudoLabeler for HalfLabeler {
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn subclasses(&self) -> usize {
        2
    }
    fn targets(&self, input: LabelerInput<'_>) -> Result<PseudoTargets> {
        let n = input.rows();
        let c = self.num_classes;
        let device = input.embeddings.device();
        let first = input.embeddings.clone().narrow(1, 0, 1); // [N, 1]
        let m = Tensor::<1>::from_data(TensorData::new(self.means.clone(), [c]), &device).reshape([1, c]);
        let a = (first - m).reshape([n, c, 1]); // [N, C, 1]
        let within = log_softmax(Tensor::cat(vec![a.clone(), a.neg()], 2).mul_scalar(4.0), 2);
        compose(input.logits, within, self.tau)
    }
}

/// Records epochs, like a user's metrics sink.
#[derive(Default)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<usize>>>);

impl Observer for Recorder {
    fn on_epoch(&mut self, report: &EpochReport, _epochs: usize) {
        self.0.lock().unwrap().push(report.epoch);
    }
}

// ---------------------------------------------------------------- tests

fn digits(classes: usize) -> (Dataset, Dataset) {
    let map: Vec<usize> = (0..10).map(|d| d % classes).collect();
    let data = Dataset::uci_digits().relabel(&map, classes).unwrap();
    data.split(0.3, 7).unwrap()
}

fn student_config() -> DistillConfig {
    DistillConfig::new(25, 3e-3).with_batch_size(32).with_seed(3)
}

#[test]
fn every_extension_point_runs_end_to_end_through_the_trainer() {
    let device = device();
    let (train, test) = digits(2);
    let teacher = trained_teacher(&train, &device);
    let transfer = train.sample(400, 1).unwrap();
    let out = teacher.encode(&transfer, 256, &device).unwrap();
    assert_eq!(out.head().unwrap().num_classes(), 2);

    // custom finder -> LELP labeler -> targets -> custom student
    let finder = RandomOrthogonal {
        config: SubspaceConfig::new(4).with_null_space(false).with_seed(5),
    };
    let fit = finder.fit_teacher(&out, transfer.labels()).unwrap();
    assert_eq!((fit.kind(), fit.subclasses()), (SubspaceKind::Custom, 4));
    let labeler = LelpLabeler::builder(fit).tau(2.0).beta(0.5).build().unwrap();
    let targets = TrainingTargets::from_labeler(&labeler, &out, &transfer, 0.0).unwrap();
    assert_eq!(targets.outputs(), 8);
    let seen = Recorder::default();
    let epochs = seen.0.clone();
    let trained = Distiller::new(student_config())
        .with_observer(seen)
        .fit(ResidualMlp::new(8, &device), &transfer, &targets, None, &device)
        .unwrap();
    assert_eq!(*epochs.lock().unwrap(), (1..=25).collect::<Vec<_>>());
    let acc = accuracy(&trained.student, &test, &device).unwrap();
    assert!(acc > 0.8, "custom finder + student: {acc}");

    // custom labeler, its tau carried to the loss
    let first: Vec<f32> = out
        .embeddings()
        .clone()
        .narrow(1, 0, 1)
        .into_data()
        .try_to_vec()
        .unwrap();
    let means = (0..2)
        .map(|c| {
            let rows: Vec<usize> = (0..transfer.len()).filter(|&i| transfer.labels()[i] == c).collect();
            rows.iter().map(|&i| first[i]).sum::<f32>() / rows.len() as f32
        })
        .collect();
    let half = HalfLabeler {
        num_classes: 2,
        means,
        tau: 3.0,
    };
    let targets = TrainingTargets::from_labeler(&half, &out, &transfer, 0.2).unwrap();
    assert_eq!((targets.subclasses(), targets.tau(), targets.alpha()), (2, 3.0, 0.2));
    let q = targets.soft_targets().unwrap().class_probs();
    let p = burn::tensor::activation::softmax(out.logits().clone().div_scalar(3.0), 1);
    common::assert_close("class marginals", &common::host(q), &common::host(p), 1e-5, 1e-3);
    let trained = Distiller::new(student_config())
        .fit(ResidualMlp::new(4, &device), &transfer, &targets, None, &device)
        .unwrap();
    let preds = predict(&trained.student, &test, &device).unwrap();
    let hits = preds.iter().zip(test.labels()).filter(|(p, l)| p == l).count();
    assert_eq!(
        hits as f64 / test.len() as f64,
        accuracy(&trained.student, &test, &device).unwrap(),
        "predict and accuracy agree"
    );
}

#[test]
fn one_saved_fit_serves_two_students() {
    let device = device();
    let (train, test) = digits(2);
    let transfer = train.sample(300, 2).unwrap();
    let out = trained_teacher(&train, &device)
        .encode(&transfer, 512, &device)
        .unwrap();
    let prepared = Method::Lelp(LelpConfig::new(4)).prepare(&transfer, Some(&out)).unwrap();
    let path = common::tempdir("reuse").join("fit.safetensors");
    prepared.subspaces().unwrap().save(&path).unwrap();
    // later, elsewhere: load the fit, rebuild the same targets, no refit
    let loaded = Subspaces::load(&path).unwrap();
    let labeler = LelpLabeler::builder(loaded).build().unwrap();
    let targets = TrainingTargets::from_labeler(&labeler, &out, &transfer, 0.0).unwrap();
    assert_eq!(
        common::host(targets.soft_targets().unwrap().log_probs().clone()),
        common::host(prepared.soft_targets().unwrap().log_probs().clone())
    );
    for width in [16usize, 32] {
        let s = lelp::train::MlpConfig::new(64, vec![width], 8)
            .with_seed(width as u64)
            .init(&device)
            .unwrap();
        let t = Distiller::new(student_config())
            .fit(s, &transfer, &targets, None, &device)
            .unwrap();
        assert!(accuracy(&t.student, &test, &device).unwrap() > 0.8);
    }
}

#[test]
fn every_method_trains_with_three_classes() {
    let device = device();
    let (train, test) = digits(3);
    let transfer = train.sample(450, 3).unwrap();
    let out = trained_teacher(&train, &device)
        .encode(&transfer, 512, &device)
        .unwrap();
    let methods = [
        Method::Plain,
        Method::VanillaKd(KdConfig::new()),
        Method::Lelp(LelpConfig::new(3)),
        Method::Lelp(LelpConfig::new(3).with_teacher_labels(true).with_null_space(false)),
        Method::RandomProjection(LelpConfig::new(3)),
        Method::KMeans(KMeansConfig::new(3)),
        Method::Oracle(KdConfig::new()),
    ];
    for method in methods {
        let targets = method.prepare(&transfer, Some(&out)).unwrap();
        let s = targets.subclasses();
        assert_eq!(s, method.subclasses(&transfer).unwrap(), "{}", method.name());
        assert_eq!(targets.num_classes(), 3);
        let student = ResidualMlp::new(3 * s, &device);
        let t = Distiller::new(student_config())
            .fit(student, &transfer, &targets, None, &device)
            .unwrap();
        let acc = accuracy(&t.student, &test, &device).unwrap();
        // 3 balanced classes: chance is 1/3
        assert!(acc > 0.7, "{}: {acc}", method.name());
        // the JSON form round-trips
        let json = serde_json::to_string(&method).unwrap();
        assert_eq!(serde_json::from_str::<Method>(&json).unwrap(), method);
    }
}

#[test]
fn a_token_student_trains_on_integer_inputs() {
    let device = device();
    // synthetic "text": class 1 sequences contain token 7 somewhere
    let mut seqs = Vec::new();
    let mut labels = Vec::new();
    for i in 0..240u32 {
        let len = 3 + (i % 5) as usize;
        let mut s: Vec<u32> = (0..len as u32).map(|j| 10 + (i * 7 + j * 3) % 40).collect();
        let y = (i % 2) as usize;
        if y == 1 {
            s[(i as usize) % len] = 7;
        }
        seqs.push(s);
        labels.push(y);
    }
    let data = Dataset::from_tokens(seqs, labels, 2).unwrap();
    let (train, test) = data.split(0.25, 0).unwrap();
    // a teacher's outputs given as tensors (e.g. a cached encoder run)
    let h = Tensor::<2>::from_data(
        TensorData::new(
            train
                .labels()
                .iter()
                .flat_map(|&l| [1.0 - l as f32, l as f32, 0.3])
                .collect::<Vec<f32>>(),
            [train.len(), 3],
        ),
        &device,
    );
    let z = h.clone().narrow(1, 0, 2).mul_scalar(4.0);
    let out = TeacherOutput::new(h, z).unwrap();
    let targets = Method::VanillaKd(KdConfig::new()).prepare(&train, Some(&out)).unwrap();
    let student = TokenBag {
        embed: EmbeddingConfig::new(64, 8).init(&device),
        out: LinearConfig::new(8, 2).init(&device),
    };
    let dir = common::tempdir("tokens");
    let cfg = DistillConfig::new(40, 3e-2).with_batch_size(16);
    let t = Distiller::new(cfg)
        .with_checkpoints(&dir)
        .fit(student, &train, &targets, Some(&test), &device)
        .unwrap();
    let acc = accuracy(&t.student, &test, &device).unwrap();
    assert!(acc > 0.9, "token student accuracy {acc}");
    // raw inputs without labels: pad, upload, predict
    let batch = lelp::data::TokenBatch::from_sequences(&[&[10, 11, 7, 12], &[10, 11, 13]], 512, &device).unwrap();
    let p = predict_inputs(&t.student, Inputs::Tokens(batch), 2).unwrap();
    assert_eq!(p, vec![1, 0]);
}
