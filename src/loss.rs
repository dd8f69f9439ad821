//! Losses computed from logits in numerically stable forms.
//!
//! Binary cross-entropy of logit `z` and label `t` in `{0, 1}`, with positive-class
//! weight `w` (PyTorch's `pos_weight`):
//!
//! `L(z, t) = w t softplus(-z) + (1 - t) softplus(z)`,
//! `softplus(z) = max(z, 0) + ln(1 + e^(-|z|))`,
//!
//! which never exponentiates a large positive number, so it is finite for any finite
//! `z` (e.g. `+-1e4`). Its derivative is `dL/dz = w t (sigmoid(z) - 1) + (1 - t) sigmoid(z)`.
//! With `w = 1`, `L = max(z, 0) - z t + ln(1 + e^(-|z|))`.
//!
//! The consistency penalty for order-dependent models is
//! `lambda * mean_i (logit(x_i, y_i) - logit(y_i, x_i))^2`.

/// Logistic sigmoid `1 / (1 + e^(-z))`, stable for any `z`.
///
/// ```
/// assert_eq!(sympair::sigmoid(0.0), 0.5);
/// assert_eq!(sympair::sigmoid(-1e4), 0.0);
/// assert_eq!(sympair::sigmoid(1e4), 1.0);
/// ```
#[inline]
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^z)` without overflow, in `f64`.
#[inline]
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// Binary cross-entropy of one logit `z` against label `t` (0 or 1) with positive-class
/// weight `pos_weight` (1 for the plain loss). Computed in `f64`.
///
/// ```
/// use sympair::bce_with_logits;
/// assert!((bce_with_logits(0.0, 1.0, 1.0) - std::f64::consts::LN_2).abs() < 1e-12);
/// assert_eq!(bce_with_logits(1e4, 0.0, 1.0), 1e4); // finite, not inf
/// ```
#[inline]
pub fn bce_with_logits(z: f32, t: f32, pos_weight: f32) -> f64 {
    let (z, t, w) = (f64::from(z), f64::from(t), f64::from(pos_weight));
    w * t * softplus(-z) + (1.0 - t) * softplus(z)
}

/// `dL/dz` of [`bce_with_logits`].
#[inline]
pub fn bce_with_logits_grad(z: f32, t: f32, pos_weight: f32) -> f32 {
    let s = sigmoid(z);
    pos_weight * t * (s - 1.0) + (1.0 - t) * s
}

/// Sum of BCE over `logits`; writes `scale * dL/dz_i` into `grad` (`scale` is 1 over the
/// size of the whole batch, which may span several calls).
pub(crate) fn bce_batch(
    logits: &[f32],
    labels: &[f32],
    pos_weight: f32,
    scale: f32,
    grad: &mut [f32],
) -> f64 {
    let mut total = 0.0f64;
    for ((&z, &t), g) in logits.iter().zip(labels).zip(grad.iter_mut()) {
        total += bce_with_logits(z, t, pos_weight);
        *g = bce_with_logits_grad(z, t, pos_weight) * scale;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_is_finite_and_exact_for_extreme_logits() {
        // For z = 1e4, t = 0: L = z exactly; for t = 1, L = ln(1 + e^-1e4) = 0.
        assert_eq!(bce_with_logits(1e4, 0.0, 1.0), 1e4);
        assert_eq!(bce_with_logits(1e4, 1.0, 1.0), 0.0);
        assert_eq!(bce_with_logits(-1e4, 1.0, 1.0), 1e4);
        assert_eq!(bce_with_logits(-1e4, 0.0, 1.0), 0.0);
        assert_eq!(bce_with_logits_grad(1e4, 0.0, 1.0), 1.0);
        assert_eq!(bce_with_logits_grad(-1e4, 1.0, 1.0), -1.0);
    }

    #[test]
    fn bce_matches_naive_formula_for_moderate_logits() {
        for &z in &[-5.0f32, -1.0, -0.1, 0.0, 0.3, 2.0, 7.0] {
            for &t in &[0.0f32, 1.0] {
                for &w in &[1.0f32, 3.0] {
                    let p = 1.0 / (1.0 + (-f64::from(z)).exp());
                    let naive = -(f64::from(w) * f64::from(t) * p.ln()
                        + (1.0 - f64::from(t)) * (1.0 - p).ln());
                    let got = bce_with_logits(z, t, w);
                    assert!((got - naive).abs() < 1e-9, "z={z} t={t} w={w}");
                }
            }
        }
    }

    #[test]
    fn bce_gradient_matches_central_difference() {
        for &z in &[-3.0f32, -0.5, 0.0, 0.8, 4.0] {
            for &t in &[0.0f32, 1.0] {
                let h = 1e-3f32;
                let num = (bce_with_logits(z + h, t, 2.0) - bce_with_logits(z - h, t, 2.0))
                    / (2.0 * f64::from(h));
                let ana = f64::from(bce_with_logits_grad(z, t, 2.0));
                assert!((num - ana).abs() < 1e-3, "z={z} t={t}: {num} vs {ana}");
            }
        }
    }

    #[test]
    fn batch_sums_losses_and_scales_gradients() {
        let (logits, labels) = ([-1.5f32, 0.0, 2.0], [1.0f32, 0.0, 0.0]);
        let mut grad = [f32::NAN; 3];
        let total = bce_batch(&logits, &labels, 2.0, 0.25, &mut grad);
        let want: f64 = (0..3)
            .map(|i| bce_with_logits(logits[i], labels[i], 2.0))
            .sum();
        assert_eq!(total, want);
        for i in 0..3 {
            assert_eq!(
                grad[i],
                bce_with_logits_grad(logits[i], labels[i], 2.0) * 0.25
            );
        }
    }

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        for &z in &[0.5f32, 3.0, 20.0, 100.0] {
            assert!((sigmoid(z) + sigmoid(-z) - 1.0).abs() < 1e-6);
        }
        assert!(sigmoid(-200.0) >= 0.0);
        assert!(sigmoid(f32::MAX).is_finite());
    }
}
