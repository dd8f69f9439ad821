//! Your own storage as training and evaluation data: implement [`PairSource`] for it and
//! wrap it in [`CheckedPairs`], which validates it and is a [`PairData`] like the crate's
//! own datasets.
//!
//! The crate's training and scoring read data through [`PairData`], which only validated
//! types implement: a `PairData` promises finite values and 0/1 labels, and the training
//! loop trusts it. [`CheckedPairs::new`] earns that promise for any [`PairSource`] by
//! checking the source once, completely, before anything uses it, and then keeps checking
//! each batch it hands on (a cheap pass over rows already in cache), so a source cannot
//! make the crate panic or train on NaN however its methods behave.
//!
//! # Example
//!
//! Embeddings kept the way an application holds them, one `Vec` per item:
//!
//! ```
//! use ndarray::ArrayViewMut2;
//! use sympair::{CheckedPairs, Combiner, Error, PairClassifier, PairData, PairSource, TrainConfig};
//!
//! struct MyPairs {
//!     items: Vec<Vec<f32>>,
//!     pairs: Vec<(usize, usize)>,
//!     same: Vec<bool>,
//! }
//!
//! impl PairSource for MyPairs {
//!     fn len(&self) -> usize {
//!         self.pairs.len()
//!     }
//!     fn dim(&self) -> usize {
//!         self.items.first().map_or(0, Vec::len)
//!     }
//!     fn label(&self, k: usize) -> f32 {
//!         if self.same[k] { 1.0 } else { 0.0 }
//!     }
//!     fn gather(
//!         &self,
//!         idx: &[usize],
//!         mut x: ArrayViewMut2<'_, f32>,
//!         mut y: ArrayViewMut2<'_, f32>,
//!     ) -> sympair::Result<()> {
//!         for (r, &k) in idx.iter().enumerate() {
//!             let (i, j) = self.pairs[k];
//!             for (mut row, id) in [(x.row_mut(r), i), (y.row_mut(r), j)] {
//!                 let item = self.items.get(id).ok_or(Error::ItemOutOfRange {
//!                     row: k,
//!                     id,
//!                     n_items: self.items.len(),
//!                 })?;
//!                 // A short item leaves entries unwritten: the check reports them.
//!                 row.iter_mut().zip(item).for_each(|(dst, &v)| *dst = v);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let items: Vec<Vec<f32>> = (0..40).map(|k| vec![(k % 4) as f32, 1.0, -0.5 * (k % 4) as f32]).collect();
//! let pairs: Vec<(usize, usize)> = (0..40).flat_map(|i| [(i, (i + 4) % 40), (i, (i + 1) % 40)]).collect();
//! let same = pairs.iter().map(|&(i, j)| i % 4 == j % 4).collect();
//! let data = CheckedPairs::new(MyPairs { items, pairs, same })?;
//!
//! let mut model = PairClassifier::builder(data.dim(), Combiner::AbsDiff).seed(1).build()?;
//! model.fit(&data, None, &TrainConfig::new().with_epochs(2))?;
//! assert_eq!(model.logits_for(&data)?.len(), 80);
//!
//! // A NaN in the storage is found before any training, with the pair and column:
//! let mut broken = data.into_source();
//! broken.items[5][2] = f32::NAN;
//! let err = CheckedPairs::new(broken).unwrap_err();
//! assert!(matches!(err, Error::NonFinite { what: "right", row: 2, col: 2, .. }), "{err}");
//! # Ok::<(), sympair::Error>(())
//! ```

use ndarray::{ArrayViewMut2, Axis};

use crate::data::{PairData, all_finite, check_labels, sealed, try_zeros};
use crate::error::{Error, Result};

/// Pairs checked per batch by [`CheckedPairs::new`].
const CHECK_CHUNK: usize = 1024;

/// Labelled pairs in storage of your own, to be validated by [`CheckedPairs::new`].
///
/// # Contract
///
/// - `len` and `dim` do not change; `dim >= 1` and `len >= 1`.
/// - `label(k)` is `0.0` or `1.0` for every `k < len` and does not change.
/// - `gather(idx, x, y)` writes, for every `r`, the two embeddings of pair `idx[r]` into
///   row `r` of `x` and of `y` (both `(idx.len(), dim)`), every value finite, and gives the
///   same values every time it is asked for the same pair. The crate only asks for pairs
///   `k < len`, possibly in any order and with repeats, from several threads at once.
///
/// What the crate checks: [`CheckedPairs::new`] reads every label and gathers every pair
/// once, so a label other than 0/1 is an [`Error::InvalidLabel`] and a NaN, an infinity or
/// an entry `gather` left unwritten (the buffers are filled with NaN before each call) is an
/// [`Error::NonFinite`] naming the pair, before any training. `len`, `dim` and the labels
/// are read once and kept. Each later batch is checked again for finiteness; a source that
/// breaks the contract after validation hands the crate NaN rows (never stale or partial
/// ones), which training reports as [`Error::Diverged`].
///
/// `label` and `gather` are only called with `k < len`; an error returned by `gather`
/// (say, a failed read of a memory-mapped file) is passed back to the caller of
/// [`CheckedPairs::new`].
///
/// The [module docs](crate::source) implement it for embeddings held as `Vec<Vec<f32>>`.
pub trait PairSource: Sync {
    /// Number of pairs.
    fn len(&self) -> usize;
    /// Embedding width `d`.
    fn dim(&self) -> usize;
    /// Label of pair `k` (`k < len`): `1.0` similar, `0.0` not.
    fn label(&self, k: usize) -> f32;
    /// Writes the embeddings of pair `idx[r]` into row `r` of `x` and `y`.
    ///
    /// # Errors
    ///
    /// Whatever the storage cannot do; the error reaches the caller of
    /// [`CheckedPairs::new`].
    fn gather(
        &self,
        idx: &[usize],
        x: ArrayViewMut2<'_, f32>,
        y: ArrayViewMut2<'_, f32>,
    ) -> Result<()>;
    /// Whether there is no pair.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A [`PairSource`] validated once, usable wherever the crate takes a [`PairData`]:
/// `model.fit(&data, ..)`, `model.logits_for(&data)`, `evaluate(&model, &data)`.
///
/// See [`PairSource`] for the contract and what is checked, and the [module
/// docs](crate::source) for an example.
#[derive(Clone)]
pub struct CheckedPairs<S> {
    source: S,
    len: usize,
    dim: usize,
    labels: Vec<f32>,
}

impl<S: PairSource> CheckedPairs<S> {
    /// Validates `source`: at least one pair and width at least 1, every label 0 or 1,
    /// and every value of every pair finite (one pass over all pairs, in batches of 1024,
    /// like one epoch's gathering).
    ///
    /// # Errors
    ///
    /// In this order: [`Error::Empty`] (`what: "pairs"` or `"pairs (width 0)"`);
    /// [`Error::InvalidLabel`] with the pair row; the first error returned by the source's
    /// `gather`; [`Error::NonFinite`] (`what: "left"` for `x`, `"right"` for `y`) with the
    /// first pair row (in pair order) and column holding NaN, an infinity or an unwritten
    /// entry.
    pub fn new(source: S) -> Result<Self> {
        let len = source.len();
        let dim = source.dim();
        if len == 0 {
            return Err(Error::Empty { what: "pairs" });
        }
        if dim == 0 {
            return Err(Error::Empty {
                what: "pairs (width 0)",
            });
        }
        let mut labels: Vec<f32> = Vec::new();
        labels.try_reserve_exact(len).map_err(|_| {
            Error::Unsupported(format!("the labels of {len} pairs cannot be allocated"))
        })?;
        labels.extend((0..len).map(|k| source.label(k)));
        check_labels(&labels)?;
        let checked = CheckedPairs {
            source,
            len,
            dim,
            labels,
        };
        let cap = len.min(CHECK_CHUNK);
        let mut x = try_zeros(cap, dim, "pair source check")?;
        let mut y = try_zeros(cap, dim, "pair source check")?;
        let mut idx = Vec::with_capacity(cap);
        for start in (0..len).step_by(cap) {
            idx.clear();
            idx.extend(start..len.min(start + cap));
            let n = idx.len();
            checked.checked_gather(
                &idx,
                x.slice_axis_mut(Axis(0), (0..n).into()),
                y.slice_axis_mut(Axis(0), (0..n).into()),
            )?;
        }
        Ok(checked)
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Gives the source back (to change it and validate it again).
    pub fn into_source(self) -> S {
        self.source
    }

    /// Gathers through the source into NaN-filled buffers and checks every value.
    fn checked_gather(
        &self,
        idx: &[usize],
        mut x: ArrayViewMut2<f32>,
        mut y: ArrayViewMut2<f32>,
    ) -> Result<()> {
        // The crate's gather contract: the pairs go to the first `idx.len()` rows.
        debug_assert!(
            x.nrows() >= idx.len() && y.nrows() >= idx.len(),
            "gather buffers must have a row per index"
        );
        debug_assert!(
            x.ncols() == self.dim && y.ncols() == self.dim,
            "gather buffers must have the data's width"
        );
        // Checked in release builds too (one comparison per pair): the source must never
        // see a pair index past its end, whatever happens inside the crate.
        assert!(
            idx.iter().all(|&k| k < self.len),
            "internal error: gather index past the last pair"
        );
        let rows = (0..idx.len()).into();
        x.slice_axis_inplace(Axis(0), rows);
        y.slice_axis_inplace(Axis(0), rows);
        x.fill(f32::NAN);
        y.fill(f32::NAN);
        self.source.gather(idx, x.view_mut(), y.view_mut())?;
        if all_finite(x.view()) && all_finite(y.view()) {
            return Ok(());
        }
        // The first bad row in pair order, x before y within a row.
        for (r, &k) in idx.iter().enumerate() {
            for (what, m) in [("left", &x), ("right", &y)] {
                if let Some((col, &value)) =
                    m.row(r).iter().enumerate().find(|(_, v)| !v.is_finite())
                {
                    return Err(Error::NonFinite {
                        what,
                        row: k,
                        col,
                        value,
                    });
                }
            }
        }
        unreachable!("a non-finite value was found above")
    }
}

/// Shows the sizes and the source's type, so that the source need not be `Debug`.
impl<S> std::fmt::Debug for CheckedPairs<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedPairs")
            .field("source", &std::any::type_name::<S>())
            .field("len", &self.len)
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl<S: PairSource> sealed::Gather for CheckedPairs<S> {
    /// Checked gathering; a batch that fails the check (a source breaking its contract
    /// after validation) is handed on as NaN rows, never as stale or partial ones.
    fn gather(&self, idx: &[usize], mut x: ArrayViewMut2<f32>, mut y: ArrayViewMut2<f32>) {
        if self
            .checked_gather(idx, x.view_mut(), y.view_mut())
            .is_err()
        {
            let rows = (0..idx.len()).into();
            x.slice_axis_mut(Axis(0), rows).fill(f32::NAN);
            y.slice_axis_mut(Axis(0), rows).fill(f32::NAN);
        }
    }

    fn try_gather(
        &self,
        idx: &[usize],
        x: ArrayViewMut2<f32>,
        y: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.checked_gather(idx, x, y)
    }
}

impl<S: PairSource> PairData for CheckedPairs<S> {
    fn len(&self) -> usize {
        self.len
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn labels(&self) -> &[f32] {
        &self.labels
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use ndarray::Array2;

    use super::*;
    use crate::data::sealed::Gather;

    /// Pair `k` is `([k; 3], [-k; 3])`; once `broken` is set, pair 2's `y` is NaN.
    struct Flaky {
        broken: AtomicBool,
    }

    impl PairSource for Flaky {
        fn len(&self) -> usize {
            4
        }
        fn dim(&self) -> usize {
            3
        }
        fn label(&self, k: usize) -> f32 {
            (k % 2) as f32
        }
        fn gather(
            &self,
            idx: &[usize],
            mut x: ArrayViewMut2<'_, f32>,
            mut y: ArrayViewMut2<'_, f32>,
        ) -> Result<()> {
            let broken = self.broken.load(Ordering::SeqCst);
            for (r, &k) in idx.iter().enumerate() {
                x.row_mut(r).fill(k as f32);
                y.row_mut(r).fill(if broken && k == 2 {
                    f32::NAN
                } else {
                    -(k as f32)
                });
            }
            Ok(())
        }
    }

    fn checked() -> CheckedPairs<Flaky> {
        CheckedPairs::new(Flaky {
            broken: AtomicBool::new(false),
        })
        .unwrap()
    }

    #[test]
    fn try_gather_names_the_pair_of_a_contract_breach() {
        let data = checked();
        data.source().broken.store(true, Ordering::SeqCst);
        let (mut x, mut y) = (Array2::zeros((3, 3)), Array2::zeros((3, 3)));
        let err = data
            .try_gather(&[0, 2, 1], x.view_mut(), y.view_mut())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFinite {
                    what: "right",
                    row: 2,
                    col: 0,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn gather_hands_on_nan_rows_never_stale_ones_after_a_breach() {
        let data = checked();
        let (mut x, mut y) = (
            Array2::from_elem((2, 3), 7.0),
            Array2::from_elem((2, 3), 7.0),
        );
        data.gather(&[3, 1], x.view_mut(), y.view_mut());
        assert_eq!(x.row(0).to_vec(), [3.0; 3]);
        assert_eq!(y.row(1).to_vec(), [-1.0; 3]);

        data.source().broken.store(true, Ordering::SeqCst);
        let (mut x, mut y) = (
            Array2::from_elem((2, 3), 7.0),
            Array2::from_elem((2, 3), 7.0),
        );
        data.gather(&[1, 2], x.view_mut(), y.view_mut());
        assert!(x.iter().chain(y.iter()).all(|v| v.is_nan()), "{x:?} {y:?}");
    }
}
