//! The decision layer of a seed ensemble (`select::Ensemble`): calibration of the averaged
//! raw logit, a stored threshold, classes, evaluation, and the ensemble file that keeps
//! them, the same calls and rules as a single model's (`tests/decision.rs`).
//!
//! `tests/data/ensemble_v1_abs_diff.json` was written by `Ensemble::save` before
//! ensembles had a decision (commit "tests/data: an ensemble file written before
//! ensembles had a decision"), with two `AbsDiff` members of width 4 (hidden layer of 3,
//! seeds 0 and 1, two epochs on `ClusterTask::new(4, 3)?.generate(200, 1)`).

mod common;

use common::decision_edits::invalid_decision_edits;
use std::path::PathBuf;

use ndarray::{Array2, array};
use sympair::calibration::Calibration;
use sympair::metrics::confusion_at;
use sympair::select::Ensemble;
use sympair::{
    CalibrationMethod, ClusterTask, Combiner, Error, ItemPairs, PairClassifier, PairData,
    PairDataset, ThresholdRule, TrainConfig, evaluate,
};

fn task() -> ClusterTask {
    ClusterTask::new(16, 6)
        .and_then(|t| t.with_noise(0.7))
        .expect("valid task")
}

/// `k` members with `combiner`, trained on `train` with seeds 0..k.
fn trained(train: &dyn PairData, combiner: Combiner, k: u64) -> Vec<PairClassifier> {
    (0..k)
        .map(|s| {
            let mut m = PairClassifier::builder(train.dim(), combiner.clone())
                .seed(s)
                .build()
                .expect("model");
            m.fit(train, None, &TrainConfig::new().with_epochs(4).with_seed(s))
                .expect("training");
            m
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|p| p.to_bits()).collect()
}

#[test]
fn calibrated_proba_is_the_calibration_of_the_mean_raw_logit_bitwise() {
    let t = task();
    let (train, valid, test) = (
        t.generate(600, 1).expect("data"),
        t.generate(400, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    let mut members = trained(&train, Combiner::AbsDiff, 3);
    // A member's own calibration does not enter the ensemble: the average is of raw logits.
    members[1].set_calibration(Some(Calibration::platt(3.0, -2.0).expect("platt")));
    let raw = Ensemble::new(members).expect("ensemble");
    for method in [CalibrationMethod::Platt, CalibrationMethod::Temperature] {
        let mut ens = raw.clone();
        let cal = ens.calibrate(method, &valid).expect("calibrate");
        assert_eq!(ens.calibration(), Some(&cal));
        // Fitted on the mean raw logits of the validation pairs.
        let zv = raw.logits_for(&valid).expect("z");
        assert_eq!(
            cal,
            Calibration::fit(method, &zv, valid.labels()).expect("fit")
        );
        // The logits stay raw; the probabilities are the calibration of the mean logit.
        let z = ens.predict_logits(test.left(), test.right()).expect("z");
        assert_eq!(z, raw.predict_logits(test.left(), test.right()).expect("z"));
        let want: Vec<f32> = z.iter().map(|&z| cal.proba(z)).collect();
        let p = ens.predict_proba(test.left(), test.right()).expect("p");
        assert_eq!(
            bits(p.as_slice().expect("contiguous")),
            bits(&want),
            "{method}"
        );
        assert_eq!(
            bits(&ens.proba_for(&test).expect("p")),
            bits(&want),
            "{method}"
        );
        assert_ne!(
            p,
            raw.predict_proba(test.left(), test.right()).expect("p"),
            "{method}: calibration changed nothing"
        );
    }
}

#[test]
fn predict_is_proba_at_least_the_threshold() {
    let t = task();
    let (train, valid, test) = (
        t.generate(600, 1).expect("data"),
        t.generate(400, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    let raw = Ensemble::new(trained(&train, Combiner::ConcatSwapAverage, 2)).expect("ensemble");
    assert_eq!(raw.threshold(), 0.5, "no threshold: one half");
    let mut calibrated = raw.clone();
    calibrated
        .calibrate(CalibrationMethod::Platt, &valid)
        .expect("calibrate");
    for base in [raw, calibrated] {
        for rule in [
            ThresholdRule::MaxF1,
            ThresholdRule::MaxAccuracy,
            ThresholdRule::target_precision(0.8).expect("target"),
        ] {
            let mut ens = base.clone();
            let choice = ens.set_threshold(rule, &valid).expect("threshold");
            assert_eq!(ens.threshold(), choice.threshold, "{rule}");
            assert_eq!(
                ens.decision().threshold().and_then(|t| t.rule()),
                Some(rule)
            );
            // On the pairs it was chosen on, `predict` gives the rule's confusion counts.
            let pv = ens.proba_for(&valid).expect("p");
            let cv = ens.predict_for(&valid).expect("c");
            let tp = cv
                .iter()
                .zip(valid.labels())
                .filter(|&(&c, &l)| c && l == 1.0)
                .count();
            let fp = cv
                .iter()
                .zip(valid.labels())
                .filter(|&(&c, &l)| c && l == 0.0)
                .count();
            assert_eq!(
                (tp as u64, fp as u64),
                (choice.confusion.tp, choice.confusion.fp),
                "{rule}"
            );
            assert!(
                pv.iter()
                    .zip(&cv)
                    .all(|(&p, &c)| c == (p >= ens.threshold())),
                "{rule}"
            );
            // The batch call on the same pairs, where some probability equals the threshold.
            assert!(pv.contains(&ens.threshold()), "{rule}");
            let cb = ens.predict(valid.left(), valid.right()).expect("c");
            assert_eq!(cb.to_vec(), cv, "{rule}");
            // And on other pairs, the batch call too.
            let p = ens.predict_proba(test.left(), test.right()).expect("p");
            let c = ens.predict(test.left(), test.right()).expect("c");
            let want: Vec<bool> = p.iter().map(|&p| p >= ens.threshold()).collect();
            assert_eq!(c.to_vec(), want, "{rule}");
        }
        let mut manual = base.clone();
        manual.set_threshold_probability(0.3).expect("threshold");
        assert_eq!(manual.threshold(), 0.3);
        let p = manual.predict_proba(test.left(), test.right()).expect("p");
        let c = manual.predict(test.left(), test.right()).expect("c");
        assert_eq!(c, p.mapv(|p| p >= 0.3));
        manual.clear_threshold();
        assert_eq!(manual.threshold(), 0.5);
    }
}

/// Pairs of rows of one item matrix (the `IdScorer` path) in four clusters, width 6.
fn clustered(n: usize) -> ItemPairs {
    let items = Array2::from_shape_fn((n, 6), |(r, c)| {
        let centre = if c % 4 == r % 4 { 1.0 } else { 0.0 };
        centre + 0.3 * (((r * 7 + c * 13) % 11) as f32 / 11.0 - 0.5)
    });
    let pairs = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j, (i % 4 == j % 4) as u8 as f32)));
    ItemPairs::new(items, pairs).expect("valid clustered data")
}

#[test]
fn symmetric_ensembles_stay_bitwise_symmetric_after_calibration() {
    let items = clustered(40);
    let dense = task().generate(300, 2).expect("data");
    for combiner in [
        Combiner::AbsDiff,
        Combiner::Product,
        Combiner::ConcatSwapAverage,
    ] {
        let mut ens = Ensemble::new(trained(&items, combiner.clone(), 3)).expect("ensemble");
        assert!(ens.is_symmetric());
        ens.calibrate(CalibrationMethod::Platt, &items)
            .expect("calibrate");
        ens.set_threshold(ThresholdRule::MaxF1, &items)
            .expect("threshold");
        // Dense batches of another width need members of that width: score the item
        // matrix's own pairs, gathered, in both orders.
        let (x, y) = gathered(&items);
        let (pxy, pyx) = (
            ens.predict_proba(x.view(), y.view()).expect("p"),
            ens.predict_proba(y.view(), x.view()).expect("p"),
        );
        assert_eq!(
            bits(pxy.as_slice().expect("c")),
            bits(pyx.as_slice().expect("c")),
            "{combiner}"
        );
        assert_eq!(
            ens.predict(x.view(), y.view()).expect("c"),
            ens.predict(y.view(), x.view()).expect("c"),
            "{combiner}"
        );
        // Evaluation measures the mean raw logits in both orders: exactly 0 on the item
        // path, and on dense pairs.
        let e = ens.evaluate(&items).expect("eval");
        assert_eq!(e.asymmetry.max, 0.0, "{combiner}");
        let d = Ensemble::new(trained(&dense, combiner.clone(), 3)).expect("ensemble");
        assert_eq!(d.evaluate(&dense).expect("eval").asymmetry.max, 0.0);
    }
    // An ensemble with an order-dependent member is measured as such.
    let mut ms = trained(&items, Combiner::AbsDiff, 2);
    ms.extend(trained(&items, Combiner::Concat, 1));
    let lopsided = Ensemble::new(ms).expect("ensemble");
    assert!(!lopsided.is_symmetric());
    assert!(lopsided.evaluate(&items).expect("eval").asymmetry.max > 0.0);
}

/// The rows of every pair of `items`, as dense `(x, y)` matrices.
fn gathered(items: &ItemPairs) -> (Array2<f32>, Array2<f32>) {
    let (m, pairs) = (items.items(), items.pairs());
    let d = items.dim();
    let mut x = Array2::zeros((pairs.len(), d));
    let mut y = Array2::zeros((pairs.len(), d));
    for (r, &(i, j)) in pairs.iter().enumerate() {
        x.row_mut(r).assign(&m.row(i));
        y.row_mut(r).assign(&m.row(j));
    }
    (x, y)
}

#[test]
fn evaluation_of_an_ensemble_is_that_of_its_logits_and_decision() {
    let t = task();
    let (train, valid, test) = (
        t.generate(600, 1).expect("data"),
        t.generate(400, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    // One member: the ensemble's logits are the member's (times 1.0), so with the same
    // decision its evaluation is the model's, field for field.
    let mut member = trained(&train, Combiner::AbsDiff, 1).remove(0);
    let mut one = Ensemble::new(vec![member.clone()]).expect("ensemble");
    assert_eq!(
        one.evaluate(&test).expect("eval"),
        evaluate(&member, &test).expect("eval")
    );
    one.calibrate(CalibrationMethod::Temperature, &valid)
        .expect("calibrate");
    one.set_threshold(ThresholdRule::MaxAccuracy, &valid)
        .expect("threshold");
    assert!(
        one.evaluate(&test).expect("eval") != evaluate(&member, &test).expect("eval"),
        "the ensemble's decision is measured"
    );
    member
        .calibrate(CalibrationMethod::Temperature, &valid)
        .expect("calibrate");
    member
        .set_threshold(ThresholdRule::MaxAccuracy, &valid)
        .expect("threshold");
    assert_eq!(one.decision(), member.decision());
    assert_eq!(
        one.evaluate(&test).expect("eval"),
        evaluate(&member, &test).expect("eval")
    );
    // Three members: the stored threshold's decision is what `predict_for` gives.
    let mut ens = Ensemble::new(trained(&train, Combiner::AbsDiff, 3)).expect("ensemble");
    ens.calibrate(CalibrationMethod::Platt, &valid)
        .expect("calibrate");
    ens.set_threshold(ThresholdRule::MaxF1, &valid)
        .expect("threshold");
    let e = ens.evaluate(&test).expect("eval");
    assert_eq!(e.calibration.as_ref(), ens.calibration());
    let at = e.at_threshold.expect("a stored threshold is reported");
    assert_eq!(at.probability, ens.threshold());
    assert_eq!(at.rule, Some(ThresholdRule::MaxF1));
    let proba = ens.proba_for(&test).expect("p");
    assert_eq!(
        at.confusion,
        confusion_at(&proba, test.labels(), ens.threshold()).expect("confusion")
    );
}

#[test]
fn save_and_load_keep_the_decision_bitwise() {
    let t = task();
    let (train, valid, test) = (
        t.generate(600, 1).expect("data"),
        t.generate(400, 2).expect("data"),
        t.generate(300, 3).expect("data"),
    );
    let raw = Ensemble::new(trained(&train, Combiner::AbsDiff, 2)).expect("ensemble");
    let mut cases = Vec::new();
    for method in [CalibrationMethod::Platt, CalibrationMethod::Temperature] {
        let mut e = raw.clone();
        e.calibrate(method, &valid).expect("calibrate");
        cases.push((format!("{method}"), e.clone()));
        e.set_threshold(ThresholdRule::target_precision(0.8).expect("t"), &valid)
            .expect("threshold");
        cases.push((format!("{method} + precision 0.8"), e));
    }
    let mut manual = raw.clone();
    manual.set_threshold_probability(0.37).expect("threshold");
    cases.push(("manual threshold only".into(), manual));
    let dir = tempfile::tempdir().expect("temp dir");
    for (k, (name, ens)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("e{k}.json"));
        ens.save(&path).expect("save");
        let back = Ensemble::load(&path).expect("load");
        assert_eq!(back, ens, "{name}");
        assert!(!back.decision().is_empty(), "{name}");
        assert_eq!(
            back.threshold().to_bits(),
            ens.threshold().to_bits(),
            "{name}"
        );
        assert_eq!(
            bits(&back.proba_for(&test).expect("p")),
            bits(&ens.proba_for(&test).expect("p")),
            "{name}"
        );
        assert_eq!(
            back.predict_for(&test).expect("c"),
            ens.predict_for(&test).expect("c")
        );
        assert_eq!(
            back.to_json_bytes().expect("json"),
            ens.to_json_bytes().expect("json"),
            "{name}"
        );
    }
}

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/ensemble_v1_abs_diff.json")
}

#[test]
fn ensemble_files_from_before_the_decision_load_predict_and_are_written_as_before() {
    let path = fixture();
    let bytes = std::fs::read(&path).expect("fixture");
    assert!(!String::from_utf8_lossy(&bytes).contains("decision"));
    let ens = Ensemble::load(&path).expect("an old ensemble file loads");
    assert!(ens.decision().is_empty());
    assert_eq!(ens.threshold(), 0.5);
    // Pinned when the file was written, by the code before the decision existed.
    let x = array![
        [0.5f32, -1.25, 2.0, 0.75],
        [1.0, 1.0, 1.0, 1.0],
        [-0.3, 0.0, 0.9, -2.1]
    ];
    let y = array![
        [-0.5f32, 0.25, 1.5, -0.75],
        [1.0, 1.0, 1.0, 1.0],
        [2.2, -1.7, 0.4, 0.6]
    ];
    let z = ens.predict_logits(x.view(), y.view()).expect("z");
    assert_eq!(
        bits(z.as_slice().expect("c")),
        [0xbe8532a0, 0x3b3bd65b, 0xbf130bee]
    );
    let p = ens.predict_proba(x.view(), y.view()).expect("p");
    assert_eq!(
        bits(p.as_slice().expect("c")),
        [0x3edee319, 0x3f002ef6, 0x3eb86f04]
    );
    assert_eq!(
        ens.predict(x.view(), y.view()).expect("c").to_vec(),
        [false, true, false]
    );
    // Written back byte for byte as before: no empty decision in the file.
    assert_eq!(ens.to_json_bytes().expect("json"), bytes);
    // With a decision, the file says so; cleared again, it is the old bytes.
    let mut with = ens.clone();
    with.set_threshold_probability(0.6).expect("threshold");
    assert!(String::from_utf8_lossy(&with.to_json_bytes().expect("json")).contains("decision"));
    with.clear_threshold();
    assert_eq!(with.to_json_bytes().expect("json"), bytes);
    // Plain serde without the envelope too.
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let plain: Ensemble = serde_json::from_value(v["ensemble"].clone()).expect("serde");
    assert_eq!(plain, ens);
}

/// The fixture with a Platt calibration and a threshold, `edit` applied to its decision.
fn edited(edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let mut ens = Ensemble::load(fixture()).expect("fixture");
    ens.set_calibration(Some(Calibration::platt(1.5, -0.25).expect("platt")));
    ens.set_threshold_probability(0.4).expect("threshold");
    let mut v: serde_json::Value =
        serde_json::from_slice(&ens.to_json_bytes().expect("json")).expect("json");
    edit(&mut v["ensemble"]["decision"]);
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn invalid_decisions_in_ensemble_files_are_format_errors() {
    let cases = invalid_decision_edits();
    for (name, edit) in cases {
        let bytes = edited(edit);
        match Ensemble::from_json_bytes(&bytes) {
            Err(Error::Format(msg)) => assert!(!msg.is_empty(), "{name}"),
            Err(other) => panic!("{name}: {other}"),
            Ok(e) => panic!("{name}: loaded {:?}", e.decision()),
        }
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert!(
            serde_json::from_value::<Ensemble>(v["ensemble"].clone()).is_err(),
            "{name}: plain serde accepted it"
        );
    }
    // The unedited file loads, and the edits above are the only thing wrong.
    let ok = Ensemble::from_json_bytes(&edited(|_| {})).expect("valid file");
    assert_eq!(ok.threshold(), 0.4);
    assert_eq!(
        ok.calibration().and_then(|c| c.platt_params()),
        Some((1.5, -0.25))
    );
}

#[test]
fn bad_validation_data_are_typed_errors_and_leave_the_ensemble_unchanged() {
    let t = task();
    let (train, valid) = (
        t.generate(600, 1).expect("data"),
        t.generate(300, 2).expect("data"),
    );
    let mut ens = Ensemble::new(trained(&train, Combiner::AbsDiff, 2)).expect("ensemble");
    ens.set_calibration(Some(Calibration::temperature(2.0).expect("t")));
    ens.set_threshold_probability(0.3).expect("threshold");
    let before = ens.clone();
    let relabelled = |labels: Vec<f32>| {
        PairDataset::new(valid.left().to_owned(), valid.right().to_owned(), labels).expect("data")
    };
    let backwards = relabelled(valid.labels().iter().map(|&l| 1.0 - l).collect());
    let ones = relabelled(vec![1.0; valid.len()]);
    let zeros = relabelled(vec![0.0; valid.len()]);
    for method in [CalibrationMethod::Platt, CalibrationMethod::Temperature] {
        for (what, data) in [("backwards", &backwards), ("one class", &ones)] {
            let err = ens.calibrate(method, data).unwrap_err();
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
            assert_eq!(ens, before, "{method} {what}: ensemble changed");
        }
    }
    assert!(matches!(
        ens.set_threshold(ThresholdRule::MaxF1, &zeros),
        Err(Error::Undefined { .. })
    ));
    // The most probable pair made negative: every cut-off keeps it, precision 1 is
    // out of reach.
    let p = ens.proba_for(&valid).expect("p");
    let top = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
    let mut labels = valid.labels().to_vec();
    labels[top] = 0.0;
    let err = ens
        .set_threshold(
            ThresholdRule::target_precision(1.0).expect("t"),
            &relabelled(labels),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Unreachable { target, .. } if target == 1.0),
        "{err}"
    );
    for p in [0.0f32, -0.5, 1.5, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(
                ens.set_threshold_probability(p),
                Err(Error::InvalidConfig {
                    field: "threshold",
                    ..
                })
            ),
            "{p}"
        );
    }
    assert_eq!(ens, before, "refused thresholds are not stored");
    let narrow = ClusterTask::new(3, 2)
        .expect("task")
        .generate(10, 1)
        .expect("data");
    assert!(matches!(
        ens.calibrate(CalibrationMethod::Platt, &narrow),
        Err(Error::WidthMismatch { .. })
    ));
    assert!(matches!(
        ens.set_threshold(ThresholdRule::MaxF1, &narrow),
        Err(Error::WidthMismatch { .. })
    ));
    assert!(matches!(
        ens.evaluate(&narrow),
        Err(Error::WidthMismatch { .. })
    ));
    let (x, y) = (Array2::<f32>::zeros((2, 3)), Array2::<f32>::zeros((2, 3)));
    assert!(matches!(
        ens.predict(x.view(), y.view()),
        Err(Error::WidthMismatch { .. })
    ));
    assert_eq!(ens, before);
}
