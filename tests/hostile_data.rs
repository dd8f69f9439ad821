//! Hostile input to the data sources: `PairDataset` (`new`, `select`, `split`), `ItemPairs`
//! (`new`, `from_pair_rows`, `from_files`, both splits) and `ClusterTask`.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use std::panic::catch_unwind;

use common::hostile::*;
#[cfg(feature = "npy")]
use common::scratch_dir;
use ndarray::Array2;
use proptest::prelude::*;
use sympair::io::PairRow;
use sympair::{ClusterTask, Error, ItemPairs, PairData, PairDataset};

// ---------------------------------------------------------------------------------------
// PairDataset: new, select, split
// ---------------------------------------------------------------------------------------

/// `PairDataset::new`'s documented order of shape checks.
fn expected_dataset_shape(nl: usize, dl: usize, nr: usize, dr: usize, nt: usize) -> Option<Kind> {
    if nl == 0 {
        Some(Kind::Empty("left"))
    } else if dl == 0 {
        Some(Kind::Empty("left (width 0)"))
    } else if nr != nl {
        Some(Kind::Rows("right", nl, nr))
    } else if nt != nl {
        Some(Kind::Rows("labels", nl, nt))
    } else if dr != dl {
        Some(Kind::Width("right", dl, dr))
    } else {
        None
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn pair_dataset_new_checks_shapes_in_documented_order(
        (nl, dl, nr, dr, nt) in (1usize..5, 1usize..4)
            .prop_flat_map(|(n, d)| (near(n), near(d), near(n), near(d), near(n)))
    ) {
        let r = PairDataset::new(filled(nl, dl, 0.0), filled(nr, dr, 1.0), labels(nt));
        match expected_dataset_shape(nl, dl, nr, dr, nt) {
            Some(k) => prop_assert_eq!(outcome(&r), Err(k)),
            None => {
                let data = r.unwrap();
                prop_assert_eq!((data.len(), data.dim()), (nl, dl));
            }
        }
    }

    #[test]
    fn pair_dataset_new_names_the_first_non_finite_cell(
        ((n, d), first, second, v, w, layout) in (1usize..40, 1usize..12).prop_flat_map(|(n, d)| (
            Just((n, d)),
            cells(n, d, 2),
            proptest::option::of(cells(n, d, 2)),
            non_finite(),
            non_finite(),
            any::<bool>(),
        ))
    ) {
        let mut m = [filled(n, d, 0.0), filled(n, d, 1.0)];
        m[first.0][[first.1, first.2]] = v;
        if let Some(s) = second {
            m[s.0][[s.1, s.2]] = w;
        }
        // Left is checked before right, each in row-major order.
        let bad = second.map_or(first, |s| first.min(s));
        let value = if Some(bad) == second { w } else { v };
        let [left, right] = m;
        let (left, right) = if layout { (fortran(&left), fortran(&right)) } else { (left, right) };
        let err = PairDataset::new(left, right, labels(n)).unwrap_err();
        let what = ["left", "right"][bad.0];
        prop_assert_eq!(kind(&err), Kind::NonFinite(what, bad.1, bad.2));
        prop_assert!(same_value(reported_value(&err).unwrap(), f64::from(value)));
    }

    #[test]
    fn pair_dataset_new_names_the_first_bad_label(
        ((n, row), t, later) in (1usize..40).prop_flat_map(|n| (Just(n), 0..n))
            .prop_flat_map(|(n, row)| (Just((n, row)), bad_label(), proptest::option::of(row..n)))
    ) {
        let mut y = labels(n);
        y[row] = t;
        if let Some(k) = later.filter(|&k| k > row) {
            y[k] = 0.25;
        }
        let err = PairDataset::new(filled(n, 2, 0.0), filled(n, 2, 1.0), y).unwrap_err();
        prop_assert_eq!(kind(&err), Kind::Label(row));
        prop_assert!(same_value(reported_value(&err).unwrap(), f64::from(t)));
    }

    #[test]
    fn select_rejects_empty_and_out_of_range_indices(
        (n, idx) in (1usize..20).prop_flat_map(|n| (Just(n), proptest::collection::vec(0..2 * n + 1, 0..8)))
    ) {
        let data = dataset(n, 2);
        let r = data.select(&idx);
        match idx.iter().position(|&i| i >= n) {
            _ if idx.is_empty() => prop_assert_eq!(outcome(&r), Err(Kind::Empty("indices"))),
            Some(row) => prop_assert_eq!(outcome(&r), Err(Kind::Range(row, idx[row], n))),
            None => prop_assert_eq!(r.unwrap().len(), idx.len()),
        }
    }

    #[test]
    fn split_rejects_bad_fractions_and_empty_parts(
        n in 1usize..20,
        fraction in prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(0.0), Just(-0.0),
            Just(1.0), Just(-0.5), Just(1.5), Just(1e-300), Just(1.0 - 1e-16), 0.0f64..1.0,
        ],
        seed in any::<u64>(),
    ) {
        let r = dataset(n, 2).split(fraction, seed);
        if !(fraction > 0.0 && fraction < 1.0) {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("fraction")));
        } else {
            let k = ((fraction * n as f64).round() as usize).clamp(1, n);
            if k == n {
                prop_assert!(matches!(outcome(&r), Err(Kind::Empty(_))), "{r:?}");
            } else {
                let (a, b) = r.unwrap();
                prop_assert_eq!((a.len(), b.len()), (k, n - k));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// ItemPairs
// ---------------------------------------------------------------------------------------

/// One thing wrong with otherwise valid item pairs.
#[derive(Clone, Debug)]
enum Corruption {
    NoItems,
    ZeroWidth,
    NoPairs,
    NonFinite(usize, usize, f32),
    Label(usize, f32),
    OutOfRange(usize, bool, usize),
    Conflict(usize, bool),
}

fn corruption(n_items: usize, d: usize, n_pairs: usize) -> impl Strategy<Value = Corruption> {
    prop_oneof![
        Just(Corruption::NoItems),
        Just(Corruption::ZeroWidth),
        Just(Corruption::NoPairs),
        (0..n_items, 0..d, non_finite()).prop_map(|(r, c, v)| Corruption::NonFinite(r, c, v)),
        (0..n_pairs, bad_label()).prop_map(|(r, t)| Corruption::Label(r, t)),
        (0..n_pairs, any::<bool>(), 0usize..3)
            .prop_map(|(r, j, extra)| Corruption::OutOfRange(r, j, extra)),
        (0..n_pairs, any::<bool>()).prop_map(|(r, swap)| Corruption::Conflict(r, swap)),
    ]
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn item_pairs_name_the_bad_row(
        ((n_items, d), ids, c, as_rows) in (2usize..8, 1usize..4)
            .prop_flat_map(|(n, d)| (Just((n, d)), proptest::collection::vec((0..n, 0..n), 1..12)))
            .prop_flat_map(|((n, d), ids)| {
                let len = ids.len();
                (Just((n, d)), Just(ids), corruption(n, d, len), any::<bool>())
            }),
    ) {
        // Labels are a function of the unordered pair, so the valid list never conflicts.
        let label = |i: usize, j: usize| ((i + j) % 2) as f32;
        let mut items = filled(n_items, d, 0.0);
        let mut pairs: Vec<(usize, usize, f32)> = ids.iter().map(|&(i, j)| (i, j, label(i, j))).collect();
        let key = |i: usize, j: usize| (i.min(j), i.max(j));
        let expected = match c {
            Corruption::NoItems => {
                items = Array2::zeros((0, d));
                Kind::Empty("items")
            }
            Corruption::ZeroWidth => {
                items = Array2::zeros((n_items, 0));
                Kind::Empty("items (width 0)")
            }
            Corruption::NoPairs => {
                pairs.clear();
                Kind::Empty("pairs")
            }
            Corruption::NonFinite(r, col, v) => {
                items[[r, col]] = v;
                Kind::NonFinite("items", r, col)
            }
            Corruption::Label(row, t) => {
                pairs[row].2 = t;
                Kind::Label(row)
            }
            Corruption::OutOfRange(row, in_j, extra) => {
                let id = n_items + extra;
                if in_j { pairs[row].1 = id } else { pairs[row].0 = id }
                Kind::Range(row, id, n_items)
            }
            Corruption::Conflict(row, swap) => {
                let (i, j, t) = pairs[row];
                let first = pairs.iter().position(|&(a, b, _)| key(a, b) == key(i, j)).unwrap();
                let second = pairs.len();
                pairs.push(if swap { (j, i, 1.0 - t) } else { (i, j, 1.0 - t) });
                let (a, b) = key(i, j);
                Kind::Conflict(a, b, first, second)
            }
        };
        let r = if as_rows {
            let rows: Vec<PairRow> = pairs.iter().map(|&(i, j, label)| PairRow { i, j, label }).collect();
            ItemPairs::from_pair_rows(items, &rows)
        } else {
            ItemPairs::new(items, pairs)
        };
        prop_assert_eq!(outcome(&r), Err(expected));
    }

    #[test]
    fn item_pair_splits_reject_bad_fractions_and_empty_parts(
        ids in proptest::collection::vec((0usize..6, 0usize..6), 1..15),
        fraction in prop_oneof![
            Just(f64::NAN), Just(0.0), Just(1.0), Just(-1.0), Just(f64::INFINITY), Just(1e-300),
            Just(1.0 - 1e-16), 0.0f64..1.0,
        ],
        seed in any::<u64>(),
    ) {
        let pairs = ids.iter().map(|&(i, j)| (i, j, ((i + j) % 2) as f32));
        let data = ItemPairs::new(filled(6, 2, 0.0), pairs).unwrap();
        let valid = fraction > 0.0 && fraction < 1.0;
        let n = data.len();

        let r = data.split_by_pair(fraction, seed);
        if !valid {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("fraction")));
        } else {
            let k = (fraction * n as f64).round() as usize;
            match r {
                Ok((a, b)) => prop_assert_eq!((a.len(), b.len(), k > 0 && k < n), (k, n - k, true)),
                Err(e) => prop_assert!(matches!(kind(&e), Kind::Empty(_)) && (k == 0 || k >= n), "{e:?}"),
            }
        }

        let r = data.split_by_item(fraction, seed);
        if !valid {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("fraction")));
        } else {
            match r {
                Ok((a, b, report)) => {
                    prop_assert!(!a.is_empty() && !b.is_empty());
                    prop_assert!(report.first_items.iter().all(|i| report.second_items.binary_search(i).is_err()));
                }
                Err(e) => prop_assert!(matches!(kind(&e), Kind::Empty(_)), "{e:?}"),
            }
        }
    }
}

#[cfg(feature = "npy")]
#[test]
fn item_pairs_from_files_reports_each_bad_file() {
    use sympair::io::write_embeddings_npy;
    let dir = scratch_dir("hostile-data");
    let scratch = |name: &str| dir.path().join(name);
    let npy_path = scratch("items.npy");
    let csv_path = scratch("pairs.csv");
    write_embeddings_npy(&npy_path, filled(3, 2, 0.0).view()).unwrap();
    std::fs::write(&csv_path, "i,j,label\n0,1,1\n1,2,0\n").unwrap();
    assert!(ItemPairs::from_files(&npy_path, &csv_path).is_ok());

    let missing = scratch("missing.npy");
    assert_eq!(
        outcome(&ItemPairs::from_files(&missing, &csv_path)),
        Err(Kind::Io)
    );
    assert_eq!(
        outcome(&ItemPairs::from_files(&npy_path, scratch("missing.csv"))),
        Err(Kind::Io)
    );

    let garbage = scratch("garbage.npy");
    std::fs::write(&garbage, b"not an npy file").unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&garbage, &csv_path)),
        Err(Kind::Format)
    );

    let bad_csv = scratch("bad.csv");
    std::fs::write(&bad_csv, "i,j,label\n0,1,1\n1,2,0.5\n").unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&npy_path, &bad_csv)),
        Err(Kind::Parse(3))
    );

    let out_of_range = scratch("range.csv");
    std::fs::write(&out_of_range, "i,j,label\n0,1,1\n1,3,0\n").unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&npy_path, &out_of_range)),
        Err(Kind::Range(1, 3, 3))
    );

    let mut nan = filled(3, 2, 0.0);
    nan[[2, 1]] = f32::NAN;
    let nan_path = scratch("nan.npy");
    write_embeddings_npy(&nan_path, nan.view()).unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&nan_path, &csv_path)),
        Err(Kind::NonFinite("embeddings", 2, 1))
    );
}

// ---------------------------------------------------------------------------------------
// ClusterTask
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn cluster_task_rejects_bad_settings(
        d in 0usize..6,
        k in 0usize..5,
        noise in prop_oneof![
            Just(f32::NAN), Just(f32::INFINITY), Just(-1.0f32), Just(-f32::MIN_POSITIVE),
            Just(0.0), Just(0.5), Just(1e30), Just(f32::MAX),
        ],
        n_pairs in 0usize..20,
        seed in any::<u64>(),
    ) {
        let task = ClusterTask::with_centre_seed(d, k, seed);
        if d == 0 {
            prop_assert_eq!(outcome(&task), Err(Kind::Config("d")));
            return Ok(());
        }
        if k < 2 {
            prop_assert_eq!(outcome(&task), Err(Kind::Config("n_clusters")));
            return Ok(());
        }
        let task = task.unwrap().with_noise(noise);
        if !(noise.is_finite() && noise >= 0.0) {
            prop_assert_eq!(outcome(&task), Err(Kind::Config("noise")));
            return Ok(());
        }
        let r = task.unwrap().generate(n_pairs, seed);
        match r {
            _ if n_pairs == 0 => prop_assert_eq!(outcome(&r), Err(Kind::Empty("n_pairs"))),
            Ok(data) => {
                prop_assert_eq!((data.len(), data.dim()), (n_pairs, d));
                prop_assert!(data.left().iter().chain(data.right()).all(|v| v.is_finite()));
            }
            // Noise near f32::MAX overflows an item: reported, not returned.
            Err(e) => prop_assert!(noise > 1e37 && matches!(kind(&e), Kind::NonFinite(_, _, _)), "{e:?}"),
        }
    }
}

/// Regression: `ClusterTask` sizes whose matrices overflow `isize` bytes are
/// `Error::InvalidConfig`, not ndarray's "Shape too large" panic.
#[test]
fn cluster_task_rejects_sizes_too_large_to_allocate() {
    for (d, k) in [(usize::MAX, 2), (2, usize::MAX), (1 << 62, 4)] {
        let r = catch_unwind(|| ClusterTask::new(d, k).map(|t| t.dim()));
        assert!(
            matches!(r, Ok(Err(Error::InvalidConfig { .. }))),
            "d {d}, k {k}: {r:?}"
        );
    }
    let task = ClusterTask::new(2, 2).unwrap();
    let r = catch_unwind(|| task.generate(usize::MAX, 0).map(|d| d.len()));
    assert!(matches!(r, Ok(Err(_))), "{r:?}");
}
