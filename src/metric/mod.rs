//! Metric learning: train the shared encoder so that a distance of encoded items solves
//! the task, from the same labelled pairs as [`fit`](crate::PairClassifier::fit).
//!
//! [`PairClassifier::fit_metric`] trains only the encoder with one of three
//! [`MetricLoss`]es (contrastive, triplet with in-batch negatives, multiple-negatives
//! ranking / InfoNCE); [`PairClassifier::calibrate_similarity`] then makes the logit the
//! one-number [`Similarity`](crate::Similarity) itself and fits the model's Platt
//! calibration on validation pairs, so one model both retrieves (by
//! [`encode`](crate::PairClassifier::encode) vectors) and classifies (by its calibrated
//! probability).
//!
//! Build the model with an encoder and, for the Euclidean losses, the combiner
//! `Similarity(NegSquaredL2)`; for InfoNCE, `Similarity(Cosine)`; a linear head
//! (`HeadConfig::Mlp(MlpConfig::linear())`). Every such model is exactly symmetric: the
//! encoder is shared and the combiner symmetric, whatever the loss.
//!
//! ```
//! use sympair::{
//!     ClusterTask, EncoderConfig, HeadConfig, MetricConfig, MetricLoss, MlpConfig,
//!     PairClassifier, Similarity,
//! };
//! let task = ClusterTask::new(8, 4)?;
//! let (train, valid) = (task.generate(400, 2)?, task.generate(200, 3)?);
//! let mut model = PairClassifier::builder(8, Similarity::NegSquaredL2)
//!     .encoder(EncoderConfig::new(MlpConfig::new([16])?, 4)?)
//!     .head(HeadConfig::Mlp(MlpConfig::linear()))
//!     .seed(1)
//!     .build()?;
//! let config = MetricConfig::new(MetricLoss::Contrastive { margin: 1.0 }).epochs(3)?;
//! let history = model.fit_metric(&train, &config)?;
//! assert_eq!(history.len(), 3);
//! model.calibrate_similarity(&valid)?;
//! # Ok::<(), sympair::Error>(())
//! ```

mod calibrate;
mod losses;

use ndarray::{Array2, Axis, s};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;

use crate::combiner::PairCombiner;
use crate::data::PairData;
use crate::error::{Error, Result};
use crate::model::PairClassifier;
use crate::optim::{OptState, Optimizer};

/// Largest batch: the encoder's gradient is formed as (sum over the `x` half) + (sum over
/// the `y` half), exact under swapping while a half fits one matrix-product block.
pub const MAX_METRIC_BATCH: usize = 256;

/// Which metric-learning loss trains the encoder (see the formulas in each variant).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MetricLoss {
    /// Contrastive loss (Hadsell, Chopra and LeCun, 2006) on the Euclidean distance `d` of
    /// the encoded pair: similar pairs pay `d^2 / 2`, dissimilar ones
    /// `max(0, margin - d)^2 / 2`.
    Contrastive {
        /// Distance beyond which a dissimilar pair costs nothing (> 0).
        margin: f32,
    },
    /// Triplet loss on squared Euclidean distances with in-batch negatives: each similar
    /// pair `(a, p)` is an anchor and its positive, every other pair's item in the batch a
    /// negative `n`; cost `max(0, margin + |a - p|^2 - |a - n|^2)`, both directions.
    Triplet {
        /// Required gap between negative and positive squared distances (> 0).
        margin: f32,
    },
    /// Multiple-negatives ranking (InfoNCE) loss on cosine similarities with in-batch
    /// negatives, as sentence-transformers' `MultipleNegativesRankingLoss`: each similar
    /// pair must pick out its partner among the batch's items by a softmax over
    /// `cos / temperature`, both directions.
    InfoNce {
        /// Softmax temperature (> 0); sentence-transformers' default scale 20 is 0.05.
        temperature: f32,
    },
}

impl MetricLoss {
    fn check(&self) -> Result<()> {
        let (field, v) = match *self {
            MetricLoss::Contrastive { margin } | MetricLoss::Triplet { margin } => {
                ("margin", margin)
            }
            MetricLoss::InfoNce { temperature } => ("temperature", temperature),
        };
        if !(v.is_finite() && v > 0.0) {
            return Err(Error::config(
                field,
                format!("must be finite and > 0, got {v}"),
            ));
        }
        Ok(())
    }

    /// Loss and gradients for the encoded batch `a, b` with `labels`.
    fn eval(
        &self,
        a: ndarray::ArrayView2<f32>,
        b: ndarray::ArrayView2<f32>,
        labels: &[f32],
    ) -> losses::LossGrad {
        match *self {
            MetricLoss::Contrastive { margin } => losses::contrastive(a, b, labels, margin),
            MetricLoss::Triplet { margin } => losses::triplet(a, b, labels, margin),
            MetricLoss::InfoNce { temperature } => losses::info_nce(a, b, labels, temperature),
        }
    }
}

/// Settings of [`PairClassifier::fit_metric`]; the setters check their values, so a
/// config is valid once built (the loss's own parameter is checked by `fit_metric`).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricConfig {
    loss: MetricLoss,
    epochs: usize,
    batch_size: usize,
    optimizer: Optimizer,
    seed: u64,
}

impl MetricConfig {
    /// `loss` with 20 epochs, batches of 128 pairs, Adam at `1e-3`, seed 0.
    pub fn new(loss: MetricLoss) -> Self {
        MetricConfig {
            loss,
            epochs: 20,
            batch_size: 128,
            optimizer: Optimizer::adam(1e-3),
            seed: 0,
        }
    }

    /// Passes over the training pairs (at least 1).
    pub fn epochs(mut self, epochs: usize) -> Result<Self> {
        if epochs == 0 {
            return Err(Error::config("epochs", "must be at least 1"));
        }
        self.epochs = epochs;
        Ok(self)
    }

    /// Pairs per batch, 2 to [`MAX_METRIC_BATCH`]. In-batch losses see more negatives in
    /// larger batches.
    pub fn batch_size(mut self, batch_size: usize) -> Result<Self> {
        if !(2..=MAX_METRIC_BATCH).contains(&batch_size) {
            return Err(Error::config(
                "batch_size",
                format!("must be in 2..={MAX_METRIC_BATCH}, got {batch_size}"),
            ));
        }
        self.batch_size = batch_size;
        Ok(self)
    }

    /// The optimizer (checked here).
    pub fn optimizer(mut self, optimizer: Optimizer) -> Result<Self> {
        optimizer.check()?;
        self.optimizer = optimizer;
        Ok(self)
    }

    /// Seed of the batch order.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The loss.
    pub fn loss(&self) -> &MetricLoss {
        &self.loss
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Trains the shared encoder alone with a metric-learning loss on the labelled pairs
    /// `train`; the head is left as it is (fit it afterwards with
    /// [`calibrate_similarity`](Self::calibrate_similarity)). Returns the mean training
    /// loss of each epoch.
    ///
    /// Deterministic: the same seed, data and model give the same weights bit for bit, on
    /// any number of threads (the batch arithmetic runs on the calling thread).
    ///
    /// Errors: [`Error::Unsupported`] for a model without an encoder;
    /// [`Error::WidthMismatch`] for data of another width; [`Error::InvalidConfig`] for a
    /// margin or temperature that is not finite and positive; [`Error::Diverged`] when the
    /// loss or a weight becomes non-finite (the weights are then those of the failed step).
    pub fn fit_metric(&mut self, train: &dyn PairData, config: &MetricConfig) -> Result<Vec<f64>> {
        config.loss.check()?;
        self.check_data(train, "train")?;
        let d = self.input_dim();
        let enc = self.encoder_mut().ok_or_else(|| {
            Error::Unsupported("metric training needs a model with an encoder".into())
        })?;
        let n = train.len();
        let bs = config.batch_size.min(n);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let mut order: Vec<usize> = (0..n).collect();
        let mut opt = OptState::new(config.optimizer.clone(), 0.0);
        let mut ws = enc.work(2 * bs);
        let mut grads = enc.zero_grads();
        let mut inp = Array2::<f32>::zeros((2 * bs, d));
        let all_labels = train.labels();
        let mut history = Vec::with_capacity(config.epochs);
        for epoch in 0..config.epochs {
            order.shuffle(&mut rng);
            let mut total = 0.0f64;
            for (batch, idx) in order.chunks(bs).enumerate() {
                let k = idx.len();
                {
                    let (x, rest) = inp.view_mut().split_at(Axis(0), k);
                    let (y, _) = rest.split_at(Axis(0), k);
                    train.try_gather(idx, x, y)?;
                }
                let labels: Vec<f32> = idx.iter().map(|&i| all_labels[i]).collect();
                let input = inp.slice(s![..2 * k, ..]);
                enc.forward(input, &mut ws);
                let lg = {
                    let out = ws.output(2 * k);
                    config
                        .loss
                        .eval(out.slice(s![..k, ..]), out.slice(s![k..2 * k, ..]), &labels)
                };
                if !lg.loss.is_finite() {
                    return Err(Error::Diverged {
                        epoch,
                        batch,
                        what: format!("metric loss is {}", lg.loss),
                    });
                }
                total += lg.loss * k as f64;
                {
                    let mut d_out = ws.d_output_mut(2 * k);
                    d_out.slice_mut(s![..k, ..]).assign(&lg.da);
                    d_out.slice_mut(s![k.., ..]).assign(&lg.db);
                }
                enc.backward(input, &mut ws, &mut grads, None, true);
                if !opt.step_scaled(1.0, None, |f| enc.visit_params(Some(&grads), f)) {
                    return Err(Error::Diverged {
                        epoch,
                        batch,
                        what: "an encoder weight".into(),
                    });
                }
            }
            history.push(total / n as f64);
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests;
