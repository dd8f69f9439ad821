//! The pair classifier: optional shared encoder, combiner, head.
//!
//! For a batch of `n` pairs `x, y: (n, d)`:
//!
//! 1. encoder (optional, shared weights): `ex = phi(x)`, `ey = phi(y)`, `(n, e)`;
//! 2. combiner: `c = combine(ex, ey)`, `(views * n, w)`;
//! 3. head: one logit per row, `(views * n)`;
//! 4. mean over views: `logit_i = (1 / views) sum_v head(c[v * n + i])`, `(n)`.
//!
//! `predict_proba` applies the sigmoid (after the calibration, if one was fitted);
//! training never does (the loss works on logits).
//! With a symmetric combiner the logit of `(x, y)` and `(y, x)` agree bit for bit.

// Layout of this module (for maintainers):
//
// | file | concern | interface |
// |---|---|---|
// | `mod.rs` | the `PairClassifier` struct, its serde form and its validation | fields private to this module |
// | `builder.rs` | `PairClassifierBuilder`, `EncoderConfig`, which parts fit together | `build()` |
// | `forward.rs` | buffers (`Work`), the one forward path, backward | `work`, `forward_stacked`, `forward_encoded`, `backward_stacked` |
// | `params.rs` | gradients (`Grads`) and parameters as slices, flattening | `visit_params`, `flat_params`, `set_flat_params` |
// | `predict.rs` | batched, parallel prediction and its input/output checks | `predict_logits`, `logits_for`, ... |
// | `persist.rs` | the saved-model envelope, `save`/`load` | `to_json_bytes`, `from_json_bytes`, ... |
//
// Training (`train.rs`) and all-pairs scoring (`scoring.rs`) use the
// crate-internal methods of that table, never the fields.

use serde::{Deserialize, Serialize};

use crate::combiner::PairCombiner;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::mlp::Mlp;

mod builder;
mod encode;
mod forward;
mod params;
mod persist;
mod predict;

pub use builder::{EncoderConfig, PairClassifierBuilder};
pub(crate) use forward::{TrainDropout, Work};
pub(crate) use params::Grads;
pub use persist::FORMAT_VERSION;
pub(crate) use predict::PREDICT_CHUNK;

/// A symmetric (or, with [`Concat`](crate::combiner::Concat), deliberately asymmetric) pair
/// classifier. Build one with [`PairClassifier::builder`], train it with
/// [`fit`](PairClassifier::fit), score pairs with [`predict_proba`](PairClassifier::predict_proba).
///
/// ```
/// use ndarray::array;
/// use sympair::{Combiner, PairClassifier};
/// let model = PairClassifier::builder(3, Combiner::AbsDiff).seed(7).build()?;
/// let x = [0.1f32, -0.4, 2.0];
/// let y = [1.5f32, 0.3, -0.2];
/// // Exactly symmetric, bit for bit:
/// assert_eq!(model.predict_pair_logit(&x, &y)?, model.predict_pair_logit(&y, &x)?);
/// let p = model.predict_proba(array![[0.1f32, -0.4, 2.0]].view(), array![[1.5f32, 0.3, -0.2]].view())?;
/// assert!(p[0] > 0.0 && p[0] < 1.0);
/// # Ok::<(), sympair::Error>(())
/// ```
///
/// Deserialising (through [`from_json_bytes`](Self::from_json_bytes) or through serde
/// directly) checks the model: a file whose shapes do not fit together is an error, never
/// a model that panics later.
// Adding a field: add it here and to `RawClassifier` below, and check it in `validate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "RawClassifier<C>",
    bound(deserialize = "C: PairCombiner + Deserialize<'de>")
)]
pub struct PairClassifier<C = crate::Combiner> {
    input_dim: usize,
    combiner: C,
    encoder: Option<Mlp>,
    head: Head,
    /// Calibration and decision threshold (see [`crate::decision`]); absent from files
    /// that have none, so format-1 files without it load unchanged. `pub(crate)` for
    /// `decision.rs`: a `Decision` keeps its own invariants (its parts validate themselves).
    #[serde(default, skip_serializing_if = "crate::decision::Decision::is_empty")]
    pub(crate) decision: crate::decision::Decision,
}

/// The serde form of [`PairClassifier`] before validation: same fields, no guarantees.
#[derive(Deserialize)]
struct RawClassifier<C> {
    input_dim: usize,
    combiner: C,
    encoder: Option<Mlp>,
    head: Head,
    #[serde(default)]
    decision: crate::decision::Decision,
}

impl<C: PairCombiner> TryFrom<RawClassifier<C>> for PairClassifier<C> {
    type Error = Error;

    /// Checks a classifier that came from outside (a file) so that no later call can panic.
    fn try_from(raw: RawClassifier<C>) -> Result<Self> {
        let mut model = PairClassifier {
            input_dim: raw.input_dim,
            combiner: raw.combiner,
            encoder: raw.encoder,
            head: raw.head,
            decision: raw.decision,
        };
        model.validate()?;
        Ok(model)
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Starts building a classifier for items of width `input_dim` combined by `combiner`.
    pub fn builder(input_dim: usize, combiner: C) -> PairClassifierBuilder<C> {
        PairClassifierBuilder::new(input_dim, combiner)
    }

    /// Item width `d` the classifier expects.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The combiner.
    pub fn combiner(&self) -> &C {
        &self.combiner
    }

    /// The shared encoder, if any.
    pub fn encoder(&self) -> Option<&Mlp> {
        self.encoder.as_ref()
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Whether `f(x, y) == f(y, x)` holds exactly (the combiner is symmetric).
    pub fn is_symmetric(&self) -> bool {
        self.combiner.is_symmetric()
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        self.encoder.as_ref().map_or(0, Mlp::n_params) + self.head.n_params()
    }

    /// Width of an item after the encoder (the input width without one).
    pub(crate) fn encoded_dim(&self) -> usize {
        self.encoder
            .as_ref()
            .map_or(self.input_dim, Mlp::output_dim)
    }

    /// Checks a classifier that came from outside (a file) so that no later call can panic.
    fn validate(&mut self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(Error::Format("input_dim is 0".into()));
        }
        // `MAX_WIDTH` caps every item width read from a file, as it caps a distance head's
        // input: without an encoder no weight pins `input_dim` in front of a width-1
        // combiner (`Similarity`), and an encoder that wide (64 MiB per item) is
        // corruption, not an embedding model.
        crate::alloc::check_width("input_dim", self.input_dim)?;
        if let Some(enc) = self.encoder.as_mut() {
            enc.validate("encoder")?;
            if enc.input_dim() != self.input_dim {
                return Err(Error::Format(format!(
                    "encoder takes width {} but input_dim is {}",
                    enc.input_dim(),
                    self.input_dim
                )));
            }
        }
        let d_enc = self.encoded_dim();
        let kind = builder::HeadKind::of(&self.head);
        builder::check_combiner(&self.combiner, d_enc, kind)
            .map_err(|e| Error::Format(e.to_string()))?;
        self.head.validate(self.combiner.output_dim(d_enc))
    }

    /// Checks that a dataset's width matches the classifier.
    pub(crate) fn check_data(
        &self,
        data: &dyn crate::data::PairData,
        what: &'static str,
    ) -> Result<()> {
        if data.dim() != self.input_dim {
            return Err(Error::WidthMismatch {
                what,
                expected: self.input_dim,
                found: data.dim(),
            });
        }
        Ok(())
    }
}
