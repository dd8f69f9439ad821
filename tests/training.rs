//! Training: determinism, configuration checks, early stopping, divergence.

mod common;

use common::*;
use sympair::{
    ClusterTask, Combiner, Error, HeadConfig, MlpConfig, Monitor, Optimizer, PairClassifier,
    PairData, TrainConfig,
};

fn task() -> (sympair::PairDataset, sympair::PairDataset) {
    let t = ClusterTask::new(8, 4).unwrap();
    (t.generate(600, 1).unwrap(), t.generate(300, 2).unwrap())
}

fn model(c: Combiner) -> PairClassifier {
    PairClassifier::builder(8, c).seed(5).build().unwrap()
}

#[test]
fn same_seed_and_data_give_bitwise_identical_weights() {
    let (train, valid) = task();
    for c in Combiner::builtins() {
        let cfg = TrainConfig::new().with_epochs(3).with_seed(11);
        let mut a = model(c.clone());
        let mut b = model(c.clone());
        let ha = a.fit(&train, Some(&valid), &cfg).unwrap();
        let hb = b.fit(&train, Some(&valid), &cfg).unwrap();
        let bits = |m: &PairClassifier| {
            m.parameters()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&a), bits(&b), "combiner {c}");
        assert_eq!(ha.epochs.len(), hb.epochs.len());
        for (x, y) in ha.epochs.iter().zip(&hb.epochs) {
            assert_eq!(x.train_loss.to_bits(), y.train_loss.to_bits());
        }
    }
}

#[test]
fn different_shuffle_seeds_give_different_weights() {
    let (train, _) = task();
    let mut a = model(Combiner::AbsDiff);
    let mut b = model(Combiner::AbsDiff);
    a.fit(
        &train,
        None,
        &TrainConfig::new().with_epochs(2).with_seed(1),
    )
    .unwrap();
    b.fit(
        &train,
        None,
        &TrainConfig::new().with_epochs(2).with_seed(2),
    )
    .unwrap();
    assert_ne!(a.parameters(), b.parameters());
}

#[test]
fn invalid_configs_are_typed_errors_and_leave_the_model_untouched() {
    let (train, _) = task();
    let bad = [
        ("batch_size", TrainConfig::new().with_batch_size(0)),
        ("epochs", TrainConfig::new().with_epochs(0)),
        (
            "learning rate",
            TrainConfig::new().with_optimizer(Optimizer::adam(-1e-3)),
        ),
        (
            "learning rate",
            TrainConfig::new().with_optimizer(Optimizer::adam(f32::NAN)),
        ),
        (
            "learning rate",
            TrainConfig::new().with_optimizer(Optimizer::sgd(f32::INFINITY, 0.9)),
        ),
        (
            "momentum",
            TrainConfig::new().with_optimizer(Optimizer::sgd(0.1, 1.0)),
        ),
        ("weight_decay", TrainConfig::new().with_weight_decay(-0.1)),
        ("patience", TrainConfig::new().with_patience(0)),
        ("pos_weight", TrainConfig::new().with_pos_weight(0.0)),
        ("consistency", TrainConfig::new().with_consistency(f32::NAN)),
    ];
    for (field, cfg) in bad {
        let mut m = model(Combiner::Sum);
        let before = m.parameters();
        match m.fit(&train, None, &cfg) {
            Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidConfig for {field}, got {other:?}"),
        }
        assert_eq!(before, m.parameters(), "{field}: weights changed");
    }
}

#[test]
fn dataset_of_wrong_width_is_rejected_before_training() {
    let other = ClusterTask::new(5, 3).unwrap().generate(10, 1).unwrap();
    let mut m = model(Combiner::Sum);
    let err = m.fit(&other, None, &TrainConfig::new()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WidthMismatch {
                expected: 8,
                found: 5,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn training_lowers_the_loss_with_adam_and_with_sgd() {
    let (train, valid) = task();
    for opt in [Optimizer::adam(3e-3), Optimizer::sgd(0.05, 0.9)] {
        let mut m = model(Combiner::AbsDiff);
        let initial = m.loss_gradient(&train).unwrap().0;
        let h = m
            .fit(
                &train,
                Some(&valid),
                &TrainConfig::new()
                    .with_epochs(20)
                    .with_optimizer(opt.clone()),
            )
            .unwrap();
        let last = h.epochs.last().unwrap();
        assert!(
            last.train_loss < initial * 0.5,
            "{opt:?}: {initial} -> {}",
            last.train_loss
        );
        assert!(last.valid_loss.unwrap() < 0.5, "{opt:?}");
        assert!(last.valid_auc.unwrap() > 0.9, "{opt:?}");
    }
}

#[test]
fn early_stopping_restores_the_weights_of_the_best_epoch() {
    let (train, valid) = task();
    // A large learning rate makes the validation loss bounce, so stopping triggers.
    let cfg = TrainConfig::new()
        .with_epochs(40)
        .with_optimizer(Optimizer::adam(0.05))
        .with_patience(2)
        .with_monitor(Monitor::ValidLoss);
    let mut m = model(Combiner::Product);
    let h = m.fit(&train, Some(&valid), &cfg).unwrap();
    let best = h.best_epoch.expect("early stopping records the best epoch");
    let best_loss = h.epochs[best].valid_loss.unwrap();
    for e in &h.epochs {
        assert!(e.valid_loss.unwrap() >= best_loss);
    }
    // The model now holds exactly the weights that gave the best validation loss.
    let logits = m.logits_for(&valid).unwrap();
    let loss = sympair::metrics::log_loss_from_logits(&logits, valid.labels()).unwrap();
    assert_eq!(loss.to_bits(), best_loss.to_bits());
    if h.stopped_early {
        assert!(h.epochs.len() < 40);
        assert_eq!(h.epochs.len(), best + 3);
    }
}

#[test]
fn observer_can_stop_training() {
    let (train, _) = task();
    let mut m = model(Combiner::Sum);
    let mut seen = Vec::new();
    let h = m
        .fit_observed(
            &train,
            None,
            &TrainConfig::new().with_epochs(10),
            &mut |s: &sympair::EpochStats| {
                seen.push(s.epoch);
                if s.epoch == 2 {
                    sympair::Control::Stop
                } else {
                    sympair::Control::Continue
                }
            },
        )
        .unwrap();
    assert_eq!(seen, vec![0, 1, 2]);
    assert_eq!(h.epochs.len(), 3);
    assert!(h.stopped_early);
}

#[test]
fn divergence_is_a_typed_error_and_keeps_finite_weights() {
    // Items of magnitude ~1e14 and a huge learning rate: activations overflow to inf
    // within a few steps, and inf - inf makes the loss NaN.
    let (train, _) = task();
    let train = sympair::PairDataset::new(
        train.left().mapv(|v| v * 1e14),
        train.right().mapv(|v| v * 1e14),
        train.labels().to_vec(),
    )
    .unwrap();
    for c in [Combiner::Product, Combiner::SquaredDiff] {
        let mut m = PairClassifier::builder(8, c.clone())
            .mlp_head(
                MlpConfig::new([32])
                    .unwrap()
                    .with_activation(sympair::Activation::LeakyRelu),
            )
            .seed(1)
            .build()
            .unwrap();
        let cfg = TrainConfig::new()
            .with_epochs(50)
            .with_optimizer(Optimizer::sgd(1e6, 0.0));
        match m.fit(&train, None, &cfg) {
            Err(Error::Diverged { epoch, batch, .. }) => {
                assert!(epoch < 50 && batch < 10, "{c}: epoch {epoch} batch {batch}");
            }
            other => panic!("{c}: expected Diverged, got {other:?}"),
        }
        assert!(m.parameters().iter().all(|v| v.is_finite()), "{c}");
    }
}

#[test]
fn positive_weight_raises_predicted_probabilities() {
    let (train, valid) = task();
    let mean_p = |w: f32| {
        let mut m = model(Combiner::AbsDiff);
        m.fit(
            &train,
            None,
            &TrainConfig::new().with_epochs(3).with_pos_weight(w),
        )
        .unwrap();
        let p = m.predict_proba(valid.left(), valid.right()).unwrap();
        p.mean().unwrap()
    };
    assert!(mean_p(5.0) > mean_p(1.0) + 0.05);
}

#[test]
fn distance_head_learns_its_scale() {
    let (train, valid) = task();
    let mut m = PairClassifier::builder(8, Combiner::SquaredDiff)
        .head(HeadConfig::Distance { learn_scale: true })
        .build()
        .unwrap();
    let before = m.logits_for(&valid).unwrap();
    let auc0 = sympair::metrics::roc_auc(&before, valid.labels()).unwrap();
    let h = m
        .fit(
            &train,
            None,
            &TrainConfig::new()
                .with_epochs(5)
                .with_optimizer(Optimizer::adam(0.05)),
        )
        .unwrap();
    assert!(h.epochs.last().unwrap().train_loss < h.epochs[0].train_loss);
    let after = m.logits_for(&valid).unwrap();
    let auc1 = sympair::metrics::roc_auc(&after, valid.labels()).unwrap();
    // Scaling is monotone: the ranking (AUC) cannot change, the loss improves.
    assert!((auc0 - auc1).abs() < 1e-9);
    assert_eq!(m.n_params(), 1);
    let _ = tiny_task(2, 0);
}

#[test]
fn distance_head_logits_stay_finite_for_huge_distances() {
    // sum of squared differences ~ 64 * 40^2 = 1e5, far past exp's overflow at 709.
    let t = ClusterTask::new(64, 4).unwrap();
    let raw = t.generate(200, 1).unwrap();
    let data = sympair::PairDataset::new(
        raw.left().mapv(|v| v * 20.0),
        raw.right().mapv(|v| v * 20.0),
        raw.labels().to_vec(),
    )
    .unwrap();
    let mut m = PairClassifier::builder(64, Combiner::SquaredDiff)
        .head(HeadConfig::Distance { learn_scale: true })
        .build()
        .unwrap();
    let logits = m.logits_for(&data).unwrap();
    assert!(logits.iter().all(|l| l.is_finite()), "{logits:?}");
    assert!(logits.iter().any(|&l| l < -1000.0));
    m.fit(&data, None, &TrainConfig::new().with_epochs(2))
        .unwrap();
}

#[test]
fn cosine_gradient_is_zero_at_a_zero_vector() {
    use sympair::{PairCombiner, Similarity};
    let x = ndarray::array![[0.0f32, 0.0, 0.0]];
    let y = ndarray::array![[1.0f32, 2.0, 0.5]];
    let g = ndarray::array![[1.0f32]];
    let mut dx = ndarray::Array2::zeros((1, 3));
    let mut dy = ndarray::Array2::zeros((1, 3));
    Similarity::Cosine
        .backward(x.view(), y.view(), g.view(), dx.view_mut(), dy.view_mut())
        .unwrap();
    assert!(dx.iter().chain(dy.iter()).all(|&v| v == 0.0), "{dx} {dy}");
}

#[test]
fn calibrated_similarity_head_starts_with_a_positive_slope() {
    use sympair::Similarity;
    let (train, valid) = task();
    let mut m = PairClassifier::builder(8, Combiner::Similarity(Similarity::Cosine))
        .mlp_head(MlpConfig::linear())
        .seed(3)
        .build()
        .unwrap();
    assert_eq!(m.parameters(), vec![1.0, 0.0]);
    m.fit(
        &train,
        None,
        &TrainConfig::new()
            .with_epochs(3)
            .with_optimizer(Optimizer::adam(0.05)),
    )
    .unwrap();
    // Still increasing in the score, so it ranks pairs exactly as cosine does.
    assert!(m.parameters()[0] > 0.0);
    let logits = m.logits_for(&valid).unwrap();
    let auc = sympair::metrics::roc_auc(&logits, valid.labels()).unwrap();
    assert!(auc > 0.75, "{auc}");
}

#[test]
fn parameter_gradient_is_bitwise_symmetric_at_any_dataset_size() {
    // Beyond 256 rows per half, matrixmultiply's depth blocks would make the order of the
    // additions depend on the order of the pair; the gradient is summed over fixed slices
    // instead, so sizes past every block boundary must still agree bit for bit.
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for n in [1usize, 33, 257, 1000] {
        let data = ClusterTask::new(8, 4).unwrap().generate(n, 3).unwrap();
        let swapped = data.swapped();
        for c in [
            Combiner::AbsDiff,
            Combiner::ConcatSwapAverage,
            Combiner::Product,
        ] {
            let model = PairClassifier::builder(8, c.clone())
                .encoder(sympair::EncoderConfig::new(MlpConfig::new([12]).unwrap(), 6).unwrap())
                .seed(9)
                .build()
                .unwrap();
            let (la, ga) = model.loss_gradient(&data).unwrap();
            let (lb, gb) = model.loss_gradient(&swapped).unwrap();
            assert_eq!(la.to_bits(), lb.to_bits(), "{c}, {n} pairs: loss");
            assert_eq!(bits(&ga), bits(&gb), "{c}, {n} pairs: gradient");
        }
    }
}

#[test]
fn loss_gradient_is_the_mean_of_its_slices() {
    // The sliced gradient over 1000 pairs equals, up to rounding, the weighted mean of
    // the gradients of two halves computed separately (the slicing loses nothing).
    let data = ClusterTask::new(8, 4).unwrap().generate(1000, 5).unwrap();
    let a = data.select(&(0..400).collect::<Vec<_>>()).unwrap();
    let b = data.select(&(400..1000).collect::<Vec<_>>()).unwrap();
    let model = model(Combiner::AbsDiff);
    let (l, g) = model.loss_gradient(&data).unwrap();
    let (la, ga) = model.loss_gradient(&a).unwrap();
    let (lb, gb) = model.loss_gradient(&b).unwrap();
    assert!((l - (0.4 * la + 0.6 * lb)).abs() < 1e-6);
    for ((&g, &x), &y) in g.iter().zip(&ga).zip(&gb) {
        let want = 0.4 * x + 0.6 * y;
        assert!(
            (g - want).abs() <= 1e-5 * (1.0 + want.abs()),
            "{g} vs {want}"
        );
    }
}

#[test]
fn validation_logits_that_overflow_are_a_divergence() {
    let (train, _) = task();
    let huge = ndarray::Array2::from_elem((4, 8), 1e20f32);
    // x * y = inf in every column; a linear head turns that into a non-finite logit.
    let valid = sympair::PairDataset::new(huge.clone(), huge, vec![1.0, 0.0, 1.0, 0.0]).unwrap();
    let mut m = PairClassifier::builder(8, Combiner::Product)
        .mlp_head(MlpConfig::linear())
        .build()
        .unwrap();
    match m.fit(&train, Some(&valid), &TrainConfig::new().with_epochs(2)) {
        Err(Error::Diverged { epoch: 0, what, .. }) => {
            assert!(what.contains("validation logit of pair 0"), "{what}")
        }
        other => panic!("expected a divergence at epoch 0, got {other:?}"),
    }
}

/// Stops training before mini-batch `batch` of epoch `epoch`.
struct StopBefore(usize, usize);

impl sympair::TrainObserver for StopBefore {
    fn on_epoch(&mut self, _: &sympair::EpochStats) -> sympair::Control {
        sympair::Control::Continue
    }
    fn on_batch(&mut self, epoch: usize, batch: usize) -> sympair::Control {
        if (epoch, batch) == (self.0, self.1) {
            sympair::Control::Stop
        } else {
            sympair::Control::Continue
        }
    }
}

#[test]
fn a_step_that_makes_weights_non_finite_leaves_the_weights_before_it() {
    // A linear head on d = 9,000: its weight (9,000 values) is large enough for the
    // optimizer to split it over the pool. Weight decay multiplies every weight by about
    // -1e20 per step, so the logits stay finite one step longer than the weights do: the
    // second update overflows a weight before any loss is non-finite.
    let d = 9000;
    let data = ClusterTask::new(d, 4).unwrap().generate(256, 3).unwrap();
    let build = || {
        PairClassifier::builder(d, Combiner::AbsDiff)
            .mlp_head(MlpConfig::linear())
            .seed(5)
            .build()
            .unwrap()
    };
    let cfg = TrainConfig::new()
        .with_epochs(3)
        .with_optimizer(Optimizer::sgd(1e10, 0.0))
        .with_weight_decay(1e10);
    let mut failed = build();
    let (epoch, batch) = match failed.fit(&data, None, &cfg) {
        Err(Error::Diverged { epoch, batch, what }) => {
            assert!(what.contains("weight became non-finite"), "{what}");
            (epoch, batch)
        }
        other => panic!("expected a divergence, got {other:?}"),
    };
    assert!(
        epoch + batch > 0,
        "the first step failed: nothing to restore"
    );
    let mut stopped = build();
    stopped
        .fit_observed(&data, None, &cfg, &mut StopBefore(epoch, batch))
        .unwrap();
    assert_eq!(bits(&failed.parameters()), bits(&stopped.parameters()));
}

#[test]
fn early_stopping_on_auc_breaks_ties_by_validation_loss() {
    // A logistic head on one fixed cosine score: its validation AUC is the same after
    // every epoch, so only the loss can say which epoch is best.
    let (train, valid) = task();
    let mut m = PairClassifier::builder(8, Combiner::Similarity(sympair::Similarity::Cosine))
        .mlp_head(MlpConfig::linear())
        .seed(5)
        .build()
        .unwrap();
    let cfg = TrainConfig::new().with_epochs(30).with_patience(3);
    let h = m.fit(&train, Some(&valid), &cfg).unwrap();
    let aucs: Vec<f64> = h.epochs.iter().map(|e| e.valid_auc.unwrap()).collect();
    assert!(aucs.iter().all(|&a| a == aucs[0]), "AUC moved: {aucs:?}");
    let best = h.best_epoch.expect("early stopping recorded a best epoch");
    let losses: Vec<f64> = h.epochs.iter().map(|e| e.valid_loss.unwrap()).collect();
    let lowest = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(best > 0, "kept the first epoch; losses {losses:?}");
    assert_eq!(losses[best], lowest, "best epoch {best}, losses {losses:?}");
}
