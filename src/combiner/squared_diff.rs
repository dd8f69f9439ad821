//! [`SquaredDiff`]: `(x - y)^2`.

use super::{Elementwise, elementwise_combiner};

/// Element-wise squared difference `out = (x - y)^2`; output width `d`; every value `>= 0`.
///
/// Symmetric because `x - y == -(y - x)` in IEEE arithmetic and the square drops the
/// sign. Gradient: `dx = 2 g (x - y)`, `dy = -dx` (both 0 at `x == y`). With the
/// [distance head](crate::HeadConfig::Distance) it gives the parameter-free classifier
/// `P(different) = 1 - exp(-sum_i d_i^2)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SquaredDiff;

impl Elementwise for SquaredDiff {
    #[inline]
    fn op(x: f32, y: f32) -> f32 {
        let d = x - y;
        d * d
    }
    #[inline]
    fn grad(x: f32, y: f32, g: f32) -> (f32, f32) {
        let t = 2.0 * g * (x - y);
        (t, -t)
    }
}

elementwise_combiner!(SquaredDiff, "squared_diff", nonnegative = true);
