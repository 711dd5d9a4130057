//! `lelp distill`'s summary: the data, the teacher, the method or the
//! students tried, the student's scores and fidelity, its speed, the
//! cascade and the file written.

use std::path::Path;
use std::time::Instant;

use lelp::LelpError;
use lelp::deploy::{Classifier, DistillReport};

use crate::student_name;

/// One-text latency over the first `singles` texts, each predicted alone
/// (median, 99th percentile and mean, in milliseconds: a cascade's
/// one-text rate is the inverse of a mean, its deferred texts being few
/// and slow), and the throughput of a batch of `batch`.
struct Speed {
    p50: f64,
    p99: f64,
    mean: f64,
    rate: f64,
    /// The texts timed one at a time.
    singles: usize,
}

fn speed(classifier: &Classifier, texts: &[&str], batch: usize, singles: usize) -> lelp::Result<Speed> {
    let batch_texts: Vec<&str> = texts.iter().copied().cycle().take(batch).collect();
    classifier.predict(&batch_texts[..batch_texts.len().min(8)])?; // warm-up
    let t = Instant::now();
    classifier.predict(&batch_texts)?;
    let throughput = batch_texts.len() as f64 / t.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = Vec::with_capacity(singles);
    for text in texts.iter().cycle().take(singles) {
        let t = Instant::now();
        classifier.predict_one(text)?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    Ok(Speed {
        p50: q(0.5),
        p99: q(0.99),
        mean: lat.iter().sum::<f64>() / lat.len() as f64,
        rate: throughput,
        singles,
    })
}

pub(crate) fn summary(
    report: &DistillReport,
    texts: &[String],
    out: &Path,
    device: &burn::prelude::Device,
) -> lelp::Result<()> {
    let m = &report.model.manifest;
    let classifier = Classifier::from_model_on(report.model.clone(), device)?;
    let sample: Vec<&str> = texts.iter().map(String::as_str).take(512).collect();
    let encoder_student = classifier.num_params().1 > 0;
    let (batch, singles) = if encoder_student { (64, 20) } else { (512, 200) };
    let student = speed(&classifier, &sample, batch, singles)?;
    let (p50, p99, rate) = (student.p50, student.p99, student.rate);
    let bytes = std::fs::metadata(out).map_err(|e| LelpError::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    let t = m.teacher.as_ref();
    let (rows, unl, test) = report.rows;
    let extra = |n: usize, what: &str| if n > 0 { format!(" + {n} {what}") } else { String::new() };
    println!(
        "data     {rows} training rows{}{}, {test} test rows",
        extra(unl, "unlabeled"),
        extra(report.augmented_rows, "augmented")
    );
    match report.encode_rate {
        Some(rate) => println!(
            "teacher  {} + {}: {:.1}M parameters, test accuracy {:.2}%, {rate:.1} texts/s",
            t.map_or("?", |t| t.name.as_str()),
            t.map_or("?", |t| t.head.as_str()),
            t.map_or(0.0, |t| t.parameters as f64 / 1e6),
            100.0 * report.teacher_accuracy,
        ),
        None => println!(
            "teacher  {} ({}): test accuracy {:.2}%",
            t.map_or("?", |t| t.name.as_str()),
            t.map_or("?", |t| t.head.as_str()),
            100.0 * report.teacher_accuracy,
        ),
    }
    if !report.candidates.is_empty() {
        println!("method   chosen by {} on the validation rows:", report.chosen_by);
        println!(
            "           {:<34} {:>9} {:>10} {:>9}",
            "", "accuracy", "agreement", "macro-F1"
        );
        for c in &report.candidates {
            let mark = if c.method == report.method { "*" } else { " " };
            match (c.validation_accuracy, c.validation_agreement, &c.error) {
                (Some(a), Some(g), _) => {
                    let f1 = c.validation_macro_f1.unwrap_or(f64::NAN);
                    println!(
                        "         {mark} {:<34} {:>8.2}% {:>9.2}% {:>8.2}%",
                        c.name,
                        100.0 * a,
                        100.0 * g,
                        100.0 * f1
                    )
                }
                (_, _, Some(e)) => println!("           {:<34} failed: {e}", c.name),
                _ => {}
            }
        }
        for (name, why) in &report.left_out {
            println!("           {name:<34} left out: {why}");
        }
    } else {
        println!("method   {}", report.method.name());
    }
    if !report.students.is_empty() {
        students_table(report);
    }
    println!(
        "student  {} ({} parameters{}): test accuracy {:.2}%{}",
        student_name(m),
        classifier.num_params().0,
        if encoder_student {
            format!(" + the encoder's {}", classifier.num_params().1)
        } else {
            String::new()
        },
        100.0 * report.student_accuracy,
        report
            .validation_accuracy
            .map_or(String::new(), |v| format!(", validation {:.2}%", 100.0 * v))
    );
    if let Some(e) = report.best_epoch {
        println!("         kept at epoch {e}, its best on the validation rows (--best-epoch)");
    }
    let sc = &report.scores;
    let top: Vec<String> = sc
        .top_k
        .iter()
        .map(|(k, a)| format!("top-{k} {:.2}%", 100.0 * a))
        .collect();
    println!(
        "         macro-F1 {:.2}%, weighted F1 {:.2}%{}; calibration error (ECE) {:.4}",
        100.0 * sc.macro_f1,
        100.0 * sc.weighted_f1,
        if top.is_empty() {
            String::new()
        } else {
            format!(", {}", top.join(", "))
        },
        sc.ece
    );
    if let (Some(ml), Some(micro), Some(hamming)) = (&m.multi_label, sc.micro_f1, sc.hamming_loss) {
        println!(
            "         multi-label: subset accuracy {:.2}%, micro-F1 {:.2}%, Hamming loss {:.4}; thresholds {} ({})",
            100.0 * sc.accuracy,
            100.0 * micro,
            hamming,
            ml.rule,
            match (ml.validation_macro_f1, ml.validation_macro_f1_at_half) {
                (Some(a), Some(b)) => format!(
                    "fitted on {} validation rows: their macro-F1 {:.2}% against {:.2}% at 0.5",
                    ml.rows,
                    100.0 * a,
                    100.0 * b
                ),
                _ => "the same for every label".into(),
            }
        );
    }
    if let Some(k) = &m.calibration {
        println!(
            "         calibrated: temperature {:.3} fitted on {} validation rows (held out of the final student), \
             their ECE {:.4} -> {:.4}",
            k.temperature, k.rows, k.ece_before, k.ece_after
        );
    }
    match &m.multi_label {
        // every (text, label) decision as a two-class forecast
        Some(_) => fidelity_lines(&report.fidelity, &["absent".into(), "present".into()], "decisions"),
        None => fidelity_lines(&report.fidelity, &m.class_names, "test rows"),
    }
    println!("speed    {rate:.0} texts/s in a batch of {batch}; one text: {p50:.3} ms median, {p99:.3} ms p99");
    if let (Some(k), Some(test)) = (&m.cascade, &report.cascade_test) {
        cascade_lines(k, test, out, &sample, &student, device)?;
    }
    println!("wrote    {} ({:.1} MB)", out.display(), bytes.len() as f64 / 1e6);
    Ok(())
}

/// The summary's `--student auto` table: every candidate, its latency,
/// size, validation scores, training and where it ended.
fn students_table(report: &DistillReport) {
    use lelp::deploy::Outcome;
    println!(
        "students chosen by {} on the validation rows, {:.0} s of search:",
        report.chosen_by,
        report.student_search_seconds.unwrap_or(0.0)
    );
    println!(
        "           {:<14} {:<34} {:>9} {:>9} {:>9} {:>8} {:>7} {:>7}  outcome",
        "kind", "method", "agreement", "accuracy", "one text", "size", "epochs", "train"
    );
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}%", 100.0 * v));
    for c in &report.students {
        let kind = match c.quantize {
            Some(q) => format!("{} ({q})", c.kind),
            None => c.kind.to_string(),
        };
        let outcome = match &c.outcome {
            Outcome::Chosen => "chosen".to_string(),
            Outcome::Dropped { round } => format!("dropped in round {round}"),
            Outcome::OverBudget => "over the budget".to_string(),
            Outcome::Failed(e) => format!("failed: {e}"),
            _ => String::new(),
        };
        println!(
            "         {} {:<14} {:<34} {:>9} {:>9} {:>6.3} ms {:>5.1} MB {:>7.2} {:>6.1}s  {outcome}",
            if c.outcome == Outcome::Chosen { "*" } else { " " },
            kind,
            if c.method.is_empty() { "-" } else { &c.method },
            pct(c.validation_agreement),
            pct(c.validation_accuracy),
            c.latency_ms,
            c.size_mb,
            c.epochs,
            c.seconds,
        );
    }
}

/// The summary's cascade lines: the threshold and what it gives on the
/// validation and test rows, the validation curve, and the cascade file's
/// measured throughput against the student's alone.
fn cascade_lines(
    k: &lelp::deploy::Cascade,
    test: &lelp::metrics::CoveragePoint,
    out: &Path,
    sample: &[&str],
    student: &Speed,
    device: &burn::prelude::Device,
) -> lelp::Result<()> {
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    println!(
        "cascade  threshold {:.4} (target {} {}, decision temperature {:.3}, {} validation rows): the student \
         answers {} of the validation rows, agreement {}, accuracy {}",
        k.threshold,
        k.target,
        k.target_value,
        k.temperature,
        k.rows,
        pct(k.validation.coverage),
        pct(k.validation.agreement),
        pct(k.validation.accuracy)
    );
    println!(
        "         on the test rows: the student answers {}, the cascade's accuracy {}, agreement with the teacher {}",
        pct(test.coverage),
        pct(test.accuracy),
        pct(test.agreement)
    );
    let curve: Vec<String> = k
        .curve
        .iter()
        .map(|p| format!("{:.2}: {} / {}", p.threshold, pct(p.coverage), pct(p.agreement)))
        .collect();
    println!(
        "         validation curve, threshold: coverage / agreement: {}",
        curve.join(", ")
    );
    match &k.fallback {
        Some(f) => {
            // measured side by side on the same texts: the cascade file, the teacher's alone
            let cascade = Classifier::load_on(out, device)?;
            let rate = speed(&cascade, sample, 512, 1)?.rate;
            let teacher = Classifier::load_on(out.with_file_name(f), device)?;
            // the teacher one text at a time on the texts the student was timed on
            let singles = student.singles;
            let teacher = speed(&teacher, sample, 512, singles)?;
            let (student_rate, teacher_rate) = (student.rate, teacher.rate);
            // expected on the test rows: every text through the student, the unsure ones through the teacher
            let expected = 1.0 / (1.0 / student_rate + (1.0 - test.coverage) / teacher_rate);
            // one text at a time, likewise
            let (student_ms, teacher_ms) = (student.mean, teacher.mean);
            let cascade_ms = student_ms + (1.0 - test.coverage) * teacher_ms;
            println!(
                "         fallback {} (the teacher); in batches of 512 of the data's first texts: the cascade \
                 {rate:.0} texts/s, the teacher alone {teacher_rate:.0} ({:.1}x), the student alone \
                 {student_rate:.0}; expected at the test rows' coverage {expected:.0} texts/s ({:.1}x the teacher)",
                f.display(),
                rate / teacher_rate,
                expected / teacher_rate
            );
            println!(
                "         one text at a time (the data's first {} texts, each alone, on average): the student \
                 {student_ms:.3} ms, the teacher {teacher_ms:.3} ms; expected at the test rows' coverage \
                 {cascade_ms:.3} ms a text ({:.1}x the teacher)",
                singles,
                teacher_ms / cascade_ms
            );
        }
        None => println!(
            "         no fallback file (the teacher runs elsewhere): predict marks the texts under the threshold \
             \"answered_by\": \"deferred\""
        ),
    }
    Ok(())
}

/// The summary's fidelity lines: agreement overall and per class, the
/// distances, and agreement by the teacher's confidence.
fn fidelity_lines(f: &lelp::metrics::Fidelity, names: &[String], rows: &str) {
    println!(
        "fidelity agreement with the teacher {:.2}% of {} {rows}; mean KL {:.4} nats, mean TV {:.4}",
        100.0 * f.agreement,
        f.rows,
        f.mean_kl,
        f.mean_tv
    );
    let per_class: Vec<String> = names
        .iter()
        .zip(&f.per_class)
        .filter_map(|(n, c)| Some(format!("{n} {:.1}%", 100.0 * c.agreement?)))
        .collect();
    println!("         by the teacher's class: {}", per_class.join(", "));
    let bins: Vec<String> = f
        .by_confidence
        .iter()
        .filter_map(|b| Some(format!("{:.0}%", 100.0 * b.agreement?)))
        .collect();
    println!(
        "         by the teacher's confidence, least confident tenth first: {}",
        bins.join(" ")
    );
}
