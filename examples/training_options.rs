//! Training options on a real data set: train vs validation vs test ROC AUC of the
//! default configuration and of each regulariser / early-stopping monitor (each row starts
//! from the default, which has input noise 0.2; "no input noise" turns it off).
//!
//! `cargo run --release --example training_options [-- DIR]` (DIR: a folder with
//! `items.npy` and `pairs.csv` with columns `i,j,label,split_items`; default
//! `../shared/data/packages`). Item-disjoint: validation items are carved out of the
//! training items (20%, seeded); every choice would be made on validation; the test
//! pairs are only read for the final column.

use sympair::io::PairsCsv;
use sympair::{
    Combiner, ItemPairs, LrSchedule, Monitor, PairClassifier, PairData, TrainConfig, evaluate,
};

fn main() -> sympair::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/packages".into());
    let dir = std::path::Path::new(&dir);
    let rows = |split: &str| {
        PairsCsv::new()
            .with_columns("i", "j", "label")?
            .with_filter("split_items", split)
    };
    let all_train = ItemPairs::from_files_with(
        dir.join("items.npy"),
        dir.join("pairs.csv"),
        &rows("train")?,
    )?;
    let test =
        ItemPairs::from_files_with(dir.join("items.npy"), dir.join("pairs.csv"), &rows("test")?)?;
    let (train, valid, _) = all_train.split_by_item(0.8, 1)?;
    println!(
        "pairs: train {} / valid {} / test {} (dim {})",
        train.len(),
        valid.len(),
        test.len(),
        train.dim()
    );
    let base = TrainConfig::new();
    let es = |m: Monitor| {
        base.clone()
            .with_epochs(40)
            .with_patience(5)
            .with_monitor(m)
    };
    let configs: Vec<(&str, TrainConfig)> = vec![
        ("default (noise 0.2)", base.clone()),
        ("early stop, valid loss", es(Monitor::ValidLoss)),
        ("early stop, valid AUC", es(Monitor::ValidAuc)),
        ("input dropout 0.1", base.clone().with_input_dropout(0.1)),
        ("no input noise", base.clone().with_input_noise(0.0)),
        ("grad clip 1", base.clone().with_grad_clip(1.0)),
        (
            "cosine, warm-up 1",
            base.clone().with_lr_schedule(LrSchedule::cosine(1, 0.0)),
        ),
    ];
    for combiner in [Combiner::ConcatSwapAverage, Combiner::AbsDiff] {
        println!("\ncombiner {combiner}");
        println!(
            "{:<26} {:>6} {:>9} {:>9} {:>9}",
            "config", "epochs", "train AUC", "valid AUC", "test AUC"
        );
        for (name, cfg) in &configs {
            let mut m = PairClassifier::builder(train.dim(), combiner.clone())
                .seed(0)
                .build()?;
            let h = m.fit(&train, Some(&valid), cfg)?;
            let tr = evaluate(&m, &train)?.roc_auc.unwrap_or(f64::NAN);
            let va = evaluate(&m, &valid)?.roc_auc.unwrap_or(f64::NAN);
            let te = evaluate(&m, &test)?.roc_auc.unwrap_or(f64::NAN);
            let ep = h.best_epoch.map_or(h.epochs.len(), |b| b + 1);
            println!("{name:<26} {ep:>6} {tr:>9.4} {va:>9.4} {te:>9.4}");
        }
    }
    Ok(())
}
