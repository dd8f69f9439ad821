//! Item-grouped folds and cross-validated selection.

use std::collections::HashSet;

use ndarray::Array2;
use sympair::select::{Progress, SearchSpace, SelectConfig, cross_validate};
use sympair::{Combiner, Error, ItemPairs, PairData, TrainConfig};

/// 40 items in 4 clusters (similar = same cluster), every unordered pair.
fn clustered(n: usize) -> ItemPairs {
    let items = Array2::from_shape_fn((n, 6), |(r, c)| {
        let centre = if c % 4 == r % 4 { 1.0 } else { 0.0 };
        centre + 0.3 * (((r * 7 + c * 13) % 11) as f32 / 11.0 - 0.5)
    });
    let pairs = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j, (i % 4 == j % 4) as u8 as f32)));
    ItemPairs::new(items, pairs).expect("valid clustered data")
}

fn items_of(data: &ItemPairs) -> HashSet<usize> {
    data.pairs().iter().flat_map(|&(i, j)| [i, j]).collect()
}

#[test]
fn item_folds_share_no_item_and_count_every_pair() {
    let data = clustered(40);
    let folds = data.item_folds(4, 3).unwrap();
    assert_eq!(folds.len(), 4);
    let mut held_out = HashSet::new();
    for fold in &folds {
        let (tr, va) = (items_of(&fold.train), items_of(&fold.valid));
        assert!(tr.is_disjoint(&va), "an item on both sides of a fold");
        assert_eq!(
            fold.train.len() + fold.valid.len() + fold.cross_pairs_dropped,
            data.len()
        );
        // Each item is held out by exactly one fold.
        assert!(held_out.is_disjoint(&va));
        held_out.extend(va);
    }
    assert_eq!(held_out.len(), 40);
}

#[test]
fn item_folds_reject_a_bad_fold_count() {
    let data = clustered(8);
    for k in [0, 1, 9] {
        assert!(matches!(
            data.item_folds(k, 0),
            Err(Error::InvalidConfig { field: "folds", .. })
        ));
    }
}

fn small_space() -> SearchSpace {
    SearchSpace::grid(
        &[Combiner::Product, Combiner::Sum],
        &[vec![8]],
        &[1e-2],
        &[0.0],
        64,
        4,
        &TrainConfig::new(),
    )
    .unwrap()
}

#[test]
fn cross_validation_is_bitwise_reproducible_and_reports_every_fit() {
    let data = clustered(40);
    let config = SelectConfig::new().with_folds(3).with_fold_seed(1);
    let mut reports = Vec::new();
    let a = cross_validate(&data, &small_space(), &config, &mut |p: &Progress| {
        reports.push(p.clone())
    })
    .unwrap();
    let b = cross_validate(&data, &small_space(), &config, &mut ()).unwrap();
    // 2 candidates x 3 folds, then the refit.
    assert_eq!(reports.len(), 7);
    assert!(matches!(reports.last(), Some(Progress::Refit { .. })));
    let ta: Vec<_> = a
        .table
        .iter()
        .map(|t| (t.mean_auc.to_bits(), t.epochs))
        .collect();
    let tb: Vec<_> = b
        .table
        .iter()
        .map(|t| (t.mean_auc.to_bits(), t.epochs))
        .collect();
    assert_eq!(ta, tb);
    assert_eq!(
        a.model.logits_for(&data).unwrap(),
        b.model.logits_for(&data).unwrap()
    );
}

#[test]
fn selection_picks_the_best_mean_fold_auc_and_refits_its_epochs() {
    let data = clustered(40);
    let sel = cross_validate(
        &data,
        &small_space(),
        &SelectConfig::new().with_folds(3),
        &mut (),
    )
    .unwrap();
    let best = sel
        .table
        .iter()
        .map(|t| t.mean_auc)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(sel.table[sel.best].mean_auc, best);
    let row = &sel.table[sel.best];
    assert_eq!(sel.chosen.train.epochs(), row.epochs);
    assert!((1..=4).contains(&row.epochs));
    // The mean and the per-fold figures agree.
    let mean = row.fold_aucs.iter().sum::<f64>() / row.fold_aucs.len() as f64;
    assert!((mean - row.mean_auc).abs() < 1e-12);
    // Product separates same-cluster pairs; Sum cannot tell (a, b) from (c, d) as well.
    assert_eq!(sel.chosen.combiner, Combiner::Product);
    assert_eq!(sel.cross_pairs_dropped.len(), 3);
}
