//! The Rust side of the Python package's parity tests (`python/tests/test_parity.py`):
//! models pass between the two languages through the saved-model format, and their logits
//! must agree bit for bit.
//!
//! * `python_parity predict MODEL X.npy Y.npy OUT.npy` loads a model saved from Python,
//!   scores the pairs `(x[i], y[i])` and writes the logits as an `(n, 1)` float32 `.npy`.
//! * `python_parity train DIR` trains one model per family on a synthetic task and writes,
//!   into `DIR`: the training pairs (`train_x.npy`, `train_y.npy`, `train_labels.npy`), test
//!   pairs (`x.npy`, `y.npy`), and per model `NAME.json` and `NAME.logits.npy`. Python
//!   loads each model and must reproduce the logits, and training the same configuration
//!   from Python on the same arrays must give the same file.
//!
//! * `python_parity decide MODEL X.npy Y.npy OUT.npy` writes `predict_proba` and
//!   `predict` (1.0 or 0.0) of a model with a calibration and threshold as an `(n, 2)`
//!   float32 `.npy`; `python_parity calibrate MODEL VX.npy VY.npy VLABELS.npy METHOD RULE
//!   OUT` fits a calibration (`platt` or `temperature`) and a threshold (`max_f1`,
//!   `max_accuracy` or `precision:P`) on validation pairs and saves the model to `OUT`.
//!   Python's `predict_proba`/`predict` and its `calibrate`/`set_threshold` must match.
//! * `python_parity bench D N_ITEMS N_PAIRS EPOCHS` times the Rust half of
//!   `python/examples/bench.py`: item-indexed prediction (`IdScorer`) and training
//!   (batch 256, Adam) on random items, printing one JSON line of pairs per second.
//!
//! Run: `cargo run --release --example python_parity -- train /tmp/parity`

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};
use sympair::io::{read_embeddings_npy, write_embeddings_npy};
use sympair::{
    CalibrationMethod, ClusterTask, Combiner, EncoderConfig, HeadConfig, MlpConfig, Optimizer,
    PairClassifier, PairData, Similarity, Stack, ThresholdRule, TrainConfig,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["predict", model, x, y, out] => predict(model, x, y, out),
        ["train", dir] => train(Path::new(dir)),
        ["decide", model, x, y, out] => decide(model, x, y, out),
        ["calibrate", model, vx, vy, vl, method, rule, out] => {
            calibrate(model, [vx, vy, vl], method, rule, out)
        }
        ["bench", d, n_items, n_pairs, epochs] => bench(
            d.parse()?,
            n_items.parse()?,
            n_pairs.parse()?,
            epochs.parse()?,
        ),
        _ => {
            eprintln!(
                "usage: python_parity predict MODEL X.npy Y.npy OUT.npy | train DIR | decide MODEL X.npy Y.npy OUT.npy | calibrate MODEL VX.npy VY.npy VLABELS.npy METHOD RULE OUT | bench D N_ITEMS N_PAIRS EPOCHS"
            );
            std::process::exit(2)
        }
    }
}

fn predict(model: &str, x: &str, y: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let model = PairClassifier::<Combiner>::load(model)?;
    let (x, y) = (read_embeddings_npy(x)?, read_embeddings_npy(y)?);
    let logits = model.predict_logits(x.view(), y.view())?;
    write_column(out, &logits.to_vec())
}

fn decide(model: &str, x: &str, y: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let model = PairClassifier::<Combiner>::load(model)?;
    let (x, y) = (read_embeddings_npy(x)?, read_embeddings_npy(y)?);
    let proba = model.predict_proba(x.view(), y.view())?;
    let class = model.predict(x.view(), y.view())?;
    let mut both = Array2::<f32>::zeros((proba.len(), 2));
    for (k, (&p, &c)) in proba.iter().zip(&class).enumerate() {
        both[[k, 0]] = p;
        both[[k, 1]] = if c { 1.0 } else { 0.0 };
    }
    write_embeddings_npy(out, both.view())?;
    Ok(())
}

fn calibrate(
    model: &str,
    [vx, vy, vl]: [&str; 3],
    method: &str,
    rule: &str,
    out: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut model = PairClassifier::<Combiner>::load(model)?;
    let labels = read_embeddings_npy(vl)?.column(0).to_vec();
    let valid =
        sympair::PairDataset::new(read_embeddings_npy(vx)?, read_embeddings_npy(vy)?, labels)?;
    let method = match method {
        "platt" => CalibrationMethod::Platt,
        "temperature" => CalibrationMethod::Temperature,
        other => return Err(format!("unknown calibration method {other:?}").into()),
    };
    let rule = match rule.split_once(':') {
        Some(("precision", p)) => ThresholdRule::target_precision(p.parse()?)?,
        _ if rule == "max_f1" => ThresholdRule::MaxF1,
        _ if rule == "max_accuracy" => ThresholdRule::MaxAccuracy,
        _ => return Err(format!("unknown threshold rule {rule:?}").into()),
    };
    model.calibrate(method, &valid)?;
    model.set_threshold(rule, &valid)?;
    model.save(out)?;
    Ok(())
}

fn write_column(path: impl AsRef<Path>, v: &[f32]) -> Result<(), Box<dyn std::error::Error>> {
    let col = Array2::from_shape_vec((v.len(), 1), v.to_vec())?;
    write_embeddings_npy(path, col.view())?;
    Ok(())
}

/// The families trained for the parity check, by file name. Python's test builds the same
/// configurations with `sympair.Model` (keep the two lists in step).
fn families(d: usize) -> sympair::Result<Vec<(&'static str, PairClassifier)>> {
    let stack = Stack::new(vec![Combiner::Sum, Combiner::Product, Combiner::AbsDiff])?;
    Ok(vec![
        (
            "abs_diff",
            PairClassifier::builder(d, Combiner::AbsDiff)
                .seed(3)
                .build()?,
        ),
        (
            "concat_swap_average",
            PairClassifier::builder(d, Combiner::ConcatSwapAverage)
                .seed(3)
                .build()?,
        ),
        (
            "concat",
            PairClassifier::builder(d, Combiner::Concat)
                .seed(3)
                .build()?,
        ),
        (
            "stack",
            PairClassifier::builder(d, Combiner::Stack(stack))
                .seed(3)
                .build()?,
        ),
        (
            "encoder_distance",
            PairClassifier::builder(d, Combiner::SquaredDiff)
                .encoder(EncoderConfig::new(MlpConfig::new([16])?, 8)?)
                .head(HeadConfig::Distance { learn_scale: true })
                .seed(3)
                .build()?,
        ),
        (
            "cosine",
            PairClassifier::builder(d, Combiner::Similarity(Similarity::Cosine))
                .mlp_head(MlpConfig::linear())
                .seed(3)
                .build()?,
        ),
    ])
}

fn train(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let d = 12;
    let task = ClusterTask::new(d, 5)?;
    let (train, test) = (task.generate(600, 1)?, task.generate(300, 2)?);
    let path = |name: &str| -> PathBuf { dir.join(name) };
    write_embeddings_npy(path("train_x.npy"), train.left())?;
    write_embeddings_npy(path("train_y.npy"), train.right())?;
    write_column(path("train_labels.npy"), train.labels())?;
    write_embeddings_npy(path("x.npy"), test.left())?;
    write_embeddings_npy(path("y.npy"), test.right())?;
    let config = TrainConfig::new()
        .with_epochs(3)
        .with_batch_size(32)
        .with_optimizer(Optimizer::adam(3e-3))
        .with_seed(5);
    for (name, mut model) in families(d)? {
        model.fit(&train, None, &config)?;
        model.save(path(&format!("{name}.json")))?;
        let logits = logits(&model, test.left(), test.right())?;
        write_column(path(&format!("{name}.logits.npy")), &logits)?;
    }
    println!("wrote parity models to {}", dir.display());
    Ok(())
}

fn logits(
    model: &PairClassifier,
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
) -> sympair::Result<Vec<f32>> {
    Ok(model.predict_logits(x, y)?.to_vec())
}

/// The workload of `python/examples/bench.py`: random items, random pairs labelled
/// `(i + j) % 2` (so repeats never conflict), AbsDiff head of 64.
fn bench(
    d: usize,
    n_items: usize,
    n_pairs: usize,
    epochs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let items = Array2::from_shape_fn((n_items, d), |_| rng.random::<f32>() - 0.5);
    let pairs: Vec<(usize, usize, f32)> = (0..n_pairs)
        .map(|_| {
            let (i, j) = (rng.random_range(0..n_items), rng.random_range(0..n_items));
            (i, j, ((i + j) % 2) as f32)
        })
        .collect();
    let ids: Vec<(usize, usize)> = pairs.iter().map(|&(i, j, _)| (i, j)).collect();
    let data = sympair::ItemPairs::new(items, pairs)?;
    let mut model = PairClassifier::builder(d, Combiner::AbsDiff).build()?;
    // Warm-up (page faults, thread pool start), as the Python side does.
    let warm = &ids[..ids.len().min(1000)];
    sympair::IdScorer::new(&model, data.items())?.logits(warm)?;
    let t = std::time::Instant::now();
    let logits = sympair::IdScorer::new(&model, data.items())?.logits(&ids)?;
    let predict = logits.len() as f64 / t.elapsed().as_secs_f64();
    // The same recipe as the Python side and the PyTorch head: no input noise.
    let config = TrainConfig::new()
        .with_epochs(epochs)
        .with_batch_size(256)
        .with_input_noise(0.0);
    let t = std::time::Instant::now();
    model.fit(&data, None, &config)?;
    let train = (data.len() * epochs) as f64 / t.elapsed().as_secs_f64();
    println!("{{\"predict_pairs_per_s\": {predict:.0}, \"train_pairs_per_s\": {train:.0}}}");
    Ok(())
}
