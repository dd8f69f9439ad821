//! `sympair._sympair`: the Python extension module of `sympair`.
//!
//! A thin layer over the Rust crate's public API: it converts numpy arrays to ndarray views
//! (float32, any layout, read in place), releases the GIL while the crate computes, turns
//! `sympair::Error` into Python exceptions with the crate's message, and checks the few
//! things Python can express that Rust's types rule out (negative ids, absurd sizes). All
//! numerics stay in the crate, so a model behaves bit for bit the same from both languages.
//!
//! The Pythonic surface (the scikit-learn estimator, dtype conversion, progress bar) is in
//! `python/sympair/__init__.py`.

use ndarray::{Array2, ArrayView2, Axis, Ix1, Ix2, Ix3};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use std::sync::{Arc, Mutex};

mod scale;

use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyMemoryError, PyOSError, PyPermissionError,
    PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use std::time::{Duration, Instant};
use sympair::calibration::Calibration;
use sympair::ids::Precompute;
use sympair::metrics::ThresholdChoice;
use sympair::select::{Candidate, Progress, SearchSpace, SelectConfig, Trial};
use sympair::{
    Activation, CalibrationMethod, CheckedPairs, Combiner, Control, EncoderConfig, EpochStats,
    Error, HeadConfig, IdScorer, ItemPairs, MetricConfig, MetricLoss, MlpConfig, Monitor,
    Optimizer, PairClassifier, PairCombiner, PairData, PairDataset, PairSource, Similarity, Stack,
    ThresholdRule, TrainConfig, TrainObserver,
};

mod ensemble;

create_exception!(
    _sympair,
    TrainingDiverged,
    PyRuntimeError,
    "Training produced a NaN or infinite loss or weight; the model keeps its last finite weights."
);

/// Most parameters a model built from Python may have (2^28 floats, 1 GiB per copy;
/// training holds about four copies). Larger requests would abort the process on a failed
/// allocation instead of raising, so they are refused up front.
const MAX_PARAMS: usize = 1 << 28;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// The Python exception for a crate error, with the crate's message.
fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match &e {
        Error::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        Error::Diverged { .. } => TrainingDiverged::new_err(msg),
        Error::RowMismatch { .. }
        | Error::WidthMismatch { .. }
        | Error::Empty { .. }
        | Error::NonFinite { .. }
        | Error::NonFiniteLogit { .. }
        | Error::InvalidLabel { .. }
        | Error::Undefined { .. }
        | Error::InvalidConfig { .. }
        | Error::ItemOutOfRange { .. }
        | Error::ConflictingLabels { .. }
        | Error::Unreachable { .. }
        | Error::Unsupported(_)
        | Error::Parse { .. }
        | Error::Format(_)
        | Error::Version { .. } => PyValueError::new_err(msg),
        // A variant added to the crate later: still an exception, never a crash.
        _ => PyRuntimeError::new_err(msg),
    }
}

trait OrPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> OrPy<T> for sympair::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

// ---------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------

/// A combiner from its crate name (`"abs_diff"`, `"cosine"`, ...) or a sequence of names
/// (a [`Stack`]). Names are the crate's serde names, so they match saved models.
fn combiner_from(obj: &Bound<'_, PyAny>) -> PyResult<Combiner> {
    if let Ok(name) = obj.extract::<String>() {
        return combiner_named(&name);
    }
    if let Ok(parts) = obj.extract::<Vec<String>>() {
        let parts = parts
            .iter()
            .map(|p| combiner_named(p))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Combiner::Stack(Stack::new(parts).py_err()?));
    }
    Err(PyTypeError::new_err(format!(
        "combiner must be a name (str) or a sequence of names for a stack, got {}",
        obj.get_type().name()?
    )))
}

fn combiner_named(name: &str) -> PyResult<Combiner> {
    let v = serde_json::Value::String(name.to_owned());
    if let Ok(c) = serde_json::from_value::<Combiner>(v.clone()) {
        return Ok(c);
    }
    if let Ok(s) = serde_json::from_value::<Similarity>(v) {
        return Ok(Combiner::Similarity(s));
    }
    Err(PyValueError::new_err(format!(
        "unknown combiner {name:?}: expected one of sum, product, max, abs_diff, squared_diff, \
         concat, concat_swap_average (pair combiners), cosine, dot, neg_l1, neg_squared_l2 \
         (similarity scores), or a sequence of single-view combiners for a stack"
    )))
}

fn activation_named(name: &str) -> PyResult<Activation> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        PyValueError::new_err(format!(
            "unknown activation {name:?}: expected relu, leaky_relu, tanh or gelu"
        ))
    })
}

/// The one path of every dense-pair method (`predict_logits`, `predict_proba`, `predict`
/// of `Model` and `Ensemble`): reads `x, y` as float32 `(n, d)` (in place when they
/// are), runs `f` on them with the GIL released (see [`run`]) and returns its output as
/// a numpy array.
fn dense_pairs<'py, T: numpy::Element + Send>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    f: impl FnOnce(ArrayView2<f32>, ArrayView2<f32>) -> sympair::Result<ndarray::Array1<T>> + Send,
) -> PyResult<Bound<'py, PyArray1<T>>> {
    let x = float_array::<Ix2>(x, "x")?;
    let y = float_array::<Ix2>(y, "y")?;
    let (xv, yv) = (x.as_array(), y.as_array());
    let out = run(py, || f(xv, yv)).py_err()?;
    Ok(out.into_pyarray(py))
}

/// A float32 array of `ndim` dimensions, read in place when `obj` already is one (any
/// memory layout); otherwise converted once by numpy (`float64`, integers and bools are
/// accepted; other dtypes raise `TypeError`, other shapes `ValueError`).
fn float_array<'py, D: ndarray::Dimension>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArray<'py, f32, D>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray<'py, f32, D>>() {
        // Rust may only read `f32` at 4-byte-aligned addresses; a misaligned buffer (a
        // `frombuffer` at an odd offset) is copied once below.
        if a.is_aligned() {
            return Ok(a);
        }
    }
    let arr = converted(obj, what, "fiub", "float32", "a float array")?;
    arr.extract::<PyReadonlyArray<'py, f32, D>>()
        .map_err(|_| shape_error(&arr, what, D::NDIM))
}

/// An int64 array of item ids (`(n, 2)`); other integer dtypes are converted.
fn id_array<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, i64>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, i64>>() {
        if a.is_aligned() {
            return Ok(a);
        }
    }
    let arr = converted(obj, what, "iu", "int64", "an integer array")?;
    arr.extract::<PyReadonlyArray2<'py, i64>>()
        .map_err(|_| shape_error(&arr, what, Some(2)))
}

/// `numpy.asarray(obj)` checked for its dtype kind, then cast to `target`.
fn converted<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    kinds: &str,
    target: &str,
    expected: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let dtype = arr.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !kinds.contains(kind.as_str()) {
        return Err(PyTypeError::new_err(format!(
            "{what} must be {expected}, got dtype {}",
            dtype.str()?
        )));
    }
    let kw = pyo3::types::PyDict::new(obj.py());
    kw.set_item("casting", "unsafe")?;
    arr.call_method("astype", (target,), Some(&kw))
}

fn shape_error(arr: &Bound<'_, PyAny>, what: &str, ndim: Option<usize>) -> PyErr {
    let shape = arr
        .getattr("shape")
        .and_then(|s| s.str().map(|s| s.to_string()))
        .unwrap_or_else(|_| "?".to_owned());
    match ndim {
        Some(n) => {
            PyValueError::new_err(format!("{what} must be {n}-dimensional, got shape {shape}"))
        }
        None => PyValueError::new_err(format!("{what} has an unsupported shape {shape}")),
    }
}

/// Item ids from an `(n, 2)` int64 array, checked non-negative.
fn ids_from(ids: &PyReadonlyArray2<'_, i64>, what: &str) -> PyResult<Vec<(usize, usize)>> {
    let view = ids.as_array();
    if view.ncols() != 2 {
        return Err(PyValueError::new_err(format!(
            "{what} must have shape (n, 2), got ({}, {})",
            view.nrows(),
            view.ncols()
        )));
    }
    let mut out = Vec::new();
    out.try_reserve_exact(view.nrows())
        .map_err(|_| PyMemoryError::new_err(format!("cannot hold {} pairs", view.nrows())))?;
    for (row, r) in view.outer_iter().enumerate() {
        let mut ij = [0usize; 2];
        for (col, (&v, slot)) in r.iter().zip(&mut ij).enumerate() {
            *slot = usize::try_from(v).map_err(|_| {
                PyValueError::new_err(format!(
                    "negative item id {v} in {what} at row {row}, column {col}"
                ))
            })?;
        }
        out.push((ij[0], ij[1]));
    }
    Ok(out)
}

/// Parameter count of a model, with overflow checks, refused above [`MAX_PARAMS`].
fn check_size(
    d: usize,
    combiner: &Combiner,
    enc: Option<&[usize]>,
    head: &[usize],
) -> PyResult<()> {
    fn mlp(d_in: usize, hidden: &[usize], d_out: usize) -> Option<usize> {
        let mut total = 0usize;
        let mut prev = d_in;
        for &w in hidden.iter().chain(std::iter::once(&d_out)) {
            total = total.checked_add(prev.checked_mul(w)?.checked_add(w)?)?;
            prev = w;
        }
        Some(total)
    }
    let count = (|| {
        let (enc_params, d_enc) = match enc {
            Some(e) => {
                let (&out, hidden) = e.split_last()?;
                (mlp(d, hidden, out)?, out)
            }
            None => (0, d),
        };
        let c = combiner.output_dim(d_enc);
        if c == usize::MAX {
            return None;
        }
        enc_params.checked_add(mlp(c, head, 1)?)
    })();
    match count {
        Some(n) if n <= MAX_PARAMS => Ok(()),
        _ => Err(PyValueError::new_err(format!(
            "model too large: more than {MAX_PARAMS} parameters (input width {d}, encoder \
             {enc:?}, head hidden {head:?})"
        ))),
    }
}

fn f32_vec(py: Python<'_>, v: Vec<f32>) -> Bound<'_, PyArray1<f32>> {
    PyArray1::from_vec(py, v)
}

/// A serde value as a Python object (through the `json` module: plain dicts and lists).
fn to_python<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// How often the binding looks for Ctrl-C between mini-batches.
const SIGNAL_CHECK_EVERY: Duration = Duration::from_millis(50);

/// The training observer of `Model.fit`: checks for signals (Ctrl-C) before a mini-batch
/// when [`SIGNAL_CHECK_EVERY`] has passed since the last check (taking the GIL only
/// then), and after every epoch, where it also calls the Python callback.
struct PyObserver {
    callback: Option<Py<PyAny>>,
    /// The first Python exception raised; training stops and `fit` re-raises it.
    raised: Option<PyErr>,
    last_check: Instant,
}

impl TrainObserver for PyObserver {
    fn on_batch(&mut self, _epoch: usize, _batch: usize) -> Control {
        if self.last_check.elapsed() < SIGNAL_CHECK_EVERY {
            return Control::Continue;
        }
        self.last_check = Instant::now();
        Python::attach(|py| match py.check_signals() {
            Ok(()) => Control::Continue,
            Err(e) => {
                self.raised = Some(e);
                Control::Stop
            }
        })
    }

    fn on_epoch(&mut self, stats: &EpochStats) -> Control {
        self.last_check = Instant::now();
        Python::attach(|py| {
            let step = || -> PyResult<Control> {
                py.check_signals()?;
                if let Some(cb) = &self.callback {
                    let ret = cb.call1(py, (epoch_dict(py, stats)?,))?;
                    if ret.bind(py).is(&*pyo3::types::PyBool::new(py, false)) {
                        return Ok(Control::Stop);
                    }
                }
                Ok(Control::Continue)
            };
            match step() {
                Ok(c) => c,
                Err(e) => {
                    self.raised = Some(e);
                    Control::Stop
                }
            }
        })
    }
}

fn epoch_dict<'py>(py: Python<'py>, s: &EpochStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("epoch", s.epoch)?;
    d.set_item("train_loss", s.train_loss)?;
    d.set_item("valid_loss", s.valid_loss)?;
    d.set_item("valid_auc", s.valid_auc)?;
    d.set_item("valid_ap", s.valid_ap)?;
    d.set_item("train_auc", s.train_auc)?;
    d.set_item("partial", s.partial)?;
    d.set_item("consistency", s.consistency)?;
    d.set_item("elapsed", s.elapsed.as_secs_f64())?;
    Ok(d)
}

// ---------------------------------------------------------------------------------------
// Datasets
// ---------------------------------------------------------------------------------------

/// Labelled pairs held as two dense `(n, d)` float32 matrices (the crate's `PairDataset`).
/// Validated once, at construction (NaN/inf, labels 0 or 1, shapes); the arrays are
/// copied once into the dataset.
#[pyclass(module = "sympair._sympair", name = "PairDataset", frozen)]
struct PyPairDataset(PairDataset);

#[pymethods]
impl PyPairDataset {
    #[new]
    fn new(
        py: Python<'_>,
        left: &Bound<'_, PyAny>,
        right: &Bound<'_, PyAny>,
        labels: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let left = float_array::<Ix2>(left, "left")?;
        let right = float_array::<Ix2>(right, "right")?;
        let labels = float_array::<Ix1>(labels, "labels")?;
        let (l, r, t) = (left.as_array(), right.as_array(), labels.as_array());
        run(py, || {
            PairDataset::new(l.to_owned(), r.to_owned(), t.to_vec())
        })
        .py_err()
        .map(Self)
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    /// Embedding width.
    #[getter]
    fn dim(&self) -> usize {
        self.0.dim()
    }

    /// Labels (float32, 0 or 1).
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        f32_vec(py, self.0.labels().to_vec())
    }

    /// Random split into `(first, second)` with `fraction` of the pairs in `first`.
    fn split(&self, fraction: f64, seed: u64) -> PyResult<(Self, Self)> {
        let (a, b) = self.0.split(fraction, seed).py_err()?;
        Ok((Self(a), Self(b)))
    }

    fn __repr__(&self) -> String {
        format!("PairDataset(n={}, dim={})", self.0.len(), self.0.dim())
    }
}

/// Labelled pairs of rows of one shared item matrix (the crate's `ItemPairs`): each
/// embedding is stored once. Repeats of a pair are dropped; the same pair with two
/// labels, ids out of range and NaN/inf embeddings raise `ValueError` naming the row.
#[pyclass(module = "sympair._sympair", name = "ItemPairs", frozen)]
struct PyItemPairs(ItemPairs);

#[pymethods]
impl PyItemPairs {
    #[new]
    fn new(
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        pairs: &Bound<'_, PyAny>,
        labels: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let items = float_array::<Ix2>(items, "items")?;
        let labels = float_array::<Ix1>(labels, "labels")?;
        let ids = ids_from(&id_array(pairs, "pairs")?, "pairs")?;
        let (items, labels) = (items.as_array(), labels.as_array());
        if labels.len() != ids.len() {
            return Err(to_py(Error::RowMismatch {
                what: "labels",
                expected: ids.len(),
                found: labels.len(),
            }));
        }
        run(py, || {
            let rows = ids.iter().zip(labels.iter()).map(|(&(i, j), &t)| (i, j, t));
            ItemPairs::new(items.to_owned(), rows.collect::<Vec<_>>())
        })
        .py_err()
        .map(Self)
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    /// Embedding width.
    #[getter]
    fn dim(&self) -> usize {
        self.0.dim()
    }

    /// Number of items (rows of the item matrix).
    #[getter]
    fn n_items(&self) -> usize {
        self.0.n_items()
    }

    /// Labels of the kept pairs (float32, 0 or 1).
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        f32_vec(py, self.0.labels().to_vec())
    }

    /// The kept pairs as an `(n, 2)` int64 array of item ids.
    #[getter]
    fn pairs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let flat: Vec<i64> = self
            .0
            .pairs()
            .iter()
            .flat_map(|&(i, j)| [i as i64, j as i64])
            .collect();
        PyArray1::from_vec(py, flat).reshape([self.0.len(), 2])
    }

    /// The item matrix (a copy).
    #[getter]
    fn items<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f32>> {
        self.0.items().to_owned().into_pyarray(py)
    }

    /// Pairs dropped because they repeated an earlier pair with the same label.
    #[getter]
    fn duplicates_dropped(&self) -> usize {
        self.0.duplicates_dropped()
    }

    /// Input rows of the kept self-pairs `(i, i)`.
    #[getter]
    fn self_pair_rows(&self) -> Vec<usize> {
        self.0.self_pair_rows().to_vec()
    }

    /// Random split of the pairs: `(first, second)`.
    fn split_by_pair(&self, fraction: f64, seed: u64) -> PyResult<(Self, Self)> {
        let (a, b) = self.0.split_by_pair(fraction, seed).py_err()?;
        Ok((Self(a), Self(b)))
    }

    /// Split of the items: `(first, second, report)`; no item is on both sides, pairs
    /// across the sides are dropped (counted in `report["cross_pairs_dropped"]`).
    fn split_by_item<'py>(
        &self,
        py: Python<'py>,
        fraction: f64,
        seed: u64,
    ) -> PyResult<(Self, Self, Bound<'py, PyDict>)> {
        let (a, b, r) = self.0.split_by_item(fraction, seed).py_err()?;
        let d = PyDict::new(py);
        d.set_item("first_items", r.first_items)?;
        d.set_item("second_items", r.second_items)?;
        d.set_item("first_pairs", r.first_pairs)?;
        d.set_item("second_pairs", r.second_pairs)?;
        d.set_item("cross_pairs_dropped", r.cross_pairs_dropped)?;
        Ok((Self(a), Self(b), d))
    }

    fn __repr__(&self) -> String {
        format!(
            "ItemPairs(n={}, dim={}, n_items={})",
            self.0.len(),
            self.0.dim(),
            self.0.n_items()
        )
    }
}

/// A dataset argument: either dataset class.
fn data_of<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a dyn PairData> {
    if let Ok(d) = obj.cast::<PyPairDataset>() {
        return Ok(&d.get().0);
    }
    if let Ok(d) = obj.cast::<PyItemPairs>() {
        return Ok(&d.get().0);
    }
    Err(PyTypeError::new_err(format!(
        "expected a sympair PairDataset or ItemPairs, got {}",
        obj.get_type().name()?
    )))
}

/// Dense pairs borrowed from numpy arrays for the length of one call: training and
/// evaluation read them in place through the crate's [`CheckedPairs`] (validated once,
/// then every batch checked), so the pairs are never copied as a whole.
struct Borrowed<'a> {
    x: ArrayView2<'a, f32>,
    y: ArrayView2<'a, f32>,
    labels: Vec<f32>,
}

impl PairSource for Borrowed<'_> {
    fn len(&self) -> usize {
        self.x.nrows()
    }
    fn dim(&self) -> usize {
        self.x.ncols()
    }
    fn label(&self, k: usize) -> f32 {
        // `k < len` by the crate's contract; NaN would fail the label check loudly.
        self.labels.get(k).copied().unwrap_or(f32::NAN)
    }
    fn gather(
        &self,
        idx: &[usize],
        mut x: ndarray::ArrayViewMut2<'_, f32>,
        mut y: ndarray::ArrayViewMut2<'_, f32>,
    ) -> sympair::Result<()> {
        for (r, &k) in idx.iter().enumerate() {
            x.row_mut(r).assign(&self.x.row(k));
            y.row_mut(r).assign(&self.y.row(k));
        }
        Ok(())
    }
}

/// Checks the shapes of borrowed pairs (the crate's errors) and validates them.
fn borrowed<'a>(
    x: ArrayView2<'a, f32>,
    y: ArrayView2<'a, f32>,
    labels: ndarray::ArrayView1<'_, f32>,
) -> sympair::Result<CheckedPairs<Borrowed<'a>>> {
    if y.nrows() != x.nrows() {
        return Err(Error::RowMismatch {
            what: "right",
            expected: x.nrows(),
            found: y.nrows(),
        });
    }
    if y.ncols() != x.ncols() {
        return Err(Error::WidthMismatch {
            what: "right",
            expected: x.ncols(),
            found: y.ncols(),
        });
    }
    if labels.len() != x.nrows() {
        return Err(Error::RowMismatch {
            what: "labels",
            expected: x.nrows(),
            found: labels.len(),
        });
    }
    CheckedPairs::new(Borrowed {
        x,
        y,
        labels: labels.to_vec(),
    })
}

/// Runs `f` on a dataset argument: a `PairDataset` or `ItemPairs` object, or a tuple
/// `(x, y, labels)` of arrays read in place (see [`Borrowed`]).
fn with_data<'py, R>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
    f: impl FnOnce(&dyn PairData) -> PyResult<R>,
) -> PyResult<R> {
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() != 3 {
            return Err(PyTypeError::new_err(format!(
                "a dataset tuple must be (x, y, labels), got {} elements",
                t.len()
            )));
        }
        let x = float_array::<Ix2>(&t.get_item(0)?, "x")?;
        let y = float_array::<Ix2>(&t.get_item(1)?, "y")?;
        let labels = float_array::<Ix1>(&t.get_item(2)?, "labels")?;
        let (xv, yv, lv) = (x.as_array(), y.as_array(), labels.as_array());
        let data = run(py, || borrowed(xv, yv, lv)).py_err()?;
        return f(&data);
    }
    f(data_of(obj)?)
}

// ---------------------------------------------------------------------------------------
// Decisions: calibration and threshold
// ---------------------------------------------------------------------------------------

/// A calibration method from its name (`"platt"` or `"temperature"`).
fn calibration_method_named(name: &str) -> PyResult<CalibrationMethod> {
    match name {
        "platt" => Ok(CalibrationMethod::Platt),
        "temperature" => Ok(CalibrationMethod::Temperature),
        other => Err(PyValueError::new_err(format!(
            "unknown calibration method {other:?}: expected \"platt\" or \"temperature\""
        ))),
    }
}

/// A calibration as a Python dict: `{"method": "platt", "a": a, "b": b}` or
/// `{"method": "temperature", "t": t}` (the `f32` parameters, exactly, as Python floats).
fn calibration_dict<'py>(py: Python<'py>, c: &Calibration) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    if let Some((a, b)) = c.platt_params() {
        d.set_item("method", "platt")?;
        d.set_item("a", a)?;
        d.set_item("b", b)?;
    } else if let Some(t) = c.temperature_param() {
        d.set_item("method", "temperature")?;
        d.set_item("t", t)?;
    } else {
        // A method added to the crate later: its name, without parameters.
        d.set_item("method", format!("{:?}", c.method()).to_lowercase())?;
    }
    Ok(d)
}

/// A calibration from the dict [`calibration_dict`] writes; the crate validates the
/// parameters (finite, slope and temperature positive).
fn calibration_from(obj: &Bound<'_, PyAny>) -> PyResult<Calibration> {
    let d = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "calibration must be None or a dict such as {{\"method\": \"platt\", \"a\": 1.0, \
             \"b\": 0.0}} or {{\"method\": \"temperature\", \"t\": 1.5}}, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let param = |key: &str| -> PyResult<f32> {
        d.get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("calibration dict lacks {key:?}")))?
            .extract::<f32>()
    };
    let method: String = d
        .get_item("method")?
        .ok_or_else(|| PyValueError::new_err("calibration dict lacks \"method\""))?
        .extract()?;
    match calibration_method_named(&method)? {
        CalibrationMethod::Platt => Calibration::platt(param("a")?, param("b")?).py_err(),
        CalibrationMethod::Temperature => Calibration::temperature(param("t")?).py_err(),
        other => Err(PyValueError::new_err(format!(
            "calibration method {other:?} cannot be set from Python"
        ))),
    }
}

/// A threshold rule from Python: `"max_f1"`, `"max_accuracy"` or
/// `("target_precision", p)`.
fn threshold_rule_from(obj: &Bound<'_, PyAny>) -> PyResult<ThresholdRule> {
    if let Ok(name) = obj.extract::<String>() {
        return match name.as_str() {
            "max_f1" => Ok(ThresholdRule::MaxF1),
            "max_accuracy" => Ok(ThresholdRule::MaxAccuracy),
            "target_precision" => Err(PyValueError::new_err(
                "the rule \"target_precision\" needs its target: (\"target_precision\", 0.9)",
            )),
            other => Err(PyValueError::new_err(format!(
                "unknown threshold rule {other:?}: expected \"max_f1\", \"max_accuracy\" or \
                 (\"target_precision\", p)"
            ))),
        };
    }
    if let Ok((name, p)) = obj.extract::<(String, f64)>() {
        if name == "target_precision" {
            return ThresholdRule::target_precision(p).py_err();
        }
    }
    Err(PyValueError::new_err(format!(
        "threshold rule must be \"max_f1\", \"max_accuracy\" or (\"target_precision\", p), \
         got {}",
        obj.repr().map(|r| r.to_string()).unwrap_or_default()
    )))
}

/// A threshold rule as Python writes it (the inverse of [`threshold_rule_from`]).
fn threshold_rule_py(py: Python<'_>, rule: ThresholdRule) -> PyResult<Py<PyAny>> {
    Ok(match rule {
        ThresholdRule::MaxF1 => "max_f1".into_pyobject(py)?.into_any().unbind(),
        ThresholdRule::MaxAccuracy => "max_accuracy".into_pyobject(py)?.into_any().unbind(),
        ThresholdRule::TargetPrecision(p) => ("target_precision", p.get())
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        // A rule added to the crate later: its description.
        other => other.to_string().into_pyobject(py)?.into_any().unbind(),
    })
}

/// The choice of `set_threshold` as a dict: `threshold` (the stored probability), `value`
/// (the criterion reached on the validation pairs) and `confusion` (their counts).
fn choice_dict(py: Python<'_>, choice: &ThresholdChoice) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    d.set_item("threshold", choice.threshold)?;
    d.set_item("value", choice.value)?;
    d.set_item("confusion", to_python(py, &choice.confusion)?)?;
    Ok(d.into_any().unbind())
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

/// A Rust `sympair::PairClassifier`: optional shared encoder, combiner, head. Saved files
/// are the crate's JSON format, readable by `PairClassifier::load` in Rust.
#[pyclass(module = "sympair._sympair", name = "Model")]
struct PyModel {
    inner: PairClassifier,
}

#[pymethods]
impl PyModel {
    #[new]
    #[pyo3(signature = (input_dim, combiner = None, hidden = vec![64], activation = "relu", head = "mlp", learn_scale = true, encoder = None, seed = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        input_dim: usize,
        combiner: Option<&Bound<'_, PyAny>>,
        hidden: Vec<usize>,
        activation: &str,
        head: &str,
        learn_scale: bool,
        encoder: Option<Vec<usize>>,
        seed: u64,
    ) -> PyResult<Self> {
        let combiner = match combiner {
            Some(c) => combiner_from(c)?,
            None => Combiner::AbsDiff,
        };
        let act = activation_named(activation)?;
        let head_cfg = match head {
            "mlp" => HeadConfig::Mlp(
                MlpConfig::new(hidden.clone())
                    .py_err()?
                    .with_activation(act),
            ),
            "distance" => HeadConfig::Distance { learn_scale },
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown head {other:?}: expected \"mlp\" or \"distance\""
                )));
            }
        };
        let head_hidden: &[usize] = if head == "mlp" { &hidden } else { &[] };
        check_size(input_dim, &combiner, encoder.as_deref(), head_hidden)?;
        let mut b = PairClassifier::builder(input_dim, combiner)
            .head(head_cfg)
            .seed(seed);
        if let Some(e) = encoder {
            let Some((&out, hid)) = e.split_last() else {
                return Err(PyValueError::new_err(
                    "encoder must list its hidden widths then its output width, e.g. (128, 32); got ()",
                ));
            };
            let mlp = MlpConfig::new(hid.to_vec()).py_err()?.with_activation(act);
            b = b.encoder(EncoderConfig::new(mlp, out).py_err()?);
        }
        Ok(Self {
            inner: b.build().py_err()?,
        })
    }

    /// Width of each item embedding.
    #[getter]
    fn input_dim(&self) -> usize {
        self.inner.input_dim()
    }

    /// The combiner's name (e.g. `"abs_diff"`, `"stack[sum+product]"`).
    #[getter]
    fn combiner(&self) -> String {
        self.inner.combiner().name()
    }

    /// Whether `logit(x, y) == logit(y, x)` bit for bit (every combiner but `concat`).
    #[getter]
    fn is_symmetric(&self) -> bool {
        self.inner.is_symmetric()
    }

    /// Number of trainable parameters.
    #[getter]
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }

    /// All trainable parameters, flattened in the crate's order (float32).
    fn parameters<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        f32_vec(py, self.inner.parameters())
    }

    /// Trains on `train` (a `PairDataset`, an `ItemPairs`, or a tuple `(x, y, labels)` of
    /// arrays, read in place without copying the pairs), reporting validation loss and
    /// ROC AUC on `valid` after every epoch if given. Releases the GIL; checks for Ctrl-C
    /// between mini-batches (at most every ~50 ms) and after every epoch (raising
    /// `KeyboardInterrupt`, the model keeping the weights of the last finished batch).
    /// `callback(stats: dict)` is called after every epoch; returning `False` stops
    /// training. `monitor` ("auto", "valid_auc", "valid_ap", "valid_loss", "train_loss")
    /// and `min_delta` steer early stopping (`patience`); `grad_clip`, `input_noise` and
    /// `input_dropout` are the crate's training regularisers, as are `head_dropout` and
    /// `encoder_dropout` (dropout on the hidden layers, training only). Returns the history as a
    /// dict (with `warnings`: a list of strings when training did not learn).
    #[pyo3(signature = (train, valid = None, *, epochs = 20, batch_size = 64, learning_rate = 1e-3, optimizer = "adam", momentum = 0.9, weight_decay = 0.0, patience = None, seed = 0, pos_weight = 1.0, consistency = 0.0, swap_augment = false, callback = None, monitor = "auto", min_delta = 0.0, grad_clip = None, input_noise = 0.2, input_dropout = 0.0, head_dropout = 0.0, encoder_dropout = 0.0))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &mut self,
        py: Python<'_>,
        train: &Bound<'_, PyAny>,
        valid: Option<&Bound<'_, PyAny>>,
        epochs: usize,
        batch_size: usize,
        learning_rate: f32,
        optimizer: &str,
        momentum: f32,
        weight_decay: f32,
        patience: Option<usize>,
        seed: u64,
        pos_weight: f32,
        consistency: f32,
        swap_augment: bool,
        callback: Option<Py<PyAny>>,
        monitor: &str,
        min_delta: f64,
        grad_clip: Option<f32>,
        input_noise: f32,
        input_dropout: f32,
        head_dropout: f32,
        encoder_dropout: f32,
    ) -> PyResult<Py<PyAny>> {
        let monitor = match monitor {
            "auto" => Monitor::Auto,
            "valid_auc" => Monitor::ValidAuc,
            "valid_ap" => Monitor::ValidAveragePrecision,
            "valid_loss" => Monitor::ValidLoss,
            "train_loss" => Monitor::TrainLoss,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown monitor {other:?}: expected \"auto\", \"valid_auc\", \"valid_ap\", \"valid_loss\" or \"train_loss\""
                )));
            }
        };
        let opt = match optimizer {
            "adam" => Optimizer::adam(learning_rate),
            "sgd" => Optimizer::sgd(learning_rate, momentum),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown optimizer {other:?}: expected \"adam\" or \"sgd\""
                )));
            }
        };
        let mut cfg = TrainConfig::new()
            .with_epochs(epochs)
            .with_batch_size(batch_size)
            .with_optimizer(opt)
            .with_weight_decay(weight_decay)
            .with_seed(seed)
            .with_pos_weight(pos_weight)
            .with_consistency(consistency)
            .with_swap_augment(swap_augment)
            .with_monitor(monitor)
            .with_min_delta(min_delta)
            .with_input_noise(input_noise)
            .with_input_dropout(input_dropout)
            .with_head_dropout(head_dropout)
            .with_encoder_dropout(encoder_dropout);
        if let Some(p) = patience {
            cfg = cfg.with_patience(p);
        }
        if let Some(c) = grad_clip {
            cfg = cfg.with_grad_clip(c);
        }
        // The first Python exception raised by the callback or by a signal handler
        // (Ctrl-C) stops training (within the epoch for a signal) and is re-raised.
        let mut observer = PyObserver {
            callback,
            raised: None,
            last_check: Instant::now(),
        };
        let inner = &mut self.inner;
        let result = with_data(py, train, |train| match valid {
            Some(v) => with_data(py, v, |valid| {
                Ok(py.detach(|| inner.fit_observed(train, Some(valid), &cfg, &mut observer)))
            }),
            None => Ok(py.detach(|| inner.fit_observed(train, None, &cfg, &mut observer))),
        })?;
        if let Some(e) = observer.raised {
            return Err(e);
        }
        let history = result.py_err()?;
        let d = PyDict::new(py);
        let epochs_list = history
            .epochs
            .iter()
            .map(|s| epoch_dict(py, s))
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("epochs", epochs_list)?;
        d.set_item("best_epoch", history.best_epoch)?;
        d.set_item("stopped_early", history.stopped_early)?;
        let warnings: Vec<String> = history.warnings.iter().map(|w| w.to_string()).collect();
        d.set_item("warnings", warnings)?;
        Ok(d.into_any().unbind())
    }

    /// Trains the shared encoder alone with a metric-learning loss: `"contrastive"`
    /// (`margin`), `"triplet"` (in-batch negatives, `margin`) or `"infonce"` (in-batch
    /// negatives, `temperature`). Returns the mean loss per epoch. Releases the GIL.
    #[pyo3(signature = (train, *, loss = "contrastive", margin = 1.0, temperature = 0.05, epochs = 20, batch_size = 128, learning_rate = 1e-3, seed = 0))]
    #[allow(clippy::too_many_arguments)]
    fn fit_metric(
        &mut self,
        py: Python<'_>,
        train: &Bound<'_, PyAny>,
        loss: &str,
        margin: f32,
        temperature: f32,
        epochs: usize,
        batch_size: usize,
        learning_rate: f32,
        seed: u64,
    ) -> PyResult<Vec<f64>> {
        let loss = match loss {
            "contrastive" => MetricLoss::Contrastive { margin },
            "triplet" => MetricLoss::Triplet { margin },
            "infonce" => MetricLoss::InfoNce { temperature },
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown metric loss {other:?}: expected \"contrastive\", \"triplet\" or \"infonce\""
                )));
            }
        };
        let cfg = MetricConfig::new(loss)
            .epochs(epochs)
            .and_then(|c| c.batch_size(batch_size))
            .and_then(|c| c.optimizer(Optimizer::adam(learning_rate)))
            .py_err()?
            .seed(seed);
        let inner = &mut self.inner;
        with_data(py, train, |train| {
            run(py, || inner.fit_metric(train, &cfg)).py_err()
        })
    }

    /// After `fit_metric`: the logit becomes the one-number similarity itself and a Platt
    /// calibration is fitted on the labelled pairs `valid` and stored with the model;
    /// returns it as a dict. Releases the GIL.
    fn calibrate_similarity(
        &mut self,
        py: Python<'_>,
        valid: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let inner = &mut self.inner;
        let cal = with_data(py, valid, |valid| {
            run(py, || inner.calibrate_similarity(valid)).py_err()
        })?;
        to_python(py, &cal)
    }

    // -- Decisions: calibration and threshold (the crate's `decision` module) -----------

    /// Fits a calibration of the raw logits on the labelled pairs `valid` (validation
    /// pairs, never the training pairs) and stores it with the model: `method` is
    /// `"platt"` (`sigmoid(a z + b)`) or `"temperature"` (`sigmoid(z / t)`). Removes a
    /// stored threshold (choose it again after calibrating). Returns the calibration as a
    /// dict (see `calibration`). Raises `ValueError` when `valid` holds one class only or
    /// its logits rank no better than chance; the model is then unchanged. Releases the GIL.
    #[pyo3(signature = (valid, method = "platt"))]
    fn calibrate(
        &mut self,
        py: Python<'_>,
        valid: &Bound<'_, PyAny>,
        method: &str,
    ) -> PyResult<Py<PyAny>> {
        let method = calibration_method_named(method)?;
        let inner = &mut self.inner;
        let cal = with_data(py, valid, |valid| {
            run(py, || inner.calibrate(method, valid)).py_err()
        })?;
        Ok(calibration_dict(py, &cal)?.into_any().unbind())
    }

    /// The stored calibration: `None`, `{"method": "platt", "a": a, "b": b}` or
    /// `{"method": "temperature", "t": t}` (the model's float32 parameters).
    #[getter]
    fn calibration(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.inner
            .calibration()
            .map(|c| calibration_dict(py, c).map(|d| d.into_any().unbind()))
            .transpose()
    }

    /// Stores a calibration given as the dict `calibration` returns, or removes it with
    /// `None`. Removes a stored threshold.
    fn set_calibration(&mut self, calibration: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let cal = calibration.map(calibration_from).transpose()?;
        self.inner.set_calibration(cal);
        Ok(())
    }

    /// Chooses a probability threshold on the labelled pairs `valid` by `rule`
    /// (`"max_f1"`, `"max_accuracy"` or `("target_precision", p)`), applied to the
    /// model's (calibrated) probabilities, and stores it. Returns a dict: `threshold`
    /// (the stored probability), `value` (F1, accuracy or precision reached on `valid`)
    /// and `confusion` (counts on `valid`). Raises `ValueError` for a precision no
    /// threshold reaches; the model is then unchanged. Releases the GIL.
    fn set_threshold(
        &mut self,
        py: Python<'_>,
        rule: &Bound<'_, PyAny>,
        valid: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let rule = threshold_rule_from(rule)?;
        let inner = &mut self.inner;
        let choice = with_data(py, valid, |valid| {
            run(py, || inner.set_threshold(rule, valid)).py_err()
        })?;
        choice_dict(py, &choice)
    }

    /// Stores a threshold set by hand: a probability in `(0, 1]` (else `ValueError`).
    fn set_threshold_probability(&mut self, probability: f32) -> PyResult<()> {
        self.inner.set_threshold_probability(probability).py_err()
    }

    /// Removes the stored threshold (`predict` uses 0.5 again).
    fn clear_threshold(&mut self) {
        self.inner.clear_threshold();
    }

    /// The probability cut-off `predict` uses: the stored threshold, else 0.5.
    #[getter]
    fn threshold(&self) -> f32 {
        self.inner.threshold()
    }

    /// The rule that chose the stored threshold: `"max_f1"`, `"max_accuracy"`,
    /// `("target_precision", p)`, `"manual"` (set by hand), or `None` without one.
    #[getter]
    fn threshold_rule(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.decision().threshold() {
            None => Ok(None),
            Some(t) => match t.rule() {
                Some(r) => threshold_rule_py(py, r).map(Some),
                None => Ok(Some("manual".into_pyobject(py)?.into_any().unbind())),
            },
        }
    }

    /// Probabilities (float32) of raw logits as the model's `predict_proba` computes them:
    /// `sigmoid` of the calibrated logit, the same float32 operations as in Rust.
    fn proba_from_logits<'py>(
        &self,
        py: Python<'py>,
        logits: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let z = float_array::<Ix1>(logits, "logits")?;
        let decision = *self.inner.decision();
        let out = z.as_array().mapv(|z| decision.proba(z));
        Ok(out.into_pyarray(py))
    }

    /// Probabilities (float32, calibrated if a calibration is stored) of the pairs
    /// `(x[i], y[i])`: the crate's `predict_proba`. Releases the GIL.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict_proba(x, y))
    }

    /// Classes (bool) of the pairs `(x[i], y[i])`: `predict_proba(x, y) >= threshold`,
    /// the crate's `predict`. Releases the GIL.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict(x, y))
    }

    /// Logits of the pairs `(x[i], y[i])`, `x, y: (n, d)` float32 in any memory layout
    /// (read in place, not copied). Releases the GIL.
    fn predict_logits<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict_logits(x, y))
    }

    /// The trained encoder's vectors for the rows of `items` (`(n, d)` float32, read in
    /// place): `(n, e)` float32, bit for bit what the model combines inside. Without an
    /// encoder, a copy of `items`. Releases the GIL.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let items = float_array::<Ix2>(items, "items")?;
        let v = items.as_array();
        let out = run(py, || self.inner.encode(v)).py_err()?;
        Ok(out.into_pyarray(py))
    }

    /// Logits of the pairs `(X[i, 0], X[i, 1])` of an `(n, 2, d)` float32 array, read in
    /// place. Releases the GIL.
    fn predict_logits_stacked<'py>(
        &self,
        py: Python<'py>,
        pairs: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let pairs = float_array::<Ix3>(pairs, "pairs")?;
        let v = pairs.as_array();
        if v.shape()[1] != 2 {
            return Err(PyValueError::new_err(format!(
                "pairs must have shape (n, 2, d), got {:?}",
                v.shape()
            )));
        }
        let (xv, yv) = (v.index_axis(Axis(1), 0), v.index_axis(Axis(1), 1));
        let out = run(py, || self.inner.predict_logits(xv, yv)).py_err()?;
        Ok(out.into_pyarray(py))
    }

    /// Logits of item-indexed pairs: `ids` is an `(n, 2)` int64 array of rows of `items`
    /// `(n_items, d)`. `precompute` is the crate's `ids::Precompute`: `"auto"` (per-item
    /// first-layer products when the call brings at least as many pairs as items; equal to
    /// the pair path within 1e-5), `"always"` (per item, the same bits whatever the call's
    /// size: what `sympair.spark` uses) or `"never"` (bit for bit `predict_logits` on the
    /// gathered rows). Releases the GIL.
    #[pyo3(signature = (items, ids, precompute = "auto"))]
    fn predict_logits_ids<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        ids: &Bound<'py, PyAny>,
        precompute: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let mode = match precompute {
            "auto" => Precompute::Auto,
            "always" => Precompute::Always,
            "never" => Precompute::Never,
            other => {
                return Err(PyValueError::new_err(format!(
                    "precompute must be \"auto\", \"always\" or \"never\", not {other:?}"
                )));
            }
        };
        let items = float_array::<Ix2>(items, "items")?;
        let pairs = ids_from(&id_array(ids, "pairs")?, "pairs")?;
        let items = items.as_array();
        let out = run(py, || {
            IdScorer::new(&self.inner, items)?
                .with_precompute(mode)?
                .logits(&pairs)
        })
        .py_err()?;
        Ok(f32_vec(py, out))
    }

    /// Logits of every pair of a dataset (as for `fit`), in order. Releases the GIL.
    fn logits_for<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let out = with_data(py, data, |data| {
            run(py, || self.inner.logits_for(data)).py_err()
        })?;
        Ok(f32_vec(py, out))
    }

    /// Everything `sympair::evaluate` measures on a labelled dataset (as for `fit`), as a
    /// dict (ROC AUC,
    /// average precision, log loss, confusion counts at logit 0, best cut-offs, asymmetry).
    fn evaluate(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let report = with_data(py, data, |data| {
            run(py, || sympair::evaluate(&self.inner, data)).py_err()
        })?;
        to_python(py, &report)
    }

    /// Every unordered pair `i < j` of the rows of `items`: `(i, j, logits)` arrays in the
    /// order `(0, 1), (0, 2), ..., (1, 2), ...`. Releases the GIL.
    fn score_all_pairs<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
    ) -> PyResult<AllPairs<'py>> {
        let items = float_array::<Ix2>(items, "items")?;
        let items = items.as_array();
        let n = items.nrows();
        let total = n.saturating_mul(n.saturating_sub(1)) / 2;
        let (mut is, mut js, mut ls) = (Vec::new(), Vec::new(), Vec::new());
        let reserved = is
            .try_reserve_exact(total)
            .and_then(|_| js.try_reserve_exact(total))
            .and_then(|_| ls.try_reserve_exact(total));
        if reserved.is_err() {
            return Err(PyMemoryError::new_err(format!(
                "cannot hold the scores of all {total} pairs of {n} items"
            )));
        }
        run(py, || {
            self.inner.score_all_pairs(items, |i, j, l| {
                is.push(i as i64);
                js.push(j as i64);
                ls.push(l);
            })
        })
        .py_err()?;
        Ok((
            PyArray1::from_vec(py, is),
            PyArray1::from_vec(py, js),
            f32_vec(py, ls),
        ))
    }

    /// For each row of `queries`, the `k` rows of `items` with the highest logits:
    /// `(indices, logits)`, both `(n_queries, min(k, n_items))`, best first (ties: lower
    /// index first). Releases the GIL.
    fn top_k<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        items: &Bound<'py, PyAny>,
        k: usize,
    ) -> PyResult<TopK<'py>> {
        let queries = float_array::<Ix2>(queries, "queries")?;
        let items = float_array::<Ix2>(items, "items")?;
        let (q, it) = (queries.as_array(), items.as_array());
        let rows = run(py, || self.inner.top_k(q, it, k)).py_err()?;
        let width = k.min(it.nrows());
        let mut idx = Array2::<i64>::zeros((rows.len(), width));
        let mut log = Array2::<f32>::zeros((rows.len(), width));
        for (r, row) in rows.iter().enumerate() {
            for (c, &(i, l)) in row.iter().enumerate().take(width) {
                idx[[r, c]] = i as i64;
                log[[r, c]] = l;
            }
        }
        Ok((idx.into_pyarray(py), log.into_pyarray(py)))
    }

    /// The model in the crate's JSON format (what `save` writes).
    fn to_json_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_json_bytes().py_err()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from bytes written by `to_json_bytes` or Rust's `PairClassifier::save`.
    #[staticmethod]
    fn from_json_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        run(py, || PairClassifier::<Combiner>::from_json_bytes(data))
            .py_err()
            .map(|inner| Self { inner })
    }

    /// Saves the model (atomically) in the crate's JSON format.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        run(py, || self.inner.save(&path)).py_err()
    }

    /// Loads a model saved from Python or Rust.
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        run(py, || PairClassifier::<Combiner>::load(&path))
            .py_err()
            .map(|inner| Self { inner })
    }

    /// Pickling goes through the crate's JSON format: bit-identical weights.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let bytes = slf.borrow().to_json_bytes(py)?;
        let ctor = slf.get_type().getattr("from_json_bytes")?;
        PyTuple::new(py, [ctor.into_any(), PyTuple::new(py, [bytes])?.into_any()])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyModel>() {
            Ok(o) => o.try_borrow().is_ok_and(|o| o.inner == self.inner),
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(input_dim={}, combiner={:?}, n_params={})",
            self.inner.input_dim(),
            self.inner.combiner().name(),
            self.inner.n_params()
        )
    }
}

/// `(i, j, logits)` of `score_all_pairs`.
type AllPairs<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f32>>,
);

/// `(indices, logits)` of `top_k`.
type TopK<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray2<f32>>);

/// The rayon pool that [`set_num_threads`] chose for this process (`None`: rayon's global
/// pool, which has one thread per core). The Rust crate takes no global setting: it runs
/// on the pool it is called from, so the binding keeps the Python-level choice here.
static POOL: Mutex<Option<Arc<rayon::ThreadPool>>> = Mutex::new(None);

fn current_pool() -> Option<Arc<rayon::ThreadPool>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Runs `f` with the GIL released, on the pool [`set_num_threads`] chose (if any).
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    let pool = current_pool();
    py.detach(move || match pool {
        Some(p) => p.install(f),
        None => f(),
    })
}

/// Sets the number of threads the crate uses for prediction, scoring and evaluation in
/// this process (0 = every core, the default). Results do not depend on it. A Spark
/// executor sets it to the task's `spark.task.cpus` so that concurrent tasks do not
/// oversubscribe the cores. `fit` stays on the calling thread (so that Ctrl-C reaches
/// it) and uses every core.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    let pool = match n {
        0 => None,
        n => Some(Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.min(1024))
                .build()
                .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n} threads: {e}")))?,
        )),
    };
    *POOL.lock().unwrap_or_else(|e| e.into_inner()) = pool;
    Ok(())
}

/// The number of threads the crate uses for prediction and scoring (at least 1).
#[pyfunction]
fn num_threads() -> usize {
    current_pool().map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
}

/// The grid arguments of [`cross_validate`]: each list is one axis of the grid; `None`
/// takes its default (one value). Every combination is a candidate.
struct Grid {
    combiners: Vec<Combiner>,
    encoders: Vec<Option<Vec<usize>>>,
    hidden: Vec<Vec<usize>>,
    learning_rates: Vec<f32>,
    weight_decays: Vec<f32>,
    head_dropouts: Vec<f32>,
    encoder_dropouts: Vec<f32>,
    input_dropouts: Vec<f32>,
    input_noises: Vec<f32>,
    batch_size: usize,
    max_epochs: usize,
}

impl Grid {
    /// Candidates of every combination, in the order `combiners x encoders x hidden x
    /// learning_rates x weight_decays x head_dropouts x encoder_dropouts x input_dropouts x
    /// input_noises`; an encoder-less candidate takes encoder dropout 0 only (it has no
    /// encoder to drop in). Labels are those of the crate's `SearchSpace::grid`, prefixed
    /// with the encoder and followed by the non-zero dropouts and noise.
    fn space(&self, d: usize) -> PyResult<SearchSpace> {
        // Every value is checked, including encoder dropouts no candidate uses.
        for &p in &self.encoder_dropouts {
            TrainConfig::new()
                .with_encoder_dropout(p)
                .check()
                .py_err()?;
        }
        let mut candidates = Vec::new();
        for combiner in &self.combiners {
            for enc in &self.encoders {
                let encoder = match enc {
                    None => None,
                    Some(e) => {
                        let Some((&out, hid)) = e.split_last() else {
                            return Err(PyValueError::new_err(
                                "an encoder lists its hidden widths then its output width, \
                                 e.g. (256, 128); got ()",
                            ));
                        };
                        Some(
                            EncoderConfig::new(MlpConfig::new(hid.to_vec()).py_err()?, out)
                                .py_err()?,
                        )
                    }
                };
                let eds: &[f32] = if encoder.is_some() {
                    &self.encoder_dropouts
                } else {
                    &[0.0]
                };
                let axes = cartesian(&[
                    &self.learning_rates,
                    &self.weight_decays,
                    &self.head_dropouts,
                    eds,
                    &self.input_dropouts,
                    &self.input_noises,
                ]);
                for h in &self.hidden {
                    check_size(d, combiner, enc.as_deref(), h)?;
                    let head = MlpConfig::new(h.clone()).py_err()?;
                    for point in &axes {
                        let &[lr, wd, hd, ed, id, noise] = point.as_slice() else {
                            unreachable!("cartesian() of six axes gives six values");
                        };
                        let train = TrainConfig::new()
                            .with_optimizer(Optimizer::adam(lr))
                            .with_weight_decay(wd)
                            .with_batch_size(self.batch_size)
                            .with_epochs(self.max_epochs)
                            .with_head_dropout(hd)
                            .with_encoder_dropout(ed)
                            .with_input_dropout(id)
                            .with_input_noise(noise);
                        let mut label = match enc {
                            Some(e) => format!("encoder{e:?} + "),
                            None => String::new(),
                        };
                        label += &format!("{combiner} h={h:?} lr={lr:e} wd={wd:e}");
                        for (name, v) in [("hd", hd), ("ed", ed), ("id", id), ("in", noise)] {
                            if v != 0.0 {
                                label += &format!(" {name}={v}");
                            }
                        }
                        candidates.push(Candidate {
                            label,
                            combiner: combiner.clone(),
                            encoder: encoder.clone(),
                            head: head.clone(),
                            train,
                        });
                    }
                }
            }
        }
        SearchSpace::new(candidates).py_err()
    }
}

/// Every combination of one value per axis, the first axis varying slowest (no axis: one
/// empty combination; an empty axis: none).
fn cartesian(axes: &[&[f32]]) -> Vec<Vec<f32>> {
    axes.iter().fold(vec![Vec::new()], |acc, axis| {
        acc.iter()
            .flat_map(|p| {
                axis.iter().map(move |&v| {
                    let mut q = p.clone();
                    q.push(v);
                    q
                })
            })
            .collect()
    })
}

/// One table row of a selection as a dict: every column the crate's table prints.
fn trial_dict<'py>(py: Python<'py>, t: &Trial, chosen: bool) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let r = &t.regularisers;
    d.set_item("label", &t.label)?;
    d.set_item("mean_auc", t.mean_auc)?;
    d.set_item("std_auc", t.std_auc)?;
    d.set_item("epochs", t.epochs)?;
    d.set_item("fold_aucs", t.fold_aucs.clone())?;
    d.set_item("mean_train_loss", t.mean_train_loss)?;
    d.set_item("seconds", t.time.as_secs_f64())?;
    d.set_item("head_dropout", r.head_dropout)?;
    d.set_item("encoder_dropout", r.encoder_dropout)?;
    d.set_item("input_dropout", r.input_dropout)?;
    d.set_item("input_noise", r.input_noise)?;
    d.set_item("weight_decay", r.weight_decay)?;
    d.set_item("chosen", chosen)?;
    Ok(d)
}

/// The labels of the crate's default search space (`SearchSpace::default()`), in the
/// order `cross_validate` tries them without grid arguments.
#[pyfunction]
fn default_search_space() -> Vec<String> {
    SearchSpace::default()
        .candidates()
        .iter()
        .map(|c| c.label.clone())
        .collect()
}

/// Item-grouped k-fold cross-validation, scored by mean fold ROC AUC, then a refit of the
/// best candidate on all of `data` for its chosen epochs (the crate's
/// `select::cross_validate`).
///
/// Without any grid argument the candidates are the crate's documented default space
/// (`SearchSpace::default()`: 4 candidates, regularised with dropout; labels from
/// `default_search_space()`). With any grid argument the candidates are every
/// combination of `combiners x encoders x hidden x learning_rates x weight_decays x
/// head_dropouts x encoder_dropouts x input_dropouts x input_noises` (an axis not given
/// takes one value: `concat_swap_average`, no encoder, `(64,)`, 1e-3, 0, 0, 0, 0, 0;
/// an encoder lists hidden widths then output width; encoder dropout applies to
/// candidates with an encoder only), trained with Adam, batch `batch_size` (256), up to
/// `max_epochs` (30) epochs, each epoch scored.
///
/// `ensemble=k` refits the chosen candidate `k` times (refit `j` with model seed `seed + j`
/// and training seed `j`) and returns them as an `Ensemble` averaged in logit space;
/// `ensemble=1` (default) returns the single refitted `Model`. Returns
/// `(model_or_ensemble, table)`, the table
/// one dict per candidate (`label`, `mean_auc`, `std_auc`, `epochs`, `fold_aucs`,
/// `mean_train_loss`, `seconds`, `head_dropout`, `encoder_dropout`, `input_dropout`,
/// `input_noise`, `weight_decay`, `chosen`). `callback(report: dict)` is called after
/// every fit; an exception it raises is re-raised when the selection ends. Releases the
/// GIL. Invalid values (`ensemble=0`, a dropout outside `[0, 1)`, ...) raise `ValueError`.
#[pyfunction]
#[pyo3(signature = (data, *, combiners = None, encoders = None, hidden = None, learning_rates = None, weight_decays = None, head_dropouts = None, encoder_dropouts = None, input_dropouts = None, input_noises = None, batch_size = None, max_epochs = None, folds = 5, fold_seed = 0, seed = 0, ensemble = 1, callback = None))]
#[allow(clippy::too_many_arguments)]
fn cross_validate(
    py: Python<'_>,
    data: PyRef<'_, PyItemPairs>,
    combiners: Option<Vec<Bound<'_, PyAny>>>,
    encoders: Option<Vec<Option<Vec<usize>>>>,
    hidden: Option<Vec<Vec<usize>>>,
    learning_rates: Option<Vec<f32>>,
    weight_decays: Option<Vec<f32>>,
    head_dropouts: Option<Vec<f32>>,
    encoder_dropouts: Option<Vec<f32>>,
    input_dropouts: Option<Vec<f32>>,
    input_noises: Option<Vec<f32>>,
    batch_size: Option<usize>,
    max_epochs: Option<usize>,
    folds: usize,
    fold_seed: u64,
    seed: u64,
    ensemble: usize,
    callback: Option<Py<PyAny>>,
) -> PyResult<(Py<PyAny>, Vec<Py<PyAny>>)> {
    let gridded = combiners.is_some()
        || encoders.is_some()
        || hidden.is_some()
        || learning_rates.is_some()
        || weight_decays.is_some()
        || head_dropouts.is_some()
        || encoder_dropouts.is_some()
        || input_dropouts.is_some()
        || input_noises.is_some()
        || batch_size.is_some()
        || max_epochs.is_some();
    let space = if gridded {
        let combiners = match combiners {
            Some(cs) => cs.iter().map(combiner_from).collect::<PyResult<Vec<_>>>()?,
            None => vec![Combiner::ConcatSwapAverage],
        };
        Grid {
            combiners,
            encoders: encoders.unwrap_or_else(|| vec![None]),
            hidden: hidden.unwrap_or_else(|| vec![vec![64]]),
            learning_rates: learning_rates.unwrap_or_else(|| vec![1e-3]),
            weight_decays: weight_decays.unwrap_or_else(|| vec![0.0]),
            head_dropouts: head_dropouts.unwrap_or_else(|| vec![0.0]),
            encoder_dropouts: encoder_dropouts.unwrap_or_else(|| vec![0.0]),
            input_dropouts: input_dropouts.unwrap_or_else(|| vec![0.0]),
            input_noises: input_noises.unwrap_or_else(|| vec![0.0]),
            batch_size: batch_size.unwrap_or(256),
            max_epochs: max_epochs.unwrap_or(30),
        }
        .space(data.0.dim())?
    } else {
        let space = SearchSpace::default();
        for c in space.candidates() {
            let enc = c.encoder.as_ref().map(|e| {
                e.mlp()
                    .hidden()
                    .iter()
                    .copied()
                    .chain([e.output_dim()])
                    .collect::<Vec<_>>()
            });
            check_size(data.0.dim(), &c.combiner, enc.as_deref(), c.head.hidden())?;
        }
        space
    };
    let config = SelectConfig::new()
        .with_folds(folds)
        .with_fold_seed(fold_seed)
        .with_model_seed(seed)
        .with_ensemble(ensemble);
    let mut raised: Option<PyErr> = None;
    let mut observer = |p: &Progress| {
        let Some(cb) = &callback else { return };
        if raised.is_some() {
            return;
        }
        Python::attach(|py| {
            let step = || -> PyResult<()> {
                py.check_signals()?;
                let d = PyDict::new(py);
                match p {
                    Progress::Fold {
                        candidate,
                        n_candidates,
                        fold,
                        n_folds,
                        best_auc,
                        elapsed,
                    } => {
                        d.set_item("stage", "fold")?;
                        d.set_item("candidate", candidate)?;
                        d.set_item("n_candidates", n_candidates)?;
                        d.set_item("fold", fold)?;
                        d.set_item("n_folds", n_folds)?;
                        d.set_item("best_auc", best_auc)?;
                        d.set_item("elapsed", elapsed.as_secs_f64())?;
                    }
                    Progress::Refit {
                        candidate,
                        epochs,
                        elapsed,
                    } => {
                        d.set_item("stage", "refit")?;
                        d.set_item("candidate", candidate)?;
                        d.set_item("epochs", epochs)?;
                        d.set_item("elapsed", elapsed.as_secs_f64())?;
                    }
                    _ => d.set_item("stage", "other")?,
                }
                cb.call1(py, (d,))?;
                Ok(())
            };
            if let Err(e) = step() {
                raised = Some(e);
            }
        })
    };
    let items = &data.0;
    let result =
        py.detach(|| sympair::select::cross_validate(items, &space, &config, &mut observer));
    if let Some(e) = raised {
        return Err(e);
    }
    let sel = result.py_err()?;
    let table = sel
        .table
        .iter()
        .enumerate()
        .map(|(k, t)| Ok(trial_dict(py, t, k == sel.best)?.into_any().unbind()))
        .collect::<PyResult<Vec<_>>>()?;
    let chosen = match sel.ensemble {
        Some(inner) => Py::new(py, ensemble::PyEnsemble { inner })?.into_any(),
        None => Py::new(py, PyModel { inner: sel.model })?.into_any(),
    };
    Ok((chosen, table))
}

#[pymodule]
fn _sympair(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_class::<PyModel>()?;
    m.add_class::<PyPairDataset>()?;
    m.add_class::<PyItemPairs>()?;
    m.add_function(wrap_pyfunction!(cross_validate, m)?)?;
    scale::register(m)?;
    m.add_function(wrap_pyfunction!(default_search_space, m)?)?;
    m.add_class::<ensemble::PyEnsemble>()?;
    m.add("TrainingDiverged", m.py().get_type::<TrainingDiverged>())?;
    m.add("FORMAT_VERSION", sympair::FORMAT_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
