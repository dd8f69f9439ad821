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

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch folder")
}

#[test]
fn a_state_saved_in_the_model_file_resumes_training_bit_for_bit() {
    let data = ClusterTask::new(8, 4).unwrap().generate(300, 3).unwrap();
    let cfg = TrainConfig::new().with_epochs(2).with_seed(5);
    let mut model = PairClassifier::builder(8, Combiner::AbsDiff)
        .encoder(sympair::EncoderConfig::new(sympair::MlpConfig::new([6]).unwrap(), 4).unwrap())
        .seed(1)
        .build()
        .unwrap();
    let mut state = OptimizerState::new();
    model.fit_warm(&data, None, &cfg, &mut state).unwrap();

    let dir = scratch();
    let path = dir.path().join("ckpt.json");
    model.save_with_state(&path, &state).unwrap();
    let (mut resumed, mut resumed_state) = PairClassifier::load_with_state(&path).unwrap();
    assert_eq!(resumed_state, state);
    assert_eq!(bits(&resumed), bits(&model));

    // Continuing from the file is continuing in memory, bit for bit.
    model.fit_warm(&data, None, &cfg, &mut state).unwrap();
    resumed
        .fit_warm(&data, None, &cfg, &mut resumed_state)
        .unwrap();
    assert_eq!(bits(&resumed), bits(&model));
    assert_eq!(resumed_state, state);

    // A plain load of the same file reads the model and ignores the state.
    let plain = PairClassifier::load(&path).unwrap();
    let (first, _) = PairClassifier::load_with_state(&path).unwrap();
    assert_eq!(bits(&plain), bits(&first));
}

#[test]
fn a_file_saved_without_state_loads_with_an_empty_state() {
    let model = PairClassifier::builder(8, Combiner::Sum).build().unwrap();
    let bytes = model.to_json_bytes().unwrap();
    let (back, state) = PairClassifier::from_json_bytes_with_state(&bytes).unwrap();
    assert!(state.is_empty());
    assert_eq!(bits(&back), bits(&model));
    // An empty state fits any model and round-trips as empty.
    let bytes = model
        .to_json_bytes_with_state(&OptimizerState::new())
        .unwrap();
    let (_, state) = PairClassifier::from_json_bytes_with_state(&bytes).unwrap();
    assert!(state.is_empty());
}

#[test]
fn a_state_that_does_not_fit_the_model_is_refused_on_save_and_on_load() {
    let data = ClusterTask::new(8, 4).unwrap().generate(200, 1).unwrap();
    let cfg = TrainConfig::new().with_epochs(1);
    let mut small = PairClassifier::builder(8, Combiner::AbsDiff)
        .build()
        .unwrap();
    let mut state = OptimizerState::new();
    small.fit_warm(&data, None, &cfg, &mut state).unwrap();
    let other = PairClassifier::builder(8, Combiner::Concat)
        .build()
        .unwrap();
    let dir = scratch();
    let path = dir.path().join("other.json");
    let err = other.save_with_state(&path, &state).unwrap_err();
    assert!(matches!(err, Error::Format(_)), "{err}");
    assert!(!path.exists(), "a refused save writes nothing");

    // A file whose state was edited to another shape: the model still loads plainly,
    // the state is refused with the tensor named.
    let good = small.to_json_bytes_with_state(&state).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let m0 = &mut v["optimizer_state"]["inner"]["m"][0];
    m0.as_array_mut().unwrap().pop();
    v["optimizer_state"]["inner"]["v"][0]
        .as_array_mut()
        .unwrap()
        .pop();
    let edited = serde_json::to_vec(&v).unwrap();
    let err = PairClassifier::from_json_bytes_with_state(&edited).unwrap_err();
    assert!(
        matches!(&err, Error::Format(msg) if msg.contains("tensor 0")),
        "{err}"
    );
    assert!(PairClassifier::from_json_bytes(&edited).is_ok());

    // Corrupt moments (a negative second moment) are a format error too.
    let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    v["optimizer_state"]["inner"]["v"][0][0] = serde_json::json!(-1.0);
    let err =
        PairClassifier::from_json_bytes_with_state(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Format(_)), "{err}");
}
