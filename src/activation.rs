//! Element-wise activation functions for hidden layers.
//!
//! | variant | `f(z)` | `f'(z)` |
//! |---|---|---|
//! | [`Relu`](Activation::Relu) | `max(z, 0)` | `1` if `z > 0`, else `0` |
//! | [`LeakyRelu`](Activation::LeakyRelu) | `z` if `z > 0`, else `0.01 z` | `1` or `0.01` |
//! | [`Tanh`](Activation::Tanh) | `tanh z` | `1 - tanh^2 z` |
//! | [`Gelu`](Activation::Gelu) | `z/2 (1 + tanh(sqrt(2/pi)(z + 0.044715 z^3)))` | its derivative |
//!
//! GELU uses the tanh approximation (as in BERT and PyTorch's `approximate="tanh"`).

use ndarray::{ArrayView2, ArrayViewMut2, Zip};
use serde::{Deserialize, Serialize};

/// Slope of [`Activation::LeakyRelu`] for negative inputs.
pub const LEAKY_RELU_SLOPE: f32 = 0.01;

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// A hidden-layer activation. The default is [`Activation::Relu`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activation {
    /// `max(z, 0)`.
    #[default]
    Relu,
    /// `z` for `z > 0`, `0.01 z` otherwise.
    LeakyRelu,
    /// Hyperbolic tangent.
    Tanh,
    /// Gaussian error linear unit, tanh approximation.
    Gelu,
}

impl Activation {
    /// Applies the activation to one value.
    #[inline]
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    z
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu => {
                if z > 0.0 {
                    z
                } else {
                    LEAKY_RELU_SLOPE * z
                }
            }
            Activation::Tanh => z.tanh(),
            Activation::Gelu => {
                0.5 * z * (1.0 + (SQRT_2_OVER_PI * (z + GELU_C * z * z * z)).tanh())
            }
        }
    }

    /// Derivative `f'(z)`, given the pre-activation `z` and the output `a = f(z)`.
    #[inline]
    pub fn derivative(self, z: f32, a: f32) -> f32 {
        match self {
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu => {
                if z > 0.0 {
                    1.0
                } else {
                    LEAKY_RELU_SLOPE
                }
            }
            Activation::Tanh => 1.0 - a * a,
            Activation::Gelu => {
                let u = SQRT_2_OVER_PI * (z + GELU_C * z * z * z);
                let t = u.tanh();
                let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * z * z);
                0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * du
            }
        }
    }

    /// Whether He initialisation (`std = sqrt(2 / fan_in)`) suits this activation; otherwise
    /// Xavier (`std = sqrt(2 / (fan_in + fan_out))`) is used.
    pub fn uses_he_init(self) -> bool {
        !matches!(self, Activation::Tanh)
    }

    /// `a = f(z)` element-wise.
    pub(crate) fn forward(self, z: ArrayView2<f32>, a: ArrayViewMut2<f32>) {
        Zip::from(a).and(z).for_each(|a, &z| *a = self.apply(z));
    }

    /// `dz = da * f'(z)` element-wise, in place on `da`.
    pub(crate) fn backward_in_place(
        self,
        z: ArrayView2<f32>,
        a: ArrayView2<f32>,
        da: ArrayViewMut2<f32>,
    ) {
        Zip::from(da)
            .and(z)
            .and(a)
            .for_each(|d, &z, &a| *d *= self.derivative(z, a));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_matches_central_difference() {
        for act in [
            Activation::Relu,
            Activation::LeakyRelu,
            Activation::Tanh,
            Activation::Gelu,
        ] {
            for &z in &[-2.5f32, -0.7, -0.1, 0.3, 1.1, 3.0] {
                let h = 1e-3f32;
                let num = (act.apply(z + h) - act.apply(z - h)) / (2.0 * h);
                let ana = act.derivative(z, act.apply(z));
                assert!(
                    (num - ana).abs() < 2e-3,
                    "{act:?} at {z}: numeric {num} vs analytic {ana}"
                );
            }
        }
    }
}
