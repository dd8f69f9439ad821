//! Hostile input to `sympair::io`: unreadable and unwritable paths, random and malformed
//! pairs CSV, bad predictions, random, mutated and mis-shaped `.npy` files.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use common::hostile::*;
use common::scratch_dir;
#[cfg(feature = "npy")]
use ndarray::Array2;
use proptest::prelude::*;
use sympair::Error;
use sympair::io::{PairRow, parse_pairs_csv, read_pairs_csv, write_predictions_csv};

// ---------------------------------------------------------------------------------------
// sympair::io
// ---------------------------------------------------------------------------------------

/// Paths that cannot be read or written give `Error::Io`, and a failed save leaves nothing.
#[test]
fn unreadable_and_unwritable_paths_are_io_errors() {
    let dir = scratch_dir("hostile-io");
    let nowhere = dir
        .path()
        .join("no-such-folder")
        .join("deeper")
        .join("file");
    assert_eq!(outcome(&read_pairs_csv(&nowhere)), Err(Kind::Io));
    assert_eq!(
        outcome(&write_predictions_csv(&nowhere, &[(0, 1)], &[0.5])),
        Err(Kind::Io)
    );
    assert_eq!(outcome(&ZOO[0].save(&nowhere)), Err(Kind::Io));
    #[cfg(feature = "npy")]
    {
        use sympair::io::{read_embeddings_npy, write_embeddings_npy};
        assert_eq!(outcome(&read_embeddings_npy(&nowhere)), Err(Kind::Io));
        let m = filled(2, 2, 0.0);
        assert_eq!(
            outcome(&write_embeddings_npy(&nowhere, m.view())),
            Err(Kind::Io)
        );
    }
    assert!(!nowhere.exists());
}

/// Text made of CSV-ish tokens, so that random input often gets past the header.
fn csv_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("i,j,label"),
        Just("i,j,label\n"),
        Just("0"),
        Just("1"),
        Just("7"),
        Just("0.0"),
        Just("1.0"),
        Just("0.5"),
        Just("-3"),
        Just("99999999999999999999999"),
        Just(","),
        Just(",,"),
        Just("\n"),
        Just("\r\n"),
        Just(" "),
        Just("\u{feff}"),
        Just("x"),
        Just("é"),
        Just("\0"),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

fn check_parsed(text: &str, r: &Result<Vec<PairRow>, Error>) -> Result<(), TestCaseError> {
    let lines = text.split('\n').count();
    match r {
        Ok(rows) => {
            prop_assert!(!rows.is_empty());
            prop_assert!(rows.iter().all(|r| r.label == 0.0 || r.label == 1.0));
        }
        Err(Error::Parse { line, .. }) => {
            prop_assert!((1..=lines).contains(line), "line {line} of {lines}")
        }
        Err(e) => prop_assert_eq!(kind(e), Kind::Empty("pairs")),
    }
    Ok(())
}

#[cfg(feature = "npy")]
/// Minimal `.npy` bytes (format 1.0): a header for `descr`, order and `shape`, then `data`.
fn npy(descr: &str, fortran_order: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran_order { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

#[cfg(feature = "npy")]
/// The values of `m` as `.npy` data: f32 or f64, little or big endian, C or Fortran order.
fn npy_of(m: &Array2<f32>, f64s: bool, big: bool, fortran_order: bool) -> Vec<u8> {
    let values: Vec<f32> = if fortran_order {
        m.t().iter().copied().collect()
    } else {
        m.iter().copied().collect()
    };
    let mut data = Vec::new();
    for v in values {
        match (f64s, big) {
            (false, false) => data.extend(v.to_le_bytes()),
            (false, true) => data.extend(v.to_be_bytes()),
            (true, false) => data.extend(f64::from(v).to_le_bytes()),
            (true, true) => data.extend(f64::from(v).to_be_bytes()),
        }
    }
    let descr = format!(
        "{}f{}",
        if big { '>' } else { '<' },
        if f64s { 8 } else { 4 }
    );
    npy(&descr, fortran_order, &[m.nrows(), m.ncols()], &data)
}

#[cfg(feature = "npy")]
fn read_npy_bytes(name: &str, bytes: &[u8]) -> Result<Array2<f32>, Error> {
    let dir = scratch_dir("hostile-npy");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    sympair::io::read_embeddings_npy(&path)
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn parse_pairs_csv_never_panics_on_random_text(text in prop_oneof![any::<String>(), csv_like()]) {
        let r = parse_pairs_csv(&text);
        check_parsed(&text, &r)?;
    }

    #[test]
    fn parse_pairs_csv_names_the_bad_line(
        (n, bad_row) in (1usize..12).prop_flat_map(|n| (Just(n), 0..n)),
        bad in prop_oneof![
            Just("0,1,0.5"), Just("0,1,2"), Just("0,1,-1"), Just("0,1,NaN"), Just("0,1,"),
            Just("-1,2,1"), Just("0,-2,0"), Just("a,1,1"), Just("1.5,2,1"), Just("0,1"),
            Just("0,1,1,1"), Just(",,"), Just("99999999999999999999999,1,1"), Just("0,1,true"),
        ],
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("i,j,label{eol}");
        for k in 0..n {
            let line = if k == bad_row { bad.to_owned() } else { format!("{},{},{}", k, k + 1, k % 2) };
            text.push_str(&line);
            text.push_str(eol);
        }
        prop_assert_eq!(outcome(&parse_pairs_csv(&text)), Err(Kind::Parse(bad_row + 2)));
    }

    #[test]
    fn read_pairs_csv_on_random_bytes_gives_parse_or_empty_errors(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            csv_like().prop_flat_map(|t| {
                let b = t.into_bytes();
                let len = b.len();
                (Just(b), 0..=len, any::<u8>()).prop_map(|(mut b, at, x)| {
                    b.insert(at, x);
                    b
                })
            }),
        ],
    ) {
        let dir = scratch_dir("hostile-csv");
        let path = dir.path().join("pairs.csv");
        std::fs::write(&path, &bytes).unwrap();
        let r = read_pairs_csv(&path);
        match std::str::from_utf8(&bytes) {
            Ok(text) => check_parsed(text, &r)?,
            Err(e) => {
                // Read as a stream: the first problem in file order, at the bad byte's line
                // or before it.
                let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
                prop_assert!(
                    matches!(outcome(&r), Err(Kind::Parse(l)) if (1..=line).contains(&l)),
                    "{:?}, bad byte on line {}", outcome(&r), line
                );
            }
        }
    }

    #[test]
    fn write_predictions_csv_rejects_bad_input_and_writes_nothing(
        n in 0usize..10, m in near(5), bad in proptest::option::of((any::<proptest::sample::Index>(), non_finite())),
    ) {
        let pairs: Vec<(usize, usize)> = (0..n).map(|k| (k, k + 1)).collect();
        let mut probs: Vec<f32> = (0..m).map(|k| k as f32 / 10.0).collect();
        let dir = scratch_dir("hostile-predictions");
        let path = dir.path().join("predictions.csv");
        let expected = if m != n {
            Some(Kind::Rows("probabilities", n, m))
        } else if let (Some((at, v)), true) = (bad, m > 0) {
            let row = at.index(m);
            probs[row] = v;
            Some(Kind::NonFinite("probabilities", row, 0))
        } else {
            None
        };
        let r = write_predictions_csv(&path, &pairs, &probs);
        match expected {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert!(!path.exists());
            }
            None => prop_assert!(r.is_ok()),
        }
    }
}

#[cfg(feature = "npy")]
proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn read_embeddings_npy_never_panics_on_random_or_mutated_bytes(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..128),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|t| [&b"\x93NUMPY\x01\x00"[..], &t].concat()),
            (1usize..5, 1usize..5, any::<bool>(), any::<bool>(), any::<bool>(),
             proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
             any::<proptest::sample::Index>())
                .prop_map(|(n, d, f64s, big, f, edits, cut)| {
                    let mut b = npy_of(&filled(n, d, 0.0), f64s, big, f);
                    for (at, x) in edits {
                        let i = at.index(b.len());
                        b[i] = x;
                    }
                    let keep = b.len() - cut.index(b.len() / 4 + 1);
                    b.truncate(keep);
                    b
                }),
        ],
    ) {
        let r = read_npy_bytes(&format!("random-{}.npy", bytes.len()), &bytes);
        match r {
            Ok(m) => prop_assert!(m.nrows() > 0 && m.ncols() > 0 && m.iter().all(|v| v.is_finite())),
            Err(e) => prop_assert!(
                matches!(kind(&e), Kind::Format | Kind::Empty("embeddings") | Kind::NonFinite("embeddings", _, _)),
                "{e:?}"
            ),
        }
    }

    #[test]
    fn read_embeddings_npy_names_the_non_finite_cell(
        ((n, d), (row, col), v, f64s, big, fortran_order) in (1usize..8, 1usize..6).prop_flat_map(|(n, d)| (
            Just((n, d)), (0..n, 0..d), non_finite(), any::<bool>(), any::<bool>(), any::<bool>(),
        )),
    ) {
        let mut m = filled(n, d, 0.0);
        m[[row, col]] = v;
        let r = read_npy_bytes(&format!("nan-{n}-{d}-{row}-{col}.npy"), &npy_of(&m, f64s, big, fortran_order));
        prop_assert_eq!(outcome(&r), Err(Kind::NonFinite("embeddings", row, col)));
    }

    #[test]
    fn read_embeddings_npy_rejects_wrong_shapes_and_dtypes(
        shape in proptest::collection::vec(0usize..4, 0..4),
        descr in prop_oneof![Just("<f4"), Just("<f8"), Just("<i4"), Just("<f2"), Just("|u1"), Just("<c8")],
    ) {
        let item = match descr { "<f8" | "<c8" => 8, "<f4" | "<i4" => 4, "<f2" => 2, _ => 1 };
        let len: usize = shape.iter().product();
        let r = read_npy_bytes(
            &format!("shape-{}-{descr}.npy", shape.len()),
            &npy(descr, false, &shape, &vec![0u8; len * item]),
        );
        let float = matches!(descr, "<f4" | "<f8");
        if shape.len() != 2 || !float {
            prop_assert_eq!(outcome(&r), Err(Kind::Format));
        } else if len == 0 {
            prop_assert_eq!(outcome(&r), Err(Kind::Empty("embeddings")));
        } else {
            prop_assert_eq!(r.unwrap().dim(), (shape[0], shape[1]));
        }
    }
}

/// Regression: a tiny `.npy` file whose header declares a huge shape made ndarray-npy
/// allocate the whole array before reading (a 128-byte file asked for 4 TB and aborted
/// the process). It is now a format error, found before any allocation.
#[cfg(feature = "npy")]
#[test]
fn npy_header_with_a_huge_shape_is_a_format_error_not_an_allocation() {
    for (shape, data) in [
        (vec![1_000_000_000_000usize, 1], 0usize),
        (vec![100_000_000, 10], 16),
        (vec![1 << 40, 1 << 40], 8),
        (vec![usize::MAX, 2], 0),
        (vec![3, 2], 23),
    ] {
        let r = read_npy_bytes("huge.npy", &npy("<f4", false, &shape, &vec![0u8; data]));
        assert_eq!(outcome(&r), Err(Kind::Format), "shape {shape:?}");
    }
}
