//! The cascade of [`distill`](super::distill): the student's decision
//! temperature and threshold, fitted on the validation rows.

use super::*;

/// The cascade of `model`: its decision temperature fitted on the `held`
/// rows against the teacher's classes, the threshold that meets `target`
/// there, the rows' coverage curve; and the cascade on the test rows at
/// that threshold.
pub(super) fn cascade_stage(
    model: &ModelFile,
    views: &Views,
    texts: &[&str],
    (held, test): (&[usize], &[usize]),
    target: crate::metrics::CascadeTarget,
    device: &Device,
) -> Result<(crate::deploy::Cascade, crate::metrics::CoveragePoint)> {
    use crate::metrics::{CascadeTarget, cascade_threshold, coverage_curve};
    let c = model.manifest.class_names.len();
    let classifier = Classifier::from_model_on(model.clone(), device)?;
    let raw = |rows: &[usize]| -> Result<Vec<Vec<f32>>> {
        let mut raw = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(512) {
            let t: Vec<&str> = chunk.iter().map(|&r| texts[r]).collect();
            classifier.outputs_into(&t, &mut raw)?;
        }
        Ok(raw)
    };
    let teacher = |rows: &[usize]| -> Result<Vec<f32>> {
        let z = views.teacher_logits(rows, device)?;
        Ok(z.chunks(c).flat_map(crate::deploy::outputs::softmax).collect())
    };
    let labels = |rows: &[usize]| -> Vec<usize> { rows.iter().map(|&r| views.dense.labels()[r]).collect() };
    let at = |raw: &[Vec<f32>], t: f64| -> Vec<f32> {
        raw.iter()
            .flat_map(|z| {
                crate::deploy::net::class_probabilities(&z.iter().map(|v| v / t as f32).collect::<Vec<_>>(), c)
            })
            .collect()
    };
    let (held_raw, held_teacher) = (raw(held)?, teacher(held)?);
    let teacher_classes: Vec<usize> = held_teacher.chunks(c).map(crate::util::argmax).collect();
    let temperature = crate::deploy::fit_temperature(&held_raw.concat(), &teacher_classes, c)?;
    let student = at(&held_raw, temperature);
    let (threshold, point) = cascade_threshold(&student, &held_teacher, &labels(held), c, target)?;
    let grid = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];
    let curve = coverage_curve(&student, &held_teacher, &labels(held), c, &grid)?;
    let test_point = coverage_curve(
        &at(&raw(test)?, temperature),
        &teacher(test)?,
        &labels(test),
        c,
        &[threshold],
    )?
    .remove(0);
    let (name, value) = match target {
        CascadeTarget::Agreement(a) => ("agreement", a),
        CascadeTarget::Coverage(v) => ("coverage", v),
    };
    Ok((
        crate::deploy::Cascade {
            fallback: None,
            fallback_id: None,
            temperature,
            threshold,
            target: name.into(),
            target_value: value,
            rows: held.len(),
            validation: point,
            curve,
        },
        test_point,
    ))
}
