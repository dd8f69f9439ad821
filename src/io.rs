//! Reading and writing the files `sympair` works with: item embeddings, labelled pairs
//! and predicted probabilities.
//!
//! # Formats
//!
//! **Embeddings** (`.npy`, with the default cargo feature `npy`): a 2-D array as written by
//! `numpy.save`, one row per item, one column per embedding dimension. The dtype must be
//! `float32` or `float64` (either byte order); `float64` values are rounded to `f32`.
//! C order and Fortran order are both read; the array returned is always in standard
//! (row-major) layout. Every value must be finite and the array must have at least one
//! row and one column. See `read_embeddings_npy` and `write_embeddings_npy`.
//!
//! **Pairs** (CSV, UTF-8): a header line naming the columns, then one line per pair. The
//! columns `i` and `j` hold non-negative integer row numbers into the embedding matrix and
//! `label` is `0`, `1`, `0.0` or `1.0`; they may come in any order, and other columns (a
//! split, a source) are allowed and ignored. Whitespace around fields, blank lines, a
//! leading UTF-8 byte-order mark, `\r\n` line endings and quoted fields are accepted.
//! Files are read as a stream. See [`read_pairs_csv`] and [`parse_pairs_csv`], and
//! [`PairsCsv`] for other column names, keeping only the rows of one split, reading id
//! pairs without labels, or iterating over a large file row by row.
//!
//! ```text
//! i,j,label,split
//! 0,1,1,train
//! 0,2,0,test
//! ```
//!
//! **Predictions** (CSV): header `i,j,probability`, then one line per pair, with the
//! probability printed in the shortest form that reads back to the same `f32`. See
//! [`write_predictions_csv`], [`write_predictions_csv_from`] (rows from an iterator) and
//! [`PredictionsWriter`] (any writer).
//!
//! Every file is written atomically: to a temporary file beside the target, synced, then
//! renamed over it, so a crash never leaves a half-written file behind.
//!
//! # Errors
//!
//! CSV problems are [`Error::Parse`] with the 1-based line number (the header is line 1)
//! and a reason naming the column and the offending text. `.npy` problems are
//! [`Error::Format`] (wrong dtype, wrong number of dimensions, truncated file),
//! [`Error::NonFinite`] or [`Error::Empty`]. Failing reads and writes are [`Error::Io`].
//!
//! # Example
//!
//! ```
//! use sympair::io::{parse_pairs_csv, read_pairs_csv, write_predictions_csv, PairRow};
//!
//! let pairs = parse_pairs_csv("i,j,label\n0,1,1\n2, 0 ,0.0\n")?;
//! assert_eq!(pairs[1], PairRow { i: 2, j: 0, label: 0.0 });
//!
//! let dir = std::env::temp_dir().join(format!("sympair-io-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("pairs.csv"), "i,j,label\r\n0,1,1\r\n").unwrap();
//! assert_eq!(read_pairs_csv(dir.join("pairs.csv"))?.len(), 1);
//!
//! let out = dir.join("predictions.csv");
//! write_predictions_csv(&out, &[(0, 1), (2, 0)], &[0.75, 0.125])?;
//! let text = std::fs::read_to_string(&out).unwrap();
//! assert_eq!(text, "i,j,probability\n0,1,0.75\n2,0,0.125\n");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), sympair::Error>(())
//! ```

use std::io::Write;
use std::path::Path;

#[cfg(feature = "npy")]
use ndarray::{Array2, ArrayView2};

use crate::atomic::atomic_write;
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// Embeddings (.npy)
// ---------------------------------------------------------------------------------------

/// Reads a 2-D embedding matrix from a `.npy` file written by `numpy.save`.
///
/// Accepted dtypes are `float32` and `float64` (little or big endian), in C or Fortran
/// order. `float64` values are rounded to the nearest `f32`; a finite `float64` too large
/// for `f32` is an error rather than a silent infinity. The result is in standard
/// (row-major) layout whatever the file's order.
///
/// # Errors
///
/// - [`Error::Io`] if the file cannot be read.
/// - [`Error::Format`] if it is not a valid `.npy` file, is not 2-D, has another dtype,
///   or holds a `float64` value that overflows `f32`; the message names what was found.
/// - [`Error::Empty`] (`what: "embeddings"`) if it has no rows or no columns.
/// - [`Error::NonFinite`] (`what: "embeddings"`) for the first NaN or infinity in
///   row-major order, with its 0-based row and column.
///
/// # Example
///
/// ```
/// use ndarray::array;
/// use sympair::io::{read_embeddings_npy, write_embeddings_npy};
///
/// let path = std::env::temp_dir().join(format!("sympair-npy-doc-{}.npy", std::process::id()));
/// let emb = array![[0.5f32, -1.0, 2.0], [3.0, 4.0, 5.25]];
/// write_embeddings_npy(&path, emb.view())?;
/// assert_eq!(read_embeddings_npy(&path)?, emb);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), sympair::Error>(())
/// ```
#[cfg(feature = "npy")]
pub fn read_embeddings_npy(path: impl AsRef<Path>) -> Result<Array2<f32>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    npy::decode(&bytes).map_err(|e| match e {
        Error::Format(msg) => Error::Format(format!("{}: {msg}", path.display())),
        other => other,
    })
}

/// Writes an embedding matrix as a `.npy` file that `numpy.load` reads as `float32`.
///
/// The file is written atomically (temporary file, sync, rename). Standard-layout views
/// are written in C order, transposed-contiguous views in Fortran order, anything else
/// element by element in C order. Values are written as they are: a matrix with NaN,
/// infinities or no rows is written, but [`read_embeddings_npy`] will refuse it.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be created, written, synced or renamed.
///
/// # Example
///
/// ```
/// use ndarray::Array2;
/// use sympair::io::{read_embeddings_npy, write_embeddings_npy};
///
/// let path = std::env::temp_dir().join(format!("sympair-npy-doc2-{}.npy", std::process::id()));
/// let emb = Array2::from_shape_fn((4, 2), |(r, c)| (r * 2 + c) as f32);
/// write_embeddings_npy(&path, emb.t())?; // a Fortran-order view is fine
/// assert_eq!(read_embeddings_npy(&path)?, emb.t());
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), sympair::Error>(())
/// ```
#[cfg(feature = "npy")]
pub fn write_embeddings_npy(path: impl AsRef<Path>, view: ArrayView2<f32>) -> Result<()> {
    use ndarray_npy::{WriteNpyError, WriteNpyExt};
    atomic_write(path.as_ref(), |w: &mut dyn Write| {
        view.write_npy(w).map_err(|e| match e {
            WriteNpyError::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        })
    })
}

#[cfg(feature = "npy")]
mod npy {
    use std::io::ErrorKind;

    use ndarray::Array2;
    use ndarray_npy::npy::header::{Header, ReadHeaderError};
    use ndarray_npy::{ReadNpyError, ReadNpyExt};

    use crate::error::{Error, Result};

    const WHAT: &str = "embeddings";

    /// Decodes a whole `.npy` file held in memory.
    pub(super) fn decode(bytes: &[u8]) -> Result<Array2<f32>> {
        let mut data = bytes;
        let header = Header::from_reader(&mut data).map_err(|e| {
            Error::Format(match e {
                ReadHeaderError::Io(io) if io.kind() == ErrorKind::UnexpectedEof => {
                    "not a valid .npy file: truncated header".to_owned()
                }
                other => format!("not a valid .npy file: {other}"),
            })
        })?;
        if header.shape.len() != 2 {
            return Err(Error::Format(format!(
                "expected a 2-D array (items x dimensions), found a {}-D array of shape {:?} \
                 and dtype {}",
                header.shape.len(),
                header.shape,
                header.type_descriptor
            )));
        }
        // ndarray-npy allocates the whole array before reading the data, so a small file
        // whose header declares a huge shape would allocate that much (or abort the
        // process). Every value takes at least one byte: refuse a shape the data cannot hold.
        let values = header
            .shape
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s));
        if values.is_none_or(|v| v > data.len()) {
            return Err(Error::Format(format!(
                "truncated data: the header declares shape {:?} but only {} bytes of data follow",
                header.shape,
                data.len()
            )));
        }
        let dtype = header.type_descriptor.to_string();
        // The element type is chosen by trying f32 then f64: ndarray-npy knows every
        // spelling of each (byte order included) and reports the descriptor otherwise.
        let array = match Array2::<f32>::read_npy(bytes) {
            Ok(a) => a,
            Err(ReadNpyError::WrongDescriptor(_)) => match Array2::<f64>::read_npy(bytes) {
                Ok(a) => f64_to_f32(a)?,
                Err(ReadNpyError::WrongDescriptor(d)) => {
                    return Err(Error::Format(format!(
                        "unsupported dtype {d}: expected float32 ('<f4') or float64 ('<f8')"
                    )));
                }
                Err(e) => return Err(read_error(e, &dtype)),
            },
            Err(e) => return Err(read_error(e, &dtype)),
        };
        let (rows, cols) = array.dim();
        if rows == 0 || cols == 0 {
            return Err(Error::Empty { what: WHAT });
        }
        if let Some(((row, col), &value)) = array.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: WHAT,
                row,
                col,
                value,
            });
        }
        Ok(array.as_standard_layout().into_owned())
    }

    fn read_error(e: ReadNpyError, dtype: &str) -> Error {
        Error::Format(format!("could not read .npy data of dtype {dtype}: {e}"))
    }

    /// Rounds to f32, refusing finite values that would become infinite. NaN and
    /// infinities pass through and are reported by the finiteness check with their place.
    fn f64_to_f32(a: Array2<f64>) -> Result<Array2<f32>> {
        for ((row, col), &v) in a.indexed_iter() {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what: WHAT,
                    row,
                    col,
                    value: v as f32,
                });
            }
            if (v as f32).is_infinite() {
                return Err(Error::Format(format!(
                    "float64 value {v:e} in {WHAT} at row {row}, column {col} overflows \
                     float32 (largest magnitude {:e})",
                    f32::MAX
                )));
            }
        }
        Ok(a.mapv(|v| v as f32))
    }
}

// ---------------------------------------------------------------------------------------
// Pairs (CSV)
// ---------------------------------------------------------------------------------------

mod pairs_csv;

pub use pairs_csv::{IdRows, PairRows, PairsCsv};

/// One line of a pairs CSV: two item ids (rows of the embedding matrix) and a label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairRow {
    /// First item id (0-based row of the embedding matrix).
    pub i: usize,
    /// Second item id (0-based row of the embedding matrix).
    pub j: usize,
    /// `1.0` if the two items match, `0.0` if not.
    pub label: f32,
}

/// Reads a pairs CSV file with columns `i`, `j` and `label` (in any order, other columns
/// ignored), streaming it; [`PairsCsv::read`] with the default [`PairsCsv`], whose docs give
/// the rules. Use [`PairsCsv`] for other column names or to keep only some rows.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] (with the file line) if it
/// is not UTF-8 or breaks a rule; [`Error::Empty`] if it has no pairs.
pub fn read_pairs_csv(path: impl AsRef<Path>) -> Result<Vec<PairRow>> {
    PairsCsv::new().read(path)
}

/// Parses the text of a pairs CSV with columns `i`, `j` and `label`; [`PairsCsv::parse`]
/// with the default [`PairsCsv`].
///
/// The first non-blank line is the header; it must name the columns `i`, `j` and `label`
/// (in any order; other columns are ignored). Every other non-blank line has as many
/// fields as the header: `i` and `j` non-negative integers, `label` one of `0`, `1`, `0.0`,
/// `1.0`. Whitespace around fields, blank lines, a leading UTF-8 byte-order mark and `\r\n`
/// line endings are accepted. Ids are not checked against any embedding matrix here, and
/// `i == j` or repeated pairs are accepted.
///
/// # Errors
///
/// - [`Error::Parse`] with the 1-based line number in the text (blank lines and the header
///   count) and a reason naming the column and the offending text, for: a header without
///   one of the columns, a wrong number of fields, an id that is missing, negative, not an
///   integer or too large, and a label that is not 0 or 1.
/// - [`Error::Empty`] (`what: "pairs"`) if the text has no pair lines (blank text included).
///
/// # Example
///
/// ```
/// use sympair::{io::parse_pairs_csv, Error};
///
/// let err = parse_pairs_csv("i,j,label\n\n0,1,1\n0,-2,0\n").unwrap_err();
/// assert!(matches!(err, Error::Parse { line: 4, .. }));
/// ```
pub fn parse_pairs_csv(text: &str) -> Result<Vec<PairRow>> {
    PairsCsv::new().parse(text)
}

// ---------------------------------------------------------------------------------------
// Predictions (CSV)
// ---------------------------------------------------------------------------------------

/// Writes predictions CSV to any writer, one pair at a time: the header `i,j,probability`
/// when made, then one line per [`write`](Self::write). Each probability is printed in the
/// shortest form that parses back to the same `f32`. Memory does not grow with the rows.
///
/// No field ever needs quoting (integers and numbers), so lines are formatted directly
/// rather than through a CSV writer.
///
/// ```
/// use sympair::io::PredictionsWriter;
///
/// let mut w = PredictionsWriter::new(Vec::new())?;
/// w.write(0, 1, 0.75)?;
/// w.write(2, 0, 0.125)?;
/// assert_eq!(w.finish()?, b"i,j,probability\n0,1,0.75\n2,0,0.125\n");
/// # Ok::<(), sympair::Error>(())
/// ```
pub struct PredictionsWriter<W: Write> {
    out: W,
    rows: usize,
}

impl<W: Write> PredictionsWriter<W> {
    /// Writes the header line to `out`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (path `<writer>`) if writing fails.
    pub fn new(mut out: W) -> Result<Self> {
        out.write_all(b"i,j,probability\n").map_err(writer_error)?;
        Ok(PredictionsWriter { out, rows: 0 })
    }

    /// Writes one line `i,j,probability`.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] (`what: "probabilities"`, `col: 0`, `row`: the number of rows
    /// written before) for a NaN or infinite probability, which is not written;
    /// [`Error::Io`] (path `<writer>`) if writing fails.
    pub fn write(&mut self, i: usize, j: usize, probability: f32) -> Result<()> {
        if !probability.is_finite() {
            return Err(Error::NonFinite {
                what: "probabilities",
                row: self.rows,
                col: 0,
                value: probability,
            });
        }
        writeln!(self.out, "{i},{j},{probability}").map_err(writer_error)?;
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far (the header not counted).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (path `<writer>`) if flushing fails.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(writer_error)?;
        Ok(self.out)
    }
}

/// The path named by I/O errors of a [`PredictionsWriter`].
const WRITER: &str = "<writer>";

fn writer_error(e: std::io::Error) -> Error {
    Error::io(WRITER, e)
}

/// Writes predicted probabilities as CSV: header `i,j,probability`, one line per pair, in
/// the order given (see [`PredictionsWriter`] for the format). No pairs gives a file with
/// the header only. Written atomically: on any error the file at `path` is untouched.
///
/// # Errors
///
/// - [`Error::RowMismatch`] (`what: "probabilities"`) if the two slices differ in length.
/// - [`Error::NonFinite`] (`what: "probabilities"`, `col: 0`) for a NaN or infinite
///   probability; nothing is written.
/// - [`Error::Io`] if the file cannot be written.
pub fn write_predictions_csv(
    path: impl AsRef<Path>,
    pairs: &[(usize, usize)],
    probabilities: &[f32],
) -> Result<()> {
    if pairs.len() != probabilities.len() {
        return Err(Error::RowMismatch {
            what: "probabilities",
            expected: pairs.len(),
            found: probabilities.len(),
        });
    }
    let rows = pairs
        .iter()
        .zip(probabilities)
        .map(|(&(i, j), &p)| (i, j, p));
    write_predictions_csv_from(path, rows).map(|_| ())
}

/// Streams `(i, j, probability)` rows into a predictions CSV at `path`, atomically, and
/// returns the number of rows written; see [`write_predictions_csv`]. Memory does not grow
/// with the number of rows.
///
/// # Errors
///
/// [`Error::NonFinite`] (`what: "probabilities"`, with the row) for a NaN or infinite
/// probability; [`Error::Io`] if the file cannot be written. Either way the file at `path`
/// is untouched.
pub fn write_predictions_csv_from(
    path: impl AsRef<Path>,
    rows: impl IntoIterator<Item = (usize, usize, f32)>,
) -> Result<usize> {
    write_csv_atomically(path.as_ref(), |w| {
        for (i, j, p) in rows {
            w.write(i, j, p)?;
        }
        Ok(())
    })
}

/// Runs `fill` on a [`PredictionsWriter`] over a temporary file that replaces `path` only
/// if `fill` succeeds; returns the rows written. Errors of `fill` come back as they were
/// (I/O errors name `path`).
pub(crate) fn write_csv_atomically<F>(path: &Path, fill: F) -> Result<usize>
where
    F: FnOnce(&mut PredictionsWriter<&mut dyn Write>) -> Result<()>,
{
    // `atomic_write` takes an `io::Result` closure: a typed error other than I/O is kept
    // aside and an I/O error stands for it, which aborts the write.
    let mut failure = None;
    let mut rows = 0;
    let written = atomic_write(path, |out: &mut dyn Write| {
        let run = |out: &mut dyn Write| -> Result<usize> {
            let mut w = PredictionsWriter::new(out)?;
            fill(&mut w)?;
            let n = w.rows();
            w.finish()?;
            Ok(n)
        };
        match run(out) {
            Ok(n) => {
                rows = n;
                Ok(())
            }
            // The writer's own I/O errors: `atomic_write` names the target for them.
            Err(Error::Io { path, source }) if path == Path::new(WRITER) => Err(source),
            Err(e) => {
                failure = Some(e);
                Err(std::io::Error::other("write aborted"))
            }
        }
    });
    match (written, failure) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(e),
        (Ok(()), None) => Ok(rows),
    }
}
