//! Finite differences for checking analytic gradients.

use ndarray::Array2;
use proptest::prelude::*;
use sympair::{Combiner, PairCombiner};

/// `sum_ij g_ij combine(x, y)_ij` in f64: a scalar whose gradient with respect to `x` and
/// `y` is what `PairCombiner::backward` returns for the upstream gradient `g`.
pub fn weighted_output(c: &Combiner, x: &Array2<f32>, y: &Array2<f32>, g: &Array2<f32>) -> f64 {
    let out = c.combine(x.view(), y.view()).expect("combine");
    out.iter()
        .zip(g.iter())
        .map(|(&o, &w)| f64::from(o) * f64::from(w))
        .sum()
}

/// Fails the case unless a central difference `num` and an analytic derivative `ana`
/// agree within `2e-3 * (1 + max(|num|, |ana|))`: the tolerance for plain central
/// differences at a step of `1e-2` on smooth functions.
pub fn assert_close(num: f64, ana: f64, what: &str) -> Result<(), TestCaseError> {
    let tol = 2e-3 * (1.0 + num.abs().max(ana.abs()));
    prop_assert!(
        (num - ana).abs() <= tol,
        "{what}: finite difference {num} vs analytic {ana}"
    );
    Ok(())
}

/// Steps tried by [`fd_check`], largest first.
pub const FD_STEPS: [f32; 3] = [1e-2, 2.5e-3, 1e-3];

/// Richardson extrapolation of central differences, `(4 D(h/2) - D(h)) / 3`: error
/// `O(h^4)` instead of `O(h^2)`.
pub fn richardson(central: &mut impl FnMut(f32) -> f64, h: f32) -> f64 {
    let coarse = central(h);
    let fine = central(h / 2.0);
    (4.0 * fine - coarse) / 3.0
}

/// Checks `analytic` against Richardson-extrapolated central differences `central(h)`,
/// within `abs + rel * max(|numeric|, |analytic|) + 3 noise / h`, where `noise` bounds
/// the rounding error of one evaluation of the function (`3 noise / h` is what it can
/// do to the extrapolated difference: `(4 * 2 + 1) / 3` times `noise / h`).
///
/// The function is computed in f32, so its rounding grows with its size: a loss of 43
/// (logits up to 183, met on a random case) is good to ~1e-6 only, which at h = 1e-3
/// is a noise of ~3e-3 on the difference. Hence the `noise` term, and hence steps no
/// smaller than 1e-3. Yet at h = 1e-2 the estimate can be far off where the loss is
/// strongly curved: the cosine of two short encoded vectors, for example (worked by hand
/// on a failing case: central differences of 0.286 at h = 1e-2, 0.1987 at 3e-3, 0.1889 at
/// 3e-4, against an analytic 0.18877). So smaller steps are tried when the largest
/// disagrees. A wrong gradient disagrees at every step.
pub fn fd_check(
    mut central: impl FnMut(f32) -> f64,
    analytic: f64,
    noise: f64,
    abs: f64,
    rel: f64,
) -> Result<(), String> {
    let mut tried = Vec::new();
    for h in FD_STEPS {
        let numeric = richardson(&mut central, h);
        let tol = abs + rel * numeric.abs().max(analytic.abs()) + 3.0 * noise / f64::from(h);
        if (numeric - analytic).abs() <= tol {
            return Ok(());
        }
        tried.push(format!("{numeric} at h = {h} (tol {tol:.2e})"));
    }
    Err(format!(
        "analytic {analytic} vs numeric {}",
        tried.join(", ")
    ))
}

/// Rounding bound for a sum of f32 values: a few units in the last place of each term
/// (`4 * EPSILON * (|v| + 1)`, the `+ 1` for cancellation inside each value).
pub fn f32_noise(values: impl IntoIterator<Item = f64>) -> f64 {
    values
        .into_iter()
        .map(|v| 4.0 * f64::from(f32::EPSILON) * (v.abs() + 1.0))
        .sum()
}
