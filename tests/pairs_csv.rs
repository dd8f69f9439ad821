//! Pairs CSV read by column name: extra columns, a row filter, other column names,
//! id-only reads, exact line numbers and streaming; predictions written as a stream.

use std::io::Read;

use sympair::Error;
use sympair::io::{
    PairRow, PairsCsv, PredictionsWriter, parse_pairs_csv, write_predictions_csv_from,
};

fn row(i: usize, j: usize, label: f32) -> PairRow {
    PairRow { i, j, label }
}

fn parse_error(r: sympair::Result<Vec<PairRow>>) -> (usize, String) {
    match r {
        Err(Error::Parse { line, reason }) => (line, reason),
        other => panic!("expected Error::Parse, got {other:?}"),
    }
}

#[test]
fn filter_keeps_only_rows_of_the_named_split() {
    let text = "i,j,label,split\n0,1,1,train\n1,2,0,test\n2,3,0, train \n3,4,1,valid\n";
    let csv = PairsCsv::new().with_filter("split", "train").unwrap();
    assert_eq!(
        csv.parse(text).unwrap(),
        vec![row(0, 1, 1.0), row(2, 3, 0.0)]
    );
    let test = PairsCsv::new().with_filter("split", "test").unwrap();
    assert_eq!(test.parse(text).unwrap(), vec![row(1, 2, 0.0)]);
}

#[test]
fn filtered_out_rows_are_not_parsed_but_kept_rows_are() {
    // The test row has a bad label: reading the train rows does not look at it...
    let text = "i,j,label,split\n0,1,1,train\n1,2,maybe,test\n";
    let train = PairsCsv::new().with_filter("split", "train").unwrap();
    assert_eq!(train.parse(text).unwrap(), vec![row(0, 1, 1.0)]);
    // ...reading the test rows does, at its line.
    let test = PairsCsv::new().with_filter("split", "test").unwrap();
    let (line, reason) = parse_error(test.parse(text));
    assert_eq!(line, 3);
    assert!(
        reason.contains("`label`") && reason.contains("`maybe`"),
        "{reason}"
    );
}

#[test]
fn filter_that_keeps_nothing_is_empty() {
    let csv = PairsCsv::new().with_filter("split", "valid").unwrap();
    match csv.parse("i,j,label,split\n0,1,1,train\n") {
        Err(Error::Empty { what: "pairs" }) => {}
        other => panic!("expected Empty, got {other:?}"),
    }
}

#[test]
fn filter_column_missing_from_header_is_parse_error_naming_it() {
    let csv = PairsCsv::new().with_filter("fold", "1").unwrap();
    let (line, reason) = parse_error(csv.parse("i,j,label\n0,1,1\n"));
    assert_eq!(line, 1);
    assert!(reason.contains("`fold`"), "{reason}");
}

#[test]
fn custom_column_names_are_used_and_errors_name_them() {
    let csv = PairsCsv::new().with_columns("a", "b", "same").unwrap();
    assert_eq!(
        csv.parse("same,b,a,i\n1,4,3,99\n").unwrap(),
        vec![row(3, 4, 1.0)]
    );
    let (line, reason) = parse_error(csv.parse("a,b,same\n0,1,1\n0,x,0\n"));
    assert_eq!(line, 3);
    assert!(
        reason.contains("column `b`") && reason.contains("`x`"),
        "{reason}"
    );
    let (_, reason) = parse_error(csv.parse("a,b,same\n0,1,2\n"));
    assert!(reason.contains("column `same`"), "{reason}");
}

#[test]
fn invalid_column_settings_are_refused() {
    for (i, j, label) in [("", "j", "label"), ("i", "i", "label"), ("a", "b", " a ")] {
        match PairsCsv::new().with_columns(i, j, label) {
            Err(Error::InvalidConfig {
                field: "columns", ..
            }) => {}
            other => panic!("expected InvalidConfig for {i:?},{j:?},{label:?}, got {other:?}"),
        }
    }
    assert!(matches!(
        PairsCsv::new().with_filter("  ", "train"),
        Err(Error::InvalidConfig {
            field: "filter",
            ..
        })
    ));
}

#[test]
fn ids_need_no_label_column_and_ignore_one() {
    let csv = PairsCsv::new();
    let unlabelled: Vec<(usize, usize)> = csv
        .ids("j,i\n1,0\n5,4\n".as_bytes())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(unlabelled, vec![(0, 1), (4, 5)]);
    // A label column is an extra column for id reads, even with values that are no labels.
    let with_labels: Vec<(usize, usize)> = csv
        .ids("i,j,label\n0,1,0.7\n".as_bytes())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(with_labels, vec![(0, 1)]);
}

#[test]
fn line_numbers_are_file_lines_with_blank_lines_crlf_and_quoted_line_breaks() {
    // Line 1 header, 2 blank, 3 row, 4 whitespace, 5-6 a row whose quoted field spans two
    // lines, 7 blank (CRLF), 8 the bad row.
    let text = "i,j,label,note\r\n\r\n0,1,1,a\r\n   \r\n1,2,0,\"two\r\nlines\"\r\n\r\n2,-3,0,c\r\n";
    let (line, reason) = parse_error(parse_pairs_csv(text));
    assert_eq!(line, 8, "{reason}");

    let mut rows = PairsCsv::new().rows(text.as_bytes()).unwrap();
    assert_eq!(rows.line(), 0);
    assert_eq!(rows.next().unwrap().unwrap(), row(0, 1, 1.0));
    assert_eq!(rows.line(), 3);
    assert_eq!(rows.next().unwrap().unwrap(), row(1, 2, 0.0));
    assert_eq!(rows.line(), 5);
    assert!(matches!(
        rows.next(),
        Some(Err(Error::Parse { line: 8, .. }))
    ));
    assert!(rows.next().is_none(), "the iterator ends after an error");
}

#[test]
fn invalid_utf8_is_reported_at_its_own_line_inside_a_quoted_field() {
    let bytes = b"i,j,label,note\n0,1,1,\"first\nsecond \xff\"\n";
    let r: Result<Vec<PairRow>, Error> = PairsCsv::new().rows(&bytes[..]).unwrap().collect();
    match r {
        Err(Error::Parse { line: 3, reason }) => assert!(reason.contains("UTF-8"), "{reason}"),
        other => panic!("expected Parse at line 3, got {other:?}"),
    }
}

#[test]
fn byte_order_mark_before_blank_lines_and_header_is_ignored() {
    assert_eq!(
        parse_pairs_csv("\u{feff}\n\ni,j,label\n0,1,1\n").unwrap(),
        vec![row(0, 1, 1.0)]
    );
}

/// A reader of an endless pairs CSV that counts the bytes it hands out.
struct Endless {
    served: usize,
    pending: Vec<u8>,
    next_row: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            self.pending = if self.served == 0 {
                b"i,j,label\n".to_vec()
            } else {
                self.next_row += 1;
                format!("{},{},1\n", self.next_row, self.next_row + 1).into_bytes()
            };
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.served += n;
        Ok(n)
    }
}

#[test]
fn rows_are_streamed_not_read_ahead_to_the_end() {
    let mut reader = Endless {
        served: 0,
        pending: Vec::new(),
        next_row: 0,
    };
    let rows: Vec<PairRow> = PairsCsv::new()
        .rows(&mut reader)
        .unwrap()
        .take(3)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, vec![row(1, 2, 1.0), row(2, 3, 1.0), row(3, 4, 1.0)]);
    assert!(
        reader.served < 64 * 1024,
        "{} bytes read for 3 rows",
        reader.served
    );
}

#[test]
fn predictions_stream_from_an_iterator_and_a_bad_row_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pred.csv");
    let n = write_predictions_csv_from(&path, (0..4).map(|k| (k, k + 1, k as f32 / 4.0))).unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "i,j,probability\n0,1,0\n1,2,0.25\n2,3,0.5\n3,4,0.75\n"
    );

    let rows = (0..4).map(|k| (k, k, if k == 2 { f32::INFINITY } else { 0.5 }));
    let err = write_predictions_csv_from(&path, rows).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "probabilities",
                row: 2,
                col: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("3,4,0.75\n")
    );
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "temporary file left behind");
}

#[test]
fn predictions_writer_refuses_non_finite_and_counts_rows() {
    let mut w = PredictionsWriter::new(Vec::new()).unwrap();
    w.write(3, 4, 0.5).unwrap();
    assert!(matches!(
        w.write(4, 5, f32::NAN),
        Err(Error::NonFinite { row: 1, .. })
    ));
    assert_eq!(w.rows(), 1);
    assert_eq!(w.finish().unwrap(), b"i,j,probability\n3,4,0.5\n");
}

#[test]
fn unterminated_quote_is_reported_at_the_line_it_opens() {
    // The quote opened on line 3 runs to the end, over two line breaks.
    let (line, reason) = parse_error(parse_pairs_csv("i,j,label\n0,1,1\n\"2,3,0\n\r\n"));
    assert_eq!(line, 3, "{reason}");
    assert!(reason.contains("found 1"), "{reason}");
}
