//! Scoring pairs given by item id, without labels: [`IdScorer`] and [`score_pairs_csv`].
//!
//! An item matrix `(n_items, d)` and pairs `(i, j)` of its row numbers: the same shape as
//! [`ItemPairs`](crate::ItemPairs), minus the labels. Validation happens once, when the
//! scorer is made (every item finite, width = the model's); each pair's ids are checked as
//! it is scored. Pairs are scored in chunks: a chunk's rows are gathered into two buffers
//! made once and reused, then scored with
//! [`predict_logits`](crate::PairClassifier::predict_logits), which uses several threads on
//! large chunks. Memory is bounded by the chunk size, whatever the number of pairs, when
//! the pairs come from an iterator ([`IdScorer::for_each_chunk`], [`IdScorer::write_csv`])
//! or a file ([`score_pairs_csv`]).
//!
//! Logits are those of `predict_logits` on the gathered rows, bit for bit, on the plain
//! path.
//!
//! # The per-item path
//!
//! When the pairs outnumber the items, work per item pays: the encoder runs once per item
//! (every family), and for `Sum`, `Concat` and `ConcatSwapAverage` MLP heads the first
//! layer is precomputed per item (`W [x|y] = W_1 x + W_2 y`, as in
//! [`score_all_pairs`](crate::PairClassifier::score_all_pairs)), so a pair costs `O(h)`
//! for that layer instead of `O(d h)`. [`Precompute::Auto`] (the default) takes this path
//! when a call is known to bring at least as many pairs as there are items (a slice, or an
//! iterator whose `size_hint` says so); [`IdScorer::with_precompute`] forces either path
//! (`Always` precomputes once, when set, for every later call). On this path logits agree
//! with the plain path to rounding (within `1e-5`), and symmetric models stay symmetric
//! bit for bit; combiners without a linear decomposition agree bit for bit.
//!
//! # Example
//!
//! ```
//! use ndarray::array;
//! use sympair::{Combiner, Error, IdScorer, PairClassifier};
//!
//! let model = PairClassifier::builder(2, Combiner::AbsDiff).seed(3).build()?;
//! let items = array![[0.0f32, 1.0], [1.0, 0.0], [0.9, 0.1]];
//! let scorer = IdScorer::new(&model, items.view())?;
//!
//! let p = scorer.probabilities(&[(0, 1), (1, 2), (2, 1)])?;
//! assert_eq!(p[1], p[2]); // symmetric, bit for bit
//! let direct = model.predict_proba(items.slice(ndarray::s![1..2, ..]), items.slice(ndarray::s![2..3, ..]))?;
//! assert_eq!(p[1], direct[0]);
//!
//! // Pair row 1 names item 7, past the last of 3 items:
//! let err = scorer.logits(&[(0, 1), (7, 2)]).unwrap_err();
//! assert!(matches!(err, Error::ItemOutOfRange { row: 1, id: 7, n_items: 3 }));
//!
//! // Stream any number of pairs to CSV, 2 pairs in memory at a time:
//! let mut out = Vec::new();
//! let n = scorer.with_chunk_size(2)?.write_csv((0..3).map(|i| (i, (i + 1) % 3)), &mut out)?;
//! assert_eq!(n, 3);
//! assert!(String::from_utf8(out).unwrap().starts_with("i,j,probability\n0,1,"));
//! # Ok::<(), sympair::Error>(())
//! ```

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use crate::combiner::PairCombiner;
use crate::data::{check_finite, try_zeros};
use crate::error::{Error, Result};
use crate::io::{PairsCsv, PredictionsWriter, write_csv_atomically};
use crate::model::PairClassifier;
use crate::scoring::{BLOCK, Prepared, Slot};

/// Pairs scored per chunk unless set with [`IdScorer::with_chunk_size`]. The two gather
/// buffers then take `2 * 4096 * d * 4` bytes (12 MiB at `d = 384`).
pub const DEFAULT_CHUNK: usize = 4096;

/// Whether an [`IdScorer`] works per item first; see the [module docs](crate::ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Precompute {
    /// Per item when a call brings at least as many pairs as there are items (known from
    /// a slice's length or an iterator's `size_hint`); plain otherwise.
    #[default]
    Auto,
    /// Per item always: prepared once, when set, and reused by every call.
    Always,
    /// Never: every pair through the pair API, bit for bit `predict_logits`.
    Never,
}

/// Scores pairs of item ids with one model against one validated item matrix; see the
/// [module docs](crate::ids).
///
/// For pairs of an [`ItemPairs`](crate::ItemPairs), pass its
/// [`items`](crate::ItemPairs::items) and [`pairs`](crate::ItemPairs::pairs): labels are
/// not needed.
#[derive(Clone)]
pub struct IdScorer<'a, C = crate::Combiner> {
    model: &'a PairClassifier<C>,
    items: ArrayView2<'a, f32>,
    chunk: usize,
    precompute: Precompute,
    /// The per-item preparation of `Precompute::Always`, shared by clones.
    prepared: Option<Arc<Prepared<'a>>>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for IdScorer<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdScorer")
            .field("model", self.model)
            .field("n_items", &self.items.nrows())
            .field("chunk", &self.chunk)
            .field("precompute", &self.precompute)
            .field("prepared", &self.prepared.is_some())
            .finish()
    }
}

impl<'a, C: PairCombiner> IdScorer<'a, C> {
    /// A scorer of pairs of rows of `items` (`(n_items, d)`, `d` the model's input width).
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] (`what: "items"`) if there is no item; [`Error::WidthMismatch`]
    /// (`what: "items"`) if `d` differs from the model's; [`Error::NonFinite`]
    /// (`what: "items"`) naming the item row and column of the first NaN or infinity,
    /// whether or not a pair uses that item.
    pub fn new(model: &'a PairClassifier<C>, items: ArrayView2<'a, f32>) -> Result<Self> {
        if items.nrows() == 0 {
            return Err(Error::Empty { what: "items" });
        }
        if items.ncols() != model.input_dim() {
            return Err(Error::WidthMismatch {
                what: "items",
                expected: model.input_dim(),
                found: items.ncols(),
            });
        }
        check_finite("items", items)?;
        Ok(IdScorer {
            model,
            items,
            chunk: DEFAULT_CHUNK,
            precompute: Precompute::Auto,
            prepared: None,
        })
    }

    /// Chooses the per-item path (see the [module docs](crate::ids)); default
    /// [`Precompute::Auto`]. `Always` prepares the items now: the encoder once per item and,
    /// where the head allows, the first layer, holding `n_items` rows of the encoder's
    /// width, or of twice the first layer's for `Concat`/`ConcatSwapAverage`.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] if memory for the prepared rows cannot be had.
    pub fn with_precompute(mut self, mode: Precompute) -> Result<Self> {
        self.prepared = match mode {
            Precompute::Always => Some(Arc::new(self.model.prepare(self.items)?)),
            _ => None,
        };
        self.precompute = mode;
        Ok(self)
    }

    /// Scores at most `pairs` pairs at a time (default [`DEFAULT_CHUNK`]); memory for the
    /// gathered rows is `2 * pairs * d` values. Larger chunks let prediction use more
    /// threads; smaller ones bound memory more tightly.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "chunk_size"`) if `pairs` is 0.
    pub fn with_chunk_size(mut self, pairs: usize) -> Result<Self> {
        if pairs == 0 {
            return Err(Error::config("chunk_size", "must be at least 1"));
        }
        self.chunk = pairs;
        Ok(self)
    }

    /// Number of items (rows of the item matrix).
    pub fn n_items(&self) -> usize {
        self.items.nrows()
    }

    /// Logits of the pairs `(i, j)`, in order. No pairs give an empty vector.
    ///
    /// # Errors
    ///
    /// [`Error::ItemOutOfRange`] with the row of the first pair (in order) naming an id
    /// `>= n_items` (`i` checked before `j`); nothing is returned then.
    pub fn logits(&self, pairs: &[(usize, usize)]) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(pairs.len());
        self.for_each_chunk(pairs.iter().copied(), |_, logits| {
            out.extend_from_slice(logits);
            Ok(())
        })?;
        Ok(out)
    }

    /// Probabilities of the pairs, in order, as
    /// [`predict_proba`](crate::PairClassifier::predict_proba) gives them (calibrated if
    /// the model has a calibration); see [`logits`](Self::logits).
    pub fn probabilities(&self, pairs: &[(usize, usize)]) -> Result<Vec<f32>> {
        let mut p = self.logits(pairs)?;
        let decision = self.model.decision();
        p.iter_mut().for_each(|z| *z = decision.proba(*z));
        Ok(p)
    }

    /// Scores `pairs` chunk by chunk, calling `f(chunk_pairs, chunk_logits)` once per chunk
    /// in order, and returns the number of pairs scored. The iterator is read one chunk
    /// ahead of `f` at most, so memory is bounded by the chunk size.
    ///
    /// # Errors
    ///
    /// [`Error::ItemOutOfRange`] with the row (0-based position in the whole stream) of
    /// the first pair naming an id `>= n_items`; chunks before it have been passed to `f`.
    /// An error returned by `f` stops scoring and is returned as is.
    pub fn for_each_chunk<I, F>(&self, pairs: I, f: F) -> Result<usize>
    where
        I: IntoIterator<Item = (usize, usize)>,
        F: FnMut(&[(usize, usize)], &[f32]) -> Result<()>,
    {
        self.try_for_each_chunk(pairs.into_iter().map(Ok), f)
    }

    /// [`for_each_chunk`](Self::for_each_chunk) over fallible pairs (as read from a file by
    /// [`PairsCsv::ids`]): the first error of the iterator stops scoring and is returned.
    pub fn try_for_each_chunk<I, F>(&self, pairs: I, mut f: F) -> Result<usize>
    where
        I: IntoIterator<Item = Result<(usize, usize)>>,
        F: FnMut(&[(usize, usize)], &[f32]) -> Result<()>,
    {
        let mut pairs = pairs.into_iter();
        // The path is chosen once per call, so every pair of a call takes the same one.
        let local;
        let prep: Option<&Prepared> = match (&self.prepared, self.precompute) {
            (Some(p), _) => Some(p),
            (None, Precompute::Auto) if pairs.size_hint().0 >= self.items.nrows() => {
                local = self.model.prepare(self.items)?;
                Some(&local)
            }
            _ => None,
        };
        let mut work = ChunkWork::new(self.items.ncols());
        let mut done = 0;
        loop {
            work.pairs.clear();
            for pair in pairs.by_ref().take(self.chunk) {
                work.pairs.push(pair?);
            }
            if work.pairs.is_empty() {
                return Ok(done);
            }
            let logits = match prep {
                Some(p) => self.score_chunk_prepared(p, &mut work, done)?,
                None => self.score_chunk(&mut work, done)?,
            };
            f(&work.pairs, &logits)?;
            done += work.pairs.len();
        }
    }

    /// Streams `pairs` to `out` as CSV (`i,j,probability`, see
    /// [`PredictionsWriter`]; probabilities as in [`probabilities`](Self::probabilities))
    /// and returns the number of pairs written. Memory is bounded by the chunk size.
    ///
    /// # Errors
    ///
    /// Those of [`for_each_chunk`](Self::for_each_chunk); [`Error::Io`] (path `<writer>`)
    /// if writing fails. Rows of chunks before an error have been written.
    pub fn write_csv<I, W>(&self, pairs: I, out: W) -> Result<usize>
    where
        I: IntoIterator<Item = (usize, usize)>,
        W: Write,
    {
        self.try_write_csv(pairs.into_iter().map(Ok), out)
    }

    /// [`write_csv`](Self::write_csv) over fallible pairs, such as those of
    /// [`PairsCsv::ids`] reading any reader (standard input, a socket): the first error of
    /// the iterator stops scoring and is returned.
    ///
    /// ```
    /// use ndarray::array;
    /// use sympair::{Combiner, IdScorer, PairClassifier, io::PairsCsv};
    ///
    /// let model = PairClassifier::builder(2, Combiner::Sum).seed(1).build()?;
    /// let items = array![[0.0f32, 1.0], [1.0, 0.0]];
    /// let input = "i,j\n0,1\n1,1\n".as_bytes(); // say, std::io::stdin().lock()
    /// let mut out = Vec::new(); // say, std::io::stdout().lock()
    /// let n = IdScorer::new(&model, items.view())?.try_write_csv(PairsCsv::new().ids(input)?, &mut out)?;
    /// assert_eq!((n, String::from_utf8(out).unwrap().lines().count()), (2, 3));
    /// # Ok::<(), sympair::Error>(())
    /// ```
    pub fn try_write_csv<I, W>(&self, pairs: I, out: W) -> Result<usize>
    where
        I: IntoIterator<Item = Result<(usize, usize)>>,
        W: Write,
    {
        let mut w = PredictionsWriter::new(out)?;
        let n = self.write_rows(pairs, &mut w)?;
        w.finish()?;
        Ok(n)
    }

    fn write_rows<I, W>(&self, pairs: I, w: &mut PredictionsWriter<W>) -> Result<usize>
    where
        I: IntoIterator<Item = Result<(usize, usize)>>,
        W: Write,
    {
        self.try_for_each_chunk(pairs, |pairs, logits| {
            for (&(i, j), &z) in pairs.iter().zip(logits) {
                w.write(i, j, self.model.decision().proba(z))?;
            }
            Ok(())
        })
    }

    /// [`Error::ItemOutOfRange`] for the first pair of the chunk (rows from `offset` in
    /// the stream) naming a missing item.
    fn check_ids(&self, pairs: &[(usize, usize)], offset: usize) -> Result<()> {
        let n_items = self.items.nrows();
        for (r, &(i, j)) in pairs.iter().enumerate() {
            if let Some(id) = [i, j].into_iter().find(|&id| id >= n_items) {
                return Err(Error::ItemOutOfRange {
                    row: offset + r,
                    id,
                    n_items,
                });
            }
        }
        Ok(())
    }

    /// Scores the chunk in `work.pairs` on the per-item path: the chunk is cut into one
    /// piece per thread of the current rayon pool (at most [`BLOCK`] pairs each), each
    /// scored by the all-pairs scorer's block kernel with its own reused buffers.
    fn score_chunk_prepared(
        &self,
        prep: &Prepared,
        work: &mut ChunkWork,
        offset: usize,
    ) -> Result<Vec<f32>> {
        self.check_ids(&work.pairs, offset)?;
        let n = work.pairs.len();
        let threads = rayon::current_num_threads().max(1);
        let piece = n.div_ceil(threads).clamp(1, BLOCK);
        let pieces = n.div_ceil(piece);
        while work.slots.len() < pieces {
            work.slots.extend(self.model.slots(1, prep));
        }
        let slots = &mut work.slots[..pieces];
        for (slot, chunk) in slots.iter_mut().zip(work.pairs.chunks(piece)) {
            slot.pairs.clear();
            slot.pairs.extend_from_slice(chunk);
        }
        slots.par_iter_mut().enumerate().try_for_each(|(p, slot)| {
            self.model
                .score_block(prep, prep, slot)
                .map_err(|e| offset_rows(e, offset + p * piece))
        })?;
        let mut out = Vec::with_capacity(n);
        for slot in slots.iter() {
            out.extend_from_slice(&slot.out[..slot.pairs.len()]);
        }
        // As on the plain path: a logit that overflows (huge but finite items) is typed.
        if let Some(r) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteLogit {
                row: offset + r,
                value: out[r],
            });
        }
        Ok(out)
    }

    /// Checks the ids of the chunk in `work.pairs` (rows from `offset` in the stream),
    /// gathers their rows and scores them through the pair API.
    fn score_chunk(&self, work: &mut ChunkWork, offset: usize) -> Result<Vec<f32>> {
        self.check_ids(&work.pairs, offset)?;
        let n = work.pairs.len();
        work.reserve_rows(n)?;
        for (r, &(i, j)) in work.pairs.iter().enumerate() {
            work.x.row_mut(r).assign(&self.items.row(i));
            work.y.row_mut(r).assign(&self.items.row(j));
        }
        let logits = self
            .model
            .predict_logits(work.x.slice(s![..n, ..]), work.y.slice(s![..n, ..]))
            .map_err(|e| offset_rows(e, offset))?;
        Ok(logits.into_raw_vec_and_offset().0)
    }
}

/// Rows of a chunk are pairs of the stream from `offset`.
fn offset_rows(e: Error, offset: usize) -> Error {
    match e {
        Error::NonFiniteLogit { row, value } => Error::NonFiniteLogit {
            row: offset + row,
            value,
        },
        Error::NonFinite {
            what,
            row,
            col,
            value,
        } => Error::NonFinite {
            what,
            row: offset + row,
            col,
            value,
        },
        other => other,
    }
}

/// Buffers of one chunk, made once per call and reused; sized to the largest chunk seen,
/// so a chunk size far above the number of pairs costs nothing.
struct ChunkWork {
    pairs: Vec<(usize, usize)>,
    x: Array2<f32>,
    y: Array2<f32>,
    /// Per-thread buffers of the per-item path, made on first use.
    slots: Vec<Slot>,
}

impl ChunkWork {
    fn new(d: usize) -> Self {
        ChunkWork {
            pairs: Vec::new(),
            x: Array2::zeros((0, d)),
            y: Array2::zeros((0, d)),
            slots: Vec::new(),
        }
    }

    /// Makes room for `n` rows.
    fn reserve_rows(&mut self, n: usize) -> Result<()> {
        if self.x.nrows() < n {
            let d = self.x.ncols();
            self.x = try_zeros(n, d, "id scoring chunk")?;
            self.y = try_zeros(n, d, "id scoring chunk")?;
        }
        Ok(())
    }
}

/// Reads id pairs from the CSV at `pairs_csv` (columns and filter from `columns`; a label
/// column, if any, is ignored), scores them and writes `i,j,probability` to `out`, streaming
/// both files: memory is bounded by [`DEFAULT_CHUNK`] pairs, not by the file. Returns the
/// number of pairs written. The output is written atomically: on any error the file at
/// `out` is untouched.
///
/// # Errors
///
/// Those of [`IdScorer::new`]; [`Error::Io`] naming the file that could not be read or
/// written; [`Error::Parse`] with the line of the input CSV; [`Error::ItemOutOfRange`] with
/// the row (0-based, among the rows kept) of the first pair naming a missing item.
///
/// # Example
///
/// ```
/// use ndarray::array;
/// use sympair::io::PairsCsv;
/// use sympair::{Combiner, PairClassifier, ids::score_pairs_csv};
///
/// let dir = std::env::temp_dir().join(format!("sympair-ids-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("new.csv"), "j,i,source\n1,0,web\n2,1,app\n").unwrap();
///
/// let model = PairClassifier::builder(2, Combiner::AbsDiff).seed(3).build()?;
/// let items = array![[0.0f32, 1.0], [1.0, 0.0], [0.9, 0.1]];
/// let n = score_pairs_csv(&model, items.view(), dir.join("new.csv"), &PairsCsv::new(), dir.join("scores.csv"))?;
/// assert_eq!(n, 2);
/// let text = std::fs::read_to_string(dir.join("scores.csv")).unwrap();
/// assert!(text.starts_with("i,j,probability\n0,1,"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), sympair::Error>(())
/// ```
pub fn score_pairs_csv<C: PairCombiner>(
    model: &PairClassifier<C>,
    items: ArrayView2<f32>,
    pairs_csv: impl AsRef<Path>,
    columns: &PairsCsv,
    out: impl AsRef<Path>,
) -> Result<usize> {
    let scorer = IdScorer::new(model, items)?;
    let input = pairs_csv.as_ref();
    let file = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
    let pairs = columns.ids(file).map_err(|e| name_input(e, input))?;
    write_csv_atomically(out.as_ref(), |w| scorer.write_rows(pairs, w).map(|_| ()))
        .map_err(|e| name_input(e, input))
}

/// Gives a reader's I/O error the path of the file it was reading.
fn name_input(e: Error, input: &Path) -> Error {
    match e {
        Error::Io { path, source } if path == Path::new("<reader>") => Error::io(input, source),
        other => other,
    }
}
