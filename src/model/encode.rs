//! The learned item vectors: [`PairClassifier::encode`].
//!
//! The encoder is the shared map `phi` applied to both items of a pair before the
//! combiner. `encode` runs exactly that map (same weights, same matrix products, same
//! chunk buffers) on a batch of single items, so a vector from `encode` is bit for bit
//! the one the model combines inside (tested against the forward path).
//!
//! A model without an encoder combines the items themselves: `encode` then returns a copy
//! of its input (the identity map), so code that retrieves by encoded vectors works the
//! same for every model.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;

use super::PairClassifier;
use super::predict::PREDICT_CHUNK;
use crate::combiner::PairCombiner;
use crate::data::check_finite;
use crate::error::{Error, Result};

impl<C: PairCombiner> PairClassifier<C> {
    /// The encoder's output for every row of `items` (`(n, input_dim)` in,
    /// `(n, encoded width)` out): the vectors the combiner sees, bit for bit.
    ///
    /// Rows are encoded in chunks of 128 on the threads of the current rayon pool; a row's
    /// vector depends only on the row, never on the chunking or the thread count.
    /// Without an encoder the result is a copy of `items` (identity).
    ///
    /// Ranking: with a distance head (`SquaredDiff`/`AbsDiff` then
    /// [`HeadConfig::Distance`](crate::HeadConfig::Distance)) the logit is a strictly
    /// decreasing function of the squared L2 (resp. L1) distance of the encoded items
    /// (until the distance falls below the head's floor, where logits tie at their
    /// maximum), and with a [`Similarity`](crate::Similarity) combiner followed by a
    /// linear head with a positive weight it is an increasing function of the similarity.
    /// So ranking candidates by that distance of `encode` vectors ranks them by the
    /// model's logit, and the vectors can go into any vector index.
    ///
    /// Errors: [`Error::Empty`] for no rows, [`Error::WidthMismatch`] for a width other
    /// than [`input_dim`](Self::input_dim), [`Error::NonFinite`] naming the first bad row
    /// and column.
    ///
    /// ```
    /// use ndarray::array;
    /// use sympair::{Combiner, EncoderConfig, MlpConfig, PairClassifier};
    /// let model = PairClassifier::builder(3, Combiner::AbsDiff)
    ///     .encoder(EncoderConfig::new(MlpConfig::new([8])?, 4)?)
    ///     .seed(1)
    ///     .build()?;
    /// let v = model.encode(array![[0.1f32, -0.4, 2.0], [1.5, 0.3, -0.2]].view())?;
    /// assert_eq!(v.dim(), (2, 4));
    /// # Ok::<(), sympair::Error>(())
    /// ```
    pub fn encode(&self, items: ArrayView2<f32>) -> Result<Array2<f32>> {
        if items.nrows() == 0 {
            return Err(Error::Empty { what: "items" });
        }
        if items.ncols() != self.input_dim {
            return Err(Error::WidthMismatch {
                what: "items",
                expected: self.input_dim,
                found: items.ncols(),
            });
        }
        check_finite("items", items)?;
        Ok(self.encode_unchecked(items))
    }

    /// The encoder, mutable, for encoder-only training (`metric`).
    pub(crate) fn encoder_mut(&mut self) -> Option<&mut crate::mlp::Mlp> {
        self.encoder.as_mut()
    }

    /// [`encode`](Self::encode) on items already checked (right width, finite, non-empty).
    pub(crate) fn encode_unchecked(&self, items: ArrayView2<f32>) -> Array2<f32> {
        let Some(enc) = self.encoder.as_ref() else {
            return items.to_owned();
        };
        let n = items.nrows();
        let cap = n.min(PREDICT_CHUNK);
        let e = enc.output_dim();
        let mut out = vec![0.0f32; n * e];
        // Row-major output: chunk `c` of `PREDICT_CHUNK * e` values holds rows
        // `c * PREDICT_CHUNK..`, written by one task.
        out.par_chunks_mut(PREDICT_CHUNK * e)
            .enumerate()
            .for_each_init(
                || enc.work(cap),
                |ws, (c, dst)| {
                    let start = c * PREDICT_CHUNK;
                    let rows = dst.len() / e;
                    enc.forward(items.slice(s![start..start + rows, ..]), ws);
                    let mut dst = ArrayViewMut2::from_shape((rows, e), dst)
                        .expect("a chunk holds whole rows");
                    dst.assign(&ws.output(rows));
                },
            );
        Array2::from_shape_vec((n, e), out).expect("n rows of width e")
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, s};
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};

    use crate::{Combiner, EncoderConfig, MlpConfig, PairClassifier, Similarity};

    fn random(n: usize, d: usize, seed: u64) -> Array2<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0f32..1.0))
    }

    /// The combiner and head fed with `encode` vectors give the reference forward path's
    /// logits bit for bit, so the vectors are those the model uses inside.
    #[test]
    fn encode_matches_forward_path_bitwise() {
        for combiner in [
            Combiner::AbsDiff,
            Combiner::Product,
            Combiner::ConcatSwapAverage,
            Combiner::Similarity(Similarity::Cosine),
        ] {
            let model = PairClassifier::builder(5, combiner.clone())
                .encoder(EncoderConfig::new(MlpConfig::new([7]).unwrap(), 4).unwrap())
                .seed(3)
                .build()
                .unwrap();
            let n = 300; // more than one chunk of 128, so chunking is exercised
            let (x, y) = (random(n, 5, 1), random(n, 5, 2));
            let (ex, ey) = (
                model.encode(x.view()).unwrap(),
                model.encode(y.view()).unwrap(),
            );
            for start in (0..n).step_by(100) {
                let r = start..(start + 100).min(n);
                let k = r.len();
                let mut reference = model.work(k);
                {
                    let (mut xs, mut ys) = reference.inputs_mut(k);
                    xs.assign(&x.slice(s![r.clone(), ..]));
                    ys.assign(&y.slice(s![r.clone(), ..]));
                }
                model.forward_stacked(k, &mut reference).unwrap();
                let mut fast = model.work(k);
                model
                    .forward_encoded(
                        ex.slice(s![r.clone(), ..]),
                        ey.slice(s![r.clone(), ..]),
                        &mut fast,
                    )
                    .unwrap();
                let a: Vec<u32> = reference.logits(k).iter().map(|v| v.to_bits()).collect();
                let b: Vec<u32> = fast.logits(k).iter().map(|v| v.to_bits()).collect();
                assert_eq!(a, b, "{combiner:?} rows {r:?}");
            }
        }
    }
}
