//! Every deserialisable type checks itself on the way in: bytes that reach a model through
//! plain serde (not only through `from_json_bytes`) give an error or a usable model.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::*;
use ndarray::Array2;
use proptest::prelude::*;
use serde_json::Value;
use sympair::combiner::{Similarity, Stack};
use sympair::head::{DistanceHead, Head};
use sympair::mlp::Mlp;
use sympair::{
    Combiner, EncoderConfig, HeadConfig, MlpConfig, Optimizer, PairClassifier, TrainConfig,
};

fn zoo() -> Vec<PairClassifier> {
    vec![
        trained_model(4, Combiner::AbsDiff, 1),
        trained_model(4, Combiner::ConcatSwapAverage, 2),
        PairClassifier::builder(4, Combiner::Product)
            .encoder(EncoderConfig::new(MlpConfig::new([5]).unwrap(), 3).unwrap())
            .build()
            .unwrap(),
        PairClassifier::builder(4, Combiner::SquaredDiff)
            .encoder(EncoderConfig::linear(3).unwrap())
            .head(HeadConfig::Distance { learn_scale: true })
            .build()
            .unwrap(),
        PairClassifier::builder(
            4,
            Combiner::Stack(
                Stack::new(vec![
                    Combiner::Sum,
                    Combiner::Similarity(Similarity::Cosine),
                ])
                .unwrap(),
            ),
        )
        .build()
        .unwrap(),
    ]
}

/// Paths to every number and every array in a JSON tree.
fn spots(
    v: &Value,
    path: &mut Vec<PathStep>,
    numbers: &mut Vec<Vec<PathStep>>,
    arrays: &mut Vec<Vec<PathStep>>,
) {
    match v {
        Value::Number(_) => numbers.push(path.clone()),
        Value::Array(items) => {
            arrays.push(path.clone());
            for (i, item) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                spots(item, path, numbers, arrays);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                path.push(PathStep::Key(k.clone()));
                spots(item, path, numbers, arrays);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(0)),
        Just(Value::from(1)),
        Just(Value::from(-1)),
        Just(Value::from(2)),
        Just(Value::from(3)),
        Just(Value::from(5)),
        Just(Value::from(64)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(1u64 << 40)),
        Just(Value::from(1e30)),
        Just(Value::from(-1e30)),
        Just(Value::from(0.5)),
        Just(Value::from(88.0)),
        Just(Value::from(-100.0)),
    ]
}

/// Predicts with a model that came through serde: any outcome but a panic is fine.
fn predict_without_panic(m: &PairClassifier) -> Result<(), String> {
    let d = m.input_dim();
    if d > 4096 {
        return Ok(());
    }
    let x = Array2::from_shape_fn((3, d), |(i, j)| (i as f32 - 1.0) * 0.3 + j as f32 * 0.01);
    let y = Array2::from_shape_fn((3, d), |(i, j)| (j as f32 * 0.7 - i as f32).sin());
    let r = catch_unwind(AssertUnwindSafe(|| {
        let logits = m.predict_logits(x.view(), y.view());
        if let Ok(l) = &logits {
            assert!(
                l.iter().all(|v| v.is_finite()),
                "a returned logit is not finite"
            );
        }
        let _ = m.predict_pair_logit(&x.row(0).to_vec(), &y.row(0).to_vec());
        let _ = m.loss_gradient(
            &sympair::PairDataset::new(x.clone(), y.clone(), vec![1.0, 0.0, 1.0]).unwrap(),
        );
    }));
    r.map_err(|_| format!("panic predicting with {m:?}"))
}

proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(512))]

    #[test]
    fn models_mutated_through_plain_serde_are_errors_or_usable(
        which in 0usize..5,
        number in any::<prop::sample::Index>(),
        array in any::<prop::sample::Index>(),
        new in replacement(),
        shape_edit in 0u8..4,
    ) {
        let model = &zoo()[which];
        let mut v = serde_json::to_value(model).unwrap();
        let (mut numbers, mut arrays) = (Vec::new(), Vec::new());
        spots(&v, &mut Vec::new(), &mut numbers, &mut arrays);
        *at(&mut v, &numbers[number.index(numbers.len())]) = new;
        let arr = &arrays[array.index(arrays.len())];
        if let Value::Array(items) = at(&mut v, arr) {
            match shape_edit {
                0 if !items.is_empty() => { items.pop(); }
                1 if !items.is_empty() => { let last = items[items.len() - 1].clone(); items.push(last); }
                2 => items.clear(),
                _ => {}
            }
        }
        match serde_json::from_value::<PairClassifier>(v) {
            Err(_) => {}
            Ok(m) => predict_without_panic(&m).map_err(TestCaseError::fail)?,
        }
    }
}

#[test]
fn an_edited_input_dim_is_refused_by_plain_serde() {
    let model = trained_model(4, Combiner::Sum, 1);
    let mut v = serde_json::to_value(&model).unwrap();
    v["input_dim"] = Value::from(5);
    let err = serde_json::from_value::<PairClassifier>(v).unwrap_err();
    assert!(err.to_string().contains("head maps"), "{err}");
    // Unedited, the same door lets the model through unchanged.
    let v = serde_json::to_value(&model).unwrap();
    assert_eq!(serde_json::from_value::<PairClassifier>(v).unwrap(), model);
}

#[test]
fn nested_types_cannot_be_deserialised_invalid() {
    use serde_json::json;
    assert!(
        serde_json::from_value::<MlpConfig>(json!({"hidden": [4, 0], "activation": "relu"}))
            .is_err()
    );
    assert!(
        serde_json::from_value::<MlpConfig>(json!({"hidden": [4], "activation": "relu"})).is_ok()
    );
    let mlp = json!({"hidden": [], "activation": "relu"});
    assert!(serde_json::from_value::<EncoderConfig>(json!({"mlp": mlp, "output_dim": 0})).is_err());
    assert!(serde_json::from_value::<EncoderConfig>(json!({"mlp": mlp, "output_dim": 2})).is_ok());
    assert!(
        serde_json::from_value::<HeadConfig>(json!({"mlp": {"hidden": [0], "activation": "relu"}}))
            .is_err()
    );
    let layer = |r: usize, c: usize, b: usize| json!({"w": {"v": 1, "dim": [r, c], "data": vec![0.5; r * c]}, "b": {"v": 1, "dim": [b], "data": vec![0.0; b]}});
    // Chained layers 3 -> 2 -> 1 pass; a bias of the wrong length, a broken chain, or no
    // layer at all does not.
    let ok = json!({"layers": [layer(3, 2, 2), layer(2, 1, 1)], "activation": "relu"});
    assert!(serde_json::from_value::<Mlp>(ok.clone()).is_ok());
    assert!(serde_json::from_value::<Head>(json!({"mlp": ok})).is_ok());
    for bad in [
        json!({"layers": [layer(3, 2, 3)], "activation": "relu"}),
        json!({"layers": [layer(3, 2, 2), layer(3, 1, 1)], "activation": "relu"}),
        json!({"layers": [], "activation": "relu"}),
    ] {
        assert!(serde_json::from_value::<Mlp>(bad).is_err());
    }
    // A head must end in one logit.
    let two_out = json!({"layers": [layer(3, 2, 2)], "activation": "relu"});
    assert!(serde_json::from_value::<Head>(json!({"mlp": two_out})).is_err());
    // Non-finite scales are not valid JSON numbers; a huge one is refused as well.
    assert!(
        serde_json::from_value::<DistanceHead>(json!({"log_scale": 0.0, "learn_scale": true}))
            .is_ok()
    );
    assert!(
        serde_json::from_value::<DistanceHead>(json!({"log_scale": 1e39, "learn_scale": true}))
            .is_err()
    );
    // Training settings and optimizers run their checks too.
    let mut cfg = serde_json::to_value(TrainConfig::new()).unwrap();
    assert!(serde_json::from_value::<TrainConfig>(cfg.clone()).is_ok());
    cfg["batch_size"] = json!(0);
    assert!(serde_json::from_value::<TrainConfig>(cfg).is_err());
    assert!(
        serde_json::from_value::<Optimizer>(
            json!({"adam": {"lr": -1.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}})
        )
        .is_err()
    );
    assert!(
        serde_json::from_value::<Optimizer>(json!({"sgd": {"lr": 0.1, "momentum": 1.5}})).is_err()
    );
    assert_eq!(
        serde_json::from_value::<Optimizer>(json!({"sgd": {"lr": 0.1, "momentum": 0.5}})).unwrap(),
        Optimizer::sgd(0.1, 0.5)
    );
}
