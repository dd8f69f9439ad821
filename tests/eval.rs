//! Tests for `sympair::eval`: every field of an [`Evaluation`] is the metrics function
//! of the same name applied to `logits_for`; a hand-worked case through a model whose
//! logits are known exactly; the asymmetry report (exactly 0 for symmetric models,
//! positive for `Concat`, equal to a brute-force computation on a swapped copy); and the
//! printed tables.

use ndarray::{Array2, array};
use sympair::metrics::{
    ThresholdCriterion, average_precision, best_threshold, brier_score_from_logits, confusion_at,
    log_loss_from_logits, reliability_from_logits, roc_auc,
};
use sympair::{
    CalibrationMethod, ClusterTask, Combiner, EncoderConfig, Error, EvalTable, Evaluation,
    HeadConfig, MlpConfig, PairClassifier, PairCombiner, PairData, PairDataset, Similarity, Stack,
    ThresholdRule, TrainConfig, asymmetry, evaluate, sigmoid,
};

fn task() -> ClusterTask {
    ClusterTask::new(6, 4)
        .and_then(|t| t.with_noise(0.8))
        .expect("valid task")
}

fn trained<C: PairCombiner>(combiner: C, data: &PairDataset) -> PairClassifier<C> {
    let mut model = PairClassifier::builder(data.dim(), combiner)
        .seed(5)
        .build()
        .expect("model builds");
    model
        .fit(data, None, &TrainConfig::new().with_epochs(3).with_seed(1))
        .expect("training runs");
    model
}

/// Asserts every field of `eval` against the metrics functions on `model.logits_for`.
fn assert_matches_metrics<C: PairCombiner>(
    model: &PairClassifier<C>,
    data: &PairDataset,
    eval: &Evaluation,
) {
    let logits = model.logits_for(data).expect("logits");
    let labels = data.labels();
    assert_eq!(eval.n, data.len());
    assert_eq!(eval.positives, labels.iter().filter(|&&t| t == 1.0).count());
    assert_eq!(eval.roc_auc, Some(roc_auc(&logits, labels).expect("auc")));
    assert_eq!(
        eval.average_precision,
        Some(average_precision(&logits, labels).expect("ap"))
    );
    assert_eq!(
        eval.log_loss,
        log_loss_from_logits(&logits, labels).expect("log loss")
    );
    let c = confusion_at(&logits, labels, 0.0).expect("confusion");
    assert_eq!(eval.confusion, c);
    assert_eq!(eval.accuracy, c.accuracy());
    assert_eq!(eval.precision, c.precision());
    assert_eq!(eval.recall, c.recall());
    assert_eq!(eval.f1, c.f1());
    assert_eq!(eval.mcc, c.mcc());
    for (report, criterion) in [
        (&eval.best_accuracy, ThresholdCriterion::Accuracy),
        (&eval.best_f1, ThresholdCriterion::F1),
    ] {
        let want = best_threshold(&logits, labels, criterion).expect("threshold");
        assert_eq!(report.logit_threshold, want.threshold);
        assert_eq!(report.probability, sigmoid(want.threshold));
        assert_eq!(report.value, want.value);
        assert_eq!(report.confusion, want.confusion);
    }
    assert_eq!(
        eval.brier,
        brier_score_from_logits(&logits, labels).expect("brier")
    );
    assert_eq!(
        eval.reliability,
        reliability_from_logits(&logits, labels, 10).expect("reliability")
    );
    assert_eq!((eval.calibration, eval.at_threshold), (None, None));
}

#[test]
fn evaluation_equals_metrics_on_logits_for() {
    let t = task();
    let (train, test) = (
        t.generate(300, 1).expect("data"),
        t.generate(200, 2).expect("data"),
    );
    let sym = trained(Combiner::AbsDiff, &train);
    assert_matches_metrics(&sym, &test, &evaluate(&sym, &test).expect("eval"));
    let asym = trained(Combiner::Concat, &train);
    assert_matches_metrics(&asym, &test, &evaluate(&asym, &test).expect("eval"));
}

/// `Similarity::Dot` with a linear head of weight 1 and bias 0 has `logit = x . y`, exact
/// in f32 for `x = 1` and `d = 1`. So the logits are the scores of the five-row example
/// of the metrics module, and every value can be worked out by hand:
///
/// | logit | 0.9 | 0.8 | 0.4 | 0.4 | 0.1 |
/// |-------|-----|-----|-----|-----|-----|
/// | label |  1  |  0  |  1  |  0  |  0  |
#[test]
fn evaluation_of_known_logits_by_hand() {
    let scores = [0.4f32, 0.9, 0.1, 0.8, 0.4];
    let labels = vec![1.0f32, 1.0, 0.0, 0.0, 0.0];
    let x = Array2::from_elem((5, 1), 1.0f32);
    let y = Array2::from_shape_vec((5, 1), scores.to_vec()).expect("shape");
    let data = PairDataset::new(x, y, labels).expect("data");
    let mut model = PairClassifier::builder(1, Combiner::Similarity(Similarity::Dot))
        .mlp_head(MlpConfig::linear())
        .build()
        .expect("model");
    model.set_parameters(&[1.0, 0.0]).expect("parameters");
    assert_eq!(model.logits_for(&data).expect("logits"), scores);

    let e = evaluate(&model, &data).expect("eval");
    assert_eq!((e.n, e.positives), (5, 2));
    // AUC: the positive at 0.9 beats 3 negatives, the one at 0.4 beats 1 and ties 1:
    // (3 + 1.5) / (2 * 3).
    assert!((e.roc_auc.expect("defined") - 4.5 / 6.0).abs() < 1e-12);
    // AP: steps at 0.9 (R 1/2, P 1) and at {0.4, 0.4} (R 2/2, P 2/4): 0.5 + 0.25.
    assert!((e.average_precision.expect("defined") - 0.75).abs() < 1e-12);
    // Log loss: sum of softplus(-z) over positives and softplus(z) over negatives, / 5.
    let sp = |z: f64| (1.0 + z.exp()).ln();
    let want = (sp(-0.9) + sp(-0.4) + sp(0.8) + sp(0.4) + sp(0.1)) / 5.0;
    assert!((e.log_loss - want).abs() < 1e-6);
    // At logit 0 every pair is predicted positive: TP 2, FP 3.
    assert_eq!((e.confusion.tp, e.confusion.fp), (2, 3));
    assert_eq!((e.accuracy, e.precision, e.recall), (0.4, 0.4, 1.0));
    assert!((e.f1 - 4.0 / 7.0).abs() < 1e-12); // 2 TP / (2 TP + FP + FN) = 4 / 7
    assert_eq!(e.mcc, 0.0); // TN + FN = 0: an empty margin
    // Best accuracy 4/5 at logit 0.9 (only the top pair positive).
    assert_eq!(e.best_accuracy.logit_threshold, 0.9);
    assert_eq!(e.best_accuracy.probability, sigmoid(0.9));
    assert!((e.best_accuracy.value - 0.8).abs() < 1e-12);
    // F1: 2/3 at 0.9, 1/2 at 0.8, 2/3 at 0.4 (TP 2, FP 2), 4/7 at 0.1; the highest
    // threshold wins the tie.
    assert_eq!(e.best_f1.logit_threshold, 0.9);
    assert!((e.best_f1.value - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!((e.asymmetry.mean, e.asymmetry.max), (0.0, 0.0));
}

/// `Concat` with a linear head `(1, 0)` and bias 0 has `logit(x, y) = x`, so the
/// asymmetry of each pair is `|x - y|`.
#[test]
fn asymmetry_of_known_logits_by_hand() {
    let x = array![[1.0f32], [2.0], [-1.0]];
    let y = array![[1.0f32], [-2.0], [1.5]];
    let data = PairDataset::new(x, y, vec![1.0, 0.0, 1.0]).expect("data");
    let mut model = PairClassifier::builder(1, Combiner::Concat)
        .mlp_head(MlpConfig::linear())
        .build()
        .expect("model");
    model.set_parameters(&[1.0, 0.0, 0.0]).expect("parameters");
    let report = asymmetry(&model, &data).expect("asymmetry");
    // |1 - 1| = 0, |2 - (-2)| = 4, |-1 - 1.5| = 2.5.
    assert_eq!(report.max, 4.0);
    assert!((report.mean - 6.5 / 3.0).abs() < 1e-12);
    assert_eq!(evaluate(&model, &data).expect("eval").asymmetry, report);
}

/// Symmetric models of every kind, untrained (seeded).
fn symmetric_models(d: usize) -> Vec<PairClassifier> {
    let enc = || EncoderConfig::new(MlpConfig::new([5]).expect("mlp"), 4).expect("encoder");
    let stack = || {
        Combiner::Stack(
            Stack::new(vec![Combiner::Sum, Combiner::Product, Combiner::AbsDiff]).expect("stack"),
        )
    };
    let mut out = Vec::new();
    let mut combiners: Vec<Combiner> = Combiner::builtins()
        .into_iter()
        .filter(|c| c.is_symmetric())
        .collect();
    combiners.push(stack());
    for c in combiners {
        for with_encoder in [false, true] {
            let mut b = PairClassifier::builder(d, c.clone()).seed(11);
            if with_encoder {
                b = b.encoder(enc());
            }
            out.push(b.build().expect("model"));
        }
    }
    for s in [
        Similarity::Cosine,
        Similarity::Dot,
        Similarity::NegL1,
        Similarity::NegSquaredL2,
    ] {
        out.push(
            PairClassifier::builder(d, Combiner::Similarity(s))
                .mlp_head(MlpConfig::linear())
                .build()
                .expect("model"),
        );
    }
    out.push(
        PairClassifier::builder(d, Combiner::SquaredDiff)
            .encoder(enc())
            .head(HeadConfig::Distance { learn_scale: true })
            .build()
            .expect("model"),
    );
    out
}

#[test]
fn asymmetry_is_exactly_zero_for_symmetric_models() {
    // 600 pairs: more than two prediction chunks, so chunk boundaries are crossed too.
    let data = task().generate(600, 3).expect("data");
    for model in symmetric_models(data.dim()) {
        let name = model.combiner().name();
        let report = asymmetry(&model, &data).expect("asymmetry");
        assert_eq!((report.mean, report.max), (0.0, 0.0), "{name}");
        let eval = evaluate(&model, &data).expect("eval");
        assert_eq!(eval.asymmetry, report, "{name}");
    }
}

#[test]
fn asymmetry_is_exactly_zero_after_training() {
    let t = task();
    let (train, test) = (
        t.generate(200, 1).expect("data"),
        t.generate(300, 2).expect("data"),
    );
    for mut model in symmetric_models(train.dim()) {
        model
            .fit(&train, None, &TrainConfig::new().with_epochs(2))
            .expect("training runs");
        let report = asymmetry(&model, &test).expect("asymmetry");
        assert_eq!(report.max, 0.0, "{}", model.combiner().name());
    }
}

#[test]
fn asymmetry_is_positive_for_untrained_concat_and_matches_swapped_copy() {
    let data = task().generate(600, 3).expect("data");
    let model = PairClassifier::builder(data.dim(), Combiner::Concat)
        .seed(2)
        .build()
        .expect("model");
    let report = asymmetry(&model, &data).expect("asymmetry");
    assert!(report.max > 0.0 && report.mean > 0.0, "{report:?}");
    assert!(report.mean <= report.max);

    // Brute force on an explicitly swapped copy: same logits, same report, bit for bit.
    let fwd = model.logits_for(&data).expect("logits");
    let bwd = model.logits_for(&data.swapped()).expect("logits");
    let diffs: Vec<f64> = fwd
        .iter()
        .zip(&bwd)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .collect();
    let max = diffs.iter().copied().fold(0.0, f64::max);
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    assert_eq!(report.max, max);
    assert_eq!(report.mean, mean);
}

#[test]
fn one_class_data_gives_undefined_ranking_metrics_not_an_error() {
    let all_negative = PairDataset::new(
        array![[0.0f32, 1.0], [1.0, 0.0]],
        array![[1.0f32, 1.0], [0.5, 0.5]],
        vec![0.0, 0.0],
    )
    .expect("data");
    let model = PairClassifier::builder(2, Combiner::Sum)
        .build()
        .expect("model");
    let e = evaluate(&model, &all_negative).expect("eval");
    assert_eq!(
        (e.roc_auc, e.average_precision, e.positives),
        (None, None, 0)
    );
    assert!(e.to_string().contains("n/a"));
    let mut table = EvalTable::new();
    table.push("sum", e, 0.0);
    assert!(table.to_string().contains("n/a"));
}

#[test]
fn wrong_width_is_an_error() {
    let data = task().generate(10, 1).expect("data");
    let model = PairClassifier::builder(data.dim() + 1, Combiner::Sum)
        .build()
        .expect("model");
    assert!(matches!(
        evaluate(&model, &data),
        Err(Error::WidthMismatch { .. })
    ));
    assert!(matches!(
        asymmetry(&model, &data),
        Err(Error::WidthMismatch { .. })
    ));
}

#[test]
fn display_shows_every_number() {
    let t = task();
    let (train, test) = (
        t.generate(300, 1).expect("data"),
        t.generate(200, 2).expect("data"),
    );
    let model = trained(Combiner::Concat, &train);
    let e = evaluate(&model, &test).expect("eval");
    let text = e.to_string();
    let f4 = |v: f64| format!("{v:.4}");
    for want in [
        format!("{} ({} positive)", e.n, e.positives),
        f4(e.roc_auc.expect("defined")),
        f4(e.average_precision.expect("defined")),
        f4(e.log_loss),
        f4(e.accuracy),
        f4(e.precision),
        f4(e.recall),
        f4(e.f1),
        f4(e.mcc),
        f4(e.best_accuracy.value),
        format!("{:.4}", e.best_accuracy.probability),
        format!("{:.4}", e.best_accuracy.logit_threshold),
        f4(e.best_f1.value),
        format!("{:.4}", e.best_f1.probability),
        format!("{:.3e}", e.asymmetry.mean),
        format!("{:.3e}", e.asymmetry.max),
        f4(e.brier),
        f4(e.reliability.ece),
        "none (sigmoid of the raw logit)".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} missing from\n{text}");
    }

    let sym = trained(Combiner::Product, &train);
    let es = evaluate(&sym, &test).expect("eval");
    assert!(es.to_string().contains("mean 0, max 0"), "{es}");

    let mut table = EvalTable::new();
    table.push("concat", e.clone(), 1.25);
    table.push("a much longer model name", es.clone(), 0.5);
    assert_eq!(table.len(), 2);
    let text = table.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for h in [
        "ROC AUC",
        "AP",
        "best F1",
        "acc@best-acc",
        "ECE",
        "max asym",
        "train s",
    ] {
        assert!(lines[0].contains(h), "header lacks {h}: {}", lines[0]);
    }
    for (line, (name, ev, secs)) in lines[1..].iter().zip([
        ("concat", &e, "1.25"),
        ("a much longer model name", &es, "0.50"),
    ]) {
        assert!(line.starts_with(name), "{line}");
        for want in [
            f4(ev.roc_auc.expect("defined")),
            f4(ev.average_precision.expect("defined")),
            f4(ev.best_f1.value),
            f4(ev.best_accuracy.value),
            f4(ev.reliability.ece),
            secs.to_owned(),
        ] {
            assert!(line.contains(&want), "{want:?} missing from {line:?}");
        }
    }
    assert!(lines[1].contains(&format!("{:.3e}", e.asymmetry.max)));
    // The symmetric row prints its asymmetry as a plain 0.
    assert!(
        lines[2].split_whitespace().any(|w| w == "0"),
        "{}",
        lines[2]
    );
    // Columns line up: every line has the same width.
    assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{text}");
}

/// With a calibration and a threshold, every number is taken on the calibrated logits
/// (what `predict_proba` sees), the asymmetry on the raw ones, and the decision at the
/// model's threshold is what `predict_for` gives.
#[test]
fn evaluation_of_a_calibrated_model_is_taken_on_its_probabilities() {
    let t = task();
    let (train, valid, test) = (
        t.generate(300, 1).expect("data"),
        t.generate(200, 2).expect("data"),
        t.generate(200, 3).expect("data"),
    );
    for combiner in [Combiner::AbsDiff, Combiner::Concat] {
        let mut model = trained(combiner, &train);
        let cal = model
            .calibrate(CalibrationMethod::Platt, &valid)
            .expect("calibrate");
        model
            .set_threshold(ThresholdRule::MaxF1, &valid)
            .expect("threshold");
        let e = evaluate(&model, &test).expect("eval");
        let raw = model.logits_for(&test).expect("logits");
        let z: Vec<f32> = raw.iter().map(|&v| cal.logit(v)).collect();
        assert_ne!(z, raw, "the calibration changes the logits");
        let labels = test.labels();
        assert_eq!(e.calibration, Some(cal));
        assert_eq!(e.log_loss, log_loss_from_logits(&z, labels).expect("ll"));
        assert_eq!(e.roc_auc, Some(roc_auc(&z, labels).expect("auc")));
        assert_eq!(e.confusion, confusion_at(&z, labels, 0.0).expect("c"));
        assert_eq!(e.brier, brier_score_from_logits(&z, labels).expect("b"));
        assert_eq!(
            e.reliability,
            reliability_from_logits(&z, labels, 10).expect("r")
        );
        let want = best_threshold(&z, labels, ThresholdCriterion::F1).expect("best");
        assert_eq!(e.best_f1.logit_threshold, want.threshold);
        assert_eq!(e.asymmetry, asymmetry(&model, &test).expect("asymmetry"));

        let d = e.at_threshold.expect("the model has a threshold");
        assert_eq!(d.probability, model.threshold());
        assert_eq!(d.rule, Some(ThresholdRule::MaxF1));
        let class = model.predict_for(&test).expect("class");
        let as_scores: Vec<f32> = class.iter().map(|&c| f32::from(u8::from(c))).collect();
        assert_eq!(
            d.confusion,
            confusion_at(&as_scores, labels, 1.0).expect("c")
        );

        let text = e.to_string();
        for want in [
            "calibration ".to_owned(),
            cal.to_string(),
            format!("{:.4}", e.brier),
            format!("{:.4} (10 bins)", e.reliability.ece),
            format!("threshold p >= {:.4} (max F1)", d.probability),
            format!("{:.4}", d.confusion.precision()),
        ] {
            assert!(text.contains(&want), "{want:?} missing from\n{text}");
        }
        // One line per non-empty bin, each with its mean, frequency and count.
        for b in &e.reliability.bins {
            let row = format!(
                "{:.2}]{:<8} {:>8.4}  {:>8.4}  {:>8}",
                b.upper, "", b.mean_predicted, b.observed, b.count
            );
            assert!(text.contains(&row), "{row:?} missing from\n{text}");
        }
    }
}

/// `evaluate` on item-indexed pairs that outnumber the items (so `logits_for` scores them
/// per item) still reports a symmetric model's asymmetry as exactly 0: both orders must go
/// the same way, not one per item and one through the pair path (which differ by rounding).
#[test]
fn evaluate_on_item_pairs_reports_zero_asymmetry_for_symmetric_models() {
    let items = Array2::from_shape_fn((40, 6), |(i, j)| ((i * 31 + j * 17) as f32 * 0.37).sin());
    let pairs: Vec<(usize, usize, f32)> = (0..40)
        .flat_map(|i| (i + 1..40).map(move |j| (i, j, ((i + j) % 2) as f32)))
        .collect();
    let data = sympair::ItemPairs::new(items, pairs).unwrap();
    for combiner in [
        Combiner::ConcatSwapAverage,
        Combiner::Sum,
        Combiner::AbsDiff,
    ] {
        let model = PairClassifier::builder(6, combiner.clone())
            .seed(4)
            .build()
            .unwrap();
        let report = evaluate(&model, &data).unwrap();
        assert_eq!(report.asymmetry.max, 0.0, "{combiner:?}");
    }
    // Concat is order-dependent, and the report still says so.
    let model = PairClassifier::builder(6, Combiner::Concat)
        .seed(4)
        .build()
        .unwrap();
    assert!(evaluate(&model, &data).unwrap().asymmetry.max > 0.0);
}
