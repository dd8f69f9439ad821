//! `sympair.Ensemble`: the crate's `select::Ensemble` (pair classifiers whose logits are
//! averaged, members summed in their fixed order, so an ensemble of symmetric members is
//! exactly symmetric) with the same input conversions and GIL release as `Model`.

use ndarray::Ix2;
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use sympair::ids::Precompute;
use sympair::select::Ensemble;
use sympair::{IdScorer, PairCombiner};

use super::{OrPy, PyModel, dense_pairs, f32_vec, float_array, id_array, ids_from, run, with_data};

/// A Rust `sympair::select::Ensemble`. Saved files are the crate's ensemble JSON format,
/// readable by `Ensemble::load` in Rust.
#[pyclass(module = "sympair._sympair", name = "Ensemble", frozen)]
pub(crate) struct PyEnsemble {
    pub(crate) inner: Ensemble,
}

/// The crate's `ids::Precompute` from its Python name.
fn precompute_named(name: &str) -> PyResult<Precompute> {
    match name {
        "auto" => Ok(Precompute::Auto),
        "always" => Ok(Precompute::Always),
        "never" => Ok(Precompute::Never),
        other => Err(PyValueError::new_err(format!(
            "precompute must be \"auto\", \"always\" or \"never\", not {other:?}"
        ))),
    }
}

impl PyEnsemble {
    /// Mean logit of item-indexed pairs: each member's `IdScorer` logits summed in member
    /// order, then scaled by `1/k`, the same float32 operations as the crate's
    /// `Ensemble::predict_logits` (so `precompute="never"` equals it bit for bit).
    fn ids_logits(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        ids: &Bound<'_, PyAny>,
        precompute: &str,
    ) -> PyResult<Vec<f32>> {
        let mode = precompute_named(precompute)?;
        let items = float_array::<Ix2>(items, "items")?;
        let pairs = ids_from(&id_array(ids, "pairs")?, "pairs")?;
        let items = items.as_array();
        let members = self.inner.members();
        run(py, || {
            let mut sum = vec![0.0f32; pairs.len()];
            for (j, m) in members.iter().enumerate() {
                let z = IdScorer::new(m, items)?
                    .with_precompute(mode)?
                    .logits(&pairs)?;
                if j == 0 {
                    sum = z;
                } else {
                    sum.iter_mut().zip(z).for_each(|(s, z)| *s += z);
                }
            }
            let inv = 1.0 / members.len() as f32;
            sum.iter_mut().for_each(|s| *s *= inv);
            Ok(sum)
        })
        .py_err()
    }
}

#[pymethods]
impl PyEnsemble {
    /// An ensemble of `members` (a non-empty sequence of `Model` of the same input width),
    /// averaged in that order. Raises `ValueError` on no member or different widths.
    #[new]
    fn new(members: Vec<PyRef<'_, PyModel>>) -> PyResult<Self> {
        let members = members.iter().map(|m| m.inner.clone()).collect();
        Ensemble::new(members).py_err().map(|inner| Self { inner })
    }

    /// The members (copies), in averaging order.
    #[getter]
    fn members(&self) -> Vec<PyModel> {
        self.inner
            .members()
            .iter()
            .map(|m| PyModel { inner: m.clone() })
            .collect()
    }

    /// Number of members.
    fn __len__(&self) -> usize {
        self.inner.members().len()
    }

    /// Width of each item embedding.
    #[getter]
    fn input_dim(&self) -> usize {
        self.inner.input_dim()
    }

    /// Whether every member is symmetric (then so is the ensemble, bit for bit).
    #[getter]
    fn is_symmetric(&self) -> bool {
        self.inner.is_symmetric()
    }

    /// Mean of the members' logits of the pairs `(x[i], y[i])` (float32 `(n, d)`, any
    /// layout, read in place). Releases the GIL.
    fn predict_logits<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict_logits(x, y))
    }

    /// `sigmoid` of `predict_logits(x, y)` (the members' calibrations are not applied: the
    /// average is of raw logits). Releases the GIL.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict_proba(x, y))
    }

    /// Mean logit of item-indexed pairs: `ids` `(n, 2)` int64 rows of `items`
    /// `(n_items, d)`; `precompute` as for `Model.predict_logits_ids` (`"never"` equals
    /// `predict_logits` on the gathered rows bit for bit). Releases the GIL.
    #[pyo3(signature = (items, ids, precompute = "auto"))]
    fn predict_logits_ids<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        ids: &Bound<'py, PyAny>,
        precompute: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let out = self.ids_logits(py, items, ids, precompute)?;
        Ok(f32_vec(py, out))
    }

    /// `sigmoid` of `predict_logits_ids(items, ids, precompute)`. Releases the GIL.
    #[pyo3(signature = (items, ids, precompute = "auto"))]
    fn predict_proba_ids<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        ids: &Bound<'py, PyAny>,
        precompute: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let mut out = self.ids_logits(py, items, ids, precompute)?;
        out.iter_mut().for_each(|z| *z = sympair::loss::sigmoid(*z));
        Ok(f32_vec(py, out))
    }

    /// Mean logit of every pair of a dataset (a `PairDataset`, an `ItemPairs` or a tuple
    /// `(x, y, labels)`), in order. Releases the GIL.
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

    /// The ensemble in the crate's JSON format (what `save` writes).
    fn to_json_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = run(py, || self.inner.to_json_bytes()).py_err()?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// An ensemble from bytes written by `to_json_bytes` or Rust's `Ensemble::save`.
    /// Malformed input raises `ValueError`.
    #[staticmethod]
    fn from_json_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        run(py, || Ensemble::from_json_bytes(data))
            .py_err()
            .map(|inner| Self { inner })
    }

    /// Saves the ensemble (atomically) in the crate's JSON format.
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        run(py, || self.inner.save(&path)).py_err()
    }

    /// Loads an ensemble saved from Python or Rust (`FileNotFoundError`, `ValueError` on
    /// a malformed file).
    #[staticmethod]
    fn load(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        run(py, || Ensemble::load(&path))
            .py_err()
            .map(|inner| Self { inner })
    }

    /// Pickling goes through the crate's JSON format: bit-identical weights.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let bytes = slf.get().to_json_bytes(py)?;
        let ctor = slf.get_type().getattr("from_json_bytes")?;
        PyTuple::new(py, [ctor.into_any(), PyTuple::new(py, [bytes])?.into_any()])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyEnsemble>() {
            Ok(o) => o.get().inner == self.inner,
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        let first = &self.inner.members()[0];
        format!(
            "Ensemble(members={}, input_dim={}, combiner={:?})",
            self.inner.members().len(),
            self.inner.input_dim(),
            first.combiner().name()
        )
    }
}
