//! Saved-model files of format version 1 keep loading, to the same logits bit for bit.
//!
//! `tests/data/model_v1_*.json` were written once by `write_v1_fixtures` below (kept for
//! the record; run it only to add a new fixture, never to "fix" a failing pin):
//!
//! ```text
//! cargo test --test format_v1 -- --ignored write_v1_fixtures
//! ```
//!
//! If a refactor changes how an old file is read (field names, layouts, defaults for
//! fields added later) or how its logits are computed, these pins fail.

use std::path::PathBuf;

use ndarray::{Array2, array};
use sympair::{
    ClusterTask, Combiner, EncoderConfig, HeadConfig, MlpConfig, PairClassifier, TrainConfig,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Four fixed pairs of width 4: ordinary values, a repeated item, signed zeros.
fn inputs() -> (Array2<f32>, Array2<f32>) {
    let x = array![
        [0.5f32, -1.25, 2.0, 0.75],
        [1.0, 1.0, 1.0, 1.0],
        [-0.3, 0.0, 0.9, -2.1],
        [0.0, -0.0, 3.5, -0.125],
    ];
    let y = array![
        [-0.5f32, 0.25, 1.5, -0.75],
        [1.0, 1.0, 1.0, 1.0],
        [2.2, -1.7, 0.4, 0.6],
        [-0.0, 0.0, -3.5, 0.125],
    ];
    (x, y)
}

/// Loads a fixture and checks that it declares format version 1.
fn load_v1(name: &str) -> PairClassifier {
    let path = data(name);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    assert_eq!(doc["version"], 1, "{name} must stay a version-1 file");
    PairClassifier::load(&path).expect("a version-1 file loads")
}

fn logit_bits(model: &PairClassifier) -> Vec<u32> {
    let (x, y) = inputs();
    let logits = model.predict_logits(x.view(), y.view()).expect("predicts");
    let swapped = model.predict_logits(y.view(), x.view()).expect("predicts");
    assert_eq!(logits, swapped, "a symmetric model stays symmetric");
    logits.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn v1_encoder_abs_diff_model_gives_pinned_logits() {
    let model = load_v1("model_v1_encoder_abs_diff.json");
    assert_eq!(model.input_dim(), 4);
    assert_eq!(logit_bits(&model), PINNED_ENCODER_ABS_DIFF);
}

#[test]
fn v1_concat_swap_average_model_gives_pinned_logits() {
    let model = load_v1("model_v1_concat_swap_average.json");
    assert_eq!(logit_bits(&model), PINNED_CONCAT_SWAP_AVERAGE);
}

#[test]
fn v1_distance_head_model_gives_pinned_logits() {
    let model = load_v1("model_v1_encoder_squared_diff_distance.json");
    assert_eq!(logit_bits(&model), PINNED_DISTANCE);
}

// Bits of the f32 logits of `inputs()`, printed by `write_v1_fixtures` when the files were
// written (x86-64; like every bitwise pin in this crate they assume matrixmultiply's
// kernel for this CPU and no BLAS).
const PINNED_ENCODER_ABS_DIFF: [u32; 4] = [3202026900, 1012105505, 3212769197, 3208221578];
const PINNED_CONCAT_SWAP_AVERAGE: [u32; 4] = [1046094765, 1068328505, 1051814198, 3207352893];
const PINNED_DISTANCE: [u32; 4] = [3238895256, 1098969564, 3256024439, 3239080472];

/// The three fixture models: small, trained for a few epochs on a seeded cluster task.
fn fixture_models() -> Vec<(&'static str, PairClassifier)> {
    let task = ClusterTask::new(4, 3).expect("task");
    let train = task.generate(400, 11).expect("pairs");
    let cfg = TrainConfig::new().with_epochs(3).with_seed(5);
    let relu = |w: usize| MlpConfig::new([w]).expect("mlp");
    let enc = || EncoderConfig::new(relu(6), 3).expect("encoder");
    let mut models = vec![
        (
            "model_v1_encoder_abs_diff.json",
            PairClassifier::builder(4, Combiner::AbsDiff)
                .encoder(enc())
                .mlp_head(relu(5))
                .seed(1),
        ),
        (
            "model_v1_concat_swap_average.json",
            PairClassifier::builder(4, Combiner::ConcatSwapAverage)
                .mlp_head(relu(5))
                .seed(2),
        ),
        (
            "model_v1_encoder_squared_diff_distance.json",
            PairClassifier::builder(4, Combiner::SquaredDiff)
                .encoder(enc())
                .head(HeadConfig::Distance { learn_scale: true })
                .seed(3),
        ),
    ]
    .into_iter()
    .map(|(name, b)| (name, b.build().expect("builds")))
    .collect::<Vec<_>>();
    for (_, m) in &mut models {
        m.fit(&train, None, &cfg).expect("trains");
    }
    models
}

#[test]
#[ignore = "writes the fixtures; run by hand only to add a new one"]
fn write_v1_fixtures() {
    for (name, model) in fixture_models() {
        model.save(data(name)).expect("saves");
        println!("{name}: {:?}", logit_bits(&model));
    }
}
