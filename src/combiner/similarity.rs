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
