//! Training: mini-batch gradient descent on binary cross-entropy from logits.
//!
//! Each epoch shuffles the pairs with a seeded RNG and walks them in mini-batches. The
//! loss of a batch of `n` pairs is `mean_i BCE(logit_i, t_i)` (see [`crate::loss`]), plus,
//! for order-dependent models, the optional consistency penalty
//! `lambda * mean_i (logit(x_i, y_i) - logit(y_i, x_i))^2`. With swap augmentation every
//! pair is also trained in the order `(y, x)`.
//!
//! Same seed, same data, same configuration: bitwise-identical weights.

use std::time::{Duration, Instant};

use ndarray::{Axis, s};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::combiner::PairCombiner;
use crate::data::PairData;
use crate::error::{Error, Result};
use crate::loss::bce_batch;
use crate::model::{PairClassifier, Work};
use crate::optim::{OptState, Optimizer};

/// Training settings. Every setter states its default; [`TrainConfig::check`] (run by
/// `fit` before anything else) rejects invalid values with [`Error::InvalidConfig`].
///
/// ```
/// use sympair::{Optimizer, TrainConfig};
/// let cfg = TrainConfig::new()
///     .with_epochs(30)
///     .with_batch_size(128)
///     .with_optimizer(Optimizer::adam(3e-3))
///     .with_patience(5)
///     .with_seed(1);
/// assert!(cfg.check().is_ok());
/// assert!(TrainConfig::new().with_batch_size(0).check().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    epochs: usize,
    batch_size: usize,
    optimizer: Optimizer,
    weight_decay: f32,
    seed: u64,
    patience: Option<usize>,
    pos_weight: f32,
    consistency: f32,
    swap_augment: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 64,
            optimizer: Optimizer::adam(1e-3),
            weight_decay: 0.0,
            seed: 0,
            patience: None,
            pos_weight: 1.0,
            consistency: 0.0,
            swap_augment: false,
        }
    }
}

impl TrainConfig {
    /// The defaults: 20 epochs, batch 64, Adam with learning rate 1e-3, no weight decay,
    /// seed 0, no early stopping, positive weight 1, no consistency penalty, no swap
    /// augmentation.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of passes over the training pairs (default 20; at least 1).
    pub fn with_epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Pairs per mini-batch (default 64; at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Optimizer (default `Optimizer::adam(1e-3)`).
    pub fn with_optimizer(mut self, optimizer: Optimizer) -> Self {
        self.optimizer = optimizer;
        self
    }
    /// Weight decay (default 0; finite, `>= 0`). Decoupled (AdamW) for Adam, added to the
    /// gradient (L2) for SGD.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Seed of the per-epoch shuffle (default 0).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Early stopping: stop after `patience` epochs without improvement of the monitored
    /// loss (validation loss if a validation set is given, else training loss) and restore
    /// the best weights (default: off; at least 1).
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }
    /// Weight of the positive class in the loss (default 1; finite, `> 0`).
    pub fn with_pos_weight(mut self, pos_weight: f32) -> Self {
        self.pos_weight = pos_weight;
        self
    }
    /// Consistency penalty `lambda` for order-dependent models (default 0 = off; finite,
    /// `>= 0`). Adds `lambda * mean (logit(x, y) - logit(y, x))^2` to the loss.
    pub fn with_consistency(mut self, lambda: f32) -> Self {
        self.consistency = lambda;
        self
    }
    /// Also train every pair in the order `(y, x)` (default `false`).
    pub fn with_swap_augment(mut self, on: bool) -> Self {
        self.swap_augment = on;
        self
    }

    /// Number of epochs.
    pub fn epochs(&self) -> usize {
        self.epochs
    }
    /// Mini-batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Positive-class weight.
    pub fn pos_weight(&self) -> f32 {
        self.pos_weight
    }

    /// Checks every setting; `fit` calls this before touching the model.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::config("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::config("batch_size", "must be at least 1"));
        }
        self.optimizer.check()?;
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::config(
                "weight_decay",
                format!("must be finite and >= 0, got {}", self.weight_decay),
            ));
        }
        if self.patience == Some(0) {
            return Err(Error::config("patience", "must be at least 1"));
        }
        if !(self.pos_weight.is_finite() && self.pos_weight > 0.0) {
            return Err(Error::config(
                "pos_weight",
                format!("must be finite and > 0, got {}", self.pos_weight),
            ));
        }
        if !(self.consistency.is_finite() && self.consistency >= 0.0) {
            return Err(Error::config(
                "consistency",
                format!("must be finite and >= 0, got {}", self.consistency),
            ));
        }
        Ok(())
    }

    fn doubles_batch(&self) -> bool {
        self.swap_augment || self.consistency > 0.0
    }
}

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch number, from 0.
    pub epoch: usize,
    /// Mean training BCE over the epoch's batches (weighted by batch size).
    pub train_loss: f64,
    /// BCE on the validation set after the epoch, if one was given.
    pub valid_loss: Option<f64>,
    /// ROC AUC on the validation set after the epoch, if one was given and it holds
    /// both classes.
    pub valid_auc: Option<f64>,
    /// Mean consistency penalty `mean (logit(x, y) - logit(y, x))^2` (before `lambda`)
    /// over the epoch, when the batch is trained in both orders.
    pub consistency: Option<f64>,
    /// Time since training started.
    pub elapsed: Duration,
}

/// Per-epoch record of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<EpochStats>,
    /// Epoch whose weights the model holds after early stopping (`None` without it).
    pub best_epoch: Option<usize>,
    /// Whether training stopped before the configured number of epochs.
    pub stopped_early: bool,
}

/// What an observer wants after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch (best weights are still restored under early stopping).
    Stop,
}

/// Called after every epoch; see [`PairClassifier::fit_observed`]. Closures
/// `FnMut(&EpochStats) -> Control` implement it.
pub trait TrainObserver {
    /// Sees the epoch's statistics and decides whether to go on.
    fn on_epoch(&mut self, stats: &EpochStats) -> Control;
}

impl<F: FnMut(&EpochStats) -> Control> TrainObserver for F {
    fn on_epoch(&mut self, stats: &EpochStats) -> Control {
        self(stats)
    }
}

/// The default observer: silent, never stops.
struct Silent;

impl TrainObserver for Silent {
    fn on_epoch(&mut self, _stats: &EpochStats) -> Control {
        Control::Continue
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Trains on `train`, reporting validation loss on `valid` after every epoch if given.
    /// See [`TrainConfig`] for the settings and [`fit_observed`](Self::fit_observed) for
    /// progress reports.
    ///
    /// Errors: an invalid configuration or a dataset of the wrong width (before any weight
    /// changes), or [`Error::Diverged`] if a loss or weight becomes NaN/inf; the model then
    /// keeps its last finite weights.
    pub fn fit(
        &mut self,
        train: &dyn PairData,
        valid: Option<&dyn PairData>,
        config: &TrainConfig,
    ) -> Result<History> {
        self.fit_observed(train, valid, config, &mut Silent)
    }

    /// [`fit`](Self::fit) with an observer called after every epoch, which may stop training.
    pub fn fit_observed(
        &mut self,
        train: &dyn PairData,
        valid: Option<&dyn PairData>,
        config: &TrainConfig,
        observer: &mut dyn TrainObserver,
    ) -> Result<History> {
        config.check()?;
        self.check_data(train, "train")?;
        if let Some(v) = valid {
            self.check_data(v, "valid")?;
        }
        let start = Instant::now();
        let n = train.len();
        let bs = config.batch_size.min(n);
        let doubled = config.doubles_batch();
        let m_cap = if doubled { 2 * bs } else { bs };
        let mut work = self.work(m_cap);
        let mut grads = self.zero_grads();
        let mut opt = OptState::new(config.optimizer.clone(), config.weight_decay);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let mut order: Vec<usize> = (0..n).collect();
        let mut labels = vec![0.0f32; m_cap];
        let mut d_logits = vec![0.0f32; m_cap];
        let mut backup = self.flat_params();
        let mut best: Option<(f64, usize, Vec<f32>)> = None;
        let mut since_best = 0usize;
        let mut history = History::default();
        let all_labels = train.labels();

        for epoch in 0..config.epochs {
            order.shuffle(&mut rng);
            let mut loss_sum = 0.0f64;
            let mut pen_sum = 0.0f64;
            for (batch, idx) in order.chunks(bs).enumerate() {
                let k = idx.len();
                let m = if doubled { 2 * k } else { k };
                // x rows 0..m, y rows m..2m; the second half of each is the swapped order.
                {
                    let inp = &mut work.inp;
                    let (xs, ys) = inp.view_mut().split_at(Axis(0), m);
                    let (x1, x2) = xs.split_at(Axis(0), k);
                    let (y1, y2) = ys.split_at(Axis(0), k);
                    train.gather(idx, x1, y1);
                    if doubled {
                        train.gather(idx, y2, x2);
                    }
                }
                for (r, &i) in idx.iter().enumerate() {
                    let t = all_labels.get(i).copied().unwrap_or(0.0);
                    labels[r] = t;
                    if doubled {
                        labels[k + r] = t;
                    }
                }
                self.forward_stacked(m, &mut work)?;
                let logits = &work.logits[..m];
                let bce_rows = if config.swap_augment { m } else { k };
                d_logits[..m].fill(0.0);
                let mut loss = bce_batch(
                    &logits[..bce_rows],
                    &labels[..bce_rows],
                    config.pos_weight,
                    &mut d_logits[..bce_rows],
                );
                let bce = loss;
                if doubled {
                    let pen = consistency_penalty(logits, k, config.consistency, &mut d_logits);
                    pen_sum += pen * k as f64;
                    loss += f64::from(config.consistency) * pen;
                }
                if !loss.is_finite() {
                    return Err(Error::Diverged {
                        epoch,
                        batch,
                        what: format!("loss is {loss}"),
                    });
                }
                loss_sum += bce * k as f64;
                self.backward_stacked(m, &d_logits[..m], &mut work, &mut grads)?;
                backup.clear();
                backup.extend(self.flat_params());
                opt.step(self, &grads);
                if self.flat_params().iter().any(|v| !v.is_finite()) {
                    self.set_flat_params(&backup);
                    return Err(Error::Diverged {
                        epoch,
                        batch,
                        what: "a weight became non-finite after the update".into(),
                    });
                }
            }
            let train_loss = loss_sum / n as f64;
            let (valid_loss, valid_auc) = match valid {
                Some(v) => {
                    let (loss, auc) = self.valid_metrics(v, config.pos_weight, &mut work)?;
                    (Some(loss), auc)
                }
                None => (None, None),
            };
            let stats = EpochStats {
                epoch,
                train_loss,
                valid_loss,
                valid_auc,
                consistency: doubled.then(|| pen_sum / n as f64),
                elapsed: start.elapsed(),
            };
            let monitor = valid_loss.unwrap_or(train_loss);
            if !monitor.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    batch: 0,
                    what: format!("monitored loss is {monitor}"),
                });
            }
            let control = observer.on_epoch(&stats);
            history.epochs.push(stats);
            let mut stop = control == Control::Stop;
            if let Some(patience) = config.patience {
                let improved = best.as_ref().is_none_or(|(b, _, _)| monitor < *b);
                if improved {
                    best = Some((monitor, epoch, self.flat_params()));
                    since_best = 0;
                } else {
                    since_best += 1;
                    if since_best >= patience {
                        stop = true;
                    }
                }
            }
            if stop {
                history.stopped_early = epoch + 1 < config.epochs;
                break;
            }
        }
        if let Some((_, epoch, params)) = best {
            self.set_flat_params(&params);
            history.best_epoch = Some(epoch);
        }
        Ok(history)
    }

    /// Mean BCE and ROC AUC (if defined) over a dataset, using `work` as scratch.
    fn valid_metrics(
        &self,
        data: &dyn PairData,
        pos_weight: f32,
        work: &mut Work,
    ) -> Result<(f64, Option<f64>)> {
        let n = data.len();
        let cap = work.capacity();
        let labels = data.labels();
        let mut total = 0.0f64;
        let mut logits = Vec::with_capacity(n);
        let idx: Vec<usize> = (0..n).collect();
        for chunk in idx.chunks(cap) {
            let k = chunk.len();
            let (xs, ys) = work.inp.view_mut().split_at(Axis(0), k);
            data.gather(chunk, xs, ys.slice_move(s![..k, ..]));
            self.forward_stacked(k, work)?;
            for (&z, &i) in work.logits[..k].iter().zip(chunk) {
                let t = labels.get(i).copied().unwrap_or(0.0);
                total += crate::loss::bce_with_logits(z, t, pos_weight);
            }
            logits.extend_from_slice(&work.logits[..k]);
        }
        let auc = crate::metrics::roc_auc(&logits, labels).ok();
        Ok((total / n as f64, auc))
    }
}

/// `mean_i (l_i - l_{k+i})^2` over the `k` pairs whose swapped copies follow them, adding
/// `lambda` times its gradient to `d_logits`. Returns the penalty before `lambda`.
fn consistency_penalty(logits: &[f32], k: usize, lambda: f32, d_logits: &mut [f32]) -> f64 {
    let inv = 1.0 / k as f32;
    let mut sum = 0.0f64;
    for i in 0..k {
        let diff = logits[i] - logits[k + i];
        sum += f64::from(diff) * f64::from(diff);
        let g = 2.0 * lambda * diff * inv;
        d_logits[i] += g;
        d_logits[k + i] -= g;
    }
    sum / k as f64
}
