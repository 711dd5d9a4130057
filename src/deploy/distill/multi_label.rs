//! Multi-label data in [`distill`](super::distill): the splits' strata,
//! labels on both sides of a split, what such data refuses, and the
//! per-label thresholds.

use super::*;

/// Each row's stratum for [`stratified`]: its class; for multi-label data
/// its rarest label (the fewest rows of the corpus; ties to the lower id),
/// and `C` for a row with none.
pub(super) fn strata(corpus: &TextCorpus) -> Vec<usize> {
    let Some(sets) = &corpus.label_sets else {
        return corpus.labels.clone();
    };
    let c = corpus.class_names.len();
    let mut count = vec![0usize; c];
    sets.iter().flatten().for_each(|&l| count[l] += 1);
    sets.iter()
        .map(|set| set.iter().copied().min_by_key(|&l| (count[l], l)).unwrap_or(c))
        .collect()
}

/// Multi-label splits: every label with two or more rows ends on both
/// sides where a row can move across without taking another label's last
/// copy from its side (passes repeat until nothing moves); a label with a
/// single row is [`LelpError::ClassTooRare`].
pub(super) fn spread(
    sets: &[Vec<usize>],
    names: &[String],
    (kept, held): (&mut Vec<usize>, &mut Vec<usize>),
    part: &'static str,
) -> Result<()> {
    let c = names.len();
    let count = |side: &[usize]| {
        let mut n = vec![0usize; c];
        side.iter().flat_map(|&r| &sets[r]).for_each(|&l| n[l] += 1);
        n
    };
    let (k, h) = (count(kept), count(held));
    if let Some(l) = (0..c).find(|&l| k[l] + h[l] == 1) {
        return Err(LelpError::ClassTooRare {
            class: names[l].clone(),
            rows: 1,
            needed: 2,
            part,
        });
    }
    // each pass moves at most one row a label; a bounded number of passes
    for _ in 0..c.max(1) {
        let mut moved = false;
        for l in 0..c {
            let (k, h) = (count(kept), count(held));
            let (from, to, left) = match (k[l], h[l]) {
                (a, 0) if a >= 2 => (&mut *kept, &mut *held, k),
                (0, b) if b >= 2 => (&mut *held, &mut *kept, h),
                _ => continue,
            };
            // a row with the label whose every label keeps a copy where it leaves
            if let Some(i) = from
                .iter()
                .position(|&r| sets[r].contains(&l) && sets[r].iter().all(|&m| left[m] >= 2))
            {
                to.push(from.remove(i));
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    Ok(())
}

/// What multi-label data cannot take (yet), each refused by name.
pub(super) fn check_multi_label(opts: &DistillOptions) -> Result<()> {
    let refuse = |name, value: String, reason| Err(invalid(name, value, reason));
    if opts.class_weight != ClassWeight::None {
        let reason = "class weights weigh a row by its one label; for multi-label data the per-label thresholds \
                      answer imbalance (--thresholds f1)";
        return refuse("class_weight", opts.class_weight.to_string(), reason);
    }
    if opts.calibrate {
        let reason = "multi-label data: the per-label thresholds are fitted on the validation rows instead of a \
                      temperature";
        return refuse("calibrate", "true".into(), reason);
    }
    if opts.teacher_tune.is_some() {
        let reason = "fine-tuning trains one softmax head: one class a row";
        return refuse("teacher_tune", "multi-label data".into(), reason);
    }
    if opts.cascade.is_some() {
        let reason = "a cascade hands on the texts whose top class the student is unsure of: one class a text";
        return refuse("cascade", "multi-label data".into(), reason);
    }
    if opts.augment > 0 {
        let reason = "augmentation is for one label a row";
        return refuse("augment", opts.augment.to_string(), reason);
    }
    if opts.teacher_outputs.is_some() {
        let reason = "supplied teacher outputs are read as one distribution over the classes a row, not one \
                      probability a label";
        return refuse("teacher_outputs", "multi-label data".into(), reason);
    }
    if crate::text::is_classifier_dir(&opts.teacher_dir) {
        let reason = "a fine-tuned classifier checkpoint has one softmax head; multi-label data needs one sigmoid \
                      a label (use a sentence encoder's folder, whose head is trained here)";
        return refuse("teacher", opts.teacher_dir.display().to_string(), reason);
    }
    Ok(())
}

/// Multi-label data: each label's threshold fitted by the options' rule on
/// the `held` rows (which the model did not train on), with the rows'
/// macro-F1 at the fitted thresholds and at 0.5. A fixed rule needs no
/// rows.
pub(super) fn thresholds(
    model: &ModelFile,
    texts: &[&str],
    held: &[usize],
    sets: &[Vec<usize>],
    opts: &DistillOptions,
    device: &Device,
) -> Result<crate::deploy::MultiLabel> {
    let c = model.manifest.class_names.len();
    if let ThresholdRule::Fixed(p) = opts.thresholds {
        return Ok(crate::deploy::MultiLabel {
            thresholds: vec![p; c],
            rule: opts.thresholds,
            rows: 0,
            validation_macro_f1: None,
            validation_macro_f1_at_half: None,
        });
    }
    let classifier = Classifier::from_model_on(model.clone(), device)?;
    let held_texts: Vec<&str> = held.iter().map(|&r| texts[r]).collect();
    let mut probs = Vec::with_capacity(held.len() * c);
    for chunk in held_texts.chunks(512) {
        for p in classifier.predict(chunk)? {
            probs.extend(p.probabilities);
        }
    }
    let truth: Vec<Vec<usize>> = held.iter().map(|&r| sets[r].clone()).collect();
    let fitted = crate::metrics::fit_thresholds(&probs, &truth, c, opts.thresholds)?;
    let f1 = |t: &[f32]| crate::metrics::multi_label_scores(&probs, &truth, c, t).map(|s| s.macro_f1);
    Ok(crate::deploy::MultiLabel {
        rows: held.len(),
        validation_macro_f1: Some(f1(&fitted)?),
        validation_macro_f1_at_half: Some(f1(&vec![0.5; c])?),
        thresholds: fitted,
        rule: opts.thresholds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multi-label splits keep every label on both sides without taking a
    /// label's last copy from a side: moving row 1 (labels a, c) to the
    /// held side for `c` would leave no `a` kept, so row 3 moves instead.
    #[test]
    fn spread_puts_every_label_on_both_sides() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // rows: 0 {b}, 1 {a, c}, 2 {a}, 3 {c}, 4 {b}
        let sets = vec![vec![1], vec![0, 2], vec![0], vec![2], vec![1]];
        let (mut kept, mut held) = (vec![0, 1, 3], vec![2, 4]);
        spread(&sets, &names, (&mut kept, &mut held), "rows").unwrap();
        for l in 0..3 {
            let on = |side: &[usize]| side.iter().any(|&r| sets[r].contains(&l));
            assert!(on(&kept) && on(&held), "label {l}: kept {kept:?}, held {held:?}");
        }
        // a label with one row is named
        let sets = vec![vec![1], vec![0, 1], vec![1]];
        let (mut kept, mut held) = (vec![0, 1], vec![2]);
        match spread(&sets, &names[..2], (&mut kept, &mut held), "rows") {
            Err(LelpError::ClassTooRare { class, .. }) => assert_eq!(class, "a"),
            other => panic!("{other:?}"),
        }
    }
}
