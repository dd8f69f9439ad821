//! Learning-rate schedules: a factor on the optimizer's learning rate at every step.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the learning rate changes over a run: the optimizer's rate times a factor that
/// depends on the step (mini-batch) number. Set with
/// [`TrainConfig::with_lr_schedule`](crate::TrainConfig::with_lr_schedule).
///
/// ```
/// use sympair::train::LrSchedule;
/// // 2 epochs of linear warm-up, then cosine decay to 10% of the rate by the last step.
/// let s = LrSchedule::cosine(2, 0.1);
/// assert!(s.check().is_ok());
/// assert!(LrSchedule::step(0, 0.5).check().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LrSchedule {
    /// The optimizer's rate throughout (the default).
    #[default]
    Constant,
    /// Linear warm-up from `1/w` of the rate over the first `warmup_epochs` epochs
    /// (`w` their steps), then cosine decay to `min_factor` times the rate at the last step.
    Cosine {
        /// Epochs of warm-up (0: none).
        warmup_epochs: usize,
        /// Factor reached at the end, in `[0, 1]`.
        min_factor: f32,
    },
    /// The rate times `factor` after every `every` epochs.
    Step {
        /// Epochs between decays (at least 1).
        every: usize,
        /// Factor per decay, in `(0, 1]`.
        factor: f32,
    },
}

impl LrSchedule {
    /// [`LrSchedule::Cosine`].
    pub fn cosine(warmup_epochs: usize, min_factor: f32) -> Self {
        LrSchedule::Cosine {
            warmup_epochs,
            min_factor,
        }
    }
    /// [`LrSchedule::Step`].
    pub fn step(every: usize, factor: f32) -> Self {
        LrSchedule::Step { every, factor }
    }

    /// Rejects out-of-range fields with [`Error::InvalidConfig`].
    pub fn check(&self) -> Result<()> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Cosine { min_factor, .. } => {
                if (0.0..=1.0).contains(&min_factor) {
                    Ok(())
                } else {
                    Err(Error::config(
                        "lr_schedule.min_factor",
                        format!("must be in [0, 1], got {min_factor}"),
                    ))
                }
            }
            LrSchedule::Step { every, factor } => {
                if every == 0 {
                    return Err(Error::config("lr_schedule.every", "must be at least 1"));
                }
                if factor > 0.0 && factor <= 1.0 {
                    Ok(())
                } else {
                    Err(Error::config(
                        "lr_schedule.factor",
                        format!("must be in (0, 1], got {factor}"),
                    ))
                }
            }
        }
    }

    /// Factor at step `step` (from 0) of a run of `total` steps, `per_epoch` per epoch.
    pub(crate) fn factor(&self, step: usize, per_epoch: usize, total: usize) -> f32 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine {
                warmup_epochs,
                min_factor,
            } => {
                let warm = warmup_epochs * per_epoch;
                if step < warm {
                    return (step + 1) as f32 / warm as f32;
                }
                let span = total.saturating_sub(warm).saturating_sub(1).max(1);
                let progress = ((step - warm) as f64 / span as f64).min(1.0);
                let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                (f64::from(min_factor) + (1.0 - f64::from(min_factor)) * cos) as f32
            }
            LrSchedule::Step { every, factor } => {
                let decays = (step / per_epoch.max(1)) / every;
                factor.powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_its_floor() {
        let s = LrSchedule::cosine(1, 0.1);
        assert_eq!(s.factor(0, 4, 20), 0.25);
        assert_eq!(s.factor(3, 4, 20), 1.0);
        assert_eq!(s.factor(4, 4, 20), 1.0);
        assert!((s.factor(19, 4, 20) - 0.1).abs() < 1e-6);
        let mid = s.factor(11, 4, 20);
        assert!(mid < 1.0 && mid > 0.1);
    }

    #[test]
    fn step_decays_every_n_epochs() {
        let s = LrSchedule::step(2, 0.5);
        assert_eq!(s.factor(7, 4, 40), 1.0);
        assert_eq!(s.factor(8, 4, 40), 0.5);
        assert_eq!(s.factor(16, 4, 40), 0.25);
        assert_eq!(LrSchedule::Constant.factor(99, 4, 40), 1.0);
    }
}
