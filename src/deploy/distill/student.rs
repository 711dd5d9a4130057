//! The student's side of [`distill`](super::distill): the rows in the
//! teacher's and the student's views with the teacher's outputs, a fresh
//! student of each kind, its training and its logits, its featurisers and
//! its model file.

use super::*;

/// A trained student of any kind.
#[derive(Clone)]
pub(in crate::deploy) enum AnyStudent {
    Bag(Bag),
    Cnn(TextCnn),
    Mlp(Mlp),
    Transformer(TransformerStudent),
}

/// Where the teacher's outputs come from.
pub(super) enum TeacherSide {
    /// A head trained over the encoder's sentence embeddings (the rows of
    /// [`Views::dense`]).
    Head(Box<ModuleTeacher<Mlp>>),
    /// The user's model's logits, row-major `[rows, classes]`; the rows of
    /// [`Views::dense`] are its embeddings when it gave them (else a
    /// stand-in that no method reads: the logits again).
    Supplied(Vec<f32>),
}

/// The rows, in both views, and the teacher's outputs on them.
pub(in crate::deploy) struct Views {
    /// Sentence embeddings (the teacher's input), labelled rows then unlabeled.
    pub(super) dense: Dataset,
    /// The student's input, the same rows.
    pub(super) student: Dataset,
    pub(super) teacher: TeacherSide,
    pub(super) sd_teacher: Option<ModuleTeacher<Mlp>>,
    /// The WordPiece vocabulary size (CNN and static students).
    pub(super) vocab: usize,
    /// The static student's table.
    pub(super) table: Option<Vec<f32>>,
    /// The transformer student's initial encoder.
    pub(super) bert: Option<Bert>,
}

/// Trains a head `d -> 256 -> outputs` over the sentence embeddings.
pub(super) fn train_head(
    train: &Dataset,
    outputs: usize,
    targets: &crate::train::TrainingTargets,
    opts: &DistillOptions,
    device: &Device,
) -> Result<Mlp> {
    let head = MlpConfig::new(train.num_features(), vec![256], outputs)
        .with_seed(opts.seed.wrapping_add(7))
        .init(device)?;
    let cfg = DistillConfig::new(30, 1e-3)
        .with_batch_size(64)
        .with_seed(opts.seed)
        .with_class_weights(opts.class_weight.weights(train));
    Ok(Distiller::new(cfg).fit(head, train, targets, None, device)?.student)
}

impl Views {
    /// The rows in both views; the Subclass Distillation teacher (a head
    /// with `C * S` outputs on the training rows) when a method needs it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        dense: Dataset,
        texts: &[&str],
        tools: &Featurizers,
        methods: &[Method],
        teacher: TeacherSide,
        train_idx: &[usize],
        opts: &DistillOptions,
        device: &Device,
    ) -> Result<Self> {
        let student = tools.view(opts.student, &dense, texts, opts)?;
        let c = dense.num_classes();
        let sd_teacher = methods
            .iter()
            .find_map(|m| match m {
                Method::SubclassDistillation(sd) => Some(*sd),
                _ => None,
            })
            .map(|sd| -> Result<_> {
                let train = dense.subset(train_idx)?;
                let targets = sd.teacher_targets(c, train.len())?;
                ModuleTeacher::new(train_head(&train, c * sd.subclasses, &targets, opts, device)?)
            })
            .transpose()?;
        Ok(Self {
            dense,
            student,
            teacher,
            sd_teacher,
            vocab: tools.wordpiece.as_ref().map_or(0, crate::text::WordPiece::vocab_size),
            table: None,
            bert: None,
        })
    }

    /// The teacher's outputs on `rows` for `method` (Subclass
    /// Distillation's teacher has `C * S` outputs).
    pub(super) fn teacher_output(&self, method: &Method, rows: &[usize], device: &Device) -> Result<TeacherOutput> {
        let dense = self.dense.subset(rows)?;
        match (method, &self.sd_teacher, &self.teacher) {
            (Method::SubclassDistillation(_), Some(t), _) => t.encode(&dense, 512, device),
            (_, _, TeacherSide::Head(t)) => t.encode(&dense, 512, device),
            (_, _, TeacherSide::Supplied(_)) => {
                let crate::data::Features::Dense { values, width } = dense.features() else {
                    return Err(invalid(
                        "teacher",
                        "supplied".into(),
                        "the teacher's rows are not dense",
                    ));
                };
                let c = dense.num_classes();
                let z = crate::util::matrix(self.teacher_logits(rows, device)?, rows.len(), c, device);
                TeacherOutput::new(crate::util::matrix(values.clone(), rows.len(), *width, device), z)
            }
        }
    }

    /// The teacher's class logits on `rows`, row-major.
    pub(super) fn teacher_logits(&self, rows: &[usize], device: &Device) -> Result<Vec<f32>> {
        let c = self.dense.num_classes();
        match &self.teacher {
            TeacherSide::Head(t) => {
                crate::util::to_host_f32(t.encode(&self.dense.subset(rows)?, 512, device)?.logits().clone())
            }
            TeacherSide::Supplied(z) => Ok(rows
                .iter()
                .flat_map(|&r| z[r * c..(r + 1) * c].iter().copied())
                .collect()),
        }
    }

    /// Accuracy, agreement with the teacher and macro-F1 (scikit-learn's
    /// conventions, [`crate::metrics::Scores`]) of the class logits
    /// `logits` of `rows`. Multi-label data: the subset accuracy, the share
    /// of rows whose label set is the teacher's, and the macro-F1 over the
    /// labels, every label decided at probability 0.5.
    pub(in crate::deploy) fn score(&self, logits: &[f32], rows: &[usize], device: &Device) -> Result<(f64, f64, f64)> {
        let c = self.dense.num_classes();
        let teacher = self.teacher_logits(rows, device)?;
        if let Some(sets) = self.dense.label_sets() {
            if logits.len() != rows.len() * c {
                return Err(LelpError::DimensionMismatch {
                    what: "predictions vs scored rows",
                    expected: rows.len() * c,
                    got: logits.len(),
                });
            }
            let probs: Vec<f32> = logits.iter().map(|&z| crate::deploy::net::sigmoid(z)).collect();
            let truth: Vec<Vec<usize>> = rows.iter().map(|&r| sets[r].clone()).collect();
            let s = crate::metrics::multi_label_scores(&probs, &truth, c, &vec![0.5; c])?;
            // a label is said at probability 0.5, logit 0, by both
            let agree = logits
                .chunks(c)
                .zip(teacher.chunks(c))
                .filter(|(a, b)| a.iter().zip(*b).all(|(x, y)| (*x >= 0.0) == (*y >= 0.0)))
                .count();
            return Ok((s.accuracy, agree as f64 / rows.len().max(1) as f64, s.macro_f1));
        }
        let preds: Vec<usize> = logits.chunks(c.max(1)).map(crate::util::argmax).collect();
        let preds = &preds[..];
        let labels = self.dense.labels();
        if preds.len() != rows.len() {
            return Err(LelpError::DimensionMismatch {
                what: "predictions vs scored rows",
                expected: rows.len(),
                got: preds.len(),
            });
        }
        let (mut right, mut agree) = (0usize, 0usize);
        for ((&p, &r), z) in preds.iter().zip(rows).zip(teacher.chunks(c)) {
            right += usize::from(p == labels[r]);
            agree += usize::from(p == crate::util::argmax(z));
        }
        let n = rows.len().max(1) as f64;
        // macro-F1 of the hard predictions: one-hot rows
        let mut one_hot = vec![0.0f32; rows.len() * c];
        for (k, &p) in preds.iter().enumerate() {
            one_hot[k * c + p.min(c - 1)] = 1.0;
        }
        let truth: Vec<usize> = rows.iter().map(|&r| labels[r]).collect();
        let macro_f1 = crate::metrics::scores(&one_hot, &truth, c).map_or(0.0, |s| s.macro_f1);
        Ok((right as f64 / n, agree as f64 / n, macro_f1))
    }

    /// The student's view of `rows` labelled as `by` scores them: the
    /// teacher's classes when choosing by agreement (one class a row),
    /// else the gold labels.
    pub(in crate::deploy) fn scored_set(
        &self,
        view: Dataset,
        rows: &[usize],
        by: ChooseBy,
        device: &Device,
    ) -> Result<Dataset> {
        if by != ChooseBy::Agreement || self.dense.label_sets().is_some() {
            return Ok(view);
        }
        let c = self.dense.num_classes();
        let classes = self
            .teacher_logits(rows, device)?
            .chunks(c)
            .map(crate::util::argmax)
            .collect();
        view.with_labels(classes)
    }

    /// Trains a student with `method` on `rows` and returns it with its
    /// class logits for the `eval` rows (row-major); with `best_on`
    /// (rows, measure), the weights of its best epoch on those rows, and
    /// that epoch.
    pub(in crate::deploy) fn train(
        &self,
        method: &Method,
        (rows, eval): (&[usize], &[usize]),
        best_on: Option<(&[usize], ChooseBy)>,
        opts: &DistillOptions,
        device: &Device,
    ) -> Result<(AnyStudent, Vec<f32>, Option<usize>)> {
        let data = self.student.subset(rows)?;
        let targets = self.targets(method, &data, rows, device)?;
        let s = init_student(opts.student, targets.outputs(), &self.parts(), opts, device)?;
        let weights = opts.class_weight.weights(&data);
        let valid = match best_on {
            Some((v, by)) => Some(self.scored_set(self.student.subset(v)?, v, by, device)?),
            None => None,
        };
        let (s, best) = fit_student(
            s,
            opts.student,
            (&data, valid.as_ref()),
            &targets,
            (opts.epochs, weights),
            opts,
            device,
        )?;
        let logits = logits_of(&s, &self.student.subset(eval)?, device)?;
        Ok((s, logits, best))
    }

    /// `method`'s targets for `rows`, whose student view is `data`.
    pub(in crate::deploy) fn targets(
        &self,
        method: &Method,
        data: &Dataset,
        rows: &[usize],
        device: &Device,
    ) -> Result<crate::train::TrainingTargets> {
        let outputs = self.teacher_output(method, rows, device)?;
        method.prepare(data, Some(&outputs))
    }

    /// What a fresh student is made from.
    pub(in crate::deploy) fn parts(&self) -> StudentParts<'_> {
        StudentParts {
            vocab: self.vocab,
            table: self.table.as_deref(),
            bert: self.bert.as_ref(),
            features: self.dense.num_features(),
        }
    }
}

/// What a fresh student is made from: the WordPiece vocabulary's size (CNN
/// and static), the static student's table, the transformer's encoder, the
/// sentence embedding's width (MLP).
pub(in crate::deploy) struct StudentParts<'a> {
    pub(super) vocab: usize,
    pub(super) table: Option<&'a [f32]>,
    pub(super) bert: Option<&'a Bert>,
    pub(super) features: usize,
}

/// A fresh student of `kind` with `k` outputs (seeded by the options).
pub(in crate::deploy) fn init_student(
    kind: StudentKind,
    k: usize,
    parts: &StudentParts<'_>,
    opts: &DistillOptions,
    device: &Device,
) -> Result<AnyStudent> {
    Ok(match kind {
        StudentKind::Bag => AnyStudent::Bag(
            BagConfig::new(opts.bag_buckets as usize, k)
                .with_dim(opts.bag_dim)
                .with_seed(opts.seed)
                .init(device)?,
        ),
        StudentKind::Cnn => AnyStudent::Cnn(
            TextCnnConfig::new(parts.vocab, k)
                .with_dim(32)
                .with_channels(64)
                .with_seed(opts.seed)
                .init(device)?,
        ),
        StudentKind::Static => {
            let table = parts
                .table
                .ok_or_else(|| invalid("student", "static".into(), "no vocabulary table was built"))?;
            let rows = parts.vocab + opts.static_bigrams as usize;
            AnyStudent::Bag(
                BagConfig::new(rows, k)
                    .with_dim(table.len() / rows.max(1))
                    .with_normalize(true)
                    .with_seed(opts.seed)
                    .init_with_table(table.to_vec(), opts.static_frozen, device)?,
            )
        }
        StudentKind::Mlp => AnyStudent::Mlp(
            MlpConfig::new(parts.features, opts.mlp_hidden.clone(), k)
                .with_seed(opts.seed)
                .init(device)?,
        ),
        StudentKind::Transformer => {
            let bert = parts
                .bert
                .cloned()
                .ok_or_else(|| invalid("student", "transformer".into(), "no initial encoder was loaded"))?;
            AnyStudent::Transformer(
                TransformerStudentConfig::new(k)
                    .with_seed(opts.seed)
                    .init(bert, device)?,
            )
        }
    })
}

/// `student` (of `kind`) trained `epochs` more epochs on `data` with
/// `targets` and the class weights `weights`; a fresh optimiser each call.
/// With `valid`, the weights of the epoch most accurate on it, and that
/// epoch (1-based, of this call's).
pub(in crate::deploy) fn fit_student(
    student: AnyStudent,
    kind: StudentKind,
    (data, valid): (&Dataset, Option<&Dataset>),
    targets: &crate::train::TrainingTargets,
    (epochs, weights): (usize, Option<Vec<f64>>),
    opts: &DistillOptions,
    device: &Device,
) -> Result<(AnyStudent, Option<usize>)> {
    let lr = match kind {
        StudentKind::Mlp => 3e-3,
        StudentKind::Transformer => 1e-4,
        _ => 1e-2,
    };
    let mut cfg = DistillConfig::new(epochs, lr)
        .with_batch_size(32)
        .with_seed(opts.seed)
        .with_lazy_tables(lazy_tables(kind, opts))
        .with_class_weights(weights)
        .with_restore_best(valid.is_some());
    if kind == StudentKind::Transformer {
        // BERT fine-tuning: AdamW, decay 0.01, clipping, 10% warm-up then linear decay
        cfg = cfg
            .with_optimizer(OptimizerKind::AdamW)
            .with_weight_decay(0.01)
            .with_grad_clip(Some(1.0))
            .with_schedule(LrSchedule::WarmupLinear { warmup: 0.1 });
    }
    let mut distiller = Distiller::new(cfg);
    if opts.training_progress {
        distiller = distiller.with_observer(crate::train::StderrProgress);
    }
    Ok(match student {
        AnyStudent::Bag(s) => kept(distiller.fit(s, data, targets, valid, device)?, AnyStudent::Bag),
        AnyStudent::Cnn(s) => kept(distiller.fit(s, data, targets, valid, device)?, AnyStudent::Cnn),
        AnyStudent::Mlp(s) => kept(distiller.fit(s, data, targets, valid, device)?, AnyStudent::Mlp),
        AnyStudent::Transformer(s) => kept(distiller.fit(s, data, targets, valid, device)?, AnyStudent::Transformer),
    })
}

/// The trained student (as `wrap` makes it) and its best validation
/// epoch (none without validation).
fn kept<S>(t: crate::train::Trained<S>, wrap: fn(S) -> AnyStudent) -> (AnyStudent, Option<usize>) {
    (wrap(t.student), t.best_epoch)
}

/// A student's class logits on `data`'s rows, row-major.
pub(in crate::deploy) fn logits_of(student: &AnyStudent, data: &Dataset, device: &Device) -> Result<Vec<f32>> {
    match student {
        AnyStudent::Bag(s) => class_logits_of(s, data, device),
        AnyStudent::Cnn(s) => class_logits_of(s, data, device),
        AnyStudent::Mlp(s) => class_logits_of(s, data, device),
        AnyStudent::Transformer(s) => class_logits_of(s, data, device),
    }
}

/// Whether the student's table trains with lazy Adam (faster, accuracy
/// level with dense Adam: docs/performance.md): the bag's 2^18-row table,
/// the transformer's word-piece table and the static student's trainable
/// table.
pub(super) fn lazy_tables(kind: StudentKind, opts: &DistillOptions) -> bool {
    match kind {
        StudentKind::Bag | StudentKind::Transformer => true,
        StudentKind::Static => !opts.static_frozen,
        StudentKind::Cnn | StudentKind::Mlp => false,
    }
}

/// The transformer student's initial encoder: the pretrained folder of
/// [`DistillOptions::transformer_init`] (whose vocabulary must be the
/// teacher's: the student reads the teacher's token ids), else the
/// teacher's bottom [`DistillOptions::transformer_layers`] layers.
pub(super) fn transformer_encoder(teacher: &SentenceEncoder, opts: &DistillOptions, device: &Device) -> Result<Bert> {
    let Some(dir) = &opts.transformer_init else {
        return teacher.bert().clone().truncated(opts.transformer_layers);
    };
    let init = SentenceEncoder::from_dir(dir, device)?;
    if init.tokenizer().tokens() != teacher.tokenizer().tokens()
        || init.tokenizer().settings() != teacher.tokenizer().settings()
    {
        return Err(LelpError::InvalidParameter {
            name: "transformer_init",
            value: dir.display().to_string(),
            reason: "its tokenizer is not the teacher's (the student reads the teacher's token ids)",
        });
    }
    Ok(init.bert().clone())
}

/// A model file of `student` over the encoder folder `dir`, whose pooled
/// vector is L2-normalised unless the teacher was fine-tuned (its head
/// reads the plain mean).
pub(in crate::deploy) fn encoder_file(
    student: &Mlp,
    dir: &std::path::Path,
    tokens: usize,
    names: Vec<String>,
    opts: &DistillOptions,
) -> Result<ModelFile> {
    let mut file = ModelFile::with_encoder(student, dir, tokens, names)?;
    if opts.teacher_tune.is_some()
        && let Featurizer::SentenceEncoder { normalize, .. } = &mut file.manifest.featurizer
    {
        *normalize = false;
    }
    Ok(file)
}

/// The token students' featurisers.
pub(super) struct Featurizers {
    pub(super) hasher: HashedNgrams,
    /// The encoder's tokenizer (none when no encoder was loaded: a bag
    /// student of supplied outputs).
    pub(super) wordpiece: Option<crate::text::WordPiece>,
    /// The encoder's token limit (its own limit and `--tokens`, whichever is lower).
    pub(super) encoder_tokens: usize,
    /// The transformer student's token limit (its option and the
    /// encoder's positions, whichever is lower).
    pub(super) transformer_tokens: usize,
}

impl Featurizers {
    /// The featurisers of a run: `initial` is the transformer student's
    /// starting encoder, whose positions cap its tokens.
    pub(super) fn new(encoder: Option<&SentenceEncoder>, initial: Option<&Bert>, opts: &DistillOptions) -> Self {
        let positions = initial.map_or(usize::MAX, |b| b.config().max_position_embeddings);
        Self {
            hasher: HashedNgrams::new(opts.bag_buckets),
            wordpiece: encoder.map(|e| e.tokenizer().clone()),
            encoder_tokens: encoder.map_or(opts.max_tokens, SentenceEncoder::max_seq_length),
            transformer_tokens: opts.transformer_tokens.min(positions),
        }
    }

    /// The student's view of the rows of `dense` (whose texts are `texts`).
    pub(super) fn view(
        &self,
        kind: StudentKind,
        dense: &Dataset,
        texts: &[&str],
        opts: &DistillOptions,
    ) -> Result<Dataset> {
        let (labels, c) = (dense.labels().to_vec(), dense.num_classes());
        let tokens: Vec<Vec<u32>> = match kind {
            StudentKind::Mlp => return Ok(dense.clone()),
            StudentKind::Bag => texts.iter().map(|t| self.hasher.encode(t)).collect(),
            StudentKind::Cnn => {
                let wp = self.wordpiece()?;
                texts.iter().map(|t| wp.encode(t, opts.cnn_tokens)).collect()
            }
            StudentKind::Static => {
                let wp = self.wordpiece()?;
                let (max, buckets) = (self.encoder_tokens, opts.static_bigrams);
                texts.iter().map(|t| wp.encode_with_bigrams(t, max, buckets)).collect()
            }
            StudentKind::Transformer => {
                let wp = self.wordpiece()?;
                texts.iter().map(|t| wp.encode(t, self.transformer_tokens)).collect()
            }
        };
        let view = Dataset::from_tokens(tokens, labels, c)?;
        match dense.label_sets() {
            Some(sets) => view.with_label_sets(sets.to_vec()),
            None => Ok(view),
        }
    }

    /// The encoder's tokenizer.
    pub(super) fn wordpiece(&self) -> Result<&crate::text::WordPiece> {
        self.wordpiece.as_ref().ok_or_else(|| {
            invalid(
                "teacher_dir",
                "none".into(),
                "this student needs the encoder's tokenizer",
            )
        })
    }

    /// The model file of a trained student.
    pub(super) fn model_file(
        &self,
        trained: &AnyStudent,
        corpus: &TextCorpus,
        opts: &DistillOptions,
    ) -> Result<ModelFile> {
        let names = corpus.class_names.clone();
        match trained {
            AnyStudent::Bag(s) if opts.student == StudentKind::Static => {
                let featurizer =
                    Featurizer::wordpiece_with_bigrams(self.wordpiece()?, self.encoder_tokens, opts.static_bigrams);
                ModelFile::new(s, featurizer, names)
            }
            AnyStudent::Bag(s) => ModelFile::new(s, Featurizer::hashed(&self.hasher), names),
            AnyStudent::Cnn(s) => ModelFile::new(s, Featurizer::wordpiece(self.wordpiece()?, opts.cnn_tokens), names),
            AnyStudent::Mlp(s) => encoder_file(s, &opts.teacher_dir, self.encoder_tokens, names, opts),
            AnyStudent::Transformer(s) => {
                ModelFile::with_transformer(s, self.wordpiece()?, self.transformer_tokens, names)
            }
        }
    }
}
