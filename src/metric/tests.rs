//! Gradients of the metric losses against finite differences (in `f64` on the loss
//! definitions), and their invariance under swapping the two sides of every pair.

use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::MetricLoss;

fn random(n: usize, e: usize, seed: u64) -> Array2<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Array2::from_shape_fn((n, e), |_| rng.random_range(-1.0f32..1.0))
}

fn losses() -> [MetricLoss; 3] {
    [
        MetricLoss::Contrastive { margin: 1.5 },
        MetricLoss::Triplet { margin: 0.5 },
        MetricLoss::InfoNce { temperature: 0.3 },
    ]
}

const LABELS: [f32; 6] = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];

#[test]
fn metric_loss_gradients_match_central_differences() {
    let (a, b) = (random(6, 4, 1), random(6, 4, 2));
    for loss in losses() {
        let g = loss.eval(a.view(), b.view(), &LABELS);
        for side in 0..2 {
            let analytic = if side == 0 { &g.da } else { &g.db };
            for ((i, j), &ana) in analytic.indexed_iter() {
                let h = 2e-3f32;
                let at = |delta: f32| {
                    let (mut a2, mut b2) = (a.clone(), b.clone());
                    if side == 0 {
                        a2[[i, j]] += delta;
                    } else {
                        b2[[i, j]] += delta;
                    }
                    loss.eval(a2.view(), b2.view(), &LABELS).loss
                };
                let num = (at(h) - at(-h)) / (2.0 * f64::from(h));
                let tol = 2e-3 + 2e-2 * num.abs();
                assert!(
                    (num - f64::from(ana)).abs() < tol,
                    "{loss:?} side {side} [{i}, {j}]: numeric {num}, analytic {ana}"
                );
            }
        }
    }
}

#[test]
fn metric_losses_are_invariant_under_swapping_pair_sides() {
    let (a, b) = (random(6, 4, 3), random(6, 4, 4));
    for loss in losses() {
        let g = loss.eval(a.view(), b.view(), &LABELS);
        let s = loss.eval(b.view(), a.view(), &LABELS);
        assert!(
            (g.loss - s.loss).abs() <= 1e-12 * g.loss.abs().max(1.0),
            "{loss:?}"
        );
        assert!(g.loss > 0.0, "{loss:?}: the test batch must be active");
        for (x, y) in g.da.iter().zip(&s.db).chain(g.db.iter().zip(&s.da)) {
            assert!(
                (x - y).abs() <= 1e-6 * x.abs().max(1e-3),
                "{loss:?}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn metric_losses_without_similar_pairs_are_zero_for_in_batch_losses() {
    let (a, b) = (random(4, 3, 5), random(4, 3, 6));
    let none = [0.0f32; 4];
    for loss in [
        MetricLoss::Triplet { margin: 0.5 },
        MetricLoss::InfoNce { temperature: 0.1 },
    ] {
        let g = loss.eval(a.view(), b.view(), &none);
        assert_eq!(g.loss, 0.0);
        assert!(g.da.iter().chain(&g.db).all(|&v| v == 0.0));
    }
}
