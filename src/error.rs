//! The crate-wide error type.
//!
//! Every fallible function in `sympair` returns [`Result<T>`](Result), whose error is the
//! single [`Error`] enum. Each variant names what was wrong and where: the row and column
//! of a bad value, the field of a bad setting, the epoch and batch of a divergence.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sympair`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two inputs that must have the same number of rows do not.
    #[error("row count mismatch: {what} has {found} rows, expected {expected}")]
    RowMismatch {
        /// Which input is wrong.
        what: &'static str,
        /// Rows expected.
        expected: usize,
        /// Rows found.
        found: usize,
    },
    /// An input has the wrong width (number of columns or length).
    #[error("width mismatch: {what} has width {found}, expected {expected}")]
    WidthMismatch {
        /// Which input is wrong.
        what: &'static str,
        /// Width expected.
        expected: usize,
        /// Width found.
        found: usize,
    },
    /// An input that must not be empty is.
    #[error("empty input: {what}")]
    Empty {
        /// Which input is empty.
        what: &'static str,
    },
    /// A value is NaN or infinite.
    #[error("non-finite value {value} in {what} at row {row}, column {col}")]
    NonFinite {
        /// Which input holds the value.
        what: &'static str,
        /// Row (0-based) of the value.
        row: usize,
        /// Column (0-based) of the value.
        col: usize,
        /// The value itself.
        value: f32,
    },
    /// Finite inputs gave a non-finite logit: the model's `f32` arithmetic overflowed
    /// (for example `Product` on values near `1e20`). Prediction never returns such a
    /// logit; scale the inputs down.
    #[error(
        "non-finite logit {value} at pair row {row}: the inputs are finite but too large for this model's f32 arithmetic"
    )]
    NonFiniteLogit {
        /// Row (0-based) of the first pair whose logit is not finite.
        row: usize,
        /// The logit.
        value: f32,
    },
    /// A label is not exactly 0 or 1.
    #[error("invalid label {value} at row {row}: labels must be 0 or 1")]
    InvalidLabel {
        /// Row (0-based) of the label.
        row: usize,
        /// The label as given.
        value: f64,
    },
    /// A metric is undefined for the data given (for example ROC AUC with one class only).
    #[error("{metric} is undefined: {reason}")]
    Undefined {
        /// The metric.
        metric: &'static str,
        /// Why it is undefined.
        reason: &'static str,
    },
    /// A configuration value is out of its valid range.
    #[error("invalid configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The setting at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A pair refers to an item id outside the item matrix.
    #[error("item id {id} out of range at pair row {row}: there are {n_items} items")]
    ItemOutOfRange {
        /// Row (0-based) of the pair.
        row: usize,
        /// The offending id.
        id: usize,
        /// Number of items available.
        n_items: usize,
    },
    /// The same unordered pair appears twice with different labels.
    #[error(
        "conflicting labels for pair ({i}, {j}): row {first_row} says {first_label}, row {second_row} says {second_label}"
    )]
    ConflictingLabels {
        /// Smaller item id of the pair.
        i: usize,
        /// Larger item id of the pair.
        j: usize,
        /// Row of the first occurrence.
        first_row: usize,
        /// Label at the first occurrence.
        first_label: f32,
        /// Row of the conflicting occurrence.
        second_row: usize,
        /// Label at the conflicting occurrence.
        second_label: f32,
    },
    /// Training produced a non-finite loss or weight; the model keeps its last finite weights.
    #[error("training diverged at epoch {epoch}, batch {batch}: {what}")]
    Diverged {
        /// Epoch (0-based).
        epoch: usize,
        /// Batch within the epoch (0-based).
        batch: usize,
        /// What became non-finite.
        what: String,
    },
    /// An array that a configuration asks for cannot be allocated (the request would
    /// abort the process if it were made the usual way).
    #[error("{what} needs {bytes} bytes, more than can be allocated")]
    TooLarge {
        /// What was to be allocated, with its shape (for example `head layer 0 weight
        /// (1048576 x 1073741824)`).
        what: String,
        /// Bytes requested.
        bytes: u128,
    },
    /// No decision threshold reaches a target (such as a precision) on the data given.
    #[error("no threshold reaches {what} {target} on these pairs; the highest is {best}")]
    Unreachable {
        /// The quantity targeted, e.g. `"precision"`.
        what: &'static str,
        /// The target asked for.
        target: f64,
        /// The highest value any threshold reaches.
        best: f64,
    },
    /// A combination of parts that cannot work together.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A text input (CSV) could not be parsed.
    #[error("parse error at line {line}: {reason}")]
    Parse {
        /// Line number (1-based, header included).
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A saved model or data file is malformed, truncated or inconsistent.
    #[error("invalid file format: {0}")]
    Format(String),
    /// A saved model was written by an incompatible format version.
    #[error("unsupported model format version {found}; this build reads version {expected}")]
    Version {
        /// Version found in the file.
        found: u64,
        /// Version this build reads and writes.
        expected: u64,
    },
    /// An I/O operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
