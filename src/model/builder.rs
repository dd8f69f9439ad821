//! Building a classifier: the builder, the encoder's shape, and which parts fit together.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::PairClassifier;
use crate::combiner::PairCombiner;
use crate::error::{Error, Result};
use crate::head::{Head, HeadConfig};
use crate::mlp::{Mlp, MlpConfig};

/// Shape of the optional shared encoder `phi`: an MLP applied to each item with the same
/// weights before the combiner.
///
/// Useful identities: a linear encoder (`EncoderConfig::linear(k)`) followed by
/// [`Product`](crate::combiner::Product) and a linear head is a rank-`k` symmetric bilinear form
/// `sum_k w_k (u_k . x)(u_k . y)`; an encoder followed by [`AbsDiff`](crate::combiner::AbsDiff) is the
/// classic siamese L1 network; followed by [`SquaredDiff`](crate::combiner::SquaredDiff) and the
/// distance head it is a learned metric, `P(similar) = exp(-|phi(x) - phi(y)|^2)`.
///
/// Deserialising checks the same rules as [`EncoderConfig::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawEncoderConfig")]
pub struct EncoderConfig {
    mlp: MlpConfig,
    output_dim: usize,
}

/// The serde form of [`EncoderConfig`] before its check.
#[derive(Deserialize)]
struct RawEncoderConfig {
    mlp: MlpConfig,
    output_dim: usize,
}

impl TryFrom<RawEncoderConfig> for EncoderConfig {
    type Error = Error;
    fn try_from(raw: RawEncoderConfig) -> Result<Self> {
        EncoderConfig::new(raw.mlp, raw.output_dim)
    }
}

impl EncoderConfig {
    /// An encoder with the given hidden layers and output width (at least 1).
    pub fn new(mlp: MlpConfig, output_dim: usize) -> Result<Self> {
        if output_dim == 0 {
            return Err(Error::config("encoder output_dim", "must be at least 1"));
        }
        Ok(EncoderConfig { mlp, output_dim })
    }

    /// A linear encoder `phi(x) = x U + b` with `output_dim` outputs.
    pub fn linear(output_dim: usize) -> Result<Self> {
        Self::new(MlpConfig::linear(), output_dim)
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// The encoder's MLP shape.
    pub fn mlp(&self) -> &MlpConfig {
        &self.mlp
    }
}

/// Builder for [`PairClassifier`]; see [`PairClassifier::builder`].
#[derive(Clone, Debug)]
pub struct PairClassifierBuilder<C> {
    input_dim: usize,
    combiner: C,
    encoder: Option<EncoderConfig>,
    head: HeadConfig,
    seed: u64,
}

impl<C: PairCombiner> PairClassifierBuilder<C> {
    pub(super) fn new(input_dim: usize, combiner: C) -> Self {
        PairClassifierBuilder {
            input_dim,
            combiner,
            encoder: None,
            head: HeadConfig::default(),
            seed: 0,
        }
    }

    /// Adds a shared encoder `phi` before the combiner (default: none).
    pub fn encoder(mut self, encoder: EncoderConfig) -> Self {
        self.encoder = Some(encoder);
        self
    }

    /// Sets the head (default: [`HeadConfig::default`], an MLP with one hidden layer of 64, ReLU).
    pub fn head(mut self, head: HeadConfig) -> Self {
        self.head = head;
        self
    }

    /// Shorthand for `head(HeadConfig::Mlp(mlp))`.
    pub fn mlp_head(self, mlp: MlpConfig) -> Self {
        self.head(HeadConfig::Mlp(mlp))
    }

    /// Seed of the weight initialisation (default 0). Same seed, same weights.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds and initialises the classifier. Errors: `input_dim` 0 or above 2^24, a combiner that
    /// makes no output or no view, or a distance head on a combiner whose output can be
    /// negative.
    pub fn build(self) -> Result<PairClassifier<C>> {
        if self.input_dim == 0 {
            return Err(Error::config("input_dim", "must be at least 1"));
        }
        // The cap `load` applies to every saved model: what builds also loads.
        if self.input_dim > crate::alloc::MAX_WIDTH {
            return Err(Error::config(
                "input_dim",
                format!(
                    "is {}, more than the largest supported width {}",
                    self.input_dim,
                    crate::alloc::MAX_WIDTH
                ),
            ));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let encoder = match &self.encoder {
            Some(cfg) => Some(Mlp::init(
                &cfg.mlp,
                self.input_dim,
                cfg.output_dim,
                &mut rng,
            )?),
            None => None,
        };
        let d_enc = encoder.as_ref().map_or(self.input_dim, Mlp::output_dim);
        let kind = match self.head {
            HeadConfig::Mlp(_) => HeadKind::Mlp,
            HeadConfig::Distance { .. } => HeadKind::Distance,
        };
        check_combiner(&self.combiner, d_enc, kind)?;
        let head = Head::init(&self.head, self.combiner.output_dim(d_enc), &mut rng)?;
        Ok(PairClassifier {
            input_dim: self.input_dim,
            combiner: self.combiner,
            encoder,
            head,
            decision: crate::decision::Decision::default(),
        })
    }
}

/// Which kind of head a combiner must feed.
#[derive(Clone, Copy)]
pub(super) enum HeadKind {
    Mlp,
    Distance,
}

impl HeadKind {
    pub(super) fn of(head: &Head) -> Self {
        match head {
            Head::Mlp(_) => HeadKind::Mlp,
            Head::Distance(_) => HeadKind::Distance,
        }
    }
}

/// Whether `combiner` on items of width `d_enc` can feed a head of kind `head`.
pub(super) fn check_combiner<C: PairCombiner>(
    combiner: &C,
    d_enc: usize,
    head: HeadKind,
) -> Result<()> {
    if combiner.n_views() == 0 {
        return Err(Error::Unsupported(format!(
            "combiner {} makes no views",
            combiner.name()
        )));
    }
    if combiner.output_dim(d_enc) == 0 {
        return Err(Error::Unsupported(format!(
            "combiner {} makes rows of width 0",
            combiner.name()
        )));
    }
    if matches!(head, HeadKind::Distance) && !combiner.output_is_nonnegative() {
        return Err(Error::Unsupported(format!(
            "the distance head needs a non-negative combiner (squared_diff, abs_diff), not {}",
            combiner.name()
        )));
    }
    Ok(())
}
