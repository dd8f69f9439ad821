//! Batched prediction: input checks, chunking, parallelism, output checks.
//!
//! A batch is cut into chunks of [`PREDICT_CHUNK`] pairs that rayon spreads over the
//! threads of the pool it runs in (see the crate docs, "Threads"). A pair's logit depends only on
//! the pair, so the thread count never changes a result. Errors are those of the first
//! bad chunk in row order; within a chunk, the first bad row, `x` before `y`, and a
//! non-finite input before a logit that overflowed.

use ndarray::{Array1, ArrayView2, s};
use rayon::prelude::*;

use super::PairClassifier;
use super::forward::Work;
use crate::combiner::{PairCombiner, check_pair};
use crate::data::{PairData, all_finite};
use crate::error::{Error, Result};

/// Pairs per chunk in batched prediction: big enough for efficient matrix products,
/// small enough that a chunk's rows stay in cache between the combiner and the head.
pub(crate) const PREDICT_CHUNK: usize = 128;

/// Chunks per rayon task at least (512 pairs): below that, splitting costs more than it
/// saves.
const MIN_CHUNKS_PER_TASK: usize = 4;

/// Checks that every value of the pairs `x[r], y[r]` is finite. Names the first bad pair
/// row (plus `offset`), and at the same row `x` before `y`.
fn check_pair_finite(x: ArrayView2<f32>, y: ArrayView2<f32>, offset: usize) -> Result<()> {
    if all_finite(x) && all_finite(y) {
        return Ok(());
    }
    for (r, (xr, yr)) in x.rows().into_iter().zip(y.rows()).enumerate() {
        for (what, row) in [("x", xr), ("y", yr)] {
            if let Some((col, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what,
                    row: offset + r,
                    col,
                    value,
                });
            }
        }
    }
    unreachable!("all_finite saw a non-finite value that the row scan did not")
}

/// `Err(NonFiniteLogit)` naming the first non-finite logit (row plus `offset`).
fn check_logits(logits: &[f32], offset: usize) -> Result<()> {
    match logits.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(r) => Err(Error::NonFiniteLogit {
            row: offset + r,
            value: logits[r],
        }),
    }
}

/// The first error in row order (the results are in chunk order).
fn first_error(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().collect::<Result<Vec<()>>>().map(drop)
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Checks a batch from the user: same shapes, width `input_dim`, at least one row.
    fn check_batch(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<()> {
        if x.nrows() == 0 {
            return Err(Error::Empty { what: "x" });
        }
        if x.ncols() != self.input_dim {
            return Err(Error::WidthMismatch {
                what: "x",
                expected: self.input_dim,
                found: x.ncols(),
            });
        }
        check_pair(x, y)
    }

    /// Logits for a batch of pairs `x[i], y[i]` (`x, y: (n, d)`), computed in chunks on
    /// the current rayon pool; the inputs are read in place, never copied (except into the
    /// encoder's buffer when the classifier has one).
    ///
    /// Errors: empty input or wrong widths; [`Error::NonFinite`] for a NaN/inf input,
    /// naming the first bad pair row (and `x` before `y`); [`Error::NonFiniteLogit`] when
    /// finite inputs are so large that the model's arithmetic overflows `f32` (for example
    /// `Product` on values near `1e20`). A returned logit is always finite.
    pub fn predict_logits(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        self.check_batch(x, y)?;
        let out = self.chunked(
            x.nrows(),
            || (),
            |work, _, r, dst| {
                let (xs, ys) = (x.slice(s![r.clone(), ..]), y.slice(s![r.clone(), ..]));
                self.predict_chunk(xs, ys, r.start, work, dst)
            },
        )?;
        Ok(Array1::from(out))
    }

    /// The chunk driver of every batched prediction: cuts an output of `n` logits into
    /// chunks of [`PREDICT_CHUNK`] rows spread over the current rayon pool, each task
    /// with its own buffers (`Work` for at most one chunk, plus `init()`), and calls
    /// `f(work, extra, rows, dst)` per chunk. Returns the logits, or the error of the
    /// first failing chunk in row order (so the reported row does not depend on the
    /// thread count).
    pub(crate) fn chunked<S>(
        &self,
        n: usize,
        init: impl Fn() -> S + Sync + Send,
        f: impl Fn(&mut Work, &mut S, std::ops::Range<usize>, &mut [f32]) -> Result<()> + Sync + Send,
    ) -> Result<Vec<f32>> {
        let mut out = vec![0.0f32; n];
        let cap = n.min(PREDICT_CHUNK);
        let results: Vec<Result<()>> = out
            .par_chunks_mut(PREDICT_CHUNK)
            .enumerate()
            .with_min_len(MIN_CHUNKS_PER_TASK)
            .map_init(
                || (self.work(cap), init()),
                |(work, extra), (c, dst)| {
                    let r = c * PREDICT_CHUNK..c * PREDICT_CHUNK + dst.len();
                    f(work, extra, r, dst)
                },
            )
            .collect();
        first_error(results)?;
        Ok(out)
    }

    /// Logits of the pairs `x, y` (rows `offset..` of the caller's batch, at most one
    /// chunk) into `out`.
    fn predict_chunk(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        offset: usize,
        work: &mut Work,
        out: &mut [f32],
    ) -> Result<()> {
        let k = x.nrows();
        if self.encoder.is_none() && self.combiner.propagates_non_finite() {
            // Validate the combined rows while they are in cache; only a non-finite value
            // there sends us back to the inputs (it may also be an overflow of finite
            // inputs, which is not an input error).
            let c = self.combine_into(x, y, work)?;
            if !all_finite(c) {
                check_pair_finite(x, y, offset)?;
            }
            self.finish_forward(k, work);
        } else {
            check_pair_finite(x, y, offset)?;
            self.forward_views(x, y, work)?;
        }
        let logits = work.logits(k);
        check_logits(logits, offset)?;
        out.copy_from_slice(logits);
        Ok(())
    }

    /// Probabilities for a batch: `sigmoid(logit)`, or the fitted calibration's
    /// probability once [`calibrate`](Self::calibrate) ran; see
    /// [`predict_logits`](Self::predict_logits) (which stays raw).
    pub fn predict_proba(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self
            .predict_logits(x, y)?
            .mapv_into(|z| self.decision.proba(z)))
    }

    /// Logit for one pair given as slices of length `input_dim`.
    pub fn predict_pair_logit(&self, x: &[f32], y: &[f32]) -> Result<f32> {
        for (what, v) in [("x", x), ("y", y)] {
            if v.len() != self.input_dim {
                return Err(Error::WidthMismatch {
                    what,
                    expected: self.input_dim,
                    found: v.len(),
                });
            }
        }
        let xv = ArrayView2::from_shape((1, x.len()), x).expect("one row of input_dim values");
        let yv = ArrayView2::from_shape((1, y.len()), y).expect("one row of input_dim values");
        Ok(self.predict_logits(xv, yv)?[0])
    }

    /// Probability that one pair is similar (calibrated like
    /// [`predict_proba`](Self::predict_proba)).
    pub fn predict_pair(&self, x: &[f32], y: &[f32]) -> Result<f32> {
        self.predict_pair_logit(x, y)
            .map(|z| self.decision.proba(z))
    }

    /// Logits for every pair of a validated dataset, in order, computed like
    /// [`predict_logits`](Self::predict_logits) (same chunks, same pool, bit-identical
    /// logits). Errors: a dataset of another width, or [`Error::NonFiniteLogit`].
    ///
    /// Pairs of rows of one item matrix ([`ItemPairs`](crate::ItemPairs)) are scored by an
    /// [`IdScorer`](crate::IdScorer) instead, which works per item when the pairs
    /// outnumber the items (logits then equal to rounding, see [`ids`](crate::ids)).
    pub fn logits_for(&self, data: &dyn PairData) -> Result<Vec<f32>> {
        self.check_data(data, "data")?;
        if let Some((items, pairs)) = data.item_pairs() {
            return crate::IdScorer::new(self, items)?.logits(pairs);
        }
        self.chunked(
            data.len(),
            || Vec::with_capacity(PREDICT_CHUNK),
            |work, idx, r, dst| {
                let k = dst.len();
                idx.clear();
                idx.extend(r.clone());
                let (xs, ys) = work.inputs_mut(k);
                data.gather(idx, xs, ys);
                self.forward_stacked(k, work)?;
                let logits = work.logits(k);
                check_logits(logits, r.start)?;
                dst.copy_from_slice(logits);
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use crate::combiner::Combiner;
    use crate::model::{EncoderConfig, PairClassifier};

    /// Logits of the reference path: inputs stacked, then `forward_stacked`.
    fn reference(model: &PairClassifier, x: &Array2<f32>, y: &Array2<f32>) -> Vec<f32> {
        let n = x.nrows();
        let mut work = model.work(n);
        let (mut xs, mut ys) = work.inputs_mut(n);
        xs.assign(x);
        ys.assign(y);
        model.forward_stacked(n, &mut work).unwrap();
        work.logits(n).to_vec()
    }

    #[test]
    fn fast_prediction_paths_match_the_reference_forward_bit_for_bit() {
        let n = 700; // several chunks and several rayon tasks, the last chunk short
        let x = Array2::from_shape_fn((n, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32 * 0.3 - 1.5);
        let y = Array2::from_shape_fn((n, 5), |(i, j)| ((i * 5 + j) % 13) as f32 * 0.2 - 1.0);
        for combiner in Combiner::builtins() {
            for encoder in [false, true] {
                let mut b = PairClassifier::builder(5, combiner.clone()).seed(4);
                if encoder {
                    b = b.encoder(EncoderConfig::linear(3).unwrap());
                }
                let model = b.build().unwrap();
                let want: Vec<u32> = reference(&model, &x, &y)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                let fast = model.predict_logits(x.view(), y.view()).unwrap();
                let got: Vec<u32> = fast.iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "{combiner}, encoder {encoder}");
                let one = model
                    .predict_pair_logit(
                        x.row(n - 1).as_slice().unwrap(),
                        y.row(n - 1).as_slice().unwrap(),
                    )
                    .unwrap();
                assert_eq!(
                    one.to_bits(),
                    want[n - 1],
                    "{combiner}, encoder {encoder}: one pair"
                );
            }
        }
    }
}
