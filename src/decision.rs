//! What a classifier does with its logit: calibration, then a decision threshold.
//!
//! A [`PairClassifier`] keeps a [`Decision`]: an optional [`Calibration`] and an
//! optional [`Threshold`], both fitted on validation pairs and saved with the model.
//!
//! ```text
//! raw logit z ──► calibrated logit c(z) ──► p = sigmoid(c(z)) ──► class = p >= threshold
//! predict_logits  (a z + b, or z / t)      predict_proba          predict
//! ```
//!
//! * [`predict_logits`](PairClassifier::predict_logits) and
//!   [`logits_for`](PairClassifier::logits_for) always return the **raw** logits: they
//!   are what training optimises and what the ranking metrics need.
//! * [`predict_proba`](PairClassifier::predict_proba),
//!   [`predict_pair`](PairClassifier::predict_pair) and
//!   [`proba_for`](PairClassifier::proba_for) return **calibrated** probabilities once a
//!   calibration is fitted ([`calibrate`](PairClassifier::calibrate)), plain
//!   `sigmoid(z)` before.
//! * [`predict`](PairClassifier::predict) returns `predict_proba(..) >= threshold`,
//!   exactly; the threshold is a probability on the same (calibrated) scale, 0.5 until
//!   one is set ([`set_threshold`](PairClassifier::set_threshold)).
//!
//! Calibration is a strictly increasing map of the logit alone, applied in the same way
//! to `(x, y)` and `(y, x)`, so a symmetric model's probabilities and classes stay equal
//! bit for bit in both orders.
//!
//! Order of the calls: calibrate first, then choose the threshold. Changing the
//! calibration removes a stored threshold (it was a probability on the old scale).
//! Training again ([`fit`](PairClassifier::fit)) does not touch the decision: calibrate
//! and choose the threshold again after it.
//!
//! ```
//! use sympair::{CalibrationMethod, ClusterTask, Combiner, PairClassifier, PairData,
//!     ThresholdRule, TrainConfig};
//!
//! let task = ClusterTask::new(16, 6)?.with_noise(0.7)?;
//! let (train, valid) = (task.generate(1000, 1)?, task.generate(500, 2)?);
//! let mut model = PairClassifier::builder(16, Combiner::AbsDiff).seed(1).build()?;
//! model.fit(&train, None, &TrainConfig::new().with_epochs(6))?;
//!
//! // On validation pairs, never on the training pairs:
//! model.calibrate(CalibrationMethod::Platt, &valid)?;
//! let chosen = model.set_threshold(ThresholdRule::target_precision(0.9)?, &valid)?;
//! assert!(chosen.confusion.precision() >= 0.9);
//!
//! let p = model.proba_for(&valid)?;
//! let class = model.predict_for(&valid)?;
//! assert!(p.iter().zip(&class).all(|(&p, &c)| c == (p >= model.threshold())));
//! # Ok::<(), sympair::Error>(())
//! ```

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, CalibrationMethod};
use crate::combiner::PairCombiner;
use crate::data::PairData;
use crate::error::Result;
use crate::loss::sigmoid;
use crate::metrics::ThresholdChoice;
use crate::model::PairClassifier;
use crate::threshold::{Threshold, ThresholdRule};

/// The probability threshold of a model that has none stored.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// A model's calibration and decision threshold (see the [module docs](self)).
///
/// Saved in the model file under `"decision"` only when one of the two is set, so files
/// without them (format version 1 as written before) load unchanged. Each part
/// validates itself when read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calibration: Option<Calibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<Threshold>,
}

impl Decision {
    /// Whether neither a calibration nor a threshold is set.
    pub fn is_empty(&self) -> bool {
        self.calibration.is_none() && self.threshold.is_none()
    }

    /// The calibration, if fitted.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// The stored threshold, if any.
    pub fn threshold(&self) -> Option<&Threshold> {
        self.threshold.as_ref()
    }

    /// The calibrated logit of a raw logit (the raw logit without a calibration).
    #[inline]
    pub fn logit(&self, z: f32) -> f32 {
        match &self.calibration {
            Some(c) => c.logit(z),
            None => z,
        }
    }

    /// The probability of a raw logit: `sigmoid` of the calibrated logit.
    #[inline]
    pub fn proba(&self, z: f32) -> f32 {
        sigmoid(self.logit(z))
    }

    /// The probability cut-off in effect: the stored one, else [`DEFAULT_THRESHOLD`].
    pub fn cutoff(&self) -> f32 {
        self.threshold
            .as_ref()
            .map_or(DEFAULT_THRESHOLD, Threshold::probability)
    }

    // The steps below are shared by every scorer that keeps a `Decision` (a
    // `PairClassifier`, an `Ensemble`): each scores the validation pairs its own way and
    // hands the raw logits here, so the fitting and choosing rules live in one place.

    /// Fits a calibration of `raw` logits against `labels` and stores it (removing a
    /// stored threshold); unchanged on error.
    pub(crate) fn calibrate(
        &mut self,
        method: CalibrationMethod,
        raw: &[f32],
        labels: &[f32],
    ) -> Result<Calibration> {
        let calibration = Calibration::fit(method, raw, labels)?;
        self.set_calibration(Some(calibration));
        Ok(calibration)
    }

    /// Stores a calibration (or removes it); removes a stored threshold, a probability on
    /// the old scale.
    pub(crate) fn set_calibration(&mut self, calibration: Option<Calibration>) {
        self.calibration = calibration;
        self.threshold = None;
    }

    /// Chooses a threshold by `rule` on the probabilities of `raw` logits against
    /// `labels` and stores it; returns the rule's choice with `threshold` the stored
    /// probability. Unchanged on error.
    pub(crate) fn choose_threshold(
        &mut self,
        rule: ThresholdRule,
        raw: &[f32],
        labels: &[f32],
    ) -> Result<ThresholdChoice> {
        let proba = self.probas(raw);
        let mut choice = rule.choose(&proba, labels)?;
        let threshold = Threshold::from_choice(&choice, &proba, rule)?;
        choice.threshold = threshold.probability();
        self.threshold = Some(threshold);
        Ok(choice)
    }

    /// Stores a threshold set by hand (a probability in `(0, 1]`); unchanged on error.
    pub(crate) fn set_threshold_probability(&mut self, probability: f32) -> Result<()> {
        self.threshold = Some(Threshold::new(probability, None)?);
        Ok(())
    }

    /// Removes the stored threshold.
    pub(crate) fn clear_threshold(&mut self) {
        self.threshold = None;
    }

    /// [`proba`](Self::proba) of every raw logit.
    pub(crate) fn probas(&self, raw: &[f32]) -> Vec<f32> {
        raw.iter().map(|&z| self.proba(z)).collect()
    }

    /// The classes of probabilities: `p >= cutoff()`, exactly.
    pub(crate) fn classes(&self, proba: &[f32]) -> Vec<bool> {
        let cut = self.cutoff();
        proba.iter().map(|&p| p >= cut).collect()
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// The model's calibration and threshold.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The calibration, if fitted.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.decision.calibration.as_ref()
    }

    /// Fits a calibration of the raw logits on `valid` (validation pairs: **not** the
    /// training pairs, on which the model is over-confident) and stores it, so that
    /// [`predict_proba`](Self::predict_proba) returns calibrated probabilities. Removes
    /// a stored threshold (choose it again after calibrating). Returns the calibration.
    ///
    /// Errors: `valid` of the wrong width, a non-finite logit, and those of
    /// [`Calibration::fit`] (one class only, or logits that do not rank better than
    /// chance); the model is unchanged on error.
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

    /// Chooses a probability threshold on `valid` (validation pairs) by `rule`, applied
    /// to this model's probabilities ([`proba_for`](Self::proba_for), so calibrated if a
    /// calibration is fitted), and stores it. Returns the rule's choice on `valid`:
    /// `threshold` is the stored probability, `value` the criterion reached (F1,
    /// accuracy or precision), `confusion` the counts that
    /// [`predict_for`](Self::predict_for)`(valid)` gives.
    ///
    /// Errors: `valid` of the wrong width, a non-finite logit, [`Error::Unreachable`]
    /// for a precision target no cut-off reaches, [`Error::Undefined`] for max F1
    /// without positive pairs or a choice no threshold in `(0, 1]` expresses (see
    /// [`threshold`](crate::threshold)); the model is unchanged on error.
    ///
    /// [`Error::Unreachable`]: crate::Error::Unreachable
    /// [`Error::Undefined`]: crate::Error::Undefined
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
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) (`field = "threshold"`).
    pub fn set_threshold_probability(&mut self, probability: f32) -> Result<()> {
        self.decision.set_threshold_probability(probability)
    }

    /// Removes the stored threshold ([`predict`](Self::predict) uses 0.5 again).
    pub fn clear_threshold(&mut self) {
        self.decision.clear_threshold();
    }

    /// The probability cut-off [`predict`](Self::predict) uses: the stored threshold,
    /// else [`DEFAULT_THRESHOLD`] (0.5).
    pub fn threshold(&self) -> f32 {
        self.decision.cutoff()
    }

    /// Classes for a batch of pairs: `predict_proba(x, y)[i] >= threshold()`, exactly.
    /// Errors as [`predict_logits`](Self::predict_logits).
    pub fn predict(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<bool>> {
        let cut = self.threshold();
        Ok(self.predict_proba(x, y)?.mapv(|p| p >= cut))
    }

    /// Probabilities (calibrated if a calibration is fitted) for every pair of a
    /// dataset, in order; see [`logits_for`](Self::logits_for).
    pub fn proba_for(&self, data: &dyn PairData) -> Result<Vec<f32>> {
        Ok(self.decision.probas(&self.logits_for(data)?))
    }

    /// Classes for every pair of a dataset: `proba_for(data)[i] >= threshold()`.
    pub fn predict_for(&self, data: &dyn PairData) -> Result<Vec<bool>> {
        Ok(self.decision.classes(&self.proba_for(data)?))
    }
}
