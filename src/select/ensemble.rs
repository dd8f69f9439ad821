//! An ensemble of pair classifiers averaged in logit space: `logit = (1/k) sum_j logit_j`,
//! members summed in their fixed order, so an ensemble of symmetric members is exactly
//! symmetric and deterministic. Built by [`cross_validate`](super::cross_validate) with
//! [`SelectConfig::with_ensemble`](super::SelectConfig::with_ensemble) (refits of the
//! chosen candidate with different seeds), or from any models by [`Ensemble::new`].
//!
//! **Decision.** An ensemble keeps its own [`Decision`] (calibration and threshold), with
//! the same calls and rules as a model's (see [`decision`](crate::decision)): fit a
//! calibration of the *averaged* raw logit on validation pairs
//! ([`calibrate`](Ensemble::calibrate)), then choose a threshold
//! ([`set_threshold`](Ensemble::set_threshold)); [`predict_proba`](Ensemble::predict_proba)
//! is then calibrated and [`predict`](Ensemble::predict) returns classes, and
//! [`evaluate`](Ensemble::evaluate) measures the ensemble as [`evaluate`](crate::evaluate)
//! measures a model.
//!
//! **The members' own calibrations and thresholds are ignored**: the ensemble averages
//! the members' raw logits ([`PairClassifier::predict_logits`]), never their calibrated
//! probabilities, and only the ensemble's decision applies to the average.
//!
//! ```text
//! raw logit z = (1/k) sum_j z_j ──► c(z) ──► p = sigmoid(c(z)) ──► class = p >= threshold
//! ```
//!
//! ```
//! use sympair::select::Ensemble;
//! use sympair::{CalibrationMethod, ClusterTask, Combiner, PairClassifier, ThresholdRule,
//!     TrainConfig};
//!
//! let task = ClusterTask::new(8, 4)?.with_noise(0.7)?;
//! let (train, valid) = (task.generate(400, 1)?, task.generate(300, 2)?);
//! let members = (0..3)
//!     .map(|s| {
//!         let mut m = PairClassifier::builder(8, Combiner::AbsDiff).seed(s).build()?;
//!         m.fit(&train, None, &TrainConfig::new().with_epochs(3))?;
//!         Ok(m)
//!     })
//!     .collect::<sympair::Result<Vec<_>>>()?;
//! let mut ens = Ensemble::new(members)?;
//! ens.calibrate(CalibrationMethod::Platt, &valid)?; // on validation pairs
//! ens.set_threshold(ThresholdRule::MaxF1, &valid)?;
//! let (p, class) = (ens.proba_for(&valid)?, ens.predict_for(&valid)?);
//! assert!(p.iter().zip(&class).all(|(&p, &c)| c == (p >= ens.threshold())));
//! let eval = ens.evaluate(&valid)?;
//! assert_eq!(eval.asymmetry.max, 0.0); // AbsDiff members: exactly symmetric
//! # Ok::<(), sympair::Error>(())
//! ```

use std::path::Path;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, CalibrationMethod};
use crate::combiner::Combiner;
use crate::data::PairData;
use crate::decision::Decision;
use crate::error::{Error, Result};
use crate::eval::Evaluation;
use crate::metrics::ThresholdChoice;
use crate::model::PairClassifier;
use crate::threshold::ThresholdRule;

/// Format name in a saved ensemble's envelope.
const FORMAT_NAME: &str = "sympair-ensemble";
/// Version of the saved-ensemble envelope.
const FORMAT_VERSION: u64 = 1;

/// Pair classifiers of the same item width whose logits are averaged.
///
/// ```
/// use ndarray::array;
/// use sympair::select::Ensemble;
/// use sympair::{Combiner, PairClassifier};
/// let members = (0..3)
///     .map(|s| PairClassifier::builder(2, Combiner::AbsDiff).seed(s).build())
///     .collect::<Result<Vec<_>, _>>()?;
/// let ens = Ensemble::new(members)?;
/// let (x, y) = (array![[0.5f32, -1.0]], array![[2.0f32, 0.25]]);
/// let xy = ens.predict_logits(x.view(), y.view())?;
/// assert_eq!(xy, ens.predict_logits(y.view(), x.view())?); // exactly symmetric
/// let back = Ensemble::from_json_bytes(&ens.to_json_bytes()?)?;
/// assert_eq!(back, ens);
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEnsemble")]
pub struct Ensemble {
    members: Vec<PairClassifier<Combiner>>,
    /// Calibration and threshold of the averaged logit; written only when one is set,
    /// so an ensemble without them is written byte for byte as before the field existed
    /// (and such files load with an empty decision).
    #[serde(skip_serializing_if = "Decision::is_empty")]
    decision: Decision,
}

/// The serde form of [`Ensemble`] before [`Ensemble::new`]'s checks (each member checks
/// itself while deserialising, and so does the decision).
#[derive(Deserialize)]
struct RawEnsemble {
    members: Vec<PairClassifier<Combiner>>,
    #[serde(default)]
    decision: Decision,
}

impl TryFrom<RawEnsemble> for Ensemble {
    type Error = Error;
    fn try_from(raw: RawEnsemble) -> Result<Self> {
        let mut ens = Ensemble::new(raw.members)?;
        ens.decision = raw.decision;
        Ok(ens)
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    version: u64,
    ensemble: &'a Ensemble,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u64,
    ensemble: serde_json::Value,
}

impl Ensemble {
    /// An ensemble of `members`. Errors: no member ([`Error::Empty`]), or members of
    /// different item widths ([`Error::InvalidConfig`], field `members`, naming the first
    /// that differs from member 0).
    pub fn new(members: Vec<PairClassifier<Combiner>>) -> Result<Self> {
        let Some(first) = members.first() else {
            return Err(Error::Empty {
                what: "ensemble (no member)",
            });
        };
        let d = first.input_dim();
        if let Some((j, m)) = members.iter().enumerate().find(|(_, m)| m.input_dim() != d) {
            return Err(Error::config(
                "members",
                format!(
                    "member {j} takes items of width {}, member 0 of width {d}",
                    m.input_dim()
                ),
            ));
        }
        Ok(Ensemble {
            members,
            decision: Decision::default(),
        })
    }

    /// The members, in averaging order.
    pub fn members(&self) -> &[PairClassifier<Combiner>] {
        &self.members
    }

    /// Item width `d` the members expect.
    pub fn input_dim(&self) -> usize {
        self.members[0].input_dim()
    }

    /// Whether every member is symmetric (then so is the ensemble, bit for bit).
    pub fn is_symmetric(&self) -> bool {
        self.members.iter().all(|m| m.is_symmetric())
    }

    /// Mean of the members' logits (see [`PairClassifier::predict_logits`]; same errors).
    pub fn predict_logits(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        let mut sum = self.members[0].predict_logits(x, y)?;
        for m in &self.members[1..] {
            sum += &m.predict_logits(x, y)?;
        }
        Ok(sum * self.inv_k())
    }

    /// Probabilities of the mean logit: `sigmoid` of
    /// [`predict_logits`](Self::predict_logits), or of its calibration once
    /// [`calibrate`](Self::calibrate) ran (the members' own calibrations are not applied:
    /// the average is of raw logits).
    pub fn predict_proba(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self
            .predict_logits(x, y)?
            .mapv_into(|z| self.decision.proba(z)))
    }

    /// Classes for a batch of pairs: `predict_proba(x, y)[i] >= threshold()`, exactly.
    /// Errors as [`predict_logits`](Self::predict_logits).
    pub fn predict(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<bool>> {
        let cut = self.threshold();
        Ok(self.predict_proba(x, y)?.mapv(|p| p >= cut))
    }

    /// Probabilities (calibrated if a calibration is fitted) for every pair of a dataset,
    /// in order; see [`logits_for`](Self::logits_for).
    pub fn proba_for(&self, data: &dyn PairData) -> Result<Vec<f32>> {
        Ok(self.decision.probas(&self.logits_for(data)?))
    }

    /// Classes for every pair of a dataset: `proba_for(data)[i] >= threshold()`.
    pub fn predict_for(&self, data: &dyn PairData) -> Result<Vec<bool>> {
        Ok(self.decision.classes(&self.proba_for(data)?))
    }

    /// The ensemble's calibration and threshold (the members' are not used).
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The ensemble's calibration, if fitted.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.decision.calibration()
    }

    /// Fits a calibration of the mean raw logit on `valid` (validation pairs, not the
    /// training pairs) and stores it, as [`PairClassifier::calibrate`] does for a model:
    /// [`predict_proba`](Self::predict_proba) is then calibrated, and a stored threshold
    /// is removed. Returns the calibration.
    ///
    /// Errors as [`PairClassifier::calibrate`]: `valid` of the wrong width, a non-finite
    /// logit, one class only, logits that do not rank better than chance; the ensemble is
    /// unchanged on error.
    pub fn calibrate(
        &mut self,
        method: CalibrationMethod,
        valid: &dyn PairData,
    ) -> Result<Calibration> {
        let logits = self.logits_for(valid)?;
        self.decision.calibrate(method, &logits, valid.labels())
    }

    /// Stores a calibration (or removes it with `None`); removes a stored threshold.
    pub fn set_calibration(&mut self, calibration: Option<Calibration>) {
        self.decision.set_calibration(calibration);
    }

    /// Chooses a probability threshold on `valid` by `rule`, applied to the ensemble's
    /// (calibrated) probabilities, and stores it; returns the rule's choice on `valid`
    /// (see [`PairClassifier::set_threshold`], same errors; unchanged on error).
    pub fn set_threshold(
        &mut self,
        rule: ThresholdRule,
        valid: &dyn PairData,
    ) -> Result<ThresholdChoice> {
        let logits = self.logits_for(valid)?;
        self.decision
            .choose_threshold(rule, &logits, valid.labels())
    }

    /// Stores a threshold set by hand: a probability in `(0, 1]`, else
    /// [`Error::InvalidConfig`] (`field = "threshold"`).
    pub fn set_threshold_probability(&mut self, probability: f32) -> Result<()> {
        self.decision.set_threshold_probability(probability)
    }

    /// Removes the stored threshold ([`predict`](Self::predict) uses 0.5 again).
    pub fn clear_threshold(&mut self) {
        self.decision.clear_threshold();
    }

    /// The probability cut-off [`predict`](Self::predict) uses: the stored threshold,
    /// else [`DEFAULT_THRESHOLD`](crate::decision::DEFAULT_THRESHOLD) (0.5).
    pub fn threshold(&self) -> f32 {
        self.decision.cutoff()
    }

    /// Everything [`evaluate`](crate::evaluate) measures for a model, for the ensemble on
    /// every pair of `data`: its mean logits through its own calibration, its stored
    /// threshold, and the asymmetry of the mean raw logits. Same errors as `evaluate`.
    pub fn evaluate(&self, data: &dyn PairData) -> Result<Evaluation> {
        let raw = self.logits_for(data)?;
        let backward = self.mean_of(|m| crate::eval::swapped_logits(m, data))?;
        crate::eval::evaluation_of(&raw, &backward, &self.decision, data.labels())
    }

    /// Mean of the members' logits for every pair of `data`, in order (see
    /// [`PairClassifier::logits_for`]; same errors).
    pub fn logits_for(&self, data: &dyn PairData) -> Result<Vec<f32>> {
        self.mean_of(|m| m.logits_for(data))
    }

    /// The mean over members of `f(member)`: summed in member order, then scaled by
    /// `1 / k` (the fixed order is what makes a symmetric ensemble exactly symmetric).
    fn mean_of(
        &self,
        f: impl Fn(&PairClassifier<Combiner>) -> Result<Vec<f32>>,
    ) -> Result<Vec<f32>> {
        let mut sum = f(&self.members[0])?;
        for m in &self.members[1..] {
            for (s, z) in sum.iter_mut().zip(f(m)?) {
                *s += z;
            }
        }
        let inv = self.inv_k();
        sum.iter_mut().for_each(|s| *s *= inv);
        Ok(sum)
    }

    fn inv_k(&self) -> f32 {
        1.0 / self.members.len() as f32
    }

    /// The ensemble as JSON bytes with a format name and version.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&EnvelopeOut {
            format: FORMAT_NAME,
            version: FORMAT_VERSION,
            ensemble: self,
        })
        .map_err(|e| Error::Format(e.to_string()))
    }

    /// Reads an ensemble written by [`to_json_bytes`](Self::to_json_bytes); every member
    /// is checked as [`PairClassifier::from_json_bytes`] checks a model. Malformed input
    /// gives [`Error::Format`], another version [`Error::Version`].
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self> {
        let env: EnvelopeIn =
            serde_json::from_slice(bytes).map_err(|e| Error::Format(e.to_string()))?;
        if env.format != FORMAT_NAME {
            return Err(Error::Format(format!(
                "not a sympair ensemble (format {:?})",
                env.format
            )));
        }
        if env.version != FORMAT_VERSION {
            return Err(Error::Version {
                found: env.version,
                expected: FORMAT_VERSION,
            });
        }
        let raw: RawEnsemble =
            serde_json::from_value(env.ensemble).map_err(|e| Error::Format(e.to_string()))?;
        Ensemble::try_from(raw)
    }

    /// Saves the ensemble as JSON, atomically (like [`PairClassifier::save`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_json_bytes()?;
        crate::atomic::atomic_write(path.as_ref(), |w| w.write_all(&bytes))
    }

    /// Loads an ensemble saved by [`save`](Self::save). Errors as
    /// [`from_json_bytes`](Self::from_json_bytes), plus [`Error::Io`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_bytes(&bytes)
    }
}
