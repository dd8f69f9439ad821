//! Trains every built-in combiner on the same synthetic pair task and prints one table:
//! test accuracy, test ROC AUC, the largest `|logit(x, y) - logit(y, x)|` over the test
//! pairs, and training seconds.
//!
//! Run: `cargo run --release --example quickstart`

use std::time::Instant;

use sympair::metrics::roc_auc;
use sympair::{ClusterTask, Combiner, PairClassifier, PairData, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Items around 8 Gaussian centres in 32 dimensions; similar = same centre.
    let task = ClusterTask::new(32, 8)?.with_noise(0.7)?;
    let train = task.generate(4000, 1)?;
    let test = task.generate(2000, 2)?;
    let config = TrainConfig::new()
        .with_epochs(30)
        .with_batch_size(64)
        .with_seed(7);

    println!(
        "{:<20} {:>9} {:>9} {:>14} {:>8}",
        "combiner", "accuracy", "ROC AUC", "max asymmetry", "train s"
    );
    for combiner in Combiner::builtins() {
        let mut model = PairClassifier::builder(task.dim(), combiner.clone())
            .seed(3)
            .build()?;
        let t0 = Instant::now();
        model.fit(&train, None, &config)?;
        let secs = t0.elapsed().as_secs_f64();

        let forward = model.predict_logits(test.left(), test.right())?;
        let backward = model.predict_logits(test.right(), test.left())?;
        let asym = forward
            .iter()
            .zip(&backward)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let labels = test.labels();
        let correct = forward
            .iter()
            .zip(labels)
            .filter(|&(&z, &t)| (z >= 0.0) == (t == 1.0))
            .count();
        let acc = correct as f64 / test.len() as f64;
        let auc = roc_auc(forward.as_slice().unwrap_or(&[]), labels)?;
        println!(
            "{:<20} {:>9.4} {:>9.4} {:>14.3e} {:>8.2}",
            combiner.to_string(),
            acc,
            auc,
            asym,
            secs
        );
    }
    Ok(())
}
