//! Streaming reader for pairs CSV files: [`PairsCsv`] (column names and a row filter),
//! [`PairRows`] (labelled rows) and [`IdRows`] (id pairs only).
//!
//! Records are split by the `csv` crate (quoting, `\r\n`, a leading byte-order mark); the
//! fields this crate needs are parsed here rather than through serde `Deserialize`, for
//! three reasons: every error names the column and the text at fault (serde says "invalid
//! digit found in string"), column names are chosen at run time, and it is faster:
//! `cargo run --release --example csv_read` reads 1M rows at 3.5-5.3 M rows/s here against
//! 1.7-1.9 M rows/s for `csv` + serde (1.8-3.0x, 2 shared cores, loaded machine).
//!
//! Line numbers are counted here too: `csv::Position::line` counts from where the previous
//! record ended, so after blank lines or a `\r\n` it names an earlier line than the one the
//! record is on (csv 1.4: the third line of `"i,j\n\n0,1\n"` is reported as line 2).
//! [`LineFeed`] hands the `csv` reader one line per `read` call and counts the line breaks
//! handed out; the reader returns a record as soon as it sees its terminator, so the last
//! byte handed out is on the record's last line.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::PairRow;
use crate::error::{Error, Result};

/// How to read a pairs CSV: which columns hold the two ids and the label, and optionally
/// which rows to keep.
///
/// Columns are found by their name in the header, in any order; other columns are allowed
/// and ignored. Names are compared exactly (case-sensitive) after trimming whitespace.
/// Build with [`PairsCsv::new`] (columns `i`, `j`, `label`, every row kept), then
/// [`with_columns`](Self::with_columns) and [`with_filter`](Self::with_filter); the setters
/// refuse empty or clashing names, so a `PairsCsv` is always usable.
///
/// # File rules
///
/// - The first non-blank line is the header. The two id columns, the label column (for
///   labelled reads) and the filter column (if any) must each appear in it exactly once;
///   other names may repeat.
/// - Every other non-blank line has as many fields as the header. Ids are non-negative
///   integers; a label is `0`, `1`, `0.0` or `1.0`. Whitespace around fields is ignored.
/// - Blank (or whitespace-only) lines, a leading UTF-8 byte-order mark and `\r\n` line
///   endings are accepted; fields may be quoted (`"a, b"`), as CSV writers do for text.
/// - The text must be UTF-8.
///
/// Errors are [`Error::Parse`] with the 1-based line number in the file (blank lines and
/// the header count) and a reason naming the column and the offending text. A file is
/// read as a stream: memory holds the rows parsed so far, never the whole file.
///
/// # Example
///
/// ```
/// use sympair::io::{PairRow, PairsCsv};
///
/// // Extra columns, any order, and a split column to select the training rows.
/// let text = "label,source,j,i,split\n1,web,1,0,train\n0,\"a, b\",2,0,test\n0,web,3,2,train\n";
/// let train = PairsCsv::new().with_filter("split", "train")?.parse(text)?;
/// assert_eq!(train, [PairRow { i: 0, j: 1, label: 1.0 }, PairRow { i: 2, j: 3, label: 0.0 }]);
///
/// // Other column names:
/// let rows = PairsCsv::new()
///     .with_columns("left", "right", "same")?
///     .parse("left,right,same\n4,5,1\n")?;
/// assert_eq!(rows, [PairRow { i: 4, j: 5, label: 1.0 }]);
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairsCsv {
    i: String,
    j: String,
    label: String,
    filter: Option<(String, String)>,
}

impl Default for PairsCsv {
    fn default() -> Self {
        Self::new()
    }
}

impl PairsCsv {
    /// Columns `i`, `j` and `label`; every row kept.
    pub fn new() -> Self {
        PairsCsv {
            i: "i".to_owned(),
            j: "j".to_owned(),
            label: "label".to_owned(),
            filter: None,
        }
    }

    /// Reads the ids from columns `i` and `j` and the label from column `label` (names are
    /// trimmed). Default: `i`, `j`, `label`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "columns"`) if a name is empty or two are equal.
    pub fn with_columns(mut self, i: &str, j: &str, label: &str) -> Result<Self> {
        let (i, j, label) = (i.trim(), j.trim(), label.trim());
        if [i, j, label].iter().any(|n| n.is_empty()) {
            return Err(Error::config("columns", "a column name is empty"));
        }
        if i == j || i == label || j == label {
            return Err(Error::config(
                "columns",
                format!("names must differ, got `{i}`, `{j}`, `{label}`"),
            ));
        }
        self.i = i.to_owned();
        self.j = j.to_owned();
        self.label = label.to_owned();
        Ok(self)
    }

    /// Keeps only the rows whose column `column` holds `value` (both trimmed, compared
    /// exactly), for example a `split` column equal to `train`. Rows left out are still
    /// checked for their number of fields and UTF-8, not for their ids and label.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "filter"`) if `column` is empty.
    pub fn with_filter(mut self, column: &str, value: &str) -> Result<Self> {
        let column = column.trim();
        if column.is_empty() {
            return Err(Error::config("filter", "the column name is empty"));
        }
        self.filter = Some((column.to_owned(), value.trim().to_owned()));
        Ok(self)
    }

    /// Reads every kept labelled row of the file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened or read; [`Error::Parse`] for the first
    /// line that breaks a rule (see [`PairsCsv`]); [`Error::Empty`] (`what: "pairs"`) if no
    /// row is kept.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<Vec<PairRow>> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        non_empty(
            self.rows_from(file, path.to_owned())?
                .collect::<Result<Vec<_>>>()?,
        )
    }

    /// Parses the text of a pairs CSV; see [`read`](Self::read).
    pub fn parse(&self, text: &str) -> Result<Vec<PairRow>> {
        non_empty(self.rows(text.as_bytes())?.collect::<Result<Vec<_>>>()?)
    }

    /// Reads the kept id pairs `(i, j)` of the file at `path`, ignoring any label column
    /// (the file need not have one).
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), without label checks.
    pub fn read_ids(&self, path: impl AsRef<Path>) -> Result<Vec<(usize, usize)>> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let ids = self
            .ids_from(file, path.to_owned())?
            .collect::<Result<Vec<_>>>()?;
        non_empty(ids)
    }

    /// Streams the kept labelled rows of a CSV read from `reader`, one row at a time. The
    /// header is read (and checked) here; each row is checked when the iterator reaches it,
    /// and the iterator ends after the first error. A file with a header and no row gives
    /// an empty iterator.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] (`what: "pairs"`) if there is no header line; [`Error::Parse`] for a
    /// bad header; [`Error::Io`] (path `<reader>`) if reading fails.
    pub fn rows<R: Read>(&self, reader: R) -> Result<PairRows<R>> {
        self.rows_from(reader, PathBuf::from("<reader>"))
    }

    /// Streams the kept id pairs of a CSV read from `reader`; see [`rows`](Self::rows). A
    /// label column, if any, is ignored like any other extra column.
    pub fn ids<R: Read>(&self, reader: R) -> Result<IdRows<R>> {
        self.ids_from(reader, PathBuf::from("<reader>"))
    }

    fn rows_from<R: Read>(&self, reader: R, source: PathBuf) -> Result<PairRows<R>> {
        Ok(PairRows(Records::open(self, reader, source, true)?))
    }

    fn ids_from<R: Read>(&self, reader: R, source: PathBuf) -> Result<IdRows<R>> {
        Ok(IdRows(Records::open(self, reader, source, false)?))
    }
}

fn non_empty<T>(rows: Vec<T>) -> Result<Vec<T>> {
    if rows.is_empty() {
        Err(Error::Empty { what: "pairs" })
    } else {
        Ok(rows)
    }
}

/// Labelled rows streamed from a pairs CSV; made by [`PairsCsv::rows`].
pub struct PairRows<R: Read>(Records<R>);

impl<R: Read> PairRows<R> {
    /// The 1-based file line of the row last returned (0 before the first).
    pub fn line(&self) -> usize {
        self.0.last_line
    }
}

impl<R: Read> Iterator for PairRows<R> {
    type Item = Result<PairRow>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.0.next_row()?.map(|(i, j, label)| PairRow {
            i,
            j,
            label: label.expect("a labelled reader has a label column"),
        }))
    }
}

/// Id pairs streamed from a pairs CSV; made by [`PairsCsv::ids`].
pub struct IdRows<R: Read>(Records<R>);

impl<R: Read> IdRows<R> {
    /// The 1-based file line of the pair last returned (0 before the first).
    pub fn line(&self) -> usize {
        self.0.last_line
    }
}

impl<R: Read> Iterator for IdRows<R> {
    type Item = Result<(usize, usize)>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.0.next_row()?.map(|(i, j, _)| (i, j)))
    }
}

/// A parsed row: ids and, for labelled reads, the label.
type Row = (usize, usize, Option<f32>);

/// Positions of the columns used, found in the header.
struct Columns {
    i: usize,
    j: usize,
    label: Option<usize>,
    filter: Option<(usize, String)>,
    /// The header's names (trimmed), whose count every row must match.
    names: Vec<String>,
}

/// The record loop shared by [`PairRows`] and [`IdRows`].
struct Records<R: Read> {
    csv: csv::Reader<LineFeed<R>>,
    record: csv::ByteRecord,
    columns: Columns,
    source: PathBuf,
    last_line: usize,
    done: bool,
}

impl<R: Read> Records<R> {
    fn open(config: &PairsCsv, reader: R, source: PathBuf, labelled: bool) -> Result<Self> {
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineFeed::new(reader));
        let mut records = Records {
            csv,
            record: csv::ByteRecord::new(),
            columns: Columns {
                i: 0,
                j: 0,
                label: None,
                filter: None,
                names: Vec::new(),
            },
            source,
            last_line: 0,
            done: false,
        };
        let Some(line) = records.next_record()? else {
            return Err(Error::Empty { what: "pairs" });
        };
        records.columns = find_columns(config, line, &records.record, labelled)?;
        Ok(records)
    }

    /// Reads the next non-blank record into `self.record`, checked for UTF-8, and returns
    /// the line it starts on; `None` at the end.
    fn next_record(&mut self) -> Result<Option<usize>> {
        loop {
            let more =
                self.csv
                    .read_byte_record(&mut self.record)
                    .map_err(|e| match e.into_kind() {
                        csv::ErrorKind::Io(io) => Error::io(&self.source, io),
                        other => Error::Format(format!("{}: {other:?}", self.source.display())),
                    })?;
            if !more {
                return Ok(None);
            }
            // Quoted fields keep their line breaks, so the record's bytes tell how many
            // lines before its last one it starts.
            let bytes = self.record.as_slice();
            let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
            let line = self.csv.get_ref().last_line() - newlines;
            if let Err(e) = std::str::from_utf8(bytes) {
                let before = &bytes[..e.valid_up_to()];
                return Err(Error::Parse {
                    line: line + before.iter().filter(|&&b| b == b'\n').count(),
                    reason: format!("invalid UTF-8 (byte 0x{:02x})", bytes[e.valid_up_to()]),
                });
            }
            if !(self.record.len() == 1 && text(&self.record[0]).is_empty()) {
                return Ok(Some(line));
            }
        }
    }

    /// The next kept row; `None` at the end or after an error.
    fn next_row(&mut self) -> Option<Result<Row>> {
        if self.done {
            return None;
        }
        let row = loop {
            match self.next_record() {
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Ok(Some(line)) => match self.columns.parse(line, &self.record) {
                    Ok(Some(row)) => {
                        self.last_line = line;
                        break Ok(row);
                    }
                    Ok(None) => {}
                    Err(e) => break Err(e),
                },
                Err(e) => break Err(e),
            }
        };
        self.done = row.is_err();
        Some(row)
    }
}

/// A field as trimmed text: records were checked for UTF-8 as a whole, so this never fails.
fn text(field: &[u8]) -> &str {
    std::str::from_utf8(field)
        .expect("record checked for UTF-8")
        .trim()
}

fn find_columns(
    config: &PairsCsv,
    line: usize,
    header: &csv::ByteRecord,
    labelled: bool,
) -> Result<Columns> {
    let names: Vec<String> = header.iter().map(|f| text(f).to_owned()).collect();
    let joined = names.join(",");
    // A column used twice is ambiguous; other columns may repeat (they are ignored).
    let find = |name: &str| {
        let mut at = names.iter().enumerate().filter(|(_, n)| *n == name);
        match (at.next(), at.next()) {
            (Some((k, _)), None) => Ok(k),
            (None, _) => Err(Error::Parse {
                line,
                reason: format!("header `{joined}` has no column `{name}`"),
            }),
            (Some(_), Some(_)) => Err(Error::Parse {
                line,
                reason: format!("column `{name}` appears twice in header `{joined}`"),
            }),
        }
    };
    Ok(Columns {
        i: find(&config.i)?,
        j: find(&config.j)?,
        label: if labelled {
            Some(find(&config.label)?)
        } else {
            None
        },
        filter: match &config.filter {
            Some((column, value)) => Some((find(column)?, value.clone())),
            None => None,
        },
        names,
    })
}

impl Columns {
    /// Parses one record: `None` if the filter leaves it out.
    fn parse(&self, line: usize, record: &csv::ByteRecord) -> Result<Option<Row>> {
        if record.len() != self.names.len() {
            let raw: Vec<&str> = record
                .iter()
                .map(|f| std::str::from_utf8(f).expect("record checked for UTF-8"))
                .collect();
            return Err(Error::Parse {
                line,
                reason: format!(
                    "expected {} fields like the header `{}`, found {} in `{}`",
                    self.names.len(),
                    self.names.join(","),
                    record.len(),
                    raw.join(",").trim()
                ),
            });
        }
        if let Some((k, value)) = &self.filter {
            if text(&record[*k]) != value {
                return Ok(None);
            }
        }
        let id = |k: usize| {
            parse_id(text(&record[k])).map_err(|why| Error::Parse {
                line,
                reason: format!("column `{}`: {why}", self.names[k]),
            })
        };
        let i = id(self.i)?;
        let j = id(self.j)?;
        let label = match self.label {
            None => None,
            Some(k) => Some(match text(&record[k]) {
                "0" | "0.0" => 0.0,
                "1" | "1.0" => 1.0,
                other => {
                    return Err(Error::Parse {
                        line,
                        reason: format!(
                            "column `{}`: `{other}` is not a label; expected 0 or 1 (or 0.0, 1.0)",
                            self.names[k]
                        ),
                    });
                }
            }),
        };
        Ok(Some((i, j, label)))
    }
}

/// Parses a trimmed id field; the error says what is wrong with it.
fn parse_id(s: &str) -> std::result::Result<usize, String> {
    if s.is_empty() {
        return Err("missing id".to_owned());
    }
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if all_digits(s) {
        return s
            .parse()
            .map_err(|_| format!("id `{s}` is too large (maximum {})", usize::MAX));
    }
    if s.strip_prefix('-').is_some_and(all_digits) {
        return Err(format!("id `{s}` is negative; ids are row numbers from 0"));
    }
    Err(format!("`{s}` is not a non-negative integer id"))
}

/// Hands out at most one line per `read` call and counts the line breaks handed out, so
/// that the record the `csv` reader returns can be placed exactly.
struct LineFeed<R: Read> {
    inner: BufReader<R>,
    /// `'\n'` bytes handed out so far.
    newlines: usize,
    /// Whether the last byte handed out was `'\n'`.
    ends_line: bool,
    /// Whether the input has ended.
    at_eof: bool,
}

impl<R: Read> LineFeed<R> {
    fn new(inner: R) -> Self {
        LineFeed {
            inner: BufReader::new(inner),
            newlines: 0,
            ends_line: false,
            at_eof: false,
        }
    }

    /// 1-based line of the last byte of the record just returned by the `csv` reader,
    /// counting the line breaks inside the record. A record ends at its terminator, which
    /// is on the record's last line and, if `'\n'`, the last byte handed out; or at the
    /// end of the input, where a last `'\n'` can only be inside a quoted field.
    fn last_line(&self) -> usize {
        1 + self.newlines - usize::from(self.ends_line && !self.at_eof)
    }
}

impl<R: Read> Read for LineFeed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.inner.fill_buf()?;
        let n = avail.len().min(buf.len());
        let n = avail[..n]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(n, |p| p + 1);
        if n == 0 {
            self.at_eof = avail.is_empty();
            return Ok(0);
        }
        buf[..n].copy_from_slice(&avail[..n]);
        self.ends_line = avail[n - 1] == b'\n';
        self.newlines += usize::from(self.ends_line);
        self.inner.consume(n);
        Ok(n)
    }
}
