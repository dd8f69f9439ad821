//! User storage through `PairSource` + `CheckedPairs`: validated once, consumed like the
//! crate's own datasets, and unable to make the crate panic or train on NaN.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, ArrayViewMut2};
use sympair::{
    CheckedPairs, ClusterTask, Combiner, Error, PairClassifier, PairData, PairDataset, PairSource,
    TrainConfig,
};

/// Pairs held as rows of two matrices, with knobs to break the contract.
struct Rows {
    left: Array2<f32>,
    right: Array2<f32>,
    labels: Vec<f32>,
    /// Columns the gather leaves unwritten in every row.
    skip_cols: usize,
    /// After this many gather calls, every value gathered is NaN.
    nan_after: Option<usize>,
    /// The gather fails with this message.
    fail: bool,
    calls: AtomicUsize,
}

impl Rows {
    fn from(data: &PairDataset) -> Self {
        Rows {
            left: data.left().to_owned(),
            right: data.right().to_owned(),
            labels: data.labels().to_vec(),
            skip_cols: 0,
            nan_after: None,
            fail: false,
            calls: AtomicUsize::new(0),
        }
    }
}

impl PairSource for Rows {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn dim(&self) -> usize {
        self.left.ncols()
    }
    fn label(&self, k: usize) -> f32 {
        self.labels[k]
    }
    fn gather(
        &self,
        idx: &[usize],
        mut x: ArrayViewMut2<'_, f32>,
        mut y: ArrayViewMut2<'_, f32>,
    ) -> sympair::Result<()> {
        if self.fail {
            return Err(Error::Format("storage unavailable".to_owned()));
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let poisoned = self.nan_after.is_some_and(|n| call >= n);
        let d = self.dim() - self.skip_cols;
        for (r, &k) in idx.iter().enumerate() {
            for c in 0..d {
                x[[r, c]] = if poisoned {
                    f32::NAN
                } else {
                    self.left[[k, c]]
                };
                y[[r, c]] = self.right[[k, c]];
            }
        }
        Ok(())
    }
}

fn task_data(n: usize) -> PairDataset {
    ClusterTask::new(6, 3).unwrap().generate(n, 5).unwrap()
}

#[test]
fn checked_source_trains_bit_for_bit_like_the_same_pair_dataset() {
    let data = task_data(300);
    let source = CheckedPairs::new(Rows::from(&data)).unwrap();
    assert_eq!((source.len(), source.dim()), (data.len(), data.dim()));
    assert_eq!(source.labels(), data.labels());
    let config = TrainConfig::new().with_epochs(3).with_seed(4);
    let mut a = PairClassifier::builder(6, Combiner::AbsDiff)
        .seed(2)
        .build()
        .unwrap();
    let mut b = a.clone();
    a.fit(&data, None, &config).unwrap();
    b.fit(&source, None, &config).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    assert_eq!(a.logits_for(&data).unwrap(), b.logits_for(&source).unwrap());
}

#[test]
fn label_other_than_zero_or_one_is_invalid_label_with_row() {
    let mut rows = Rows::from(&task_data(20));
    rows.labels[13] = 0.5;
    let err = CheckedPairs::new(rows).unwrap_err();
    assert!(
        matches!(err, Error::InvalidLabel { row: 13, value } if value == 0.5),
        "{err:?}"
    );
}

#[test]
fn non_finite_value_is_reported_with_pair_row_column_and_side() {
    // Past the first check batch (1024 pairs), to check the row offset.
    let data = task_data(1500);
    let mut rows = Rows::from(&data);
    rows.right[[1300, 4]] = f32::NEG_INFINITY;
    rows.left[[1301, 0]] = f32::NAN;
    let err = CheckedPairs::new(rows).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "right",
                row: 1300,
                col: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn entries_the_source_leaves_unwritten_are_non_finite_not_stale() {
    let mut rows = Rows::from(&task_data(10));
    rows.skip_cols = 1;
    let err = CheckedPairs::new(rows).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "left",
                row: 0,
                col: 5,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn empty_source_and_zero_width_are_empty_errors() {
    let data = task_data(4);
    let mut rows = Rows::from(&data);
    rows.labels.clear();
    assert!(matches!(
        CheckedPairs::new(rows),
        Err(Error::Empty { what: "pairs" })
    ));
    let mut rows = Rows::from(&data);
    rows.left = Array2::zeros((4, 0));
    assert!(matches!(
        CheckedPairs::new(rows),
        Err(Error::Empty {
            what: "pairs (width 0)"
        })
    ));
}

#[test]
fn error_of_the_source_reaches_the_caller() {
    let mut rows = Rows::from(&task_data(4));
    rows.fail = true;
    match CheckedPairs::new(rows) {
        Err(Error::Format(msg)) => assert_eq!(msg, "storage unavailable"),
        other => panic!("expected the source's error, got {other:?}"),
    }
}

#[test]
fn source_turning_nan_after_validation_makes_training_fail_not_succeed() {
    let data = task_data(200);
    let mut rows = Rows::from(&data);
    // One call validates all 200 pairs; every later gather is NaN.
    rows.nan_after = Some(1);
    let checked = CheckedPairs::new(rows).unwrap();
    let mut model = PairClassifier::builder(6, Combiner::AbsDiff)
        .seed(2)
        .build()
        .unwrap();
    let before = model.parameters();
    let r = model.fit(&checked, None, &TrainConfig::new().with_epochs(2));
    assert!(r.is_err(), "training on NaN rows returned {r:?}");
    assert!(model.parameters().iter().all(|p| p.is_finite()));
    assert_eq!(before.len(), model.parameters().len());
}

#[test]
fn checked_source_is_usable_as_dyn_pair_data_in_evaluate() {
    let data = task_data(100);
    let checked = CheckedPairs::new(Rows::from(&data)).unwrap();
    let model = PairClassifier::builder(6, Combiner::Product)
        .seed(9)
        .build()
        .unwrap();
    let a = sympair::evaluate(&model, &data).unwrap();
    let b = sympair::evaluate(&model, &checked).unwrap();
    assert_eq!(a.log_loss.to_bits(), b.log_loss.to_bits());
    assert_eq!(a.asymmetry.max, b.asymmetry.max);
}

/// Claims any size; never gathers anything useful.
struct Huge {
    len: usize,
    dim: usize,
}

impl PairSource for Huge {
    fn len(&self) -> usize {
        self.len
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn label(&self, _: usize) -> f32 {
        1.0
    }
    fn gather(
        &self,
        _: &[usize],
        _: ArrayViewMut2<'_, f32>,
        _: ArrayViewMut2<'_, f32>,
    ) -> sympair::Result<()> {
        Ok(())
    }
}

#[test]
fn sizes_too_large_to_allocate_are_errors_not_aborts() {
    for (len, dim) in [(1 << 50, 4), (4, 1 << 50), (1 << 20, usize::MAX)] {
        match CheckedPairs::new(Huge { len, dim }) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains("allocated"), "{msg}"),
            other => panic!("expected Unsupported for {len} x {dim}, got {other:?}"),
        }
    }
}
