//! Warm start: a second fit continues with the optimizer state of the first.

use sympair::{
    ClusterTask, Combiner, Error, Optimizer, OptimizerState, PairClassifier, TrainConfig,
};

fn bits(m: &PairClassifier) -> Vec<u32> {
    m.parameters().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn two_warm_fits_continue_adam_unlike_two_cold_fits() {
    let data = ClusterTask::new(8, 4).unwrap().generate(400, 1).unwrap();
    let build = || {
        PairClassifier::builder(8, Combiner::AbsDiff)
            .seed(2)
            .build()
            .unwrap()
    };
    let cfg = TrainConfig::new().with_epochs(2).with_seed(4);
    let (mut warm, mut cold) = (build(), build());
    let mut state = OptimizerState::new();
    warm.fit_warm(&data, None, &cfg, &mut state).unwrap();
    cold.fit(&data, None, &cfg).unwrap();
    // Same first run, with or without a kept state.
    assert_eq!(bits(&warm), bits(&cold));
    assert_eq!(state.steps(), 2 * 7);
    warm.fit_warm(&data, None, &cfg, &mut state).unwrap();
    cold.fit(&data, None, &cfg).unwrap();
    assert_eq!(state.steps(), 4 * 7);
    // The second run differs: Adam's moments and bias correction were kept.
    assert_ne!(bits(&warm), bits(&cold));

    // The state survives serde and continues the same way.
    let json = serde_json::to_string(&state).unwrap();
    let back: OptimizerState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
    let (mut a, mut b) = (warm.clone(), warm.clone());
    let mut s2 = back;
    a.fit_warm(&data, None, &cfg, &mut state).unwrap();
    b.fit_warm(&data, None, &cfg, &mut s2).unwrap();
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn a_state_of_another_model_or_optimizer_is_a_config_error() {
    let data = ClusterTask::new(8, 4).unwrap().generate(200, 1).unwrap();
    let cfg = TrainConfig::new().with_epochs(1);
    let mut small = PairClassifier::builder(8, Combiner::AbsDiff)
        .build()
        .unwrap();
    let mut state = OptimizerState::new();
    small.fit_warm(&data, None, &cfg, &mut state).unwrap();
    let mut other = PairClassifier::builder(8, Combiner::Concat)
        .build()
        .unwrap();
    let before = bits(&other);
    let err = other.fit_warm(&data, None, &cfg, &mut state).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    assert_eq!(bits(&other), before);
    let sgd = cfg.clone().with_optimizer(Optimizer::sgd(0.01, 0.9));
    let err = small.fit_warm(&data, None, &sgd, &mut state).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    // The state is kept after the refusals.
    assert_eq!(state.steps(), 4);
}

#[test]
fn a_corrupt_state_file_is_refused_at_load() {
    let bad = r#"{"inner":{"opt":{"adam":{"lr":0.001,"beta1":0.9,"beta2":0.999,"eps":1e-8}},"weight_decay":0.0,"t":3,"m":[[0.0,1.0]],"v":[[0.0,-1.0]]}}"#;
    assert!(serde_json::from_str::<OptimizerState>(bad).is_err());
    let good = bad.replace("-1.0", "1.0");
    assert!(serde_json::from_str::<OptimizerState>(&good).is_ok());
}
