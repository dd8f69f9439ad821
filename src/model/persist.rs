//! Saved models: a JSON envelope `{format, version, model}`, written atomically.
//!
//! Reading goes through the same validation as deserialising a [`PairClassifier`] with
//! serde directly (`#[serde(try_from = ...)]` on the struct), so no path from bytes to a
//! model skips the checks; this file only adds the envelope and typed errors.
//!
//! The envelope may also carry the optimizer's state (`optimizer_state`, written only by
//! [`save_with_state`](PairClassifier::save_with_state)) so that training can resume from a
//! file. The field is optional, so format-1 files without it load unchanged, and readers
//! that ignore it (plain [`load`](PairClassifier::load)) still read the model.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{PairClassifier, RawClassifier};
use crate::combiner::{Combiner, PairCombiner};
use crate::error::{Error, Result};
use crate::optim::OptimizerState;

/// Format name written into saved models.
const FORMAT_NAME: &str = "sympair";
/// Version of the saved-model format this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

#[derive(Serialize)]
struct EnvelopeOut<'a, C> {
    format: &'a str,
    version: u64,
    model: &'a PairClassifier<C>,
    #[serde(skip_serializing_if = "Option::is_none")]
    optimizer_state: Option<&'a OptimizerState>,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u64,
    model: serde_json::Value,
    #[serde(default)]
    optimizer_state: Option<serde_json::Value>,
}

impl<C: PairCombiner + Serialize> PairClassifier<C> {
    /// The model as JSON bytes with a format name and version.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        self.envelope_bytes(None)
    }

    /// [`to_json_bytes`](Self::to_json_bytes) with the optimizer's state inside, for
    /// [`from_json_bytes_with_state`](PairClassifier::from_json_bytes_with_state).
    /// Errors: [`Error::Format`] if `state` does not fit this model's parameters.
    pub fn to_json_bytes_with_state(&self, state: &OptimizerState) -> Result<Vec<u8>> {
        state.check_fits(&self.param_shapes())?;
        self.envelope_bytes(Some(state))
    }

    fn envelope_bytes(&self, optimizer_state: Option<&OptimizerState>) -> Result<Vec<u8>> {
        serde_json::to_vec(&EnvelopeOut {
            format: FORMAT_NAME,
            version: FORMAT_VERSION,
            model: self,
            optimizer_state,
        })
        .map_err(|e| Error::Format(e.to_string()))
    }

    /// Saves the model as JSON, atomically: the bytes go to a temporary file in the same
    /// folder, which is synced and then renamed over `path`. An interrupted save leaves
    /// any previous file at `path` intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_json_bytes()?;
        crate::atomic::atomic_write(path.as_ref(), |w| w.write_all(&bytes))
    }

    /// [`save`](Self::save) with the optimizer's state (Adam's moments and step count)
    /// inside the file, so that [`load_with_state`](PairClassifier::load_with_state) and
    /// [`fit_warm`](Self::fit_warm) resume training where it stopped. Atomic like `save`.
    ///
    /// ```
    /// use sympair::{ClusterTask, Combiner, OptimizerState, PairClassifier, TrainConfig};
    /// let path = std::env::temp_dir().join(format!("sympair-doc-ckpt-{}.json", std::process::id()));
    /// let data = ClusterTask::new(4, 3)?.generate(200, 1)?;
    /// let cfg = TrainConfig::new().with_epochs(2);
    /// let mut model = PairClassifier::builder(4, Combiner::AbsDiff).build()?;
    /// let mut state = OptimizerState::new();
    /// model.fit_warm(&data, None, &cfg, &mut state)?;
    /// model.save_with_state(&path, &state)?;
    ///
    /// // Later, perhaps in another process: resume with Adam's moments intact.
    /// let (mut model, mut state) = PairClassifier::load_with_state(&path)?;
    /// assert_eq!(state.steps(), 8);
    /// model.fit_warm(&data, None, &cfg, &mut state)?;
    /// assert_eq!(state.steps(), 16);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), sympair::Error>(())
    /// ```
    ///
    /// Errors: [`Error::Format`] if `state` does not fit this model's parameters (it was
    /// kept for another model), [`Error::Io`].
    pub fn save_with_state(&self, path: impl AsRef<Path>, state: &OptimizerState) -> Result<()> {
        let bytes = self.to_json_bytes_with_state(state)?;
        crate::atomic::atomic_write(path.as_ref(), |w| w.write_all(&bytes))
    }
}

/// Loading models with the built-in [`Combiner`]: no type annotation needed.
///
/// ```
/// use sympair::{Combiner, PairClassifier};
/// let path = std::env::temp_dir().join(format!("sympair-doc-load-{}.json", std::process::id()));
/// PairClassifier::builder(4, Combiner::Product).build()?.save(&path)?;
///
/// let model = PairClassifier::load(&path)?; // a PairClassifier<Combiner>
/// assert_eq!(model.input_dim(), 4);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), sympair::Error>(())
/// ```
///
/// A model with a combiner type of your own loads with [`load_as`](Self::load_as).
impl PairClassifier<Combiner> {
    /// Loads a model saved by [`save`](Self::save). Errors as
    /// [`from_json_bytes`](Self::from_json_bytes), plus [`Error::Io`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_as(path)
    }

    /// Reads a model from JSON bytes written by [`to_json_bytes`](Self::to_json_bytes).
    /// Malformed, truncated or inconsistent input gives [`Error::Format`], another format
    /// version [`Error::Version`]; never a panic.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_json_bytes_as(bytes)
    }

    /// [`load`](Self::load) for a classifier whose combiner is of type `C` (one of your
    /// own, or a single built-in such as [`Stack`](crate::combiner::Stack)):
    /// `PairClassifier::load_as::<MyCombiner>(path)`.
    pub fn load_as<C: PairCombiner + DeserializeOwned>(
        path: impl AsRef<Path>,
    ) -> Result<PairClassifier<C>> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_bytes_as(&bytes)
    }

    /// [`from_json_bytes`](Self::from_json_bytes) for a classifier whose combiner is of
    /// type `C`.
    pub fn from_json_bytes_as<C: PairCombiner + DeserializeOwned>(
        bytes: &[u8],
    ) -> Result<PairClassifier<C>> {
        Ok(read_envelope(bytes)?.0)
    }

    /// Loads a model and the optimizer state saved with it by
    /// [`save_with_state`](Self::save_with_state); a file saved without one gives an
    /// empty state (the next warm fit starts the optimizer afresh). Errors as
    /// [`load`](Self::load); a state that does not fit the model's parameters, or holds
    /// non-finite or negative moments, is an [`Error::Format`].
    pub fn load_with_state(path: impl AsRef<Path>) -> Result<(Self, OptimizerState)> {
        Self::load_with_state_as(path)
    }

    /// [`load_with_state`](Self::load_with_state) for a combiner type of your own.
    pub fn load_with_state_as<C: PairCombiner + DeserializeOwned>(
        path: impl AsRef<Path>,
    ) -> Result<(PairClassifier<C>, OptimizerState)> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_bytes_with_state_as(&bytes)
    }

    /// [`load_with_state`](Self::load_with_state) from bytes written by
    /// [`to_json_bytes_with_state`](Self::to_json_bytes_with_state) (or
    /// [`to_json_bytes`](Self::to_json_bytes): empty state).
    pub fn from_json_bytes_with_state(bytes: &[u8]) -> Result<(Self, OptimizerState)> {
        Self::from_json_bytes_with_state_as(bytes)
    }

    /// [`from_json_bytes_with_state`](Self::from_json_bytes_with_state) for a combiner
    /// type of your own.
    pub fn from_json_bytes_with_state_as<C: PairCombiner + DeserializeOwned>(
        bytes: &[u8],
    ) -> Result<(PairClassifier<C>, OptimizerState)> {
        let (model, state) = read_envelope::<C>(bytes)?;
        let state = match state {
            None => OptimizerState::new(),
            Some(v) => {
                let state: OptimizerState = serde_json::from_value(v)
                    .map_err(|e| Error::Format(format!("optimizer_state: {e}")))?;
                state.check_fits(&model.param_shapes())?;
                state
            }
        };
        Ok((model, state))
    }
}

/// The checked model of an envelope, and its optimizer state still unread (plain loads
/// never parse it).
fn read_envelope<C: PairCombiner + DeserializeOwned>(
    bytes: &[u8],
) -> Result<(PairClassifier<C>, Option<serde_json::Value>)> {
    let env: EnvelopeIn =
        serde_json::from_slice(bytes).map_err(|e| Error::Format(e.to_string()))?;
    if env.format != FORMAT_NAME {
        return Err(Error::Format(format!(
            "not a sympair model (format {:?})",
            env.format
        )));
    }
    if env.version != FORMAT_VERSION {
        return Err(Error::Version {
            found: env.version,
            expected: FORMAT_VERSION,
        });
    }
    // Through the raw form, so that a failed check keeps its own typed error.
    let raw: RawClassifier<C> =
        serde_json::from_value(env.model).map_err(|e| Error::Format(e.to_string()))?;
    Ok((PairClassifier::try_from(raw)?, env.optimizer_state))
}
