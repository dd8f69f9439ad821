//! An ensemble of pair classifiers averaged in logit space: `logit = (1/k) sum_j logit_j`,
//! members summed in their fixed order, so an ensemble of symmetric members is exactly
//! symmetric and deterministic. Built by [`cross_validate`](super::cross_validate) with
//! [`SelectConfig::with_ensemble`](super::SelectConfig::with_ensemble) (refits of the
//! chosen candidate with different seeds), or from any models by [`Ensemble::new`].

use std::path::Path;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::combiner::Combiner;
use crate::data::PairData;
use crate::error::{Error, Result};
use crate::model::PairClassifier;

/// Format name in a saved ensemble's envelope.
const FORMAT_NAME: &str = "sympair-ensemble";
/// Version of the saved-ensemble envelope.
const FORMAT_VERSION: u64 = 1;

/// Pair classifiers of the same item width whose logits are averaged.
///
/// ```
/// use ndarray::array;
/// use sympair::select::Ensemble;
/// use sympair::{Combiner, PairClassifier};
/// let members = (0..3)
///     .map(|s| PairClassifier::builder(2, Combiner::AbsDiff).seed(s).build())
///     .collect::<Result<Vec<_>, _>>()?;
/// let ens = Ensemble::new(members)?;
/// let (x, y) = (array![[0.5f32, -1.0]], array![[2.0f32, 0.25]]);
/// let xy = ens.predict_logits(x.view(), y.view())?;
/// assert_eq!(xy, ens.predict_logits(y.view(), x.view())?); // exactly symmetric
/// let back = Ensemble::from_json_bytes(&ens.to_json_bytes()?)?;
/// assert_eq!(back, ens);
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEnsemble")]
pub struct Ensemble {
    members: Vec<PairClassifier<Combiner>>,
}

/// The serde form of [`Ensemble`] before [`Ensemble::new`]'s checks (each member checks
/// itself while deserialising).
#[derive(Deserialize)]
struct RawEnsemble {
    members: Vec<PairClassifier<Combiner>>,
}

impl TryFrom<RawEnsemble> for Ensemble {
    type Error = Error;
    fn try_from(raw: RawEnsemble) -> Result<Self> {
        Ensemble::new(raw.members)
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    format: &'static str,
    version: u64,
    ensemble: &'a Ensemble,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u64,
    ensemble: serde_json::Value,
}

impl Ensemble {
    /// An ensemble of `members`. Errors: no member ([`Error::Empty`]), or members of
    /// different item widths ([`Error::InvalidConfig`], field `members`, naming the first
    /// that differs from member 0).
    pub fn new(members: Vec<PairClassifier<Combiner>>) -> Result<Self> {
        let Some(first) = members.first() else {
            return Err(Error::Empty {
                what: "ensemble (no member)",
            });
        };
        let d = first.input_dim();
        if let Some((j, m)) = members.iter().enumerate().find(|(_, m)| m.input_dim() != d) {
            return Err(Error::config(
                "members",
                format!(
                    "member {j} takes items of width {}, member 0 of width {d}",
                    m.input_dim()
                ),
            ));
        }
        Ok(Ensemble { members })
    }

    /// The members, in averaging order.
    pub fn members(&self) -> &[PairClassifier<Combiner>] {
        &self.members
    }

    /// Item width `d` the members expect.
    pub fn input_dim(&self) -> usize {
        self.members[0].input_dim()
    }

    /// Whether every member is symmetric (then so is the ensemble, bit for bit).
    pub fn is_symmetric(&self) -> bool {
        self.members.iter().all(|m| m.is_symmetric())
    }

    /// Mean of the members' logits (see [`PairClassifier::predict_logits`]; same errors).
    pub fn predict_logits(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        let mut sum = self.members[0].predict_logits(x, y)?;
        for m in &self.members[1..] {
            sum += &m.predict_logits(x, y)?;
        }
        Ok(sum * self.inv_k())
    }

    /// The sigmoid of [`predict_logits`](Self::predict_logits) (members' calibrations are
    /// not applied: the average is of raw logits).
    pub fn predict_proba(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self.predict_logits(x, y)?.mapv(crate::loss::sigmoid))
    }

    /// Mean of the members' logits for every pair of `data`, in order (see
    /// [`PairClassifier::logits_for`]; same errors).
    pub fn logits_for(&self, data: &dyn PairData) -> Result<Vec<f32>> {
        let mut sum = self.members[0].logits_for(data)?;
        for m in &self.members[1..] {
            for (s, z) in sum.iter_mut().zip(m.logits_for(data)?) {
                *s += z;
            }
        }
        let inv = self.inv_k();
        sum.iter_mut().for_each(|s| *s *= inv);
        Ok(sum)
    }

    fn inv_k(&self) -> f32 {
        1.0 / self.members.len() as f32
    }

    /// The ensemble as JSON bytes with a format name and version.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&EnvelopeOut {
            format: FORMAT_NAME,
            version: FORMAT_VERSION,
            ensemble: self,
        })
        .map_err(|e| Error::Format(e.to_string()))
    }

    /// Reads an ensemble written by [`to_json_bytes`](Self::to_json_bytes); every member
    /// is checked as [`PairClassifier::from_json_bytes`] checks a model. Malformed input
    /// gives [`Error::Format`], another version [`Error::Version`].
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self> {
        let env: EnvelopeIn =
            serde_json::from_slice(bytes).map_err(|e| Error::Format(e.to_string()))?;
        if env.format != FORMAT_NAME {
            return Err(Error::Format(format!(
                "not a sympair ensemble (format {:?})",
                env.format
            )));
        }
        if env.version != FORMAT_VERSION {
            return Err(Error::Version {
                found: env.version,
                expected: FORMAT_VERSION,
            });
        }
        let raw: RawEnsemble =
            serde_json::from_value(env.ensemble).map_err(|e| Error::Format(e.to_string()))?;
        Ensemble::try_from(raw)
    }

    /// Saves the ensemble as JSON, atomically (like [`PairClassifier::save`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_json_bytes()?;
        crate::atomic::atomic_write(path.as_ref(), |w| w.write_all(&bytes))
    }

    /// Loads an ensemble saved by [`save`](Self::save). Errors as
    /// [`from_json_bytes`](Self::from_json_bytes), plus [`Error::Io`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_bytes(&bytes)
    }
}
