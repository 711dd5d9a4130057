//! The teacher's side of [`distill`](super::distill): the encoder's
//! embeddings and the head trained on them, a fine-tuned classifier
//! folder, a fine-tuned encoder, or outputs supplied with the data, and
//! the record of the teacher the model file keeps.

use super::*;

/// The checks of supplied teacher outputs against the corpus and options.
pub(super) fn check_supplied(
    t: &TeacherOutputs,
    corpus: &TextCorpus,
    unlabeled: &[String],
    opts: &DistillOptions,
) -> Result<()> {
    if t.rows() != corpus.len() {
        return Err(LelpError::DimensionMismatch {
            what: "teacher outputs' rows vs the data's rows",
            expected: corpus.len(),
            got: t.rows(),
        });
    }
    if t.class_names != corpus.class_names {
        let value = t.class_names.join(",");
        return Err(invalid(
            "teacher_outputs",
            value,
            "their classes are not the data's, in its order",
        ));
    }
    let refuse = |name, value: String, reason| Err(invalid(name, value, reason));
    if !unlabeled.is_empty() {
        let reason = "unlabeled texts need the teacher's outputs, and supplied outputs cover the data's rows only";
        return refuse("unlabeled", unlabeled.len().to_string(), reason);
    }
    if opts.augment > 0 {
        let reason = "augmented copies are labelled by a teacher that runs here, not by supplied outputs";
        return refuse("augment", opts.augment.to_string(), reason);
    }
    if opts.student == StudentKind::Mlp {
        let reason = "an MLP student reads the teacher encoder's embeddings when it predicts: with supplied outputs \
                      choose bag, cnn, static or transformer";
        return refuse("student", "mlp".into(), reason);
    }
    Ok(())
}

/// The supplied teacher's stage: its test accuracy, and its embeddings
/// (or a stand-in no applicable method reads) as the dense rows.
pub(super) fn supplied_stage(t: &TeacherOutputs, corpus: &TextCorpus, test_idx: &[usize]) -> Result<TeacherStage> {
    let preds = t.predictions();
    let right = test_idx.iter().filter(|&&r| preds[r] == corpus.labels[r]).count();
    let accuracy = right as f64 / test_idx.len().max(1) as f64;
    let c = corpus.class_names.len();
    let dense = match &t.embeddings {
        Some(e) => Dataset::new(e.clone(), t.embedding_dim, corpus.labels.clone(), c)?,
        None => Dataset::new(t.logits.clone(), c, corpus.labels.clone(), c)?,
    };
    Ok(TeacherStage {
        teacher: TeacherSide::Supplied(t.logits.clone()),
        accuracy,
        dense,
    })
}

/// The manifest's record of a supplied teacher (or of none).
pub(super) fn supplied_record(t: Option<&TeacherOutputs>, accuracy: f64) -> TeacherRecord {
    TeacherRecord {
        name: t
            .and_then(|t| t.path.file_name())
            .map_or_else(|| "supplied outputs".into(), |n| n.to_string_lossy().into_owned()),
        id: t.map_or_else(String::new, |t| format!("{:016x}", t.id)),
        head: t.map_or_else(|| "supplied outputs".into(), TeacherOutputs::describe),
        parameters: 0,
        test_accuracy: Some(accuracy),
    }
}

/// The manifest's record of the teacher: the encoder's folder name and
/// identity, its head over `c` classes, parameters and test accuracy.
pub(super) fn teacher_record(
    encoder: &SentenceEncoder,
    opts: &DistillOptions,
    corpus: &TextCorpus,
    head_params: usize,
    accuracy: f64,
) -> TeacherRecord {
    let (dir, c) = (&opts.teacher_dir, corpus.class_names.len());
    TeacherRecord {
        name: dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        id: format!("{:016x}", encoder.model_id()),
        head: format!("mlp {}-256-{c}", encoder.embedding_dim()),
        parameters: encoder.bert().num_params() + head_params,
        test_accuracy: Some(accuracy),
    }
}

/// The sentence embeddings of `texts` (host, row-major; from the cache
/// where there is one) and the encoder's rate in texts a second (over the
/// texts, or over 64 of them when the cache answered).
pub(super) fn embed(
    encoder: &SentenceEncoder,
    texts: &[&str],
    opts: &DistillOptions,
    device: &Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Vec<f32>, f64)> {
    let t0 = Instant::now();
    let on_batch = |done, total| progress(Progress::Encoding { done, total });
    let emb = match &opts.cache_dir {
        Some(dir) => encoder.encode_cached(texts, 64, device, dir, on_batch)?,
        None => encoder.encode_with_progress(texts, 64, device, on_batch)?,
    };
    let secs = t0.elapsed().as_secs_f64();
    let rate = if secs > 1.0 {
        texts.len() as f64 / secs
    } else {
        let few = &texts[..texts.len().min(64)];
        let t = Instant::now();
        encoder.encode(few, 64, device)?;
        few.len() as f64 / t.elapsed().as_secs_f64()
    };
    Ok((crate::util::to_host_f32(emb)?, rate))
}

/// A fine-tuned classifier folder as the teacher, and its classifier as a
/// linear [`Mlp`] over its embedding with the rows in the data's class
/// order.
///
/// # Errors
/// Those of [`HfClassifier::from_dir`](crate::text::HfClassifier::from_dir);
/// [`LelpError::InvalidParameter`] when its classes are not the data's or
/// the student is the MLP.
pub(super) fn hf_teacher(
    corpus: &TextCorpus,
    opts: &DistillOptions,
    device: &Device,
) -> Result<(crate::text::HfClassifier, Mlp)> {
    if opts.student == StudentKind::Mlp {
        let reason = "an MLP student's file embeds a sentence encoder: with a fine-tuned classifier as the \
                      teacher choose bag, cnn, static or transformer";
        return Err(invalid("student", "mlp".into(), reason));
    }
    let clf = crate::text::HfClassifier::from_dir(&opts.teacher_dir, device)?.with_max_seq_length(opts.max_tokens);
    let order = clf.class_order(&corpus.class_names)?;
    // the classifier's rows in the data's class order, as an [in, out] Linear
    let (head, d) = (clf.head(), clf.head().embedding_dim());
    let c = corpus.class_names.len();
    let mut w = vec![0.0f32; d * c];
    let mut b = vec![0.0f32; c];
    for (k, &j) in order.iter().enumerate() {
        b[k] = head.bias()[j];
        for i in 0..d {
            w[i * c + k] = head.weight()[j * d + i];
        }
    }
    let mut mlp = crate::train::MlpConfig::new(d, Vec::new(), c).init(device)?;
    mlp.head.weight = burn::module::Param::from_tensor(crate::util::matrix(w, d, c, device));
    mlp.head.bias = Some(burn::module::Param::from_tensor(Tensor::from_data(
        TensorData::new(b, [c]),
        device,
    )));
    Ok((clf, mlp))
}

/// The manifest's record of a fine-tuned classifier teacher.
pub(super) fn hf_record(clf: &crate::text::HfClassifier, accuracy: f64) -> TeacherRecord {
    let dir = clf.dir();
    TeacherRecord {
        name: dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned()),
        id: format!("{:016x}", clf.encoder().model_id()),
        head: clf.describe(),
        parameters: clf.num_params(),
        test_accuracy: Some(accuracy),
    }
}

/// The trained teacher, its test accuracy, and the sentence embeddings of
/// every row labelled (unlabeled rows with the teacher's prediction).
pub(super) struct TeacherStage {
    pub(super) teacher: TeacherSide,
    pub(super) accuracy: f64,
    pub(super) dense: Dataset,
}

/// The teacher's head trained on the training rows of `(emb, d)` (row-major
/// sentence embeddings of width `d`), scored on the test rows, and the
/// labels of the unlabeled rows.
pub(super) fn teacher_stage(
    corpus: &TextCorpus,
    (emb, d): (Vec<f32>, usize),
    (train_idx, test_idx, unl_idx): (&[usize], &[usize], &[usize]),
    given: Option<Mlp>,
    opts: &DistillOptions,
    device: &Device,
) -> Result<TeacherStage> {
    let c = corpus.class_names.len();
    let mut labels = corpus.labels.clone();
    labels.extend(std::iter::repeat_n(0, unl_idx.len()));
    let mut sets = corpus.label_sets.clone();
    if let Some(s) = sets.as_mut() {
        s.extend(std::iter::repeat_n(Vec::new(), unl_idx.len()));
    }
    let with_sets = |d: Dataset, sets: &Option<Vec<Vec<usize>>>| match sets {
        Some(s) => d.with_label_sets(s.clone()),
        None => Ok(d),
    };
    let all = with_sets(Dataset::new(emb, d, labels.clone(), c)?, &sets)?;
    let head = match given {
        Some(head) => head,
        None => {
            let train = all.subset(train_idx)?;
            train_head(&train, c, &Method::Plain.prepare(&train, None)?, opts, device)?
        }
    };
    let accuracy = accuracy(&head, &all.subset(test_idx)?, device)?;
    let teacher = ModuleTeacher::new(head)?;
    if unl_idx.is_empty() {
        return Ok(TeacherStage {
            teacher: TeacherSide::Head(Box::new(teacher)),
            accuracy,
            dense: all,
        });
    }
    // unlabeled rows take the teacher's prediction as their label (multi-
    // label data: the labels it gives a probability of 0.5 or more)
    let out = teacher.encode(&all.subset(unl_idx)?, 512, device)?;
    if let Some(s) = sets.as_mut() {
        let z = crate::util::to_host_f32(out.logits().clone())?;
        for (set, row) in s[corpus.len()..].iter_mut().zip(z.chunks(c)) {
            *set = (0..c).filter(|&k| row[k] >= 0.0).collect();
        }
    } else {
        labels[corpus.len()..].copy_from_slice(&out.predictions()?);
    }
    let crate::data::Features::Dense { values, .. } = all.features() else {
        unreachable!("built dense above")
    };
    let dense = with_sets(Dataset::new(values.clone(), d, labels, c)?, &sets)?;
    Ok(TeacherStage {
        teacher: TeacherSide::Head(Box::new(teacher)),
        accuracy,
        dense,
    })
}

/// Fine-tunes the teacher's encoder on the training rows
/// ([`DistillOptions::teacher_tune`]): under the cache's `fine-tuned`
/// folder, else a temporary one.
pub(super) fn tune_teacher(
    base: &SentenceEncoder,
    corpus: &TextCorpus,
    train_idx: &[usize],
    cfg: &crate::text::FineTuneConfig,
    opts: &DistillOptions,
    device: &Device,
) -> Result<crate::text::FineTuned> {
    let texts: Vec<&str> = train_idx.iter().map(|&r| corpus.texts[r].as_str()).collect();
    let labels: Vec<usize> = train_idx.iter().map(|&r| corpus.labels[r]).collect();
    let cfg = cfg.clone().with_max_tokens(opts.max_tokens).with_seed(opts.seed);
    let cache = match &opts.cache_dir {
        Some(c) => c.with_file_name("fine-tuned"),
        None => tune_scratch(opts.seed).join("fine-tuned"),
    };
    let c = corpus.class_names.len();
    let dir = opts.teacher_dir.as_path();
    let observer: Box<dyn crate::train::Observer> = if opts.training_progress {
        Box::new(crate::train::StderrProgress)
    } else {
        Box::new(crate::train::Silent)
    };
    crate::text::fine_tune(base, dir, &texts, &labels, c, &cfg, &cache, device, observer)
}

/// The temporary folder of a fine-tuned teacher without a cache.
pub(super) fn tune_scratch(seed: u64) -> PathBuf {
    std::env::temp_dir().join(format!("lelp-fine-tuned-{}-{seed}", std::process::id()))
}
