//! Properties of item-indexed datasets (`ItemPairs`): validation names the row at fault,
//! unordered pairs are de-duplicated, gathering equals the dense copy bit for bit, and
//! splits are seeded and leak-free.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::bits;
use ndarray::Array2;
use proptest::prelude::*;
use sympair::{
    Combiner, EncoderConfig, Error, ItemPairs, LinearDecomposition, MlpConfig, PairClassifier,
    PairCombiner, PairData, PairDataset, TrainConfig,
};

/// `n` items of width `d` with distinct, deterministic values.
fn items(n: usize, d: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, d), |(r, c)| ((r * 7 + c * 3) % 11) as f32 * 0.25 - 1.0)
}

/// Every unordered pair of `n` items (no self-pairs); similar when `i % k == j % k`.
fn all_pairs(n: usize, k: usize) -> Vec<(usize, usize, f32)> {
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j, f32::from(u8::from(i % k == j % k)))))
        .collect()
}

/// The ids used by a dataset's pairs.
fn ids(data: &ItemPairs) -> HashSet<usize> {
    data.pairs().iter().flat_map(|&(i, j)| [i, j]).collect()
}

fn canonical(data: &ItemPairs) -> HashSet<(usize, usize)> {
    data.pairs()
        .iter()
        .map(|&(i, j)| (i.min(j), i.max(j)))
        .collect()
}

// --- validation -------------------------------------------------------------------------

#[test]
fn empty_items_width_or_pairs_are_typed_errors() {
    let none = ItemPairs::new(Array2::<f32>::zeros((0, 3)), vec![(0, 0, 1.0)]);
    assert!(matches!(none, Err(Error::Empty { what: "items" })));
    let narrow = ItemPairs::new(Array2::<f32>::zeros((2, 0)), vec![(0, 1, 1.0)]);
    assert!(matches!(
        narrow,
        Err(Error::Empty {
            what: "items (width 0)"
        })
    ));
    let no_pairs = ItemPairs::new(items(2, 2), Vec::new());
    assert!(matches!(no_pairs, Err(Error::Empty { what: "pairs" })));
}

#[test]
fn non_finite_item_names_its_row_and_column() {
    let mut m = items(4, 3);
    m[[2, 1]] = f32::INFINITY;
    let err = ItemPairs::new(m, vec![(0, 1, 1.0)]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "items",
                row: 2,
                col: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn invalid_label_names_its_row() {
    let pairs = vec![(0, 1, 1.0), (1, 2, 0.0), (0, 2, 0.5)];
    let err = ItemPairs::new(items(3, 2), pairs).unwrap_err();
    assert!(
        matches!(err, Error::InvalidLabel { row: 2, value } if value == 0.5),
        "{err:?}"
    );
    let err = ItemPairs::new(items(3, 2), vec![(0, 1, f32::NAN)]).unwrap_err();
    assert!(matches!(err, Error::InvalidLabel { row: 0, .. }), "{err:?}");
}

#[test]
fn out_of_range_id_names_its_row_in_either_column() {
    let err = ItemPairs::new(items(3, 2), vec![(0, 1, 1.0), (3, 0, 0.0)]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ItemOutOfRange {
                row: 1,
                id: 3,
                n_items: 3
            }
        ),
        "{err:?}"
    );
    let pairs = vec![(0, 1, 1.0), (1, 2, 0.0), (2, usize::MAX, 0.0)];
    let err = ItemPairs::new(items(3, 2), pairs).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ItemOutOfRange {
                row: 2,
                id: usize::MAX,
                n_items: 3
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "item id {} out of range at pair row 2: there are 3 items",
            usize::MAX
        )
    );
}

#[test]
fn conflicting_labels_name_both_rows_whatever_the_order() {
    // (4, 1) is the unordered pair (1, 4), first given at row 1 with label 1.
    let pairs = vec![(0, 1, 0.0), (1, 4, 1.0), (2, 3, 1.0), (4, 1, 0.0)];
    let err = ItemPairs::new(items(5, 2), pairs).unwrap_err();
    match err {
        Error::ConflictingLabels {
            i,
            j,
            first_row,
            first_label,
            second_row,
            second_label,
        } => {
            assert_eq!((i, j), (1, 4));
            assert_eq!((first_row, second_row), (1, 3));
            assert_eq!((first_label, second_label), (1.0, 0.0));
        }
        other => panic!("expected ConflictingLabels, got {other:?}"),
    }
}

#[test]
fn conflict_after_an_identical_duplicate_names_the_first_occurrence() {
    let pairs = vec![(2, 0, 1.0), (0, 2, 1.0), (2, 0, 0.0)];
    let err = ItemPairs::new(items(3, 2), pairs).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ConflictingLabels {
                i: 0,
                j: 2,
                first_row: 0,
                second_row: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn pair_rows_and_files_report_the_same_errors() {
    let rows = sympair::io::parse_pairs_csv("i,j,label\n0,1,1\n1,9,0\n").unwrap();
    let err = ItemPairs::from_pair_rows(items(3, 2), &rows).unwrap_err();
    assert!(matches!(err, Error::ItemOutOfRange { row: 1, id: 9, .. }));
}

#[cfg(feature = "npy")]
#[test]
fn from_files_reads_npy_and_csv_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, csv) = (dir.path().join("items.npy"), dir.path().join("pairs.csv"));
    let m = items(4, 3);
    sympair::io::write_embeddings_npy(&npy, m.view()).unwrap();
    std::fs::write(&csv, "i,j,label\n0,1,1\n1,0,1\n2,3,0\n3,3,1\n").unwrap();
    let data = ItemPairs::from_files(&npy, &csv).unwrap();
    assert_eq!(data.items(), m.view());
    assert_eq!(data.pairs(), &[(0, 1), (2, 3), (3, 3)]);
    assert_eq!(data.labels(), &[1.0, 0.0, 1.0]);
    assert_eq!(
        (data.duplicates_dropped(), data.self_pair_rows()),
        (1, &[3][..])
    );

    std::fs::write(&csv, "i,j,label\n0,1,1\n0,4,0\n").unwrap();
    let err = ItemPairs::from_files(&npy, &csv).unwrap_err();
    assert!(matches!(err, Error::ItemOutOfRange { row: 1, id: 4, .. }));
    std::fs::write(&csv, "i,j,label\n0,1,1\n0,x,0\n").unwrap();
    let err = ItemPairs::from_files(&npy, &csv).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 3, .. }), "{err:?}");
}

// --- de-duplication ---------------------------------------------------------------------

#[test]
fn same_unordered_pair_is_kept_once_in_first_orientation() {
    let pairs = vec![
        (3, 1, 1.0),
        (0, 2, 0.0),
        (1, 3, 1.0),
        (3, 1, 1.0),
        (2, 0, 0.0),
        (1, 2, 0.0),
    ];
    let data = ItemPairs::new(items(4, 2), pairs).unwrap();
    assert_eq!(data.pairs(), &[(3, 1), (0, 2), (1, 2)]);
    assert_eq!(data.labels(), &[1.0, 0.0, 0.0]);
    assert_eq!(data.len(), 3);
    assert_eq!(data.duplicates_dropped(), 3);
    assert!(data.self_pair_rows().is_empty());
}

#[test]
fn self_pairs_are_kept_and_reported_by_input_row() {
    let pairs = vec![
        (0, 1, 0.0),
        (2, 2, 1.0),
        (0, 1, 0.0),
        (1, 1, 1.0),
        (2, 2, 1.0),
    ];
    let data = ItemPairs::new(items(3, 2), pairs).unwrap();
    assert_eq!(data.pairs(), &[(0, 1), (2, 2), (1, 1)]);
    assert_eq!(data.self_pair_rows(), &[1, 3]);
    assert_eq!(data.duplicates_dropped(), 2);
}

// --- gathering --------------------------------------------------------------------------

/// The dense dataset built by hand, copying rows `items[i]` and `items[j]` per pair.
fn dense_copy(data: &ItemPairs) -> PairDataset {
    let n = data.len();
    let d = data.dim();
    let mut left = Array2::zeros((n, d));
    let mut right = Array2::zeros((n, d));
    for (k, &(i, j)) in data.pairs().iter().enumerate() {
        left.row_mut(k).assign(&data.items().row(i));
        right.row_mut(k).assign(&data.items().row(j));
    }
    PairDataset::new(left, right, data.labels().to_vec()).unwrap()
}

#[test]
fn gather_gives_bitwise_the_logits_of_the_dense_copy() {
    let mut pairs = all_pairs(12, 3);
    pairs.push((5, 5, 1.0));
    // Reverse some orientations so that the order of a pair matters for Concat.
    for p in pairs.iter_mut().step_by(3) {
        *p = (p.1, p.0, p.2);
    }
    let data = ItemPairs::new(items(12, 5), pairs).unwrap();
    let dense = dense_copy(&data);
    assert_eq!(data.to_dense().unwrap(), dense);

    let enc = EncoderConfig::new(MlpConfig::new([6]).unwrap(), 4).unwrap();
    let models = [
        PairClassifier::builder(5, Combiner::AbsDiff)
            .seed(1)
            .build(),
        PairClassifier::builder(5, Combiner::Concat).seed(2).build(),
        PairClassifier::builder(5, Combiner::ConcatSwapAverage)
            .seed(3)
            .build(),
        PairClassifier::builder(5, Combiner::Product)
            .encoder(enc)
            .seed(4)
            .build(),
    ];
    for model in models {
        let model = model.unwrap();
        let a = model.logits_for(&data).unwrap();
        let b = model.logits_for(&dense).unwrap();
        let c = model.predict_logits(dense.left(), dense.right()).unwrap();
        assert_eq!(b.as_slice(), c.as_slice().unwrap());
        if model.combiner().linear_decomposition() == LinearDecomposition::None {
            assert_eq!(bits(&a), bits(&b), "{:?}", model.combiner());
        } else {
            // Item pairs outnumbering their items take the per-item path (first layer
            // precomputed per item): equal to rounding (tests/precompute.rs).
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                    "{:?}",
                    model.combiner()
                );
            }
        }
    }
}

#[test]
fn training_on_item_pairs_matches_training_on_the_dense_copy() {
    let data = ItemPairs::new(items(16, 4), all_pairs(16, 4)).unwrap();
    let dense = dense_copy(&data);
    let config = TrainConfig::new()
        .with_epochs(3)
        .with_batch_size(16)
        .with_seed(5);
    let build = || {
        PairClassifier::builder(4, Combiner::SquaredDiff)
            .seed(9)
            .build()
            .unwrap()
    };
    let (mut a, mut b) = (build(), build());
    let ha = a.fit(&data, Some(&data), &config).unwrap();
    let hb = b.fit(&dense, Some(&dense), &config).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    let losses = |h: &sympair::History| h.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>();
    assert_eq!(losses(&ha), losses(&hb));
}

#[test]
fn shared_items_are_not_copied_by_new_or_splits() {
    let shared = Arc::new(items(10, 3));
    let data = ItemPairs::new(Arc::clone(&shared), all_pairs(10, 2)).unwrap();
    assert!(Arc::ptr_eq(data.shared_items(), &shared));
    let (a, b, _) = data.split_by_item(0.6, 1).unwrap();
    assert!(Arc::ptr_eq(a.shared_items(), &shared));
    assert!(Arc::ptr_eq(b.shared_items(), &shared));
    // A non-standard layout is copied once into standard layout.
    let t = ItemPairs::new(items(3, 10).reversed_axes(), vec![(0, 1, 1.0)]).unwrap();
    assert!(t.items().is_standard_layout());
    assert_eq!(t.items(), items(3, 10).t());
}

// --- splits -----------------------------------------------------------------------------

#[test]
fn item_split_shares_no_item_and_accounts_for_every_pair() {
    let data = ItemPairs::new(items(40, 3), all_pairs(40, 4)).unwrap();
    for seed in 0..5 {
        let (train, test, report) = data.split_by_item(0.7, seed).unwrap();
        let (a, b) = (ids(&train), ids(&test));
        assert!(a.is_disjoint(&b), "seed {seed}: an item is on both sides");
        assert_eq!(report.first_items.len(), 28);
        assert_eq!(report.second_items.len(), 12);
        assert!(
            a.iter()
                .all(|id| report.first_items.binary_search(id).is_ok())
        );
        assert!(
            b.iter()
                .all(|id| report.second_items.binary_search(id).is_ok())
        );
        assert_eq!(
            (train.len(), test.len()),
            (report.first_pairs, report.second_pairs)
        );
        assert_eq!((train.len(), test.len()), (28 * 27 / 2, 12 * 11 / 2));
        assert_eq!(
            train.len() + test.len() + report.cross_pairs_dropped,
            data.len()
        );
        // Labels travel with their pairs.
        for part in [&train, &test] {
            for (&(i, j), &t) in part.pairs().iter().zip(part.labels()) {
                assert_eq!(t, f32::from(u8::from(i % 4 == j % 4)));
            }
        }
    }
}

#[test]
fn item_split_only_partitions_items_that_pairs_use() {
    // Items 0..10 are used, 10..100 are not: 0.5 of the used items go to each side.
    let data = ItemPairs::new(items(100, 2), all_pairs(10, 2)).unwrap();
    let (_, _, report) = data.split_by_item(0.5, 3).unwrap();
    assert_eq!(
        (report.first_items.len(), report.second_items.len()),
        (5, 5)
    );
    assert!(
        report
            .first_items
            .iter()
            .chain(&report.second_items)
            .all(|&id| id < 10)
    );
}

#[test]
fn pair_split_shares_no_unordered_pair_and_keeps_all() {
    let mut pairs = all_pairs(20, 3);
    pairs.extend(all_pairs(20, 3).into_iter().map(|(i, j, t)| (j, i, t)));
    let data = ItemPairs::new(items(20, 2), pairs).unwrap();
    assert_eq!(data.duplicates_dropped(), 190);
    let (a, b) = data.split_by_pair(0.8, 11).unwrap();
    assert_eq!((a.len(), b.len()), (152, 38));
    assert!(canonical(&a).is_disjoint(&canonical(&b)));
    let all: HashSet<_> = canonical(&a).union(&canonical(&b)).copied().collect();
    assert_eq!(all, canonical(&data));
}

#[test]
fn splits_are_deterministic_per_seed() {
    let data = ItemPairs::new(items(30, 2), all_pairs(30, 3)).unwrap();
    let s1 = data.split_by_item(0.75, 42).unwrap();
    let s2 = data.split_by_item(0.75, 42).unwrap();
    let s3 = data.split_by_item(0.75, 43).unwrap();
    assert_eq!(s1, s2);
    assert_ne!(s1.2.first_items, s3.2.first_items);
    let p1 = data.split_by_pair(0.5, 42).unwrap();
    let p2 = data.split_by_pair(0.5, 42).unwrap();
    let p3 = data.split_by_pair(0.5, 43).unwrap();
    assert_eq!(p1, p2);
    assert_ne!(p1.0.pairs(), p3.0.pairs());
}

#[test]
fn split_parts_report_self_pairs_by_their_own_rows() {
    let mut pairs = all_pairs(10, 2);
    pairs.extend((0..10).map(|i| (i, i, 1.0)));
    let data = ItemPairs::new(items(10, 2), pairs).unwrap();
    let (a, b, _) = data.split_by_item(0.5, 0).unwrap();
    for part in [a, b] {
        assert_eq!(part.duplicates_dropped(), 0);
        let expected: Vec<usize> = (0..part.len())
            .filter(|&k| part.pairs()[k].0 == part.pairs()[k].1)
            .collect();
        assert_eq!(part.self_pair_rows(), expected.as_slice());
        assert_eq!(expected.len(), 5);
    }
}

#[test]
fn splits_with_an_empty_side_are_errors() {
    let one = ItemPairs::new(items(2, 2), vec![(0, 1, 1.0)]).unwrap();
    assert!(matches!(
        one.split_by_pair(0.5, 0),
        Err(Error::Empty { .. })
    ));
    // Two items: one per side, so no pair has both items on one side.
    assert!(matches!(
        one.split_by_item(0.5, 0),
        Err(Error::Empty { .. })
    ));
    // Fractions that round a side to nothing.
    let data = ItemPairs::new(items(10, 2), all_pairs(10, 2)).unwrap();
    assert!(matches!(
        data.split_by_pair(0.001, 0),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        data.split_by_pair(0.999, 0),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        data.split_by_item(0.01, 0),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        data.split_by_item(0.99, 0),
        Err(Error::Empty { .. })
    ));
    // One item per side at 0.1 / 0.9: that side has no pair (self-pairs aside).
    assert!(matches!(
        data.split_by_item(0.1, 0),
        Err(Error::Empty { .. })
    ));
    // A star: every pair uses item 0, so the side without it is empty.
    let star = ItemPairs::new(items(6, 2), (1..6).map(|j| (0, j, 1.0))).unwrap();
    assert!(matches!(
        star.split_by_item(0.5, 0),
        Err(Error::Empty { .. })
    ));
    for bad in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
        assert!(matches!(
            data.split_by_item(bad, 0),
            Err(Error::InvalidConfig {
                field: "fraction",
                ..
            })
        ));
        assert!(matches!(
            data.split_by_pair(bad, 0),
            Err(Error::InvalidConfig {
                field: "fraction",
                ..
            })
        ));
    }
}

// --- robustness -------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any ids and labels give a dataset or a typed error, never a panic, and a dataset
    /// obeys the invariants: ids in range, labels 0/1, one entry per unordered pair.
    #[test]
    fn random_ids_and_labels_never_panic(
        n_items in 0usize..6,
        d in 0usize..3,
        pairs in prop::collection::vec(
            (0usize..8, 0usize..8, prop::sample::select(vec![0.0f32, 1.0, 0.5, -1.0, f32::NAN])),
            0..24,
        ),
        fraction in -0.2f64..1.2,
        seed in any::<u64>(),
    ) {
        let m = Array2::from_shape_fn((n_items, d), |(r, c)| (r + c) as f32);
        let n_in = pairs.len();
        match ItemPairs::new(m, pairs) {
            Ok(data) => {
                prop_assert!(data.len() >= 1);
                prop_assert_eq!(data.len() + data.duplicates_dropped(), n_in);
                prop_assert_eq!(canonical(&data).len(), data.len());
                prop_assert!(data.pairs().iter().all(|&(i, j)| i < n_items && j < n_items));
                prop_assert!(data.labels().iter().all(|&t| t == 0.0 || t == 1.0));
                if let Ok((a, b, report)) = data.split_by_item(fraction, seed) {
                    prop_assert!(ids(&a).is_disjoint(&ids(&b)));
                    prop_assert_eq!(a.len() + b.len() + report.cross_pairs_dropped, data.len());
                }
                if let Ok((a, b)) = data.split_by_pair(fraction, seed) {
                    prop_assert_eq!(a.len() + b.len(), data.len());
                }
                let _ = data.to_dense();
            }
            Err(e) => prop_assert!(matches!(
                e,
                Error::Empty { .. }
                    | Error::InvalidLabel { .. }
                    | Error::ItemOutOfRange { .. }
                    | Error::ConflictingLabels { .. }
            ), "{e:?}"),
        }
    }
}

#[cfg(feature = "npy")]
#[test]
fn from_files_with_reads_named_columns_of_one_split() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, csv) = (dir.path().join("items.npy"), dir.path().join("pairs.csv"));
    sympair::io::write_embeddings_npy(&npy, items(4, 3).view()).unwrap();
    std::fs::write(
        &csv,
        "split,b,a,y\ntrain,1,0,1\ntest,3,2,0\ntrain,3,1,0\n\ntest,9,0,1\n",
    )
    .unwrap();
    let columns = sympair::io::PairsCsv::new()
        .with_columns("a", "b", "y")
        .unwrap();
    let train = ItemPairs::from_files_with(
        &npy,
        &csv,
        &columns.clone().with_filter("split", "train").unwrap(),
    )
    .unwrap();
    assert_eq!(train.pairs(), &[(0, 1), (1, 3)]);
    assert_eq!(train.labels(), &[1.0, 0.0]);
    // The test rows: the second names item 9 of 4; its row counts kept pairs only.
    let err =
        ItemPairs::from_files_with(&npy, &csv, &columns.with_filter("split", "test").unwrap())
            .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ItemOutOfRange {
                row: 1,
                id: 9,
                n_items: 4
            }
        ),
        "{err:?}"
    );
}
