//! Text: distil all-MiniLM-L6-v2 (frozen, run in Rust, with an MLP head
//! trained on its sentence embeddings) into a deployable student, and
//! compare the distillation methods.
//!
//! ```text
//! cargo run --release --features text --example text                     # the quickstart: SpamAssassin, bag student
//! cargo run --release --features text --example text -- --corpus tweets-binary --student mlp --transfer 250,1000,4000 --methods all
//! ```
//! Options: `--corpus spam|tweets|tweets-binary|20ng-tech|20ng-6|clinc-parity|clinc-10|FILE.csv|FILE.jsonl[.gz]`
//! (CSV/JSONL: columns text, label, optional fine_label and split; the
//! 20 Newsgroups and CLINC150 tasks read `20ng.jsonl.gz` and
//! `clinc150.jsonl.gz` from `$LELP_TEXT_DATA`, default
//! `../shared/data/text`; a file with a `split` uses its own train and
//! test rows); `--regroup parity|NEW=OLD,OLD;...` (few classes from the
//! corpus's classes, the old class kept as the fine label); `--student
//! bag|cnn|mlp|transformer|static` (bag: hashed word unigrams and bigrams, 2^18 buckets, a mean of
//! `--dim` (8) wide embeddings and a linear head; cnn: a 1-D CNN over the
//! teacher's WordPiece ids, first 64 tokens, 32-wide embeddings, 64
//! channels; mlp: an MLP over the frozen sentence embeddings, `--hidden
//! 8,8`; transformer: a BERT student over the WordPiece ids, mean pooling,
//! fine-tuned with AdamW, from `--init l3|teacher:K|random:K`, `--lr`
//! default 1e-4; static: model2vec's table from the teacher's vocabulary
//! pass, `--static-dim` (256) wide, a normalised mean over the WordPiece
//! ids and a linear head, the table fine-tuned unless `--frozen-table`);
//! `--regress EPOCHS` (an embedding-regression stage before each fit of
//! the bag, the CNN or the static student with a trainable table: its
//! pooled vector regresses the teacher's sentence embedding);
//! `--lazy` (lazy Adam on the token students' tables); `--transfer` sizes (`all` for the
//! whole training split); `--methods default|core|all` (all adds feature KD,
//! k-means, random projections, DKD, RKD and Subclass Distillation, whose
//! teacher head is trained again with `C * S` outputs; core adds feature
//! KD, Subclass Distillation and LELP without the null space); `--teacher-embedding
//! hidden|sentence` (which embedding LELP splits: the MLP head's last
//! hidden layer, with its null space, or the sentence embedding itself,
//! without); `--teacher-head mlp|linear` (the trainable head over the
//! frozen encoder: an MLP 384-256-C, or a linear layer 384-C, whose
//! embedding is the sentence embedding, split in its null space);
//! `--augment N` (N new texts per transfer text: word drops, swaps for
//! neighbours in the teacher's static vocabulary table, n-grams; labelled
//! by the teacher and cached); `--seeds 5`, `--tokens 128`, `--subclasses 4`, `--epochs 10`,
//! `--device`; `--encode-only` (encode and cache the corpus, then stop); `--out FILE.jsonl` appends one line per run (with the
//! alignment of the run's pseudo-subclasses to the fine labels, where
//! both exist); `--align` prints, instead of training students, how well
//! LELP's (null space on and off), k-means' and random projections'
//! pseudo-subclasses line up with the fine labels on the training split,
//! for S = 2, 4, 8, 16 (purity and NMI, lelp::metrics); `--export DIR`
//! writes the sentence embeddings and labels as `.npy` (for the experiment
//! runner's tuned comparison) and stops.
//!
//! The first run fetches the model and the corpus (scripts/fetch-*.sh) and
//! encodes the texts once, cached under ~/.cache/lelp/embeddings.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use clap::{Parser, ValueEnum};
use lelp::data::{Dataset, HashedNgrams, Inputs, TokenBatch};
use lelp::deploy::{StaticTable, Weighting};
use lelp::experiment::{Arch, Network};
use lelp::labeler::KMeansConfig;
use lelp::metrics::{SubclassAlignment, argmax_subclasses, mean_std, subclass_alignment};
use lelp::teacher::{ModuleTeacher, TeacherEncoder, TeacherOutput};
use lelp::text::{
    AugmentConfig, Augmenter, Bert, BertConfig, FineTuneConfig, Neighbours, Regroup, SentenceEncoder, TextCorpus,
    TransformerStudentConfig, default_minilm_dir, default_spam_dir, fine_tune,
};
use lelp::train::{
    BagConfig, DistillConfig, Distiller, DkdConfig, FeatureKdConfig, KdConfig, LelpConfig, LrSchedule, Method, Mlp,
    MlpConfig, OptimizerKind, RkdConfig, StderrProgress, SubclassDistillationConfig, TrainingTargets, accuracy,
    predict_inputs,
};

// the crate's binaries use mimalloc when the feature is on (cold runs,
// docs/performance.md)
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BUCKETS: u32 = 1 << 18;
/// The CNN student's token embedding width.
const CNN_DIM: usize = 32;

type Error = Box<dyn std::error::Error>;

/// The student kinds.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// Hashed word unigrams and bigrams, a mean of --dim wide embeddings, a linear head.
    Bag,
    /// A 1-D CNN over the teacher's WordPiece ids (first 64 tokens).
    Cnn,
    /// An MLP over the frozen sentence embeddings (--hidden).
    Mlp,
    /// A transformer over the teacher's WordPiece ids (first 64 tokens),
    /// fine-tuned end to end with AdamW (--init, --lr).
    Transformer,
    /// model2vec's static student from the teacher: WordPiece ids (first
    /// 128 tokens), the teacher's vocabulary table (PCA to --static-dim,
    /// SIF weights from the training split), a normalised mean, a linear
    /// head; the table fine-tuned with the head unless --frozen-table.
    Static,
}

/// Which methods are compared.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MethodSet {
    /// plain, vanilla KD, LELP (and the oracle with fine labels).
    Default,
    /// Adds feature KD, k-means, random projections, DKD, RKD, Subclass Distillation, LELP without the null space.
    All,
    /// plain, vanilla KD, feature KD, Subclass Distillation, LELP with and without the null space (and the oracle):
    /// the transformer study's set.
    Core,
}

/// Which embedding LELP splits.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TeacherEmbedding {
    /// The MLP head's last hidden layer, with its null space.
    Hidden,
    /// The sentence embedding itself, without.
    Sentence,
}

/// The trainable head over the frozen encoder.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TeacherHead {
    /// An MLP 384-256-C.
    Mlp,
    /// A linear layer 384-C (its embedding is the sentence embedding).
    Linear,
}

/// Distil all-MiniLM-L6-v2 into a small text student and compare the methods.
#[derive(Parser)]
struct Args {
    /// spam, tweets, tweets-binary, 20ng-tech, 20ng-6, clinc-parity, clinc-10, FILE.csv, FILE.jsonl[.gz].
    #[arg(long, default_value = "spam")]
    corpus: String,
    /// Few classes from the corpus's classes: parity or NEW=OLD,OLD;...
    #[arg(long)]
    regroup: Option<String>,
    /// The student.
    #[arg(long, value_enum, default_value = "bag")]
    student: Kind,
    /// Tokens per text for the teacher.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Seeds per transfer size.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Subclasses per class S.
    #[arg(long, default_value_t = 4)]
    subclasses: usize,
    /// The bag student's embedding width.
    #[arg(long, default_value_t = 8)]
    dim: usize,
    /// Student epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// The MLP student's hidden widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,8")]
    hidden: Vec<usize>,
    /// Transfer-set sizes, comma-separated (`all`: the whole training split).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    transfer: Vec<String>,
    /// Which methods.
    #[arg(long, value_enum, default_value = "default")]
    methods: MethodSet,
    /// Which embedding LELP splits.
    #[arg(long, value_enum, default_value = "hidden")]
    teacher_embedding: TeacherEmbedding,
    /// The teacher's head.
    #[arg(long, value_enum, default_value = "mlp")]
    teacher_head: TeacherHead,
    /// Device: flex, ndarray, wgpu, tch (default: $LELP_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Append one JSON line per run to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the pseudo-subclasses' alignment with the fine labels instead of training students.
    #[arg(long)]
    align: bool,
    /// Write the sentence embeddings and labels as .npy to this folder and stop.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Encode (and cache) the corpus, then stop.
    #[arg(long)]
    encode_only: bool,
    /// The transformer student's encoder: l3 (paraphrase-MiniLM-L3-v2,
    /// scripts/fetch-minilm-l3.sh), teacher:K (the teacher's bottom K
    /// layers) or random:K (K random layers of the teacher's sizes).
    #[arg(long, default_value = "l3")]
    init: String,
    /// Learning rate (default: 3e-3 for the MLP, 1e-2 for bag and CNN, 1e-4 with AdamW for the transformer).
    #[arg(long)]
    lr: Option<f64>,
    /// New texts per transfer text (lelp::text::Augmenter: Tang et al.'s
    /// word drops, embedding-space swaps and n-grams, negations kept),
    /// labelled by the teacher and added to the transfer set.
    #[arg(long, default_value_t = 0)]
    augment: usize,
    /// Texts outside the task added to every transfer set, labelled by the
    /// teacher (its argmax for plain training, its outputs for the
    /// others): the first N of tweets-binary's neutral tweets (15,018;
    /// no other corpus has such a pool). 0: none.
    #[arg(long, default_value_t = 0)]
    unlabeled: usize,
    /// Lazy Adam on the bag's, the CNN's and the transformer's token
    /// embeddings (only the rows a batch reads are updated;
    /// `DistillConfig::lazy_tables`); the MLP student ignores it.
    #[arg(long)]
    lazy: bool,
    /// The CNN starts from the teacher's view of each WordPiece token
    /// instead of random embeddings, and fine-tunes it.
    #[arg(long, value_enum)]
    init_table: Option<InitTable>,
    /// The transformer student's learning rate warms up linearly over this
    /// fraction of all steps, then decays linearly to 0 (BERT's schedule;
    /// `LrSchedule::WarmupLinear`); 0 keeps it constant.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// The static student's table width (principal components kept).
    #[arg(long, default_value_t = 256)]
    static_dim: usize,
    /// The static student's table stays as the vocabulary pass made it
    /// (only the head is trained: the CLI's static student).
    #[arg(long)]
    frozen_table: bool,
    /// The static student also reads each pair of adjacent WordPiece
    /// tokens, hashed into this many rows after the vocabulary's
    /// (`WordPiece::encode_with_bigrams`, `lelp::deploy::StaticTable`). 0: none.
    #[arg(long, default_value_t = 0)]
    bigrams: u32,
    /// With --bigrams: the training split's most frequent pairs start from
    /// the teacher's encoding of the pair (the others at zero).
    #[arg(long, default_value_t = 0)]
    encoded_bigrams: usize,
    /// An embedding-regression stage of this many epochs before every fit
    /// of the bag, the CNN or the static student (tokenlearn's idea,
    /// `TrainingTargets::embedding_regression`): the student's pooled
    /// vector, through a learned linear map, regresses the teacher's
    /// sentence embedding on the transfer set (augmented rows included);
    /// then the method's fit starts from there. 0: none.
    #[arg(long, default_value_t = 0)]
    regress: usize,
    /// Fine-tune the teacher's whole encoder with a linear head on the
    /// training split for this many epochs first (`lelp::text::fine_tune`:
    /// AdamW 5e-5, warm-up, dropout; trained once, cached under
    /// ~/.cache/lelp/fine-tuned); its mean-pooled embeddings then replace
    /// the frozen encoder's as the teacher's input. 0: the frozen encoder.
    #[arg(long, default_value_t = 0)]
    teacher_tune: usize,
}

/// The CNN's initial embedding table (`--init-table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum InitTable {
    /// model2vec's static table, as `lelp::deploy::static_table` builds it
    /// over the training split: every token through the teacher, PCA to
    /// the CNN's 32 dims, SIF weights from the split's counts, one scale
    /// so a text's mean vector has norm 1 on average.
    Static,
    /// The same PCA projections without SIF weights, scaled so their root
    /// mean square equals the random initialisation's (`U(-k, k)`,
    /// `k = 1 / sqrt(32)`).
    Pca,
}

impl Args {
    /// Options that do not go together.
    fn check(&self) -> Result<(), Error> {
        if self.regress > 0 && (matches!(self.student, Kind::Mlp | Kind::Transformer) || self.frozen_table) {
            return Err("--regress is for the bag, the CNN and the static student with a trainable table".into());
        }
        if (self.bigrams > 0 || self.encoded_bigrams > 0) && (self.student != Kind::Static || self.bigrams == 0) {
            return Err("--bigrams is for the static student; --encoded-bigrams needs --bigrams".into());
        }
        if self.unlabeled > 0 && (self.corpus != "tweets-binary" || self.teacher_tune > 0) {
            return Err("--unlabeled is tweets-binary's neutral tweets, read by the frozen teacher".into());
        }
        if self.bigrams > 0 && self.frozen_table && self.encoded_bigrams == 0 {
            return Err("--bigrams with --frozen-table needs --encoded-bigrams (zero rows never train)".into());
        }
        Ok(())
    }
    fn student_name(&self) -> &'static str {
        match self.student {
            Kind::Bag => "bag",
            Kind::Cnn => "cnn",
            Kind::Mlp => "mlp",
            Kind::Transformer => "transformer",
            Kind::Static => "static",
        }
    }
    fn linear_head(&self) -> bool {
        self.teacher_head == TeacherHead::Linear
    }
    fn sentence_embedding(&self) -> bool {
        self.teacher_embedding == TeacherEmbedding::Sentence
    }
    fn all_methods(&self) -> bool {
        self.methods == MethodSet::All
    }
    /// Feature KD, Subclass Distillation and LELP without the null space.
    fn core_methods(&self) -> bool {
        self.methods != MethodSet::Default
    }
}

/// The corpus's rows in both views: the teacher's sentence embeddings
/// (`dense`) and the student's tokens (`tokens`: hashed n-grams for the
/// bag, WordPiece ids for the CNN), with the same labels and fine labels.
struct Views {
    corpus: TextCorpus,
    dense: Dataset,
    tokens: Dataset,
    /// Texts outside the task and their sentence embeddings (`[N, d]`):
    /// tweets-binary's neutral tweets, the `--unlabeled` pool.
    pool: (Vec<String>, Vec<f32>),
}

/// The student's token view of a text.
fn featurizer(args: &Args, encoder: &SentenceEncoder) -> impl Fn(&str) -> Vec<u32> + use<> {
    let wordpiece = encoder.tokenizer().clone();
    let (kind, bigrams) = (args.student, args.bigrams);
    move |t: &str| match kind {
        Kind::Cnn | Kind::Transformer => wordpiece.encode(t, 64),
        Kind::Static => wordpiece.encode_with_bigrams(t, 128, bigrams),
        Kind::Bag | Kind::Mlp => HashedNgrams::new(BUCKETS).encode(t),
    }
}

/// Both views of `corpus` from its embeddings `emb` (`[N, d]` row-major);
/// tweets-binary keeps the negative and positive rows (one embedding cache
/// serves both tweet tasks).
fn views(args: &Args, corpus: TextCorpus, emb: Vec<f32>, d: usize, encoder: &SentenceEncoder) -> Result<Views, Error> {
    let (corpus, emb, pool) = if args.corpus == "tweets-binary" {
        let binary = corpus.select_classes(&["negative", "positive"])?;
        let (kept, neutral): (Vec<usize>, Vec<usize>) = (0..corpus.len())
            .partition(|&i| matches!(corpus.class_names[corpus.labels[i]].as_str(), "negative" | "positive"));
        let rows = |idx: &[usize]| -> Vec<f32> {
            idx.iter()
                .flat_map(|&i| emb[i * d..(i + 1) * d].iter().copied())
                .collect()
        };
        let pool = (
            neutral.iter().map(|&i| corpus.texts[i].clone()).collect(),
            rows(&neutral),
        );
        (binary, rows(&kept), pool)
    } else {
        (corpus, emb, (Vec::new(), Vec::new()))
    };
    let c = corpus.class_names.len();
    let mut dense = Dataset::new(emb, d, corpus.labels.clone(), c)?;
    if let Some(f) = &corpus.fine_labels {
        dense = dense.with_fine_labels(f.clone())?;
    }
    let tokens = corpus.tokens(featurizer(args, encoder))?;
    Ok(Views {
        corpus,
        dense,
        tokens,
        pool,
    })
}

/// `--export`: the sentence embeddings and labels as `.npy`, for the
/// experiment runner's tuned comparison (its `{"npy": ...}` source).
fn export(dir: &std::path::Path, v: &Views) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    let dense = &v.dense;
    let lelp::data::Features::Dense { values, width } = dense.features() else {
        return Err("dense features expected".into());
    };
    let as_i64 = |l: &[usize]| l.iter().map(|&x| x as i64).collect::<Vec<_>>();
    lelp::io::npy::write_f32(dir.join("emb.npy"), &[dense.len(), *width], values)?;
    lelp::io::npy::write_i64(dir.join("labels.npy"), &[dense.len()], &as_i64(dense.labels()))?;
    if let Some(f) = dense.fine_labels() {
        lelp::io::npy::write_i64(dir.join("fine_labels.npy"), &[dense.len()], &as_i64(f))?;
    }
    if let Some(splits) = &v.corpus.splits {
        // the file's own split: 0 train, 1 test, 2 any other (CLINC150's val)
        let code = |s: &String| match s.as_str() {
            "train" => 0,
            "test" => 1,
            _ => 2,
        };
        let split: Vec<i64> = splits.iter().map(code).collect();
        lelp::io::npy::write_i64(dir.join("split.npy"), &[dense.len()], &split)?;
    }
    eprintln!("wrote {} rows to {}", dense.len(), dir.display());
    Ok(())
}

/// The teacher: a head trained on the frozen sentence embeddings.
struct Teacher {
    module: ModuleTeacher<Mlp>,
    accuracy: f64,
    name: String,
}

/// The teacher head's hidden widths: none (linear) or one layer of 256.
fn head_hidden(linear: bool) -> Vec<usize> {
    if linear { vec![] } else { vec![256] }
}

/// A head over the sentence embeddings trained on `train` towards
/// `targets` (`outputs` wide).
fn train_head(
    args: &Args,
    train: &Dataset,
    targets: &TrainingTargets,
    outputs: usize,
    device: &Device,
) -> Result<Mlp, Error> {
    let head = MlpConfig::new(train.num_features(), head_hidden(args.linear_head()), outputs)
        .with_seed(7)
        .init(device)?;
    Ok(Distiller::new(DistillConfig::new(30, 1e-3).with_batch_size(64))
        .fit(head, train, targets, None, device)?
        .student)
}

fn train_teacher(args: &Args, train: &Dataset, test: &Dataset, device: &Device) -> Result<Teacher, Error> {
    let (e, c) = (train.num_features(), train.num_classes());
    let name = if args.linear_head() {
        format!("linear head {e}-{c}")
    } else {
        format!("MLP head {e}-256-{c}")
    };
    let head = train_head(args, train, &Method::Plain.prepare(train, None)?, c, device)?;
    Ok(Teacher {
        accuracy: accuracy(&head, test, device)?,
        module: ModuleTeacher::new(head)?,
        name,
    })
}

/// Subclass Distillation's teacher: the same head with `C * S` outputs,
/// trained with the auxiliary loss.
fn sd_teacher(args: &Args, train: &Dataset, test: &Dataset, device: &Device) -> Result<ModuleTeacher<Mlp>, Error> {
    let c = train.num_classes();
    let sd = SubclassDistillationConfig::new(args.subclasses);
    let targets = sd.teacher_targets(c, train.len())?;
    let h = train_head(args, train, &targets, c * args.subclasses, device)?;
    eprintln!(
        "subclass teacher ({} outputs): {:.1}% test accuracy",
        c * args.subclasses,
        100.0 * accuracy(&h, test, device)?
    );
    Ok(ModuleTeacher::new(h)?)
}

/// The compared methods with their table names.
fn methods(args: &Args, seed: u64, fine_labels: bool) -> Vec<(&'static str, Method)> {
    let (s, kd) = (args.subclasses, KdConfig::new());
    let lelp = LelpConfig::new(s)
        .with_seed(seed)
        .with_null_space(!args.sentence_embedding());
    let mut m = vec![("plain", Method::Plain), ("vanilla KD", Method::VanillaKd(kd))];
    if args.core_methods() {
        m.push(("feature KD", Method::FeatureKd(FeatureKdConfig::new())));
    }
    if args.all_methods() {
        m.push(("k-means", Method::KMeans(KMeansConfig::new(s).with_seed(seed))));
        m.push(("random proj.", Method::RandomProjection(lelp)));
        m.push(("DKD", Method::Dkd(DkdConfig::new())));
        m.push(("RKD", Method::Rkd(RkdConfig::new())));
    }
    if args.core_methods() {
        let sd = SubclassDistillationConfig::new(s);
        m.push(("subclass distillation", Method::SubclassDistillation(sd)));
    }
    m.push(("LELP", Method::Lelp(lelp)));
    if args.core_methods() && !args.sentence_embedding() {
        m.push(("LELP, no null space", Method::Lelp(lelp.with_null_space(false))));
    }
    if fine_labels {
        m.push(("oracle", Method::Oracle(kd)));
    }
    m
}

/// The teacher's outputs on `rows`; with `--teacher-embedding sentence`
/// the embedding is the sentence embedding itself.
fn teacher_outputs(args: &Args, teacher: &Teacher, rows: &Dataset, device: &Device) -> Result<TeacherOutput, Error> {
    let outputs = teacher.module.encode(rows, 512, device)?;
    if args.sentence_embedding() {
        return Ok(TeacherOutput::new(
            rows.features_tensor(device)?,
            outputs.logits().clone(),
        )?);
    }
    Ok(outputs)
}

/// The training split and test split of both views, and the study's
/// state.
struct Study<'a> {
    args: &'a Args,
    train: (Dataset, Dataset),
    test: (Dataset, Dataset),
    teacher: Teacher,
    sd_teacher: Option<ModuleTeacher<Mlp>>,
    /// The transformer student's initial encoder.
    init: Option<Bert>,
    /// The CNN's initial embedding table (`--init-table`).
    table: Option<Vec<f32>>,
    /// The teacher's encoder and the training split's texts (for
    /// `--augment`), and the neighbours its swaps draw from.
    encoder: &'a SentenceEncoder,
    train_texts: Vec<String>,
    neighbours: Neighbours,
    /// `--unlabeled` rows in both views, labelled by the teacher.
    pool: Option<(Dataset, Dataset)>,
    device: &'a Device,
    out: Option<std::fs::File>,
    started: Instant,
}

impl Study<'_> {
    /// The student's architecture for `outputs`... (the bag, the CNN over
    /// WordPiece ids, or the MLP over sentence embeddings).
    fn arch(&self, vocab: usize) -> Arch {
        match self.args.student {
            Kind::Bag => Arch::Bag {
                buckets: BUCKETS as usize,
                dim: self.args.dim,
            },
            Kind::Cnn => Arch::TextCnn {
                vocab,
                dim: CNN_DIM,
                channels: 64,
            },
            Kind::Static => Arch::Bag {
                buckets: vocab + self.args.bigrams as usize,
                dim: self.args.static_dim,
            },
            Kind::Mlp | Kind::Transformer => Arch::Mlp {
                hidden: self.args.hidden.clone(),
            },
        }
    }

    /// A token student for `outputs`, seeded: the static student (a
    /// normalised mean over the vocabulary table, frozen or not), else
    /// `arch` with the CNN's initial table when there is one.
    fn build(&self, arch: &Arch, transfer: &Dataset, outputs: usize, seed: u64) -> Result<Network, Error> {
        let table = self.table.as_deref();
        match (self.args.student, arch, table) {
            (Kind::Static, Arch::Bag { buckets, dim }, Some(t)) => Ok(Network::Bag(
                BagConfig::new(*buckets, outputs)
                    .with_dim(*dim)
                    .with_normalize(true)
                    .with_seed(seed)
                    .init_with_table(t.to_vec(), self.args.frozen_table, self.device)?,
            )),
            _ => Ok(arch.build_with_table(transfer, outputs, seed, table, self.device)?),
        }
    }

    /// `--regress`: the embedding-regression stage on `data` (the transfer
    /// rows' tokens and sentence embeddings), `net`'s pooled vector towards
    /// the teacher's sentence embedding; `s`: the method's subclasses.
    fn regress(
        &self,
        net: Network,
        data: (&Dataset, &Dataset),
        s: usize,
        config: &DistillConfig,
    ) -> Result<Network, Error> {
        let (tokens, dense) = data;
        let t0 = Instant::now();
        let h = dense.features_tensor(self.device)?;
        let targets = TrainingTargets::embedding_regression(dense.num_classes(), s, h)?;
        let config = DistillConfig {
            epochs: self.args.regress,
            ..config.clone()
        };
        let net = net.fit(tokens, &targets, &config, self.device)?;
        eprintln!(
            "embedding regression: {} epochs over {} rows ({:.0}s)",
            self.args.regress,
            tokens.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(net)
    }

    /// Every method's test accuracy on transfer sets of `size` rows, per
    /// seed; the last student trained.
    fn transfer_size(&mut self, size: usize, vocab: usize) -> Result<(Vec<Vec<f64>>, Option<Network>), Error> {
        let started = Instant::now();
        let args = self.args;
        let fine = self.train.0.fine_labels().is_some();
        let mut scores = vec![Vec::new(); methods(args, 0, fine).len()];
        let mut last = None;
        for seed in 0..args.seeds {
            let rows = self.train.0.sample_indices(size.min(self.train.0.len()), seed)?;
            let mut transfer = (self.train.0.subset(&rows)?, self.train.1.subset(&rows)?);
            if args.augment > 0 {
                transfer = self.augmented(&rows, transfer, seed)?;
            }
            if let Some((dense, tokens)) = &self.pool {
                transfer = (transfer.0.concat(dense)?, transfer.1.concat(tokens)?);
            }
            let outputs = teacher_outputs(args, &self.teacher, &transfer.0, self.device)?;
            let sd_outputs = match &self.sd_teacher {
                Some(t) => Some(t.encode(&transfer.0, 512, self.device)?),
                None => None,
            };
            for (i, (name, m)) in methods(args, seed, fine).iter().enumerate() {
                let outputs = match (m, &sd_outputs) {
                    (Method::SubclassDistillation(_), Some(o)) => o,
                    _ => &outputs,
                };
                let (acc, net) = self.one(m, name, &transfer, outputs, (rows.len(), seed), vocab)?;
                scores[i].push(acc);
                last = net.or(last);
            }
            eprintln!(
                "transfer {size}, seed {seed} done ({:.0}s)",
                self.started.elapsed().as_secs_f64()
            );
        }
        let runs = (args.seeds as usize * scores.len()).max(1);
        eprintln!(
            "transfer {size}: {:.1}s per student (training and scoring)",
            started.elapsed().as_secs_f64() / runs as f64
        );
        Ok((scores, last))
    }

    /// One student: trained with `method` on `transfer`, scored, recorded.
    fn one(
        &mut self,
        method: &Method,
        name: &str,
        transfer: &(Dataset, Dataset),
        outputs: &TeacherOutput,
        (labelled, seed): (usize, u64),
        vocab: usize,
    ) -> Result<(f64, Option<Network>), Error> {
        let args = self.args;
        let mlp = args.student == Kind::Mlp;
        let transfers = transfer;
        let (transfer, test) = if mlp {
            (&transfer.0, &self.test.0)
        } else {
            (&transfer.1, &self.test.1)
        };
        let targets = method.prepare(transfer, Some(outputs))?;
        let aligned = alignment(&targets, transfer)?;
        let (acc, net) = match &self.init {
            Some(bert) => (self.transformer(bert, &targets, transfer, test, seed)?, None),
            None => {
                let lr = args.lr.unwrap_or(if mlp { 3e-3 } else { 1e-2 });
                let config = DistillConfig::new(args.epochs, lr)
                    .with_batch_size(32)
                    .with_lazy_tables(args.lazy)
                    .with_seed(seed);
                let mut net = self.build(&self.arch(vocab), transfer, targets.outputs(), seed)?;
                if args.regress > 0 {
                    net = self.regress(net, (transfer, &transfers.0), targets.subclasses(), &config)?;
                }
                let net = net.fit(transfer, &targets, &config, self.device)?;
                (net.accuracy(test, self.device)?, Some(net))
            }
        };
        if let Some(f) = self.out.as_mut() {
            let row = serde_json::json!({
                "corpus": args.corpus, "student": args.student_name(),
                "teacher_embedding": if args.sentence_embedding() || args.linear_head() { "sentence" } else { "hidden" },
                "teacher_head": if args.linear_head() { "linear" } else { "mlp" }, "teacher_tune": args.teacher_tune,
                "method": name, "s": args.subclasses, "transfer_size": labelled, "rows": transfer.len(),
                "augment": args.augment, "unlabeled": args.unlabeled, "epochs": args.epochs, "seed": seed, "lazy": args.lazy && args.student != Kind::Mlp, "encoder_dropout": (args.student == Kind::Transformer).then_some(0.1), "init_table": args.init_table.map(|t| format!("{t:?}").to_lowercase()), "static_dim": (args.student == Kind::Static).then_some(args.static_dim), "frozen_table": (args.student == Kind::Static).then_some(args.frozen_table), "bigrams": (args.bigrams > 0).then_some(args.bigrams), "encoded_bigrams": (args.bigrams > 0).then_some(args.encoded_bigrams), "regress": args.regress, "warmup": (args.student == Kind::Transformer).then_some(args.warmup),
                "accuracy": acc, "teacher_accuracy": self.teacher.accuracy, "tokens": args.tokens,
                "hidden": if mlp { Some(&args.hidden) } else { None },
                "purity": aligned.as_ref().map(|a| a.purity), "nmi": aligned.as_ref().map(|a| a.nmi),
                "majority": aligned.as_ref().map(|a| a.majority),
            });
            writeln!(f, "{row}")?;
        }
        Ok((acc, net))
    }

    /// `transfer` (the training rows `rows`) and `--augment` new texts per
    /// text, labelled by the teacher (its argmax; the oracle's fine label
    /// is the source's). The new texts' embeddings are cached like the
    /// corpus's, so a second run reads them.
    fn augmented(&self, rows: &[usize], transfer: (Dataset, Dataset), seed: u64) -> Result<(Dataset, Dataset), Error> {
        let texts: Vec<&str> = rows.iter().map(|&i| self.train_texts[i].as_str()).collect();
        let augmenter = Augmenter::new(AugmentConfig::new(self.args.augment).with_seed(seed))?
            .with_neighbours(self.neighbours.clone());
        let featurize = featurizer(self.args, self.encoder);
        // a copy the student's featurizer makes nothing of (punctuation
        // alone, for the bag) is left out
        let new: Vec<(usize, String, Vec<u32>)> = augmenter
            .augment(&texts)
            .into_iter()
            .map(|a| {
                let ids = featurize(&a.text);
                (a.source, a.text, ids)
            })
            .filter(|(_, _, ids)| !ids.is_empty())
            .collect();
        let new_texts: Vec<&str> = new.iter().map(|(_, t, _)| t.as_str()).collect();
        let t0 = Instant::now();
        let emb = self.encoder.encode_cached(
            &new_texts,
            64,
            self.device,
            lelp::text::default_cache_dir().join("embeddings"),
            |_, _| {},
        )?;
        let emb: Vec<f32> = emb.into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
        let (d, c) = (self.encoder.embedding_dim(), transfer.0.num_classes());
        let sources: Vec<usize> = new.iter().map(|(s, _, _)| *s).collect();
        let provisional = Dataset::new(
            emb.clone(),
            d,
            sources.iter().map(|&s| transfer.0.labels()[s]).collect(),
            c,
        )?;
        let labels = self
            .teacher
            .module
            .encode(&provisional, 512, self.device)?
            .predictions()?;
        let mut dense = Dataset::new(emb, d, labels.clone(), c)?;
        let mut tokens = Dataset::from_tokens(new.into_iter().map(|(_, _, ids)| ids).collect(), labels, c)?;
        if let Some(f) = transfer.0.fine_labels() {
            let fine: Vec<usize> = sources.iter().map(|&s| f[s]).collect();
            dense = dense.with_fine_labels(fine.clone())?;
            tokens = tokens.with_fine_labels(fine)?;
        }
        eprintln!(
            "augmented {} texts with {} new ones ({:.0}s to encode or read them)",
            texts.len(),
            dense.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok((transfer.0.concat(&dense)?, transfer.1.concat(&tokens)?))
    }

    /// A transformer student from `bert`, fine-tuned towards `targets`
    /// (AdamW, weight decay 0.01, per-parameter gradient clipping at 1,
    /// batch 32), and its test accuracy.
    fn transformer(
        &self,
        bert: &Bert,
        targets: &TrainingTargets,
        transfer: &Dataset,
        test: &Dataset,
        seed: u64,
    ) -> Result<f64, Error> {
        let args = self.args;
        let student = TransformerStudentConfig::new(targets.outputs())
            .with_seed(seed)
            .init(bert.clone(), self.device)?;
        let config = DistillConfig::new(args.epochs, args.lr.unwrap_or(1e-4))
            .with_batch_size(32)
            .with_optimizer(OptimizerKind::AdamW)
            .with_weight_decay(0.01)
            .with_grad_clip(Some(1.0))
            .with_schedule(if args.warmup > 0.0 {
                LrSchedule::WarmupLinear { warmup: args.warmup }
            } else {
                LrSchedule::Constant
            })
            .with_lazy_tables(args.lazy)
            .with_seed(seed);
        let trained = Distiller::new(config).fit(student, transfer, targets, None, self.device)?;
        Ok(accuracy(&trained.student, test, self.device)?)
    }
}

/// The transformer student's initial encoder from `--init`: `l3`,
/// `teacher:K` or `random:K`.
fn initial_encoder(spec: &str, teacher: &SentenceEncoder, device: &Device) -> Result<Bert, Error> {
    let layers = |k: &str| -> Result<usize, Error> { Ok(k.parse()?) };
    match spec.split_once(':') {
        None if spec == "l3" => {
            let dir = lelp::text::default_cache_dir().join("paraphrase-MiniLM-L3-v2");
            fetch("fetch-minilm-l3.sh", dir.join("model.safetensors").exists())?;
            Ok(SentenceEncoder::from_dir(dir, device)?.bert().clone())
        }
        Some(("teacher", k)) => Ok(teacher.bert().clone().truncated(layers(k)?)?),
        Some(("random", k)) => {
            let config = BertConfig::read(default_minilm_dir().join("config.json"))?;
            let config = BertConfig {
                num_hidden_layers: layers(k)?,
                ..config
            };
            Ok(Bert::random(&config, 0, device)?)
        }
        _ => Err(format!("unknown --init '{spec}' (l3, teacher:K, random:K)").into()),
    }
}

/// The student a user would deploy: size and speed.
fn report_student(
    net: &Network,
    corpus: &TextCorpus,
    featurize: &dyn Fn(&str) -> Vec<u32>,
    device: &Device,
) -> Result<(), Error> {
    let sample: Vec<&str> = corpus.texts.iter().map(String::as_str).take(512).collect();
    let c = corpus.class_names.len();
    let path = std::env::temp_dir().join(format!("lelp-text-student-{}.bpk", std::process::id()));
    net.save_file(&path)?;
    let bytes = std::fs::metadata(&path)?.len();
    let _ = std::fs::remove_file(&path);
    let speed = match net {
        Network::Bag(s) => Some(rates(s, &sample, featurize, c, device)?),
        Network::TextCnn(s) => Some(rates(s, &sample, featurize, c, device)?),
        // the MLP needs the encoder's embeddings: its rate is the encoder's
        _ => None,
    };
    println!(
        "\nstudent: {} parameters, {:.2} MB on disk{}",
        net.num_params(),
        bytes as f64 / 1e6,
        match speed {
            None => " (over the encoder's embeddings: as fast as MiniLM itself)".to_string(),
            Some((b, one)) => format!(", {b:.0} texts/s in a batch of 512, {one:.0} texts/s one at a time"),
        }
    );
    Ok(())
}

/// The corpus, its embeddings (encoded once, cached) and the seconds the
/// encoding took.
fn encode(args: &Args, encoder: &SentenceEncoder, device: &Device) -> Result<(TextCorpus, Vec<f32>, f64), Error> {
    let mut corpus = load_corpus(&args.corpus)?;
    if let Some(spec) = &args.regroup {
        corpus = corpus.regroup(&spec.parse()?)?;
    }
    let texts: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let mut last = Instant::now();
    let emb = encoder.encode_cached(
        &texts,
        64,
        device,
        lelp::text::default_cache_dir().join("embeddings"),
        |done, total| {
            if last.elapsed().as_secs_f64() > 5.0 || done == total {
                eprintln!(
                    "encoding {done}/{total} texts ({:.1}/s)",
                    done as f64 / t0.elapsed().as_secs_f64()
                );
                last = Instant::now();
            }
        },
    )?;
    let secs = t0.elapsed().as_secs_f64();
    let emb: Vec<f32> = emb.into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
    Ok((corpus, emb, secs))
}

/// `--teacher-tune`: the teacher's encoder fine-tuned on the training rows
/// (or read from an earlier run), and `v` with its mean-pooled embeddings
/// as the dense view.
fn fine_tuned_views(
    args: &Args,
    v: Views,
    encoder: &SentenceEncoder,
    train_idx: &[usize],
    device: &Device,
) -> Result<Views, Error> {
    let texts: Vec<&str> = train_idx.iter().map(|&i| v.corpus.texts[i].as_str()).collect();
    let labels: Vec<usize> = train_idx.iter().map(|&i| v.corpus.labels[i]).collect();
    let c = v.corpus.class_names.len();
    let config = FineTuneConfig::default()
        .with_epochs(args.teacher_tune)
        .with_max_tokens(args.tokens);
    let t0 = Instant::now();
    let cache = lelp::text::default_cache_dir().join("fine-tuned");
    let tuned = fine_tune(
        encoder,
        &default_minilm_dir(),
        &texts,
        &labels,
        c,
        &config,
        &cache,
        device,
        StderrProgress,
    )?;
    eprintln!(
        "fine-tuned teacher {} ({:.0}s): {}",
        if tuned.cached { "read" } else { "trained" },
        t0.elapsed().as_secs_f64(),
        tuned.dir.display()
    );
    let all: Vec<&str> = v.corpus.texts.iter().map(String::as_str).collect();
    let emb = tuned.encoder.encode_cached(
        &all,
        64,
        device,
        lelp::text::default_cache_dir().join("embeddings"),
        |_, _| {},
    )?;
    let d = tuned.encoder.embedding_dim();
    let mut dense = Dataset::new(
        emb.into_data().try_to_vec().map_err(|e| format!("{e:?}"))?,
        d,
        v.corpus.labels.clone(),
        c,
    )?;
    if let Some(f) = &v.corpus.fine_labels {
        dense = dense.with_fine_labels(f.clone())?;
    }
    Ok(Views { dense, ..v })
}

/// The file's own split where it has one, else 30% of the rows for test.
fn train_test(v: &Views) -> Result<(Vec<usize>, Vec<usize>), Error> {
    Ok(if v.corpus.splits.is_some() {
        (v.corpus.split_rows("train")?, v.corpus.split_rows("test")?)
    } else {
        v.dense.split_indices(0.3, 0)?
    })
}

fn main() -> Result<(), Error> {
    // glibc's malloc keeps large freed blocks (libtorch's tensors come
    // from it: a transformer student's step on tch at 32 tokens takes 0.8x
    // the time; docs/performance.md)
    lelp::device::keep_freed_memory();
    let args = Args::parse();
    args.check()?;
    let (device, device_name) = lelp::device::from_flag_or_env(args.device.as_deref())?;
    let started = Instant::now();
    fetch(
        "fetch-minilm.sh",
        default_minilm_dir().join("model.safetensors").exists(),
    )?;
    let encoder = SentenceEncoder::from_dir(default_minilm_dir(), &device)?.with_max_seq_length(args.tokens);
    let (corpus, emb, encode_secs) = encode(&args, &encoder, &device)?;
    if args.encode_only {
        return Ok(());
    }
    let v = views(&args, corpus, emb, encoder.embedding_dim(), &encoder)?;
    if let Some(dir) = &args.export {
        return export(dir, &v);
    }
    let (train_idx, test_idx) = train_test(&v)?;
    let v = if args.teacher_tune > 0 {
        fine_tuned_views(&args, v, &encoder, &train_idx, &device)?
    } else {
        v
    };
    let train = (v.dense.subset(&train_idx)?, v.tokens.subset(&train_idx)?);
    let test = (v.dense.subset(&test_idx)?, v.tokens.subset(&test_idx)?);
    let sizes = transfer_sizes(&args, train_idx.len())?;
    let n = v.corpus.len();
    header(
        &args,
        &v.corpus,
        &device_name,
        (train_idx.len(), test_idx.len()),
        &sizes,
    );
    let teacher = train_teacher(&args, &train.0, &test.0, &device)?;
    let mut out = match &args.out {
        Some(p) => Some(std::fs::OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    if args.align {
        println!(
            "teacher: {:.1}% test accuracy; pseudo-subclasses of the training split ({} rows) against the fine labels:",
            100.0 * teacher.accuracy,
            train.0.len()
        );
        let outputs = teacher_outputs(&args, &teacher, &train.0, &device)?;
        return alignment_study(&train.0, &outputs, !args.sentence_embedding(), &args.corpus, &mut out);
    }
    let sd = match args.core_methods() {
        true => Some(sd_teacher(&args, &train.0, &test.0, &device)?),
        false => None,
    };
    let c = v.corpus.class_names.len();
    let pool = unlabeled_pool(&args, &v.pool, &teacher, &encoder, c, &device)?;
    let mut study = Study {
        args: &args,
        train,
        test,
        teacher,
        sd_teacher: sd,
        init: match args.student {
            Kind::Transformer => Some(initial_encoder(&args.init, &encoder, &device)?),
            _ => None,
        },
        table: student_table(&args, &encoder, &train_idx, &v.corpus, &device)?,
        neighbours: match args.augment {
            0 => Neighbours::default(),
            _ => swap_neighbours(&encoder, &train_idx, &v.corpus, &device)?,
        },
        pool,
        encoder: &encoder,
        train_texts: train_idx.iter().map(|&i| v.corpus.texts[i].clone()).collect(),
        device: &device,
        out,
        started,
    };
    let names: Vec<&str> = methods(&args, 0, v.corpus.fine_labels.is_some())
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut last_student = None;
    for &size in &sizes {
        let (scores, last) = study.transfer_size(size, encoder.tokenizer().vocab_size())?;
        last_student = last.or(last_student);
        print_table(size, &study.teacher, &names, &scores);
    }
    if let Some(net) = last_student {
        report_student(&net, &v.corpus, &featurizer(&args, &encoder), &device)?;
    }
    summary(&args, &study.teacher, &encoder, encode_secs, n, started);
    Ok(())
}

/// `--unlabeled`: the pool's first N texts in both views, labelled by the
/// teacher's argmax (its outputs are taken per transfer set, as for every
/// row).
fn unlabeled_pool(
    args: &Args,
    pool: &(Vec<String>, Vec<f32>),
    teacher: &Teacher,
    encoder: &SentenceEncoder,
    c: usize,
    device: &Device,
) -> Result<Option<(Dataset, Dataset)>, Error> {
    let (d, n) = (encoder.embedding_dim(), args.unlabeled.min(pool.0.len()));
    if args.unlabeled == 0 {
        return Ok(None);
    }
    if n == 0 {
        return Err(format!("--unlabeled: {} has no pool of texts outside the task", args.corpus).into());
    }
    let emb = pool.1[..n * d].to_vec();
    let provisional = Dataset::new(emb.clone(), d, vec![0; n], c)?;
    let labels = teacher.module.encode(&provisional, 512, device)?.predictions()?;
    let featurize = featurizer(args, encoder);
    let tokens = Dataset::from_tokens(pool.0[..n].iter().map(|t| featurize(t)).collect(), labels.clone(), c)?;
    eprintln!("{n} unlabeled texts, labelled by the teacher");
    Ok(Some((Dataset::new(emb, d, labels, c)?, tokens)))
}

/// `--transfer` as row counts (`all`: the whole training split of `train` rows).
fn transfer_sizes(args: &Args, train: usize) -> Result<Vec<usize>, Error> {
    let size = |s: &str| -> Result<usize, Error> {
        match s.trim() {
            "all" => Ok(train),
            s => Ok(s.parse()?),
        }
    };
    args.transfer.iter().map(|s| size(s)).collect()
}

/// The run's first line: the corpus, its split, and what is trained.
fn header(args: &Args, corpus: &TextCorpus, device_name: &str, (train, test): (usize, usize), sizes: &[usize]) {
    let c = corpus.class_names.len();
    let fine = if corpus.fine_labels.is_some() {
        ", fine labels"
    } else {
        ""
    };
    let what = if args.align {
        String::new() // no students are trained: no transfer sizes, seeds or student
    } else {
        format!(
            ", transfer sizes {sizes:?}, {} seeds, {} student",
            args.seeds,
            args.student_name()
        )
    };
    println!(
        "{} on {device_name}: {} texts ({train} train, {test} test, {c} classes{fine}), MiniLM at {} tokens{what}",
        args.corpus,
        corpus.len(),
        args.tokens
    );
}

/// The token student's initial table: the static student's, or the CNN's
/// with `--init-table`; none for the others.
fn student_table(
    args: &Args,
    encoder: &SentenceEncoder,
    train_idx: &[usize],
    corpus: &TextCorpus,
    device: &Device,
) -> Result<Option<Vec<f32>>, Error> {
    Ok(match (args.init_table, args.student) {
        (None, Kind::Static) => Some(cnn_table(
            InitTable::Static,
            StaticTable::new(args.static_dim).with_bigrams(args.bigrams, args.encoded_bigrams),
            encoder,
            train_idx,
            corpus,
            device,
        )?),
        (None, _) => None,
        (Some(kind), Kind::Cnn) => Some(cnn_table(
            kind,
            StaticTable::new(CNN_DIM),
            encoder,
            train_idx,
            corpus,
            device,
        )?),
        (Some(_), _) => return Err("--init-table is for the CNN student (--student cnn)".into()),
    })
}

/// The CNN's initial table (`--init-table`) or the static student's, from
/// the teacher's vocabulary pass at `dims` wide.
fn cnn_table(
    kind: InitTable,
    spec: StaticTable,
    encoder: &SentenceEncoder,
    train_idx: &[usize],
    corpus: &TextCorpus,
    device: &Device,
) -> Result<Vec<f32>, Error> {
    let (t0, dims) = (Instant::now(), spec.dims);
    let texts: Vec<&str> = match kind {
        InitTable::Static => train_idx.iter().map(|&i| corpus.texts[i].as_str()).collect(),
        // no corpus: no norm scale, and no weights (Weighting::None)
        InitTable::Pca => Vec::new(),
    };
    let spec = match kind {
        InitTable::Static => spec,
        InitTable::Pca => spec.with_weighting(Weighting::None),
    };
    let mut table = spec.build(encoder, &texts, device)?;
    if kind == InitTable::Pca {
        let rms = (table.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / table.len() as f64).sqrt();
        // U(-k, k) has root mean square k / sqrt(3)
        let target = 1.0 / (dims as f64).sqrt() / 3f64.sqrt();
        let scale = if rms > 0.0 { target / rms } else { 1.0 };
        table.iter_mut().for_each(|x| *x = (f64::from(*x) * scale) as f32);
    }
    eprintln!("static table, {dims} wide ({:.0}s)", t0.elapsed().as_secs_f64());
    Ok(table)
}

/// The 15 nearest neighbours, in the teacher's static vocabulary table
/// (model2vec's vocabulary pass, 256 dims), of the training texts' words.
fn swap_neighbours(
    encoder: &SentenceEncoder,
    train_idx: &[usize],
    corpus: &TextCorpus,
    device: &Device,
) -> Result<Neighbours, Error> {
    let t0 = Instant::now();
    let texts: Vec<&str> = train_idx.iter().map(|&i| corpus.texts[i].as_str()).collect();
    let table = lelp::deploy::static_table(encoder, &texts, 256, device)?;
    let words = texts.iter().flat_map(|t| t.split_whitespace());
    let n = Neighbours::from_table(encoder.tokenizer(), &table, 256, words, 15)?;
    eprintln!(
        "swap neighbours for {} words ({:.0}s: the vocabulary pass and the search)",
        n.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(n)
}

/// The transfer size's table: the teacher, then each method's mean ± std.
fn print_table(size: usize, teacher: &Teacher, names: &[&str], scores: &[Vec<f64>]) {
    println!("\ntransfer set {size}:\n\n| method | test accuracy (%) |\n|---|---|");
    println!(
        "| teacher (MiniLM + {}, full train split) | {:.1} |",
        teacher.name,
        100.0 * teacher.accuracy
    );
    for (name, sc) in names.iter().zip(scores) {
        let (m, s) = mean_std(sc);
        println!("| {name} | {:.1} ± {:.1} |", 100.0 * m, 100.0 * s);
    }
}

fn summary(args: &Args, teacher: &Teacher, encoder: &SentenceEncoder, encode_secs: f64, n: usize, started: Instant) {
    let encoding = if encode_secs < 1.0 {
        "read from the cache".to_string()
    } else {
        format!("encoded in {encode_secs:.0}s, {:.1} texts/s", n as f64 / encode_secs)
    };
    println!(
        "teacher: MiniLM-L6 ({} parameters) + {}; embeddings {encoding}",
        encoder.bert().num_params(),
        teacher.name
    );
    println!(
        "{} epochs, {}, batch 32, S = {}, beta = 0.3, tau = 2, LELP on the {} embedding; {:.0}s in all",
        args.epochs,
        if args.student == Kind::Transformer {
            if args.warmup > 0.0 {
                "AdamW (weight decay 0.01, clipping 1, linear warm-up and decay)"
            } else {
                "AdamW (weight decay 0.01, clipping 1)"
            }
        } else {
            "Adam"
        },
        args.subclasses,
        if args.sentence_embedding() || args.linear_head() {
            "sentence"
        } else {
            "teacher's hidden"
        },
        started.elapsed().as_secs_f64()
    );
}

fn fetch(script: &str, present: bool) -> Result<(), Error> {
    if !present {
        eprintln!("fetching with scripts/{script} ...");
        let ok = std::process::Command::new("bash")
            .arg(format!("scripts/{script}"))
            .status()?
            .success();
        if !ok {
            return Err(format!("scripts/{script} failed").into());
        }
    }
    Ok(())
}

/// A set of ../shared/data/text (or `$LELP_TEXT_DATA`), with a clear
/// message when it is absent.
fn text_set(file: &str) -> Result<TextCorpus, Error> {
    let dir = std::env::var("LELP_TEXT_DATA").unwrap_or_else(|_| "../shared/data/text".into());
    let path = std::path::Path::new(&dir).join(file);
    if !path.exists() {
        return Err(format!(
            "{} not found: point LELP_TEXT_DATA at the folder holding {file} (20 Newsgroups and CLINC150 as JSON lines with text, label, fine_label, split)",
            path.display()
        )
        .into());
    }
    Ok(TextCorpus::from_jsonl(path)?)
}

fn load_corpus(name: &str) -> Result<TextCorpus, Error> {
    Ok(match name {
        // 20 Newsgroups: {comp, sci} (9 newsgroups) against the rest (11),
        // or its 6 groups; the newsgroup is the fine label
        "20ng-tech" => text_set("20ng.jsonl.gz")?.regroup(&"tech=comp,sci;rest=misc,politics,rec,religion".parse()?)?,
        "20ng-6" => text_set("20ng.jsonl.gz")?,
        // CLINC150: domains by parity of their sorted order (5 domains, 75
        // intents a class), or the 10 domains; the intent is the fine label
        "clinc-parity" => text_set("clinc150.jsonl.gz")?.regroup(&Regroup::Parity)?,
        "clinc-10" => text_set("clinc150.jsonl.gz")?,
        "spam" => {
            fetch("fetch-spam.sh", default_spam_dir().join("spam-2").exists())?;
            TextCorpus::spam_assassin(default_spam_dir())?
        }
        "tweets" | "tweets-binary" => {
            let dir = std::env::var("LELP_TWEETS_DIR")
                .map(Into::into)
                .unwrap_or_else(|_| lelp::text::default_cache_dir().join("crowdflower"));
            fetch("fetch-tweets.sh", dir.join("tweets.csv").exists())?;
            // tweets-binary drops "neutral" after encoding (one cache for both)
            TextCorpus::from_csv(dir.join("tweets.csv"))?
        }
        f if f.ends_with(".jsonl") || f.ends_with(".jsonl.gz") => TextCorpus::from_jsonl(f)?,
        f => TextCorpus::from_csv(f)?,
    })
}

/// Texts per second of a token student, featurising included: in one
/// batch, and one text at a time.
fn rates<S: lelp::train::Student>(
    s: &S,
    sample: &[&str],
    featurize: &dyn Fn(&str) -> Vec<u32>,
    c: usize,
    device: &Device,
) -> Result<(f64, f64), Error> {
    let t1 = Instant::now();
    let seqs: Vec<Vec<u32>> = sample.iter().map(|t| featurize(t)).collect();
    let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
    predict_inputs(
        s,
        Inputs::Tokens(TokenBatch::from_sequences(&refs, usize::MAX, device)?),
        c,
    )?;
    let batch = sample.len() as f64 / t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    for t in sample.iter().take(100) {
        let ids = featurize(t);
        predict_inputs(
            s,
            Inputs::Tokens(TokenBatch::from_sequences(&[&ids], usize::MAX, device)?),
            c,
        )?;
    }
    Ok((batch, 100.0 / t2.elapsed().as_secs_f64()))
}

/// How well the targets' argmax pseudo-subclasses line up with the rows'
/// fine labels (`None` without soft targets of `S > 1` or fine labels).
fn alignment(targets: &TrainingTargets, data: &Dataset) -> Result<Option<SubclassAlignment>, Error> {
    let (Some(soft), Some(fine)) = (targets.soft_targets(), data.fine_labels()) else {
        return Ok(None);
    };
    if soft.subclasses() < 2 {
        return Ok(None);
    }
    let sub = argmax_subclasses(soft, data.labels())?;
    Ok(Some(subclass_alignment(&sub, data.labels(), fine)?))
}

/// `--align`: the pseudo-subclasses of each subclass method on the whole
/// training split against its fine labels, for several S, without
/// training a student. Prints a table; with `out`, one JSON line each.
fn alignment_study(
    train: &Dataset,
    outputs: &TeacherOutput,
    null_space_ok: bool,
    corpus_name: &str,
    out: &mut Option<std::fs::File>,
) -> Result<(), Error> {
    println!("\n| method | S | purity | NMI | majority share |\n|---|---|---|---|---|");
    for s in [2, 4, 8, 16] {
        let lelp = LelpConfig::new(s).with_seed(0);
        let mut methods = vec![
            ("LELP, no null space", Method::Lelp(lelp.with_null_space(false))),
            ("k-means", Method::KMeans(KMeansConfig::new(s).with_seed(0))),
            (
                "random proj., no null space",
                Method::RandomProjection(lelp.with_null_space(false)),
            ),
        ];
        if null_space_ok {
            methods.insert(0, ("LELP", Method::Lelp(lelp)));
            methods.push(("random proj.", Method::RandomProjection(lelp)));
        }
        for (name, m) in methods {
            let targets = m.prepare(train, Some(outputs))?;
            let a = alignment(&targets, train)?.ok_or("no fine labels to align with")?;
            println!("| {name} | {s} | {:.3} | {:.3} | {:.3} |", a.purity, a.nmi, a.majority);
            if let Some(f) = out.as_mut() {
                let row = serde_json::json!({
                    "corpus": corpus_name, "kind": "alignment", "method": name, "s": s,
                    "rows": train.len(), "purity": a.purity, "nmi": a.nmi, "majority": a.majority,
                    "per_class": a.per_class,
                });
                writeln!(f, "{row}")?;
            }
        }
    }
    Ok(())
}
