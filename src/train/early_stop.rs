//! Early stopping: which quantity is watched, and the bookkeeping of the best epoch.

use serde::{Deserialize, Serialize};

/// The quantity early stopping watches (see
/// [`TrainConfig::with_monitor`](crate::TrainConfig::with_monitor)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Monitor {
    /// The default: validation ROC AUC when validation data is given, else the training
    /// loss (there is no validation metric to watch; the training loss only says when
    /// fitting has stalled, not when the model starts to overfit).
    #[default]
    Auto,
    /// Validation ROC AUC (higher is better). Needs validation data holding both classes.
    /// An epoch with exactly the best AUC so far and a lower validation loss counts as an
    /// improvement (a monotone head on one fixed score cannot change its AUC).
    ValidAuc,
    /// Validation average precision (higher is better). Needs validation data holding
    /// both classes. Exact ties are broken by the validation loss, as for `ValidAuc`.
    ValidAveragePrecision,
    /// Validation binary cross-entropy (lower is better). Needs validation data.
    ValidLoss,
    /// Training loss of the epoch (lower is better).
    TrainLoss,
}

impl Monitor {
    /// `Auto` made concrete for a run with or without validation data.
    pub(crate) fn resolve(self, has_valid: bool) -> Monitor {
        match self {
            Monitor::Auto if has_valid => Monitor::ValidAuc,
            Monitor::Auto => Monitor::TrainLoss,
            m => m,
        }
    }

    /// Whether larger values are better.
    pub(crate) fn higher_is_better(self) -> bool {
        matches!(self, Monitor::ValidAuc | Monitor::ValidAveragePrecision)
    }

    /// Whether the monitor reads the validation set.
    pub(crate) fn needs_valid(self) -> bool {
        matches!(
            self,
            Monitor::ValidAuc | Monitor::ValidAveragePrecision | Monitor::ValidLoss
        )
    }

    /// Name used in errors and reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Monitor::Auto => "auto",
            Monitor::ValidAuc => "valid_auc",
            Monitor::ValidAveragePrecision => "valid_ap",
            Monitor::ValidLoss => "valid_loss",
            Monitor::TrainLoss => "train_loss",
        }
    }
}

/// Whether `value` beats `best` by more than `min_delta` in the monitor's direction.
pub(crate) fn improves(monitor: Monitor, value: f64, best: f64, min_delta: f64) -> bool {
    if monitor.higher_is_better() {
        value > best + min_delta
    } else {
        value < best - min_delta
    }
}

/// Whether `value` equals `best` exactly for a ranking metric (higher is better: ROC AUC,
/// average precision) and the epoch's loss is lower: ties of the watched metric go to the
/// lower loss (validation loss when there is validation data).
pub(crate) fn ties_with_lower_loss(
    monitor: Monitor,
    value: f64,
    best: f64,
    loss: f64,
    best_loss: f64,
) -> bool {
    monitor.higher_is_better() && value == best && loss < best_loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_respects_direction_and_min_delta() {
        assert!(improves(Monitor::ValidAuc, 0.81, 0.80, 0.005));
        assert!(!improves(Monitor::ValidAuc, 0.804, 0.80, 0.005));
        assert!(!improves(Monitor::ValidAuc, 0.79, 0.80, 0.0));
        assert!(improves(Monitor::ValidLoss, 0.40, 0.50, 0.0));
        assert!(!improves(Monitor::ValidLoss, 0.50, 0.50, 0.0));
        assert!(ties_with_lower_loss(Monitor::ValidAuc, 0.8, 0.8, 0.3, 0.4));
        assert!(!ties_with_lower_loss(Monitor::ValidAuc, 0.8, 0.8, 0.4, 0.4));
        assert!(!ties_with_lower_loss(
            Monitor::ValidAuc,
            0.79,
            0.8,
            0.3,
            0.4
        ));
        assert!(!ties_with_lower_loss(
            Monitor::ValidLoss,
            0.4,
            0.4,
            0.3,
            0.4
        ));
        assert_eq!(Monitor::Auto.resolve(true), Monitor::ValidAuc);
        assert_eq!(Monitor::Auto.resolve(false), Monitor::TrainLoss);
    }
}
