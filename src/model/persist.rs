//! Saved models: a JSON envelope `{format, version, model}`, written atomically.
//!
//! Reading goes through the same validation as deserialising a [`PairClassifier`] with
//! serde directly (`#[serde(try_from = ...)]` on the struct), so no path from bytes to a
//! model skips the checks; this file only adds the envelope and typed errors.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{PairClassifier, RawClassifier};
use crate::combiner::{Combiner, PairCombiner};
use crate::error::{Error, Result};

/// Format name written into saved models.
const FORMAT_NAME: &str = "sympair";
/// Version of the saved-model format this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

#[derive(Serialize)]
struct EnvelopeOut<'a, C> {
    format: &'a str,
    version: u64,
    model: &'a PairClassifier<C>,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u64,
    model: serde_json::Value,
}

impl<C: PairCombiner + Serialize> PairClassifier<C> {
    /// The model as JSON bytes with a format name and version.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&EnvelopeOut {
            format: FORMAT_NAME,
            version: FORMAT_VERSION,
            model: self,
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
        PairClassifier::try_from(raw)
    }
}
