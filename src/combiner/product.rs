//! [`Product`]: `x * y`.

use super::{Elementwise, elementwise_combiner};

/// Element-wise product `out = x * y`; output width `d`; symmetric because IEEE
/// multiplication commutes. Gradient: `dx = g y`, `dy = g x`.
///
/// A linear head on it is a diagonal bilinear form `sum_i w_i x_i y_i`; after a linear
/// shared encoder it becomes a low-rank symmetric bilinear form `sum_k (u_k . x)(u_k . y)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Product;

impl Elementwise for Product {
    #[inline]
    fn op(x: f32, y: f32) -> f32 {
        x * y
    }
    #[inline]
    fn grad(x: f32, y: f32, g: f32) -> (f32, f32) {
        (g * y, g * x)
    }
}

elementwise_combiner!(Product, "product", nonnegative = false);
