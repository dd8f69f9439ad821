//! Validated pair datasets.
//!
//! A [`PairDataset`] holds two embedding matrices `left, right: (n, d)` and `n` labels in
//! `{0, 1}`: pair `i` is `(left[i], right[i])` with label `labels[i]`. Everything is
//! checked once, at construction; training and evaluation then trust the data.
//! [`PairData`] is the read interface shared by all dataset types of this crate.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

pub(crate) mod sealed {
    use ndarray::ArrayViewMut2;

    use crate::error::Result;

    /// An item matrix and pairs of its row ids.
    pub type ItemPairsView<'a> = (ndarray::ArrayView2<'a, f32>, &'a [(usize, usize)]);

    /// Row gathering, crate-internal so that every [`PairData`](super::PairData) is a
    /// validated dataset of this crate.
    pub trait Gather {
        /// Copies the pairs `idx` into the first `idx.len()` rows of `x` and `y`.
        /// Callers guarantee in-range indices and enough rows of the right width.
        fn gather(&self, idx: &[usize], x: ArrayViewMut2<f32>, y: ArrayViewMut2<f32>);

        /// [`gather`](Self::gather) that reports a batch failing its checks (only
        /// [`CheckedPairs`](crate::CheckedPairs) can fail: its source may break its
        /// contract after validation) as a typed error naming the pair, where `gather`
        /// hands on NaN rows. The crate's own datasets never fail.
        fn try_gather(
            &self,
            idx: &[usize],
            x: ArrayViewMut2<f32>,
            y: ArrayViewMut2<f32>,
        ) -> Result<()> {
            self.gather(idx, x, y);
            Ok(())
        }

        /// The item matrix and `(i, j)` row pairs, for datasets made of pairs of rows of
        /// one matrix ([`ItemPairs`](crate::ItemPairs)): scoring can then work per item
        /// ([`IdScorer`](crate::IdScorer)). `None` for the others.
        fn item_pairs(&self) -> Option<ItemPairsView<'_>> {
            None
        }
    }
}

/// A validated set of labelled pairs: every value finite, every label 0 or 1, at least one
/// pair. What training, scoring and evaluation read.
///
/// Implemented by [`PairDataset`] (two dense matrices), [`ItemPairs`](crate::ItemPairs)
/// (pairs of rows of one item matrix) and [`CheckedPairs`](crate::CheckedPairs) (storage of
/// your own: implement [`PairSource`](crate::PairSource) for it and wrap it). The trait is
/// sealed so that every `PairData` is validated: use `CheckedPairs` to bring your own.
pub trait PairData: sealed::Gather + Sync {
    /// Number of pairs.
    fn len(&self) -> usize;
    /// Embedding width `d`.
    fn dim(&self) -> usize;
    /// Labels, one per pair, each 0.0 or 1.0.
    fn labels(&self) -> &[f32];
    /// Always `false`: a validated dataset has at least one pair.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Labelled pairs held as two dense matrices.
///
/// ```
/// use ndarray::array;
/// use sympair::{PairData, PairDataset};
/// let left = array![[0.0f32, 1.0], [2.0, 3.0]];
/// let right = array![[0.5f32, 1.0], [9.0, 9.0]];
/// let data = PairDataset::new(left, right, vec![1.0, 0.0])?;
/// assert_eq!((data.len(), data.dim()), (2, 2));
///
/// let bad = PairDataset::new(array![[f32::NAN]], array![[0.0f32]], vec![1.0]);
/// assert_eq!(
///     bad.unwrap_err().to_string(),
///     "non-finite value NaN in left at row 0, column 0"
/// );
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct PairDataset {
    left: Array2<f32>,
    right: Array2<f32>,
    labels: Vec<f32>,
}

/// Whether every value is finite: its exponent bits are not all ones. An integer max
/// reduction, which the compiler vectorises.
fn slice_all_finite(v: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    v.iter().fold(0u32, |m, x| m.max(x.to_bits() & EXP)) < EXP
}

pub(crate) fn all_finite(m: ArrayView2<f32>) -> bool {
    match m.as_slice_memory_order() {
        Some(v) => slice_all_finite(v),
        None => m.rows().into_iter().all(|r| match r.as_slice() {
            Some(v) => slice_all_finite(v),
            None => r.iter().all(|x| x.is_finite()),
        }),
    }
}

/// Checks that every value of `m` is finite, naming the first bad one.
pub(crate) fn check_finite(what: &'static str, m: ArrayView2<f32>) -> Result<()> {
    if all_finite(m) {
        return Ok(());
    }
    for (row, r) in m.axis_iter(Axis(0)).enumerate() {
        if let Some((col, &value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what,
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

/// A `(rows, cols)` matrix of zeros, or an error (not an abort) when it cannot be allocated:
/// sizes that come from user input (a source's width, a chunk size) must not end the process.
pub(crate) fn try_zeros(rows: usize, cols: usize, what: &str) -> Result<Array2<f32>> {
    let too_big = || {
        Error::Unsupported(format!(
            "{what}: a {rows} x {cols} buffer of f32 cannot be allocated"
        ))
    };
    let n = rows.checked_mul(cols).ok_or_else(too_big)?;
    let mut v: Vec<f32> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| too_big())?;
    v.resize(n, 0.0);
    Ok(Array2::from_shape_vec((rows, cols), v).expect("length is rows * cols"))
}

/// Checks that every label is exactly 0 or 1.
pub(crate) fn check_labels(labels: &[f32]) -> Result<()> {
    match labels.iter().position(|&t| t != 0.0 && t != 1.0) {
        Some(row) => Err(Error::InvalidLabel {
            row,
            value: f64::from(labels[row]),
        }),
        None => Ok(()),
    }
}

impl PairDataset {
    /// Builds a dataset, checking: at least one pair and width at least 1; `left`, `right`
    /// and `labels` have the same number of rows; `left` and `right` have the same width;
    /// every value finite; every label 0 or 1. Errors name the row and column at fault.
    pub fn new(left: Array2<f32>, right: Array2<f32>, labels: impl Into<Vec<f32>>) -> Result<Self> {
        let labels = labels.into();
        if left.nrows() == 0 {
            return Err(Error::Empty { what: "left" });
        }
        if left.ncols() == 0 {
            return Err(Error::Empty {
                what: "left (width 0)",
            });
        }
        if right.nrows() != left.nrows() {
            return Err(Error::RowMismatch {
                what: "right",
                expected: left.nrows(),
                found: right.nrows(),
            });
        }
        if labels.len() != left.nrows() {
            return Err(Error::RowMismatch {
                what: "labels",
                expected: left.nrows(),
                found: labels.len(),
            });
        }
        if right.ncols() != left.ncols() {
            return Err(Error::WidthMismatch {
                what: "right",
                expected: left.ncols(),
                found: right.ncols(),
            });
        }
        check_finite("left", left.view())?;
        check_finite("right", right.view())?;
        check_labels(&labels)?;
        let left = left.as_standard_layout().into_owned();
        let right = right.as_standard_layout().into_owned();
        Ok(PairDataset {
            left,
            right,
            labels,
        })
    }

    /// Left items, `(n, d)`.
    pub fn left(&self) -> ArrayView2<'_, f32> {
        self.left.view()
    }

    /// Right items, `(n, d)`.
    pub fn right(&self) -> ArrayView2<'_, f32> {
        self.right.view()
    }

    /// The pairs at `indices` (in that order, repeats allowed) as a new dataset.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if indices.is_empty() {
            return Err(Error::Empty { what: "indices" });
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::ItemOutOfRange {
                row: indices.iter().position(|&i| i == bad).unwrap_or(0),
                id: bad,
                n_items: self.len(),
            });
        }
        Ok(PairDataset {
            left: self.left.select(Axis(0), indices),
            right: self.right.select(Axis(0), indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        })
    }

    /// Shuffles the pairs with `seed` and splits them into `(first, second)`, the first
    /// holding `round(fraction * n)` pairs. Both parts must be non-empty.
    ///
    /// This splits by pair: the same item may appear on both sides of the split. To
    /// estimate performance on unseen items, split by item instead.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::config(
                "fraction",
                format!("must be in (0, 1), got {fraction}"),
            ));
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let k = ((fraction * self.len() as f64).round() as usize).clamp(1, self.len());
        let (a, b) = idx.split_at(k);
        Ok((self.select(a)?, self.select(b)?))
    }

    /// The same pairs with left and right exchanged.
    pub fn swapped(&self) -> Self {
        PairDataset {
            left: self.right.clone(),
            right: self.left.clone(),
            labels: self.labels.clone(),
        }
    }
}

impl sealed::Gather for PairDataset {
    fn gather(&self, idx: &[usize], mut x: ArrayViewMut2<f32>, mut y: ArrayViewMut2<f32>) {
        for (r, &i) in idx.iter().enumerate() {
            x.row_mut(r).assign(&self.left.row(i));
            y.row_mut(r).assign(&self.right.row(i));
        }
    }
}

impl PairData for PairDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn dim(&self) -> usize {
        self.left.ncols()
    }
    fn labels(&self) -> &[f32] {
        &self.labels
    }
}
