//! Tests for `sympair::io`: `.npy` embeddings, pairs CSV and predictions CSV.

mod common;

use std::fs;
use std::path::Path;

use common::{bits, scratch_dir};
use proptest::prelude::*;
use sympair::Error;
use sympair::io::{PairRow, parse_pairs_csv, read_pairs_csv, write_predictions_csv};

/// Names of the files in `dir` (to spot leftover temporary files).
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(feature = "npy")]
mod npy {
    use super::*;
    use ndarray::{Array2, array, s};
    use sympair::io::{read_embeddings_npy, write_embeddings_npy};

    // Files made by numpy, embedded so that the tests need no Python. Each constant is
    // `buf.getvalue()` after
    //
    //     import io, numpy as np        # numpy 2.4.6
    //     buf = io.BytesIO()
    //     np.save(buf, ARRAY)
    //
    // with ARRAY the expression in the comment above the constant.
    /// `np.save(f, np.array([[0.5, -1.25, 3.0], [1e-3, 2.5e6, -0.0]], dtype=np.float32))`
    const F32_C_2X3: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }                                                          \x0a\x00\x00\x00?\x00\x00\xa0\xbf\x00\x00@@o\x12\x83:\x80\x96\x18J\x00\x00\x00\x80";
    /// `np.save(f, np.array([[0.1, -2.0, 3.5], [1e30, -1e-30, 7.0]], dtype=np.float64))`
    const F64_C_2X3: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }                                                          \x0a\x9a\x99\x99\x99\x99\x99\xb9?\x00\x00\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x0c@\xea\x8c\xa09Y>)F\xa0\xc2\xeb\xfeKH\xb4\xb9\x00\x00\x00\x00\x00\x00\x1c@";
    /// `np.save(f, np.asfortranarray(np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)))`
    const F32_FORTRAN_3X2: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }                                                           \x0a\x00\x00\x80?\x00\x00@@\x00\x00\xa0@\x00\x00\x00@\x00\x00\x80@\x00\x00\xc0@";
    /// `np.save(f, np.asfortranarray(np.array([[1.5, 2.5, 3.5], [4.5, 5.5, 6.5]], dtype=np.float64)))`
    const F64_FORTRAN_2X3: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }                                                           \x0a\x00\x00\x00\x00\x00\x00\xf8?\x00\x00\x00\x00\x00\x00\x12@\x00\x00\x00\x00\x00\x00\x04@\x00\x00\x00\x00\x00\x00\x16@\x00\x00\x00\x00\x00\x00\x0c@\x00\x00\x00\x00\x00\x00\x1a@";
    /// `np.save(f, np.array([[1.0, 2.0], [3.0, 4.0]], dtype='>f4'))`
    const F32_BIG_ENDIAN_2X2: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }                                                          \x0a?\x80\x00\x00@\x00\x00\x00@@\x00\x00@\x80\x00\x00";
    /// `np.save(f, np.array([[1, 2], [3, 4]], dtype=np.int32))`
    const I32_2X2: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }                                                          \x0a\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00";
    /// `np.save(f, np.array([[1, 2], [3, 4]], dtype=np.float16))`
    const F16_2X2: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortran_order': False, 'shape': (2, 2), }                                                          \x0a\x00<\x00@\x00B\x00D";
    /// `np.save(f, np.array([1.0, 2.0, 3.0], dtype=np.float32))`
    const F32_1D: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }                                                            \x0a\x00\x00\x80?\x00\x00\x00@\x00\x00@@";
    /// `np.save(f, np.zeros((2, 1, 2), dtype=np.float32))`
    const F32_3D: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2), }                                                       \x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    /// `np.save(f, np.array([[0, 0, 0], [0, 0, np.nan]], dtype=np.float32))`
    const F32_NAN_AT_1_2: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }                                                          \x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x7f";
    /// `np.save(f, np.array([[0, -np.inf], [0, 0]], dtype=np.float64))`
    const F64_INF_AT_0_1: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }                                                          \x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    /// `np.save(f, np.array([[1.0, 2.0], [1e300, 3.0]], dtype=np.float64))`
    const F64_OVERFLOWS_F32_AT_1_0: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }                                                          \x0a\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@\x9cu\x00\x88<\xe47~\x00\x00\x00\x00\x00\x00\x08@";
    /// `np.save(f, np.zeros((0, 3), dtype=np.float32))`
    const F32_EMPTY_0X3: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }                                                          \x0a";
    /// `np.save(f, np.zeros((2, 0), dtype=np.float64))`
    const F64_EMPTY_2X0: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0), }                                                          \x0a";

    /// Writes `bytes` to `name` in a fresh folder and reads it back as embeddings.
    fn read_bytes(test: &str, bytes: &[u8]) -> sympair::Result<Array2<f32>> {
        let dir = scratch_dir(test);
        let path = dir.path().join("emb.npy");
        fs::write(&path, bytes).unwrap();
        read_embeddings_npy(&path)
    }

    fn format_message(result: sympair::Result<Array2<f32>>) -> String {
        match result {
            Err(Error::Format(msg)) => msg,
            other => panic!("expected Error::Format, got {other:?}"),
        }
    }

    #[test]
    fn written_npy_reads_back_bit_for_bit() {
        let dir = scratch_dir("npy_roundtrip");
        let path = dir.path().join("emb.npy");
        let emb = array![
            [0.0f32, -0.0, 1.5, f32::MIN_POSITIVE / 4.0],
            [f32::MAX, f32::MIN, 1e-30, -7.25],
            [0.1, 0.2, 0.3, 123456.79],
        ];
        write_embeddings_npy(&path, emb.view()).unwrap();
        let back = read_embeddings_npy(&path).unwrap();
        assert_eq!(back.dim(), emb.dim());
        assert_eq!(bits(&back), bits(&emb));
        assert_eq!(
            file_names(dir.path()),
            vec!["emb.npy"],
            "temporary file left behind"
        );
    }

    #[test]
    fn written_npy_has_numpy_float32_header() {
        let dir = scratch_dir("npy_header");
        let path = dir.path().join("emb.npy");
        write_embeddings_npy(&path, array![[1.0f32, 2.0]].view()).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..6], b"\x93NUMPY");
        let header = String::from_utf8_lossy(&bytes[..bytes.len() - 8]);
        assert!(header.contains("'descr': '<f4'"), "{header}");
        assert!(header.contains("'shape': (1, 2)"), "{header}");
    }

    #[test]
    fn fortran_order_view_is_written_as_fortran_and_reads_back_same_matrix() {
        let dir = scratch_dir("npy_fortran_roundtrip");
        let path = dir.path().join("emb.npy");
        let base = Array2::from_shape_fn((3, 5), |(r, c)| (r * 10 + c) as f32);
        let view = base.t(); // 5 x 3, Fortran-contiguous
        write_embeddings_npy(&path, view).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert!(
            String::from_utf8_lossy(&bytes).contains("'fortran_order': True"),
            "the Fortran path was not exercised"
        );
        let back = read_embeddings_npy(&path).unwrap();
        assert_eq!(back, view);
        assert!(back.is_standard_layout());
    }

    #[test]
    fn strided_view_is_written_and_reads_back_same_matrix() {
        let dir = scratch_dir("npy_strided");
        let path = dir.path().join("emb.npy");
        let base = Array2::from_shape_fn((6, 4), |(r, c)| (r * 4 + c) as f32 - 3.5);
        let view = base.slice(s![..;2, 1..;2]);
        write_embeddings_npy(&path, view).unwrap();
        assert_eq!(read_embeddings_npy(&path).unwrap(), view);
    }

    #[test]
    fn writing_replaces_existing_file() {
        let dir = scratch_dir("npy_replace");
        let path = dir.path().join("emb.npy");
        write_embeddings_npy(&path, array![[1.0f32, 2.0], [3.0, 4.0]].view()).unwrap();
        write_embeddings_npy(&path, array![[9.0f32]].view()).unwrap();
        assert_eq!(read_embeddings_npy(&path).unwrap(), array![[9.0f32]]);
        assert_eq!(file_names(dir.path()), vec!["emb.npy"]);
    }

    #[test]
    fn writing_into_missing_folder_is_io_error() {
        let dir = scratch_dir("npy_missing_dir");
        let path = dir.path().join("no/such/dir/emb.npy");
        let err = write_embeddings_npy(&path, array![[1.0f32]].view()).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }

    #[test]
    fn numpy_float32_c_order_reads_exact_values() {
        let emb = read_bytes("np_f32_c", F32_C_2X3).unwrap();
        let expected = array![[0.5f32, -1.25, 3.0], [1e-3, 2.5e6, -0.0]];
        assert_eq!(emb, expected);
        assert!(emb[[1, 2]].is_sign_negative(), "-0.0 lost its sign");
    }

    #[test]
    fn numpy_float64_is_rounded_to_nearest_f32() {
        let emb = read_bytes("np_f64_c", F64_C_2X3).unwrap();
        let source = [[0.1f64, -2.0, 3.5], [1e30, -1e-30, 7.0]];
        assert_eq!(emb.dim(), (2, 3));
        for r in 0..2 {
            for c in 0..3 {
                assert_eq!(emb[[r, c]].to_bits(), (source[r][c] as f32).to_bits());
            }
        }
    }

    #[test]
    fn numpy_fortran_order_float32_reads_in_logical_order() {
        let emb = read_bytes("np_f32_f", F32_FORTRAN_3X2).unwrap();
        assert_eq!(emb, array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert!(emb.is_standard_layout(), "result must be row-major");
        assert_eq!(emb.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn numpy_fortran_order_float64_reads_in_logical_order() {
        let emb = read_bytes("np_f64_f", F64_FORTRAN_2X3).unwrap();
        assert_eq!(emb, array![[1.5f32, 2.5, 3.5], [4.5, 5.5, 6.5]]);
        assert!(emb.is_standard_layout());
    }

    #[test]
    fn numpy_big_endian_float32_reads_correct_values() {
        let emb = read_bytes("np_f32_be", F32_BIG_ENDIAN_2X2).unwrap();
        assert_eq!(emb, array![[1.0f32, 2.0], [3.0, 4.0]]);
    }

    #[test]
    fn numpy_int32_is_format_error_naming_dtype() {
        let msg = format_message(read_bytes("np_i32", I32_2X2));
        assert!(msg.contains("<i4") && msg.contains("float32"), "{msg}");
    }

    #[test]
    fn numpy_float16_is_format_error_naming_dtype() {
        let msg = format_message(read_bytes("np_f16", F16_2X2));
        assert!(msg.contains("<f2"), "{msg}");
    }

    #[test]
    fn numpy_1d_is_format_error_naming_dimensions() {
        let msg = format_message(read_bytes("np_1d", F32_1D));
        assert!(msg.contains("1-D") && msg.contains("[3]"), "{msg}");
    }

    #[test]
    fn numpy_3d_is_format_error_naming_dimensions() {
        let msg = format_message(read_bytes("np_3d", F32_3D));
        assert!(msg.contains("3-D") && msg.contains("[2, 1, 2]"), "{msg}");
    }

    #[test]
    fn numpy_nan_is_non_finite_with_position() {
        match read_bytes("np_nan", F32_NAN_AT_1_2) {
            Err(Error::NonFinite {
                what: "embeddings",
                row: 1,
                col: 2,
                value,
            }) => assert!(value.is_nan()),
            other => panic!("expected NonFinite at (1, 2), got {other:?}"),
        }
    }

    #[test]
    fn numpy_float64_infinity_is_non_finite_with_position() {
        match read_bytes("np_inf", F64_INF_AT_0_1) {
            Err(Error::NonFinite {
                what: "embeddings",
                row: 0,
                col: 1,
                value,
            }) => assert_eq!(value, f32::NEG_INFINITY),
            other => panic!("expected NonFinite at (0, 1), got {other:?}"),
        }
    }

    #[test]
    fn numpy_float64_too_large_for_f32_is_error_with_position() {
        let msg = format_message(read_bytes("np_overflow", F64_OVERFLOWS_F32_AT_1_0));
        assert!(
            msg.contains("row 1, column 0") && msg.contains("overflows"),
            "{msg}"
        );
    }

    #[test]
    fn numpy_zero_rows_is_empty() {
        let err = read_bytes("np_empty_rows", F32_EMPTY_0X3).unwrap_err();
        assert!(
            matches!(err, Error::Empty { what: "embeddings" }),
            "{err:?}"
        );
    }

    #[test]
    fn numpy_zero_columns_is_empty() {
        let err = read_bytes("np_empty_cols", F64_EMPTY_2X0).unwrap_err();
        assert!(
            matches!(err, Error::Empty { what: "embeddings" }),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_npy_is_format_error() {
        let msg = format_message(read_bytes(
            "np_truncated",
            &F32_C_2X3[..F32_C_2X3.len() - 3],
        ));
        assert!(
            msg.contains("emb.npy"),
            "message should name the file: {msg}"
        );
        let msg = format_message(read_bytes("np_truncated_header", &F32_C_2X3[..40]));
        assert!(msg.contains("truncated header"), "{msg}");
    }

    #[test]
    fn npy_with_trailing_bytes_is_format_error() {
        let mut bytes = F32_C_2X3.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        format_message(read_bytes("np_trailing", &bytes));
    }

    #[test]
    fn non_npy_file_is_format_error() {
        let msg = format_message(read_bytes("np_garbage", b"i,j,label\n0,1,1\n"));
        assert!(msg.contains("not a valid .npy"), "{msg}");
    }

    #[test]
    fn missing_npy_file_is_io_error_naming_path() {
        let dir = scratch_dir("np_missing");
        let path = dir.path().join("absent.npy");
        match read_embeddings_npy(&path) {
            Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
            other => panic!("expected Io, got {other:?}"),
        }
    }
}

// ----------------------------------------------------------------------------------------
// Pairs CSV
// ----------------------------------------------------------------------------------------

fn row(i: usize, j: usize, label: f32) -> PairRow {
    PairRow { i, j, label }
}

/// The line and reason of a parse error, or a panic saying what came instead.
fn parse_error(text: &str) -> (usize, String) {
    match parse_pairs_csv(text) {
        Err(Error::Parse { line, reason }) => (line, reason),
        other => panic!("expected Error::Parse for {text:?}, got {other:?}"),
    }
}

#[test]
fn csv_accepts_all_label_spellings() {
    let rows = parse_pairs_csv("i,j,label\n0,1,1\n1,2,0\n2,3,1.0\n3,4,0.0\n").unwrap();
    assert_eq!(
        rows,
        vec![
            row(0, 1, 1.0),
            row(1, 2, 0.0),
            row(2, 3, 1.0),
            row(3, 4, 0.0)
        ]
    );
}

#[test]
fn csv_trims_whitespace_and_tolerates_crlf_bom_and_blank_lines() {
    let text = "\u{feff} i , j ,label \r\n\r\n  7 ,\t8, 1 \r\n\n   \n9,10,0\r\n\r\n";
    assert_eq!(
        parse_pairs_csv(text).unwrap(),
        vec![row(7, 8, 1.0), row(9, 10, 0.0)]
    );
}

#[test]
fn csv_without_final_newline_keeps_last_row() {
    assert_eq!(
        parse_pairs_csv("i,j,label\n0,1,1\n4,5,0").unwrap(),
        vec![row(0, 1, 1.0), row(4, 5, 0.0)]
    );
}

#[test]
fn csv_accepts_largest_id() {
    let text = format!("i,j,label\n{},0,1\n", usize::MAX);
    assert_eq!(
        parse_pairs_csv(&text).unwrap(),
        vec![row(usize::MAX, 0, 1.0)]
    );
}

#[test]
fn csv_header_without_a_needed_column_is_parse_error_on_line_1() {
    for (header, missing) in [
        ("i,j,y", "label"),
        ("I,J,LABEL", "i"),
        ("i,label", "j"),
        ("i,j", "label"),
        ("0,1,1", "i"),
    ] {
        let (line, reason) = parse_error(&format!("{header}\n0,1,1\n"));
        assert_eq!(line, 1, "{header}");
        assert!(
            reason.contains(header) && reason.contains(&format!("`{missing}`")),
            "reason should quote {header:?} and name {missing:?}: {reason}"
        );
    }
}

#[test]
fn csv_columns_in_any_order_with_extra_columns_are_read_by_name() {
    for (text, expected) in [
        ("j,i,label\n1,0,1\n", row(0, 1, 1.0)),
        ("i,j,label,extra\n0,1,1,x\n", row(0, 1, 1.0)),
        (
            "split,label,j,source,i\ntest,0,7,\"a, \"\"b\"\"\",3\n",
            row(3, 7, 0.0),
        ),
    ] {
        assert_eq!(parse_pairs_csv(text).unwrap(), vec![expected], "{text:?}");
    }
}

#[test]
fn csv_header_with_repeated_column_is_parse_error() {
    let (line, reason) = parse_error("\ni,j,label,i\n0,1,1,2\n");
    assert_eq!(line, 2);
    assert!(reason.contains("`i` appears twice"), "{reason}");
}

#[test]
fn csv_header_line_number_counts_leading_blank_lines() {
    let (line, _) = parse_error("\n\r\n  \nid,j,label\n0,1,1\n");
    assert_eq!(line, 4);
}

#[test]
fn csv_too_few_fields_is_parse_error_with_line() {
    let (line, reason) = parse_error("i,j,label\n0,1,1\n2,3\n");
    assert_eq!(line, 3);
    assert!(
        reason.contains("found 2") && reason.contains("`2,3`"),
        "{reason}"
    );
}

#[test]
fn csv_too_many_fields_is_parse_error_with_line() {
    let (line, reason) = parse_error("i,j,label\n0,1,1\n\n2,3,1,\n");
    assert_eq!(line, 4);
    assert!(
        reason.contains("found 4") && reason.contains("`2,3,1,`"),
        "{reason}"
    );
}

#[test]
fn csv_non_integer_id_is_parse_error_naming_column() {
    let (line, reason) = parse_error("i,j,label\n0,1,1\n1,2,0\nx7,2,1\n");
    assert_eq!(line, 4);
    assert!(
        reason.contains("`i`") && reason.contains("`x7`"),
        "{reason}"
    );

    let (line, reason) = parse_error("i,j,label\n0,1.5,1\n");
    assert_eq!(line, 2);
    assert!(
        reason.contains("`j`") && reason.contains("`1.5`"),
        "{reason}"
    );
}

#[test]
fn csv_negative_id_is_parse_error_naming_column() {
    let (line, reason) = parse_error("i,j,label\r\n0,1,1\r\n3,-2,0\r\n");
    assert_eq!(line, 3);
    assert!(
        reason.contains("`j`") && reason.contains("`-2`") && reason.contains("is negative"),
        "{reason}"
    );
}

#[test]
fn csv_missing_id_is_parse_error_naming_column() {
    let (line, reason) = parse_error("i,j,label\n ,1,1\n");
    assert_eq!(line, 2);
    assert!(
        reason.contains("`i`") && reason.contains("missing"),
        "{reason}"
    );
}

#[test]
fn csv_id_too_large_is_parse_error() {
    let (line, reason) = parse_error("i,j,label\n0,99999999999999999999999999,1\n");
    assert_eq!(line, 2);
    assert!(
        reason.contains("`j`") && reason.contains("too large"),
        "{reason}"
    );
}

#[test]
fn csv_bad_label_is_parse_error_naming_value() {
    for bad in ["2", "0.5", "yes", "-1", "1.00", "true", ""] {
        let (line, reason) = parse_error(&format!("i,j,label\n\n0,1,1\n1,2,{bad}\n"));
        assert_eq!(line, 4, "label {bad:?}");
        assert!(
            reason.contains("`label`") && reason.contains(&format!("`{bad}`")),
            "{reason}"
        );
    }
}

#[test]
fn csv_first_error_on_a_line_is_reported_in_column_order() {
    let (_, reason) = parse_error("i,j,label\n-1,x,7\n");
    assert!(reason.contains("`i`"), "{reason}");
}

#[test]
fn csv_without_rows_is_empty() {
    for text in [
        "",
        "\n\n",
        "\u{feff}",
        "i,j,label\n",
        "i,j,label\r\n\r\n  \n",
    ] {
        match parse_pairs_csv(text) {
            Err(Error::Empty { what: "pairs" }) => {}
            other => panic!("expected Empty for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn csv_file_is_read() {
    let dir = scratch_dir("csv_file");
    let path = dir.path().join("pairs.csv");
    fs::write(&path, "\u{feff}i,j,label\r\n0,1,1\r\n2,3,0\r\n").unwrap();
    assert_eq!(
        read_pairs_csv(&path).unwrap(),
        vec![row(0, 1, 1.0), row(2, 3, 0.0)]
    );
}

#[test]
fn csv_file_with_invalid_utf8_is_parse_error_with_line() {
    let dir = scratch_dir("csv_utf8");
    let path = dir.path().join("pairs.csv");
    fs::write(&path, b"i,j,label\n0,1,1\n2,\xff3,0\n").unwrap();
    match read_pairs_csv(&path) {
        Err(Error::Parse { line: 3, reason }) => assert!(reason.contains("UTF-8"), "{reason}"),
        other => panic!("expected Parse at line 3, got {other:?}"),
    }
}

#[test]
fn missing_csv_file_is_io_error_naming_path() {
    let dir = scratch_dir("csv_missing");
    let path = dir.path().join("absent.csv");
    match read_pairs_csv(&path) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Io, got {other:?}"),
    }
}

// ----------------------------------------------------------------------------------------
// Predictions CSV
// ----------------------------------------------------------------------------------------

#[test]
fn predictions_csv_has_header_and_one_line_per_pair() {
    let dir = scratch_dir("pred_text");
    let path = dir.path().join("pred.csv");
    write_predictions_csv(&path, &[(0, 1), (5, 2), (7, 7)], &[0.5, 1.0, 0.0]).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "i,j,probability\n0,1,0.5\n5,2,1\n7,7,0\n"
    );
    assert_eq!(
        file_names(dir.path()),
        vec!["pred.csv"],
        "temporary file left behind"
    );
}

#[test]
fn predictions_csv_probabilities_read_back_exactly() {
    let dir = scratch_dir("pred_exact");
    let path = dir.path().join("pred.csv");
    let probs = [0.1f32, 1.0 / 3.0, 1e-40, 0.99999994, f32::MIN_POSITIVE];
    let pairs: Vec<(usize, usize)> = (0..probs.len()).map(|k| (k, k + 1)).collect();
    write_predictions_csv(&path, &pairs, &probs).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let back: Vec<f32> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(bits(&back), bits(&probs));
}

#[test]
fn predictions_csv_with_no_pairs_is_header_only() {
    let dir = scratch_dir("pred_empty");
    let path = dir.path().join("pred.csv");
    write_predictions_csv(&path, &[], &[]).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "i,j,probability\n");
}

#[test]
fn predictions_length_mismatch_is_row_mismatch_and_writes_nothing() {
    let dir = scratch_dir("pred_mismatch");
    let path = dir.path().join("pred.csv");
    let err = write_predictions_csv(&path, &[(0, 1), (1, 2)], &[0.5]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RowMismatch {
                what: "probabilities",
                expected: 2,
                found: 1
            }
        ),
        "{err:?}"
    );
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn predictions_non_finite_is_error_and_keeps_old_file() {
    let dir = scratch_dir("pred_nan");
    let path = dir.path().join("pred.csv");
    fs::write(&path, "old").unwrap();
    let err = write_predictions_csv(&path, &[(0, 1), (1, 2)], &[0.5, f32::NAN]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "probabilities",
                row: 1,
                col: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(file_names(dir.path()), vec!["pred.csv"]);
}

// ----------------------------------------------------------------------------------------
// Properties
// ----------------------------------------------------------------------------------------

/// One valid pair row plus how to spell it: label spelling and padding around fields.
fn spelled_row() -> impl Strategy<Value = (PairRow, String)> {
    let pad = prop::sample::select(vec!["", " ", "  ", "\t", " \t "]);
    (
        any::<usize>(),
        any::<usize>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(pad, 6),
    )
        .prop_map(|(i, j, positive, decimal, p)| {
            let label = match (positive, decimal) {
                (true, false) => "1",
                (true, true) => "1.0",
                (false, false) => "0",
                (false, true) => "0.0",
            };
            let text = format!(
                "{}{i}{},{}{j}{},{}{label}{}",
                p[0], p[1], p[2], p[3], p[4], p[5]
            );
            let label = if positive { 1.0 } else { 0.0 };
            (PairRow { i, j, label }, text)
        })
}

/// Joins lines with `\n` or `\r\n`, each followed by 0 to 2 blank lines.
fn layout(lines: &[String], crlf: bool, blanks: &[usize]) -> (String, Vec<usize>) {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut text = String::new();
    let mut line_no = Vec::new();
    let mut n = 0;
    for (k, l) in lines.iter().enumerate() {
        text.push_str(l);
        text.push_str(eol);
        n += 1;
        line_no.push(n);
        for _ in 0..blanks[k % blanks.len()] {
            text.push_str(eol);
            n += 1;
        }
    }
    (text, line_no)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_pairs_csv(&text);
    }

    #[test]
    fn parse_never_panics_on_csv_like_text(
        body in "[0-9ijlabe,.\\- \t\r\n\u{feff}]{0,300}",
        with_header in any::<bool>(),
    ) {
        let text = if with_header { format!("i,j,label\n{body}") } else { body };
        match parse_pairs_csv(&text) {
            Ok(rows) => prop_assert!(!rows.is_empty()),
            Err(Error::Parse { line, .. }) => {
                prop_assert!(line >= 1 && line <= text.split('\n').count());
            }
            Err(Error::Empty { what }) => prop_assert_eq!(what, "pairs"),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn formatted_valid_rows_parse_back(
        rows in prop::collection::vec(spelled_row(), 1..40),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        blanks in prop::collection::vec(0usize..3, 1..8),
    ) {
        let mut lines = vec!["i,j,label".to_owned()];
        lines.extend(rows.iter().map(|(_, t)| t.clone()));
        let (text, _) = layout(&lines, crlf, &blanks);
        let text = if bom { format!("\u{feff}{text}") } else { text };
        let expected: Vec<PairRow> = rows.iter().map(|(r, _)| *r).collect();
        prop_assert_eq!(parse_pairs_csv(&text).unwrap(), expected);
    }

    #[test]
    fn one_bad_row_is_reported_at_its_line(
        rows in prop::collection::vec(spelled_row(), 1..30),
        bad_at in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec!["1,2", "1,2,1,0", "a,2,1", "1,-2,0", "1,2,2", "1,2,0.5", ",2,1"]),
        crlf in any::<bool>(),
        blanks in prop::collection::vec(0usize..3, 1..8),
    ) {
        let mut lines = vec!["i,j,label".to_owned()];
        lines.extend(rows.iter().map(|(_, t)| t.clone()));
        let k = 1 + bad_at.index(rows.len() + 1); // anywhere after the header
        lines.insert(k, bad.to_owned());
        let (text, line_no) = layout(&lines, crlf, &blanks);
        match parse_pairs_csv(&text) {
            Err(Error::Parse { line, .. }) => prop_assert_eq!(line, line_no[k]),
            other => prop_assert!(false, "expected Parse error, got {other:?}"),
        }
    }
}
