//! Every deserialisable part of a model checks itself on the way in: no path from bytes
//! to a value skips the checks, whether through `PairClassifier::from_json_bytes` or
//! plain serde.

use serde_json::json;
use sympair::{Combiner, DistanceHead, Error, Head, HeadConfig, Mlp, MlpConfig, PairClassifier};

fn format_error_mentioning<T: std::fmt::Debug>(r: sympair::Result<T>, field: &str) {
    match r {
        Err(Error::Format(msg)) => assert!(msg.contains(field), "{msg:?} should name {field}"),
        other => panic!("expected Error::Format naming {field}, got {other:?}"),
    }
}

fn model_file(input_dim: serde_json::Value, combiner: &str, head: serde_json::Value) -> Vec<u8> {
    json!({"format": "sympair", "version": 1, "model": {
        "input_dim": input_dim, "combiner": combiner, "encoder": null, "head": head}})
    .to_string()
    .into_bytes()
}

fn distance(log_scale: f64) -> serde_json::Value {
    json!({"distance": {"log_scale": log_scale, "learn_scale": true}})
}

fn layer(rows: usize, cols: usize, w: f64) -> serde_json::Value {
    json!({
        "w": {"v": 1, "dim": [rows, cols], "data": vec![w; rows * cols]},
        "b": {"v": 1, "dim": [cols], "data": vec![0.0; cols]},
    })
}

#[test]
fn huge_input_dim_is_rejected_at_load_naming_the_field() {
    for dim in [json!(u64::MAX), json!(1u64 << 40), json!((1u64 << 24) + 1)] {
        let bytes = model_file(dim.clone(), "abs_diff", distance(0.0));
        format_error_mentioning(
            PairClassifier::<Combiner>::from_json_bytes(&bytes),
            "input_dim",
        );
    }
    // The largest accepted width still loads.
    let bytes = model_file(json!(1u64 << 24), "abs_diff", distance(0.0));
    assert!(PairClassifier::<Combiner>::from_json_bytes(&bytes).is_ok());
}

#[test]
fn builder_refuses_a_distance_head_wider_than_a_file_may_be() {
    let r = PairClassifier::builder((1 << 24) + 1, Combiner::AbsDiff)
        .head(HeadConfig::Distance { learn_scale: false })
        .build();
    assert!(
        matches!(
            r,
            Err(Error::InvalidConfig {
                field: "input_dim",
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn out_of_range_distance_scale_is_rejected_at_load_naming_the_field() {
    for log_scale in [1e30, -1e30, 89.0, -88.0] {
        let bytes = model_file(json!(3), "abs_diff", distance(log_scale));
        format_error_mentioning(
            PairClassifier::<Combiner>::from_json_bytes(&bytes),
            "log_scale",
        );
        let head: Result<DistanceHead, _> =
            serde_json::from_value(json!({"log_scale": log_scale, "learn_scale": true}));
        let err = head.expect_err("plain serde must check the scale too");
        assert!(err.to_string().contains("log_scale"), "{err}");
    }
}

#[test]
fn in_range_distance_scale_loads_and_gives_finite_logits() {
    for log_scale in [-80.0, -1.5, 0.0, 2.0, 80.0] {
        let bytes = model_file(json!(3), "abs_diff", distance(log_scale));
        let model = PairClassifier::<Combiner>::from_json_bytes(&bytes).expect("loads");
        let logit = model
            .predict_pair_logit(&[0.0, 0.5, 1.0], &[0.25, 0.5, -1.0])
            .expect("predicts");
        assert!(logit.is_finite(), "log_scale {log_scale}: {logit}");
    }
}

#[test]
fn plain_serde_checks_an_mlp() {
    let good = json!({"layers": [layer(3, 4, 0.5), layer(4, 1, 0.5)], "activation": "relu"});
    let mlp: Mlp = serde_json::from_value(good).expect("valid network");
    assert_eq!(
        (mlp.input_dim(), mlp.hidden(), mlp.output_dim()),
        (3, vec![4], 1)
    );

    let cases = [
        ("no layers", json!({"layers": [], "activation": "relu"})),
        (
            "unchained shapes",
            json!({"layers": [layer(3, 4, 0.5), layer(5, 1, 0.5)], "activation": "relu"}),
        ),
        (
            "bias of the wrong length",
            json!({"layers": [{"w": {"v": 1, "dim": [2, 2], "data": [1.0, 1.0, 1.0, 1.0]},
                                "b": {"v": 1, "dim": [3], "data": [0.0, 0.0, 0.0]}}],
                   "activation": "relu"}),
        ),
        (
            "empty weight",
            json!({"layers": [{"w": {"v": 1, "dim": [0, 2], "data": []},
                                "b": {"v": 1, "dim": [2], "data": [0.0, 0.0]}}],
                   "activation": "relu"}),
        ),
    ];
    for (name, value) in cases {
        let r: Result<Mlp, _> = serde_json::from_value(value);
        assert!(r.is_err(), "{name}: {r:?}");
    }
}

#[test]
fn plain_serde_checks_a_head() {
    let one_logit = json!({"mlp": {"layers": [layer(3, 1, 0.5)], "activation": "relu"}});
    assert!(serde_json::from_value::<Head>(one_logit).is_ok());
    let two_outputs = json!({"mlp": {"layers": [layer(3, 2, 0.5)], "activation": "relu"}});
    let err = serde_json::from_value::<Head>(two_outputs).expect_err("two outputs");
    assert!(err.to_string().contains("1 logit"), "{err}");
    let bad_scale = json!({"distance": {"log_scale": 1e30, "learn_scale": false}});
    assert!(serde_json::from_value::<Head>(bad_scale).is_err());
    let good_scale = json!({"distance": {"log_scale": 0.5, "learn_scale": false}});
    match serde_json::from_value::<Head>(good_scale).expect("valid distance head") {
        Head::Distance(d) => assert_eq!(d.scale(), 0.5f32.exp()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_serde_checks_configs() {
    let cfg: MlpConfig =
        serde_json::from_value(json!({"hidden": [8, 4], "activation": "gelu"})).expect("valid");
    assert_eq!(
        cfg,
        MlpConfig::new([8, 4])
            .unwrap()
            .with_activation(sympair::Activation::Gelu)
    );
    let zero = json!({"hidden": [8, 0], "activation": "relu"});
    let err = serde_json::from_value::<MlpConfig>(zero.clone()).expect_err("width 0");
    assert!(err.to_string().contains("width 0"), "{err}");
    assert!(serde_json::from_value::<HeadConfig>(json!({ "mlp": zero })).is_err());
    // Round trip of a valid config.
    let head = HeadConfig::Mlp(MlpConfig::new([16]).unwrap());
    let back: HeadConfig = serde_json::from_value(serde_json::to_value(&head).unwrap()).unwrap();
    assert_eq!(back, head);
}
