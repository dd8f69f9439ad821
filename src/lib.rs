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
//! The pieces: a [`PairCombiner`] (see the [`combiner`] module for the table of built-ins)
//! turns two embeddings into one feature row; an optional shared encoder ([`EncoderConfig`])
//! runs before it; a head ([`HeadConfig`]) turns the row into a logit; [`TrainConfig`]
//! drives training by binary cross-entropy from logits.
#![deny(missing_docs)]
#![deny(unsafe_code)]

// The README's code blocks run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod activation;
mod atomic;
pub mod combiner;
pub mod data;
pub mod error;
pub mod eval;
pub mod head;
pub mod ids;
pub mod indexed;
pub mod io;
pub mod loss;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod optim;
pub mod parallel;
pub mod scoring;
pub mod source;
pub mod synth;
pub mod train;

pub use activation::{Activation, LEAKY_RELU_SLOPE};
pub use combiner::{
    AbsDiff, Combiner, Concat, ConcatSwapAverage, LinearDecomposition, Max, PairCombiner, Product,
    Similarity, SquaredDiff, Stack, Sum,
};
pub use data::{PairData, PairDataset};
pub use error::{Error, Result};
pub use eval::{
    AsymmetryReport, EvalRow, EvalTable, Evaluation, ThresholdReport, asymmetry, evaluate,
};
pub use head::{DistanceHead, Head, HeadConfig};
pub use ids::IdScorer;
pub use indexed::{ItemPairs, SplitReport};
pub use loss::{bce_with_logits, bce_with_logits_grad, sigmoid};
pub use mlp::{Mlp, MlpConfig};
pub use model::{EncoderConfig, FORMAT_VERSION, PairClassifier, PairClassifierBuilder};
pub use optim::Optimizer;
pub use parallel::{MAX_THREADS, TRAIN_SLICE, num_threads, set_num_threads};
pub use source::{CheckedPairs, PairSource};
pub use synth::ClusterTask;
pub use train::{Control, EpochStats, History, TrainConfig, TrainObserver};
