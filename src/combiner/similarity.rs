//! [`Similarity`]: one fixed similarity score per pair.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};
use serde::{Deserialize, Serialize};

use super::PairCombiner;
use crate::error::Result;

/// Guards the cosine denominator: `cos = x.y / sqrt(max(|x|^2 |y|^2, EPS))`.
const COSINE_EPS: f64 = 1e-24;

/// A fixed similarity score, output width 1. With a linear head
/// ([`MlpConfig::linear`](crate::MlpConfig::linear)) this is the calibrated-similarity
/// baseline `P(similar) = sigmoid(a * s(x, y) + b)`: it learns only how similar is
/// similar enough. Such a head starts at slope `a = 1`, bias `b = 0`.
///
/// Sums run over `i = 0..d` in order and in `f64`; each term is symmetric in `x, y`, so
/// the score is exactly symmetric.
///
/// | kind | `s(x, y)` | gradient `ds/dx` (and mirrored for `y`) |
/// |---|---|---|
/// | `Cosine` | `x.y / sqrt(max(abs(x)^2 abs(y)^2, 1e-24))` | `y / (abs(x) abs(y)) - s x / abs(x)^2`; `0` where `abs(x)^2 abs(y)^2 <= 1e-24` |
/// | `Dot` | `x.y` | `y` |
/// | `NegL1` | `-sum abs(x_i - y_i)` | `-sign(x - y)`, `0` at ties |
/// | `NegSquaredL2` | `-sum (x_i - y_i)^2` | `-2 (x - y)` |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Similarity {
    /// Cosine similarity.
    Cosine,
    /// Dot product.
    Dot,
    /// Negative L1 distance.
    NegL1,
    /// Negative squared Euclidean distance.
    NegSquaredL2,
}

struct Stats {
    dot: f64,
    xx: f64,
    yy: f64,
    l1: f64,
    l2: f64,
}

fn stats(x: ArrayView1<f32>, y: ArrayView1<f32>) -> Stats {
    let mut s = Stats {
        dot: 0.0,
        xx: 0.0,
        yy: 0.0,
        l1: 0.0,
        l2: 0.0,
    };
    Zip::from(&x).and(&y).for_each(|&a, &b| {
        let (a, b) = (f64::from(a), f64::from(b));
        s.dot += a * b;
        s.xx += a * a;
        s.yy += b * b;
        let d = a - b;
        s.l1 += d.abs();
        s.l2 += d * d;
    });
    s
}

impl Similarity {
    fn score(self, s: &Stats) -> f64 {
        match self {
            Similarity::Cosine => s.dot / (s.xx * s.yy).max(COSINE_EPS).sqrt(),
            Similarity::Dot => s.dot,
            Similarity::NegL1 => -s.l1,
            Similarity::NegSquaredL2 => -s.l2,
        }
    }

    /// Adds `g * ds/dx` to `dx` and `g * ds/dy` to `dy` for one pair.
    fn add_grad(
        self,
        x: ArrayView1<f32>,
        y: ArrayView1<f32>,
        g: f64,
        dx: ArrayViewMut1<f32>,
        dy: ArrayViewMut1<f32>,
    ) {
        let st = stats(x, y);
        let cos_terms = match self {
            Similarity::Cosine => {
                let prod = st.xx * st.yy;
                if prod > COSINE_EPS {
                    let r = prod.sqrt();
                    let s = st.dot / r;
                    Some((1.0 / r, s / st.xx, s / st.yy))
                } else {
                    // A zero (or vanishing) vector: cosine is flat there by convention,
                    // like `abs` at 0; a gradient of 1e12 would wreck training.
                    Some((0.0, 0.0, 0.0))
                }
            }
            _ => None,
        };
        Zip::from(dx)
            .and(dy)
            .and(&x)
            .and(&y)
            .for_each(|dx, dy, &a, &b| {
                let (a, b) = (f64::from(a), f64::from(b));
                let (ga, gb) = match (self, cos_terms) {
                    (Similarity::Cosine, Some((inv_r, sx, sy))) => {
                        (b * inv_r - sx * a, a * inv_r - sy * b)
                    }
                    (Similarity::Dot, _) => (b, a),
                    (Similarity::NegL1, _) => {
                        if a > b {
                            (-1.0, 1.0)
                        } else if b > a {
                            (1.0, -1.0)
                        } else {
                            (0.0, 0.0)
                        }
                    }
                    (Similarity::NegSquaredL2, _) => (-2.0 * (a - b), 2.0 * (a - b)),
                    (Similarity::Cosine, None) => (0.0, 0.0),
                };
                *dx += (g * ga) as f32;
                *dy += (g * gb) as f32;
            });
    }
}

impl PairCombiner for Similarity {
    fn name(&self) -> String {
        match self {
            Similarity::Cosine => "cosine",
            Similarity::Dot => "dot",
            Similarity::NegL1 => "neg_l1",
            Similarity::NegSquaredL2 => "neg_squared_l2",
        }
        .to_owned()
    }
    fn output_dim(&self, _d: usize) -> usize {
        1
    }
    fn is_symmetric(&self) -> bool {
        // Every kind sums terms symmetric in `x, y` in the same order.
        true
    }
    fn forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        mut out: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_forward(x, y, &out)?;
        for ((xr, yr), mut o) in x.rows().into_iter().zip(y.rows()).zip(out.rows_mut()) {
            o.fill(self.score(&stats(xr, yr)) as f32);
        }
        Ok(())
    }
    fn backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        grad: ArrayView2<f32>,
        mut dx: ArrayViewMut2<f32>,
        mut dy: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_backward(x, y, grad, &dx, &dy)?;
        for (i, ((xr, yr), g)) in x
            .rows()
            .into_iter()
            .zip(y.rows())
            .zip(grad.rows())
            .enumerate()
        {
            let g = g.iter().map(|&v| f64::from(v)).sum::<f64>();
            self.add_grad(xr, yr, g, dx.row_mut(i), dy.row_mut(i));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    const KINDS: [Similarity; 4] = [
        Similarity::Cosine,
        Similarity::Dot,
        Similarity::NegL1,
        Similarity::NegSquaredL2,
    ];

    /// Two pairs; the first has a tie (`x_2 == y_2`), so `NegL1`'s zero gradient there
    /// is checked too.
    fn pairs() -> (Array2<f32>, Array2<f32>) {
        (
            array![[1.0f32, -2.0, 0.5], [0.25, 4.0, -1.5]],
            array![[3.0f32, 0.25, 0.5], [-2.0, 1.0, 2.5]],
        )
    }

    /// `s(x, y)` straight from the table in the type's docs, in `f64`.
    fn reference_score(kind: Similarity, x: &[f64], y: &[f64]) -> f64 {
        let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
        let nx = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        let ny = y.iter().map(|b| b * b).sum::<f64>().sqrt();
        match kind {
            Similarity::Cosine => dot / (nx * ny),
            Similarity::Dot => dot,
            Similarity::NegL1 => -x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum::<f64>(),
            Similarity::NegSquaredL2 => -x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>(),
        }
    }

    /// `ds/dx` from the table (`ds/dy` is the same with `x, y` swapped).
    fn reference_grad(kind: Similarity, x: &[f64], y: &[f64]) -> Vec<f64> {
        let nx2: f64 = x.iter().map(|a| a * a).sum();
        let ny2: f64 = y.iter().map(|b| b * b).sum();
        let s = reference_score(kind, x, y);
        x.iter()
            .zip(y)
            .map(|(&a, &b)| match kind {
                Similarity::Cosine => b / (nx2.sqrt() * ny2.sqrt()) - s * a / nx2,
                Similarity::Dot => b,
                Similarity::NegL1 => {
                    if a == b {
                        0.0
                    } else {
                        -(a - b).signum()
                    }
                }
                Similarity::NegSquaredL2 => -2.0 * (a - b),
            })
            .collect()
    }

    fn row(a: ndarray::ArrayView1<f32>) -> Vec<f64> {
        a.iter().map(|&v| f64::from(v)).collect()
    }

    fn close(got: f32, want: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-6 * want.abs().max(1.0)
    }

    #[test]
    fn similarity_scores_match_their_definitions() {
        let (x, y) = pairs();
        for kind in KINDS {
            assert_eq!(kind.output_dim(3), 1);
            assert!(kind.is_symmetric());
            let mut out = Array2::from_elem((2, 1), f32::NAN);
            kind.forward(x.view(), y.view(), out.view_mut()).unwrap();
            for i in 0..2 {
                let want = reference_score(kind, &row(x.row(i)), &row(y.row(i)));
                assert!(
                    close(out[[i, 0]], want),
                    "{kind:?} row {i}: {} vs {want}",
                    out[[i, 0]]
                );
            }
        }
    }

    #[test]
    fn similarity_gradients_match_their_definitions_and_accumulate() {
        let (x, y) = pairs();
        // dL/ds per pair, not 1, so a lost factor shows; dx, dy start at 1, so
        // overwriting instead of adding shows.
        let g = array![[2.0f32], [-0.5]];
        for kind in KINDS {
            let mut dx = Array2::from_elem(x.raw_dim(), 1.0f32);
            let mut dy = Array2::from_elem(y.raw_dim(), 1.0f32);
            kind.backward(x.view(), y.view(), g.view(), dx.view_mut(), dy.view_mut())
                .unwrap();
            for i in 0..2 {
                let (xr, yr) = (row(x.row(i)), row(y.row(i)));
                let gi = f64::from(g[[i, 0]]);
                let want_x = reference_grad(kind, &xr, &yr);
                let want_y = reference_grad(kind, &yr, &xr);
                for j in 0..3 {
                    assert!(
                        close(dx[[i, j]], 1.0 + gi * want_x[j]),
                        "{kind:?} dx[{i},{j}]: {} vs {}",
                        dx[[i, j]],
                        1.0 + gi * want_x[j]
                    );
                    assert!(
                        close(dy[[i, j]], 1.0 + gi * want_y[j]),
                        "{kind:?} dy[{i},{j}]: {} vs {}",
                        dy[[i, j]],
                        1.0 + gi * want_y[j]
                    );
                }
            }
        }
    }

    #[test]
    fn cosine_is_flat_at_a_zero_vector() {
        let (x, y) = (array![[0.0f32, 0.0]], array![[3.0f32, -4.0]]);
        let c = Similarity::Cosine;
        let mut out = Array2::from_elem((1, 1), f32::NAN);
        c.forward(x.view(), y.view(), out.view_mut()).unwrap();
        assert_eq!(out[[0, 0]].to_bits(), 0.0f32.to_bits());
        let mut dx = Array2::zeros((1, 2));
        let mut dy = Array2::zeros((1, 2));
        c.backward(
            x.view(),
            y.view(),
            array![[1.0f32]].view(),
            dx.view_mut(),
            dy.view_mut(),
        )
        .unwrap();
        assert!(
            dx.iter().chain(dy.iter()).all(|&v| v == 0.0),
            "{dx:?} {dy:?}"
        );
    }

    #[test]
    fn similarity_names_are_their_serde_names() {
        for kind in KINDS {
            let serde_name = serde_json::to_value(kind).unwrap();
            assert_eq!(serde_name.as_str(), Some(kind.name().as_str()));
        }
    }

    /// The flat region includes its edge: at `abs(x)^2 abs(y)^2 == 1e-24` exactly the
    /// gradient is still 0 (the table's `<=`).
    #[test]
    fn cosine_is_flat_at_the_edge_of_its_guard() {
        // sum_i (k_i 2^-66)^2 == 1e-24 exactly in f64 (greedy sum of squares of 24-bit
        // integers; every partial sum is a multiple of 2^-132 below 2^-79, so exact).
        let mut ks = vec![16_777_215u32; 19];
        ks.extend([9_823_133, 2971, 64, 10, 3, 2, 1]);
        let two_pow_minus_66 = f32::from_bits((127 - 66) << 23);
        let x: Vec<f32> = ks.iter().map(|&k| k as f32 * two_pow_minus_66).collect();
        let mut y = vec![0.0f32; x.len()];
        y[0] = 1.0;
        let (x, y) = (
            Array2::from_shape_vec((1, x.len()), x).unwrap(),
            Array2::from_shape_vec((1, y.len()), y).unwrap(),
        );
        let st = stats(x.row(0), y.row(0));
        assert_eq!(st.xx * st.yy, COSINE_EPS, "the pair must sit on the edge");
        let mut dx = Array2::zeros(x.raw_dim());
        let mut dy = Array2::zeros(y.raw_dim());
        Similarity::Cosine
            .backward(
                x.view(),
                y.view(),
                array![[1.0f32]].view(),
                dx.view_mut(),
                dy.view_mut(),
            )
            .unwrap();
        assert!(
            dx.iter().chain(dy.iter()).all(|&v| v == 0.0),
            "{dx:?} {dy:?}"
        );
    }
}
