//! Shared strategies and helpers for the property tests: value strategies, small models,
//! bitwise comparison ([`bits`]) and finite differences ([`finite_difference`]).
#![allow(dead_code)]

pub mod decision_edits;
pub mod finite_difference;
pub mod hostile;

use ndarray::Array2;
use proptest::prelude::*;
use sympair::{
    Activation, ClusterTask, Combiner, MlpConfig, PairClassifier, PairCombiner, PairDataset,
    TrainConfig,
};

/// The bit patterns of `values`, for exact (bitwise) comparisons: `NaN`s with different
/// payloads and `0.0` against `-0.0` count as different.
pub fn bits<'a>(values: impl IntoIterator<Item = &'a f32>) -> Vec<u32> {
    values.into_iter().map(|v| v.to_bits()).collect()
}

/// A fresh, empty folder in the system's temp dir, deleted (with its content) when the
/// returned guard is dropped, also when the test fails. `name` goes into the folder's
/// name, to tell which test a folder left by a killed run belongs to.
pub fn scratch_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("sympair-{name}-"))
        .tempdir()
        .expect("a scratch folder in the temp dir")
}

/// The symmetric built-in combiners.
pub fn symmetric_combiners() -> Vec<Combiner> {
    Combiner::builtins()
        .into_iter()
        .filter(|c| c.is_symmetric())
        .collect()
}

/// Values that stress exact symmetry: ordinary, large, tiny, subnormal and signed zeros.
/// Large magnitudes stay below 1e15 so that products and squares remain finite.
pub fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => -3.0f32..3.0,
        1 => prop_oneof![Just(0.0f32), Just(-0.0f32)],
        1 => -1e15f32..1e15,
        1 => -1e-30f32..1e-30,
        1 => prop_oneof![Just(f32::MIN_POSITIVE), Just(-1e-40f32), Just(1e-42f32)],
    ]
}

/// A pair of items of width `d`.
pub fn pair(d: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (
        proptest::collection::vec(value(), d),
        proptest::collection::vec(value(), d),
    )
}

/// Width in 1..=64 and a pair of that width.
pub fn sized_pair() -> impl Strategy<Value = (usize, Vec<f32>, Vec<f32>)> {
    (1usize..=64).prop_flat_map(|d| pair(d).prop_map(move |(x, y)| (d, x, y)))
}

/// A batch of `n` pairs of width `d` in row-major vectors.
pub fn batch(n: usize, d: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    (
        proptest::collection::vec(value(), n * d),
        proptest::collection::vec(value(), n * d),
    )
}

pub fn matrix(n: usize, d: usize, v: Vec<f32>) -> Array2<f32> {
    Array2::from_shape_vec((n, d), v).expect("test matrix shape")
}

/// A fresh classifier with a smooth activation (finite differences need no kinks).
pub fn smooth_model(d: usize, combiner: Combiner, seed: u64) -> PairClassifier {
    PairClassifier::builder(d, combiner)
        .mlp_head(
            MlpConfig::new([8])
                .expect("valid")
                .with_activation(Activation::Tanh),
        )
        .seed(seed)
        .build()
        .expect("valid model")
}

/// A small model trained for a few steps on a tiny cluster task of width `d`.
pub fn trained_model(d: usize, combiner: Combiner, seed: u64) -> PairClassifier {
    let mut model = PairClassifier::builder(d, combiner)
        .mlp_head(MlpConfig::new([16]).expect("valid"))
        .seed(seed)
        .build()
        .expect("valid model");
    let data = tiny_task(d, seed);
    model
        .fit(
            &data,
            None,
            &TrainConfig::new()
                .with_epochs(2)
                .with_batch_size(16)
                .with_seed(seed),
        )
        .expect("training");
    model
}

/// 64 pairs of a cluster task of width `d`.
pub fn tiny_task(d: usize, seed: u64) -> PairDataset {
    ClusterTask::with_centre_seed(d, 3, seed)
        .expect("valid task")
        .generate(64, seed)
        .expect("valid data")
}
