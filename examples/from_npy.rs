//! From files, as Python would write them, to a trained, evaluated, saved model.
//!
//! The example first writes the input files itself, so it runs anywhere: `items.npy` (a
//! float32 matrix, one row per item, as `numpy.save` writes it), `pairs.csv` (columns
//! `i,j,label` plus a `source` column that is ignored, one labelled pair of row ids per
//! line) and `candidates.csv` (unlabelled pairs `i,j` to score). Then it does what you
//! would do with your own files: load them with [`ItemPairs::from_files`], split by item,
//! train, evaluate on the held-out items, save the model, write the test predictions as
//! CSV, and score the unlabelled candidates by item id, streaming them from file to file.
//!
//! Run: `cargo run --release --example from_npy`

use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use sympair::ids::score_pairs_csv;
use sympair::io::{PairsCsv, write_embeddings_npy, write_predictions_csv};
use sympair::metrics::{average_precision, confusion_at, roc_auc};
use sympair::{Combiner, ItemPairs, PairClassifier, PairData, TrainConfig, sigmoid};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (npy, csv) = (dir.path().join("items.npy"), dir.path().join("pairs.csv"));
    write_inputs(&npy, &csv)?;
    let candidates: String = (0..1000)
        .map(|k| format!("{},{}\n", k % 300, (k * 7 + 1) % 300))
        .collect();
    std::fs::write(
        dir.path().join("candidates.csv"),
        format!("i,j\n{candidates}"),
    )?;

    // --- Your code starts here: load, check, split by item. ---
    let data = ItemPairs::from_files(&npy, &csv)?;
    println!(
        "loaded {} items of width {} and {} pairs ({} repeats dropped, {} self-pairs)",
        data.n_items(),
        data.dim(),
        data.len(),
        data.duplicates_dropped(),
        data.self_pair_rows().len()
    );
    let (train, test, split) = data.split_by_item(0.75, 1)?;
    println!(
        "split by item: train {} pairs, test {} pairs on {} unseen items ({} cross pairs dropped)",
        train.len(),
        test.len(),
        split.second_items.len(),
        split.cross_pairs_dropped
    );

    // --- Train and evaluate on pairs of items the model never saw. ---
    let mut model = PairClassifier::builder(data.dim(), Combiner::AbsDiff)
        .seed(7)
        .build()?;
    model.fit(
        &train,
        None,
        &TrainConfig::new().with_epochs(15).with_seed(2),
    )?;
    let logits = model.logits_for(&test)?;
    let labels = test.labels();
    println!(
        "test ROC AUC {:.4}, average precision {:.4}, accuracy {:.4}",
        roc_auc(&logits, labels)?,
        average_precision(&logits, labels)?,
        confusion_at(&logits, labels, 0.0)?.accuracy()
    );

    // --- Save the model and the predictions. ---
    let model_path = dir.path().join("model.json");
    model.save(&model_path)?;
    let reloaded = PairClassifier::load(&model_path)?;
    assert_eq!(reloaded.logits_for(&test)?, logits);
    let probabilities: Vec<f32> = logits.iter().copied().map(sigmoid).collect();
    let predictions = dir.path().join("predictions.csv");
    write_predictions_csv(&predictions, test.pairs(), &probabilities)?;
    let text = std::fs::read_to_string(&predictions)?;
    println!(
        "saved {} and {} ({} predictions; the folder is removed on exit); first lines:",
        model_path.display(),
        predictions.display(),
        probabilities.len()
    );
    for line in text.lines().take(4) {
        println!("  {line}");
    }

    // --- Score unlabelled pairs by item id, from a CSV to a CSV, streaming. ---
    let candidates = dir.path().join("candidates.csv");
    let scores = dir.path().join("scores.csv");
    let n = score_pairs_csv(&model, data.items(), &candidates, &PairsCsv::new(), &scores)?;
    let text = std::fs::read_to_string(&scores)?;
    println!("scored {n} unlabelled candidate pairs; first lines:");
    for line in text.lines().take(3) {
        println!("  {line}");
    }
    Ok(())
}

/// Stand-ins for files made in Python: 300 items around 10 cluster centres in 24
/// dimensions, and 4,000 pairs labelled 1 when both items come from the same cluster.
fn write_inputs(
    npy: &std::path::Path,
    csv: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let (n_items, d, k) = (300, 24, 10);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut normal = || -> f32 { StandardNormal.sample(&mut rng) };
    let centres = Array2::from_shape_simple_fn((k, d), &mut normal);
    let cluster: Vec<usize> = (0..n_items).map(|id| id % k).collect();
    let items = Array2::from_shape_fn((n_items, d), |(r, c)| {
        centres[[cluster[r], c]] + 0.8 * normal()
    });
    write_embeddings_npy(npy, items.view())?;

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut text = String::from("i,j,label,source\n");
    for n in 0..4000 {
        let i = rng.random_range(0..n_items);
        // Half the pairs are drawn from i's own cluster, half at random.
        let j = if n % 2 == 0 {
            cluster[i] + k * rng.random_range(0..n_items / k)
        } else {
            rng.random_range(0..n_items)
        };
        if i == j {
            continue;
        }
        let label = u8::from(cluster[i] == cluster[j]);
        let source = if n % 3 == 0 {
            "\"survey, 2024\""
        } else {
            "log"
        };
        text.push_str(&format!("{i},{j},{label},{source}\n"));
    }
    std::fs::write(csv, text)?;
    Ok(())
}
