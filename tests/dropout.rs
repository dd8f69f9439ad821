//! Dropout in the head and in the encoder (`TrainConfig::with_head_dropout`,
//! `with_encoder_dropout`): training only, seeded, independent of the thread count;
//! prediction stays exactly symmetric and deterministic.

mod common;

use ndarray::Array2;
use sympair::{
    ClusterTask, Combiner, EncoderConfig, Error, MlpConfig, PairClassifier, PairData, PairDataset,
    TrainConfig,
};

fn task() -> PairDataset {
    ClusterTask::new(8, 4).unwrap().generate(400, 1).unwrap()
}

fn head_model(c: Combiner) -> PairClassifier {
    PairClassifier::builder(8, c).seed(5).build().unwrap()
}

/// A model with a hidden encoder layer and a hidden head layer.
fn encoder_model(c: Combiner) -> PairClassifier {
    PairClassifier::builder(8, c)
        .encoder(EncoderConfig::new(MlpConfig::new([16]).unwrap(), 6).unwrap())
        .seed(5)
        .build()
        .unwrap()
}

fn bits(m: &PairClassifier) -> Vec<u32> {
    m.parameters().iter().map(|v| v.to_bits()).collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// Both dropouts on, batches of three slices (so slices run in parallel).
fn dropped() -> TrainConfig {
    TrainConfig::new()
        .with_epochs(2)
        .with_batch_size(96)
        .with_seed(3)
        .with_head_dropout(0.3)
        .with_encoder_dropout(0.2)
}

fn trained(mut m: PairClassifier, data: &PairDataset, cfg: &TrainConfig) -> PairClassifier {
    m.fit(data, None, cfg).unwrap();
    m
}

#[test]
fn dropout_training_is_seeded_deterministic_and_changes_the_weights() {
    let data = task();
    for make in [head_model, encoder_model] {
        let m = || make(Combiner::ConcatSwapAverage);
        let a = bits(&trained(m(), &data, &dropped()));
        let b = bits(&trained(m(), &data, &dropped()));
        assert_eq!(a, b, "same seed, same weights");
        let other_seed = bits(&trained(m(), &data, &dropped().with_seed(4)));
        let plain = TrainConfig::new()
            .with_epochs(2)
            .with_batch_size(96)
            .with_seed(3);
        let none = bits(&trained(m(), &data, &plain));
        assert_ne!(a, none, "dropout changes the weights");
        // The shuffle changes with the seed too; what matters is that the masks do not
        // repeat the unseeded run.
        assert_ne!(a, other_seed, "another seed, other masks");
    }
    // Each dropout alone changes the weights of a model that has the layer.
    let enc_only = dropped().with_head_dropout(0.0);
    let head_only = dropped().with_encoder_dropout(0.0);
    let plain = dropped().with_head_dropout(0.0).with_encoder_dropout(0.0);
    let m = || encoder_model(Combiner::Product);
    let none = bits(&trained(m(), &data, &plain));
    assert_ne!(
        bits(&trained(m(), &data, &enc_only)),
        none,
        "encoder dropout"
    );
    assert_ne!(bits(&trained(m(), &data, &head_only)), none, "head dropout");
}

#[test]
fn dropout_training_is_bitwise_identical_on_one_and_two_threads() {
    let data = task();
    for make in [head_model, encoder_model] {
        for c in [
            Combiner::ConcatSwapAverage,
            Combiner::Concat,
            Combiner::AbsDiff,
        ] {
            for cfg in [
                dropped(),
                dropped().with_swap_augment(true),
                dropped().with_consistency(0.5).with_input_dropout(0.1),
            ] {
                let run = |threads: usize| {
                    let mut m = make(c.clone());
                    pool(threads).install(|| m.fit(&data, None, &cfg)).unwrap();
                    bits(&m)
                };
                assert_eq!(run(1), run(2), "combiner {c}, {cfg:?}");
            }
        }
    }
}

#[test]
fn prediction_is_symmetric_bit_for_bit_after_dropout_training_for_every_symmetric_family() {
    let data = task();
    let x = Array2::from_shape_fn((70, 8), |(r, c)| ((r * 7 + c * 3) % 11) as f32 / 5.0 - 1.0);
    let y = Array2::from_shape_fn((70, 8), |(r, c)| ((r * 5 + c * 2) % 13) as f32 / 6.0 - 1.0);
    let cfg = dropped().with_epochs(1).with_head_dropout(0.5);
    let mut checked = 0;
    for c in common::symmetric_combiners() {
        for make in [head_model, encoder_model] {
            let m = trained(make(c.clone()), &data, &cfg);
            let xy = m.predict_logits(x.view(), y.view()).unwrap();
            let yx = m.predict_logits(y.view(), x.view()).unwrap();
            let again = m.predict_logits(x.view(), y.view()).unwrap();
            assert_eq!(
                common::bits(xy.iter()),
                common::bits(yx.iter()),
                "{c}: symmetric"
            );
            assert_eq!(
                common::bits(xy.iter()),
                common::bits(again.iter()),
                "{c}: deterministic"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "every symmetric family, with and without encoder"
    );
}

#[test]
fn dropout_zero_is_bitwise_no_dropout() {
    let data = task();
    let plain = TrainConfig::new()
        .with_epochs(2)
        .with_batch_size(96)
        .with_seed(3);
    // Rates of 0 spelled out; and rates on parts the model does not have (no encoder; a
    // head without hidden layer) drop nothing.
    let cases: Vec<(&str, PairClassifier, TrainConfig)> = vec![
        (
            "explicit zeros",
            encoder_model(Combiner::Product),
            plain
                .clone()
                .with_head_dropout(0.0)
                .with_encoder_dropout(0.0),
        ),
        (
            "encoder dropout without encoder",
            head_model(Combiner::ConcatSwapAverage),
            plain.clone().with_encoder_dropout(0.5),
        ),
        (
            "head dropout on a linear head",
            PairClassifier::builder(8, Combiner::AbsDiff)
                .mlp_head(MlpConfig::linear())
                .seed(5)
                .build()
                .unwrap(),
            plain.clone().with_head_dropout(0.5),
        ),
    ];
    for (what, m, cfg) in cases {
        let with = bits(&trained(m.clone(), &data, &cfg));
        let without = bits(&trained(m, &data, &plain));
        assert_eq!(with, without, "{what}");
    }
}

#[test]
fn bad_dropout_rates_are_rejected_naming_the_field() {
    let data = task();
    for bad in [-0.1f32, 1.0, 1.5, f32::NAN, f32::INFINITY, -0.0 - 1e-9] {
        for (field, cfg) in [
            ("head_dropout", TrainConfig::new().with_head_dropout(bad)),
            (
                "encoder_dropout",
                TrainConfig::new().with_encoder_dropout(bad),
            ),
        ] {
            let err = cfg.check().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidConfig { field: f, .. } if *f == field),
                "{field} = {bad}: {err:?}"
            );
            let mut m = encoder_model(Combiner::Product);
            let before = bits(&m);
            assert!(m.fit(&data, None, &cfg).is_err(), "{field} = {bad}");
            assert_eq!(bits(&m), before, "a rejected config leaves the model alone");
        }
    }
    // Deserialising runs the same check.
    let mut json = serde_json::to_value(TrainConfig::new()).unwrap();
    json["head_dropout"] = serde_json::json!(1.0);
    assert!(serde_json::from_value::<TrainConfig>(json).is_err());
    // And good values pass, the upper end just below 1.
    assert!(
        TrainConfig::new()
            .with_head_dropout(0.0)
            .with_encoder_dropout(0.99)
            .check()
            .is_ok()
    );
    assert_eq!(data.len(), 400);
}
