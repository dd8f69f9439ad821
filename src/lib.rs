//! # sympair: symmetric pair classifiers
//!
//! Given fixed embeddings of items (say BERT vectors of texts) and pairs labelled
//! 1 = similar, 0 = not, `sympair` trains a classifier whose score does not depend on
//! the order of the pair: `f(x, y) == f(y, x)`, bit for bit.
//!
//! ```
//! use sympair::metrics::roc_auc;
//! use sympair::{ClusterTask, Combiner, PairClassifier, PairData, TrainConfig};
//!
//! // Items around 6 Gaussian centres in 16 dimensions; similar = same centre.
//! let task = ClusterTask::new(16, 6)?;
//! let (train, test) = (task.generate(2000, 1)?, task.generate(500, 2)?);
//!
//! let mut model = PairClassifier::builder(16, Combiner::AbsDiff).seed(1).build()?;
//! model.fit(&train, None, &TrainConfig::new().with_epochs(10))?;
//!
//! let logits = model.predict_logits(test.left(), test.right())?;
//! assert!(roc_auc(logits.as_slice().unwrap(), test.labels())? > 0.95);
//!
//! // The order of a pair never matters, bit for bit:
//! let swapped = model.predict_logits(test.right(), test.left())?;
//! assert_eq!(logits, swapped);
//! # Ok::<(), sympair::Error>(())
//! ```
//!
//! # Map
//!
//! | you want to | use |
//! |---|---|
//! | build a model | [`PairClassifier::builder`] with a [`Combiner`] (table in [`combiner`]), optionally an [`EncoderConfig`] and a [`HeadConfig`] ([`MlpConfig`]) |
//! | give it data | [`PairDataset`] (two matrices and labels), [`ItemPairs`] (items once, pairs by id; [`io`] reads files), or your own storage through [`PairSource`] |
//! | train it | [`PairClassifier::fit`] with a [`TrainConfig`] and an [`Optimizer`]; [`train`] has the history and observers |
//! | choose a configuration | [`select::cross_validate`]: item-grouped k-fold cross-validation ([`ItemPairs::item_folds`]) over a search space, then a refit on all training pairs |
//! | score pairs | [`PairClassifier::predict_proba`], [`PairClassifier::logits_for`]; unlabelled pairs by id with [`IdScorer`]; all pairs or top-k of many items in [`scoring`] |
//! | judge it | [`evaluate`] (ROC AUC, AP, thresholds, reliability, asymmetry; see [`eval`] and [`metrics`]) |
//! | decide | [`PairClassifier::calibrate`] ([`CalibrationMethod`]) and [`PairClassifier::set_threshold`] ([`ThresholdRule`]) on validation pairs, then [`PairClassifier::predict`]; see [`decision`] |
//! | keep it | [`PairClassifier::save`] and [`PairClassifier::load`] |
//! | test on synthetic data | [`ClusterTask`] |
//!
//! Everything else (the combiner structs, layers, losses, report types) lives in its module.
//!
//! # Threads
//!
//! Prediction, training and all-pairs scoring run on the [rayon] thread pool they are
//! called from: by default rayon's global pool (one thread per core), inside
//! `pool.install(|| ...)` the pool you choose, so a caller that already runs on a rayon
//! pool does not oversubscribe the cores. There is no global setting in this crate.
//!
//! ```
//! use sympair::{ClusterTask, Combiner, PairClassifier, TrainConfig};
//! let train = ClusterTask::new(8, 4)?.generate(600, 1)?;
//! let mut model = PairClassifier::builder(8, Combiner::AbsDiff).build()?;
//! let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
//! one_thread.install(|| model.fit(&train, None, &TrainConfig::new().with_epochs(2)))?;
//! # Ok::<(), sympair::Error>(())
//! ```
//!
//! Results never depend on the number of threads: a pair's logit depends only on the
//! pair, and training cuts each mini-batch into fixed slices of 32 pairs whose gradients
//! are summed in slice order, element by element. The same seed gives bit-identical
//! weights on 1 or 16 threads. These bitwise guarantees hold for one build on one
//! machine: ndarray's matrix products come from `matrixmultiply`, which picks its kernel
//! (AVX2/FMA, SSE2, ...) from the CPU at run time, so another CPU may round differently;
//! and a BLAS backend (not used by this crate) would give up the guarantees.
#![deny(missing_docs)]
#![deny(unsafe_code)]

// The README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod activation;
mod alloc;
mod atomic;
pub mod blocking;
pub mod calibration;
#[cfg(feature = "ann")]
pub mod candidates;
pub mod cluster;
pub mod combiner;
pub mod data;
pub mod decision;
pub mod error;
pub mod eval;
pub mod head;
pub mod ids;
pub mod indexed;
pub mod io;
pub mod loss;
pub mod metric;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod optim;
pub mod scoring;
pub mod select;
pub mod source;
pub mod synth;
pub mod threshold;
pub mod train;

// The types most programs need, at the root.
pub use calibration::CalibrationMethod;
pub use combiner::{Combiner, PairCombiner};
pub use data::{PairData, PairDataset};
pub use error::{Error, Result};
pub use eval::evaluate;
pub use head::HeadConfig;
pub use ids::IdScorer;
pub use indexed::ItemPairs;
pub use metric::{MetricConfig, MetricLoss};
pub use mlp::MlpConfig;
pub use model::{EncoderConfig, PairClassifier};
pub use optim::{Optimizer, OptimizerState};
pub use source::PairSource;
pub use synth::ClusterTask;
pub use threshold::ThresholdRule;
pub use train::TrainConfig;

// Version 0.1 re-exported every public item at the root. These paths still compile,
// but the documentation shows each item in its module only.
#[doc(hidden)]
pub use activation::{Activation, LEAKY_RELU_SLOPE};
#[doc(hidden)]
pub use combiner::{
    AbsDiff, Concat, ConcatSwapAverage, LinearDecomposition, Max, Product, Similarity, SquaredDiff,
    Stack, Sum,
};
#[doc(hidden)]
pub use eval::{AsymmetryReport, EvalRow, EvalTable, Evaluation, ThresholdReport, asymmetry};
#[doc(hidden)]
pub use head::{DistanceHead, Head};
#[doc(hidden)]
pub use indexed::{ItemFold, SplitReport};
#[doc(hidden)]
pub use loss::{bce_with_logits, bce_with_logits_grad, sigmoid};
#[doc(hidden)]
pub use mlp::Mlp;
#[doc(hidden)]
pub use model::{FORMAT_VERSION, PairClassifierBuilder};
#[doc(hidden)]
pub use source::CheckedPairs;
#[doc(hidden)]
pub use train::{Control, EpochStats, History, LrSchedule, Monitor, TrainObserver, TrainWarning};
