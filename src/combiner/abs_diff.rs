//! [`AbsDiff`]: `|x - y|`.

use super::{Elementwise, elementwise_combiner};

/// Element-wise absolute difference `out = |x - y|`; output width `d`; every value `>= 0`.
///
/// Symmetric because IEEE subtraction rounds `x - y` and `y - x` to exact negatives.
/// Gradient: `dx = g sign(x - y)`, `dy = -dx`, with subgradient `0` at `x == y`.
/// After a shared encoder this is the classic siamese L1 network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AbsDiff;

impl Elementwise for AbsDiff {
    #[inline]
    fn op(x: f32, y: f32) -> f32 {
        (x - y).abs()
    }
    #[inline]
    fn grad(x: f32, y: f32, g: f32) -> (f32, f32) {
        if x > y {
            (g, -g)
        } else if y > x {
            (-g, g)
        } else {
            (0.0, 0.0)
        }
    }
}

elementwise_combiner!(AbsDiff, "abs_diff", nonnegative = true);
