//! Tuning grids: a method with values to try per option, the equal-budget
//! rule across methods, and the selection of the best point on a
//! validation split.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{LelpError, Result};
use crate::train::Method;

/// A method in the library's own schema (`{"kind": "lelp", "subclasses":
/// 5, ...}`, see [`Method`]) with an optional table label and an optional
/// grid of values to try per option (their cartesian product).
///
/// ```
/// use lelp::experiment::MethodEntry;
/// let e: MethodEntry = serde_json::from_str(
///     r#"{"kind": "vanilla_kd", "tau": 2, "grid": {"tau": [1, 2, 4], "alpha": [0, 0.5]}}"#,
/// )?;
/// assert_eq!(e.points()?.len(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodEntry {
    /// The name in tables (default: the method's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Values to try per option (a cartesian product), for tuning.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grid: BTreeMap<String, Vec<serde_json::Value>>,
    /// The method (the grid's base point).
    #[serde(flatten)]
    pub method: Method,
}

impl MethodEntry {
    /// An entry for `method` without a label or grid.
    pub fn new(method: Method) -> Self {
        Self {
            label: None,
            grid: BTreeMap::new(),
            method,
        }
    }

    /// The name in tables.
    pub fn name(&self) -> String {
        self.label.clone().unwrap_or_else(|| self.method.name().to_string())
    }

    /// The method with its seed (where it has one) set to `seed`.
    pub fn for_seed(&self, seed: u64) -> Method {
        with_seed(self.method.clone(), seed)
    }

    /// The number of subclasses `S` of the base point, for subclass methods.
    pub fn subclasses(&self) -> Option<usize> {
        match &self.method {
            Method::Lelp(l) | Method::RandomProjection(l) => Some(l.subspace.subclasses),
            Method::KMeans(k) => Some(k.subclasses),
            Method::SubclassDistillation(sd) => Some(sd.subclasses),
            _ => None,
        }
    }

    /// The grid's points in order (the last grid key varies fastest); the
    /// method itself when there is no grid. Each point is checked: every
    /// grid key must be an option of the method, and each value valid.
    ///
    /// # Errors
    /// [`LelpError::InvalidConfig`] for an empty value list, a key that is
    /// not an option of the method, or a value the method rejects.
    pub fn points(&self) -> Result<Vec<Method>> {
        let bad = |reason: String| LelpError::InvalidConfig {
            reason: format!("{}: {reason}", self.name()),
        };
        let base = serde_json::to_value(&self.method).map_err(|e| bad(e.to_string()))?;
        let mut points = vec![base];
        for (key, values) in &self.grid {
            if values.is_empty() {
                return Err(bad(format!("empty grid for '{key}'")));
            }
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut p = p.clone();
                        p[key.as_str()] = v.clone();
                        p
                    })
                })
                .collect();
        }
        points
            .into_iter()
            .map(|p| {
                let m: Method = serde_json::from_value(p.clone()).map_err(|e| bad(e.to_string()))?;
                // an unknown key is dropped by deserialising: compare the round trip
                let back = serde_json::to_value(&m).map_err(|e| bad(e.to_string()))?;
                for key in self.grid.keys() {
                    let same = match (back.get(key), p.get(key)) {
                        (Some(a), Some(b)) => a == b || (a.as_f64().is_some() && a.as_f64() == b.as_f64()),
                        _ => false,
                    };
                    if !same {
                        return Err(bad(format!("'{key}' is not an option of this method")));
                    }
                }
                m.validate().map_err(|e| bad(e.to_string()))?;
                Ok(m)
            })
            .collect()
    }
}

/// `method` with its seed (LELP's and random projections' rotation,
/// k-means' initialisation) set to `seed`; other methods unchanged.
pub fn with_seed(mut method: Method, seed: u64) -> Method {
    match &mut method {
        Method::Lelp(l) | Method::RandomProjection(l) => l.subspace.seed = seed,
        Method::KMeans(k) => k.seed = seed,
        _ => {}
    }
    method
}

/// The number of grid points every tuned method gets, `None` when nothing
/// is tuned.
///
/// # Errors
/// [`LelpError::InvalidConfig`] when two tuned methods have different
/// numbers of points (an unfair budget), a grid is given while `tuned` is
/// false (it would be ignored), or a grid is invalid
/// ([`MethodEntry::points`]).
///
/// ```
/// use lelp::experiment::{MethodEntry, check_budget};
/// let entry = |json: &str| serde_json::from_str::<MethodEntry>(json).unwrap();
/// let kd = entry(r#"{"kind": "vanilla_kd", "grid": {"tau": [1, 2, 4]}}"#);
/// let lelp = entry(r#"{"kind": "lelp", "subclasses": 4, "grid": {"subclasses": [2, 4]}}"#);
/// assert!(check_budget(&[kd.clone(), lelp], true).is_err()); // 3 points against 2
/// assert_eq!(check_budget(&[kd], true)?, Some(3));
/// # Ok::<(), lelp::LelpError>(())
/// ```
pub fn check_budget(methods: &[MethodEntry], tuned: bool) -> Result<Option<usize>> {
    if !tuned {
        if let Some(e) = methods.iter().find(|e| !e.grid.is_empty()) {
            return Err(LelpError::InvalidConfig {
                reason: format!(
                    "{} has a grid but the config has no \"tuning\": it would be ignored",
                    e.name()
                ),
            });
        }
        return Ok(None);
    }
    let mut budget: Option<(usize, String)> = None;
    for e in methods.iter().filter(|e| !e.grid.is_empty()) {
        let n = e.points()?.len();
        match &budget {
            None => budget = Some((n, e.name())),
            Some((b, first)) if *b != n => {
                return Err(LelpError::InvalidConfig {
                    reason: format!(
                        "unequal tuning budget: {} has {n} grid points, {first} has {b}",
                        e.name()
                    ),
                });
            }
            _ => {}
        }
    }
    Ok(budget.map(|(n, _)| n))
}

/// The tuning protocol for one method on one transfer set: the transfer
/// set is split (stratified, seeded) into a fitting part and a validation
/// part of `validation_fraction`; each grid point, its seed set to `seed`,
/// is scored by `score(point, fit, validation)`; the best point wins, the
/// earliest on ties. Returns it with its validation accuracy.
///
/// `score` trains on `fit` and returns the accuracy on `validation`; the
/// test split is never seen.
///
/// # Errors
/// [`LelpError::InvalidConfig`] for an invalid grid; the split's errors
/// (e.g. a fraction outside `(0, 1)`); the first error of `score`.
pub fn select(
    entry: &MethodEntry,
    transfer: &Dataset,
    validation_fraction: f64,
    seed: u64,
    mut score: impl FnMut(&Method, &Dataset, &Dataset) -> Result<f64>,
) -> Result<(Method, f64)> {
    let (fit, validation) = transfer.split(validation_fraction, seed)?;
    let mut best: Option<(Method, f64)> = None;
    for point in entry.points()? {
        let method = with_seed(point, seed);
        let acc = score(&method, &fit, &validation)?;
        if best.as_ref().is_none_or(|(_, b)| acc > *b) {
            best = Some((method, acc));
        }
    }
    // points() never returns an empty list
    best.ok_or_else(|| LelpError::InvalidConfig {
        reason: format!("{}: no grid point", entry.name()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: &str) -> MethodEntry {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn points_are_the_cartesian_product_in_order() {
        let e = entry(r#"{"kind": "vanilla_kd", "grid": {"tau": [1, 4], "alpha": [0, 0.5, 1]}}"#);
        let pts = e.points().unwrap();
        let got: Vec<(f64, f64)> = pts
            .iter()
            .map(|m| match m {
                Method::VanillaKd(k) => (k.alpha, k.tau),
                _ => panic!("not KD: {m:?}"),
            })
            .collect();
        // keys in sorted order (alpha, then tau), the last varying fastest
        assert_eq!(
            got,
            vec![(0.0, 1.0), (0.0, 4.0), (0.5, 1.0), (0.5, 4.0), (1.0, 1.0), (1.0, 4.0)]
        );
    }

    #[test]
    fn no_grid_is_the_method_itself() {
        let e = entry(r#"{"kind": "lelp", "subclasses": 3}"#);
        let pts = e.points().unwrap();
        assert_eq!(pts.len(), 1);
        assert_eq!(e.subclasses(), Some(3));
        assert_eq!(
            serde_json::to_value(&pts[0]).unwrap(),
            serde_json::to_value(&e.method).unwrap()
        );
    }

    #[test]
    fn bad_grids_are_refused_with_the_reason() {
        for (json, needle) in [
            (
                r#"{"kind": "vanilla_kd", "grid": {"subclasses": [2]}}"#,
                "not an option",
            ),
            (r#"{"kind": "vanilla_kd", "grid": {"tau": []}}"#, "empty grid"),
            (r#"{"kind": "vanilla_kd", "grid": {"alpha": [2.0]}}"#, "alpha"),
        ] {
            match entry(json).points() {
                Err(LelpError::InvalidConfig { reason }) => assert!(reason.contains(needle), "{json}: {reason}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn budgets_must_be_equal_and_need_tuning() {
        let kd = entry(r#"{"kind": "vanilla_kd", "grid": {"tau": [1, 2, 4]}}"#);
        let kd2 = entry(r#"{"kind": "vanilla_kd", "label": "KD2", "grid": {"tau": [1, 2], "alpha": [0]}}"#);
        let lelp = entry(r#"{"kind": "lelp", "subclasses": 4, "grid": {"subclasses": [2, 4, 8]}}"#);
        let plain = entry(r#"{"kind": "plain"}"#);
        assert_eq!(
            check_budget(&[kd.clone(), lelp.clone(), plain.clone()], true).unwrap(),
            Some(3)
        );
        assert_eq!(check_budget(std::slice::from_ref(&plain), true).unwrap(), None);
        assert_eq!(check_budget(std::slice::from_ref(&plain), false).unwrap(), None);
        assert!(matches!(
            check_budget(&[kd.clone(), kd2], true),
            Err(LelpError::InvalidConfig { reason }) if reason.contains("unequal")
        ));
        assert!(matches!(
            check_budget(&[kd], false),
            Err(LelpError::InvalidConfig { reason }) if reason.contains("no \"tuning\"")
        ));
    }

    #[test]
    fn selection_keeps_the_best_and_the_earliest_on_ties() {
        let data = Dataset::uci_digits().parity().unwrap();
        let e = entry(r#"{"kind": "vanilla_kd", "grid": {"tau": [1, 2, 3, 4]}}"#);
        let mut seen = Vec::new();
        let (best, acc) = select(&e, &data, 0.25, 7, |m, fit, valid| {
            assert_eq!(fit.len() + valid.len(), data.len());
            let Method::VanillaKd(k) = m else { unreachable!() };
            seen.push(k.tau);
            Ok(if k.tau == 2.0 || k.tau == 4.0 { 0.9 } else { 0.5 })
        })
        .unwrap();
        assert_eq!(seen, vec![1.0, 2.0, 3.0, 4.0]);
        assert!(matches!(best, Method::VanillaKd(k) if k.tau == 2.0));
        assert_eq!(acc, 0.9);
    }

    #[test]
    fn selection_sets_the_seed_and_stops_at_an_error() {
        let data = Dataset::uci_digits().parity().unwrap();
        let e = entry(r#"{"kind": "kmeans", "subclasses": 2, "grid": {"subclasses": [2, 3]}}"#);
        let mut calls = 0;
        let r = select(&e, &data, 0.25, 99, |m, _, _| {
            calls += 1;
            assert!(matches!(m, Method::KMeans(k) if k.seed == 99));
            Err(LelpError::EmptyData { what: "constructed" })
        });
        assert!(matches!(r, Err(LelpError::EmptyData { .. })));
        assert_eq!(calls, 1);
    }
}
