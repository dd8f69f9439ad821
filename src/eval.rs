//! One-call evaluation of a trained classifier on a labelled dataset.
//!
//! [`evaluate`] scores every pair of a dataset in both orders and returns an
//! [`Evaluation`]: the ranking metrics (ROC AUC, average precision), the log loss, the
//! decision metrics at the default cut-off (logit 0, probability 0.5), the best
//! accuracy and F1 over all cut-offs (see [`best_threshold`]), the probability quality
//! (Brier score and a [`Reliability`] table with its expected calibration error), the
//! decision at the model's stored threshold, and an [`AsymmetryReport`].
//!
//! Every number is the [`metrics`](crate::metrics) function of the same name applied to
//! the model's logits as its probabilities see them: [`PairClassifier::logits_for`],
//! then the model's [`Calibration`] if it has one (see [`decision`](crate::decision));
//! nothing is recomputed here. Without a calibration these are the raw logits. The
//! asymmetry is measured on the raw logits.
//!
//! A seed ensemble is measured the same way by
//! [`Ensemble::evaluate`](crate::select::Ensemble::evaluate): its mean raw logits through
//! its own calibration and threshold (the same code path, [`Evaluation`] out).
//!
//! [`EvalTable`] lines up several evaluations, one row per model, for comparisons.
//!
//! ```
//! use sympair::{ClusterTask, Combiner, PairClassifier, TrainConfig, evaluate};
//!
//! let task = ClusterTask::new(16, 6)?;
//! let (train, test) = (task.generate(1000, 1)?, task.generate(200, 2)?);
//! let mut model = PairClassifier::builder(16, Combiner::AbsDiff).seed(1).build()?;
//! model.fit(&train, None, &TrainConfig::new().with_epochs(10))?;
//!
//! let eval = evaluate(&model, &test)?;
//! assert_eq!((eval.n, eval.positives), (200, 100));
//! assert!(eval.roc_auc.unwrap() > 0.9);
//! assert_eq!(eval.asymmetry.max, 0.0); // AbsDiff is exactly symmetric
//! println!("{eval}");
//! # Ok::<(), sympair::Error>(())
//! ```

use std::fmt;

use ndarray::ArrayViewMut2;
use serde::Serialize;

use crate::calibration::Calibration;
use crate::combiner::PairCombiner;
use crate::data::{PairData, sealed::Gather};
use crate::decision::Decision;
use crate::error::{Error, Result};
use crate::loss::sigmoid;
use crate::metrics::{
    Confusion, Reliability, ThresholdChoice, ThresholdCriterion, average_precision, best_threshold,
    brier_score_from_logits, confusion_at, log_loss_from_logits, reliability_from_logits, roc_auc,
};
use crate::model::PairClassifier;
use crate::threshold::ThresholdRule;

/// Number of equal-width bins of the reliability table in [`evaluate`].
pub const RELIABILITY_BINS: usize = 10;

/// How far a model is from order independence on a dataset: statistics of
/// `|logit(x_i, y_i) - logit(y_i, x_i)|` over its pairs (differences taken in `f64`).
///
/// Both are exactly `0.0` for a model with a symmetric combiner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AsymmetryReport {
    /// Mean absolute logit difference.
    pub mean: f64,
    /// Largest absolute logit difference.
    pub max: f64,
}

impl AsymmetryReport {
    /// The report for logits of the same pairs in the two orders.
    fn from_logits(forward: &[f32], backward: &[f32]) -> Self {
        let mut sum = 0.0f64;
        let mut max = 0.0f64;
        for (&a, &b) in forward.iter().zip(backward) {
            let d = (f64::from(a) - f64::from(b)).abs();
            sum += d;
            max = max.max(d);
        }
        AsymmetryReport {
            mean: sum / forward.len().max(1) as f64,
            max,
        }
    }
}

/// A cut-off chosen by [`best_threshold`] on the logits, with its probability.
///
/// The decision rule is `logit >= logit_threshold`, on the model's calibrated logit when
/// it has a calibration (see [`evaluate`]). In probabilities that is
/// `p >= probability` except where `f32` [`sigmoid`] saturates (logits above about 17
/// all give `p = 1.0`), which is why the logit is kept as the reference.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ThresholdReport {
    /// The cut-off on the logit: one of the logits, or `+inf` (predict nothing positive).
    pub logit_threshold: f32,
    /// `sigmoid(logit_threshold)`; `1.0` for `+inf`.
    pub probability: f32,
    /// The criterion's value (accuracy or F1) at the cut-off.
    pub value: f64,
    /// Confusion counts at the cut-off.
    pub confusion: Confusion,
}

impl From<ThresholdChoice> for ThresholdReport {
    fn from(c: ThresholdChoice) -> Self {
        ThresholdReport {
            logit_threshold: c.threshold,
            probability: sigmoid(c.threshold),
            value: c.value,
            confusion: c.confusion,
        }
    }
}

/// Everything [`evaluate`] measures; print it with `{}` for a vertical table.
///
/// Decision metrics at the default cut-off predict "similar" iff `logit >= 0`
/// (probability `>= 0.5`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Number of pairs.
    pub n: usize,
    /// Number of positive (similar) pairs.
    pub positives: usize,
    /// [`roc_auc`]; `None` when the dataset holds one class only.
    pub roc_auc: Option<f64>,
    /// [`average_precision`]; `None` when the dataset holds no positive.
    pub average_precision: Option<f64>,
    /// [`log_loss_from_logits`], in nats.
    pub log_loss: f64,
    /// Confusion counts at logit 0, from [`confusion_at`].
    pub confusion: Confusion,
    /// Accuracy at logit 0.
    pub accuracy: f64,
    /// Precision at logit 0.
    pub precision: f64,
    /// Recall at logit 0.
    pub recall: f64,
    /// F1 at logit 0.
    pub f1: f64,
    /// Matthews correlation coefficient at logit 0.
    pub mcc: f64,
    /// The cut-off of highest accuracy ([`ThresholdCriterion::Accuracy`]).
    pub best_accuracy: ThresholdReport,
    /// The cut-off of highest F1 ([`ThresholdCriterion::F1`]).
    pub best_f1: ThresholdReport,
    /// `|logit(x, y) - logit(y, x)|` over the (raw) logits of the pairs.
    pub asymmetry: AsymmetryReport,
    /// The model's calibration, applied before every metric above; `None` when the
    /// model has none (raw logits).
    pub calibration: Option<Calibration>,
    /// [`brier_score_from_logits`] of the model's probabilities.
    pub brier: f64,
    /// [`reliability_from_logits`] of the model's probabilities in
    /// [`RELIABILITY_BINS`] bins, with the expected calibration error.
    pub reliability: Reliability,
    /// The decision at the model's stored threshold (what
    /// [`predict_for`](PairClassifier::predict_for) gives); `None` without one.
    pub at_threshold: Option<DecisionReport>,
}

/// The decision a model's stored threshold makes on a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DecisionReport {
    /// The probability cut-off: predict "similar" iff `p >= probability`.
    pub probability: f32,
    /// The rule that chose it; `None` when set by hand.
    pub rule: Option<ThresholdRule>,
    /// Confusion counts at the cut-off (precision, recall... from its methods).
    pub confusion: Confusion,
}

/// A dataset seen with every pair's items exchanged, without copying it: `gather` hands
/// the inner dataset the two output buffers in swapped roles.
struct Swapped<'a>(&'a dyn PairData);

impl Gather for Swapped<'_> {
    fn gather(&self, idx: &[usize], x: ArrayViewMut2<f32>, y: ArrayViewMut2<f32>) {
        self.0.gather(idx, y, x);
    }
}

impl PairData for Swapped<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn labels(&self) -> &[f32] {
        self.0.labels()
    }
}

/// Logits of every pair of `data` with its items exchanged, `logit(y_i, x_i)`.
pub(crate) fn swapped_logits<C: PairCombiner>(
    model: &PairClassifier<C>,
    data: &dyn PairData,
) -> Result<Vec<f32>> {
    // Pairs of one item matrix go the way `logits_for` sends them (an `IdScorer`, per item
    // when the pairs outnumber the items) with the ids exchanged: both orders then take the
    // same path, and a symmetric model's asymmetry stays exactly 0.
    if let Some((items, pairs)) = data.item_pairs() {
        let mut out = Vec::with_capacity(pairs.len());
        crate::IdScorer::new(model, items)?.for_each_chunk(
            pairs.iter().map(|&(i, j)| (j, i)),
            |_, logits| {
                out.extend_from_slice(logits);
                Ok(())
            },
        )?;
        return Ok(out);
    }
    model.logits_for(&Swapped(data))
}

/// Mean and max of `|logit(x_i, y_i) - logit(y_i, x_i)|` over the pairs of `data`, for any
/// model (symmetric or not). Scores the dataset twice, in chunks, without copying it.
///
/// Errors: `data` of the wrong width.
pub fn asymmetry<C: PairCombiner>(
    model: &PairClassifier<C>,
    data: &dyn PairData,
) -> Result<AsymmetryReport> {
    let forward = model.logits_for(data)?;
    let backward = swapped_logits(model, data)?;
    Ok(AsymmetryReport::from_logits(&forward, &backward))
}

/// Turns [`Error::Undefined`] into `None`, keeping other errors.
fn defined(r: Result<f64>) -> Result<Option<f64>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Undefined { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Evaluates `model` on every pair of `data` (see the [module docs](self)).
///
/// Errors: `data` of the wrong width, or a non-finite (raw or calibrated) logit (a
/// diverged model), reported as [`Error::NonFinite`] with `what = "scores"` and the row
/// of the pair.
pub fn evaluate<C: PairCombiner>(
    model: &PairClassifier<C>,
    data: &dyn PairData,
) -> Result<Evaluation> {
    let raw = model.logits_for(data)?;
    let backward = swapped_logits(model, data)?;
    evaluation_of(&raw, &backward, model.decision(), data.labels())
}

/// The [`Evaluation`] of raw logits of some pairs (`raw`), of the same pairs in the other
/// order (`backward`, for the asymmetry), seen through `decision`, against `labels`.
/// Shared by [`evaluate`] and [`Ensemble::evaluate`](crate::select::Ensemble::evaluate).
pub(crate) fn evaluation_of(
    raw: &[f32],
    backward: &[f32],
    decision: &Decision,
    labels: &[f32],
) -> Result<Evaluation> {
    let logits: Vec<f32> = match decision.calibration() {
        Some(c) => raw.iter().map(|&z| c.logit(z)).collect(),
        None => raw.to_vec(),
    };
    let brier = brier_score_from_logits(&logits, labels)?;
    let reliability = reliability_from_logits(&logits, labels, RELIABILITY_BINS)?;
    let at_threshold = match decision.threshold() {
        Some(t) => {
            let proba: Vec<f32> = logits.iter().map(|&z| sigmoid(z)).collect();
            Some(DecisionReport {
                probability: t.probability(),
                rule: t.rule(),
                confusion: confusion_at(&proba, labels, t.probability())?,
            })
        }
        None => None,
    };
    let log_loss = log_loss_from_logits(&logits, labels)?;
    let roc_auc = defined(roc_auc(&logits, labels))?;
    let average_precision = defined(average_precision(&logits, labels))?;
    let confusion = confusion_at(&logits, labels, 0.0)?;
    let best_accuracy = best_threshold(&logits, labels, ThresholdCriterion::Accuracy)?.into();
    let best_f1 = best_threshold(&logits, labels, ThresholdCriterion::F1)?.into();
    Ok(Evaluation {
        n: logits.len(),
        positives: labels.iter().filter(|&&t| t == 1.0).count(),
        roc_auc,
        average_precision,
        log_loss,
        confusion,
        accuracy: confusion.accuracy(),
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        mcc: confusion.mcc(),
        best_accuracy,
        best_f1,
        asymmetry: AsymmetryReport::from_logits(raw, backward),
        calibration: decision.calibration().copied(),
        brier,
        reliability,
        at_threshold,
    })
}

/// `0.1234`, or `n/a` for an undefined metric.
struct Opt(Option<f64>);

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => f.pad(&format!("{v:.4}")),
            None => f.pad("n/a"),
        }
    }
}

/// An asymmetry as `0` when exact, else in scientific notation.
struct Asym(f64);

impl fmt::Display for Asym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0.0 {
            f.pad("0")
        } else {
            f.pad(&format!("{:.3e}", self.0))
        }
    }
}

/// A cut-off as `p >= 0.6234 (logit 0.5032)`.
struct Cut<'a>(&'a ThresholdReport);

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        if t.logit_threshold == f32::INFINITY {
            write!(f, "nothing positive (logit >= +inf)")
        } else {
            write!(
                f,
                "p >= {:.4} (logit >= {:.4})",
                t.probability, t.logit_threshold
            )
        }
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.confusion;
        writeln!(
            f,
            "{:<22} {} ({} positive)",
            "pairs", self.n, self.positives
        )?;
        writeln!(f, "{:<22} {}", "ROC AUC", Opt(self.roc_auc))?;
        writeln!(
            f,
            "{:<22} {}",
            "average precision",
            Opt(self.average_precision)
        )?;
        writeln!(f, "{:<22} {:.4}", "log loss", self.log_loss)?;
        writeln!(
            f,
            "at p >= 0.5 (logit >= 0): TP {} FP {} TN {} FN {}",
            c.tp, c.fp, c.tn, c.fn_
        )?;
        writeln!(f, "  {:<20} {:.4}", "accuracy", self.accuracy)?;
        writeln!(f, "  {:<20} {:.4}", "precision", self.precision)?;
        writeln!(f, "  {:<20} {:.4}", "recall", self.recall)?;
        writeln!(f, "  {:<20} {:.4}", "F1", self.f1)?;
        writeln!(f, "  {:<20} {:.4}", "MCC", self.mcc)?;
        writeln!(
            f,
            "{:<22} {:.4} at {}",
            "best accuracy",
            self.best_accuracy.value,
            Cut(&self.best_accuracy)
        )?;
        writeln!(
            f,
            "{:<22} {:.4} at {}",
            "best F1",
            self.best_f1.value,
            Cut(&self.best_f1)
        )?;
        writeln!(
            f,
            "{:<22} mean {}, max {}",
            "asymmetry |dlogit|",
            Asym(self.asymmetry.mean),
            Asym(self.asymmetry.max)
        )?;
        match &self.calibration {
            Some(c) => writeln!(f, "{:<22} {c}", "calibration")?,
            None => writeln!(f, "{:<22} none (sigmoid of the raw logit)", "calibration")?,
        }
        writeln!(f, "{:<22} {:.4}", "Brier score", self.brier)?;
        let r = &self.reliability;
        writeln!(
            f,
            "{:<22} {:.4} ({} bins)",
            "calibration error", r.ece, r.n_bins
        )?;
        write!(
            f,
            "  {:<20} {:>8}  {:>8}  {:>8}",
            "reliability: p in", "mean p", "observed", "pairs"
        )?;
        for b in &r.bins {
            let open = if b.lower <= 0.0 { '[' } else { '(' };
            write!(
                f,
                "\n  {open}{:.2}, {:.2}]{:<8} {:>8.4}  {:>8.4}  {:>8}",
                b.lower, b.upper, "", b.mean_predicted, b.observed, b.count
            )?;
        }
        if let Some(d) = &self.at_threshold {
            let c = &d.confusion;
            write!(f, "\nat the model's threshold p >= {:.4}", d.probability)?;
            match d.rule {
                Some(rule) => write!(f, " ({rule})")?,
                None => write!(f, " (set by hand)")?,
            }
            write!(
                f,
                ": TP {} FP {} TN {} FN {}\n  {:<20} {:.4}\n  {:<20} {:.4}\n  {:<20} {:.4}\n  {:<20} {:.4}",
                c.tp,
                c.fp,
                c.tn,
                c.fn_,
                "accuracy",
                c.accuracy(),
                "precision",
                c.precision(),
                "recall",
                c.recall(),
                "F1",
                c.f1()
            )?;
        }
        Ok(())
    }
}

/// One row of an [`EvalTable`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalRow {
    /// Model name shown in the first column.
    pub name: String,
    /// Its evaluation.
    pub eval: Evaluation,
    /// Training time in seconds.
    pub train_seconds: f64,
}

/// Several evaluations side by side, one row per model; print it with `{}`.
///
/// Columns: ROC AUC, average precision, best F1, accuracy at the best-accuracy cut-off,
/// expected calibration error of the model's probabilities, max asymmetry (`0` when
/// exact), training seconds.
///
/// ```
/// use sympair::{ClusterTask, Combiner, EvalTable, PairClassifier, evaluate};
/// let task = ClusterTask::new(4, 3)?;
/// let test = task.generate(100, 2)?;
/// let model = PairClassifier::builder(4, Combiner::Product).build()?;
/// let mut table = EvalTable::new();
/// table.push("product (untrained)", evaluate(&model, &test)?, 0.0);
/// let text = table.to_string();
/// assert!(text.contains("product (untrained)"));
/// assert_eq!(text.lines().count(), 2); // header + one row
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvalTable {
    rows: Vec<EvalRow>,
}

impl EvalTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a row.
    pub fn push(&mut self, name: impl Into<String>, eval: Evaluation, train_seconds: f64) {
        self.rows.push(EvalRow {
            name: name.into(),
            eval,
            train_seconds,
        });
    }

    /// The rows, in insertion order.
    pub fn rows(&self) -> &[EvalRow] {
        &self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl fmt::Display for EvalTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self
            .rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(0)
            .max("model".len());
        write!(
            f,
            "{:<w$}  {:>7}  {:>7}  {:>7}  {:>12}  {:>7}  {:>10}  {:>7}",
            "model", "ROC AUC", "AP", "best F1", "acc@best-acc", "ECE", "max asym", "train s"
        )?;
        for r in &self.rows {
            let e = &r.eval;
            write!(
                f,
                "\n{:<w$}  {:>7}  {:>7}  {:>7.4}  {:>12.4}  {:>7.4}  {:>10}  {:>7.2}",
                r.name,
                Opt(e.roc_auc),
                Opt(e.average_precision),
                e.best_f1.value,
                e.best_accuracy.value,
                e.reliability.ece,
                Asym(e.asymmetry.max),
                r.train_seconds
            )?;
        }
        Ok(())
    }
}
