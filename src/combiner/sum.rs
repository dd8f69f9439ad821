//! [`Sum`]: `x + y`.

use super::{Elementwise, elementwise_combiner};

/// Element-wise sum `out = x + y`; output width `d`; symmetric because IEEE addition
/// commutes. Gradient: `dx = dy = g`.
///
/// Keeps where the pair sits, loses how far apart the items are; a linear first layer
/// sees `W x + W y`, so the head cannot tell `(a, b)` from `(b, a)` nor from `(a + b, 0)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sum;

impl Elementwise for Sum {
    #[inline]
    fn op(x: f32, y: f32) -> f32 {
        x + y
    }
    #[inline]
    fn grad(_x: f32, _y: f32, g: f32) -> (f32, f32) {
        (g, g)
    }
}

elementwise_combiner!(Sum, "sum", nonnegative = false, linear = Shared);
