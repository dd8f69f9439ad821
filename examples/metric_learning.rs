//! Metric learning on the Debian packages data set (item-disjoint split): pair ROC AUC and
//! same-section retrieval recall@10 among held-out items, for raw MiniLM cosine, a
//! BCE-trained encoder with a distance head, and the three metric losses (each followed by
//! a Platt calibration on validation pairs cut from the training pairs).
//!
//! Run: `cargo run --release --example metric_learning`
//!
//! Reads `python/examples/data/packages/{items.npy,pairs.csv}` and the section of every
//! item from `examples/data/packages_classes.csv` (the `idx,class_id` columns of the data
//! set's `items_info.csv`). Nothing is tuned on the test pairs: settings are fixed below,
//! and the only fitted-after-training parts (distance-head scale, Platt slope/bias) see
//! training or validation pairs only.

use std::collections::BTreeSet;
use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use sympair::metrics::roc_auc;
use sympair::{
    CalibrationMethod, Combiner, EncoderConfig, HeadConfig, ItemPairs, MetricConfig, MetricLoss,
    MlpConfig, Optimizer, PairClassifier, PairData, Similarity, TrainConfig,
};

const DATA: &str = "python/examples/data/packages";
/// Encoder for every trained contender: 384 -> 256 (ReLU) -> 64.
const HIDDEN: usize = 256;
const OUT: usize = 64;
const EPOCHS: usize = 10;
const K: usize = 10;

type Rows = Vec<(usize, usize, f32)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let items = sympair::io::read_embeddings_npy(root.join(DATA).join("items.npy"))?;
    let (train_rows, test_rows) = read_pairs(&root.join(DATA).join("pairs.csv"))?;
    let classes = read_classes(&root.join("examples/data/packages_classes.csv"))?;
    let items = std::sync::Arc::new(items);
    let train_all = ItemPairs::new(items.clone(), train_rows)?;
    // Validation pairs (calibration, the BCE model's best epoch) on items held out from
    // training, like the test pairs: 15% of the training items; pairs across the two
    // parts are dropped. Pairs of seen items would make the calibration overconfident.
    let (train, valid, _) = train_all.split_by_item(0.85, 7)?;
    let test = ItemPairs::new(items.clone(), test_rows.clone())?;
    // Held-out items: those of the test pairs (the split holds out 20% of every section).
    let held: Vec<usize> = test_rows
        .iter()
        .flat_map(|&(i, j, _)| [i, j])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let held_items = items.select(Axis(0), &held);
    let held_classes: Vec<usize> = held.iter().map(|&i| classes[i]).collect();
    println!(
        "{} items, d = {}; train {} / valid {} / test {} pairs; {} held-out items as queries",
        items.nrows(),
        items.ncols(),
        train.len(),
        valid.len(),
        test.len(),
        held.len()
    );
    println!(
        "\n| model | test pair ROC AUC | test log-loss | recall@{K} (held-out items) | train s |"
    );
    println!("|---|---:|---:|---:|---:|");

    // 1. Raw MiniLM cosine.
    let cos_model =
        PairClassifier::builder(items.ncols(), Combiner::Similarity(Similarity::Cosine))
            .head(HeadConfig::Mlp(MlpConfig::linear()))
            .build()?;
    let mut cos_model = cos_model;
    cos_model.calibrate_similarity(&valid)?;
    report(
        "raw MiniLM cosine (Platt on valid)",
        &cos_model,
        &test,
        held_items.view(),
        &held_classes,
        Metric::Cosine,
        0.0,
    )?;

    // 2. BCE-trained encoder with a distance head.
    let mut bce = PairClassifier::builder(items.ncols(), Combiner::SquaredDiff)
        .encoder(EncoderConfig::new(MlpConfig::new([HIDDEN])?, OUT)?)
        .head(HeadConfig::Distance { learn_scale: true })
        .seed(1)
        .build()?;
    let t = Instant::now();
    let cfg = TrainConfig::new()
        .with_epochs(EPOCHS)
        .with_batch_size(128)
        .with_optimizer(Optimizer::adam(1e-3))
        .with_seed(1);
    bce.fit(&train, Some(&valid), &cfg)?;
    bce.calibrate(CalibrationMethod::Platt, &valid)?;
    let secs = t.elapsed().as_secs_f64();
    report(
        "BCE encoder + distance head (Platt on valid)",
        &bce,
        &test,
        held_items.view(),
        &held_classes,
        Metric::SquaredL2,
        secs,
    )?;

    // 3-5. Metric losses, then Platt calibration on the validation pairs.
    for (name, loss, sim, metric) in [
        (
            "contrastive (margin 1)",
            MetricLoss::Contrastive { margin: 1.0 },
            Similarity::NegSquaredL2,
            Metric::SquaredL2,
        ),
        (
            "triplet, in-batch (margin 1)",
            MetricLoss::Triplet { margin: 1.0 },
            Similarity::NegSquaredL2,
            Metric::SquaredL2,
        ),
        (
            "InfoNCE / MNRL (t = 0.05)",
            MetricLoss::InfoNce { temperature: 0.05 },
            Similarity::Cosine,
            Metric::Cosine,
        ),
    ] {
        let mut m = PairClassifier::builder(items.ncols(), Combiner::Similarity(sim))
            .encoder(EncoderConfig::new(MlpConfig::new([HIDDEN])?, OUT)?)
            .head(HeadConfig::Mlp(MlpConfig::linear()))
            .seed(1)
            .build()?;
        let t = Instant::now();
        let cfg = MetricConfig::new(loss)
            .epochs(EPOCHS)?
            .batch_size(128)?
            .seed(1);
        m.fit_metric(&train, &cfg)?;
        m.calibrate_similarity(&valid)?;
        let secs = t.elapsed().as_secs_f64();
        report(
            name,
            &m,
            &test,
            held_items.view(),
            &held_classes,
            metric,
            secs,
        )?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Metric {
    Cosine,
    SquaredL2,
}

fn report(
    name: &str,
    model: &PairClassifier,
    test: &ItemPairs,
    held: ArrayView2<f32>,
    classes: &[usize],
    metric: Metric,
    secs: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let logits = model.logits_for(test)?;
    let auc = roc_auc(&logits, test.labels())?;
    // Log-loss of the calibrated probabilities.
    let proba = model.proba_for(test)?;
    let logloss = proba
        .iter()
        .zip(test.labels())
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            -(f64::from(y) * p.ln() + (1.0 - f64::from(y)) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / proba.len() as f64;
    let recall = recall_at_k(model.encode(held)?.view(), classes, metric);
    println!("| {name} | {auc:.4} | {logloss:.4} | {recall:.4} | {secs:.1} |");
    Ok(())
}

/// Mean over queries of |same-section items among the query's K nearest other held-out
/// items| / min(K, number of same-section held-out items), nearest by `metric` on the
/// encoded vectors (one matrix product for all queries).
fn recall_at_k(e: ArrayView2<f32>, classes: &[usize], metric: Metric) -> f64 {
    let n = e.nrows();
    let norms = e.map_axis(Axis(1), |r| r.dot(&r));
    let unit: Array2<f32> = match metric {
        Metric::Cosine => &e / &norms.mapv(|v| v.sqrt().max(1e-12)).insert_axis(Axis(1)),
        Metric::SquaredL2 => e.to_owned(),
    };
    let g = unit.dot(&unit.t());
    let mut total = 0.0;
    for q in 0..n {
        // Score: higher is nearer.
        let mut cand: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != q)
            .map(|j| {
                let s = match metric {
                    Metric::Cosine => g[[q, j]],
                    Metric::SquaredL2 => -(norms[q] + norms[j] - 2.0 * g[[q, j]]),
                };
                (s, j)
            })
            .collect();
        cand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let relevant = (0..n)
            .filter(|&j| j != q && classes[j] == classes[q])
            .count();
        if relevant == 0 {
            continue;
        }
        let hits = cand[..K]
            .iter()
            .filter(|&&(_, j)| classes[j] == classes[q])
            .count();
        total += hits as f64 / relevant.min(K) as f64;
    }
    total / n as f64
}

/// `(train rows, test rows)` of `pairs.csv` by its `split_items` column.
fn read_pairs(path: &std::path::Path) -> Result<(Rows, Rows), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty pairs.csv")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name}"))
    };
    let (ci, cj, cl, cs) = (col("i")?, col("j")?, col("label")?, col("split_items")?);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let row = (f[ci].parse()?, f[cj].parse()?, f[cl].parse()?);
        match f[cs] {
            "train" => train.push(row),
            "test" => test.push(row),
            other => return Err(format!("unknown split {other}").into()),
        }
    }
    Ok((train, test))
}

fn read_classes(path: &std::path::Path) -> Result<Vec<usize>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (k, line) in text.lines().skip(1).enumerate() {
        let (idx, class) = line.split_once(',').ok_or("idx,class_id expected")?;
        if idx.parse::<usize>()? != k {
            return Err(format!("row {k} of the classes file has idx {idx}").into());
        }
        out.push(class.parse()?);
    }
    Ok(out)
}
