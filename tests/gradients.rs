//! Analytic gradients against finite differences, and the symmetry of gradients.

mod common;

use common::finite_difference::{assert_close, weighted_output};
use common::*;
use ndarray::{Array2, s};
use proptest::prelude::*;
use proptest::test_runner::Config;
use sympair::{Combiner, PairCombiner, PairDataset};

/// Values away from the kinks of `max` and `abs`: `x` and `y` differ by at least 0.05.
fn smooth_pair(n: usize, d: usize) -> impl Strategy<Value = (Array2<f32>, Array2<f32>)> {
    (
        proptest::collection::vec(-2.0f32..2.0, n * d),
        proptest::collection::vec((0.05f32..1.5, any::<bool>()), n * d),
    )
        .prop_map(move |(x, gaps)| {
            let y: Vec<f32> = x
                .iter()
                .zip(&gaps)
                .map(|(&v, &(g, up))| if up { v + g } else { v - g })
                .collect();
            (matrix(n, d, x), matrix(n, d, y))
        })
}

fn backward(
    c: &Combiner,
    x: &Array2<f32>,
    y: &Array2<f32>,
    g: &Array2<f32>,
) -> (Array2<f32>, Array2<f32>) {
    let mut dx = Array2::zeros(x.raw_dim());
    let mut dy = Array2::zeros(y.raw_dim());
    c.backward(x.view(), y.view(), g.view(), dx.view_mut(), dy.view_mut())
        .unwrap();
    (dx, dy)
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn combiner_gradient_matches_finite_difference(
        (n, d, (x, y)) in (1usize..3, 1usize..6).prop_flat_map(|(n, d)| (Just(n), Just(d), smooth_pair(n, d))),
        seed in any::<u64>(),
    ) {
        for c in Combiner::builtins() {
            let rows = c.n_views() * n;
            let width = c.output_dim(d);
            let r = Array2::from_shape_fn((rows, width), |(i, j)| {
                ((seed.wrapping_add((i * 31 + j * 7) as u64) % 17) as f32 - 8.0) / 8.0
            });
            let (dx, dy) = backward(&c, &x, &y, &r);
            let h = 1e-2f32;
            for i in 0..n {
                for j in 0..d {
                    for (side, ana) in [(0, dx[[i, j]]), (1, dy[[i, j]])] {
                        let (mut xp, mut yp) = (x.clone(), y.clone());
                        let (mut xm, mut ym) = (x.clone(), y.clone());
                        if side == 0 {
                            xp[[i, j]] += h;
                            xm[[i, j]] -= h;
                        } else {
                            yp[[i, j]] += h;
                            ym[[i, j]] -= h;
                        }
                        let num = (weighted_output(&c, &xp, &yp, &r) - weighted_output(&c, &xm, &ym, &r))
                            / (2.0 * f64::from(h));
                        assert_close(num, f64::from(ana), &format!("{c} d{} [{i},{j}]", ["x", "y"][side]))?;
                    }
                }
            }
        }
    }

    #[test]
    fn combiner_gradients_mirror_under_swap((d, x, y) in sized_pair(), seed in any::<u64>()) {
        let x = matrix(1, d, x);
        let y = matrix(1, d, y);
        for c in symmetric_combiners() {
            let rows = c.n_views();
            let g = Array2::from_shape_fn((rows, c.output_dim(d)), |(i, j)| {
                ((seed.wrapping_add((i * 13 + j) as u64) % 11) as f32 - 5.0) / 4.0
            });
            // For (y, x) the views come in swapped order, so the upstream gradient does too.
            let mut g_swapped = g.clone();
            if rows == 2 {
                g_swapped.slice_mut(s![0..1, ..]).assign(&g.slice(s![1..2, ..]));
                g_swapped.slice_mut(s![1..2, ..]).assign(&g.slice(s![0..1, ..]));
            }
            let (dx, dy) = backward(&c, &x, &y, &g);
            let (dy2, dx2) = backward(&c, &y, &x, &g_swapped);
            prop_assert_eq!(bits(&dx), bits(&dx2), "combiner {} dx", c);
            prop_assert_eq!(bits(&dy), bits(&dy2), "combiner {} dy", c);
        }
    }

    #[test]
    fn head_gradient_matches_finite_difference(
        (x, y) in smooth_pair(3, 3),
        seed in 0u64..1000,
    ) {
        let data = PairDataset::new(x, y, vec![1.0, 0.0, 1.0]).unwrap();
        for c in Combiner::builtins() {
            let mut model = smooth_model(3, c.clone(), seed);
            let (_, grad) = model.loss_gradient(&data).unwrap();
            let p0 = model.parameters();
            let h = 1e-2f32;
            for k in 0..p0.len() {
                let mut p = p0.clone();
                p[k] = p0[k] + h;
                model.set_parameters(&p).unwrap();
                let lp = model.loss_gradient(&data).unwrap().0;
                p[k] = p0[k] - h;
                model.set_parameters(&p).unwrap();
                let lm = model.loss_gradient(&data).unwrap().0;
                model.set_parameters(&p0).unwrap();
                let num = (lp - lm) / (2.0 * f64::from(h));
                assert_close(num, f64::from(grad[k]), &format!("{c} parameter {k}"))?;
            }
        }
    }

    #[test]
    fn parameter_gradient_is_the_same_for_both_orders((x, y) in pair(6), seed in 0u64..1000) {
        let xy = PairDataset::new(matrix(1, 6, x.clone()), matrix(1, 6, y.clone()), vec![1.0]).unwrap();
        let yx = PairDataset::new(matrix(1, 6, y), matrix(1, 6, x), vec![1.0]).unwrap();
        for c in symmetric_combiners() {
            let model = smooth_model(6, c.clone(), seed);
            let (la, ga) = model.loss_gradient(&xy).unwrap();
            let (lb, gb) = model.loss_gradient(&yx).unwrap();
            prop_assert_eq!(la.to_bits(), lb.to_bits(), "combiner {} loss", c);
            // Exact for every combiner: one view gives the head bit-identical rows; two
            // views are summed as (view 0) + (view 1), which the swap merely reorders.
            prop_assert_eq!(bits(&ga), bits(&gb), "combiner {}", c);
        }
    }
}
