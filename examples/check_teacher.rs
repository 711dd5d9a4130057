//! Does lelp run your fine-tuned classifier exactly as `transformers` does?
//! Give it the checkpoint folder, a labelled data file and the outputs
//! `transformers` wrote for the file's rows (JSON lines as for `lelp distill
//! --teacher-outputs`, e.g. from experiments/hf_teacher.py); it prints the
//! largest difference between the two sets of logits and how often the
//! two agree on the class.
//!
//! ```text
//! cargo run --release --features text --example check_teacher -- \
//!     --teacher my-finetuned-bert --data data.jsonl --outputs outputs.jsonl --tokens 32
//! ```

use std::path::PathBuf;

use burn::prelude::*;
use clap::Parser;
use lelp::deploy::{TeacherOutputs, read_labelled};
use lelp::text::HfClassifier;

#[derive(Parser)]
struct Args {
    /// The checkpoint folder (save_pretrained).
    #[arg(long)]
    teacher: PathBuf,
    /// The labelled data whose rows the outputs cover.
    #[arg(long)]
    data: PathBuf,
    /// The outputs transformers wrote, one line a row.
    #[arg(long)]
    outputs: PathBuf,
    /// Tokens a text (the max_length the outputs were made with).
    #[arg(long, default_value_t = 512)]
    tokens: usize,
}

fn main() -> lelp::Result<()> {
    let args = Args::parse();
    let corpus = read_labelled(&args.data)?;
    let outputs = TeacherOutputs::read(&args.outputs, &args.data, &corpus)?;
    let clf = HfClassifier::from_dir(&args.teacher, &Device::default())?.with_max_seq_length(args.tokens);
    // the checkpoint's classes in the data's order
    let order = clf.class_order(&corpus.class_names)?;
    let texts: Vec<&str> = corpus.texts.iter().map(String::as_str).collect();
    let t0 = std::time::Instant::now();
    let ours = clf.logits(&texts, 64)?;
    let secs = t0.elapsed().as_secs_f64();
    let c = order.len();
    let argmax = |z: &[f32]| (0..z.len()).fold(0, |b, k| if z[k] > z[b] { k } else { b });
    let (mut worst, mut agree) = (0.0f32, 0usize);
    for (z, theirs) in ours.chunks(clf.class_names().len()).zip(outputs.logits.chunks(c)) {
        let z: Vec<f32> = order.iter().map(|&j| z[j]).collect();
        worst = z.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
        agree += usize::from(argmax(&z) == argmax(theirs));
    }
    println!(
        "{} rows: largest logit difference {worst:.2e}, same class on {agree} ({:.3}%); {:.0} texts/s",
        texts.len(),
        100.0 * agree as f64 / texts.len() as f64,
        texts.len() as f64 / secs
    );
    Ok(())
}
