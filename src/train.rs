//! Training: mini-batch gradient descent on binary cross-entropy from logits.
//!
//! Each epoch shuffles the pairs with a seeded RNG and walks them in mini-batches. The
//! loss of a batch of `n` pairs is `mean_i BCE(logit_i, t_i)` (see [`crate::loss`]), plus,
//! for order-dependent models, the optional consistency penalty
//! `lambda * mean_i (logit(x_i, y_i) - logit(y_i, x_i))^2`. With swap augmentation every
//! pair is also trained in the order `(y, x)`.
//!
//! Same seed, same data, same configuration: bitwise-identical weights, whatever the
//! number of threads.

use std::time::{Duration, Instant};

use ndarray::Axis;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::combiner::PairCombiner;
use crate::data::PairData;
use crate::error::{Error, Result};
use crate::loss::bce_batch;
use crate::model::{Grads, PairClassifier, Work};
use crate::optim::{OptState, Optimizer, OptimizerState};

mod early_stop;
mod regularise;
mod schedule;

pub use early_stop::Monitor;
pub use schedule::LrSchedule;

/// Training pairs on which the training ROC AUC of every epoch is measured: a fixed,
/// seeded sample of at most this many (all of them when there are fewer).
pub const TRAIN_METRIC_SAMPLE: usize = 2048;

/// Training ROC AUC at or below which a run counts as not learning
/// ([`TrainWarning::ChanceLevel`]).
pub const CHANCE_AUC: f64 = 0.55;

/// Pairs per training slice: a mini-batch is cut into slices of this many pairs, each
/// slice's gradient computed on its own (on any thread of the pool), and the slice
/// gradients summed in slice order. Fixed, so that weights do not depend on the thread
/// count; small, so that the default batch of 64 pairs already feeds two threads (and
/// so that a slice's halves stay within one matrixmultiply depth block, which keeps
/// gradients exactly symmetric).
pub(crate) const TRAIN_SLICE: usize = 32;

/// Most slices whose gradients are held at once; larger batches (and
/// [`PairClassifier::loss_gradient`] on a large dataset) run in rounds of this many.
const MAX_SLOTS: usize = 64;

/// Gradient tensors of up to this many elements are summed on the calling thread.
const REDUCE_PARALLEL_FROM: usize = 8192;
/// Elements per piece when a larger gradient tensor is summed in parallel.
const REDUCE_CHUNK: usize = 2048;

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
///
/// Deserialising runs the same [`check`](TrainConfig::check).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTrainConfig")]
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
    #[serde(default)]
    monitor: Monitor,
    #[serde(default)]
    min_delta: f64,
    #[serde(default)]
    lr_schedule: LrSchedule,
    #[serde(default)]
    grad_clip: Option<f32>,
    #[serde(default)]
    input_noise: f32,
    #[serde(default)]
    input_dropout: f32,
    #[serde(default)]
    head_dropout: f32,
    #[serde(default)]
    encoder_dropout: f32,
}

/// The serde form of [`TrainConfig`] before [`TrainConfig::check`].
#[derive(Deserialize)]
struct RawTrainConfig {
    epochs: usize,
    batch_size: usize,
    optimizer: Optimizer,
    weight_decay: f32,
    seed: u64,
    patience: Option<usize>,
    pos_weight: f32,
    consistency: f32,
    swap_augment: bool,
    #[serde(default)]
    monitor: Monitor,
    #[serde(default)]
    min_delta: f64,
    #[serde(default)]
    lr_schedule: LrSchedule,
    #[serde(default)]
    grad_clip: Option<f32>,
    #[serde(default)]
    input_noise: f32,
    #[serde(default)]
    input_dropout: f32,
    #[serde(default)]
    head_dropout: f32,
    #[serde(default)]
    encoder_dropout: f32,
}

impl TryFrom<RawTrainConfig> for TrainConfig {
    type Error = Error;
    fn try_from(raw: RawTrainConfig) -> Result<Self> {
        let cfg = TrainConfig {
            epochs: raw.epochs,
            batch_size: raw.batch_size,
            optimizer: raw.optimizer,
            weight_decay: raw.weight_decay,
            seed: raw.seed,
            patience: raw.patience,
            pos_weight: raw.pos_weight,
            consistency: raw.consistency,
            swap_augment: raw.swap_augment,
            monitor: raw.monitor,
            min_delta: raw.min_delta,
            lr_schedule: raw.lr_schedule,
            grad_clip: raw.grad_clip,
            input_noise: raw.input_noise,
            input_dropout: raw.input_dropout,
            head_dropout: raw.head_dropout,
            encoder_dropout: raw.encoder_dropout,
        };
        cfg.check()?;
        Ok(cfg)
    }
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
            monitor: Monitor::Auto,
            min_delta: 0.0,
            lr_schedule: LrSchedule::Constant,
            grad_clip: None,
            // Measured: see `with_input_noise`.
            input_noise: 0.2,
            input_dropout: 0.0,
            head_dropout: 0.0,
            encoder_dropout: 0.0,
        }
    }
}

impl TrainConfig {
    /// The defaults: 20 epochs, batch 64, Adam with learning rate 1e-3, no weight decay,
    /// seed 0, no early stopping (when turned on: [`Monitor::Auto`], min delta 0), positive
    /// weight 1, no consistency penalty, no swap augmentation, constant learning rate, no
    /// gradient clipping, Gaussian input noise of 0.2 times the inputs' spread, no input,
    /// head or encoder dropout. The regulariser defaults are measured (see
    /// [`with_input_noise`](Self::with_input_noise): `cargo run --release --example
    /// regularisers`).
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
    /// Optimizer (default `Optimizer::adam(1e-3)`; see [`Optimizer::adam`] for sane
    /// learning rates).
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
    /// quantity (see [`with_monitor`](Self::with_monitor): by default validation ROC AUC
    /// when a validation set is given, else the training loss) and restore the weights of
    /// the best epoch (default: off; at least 1).
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
    ///
    /// Sane range: `0.01 ..= 10`. Far larger values swamp the classification loss (at
    /// `1e30` no weight moves usefully); `fit` still returns `Ok`, so check
    /// [`History::warnings`].
    pub fn with_consistency(mut self, lambda: f32) -> Self {
        self.consistency = lambda;
        self
    }
    /// Also train every pair in the order `(y, x)` (default `false`).
    pub fn with_swap_augment(mut self, on: bool) -> Self {
        self.swap_augment = on;
        self
    }
    /// What early stopping watches (default [`Monitor::Auto`]: validation ROC AUC with
    /// validation data, training loss without). Only used with
    /// [`with_patience`](Self::with_patience). A validation monitor without validation
    /// data (or, for AUC and average precision, with validation data of one class) is an
    /// [`Error::InvalidConfig`] at `fit`.
    pub fn with_monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }
    /// Smallest change of the monitored quantity that counts as an improvement for early
    /// stopping (default 0; finite, `>= 0`; e.g. `1e-3` for AUC).
    pub fn with_min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }
    /// Learning-rate schedule (default [`LrSchedule::Constant`]). Constant by default:
    /// cosine decay (1 epoch of warm-up, to 0) measured no better than constant across
    /// families on packages and digits (down to -0.013 on digits; `cargo run --release
    /// --example regularisers`).
    pub fn with_lr_schedule(mut self, schedule: LrSchedule) -> Self {
        self.lr_schedule = schedule;
        self
    }
    /// Gradient-norm clipping: a mini-batch gradient whose L2 norm (over all parameters)
    /// exceeds `max_norm` is scaled down to that norm before the optimizer step (default:
    /// off; finite, `> 0`; 1 to 5 is the usual range). Off by default: measured no better
    /// than off across families on packages and digits (clip 1.0 changed mean fold ROC AUC
    /// by -0.003 to +0.0003; `cargo run --release --example regularisers`).
    pub fn with_grad_clip(mut self, max_norm: f32) -> Self {
        self.grad_clip = Some(max_norm);
        self
    }
    /// Gaussian input noise, relative to the spread of the training inputs: during training
    /// only, every embedding value of every item of a pair gets independent noise of
    /// standard deviation `relative * spread`, where `spread` is the root mean over
    /// embedding columns of each column's variance, measured at the start of `fit` on the
    /// training pairs whose AUC the history reports (at most
    /// [`TRAIN_METRIC_SAMPLE`]). For unit-length 384-d
    /// embeddings the spread is about 0.047, so the default 0.2 adds noise of about 0.0094;
    /// on the digits example's pixels in `[0, 1]` (spread 0.27), about 0.054. Relative so
    /// that one default fits embeddings of any scale or width. 0 turns it off; finite and
    /// `>= 0`.
    ///
    /// On by default (0.2) because it was the one regulariser measured better than off
    /// across model families on both data sets of `cargo run --release --example
    /// regularisers` (mean fold ROC AUC after 20 epochs, 5 item-grouped folds of the
    /// training pairs; `-- --settings noise,noise0.4` for the noise strengths; figures in
    /// README "Regulariser defaults"). Larger values gain more on some families and lose on others:
    /// noise biases `squared_diff` and `abs_diff` features in training and not at
    /// prediction.
    ///
    /// Noise is drawn per item row from a fixed table of standard-normal values (one draw
    /// per row, so it costs little training time): when a pair is also trained in the
    /// order `(y, x)` (swap augmentation or consistency), the swapped copy sees the same
    /// noisy items, so the two orders differ only in order. Drawn from the seed, per slice
    /// of 32 pairs in fixed order: the same weights for any number of threads. Prediction
    /// never adds noise.
    pub fn with_input_noise(mut self, relative: f32) -> Self {
        self.input_noise = relative;
        self
    }
    /// Input (embedding) dropout: during training only, each embedding value of each item
    /// is zeroed with probability `p` and the rest scaled by `1 / (1 - p)` (default 0 =
    /// off; in `[0, 1)`; 0.1 to 0.3 is the usual range). Masks are drawn per item row like
    /// [`with_input_noise`](Self::with_input_noise) (a pair and its swapped copy share
    /// them; same weights for any number of threads). Prediction is untouched. Off by
    /// default: measured no better than off across families on packages and digits
    /// (0.1: +0.003 to +0.016 on packages, but down to -0.012 on digits; `cargo run
    /// --release --example regularisers`).
    pub fn with_input_dropout(mut self, p: f32) -> Self {
        self.input_dropout = p;
        self
    }
    /// Dropout on the hidden activations of the MLP head (inverted dropout: during
    /// training only, each hidden unit of each combined row is zeroed with probability
    /// `p` and the rest scaled by `1 / (1 - p)`; default 0 = off; in `[0, 1)`; 0.1 to 0.5
    /// is the usual range). A head without hidden layers (or a distance head) has nothing
    /// to drop. Masks are a fixed function of the seed and of the pair's position in its
    /// batch (counter-based, not a per-thread random stream): the same weights for any
    /// number of threads; a pair and its swapped copy share them. Prediction never drops.
    /// Off by default: measured no better than off across families on packages and digits
    /// (0.1 to 0.3 lost up to 0.012 on the packages encoder model and up to 0.007 on digits
    /// `product`; `cargo run --release --example regularisers`).
    pub fn with_head_dropout(mut self, p: f32) -> Self {
        self.head_dropout = p;
        self
    }
    /// Dropout on the hidden activations of the shared encoder, per item row, like
    /// [`with_head_dropout`](Self::with_head_dropout) (default 0 = off; in `[0, 1)`). A
    /// linear encoder (no hidden layer) has nothing to drop. An item and its copy in the
    /// swapped pair share their masks. Prediction never drops. Off by default: measured no
    /// better than off across families on packages and digits (0.1 and 0.2 lost up to 0.021
    /// with the distance head on packages; `cargo run --release --example regularisers`).
    pub fn with_encoder_dropout(mut self, p: f32) -> Self {
        self.encoder_dropout = p;
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
    /// Early-stopping patience, if on.
    pub fn patience(&self) -> Option<usize> {
        self.patience
    }
    /// Monitored quantity of early stopping.
    pub fn monitor(&self) -> Monitor {
        self.monitor
    }
    /// Optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }
    /// Weight decay.
    pub fn weight_decay(&self) -> f32 {
        self.weight_decay
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Learning-rate schedule.
    pub fn lr_schedule(&self) -> &LrSchedule {
        &self.lr_schedule
    }
    /// Gradient-norm clipping threshold, if on.
    pub fn grad_clip(&self) -> Option<f32> {
        self.grad_clip
    }
    /// Gaussian input noise, relative to the spread of the training inputs (see
    /// [`with_input_noise`](Self::with_input_noise)).
    pub fn input_noise(&self) -> f32 {
        self.input_noise
    }
    /// Input dropout probability.
    pub fn input_dropout(&self) -> f32 {
        self.input_dropout
    }
    /// Dropout probability of the head's hidden layers.
    pub fn head_dropout(&self) -> f32 {
        self.head_dropout
    }
    /// Dropout probability of the encoder's hidden layers.
    pub fn encoder_dropout(&self) -> f32 {
        self.encoder_dropout
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
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(Error::config(
                "min_delta",
                format!("must be finite and >= 0, got {}", self.min_delta),
            ));
        }
        self.lr_schedule.check()?;
        if let Some(c) = self.grad_clip {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config(
                    "grad_clip",
                    format!("must be finite and > 0, got {c}"),
                ));
            }
        }
        if !(self.input_noise.is_finite() && self.input_noise >= 0.0) {
            return Err(Error::config(
                "input_noise",
                format!("must be finite and >= 0, got {}", self.input_noise),
            ));
        }
        for (field, p) in [
            ("input_dropout", self.input_dropout),
            ("head_dropout", self.head_dropout),
            ("encoder_dropout", self.encoder_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::config(field, format!("must be in [0, 1), got {p}")));
            }
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
    /// Mean training BCE over the epoch's batches (weighted by batch size), with the
    /// training-time regularisers (noise, dropout) applied.
    pub train_loss: f64,
    /// ROC AUC on a fixed sample of the training pairs (at most [`TRAIN_METRIC_SAMPLE`],
    /// chosen once from the seed) after the epoch, if the sample holds both classes.
    /// Compare with [`valid_auc`](Self::valid_auc) to see overfitting.
    #[serde(default)]
    pub train_auc: Option<f64>,
    /// BCE on the validation set after the epoch, if one was given.
    pub valid_loss: Option<f64>,
    /// ROC AUC on the validation set after the epoch, if one was given and it holds
    /// both classes.
    pub valid_auc: Option<f64>,
    /// Average precision on the validation set after the epoch, if one was given and it
    /// holds both classes.
    #[serde(default)]
    pub valid_ap: Option<f64>,
    /// Whether training stopped within this epoch (an observer's
    /// [`on_batch`](TrainObserver::on_batch) said stop): the losses cover the batches run.
    #[serde(default)]
    pub partial: bool,
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
    /// Signs that training did not learn (see [`TrainWarning`]); empty when all is well.
    #[serde(default)]
    pub warnings: Vec<TrainWarning>,
}

/// A sign, found after training, that the run did not learn. `fit` still returns `Ok`
/// (the weights are finite); the warning says the configuration needs a look.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrainWarning {
    /// No epoch after the first had a lower training loss than the first (runs of two or
    /// more epochs): typically a learning rate far too high (Adam above ~0.1) or a
    /// penalty that swamps the loss.
    LossNeverImproved {
        /// Training loss of the first epoch.
        first: f64,
        /// Lowest training loss of the later epochs.
        best_later: f64,
    },
    /// The weights the model ends with rank the training sample no better than
    /// [`CHANCE_AUC`] (a model that learns anything fits its own training pairs better
    /// than that): typically a learning rate far too high (Adam `lr` above ~0.1, SGD above
    /// ~1) that saturated the units, or a penalty that swamps the loss.
    ChanceLevel {
        /// Training ROC AUC of the final weights (on the fixed training sample).
        train_auc: f64,
    },
    /// No weight changed at all during the run (e.g. a learning rate so small, or a
    /// penalty so large, that every update rounds away).
    WeightsUnchanged,
}

impl std::fmt::Display for TrainWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainWarning::LossNeverImproved { first, best_later } => write!(
                f,
                "the training loss never improved on its first epoch ({first:.4}; best later {best_later:.4}): check the learning rate and penalties"
            ),
            TrainWarning::ChanceLevel { train_auc } => write!(
                f,
                "the trained model ranks its own training pairs at chance (ROC AUC {train_auc:.3}): check the learning rate and penalties"
            ),
            TrainWarning::WeightsUnchanged => {
                write!(
                    f,
                    "no weight changed during training: check the learning rate and penalties"
                )
            }
        }
    }
}

/// What an observer wants after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch (best weights are still restored under early stopping).
    Stop,
}

/// Called after every epoch (and before every mini-batch); see
/// [`PairClassifier::fit_observed`]. Closures `FnMut(&EpochStats) -> Control` implement
/// it (with the default, never-stopping [`on_batch`](Self::on_batch)).
pub trait TrainObserver {
    /// Sees the epoch's statistics and decides whether to go on.
    fn on_epoch(&mut self, stats: &EpochStats) -> Control;

    /// Called before mini-batch `batch` (from 0) of epoch `epoch`; [`Control::Stop`] ends
    /// training at once, within the epoch, the model keeping the weights of the last
    /// finished batch (under early stopping the best epoch's weights are restored if one
    /// was recorded). The history then ends with a [`partial`](EpochStats::partial) epoch
    /// without validation metrics. Meant for cancellation (a Ctrl-C check); keep it cheap,
    /// e.g. look at a clock and do real work every ~50 ms. Default: continue.
    fn on_batch(&mut self, epoch: usize, batch: usize) -> Control {
        let _ = (epoch, batch);
        Control::Continue
    }
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
    /// Runs on the rayon pool it is called from (every core by default; choose with
    /// `pool.install(|| model.fit(..))`). Each mini-batch is cut into slices of 32 pairs
    /// that run in parallel and whose gradients are summed in a fixed order, so the
    /// weights do not depend on the number of threads.
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
        self.fit_warm_observed(train, valid, config, &mut OptimizerState::new(), observer)
    }

    /// Warm start: [`fit`](Self::fit) that continues from the optimizer state `state`
    /// (Adam's moments and step count, SGD's momentum) left by an earlier warm fit of this
    /// model, and leaves its own state there for the next one. An empty state starts
    /// afresh, like `fit`. The configuration's optimizer settings (learning rate, betas)
    /// and weight decay apply from now on; the learning-rate schedule restarts with the
    /// call. `state` is kept when the fit fails.
    ///
    /// Errors as `fit`, and [`Error::InvalidConfig`] (field `optimizer_state`) if `state`
    /// belongs to another optimizer kind or to a model of other parameter shapes.
    pub fn fit_warm(
        &mut self,
        train: &dyn PairData,
        valid: Option<&dyn PairData>,
        config: &TrainConfig,
        state: &mut OptimizerState,
    ) -> Result<History> {
        self.fit_warm_observed(train, valid, config, state, &mut Silent)
    }

    /// [`fit_warm`](Self::fit_warm) with an observer.
    pub fn fit_warm_observed(
        &mut self,
        train: &dyn PairData,
        valid: Option<&dyn PairData>,
        config: &TrainConfig,
        state: &mut OptimizerState,
        observer: &mut dyn TrainObserver,
    ) -> Result<History> {
        config.check()?;
        self.check_data(train, "train")?;
        if let Some(v) = valid {
            self.check_data(v, "valid")?;
        }
        let monitor = config.monitor.resolve(valid.is_some());
        if config.patience.is_some() && monitor.needs_valid() {
            match valid {
                None => {
                    return Err(Error::config(
                        "monitor",
                        format!("{} needs validation data", monitor.name()),
                    ));
                }
                Some(v) if monitor.higher_is_better() && !both_classes(v.labels()) => {
                    return Err(Error::config(
                        "monitor",
                        format!(
                            "{} needs validation data holding both classes",
                            monitor.name()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let bs = config.batch_size.min(train.len());
        let slots = self.train_slots(bs, config.doubles_batch());
        let grads = self.zero_grads();
        let shapes: Vec<usize> = grads.tensors().iter().map(|t| t.len()).collect();
        let mut opt = state.take_for(&config.optimizer, config.weight_decay, &shapes)?;
        let result = self.fit_with(
            train, valid, config, observer, &mut opt, monitor, slots, grads,
        );
        state.put(opt);
        result
    }

    /// The training loop of [`fit_warm_observed`](Self::fit_warm_observed), after the checks.
    #[allow(clippy::too_many_arguments)]
    fn fit_with(
        &mut self,
        train: &dyn PairData,
        valid: Option<&dyn PairData>,
        config: &TrainConfig,
        observer: &mut dyn TrainObserver,
        opt: &mut OptState,
        monitor: Monitor,
        mut slots: Vec<Slot>,
        mut grads: Grads,
    ) -> Result<History> {
        let start = Instant::now();
        let n = train.len();
        let bs = config.batch_size.min(n);
        let doubled = config.doubles_batch();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let mut order: Vec<usize> = (0..n).collect();
        let sample = metric_sample(n, config.seed);
        let initial = self.flat_params();
        let mut backup = initial.clone();
        let mut best: Option<(f64, f64, usize, Vec<f32>)> = None;
        let mut since_best = 0usize;
        let mut history = History::default();
        let rows_per_pair = if config.swap_augment { 2.0 } else { 1.0 };
        let per_epoch = n.div_ceil(bs);
        let total_steps = per_epoch * config.epochs;
        // Input noise is relative to the spread of the training inputs (measured on the
        // same fixed sample as the per-epoch training AUC).
        let spread = if config.input_noise > 0.0 {
            regularise::input_spread(train, &sample)?
        } else {
            0.0
        };
        let input = regularise::InputReg {
            noise: config.input_noise * spread,
            dropout: config.input_dropout,
        };

        'epochs: for epoch in 0..config.epochs {
            order.shuffle(&mut rng);
            let mut loss_sum = 0.0f64;
            let mut pen_sum = 0.0f64;
            let mut pairs_run = 0usize;
            for (batch, idx) in order.chunks(bs).enumerate() {
                if observer.on_batch(epoch, batch) == Control::Stop {
                    if pairs_run > 0 {
                        history.epochs.push(EpochStats {
                            epoch,
                            train_loss: loss_sum / (rows_per_pair * pairs_run as f64),
                            train_auc: None,
                            valid_loss: None,
                            valid_auc: None,
                            valid_ap: None,
                            partial: true,
                            consistency: doubled.then(|| pen_sum / pairs_run as f64),
                            elapsed: start.elapsed(),
                        });
                    }
                    history.stopped_early = true;
                    break 'epochs;
                }
                let k = idx.len();
                let spec = LossSpec {
                    pos_weight: config.pos_weight,
                    consistency: config.consistency,
                    swap_augment: config.swap_augment,
                    bce_scale: 1.0 / (rows_per_pair * k as f64) as f32,
                    pen_scale: 1.0 / k as f32,
                    input,
                    head_dropout: config.head_dropout,
                    encoder_dropout: config.encoder_dropout,
                    seed: config.seed,
                    epoch,
                    batch,
                };
                let (bce_sum, batch_pen) =
                    self.batch_gradient(train, idx, &spec, &mut slots, &mut grads)?;
                let loss = bce_sum * f64::from(spec.bce_scale)
                    + f64::from(config.consistency) * batch_pen / k as f64;
                if !loss.is_finite() {
                    return Err(Error::Diverged {
                        epoch,
                        batch,
                        what: format!("loss is {loss}"),
                    });
                }
                if let Some(max_norm) = config.grad_clip {
                    regularise::clip_grad_norm(&mut grads, max_norm);
                }
                loss_sum += bce_sum;
                pen_sum += batch_pen;
                pairs_run += k;
                let factor =
                    config
                        .lr_schedule
                        .factor(epoch * per_epoch + batch, per_epoch, total_steps);
                if !opt.step_scaled(factor, Some(&mut backup), |f| {
                    self.visit_params(Some(&grads), f)
                }) {
                    self.set_flat_params(&backup);
                    return Err(Error::Diverged {
                        epoch,
                        batch,
                        what: "a weight became non-finite after the update".into(),
                    });
                }
            }
            let train_loss = loss_sum / (rows_per_pair * n as f64);
            let train_auc = self.sample_auc(train, &sample)?;
            let (valid_loss, valid_auc, valid_ap) = match valid {
                Some(v) => {
                    let (loss, auc, ap) =
                        self.valid_metrics(v, config.pos_weight)
                            .map_err(|e| match e {
                                Error::NonFiniteLogit { row, value } => Error::Diverged {
                                    epoch,
                                    batch: 0,
                                    what: format!("validation logit of pair {row} is {value}"),
                                },
                                other => other,
                            })?;
                    (Some(loss), auc, ap)
                }
                None => (None, None, None),
            };
            let stats = EpochStats {
                epoch,
                train_loss,
                train_auc,
                valid_loss,
                valid_auc,
                valid_ap,
                partial: false,
                consistency: doubled.then(|| pen_sum / n as f64),
                elapsed: start.elapsed(),
            };
            let loss_watch = valid_loss.unwrap_or(train_loss);
            if !loss_watch.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    batch: 0,
                    what: format!("monitored loss is {loss_watch}"),
                });
            }
            let watched = match monitor {
                Monitor::ValidAuc => valid_auc,
                Monitor::ValidAveragePrecision => valid_ap,
                Monitor::ValidLoss => valid_loss,
                _ => Some(train_loss),
            };
            let control = observer.on_epoch(&stats);
            history.epochs.push(stats);
            let mut stop = control == Control::Stop;
            if let (Some(patience), Some(value)) = (config.patience, watched) {
                // Exact ties of a ranking metric (AUC, AP) are broken by the loss: a
                // monotone head on one fixed score (cosine + logistic) cannot change its
                // AUC, and would otherwise keep its first, barely trained epoch.
                let improved = best.as_ref().is_none_or(|(b, b_loss, _, _)| {
                    early_stop::improves(monitor, value, *b, config.min_delta)
                        || early_stop::ties_with_lower_loss(monitor, value, *b, loss_watch, *b_loss)
                });
                if improved {
                    best = Some((value, loss_watch, epoch, self.flat_params()));
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
        if let Some((_, _, epoch, params)) = best {
            self.set_flat_params(&params);
            history.best_epoch = Some(epoch);
        }
        history.warnings = learning_warnings(&history, &initial, &self.flat_params());
        Ok(history)
    }

    /// ROC AUC over the training pairs `sample` (`None` if one class only or a logit is
    /// not finite). Forward passes in prediction's fixed chunks over the rayon pool: this
    /// runs once per epoch over up to [`TRAIN_METRIC_SAMPLE`] pairs, about an eighth of a
    /// default epoch's arithmetic at 4,096 pairs, so on one thread it capped the two-thread
    /// training speed-up (`SECTION=default cargo run --release --example throughput`).
    fn sample_auc(&self, data: &dyn PairData, sample: &[usize]) -> Result<Option<f64>> {
        let logits = self.chunked(
            sample.len(),
            || (),
            |work, (), r, dst| {
                let k = dst.len();
                {
                    let (xs, ys) = work.inputs_mut(k);
                    data.try_gather(&sample[r], xs, ys)?;
                }
                self.forward_stacked(k, work)?;
                dst.copy_from_slice(work.logits(k));
                Ok(())
            },
        )?;
        if logits.iter().any(|z| !z.is_finite()) {
            return Ok(None);
        }
        let labels: Vec<f32> = sample.iter().map(|&i| data.labels()[i]).collect();
        Ok(crate::metrics::roc_auc(&logits, &labels).ok())
    }

    /// Mean BCE, ROC AUC and average precision (if defined) over a dataset.
    fn valid_metrics(
        &self,
        data: &dyn PairData,
        pos_weight: f32,
    ) -> Result<(f64, Option<f64>, Option<f64>)> {
        let logits = self.logits_for(data)?;
        let labels = data.labels();
        let total: f64 = logits
            .iter()
            .zip(labels)
            .map(|(&z, &t)| crate::loss::bce_with_logits(z, t, pos_weight))
            .sum();
        let auc = crate::metrics::roc_auc(&logits, labels).ok();
        let ap = crate::metrics::average_precision(&logits, labels).ok();
        Ok((total / data.len() as f64, auc, ap))
    }

    /// Buffers for the slices of a mini-batch of `batch` pairs (at most [`MAX_SLOTS`]).
    fn train_slots(&self, batch: usize, doubled: bool) -> Vec<Slot> {
        let pairs = TRAIN_SLICE.min(batch);
        // Rows per slice: its pairs, plus their swapped copies when both orders are trained.
        let rows = pairs * if doubled { 2 } else { 1 };
        (0..batch.div_ceil(TRAIN_SLICE).min(MAX_SLOTS))
            .map(|_| Slot {
                work: self.work(rows),
                grads: self.zero_grads(),
                labels: vec![0.0; rows],
                d_logits: vec![0.0; rows],
            })
            .collect()
    }

    /// Gradient of the loss `spec` over the pairs `idx` of `data`, into `total`
    /// (overwritten). Returns the BCE sum and the consistency-penalty sum (before `lambda`).
    ///
    /// The pairs are cut into slices of [`TRAIN_SLICE`]; the slices of a round run in
    /// parallel on the current rayon pool, and `total` is the sum of the slice gradients
    /// in slice order, element by element: the same bits for any number of threads, and
    /// for `(y, x)` as for `(x, y)` with a symmetric model.
    fn batch_gradient(
        &self,
        data: &dyn PairData,
        idx: &[usize],
        spec: &LossSpec,
        slots: &mut [Slot],
        total: &mut Grads,
    ) -> Result<(f64, f64)> {
        assert!(!slots.is_empty(), "at least one slice buffer");
        let (mut bce, mut pen) = (0.0f64, 0.0f64);
        let round = slots.len() * TRAIN_SLICE;
        for (r, pairs) in idx.chunks(round).enumerate() {
            let first = r * slots.len();
            let active = &mut slots[..pairs.len().div_ceil(TRAIN_SLICE)];
            let sums: Vec<Result<(f64, f64)>> = active
                .par_iter_mut()
                .zip(pairs.par_chunks(TRAIN_SLICE))
                .enumerate()
                .map(|(j, (slot, slice))| self.train_slice(data, slice, slot, spec, first + j))
                .collect();
            for s in sums {
                let (b, p) = s?;
                bce += b;
                pen += p;
            }
            add_slot_grads(total, active, r == 0);
        }
        Ok((bce, pen))
    }

    /// Forward, loss and backward for one slice of a mini-batch: the `pairs` (indices into
    /// `data`) and, when the loss trains both orders, their swapped copies. Writes the
    /// slice's gradient into `slot.grads`; returns the slice's BCE sum and consistency
    /// penalty sum (before `lambda`).
    fn train_slice(
        &self,
        data: &dyn PairData,
        pairs: &[usize],
        slot: &mut Slot,
        spec: &LossSpec,
        slice_no: usize,
    ) -> Result<(f64, f64)> {
        let p = pairs.len();
        let doubled = spec.doubled();
        let m = if doubled { 2 * p } else { p };
        let Slot {
            work,
            grads,
            labels,
            d_logits,
        } = slot;
        {
            // x rows 0..m, y rows m..2m; rows p..2p of each are the swapped copies.
            let (xs, ys) = work.inputs_mut(m);
            let (mut x1, x2) = xs.split_at(Axis(0), p);
            let (mut y1, y2) = ys.split_at(Axis(0), p);
            data.gather(pairs, x1.view_mut(), y1.view_mut());
            if spec.input.active() {
                // Per item row, in fixed order from the slice's own seed; the swapped
                // copies below are copies, so both orders see the same noisy items.
                let mut rng = regularise::slice_rng(spec.seed, spec.epoch, spec.batch, slice_no);
                spec.input.apply(x1.view_mut(), &mut rng);
                spec.input.apply(y1.view_mut(), &mut rng);
            }
            if doubled {
                let (mut x2, mut y2) = (x2, y2);
                x2.assign(&y1);
                y2.assign(&x1);
            }
        }
        let all_labels = data.labels();
        for (r, &i) in pairs.iter().enumerate() {
            let t = all_labels[i];
            labels[r] = t;
            if doubled {
                labels[p + r] = t;
            }
        }
        work.dropout = spec.dropout_for(p, doubled, self.combiner().n_views(), slice_no);
        self.forward_stacked(m, work)?;
        let logits = work.logits(m);
        let bce_rows = if spec.swap_augment { m } else { p };
        d_logits[..m].fill(0.0);
        let bce = bce_batch(
            &logits[..bce_rows],
            &labels[..bce_rows],
            spec.pos_weight,
            spec.bce_scale,
            &mut d_logits[..bce_rows],
        );
        let mut pen = 0.0f64;
        if doubled {
            let lambda = spec.consistency;
            for i in 0..p {
                let diff = logits[i] - logits[p + i];
                pen += f64::from(diff) * f64::from(diff);
                let g = 2.0 * lambda * diff * spec.pen_scale;
                d_logits[i] += g;
                d_logits[p + i] -= g;
            }
        }
        self.backward_stacked(m, &d_logits[..m], work, grads)?;
        Ok((bce, pen))
    }

    /// Mean binary cross-entropy over `data` (positive weight 1) and its gradient with
    /// respect to [`parameters`](Self::parameters). Meant for checks (finite differences,
    /// symmetry of gradients) and for custom optimisers.
    ///
    /// Computed as training computes a batch (slices of a fixed number of pairs, summed in
    /// order), so for a symmetric model `loss_gradient(data)` and
    /// `loss_gradient(data.swapped())` agree bit for bit at any dataset size, and the
    /// result does not depend on the thread count.
    pub fn loss_gradient(&self, data: &dyn PairData) -> Result<(f64, Vec<f32>)> {
        self.check_data(data, "data")?;
        let n = data.len();
        let idx: Vec<usize> = (0..n).collect();
        let spec = LossSpec {
            pos_weight: 1.0,
            consistency: 0.0,
            swap_augment: false,
            bce_scale: 1.0 / n as f32,
            pen_scale: 1.0 / n as f32,
            input: regularise::InputReg {
                noise: 0.0,
                dropout: 0.0,
            },
            head_dropout: 0.0,
            encoder_dropout: 0.0,
            seed: 0,
            epoch: 0,
            batch: 0,
        };
        let mut slots = self.train_slots(n, false);
        let mut total = self.zero_grads();
        let (bce, _) = self.batch_gradient(data, &idx, &spec, &mut slots, &mut total)?;
        Ok((bce / n as f64, self.flat_grads(&total)))
    }
}

/// Adds the slots' gradients to `total` element by element in slot order (after copying
/// the first one over it when `overwrite`). Large tensors are split over the rayon pool;
/// each element's sum keeps its order, so the bits do not depend on the thread count.
fn add_slot_grads(total: &mut Grads, slots: &[Slot], overwrite: bool) {
    let srcs: Vec<Vec<&[f32]>> = slots.iter().map(|s| s.grads.tensors()).collect();
    for (t, dst) in total.tensors_mut().into_iter().enumerate() {
        let add = |c: usize, d: &mut [f32]| {
            let lo = c * REDUCE_CHUNK;
            for (k, src) in srcs.iter().enumerate() {
                let s = &src[t][lo..lo + d.len()];
                if k == 0 && overwrite {
                    d.copy_from_slice(s);
                } else {
                    for (a, &b) in d.iter_mut().zip(s) {
                        *a += b;
                    }
                }
            }
        };
        if dst.len() <= REDUCE_PARALLEL_FROM {
            add(0, dst);
        } else {
            dst.par_chunks_mut(REDUCE_CHUNK)
                .enumerate()
                .for_each(|(c, d)| add(c, d));
        }
    }
}

/// Per-slot buffers of one training slice.
struct Slot {
    work: Work,
    grads: Grads,
    labels: Vec<f32>,
    d_logits: Vec<f32>,
}

/// The loss of one mini-batch: its settings and its scales (1 over the BCE rows, 1 over
/// the pairs).
struct LossSpec {
    pos_weight: f32,
    consistency: f32,
    swap_augment: bool,
    bce_scale: f32,
    pen_scale: f32,
    /// Input noise and dropout (training only).
    input: regularise::InputReg,
    /// Dropout rates of the head's and the encoder's hidden layers (training only).
    head_dropout: f32,
    encoder_dropout: f32,
    /// Seed, epoch and batch: where the slices' input-noise RNGs come from.
    seed: u64,
    epoch: usize,
    batch: usize,
}

/// Whether labels hold both classes.
fn both_classes(labels: &[f32]) -> bool {
    labels.iter().any(|&t| t > 0.5) && labels.iter().any(|&t| t < 0.5)
}

/// The fixed sample of training pairs whose AUC is reported per epoch: all pairs when
/// there are at most [`TRAIN_METRIC_SAMPLE`], else a seeded choice, in increasing order.
fn metric_sample(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if n > TRAIN_METRIC_SAMPLE {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5A17_C0DE);
        idx.shuffle(&mut rng);
        idx.truncate(TRAIN_METRIC_SAMPLE);
        idx.sort_unstable();
    }
    idx
}

/// Warnings about a run that did not learn.
fn learning_warnings(history: &History, initial: &[f32], last: &[f32]) -> Vec<TrainWarning> {
    let mut out = Vec::new();
    let full: Vec<f64> = history
        .epochs
        .iter()
        .filter(|e| !e.partial)
        .map(|e| e.train_loss)
        .collect();
    if full.len() >= 2 {
        let best_later = full[1..].iter().copied().fold(f64::INFINITY, f64::min);
        if best_later >= full[0] {
            out.push(TrainWarning::LossNeverImproved {
                first: full[0],
                best_later,
            });
        }
    }
    // The training AUC of the weights the model ends with: the restored best epoch's, or
    // the last full epoch's.
    let kept = match history.best_epoch {
        Some(b) => history.epochs.get(b),
        None => history.epochs.iter().rev().find(|e| !e.partial),
    };
    if let Some(train_auc) = kept.and_then(|e| e.train_auc) {
        if train_auc <= CHANCE_AUC {
            out.push(TrainWarning::ChanceLevel { train_auc });
        }
    }
    if !history.epochs.is_empty() && initial == last {
        out.push(TrainWarning::WeightsUnchanged);
    }
    out
}

impl LossSpec {
    /// Whether each pair is also run in the order `(y, x)`.
    fn doubled(&self) -> bool {
        self.swap_augment || self.consistency > 0.0
    }

    /// The head and encoder dropout of slice `slice_no` holding `p` pairs (and their
    /// swapped copies when `doubled`) through a combiner of `views` views; `None` when
    /// both rates are 0.
    ///
    /// Mask keys: pair `i`'s item `x` is key `2i`, its item `y` key `2i + 1` (encoder
    /// rows); its combined row of view `v` is key `2i + v` (head rows). A swapped copy
    /// `(y, x)` takes the keys of the items and views it copies, so both orders of a pair
    /// see the same masks (as with input noise).
    fn dropout_for(
        &self,
        p: usize,
        doubled: bool,
        views: usize,
        slice_no: usize,
    ) -> Option<crate::model::TrainDropout> {
        if self.head_dropout == 0.0 && self.encoder_dropout == 0.0 {
            return None;
        }
        let m = if doubled { 2 * p } else { p };
        let pair = |r: usize| {
            if r < p {
                (r as u64, false)
            } else {
                ((r - p) as u64, true)
            }
        };
        // Encoder rows: x of every row (0..m), then y of every row (m..2m).
        let enc_keys = (0..2 * m)
            .map(|k| {
                let (is_y, r) = (k >= m, k % m);
                let (i, swapped) = pair(r);
                2 * i + u64::from(is_y != swapped)
            })
            .collect();
        // Head rows: view v of every row, `views * m` in all.
        let head_keys = (0..views * m)
            .map(|k| {
                let (v, r) = ((k / m) as u64, k % m);
                let (i, swapped) = pair(r);
                let v = if swapped && views == 2 { 1 - v } else { v };
                2 * i + v
            })
            .collect();
        Some(crate::model::TrainDropout {
            head: self.head_dropout,
            encoder: self.encoder_dropout,
            seed: regularise::slice_seed(self.seed ^ 0xD80F_0C7A, self.epoch, self.batch, slice_no),
            head_keys,
            enc_keys,
        })
    }
}

#[cfg(test)]
mod dropout_tests;
