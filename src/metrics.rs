//! Evaluation metrics for binary pair classifiers.
//!
//! Every function takes `scores: &[f32]` and `labels: &[f32]` of equal length:
//!
//! * a **score** is any monotone confidence that the pair is positive: a logit, a
//!   probability, a similarity. Higher means "more likely positive". Only the order of the
//!   scores matters to the ranking metrics ([`roc_auc`], [`roc_curve`],
//!   [`average_precision`]); [`log_loss_from_logits`] needs logits.
//! * a **label** is exactly `0.0` (negative) or `1.0` (positive).
//!
//! Inputs are checked before anything is computed, in this order: equal lengths
//! ([`Error::RowMismatch`], `what = "labels"`), non-empty ([`Error::Empty`]), every score
//! finite ([`Error::NonFinite`], `what = "scores"`, `col = 0`), every label 0 or 1
//! ([`Error::InvalidLabel`]). A metric that cannot be computed from valid data (ROC AUC
//! with one class only, average precision without positives) returns
//! [`Error::Undefined`]. No input makes these functions panic.
//!
//! **Ties.** Equal scores are never split: the ranking metrics treat a run of tied scores
//! as one step, and a decision threshold either admits all of them or none. This is what
//! scikit-learn does, and the tests check agreement with it.
//!
//! Everything runs in O(n log n): one sort, then one pass over the groups of tied scores.
//!
//! # Example
//!
//! ```
//! use sympair::metrics::{
//!     ThresholdCriterion, average_precision, best_threshold, confusion_at, roc_auc,
//! };
//!
//! let scores = [0.9_f32, 0.8, 0.4, 0.4, 0.1];
//! let labels = [1.0_f32, 0.0, 1.0, 0.0, 0.0];
//!
//! // 2 positives x 3 negatives = 6 pairs. The positive at 0.9 beats all 3 negatives; the
//! // positive at 0.4 beats the negative at 0.1 and ties the one at 0.4 (counts 1/2).
//! let auc = roc_auc(&scores, &labels)?;
//! assert!((auc - 4.5 / 6.0).abs() < 1e-12);
//!
//! // Steps: {0.9}: P=1/1, R=1/2; {0.8}: no new positive; {0.4, 0.4}: P=2/4, R=2/2.
//! let ap = average_precision(&scores, &labels)?;
//! assert!((ap - (0.5 * 1.0 + 0.5 * 0.5)).abs() < 1e-12);
//!
//! // Predict positive iff score >= 0.8: one hit, one false alarm.
//! let c = confusion_at(&scores, &labels, 0.8)?;
//! assert_eq!((c.tp, c.fp, c.tn, c.fn_), (1, 1, 2, 1));
//!
//! // The best accuracy is 4/5, reached at t = 0.9 (predict only the top pair positive).
//! let best = best_threshold(&scores, &labels, ThresholdCriterion::Accuracy)?;
//! assert_eq!(best.threshold, 0.9);
//! assert!((best.value - 0.8).abs() < 1e-12);
//! # Ok::<(), sympair::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A run of equal scores after sorting, with how many positives and negatives it holds.
#[derive(Debug, Clone, Copy)]
struct Group {
    score: f32,
    pos: u64,
    neg: u64,
}

/// Scores grouped by distinct value, highest first, with the class totals.
#[derive(Debug)]
struct Ranked {
    groups: Vec<Group>,
    pos: u64,
    neg: u64,
}

/// Checks `scores` and `labels` (see the module documentation for the order of checks).
pub(crate) fn validate(scores: &[f32], labels: &[f32]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(Error::RowMismatch {
            what: "labels",
            expected: scores.len(),
            found: labels.len(),
        });
    }
    if scores.is_empty() {
        return Err(Error::Empty { what: "scores" });
    }
    if let Some((row, &value)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(Error::NonFinite {
            what: "scores",
            row,
            col: 0,
            value,
        });
    }
    if let Some((row, &value)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| **l != 0.0 && **l != 1.0)
    {
        return Err(Error::InvalidLabel {
            row,
            value: f64::from(value),
        });
    }
    Ok(())
}

/// Validates, sorts by score (descending) and groups equal scores.
fn rank(scores: &[f32], labels: &[f32]) -> Result<Ranked> {
    validate(scores, labels)?;
    let mut pairs: Vec<(f32, bool)> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &l)| (s, l == 1.0))
        .collect();
    // `total_cmp` is a total order on the (finite) scores. It puts -0.0 just below +0.0,
    // so the two zeros are adjacent and the `==` test below puts them in one group.
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));

    let mut groups: Vec<Group> = Vec::new();
    let (mut pos, mut neg) = (0_u64, 0_u64);
    for (score, positive) in pairs {
        let (p, n) = if positive { (1, 0) } else { (0, 1) };
        pos += p;
        neg += n;
        match groups.last_mut() {
            Some(g) if g.score == score => {
                g.pos += p;
                g.neg += n;
            }
            _ => groups.push(Group {
                score,
                pos: p,
                neg: n,
            }),
        }
    }
    Ok(Ranked { groups, pos, neg })
}

/// Area under the ROC curve, computed as the Mann-Whitney U statistic.
///
/// `AUC = U / (P * N)`, where `P` and `N` count the positives and negatives and `U` counts
/// the (positive, negative) pairs in which the positive has the higher score, a tied pair
/// counting 1/2. This is the rank-sum formula with mid-ranks for ties,
/// `U = sum of positive mid-ranks - P (P + 1) / 2`, and equals the trapezoidal area under
/// [`roc_curve`] (scikit-learn's `roc_auc_score`).
///
/// `U` is accumulated exactly in integers, in one pass over the sorted scores: O(n log n).
///
/// # Errors
///
/// Input errors as described in the [module documentation](self), and
/// [`Error::Undefined`] if `labels` holds only one class.
pub fn roc_auc(scores: &[f32], labels: &[f32]) -> Result<f64> {
    let r = rank(scores, labels)?;
    if r.pos == 0 || r.neg == 0 {
        return Err(Error::Undefined {
            metric: "ROC AUC",
            reason: "needs both classes",
        });
    }
    // Twice U: each negative gains 2 per positive above it and 1 per positive tied with it.
    let mut twice_u: u128 = 0;
    let mut pos_above: u128 = 0;
    for g in &r.groups {
        twice_u += u128::from(g.neg) * (2 * pos_above + u128::from(g.pos));
        pos_above += u128::from(g.pos);
    }
    let pairs = u128::from(r.pos) * u128::from(r.neg);
    Ok(twice_u as f64 / (2 * pairs) as f64)
}

/// One point of a ROC curve: the rates obtained by predicting positive iff
/// `score >= threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    /// False-positive rate, `FP / N`.
    pub fpr: f64,
    /// True-positive rate (recall), `TP / P`.
    pub tpr: f64,
    /// The cut-off; `f32::INFINITY` for the first point, where nothing is predicted
    /// positive. (JSON cannot hold infinity: `serde_json` writes it as `null`.)
    pub threshold: f32,
}

/// The ROC curve: one point per distinct score, from the highest score down.
///
/// The first point is `(fpr, tpr) = (0, 0)` with `threshold = +inf` (nothing predicted
/// positive). Then, for each distinct score `s` in decreasing order, the point obtained by
/// predicting positive iff `score >= s`; tied scores therefore form one (possibly diagonal)
/// step. The last point, at the smallest score, is `(1, 1)`. The result has
/// `1 + (number of distinct scores)` points and matches scikit-learn's
/// `roc_curve(labels, scores, drop_intermediate=False)`.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self), and
/// [`Error::Undefined`] if `labels` holds only one class (one of the rates would be 0/0).
pub fn roc_curve(scores: &[f32], labels: &[f32]) -> Result<Vec<RocPoint>> {
    let r = rank(scores, labels)?;
    if r.pos == 0 || r.neg == 0 {
        return Err(Error::Undefined {
            metric: "ROC curve",
            reason: "needs both classes",
        });
    }
    let (p, n) = (r.pos as f64, r.neg as f64);
    let mut points = Vec::with_capacity(r.groups.len() + 1);
    points.push(RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f32::INFINITY,
    });
    let (mut tp, mut fp) = (0_u64, 0_u64);
    for g in &r.groups {
        tp += g.pos;
        fp += g.neg;
        points.push(RocPoint {
            fpr: fp as f64 / n,
            tpr: tp as f64 / p,
            threshold: g.score,
        });
    }
    Ok(points)
}

/// Average precision: the area under the precision-recall step curve.
///
/// `AP = sum_k (R_k - R_{k-1}) * P_k`, where `k` runs over the distinct scores in
/// decreasing order, `P_k` and `R_k` are precision and recall when predicting positive iff
/// `score >= s_k`, and `R_0 = 0`. Tied scores form one step (they are admitted together),
/// so the result does not depend on the order of tied rows. This is scikit-learn's
/// `average_precision_score`; it is not the interpolated (trapezoidal) area.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self), and
/// [`Error::Undefined`] if `labels` holds no positive (recall would be 0/0).
pub fn average_precision(scores: &[f32], labels: &[f32]) -> Result<f64> {
    let r = rank(scores, labels)?;
    if r.pos == 0 {
        return Err(Error::Undefined {
            metric: "average precision",
            reason: "needs at least one positive",
        });
    }
    let p = r.pos as f64;
    let (mut tp, mut fp) = (0_u64, 0_u64);
    let mut ap = 0.0_f64;
    for g in &r.groups {
        tp += g.pos;
        fp += g.neg;
        if g.pos > 0 {
            // R_k - R_{k-1} = pos_k / P; P_k = TP_k / (TP_k + FP_k), whose denominator is
            // at least 1 because every group holds at least one row.
            ap += (g.pos as f64 / p) * (tp as f64 / (tp + fp) as f64);
        }
    }
    Ok(ap)
}

/// Mean binary cross-entropy of `sigmoid(logits)` against `labels`, in nats.
///
/// `loss = (1/n) sum_i [ max(z_i, 0) - z_i t_i + ln(1 + exp(-|z_i|)) ]`, evaluated in `f64`
/// in this form, which equals `-t ln(sigmoid(z)) - (1 - t) ln(1 - sigmoid(z))` but never
/// takes the log of 0 or overflows `exp`: a confidently wrong logit `z` costs about `|z|`,
/// so the loss stays finite for any finite logit (for example `1e4` costs 1e4).
///
/// Unlike scikit-learn's `log_loss`, no probability is clipped; the two agree whenever
/// `sigmoid(z)` stays away from 0 and 1 by more than the clipping `eps`.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self) (a non-finite logit is
/// reported with `what = "scores"`).
pub fn log_loss_from_logits(logits: &[f32], labels: &[f32]) -> Result<f64> {
    validate(logits, labels)?;
    let sum: f64 = logits
        .iter()
        .zip(labels)
        .map(|(&z, &t)| crate::loss::bce_with_logits(z, t, 1.0))
        .sum();
    Ok(sum / logits.len() as f64)
}

/// Counts of a binary decision against the truth.
///
/// The ratio methods return `0.0` when their denominator is 0 (scikit-learn's
/// `zero_division=0`), so they never return NaN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Confusion {
    /// True positives: label 1, predicted 1.
    pub tp: u64,
    /// False positives: label 0, predicted 1.
    pub fp: u64,
    /// True negatives: label 0, predicted 0.
    pub tn: u64,
    /// False negatives: label 1, predicted 0.
    pub fn_: u64,
}

/// `num / den`, or 0 when `den` is 0. Sums of counts are formed in `u128` by the callers,
/// so no count a [`Confusion`] can hold overflows.
fn ratio(num: u128, den: u128) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl Confusion {
    /// Number of rows counted, `TP + FP + TN + FN`. Saturates at `u64::MAX` (only reachable
    /// with hand-built counts).
    pub fn total(&self) -> u64 {
        self.tp
            .saturating_add(self.fp)
            .saturating_add(self.tn)
            .saturating_add(self.fn_)
    }

    /// The four counts widened to `u128`: `(tp, fp, tn, fn_)`.
    fn wide(&self) -> (u128, u128, u128, u128) {
        (
            u128::from(self.tp),
            u128::from(self.fp),
            u128::from(self.tn),
            u128::from(self.fn_),
        )
    }

    /// Accuracy, `(TP + TN) / (TP + FP + TN + FN)`; 0 when there are no rows.
    pub fn accuracy(&self) -> f64 {
        let (tp, fp, tn, fn_) = self.wide();
        ratio(tp + tn, tp + fp + tn + fn_)
    }

    /// Precision, `TP / (TP + FP)`; 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        let (tp, fp, _, _) = self.wide();
        ratio(tp, tp + fp)
    }

    /// Recall (true-positive rate), `TP / (TP + FN)`; 0 when there are no positives.
    pub fn recall(&self) -> f64 {
        let (tp, _, _, fn_) = self.wide();
        ratio(tp, tp + fn_)
    }

    /// F1 score, `2 TP / (2 TP + FP + FN)` (the harmonic mean of precision and recall);
    /// 0 when `TP + FP + FN = 0`.
    pub fn f1(&self) -> f64 {
        let (tp, fp, _, fn_) = self.wide();
        ratio(2 * tp, 2 * tp + fp + fn_)
    }

    /// Matthews correlation coefficient,
    /// `(TP TN - FP FN) / sqrt((TP + FP)(TP + FN)(TN + FP)(TN + FN))`, in `[-1, 1]`;
    /// 0 when any of the four margins is empty (scikit-learn's convention).
    pub fn mcc(&self) -> f64 {
        let (tp, fp, tn, fn_) = self.wide();
        let margins = [tp + fp, tp + fn_, tn + fp, tn + fn_];
        if margins.contains(&0) {
            return 0.0;
        }
        // The numerator is exact in integers (a product of two u64 fits in u128), so it
        // suffers no cancellation; the denominator is a product of four square roots, which
        // cannot overflow where the product of the margins could.
        let (a, b) = (tp * tn, fp * fn_);
        let num = if a >= b {
            (a - b) as f64
        } else {
            -((b - a) as f64)
        };
        let den: f64 = margins.iter().map(|&m| (m as f64).sqrt()).product();
        num / den
    }
}

/// The confusion counts when predicting positive iff `score >= threshold`.
///
/// `threshold = f32::INFINITY` predicts nothing positive; `f32::NEG_INFINITY` (or any value
/// at or below the smallest score) predicts everything positive.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self), and
/// [`Error::InvalidConfig`] (`field = "threshold"`) if `threshold` is NaN.
pub fn confusion_at(scores: &[f32], labels: &[f32], threshold: f32) -> Result<Confusion> {
    validate(scores, labels)?;
    if threshold.is_nan() {
        return Err(Error::config("threshold", "must not be NaN"));
    }
    let mut c = Confusion::default();
    for (&s, &l) in scores.iter().zip(labels) {
        match (s >= threshold, l == 1.0) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.fn_ += 1,
        }
    }
    Ok(c)
}

/// What [`best_threshold`] maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ThresholdCriterion {
    /// [`Confusion::accuracy`].
    Accuracy,
    /// [`Confusion::f1`].
    F1,
}

impl ThresholdCriterion {
    fn eval(self, c: &Confusion) -> f64 {
        match self {
            ThresholdCriterion::Accuracy => c.accuracy(),
            ThresholdCriterion::F1 => c.f1(),
        }
    }
}

/// The cut-off chosen by [`best_threshold`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ThresholdChoice {
    /// Predict positive iff `score >= threshold`. Either one of the scores or
    /// `f32::INFINITY` (predict nothing positive). (JSON cannot hold infinity:
    /// `serde_json` writes it as `null`.)
    pub threshold: f32,
    /// The criterion's value at `threshold`.
    pub value: f64,
    /// The confusion counts at `threshold`; equal to
    /// [`confusion_at`]`(scores, labels, threshold)`.
    pub confusion: Confusion,
}

/// The decision threshold that maximises `criterion` on `(scores, labels)`.
///
/// The candidates are every distinct score `s` (predict positive iff `score >= s`; the
/// smallest score predicts everything positive) and `+inf` (predict nothing positive).
/// Tied scores are never split: no candidate predicts some rows of a tie positive and
/// others negative. Any other threshold gives the same confusion as one of these, so
/// the maximum over the candidates is the maximum over all thresholds.
///
/// When several candidates reach the maximum, the **highest** threshold is returned (the
/// most conservative cut-off). The candidates are swept in one pass over the sorted
/// scores: O(n log n).
///
/// With a single class, the criterion is still defined (by the conventions of
/// [`Confusion`]): for example, F1 is 0 everywhere when there are no positives, and the
/// answer is then `+inf` with value 0.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self).
pub fn best_threshold(
    scores: &[f32],
    labels: &[f32],
    criterion: ThresholdCriterion,
) -> Result<ThresholdChoice> {
    let r = rank(scores, labels)?;
    let mut c = Confusion {
        tp: 0,
        fp: 0,
        tn: r.neg,
        fn_: r.pos,
    };
    let mut best = ThresholdChoice {
        threshold: f32::INFINITY,
        value: criterion.eval(&c),
        confusion: c,
    };
    for g in &r.groups {
        // Lowering the threshold to g.score admits the whole group.
        c.tp += g.pos;
        c.fn_ -= g.pos;
        c.fp += g.neg;
        c.tn -= g.neg;
        let value = criterion.eval(&c);
        // Strictly greater: on a tie the earlier, higher threshold stays. Equal rationals
        // give bit-identical f64 (division is correctly rounded), so ties are exact.
        if value > best.value {
            best = ThresholdChoice {
                threshold: g.score,
                value,
                confusion: c,
            };
        }
    }
    Ok(best)
}

/// The decision threshold of highest recall whose precision reaches `target`.
///
/// The candidates are those of [`best_threshold`] (every distinct score; ties never split).
/// Among the candidates with `precision >= target` (precision as
/// [`Confusion::precision`] computes it), the one with the most true positives is
/// returned, and among those the highest. `value` is the precision reached.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self);
/// [`Error::InvalidConfig`] (`field = "target_precision"`) unless `0 < target <= 1`;
/// [`Error::Unreachable`] (`what = "precision"`, with the highest precision any cut-off
/// reaches) when no cut-off reaches the target, for example without positives.
pub fn threshold_for_precision(
    scores: &[f32],
    labels: &[f32],
    target: f64,
) -> Result<ThresholdChoice> {
    if !(target > 0.0 && target <= 1.0) {
        return Err(Error::config(
            "target_precision",
            format!("must be in (0, 1], got {target}"),
        ));
    }
    let r = rank(scores, labels)?;
    let mut c = Confusion {
        tp: 0,
        fp: 0,
        tn: r.neg,
        fn_: r.pos,
    };
    let mut best: Option<ThresholdChoice> = None;
    let mut highest = 0.0f64;
    for g in &r.groups {
        c.tp += g.pos;
        c.fn_ -= g.pos;
        c.fp += g.neg;
        c.tn -= g.neg;
        let precision = c.precision();
        highest = highest.max(precision);
        // Strictly more true positives: a lower cut-off that only adds negatives keeps
        // the earlier, higher (and more precise) one.
        if precision >= target && best.is_none_or(|b| c.tp > b.confusion.tp) {
            best = Some(ThresholdChoice {
                threshold: g.score,
                value: precision,
                confusion: c,
            });
        }
    }
    best.ok_or(Error::Unreachable {
        what: "precision",
        target,
        best: highest,
    })
}

/// Brier score of `sigmoid(logits)` against `labels`: `(1/n) sum_i (p_i - t_i)^2`, with
/// `p_i` the `f32` [`sigmoid`](crate::sigmoid) (what `predict_proba` returns) and the sum
/// in `f64`. Lower is better; 0.25 for a constant 0.5. Equals scikit-learn's
/// `brier_score_loss(labels, p)`.
///
/// # Errors
///
/// Input errors as described in the [module documentation](self).
pub fn brier_score_from_logits(logits: &[f32], labels: &[f32]) -> Result<f64> {
    validate(logits, labels)?;
    let sum: f64 = logits
        .iter()
        .zip(labels)
        .map(|(&z, &t)| (f64::from(crate::loss::sigmoid(z)) - f64::from(t)).powi(2))
        .sum();
    Ok(sum / logits.len() as f64)
}

/// One bin of a [`Reliability`] table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge of the bin (excluded, except 0 for the first bin).
    pub lower: f64,
    /// Upper edge of the bin (included).
    pub upper: f64,
    /// Pairs whose probability falls in the bin (at least 1).
    pub count: u64,
    /// Mean predicted probability of those pairs.
    pub mean_predicted: f64,
    /// Fraction of those pairs that are positive (the observed frequency).
    pub observed: f64,
}

/// A reliability (calibration) table: predicted probability against observed frequency,
/// in equal-width bins; see [`reliability_from_logits`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reliability {
    /// Number of equal-width bins over `[0, 1]` (empty bins are not listed).
    pub n_bins: usize,
    /// The non-empty bins, from low to high probability.
    pub bins: Vec<ReliabilityBin>,
    /// Expected calibration error,
    /// `sum_b (count_b / n) |observed_b - mean_predicted_b|`: 0 for a perfectly
    /// calibrated model (at this binning).
    pub ece: f64,
}

/// Reliability table of `sigmoid(logits)` against `labels` in `n_bins` equal-width bins.
///
/// Probabilities are the `f32` [`sigmoid`](crate::sigmoid) of the logits (what
/// `predict_proba` returns), widened to `f64`. Bin `k` holds `k / n_bins < p <=
/// (k + 1) / n_bins`, the first also `p = 0`, with the edges computed as
/// `k * (1 / n_bins)` like `numpy.linspace` (scikit-learn's binning). The non-empty bins' `mean_predicted` and
/// `observed` equal scikit-learn's `calibration_curve(labels, p, n_bins=n_bins)`
/// (`prob_pred`, `prob_true`).
///
/// # Errors
///
/// Input errors as described in the [module documentation](self), and
/// [`Error::InvalidConfig`] (`field = "n_bins"`) if `n_bins` is 0.
pub fn reliability_from_logits(
    logits: &[f32],
    labels: &[f32],
    n_bins: usize,
) -> Result<Reliability> {
    validate(logits, labels)?;
    if n_bins == 0 {
        return Err(Error::config("n_bins", "must be at least 1"));
    }
    let step = 1.0 / n_bins as f64;
    // Inner edges 1/n .. (n-1)/n; a probability's bin is the number of edges below it.
    let inner: Vec<f64> = (1..n_bins).map(|k| k as f64 * step).collect();
    let mut count = vec![0u64; n_bins];
    let mut sum_p = vec![0.0f64; n_bins];
    let mut pos = vec![0u64; n_bins];
    for (&z, &t) in logits.iter().zip(labels) {
        let p = f64::from(crate::loss::sigmoid(z));
        let k = inner.partition_point(|&e| e < p);
        count[k] += 1;
        sum_p[k] += p;
        pos[k] += u64::from(t == 1.0);
    }
    let n = logits.len() as f64;
    let mut bins = Vec::new();
    let mut ece = 0.0;
    for k in 0..n_bins {
        if count[k] == 0 {
            continue;
        }
        let c = count[k] as f64;
        let (mean_predicted, observed) = (sum_p[k] / c, pos[k] as f64 / c);
        ece += c / n * (observed - mean_predicted).abs();
        bins.push(ReliabilityBin {
            lower: if k == 0 { 0.0 } else { inner[k - 1] },
            upper: if k + 1 == n_bins { 1.0 } else { inner[k] },
            count: count[k],
            mean_predicted,
            observed,
        });
    }
    Ok(Reliability { n_bins, bins, ece })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::sigmoid;

    fn p(z: f32) -> f64 {
        f64::from(sigmoid(z))
    }

    #[test]
    fn brier_score_is_the_mean_squared_probability_error() {
        let (z, t) = ([0.0f32, 2.0, -1.0], [1.0f32, 0.0, 0.0]);
        let want = ((p(0.0) - 1.0).powi(2) + p(2.0).powi(2) + p(-1.0).powi(2)) / 3.0;
        let got = brier_score_from_logits(&z, &t).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn reliability_bins_count_average_and_weigh_their_pairs() {
        // p = 0.5 (bin 1 of 2, with its edge 0.5 included), sigmoid(2) ~ 0.88 and
        // sigmoid(3) ~ 0.95 (bin 2), sigmoid(-2) ~ 0.12 (bin 1).
        let z = [0.0f32, 2.0, 3.0, -2.0];
        let t = [1.0f32, 1.0, 0.0, 0.0];
        let r = reliability_from_logits(&z, &t, 2).unwrap();
        assert_eq!(r.n_bins, 2);
        assert_eq!(r.bins.len(), 2);
        let (lo, hi) = (&r.bins[0], &r.bins[1]);
        assert_eq!((lo.lower, lo.upper, lo.count), (0.0, 0.5, 2));
        assert_eq!((hi.lower, hi.upper, hi.count), (0.5, 1.0, 2));
        let lo_mean = (p(0.0) + p(-2.0)) / 2.0;
        let hi_mean = (p(2.0) + p(3.0)) / 2.0;
        assert!((lo.mean_predicted - lo_mean).abs() < 1e-12);
        assert!((hi.mean_predicted - hi_mean).abs() < 1e-12);
        assert_eq!((lo.observed, hi.observed), (0.5, 0.5));
        let ece = 0.5 * (0.5 - lo_mean).abs() + 0.5 * (0.5 - hi_mean).abs();
        assert!((r.ece - ece).abs() < 1e-12, "{} vs {ece}", r.ece);
    }

    #[test]
    fn threshold_for_precision_prefers_the_cut_off_with_more_true_positives() {
        let r = threshold_for_precision(&[3.0, 2.0, 1.0], &[1.0, 1.0, 0.0], 0.5).unwrap();
        assert_eq!(r.threshold, 2.0);
        assert_eq!(r.confusion.tp, 2);
        assert_eq!(r.value, 1.0);
    }

    #[test]
    fn threshold_for_precision_reports_the_whole_confusion_at_its_cut_off() {
        // Scores 4 > 3 > 2 > 1 with labels 1, 0, 1, 0; precision 2/3 first reached at 2.
        let r = threshold_for_precision(&[4.0, 3.0, 2.0, 1.0], &[1.0, 0.0, 1.0, 0.0], 0.6).unwrap();
        assert_eq!(r.threshold, 2.0);
        let c = r.confusion;
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 1, 0));
    }
}
