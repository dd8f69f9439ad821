//! Tests for `sympair::metrics`: hand-worked cases (arithmetic in comments), input
//! validation, agreement with scikit-learn on fixed vectors, and properties checked by
//! proptest against brute-force definitions.

use approx::assert_abs_diff_eq;
use proptest::prelude::*;
use sympair::Error;
use sympair::metrics::{
    Confusion, RocPoint, ThresholdCriterion, average_precision, best_threshold, confusion_at,
    log_loss_from_logits, roc_auc, roc_curve,
};

/// The five-row example used by the hand-worked tests, shown sorted by score (the arrays
/// hold the same rows in another order, so that sorting is exercised):
///
/// | score | 0.9 | 0.8 | 0.4 | 0.4 | 0.1 |
/// |-------|-----|-----|-----|-----|-----|
/// | label |  1  |  0  |  1  |  0  |  0  |
///
/// P = 2 positives, N = 3 negatives; the two rows at 0.4 are a tied positive/negative pair.
const S5: [f32; 5] = [0.4, 0.9, 0.1, 0.8, 0.4];
const L5: [f32; 5] = [1.0, 1.0, 0.0, 0.0, 0.0];

fn assert_undefined<T: std::fmt::Debug>(r: sympair::Result<T>, want: &str) {
    match r {
        Err(Error::Undefined { metric, .. }) => assert_eq!(metric, want),
        other => panic!("expected Undefined({want}), got {other:?}"),
    }
}

/// Runs every metric function on the same input and returns their results (Ok or Err),
/// so that validation tests cover all of them at once.
fn run_all(scores: &[f32], labels: &[f32]) -> Vec<(&'static str, sympair::Result<()>)> {
    vec![
        ("roc_auc", roc_auc(scores, labels).map(drop)),
        ("roc_curve", roc_curve(scores, labels).map(drop)),
        (
            "average_precision",
            average_precision(scores, labels).map(drop),
        ),
        (
            "log_loss_from_logits",
            log_loss_from_logits(scores, labels).map(drop),
        ),
        ("confusion_at", confusion_at(scores, labels, 0.5).map(drop)),
        (
            "best_threshold(Accuracy)",
            best_threshold(scores, labels, ThresholdCriterion::Accuracy).map(drop),
        ),
        (
            "best_threshold(F1)",
            best_threshold(scores, labels, ThresholdCriterion::F1).map(drop),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Input validation: every function, every rule.
// ---------------------------------------------------------------------------------------

#[test]
fn every_function_rejects_labels_of_a_different_length() {
    for (name, r) in run_all(&[0.1, 0.2, 0.3], &[1.0, 0.0]) {
        assert!(
            matches!(
                r,
                Err(Error::RowMismatch {
                    what: "labels",
                    expected: 3,
                    found: 2
                })
            ),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn every_function_rejects_empty_input() {
    for (name, r) in run_all(&[], &[]) {
        assert!(matches!(r, Err(Error::Empty { .. })), "{name}: {r:?}");
    }
}

#[test]
fn every_function_rejects_a_nan_score_and_reports_its_row() {
    for (name, r) in run_all(&[0.1, 0.2, f32::NAN, 0.4], &[1.0, 0.0, 1.0, 0.0]) {
        assert!(
            matches!(
                r,
                Err(Error::NonFinite { what: "scores", row: 2, col: 0, value }) if value.is_nan()
            ),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn every_function_rejects_an_infinite_score() {
    for (name, r) in run_all(&[0.1, f32::NEG_INFINITY], &[1.0, 0.0]) {
        assert!(
            matches!(
                r,
                Err(Error::NonFinite { what: "scores", row: 1, col: 0, value })
                    if value == f32::NEG_INFINITY
            ),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn every_function_rejects_a_label_of_one_half() {
    for (name, r) in run_all(&[0.1, 0.2, 0.3], &[1.0, 0.5, 0.0]) {
        assert!(
            matches!(r, Err(Error::InvalidLabel { row: 1, value }) if value == 0.5),
            "{name}: {r:?}"
        );
    }
}

#[test]
fn every_function_rejects_nan_and_other_non_binary_labels() {
    for bad in [f32::NAN, -1.0, 2.0, f32::INFINITY] {
        for (name, r) in run_all(&[0.1, 0.2], &[0.0, bad]) {
            assert!(
                matches!(r, Err(Error::InvalidLabel { row: 1, .. })),
                "{name} with label {bad}: {r:?}"
            );
        }
    }
}

#[test]
fn length_is_checked_before_values() {
    // Both a NaN score and a bad label are present, but the lengths differ: that comes first.
    for (name, r) in run_all(&[f32::NAN, 0.2], &[0.5]) {
        assert!(matches!(r, Err(Error::RowMismatch { .. })), "{name}: {r:?}");
    }
}

#[test]
fn confusion_at_rejects_a_nan_threshold() {
    let r = confusion_at(&S5, &L5, f32::NAN);
    assert!(
        matches!(
            r,
            Err(Error::InvalidConfig {
                field: "threshold",
                ..
            })
        ),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// ROC AUC
// ---------------------------------------------------------------------------------------

#[test]
fn roc_auc_counts_a_tied_positive_negative_pair_as_one_half() {
    // P * N = 2 * 3 = 6 pairs.
    // Positive 0.9 > negatives 0.8, 0.4, 0.1: 3 wins.
    // Positive 0.4 > negative 0.1: 1 win; = negative 0.4: 1/2; < negative 0.8: 0.
    // AUC = (3 + 1 + 0.5) / 6 = 0.75. (Ties counted as 1 would give 5/6, as 0 gives 4/6.)
    assert_abs_diff_eq!(roc_auc(&S5, &L5).unwrap(), 0.75, epsilon = 1e-12);
}

#[test]
fn roc_auc_of_all_tied_scores_is_one_half() {
    // Every one of the 2 * 2 pairs is a tie: 4 * 1/2 / 4 = 0.5.
    let auc = roc_auc(&[3.0; 4], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    assert_abs_diff_eq!(auc, 0.5, epsilon = 1e-12);
}

#[test]
fn roc_auc_is_one_for_a_perfect_ranking_and_zero_for_an_inverted_one() {
    let labels = [0.0, 0.0, 1.0, 1.0];
    assert_eq!(roc_auc(&[-2.0, -1.0, 1.0, 2.0], &labels).unwrap(), 1.0);
    assert_eq!(roc_auc(&[2.0, 1.0, -1.0, -2.0], &labels).unwrap(), 0.0);
}

#[test]
fn roc_auc_treats_negative_and_positive_zero_as_a_tie() {
    // -0.0 == 0.0, so this is one tied pair: AUC = 1/2, whichever zero the positive has.
    assert_eq!(roc_auc(&[-0.0, 0.0], &[1.0, 0.0]).unwrap(), 0.5);
    assert_eq!(roc_auc(&[0.0, -0.0], &[1.0, 0.0]).unwrap(), 0.5);
}

#[test]
fn roc_auc_is_the_same_for_logits_and_their_sigmoid() {
    // A strictly increasing map keeps the order, so AUC is unchanged.
    let logits = [2.0_f32, -1.0, 0.5, 0.5, -3.0, 1.5];
    let labels = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let probs: Vec<f32> = logits.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect();
    assert_eq!(
        roc_auc(&logits, &labels).unwrap(),
        roc_auc(&probs, &labels).unwrap()
    );
}

#[test]
fn roc_auc_with_one_class_is_undefined() {
    assert_undefined(roc_auc(&[0.1, 0.9], &[1.0, 1.0]), "ROC AUC");
    assert_undefined(roc_auc(&[0.1, 0.9], &[0.0, 0.0]), "ROC AUC");
    assert_undefined(roc_auc(&[0.1], &[1.0]), "ROC AUC");
}

// ---------------------------------------------------------------------------------------
// ROC curve
// ---------------------------------------------------------------------------------------

#[test]
fn roc_curve_has_one_point_per_distinct_score_and_a_diagonal_step_for_ties() {
    // Start (0, 0) at +inf; then, cumulating TP/2 and FP/3 down the sorted scores:
    //   0.9: TP 1, FP 0 -> (0,   1/2)
    //   0.8: TP 1, FP 1 -> (1/3, 1/2)
    //   0.4: TP 2, FP 2 -> (2/3, 1)     one diagonal step for the tied pair
    //   0.1: TP 2, FP 3 -> (1,   1)
    let want = [
        (0.0, 0.0, f32::INFINITY),
        (0.0, 0.5, 0.9),
        (1.0 / 3.0, 0.5, 0.8),
        (2.0 / 3.0, 1.0, 0.4),
        (1.0, 1.0, 0.1),
    ];
    let got = roc_curve(&S5, &L5).unwrap();
    assert_eq!(got.len(), want.len());
    for (p, (fpr, tpr, threshold)) in got.iter().zip(want) {
        assert_abs_diff_eq!(p.fpr, fpr, epsilon = 1e-12);
        assert_abs_diff_eq!(p.tpr, tpr, epsilon = 1e-12);
        assert_eq!(p.threshold, threshold);
    }
}

#[test]
fn roc_curve_of_all_tied_scores_is_one_diagonal_step() {
    let got = roc_curve(&[0.5; 3], &[1.0, 0.0, 0.0]).unwrap();
    assert_eq!(
        got,
        vec![
            RocPoint {
                fpr: 0.0,
                tpr: 0.0,
                threshold: f32::INFINITY
            },
            RocPoint {
                fpr: 1.0,
                tpr: 1.0,
                threshold: 0.5
            },
        ]
    );
}

#[test]
fn roc_curve_with_one_class_is_undefined() {
    assert_undefined(roc_curve(&[0.1, 0.9], &[0.0, 0.0]), "ROC curve");
    assert_undefined(roc_curve(&[0.1, 0.9], &[1.0, 1.0]), "ROC curve");
}

/// Trapezoidal area under the curve.
fn trapezoid(points: &[RocPoint]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
        .sum()
}

#[test]
fn roc_curve_trapezoidal_area_equals_roc_auc() {
    assert_abs_diff_eq!(
        trapezoid(&roc_curve(&S5, &L5).unwrap()),
        0.75,
        epsilon = 1e-12
    );
    for r in [A, B, C] {
        let area = trapezoid(&roc_curve(r.scores, r.labels).unwrap());
        assert_abs_diff_eq!(area, roc_auc(r.scores, r.labels).unwrap(), epsilon = 1e-12);
    }
}

// ---------------------------------------------------------------------------------------
// Average precision
// ---------------------------------------------------------------------------------------

#[test]
fn average_precision_sums_precision_at_each_recall_step() {
    // Steps down the sorted scores (P = 2):
    //   0.9: TP 1, FP 0 -> R = 1/2, precision 1/1   -> + (1/2 - 0)   * 1   = 0.5
    //   0.8: TP 1, FP 1 -> R = 1/2 (no step)         -> + 0
    //   0.4: TP 2, FP 2 -> R = 1,   precision 2/4   -> + (1 - 1/2)   * 1/2 = 0.25
    //   0.1: TP 2, FP 3 -> R = 1 (no step)           -> + 0
    // AP = 0.75.
    assert_abs_diff_eq!(average_precision(&S5, &L5).unwrap(), 0.75, epsilon = 1e-12);
}

#[test]
fn average_precision_admits_tied_scores_together() {
    // One group {0.5: 1 positive, 1 negative}: R 0 -> 1 at precision 1/2, AP = 0.5.
    // Taking the positive first (splitting the tie) would give 1.0.
    assert_eq!(average_precision(&[0.5, 0.5], &[0.0, 1.0]).unwrap(), 0.5);
    assert_eq!(average_precision(&[0.5, 0.5], &[1.0, 0.0]).unwrap(), 0.5);
    // All tied, 1 positive of 4: AP = 1 * 1/4.
    assert_eq!(
        average_precision(&[2.0; 4], &[0.0, 0.0, 1.0, 0.0]).unwrap(),
        0.25
    );
}

#[test]
fn average_precision_is_one_when_positives_rank_first_and_with_positives_only() {
    assert_eq!(
        average_precision(&[0.9, 0.8, 0.1], &[1.0, 1.0, 0.0]).unwrap(),
        1.0
    );
    assert_eq!(average_precision(&[0.3, 0.1], &[1.0, 1.0]).unwrap(), 1.0);
}

#[test]
fn average_precision_without_positives_is_undefined() {
    assert_undefined(
        average_precision(&[0.3, 0.1], &[0.0, 0.0]),
        "average precision",
    );
}

// ---------------------------------------------------------------------------------------
// Log loss
// ---------------------------------------------------------------------------------------

#[test]
fn log_loss_of_zero_logits_is_ln_2() {
    // sigmoid(0) = 1/2, so each row costs -ln(1/2) = ln 2, whatever its label.
    let loss = log_loss_from_logits(&[0.0, 0.0, 0.0], &[1.0, 0.0, 1.0]).unwrap();
    assert_abs_diff_eq!(loss, std::f64::consts::LN_2, epsilon = 1e-15);
}

#[test]
fn log_loss_matches_the_textbook_formula_on_small_logits() {
    // Row 1: z = 2, t = 1:  -ln(sigmoid(2))      = ln(1 + e^-2)
    // Row 2: z = -1, t = 1: -ln(sigmoid(-1))     = ln(1 + e^1)
    // Row 3: z = 0.5, t = 0: -ln(1 - sigmoid(.5)) = ln(1 + e^0.5)
    let want =
        ((1.0 + (-2.0_f64).exp()).ln() + (1.0 + 1.0_f64.exp()).ln() + (1.0 + 0.5_f64.exp()).ln())
            / 3.0;
    let got = log_loss_from_logits(&[2.0, -1.0, 0.5], &[1.0, 1.0, 0.0]).unwrap();
    assert_abs_diff_eq!(got, want, epsilon = 1e-12);
}

#[test]
fn log_loss_stays_finite_for_huge_logits() {
    // Confidently wrong by 1e4 costs 1e4 per row: mean (1e4 + 1e4) / 2 = 1e4.
    let wrong = log_loss_from_logits(&[1e4, -1e4], &[0.0, 1.0]).unwrap();
    assert_abs_diff_eq!(wrong, 1e4, epsilon = 1e-9);
    // Confidently right costs ln(1 + e^-1e4), which is 0 in f64.
    let right = log_loss_from_logits(&[1e4, -1e4], &[1.0, 0.0]).unwrap();
    assert_eq!(right, 0.0);
    // Even the largest f32 is finite.
    let max = log_loss_from_logits(&[f32::MAX], &[0.0]).unwrap();
    assert_eq!(max, f64::from(f32::MAX));
}

// ---------------------------------------------------------------------------------------
// Confusion counts and their ratios
// ---------------------------------------------------------------------------------------

#[test]
fn confusion_at_predicts_positive_at_or_above_the_threshold() {
    // t = 0.8: predicted positive {0.9 (1), 0.8 (0)}, negative {0.4 (1), 0.4 (0), 0.1 (0)}.
    let c = confusion_at(&S5, &L5, 0.8).unwrap();
    assert_eq!(
        c,
        Confusion {
            tp: 1,
            fp: 1,
            tn: 2,
            fn_: 1
        }
    );
    // t = 0.4 admits both tied rows: TP 2, FP 2, TN 1, FN 0.
    let c = confusion_at(&S5, &L5, 0.4).unwrap();
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 2, 1, 0));
    // +inf: nothing positive. -inf: everything positive.
    let c = confusion_at(&S5, &L5, f32::INFINITY).unwrap();
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (0, 0, 3, 2));
    let c = confusion_at(&S5, &L5, f32::NEG_INFINITY).unwrap();
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 3, 0, 0));
}

#[test]
fn confusion_ratios_match_hand_arithmetic() {
    // TP 1, FP 1, TN 2, FN 1 (the t = 0.8 case above).
    let c = Confusion {
        tp: 1,
        fp: 1,
        tn: 2,
        fn_: 1,
    };
    assert_eq!(c.total(), 5);
    assert_abs_diff_eq!(c.accuracy(), 3.0 / 5.0, epsilon = 1e-15); // (1 + 2) / 5
    assert_abs_diff_eq!(c.precision(), 0.5, epsilon = 1e-15); // 1 / (1 + 1)
    assert_abs_diff_eq!(c.recall(), 0.5, epsilon = 1e-15); // 1 / (1 + 1)
    assert_abs_diff_eq!(c.f1(), 0.5, epsilon = 1e-15); // 2 / (2 + 1 + 1)
    // MCC = (1*2 - 1*1) / sqrt((1+1)(1+1)(2+1)(2+1)) = 1 / sqrt(36) = 1/6.
    assert_abs_diff_eq!(c.mcc(), 1.0 / 6.0, epsilon = 1e-15);
}

#[test]
fn mcc_is_plus_one_for_perfect_and_minus_one_for_inverted_predictions() {
    let perfect = Confusion {
        tp: 3,
        fp: 0,
        tn: 4,
        fn_: 0,
    };
    let inverted = Confusion {
        tp: 0,
        fp: 4,
        tn: 0,
        fn_: 3,
    };
    assert_abs_diff_eq!(perfect.mcc(), 1.0, epsilon = 1e-15);
    assert_abs_diff_eq!(inverted.mcc(), -1.0, epsilon = 1e-15);
}

#[test]
fn confusion_ratios_with_zero_denominators_are_zero() {
    // Nothing predicted positive, no positives: precision 0/0, recall 0/0, F1 0/0,
    // MCC has empty margins. All are 0 by convention; accuracy is 5/5.
    let c = Confusion {
        tp: 0,
        fp: 0,
        tn: 5,
        fn_: 0,
    };
    assert_eq!(
        (c.accuracy(), c.precision(), c.recall(), c.f1(), c.mcc()),
        (1.0, 0.0, 0.0, 0.0, 0.0)
    );
    // Everything predicted positive (TN + FN = 0): MCC 0 although TP > 0.
    let c = Confusion {
        tp: 2,
        fp: 3,
        tn: 0,
        fn_: 0,
    };
    assert_eq!(c.mcc(), 0.0);
    // No rows at all.
    let c = Confusion::default();
    assert_eq!(
        (c.accuracy(), c.precision(), c.recall(), c.f1(), c.mcc()),
        (0.0, 0.0, 0.0, 0.0, 0.0)
    );
}

#[test]
fn mcc_does_not_overflow_on_huge_counts() {
    let c = Confusion {
        tp: u64::MAX / 4,
        fp: 1,
        tn: u64::MAX / 4,
        fn_: 1,
    };
    let mcc = c.mcc();
    assert!(mcc.is_finite() && mcc > 0.999_999, "{mcc}");
}

#[test]
fn confusion_ratios_do_not_overflow_on_maximal_counts() {
    // Every sum and product here overflows u64; the ratios must still be exact-ish.
    let c = Confusion {
        tp: u64::MAX,
        fp: u64::MAX,
        tn: u64::MAX,
        fn_: u64::MAX,
    };
    assert_eq!(c.total(), u64::MAX); // saturates
    assert_eq!(
        (c.accuracy(), c.precision(), c.recall(), c.f1(), c.mcc()),
        (0.5, 0.5, 0.5, 0.5, 0.0)
    );
}

// ---------------------------------------------------------------------------------------
// Best threshold
// ---------------------------------------------------------------------------------------

#[test]
fn best_threshold_for_accuracy_matches_hand_sweep() {
    // Candidates (TP, FP, TN, FN) -> accuracy:
    //   +inf: (0, 0, 3, 2) -> 3/5
    //   0.9:  (1, 0, 3, 1) -> 4/5   <- best
    //   0.8:  (1, 1, 2, 1) -> 3/5
    //   0.4:  (2, 2, 1, 0) -> 3/5
    //   0.1:  (2, 3, 0, 0) -> 2/5
    let b = best_threshold(&S5, &L5, ThresholdCriterion::Accuracy).unwrap();
    assert_eq!(b.threshold, 0.9);
    assert_abs_diff_eq!(b.value, 0.8, epsilon = 1e-15);
    assert_eq!((b.confusion.tp, b.confusion.fp), (1, 0));
}

#[test]
fn best_threshold_breaks_ties_towards_the_highest_threshold() {
    // F1 = 2TP / (2TP + FP + FN):
    //   +inf: 0 / 2         = 0
    //   0.9:  2 / (2 + 0 + 1) = 2/3   <- tied best, higher threshold
    //   0.8:  2 / (2 + 1 + 1) = 1/2
    //   0.4:  4 / (4 + 2 + 0) = 2/3   <- tied best
    //   0.1:  4 / (4 + 3 + 0) = 4/7
    let b = best_threshold(&S5, &L5, ThresholdCriterion::F1).unwrap();
    assert_eq!(b.threshold, 0.9);
    assert_abs_diff_eq!(b.value, 2.0 / 3.0, epsilon = 1e-15);
}

#[test]
fn best_threshold_never_splits_tied_scores() {
    // Scores 0.5 (label 1), 0.5 (0), 0.5 (0), 0.1 (0). Cut-offs: +inf, 0.5, 0.1.
    // Accuracy: +inf 3/4, 0.5 2/4, 0.1 1/4 -> +inf, 0.75.
    // F1:       +inf 0,   0.5 2/4, 0.1 2/5 -> 0.5, 0.5.
    // Splitting the tie (positive first) would reach accuracy 1 and F1 1.
    let (s, l) = ([0.5, 0.5, 0.5, 0.1], [0.0, 1.0, 0.0, 0.0]);
    let acc = best_threshold(&s, &l, ThresholdCriterion::Accuracy).unwrap();
    assert_eq!((acc.threshold, acc.value), (f32::INFINITY, 0.75));
    let f1 = best_threshold(&s, &l, ThresholdCriterion::F1).unwrap();
    assert_eq!((f1.threshold, f1.value), (0.5, 0.5));
}

#[test]
fn best_threshold_can_choose_all_negative_or_all_positive() {
    // No positives: predicting nothing positive is perfect (accuracy 1 at +inf); F1 is 0
    // everywhere, so the tie rule picks +inf.
    let acc = best_threshold(&[0.9, 0.1], &[0.0, 0.0], ThresholdCriterion::Accuracy).unwrap();
    assert_eq!((acc.threshold, acc.value), (f32::INFINITY, 1.0));
    let f1 = best_threshold(&[0.9, 0.1], &[0.0, 0.0], ThresholdCriterion::F1).unwrap();
    assert_eq!((f1.threshold, f1.value), (f32::INFINITY, 0.0));
    // Only positives: the smallest score (everything positive) is the only perfect cut-off.
    let acc = best_threshold(&[0.9, 0.1], &[1.0, 1.0], ThresholdCriterion::Accuracy).unwrap();
    assert_eq!((acc.threshold, acc.value), (0.1, 1.0));
}

#[test]
fn best_threshold_confusion_equals_confusion_at_its_threshold() {
    for r in [A, B, C] {
        for criterion in [ThresholdCriterion::Accuracy, ThresholdCriterion::F1] {
            let b = best_threshold(r.scores, r.labels, criterion).unwrap();
            assert_eq!(
                b.confusion,
                confusion_at(r.scores, r.labels, b.threshold).unwrap()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Agreement with scikit-learn
// ---------------------------------------------------------------------------------------

/// Inputs and scikit-learn's outputs for one fixed vector.
struct Reference {
    scores: &'static [f32],
    labels: &'static [f32],
    /// Threshold for the confusion-based metrics (`score >= threshold`).
    threshold: f32,
    roc_auc: f64,
    average_precision: f64,
    /// `log_loss(labels, sigmoid(scores))`.
    log_loss: f64,
    accuracy: f64,
    precision: f64,
    recall: f64,
    f1: f64,
    mcc: f64,
    /// (threshold, value) of the best cut-off, ties to the highest threshold.
    best_accuracy: (f32, f64),
    best_f1: (f32, f64),
    roc_fpr: &'static [f64],
    roc_tpr: &'static [f64],
    roc_thresholds: &'static [f32],
}

// Provenance: the constants A, B, C below are the verbatim output of this script
// (scikit-learn 1.9.1, numpy 2.4.6, Python 3.11.7). Scores are cast to float32 first, so
// the Rust f32 literals are the exact inputs scikit-learn saw. `best_*` is a brute-force
// sweep (exact rational comparison, ties to the highest threshold) scored by scikit-learn.
//
// # Reference values for tests/metrics.rs. scikit-learn 1.9.1, numpy 2.4.6, Python 3.11.
// from fractions import Fraction
// import numpy as np
// from sklearn.metrics import (roc_auc_score, average_precision_score, log_loss, roc_curve,
//                              accuracy_score, precision_score, recall_score, f1_score,
//                              matthews_corrcoef)
//
// f32 = lambda v: "f32::INFINITY" if np.isinf(v) else str(np.float32(v))  # shortest f32 text
// rng = np.random.default_rng(20240611)
//
// def case(name, s, y, t):
//     s = np.asarray(s, dtype=np.float32)  # the exact f32 inputs the Rust test uses
//     x, y, t = s.astype(np.float64), np.asarray(y, dtype=np.float64), float(np.float32(t))
//     pred = (x >= t).astype(np.float64)
//     fpr, tpr, thr = roc_curve(y, x, drop_intermediate=False)
//     best = {}
//     for crit, fn in [("accuracy", accuracy_score), ("f1", f1_score)]:
//         exact = lambda c: (Fraction(int(((x >= c) == (y == 1)).sum()), len(y)) if crit == "accuracy"
//                            else Fraction(2 * int(((x >= c) & (y == 1)).sum()),
//                                          max(1, int((x >= c).sum() + (y == 1).sum()))))
//         cands = [np.inf] + sorted(set(x.tolist()), reverse=True)  # highest first
//         top = max(cands, key=lambda c: (exact(c), c))  # max value, ties -> highest threshold
//         best[crit] = (top, float(fn(y, (x >= top).astype(float), **({} if crit == "accuracy" else {"zero_division": 0}))))
//     print(f"/// {name}: n = {len(s)}, {len(np.unique(s))} distinct scores.")
//     print(f"const {name}: Reference = Reference {{")
//     print(f"    scores: &[{', '.join(f32(v) for v in s)}],")
//     print(f"    labels: &[{', '.join(f'{v:.1f}' for v in y)}],")
//     print(f"    threshold: {f32(t)},")
//     for k, v in [("roc_auc", roc_auc_score(y, x)), ("average_precision", average_precision_score(y, x)),
//                  ("log_loss", log_loss(y, 1.0 / (1.0 + np.exp(-x)))),
//                  ("accuracy", accuracy_score(y, pred)),
//                  ("precision", precision_score(y, pred, zero_division=0)),
//                  ("recall", recall_score(y, pred, zero_division=0)),
//                  ("f1", f1_score(y, pred, zero_division=0)),
//                  ("mcc", matthews_corrcoef(y, pred))]:
//         print(f"    {k}: {float(v)!r},")
//     print(f"    best_accuracy: ({f32(best['accuracy'][0])}, {best['accuracy'][1]!r}),")
//     print(f"    best_f1: ({f32(best['f1'][0])}, {best['f1'][1]!r}),")
//     print(f"    roc_fpr: &{[float(v) for v in fpr]},")
//     print(f"    roc_tpr: &{[float(v) for v in tpr]},")
//     print(f"    roc_thresholds: &[{', '.join(f32(v) for v in thr)}],")
//     print("};")
//
// n = 30; y = (rng.random(n) < 0.45).astype(int)
// case("A", np.round(rng.normal(0, 1.5, n) + 1.2 * y, 1), y, 0.3)       # logits, 1 decimal
// n = 50; y = (rng.random(n) < 0.3).astype(int)
// case("B", np.round(np.clip(rng.beta(2, 3, n) + 0.25 * y, 0, 1), 2), y, 0.5)  # probabilities
// n = 24; y = (rng.random(n) < 0.5).astype(int)
// case("C", rng.integers(0, 5, n) + (y * rng.integers(0, 2, n)), y, 2.0)  # 6 levels, heavy ties

/// A: n = 30, 23 distinct scores.
const A: Reference = Reference {
    scores: &[
        3.3, -0.6, 1.1, 0.3, 3.7, -1.7, 1.3, -1.5, -1.3, -0.0, -1.1, -1.8, -0.8, -0.5, -1.7, -1.3,
        1.0, -0.2, -1.0, 1.2, -0.8, 1.8, -0.0, 0.1, -0.7, 2.5, -1.5, 2.5, -1.8, -0.9,
    ],
    labels: &[
        1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0,
        0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0,
    ],
    threshold: 0.3,
    roc_auc: 0.6674641148325359,
    average_precision: 0.683110828565374,
    log_loss: 0.6394848745989187,
    accuracy: 0.7,
    precision: 0.6,
    recall: 0.5454545454545454,
    f1: 0.5714285714285714,
    mcc: 0.34238119163116293,
    best_accuracy: (2.5, 0.7666666666666667),
    best_f1: (1.0, 0.6),
    roc_fpr: &[
        0.0,
        0.0,
        0.0,
        0.0,
        0.05263157894736842,
        0.10526315789473684,
        0.10526315789473684,
        0.15789473684210525,
        0.15789473684210525,
        0.21052631578947367,
        0.2631578947368421,
        0.3157894736842105,
        0.3684210526315789,
        0.42105263157894735,
        0.47368421052631576,
        0.5263157894736842,
        0.631578947368421,
        0.631578947368421,
        0.6842105263157895,
        0.6842105263157895,
        0.7894736842105263,
        0.8947368421052632,
        0.8947368421052632,
        1.0,
    ],
    roc_tpr: &[
        0.0,
        0.09090909090909091,
        0.18181818181818182,
        0.36363636363636365,
        0.36363636363636365,
        0.36363636363636365,
        0.45454545454545453,
        0.45454545454545453,
        0.5454545454545454,
        0.5454545454545454,
        0.5454545454545454,
        0.6363636363636364,
        0.6363636363636364,
        0.6363636363636364,
        0.6363636363636364,
        0.6363636363636364,
        0.6363636363636364,
        0.7272727272727273,
        0.7272727272727273,
        0.8181818181818182,
        0.8181818181818182,
        0.8181818181818182,
        1.0,
        1.0,
    ],
    roc_thresholds: &[
        f32::INFINITY,
        3.7,
        3.3,
        2.5,
        1.8,
        1.3,
        1.2,
        1.1,
        1.0,
        0.3,
        0.1,
        -0.0,
        -0.2,
        -0.5,
        -0.6,
        -0.7,
        -0.8,
        -0.9,
        -1.0,
        -1.1,
        -1.3,
        -1.5,
        -1.7,
        -1.8,
    ],
};
/// B: n = 50, 39 distinct scores.
const B: Reference = Reference {
    scores: &[
        0.74, 0.58, 0.62, 0.6, 0.61, 0.26, 0.25, 0.2, 0.46, 0.17, 0.63, 0.36, 0.36, 0.21, 0.46,
        0.69, 0.56, 0.15, 0.53, 0.76, 0.59, 0.88, 0.61, 0.28, 0.45, 0.22, 0.44, 0.88, 0.9, 0.32,
        0.37, 0.52, 0.61, 0.59, 0.61, 0.27, 0.39, 0.54, 0.3, 0.55, 0.13, 0.44, 0.3, 0.59, 1.0, 0.1,
        0.11, 0.81, 0.81, 0.5,
    ],
    labels: &[
        1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0,
    ],
    threshold: 0.5,
    roc_auc: 0.8266666666666667,
    average_precision: 0.7387169490942281,
    log_loss: 0.770208477329961,
    accuracy: 0.66,
    precision: 0.46153846153846156,
    recall: 0.8,
    f1: 0.5853658536585366,
    mcc: 0.36689969285267143,
    best_accuracy: (0.62, 0.84),
    best_f1: (0.62, 0.6923076923076923),
    roc_fpr: &[
        0.0,
        0.0,
        0.0,
        0.0,
        0.02857142857142857,
        0.02857142857142857,
        0.02857142857142857,
        0.05714285714285714,
        0.05714285714285714,
        0.05714285714285714,
        0.14285714285714285,
        0.17142857142857143,
        0.2571428571428571,
        0.2857142857142857,
        0.3142857142857143,
        0.34285714285714286,
        0.34285714285714286,
        0.37142857142857144,
        0.37142857142857144,
        0.4,
        0.45714285714285713,
        0.4857142857142857,
        0.5142857142857142,
        0.5428571428571428,
        0.5428571428571428,
        0.5714285714285714,
        0.6,
        0.6571428571428571,
        0.6857142857142857,
        0.7142857142857143,
        0.7428571428571429,
        0.7714285714285715,
        0.8,
        0.8285714285714286,
        0.8571428571428571,
        0.8857142857142857,
        0.9142857142857143,
        0.9428571428571428,
        0.9714285714285714,
        1.0,
    ],
    roc_tpr: &[
        0.0,
        0.06666666666666667,
        0.13333333333333333,
        0.26666666666666666,
        0.3333333333333333,
        0.4,
        0.4666666666666667,
        0.4666666666666667,
        0.5333333333333333,
        0.6,
        0.6666666666666666,
        0.6666666666666666,
        0.6666666666666666,
        0.6666666666666666,
        0.6666666666666666,
        0.6666666666666666,
        0.7333333333333333,
        0.7333333333333333,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8666666666666667,
        0.8666666666666667,
        0.9333333333333333,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
    ],
    roc_thresholds: &[
        f32::INFINITY,
        1.0,
        0.9,
        0.88,
        0.81,
        0.76,
        0.74,
        0.69,
        0.63,
        0.62,
        0.61,
        0.6,
        0.59,
        0.58,
        0.56,
        0.55,
        0.54,
        0.53,
        0.52,
        0.5,
        0.46,
        0.45,
        0.44,
        0.39,
        0.37,
        0.36,
        0.32,
        0.3,
        0.28,
        0.27,
        0.26,
        0.25,
        0.22,
        0.21,
        0.2,
        0.17,
        0.15,
        0.13,
        0.11,
        0.1,
    ],
};
/// C: n = 24, 6 distinct scores.
const C: Reference = Reference {
    scores: &[
        3.0, 3.0, 0.0, 1.0, 4.0, 4.0, 5.0, 2.0, 2.0, 2.0, 2.0, 4.0, 0.0, 1.0, 3.0, 1.0, 4.0, 1.0,
        0.0, 3.0, 1.0, 5.0, 4.0, 3.0,
    ],
    labels: &[
        0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0,
        1.0, 0.0, 1.0, 1.0, 0.0, 0.0,
    ],
    threshold: 2.0,
    roc_auc: 0.534965034965035,
    average_precision: 0.5611471861471862,
    log_loss: 1.4375241299116184,
    accuracy: 0.5416666666666666,
    precision: 0.5,
    recall: 0.7272727272727273,
    f1: 0.5925925925925926,
    mcc: 0.11826247919781652,
    best_accuracy: (5.0, 0.625),
    best_f1: (0.0, 0.6285714285714286),
    roc_fpr: &[
        0.0,
        0.0,
        0.3076923076923077,
        0.5384615384615384,
        0.6153846153846154,
        0.8461538461538461,
        1.0,
    ],
    roc_tpr: &[
        0.0,
        0.18181818181818182,
        0.2727272727272727,
        0.45454545454545453,
        0.7272727272727273,
        0.9090909090909091,
        1.0,
    ],
    roc_thresholds: &[f32::INFINITY, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0],
};

const REFERENCES: [(&str, Reference); 3] = [("A", A), ("B", B), ("C", C)];
const TOL: f64 = 1e-6;

#[test]
fn roc_auc_agrees_with_sklearn() {
    for (name, r) in REFERENCES {
        let got = roc_auc(r.scores, r.labels).unwrap();
        assert_abs_diff_eq!(got, r.roc_auc, epsilon = TOL);
        println!("{name}: roc_auc {got} vs {}", r.roc_auc);
    }
}

#[test]
fn average_precision_agrees_with_sklearn() {
    for (name, r) in REFERENCES {
        let got = average_precision(r.scores, r.labels).unwrap();
        assert_abs_diff_eq!(got, r.average_precision, epsilon = TOL);
        println!("{name}: average_precision {got} vs {}", r.average_precision);
    }
}

#[test]
fn log_loss_from_logits_agrees_with_sklearn_log_loss_of_sigmoid() {
    for (name, r) in REFERENCES {
        let got = log_loss_from_logits(r.scores, r.labels).unwrap();
        assert_abs_diff_eq!(got, r.log_loss, epsilon = TOL);
        println!("{name}: log_loss {got} vs {}", r.log_loss);
    }
}

#[test]
fn confusion_metrics_agree_with_sklearn() {
    for (name, r) in REFERENCES {
        let c = confusion_at(r.scores, r.labels, r.threshold).unwrap();
        assert_eq!(c.total(), r.scores.len() as u64, "{name}");
        assert_abs_diff_eq!(c.accuracy(), r.accuracy, epsilon = TOL);
        assert_abs_diff_eq!(c.precision(), r.precision, epsilon = TOL);
        assert_abs_diff_eq!(c.recall(), r.recall, epsilon = TOL);
        assert_abs_diff_eq!(c.f1(), r.f1, epsilon = TOL);
        assert_abs_diff_eq!(c.mcc(), r.mcc, epsilon = TOL);
    }
}

#[test]
fn roc_curve_agrees_with_sklearn_without_dropping_points() {
    for (name, r) in REFERENCES {
        let got = roc_curve(r.scores, r.labels).unwrap();
        assert_eq!(got.len(), r.roc_fpr.len(), "{name}: number of points");
        for (i, p) in got.iter().enumerate() {
            assert_abs_diff_eq!(p.fpr, r.roc_fpr[i], epsilon = TOL);
            assert_abs_diff_eq!(p.tpr, r.roc_tpr[i], epsilon = TOL);
            // `==`: a threshold of -0.0 and one of +0.0 are the same cut-off.
            assert!(
                p.threshold == r.roc_thresholds[i],
                "{name}: point {i} threshold {} vs {}",
                p.threshold,
                r.roc_thresholds[i]
            );
        }
    }
}

#[test]
fn best_threshold_agrees_with_a_sklearn_scored_sweep() {
    for (name, r) in REFERENCES {
        for (criterion, (threshold, value)) in [
            (ThresholdCriterion::Accuracy, r.best_accuracy),
            (ThresholdCriterion::F1, r.best_f1),
        ] {
            let b = best_threshold(r.scores, r.labels, criterion).unwrap();
            assert_eq!(b.threshold, threshold, "{name} {criterion:?}");
            assert_abs_diff_eq!(b.value, value, epsilon = TOL);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// Rows of (score, label). Most scores come from 10 values (+0.0 and -0.0 among them), so
/// ties are frequent.
fn rows() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    let score = prop_oneof![
        (-4_i8..=4).prop_map(|v| f32::from(v) * 0.5),
        Just(-0.0_f32),
        -1e3_f32..1e3_f32,
    ];
    prop::collection::vec((score, any::<bool>()), 1..60).prop_map(|rows| {
        rows.into_iter()
            .map(|(s, l)| (s, if l { 1.0 } else { 0.0 }))
            .unzip()
    })
}

fn both_classes(labels: &[f32]) -> bool {
    labels.contains(&0.0) && labels.contains(&1.0)
}

/// The O(n^2) definition: the share of (positive, negative) pairs ranked correctly, a tie
/// counting 1/2.
fn pairwise_auc(scores: &[f32], labels: &[f32]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (sp, _) in scores.iter().zip(labels).filter(|(_, l)| **l == 1.0) {
        for (sn, _) in scores.iter().zip(labels).filter(|(_, l)| **l == 0.0) {
            pairs += 1.0;
            if sp > sn {
                wins += 1.0;
            } else if sp == sn {
                wins += 0.5;
            }
        }
    }
    wins / pairs
}

fn criterion_value(c: &Confusion, criterion: ThresholdCriterion) -> f64 {
    match criterion {
        ThresholdCriterion::Accuracy => c.accuracy(),
        ThresholdCriterion::F1 => c.f1(),
        _ => unreachable!("criterion not covered by this test"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn roc_auc_equals_the_pairwise_definition((scores, labels) in rows()) {
        prop_assume!(both_classes(&labels));
        let got = roc_auc(&scores, &labels).unwrap();
        prop_assert!((got - pairwise_auc(&scores, &labels)).abs() < 1e-12);
    }

    #[test]
    fn roc_auc_of_negated_scores_is_one_minus_roc_auc((scores, labels) in rows()) {
        prop_assume!(both_classes(&labels));
        let negated: Vec<f32> = scores.iter().map(|s| -s).collect();
        let sum = roc_auc(&scores, &labels).unwrap() + roc_auc(&negated, &labels).unwrap();
        prop_assert!((sum - 1.0).abs() < 1e-12, "sum = {}", sum);
    }

    #[test]
    fn best_threshold_value_is_the_max_of_a_brute_force_sweep((scores, labels) in rows()) {
        // Every candidate: each distinct score, and +inf. Evaluate each with confusion_at.
        let mut candidates = scores.clone();
        candidates.push(f32::INFINITY);
        for criterion in [ThresholdCriterion::Accuracy, ThresholdCriterion::F1] {
            let mut best = (f64::NEG_INFINITY, f32::NEG_INFINITY);
            for &t in &candidates {
                let v = criterion_value(&confusion_at(&scores, &labels, t).unwrap(), criterion);
                if v > best.0 || (v == best.0 && t > best.1) {
                    best = (v, t);
                }
            }
            let got = best_threshold(&scores, &labels, criterion).unwrap();
            prop_assert_eq!(got.value, best.0, "{:?}", criterion);
            prop_assert_eq!(got.threshold, best.1, "{:?}: highest threshold on ties", criterion);
            prop_assert_eq!(got.confusion, confusion_at(&scores, &labels, got.threshold).unwrap());
        }
    }

    #[test]
    fn roc_curve_runs_from_origin_to_one_one_monotonically((scores, labels) in rows()) {
        prop_assume!(both_classes(&labels));
        let curve = roc_curve(&scores, &labels).unwrap();
        let mut distinct = scores.clone();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        prop_assert_eq!(curve.len(), distinct.len() + 1);
        prop_assert_eq!((curve[0].fpr, curve[0].tpr), (0.0, 0.0));
        let last = curve[curve.len() - 1];
        prop_assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        for w in curve.windows(2) {
            prop_assert!(w[1].fpr >= w[0].fpr && w[1].tpr >= w[0].tpr);
            prop_assert!(w[1].threshold < w[0].threshold);
        }
    }

    #[test]
    fn ranking_metrics_ignore_row_order((scores, labels) in rows(), seed in any::<u64>()) {
        // Reverse-and-rotate is a permutation; ties must be handled without regard to order.
        let n = scores.len();
        let k = (seed % n as u64) as usize;
        let perm: Vec<usize> = (0..n).rev().cycle().skip(k).take(n).collect();
        let s2: Vec<f32> = perm.iter().map(|&i| scores[i]).collect();
        let l2: Vec<f32> = perm.iter().map(|&i| labels[i]).collect();
        if labels.contains(&1.0) {
            prop_assert_eq!(
                average_precision(&scores, &labels).unwrap(),
                average_precision(&s2, &l2).unwrap()
            );
        }
        if both_classes(&labels) {
            prop_assert_eq!(roc_auc(&scores, &labels).unwrap(), roc_auc(&s2, &l2).unwrap());
        }
    }

    #[test]
    fn no_input_makes_any_function_panic(
        scores in prop::collection::vec(any::<f32>(), 0..8),
        labels in prop::collection::vec(
            prop_oneof![Just(0.0_f32), Just(1.0), Just(0.5), Just(f32::NAN), any::<f32>()],
            0..8,
        ),
        threshold in any::<f32>(),
    ) {
        for (_, r) in run_all(&scores, &labels) {
            let _ = r;
        }
        let _ = confusion_at(&scores, &labels, threshold);
    }
}
