//! [`Concat`] (the naive, order-dependent baseline) and [`ConcatSwapAverage`].

use ndarray::{ArrayView2, ArrayViewMut2, Zip, s};

use super::{LinearDecomposition, PairCombiner};
use crate::error::Result;

/// Plain concatenation `[x|y]`; output width `2d`; **not symmetric**.
///
/// This is the naive model the crate exists to replace: the head sees which item came
/// first, so `f(x, y) != f(y, x)` in general. It is here as a baseline for comparisons
/// and for consistency training (see [`TrainConfig::with_consistency`](crate::TrainConfig::with_consistency)).
/// Gradient: `dx = g[:, ..d]`, `dy = g[:, d..]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Concat;

/// Concatenation in both orders: rows `[x|y]` (view 0) and `[y|x]` (view 1); output width
/// `2d`, two views. The classifier averages the head's two logits,
/// `logit = (h([x|y]) + h([y|x])) / 2`, which is exactly symmetric because the two terms
/// swap and IEEE addition commutes. Keeps all information of `[x|y]` at twice the cost.
///
/// Gradient: `dx = g0[:, ..d] + g1[:, d..]`, `dy = g0[:, d..] + g1[:, ..d]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConcatSwapAverage;

fn write_concat(a: ArrayView2<f32>, b: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) {
    let d = a.ncols();
    out.slice_mut(s![.., ..d]).assign(&a);
    out.slice_mut(s![.., d..]).assign(&b);
}

/// `da += g[:, ..d]`, `db += g[:, d..]`.
fn add_split(g: ArrayView2<f32>, da: ArrayViewMut2<f32>, db: ArrayViewMut2<f32>) {
    let d = da.ncols();
    Zip::from(da)
        .and(g.slice(s![.., ..d]))
        .for_each(|t, &v| *t += v);
    Zip::from(db)
        .and(g.slice(s![.., d..]))
        .for_each(|t, &v| *t += v);
}

impl PairCombiner for Concat {
    fn name(&self) -> String {
        "concat".to_owned()
    }
    fn output_dim(&self, d: usize) -> usize {
        // Saturates: a width read from a file must not overflow (no real input is this wide).
        d.saturating_mul(2)
    }
    fn is_symmetric(&self) -> bool {
        false
    }
    fn linear_decomposition(&self) -> LinearDecomposition {
        LinearDecomposition::Split
    }
    fn propagates_non_finite(&self) -> bool {
        true
    }
    fn forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        out: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_forward(x, y, &out)?;
        write_concat(x, y, out);
        Ok(())
    }
    fn backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        grad: ArrayView2<f32>,
        dx: ArrayViewMut2<f32>,
        dy: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_backward(x, y, grad, &dx, &dy)?;
        add_split(grad, dx, dy);
        Ok(())
    }
}

impl PairCombiner for ConcatSwapAverage {
    fn name(&self) -> String {
        "concat_swap_average".to_owned()
    }
    fn output_dim(&self, d: usize) -> usize {
        // Saturates: a width read from a file must not overflow (no real input is this wide).
        d.saturating_mul(2)
    }
    fn n_views(&self) -> usize {
        2
    }
    fn is_symmetric(&self) -> bool {
        true
    }
    fn linear_decomposition(&self) -> LinearDecomposition {
        LinearDecomposition::SplitSwap
    }
    fn propagates_non_finite(&self) -> bool {
        true
    }
    fn forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        mut out: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_forward(x, y, &out)?;
        let n = x.nrows();
        write_concat(x, y, out.slice_mut(s![..n, ..]));
        write_concat(y, x, out.slice_mut(s![n.., ..]));
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
        let n = x.nrows();
        add_split(grad.slice(s![..n, ..]), dx.view_mut(), dy.view_mut());
        add_split(grad.slice(s![n.., ..]), dy, dx);
        Ok(())
    }
}
