//! Training options: early-stopping monitors, regularisers (input noise and dropout,
//! gradient clipping, learning-rate schedules), per-batch observers, per-epoch metrics
//! and warnings of runs that cannot learn.

use sympair::{
    ClusterTask, Combiner, Control, EpochStats, Error, LrSchedule, Monitor, Optimizer,
    PairClassifier, PairData, PairDataset, TrainConfig, TrainObserver, TrainWarning,
};

fn task() -> (PairDataset, PairDataset) {
    let t = ClusterTask::new(8, 4).unwrap();
    (t.generate(600, 1).unwrap(), t.generate(300, 2).unwrap())
}

fn model(c: Combiner) -> PairClassifier {
    PairClassifier::builder(8, c).seed(5).build().unwrap()
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

/// Every regulariser on (a batch of 96 pairs: three slices, so slices run in parallel).
fn regularised() -> TrainConfig {
    TrainConfig::new()
        .with_epochs(3)
        .with_batch_size(96)
        .with_seed(3)
        .with_input_noise(0.3)
        .with_input_dropout(0.2)
        .with_grad_clip(0.5)
        .with_lr_schedule(LrSchedule::cosine(1, 0.1))
}

#[test]
fn regularised_training_is_bitwise_identical_on_one_and_two_threads() {
    let (train, _) = task();
    for c in [
        Combiner::ConcatSwapAverage,
        Combiner::Concat,
        Combiner::AbsDiff,
    ] {
        for cfg in [regularised(), regularised().with_swap_augment(true)] {
            let run = |threads: usize| {
                let mut m = model(c.clone());
                pool(threads).install(|| m.fit(&train, None, &cfg)).unwrap();
                bits(&m)
            };
            assert_eq!(run(1), run(2), "combiner {c}, {cfg:?}");
        }
    }
}

#[test]
fn each_regulariser_changes_the_weights_and_keeps_prediction_symmetric() {
    let (train, valid) = task();
    let base = TrainConfig::new().with_epochs(2).with_seed(3);
    let mut plain = model(Combiner::ConcatSwapAverage);
    plain.fit(&train, None, &base).unwrap();
    let variants = [
        ("input_noise", base.clone().with_input_noise(0.3)),
        ("input_dropout", base.clone().with_input_dropout(0.2)),
        ("grad_clip", base.clone().with_grad_clip(0.05)),
        (
            "cosine",
            base.clone().with_lr_schedule(LrSchedule::cosine(1, 0.0)),
        ),
        (
            "step",
            base.clone().with_lr_schedule(LrSchedule::step(1, 0.5)),
        ),
    ];
    for (name, cfg) in variants {
        let mut m = model(Combiner::ConcatSwapAverage);
        m.fit(&train, None, &cfg).unwrap();
        assert_ne!(bits(&m), bits(&plain), "{name} had no effect");
        // Prediction is deterministic and exactly symmetric.
        let a = m.logits_for(&valid).unwrap();
        let b = m.logits_for(&valid.swapped()).unwrap();
        let again = m.logits_for(&valid).unwrap();
        let to_bits = |v: &[f32]| v.iter().map(|z| z.to_bits()).collect::<Vec<_>>();
        assert_eq!(to_bits(&a), to_bits(&b), "{name}: not symmetric");
        assert_eq!(to_bits(&a), to_bits(&again), "{name}: not deterministic");
    }
}

#[test]
fn early_stopping_on_auc_restores_the_weights_of_the_best_auc() {
    let (train, valid) = task();
    let cfg = TrainConfig::new()
        .with_epochs(30)
        .with_optimizer(Optimizer::adam(0.05))
        .with_patience(2);
    let mut m = model(Combiner::Product);
    let h = m.fit(&train, Some(&valid), &cfg).unwrap();
    let best = h.best_epoch.expect("early stopping records the best epoch");
    let best_auc = h.epochs[best].valid_auc.unwrap();
    for e in &h.epochs[..=best] {
        assert!(e.valid_auc.unwrap() <= best_auc);
    }
    for e in &h.epochs[best + 1..] {
        assert!(
            e.valid_auc.unwrap() <= best_auc,
            "a later epoch beat the best"
        );
    }
    let logits = m.logits_for(&valid).unwrap();
    let auc = sympair::metrics::roc_auc(&logits, valid.labels()).unwrap();
    assert_eq!(auc.to_bits(), best_auc.to_bits());
}

#[test]
fn min_delta_larger_than_any_gain_stops_after_patience() {
    let (train, valid) = task();
    let cfg = TrainConfig::new()
        .with_epochs(20)
        .with_patience(3)
        .with_min_delta(1.0);
    let mut m = model(Combiner::AbsDiff);
    let h = m.fit(&train, Some(&valid), &cfg).unwrap();
    assert_eq!(h.best_epoch, Some(0));
    assert_eq!(h.epochs.len(), 4);
    assert!(h.stopped_early);
}

#[test]
fn validation_monitor_without_validation_data_is_a_config_error() {
    let (train, _) = task();
    for monitor in [
        Monitor::ValidAuc,
        Monitor::ValidLoss,
        Monitor::ValidAveragePrecision,
    ] {
        let cfg = TrainConfig::new().with_patience(2).with_monitor(monitor);
        let mut m = model(Combiner::AbsDiff);
        let before = bits(&m);
        let err = m.fit(&train, None, &cfg).unwrap_err();
        assert!(
            matches!(err, Error::InvalidConfig { .. }),
            "{monitor:?}: {err}"
        );
        assert_eq!(bits(&m), before);
    }
}

#[test]
fn invalid_regulariser_settings_are_typed_errors() {
    let bad = [
        TrainConfig::new().with_input_dropout(1.0),
        TrainConfig::new().with_input_dropout(-0.1),
        TrainConfig::new().with_input_noise(f32::NAN),
        TrainConfig::new().with_grad_clip(0.0),
        TrainConfig::new().with_min_delta(-1.0),
        TrainConfig::new().with_lr_schedule(LrSchedule::cosine(1, 2.0)),
        TrainConfig::new().with_lr_schedule(LrSchedule::step(1, 0.0)),
    ];
    for cfg in bad {
        assert!(
            matches!(cfg.check(), Err(Error::InvalidConfig { .. })),
            "{cfg:?}"
        );
    }
}

#[test]
fn new_config_fields_round_trip_through_serde_and_old_configs_still_load() {
    let cfg = regularised().with_monitor(Monitor::ValidAveragePrecision);
    let json = serde_json::to_string(&cfg).unwrap();
    let back: TrainConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cfg);
    let old = r#"{"epochs":3,"batch_size":8,"optimizer":{"adam":{"lr":0.001,"beta1":0.9,"beta2":0.999,"eps":1e-8}},"weight_decay":0.0,"seed":0,"patience":null,"pos_weight":1.0,"consistency":0.0,"swap_augment":false}"#;
    let old: TrainConfig = serde_json::from_str(old).unwrap();
    assert_eq!(old.input_dropout(), 0.0);
    assert_eq!(old.monitor(), Monitor::Auto);
}

/// Stops before batch `at` of epoch `epoch`, counting the calls it sees.
struct StopAt {
    epoch: usize,
    at: usize,
    calls: usize,
}

impl TrainObserver for StopAt {
    fn on_epoch(&mut self, _stats: &EpochStats) -> Control {
        Control::Continue
    }
    fn on_batch(&mut self, epoch: usize, batch: usize) -> Control {
        self.calls += 1;
        if (epoch, batch) == (self.epoch, self.at) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn on_batch_stops_within_the_epoch_and_records_a_partial_epoch() {
    let (train, valid) = task();
    let cfg = TrainConfig::new().with_epochs(5).with_batch_size(64);
    let mut m = model(Combiner::AbsDiff);
    let mut obs = StopAt {
        epoch: 1,
        at: 3,
        calls: 0,
    };
    let h = m
        .fit_observed(&train, Some(&valid), &cfg, &mut obs)
        .unwrap();
    // 600 pairs / 64 = 10 batches in epoch 0, then batches 0..=3 of epoch 1.
    assert_eq!(obs.calls, 10 + 4);
    assert_eq!(h.epochs.len(), 2);
    assert!(!h.epochs[0].partial && h.epochs[1].partial);
    assert!(h.epochs[1].valid_loss.is_none());
    assert!(h.stopped_early);
    // The model is usable.
    assert!(m.logits_for(&valid).unwrap().iter().all(|z| z.is_finite()));
}

#[test]
fn history_carries_training_and_validation_metrics() {
    let (train, valid) = task();
    let mut m = model(Combiner::AbsDiff);
    let h = m
        .fit(&train, Some(&valid), &TrainConfig::new().with_epochs(3))
        .unwrap();
    for e in &h.epochs {
        let (ta, va, ap) = (
            e.train_auc.unwrap(),
            e.valid_auc.unwrap(),
            e.valid_ap.unwrap(),
        );
        for v in [ta, va, ap] {
            assert!((0.0..=1.0).contains(&v));
        }
    }
    // The training AUC is the AUC of the model on the training pairs (all 600 < sample).
    let last = h.epochs.last().unwrap();
    let logits = m.logits_for(&train).unwrap();
    let auc = sympair::metrics::roc_auc(&logits, train.labels()).unwrap();
    assert!((auc - last.train_auc.unwrap()).abs() < 1e-12);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
}

#[test]
fn adam_with_a_huge_learning_rate_is_flagged_as_not_learning() {
    let (train, valid) = task();
    let mut m = model(Combiner::AbsDiff);
    let cfg = TrainConfig::new()
        .with_epochs(5)
        .with_optimizer(Optimizer::adam(1e6));
    let h = m.fit(&train, Some(&valid), &cfg).unwrap();
    assert!(
        h.warnings
            .iter()
            .any(|w| matches!(w, TrainWarning::ChanceLevel { .. })),
        "{h:?}"
    );
}

#[test]
fn a_swamping_consistency_penalty_is_flagged() {
    let (train, _) = task();
    let mut m = model(Combiner::Concat);
    let cfg = TrainConfig::new().with_epochs(3).with_consistency(1e30);
    let h = m.fit(&train, None, &cfg).unwrap();
    assert!(!h.warnings.is_empty(), "{h:?}");
}
