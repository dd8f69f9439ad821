//! Hostile input to training and to everything that takes a dataset: bad training settings,
//! datasets of the wrong width, bad parameter vectors, and the loss helpers on any float.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use common::bits;
use common::hostile::*;
use proptest::prelude::*;
use sympair::{
    Control, EpochStats, ItemPairs, Optimizer, PairData, TrainConfig, asymmetry, evaluate,
};

// ---------------------------------------------------------------------------------------
// Datasets of the wrong width, training settings, parameters
// ---------------------------------------------------------------------------------------

/// A `TrainConfig` with one bad value, and the field the error must name.
fn bad_train_config(which: usize, pick: usize) -> (TrainConfig, &'static str) {
    let base = TrainConfig::new().with_epochs(2).with_batch_size(8);
    let lr = [
        0.0f32,
        -0.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let unit = [
        1.0f32,
        1.5,
        -0.1,
        f32::NAN,
        f32::INFINITY,
        -f32::MIN_POSITIVE,
    ];
    let positive = [0.0f32, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
    let non_negative = [-1.0f32, -f32::MIN_POSITIVE, f32::NAN, f32::INFINITY];
    let adam = |lr, beta1, beta2, eps| Optimizer::Adam {
        lr,
        beta1,
        beta2,
        eps,
    };
    let p = |a: &[f32]| a[pick % a.len()];
    match which % 12 {
        0 => (base.with_epochs(0), "epochs"),
        1 => (base.with_batch_size(0), "batch_size"),
        2 => (
            base.with_optimizer(Optimizer::adam(p(&lr))),
            "learning rate",
        ),
        3 => (
            base.with_optimizer(adam(1e-3, p(&unit), 0.999, 1e-8)),
            "beta1",
        ),
        4 => (
            base.with_optimizer(adam(1e-3, 0.9, p(&unit), 1e-8)),
            "beta2",
        ),
        5 => (
            base.with_optimizer(adam(1e-3, 0.9, 0.999, p(&positive))),
            "eps",
        ),
        6 => (
            base.with_optimizer(Optimizer::sgd(p(&lr), 0.5)),
            "learning rate",
        ),
        7 => (
            base.with_optimizer(Optimizer::sgd(0.1, p(&unit))),
            "momentum",
        ),
        8 => (base.with_weight_decay(p(&non_negative)), "weight_decay"),
        9 => (base.with_patience(0), "patience"),
        10 => (base.with_pos_weight(p(&positive)), "pos_weight"),
        _ => (base.with_consistency(p(&non_negative)), "consistency"),
    }
}

/// Width-`d` data as a dense dataset or as item pairs.
fn data_of_width(d: usize, item_pairs: bool) -> Box<dyn PairData> {
    if item_pairs {
        let pairs = vec![(0, 1, 1.0), (1, 2, 0.0), (2, 3, 1.0), (0, 3, 0.0)];
        Box::new(ItemPairs::new(filled(4, d, 0.5), pairs).unwrap())
    } else {
        Box::new(dataset(6, d))
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn fit_rejects_bad_settings_before_touching_the_weights(
        mi in zoo_index(), which in 0usize..12, pick in 0usize..8,
    ) {
        let (config, field) = bad_train_config(which, pick);
        prop_assert_eq!(outcome(&config.check()), Err(Kind::Config(field)));
        let mut model = ZOO[mi].clone();
        let before = model.parameters();
        let train = dataset(16, D);
        prop_assert_eq!(outcome(&model.fit(&train, None, &config)), Err(Kind::Config(field)));
        let mut epochs = 0;
        let mut observer = |_: &EpochStats| {
            epochs += 1;
            Control::Continue
        };
        let r = model.fit_observed(&train, Some(&train as &dyn PairData), &config, &mut observer);
        prop_assert_eq!(outcome(&r), Err(Kind::Config(field)));
        prop_assert_eq!(epochs, 0);
        prop_assert_eq!(bits(&model.parameters()), bits(&before));
    }

    #[test]
    fn datasets_of_the_wrong_width_are_rejected_everywhere(
        mi in zoo_index(),
        w in (1usize..7).prop_filter("not the model's width", |w| *w != D),
        item_pairs in any::<bool>(),
    ) {
        let mut model = ZOO[mi].clone();
        let before = model.parameters();
        let wrong = data_of_width(w, item_pairs);
        let right = data_of_width(D, !item_pairs);
        let config = TrainConfig::new().with_epochs(1);
        prop_assert_eq!(outcome(&model.logits_for(wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(outcome(&model.loss_gradient(wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(outcome(&evaluate(&model, wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(outcome(&asymmetry(&model, wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(
            outcome(&model.fit(wrong.as_ref(), None, &config)),
            Err(Kind::Width("train", D, w))
        );
        prop_assert_eq!(
            outcome(&model.fit(right.as_ref(), Some(wrong.as_ref()), &config)),
            Err(Kind::Width("valid", D, w))
        );
        prop_assert_eq!(bits(&model.parameters()), bits(&before));
    }

    #[test]
    fn set_parameters_rejects_wrong_lengths_and_non_finite_values(
        mi in zoo_index(),
        shift in prop_oneof![Just(0i64), -3i64..=3],
        bad in proptest::option::of((any::<proptest::sample::Index>(), non_finite())),
    ) {
        let mut model = ZOO[mi].clone();
        let n = model.n_params();
        let before = model.parameters();
        let len = shifted(n, shift);
        let mut values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.01).cos()).collect();
        let mut expected = (len != n).then_some(Kind::Width("parameters", n, len));
        if let (None, Some((at, v))) = (&expected, bad)
            && n > 0
        {
            let col = at.index(n);
            values[col] = v;
            expected = Some(Kind::NonFinite("parameters", 0, col));
        }
        let r = model.set_parameters(&values);
        match expected {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert_eq!(bits(&model.parameters()), bits(&before));
            }
            None => prop_assert_eq!(bits(&model.parameters()), bits(&values)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Loss helpers
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    /// The public loss helpers return numbers, not `Result`s; they must not panic on any
    /// input, and stay finite on finite logits with valid labels.
    #[test]
    fn loss_helpers_never_panic(z in any::<f32>(), t in any::<f32>(), w in any::<f32>()) {
        let p = sympair::sigmoid(z);
        prop_assert!(p.is_nan() || (0.0..=1.0).contains(&p));
        let _ = sympair::bce_with_logits(z, t, w);
        let _ = sympair::bce_with_logits_grad(z, t, w);
        if z.is_finite() {
            for t in [0.0, 1.0] {
                prop_assert!(sympair::bce_with_logits(z, t, 1.0).is_finite());
                prop_assert!(sympair::bce_with_logits_grad(z, t, 1.0).is_finite());
            }
        }
    }
}
