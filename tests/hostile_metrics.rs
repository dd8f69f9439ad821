//! Hostile input to `sympair::metrics`: scores and labels of the wrong length, empty,
//! non-finite or non-binary, NaN thresholds, and confusion counts of any size.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use common::hostile::*;
use proptest::prelude::*;
use sympair::metrics::{
    Confusion, ThresholdCriterion, average_precision, best_threshold, confusion_at,
    log_loss_from_logits, roc_auc, roc_curve,
};

// ---------------------------------------------------------------------------------------
// sympair::metrics
// ---------------------------------------------------------------------------------------

/// The validation every metric shares, in its documented order.
fn expected_metric_input(scores: &[f32], labels: &[f32]) -> Option<Kind> {
    if labels.len() != scores.len() {
        Some(Kind::Rows("labels", scores.len(), labels.len()))
    } else if scores.is_empty() {
        Some(Kind::Empty("scores"))
    } else if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        Some(Kind::NonFinite("scores", row, 0))
    } else {
        labels
            .iter()
            .position(|&t| t != 0.0 && t != 1.0)
            .map(Kind::Label)
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn metrics_reject_bad_scores_and_labels(
        (n, m) in (0usize..30).prop_flat_map(|n| (Just(n), near(n))),
        bad_score in proptest::option::of((any::<proptest::sample::Index>(), non_finite())),
        bad_labels in proptest::collection::vec((any::<proptest::sample::Index>(), bad_label()), 0..3),
        classes in 0u8..3,
        threshold in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), -2.0f32..2.0],
    ) {
        let mut scores: Vec<f32> = (0..n).map(|k| ((k * 5) % 7) as f32 - 3.0).collect();
        // classes: 0 = negatives only, 1 = positives only, 2 = both.
        let mut labels: Vec<f32> = (0..m).map(|k| match classes { 0 => 0.0, 1 => 1.0, _ => (k % 2) as f32 }).collect();
        if let (Some((at, v)), true) = (bad_score, n > 0) {
            scores[at.index(n)] = v;
        }
        if m > 0 {
            for (at, t) in bad_labels {
                labels[at.index(m)] = t;
            }
        }
        let expected = expected_metric_input(&scores, &labels);
        let pos = labels.contains(&1.0);
        let neg = labels.contains(&0.0);
        let want = |undefined: Option<Kind>| expected.clone().or(undefined);

        let check = |r: Result<(), Kind>, want: Option<Kind>| -> Result<(), TestCaseError> {
            match want {
                Some(k) => prop_assert_eq!(r, Err(k)),
                None => prop_assert_eq!(r, Ok(())),
            }
            Ok(())
        };
        let both = (!(pos && neg)).then_some(Kind::Undefined("ROC AUC"));
        check(outcome(&roc_auc(&scores, &labels)), want(both))?;
        let both = (!(pos && neg)).then_some(Kind::Undefined("ROC curve"));
        check(outcome(&roc_curve(&scores, &labels)), want(both))?;
        let any_pos = (!pos).then_some(Kind::Undefined("average precision"));
        check(outcome(&average_precision(&scores, &labels)), want(any_pos))?;
        check(outcome(&log_loss_from_logits(&scores, &labels)), want(None))?;
        let nan = threshold.is_nan().then_some(Kind::Config("threshold"));
        check(outcome(&confusion_at(&scores, &labels, threshold)), want(nan))?;
        for criterion in [ThresholdCriterion::Accuracy, ThresholdCriterion::F1] {
            check(outcome(&best_threshold(&scores, &labels, criterion)), want(None))?;
        }
    }

    #[test]
    fn confusion_ratios_stay_in_range_for_any_counts(
        tp in any::<u64>(), fp in any::<u64>(), tn in any::<u64>(), fn_ in any::<u64>(),
        small in any::<bool>(),
    ) {
        let c = if small {
            Confusion { tp: tp % 4, fp: fp % 4, tn: tn % 4, fn_: fn_ % 4 }
        } else {
            Confusion { tp, fp, tn, fn_ }
        };
        for r in [c.accuracy(), c.precision(), c.recall(), c.f1()] {
            prop_assert!((0.0..=1.0).contains(&r), "{c:?}: {r}");
        }
        let mcc = c.mcc();
        prop_assert!(mcc.is_finite() && (-1.0 - 1e-12..=1.0 + 1e-12).contains(&mcc), "{c:?}: {mcc}");
        prop_assert!(c.total() >= c.tp.max(c.fp).max(c.tn).max(c.fn_));
    }
}
