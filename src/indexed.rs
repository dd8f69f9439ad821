//! Item-indexed pair datasets and leak-safe splits: [`ItemPairs`] and [`SplitReport`].
//!
//! An item matrix `(n_items, d)` is stored once; each pair `(i, j, label)` refers to two of
//! its rows. See [`ItemPairs`] for validation, de-duplication and the two splits.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

use crate::data::{PairData, PairDataset, check_finite, check_labels, sealed};
use crate::error::{Error, Result};
use crate::io::PairRow;

/// Labelled pairs of rows of one shared item matrix: a [`PairData`] that stores every
/// embedding once. It trains and evaluates like a [`PairDataset`]:
/// `model.fit(&pairs, None, &config)`, `model.logits_for(&pairs)`.
///
/// An [`ItemPairs`] holds one item matrix `items: (n_items, d)` and `n` labelled pairs of
/// row ids `(i, j, label)`. Pair `k` is `(items[i_k], items[j_k])` with label `t_k`. The
/// embeddings are stored once, behind an [`Arc`], and copied into the training batch only
/// when a batch is gathered: memory is `O(n_items * d + n)`, not `O(n * d)`, and splits
/// share the same matrix.
///
/// Pairs are unordered: `(i, j)` and `(j, i)` are the same pair, identified by the
/// canonical key `(min(i, j), max(i, j))`. Validation at construction:
///
/// | input                                   | result                                        |
/// |-----------------------------------------|-----------------------------------------------|
/// | no item, width 0, or no pair            | [`Error::Empty`]                              |
/// | NaN or infinite embedding value         | [`Error::NonFinite`] (`what: "items"`)        |
/// | label not exactly 0 or 1                | [`Error::InvalidLabel`] with its row          |
/// | id `>= n_items`                         | [`Error::ItemOutOfRange`] with its row        |
/// | same unordered pair, different labels   | [`Error::ConflictingLabels`] naming both rows |
/// | same unordered pair, same label         | kept once; [`ItemPairs::duplicates_dropped`]  |
/// | self-pair `i == j`                      | kept; listed by [`ItemPairs::self_pair_rows`] |
///
/// A *row* is the 0-based position of a pair in the list given to the constructor (for
/// `ItemPairs::from_files`, the `k`-th pair read from the CSV: the header, blank lines and
/// rows left out by a filter are not counted; CSV parse errors name the file line).
///
/// # Splits
///
/// [`ItemPairs::split_by_pair`] shuffles the unordered pairs; the same *item* may then
/// appear in both parts. [`ItemPairs::split_by_item`] partitions the items instead and keeps
/// only the pairs whose two items fall on the same side, so no item of one part appears in
/// the other. See [`ItemPairs::split_by_item`] for why that is the honest estimate of how
/// the model does on items it has never seen.
///
/// # Example
///
/// ```
/// use ndarray::array;
/// use sympair::{Error, ItemPairs, PairData};
///
/// let items = array![[0.0f32, 1.0], [1.0, 0.0], [0.9, 0.1]];
/// // (2, 1) repeats (1, 2) with the same label, so it is dropped; (0, 0) is a self-pair.
/// let pairs = vec![(0, 1, 0.0), (1, 2, 1.0), (2, 1, 1.0), (0, 0, 1.0)];
/// let data = ItemPairs::new(items.clone(), pairs)?;
/// assert_eq!((data.len(), data.dim(), data.n_items()), (3, 2, 3));
/// assert_eq!(data.pairs(), &[(0, 1), (1, 2), (0, 0)]);
/// assert_eq!(data.labels(), &[0.0, 1.0, 1.0]);
/// assert_eq!(data.duplicates_dropped(), 1);
/// assert_eq!(data.self_pair_rows(), &[3]);
///
/// // An id past the last item names the row at fault:
/// let bad = ItemPairs::new(items, vec![(0, 1, 1.0), (1, 7, 0.0)]).unwrap_err();
/// assert!(matches!(bad, Error::ItemOutOfRange { row: 1, id: 7, n_items: 3 }));
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ItemPairs {
    items: Arc<Array2<f32>>,
    /// Kept pairs, each in the orientation of its first occurrence.
    pairs: Vec<(usize, usize)>,
    labels: Vec<f32>,
    /// Input rows of the kept self-pairs.
    self_pair_rows: Vec<usize>,
    duplicates_dropped: usize,
}

/// What [`ItemPairs::split_by_item`] did: which items went where, and how many pairs were
/// dropped because their two items fell on different sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitReport {
    /// Ids of the items assigned to the first part, ascending.
    pub first_items: Vec<usize>,
    /// Ids of the items assigned to the second part, ascending.
    pub second_items: Vec<usize>,
    /// Pairs kept in the first part (both items in `first_items`).
    pub first_pairs: usize,
    /// Pairs kept in the second part (both items in `second_items`).
    pub second_pairs: usize,
    /// Pairs dropped because one item is in each part.
    pub cross_pairs_dropped: usize,
}

impl ItemPairs {
    /// Builds a dataset from an item matrix `(n_items, d)` and pairs `(i, j, label)`.
    ///
    /// `items` may be an `Array2<f32>` or an `Arc<Array2<f32>>` already shared with other
    /// datasets (see [`shared_items`](Self::shared_items)); it is never copied unless it is
    /// not in standard (row-major) layout.
    ///
    /// # Errors
    ///
    /// In this order, the first problem found: [`Error::Empty`] (`what: "items"`,
    /// `"items (width 0)"` or `"pairs"`); [`Error::NonFinite`] (`what: "items"`) with the
    /// item row and column; [`Error::InvalidLabel`] with the pair row;
    /// [`Error::ItemOutOfRange`] with the pair row, the id and `n_items` (the `i` column is
    /// checked before `j`); [`Error::ConflictingLabels`] with the canonical pair and both
    /// rows.
    pub fn new(
        items: impl Into<Arc<Array2<f32>>>,
        pairs: impl IntoIterator<Item = (usize, usize, f32)>,
    ) -> Result<Self> {
        let items = items.into();
        if items.nrows() == 0 {
            return Err(Error::Empty { what: "items" });
        }
        if items.ncols() == 0 {
            return Err(Error::Empty {
                what: "items (width 0)",
            });
        }
        let (ids, labels): (Vec<(usize, usize)>, Vec<f32>) =
            pairs.into_iter().map(|(i, j, t)| ((i, j), t)).unzip();
        if ids.is_empty() {
            return Err(Error::Empty { what: "pairs" });
        }
        check_finite("items", items.view())?;
        check_labels(&labels)?;
        let n_items = items.nrows();
        for (row, &(i, j)) in ids.iter().enumerate() {
            if let Some(id) = [i, j].into_iter().find(|&id| id >= n_items) {
                return Err(Error::ItemOutOfRange { row, id, n_items });
            }
        }
        let items = if items.is_standard_layout() {
            items
        } else {
            Arc::new(items.as_standard_layout().into_owned())
        };
        Self::dedup(items, &ids, &labels)
    }

    /// Builds a dataset from rows read by [`read_pairs_csv`](crate::io::read_pairs_csv) or
    /// [`parse_pairs_csv`](crate::io::parse_pairs_csv); see [`new`](Self::new).
    pub fn from_pair_rows(items: impl Into<Arc<Array2<f32>>>, rows: &[PairRow]) -> Result<Self> {
        Self::new(items, rows.iter().map(|r| (r.i, r.j, r.label)))
    }

    /// Reads embeddings from a `.npy` file written by `numpy.save` (float32 or float64,
    /// shape `(n_items, d)`) and pairs from a CSV with columns `i`, `j` and `label` (in any
    /// order, other columns ignored), then builds the dataset as [`new`](Self::new) does.
    /// [`from_files_with`](Self::from_files_with) takes other column names or a filter.
    ///
    /// # Errors
    ///
    /// Those of [`read_embeddings_npy`](crate::io::read_embeddings_npy) and
    /// [`read_pairs_csv`](crate::io::read_pairs_csv) (I/O, format, parse errors with the
    /// line number in the file), then those of [`new`](Self::new), whose pair row `k` is
    /// the `k`-th pair of the CSV (0-based; the header and blank lines not counted).
    ///
    /// # Example
    ///
    /// ```
    /// use ndarray::array;
    /// use sympair::{ItemPairs, PairData, io::write_embeddings_npy};
    ///
    /// let dir = std::env::temp_dir().join(format!("sympair-ip-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// write_embeddings_npy(dir.join("items.npy"), array![[0.0f32, 1.0], [1.0, 0.0]].view())?;
    /// std::fs::write(dir.join("pairs.csv"), "i,j,label\n0,1,0\n1,1,1\n").unwrap();
    /// let data = ItemPairs::from_files(dir.join("items.npy"), dir.join("pairs.csv"))?;
    /// assert_eq!((data.len(), data.n_items()), (2, 2));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sympair::Error>(())
    /// ```
    #[cfg(feature = "npy")]
    pub fn from_files(
        npy: impl AsRef<std::path::Path>,
        csv: impl AsRef<std::path::Path>,
    ) -> Result<Self> {
        Self::from_files_with(npy, csv, &crate::io::PairsCsv::new())
    }

    /// [`from_files`](Self::from_files) with the CSV read by `columns`: other column
    /// names, or only the rows of one split. Pair row `k` is then the `k`-th pair kept.
    ///
    /// # Example
    ///
    /// ```
    /// use ndarray::array;
    /// use sympair::{ItemPairs, PairData, io::{write_embeddings_npy, PairsCsv}};
    ///
    /// let dir = std::env::temp_dir().join(format!("sympair-ip-doc2-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// write_embeddings_npy(dir.join("items.npy"), array![[0.0f32, 1.0], [1.0, 0.0]].view())?;
    /// std::fs::write(dir.join("pairs.csv"), "a,b,same,split\n0,1,0,train\n1,1,1,test\n").unwrap();
    /// let train_rows = PairsCsv::new().with_columns("a", "b", "same")?.with_filter("split", "train")?;
    /// let train = ItemPairs::from_files_with(dir.join("items.npy"), dir.join("pairs.csv"), &train_rows)?;
    /// assert_eq!(train.pairs(), &[(0, 1)]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), sympair::Error>(())
    /// ```
    #[cfg(feature = "npy")]
    pub fn from_files_with(
        npy: impl AsRef<std::path::Path>,
        csv: impl AsRef<std::path::Path>,
        columns: &crate::io::PairsCsv,
    ) -> Result<Self> {
        let items = crate::io::read_embeddings_npy(npy)?;
        let rows = columns.read(csv)?;
        Self::from_pair_rows(items, &rows)
    }

    /// Drops repeated unordered pairs and rejects conflicting ones. Ids are in range.
    fn dedup(items: Arc<Array2<f32>>, ids: &[(usize, usize)], labels: &[f32]) -> Result<Self> {
        // Canonical key -> (input row of first occurrence, its label).
        let mut seen: HashMap<(usize, usize), (usize, f32)> = HashMap::with_capacity(ids.len());
        let mut pairs = Vec::with_capacity(ids.len());
        let mut kept_labels = Vec::with_capacity(ids.len());
        let mut self_pair_rows = Vec::new();
        let mut duplicates_dropped = 0;
        for (row, (&(i, j), &t)) in ids.iter().zip(labels).enumerate() {
            match seen.entry((i.min(j), i.max(j))) {
                Entry::Occupied(e) => {
                    let &(first_row, first_label) = e.get();
                    if first_label != t {
                        return Err(Error::ConflictingLabels {
                            i: i.min(j),
                            j: i.max(j),
                            first_row,
                            first_label,
                            second_row: row,
                            second_label: t,
                        });
                    }
                    duplicates_dropped += 1;
                }
                Entry::Vacant(e) => {
                    e.insert((row, t));
                    if i == j {
                        self_pair_rows.push(row);
                    }
                    pairs.push((i, j));
                    kept_labels.push(t);
                }
            }
        }
        Ok(ItemPairs {
            items,
            pairs,
            labels: kept_labels,
            self_pair_rows,
            duplicates_dropped,
        })
    }

    /// A part of this dataset: the kept pairs at `indices` (distinct, in range), sharing the
    /// item matrix. Its rows are positions in its own [`pairs`](Self::pairs).
    fn subset(&self, indices: &[usize]) -> Self {
        let mut pairs = Vec::with_capacity(indices.len());
        let mut labels = Vec::with_capacity(indices.len());
        for (&p, &t) in indices
            .iter()
            .filter_map(|&k| self.pairs.get(k).zip(self.labels.get(k)))
        {
            pairs.push(p);
            labels.push(t);
        }
        let self_pair_rows = pairs
            .iter()
            .enumerate()
            .filter(|(_, (i, j))| i == j)
            .map(|(row, _)| row)
            .collect();
        ItemPairs {
            items: Arc::clone(&self.items),
            pairs,
            labels,
            self_pair_rows,
            duplicates_dropped: 0,
        }
    }

    /// The item matrix, `(n_items, d)`, in standard layout.
    pub fn items(&self) -> ArrayView2<'_, f32> {
        self.items.view()
    }

    /// The item matrix as a shared handle, to build another dataset over the same items
    /// (say, a separate test-pairs file) without copying it.
    pub fn shared_items(&self) -> &Arc<Array2<f32>> {
        &self.items
    }

    /// Number of items (rows of the item matrix), whether or not a pair uses them.
    pub fn n_items(&self) -> usize {
        self.items.nrows()
    }

    /// The kept pairs `(i, j)`, one per label of [`labels`](PairData::labels), each in the
    /// orientation of its first occurrence. Suits
    /// [`write_predictions_csv`](crate::io::write_predictions_csv) directly.
    pub fn pairs(&self) -> &[(usize, usize)] {
        &self.pairs
    }

    /// How many input rows repeated an earlier unordered pair (same label) and were dropped.
    /// Always 0 for the parts made by a split.
    pub fn duplicates_dropped(&self) -> usize {
        self.duplicates_dropped
    }

    /// Input rows of the kept self-pairs `(i, i)`, ascending. Self-pairs are legal (an item
    /// is trivially similar to itself) but usually a data-preparation slip, and they make a
    /// task easier than it is, so they are reported. For the parts made by a split, the
    /// rows are positions in the part's own [`pairs`](Self::pairs).
    pub fn self_pair_rows(&self) -> &[usize] {
        &self.self_pair_rows
    }

    /// The same pairs as a dense [`PairDataset`] (`left[k] = items[i_k]`,
    /// `right[k] = items[j_k]`), copying `2 * len * d` values. Useful for
    /// [`predict_logits`](crate::PairClassifier::predict_logits) on views.
    pub fn to_dense(&self) -> Result<PairDataset> {
        let n = self.pairs.len();
        let d = self.items.ncols();
        let mut left = Array2::zeros((n, d));
        let mut right = Array2::zeros((n, d));
        let idx: Vec<usize> = (0..n).collect();
        sealed::Gather::gather(self, &idx, left.view_mut(), right.view_mut());
        PairDataset::new(left, right, self.labels.clone())
    }

    /// Splits the unordered pairs at random: the first part gets `round(fraction * n)` of
    /// them, the second the rest. Deterministic for a given `seed`. Both parts share the
    /// item matrix.
    ///
    /// Because pairs are de-duplicated under their unordered key, no pair (in either
    /// order) is in both parts. An *item* may be, though: a test pair then scores an item
    /// the model has already fitted through other pairs, which flatters the estimate. Use
    /// [`split_by_item`](Self::split_by_item) to measure performance on unseen items.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "fraction"`) unless `0 < fraction < 1`;
    /// [`Error::Empty`] if either part would have no pair.
    pub fn split_by_pair(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        check_fraction(fraction)?;
        let n = self.pairs.len();
        let k = first_part_size(
            fraction,
            n,
            "first part of the pair split",
            "second part of the pair split",
        )?;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        let (a, b) = order.split_at(k);
        Ok((self.subset(a), self.subset(b)))
    }

    /// Splits by item: the items used by at least one pair are shuffled with `seed`, the
    /// first `round(fraction * m)` of those `m` items go to the first part and the rest to
    /// the second. A pair whose two items are in the first part goes to the first part,
    /// one whose two items are in the second part to the second; a pair with one item on
    /// each side is dropped and counted in the [`SplitReport`]. No item appears in both
    /// parts. Deterministic for a given `seed`; both parts share the item matrix.
    ///
    /// With pairs drawn uniformly, expect about `fraction^2` of them in the first part,
    /// `(1 - fraction)^2` in the second and `2 fraction (1 - fraction)` dropped (for 0.75:
    /// 56 %, 6 %, 38 %). Sample pairs generously before splitting.
    ///
    /// # Why this is the honest estimate for unseen items
    ///
    /// A pair model is used on items it has not seen: a new document against the corpus, a
    /// new face against the gallery. Under a pair split, most test pairs share an item with
    /// some training pair, and a flexible model can score those by remembering the item
    /// (this image is a "3", whatever it is paired with) instead of by comparing the two
    /// embeddings. Test pairs are then not independent of training, and the score
    /// overstates how the model ranks pairs of new items, sometimes by a wide margin.
    /// Splitting by item removes that path: every test pair consists of two items the model
    /// never saw in training, which is exactly the situation at deployment.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "fraction"`) unless `0 < fraction < 1`;
    /// [`Error::Empty`] if either part would get no item or no pair.
    ///
    /// # Example
    ///
    /// ```
    /// use ndarray::Array2;
    /// use sympair::{ItemPairs, PairData};
    ///
    /// let items = Array2::from_shape_fn((20, 3), |(r, c)| (r * 3 + c) as f32);
    /// // Every unordered pair of the 20 items; similar when both ids have the same parity.
    /// let pairs = (0..20).flat_map(|i| (i + 1..20).map(move |j| (i, j, ((i + j) % 2 == 0) as u8 as f32)));
    /// let data = ItemPairs::new(items, pairs)?;
    /// let (train, test, report) = data.split_by_item(0.75, 7)?;
    /// assert_eq!((report.first_items.len(), report.second_items.len()), (15, 5));
    /// assert_eq!((train.len(), test.len()), (15 * 14 / 2, 5 * 4 / 2));
    /// assert_eq!(report.cross_pairs_dropped, 15 * 5);
    /// let in_train = |id: &usize| report.first_items.binary_search(id).is_ok();
    /// assert!(test.pairs().iter().all(|(i, j)| !in_train(i) && !in_train(j)));
    /// # Ok::<(), sympair::Error>(())
    /// ```
    pub fn split_by_item(&self, fraction: f64, seed: u64) -> Result<(Self, Self, SplitReport)> {
        check_fraction(fraction)?;
        // Side of each item: None = unused, Some(true) = first part, Some(false) = second.
        let mut side: Vec<Option<bool>> = vec![None; self.n_items()];
        for &(i, j) in &self.pairs {
            for id in [i, j] {
                if let Some(s) = side.get_mut(id) {
                    *s = Some(false);
                }
            }
        }
        let mut used: Vec<usize> = side
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.map(|_| id))
            .collect();
        let m = used.len();
        let k = first_part_size(
            fraction,
            m,
            "first part of the item split (no item)",
            "second part of the item split (no item)",
        )?;
        used.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        for &id in &used[..k] {
            if let Some(s) = side.get_mut(id) {
                *s = Some(true);
            }
        }
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let mut cross = 0;
        for (row, &(i, j)) in self.pairs.iter().enumerate() {
            match (
                side.get(i).copied().flatten(),
                side.get(j).copied().flatten(),
            ) {
                (Some(true), Some(true)) => first.push(row),
                (Some(false), Some(false)) => second.push(row),
                _ => cross += 1,
            }
        }
        if first.is_empty() {
            return Err(Error::Empty {
                what: "first part of the item split (no pair has both items in it)",
            });
        }
        if second.is_empty() {
            return Err(Error::Empty {
                what: "second part of the item split (no pair has both items in it)",
            });
        }
        let (mut first_items, mut second_items): (Vec<usize>, Vec<usize>) = used
            .iter()
            .partition(|&&id| side.get(id) == Some(&Some(true)));
        first_items.sort_unstable();
        second_items.sort_unstable();
        let report = SplitReport {
            first_items,
            second_items,
            first_pairs: first.len(),
            second_pairs: second.len(),
            cross_pairs_dropped: cross,
        };
        Ok((self.subset(&first), self.subset(&second), report))
    }
}

/// One fold of [`ItemPairs::item_folds`]: the held-out items' pairs and the pairs of
/// every other item, with no item on both sides.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemFold {
    /// Pairs whose two items are outside this fold's held-out items.
    pub train: ItemPairs,
    /// Pairs whose two items are both held out in this fold.
    pub valid: ItemPairs,
    /// Pairs with one item held out and one not: in neither part.
    pub cross_pairs_dropped: usize,
}

impl ItemPairs {
    /// Item-grouped `k`-fold cross-validation: the items used by at least one pair are
    /// shuffled with `seed` and dealt into `k` groups of nearly equal size. Fold `f` holds
    /// out group `f`: its `valid` part has the pairs whose two items are in group `f`, its
    /// `train` part the pairs whose two items are in other groups; a pair straddling group
    /// `f` and another is in neither and counted in [`ItemFold::cross_pairs_dropped`]. No
    /// item appears on both sides of a fold (see [`split_by_item`](Self::split_by_item) for
    /// why). Deterministic for a given `seed`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "folds"`) unless `2 <= k <= ` the number of used
    /// items; [`Error::Empty`] if a fold would have no training or no validation pair.
    ///
    /// # Example
    ///
    /// ```
    /// use ndarray::Array2;
    /// use sympair::{ItemPairs, PairData};
    ///
    /// let items = Array2::from_shape_fn((12, 2), |(r, c)| (r + c) as f32);
    /// let pairs = (0..12).flat_map(|i| (i + 1..12).map(move |j| (i, j, ((i + j) % 2) as f32)));
    /// let data = ItemPairs::new(items, pairs)?;
    /// let folds = data.item_folds(3, 0)?;
    /// assert_eq!(folds.len(), 3);
    /// for fold in &folds {
    ///     // 4 held-out items: 6 pairs among them; 8 other items: 28 pairs; 32 dropped.
    ///     assert_eq!((fold.valid.len(), fold.train.len(), fold.cross_pairs_dropped), (6, 28, 32));
    /// }
    /// # Ok::<(), sympair::Error>(())
    /// ```
    pub fn item_folds(&self, k: usize, seed: u64) -> Result<Vec<ItemFold>> {
        let mut used_flag = vec![false; self.n_items()];
        for &(i, j) in &self.pairs {
            for id in [i, j] {
                if let Some(u) = used_flag.get_mut(id) {
                    *u = true;
                }
            }
        }
        let mut used: Vec<usize> = (0..self.n_items())
            .filter(|&id| used_flag.get(id) == Some(&true))
            .collect();
        if k < 2 || k > used.len() {
            return Err(Error::config(
                "folds",
                format!(
                    "must be in 2..={} (items used by a pair), got {k}",
                    used.len()
                ),
            ));
        }
        used.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        // Group of each item (usize::MAX: unused); position p goes to group p % k.
        let mut group = vec![usize::MAX; self.n_items()];
        for (p, &id) in used.iter().enumerate() {
            if let Some(g) = group.get_mut(id) {
                *g = p % k;
            }
        }
        let group_of = |id: usize| group.get(id).copied().unwrap_or(usize::MAX);
        (0..k)
            .map(|f| {
                let (mut train, mut valid, mut cross) = (Vec::new(), Vec::new(), 0);
                for (row, &(i, j)) in self.pairs.iter().enumerate() {
                    match (group_of(i) == f, group_of(j) == f) {
                        (true, true) => valid.push(row),
                        (false, false) => train.push(row),
                        _ => cross += 1,
                    }
                }
                if train.is_empty() || valid.is_empty() {
                    return Err(Error::Empty {
                        what: "a fold of the item-grouped cross-validation (no pair on one side)",
                    });
                }
                Ok(ItemFold {
                    train: self.subset(&train),
                    valid: self.subset(&valid),
                    cross_pairs_dropped: cross,
                })
            })
            .collect()
    }
}

fn check_fraction(fraction: f64) -> Result<()> {
    if fraction > 0.0 && fraction < 1.0 {
        Ok(())
    } else {
        Err(Error::config(
            "fraction",
            format!("must be in (0, 1), got {fraction}"),
        ))
    }
}

/// `round(fraction * n)`, which must leave both parts non-empty (else `Error::Empty`
/// naming the empty part).
fn first_part_size(
    fraction: f64,
    n: usize,
    first: &'static str,
    second: &'static str,
) -> Result<usize> {
    let k = (fraction * n as f64).round() as usize;
    if k == 0 {
        return Err(Error::Empty { what: first });
    }
    if k >= n {
        return Err(Error::Empty { what: second });
    }
    Ok(k)
}

impl sealed::Gather for ItemPairs {
    fn item_pairs(&self) -> Option<sealed::ItemPairsView<'_>> {
        Some((self.items.view(), &self.pairs))
    }

    fn gather(&self, idx: &[usize], mut x: ArrayViewMut2<f32>, mut y: ArrayViewMut2<f32>) {
        for (r, &k) in idx.iter().enumerate() {
            // Ids were checked at construction and `idx` comes from the crate: a miss is a
            // bug in the crate, never bad input, and must not leave a stale row behind.
            let &(i, j) = self
                .pairs
                .get(k)
                .expect("gather index within the dataset's pairs");
            x.row_mut(r).assign(&self.items.row(i));
            y.row_mut(r).assign(&self.items.row(j));
        }
    }
}

impl PairData for ItemPairs {
    fn len(&self) -> usize {
        self.pairs.len()
    }
    fn dim(&self) -> usize {
        self.items.ncols()
    }
    fn labels(&self) -> &[f32] {
        &self.labels
    }
}
