//! Hostile input to the combiners used directly: buffers of the wrong shape, non-finite
//! values, and empty batches of huge width.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::hostile::*;
use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;
use sympair::{Error, PairCombiner};

// ---------------------------------------------------------------------------------------
// Combiners
// ---------------------------------------------------------------------------------------

/// A buffer's name, its shape and the shape it should have.
type Buffer = (&'static str, (usize, usize), (usize, usize));

/// Shape checks of `forward` / `backward`: `(x, y)` first, then each buffer in order.
fn expected_buffers((n, d): (usize, usize), y: (usize, usize), buffers: &[Buffer]) -> Option<Kind> {
    if y.0 != n {
        return Some(Kind::Rows("y", n, y.0));
    }
    if y.1 != d {
        return Some(Kind::Width("y", d, y.1));
    }
    for &(what, found, want) in buffers {
        if found.0 != want.0 {
            return Some(Kind::Rows(what, want.0, found.0));
        }
        if found.1 != want.1 {
            return Some(Kind::Width(what, want.1, found.1));
        }
    }
    None
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn combiners_reject_wrong_buffer_shapes(
        ci in 0..all_combiners().len(),
        n in 0usize..4, d in 0usize..4,
        dyr in delta(), dyc in delta(),
        shifts in proptest::collection::vec(delta(), 6),
    ) {
        let c = all_combiners().swap_remove(ci);
        let (v, w) = (c.n_views(), c.output_dim(d));
        let y_shape = (shifted(n, dyr), shifted(d, dyc));
        let x = filled(n, d, 0.0);
        let y = filled(y_shape.0, y_shape.1, 1.0);
        let s = |k: usize, m: usize| shifted(m, shifts[k]);
        const SENTINEL: f32 = 7.5;

        // forward
        let out_shape = (s(0, v * n), s(1, w));
        let mut out = Array2::from_elem(out_shape, SENTINEL);
        let r = c.forward(x.view(), y.view(), out.view_mut());
        match expected_buffers((n, d), y_shape, &[("out", out_shape, (v * n, w))]) {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert!(out.iter().all(|&o| o == SENTINEL), "out written before the error");
            }
            None => prop_assert!(r.is_ok(), "{r:?}"),
        }

        // combine
        let r = c.combine(x.view(), y.view());
        match expected_buffers((n, d), y_shape, &[]) {
            Some(k) => prop_assert_eq!(outcome(&r), Err(k)),
            None => prop_assert_eq!(r.unwrap().dim(), (v * n, w)),
        }

        // backward
        let grad_shape = (s(2, v * n), s(3, w));
        let dx_shape = (s(4, n), s(5, d));
        let dy_shape = (n, d);
        let grad = filled(grad_shape.0, grad_shape.1, 2.0);
        let mut dx = Array2::from_elem(dx_shape, SENTINEL);
        let mut dy = Array2::from_elem(dy_shape, SENTINEL);
        let r = c.backward(x.view(), y.view(), grad.view(), dx.view_mut(), dy.view_mut());
        let buffers = [
            ("grad", grad_shape, (v * n, w)),
            ("dx", dx_shape, (n, d)),
            ("dy", dy_shape, (n, d)),
        ];
        match expected_buffers((n, d), y_shape, &buffers) {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert!(dx.iter().chain(&dy).all(|&g| g == SENTINEL), "gradients written before the error");
            }
            None => prop_assert!(r.is_ok(), "{r:?}"),
        }

        // A wrong dy alone.
        if y_shape == (n, d) && n > 0 {
            let mut dx = Array2::zeros((n, d));
            let mut dy = Array2::zeros((n + 1, d));
            let grad = Array2::zeros((v * n, w));
            let r = c.backward(x.view(), y.view(), grad.view(), dx.view_mut(), dy.view_mut());
            prop_assert_eq!(outcome(&r), Err(Kind::Rows("dy", n, n + 1)));
        }
    }

    /// Combiners are not validators (the classifier checks its inputs); on NaN and
    /// infinities they compute through without an error or a panic.
    #[test]
    fn combiners_compute_through_non_finite_values(
        ci in 0..all_combiners().len(),
        (n, d, bad) in (1usize..5, 1usize..5).prop_flat_map(|(n, d)| (
            Just(n), Just(d), proptest::collection::vec((0usize..3, 0..n, 0..d, non_finite()), 1..4)
        )),
    ) {
        let c = all_combiners().swap_remove(ci);
        let mut m = [filled(n, d, 0.0), filled(n, d, 1.0), filled(c.n_views() * n, c.output_dim(d), 2.0)];
        for (which, r, col, v) in bad {
            let k = m[which].ncols();
            m[which][[r, col % k]] = v;
        }
        let [x, y, g] = m;
        prop_assert!(c.combine(x.view(), y.view()).is_ok());
        let (mut dx, mut dy) = (Array2::zeros((n, d)), Array2::zeros((n, d)));
        prop_assert!(c.backward(x.view(), y.view(), g.view(), dx.view_mut(), dy.view_mut()).is_ok());
    }
}

/// An empty batch can be far wider than any real one; the output shape must not overflow.
#[test]
fn combine_on_an_empty_batch_of_huge_width_is_an_error_not_a_panic() {
    for width in [1usize << 40, 1 << 62, isize::MAX as usize] {
        let x = ArrayView2::<f32>::from_shape((0, width), &[]).unwrap();
        for c in all_combiners() {
            let r = catch_unwind(AssertUnwindSafe(|| c.combine(x, x)));
            let r = r.unwrap_or_else(|_| panic!("{c} panicked on shape (0, {width})"));
            let w = c.output_dim(width);
            if w <= isize::MAX as usize {
                assert_eq!(r.unwrap().dim(), (0, w), "{c}");
            } else {
                assert!(matches!(r, Err(Error::Unsupported(_))), "{c}: {r:?}");
            }
        }
    }
}
