//! From scored pairs to entities: `Clusterer` (connected components at a threshold) and
//! `ClusterMetrics` (pairwise, B-cubed, adjusted Rand) against naive references.

use proptest::prelude::*;
use sympair::cluster::{ClusterMetrics, Clusterer};
use sympair::{Combiner, Error, IdScorer, PairClassifier};

/// Components by repeated relabelling (O(n * edges)): the reference for the union-find.
fn components_reference(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut label: Vec<usize> = (0..n).collect();
    loop {
        let mut changed = false;
        for &(i, j) in edges {
            let m = label[i].min(label[j]);
            for x in [i, j] {
                if label[x] != m {
                    label[x] = m;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    label
}

/// True when two labelings put the same items together.
fn same_partition(a: &[usize], b: &[usize]) -> bool {
    (0..a.len()).all(|i| (0..a.len()).all(|j| (a[i] == a[j]) == (b[i] == b[j])))
}

proptest! {
    #[test]
    fn components_match_naive_reference(
        n in 1usize..40,
        raw in prop::collection::vec((0usize..40, 0usize..40, 0.0f32..=1.0), 0..80),
        threshold in 0.0f32..=1.0,
    ) {
        let pairs: Vec<(usize, usize, f32)> = raw.into_iter().map(|(i, j, p)| (i % n, j % n, p)).collect();
        let mut c = Clusterer::new(n, threshold).unwrap();
        let linked = c.add_all(pairs.iter().copied()).unwrap();
        let kept: Vec<(usize, usize)> = pairs.iter().filter(|p| p.2 >= threshold).map(|p| (p.0, p.1)).collect();
        prop_assert_eq!(linked, kept.len());
        let got = c.finish();
        let want = components_reference(n, &kept);
        prop_assert!(same_partition(got.labels(), &want));
        // Labels are 0..n_clusters, numbered in order of each cluster's first item.
        let mut next = 0;
        for &l in got.labels() {
            prop_assert!(l <= next);
            if l == next { next += 1; }
        }
        prop_assert_eq!(next, got.n_clusters());
    }

    #[test]
    fn metrics_match_naive_pair_and_item_counts(
        pairs in prop::collection::vec((0usize..5, 0usize..5), 1..30),
    ) {
        let (pred, truth): (Vec<usize>, Vec<usize>) = pairs.into_iter().unzip();
        let m = ClusterMetrics::compare(&pred, &truth).unwrap();
        let n = pred.len();
        let (mut tp, mut fp, mut fn_, mut tn) = (0u64, 0u64, 0u64, 0u64);
        for i in 0..n {
            for j in i + 1..n {
                match (pred[i] == pred[j], truth[i] == truth[j]) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    (false, false) => tn += 1,
                }
            }
        }
        prop_assert_eq!((m.pairs.tp, m.pairs.fp, m.pairs.fn_, m.pairs.tn), (tp, fp, fn_, tn));
        let (mut bp, mut br) = (0.0, 0.0);
        for i in 0..n {
            let both = (0..n).filter(|&j| pred[j] == pred[i] && truth[j] == truth[i]).count() as f64;
            bp += both / (0..n).filter(|&j| pred[j] == pred[i]).count() as f64;
            br += both / (0..n).filter(|&j| truth[j] == truth[i]).count() as f64;
        }
        prop_assert!((m.bcubed_precision - bp / n as f64).abs() < 1e-12);
        prop_assert!((m.bcubed_recall - br / n as f64).abs() < 1e-12);
        prop_assert!(m.adjusted_rand <= 1.0 + 1e-12);
    }
}

#[test]
fn threshold_is_inclusive_and_below_threshold_pairs_do_not_link() {
    let mut c = Clusterer::new(4, 0.5).unwrap();
    assert!(c.add(0, 1, 0.5).unwrap());
    assert!(!c.add(2, 3, 0.499_999_97).unwrap());
    assert_eq!((c.pairs_seen(), c.pairs_linked()), (2, 1));
    assert_eq!(c.finish().labels(), &[0, 0, 1, 2]);
}

#[test]
fn groups_and_sizes_list_entities() {
    let mut c = Clusterer::new(6, 0.9).unwrap();
    c.add_all([(4, 1, 0.95), (5, 4, 1.0), (0, 2, 0.2)]).unwrap();
    let k = c.finish();
    assert_eq!(k.sizes(), [1, 3, 1, 1]);
    assert_eq!(k.groups(2), [vec![1, 4, 5]]);
    assert_eq!(k.groups(1).len(), 4);
}

/// Values of scikit-learn 1.5 `adjusted_rand_score` (from its documentation examples).
#[test]
fn adjusted_rand_matches_scikit_learn() {
    let ari = |a: &[usize], b: &[usize]| ClusterMetrics::compare(a, b).unwrap().adjusted_rand;
    assert!((ari(&[0, 0, 1, 1], &[0, 0, 1, 2]) - 0.571_428_571_428_571_5).abs() < 1e-12);
    assert!((ari(&[0, 0, 1, 2], &[0, 0, 1, 1]) - 0.571_428_571_428_571_5).abs() < 1e-12);
    assert_eq!(ari(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
    assert_eq!(ari(&[0, 0, 0, 0], &[0, 1, 2, 3]), 0.0);
    assert!((ari(&[0, 0, 1, 1], &[0, 1, 0, 1]) - -0.5).abs() < 1e-12);
}

#[test]
fn perfect_clustering_scores_one_everywhere() {
    let t = [3, 3, 9, 9, 9, 1];
    let m = ClusterMetrics::compare(&[0, 0, 1, 1, 1, 2], &t).unwrap();
    assert_eq!(m.pairs.precision(), 1.0);
    assert_eq!(m.pairs.recall(), 1.0);
    assert_eq!(
        (m.bcubed_precision, m.bcubed_recall, m.adjusted_rand),
        (1.0, 1.0, 1.0)
    );
    assert_eq!((m.n_predicted, m.n_true), (3, 3));
}

#[test]
fn bad_input_is_a_typed_error_naming_the_row() {
    assert!(matches!(
        Clusterer::new(0, 0.5),
        Err(Error::Empty { what: "items" })
    ));
    for t in [-0.1, 1.5, f32::NAN] {
        assert!(matches!(
            Clusterer::new(3, t),
            Err(Error::InvalidConfig {
                field: "threshold",
                ..
            })
        ));
    }
    let mut c = Clusterer::new(3, 0.5).unwrap();
    let err = c.add_all([(0, 1, 0.9), (1, 3, 0.9)]).unwrap_err();
    assert!(matches!(
        err,
        Error::ItemOutOfRange {
            row: 1,
            id: 3,
            n_items: 3
        }
    ));
    let err = c.add(2, 0, f32::NAN).unwrap_err();
    assert!(matches!(
        err,
        Error::NonFinite {
            what: "probability",
            row: 1,
            col: 2,
            ..
        }
    ));
    assert!(matches!(
        ClusterMetrics::compare(&[0, 1], &[0]),
        Err(Error::RowMismatch {
            what: "truth",
            expected: 2,
            found: 1
        })
    ));
    assert!(matches!(
        ClusterMetrics::compare(&[], &[]),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn clusters_stream_from_the_csv_a_scorer_writes() {
    let model = PairClassifier::builder(2, Combiner::AbsDiff)
        .seed(5)
        .build()
        .unwrap();
    let items = ndarray::array![[0.0f32, 0.0], [0.0, 0.01], [5.0, 5.0], [5.0, 5.01]];
    let pairs = [(0, 1), (2, 3), (0, 2), (1, 3)];
    let mut csv = Vec::new();
    IdScorer::new(&model, items.view())
        .unwrap()
        .write_csv(pairs, &mut csv)
        .unwrap();
    let p = IdScorer::new(&model, items.view())
        .unwrap()
        .probabilities(&pairs)
        .unwrap();

    let mut from_csv = Clusterer::new(4, 0.5).unwrap();
    let linked = from_csv.add_csv(csv.as_slice()).unwrap();
    let mut direct = Clusterer::new(4, 0.5).unwrap();
    let linked_direct = direct
        .add_all(pairs.iter().zip(&p).map(|(&(i, j), &p)| (i, j, p)))
        .unwrap();
    assert_eq!(linked, linked_direct);
    assert_eq!(from_csv.finish(), direct.finish());
}

#[test]
fn csv_errors_name_the_line() {
    let mut c = Clusterer::new(3, 0.5).unwrap();
    let err = c.add_csv("i,j\n0,1\n".as_bytes()).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 1, .. }), "{err}");
    let err = c
        .add_csv("probability,j,i\n0.9,1,0\nhigh,2,1\n".as_bytes())
        .unwrap_err();
    assert!(matches!(err, Error::Parse { line: 3, .. }), "{err}");
    let err = c
        .add_csv("i,j,probability\n0,7,0.9\n".as_bytes())
        .unwrap_err();
    assert!(matches!(err, Error::ItemOutOfRange { id: 7, .. }), "{err}");
}
