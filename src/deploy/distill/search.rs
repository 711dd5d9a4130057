//! `--student auto`'s search: every candidate (a kind within the budget
//! and a method) trained and scored on the validation rows, by successive
//! halving or in full, and the chosen one trained on to the full epochs.

use super::budget::{Footprint, record};
use super::*;
use crate::deploy::Quantization;

/// The choice of `--student auto`.
pub(super) struct Winner {
    pub(super) kind: StudentKind,
    pub(super) quantize: Option<Quantization>,
    pub(super) method: Method,
    /// Every candidate, over the budget ones included.
    pub(super) records: Vec<StudentCandidate>,
    /// The search's seconds, in all.
    pub(super) seconds: f64,
    /// The chosen kind's candidates (one a method), as `--method auto`
    /// records them.
    pub(super) candidates: Vec<Candidate>,
    /// When the options keep the best epoch: the chosen candidate's own
    /// student, trained on to the full epochs (the final student: its
    /// training rows are the final student's).
    pub(super) student: Option<AnyStudent>,
}

impl Winner {
    /// The method's choice as the model file records it: the chosen
    /// candidate's validation scores (as its record has them) and the chosen
    /// kind's methods.
    pub(super) fn choice(&self, by: ChooseBy) -> crate::deploy::choice::Choice {
        let chosen = self.records.iter().find(|r| r.outcome == Outcome::Chosen);
        crate::deploy::choice::Choice {
            method: self.method.clone(),
            by,
            accuracy: chosen.and_then(|r| r.validation_accuracy),
            agreement: chosen.and_then(|r| r.validation_agreement),
            candidates: self.candidates.clone(),
        }
    }
}

/// A live candidate.
struct Live {
    fp: usize,
    method: usize,
    student: Option<AnyStudent>,
    /// Where its next slice of the shuffled training rows starts.
    cursor: usize,
    /// Its validation score by the run's metric (none: failed).
    score: Option<f64>,
    record: StudentCandidate,
}

/// A round of the search: the candidates it trains, the epochs each
/// trains in it, and whether it halves the candidates of each kind apart
/// (else all together).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Round {
    pub(super) candidates: usize,
    pub(super) epochs: f64,
    pub(super) within_kinds: bool,
}

/// The share of a round's candidates that goes on: one in `KEEP`.
const KEEP: usize = 3;

/// The rounds of a search over `groups[k]` candidates of each kind. The
/// exhaustive search: one round of `epochs` for every candidate. The
/// halving: first within each kind (its methods, which learn at one pace,
/// so a short slice ranks them) until one a kind is left, then across the
/// kinds (which do not: a hashed bag starts from nothing, a static table
/// from the teacher, so kinds are compared only after every kind's best
/// has trained a few epochs); each round keeps the best third, rounded
/// up (Hyperband's default rate: fewer, longer rounds than halving by two,
/// whose first slices are too short to rank anything), and every round
/// spends the same epochs' worth of training rows, split among its
/// candidates (successive halving's rule). What the rounds spend is sized
/// so that the search and the chosen student's own training together
/// cost `trainings` full trainings whatever the number of candidates:
/// with `finish` the chosen one trains on from its last round to
/// `epochs` (never past them: with few candidates the search then costs
/// less), else it trains again from the start (one training, so the
/// rounds spend `trainings - 1`).
pub(super) fn schedule(
    search: Search,
    groups: &[usize],
    epochs: usize,
    (trainings, finish): (f64, bool),
) -> Vec<Round> {
    let n: usize = groups.iter().sum();
    if search == Search::Exhaustive || n <= 1 {
        return vec![Round {
            candidates: n,
            epochs: epochs as f64,
            within_kinds: false,
        }];
    }
    let mut alive: Vec<usize> = groups.iter().copied().filter(|&g| g > 0).collect();
    let mut rounds = Vec::new();
    loop {
        let total: usize = alive.iter().sum();
        if total <= 1 {
            break;
        }
        let within = alive.iter().any(|&g| g > 1);
        rounds.push((total, within));
        if within {
            alive.iter_mut().for_each(|g| *g = g.div_ceil(KEEP));
        } else {
            alive = vec![1; alive.len().div_ceil(KEEP)];
        }
    }
    // the chosen one's share of the rounds' epochs: it is in every round
    let r = rounds.len() as f64;
    let share: f64 = rounds.iter().map(|&(n, _)| 1.0 / (n as f64 * r)).sum();
    let search = match finish {
        // search + (1 - search x share) = trainings, at most a full training for the chosen
        true => ((trainings - 1.0) / (1.0 - share)).min(1.0 / share),
        false => trainings - 1.0,
    };
    let per_round = search * epochs as f64 / r;
    rounds
        .into_iter()
        .map(|(candidates, within_kinds)| Round {
            candidates,
            epochs: per_round / candidates as f64,
            within_kinds,
        })
        .collect()
}

/// The search: every (kind within the budget, method) candidate trained on
/// `fit` and scored on `val` by `by`, by successive halving or in full.
#[allow(clippy::too_many_arguments)]
pub(super) fn search(
    views: &Views,
    tools: &Featurizers,
    texts: &[&str],
    (within, over): (Vec<Footprint>, Vec<StudentCandidate>),
    methods: &[Method],
    (fit, val): (&[usize], &[usize]),
    (budget, by): (&StudentBudget, ChooseBy),
    opts: &DistillOptions,
    device: &Device,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Winner> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    if within.len() * methods.len() == 1 {
        // nothing to compare: the one candidate is the choice, untrained here
        let mut records = over;
        records.push(record(&within[0], methods[0].label(), Outcome::Chosen));
        return Ok(Winner {
            kind: within[0].kind,
            quantize: within[0].quantize,
            method: methods[0].clone(),
            records,
            seconds: 0.0,
            candidates: Vec::new(),
            student: None,
        });
    }
    let started = Instant::now();
    // each kind's view of the training and validation rows
    let mut data = Vec::with_capacity(within.len());
    for fp in &within {
        let view = tools.view(fp.kind, &views.dense, texts, opts)?;
        // labelled as `by` scores them when the best epoch is picked on them
        let valid = match opts.keeps_best_epoch() {
            true => views.scored_set(view.subset(val)?, val, by, device)?,
            false => view.subset(val)?,
        };
        data.push((view.subset(fit)?, valid));
    }
    // each method's targets on the training rows, fitted once
    let targets: Vec<Result<crate::train::TrainingTargets>> = methods
        .iter()
        .map(|m| views.targets(m, &data[0].0, fit, device))
        .collect();
    let mut order: Vec<usize> = (0..fit.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(opts.seed ^ 0x5eed));
    let mut live: Vec<Live> = Vec::new();
    for (f, fp) in within.iter().enumerate() {
        for (m, method) in methods.iter().enumerate() {
            live.push(Live {
                fp: f,
                method: m,
                student: None,
                cursor: 0,
                score: None,
                record: record(fp, method.label(), Outcome::Dropped { round: 1 }),
            });
        }
    }
    let groups: Vec<usize> = (0..within.len()).map(|_| methods.len()).collect();
    let search = budget.search;
    let reuse = opts.keeps_best_epoch();
    let plan = schedule(search, &groups, opts.epochs, (budget.trainings, reuse));
    let mut alive: Vec<usize> = (0..live.len()).collect();
    // the exhaustive search keeps the best student so far (to reuse)
    let mut kept: Option<usize> = None;
    for (r, round) in plan.iter().enumerate() {
        let epochs = round.epochs;
        progress(Progress::Round {
            round: r + 1,
            rounds: plan.len(),
            candidates: alive.len(),
            epochs,
        });
        for (done, &i) in alive.iter().enumerate() {
            let c = &mut live[i];
            let t = Instant::now();
            let kind = within[c.fp].kind;
            let outcome = match &targets[c.method] {
                Err(e) => Err(e.to_string()),
                Ok(tg) => {
                    let slice = Slice {
                        data: &data[c.fp].0,
                        targets: tg,
                        order: &order,
                    };
                    slice
                        .round(c, kind, epochs, (&data[c.fp].1, val, by), views, opts, device)
                        .map_err(|e| e.to_string())
                }
            };
            c.record.seconds += t.elapsed().as_secs_f64();
            c.scored(outcome, by, r + 1);
            progress(Progress::Student {
                candidate: &c.record,
                done: done + 1,
                total: alive.len(),
            });
            if search == Search::Exhaustive {
                // one round: nothing trains on; the best so far (the
                // earlier on ties) is kept to be reused
                let better = match (kept, live[i].score) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(k), Some(s)) => live[k].score.is_none_or(|b| s > b),
                };
                if reuse && better {
                    if let Some(k) = kept {
                        live[k].student = None;
                    }
                    kept = Some(i);
                } else {
                    live[i].student = None;
                }
            }
        }
        // when every candidate of a round failed, the best scored before
        // goes on
        let scores: Vec<(usize, Option<f64>)> = live.iter().map(|c| (c.fp, c.score)).collect();
        alive.retain(|&i| live[i].score.is_some());
        if alive.is_empty()
            && let Some(best) = best_scored(&scores)
        {
            alive = vec![best];
            break;
        }
        let kept = keep(&scores, &alive, search, round.within_kinds);
        for &i in &alive {
            if !kept.contains(&i) {
                live[i].student = None;
            }
        }
        alive = kept;
        if alive.len() <= 1 {
            break;
        }
    }
    let best = *alive
        .first()
        .ok_or(LelpError::AllCandidatesFailed { tried: live.len() })?;
    live[best].record.outcome = Outcome::Chosen;
    let c = &mut live[best];
    let student = match (reuse, &targets[c.method]) {
        // the chosen one trains on to the full epochs (kept at its best)
        (true, Ok(tg)) => {
            let slice = Slice {
                data: &data[c.fp].0,
                targets: tg,
                order: &order,
            };
            let (kind, method) = (within[c.fp].kind, &methods[c.method]);
            let valid = (&data[c.fp].1, val, by);
            slice.finish((c, kind, method), valid, views, opts, device, progress)?
        }
        _ => None,
    };
    let mut w = winner(&live, best, &within, methods, over);
    w.student = student;
    w.seconds = started.elapsed().as_secs_f64();
    Ok(w)
}

/// The candidates that go on after a round, in candidate order, from each
/// candidate's (kind, score) and the indices `alive` of those scored in it:
/// the best third (rounded up) of each kind apart when `within_kinds`, else
/// of all; the exhaustive search keeps the one best. Ties go to the earlier
/// candidate: the kind named first, then the simpler method.
fn keep(scores: &[(usize, Option<f64>)], alive: &[usize], search: Search, within_kinds: bool) -> Vec<usize> {
    let by_score = |a: &usize, b: &usize| {
        scores[*b]
            .1
            .partial_cmp(&scores[*a].1)
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let best_third = |mut some: Vec<usize>| {
        some.sort_by(by_score);
        some.truncate(some.len().div_ceil(KEEP));
        some
    };
    let mut kept: Vec<usize> = match (search, within_kinds) {
        (Search::Exhaustive, _) => alive.iter().copied().min_by(by_score).into_iter().collect(),
        (Search::Halving, false) => best_third(alive.to_vec()),
        (Search::Halving, true) => {
            let mut kinds: Vec<usize> = alive.iter().map(|&i| scores[i].0).collect();
            kinds.dedup();
            kinds
                .into_iter()
                .flat_map(|k| best_third(alive.iter().copied().filter(|&i| scores[i].0 == k).collect()))
                .collect()
        }
    };
    kept.sort_unstable();
    kept
}

/// The candidate with the best score of all (ties to the earlier); none
/// when none has one.
fn best_scored(scores: &[(usize, Option<f64>)]) -> Option<usize> {
    (0..scores.len())
        .filter(|&i| scores[i].1.is_some())
        .fold(None, |b: Option<usize>, i| match b {
            Some(b) if scores[b].1 >= scores[i].1 => Some(b),
            _ => Some(i),
        })
}

/// The search's outcome with `best` chosen: its kind, storage and method,
/// every record, and the chosen kind's candidates as `--method auto`
/// records them.
fn winner(live: &[Live], best: usize, within: &[Footprint], methods: &[Method], over: Vec<StudentCandidate>) -> Winner {
    let fp = &within[live[best].fp];
    let candidates = live
        .iter()
        .filter(|c| c.fp == live[best].fp)
        .map(|c| Candidate {
            name: c.record.method.clone(),
            method: methods[c.method].clone(),
            validation_accuracy: c.record.validation_accuracy,
            validation_agreement: c.record.validation_agreement,
            validation_macro_f1: c.record.validation_macro_f1,
            error: match &c.record.outcome {
                Outcome::Failed(e) => Some(e.clone()),
                _ => None,
            },
        })
        .collect();
    let mut records = over;
    records.extend(live.iter().map(|c| c.record.clone()));
    Winner {
        kind: fp.kind,
        quantize: fp.quantize,
        method: methods[live[best].method].clone(),
        records,
        seconds: 0.0,
        candidates,
        student: None,
    }
}

impl Live {
    /// Records a round's outcome (accuracy, agreement, macro-F1, or the
    /// error) and the score `by` ranks on; a failed candidate loses its
    /// scores and its student.
    fn scored(&mut self, outcome: std::result::Result<(f64, f64, f64), String>, by: ChooseBy, round: usize) {
        self.record.outcome = Outcome::Dropped { round };
        match outcome {
            Ok((acc, agree, f1)) => {
                self.record.validation_accuracy = Some(acc);
                self.record.validation_agreement = Some(agree);
                self.record.validation_macro_f1 = Some(f1);
                self.score = Some(by.of((acc, agree, f1)));
            }
            Err(e) => {
                self.record.outcome = Outcome::Failed(e);
                self.record.validation_accuracy = None;
                self.record.validation_agreement = None;
                self.record.validation_macro_f1 = None;
                self.score = None;
                self.student = None;
            }
        }
    }
}

/// A kind's training rows in the search's shuffled order, with a method's
/// targets on them.
struct Slice<'a> {
    data: &'a Dataset,
    targets: &'a crate::train::TrainingTargets,
    order: &'a [usize],
}

impl Slice<'_> {
    /// One round of `c`: [`Slice::advance`], then its validation scores
    /// (accuracy, agreement, macro-F1) on `valid`, the student view of the
    /// rows `val`. When the options keep the best epoch, a round that
    /// scores no better by `by` than the candidate's best is undone: its
    /// student and scores are those of its first best round (its epochs
    /// are spent all the same).
    #[allow(clippy::too_many_arguments)]
    fn round(
        &self,
        c: &mut Live,
        kind: StudentKind,
        epochs: f64,
        (valid, val, by): (&Dataset, &[usize], ChooseBy),
        views: &Views,
        opts: &DistillOptions,
        device: &Device,
    ) -> Result<(f64, f64, f64)> {
        let before = opts.keeps_best_epoch().then(|| c.student.clone()).flatten();
        let s = self.advance(
            c,
            kind,
            epochs,
            (Some(valid).filter(|_| opts.keeps_best_epoch()), views),
            opts,
            device,
        )?;
        let scored = views.score(&logits_of(&s, valid, device)?, val, device)?;
        let r = &c.record;
        if let (Some(b), Some(best), (Some(acc), Some(agree), Some(f1))) = (
            before,
            c.score,
            (r.validation_accuracy, r.validation_agreement, r.validation_macro_f1),
        ) && by.of(scored) <= best
        {
            c.student = Some(b);
            return Ok((acc, agree, f1));
        }
        c.student = Some(s);
        Ok(scored)
    }

    /// The chosen candidate `c` (of `kind`, by `method`) trained on from
    /// where the search left it to the options' full epochs, as one more
    /// round: kept at its best epoch, and as it was when the epochs on are
    /// no better. Its student, or none when it has none (a search that
    /// trained nothing).
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        (c, kind, method): (&mut Live, StudentKind, &Method),
        valid: (&Dataset, &[usize], ChooseBy),
        views: &Views,
        opts: &DistillOptions,
        device: &Device,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Option<AnyStudent>> {
        if c.student.is_none() {
            return Ok(None);
        }
        let more = opts.epochs as f64 - c.record.epochs;
        if more > 1e-9 {
            progress(Progress::Final {
                method,
                rows: self.data.len(),
            });
            let t = Instant::now();
            let scored = self.round(c, kind, more, valid, views, opts, device)?;
            c.record.seconds += t.elapsed().as_secs_f64();
            c.scored(Ok(scored), valid.2, 0);
            c.record.outcome = Outcome::Chosen;
        }
        Ok(c.student.take())
    }

    /// `c`'s student trained `epochs` more: whole epochs over every row
    /// (kept at their best epoch on `valid` when given), then the fraction
    /// left as the next rows of the shuffled order from the candidate's
    /// cursor (wrapping). A fresh optimiser each call: the slices compare
    /// candidates.
    fn advance(
        &self,
        c: &mut Live,
        kind: StudentKind,
        epochs: f64,
        (valid, views): (Option<&Dataset>, &Views),
        opts: &DistillOptions,
        device: &Device,
    ) -> Result<AnyStudent> {
        let mut s = match c.student.take() {
            Some(s) => s,
            None => init_student(kind, self.targets.outputs(), &views.parts(), opts, device)?,
        };
        let n = self.order.len();
        let whole = epochs.floor() as usize;
        // the class weights of every training row, not of a slice's
        let weights = opts.class_weight.weights(self.data);
        if whole > 0 {
            (s, _) = fit_student(
                s,
                kind,
                (self.data, valid),
                self.targets,
                (whole, weights.clone()),
                opts,
                device,
            )?;
        }
        let frac = epochs - whole as f64;
        let rows = if frac > 0.0 {
            ((frac * n as f64).round() as usize).max(1)
        } else {
            0
        };
        if rows > 0 {
            let pos: Vec<usize> = (c.cursor..c.cursor + rows).map(|p| self.order[p % n]).collect();
            c.cursor = (c.cursor + rows) % n;
            let part = self.data.subset(&pos)?;
            let targets = self.targets.rows_at(&pos, device)?;
            (s, _) = fit_student(s, kind, (&part, None), &targets, (1, weights), opts, device)?;
        }
        c.record.epochs += epochs;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_and_the_chosen_spend_the_trainings_and_end_with_one() {
        for groups in [
            vec![2],
            vec![3],
            vec![5],
            vec![9, 9, 9],
            vec![9],
            vec![1, 1, 1],
            vec![4, 9],
            vec![33],
        ] {
            let plan = schedule(Search::Halving, &groups, 10, (3.0, false));
            // first each kind's best third, to one a kind; then all
            let mut alive = groups.clone();
            for round in &plan {
                assert_eq!(round.candidates, alive.iter().sum::<usize>(), "{groups:?}");
                assert_eq!(round.within_kinds, alive.iter().any(|&g| g > 1), "{groups:?}");
                alive = if round.within_kinds {
                    alive.iter().map(|g| g.div_ceil(3)).collect()
                } else {
                    vec![1; alive.len().div_ceil(3)]
                };
            }
            assert_eq!(alive.iter().sum::<usize>(), 1, "{groups:?} ends with one");
            // trained again from the start: the rounds spend the trainings less one
            let spent: f64 = plan.iter().map(|r| r.candidates as f64 * r.epochs).sum();
            assert!((spent - 20.0).abs() < 1e-9, "{groups:?}: {spent} epochs in all");
            // each survivor trains more a round than the round before
            assert!(plan.windows(2).all(|w| w[1].epochs > w[0].epochs), "{plan:?}");
            // trained on: the rounds and the chosen one's epochs after them
            // spend the trainings, the chosen one never past the full epochs
            let plan = schedule(Search::Halving, &groups, 10, (3.0, true));
            let spent: f64 = plan.iter().map(|r| r.candidates as f64 * r.epochs).sum();
            let chosen: f64 = plan.iter().map(|r| r.epochs).sum();
            assert!(
                chosen <= 10.0 + 1e-9,
                "{groups:?}: the chosen one trains {chosen} epochs"
            );
            let whole = spent + (10.0 - chosen);
            assert!(whole <= 30.0 + 1e-9, "{groups:?}: {whole} epochs in all");
            // all of it, unless the chosen one reaches the full epochs in the rounds
            assert!(
                (whole - 30.0).abs() < 1e-9 || (chosen - 10.0).abs() < 1e-9,
                "{groups:?}: {whole}"
            );
        }
        // 27 candidates: 2 rounds within the kinds (9, then 3 each), 1 across
        let plan = schedule(Search::Halving, &[9, 9, 9], 10, (3.0, false));
        let counts: Vec<usize> = plan.iter().map(|r| r.candidates).collect();
        assert_eq!(counts, [27, 9, 3]);
        assert!((plan[0].epochs - 20.0 / 3.0 / 27.0).abs() < 1e-12);
        // trained on: the rounds spend s with s + 1 - s x (1/27 + 1/9 + 1/3) / 3 = 3
        let on = schedule(Search::Halving, &[9, 9, 9], 10, (3.0, true));
        let s = 2.0 / (1.0 - (1.0 / 27.0 + 1.0 / 9.0 + 1.0 / 3.0) / 3.0);
        assert!((on[0].epochs - s * 10.0 / 3.0 / 27.0).abs() < 1e-12, "{on:?}");
        // a larger budget: every slice in proportion
        let more = schedule(Search::Halving, &[9, 9, 9], 10, (6.0, false));
        assert!(
            more.iter()
                .zip(&plan)
                .all(|(m, p)| (m.epochs - 2.5 * p.epochs).abs() < 1e-12)
        );
        let one = |n, e, w| Round {
            candidates: n,
            epochs: e,
            within_kinds: w,
        };
        assert_eq!(
            schedule(Search::Exhaustive, &[9, 9, 9], 10, (3.0, true)),
            vec![one(27, 10.0, false)]
        );
        assert_eq!(
            schedule(Search::Halving, &[1], 10, (3.0, false)),
            vec![one(1, 10.0, false)]
        );
    }

    #[test]
    fn the_best_third_goes_on_ties_to_the_earlier() {
        // kinds 0 (candidates 0..3) and 1 (3..6); candidate 4 failed
        let s = [
            (0, Some(0.5)),
            (0, Some(0.9)),
            (0, Some(0.9)),
            (1, Some(0.7)),
            (1, None),
            (1, Some(0.8)),
        ];
        let alive = [0, 1, 2, 3, 5];
        // within kinds: ceil(3/3) = 1 of kind 0 (the earlier of the tie), ceil(2/3) = 1 of kind 1
        assert_eq!(keep(&s, &alive, Search::Halving, true), [1, 5]);
        // across: ceil(5/3) = 2 of all, the tie kept in order
        assert_eq!(keep(&s, &alive, Search::Halving, false), [1, 2]);
        assert_eq!(keep(&s, &alive, Search::Exhaustive, false), [1]);
        assert_eq!(best_scored(&s), Some(1));
        assert_eq!(best_scored(&[(0, None)]), None);
    }
}
