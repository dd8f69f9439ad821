//! `sympair.Ensemble`: the crate's `select::Ensemble` (pair classifiers whose logits are
//! averaged, members summed in their fixed order, so an ensemble of symmetric members is
//! exactly symmetric) with the same input conversions and GIL release as `Model`, and the
//! same decision calls (calibration, threshold, classes, evaluation) under the same names.

use ndarray::{Ix1, Ix2};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use sympair::ids::Precompute;
use sympair::select::Ensemble;
use sympair::{IdScorer, PairCombiner};

use super::{
    OrPy, PyModel, calibration_dict, calibration_from, calibration_method_named, choice_dict,
    dense_pairs, f32_vec, float_array, id_array, ids_from, run, threshold_rule_from,
    threshold_rule_py, to_python, with_data,
};

/// A Rust `sympair::select::Ensemble`. Saved files are the crate's ensemble JSON format,
/// readable by `Ensemble::load` in Rust. Not frozen: the decision (calibration,
/// threshold) is set in place, as on `Model`.
#[pyclass(module = "sympair._sympair", name = "Ensemble")]
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

    /// Probabilities (float32) of the mean logit of the pairs `(x[i], y[i])`: `sigmoid` of
    /// `predict_logits(x, y)`, calibrated once `calibrate` ran (the members' own
    /// calibrations are not applied: the average is of raw logits). Releases the GIL.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict_proba(x, y))
    }

    /// Classes (bool) of the pairs `(x[i], y[i])`: `predict_proba(x, y) >= threshold`,
    /// the crate's `Ensemble::predict`. Releases the GIL.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        dense_pairs(py, x, y, |x, y| self.inner.predict(x, y))
    }

    /// Probabilities (float32) of raw (mean) logits as the ensemble's `predict_proba`
    /// computes them: `sigmoid` of the calibrated logit, the same float32 operations.
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

    // -- Decisions: calibration and threshold (as on `Model`) ---------------------------

    /// Fits a calibration of the mean raw logit on the labelled pairs `valid` (validation
    /// pairs, never the training pairs) and stores it with the ensemble: `method` is
    /// `"platt"` (`sigmoid(a z + b)`) or `"temperature"` (`sigmoid(z / t)`). Removes a
    /// stored threshold (choose it again after calibrating). Returns the calibration as a
    /// dict (see `calibration`). Raises `ValueError` when `valid` holds one class only or
    /// its logits rank no better than chance; the ensemble is then unchanged. Releases the
    /// GIL.
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

    /// The stored calibration of the mean logit: `None`,
    /// `{"method": "platt", "a": a, "b": b}` or `{"method": "temperature", "t": t}`.
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
    /// ensemble's (calibrated) probabilities, and stores it. Returns a dict: `threshold`
    /// (the stored probability), `value` (F1, accuracy or precision reached on `valid`)
    /// and `confusion` (counts on `valid`). Raises `ValueError` for a precision no
    /// threshold reaches; the ensemble is then unchanged. Releases the GIL.
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

    /// Everything `Model.evaluate` measures, for the ensemble on a labelled dataset (as
    /// for `fit`), as a dict: the crate's `Ensemble::evaluate` (mean logits through the
    /// ensemble's calibration, its stored threshold, asymmetry of the mean raw logits).
    /// Releases the GIL.
    fn evaluate(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let report = with_data(py, data, |data| {
            run(py, || self.inner.evaluate(data)).py_err()
        })?;
        to_python(py, &report)
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

    /// Probabilities of `predict_logits_ids(items, ids, precompute)`, calibrated like
    /// `predict_proba`. Releases the GIL.
    #[pyo3(signature = (items, ids, precompute = "auto"))]
    fn predict_proba_ids<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        ids: &Bound<'py, PyAny>,
        precompute: &str,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let mut out = self.ids_logits(py, items, ids, precompute)?;
        let decision = *self.inner.decision();
        out.iter_mut().for_each(|z| *z = decision.proba(*z));
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
        let bytes = slf.borrow().to_json_bytes(py)?;
        let ctor = slf.get_type().getattr("from_json_bytes")?;
        PyTuple::new(py, [ctor.into_any(), PyTuple::new(py, [bytes])?.into_any()])
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyEnsemble>() {
            Ok(o) => o.try_borrow().is_ok_and(|o| o.inner == self.inner),
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
