//! [`Max`]: `max(x, y)`.

use super::{Elementwise, elementwise_combiner};

/// Element-wise maximum; output width `d`.
///
/// Order-independent rules make it exactly symmetric: `max(-0.0, +0.0) = +0.0` whichever
/// side holds which zero, and at a tie `x == y` the gradient `g` is split equally,
/// `dx = dy = g / 2`. Otherwise the larger side takes all of `g`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Max;

impl Elementwise for Max {
    #[inline]
    fn op(x: f32, y: f32) -> f32 {
        if x > y {
            x
        } else if y > x {
            y
        } else if x == y {
            // Equal values; only +0/-0 differ in bits. Pick +0 for zeros.
            if x == 0.0 { 0.0 } else { x }
        } else {
            // A NaN on either side (validated inputs never reach here).
            f32::NAN
        }
    }
    #[inline]
    fn grad(x: f32, y: f32, g: f32) -> (f32, f32) {
        if x > y {
            (g, 0.0)
        } else if y > x {
            (0.0, g)
        } else {
            let half = 0.5 * g;
            (half, half)
        }
    }
}

// `max(-inf, 3) = 3` hides a bad input, so prediction must check Max's inputs themselves.
elementwise_combiner!(Max, "max", nonnegative = false, propagates = false);
