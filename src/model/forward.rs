//! Buffers, the forward path and the backward pass.
//!
//! [`PairClassifier::forward_stacked`] is the one reference forward path: items stacked
//! as `x` rows then `y` rows, encoder, combiner, head, mean over views. The prediction
//! fast paths (no copy of the inputs without an encoder, combined rows checked while in
//! cache, all-pairs scoring on encoded items) reuse its pieces and are tested against it.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};

use super::PairClassifier;
use super::params::Grads;
use crate::combiner::PairCombiner;
use crate::error::Result;
use crate::head::HeadWork;
use crate::mlp::{Dropout, MlpWork};

/// Training-time dropout of one forward pass over a work buffer (see [`Dropout`]): rates
/// for the head's and the encoder's hidden layers, the slice seed, and the mask key of
/// every head row (`views * n`) and encoder row (`2 * n`). Set by training only.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrainDropout {
    pub(crate) head: f32,
    pub(crate) encoder: f32,
    pub(crate) seed: u64,
    pub(crate) head_keys: Vec<u64>,
    pub(crate) enc_keys: Vec<u64>,
}

/// Reusable buffers for up to `capacity` pairs (rows of the stacked input: `2 * capacity`).
#[derive(Clone, Debug)]
pub(crate) struct Work {
    capacity: usize,
    /// Stacked inputs: pair `i` has `x` at row `i` and `y` at row `n + i`.
    inp: Array2<f32>,
    /// Encoder buffers (its output rows are the encoded `x` then `y`).
    enc: Option<MlpWork>,
    /// Combined rows, `(views * capacity, w)`.
    c: Array2<f32>,
    /// Gradient of the loss with respect to `c` (only with an encoder to train).
    dc: Array2<f32>,
    head: HeadWork,
    /// Mean logits per pair.
    logits: Vec<f32>,
    /// Dropout of the next [`forward_stacked`](PairClassifier::forward_stacked), training
    /// only; `None` (prediction) leaves the forward pass untouched.
    pub(crate) dropout: Option<TrainDropout>,
}

impl Work {
    /// Where the caller puts the inputs of `n` pairs before
    /// [`forward_stacked`](PairClassifier::forward_stacked): `(x rows, y rows)`, `(n, d)` each.
    pub(crate) fn inputs_mut(
        &mut self,
        n: usize,
    ) -> (ArrayViewMut2<'_, f32>, ArrayViewMut2<'_, f32>) {
        assert!(
            n <= self.capacity,
            "{n} pairs in a work buffer for {}",
            self.capacity
        );
        let (x, rest) = self.inp.view_mut().split_at(Axis(0), n);
        let (y, _) = rest.split_at(Axis(0), n);
        (x, y)
    }

    /// Mean logits of the last forward pass over `n` pairs.
    pub(crate) fn logits(&self, n: usize) -> &[f32] {
        &self.logits[..n]
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Buffers for forward and backward passes over up to `capacity` pairs.
    pub(crate) fn work(&self, capacity: usize) -> Work {
        let v = self.combiner.n_views();
        let w = self.combiner.output_dim(self.encoded_dim());
        Work {
            capacity,
            inp: Array2::zeros((2 * capacity, self.input_dim)),
            enc: self.encoder.as_ref().map(|e| e.work(2 * capacity)),
            c: Array2::zeros((v * capacity, w)),
            dc: if self.encoder.is_some() {
                Array2::zeros((v * capacity, w))
            } else {
                Array2::zeros((0, 0))
            },
            head: self.head.work(v * capacity),
            logits: vec![0.0; capacity],
            dropout: None,
        }
    }

    /// The reference forward pass over `n` pairs whose inputs are already in the work
    /// buffer ([`Work::inputs_mut`]). Mean logits land in [`Work::logits`].
    pub(crate) fn forward_stacked(&self, n: usize, work: &mut Work) -> Result<()> {
        assert!(
            n <= work.capacity,
            "{n} pairs in a work buffer for {}",
            work.capacity
        );
        let Work {
            inp,
            enc,
            c,
            dropout,
            ..
        } = work;
        let v = self.combiner.n_views();
        let c = c.slice_mut(s![..v * n, ..]);
        match (&self.encoder, enc.as_mut()) {
            (Some(e), Some(ew)) => {
                let drop = dropout.as_ref().map(|d| Dropout {
                    p: d.encoder,
                    seed: d.seed,
                    keys: &d.enc_keys,
                });
                e.forward_dropout(inp.slice(s![..2 * n, ..]), ew, drop);
                let out = ew.output(2 * n);
                self.combiner
                    .forward(out.slice(s![..n, ..]), out.slice(s![n..2 * n, ..]), c)?;
            }
            (None, None) => {
                self.combiner
                    .forward(inp.slice(s![..n, ..]), inp.slice(s![n..2 * n, ..]), c)?;
            }
            _ => unreachable!("work buffer built for another model (encoder mismatch)"),
        }
        self.finish_forward(n, work);
        Ok(())
    }

    /// Forward over the user's views `x, y` without copying them when there is no encoder;
    /// the same arithmetic as [`forward_stacked`](Self::forward_stacked).
    pub(crate) fn forward_views(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        work: &mut Work,
    ) -> Result<()> {
        let n = x.nrows();
        if self.encoder.is_some() {
            let (mut xs, mut ys) = work.inputs_mut(n);
            xs.assign(&x);
            ys.assign(&y);
            return self.forward_stacked(n, work);
        }
        self.forward_encoded(x, y, work)
    }

    /// Combiner and head over already-encoded items `ex, ey` (`(n, e)`), into
    /// [`Work::logits`].
    pub(crate) fn forward_encoded(
        &self,
        ex: ArrayView2<f32>,
        ey: ArrayView2<f32>,
        work: &mut Work,
    ) -> Result<()> {
        let n = ex.nrows();
        self.combine_into(ex, ey, work)?;
        self.finish_forward(n, work);
        Ok(())
    }

    /// The combiner alone, into the work buffer's combined rows, which it returns.
    pub(crate) fn combine_into<'w>(
        &self,
        ex: ArrayView2<f32>,
        ey: ArrayView2<f32>,
        work: &'w mut Work,
    ) -> Result<ArrayView2<'w, f32>> {
        let n = ex.nrows();
        assert!(
            n <= work.capacity,
            "{n} pairs in a work buffer for {}",
            work.capacity
        );
        let rows = self.combiner.n_views() * n;
        self.combiner
            .forward(ex, ey, work.c.slice_mut(s![..rows, ..]))?;
        Ok(work.c.slice(s![..rows, ..]))
    }

    /// Head over the combined rows of `n` pairs, then the mean over views into
    /// [`Work::logits`].
    pub(crate) fn finish_forward(&self, n: usize, work: &mut Work) {
        let v = self.combiner.n_views();
        let rows = v * n;
        let drop = work.dropout.as_ref().map(|d| Dropout {
            // Salted so that head and encoder layers of the same index draw apart.
            p: d.head,
            seed: crate::mlp::mix(d.seed ^ 0x4EAD),
            keys: &d.head_keys,
        });
        self.head
            .forward_dropout(work.c.slice(s![..rows, ..]), &mut work.head, drop);
        let raw = work.head.output(rows);
        let inv = 1.0 / v as f32;
        for (i, l) in work.logits[..n].iter_mut().enumerate() {
            let mut sum = 0.0f32;
            for view in 0..v {
                sum += raw[[view * n + i, 0]];
            }
            *l = if v == 1 { sum } else { sum * inv };
        }
    }

    /// Backward for the last [`forward_stacked`](Self::forward_stacked) over `n` pairs,
    /// given `dL/dlogit_i` in `d_logits`. Overwrites `grads`.
    ///
    /// Exact gradient symmetry: the encoder's and the two-view head's parameter gradients
    /// are formed as (sum over the first half of the rows) + (sum over the second half),
    /// so swapping `x` and `y` swaps the two terms of one addition. That holds bit for bit
    /// while a half fits in one of matrixmultiply's depth blocks (256 rows); callers keep
    /// `n` at most `TRAIN_SLICE` pairs (see `train.rs`), twice that with swapped copies.
    pub(crate) fn backward_stacked(
        &self,
        n: usize,
        d_logits: &[f32],
        work: &mut Work,
        grads: &mut Grads,
    ) -> Result<()> {
        assert_eq!(d_logits.len(), n, "one logit gradient per pair");
        let v = self.combiner.n_views();
        let rows = v * n;
        let inv = 1.0 / v as f32;
        {
            let mut d_out = work.head.d_output_mut(rows);
            for view in 0..v {
                for (i, &g) in d_logits.iter().enumerate() {
                    d_out[[view * n + i, 0]] = if v == 1 { g } else { g * inv };
                }
            }
        }
        let Work {
            inp,
            enc,
            c,
            dc,
            head,
            ..
        } = work;
        let c = c.slice(s![..rows, ..]);
        let (head_grads, enc_grads) = grads.parts_mut();
        match (&self.encoder, enc.as_mut(), enc_grads) {
            (Some(e), Some(ew), Some(eg)) => {
                let mut dc = dc.slice_mut(s![..rows, ..]);
                self.head
                    .backward(c, head, head_grads, Some(dc.view_mut()), v == 2);
                let (out, mut d_out) = ew
                    .output_and_d_output(2 * n)
                    .expect("an encoder has at least one layer");
                d_out.fill(0.0);
                let (dx, dy) = d_out.view_mut().split_at(Axis(0), n);
                self.combiner.backward(
                    out.slice(s![..n, ..]),
                    out.slice(s![n..2 * n, ..]),
                    dc.view(),
                    dx,
                    dy,
                )?;
                e.backward(inp.slice(s![..2 * n, ..]), ew, eg, None, true);
            }
            (None, None, None) => self.head.backward(c, head, head_grads, None, v == 2),
            _ => unreachable!("work buffer or gradients built for another model"),
        }
        Ok(())
    }
}
