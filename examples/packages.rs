//! Real data: which Debian packages are in the same section? (2,142 package descriptions
//! embedded with all-MiniLM-L6-v2, d = 384; see python/examples/data/packages/README.md.)
//!
//! Trains on the item-disjoint split's training pairs only and prints, for each model,
//! ROC AUC on the training pairs, on validation (cross-validated, where there is one) and
//! on the test pairs, which use packages never seen in training. The test pairs are read
//! once, after every choice is made.
//!
//! Run: `cargo run --release --example packages` (add `--quick` for a short run: 3 folds,
//! a 2-candidate space, 10 epochs, an ensemble of 2).

use std::time::Instant;

use sympair::io::PairsCsv;
use sympair::metrics::roc_auc;
use sympair::select::{Ensemble, Progress, SearchSpace, SelectConfig, cross_validate};
use sympair::{Combiner, ItemPairs, PairClassifier, PairCombiner, PairData, TrainConfig};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/examples/data/packages");

fn auc<C: PairCombiner>(model: &PairClassifier<C>, data: &ItemPairs) -> sympair::Result<f64> {
    roc_auc(&model.logits_for(data)?, data.labels())
}

fn ensemble_auc(ens: &Ensemble, data: &ItemPairs) -> sympair::Result<f64> {
    roc_auc(&ens.logits_for(data)?, data.labels())
}

/// Members of the seed ensemble refitted after the selection.
const ENSEMBLE: usize = 5;

/// Cosine similarity of each pair (the items are unit length, but normalise anyway).
fn cosine(data: &ItemPairs) -> Vec<f32> {
    let items = data.items();
    let norms: Vec<f32> = items
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt().max(1e-12))
        .collect();
    data.pairs()
        .iter()
        .map(|&(i, j)| items.row(i).dot(&items.row(j)) / (norms[i] * norms[j]))
        .collect()
}

/// One line of the final table: name, train AUC, validation AUC, test scorer, seconds.
type Row = (String, f64, Option<f64>, TestAuc, f64);
/// Scores the test pairs once, at the end.
type TestAuc = Box<dyn Fn(&ItemPairs) -> sympair::Result<f64>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let npy = format!("{DATA}/items.npy");
    let csv = format!("{DATA}/pairs.csv");
    let train = ItemPairs::from_files_with(
        &npy,
        &csv,
        &PairsCsv::new().with_filter("split_items", "train")?,
    )?;
    let d = train.dim();
    println!(
        "packages: {} items (d = {d}), {} training pairs (item-disjoint split){}",
        train.n_items(),
        train.len(),
        if quick { ", quick mode" } else { "" }
    );
    let mut rows: Vec<Row> = Vec::new();

    // 1. Cosine threshold: no training (ROC AUC does not depend on the threshold).
    let cos_train = roc_auc(&cosine(&train), train.labels())?;
    rows.push((
        "cosine similarity".into(),
        cos_train,
        None,
        Box::new(|t: &ItemPairs| roc_auc(&cosine(t), t.labels())),
        0.0,
    ));

    // 2. The default configuration, no tuning.
    let t0 = Instant::now();
    let mut default = PairClassifier::builder(d, Combiner::ConcatSwapAverage).build()?;
    let config = if quick {
        TrainConfig::new().with_epochs(5)
    } else {
        TrainConfig::new()
    };
    default.fit(&train, None, &config)?;
    let secs = t0.elapsed().as_secs_f64();
    let tr = auc(&default, &train)?;
    rows.push((
        format!("default (concat_swap_average, {} epochs)", config.epochs()),
        tr,
        None,
        Box::new(move |t: &ItemPairs| auc(&default, t)),
        secs,
    ));

    // 3. Cross-validated selection over a small space, refit on all training pairs.
    let (space, select) = if quick {
        let base = TrainConfig::new();
        let stack = sympair::combiner::Stack::new(vec![
            Combiner::Sum,
            Combiner::Product,
            Combiner::AbsDiff,
        ])?;
        (
            SearchSpace::grid(
                &[Combiner::ConcatSwapAverage, Combiner::Stack(stack)],
                &[vec![64]],
                &[1e-3],
                &[0.0],
                256,
                10,
                &base,
            )?,
            SelectConfig::new().with_folds(3).with_ensemble(2),
        )
    } else {
        (
            SearchSpace::default(),
            SelectConfig::new().with_ensemble(ENSEMBLE),
        )
    };
    let t0 = Instant::now();
    let mut progress = |p: &Progress| {
        if let Progress::Fold {
            candidate,
            n_candidates,
            fold,
            n_folds,
            best_auc,
            elapsed,
            ..
        } = p
        {
            eprintln!(
                "  candidate {}/{n_candidates} fold {}/{n_folds}: best fold AUC {best_auc:.4} ({:.0} s)",
                candidate + 1,
                fold + 1,
                elapsed.as_secs_f64()
            );
        }
    };
    let sel = cross_validate(&train, &space, &select, &mut progress)?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "\ncross-validation ({} item-grouped folds; pairs dropped per fold {:?}):\n{sel}",
        select.folds(),
        sel.cross_pairs_dropped
    );
    let tr = auc(&sel.model, &train)?;
    let cv = sel.table[sel.best].mean_auc;
    let epochs = sel.chosen.train.epochs();
    let model = sel.model;
    rows.push((
        format!("CV-selected, refit {epochs} epochs"),
        tr,
        Some(cv),
        Box::new(move |t: &ItemPairs| auc(&model, t)),
        secs,
    ));
    if let Some(ens) = sel.ensemble {
        let k = ens.members().len();
        rows.push((
            format!("CV-selected, {k}-seed ensemble ({epochs} ep.)"),
            ensemble_auc(&ens, &train)?,
            Some(cv),
            Box::new(move |t: &ItemPairs| ensemble_auc(&ens, t)),
            secs,
        ));
    }

    // The test pairs, read once, after every choice.
    let test = ItemPairs::from_pair_rows(
        std::sync::Arc::clone(train.shared_items()),
        &PairsCsv::new()
            .with_filter("split_items", "test")?
            .read(&csv)?,
    )?;
    println!(
        "{:<44}{:>10}{:>10}{:>10}{:>9}",
        "model", "train AUC", "valid AUC", "test AUC", "train s"
    );
    for (name, tr, va, test_auc, secs) in &rows {
        let va = va.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!(
            "{name:<44}{tr:>10.4}{va:>10}{:>10.4}{secs:>9.1}",
            test_auc(&test)?
        );
    }
    println!("({} test pairs of unseen packages)", test.len());
    Ok(())
}
