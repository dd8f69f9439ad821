//! Exact (bitwise) symmetry of every symmetric combiner and of whole classifiers.

mod common;

use common::*;
use ndarray::{Array2, s};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sympair::{AbsDiff, Combiner, PairClassifier, PairCombiner, SquaredDiff};

/// The rows a combiner makes for `(y, x)`, with its views put back in the order of `(x, y)`.
/// For two-view combiners the swap exchanges the views.
fn swapped_rows(c: &Combiner, x: &Array2<f32>, y: &Array2<f32>) -> Array2<f32> {
    let out = c.combine(y.view(), x.view()).unwrap();
    let n = x.nrows();
    if c.n_views() == 2 {
        let mut re = out.clone();
        re.slice_mut(s![..n, ..]).assign(&out.slice(s![n.., ..]));
        re.slice_mut(s![n.., ..]).assign(&out.slice(s![..n, ..]));
        // The view rows are [x|y] and [y|x]; for (y, x) they are [y|x] and [x|y].
        re
    } else {
        out
    }
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn every_symmetric_combiner_is_bitwise_symmetric((d, x, y) in sized_pair(), n in 1usize..4) {
        let x = matrix(1, d, x).broadcast((n, d)).unwrap().to_owned();
        let y = matrix(1, d, y).broadcast((n, d)).unwrap().to_owned();
        for c in symmetric_combiners() {
            let a = c.combine(x.view(), y.view()).unwrap();
            let b = swapped_rows(&c, &x, &y);
            prop_assert_eq!(bits(&a), bits(&b), "combiner {}", c);
        }
    }

    #[test]
    fn fresh_classifier_is_bitwise_symmetric_for_single_pairs((d, x, y) in sized_pair(), seed in 0u64..4) {
        for c in symmetric_combiners() {
            let model = PairClassifier::builder(d, c.clone()).seed(seed).build().unwrap();
            let a = model.predict_pair_logit(&x, &y).unwrap();
            let b = model.predict_pair_logit(&y, &x).unwrap();
            prop_assert_eq!(a.to_bits(), b.to_bits(), "combiner {}: {} vs {}", c, a, b);
        }
    }

    #[test]
    fn trained_classifier_is_bitwise_symmetric_for_single_pairs((x, y) in pair(5), seed in 0u64..3) {
        for c in symmetric_combiners() {
            let model = trained_model(5, c.clone(), seed);
            let a = model.predict_pair_logit(&x, &y).unwrap();
            let b = model.predict_pair_logit(&y, &x).unwrap();
            prop_assert_eq!(a.to_bits(), b.to_bits(), "combiner {}: {} vs {}", c, a, b);
        }
    }

    #[test]
    fn batched_prediction_is_bitwise_symmetric_at_every_row(
        (d, n, (xv, yv)) in (1usize..=64, 1usize..40)
            .prop_flat_map(|(d, n)| (Just(d), Just(n), batch(n, d))),
        seed in 0u64..1000,
    ) {
        let (x, y) = (matrix(n, d, xv), matrix(n, d, yv));
        for c in symmetric_combiners() {
            let model = PairClassifier::builder(d, c.clone()).seed(seed).build().unwrap();
            let a = model.predict_logits(x.view(), y.view()).unwrap();
            let b = model.predict_logits(y.view(), x.view()).unwrap();
            let (ab, bb) = (bits(&a), bits(&b));
            prop_assert_eq!(&ab, &bb, "combiner {}", c);
            // Each pair alone gives the same bits as in the batch, whatever its row.
            for i in [0, n / 2, n - 1] {
                let single = model
                    .predict_pair_logit(x.row(i).as_slice().unwrap(), y.row(i).as_slice().unwrap())
                    .unwrap();
                prop_assert_eq!(single.to_bits(), ab[i], "combiner {} row {}", c, i);
            }
        }
    }

    #[test]
    fn pair_logit_does_not_depend_on_its_row_in_a_large_batch(
        (x, y) in pair(48),
        pos in 0usize..600,
        seed in 0u64..100,
    ) {
        // 600 rows span several prediction chunks and matrix-product tiles.
        let n = 600;
        let filler = common::tiny_task(48, seed);
        for c in [Combiner::AbsDiff, Combiner::ConcatSwapAverage, Combiner::Product] {
            let model = PairClassifier::builder(48, c.clone()).seed(seed).build().unwrap();
            let mut xb = Array2::<f32>::zeros((n, 48));
            let mut yb = Array2::<f32>::zeros((n, 48));
            for r in 0..n {
                xb.row_mut(r).assign(&filler.left().row(r % 64));
                yb.row_mut(r).assign(&filler.right().row(r % 64));
            }
            xb.row_mut(pos).assign(&ndarray::ArrayView1::from(&x));
            yb.row_mut(pos).assign(&ndarray::ArrayView1::from(&y));
            let batch = model.predict_logits(xb.view(), yb.view()).unwrap();
            let swapped = model.predict_logits(yb.view(), xb.view()).unwrap();
            let single = model.predict_pair_logit(&y, &x).unwrap();
            prop_assert_eq!(batch[pos].to_bits(), single.to_bits(), "combiner {}", c);
            prop_assert_eq!(swapped[pos].to_bits(), single.to_bits(), "combiner {}", c);
        }
    }

    #[test]
    fn difference_combiners_score_every_identical_pair_the_same((d, x, z) in sized_pair(), seed in 0u64..8) {
        for c in [Combiner::AbsDiff, Combiner::SquaredDiff] {
            let model = PairClassifier::builder(d, c.clone()).seed(seed).build().unwrap();
            let a = model.predict_pair_logit(&x, &x).unwrap();
            let b = model.predict_pair_logit(&z, &z).unwrap();
            prop_assert_eq!(a.to_bits(), b.to_bits(), "combiner {}", c);
        }
        // And the combined rows are exactly zero.
        let xm = matrix(1, d, x.clone());
        prop_assert!(AbsDiff.combine(xm.view(), xm.view()).unwrap().iter().all(|v| v.to_bits() == 0));
        prop_assert!(SquaredDiff.combine(xm.view(), xm.view()).unwrap().iter().all(|v| v.to_bits() == 0));
    }
}

/// A width and a pair of that width, as drawn by `sized_pair`.
type SizedPair = (usize, Vec<f32>, Vec<f32>);

/// The symmetry property, as a function, so that it can be run against `Concat` and be
/// seen to fail.
fn symmetry_property(c: Combiner) -> Result<(), proptest::test_runner::TestError<SizedPair>> {
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner.run(&sized_pair(), |(d, x, y)| {
        let model = PairClassifier::builder(d, c.clone())
            .seed(1)
            .build()
            .unwrap();
        let a = model.predict_pair_logit(&x, &y).unwrap();
        let b = model.predict_pair_logit(&y, &x).unwrap();
        prop_assert_eq!(a.to_bits(), b.to_bits());
        Ok(())
    })
}

#[test]
fn symmetry_check_finds_a_counterexample_for_concat() {
    let result = symmetry_property(Combiner::Concat);
    assert!(
        matches!(result, Err(proptest::test_runner::TestError::Fail(..))),
        "the symmetry property must fail for the order-dependent Concat: {result:?}"
    );
}

#[test]
fn symmetry_check_passes_for_concat_swap_average() {
    symmetry_property(Combiner::ConcatSwapAverage).unwrap();
}
