//! Scale: the crate's candidate search (`sympair::candidates`), clustering
//! (`sympair::cluster`) and blocking helpers (`sympair::blocking`) for Python.
//!
//! Same rules as the rest of the module: numpy in (float32 read in place, float64 and
//! integers converted once), the GIL released while the crate works, on the pool that
//! `set_num_threads` chose, and every bad input a Python exception (`ValueError` with the
//! crate's message), never a crash.
//!
//! A `CandidateSearch` borrows its model and items in Rust; the Python object owns both (a
//! copy of the model and a float32 copy of the items, taken once) next to the search that
//! borrows them, through the `self_cell` crate (a self-referential struct without `unsafe`
//! in this module).

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ndarray::{Array2, Ix1, Ix2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use self_cell::self_cell;
use sympair::blocking;
use sympair::candidates::{CandidateSearch, RetrievalMetric, SearchConfig};
use sympair::cluster::{ClusterMetrics, Clusterer};
use sympair::{Combiner, Error, PairClassifier};

use super::{OrPy, PyModel, converted, float_array, run, shape_error, to_py};

/// How often long searches look for Ctrl-C (taking the GIL only then).
const SIGNAL_CHECK_EVERY: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------
// Small conversions
// ---------------------------------------------------------------------------------------

/// A count from Python that must be at least `min`: a `ValueError` naming `what`
/// otherwise (negative numbers included, which would be an `OverflowError` as `usize`).
fn count(value: i64, what: &str, min: i64) -> PyResult<usize> {
    if value < min {
        return Err(PyValueError::new_err(format!(
            "{what} must be at least {min}, got {value}"
        )));
    }
    usize::try_from(value).map_err(|_| PyValueError::new_err(format!("{what} is too large")))
}

/// A probability threshold checked in double precision (so that `1 + 1e-12` is refused,
/// not rounded to `1.0f32`), then as `f32`.
fn threshold_of(threshold: f64) -> PyResult<f32> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(to_py(Error::InvalidConfig {
            field: "threshold",
            reason: format!("must be a probability in [0, 1], got {threshold}"),
        }));
    }
    Ok(threshold as f32)
}

/// A 1-D int64 array (other integer dtypes converted once).
fn int_vector<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray1<'py, i64>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, i64>>() {
        if a.is_aligned() {
            return Ok(a);
        }
    }
    let arr = converted(obj, what, "iu", "int64", "an integer array")?;
    arr.extract::<PyReadonlyArray1<'py, i64>>()
        .map_err(|_| shape_error(&arr, what, Some(1)))
}

/// Item ids from a 1-D integer array, each checked in `0..n_items` (`None`: unchecked
/// upper bound, left to the crate).
fn item_ids(obj: &Bound<'_, PyAny>, what: &str, n_items: Option<usize>) -> PyResult<Vec<usize>> {
    let arr = int_vector(obj, what)?;
    let view = arr.as_array();
    let mut out = Vec::new();
    out.try_reserve_exact(view.len())
        .map_err(|_| PyMemoryError::new_err(format!("cannot hold {} ids", view.len())))?;
    for (row, &v) in view.iter().enumerate() {
        let id = usize::try_from(v).map_err(|_| {
            PyValueError::new_err(format!("negative item id {v} in {what} at row {row}"))
        })?;
        if let Some(n) = n_items.filter(|&n| id >= n) {
            return Err(to_py(Error::ItemOutOfRange {
                row,
                id,
                n_items: n,
            }));
        }
        out.push(id);
    }
    Ok(out)
}

/// A zeroed vector of `len` values, or `MemoryError` instead of an abort.
fn filled<T: Clone>(len: usize, value: T, what: &str) -> PyResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| PyMemoryError::new_err(format!("cannot hold {len} {what}")))?;
    v.resize(len, value);
    Ok(v)
}

fn metric_named(name: &str) -> PyResult<RetrievalMetric> {
    match name {
        "squared_l2" => Ok(RetrievalMetric::SquaredL2),
        "cosine" => Ok(RetrievalMetric::Cosine),
        "inner_product" => Ok(RetrievalMetric::InnerProduct),
        other => Err(PyValueError::new_err(format!(
            "unknown metric {other:?}: expected \"squared_l2\", \"cosine\" or \"inner_product\""
        ))),
    }
}

fn metric_name(m: RetrievalMetric) -> &'static str {
    match m {
        RetrievalMetric::SquaredL2 => "squared_l2",
        RetrievalMetric::Cosine => "cosine",
        RetrievalMetric::InnerProduct => "inner_product",
        // A metric added to the crate later.
        _ => "other",
    }
}

/// A file created for writing, as the crate's `Error::Io` on failure.
fn create(path: &PathBuf) -> sympair::Result<BufWriter<std::fs::File>> {
    std::fs::File::create(path)
        .map(BufWriter::new)
        .map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })
}

/// Checks for Ctrl-C every [`SIGNAL_CHECK_EVERY`] from inside a crate callback. A
/// signal's exception is kept and the crate is stopped with a placeholder error, which
/// [`Interrupt::finish`] replaces by the exception. Signals reach only the main thread:
/// with `set_num_threads(n > 0)` the crate runs on a pool thread and the check is a no-op.
struct Interrupt {
    last: Instant,
    raised: Option<PyErr>,
}

impl Interrupt {
    fn new() -> Self {
        Interrupt {
            last: Instant::now(),
            raised: None,
        }
    }

    fn check(&mut self) -> sympair::Result<()> {
        if self.last.elapsed() < SIGNAL_CHECK_EVERY {
            return Ok(());
        }
        self.last = Instant::now();
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            self.raised = Some(e);
            return Err(Error::Unsupported("interrupted".into()));
        }
        Ok(())
    }

    fn finish<T>(self, result: sympair::Result<T>) -> PyResult<T> {
        match self.raised {
            Some(e) => Err(e),
            None => result.py_err(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Candidate search
// ---------------------------------------------------------------------------------------

/// What a search borrows: its own copy of the model and of the items.
struct Owner {
    model: PairClassifier,
    items: Array2<f32>,
}

type Search<'a> = CandidateSearch<'a, Combiner>;

self_cell!(
    /// A [`CandidateSearch`] together with the model and items it borrows.
    struct OwnedSearch {
        owner: Owner,
        #[not_covariant]
        dependent: Search,
    }
);

/// An approximate nearest-neighbour index (HNSW, `usearch`) over the items' retrieval
/// vectors (the encoder's outputs, else the embeddings), whose candidates the model then
/// scores exactly: the crate's `candidates::CandidateSearch`. Holds a copy of the model and
/// a float32 copy of the items.
#[pyclass(module = "sympair._sympair", name = "CandidateSearch", frozen)]
pub(crate) struct PyCandidateSearch {
    search: OwnedSearch,
    k: usize,
    candidates: usize,
}

/// `(partners, probabilities)` of `top_k`.
type TopK<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<f32>>);
/// `(i, j, probabilities)` of `pairs_above`.
type Triples<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f32>>,
);

impl PyCandidateSearch {
    fn n_items(&self) -> usize {
        self.search.borrow_owner().items.nrows()
    }
}

#[pymethods]
impl PyCandidateSearch {
    /// Indexes `items` `(n_items, d)` for `model` and keeps the best `k` partners per item
    /// among `candidates` nearest neighbours (default `max(3 k, k + 10)`). `connectivity`,
    /// `expansion_add` and `expansion_search` are the HNSW settings, `block` the queries
    /// per block, `metric` (`"squared_l2"`, `"cosine"`, `"inner_product"`; default: the
    /// model's own) the index's distance, `half_precision` stores the index in 16-bit
    /// floats. The index is built on `build_threads` threads (default: the package's
    /// setting); one thread builds the same index in every process. Releases the GIL.
    #[new]
    #[pyo3(signature = (model, items, k = 10, *, candidates = None, connectivity = 16, expansion_add = None, expansion_search = None, block = 4096, metric = None, half_precision = false, build_threads = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model: PyRef<'_, PyModel>,
        items: &Bound<'_, PyAny>,
        k: i64,
        candidates: Option<i64>,
        connectivity: i64,
        expansion_add: Option<i64>,
        expansion_search: Option<i64>,
        block: i64,
        metric: Option<&str>,
        half_precision: bool,
        build_threads: Option<i64>,
    ) -> PyResult<Self> {
        let items = float_array::<Ix2>(items, "items")?;
        let k = count(k, "k", 1)?;
        let mut config = SearchConfig::new(k).py_err()?;
        if let Some(c) = candidates {
            config = config
                .with_candidates(count(c, "candidates", 1)?)
                .py_err()?;
        }
        let candidates = config.candidates();
        config = config
            .with_connectivity(count(connectivity, "connectivity", 0)?)
            .py_err()?;
        if expansion_add.is_some() || expansion_search.is_some() {
            let add = expansion_add.map_or(Ok(128), |v| count(v, "expansion_add", 0))?;
            let search = expansion_search
                .map_or(Ok(candidates.saturating_mul(2).max(64)), |v| {
                    count(v, "expansion_search", 0)
                })?;
            config = config.with_expansion(add, search).py_err()?;
        }
        config = config.with_block(count(block, "block", 0)?).py_err()?;
        if let Some(m) = metric {
            config = config.with_metric(metric_named(m)?);
        }
        config = config.with_half_precision(half_precision);
        let view = items.as_array();
        let n = view.nrows();
        if n > 0 && k >= n {
            return Err(to_py(Error::InvalidConfig {
                field: "k",
                reason: format!("must be less than the number of items ({n}), got {k}"),
            }));
        }
        let pool = match build_threads {
            None => None,
            Some(t) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(count(t, "build_threads", 1)?.min(1024))
                    .build()
                    .map_err(|e| PyRuntimeError::new_err(format!("cannot start threads: {e}")))?,
            ),
        };
        let model = model.inner.clone();
        let build = move || {
            let items = view.as_standard_layout().into_owned();
            OwnedSearch::try_new(Owner { model, items }, |o| {
                CandidateSearch::new(&o.model, o.items.view(), &config)
            })
        };
        let search = match pool {
            Some(p) => py.detach(|| p.install(build)),
            None => run(py, build),
        }
        .py_err()?;
        Ok(Self {
            search,
            k,
            candidates,
        })
    }

    /// Number of items indexed.
    #[getter(n_items)]
    fn n_items_py(&self) -> usize {
        self.n_items()
    }

    /// Partners kept per item.
    #[getter]
    fn k(&self) -> usize {
        self.k
    }

    /// Candidates (nearest neighbours) scored per item.
    #[getter]
    fn candidates(&self) -> usize {
        self.candidates
    }

    /// The distance the index ranks by: `"squared_l2"`, `"cosine"` or `"inner_product"`.
    #[getter]
    fn metric(&self) -> &'static str {
        metric_name(self.search.with_dependent(|_, s| s.metric()))
    }

    /// Bytes held by the index (graph and vectors), as the index reports them.
    #[getter]
    fn index_bytes(&self) -> usize {
        self.search.with_dependent(|_, s| s.index_bytes())
    }

    /// The ids of the approximately nearest `candidates` items of item `query` (int64),
    /// nearest first, itself excluded. Releases the GIL.
    fn neighbours<'py>(&self, py: Python<'py>, query: i64) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let q = count(query, "query", 0)?;
        let ids = run(py, || self.search.with_dependent(|_, s| s.neighbours(q))).py_err()?;
        Ok(PyArray1::from_vec(
            py,
            ids.into_iter().map(|j| j as i64).collect(),
        ))
    }

    /// The best `k` partners of each item of `queries` (int ids; default: every item, in
    /// order) among its candidates: `(partners, probabilities)`, int64 and float32 arrays of
    /// shape `(n_queries, k)`, best first (ties: lower id first). A row with fewer than `k`
    /// candidates is padded with partner `-1` and probability NaN. Releases the GIL;
    /// Ctrl-C stops it with `KeyboardInterrupt` (when the crate runs on the calling thread:
    /// `set_num_threads(0)`, the default).
    #[pyo3(signature = (queries = None))]
    fn top_k<'py>(
        &self,
        py: Python<'py>,
        queries: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<TopK<'py>> {
        let n = self.n_items();
        let queries: Vec<usize> = match queries {
            Some(q) => item_ids(q, "queries", Some(n))?,
            None => (0..n).collect(),
        };
        let (m, k) = (queries.len(), self.k);
        let cells = m
            .checked_mul(k)
            .ok_or_else(|| PyMemoryError::new_err("too many queries"))?;
        let mut partners = filled(cells, -1i64, "partner ids")?;
        let mut probs = filled(cells, f32::NAN, "probabilities")?;
        let mut stop = Interrupt::new();
        let result = run(py, || {
            let mut row = 0;
            self.search.with_dependent(|_, s| {
                s.top_k_of(queries.iter().copied(), |_, best| {
                    for (c, &(j, p)) in best.iter().enumerate().take(k) {
                        partners[row * k + c] = j as i64;
                        probs[row * k + c] = p;
                    }
                    row += 1;
                    stop.check()
                })
            })
        });
        stop.finish(result)?;
        let partners = Array2::from_shape_vec((m, k), partners)
            .expect("m * k partner ids")
            .into_pyarray(py);
        let probs = Array2::from_shape_vec((m, k), probs)
            .expect("m * k probabilities")
            .into_pyarray(py);
        Ok((partners, probs))
    }

    /// Every candidate pair whose probability is at least `threshold`, each unordered pair
    /// once with `i < j`: `(i, j, probabilities)` (int64, int64, float32). Memory grows
    /// with the number of pairs returned; `write_above_csv` streams them instead.
    /// Releases the GIL.
    fn pairs_above<'py>(&self, py: Python<'py>, threshold: f64) -> PyResult<Triples<'py>> {
        let t = threshold_of(threshold)?;
        let (mut is, mut js, mut ps) = (Vec::new(), Vec::new(), Vec::new());
        let mut stop = Interrupt::new();
        let result = run(py, || {
            self.search.with_dependent(|_, s| {
                s.for_each_above(t, |i, j, p| {
                    is.push(i as i64);
                    js.push(j as i64);
                    ps.push(p);
                    stop.check()
                })
            })
        });
        stop.finish(result)?;
        Ok((
            PyArray1::from_vec(py, is),
            PyArray1::from_vec(py, js),
            PyArray1::from_vec(py, ps),
        ))
    }

    /// Writes every item's top `k` partners to the CSV file `path` (`i,j,probability`, an
    /// item's rows best first), one block in memory at a time; returns the number of rows.
    /// Releases the GIL.
    fn write_top_k_csv(&self, py: Python<'_>, path: PathBuf) -> PyResult<usize> {
        run(py, || {
            let out = create(&path)?;
            self.search.with_dependent(|_, s| s.write_top_k_csv(out))
        })
        .py_err()
    }

    /// Writes the pairs of `pairs_above(threshold)` to the CSV file `path`
    /// (`i,j,probability`, `i < j`), streaming; returns the number of rows. Releases the
    /// GIL.
    fn write_above_csv(&self, py: Python<'_>, path: PathBuf, threshold: f64) -> PyResult<usize> {
        let t = threshold_of(threshold)?;
        run(py, || {
            let out = create(&path)?;
            self.search.with_dependent(|_, s| s.write_above_csv(t, out))
        })
        .py_err()
    }

    fn __len__(&self) -> usize {
        self.n_items()
    }

    fn __repr__(&self) -> String {
        format!(
            "CandidateSearch(n_items={}, k={}, candidates={}, metric={:?})",
            self.n_items(),
            self.k,
            self.candidates,
            self.metric()
        )
    }
}

// ---------------------------------------------------------------------------------------
// Clustering
// ---------------------------------------------------------------------------------------

/// Connected components of the pairs scored at or above a probability threshold (a
/// union-find over `n_items` items; the crate's `cluster::Clusterer`). Pairs stream in by
/// `add`, `add_top_k` or `add_csv`; `labels()` gives one entity label per item.
#[pyclass(module = "sympair._sympair", name = "Clusterer")]
pub(crate) struct PyClusterer {
    inner: Clusterer,
    n_items: usize,
}

impl PyClusterer {
    /// Checks every pair before adding any, so that a failed call adds nothing.
    fn add_checked(&mut self, pairs: Vec<(usize, usize, f32)>) -> sympair::Result<usize> {
        let n = self.n_items;
        let first = self.inner.pairs_seen();
        for (r, &(i, j, p)) in pairs.iter().enumerate() {
            if let Some(id) = [i, j].into_iter().find(|&id| id >= n) {
                return Err(Error::ItemOutOfRange {
                    row: first + r,
                    id,
                    n_items: n,
                });
            }
            if !p.is_finite() {
                return Err(Error::NonFinite {
                    what: "probability",
                    row: first + r,
                    col: 2,
                    value: p,
                });
            }
        }
        self.inner.add_all(pairs)
    }
}

#[pymethods]
impl PyClusterer {
    /// A clustering of `n_items` items (each its own entity until a pair links it) that
    /// links the pairs whose probability is at least `threshold`.
    #[new]
    #[pyo3(signature = (n_items, threshold = 0.5))]
    fn new(n_items: i64, threshold: f64) -> PyResult<Self> {
        let n = count(n_items, "n_items", 0)?;
        let t = threshold_of(threshold)?;
        let inner = Clusterer::new(n, t).py_err()?;
        Ok(Self { inner, n_items: n })
    }

    /// Adds the pairs `(i[r], j[r])` scored `probabilities[r]`; returns how many were at or
    /// above the threshold. Every pair is checked first (ids in range, probabilities
    /// finite, equal lengths): a call that raises adds nothing.
    fn add(
        &mut self,
        py: Python<'_>,
        i: &Bound<'_, PyAny>,
        j: &Bound<'_, PyAny>,
        probabilities: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let is = item_ids(i, "i", None)?;
        let js = item_ids(j, "j", None)?;
        let ps = float_array::<Ix1>(probabilities, "probabilities")?;
        let ps = ps.as_array();
        for (what, len) in [("j", js.len()), ("probabilities", ps.len())] {
            if len != is.len() {
                return Err(to_py(Error::RowMismatch {
                    what,
                    expected: is.len(),
                    found: len,
                }));
            }
        }
        let pairs: Vec<(usize, usize, f32)> = is
            .into_iter()
            .zip(js)
            .zip(ps.iter())
            .map(|((i, j), &p)| (i, j, p))
            .collect();
        let inner = &mut *self;
        run(py, || inner.add_checked(pairs)).py_err()
    }

    /// Adds the output of `CandidateSearch.top_k`: row `r` of `partners` and
    /// `probabilities` (both `(m, k)`) are the partners of item `queries[r]` (default:
    /// `r`). Padding (partner `-1`) is skipped. Returns how many pairs were linked; a call
    /// that raises adds nothing.
    #[pyo3(signature = (partners, probabilities, queries = None))]
    fn add_top_k(
        &mut self,
        py: Python<'_>,
        partners: &Bound<'_, PyAny>,
        probabilities: &Bound<'_, PyAny>,
        queries: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let parts = super::id_array(partners, "partners")?;
        let probs = float_array::<Ix2>(probabilities, "probabilities")?;
        let (pv, qv) = (parts.as_array(), probs.as_array());
        if pv.dim() != qv.dim() {
            return Err(PyValueError::new_err(format!(
                "partners and probabilities must have the same shape, got {:?} and {:?}",
                pv.dim(),
                qv.dim()
            )));
        }
        let rows: Vec<usize> = match queries {
            Some(q) => item_ids(q, "queries", None)?,
            None => (0..pv.nrows()).collect(),
        };
        if rows.len() != pv.nrows() {
            return Err(to_py(Error::RowMismatch {
                what: "queries",
                expected: pv.nrows(),
                found: rows.len(),
            }));
        }
        let mut pairs = Vec::new();
        for (r, (&q, (prow, qrow))) in rows
            .iter()
            .zip(pv.outer_iter().zip(qv.outer_iter()))
            .enumerate()
        {
            for (c, (&j, &p)) in prow.iter().zip(qrow.iter()).enumerate() {
                if j == -1 {
                    continue;
                }
                let j = usize::try_from(j).map_err(|_| {
                    PyValueError::new_err(format!(
                        "negative partner id {j} at row {r}, column {c} (only -1, padding, \
                         may be negative)"
                    ))
                })?;
                pairs.push((q, j, p));
            }
        }
        let inner = &mut *self;
        run(py, || inner.add_checked(pairs)).py_err()
    }

    /// Adds the pairs of a CSV file with a header naming columns `i`, `j` and
    /// `probability` (what `CandidateSearch.write_top_k_csv` writes), streaming; returns
    /// how many were linked. Pairs before a bad line stay added.
    fn add_csv(&mut self, py: Python<'_>, path: PathBuf) -> PyResult<usize> {
        let inner = &mut self.inner;
        run(py, || {
            let file = std::fs::File::open(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            inner.add_csv(std::io::BufReader::new(file))
        })
        .py_err()
    }

    /// Pairs added so far.
    #[getter]
    fn pairs_seen(&self) -> usize {
        self.inner.pairs_seen()
    }

    /// Pairs added so far at or above the threshold.
    #[getter]
    fn pairs_linked(&self) -> usize {
        self.inner.pairs_linked()
    }

    /// The entity of each item (int64), numbered `0, 1, ...` in order of each entity's
    /// smallest item. More pairs may be added afterwards.
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let labels: Vec<i64> = py.detach(|| {
            let c = self.inner.clone().finish();
            c.labels().iter().map(|&l| l as i64).collect()
        });
        PyArray1::from_vec(py, labels)
    }

    /// The items of every entity of at least `min_size` items, each sorted (int64 arrays),
    /// in label order. `groups(2)` lists the entities with duplicates.
    #[pyo3(signature = (min_size = 2))]
    fn groups<'py>(
        &self,
        py: Python<'py>,
        min_size: i64,
    ) -> PyResult<Vec<Bound<'py, PyArray1<i64>>>> {
        let min_size = count(min_size, "min_size", 0)?;
        let groups = py.detach(|| self.inner.clone().finish().groups(min_size));
        Ok(groups
            .into_iter()
            .map(|g| PyArray1::from_vec(py, g.into_iter().map(|i| i as i64).collect()))
            .collect())
    }

    fn __repr__(&self) -> String {
        format!(
            "Clusterer(pairs_seen={}, pairs_linked={})",
            self.inner.pairs_seen(),
            self.inner.pairs_linked()
        )
    }
}

/// Dense labels `0..` for arbitrary int64 labels (only equality matters).
fn dense(labels: ndarray::ArrayView1<'_, i64>) -> Vec<usize> {
    let mut ids: HashMap<i64, usize> = HashMap::new();
    labels
        .iter()
        .map(|&l| {
            let next = ids.len();
            *ids.entry(l).or_insert(next)
        })
        .collect()
}

/// Scores predicted entity labels against true group labels (1-D integer arrays, item by
/// item; only equality of labels matters): a dict with pairwise `pair_precision`,
/// `pair_recall`, `pair_f1` and the pair counts `tp`, `fp`, `fn`, `tn`,
/// `bcubed_precision`, `bcubed_recall`, `bcubed_f1`, `adjusted_rand`, `n_predicted` and
/// `n_true` (the crate's `cluster::ClusterMetrics`). Releases the GIL.
#[pyfunction]
pub(crate) fn cluster_metrics<'py>(
    py: Python<'py>,
    predicted: &Bound<'py, PyAny>,
    truth: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let p = int_vector(predicted, "predicted")?;
    let t = int_vector(truth, "truth")?;
    let (pv, tv) = (p.as_array(), t.as_array());
    let m = run(py, || ClusterMetrics::compare(&dense(pv), &dense(tv))).py_err()?;
    let d = PyDict::new(py);
    let (bp, br) = (m.bcubed_precision, m.bcubed_recall);
    d.set_item("pair_precision", m.pairs.precision())?;
    d.set_item("pair_recall", m.pairs.recall())?;
    d.set_item("pair_f1", m.pairs.f1())?;
    d.set_item("tp", m.pairs.tp)?;
    d.set_item("fp", m.pairs.fp)?;
    d.set_item("fn", m.pairs.fn_)?;
    d.set_item("tn", m.pairs.tn)?;
    d.set_item("bcubed_precision", bp)?;
    d.set_item("bcubed_recall", br)?;
    d.set_item(
        "bcubed_f1",
        if bp + br > 0.0 {
            2.0 * bp * br / (bp + br)
        } else {
            0.0
        },
    )?;
    d.set_item("adjusted_rand", m.adjusted_rand)?;
    d.set_item("n_predicted", m.n_predicted)?;
    d.set_item("n_true", m.n_true)?;
    Ok(d)
}

/// Candidate pairs `(n, 2)` (integer ids, e.g. from blocking rules) in canonical form:
/// each pair as `(min, max)`, self-pairs and repeats (in either order) dropped, sorted.
/// Returns `(pairs, dropped)`: an `(m, 2)` int64 array and a dict with `self_pairs` and
/// `repeats` (the crate's `blocking::canonicalize`). Releases the GIL.
#[pyfunction]
pub(crate) fn canonicalize<'py>(
    py: Python<'py>,
    pairs: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyArray2<i64>>, Bound<'py, PyDict>)> {
    let ids = super::ids_from(&super::id_array(pairs, "pairs")?, "pairs")?;
    let (ids, dropped) = run(py, move || {
        let mut ids = ids;
        let dropped = blocking::canonicalize(&mut ids);
        (ids, dropped)
    });
    let m = ids.len();
    let flat: Vec<i64> = ids
        .into_iter()
        .flat_map(|(i, j)| [i as i64, j as i64])
        .collect();
    let out = Array2::from_shape_vec((m, 2), flat)
        .expect("two ids per pair")
        .into_pyarray(py);
    let d = PyDict::new(py);
    d.set_item("self_pairs", dropped.self_pairs)?;
    d.set_item("repeats", dropped.repeats)?;
    Ok((out, d))
}

/// Adds this file's classes and functions to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCandidateSearch>()?;
    m.add_class::<PyClusterer>()?;
    m.add_function(wrap_pyfunction!(cluster_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(canonicalize, m)?)?;
    Ok(())
}
