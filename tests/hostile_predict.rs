//! Hostile input to prediction and scoring: batches of the wrong shape, non-finite cells in
//! either layout, wrong slice lengths, bad item matrices for all-pairs and top-k scoring.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use common::hostile::*;
use ndarray::Array2;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Prediction
// ---------------------------------------------------------------------------------------

/// `predict_logits`' documented order of shape checks for a model of width `d`.
fn expected_batch(d: usize, (nx, dx): (usize, usize), (ny, dy): (usize, usize)) -> Option<Kind> {
    if nx == 0 {
        Some(Kind::Empty("x"))
    } else if dx != d {
        Some(Kind::Width("x", d, dx))
    } else if ny != nx {
        Some(Kind::Rows("y", nx, ny))
    } else if dy != dx {
        Some(Kind::Width("y", dx, dy))
    } else {
        None
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn predict_rejects_bad_batch_shapes(
        mi in zoo_index(),
        nx in near(3), dx in near(D), ny in near(3), dy in near(D),
    ) {
        let model = &ZOO[mi];
        let (x, y) = (filled(nx, dx, 0.0), filled(ny, dy, 1.0));
        let expected = expected_batch(D, (nx, dx), (ny, dy));
        for r in [model.predict_logits(x.view(), y.view()), model.predict_proba(x.view(), y.view())] {
            match &expected {
                Some(k) => prop_assert_eq!(outcome(&r), Err(k.clone())),
                None => prop_assert_eq!(r.unwrap().len(), nx),
            }
        }
    }

    /// Batches longer than one prediction chunk, inputs in either layout: the error names
    /// the corrupted row (counted over the whole batch) and column.
    #[test]
    fn predict_names_the_non_finite_cell(
        (mi, n, (side, row, col), v, layout) in (zoo_index(), 1usize..700)
            .prop_flat_map(|(mi, n)| (Just(mi), Just(n), cells(n, D, 2), non_finite(), any::<bool>()))
    ) {
        let model = &ZOO[mi];
        let mut m = [filled(n, D, 0.0), filled(n, D, 1.0)];
        m[side][[row, col]] = v;
        let [x, y] = m;
        let (x, y) = if layout { (fortran(&x), fortran(&y)) } else { (x, y) };
        let what = ["x", "y"][side];
        let expected = Kind::NonFinite(what, row, col);
        let err = model.predict_logits(x.view(), y.view()).unwrap_err();
        prop_assert_eq!(kind(&err), expected.clone(), "model {}", mi);
        prop_assert!(same_value(reported_value(&err).unwrap(), f64::from(v)));
        prop_assert_eq!(outcome(&model.predict_proba(x.view(), y.view())), Err(expected));
        // A transposed view of the transpose: same logical matrix, other strides.
        let (xt, yt) = (x.t().to_owned(), y.t().to_owned());
        prop_assert_eq!(
            outcome(&model.predict_logits(xt.t(), yt.t())),
            Err(Kind::NonFinite(what, row, col))
        );
    }

    #[test]
    fn predict_pair_rejects_wrong_lengths_and_non_finite_values(
        mi in zoo_index(),
        lx in near(D), ly in near(D),
        bad in proptest::option::of((0usize..2, 0..D, non_finite())),
    ) {
        let model = &ZOO[mi];
        let mut v = [vec![0.25f32; lx], vec![-1.5f32; ly]];
        let mut expected = if lx != D {
            Some(Kind::Width("x", D, lx))
        } else if ly != D {
            Some(Kind::Width("y", D, ly))
        } else {
            None
        };
        if let (None, Some((side, col, value))) = (&expected, bad) {
            v[side][col] = value;
            expected = Some(Kind::NonFinite(["x", "y"][side], 0, col));
        }
        let logit = model.predict_pair_logit(&v[0], &v[1]);
        let proba = model.predict_pair(&v[0], &v[1]);
        match expected {
            Some(k) => {
                prop_assert_eq!(outcome(&logit), Err(k.clone()));
                prop_assert_eq!(outcome(&proba), Err(k));
            }
            None => {
                let p = proba.unwrap();
                prop_assert!((0.0..=1.0).contains(&p), "{p}");
                prop_assert!(logit.is_ok());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// All-pairs and top-k scoring
// ---------------------------------------------------------------------------------------

/// `score_all_pairs` / `top_k`'s checks of one item matrix, with one corrupted cell.
fn expected_items(
    what: &'static str,
    (n, d): (usize, usize),
    bad: Option<(usize, usize)>,
) -> Option<Kind> {
    if n == 0 {
        Some(Kind::Empty(what))
    } else if d != D {
        Some(Kind::Width(what, D, d))
    } else {
        bad.map(|(r, c)| Kind::NonFinite(what, r, c))
    }
}

/// Item matrices around width [`D`], sometimes with one non-finite cell.
fn items_strategy() -> impl Strategy<Value = (Array2<f32>, Option<(usize, usize)>)> {
    (near(4), near(D)).prop_flat_map(|(n, d)| {
        let cell = if n > 0 && d > 0 {
            proptest::option::of((0..n, 0..d, non_finite())).boxed()
        } else {
            Just(None).boxed()
        };
        (Just((n, d)), cell).prop_map(|((n, d), cell)| {
            let mut m = filled(n, d, 0.7);
            let bad = cell.map(|(r, c, v)| {
                m[[r, c]] = v;
                (r, c)
            });
            (m, bad)
        })
    })
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn all_pairs_and_top_k_reject_bad_items(
        mi in zoo_index(),
        (items, bad_item) in items_strategy(),
        (queries, bad_query) in items_strategy(),
        k in prop_oneof![Just(0usize), 1usize..6],
    ) {
        let model = &ZOO[mi];
        let mut seen = 0usize;
        let r = model.score_all_pairs(items.view(), |_, _, _| seen += 1);
        match expected_items("items", items.dim(), bad_item) {
            Some(e) => {
                prop_assert_eq!(outcome(&r), Err(e));
                prop_assert_eq!(seen, 0);
            }
            None => {
                prop_assert!(r.is_ok(), "{r:?}");
                let n = items.nrows();
                prop_assert_eq!(seen, n * (n - 1) / 2);
            }
        }

        let r = model.top_k(queries.view(), items.view(), k);
        let expected = if k == 0 {
            Some(Kind::Config("k"))
        } else {
            expected_items("queries", queries.dim(), bad_query)
                .or_else(|| expected_items("items", items.dim(), bad_item))
        };
        match expected {
            Some(e) => prop_assert_eq!(outcome(&r), Err(e)),
            None => {
                let top = r.unwrap();
                prop_assert_eq!(top.len(), queries.nrows());
                prop_assert!(top.iter().all(|t| t.len() == k.min(items.nrows())));
            }
        }
    }
}

/// Regression: a huge `k` ("give me all of them") neither overflows `k + 1` nor tries to
/// allocate for `k` itself.
#[test]
fn top_k_with_a_huge_k_returns_every_item() {
    let model = &ZOO[0];
    let items = filled(5, D, 0.3);
    for k in [6, 1 << 40, usize::MAX / 64, usize::MAX] {
        let top = model.top_k(items.view(), items.view(), k).unwrap();
        assert!(top.iter().all(|t| t.len() == 5), "k = {k}");
    }
}

/// The fixtures themselves are sound: every model predicts finite logits on valid input.
#[test]
fn zoo_models_predict_on_valid_input() {
    let (x, y) = (filled(4, D, 0.3), filled(4, D, 1.7));
    for (k, m) in ZOO.iter().enumerate() {
        let l = m.predict_logits(x.view(), y.view()).unwrap();
        assert!(l.iter().all(|v| v.is_finite()), "model {k}");
    }
}
