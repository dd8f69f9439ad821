//! Decision thresholds chosen by a named rule on validation pairs.
//!
//! A model's [`predict`](crate::PairClassifier::predict) answers "similar" iff its
//! probability ([`predict_proba`](crate::PairClassifier::predict_proba), calibrated when
//! a calibration is fitted) is at least its [`Threshold`]. The threshold is a
//! probability in `(0, 1]`, chosen on validation pairs by a [`ThresholdRule`]:
//!
//! | rule | chooses the cut-off that |
//! |---|---|
//! | [`ThresholdRule::MaxF1`] | maximises F1 |
//! | [`ThresholdRule::MaxAccuracy`] | maximises accuracy |
//! | [`ThresholdRule::TargetPrecision`] | reaches the precision target with the highest recall |
//!
//! The candidates and tie rules are those of [`best_threshold`] and
//! [`threshold_for_precision`]: every distinct probability, tied probabilities never
//! split, the highest cut-off among equally good ones. Because the rule is applied to
//! the very probabilities `predict` compares, `predict` on the validation pairs gives
//! exactly the confusion counts the rule reported.
//!
//! Choose the threshold on validation pairs, not on training pairs (where the model is
//! over-confident), and after calibrating (a calibration changes the probability scale).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::{
    ThresholdChoice, ThresholdCriterion, best_threshold, threshold_for_precision,
};

/// A precision target in `(0, 1]`; see [`ThresholdRule::target_precision`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct PrecisionTarget(f64);

impl PrecisionTarget {
    /// A target in `(0, 1]`; anything else (NaN included) is [`Error::InvalidConfig`]
    /// with `field = "target_precision"`.
    pub fn new(p: f64) -> Result<Self> {
        if p > 0.0 && p <= 1.0 {
            Ok(PrecisionTarget(p))
        } else {
            Err(Error::config(
                "target_precision",
                format!("must be in (0, 1], got {p}"),
            ))
        }
    }

    /// The target.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for PrecisionTarget {
    type Error = Error;
    fn try_from(p: f64) -> Result<Self> {
        PrecisionTarget::new(p)
    }
}

impl From<PrecisionTarget> for f64 {
    fn from(p: PrecisionTarget) -> f64 {
        p.0
    }
}

/// How [`set_threshold`](crate::PairClassifier::set_threshold) chooses a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ThresholdRule {
    /// The cut-off of highest F1 ([`ThresholdCriterion::F1`]).
    MaxF1,
    /// The cut-off of highest accuracy ([`ThresholdCriterion::Accuracy`]).
    MaxAccuracy,
    /// The lowest cut-off (highest recall) whose precision reaches the target; build it
    /// with [`ThresholdRule::target_precision`].
    TargetPrecision(PrecisionTarget),
}

impl ThresholdRule {
    /// [`ThresholdRule::TargetPrecision`] with target `p` in `(0, 1]`.
    ///
    /// ```
    /// use sympair::ThresholdRule;
    /// assert!(ThresholdRule::target_precision(0.95).is_ok());
    /// assert!(ThresholdRule::target_precision(0.0).is_err());
    /// assert!(ThresholdRule::target_precision(f64::NAN).is_err());
    /// ```
    pub fn target_precision(p: f64) -> Result<Self> {
        PrecisionTarget::new(p).map(ThresholdRule::TargetPrecision)
    }

    /// Applies the rule to scores (probabilities) and labels.
    pub(crate) fn choose(self, scores: &[f32], labels: &[f32]) -> Result<ThresholdChoice> {
        match self {
            ThresholdRule::MaxF1 => {
                if !labels.contains(&1.0) {
                    // Validate first, so that bad input keeps its own error.
                    crate::metrics::validate(scores, labels)?;
                    return Err(Error::Undefined {
                        metric: "max-F1 threshold",
                        reason: "needs at least one positive pair",
                    });
                }
                best_threshold(scores, labels, ThresholdCriterion::F1)
            }
            ThresholdRule::MaxAccuracy => {
                best_threshold(scores, labels, ThresholdCriterion::Accuracy)
            }
            ThresholdRule::TargetPrecision(p) => threshold_for_precision(scores, labels, p.get()),
        }
    }
}

impl fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThresholdRule::MaxF1 => f.pad("max F1"),
            ThresholdRule::MaxAccuracy => f.pad("max accuracy"),
            ThresholdRule::TargetPrecision(p) => f.pad(&format!("precision >= {}", p.get())),
        }
    }
}

/// The serialised form, and the unchecked input of [`Threshold`]'s validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repr {
    probability: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule: Option<ThresholdRule>,
}

/// A stored decision threshold: predict "similar" iff `probability >= self.probability()`.
/// Cannot be built invalid (the probability is in `(0, 1]`), also when read from a file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Repr", into = "Repr")]
pub struct Threshold {
    probability: f32,
    rule: Option<ThresholdRule>,
}

impl TryFrom<Repr> for Threshold {
    type Error = Error;
    fn try_from(r: Repr) -> Result<Self> {
        Threshold::new(r.probability, r.rule)
    }
}

impl From<Threshold> for Repr {
    fn from(t: Threshold) -> Self {
        Repr {
            probability: t.probability,
            rule: t.rule,
        }
    }
}

impl Threshold {
    /// A threshold at `probability` in `(0, 1]` (`1` admits only pairs whose `f32`
    /// probability rounds to 1), with the rule that chose it (`None`: set by hand).
    /// Anything else is [`Error::InvalidConfig`] with `field = "threshold"`.
    pub fn new(probability: f32, rule: Option<ThresholdRule>) -> Result<Self> {
        if probability > 0.0 && probability <= 1.0 {
            Ok(Threshold { probability, rule })
        } else {
            Err(Error::config(
                "threshold",
                format!("must be a probability in (0, 1], got {probability}"),
            ))
        }
    }

    /// Turns a rule's choice on `scores` (probabilities) into a stored threshold.
    ///
    /// `+inf` (predict nothing positive) becomes the next `f32` above the highest
    /// probability, so that `predict` on the same pairs still predicts nothing positive.
    pub(crate) fn from_choice(
        choice: &ThresholdChoice,
        scores: &[f32],
        rule: ThresholdRule,
    ) -> Result<Self> {
        let cut = if choice.threshold == f32::INFINITY {
            let top = scores.iter().copied().fold(0.0f32, f32::max);
            if top >= 1.0 {
                return Err(Error::Undefined {
                    metric: "decision threshold",
                    reason: "the rule predicts no pair positive, which no probability \
                             threshold expresses when some probability is 1",
                });
            }
            // The next f32 up (`f32::next_up` needs Rust 1.86; the crate supports 1.85).
            // `top` is in [0, 1), so its bits + 1 is the next larger value.
            f32::from_bits(top.to_bits() + 1)
        } else {
            choice.threshold
        };
        if cut <= 0.0 {
            return Err(Error::Undefined {
                metric: "decision threshold",
                reason: "the rule predicts every pair positive, including probabilities \
                         of 0, which no threshold in (0, 1] expresses",
            });
        }
        Threshold::new(cut, Some(rule))
    }

    /// The probability cut-off.
    pub fn probability(&self) -> f32 {
        self.probability
    }

    /// The rule that chose it; `None` when set by hand.
    pub fn rule(&self) -> Option<ThresholdRule> {
        self.rule
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p >= {:.4}", self.probability)?;
        match self.rule {
            Some(r) => write!(f, " ({r})"),
            None => write!(f, " (set by hand)"),
        }
    }
}
