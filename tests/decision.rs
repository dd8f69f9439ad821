//! Decisions and calibration: Platt and temperature fits against reference values,
//! calibration that improves held-out reliability, `predict == (proba >= threshold)`,
//! named threshold rules, exact symmetry after calibration, save/load round trips,
//! files without a decision, and validation of every door.

mod common;

use common::decision_edits::invalid_decision_edits;
use ndarray::Array2;
use sympair::calibration::Calibration;
use sympair::metrics::{
    ThresholdCriterion, best_threshold, brier_score_from_logits, confusion_at,
    reliability_from_logits, threshold_for_precision,
};
use sympair::{
    CalibrationMethod, ClusterTask, Combiner, Error, MlpConfig, PairClassifier, PairCombiner,
    PairData, PairDataset, ThresholdRule, TrainConfig, evaluate,
};

// Reference values: scikit-learn 1.9.1, scipy, numpy, with this script.
//
// ```python
// import numpy as np
// from sklearn.calibration import _sigmoid_calibration, calibration_curve
// from sklearn.metrics import brier_score_loss
//
// rng = np.random.default_rng(7)
// z = np.round(rng.normal(0.0, 2.0, 60), 2).astype(np.float32)
// # Labels from a model whose logits are 2x too confident and shifted: true logit 0.5 z + 0.3.
// y = (rng.random(60) < 1 / (1 + np.exp(-(0.5 * z.astype(np.float64) + 0.3)))).astype(np.float32)
// a, b = _sigmoid_calibration(z.astype(np.float64), y)  # P = 1 / (1 + exp(a z + b))
// p = (1 / (1 + np.exp(-z.astype(np.float64)))).astype(np.float32).astype(np.float64)
// prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
// print("z =", "[" + ", ".join(f"{v:.2f}" for v in z) + "]")
// print("y =", "[" + ", ".join(f"{v:.0f}.0" for v in y) + "]")
// print(f"platt a = {-a!r}, b = {-b!r}")
// print(f"brier = {brier_score_loss(y, p)!r}")
// print("prob_true =", repr(prob_true.tolist()))
// print("prob_pred =", repr(prob_pred.tolist()))
// # Temperature scaling with the same prior-corrected targets: minimise over s = 1 / t.
// from scipy.optimize import minimize_scalar
// n1 = y.sum(); n0 = len(y) - n1
// T = np.where(y > 0, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
// zz = z.astype(np.float64)
// nll = lambda s: np.sum(np.logaddexp(0, s * zz) - T * s * zz)
// s = minimize_scalar(nll, bounds=(1e-6, 10), method="bounded", options={"xatol": 1e-12}).x
// print(f"temperature t = {1 / s!r}")
// ```
const Z: [f32; 60] = [
    0.00, 0.60, -0.55, -1.78, -0.91, -1.98, 0.12, 2.68, -0.98, -1.24, 0.98, 0.71, 0.21, -1.86,
    -0.06, 1.39, -2.69, -0.92, -3.80, -2.58, -3.68, -0.47, -2.53, 0.54, 0.31, -0.37, -5.03, -1.08,
    -0.10, 0.23, -3.06, -0.96, -1.96, -1.62, 2.12, -1.62, -0.07, 1.77, -1.17, -0.22, 0.22, 0.13,
    -2.45, 0.15, 2.72, -3.09, 1.72, 0.24, -1.28, 4.00, 1.52, -2.40, 0.15, 1.15, -0.38, 1.37, -0.13,
    1.33, 2.88, -1.35,
];
const Y: [f32; 60] = [
    0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0,
    1.0, 1.0, 1.0,
];

#[test]
fn platt_scaling_matches_scikit_learn() {
    let cal = Calibration::fit(CalibrationMethod::Platt, &Z, &Y).expect("fit");
    let (a, b) = cal.platt_params().expect("platt");
    // scikit-learn stops L-BFGS at a gradient of 1e-6; ours is Newton to f64 precision.
    assert!((f64::from(a) - 0.18136772580528002).abs() < 1e-5, "a = {a}");
    assert!(
        (f64::from(b) - 0.0077201205041609565).abs() < 1e-5,
        "b = {b}"
    );
    assert_eq!(cal.method(), CalibrationMethod::Platt);
    assert_eq!(cal.temperature_param(), None);
}

#[test]
fn temperature_scaling_matches_scipy() {
    let cal = Calibration::fit(CalibrationMethod::Temperature, &Z, &Y).expect("fit");
    let t = cal.temperature_param().expect("temperature");
    assert!((f64::from(t) - 5.543789460268342).abs() < 1e-5, "t = {t}");
    // z / t: zero stays at probability 0.5.
    assert_eq!(cal.proba(0.0), 0.5);
    assert_eq!(cal.logit(2.0), 2.0 / t);
}

#[test]
fn brier_and_reliability_match_scikit_learn() {
    let brier = brier_score_from_logits(&Z, &Y).expect("brier");
    assert!((brier - 0.2977565706347956).abs() < 1e-6, "{brier}");
    let r = reliability_from_logits(&Z, &Y, 10).expect("reliability");
    let prob_true = [
        0.4,
        0.5,
        0.5555555555555556,
        0.5,
        0.375,
        0.4444444444444444,
        0.0,
        0.75,
        0.6,
        0.75,
    ];
    let prob_pred = [
        0.05116850025951862,
        0.14236696933706602,
        0.25110503203339046,
        0.3752403259277344,
        0.4587458521127701,
        0.548690226342943,
        0.6492899457613627,
        0.7687099874019623,
        0.8433098316192627,
        0.9507238268852234,
    ];
    assert_eq!(r.n_bins, 10);
    assert_eq!(r.bins.len(), 10);
    let total: u64 = r.bins.iter().map(|b| b.count).sum();
    assert_eq!(total, 60);
    let mut ece = 0.0;
    for (k, bin) in r.bins.iter().enumerate() {
        assert!(
            (bin.observed - prob_true[k]).abs() < 1e-12,
            "bin {k}: {bin:?}"
        );
        assert!(
            (bin.mean_predicted - prob_pred[k]).abs() < 1e-6,
            "bin {k}: {bin:?}"
        );
        assert!((bin.lower - k as f64 / 10.0).abs() < 1e-12);
        ece += bin.count as f64 / 60.0 * (bin.observed - bin.mean_predicted).abs();
    }
    assert!((r.ece - ece).abs() < 1e-12);
    assert_eq!(r.bins[9].upper, 1.0);
}

#[test]
fn reliability_bins_hold_their_edges() {
    // sigmoid(0) = 0.5 exactly: the upper edge of bin 4 of 10 (bins are (lower, upper],
    // as in scikit-learn), and of bin 0 of 2.
    let r = reliability_from_logits(&[0.0, -30.0, 30.0], &[1.0, 0.0, 1.0], 10).expect("r");
    let counts: Vec<(f64, u64)> = r.bins.iter().map(|b| (b.upper, b.count)).collect();
    // sigmoid(-30) ~ 9e-14 (bin 0), sigmoid(30) = 1.0 in f32 (the last bin).
    assert_eq!(counts, vec![(0.1, 1), (0.5, 1), (1.0, 1)]);
    let two = reliability_from_logits(&[0.0], &[1.0], 2).expect("r");
    assert_eq!((two.bins[0].lower, two.bins[0].upper), (0.0, 0.5));
    assert!(matches!(
        reliability_from_logits(&[0.0], &[1.0], 0),
        Err(Error::InvalidConfig {
            field: "n_bins",
            ..
        })
    ));
}

fn task() -> ClusterTask {
    ClusterTask::new(16, 6)
        .and_then(|t| t.with_noise(0.7))
        .expect("valid task")
}

/// An `AbsDiff` model with a linear head, trained, then made over-confident by design:
/// every head parameter times `scale` multiplies every logit by `scale`.
fn overconfident(train: &PairDataset, scale: f32) -> PairClassifier {
    let mut model = PairClassifier::builder(train.dim(), Combiner::AbsDiff)
        .mlp_head(MlpConfig::linear())
        .seed(3)
        .build()
        .expect("model");
    model
        .fit(train, None, &TrainConfig::new().with_epochs(8).with_seed(1))
        .expect("training");
    let params: Vec<f32> = model.parameters().iter().map(|p| p * scale).collect();
    model.set_parameters(&params).expect("finite parameters");
    model
}

#[test]
fn calibration_on_validation_pairs_lowers_held_out_calibration_error() {
    let t = task();
    let (train, valid, test) = (
        t.generate(1500, 1).expect("data"),
        t.generate(1000, 2).expect("data"),
        t.generate(2000, 3).expect("data"),
    );
    let raw = overconfident(&train, 6.0);
    let before = evaluate(&raw, &test).expect("eval");
    for method in [CalibrationMethod::Platt, CalibrationMethod::Temperature] {
        let mut model = raw.clone();
        let cal = model.calibrate(method, &valid).expect("calibrate");
        assert_eq!(model.calibration(), Some(&cal));
        let after = evaluate(&model, &test).expect("eval");
        // Held-out pairs (seed 3), not the calibration pairs (seed 2).
        assert!(
            after.reliability.ece < 0.5 * before.reliability.ece,
            "{method}: ECE {} -> {}",
            before.reliability.ece,
            after.reliability.ece
        );
        assert!(after.brier < before.brier, "{method}");
        assert!(after.log_loss < before.log_loss, "{method}");
        // A monotone map keeps the ranking (up to f32 ties).
        let (b, a) = (before.roc_auc.expect("auc"), after.roc_auc.expect("auc"));
        assert!((a - b).abs() < 1e-3, "{method}: AUC {b} -> {a}");
        // The logits stay raw; the probabilities are calibrated.
        let z = model.predict_logits(test.left(), test.right()).expect("z");
        assert_eq!(z, raw.predict_logits(test.left(), test.right()).expect("z"));
        let p = model.predict_proba(test.left(), test.right()).expect("p");
        let want: Vec<f32> = z.iter().map(|&z| cal.proba(z)).collect();
        assert_eq!(p.to_vec(), want);
        assert_eq!(model.proba_for(&test).expect("p"), want);
        let x = test.left().row(0).to_vec();
        let y = test.right().row(0).to_vec();
        assert_eq!(model.predict_pair(&x, &y).expect("p"), want[0]);
    }
}

fn models(train: &PairDataset, valid: &PairDataset) -> Vec<(String, PairClassifier)> {
    let mut out = Vec::new();
    for c in [
        Combiner::AbsDiff,
        Combiner::Product,
        Combiner::ConcatSwapAverage,
        Combiner::Concat,
    ] {
        let mut m = PairClassifier::builder(train.dim(), c.clone())
            .seed(2)
            .build()
            .expect("model");
        m.fit(train, None, &TrainConfig::new().with_epochs(6).with_seed(1))
            .expect("training");
        out.push((format!("{} raw", c.name()), m.clone()));
        let mut with_threshold = m.clone();
        with_threshold
            .set_threshold(ThresholdRule::MaxF1, valid)
            .expect("threshold");
        out.push((format!("{} max F1", c.name()), with_threshold));
        for method in [CalibrationMethod::Platt, CalibrationMethod::Temperature] {
            let mut cal = m.clone();
            cal.calibrate(method, valid).expect("calibrate");
            cal.set_threshold(ThresholdRule::MaxAccuracy, valid)
                .expect("threshold");
            out.push((format!("{} {method} max accuracy", c.name()), cal));
        }
    }
    out
}

#[test]
fn predict_is_proba_at_least_the_threshold() {
    let t = task();
    let (train, valid, test) = (
        t.generate(1000, 1).expect("data"),
        t.generate(300, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    let mut hand = PairClassifier::builder(train.dim(), Combiner::Sum)
        .build()
        .expect("model");
    hand.set_threshold_probability(0.62).expect("threshold");
    let mut all = models(&train, &valid);
    all.push(("sum, by hand".into(), hand));
    for (name, model) in all {
        // The validation pairs hold the chosen cut-offs themselves (ties at the
        // threshold); the test pairs are new.
        for (set, data) in [("valid", &valid), ("test", &test)] {
            let p = model.predict_proba(data.left(), data.right()).expect("p");
            let class = model.predict(data.left(), data.right()).expect("class");
            let cut = model.threshold();
            let want: Vec<bool> = p.iter().map(|&p| p >= cut).collect();
            assert_eq!(class.to_vec(), want, "{name} {set}");
            assert_eq!(
                model.predict_for(data).expect("class"),
                want,
                "{name} {set}"
            );
            // Not a constant answer: both classes occur.
            assert!(
                want.contains(&true) && want.contains(&false),
                "{name} {set}"
            );
        }
    }
}

#[test]
fn the_default_threshold_is_one_half_of_the_probability() {
    let data = task().generate(300, 3).expect("data");
    let model = PairClassifier::builder(data.dim(), Combiner::AbsDiff)
        .seed(4)
        .build()
        .expect("model");
    assert_eq!(model.threshold(), 0.5);
    assert!(model.decision().is_empty());
    let z = model.logits_for(&data).expect("z");
    let want: Vec<bool> = z.iter().map(|&z| sympair::sigmoid(z) >= 0.5).collect();
    assert_eq!(model.predict_for(&data).expect("class"), want);
}

#[test]
fn rules_choose_their_cutoff_on_the_validation_probabilities() {
    let t = task();
    let (train, valid) = (
        t.generate(1000, 1).expect("data"),
        t.generate(400, 2).expect("data"),
    );
    for (name, base) in models(&train, &valid) {
        for (rule, criterion) in [
            (ThresholdRule::MaxF1, ThresholdCriterion::F1),
            (ThresholdRule::MaxAccuracy, ThresholdCriterion::Accuracy),
        ] {
            let mut model = base.clone();
            let choice = model.set_threshold(rule, &valid).expect("threshold");
            let p = model.proba_for(&valid).expect("p");
            let want = best_threshold(&p, valid.labels(), criterion).expect("best");
            assert_eq!(choice.confusion, want.confusion, "{name} {rule}");
            assert_eq!(choice.value, want.value, "{name} {rule}");
            assert!(
                want.threshold.is_finite(),
                "{name} {rule}: nothing positive"
            );
            assert_eq!(choice.threshold, want.threshold, "{name} {rule}");
            assert_eq!(model.threshold(), want.threshold, "{name} {rule}");
            let stored = model.decision().threshold().expect("stored");
            assert_eq!(stored.rule(), Some(rule));
            // predict on the same pairs gives exactly the rule's confusion counts.
            let class = model.predict_for(&valid).expect("class");
            let as_scores: Vec<f32> = class.iter().map(|&c| f32::from(u8::from(c))).collect();
            let c = confusion_at(&as_scores, valid.labels(), 1.0).expect("confusion");
            assert_eq!(c, choice.confusion, "{name} {rule}");
        }
    }
}

#[test]
fn target_precision_is_reached_on_the_pairs_it_was_chosen_on() {
    let t = task();
    let (train, valid) = (
        t.generate(1000, 1).expect("data"),
        t.generate(600, 2).expect("data"),
    );
    let mut model = PairClassifier::builder(train.dim(), Combiner::AbsDiff)
        .seed(1)
        .build()
        .expect("model");
    model
        .fit(&train, None, &TrainConfig::new().with_epochs(6))
        .expect("training");
    model
        .calibrate(CalibrationMethod::Platt, &valid)
        .expect("calibrate");
    let mut recalls = Vec::new();
    for target in [0.55, 0.7, 0.8, 0.9] {
        let rule = ThresholdRule::target_precision(target).expect("rule");
        let choice = model.set_threshold(rule, &valid).expect("reachable");
        let class = model.predict_for(&valid).expect("class");
        let (mut tp, mut fp) = (0u64, 0u64);
        for (&c, &l) in class.iter().zip(valid.labels()) {
            if c {
                tp += u64::from(l == 1.0);
                fp += u64::from(l == 0.0);
            }
        }
        let precision = tp as f64 / (tp + fp) as f64;
        assert!(
            precision >= target,
            "target {target}: precision {precision}"
        );
        assert_eq!((tp, fp), (choice.confusion.tp, choice.confusion.fp));
        assert_eq!(choice.value, precision);
        // Highest recall: every lower cut-off misses the target.
        let p = model.proba_for(&valid).expect("p");
        let lower = p
            .iter()
            .copied()
            .filter(|&q| q < choice.threshold)
            .fold(f32::NEG_INFINITY, f32::max);
        if lower.is_finite() {
            let c = confusion_at(&p, valid.labels(), lower).expect("confusion");
            assert!(
                c.precision() < target || c.tp == choice.confusion.tp,
                "target {target}"
            );
        }
        recalls.push(choice.confusion.recall());
    }
    // A stricter target never raises the recall, and the targets do bite.
    assert!(recalls.windows(2).all(|w| w[1] <= w[0]), "{recalls:?}");
    assert!(recalls[3] < recalls[0], "{recalls:?}");
}

/// Worked by hand. Cut-offs of `[0.9, 0.8, 0.8, 0.1]` with labels `[1, 1, 0, 0]`:
/// 0.9 gives TP 1 FP 0 (precision 1), 0.8 admits the tie: TP 2 FP 1 (2/3), 0.1 gives
/// TP 2 FP 2 (1/2).
#[test]
fn target_precision_takes_the_highest_recall_then_the_highest_cutoff() {
    let scores = [0.9f32, 0.8, 0.8, 0.1];
    let labels = [1.0f32, 1.0, 0.0, 0.0];
    let at = |target| threshold_for_precision(&scores, &labels, target).expect("reachable");
    let c = at(0.6);
    assert_eq!((c.threshold, c.confusion.tp, c.confusion.fp), (0.8, 2, 1));
    assert_eq!(c.value, 2.0 / 3.0);
    assert_eq!(at(0.7).threshold, 0.9); // 2/3 < 0.7
    assert_eq!(at(1.0).threshold, 0.9);
    // 0.1 reaches 1/2 too, with no more true positives than 0.8: 0.8 stays.
    assert_eq!(at(0.5).threshold, 0.8);
    // [0.9, 0.8] with labels [1, 0]: 0.8 reaches 1/2 with the same single TP; 0.9 wins.
    let c = threshold_for_precision(&[0.9, 0.8], &[1.0, 0.0], 0.5).expect("reachable");
    assert_eq!((c.threshold, c.value), (0.9, 1.0));
    for bad in [0.0, 1.5, f64::NAN] {
        assert!(matches!(
            threshold_for_precision(&scores, &labels, bad),
            Err(Error::InvalidConfig {
                field: "target_precision",
                ..
            })
        ));
    }
}

#[test]
fn an_unreachable_precision_is_a_typed_error_naming_the_target() {
    // Precision at each cut-off: 0/1, 1/2, 1/3. The best is 1/2.
    let err = threshold_for_precision(&[0.9, 0.8, 0.1], &[0.0, 1.0, 0.0], 0.6).unwrap_err();
    match err {
        Error::Unreachable { what, target, best } => {
            assert_eq!((what, target, best), ("precision", 0.6, 0.5));
        }
        other => panic!("{other}"),
    }
    assert!(
        threshold_for_precision(&[0.9, 0.8, 0.1], &[0.0, 1.0, 0.0], 0.5).is_ok(),
        "0.5 is reached at 0.8"
    );
    // Through a model: the same three pairs as logits x . y of a linear Dot head.
    let x = Array2::from_elem((3, 1), 1.0f32);
    let y = Array2::from_shape_vec((3, 1), vec![0.9f32, 0.8, 0.1]).expect("shape");
    let data = PairDataset::new(x, y, vec![0.0, 1.0, 0.0]).expect("data");
    let mut model = PairClassifier::builder(1, Combiner::Similarity(sympair::Similarity::Dot))
        .mlp_head(MlpConfig::linear())
        .build()
        .expect("model");
    model.set_parameters(&[1.0, 0.0]).expect("parameters");
    model.set_threshold_probability(0.7).expect("threshold");
    let before = model.clone();
    let rule = ThresholdRule::target_precision(0.99).expect("rule");
    let err = model.set_threshold(rule, &data).unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { target, .. } if target == 0.99),
        "{err}"
    );
    assert!(err.to_string().contains("0.99"), "{err}");
    assert_eq!(model, before, "a failed choice leaves the model unchanged");
}

#[test]
fn symmetric_models_stay_bitwise_symmetric_after_calibration() {
    let t = task();
    let (train, valid, test) = (
        t.generate(1000, 1).expect("data"),
        t.generate(300, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    let swapped = test.swapped();
    for (name, model) in models(&train, &valid) {
        if !model.is_symmetric() {
            continue;
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let p = model.predict_proba(test.left(), test.right()).expect("p");
        let q = model.predict_proba(test.right(), test.left()).expect("p");
        assert_eq!(
            bits(p.as_slice().expect("slice")),
            bits(q.as_slice().expect("slice")),
            "{name}"
        );
        assert_eq!(
            bits(&model.proba_for(&test).expect("p")),
            bits(&model.proba_for(&swapped).expect("p")),
            "{name}"
        );
        assert_eq!(
            model.predict(test.left(), test.right()).expect("c"),
            model.predict(test.right(), test.left()).expect("c"),
            "{name}"
        );
        for i in 0..20 {
            let (x, y) = (test.left().row(i).to_vec(), test.right().row(i).to_vec());
            assert_eq!(
                model.predict_pair(&x, &y).expect("p").to_bits(),
                model.predict_pair(&y, &x).expect("p").to_bits(),
                "{name}"
            );
        }
    }
}

#[test]
fn save_and_load_keep_threshold_and_calibration_bitwise() {
    let t = task();
    let (train, valid, test) = (
        t.generate(1000, 1).expect("data"),
        t.generate(300, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for (k, (name, model)) in models(&train, &valid).into_iter().enumerate() {
        let path = dir.path().join(format!("m{k}.json"));
        model.save(&path).expect("save");
        let back = PairClassifier::<Combiner>::load(&path).expect("load");
        assert_eq!(back, model, "{name}");
        let (a, b) = (model.decision(), back.decision());
        assert_eq!(
            a.threshold().map(|t| t.probability().to_bits()),
            b.threshold().map(|t| t.probability().to_bits()),
            "{name}"
        );
        let params = |c: Option<&Calibration>| {
            c.map(|c| {
                let (a, b) = c.platt_params().unwrap_or((0.0, 0.0));
                let t = c.temperature_param().unwrap_or(0.0);
                (a.to_bits(), b.to_bits(), t.to_bits())
            })
        };
        assert_eq!(params(a.calibration()), params(b.calibration()), "{name}");
        let bits = |m: &PairClassifier| {
            m.proba_for(&test)
                .expect("p")
                .iter()
                .map(|p| p.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&back), bits(&model), "{name}");
        assert_eq!(
            back.predict_for(&test).expect("c"),
            model.predict_for(&test).expect("c")
        );
        assert_eq!(
            back.to_json_bytes().expect("json"),
            model.to_json_bytes().expect("json")
        );
    }
}

#[test]
fn files_without_a_decision_load_and_are_written_as_before() {
    let data = task().generate(50, 3).expect("data");
    let model = PairClassifier::builder(data.dim(), Combiner::AbsDiff)
        .seed(9)
        .build()
        .expect("model");
    let bytes = model.to_json_bytes().expect("json");
    let text = String::from_utf8(bytes.clone()).expect("utf8");
    assert!(
        !text.contains("decision"),
        "an empty decision is not written"
    );
    // A format-1 model object as written before this field existed: the same keys.
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let keys: Vec<&String> = v["model"].as_object().expect("object").keys().collect();
    assert_eq!(keys, ["combiner", "encoder", "head", "input_dim"]); // sorted by serde_json
    let back = PairClassifier::<Combiner>::from_json_bytes(&bytes).expect("load");
    assert!(back.decision().is_empty());
    assert_eq!(back.threshold(), 0.5);
    assert_eq!(back, model);
    // Plain serde, without the envelope, too.
    let plain: PairClassifier = serde_json::from_value(v["model"].clone()).expect("serde");
    assert_eq!(plain, model);
}

/// The model JSON of a calibrated model with a threshold, with `edit` applied to its
/// `"decision"` object.
fn edited(edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let data = task().generate(60, 3).expect("data");
    let mut model = PairClassifier::builder(data.dim(), Combiner::AbsDiff)
        .seed(9)
        .build()
        .expect("model");
    model.set_calibration(Some(Calibration::platt(1.5, -0.25).expect("platt")));
    model.set_threshold_probability(0.4).expect("threshold");
    let mut v: serde_json::Value =
        serde_json::from_slice(&model.to_json_bytes().expect("json")).expect("json");
    edit(&mut v["model"]["decision"]);
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn invalid_decisions_in_files_are_typed_errors_on_every_path() {
    let cases = invalid_decision_edits();
    for (name, edit) in cases {
        let bytes = edited(edit);
        match PairClassifier::<Combiner>::from_json_bytes(&bytes) {
            Err(Error::Format(msg)) => assert!(!msg.is_empty(), "{name}"),
            Err(other) => panic!("{name}: {other}"),
            Ok(m) => panic!("{name}: loaded {:?}", m.decision()),
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert!(
            serde_json::from_value::<PairClassifier>(v["model"].clone()).is_err(),
            "{name}: plain serde accepted it"
        );
    }
    // The unedited file loads, and the edits above are the only thing wrong.
    let ok = PairClassifier::<Combiner>::from_json_bytes(&edited(|_| {})).expect("valid file");
    assert_eq!(ok.threshold(), 0.4);
    assert_eq!(
        ok.calibration().and_then(|c| c.platt_params()),
        Some((1.5, -0.25))
    );
    let valid_edit = PairClassifier::<Combiner>::from_json_bytes(&edited(|d| {
        d["calibration"] = serde_json::json!({"temperature": {"t": 2.0}});
        d["threshold"]["rule"] = serde_json::json!({"target_precision": 0.9});
    }))
    .expect("valid edit");
    assert_eq!(
        valid_edit.calibration().and_then(|c| c.temperature_param()),
        Some(2.0)
    );
}

#[test]
fn invalid_rules_thresholds_and_calibrations_are_refused() {
    for p in [0.0, -0.1, 1.0000001, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                ThresholdRule::target_precision(p),
                Err(Error::InvalidConfig {
                    field: "target_precision",
                    ..
                })
            ),
            "{p}"
        );
    }
    assert!(ThresholdRule::target_precision(1.0).is_ok());
    let mut model = PairClassifier::builder(2, Combiner::Sum)
        .build()
        .expect("model");
    for p in [0.0f32, -0.5, 1.5, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(
                model.set_threshold_probability(p),
                Err(Error::InvalidConfig {
                    field: "threshold",
                    ..
                })
            ),
            "{p}"
        );
    }
    assert!(
        model.decision().is_empty(),
        "a refused threshold is not stored"
    );
    for (a, b) in [
        (0.0f32, 0.0f32),
        (-1.0, 0.0),
        (f32::NAN, 0.0),
        (1.0, f32::INFINITY),
    ] {
        assert!(
            matches!(Calibration::platt(a, b), Err(Error::InvalidConfig { .. })),
            "{a} {b}"
        );
    }
    for t in [0.0f32, -1.0, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(
                Calibration::temperature(t),
                Err(Error::InvalidConfig { .. })
            ),
            "{t}"
        );
    }
}

#[test]
fn calibration_needs_both_classes_and_logits_that_rank() {
    let t = task();
    let (train, valid) = (
        t.generate(1000, 1).expect("data"),
        t.generate(300, 2).expect("data"),
    );
    let mut model = PairClassifier::builder(train.dim(), Combiner::AbsDiff)
        .seed(1)
        .build()
        .expect("model");
    model
        .fit(&train, None, &TrainConfig::new().with_epochs(6))
        .expect("training");
    model.set_threshold_probability(0.3).expect("threshold");
    let before = model.clone();
    // Labels flipped: the model ranks these pairs backwards.
    let flipped: Vec<f32> = valid.labels().iter().map(|&l| 1.0 - l).collect();
    let backwards =
        PairDataset::new(valid.left().to_owned(), valid.right().to_owned(), flipped).expect("data");
    let ones = PairDataset::new(
        valid.left().to_owned(),
        valid.right().to_owned(),
        vec![1.0; valid.len()],
    )
    .expect("data");
    for method in [CalibrationMethod::Platt, CalibrationMethod::Temperature] {
        for (what, data) in [("backwards", &backwards), ("one class", &ones)] {
            let err = model.calibrate(method, data).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Undefined {
                        metric: "calibration",
                        ..
                    }
                ),
                "{method} {what}: {err}"
            );
            assert_eq!(model, before, "{method} {what}: model changed");
        }
    }
    // Max F1 without positives is undefined too.
    let zeros = PairDataset::new(
        valid.left().to_owned(),
        valid.right().to_owned(),
        vec![0.0; valid.len()],
    )
    .expect("data");
    assert!(matches!(
        model.set_threshold(ThresholdRule::MaxF1, &zeros),
        Err(Error::Undefined { .. })
    ));
    // Wrong width.
    let narrow = ClusterTask::new(3, 2)
        .expect("task")
        .generate(10, 1)
        .expect("data");
    assert!(matches!(
        model.calibrate(CalibrationMethod::Platt, &narrow),
        Err(Error::WidthMismatch { .. })
    ));
}

#[test]
fn calibrating_again_removes_the_threshold_chosen_on_the_old_scale() {
    let t = task();
    let (train, valid) = (
        t.generate(1000, 1).expect("data"),
        t.generate(300, 2).expect("data"),
    );
    let mut model = PairClassifier::builder(train.dim(), Combiner::AbsDiff)
        .seed(1)
        .build()
        .expect("model");
    model
        .fit(&train, None, &TrainConfig::new().with_epochs(6))
        .expect("training");
    model
        .set_threshold(ThresholdRule::MaxF1, &valid)
        .expect("threshold");
    assert!(model.decision().threshold().is_some());
    model
        .calibrate(CalibrationMethod::Temperature, &valid)
        .expect("calibrate");
    assert!(model.decision().threshold().is_none());
    assert_eq!(model.threshold(), 0.5);
    model
        .set_threshold(ThresholdRule::MaxF1, &valid)
        .expect("threshold");
    model.set_calibration(None);
    assert!(model.decision().is_empty());
}

/// On negatives only, max accuracy predicts nothing positive (the `+inf` cut-off); the
/// stored threshold is then the next `f32` above the highest probability, so `predict`
/// on those pairs agrees with the rule.
#[test]
fn predicting_nothing_positive_is_stored_just_above_the_highest_probability() {
    let data = task().generate(200, 2).expect("data");
    let zeros = PairDataset::new(
        data.left().to_owned(),
        data.right().to_owned(),
        vec![0.0; data.len()],
    )
    .expect("data");
    let mut model = PairClassifier::builder(data.dim(), Combiner::AbsDiff)
        .seed(5)
        .build()
        .expect("model");
    let choice = model
        .set_threshold(ThresholdRule::MaxAccuracy, &zeros)
        .expect("threshold");
    assert_eq!((choice.confusion.tp, choice.confusion.fp), (0, 0));
    assert_eq!(choice.value, 1.0);
    let top = model
        .proba_for(&zeros)
        .expect("p")
        .into_iter()
        .fold(0.0f32, f32::max);
    assert!(top < 1.0);
    assert_eq!(model.threshold(), f32::from_bits(top.to_bits() + 1));
    assert_eq!(choice.threshold, model.threshold());
    assert!(
        model
            .predict_for(&zeros)
            .expect("class")
            .iter()
            .all(|&c| !c)
    );
}

/// Scoring by item id gives the model's (calibrated) probabilities, as `predict_proba`.
#[test]
fn id_scoring_gives_calibrated_probabilities() {
    let t = task();
    let (train, valid) = (
        t.generate(1000, 1).expect("data"),
        t.generate(300, 2).expect("data"),
    );
    let mut model = PairClassifier::builder(train.dim(), Combiner::AbsDiff)
        .seed(1)
        .build()
        .expect("model");
    model
        .fit(&train, None, &TrainConfig::new().with_epochs(3))
        .expect("training");
    model
        .calibrate(CalibrationMethod::Platt, &valid)
        .expect("calibrate");
    let items = valid.left().slice(ndarray::s![..20, ..]).to_owned();
    let pairs: Vec<(usize, usize)> = (0..20).map(|i| (i, (i * 7 + 3) % 20)).collect();
    let scorer = sympair::IdScorer::new(&model, items.view()).expect("scorer");
    let p = scorer.probabilities(&pairs).expect("p");
    let (x, y): (Vec<usize>, Vec<usize>) = pairs.iter().copied().unzip();
    let want = model
        .predict_proba(
            items.select(ndarray::Axis(0), &x).view(),
            items.select(ndarray::Axis(0), &y).view(),
        )
        .expect("p");
    assert_eq!(p, want.to_vec());
    let raw: Vec<f32> = scorer
        .logits(&pairs)
        .expect("z")
        .into_iter()
        .map(sympair::sigmoid)
        .collect();
    assert_ne!(p, raw, "the calibration is applied");
    let mut csv = Vec::new();
    scorer
        .write_csv(pairs.iter().copied(), &mut csv)
        .expect("csv");
    let text = String::from_utf8(csv).expect("utf8");
    let written: Vec<f32> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().expect("field").parse().expect("f32"))
        .collect();
    assert_eq!(written, p);
}
