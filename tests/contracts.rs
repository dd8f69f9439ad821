//! The capability flags of the built-in combiners and the rules the distance head relies
//! on. These flags steer other code (the symmetry suites select combiners by
//! `is_symmetric`, prediction skips input checks when `propagates_non_finite`, the builder
//! admits the distance head by `output_is_nonnegative`), so a wrong flag would silently
//! weaken it: each flag is pinned here, built-in by built-in.

mod common;

use ndarray::{Array2, array};
use sympair::{
    ClusterTask, Combiner, Error, Head, HeadConfig, Max, MlpConfig, PairClassifier, PairCombiner,
    Similarity, Stack, TrainConfig,
};

fn all_similarities() -> [Similarity; 4] {
    [
        Similarity::Cosine,
        Similarity::Dot,
        Similarity::NegL1,
        Similarity::NegSquaredL2,
    ]
}

#[test]
fn symmetric_builtins_are_exactly_all_but_concat() {
    let symmetric: Vec<String> = common::symmetric_combiners()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(
        symmetric,
        [
            "sum",
            "product",
            "max",
            "abs_diff",
            "squared_diff",
            "concat_swap_average"
        ]
    );
    assert!(!Combiner::Concat.is_symmetric());
    for s in all_similarities() {
        assert!(Combiner::Similarity(s).is_symmetric(), "{s:?}");
    }
}

#[test]
fn stack_is_symmetric_only_when_every_part_is() {
    let sym = Stack::new(vec![Combiner::Sum, Combiner::AbsDiff]).unwrap();
    let asym = Stack::new(vec![Combiner::Sum, Combiner::Concat]).unwrap();
    assert!(sym.is_symmetric());
    assert!(!asym.is_symmetric());
    assert_eq!(sym.parts(), [Combiner::Sum, Combiner::AbsDiff]);
}

#[test]
fn nonnegative_builtins_are_exactly_abs_diff_and_squared_diff() {
    let mut all: Vec<Combiner> = Combiner::builtins().into();
    all.extend(all_similarities().map(Combiner::Similarity));
    let nonneg: Vec<String> = all
        .iter()
        .filter(|c| c.output_is_nonnegative())
        .map(|c| c.name())
        .collect();
    assert_eq!(nonneg, ["abs_diff", "squared_diff"]);
}

#[test]
fn stack_is_nonnegative_only_when_every_part_is() {
    let both = Stack::new(vec![Combiner::AbsDiff, Combiner::SquaredDiff]).unwrap();
    let mixed = Stack::new(vec![Combiner::AbsDiff, Combiner::Sum]).unwrap();
    assert!(both.output_is_nonnegative());
    assert!(!mixed.output_is_nonnegative());
}

#[test]
fn propagating_builtins_are_all_but_max_and_similarity() {
    let mut all: Vec<Combiner> = Combiner::builtins().into();
    all.extend(all_similarities().map(Combiner::Similarity));
    let propagating: Vec<String> = all
        .iter()
        .filter(|c| c.propagates_non_finite())
        .map(|c| c.name())
        .collect();
    // Max hides `-inf` (`max(-inf, 3) = 3`); similarities are not claimed either.
    assert_eq!(
        propagating,
        [
            "sum",
            "product",
            "abs_diff",
            "squared_diff",
            "concat_swap_average",
            "concat"
        ]
    );
}

#[test]
fn stack_propagates_non_finite_when_any_part_does() {
    // Every part sees every input, so one propagating part suffices.
    let one = Stack::new(vec![Combiner::Max, Combiner::Sum]).unwrap();
    let none = Stack::new(vec![Combiner::Max]).unwrap();
    assert!(one.propagates_non_finite());
    assert!(!none.propagates_non_finite());
    // And the claim holds: a NaN input shows up in the stacked output.
    let out = one
        .combine(array![[f32::NAN, 1.0]].view(), array![[0.0f32, 2.0]].view())
        .unwrap();
    assert!(out.iter().any(|v| !v.is_finite()));
}

#[test]
fn prediction_rejects_nan_through_a_stack_with_a_max_part() {
    let stack = Stack::new(vec![Combiner::Max, Combiner::Sum]).unwrap();
    let model = PairClassifier::builder(2, Combiner::Stack(stack))
        .build()
        .unwrap();
    let x = array![[0.0f32, 1.0], [f32::NEG_INFINITY, 1.0]];
    let y = array![[1.0f32, 0.0], [3.0, 0.0]];
    let err = model.predict_logits(x.view(), y.view()).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { row: 1, col: 0, .. }),
        "{err:?}"
    );
}

#[test]
fn distance_head_is_rejected_on_every_combiner_that_can_be_negative() {
    let mut all: Vec<Combiner> = Combiner::builtins().into();
    all.extend(all_similarities().map(Combiner::Similarity));
    for c in all {
        let built = PairClassifier::builder(3, c.clone())
            .head(HeadConfig::Distance { learn_scale: true })
            .build();
        match c.name().as_str() {
            "abs_diff" | "squared_diff" => assert!(built.is_ok(), "{c}: {built:?}"),
            _ => assert!(
                matches!(built, Err(Error::Unsupported(_))),
                "{c}: {built:?}"
            ),
        }
    }
}

#[test]
fn max_splits_the_gradient_equally_at_a_tie() {
    let x = array![[2.0f32, 0.0, 1.0]];
    let y = array![[2.0f32, -0.0, 5.0]];
    let grad = array![[3.0f32, 3.0, 3.0]];
    let mut dx = Array2::zeros((1, 3));
    let mut dy = Array2::zeros((1, 3));
    Max.backward(
        x.view(),
        y.view(),
        grad.view(),
        dx.view_mut(),
        dy.view_mut(),
    )
    .unwrap();
    // Ties (2 == 2, +0 == -0) split g = 3 as 1.5 + 1.5; otherwise the larger side takes g.
    assert_eq!(dx, array![[1.5f32, 1.5, 0.0]]);
    assert_eq!(dy, array![[1.5f32, 1.5, 3.0]]);
}

fn distance_model(learn_scale: bool) -> PairClassifier {
    PairClassifier::builder(4, Combiner::SquaredDiff)
        .head(HeadConfig::Distance { learn_scale })
        .seed(3)
        .build()
        .unwrap()
}

/// `(scale, learns_scale)` of a distance head.
fn scale(model: &PairClassifier) -> (f32, bool) {
    match model.head() {
        Head::Distance(d) => (d.scale(), d.learns_scale()),
        other => panic!("not a distance head: {other:?}"),
    }
}

#[test]
fn frozen_distance_scale_stays_fixed_under_training() {
    let task = ClusterTask::new(4, 3).unwrap();
    let train = task.generate(300, 1).unwrap();
    let cfg = TrainConfig::new().with_epochs(3);

    let mut frozen = distance_model(false);
    assert_eq!(frozen.n_params(), 0);
    frozen.fit(&train, None, &cfg).unwrap();
    let (s, learns) = scale(&frozen);
    assert_eq!((s.to_bits(), learns), (1.0f32.to_bits(), false));

    // Control: the same training moves a learnt scale, so the check above can fail.
    let mut learnt = distance_model(true);
    assert_eq!(learnt.n_params(), 1);
    learnt.fit(&train, None, &cfg).unwrap();
    let (s, learns) = scale(&learnt);
    assert!(s != 1.0 && learns, "{s} {learns}");
}

fn first_weights(model: &PairClassifier) -> Vec<f32> {
    match model.head() {
        Head::Mlp(m) => m.weight(0).expect("layer 0").iter().copied().collect(),
        other => panic!("not an MLP head: {other:?}"),
    }
}

#[test]
fn linear_head_on_one_score_starts_at_slope_one_and_only_there() {
    let build = |d: usize, c: Combiner, mlp: MlpConfig| {
        PairClassifier::builder(d, c)
            .mlp_head(mlp)
            .seed(9)
            .build()
            .unwrap()
    };
    let cosine = Combiner::Similarity(Similarity::Cosine);
    // A calibrated similarity: higher score = more similar from the first step.
    let calib = build(3, cosine.clone(), MlpConfig::linear());
    assert_eq!(first_weights(&calib), [1.0]);
    // Elsewhere the weights are a random draw.
    let wide = build(3, Combiner::AbsDiff, MlpConfig::linear());
    assert!(first_weights(&wide).iter().all(|&w| w != 1.0));
    let hidden = build(3, cosine, MlpConfig::new([4]).unwrap());
    assert!(first_weights(&hidden).iter().all(|&w| w != 1.0));
}

fn every_combiner() -> Vec<Combiner> {
    let mut all: Vec<Combiner> = Combiner::builtins().into();
    all.extend(all_similarities().map(Combiner::Similarity));
    all.push(Combiner::Stack(
        Stack::new(vec![Combiner::Sum, Combiner::Max]).unwrap(),
    ));
    all
}

/// `(what, expected, found)` of a shape error, or a panic for anything else.
fn shape_error(r: sympair::Result<()>) -> (&'static str, bool, usize, usize) {
    match r {
        Err(Error::RowMismatch {
            what,
            expected,
            found,
        }) => (what, true, expected, found),
        Err(Error::WidthMismatch {
            what,
            expected,
            found,
        }) => (what, false, expected, found),
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn every_combiner_reports_wrong_shapes_in_forward() {
    let x = Array2::<f32>::ones((2, 3));
    for c in every_combiner() {
        let (v, w) = (c.n_views(), c.output_dim(3));
        let mut out = Array2::zeros((v * 2, w));
        let y_rows = Array2::ones((3, 3));
        let y_cols = Array2::ones((2, 4));
        assert_eq!(
            shape_error(c.forward(x.view(), y_rows.view(), out.view_mut())),
            ("y", true, 2, 3),
            "{c}"
        );
        assert_eq!(
            shape_error(c.forward(x.view(), y_cols.view(), out.view_mut())),
            ("y", false, 3, 4),
            "{c}"
        );
        let mut short = Array2::zeros((v * 2 - 1, w));
        assert_eq!(
            shape_error(c.forward(x.view(), x.view(), short.view_mut())),
            ("out", true, v * 2, v * 2 - 1),
            "{c}"
        );
        let mut narrow = Array2::zeros((v * 2, w + 1));
        assert_eq!(
            shape_error(c.forward(x.view(), x.view(), narrow.view_mut())),
            ("out", false, w, w + 1),
            "{c}"
        );
        assert!(c.forward(x.view(), x.view(), out.view_mut()).is_ok(), "{c}");
    }
}

#[test]
fn every_combiner_reports_wrong_shapes_in_backward() {
    let x = Array2::<f32>::ones((2, 3));
    for c in every_combiner() {
        let (v, w) = (c.n_views(), c.output_dim(3));
        let grad = Array2::<f32>::ones((v * 2, w));
        let (mut dx, mut dy) = (Array2::zeros((2, 3)), Array2::zeros((2, 3)));
        let y_rows = Array2::ones((1, 3));
        assert_eq!(
            shape_error(c.backward(
                x.view(),
                y_rows.view(),
                grad.view(),
                dx.view_mut(),
                dy.view_mut()
            )),
            ("y", true, 2, 1),
            "{c}"
        );
        let bad_grad = Array2::<f32>::ones((v * 2, w + 2));
        assert_eq!(
            shape_error(c.backward(
                x.view(),
                x.view(),
                bad_grad.view(),
                dx.view_mut(),
                dy.view_mut()
            )),
            ("grad", false, w, w + 2),
            "{c}"
        );
        let mut bad_dx = Array2::zeros((3, 3));
        assert_eq!(
            shape_error(c.backward(
                x.view(),
                x.view(),
                grad.view(),
                bad_dx.view_mut(),
                dy.view_mut()
            )),
            ("dx", true, 2, 3),
            "{c}"
        );
        let mut bad_dy = Array2::zeros((2, 1));
        assert_eq!(
            shape_error(c.backward(
                x.view(),
                x.view(),
                grad.view(),
                dx.view_mut(),
                bad_dy.view_mut()
            )),
            ("dy", false, 3, 1),
            "{c}"
        );
        assert!(
            c.backward(
                x.view(),
                x.view(),
                grad.view(),
                dx.view_mut(),
                dy.view_mut()
            )
            .is_ok(),
            "{c}"
        );
    }
}

#[test]
fn combine_refuses_an_output_too_large_to_exist() {
    // An empty batch can claim any width; `Concat` doubles it past isize::MAX values.
    let wide = ndarray::ArrayView2::<f32>::from_shape((0, 1 << 62), &[]).unwrap();
    let r = Combiner::Concat.combine(wide, wide);
    assert!(matches!(r, Err(Error::Unsupported(_))), "{r:?}");
    // Half that width is still a valid (empty) output.
    let half = ndarray::ArrayView2::<f32>::from_shape((0, 1 << 61), &[]).unwrap();
    let out = Combiner::Concat.combine(half, half).unwrap();
    assert_eq!(out.dim(), (0, 1 << 62));
    // The limit itself: exactly isize::MAX values is allowed.
    let edge = ndarray::ArrayView2::<f32>::from_shape((0, isize::MAX as usize), &[]).unwrap();
    let out = Combiner::Sum.combine(edge, edge).unwrap();
    assert_eq!(out.dim(), (0, isize::MAX as usize));
}

#[test]
fn combiner_displays_as_its_name() {
    for c in every_combiner() {
        assert_eq!(c.to_string(), c.name());
    }
    assert_eq!(Combiner::AbsDiff.to_string(), "abs_diff");
    let stack = Combiner::Stack(Stack::new(vec![Combiner::Sum, Combiner::Max]).unwrap());
    assert_eq!(stack.to_string(), "stack[sum+max]");
}

#[test]
fn max_values_follow_the_order_independent_rules() {
    let x = array![[2.0f32, -0.0, 0.0, 1.0, -1.0]];
    let y = array![[2.0f32, 0.0, -0.0, 3.0, -3.0]];
    let bits = |a: Array2<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    // A tie keeps its value; signed zeros give +0 whichever side holds which.
    let want = bits(array![[2.0f32, 0.0, 0.0, 3.0, -1.0]]);
    assert_eq!(bits(Max.combine(x.view(), y.view()).unwrap()), want);
    assert_eq!(bits(Max.combine(y.view(), x.view()).unwrap()), want);
}

#[test]
fn stack_output_and_gradient_are_its_parts_side_by_side() {
    let parts = vec![Combiner::Sum, Combiner::Product, Combiner::AbsDiff];
    let stack = Stack::new(parts.clone()).unwrap();
    let x = array![[0.5f32, -1.0], [2.0, 0.25]];
    let y = array![[1.5f32, 3.0], [-2.0, 0.25]];
    let out = stack.combine(x.view(), y.view()).unwrap();
    assert_eq!(out.dim(), (2, 6));
    // Each part's gradient slice, distinct so that a wrong offset shows.
    let grad = Array2::from_shape_fn((2, 6), |(i, j)| (1 + i * 6 + j) as f32);
    let (mut dx, mut dy) = (Array2::zeros((2, 2)), Array2::zeros((2, 2)));
    stack
        .backward(
            x.view(),
            y.view(),
            grad.view(),
            dx.view_mut(),
            dy.view_mut(),
        )
        .unwrap();
    let (mut want_dx, mut want_dy) = (Array2::<f32>::zeros((2, 2)), Array2::<f32>::zeros((2, 2)));
    for (k, p) in parts.iter().enumerate() {
        let cols = ndarray::s![.., 2 * k..2 * k + 2];
        assert_eq!(
            out.slice(cols),
            p.combine(x.view(), y.view()).unwrap(),
            "{p}"
        );
        p.backward(
            x.view(),
            y.view(),
            grad.slice(cols),
            want_dx.view_mut(),
            want_dy.view_mut(),
        )
        .unwrap();
    }
    assert_eq!(dx, want_dx);
    assert_eq!(dy, want_dy);
}
