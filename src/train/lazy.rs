//! Lazy Adam: Adam on the rows of an embedding table that a batch touched.
//!
//! A bag of hashed n-grams reads a few hundred of its 2^18 rows per batch,
//! yet dense Adam decays the moments of, and moves, every row at every
//! step: the table, not the batch, sets the step's cost. [`LazyAdam`]
//! (what PyTorch's `SparseAdam` and TensorFlow's `LazyAdam` do) updates
//! only the rows a step names: their moments and weights follow burn's
//! Adam exactly (same bias correction, `epsilon` on the corrected second
//! moment), the other rows and their moments stay as they are. With
//! every row named it is Adam. The step counter is global (one per call),
//! as in PyTorch.
//!
//! [`DistillConfig::lazy_tables`](crate::train::DistillConfig) turns it on
//! for the parameters a [`Student`](crate::train::Student) names in
//! [`embedding_tables`](crate::train::Student::embedding_tables); every
//! other parameter keeps the configured optimizer.
//!
//! Which rows: the trainer knows the batch's token ids, and a table the
//! student names is indexed by them, so [`Distiller`](crate::train::Distiller)
//! hands the batch's distinct ids to the step ([`RowsHint`]): the rows the
//! batch *read*, as PyTorch's sparse embeddings do (a row read with an
//! exactly zero gradient, say a max-pool's loser, gets a momentum-only
//! step). Without a hint (burn-train's `Learner`), or with one naming an
//! id past the table, the step finds the rows with a non-zero gradient
//! itself, a scan of the whole gradient.

use std::sync::{Arc, Mutex};

use burn::optim::{AdaptiveMomentumState, LearningRate, Optimizer};
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

/// How weight decay enters a lazy step (only on the touched rows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decay {
    /// No decay.
    None,
    /// Adam's L2 penalty, added to the gradient.
    L2(f32),
    /// AdamW's decoupled decay, `w * (1 - lr * penalty)`.
    Decoupled(f32),
}

/// Adam restricted to the rows (first-dimension slices) with a non-zero
/// gradient; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct LazyAdam {
    pub(crate) beta_1: f32,
    pub(crate) beta_2: f32,
    pub(crate) epsilon: f32,
    pub(crate) decay: Decay,
    pub(crate) rows: RowsHint,
}

/// The rows the next step updates (the batch's distinct token ids) and
/// the largest of them, set by the trainer before each step; `None` to
/// find them from the gradient.
pub(crate) type RowsHint = Arc<Mutex<Option<(Tensor<1, Int>, usize)>>>;

impl LazyAdam {
    /// burn's Adam defaults (0.9, 0.999, 1e-5) with `decay`.
    pub(crate) fn new(decay: Decay) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            decay,
            rows: RowsHint::default(),
        }
    }
}

impl Optimizer for LazyAdam {
    type State<const D: usize> = AdaptiveMomentumState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let shape = tensor.dims();
        let rows = shape[0].max(1);
        let cols = shape.iter().product::<usize>() / rows;
        let flat = |t: Tensor<D>| t.reshape([rows, cols]);
        let device = tensor.device();
        let (m, v, time) = match state {
            Some(s) => (flat(s.moment_1), flat(s.moment_2), s.time),
            None => (
                Tensor::zeros([rows, cols], &device),
                Tensor::zeros([rows, cols], &device),
                0,
            ),
        };
        let time = time + 1;
        let (w, g) = (flat(tensor), flat(grad));
        let hint = self.rows.lock().ok().and_then(|h| h.clone());
        let touched = match hint {
            // an id past this table: the hint is not for it, scan instead
            Some((idx, max)) if max < rows => idx.to_device(&device),
            // rows with any non-zero (or NaN) gradient value
            _ => {
                let at = g
                    .clone()
                    .abs()
                    .sum_dim(1)
                    .reshape([rows])
                    .equal_elem(0.0)
                    .bool_not()
                    .argwhere();
                let n = at.dims()[0];
                at.reshape([n])
            }
        };
        let (w, m, v) = if touched.dims()[0] == 0 {
            (w, m, v)
        } else {
            self.update_rows(lr, time, (w, m, v), g, touched)
        };
        let unflat = |t: Tensor<2>| t.reshape(shape);
        let state = AdaptiveMomentumState::new(time, unflat(m), unflat(v));
        (unflat(w), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.to_device(device)
    }
}

impl LazyAdam {
    /// One Adam step on the rows `idx` of `(w, m, v)`; the other rows are
    /// returned as they were. Updates are written as differences added at
    /// `idx` (the one indexed update every backend has).
    fn update_rows(
        &self,
        lr: LearningRate,
        time: usize,
        (w, m, v): (Tensor<2>, Tensor<2>, Tensor<2>),
        g: Tensor<2>,
        idx: Tensor<1, Int>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let ws = w.clone().select(0, idx.clone());
        let mut gs = g.select(0, idx.clone());
        if let Decay::L2(p) = self.decay {
            gs = gs + ws.clone().mul_scalar(p);
        }
        let ms_old = m.clone().select(0, idx.clone());
        let vs_old = v.clone().select(0, idx.clone());
        let ms = ms_old.clone().mul_scalar(b1) + gs.clone().mul_scalar(1.0 - b1);
        let vs = vs_old.clone().mul_scalar(b2) + gs.square().mul_scalar(1.0 - b2);
        let t = time as i32;
        let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let factor = bc2_sqrt / (1.0 - b1.powi(t));
        let step = ms
            .clone()
            .mul_scalar(factor)
            .div(vs.clone().sqrt().add_scalar(self.epsilon * bc2_sqrt))
            .mul_scalar(lr);
        let ws_new = match self.decay {
            Decay::Decoupled(p) => ws.clone().mul_scalar(1.0 - lr * f64::from(p)) - step,
            _ => ws.clone() - step,
        };
        let add = |t: Tensor<2>, new: Tensor<2>, old: Tensor<2>| {
            t.select_assign(0, idx.clone(), new - old, IndexingUpdateOp::Add)
        };
        (add(w, ws_new, ws), add(m, ms, ms_old), add(v, vs, vs_old))
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::{AdamConfig, Optimizer};
    use burn::prelude::*;
    use serde_json::Value;

    use super::{Decay, LazyAdam};

    /// tests/data/lazy_adam/reference.py's output.
    const EXPECTED: &str = include_str!("../../tests/data/lazy_adam/expected.json");

    fn matrix(v: &Value) -> Vec<Vec<f32>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    }

    fn tensor(rows: &[Vec<f32>], device: &Device) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), rows[0].len()]), device)
    }

    fn host(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "{what}[{i}]: {x} vs {y}");
        }
    }

    /// Three steps of `opt` on a case's gradients; (w, m, v) after each.
    fn run(opt: &LazyAdam, case: &Value, hint: bool, device: &Device) -> Vec<[Vec<f32>; 3]> {
        let mut w = tensor(&matrix(&case["w0"]), device);
        let mut state = None;
        let mut out = Vec::new();
        for g in case["grads"].as_array().unwrap() {
            let g = matrix(g);
            if hint {
                let rows: Vec<usize> = (0..g.len()).filter(|&r| g[r].iter().any(|&x| x != 0.0)).collect();
                let max = rows.iter().copied().max().unwrap_or(0);
                *opt.rows.lock().unwrap() = Some((crate::util::indices(&rows, device), max));
            }
            let (nw, ns) = opt.step(case["lr"].as_f64().unwrap(), w, tensor(&g, device), state);
            let s = ns.clone().unwrap();
            out.push([host(nw.clone()), host(s.moment_1), host(s.moment_2)]);
            (w, state) = (nw, ns);
        }
        out
    }

    fn decay(case: &Value) -> Decay {
        let p = case["decay"]["penalty"].as_f64().unwrap() as f32;
        match case["decay"]["kind"].as_str().unwrap() {
            "l2" => Decay::L2(p),
            "decoupled" => Decay::Decoupled(p),
            _ => Decay::None,
        }
    }

    #[test]
    fn lazy_adam_matches_the_numpy_reference_and_the_rows_hint_equals_the_scan() {
        let device = Device::default();
        let expected: Value = serde_json::from_str(EXPECTED).unwrap();
        for (name, case) in expected.as_object().unwrap() {
            let opt = LazyAdam::new(decay(case));
            let got = run(&opt, case, false, &device);
            for (t, (step, want)) in got.iter().zip(case["steps"].as_array().unwrap()).enumerate() {
                for (k, key) in ["w", "m", "v"].iter().enumerate() {
                    let want: Vec<f32> = matrix(&want[key]).concat();
                    close(&step[k], &want, 1e-6, &format!("{name} step {} {key}", t + 1));
                }
            }
            // the trainer's hint (the batch's rows) gives the same steps
            let hinted = run(&LazyAdam::new(decay(case)), case, true, &device);
            assert_eq!(hinted, got, "{name}: hint vs scan");
        }
    }

    #[test]
    fn with_every_row_touched_lazy_adam_is_adam() {
        let device = Device::default();
        let w0: Vec<Vec<f32>> = (0..4)
            .map(|r| (0..3).map(|c| (r * 3 + c) as f32 / 7.0 - 0.8).collect())
            .collect();
        let (mut wl, mut wa) = (tensor(&w0, &device), tensor(&w0, &device));
        let (lazy, adam) = (LazyAdam::new(Decay::None), AdamConfig::new().build());
        let (mut sl, mut sa) = (None, None);
        for step in 0..3 {
            let g: Vec<Vec<f32>> = (0..4)
                .map(|r| {
                    (0..3)
                        .map(|c| ((r * 5 + c * 3 + step) % 7) as f32 / 3.0 - 1.1)
                        .collect()
                })
                .collect();
            (wl, sl) = lazy.step(1e-2, wl, tensor(&g, &device), sl);
            (wa, sa) = adam.step(1e-2, wa, tensor(&g, &device), sa);
        }
        close(&host(wl), &host(wa), 1e-6, "lazy vs burn's Adam");
    }

    /// The table before and after 3 epochs of AdamW (decay 0.1) on texts
    /// that read ids 0..24 of 64.
    fn bag_tables(lazy: bool) -> (Vec<f32>, Vec<f32>, f64, f64) {
        use crate::data::Dataset;
        use crate::train::{BagConfig, DistillConfig, Distiller, Method, OptimizerKind};
        let device = Device::default();
        let seqs: Vec<Vec<u32>> = (0..40u32)
            .map(|i| vec![i % 24, (i * 7) % 24, (i * 5 + 3) % 24])
            .collect();
        let labels = (0..40).map(|i| i % 2).collect();
        let data = Dataset::from_tokens(seqs, labels, 2).unwrap();
        let targets = Method::Plain.prepare(&data, None).unwrap();
        let config = BagConfig::new(64, 2).with_dim(4).with_seed(3);
        let before = host(config.init(&device).unwrap().embed.weight.val());
        let cfg = DistillConfig::new(3, 0.05)
            .with_batch_size(8)
            .with_optimizer(OptimizerKind::AdamW)
            .with_weight_decay(0.1)
            .with_lazy_tables(lazy);
        let trained = Distiller::new(cfg)
            .fit(config.init(&device).unwrap(), &data, &targets, None, &device)
            .unwrap();
        let h = &trained.history;
        (
            before,
            host(trained.student.embed.weight.val()),
            h[0].train_loss,
            h[2].train_loss,
        )
    }

    #[test]
    fn a_bag_trained_lazily_moves_exactly_the_rows_it_reads() {
        let row = |t: &[f32], r: usize| t[r * 4..(r + 1) * 4].to_vec();
        let (before, after, first, last) = bag_tables(true);
        for r in 0..64 {
            if r < 24 {
                assert_ne!(row(&after, r), row(&before, r), "row {r} is read and moves");
            } else {
                assert_eq!(row(&after, r), row(&before, r), "row {r} is never read");
            }
        }
        assert!(last < first);
        // the control: dense AdamW's decay moves the rows no text reads
        let (before, dense, _, _) = bag_tables(false);
        assert!((24..64).all(|r| row(&dense, r) != row(&before, r)));
    }

    #[test]
    fn a_hint_names_rows_read_and_one_past_the_table_falls_back_to_the_scan() {
        let device = Device::default();
        let w0 = vec![vec![0.5f32, -0.5], vec![0.25, 0.75], vec![1.0, -1.0]];
        let g1 = vec![vec![0.1f32, 0.2], vec![0.3, -0.1], vec![0.0, 0.0]];
        let g2 = vec![vec![0.2f32, 0.1], vec![0.0, 0.0], vec![0.0, 0.0]];
        let steps = |hint2: Option<(Vec<usize>, usize)>| {
            let opt = LazyAdam::new(Decay::None);
            let (w, s) = opt.step(0.1, tensor(&w0, &device), tensor(&g1, &device), None);
            *opt.rows.lock().unwrap() = hint2.map(|(r, max)| (crate::util::indices(&r, &device), max));
            let (w, _) = opt.step(0.1, w, tensor(&g2, &device), s);
            host(w)
        };
        let scan = steps(None);
        // row 1 was read in step 1 only: the scan leaves it alone in step 2
        let after1 = {
            let opt = LazyAdam::new(Decay::None);
            host(opt.step(0.1, tensor(&w0, &device), tensor(&g1, &device), None).0)
        };
        assert_eq!(scan[2..4], after1[2..4]);
        // named by the hint although its gradient is zero: a momentum step
        let read = steps(Some((vec![0, 1], 1)));
        assert_eq!(read[0..2], scan[0..2]);
        assert_ne!(read[2..4], scan[2..4]);
        assert_eq!(read[4..6], scan[4..6]);
        // an id past the table's 3 rows: the hint is ignored
        assert_eq!(steps(Some((vec![0, 7], 7))), scan);
    }
}
