//! Probability calibration: a monotone map of the logit fitted on validation pairs.
//!
//! A trained classifier ranks pairs well long before its probabilities mean what they
//! say: early stopping, class weights, consistency penalties and small heads all leave
//! `sigmoid(logit)` over- or under-confident. A [`Calibration`] maps the raw logit `z` to
//! a calibrated logit, and the probability is the sigmoid of that:
//!
//! | method | calibrated logit | parameters |
//! |---|---|---|
//! | [`CalibrationMethod::Platt`] | `a z + b` | slope `a > 0`, intercept `b` |
//! | [`CalibrationMethod::Temperature`] | `z / t` | temperature `t > 0` |
//!
//! Both maps are strictly increasing scalar functions of the logit alone, so they keep
//! the ranking (ROC AUC, average precision) and, applied identically to the logits of
//! `(x, y)` and `(y, x)`, keep a symmetric model's probabilities equal bit for bit.
//!
//! **Fit on validation pairs, never on training pairs.** A model is over-confident on
//! the pairs it was trained on; a calibration fitted there learns that confidence back.
//! Use a held-out set (the one used for early stopping is fine), ideally split by item.
//!
//! **Fitting.** Both minimise the binary cross-entropy of the calibrated probabilities
//! against Platt's (1999) prior-corrected targets, `t+ = (N+ + 1) / (N+ + 2)` for
//! positives and `t- = 1 / (N- + 2)` for negatives (`N+`, `N-` the class counts). The
//! targets keep the optimum finite even when the validation pairs are perfectly
//! separated (plain 0/1 targets would send the slope to infinity), and differ from 0/1
//! by less than `1 / N`. Platt scaling is Newton's method with a backtracking line search
//! on `(a, b)` (Lin, Lin and Weng, 2007, "A note on Platt's probabilistic outputs for
//! support vector machines"); temperature scaling is the same on the single parameter
//! `1 / t`. Both run in `f64` and round the result to `f32` once. They are hand-written
//! because they are a few lines of a convex two-parameter problem: no optimisation crate
//! is needed, and the fit is exact to the last `f32` bit of its parameters (see the
//! scikit-learn reference values in `tests/decision.rs`).
//!
//! ```
//! use sympair::CalibrationMethod;
//! use sympair::calibration::Calibration;
//! // Logits twice as confident as the labels justify.
//! let logits = [-4.0f32, -2.0, -2.0, 0.0, 0.0, 2.0, 2.0, 4.0];
//! let labels = [0.0f32, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
//! let cal = Calibration::fit(CalibrationMethod::Temperature, &logits, &labels)?;
//! assert!(cal.temperature_param().unwrap() > 1.0); // softens the logits
//! assert!(cal.logit(2.0) < 2.0 && cal.logit(0.0) == 0.0);
//! # Ok::<(), sympair::Error>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::loss::sigmoid;

/// Which calibration [`Calibration::fit`] fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CalibrationMethod {
    /// Platt scaling: `sigmoid(a z + b)`, two parameters. Corrects both over-confidence
    /// and a shifted base rate; the usual choice.
    Platt,
    /// Temperature scaling: `sigmoid(z / t)`, one parameter. Keeps `z = 0` at
    /// probability 0.5; corrects over- or under-confidence only.
    Temperature,
}

impl fmt::Display for CalibrationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            CalibrationMethod::Platt => "platt",
            CalibrationMethod::Temperature => "temperature",
        })
    }
}

/// The serialised form, and the unchecked input of [`Calibration`]'s validation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Map {
    Platt { a: f32, b: f32 },
    Temperature { t: f32 },
}

/// A fitted calibration: a strictly increasing map of the logit (see the
/// [module docs](self)). Cannot be built invalid: every parameter is finite, the slope
/// and the temperature positive, also when read from a file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Map", into = "Map")]
pub struct Calibration(Map);

impl TryFrom<Map> for Calibration {
    type Error = Error;

    fn try_from(map: Map) -> Result<Self> {
        match map {
            Map::Platt { a, b } => Calibration::platt(a, b),
            Map::Temperature { t } => Calibration::temperature(t),
        }
    }
}

impl From<Calibration> for Map {
    fn from(c: Calibration) -> Self {
        c.0
    }
}

impl Calibration {
    /// Platt scaling with slope `a` (finite, `> 0`) and intercept `b` (finite).
    pub fn platt(a: f32, b: f32) -> Result<Self> {
        if !(a.is_finite() && a > 0.0) {
            return Err(Error::config(
                "calibration.platt.a",
                format!("must be finite and > 0 (a strictly increasing map), got {a}"),
            ));
        }
        if !b.is_finite() {
            return Err(Error::config(
                "calibration.platt.b",
                format!("must be finite, got {b}"),
            ));
        }
        Ok(Calibration(Map::Platt { a, b }))
    }

    /// Temperature scaling with temperature `t` (finite, `> 0`).
    pub fn temperature(t: f32) -> Result<Self> {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::config(
                "calibration.temperature.t",
                format!("must be finite and > 0, got {t}"),
            ));
        }
        Ok(Calibration(Map::Temperature { t }))
    }

    /// Fits `method` to raw `logits` of validation pairs and their `labels` (0 or 1).
    ///
    /// # Errors
    ///
    /// The input errors of the [`metrics`](crate::metrics) functions (lengths, empty,
    /// non-finite logit with `what = "scores"`, label not 0 or 1);
    /// [`Error::Undefined`] when the labels hold one class only, or when the best map is
    /// not increasing (the logits rank the pairs no better than chance, or backwards).
    pub fn fit(method: CalibrationMethod, logits: &[f32], labels: &[f32]) -> Result<Self> {
        crate::metrics::validate(logits, labels)?;
        let targets = platt_targets(labels).ok_or(Error::Undefined {
            metric: "calibration",
            reason: "needs both classes among the validation pairs",
        })?;
        let z: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
        let not_increasing = Error::Undefined {
            metric: "calibration",
            reason: "the fitted map is not increasing: the logits do not rank the \
                     validation pairs better than chance",
        };
        match method {
            CalibrationMethod::Platt => {
                let (a, b) = fit_platt(&z, &targets);
                Calibration::platt(a as f32, b as f32).map_err(|_| not_increasing)
            }
            CalibrationMethod::Temperature => {
                let s = fit_inverse_temperature(&z, &targets);
                if !(s.is_finite() && s > 0.0) {
                    return Err(not_increasing);
                }
                Calibration::temperature((1.0 / s) as f32).map_err(|_| not_increasing)
            }
        }
    }

    /// The method this calibration uses.
    pub fn method(&self) -> CalibrationMethod {
        match self.0 {
            Map::Platt { .. } => CalibrationMethod::Platt,
            Map::Temperature { .. } => CalibrationMethod::Temperature,
        }
    }

    /// `(a, b)` of Platt scaling; `None` for another method.
    pub fn platt_params(&self) -> Option<(f32, f32)> {
        match self.0 {
            Map::Platt { a, b } => Some((a, b)),
            _ => None,
        }
    }

    /// `t` of temperature scaling; `None` for another method.
    pub fn temperature_param(&self) -> Option<f32> {
        match self.0 {
            Map::Temperature { t } => Some(t),
            _ => None,
        }
    }

    /// The calibrated logit of a raw logit `z`, in `f32`: `a * z + b` or `z / t`.
    /// May overflow to `+-inf` for huge `z` (the probability is then 1 or 0); never NaN
    /// for a non-NaN `z`.
    #[inline]
    pub fn logit(&self, z: f32) -> f32 {
        match self.0 {
            Map::Platt { a, b } => a * z + b,
            Map::Temperature { t } => z / t,
        }
    }

    /// The calibrated probability `sigmoid(self.logit(z))`.
    #[inline]
    pub fn proba(&self, z: f32) -> f32 {
        sigmoid(self.logit(z))
    }
}

impl fmt::Display for Calibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Map::Platt { a, b } => {
                let sign = if b < 0.0 { '-' } else { '+' };
                write!(f, "platt (sigmoid({a:.4} z {sign} {:.4}))", b.abs())
            }
            Map::Temperature { t } => write!(f, "temperature (sigmoid(z / {t:.4}))"),
        }
    }
}

/// Platt's prior-corrected targets, or `None` with one class only.
fn platt_targets(labels: &[f32]) -> Option<Vec<f64>> {
    let pos = labels.iter().filter(|&&t| t == 1.0).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let hi = (pos as f64 + 1.0) / (pos as f64 + 2.0);
    let lo = 1.0 / (neg as f64 + 2.0);
    Some(
        labels
            .iter()
            .map(|&t| if t == 1.0 { hi } else { lo })
            .collect(),
    )
}

/// `ln(1 + e^u)` without overflow.
fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

/// `1 / (1 + e^-u)` without overflow.
fn sigmoid64(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// Cross-entropy of `sigmoid(a z + b)` against `targets`, summed.
fn objective(z: &[f64], targets: &[f64], a: f64, b: f64) -> f64 {
    z.iter()
        .zip(targets)
        .map(|(&zi, &t)| {
            let u = a * zi + b;
            softplus(u) - t * u
        })
        .sum()
}

/// Newton iterations before giving up refining (each at least halves the gradient near
/// the optimum; 10 to 20 suffice in practice).
const MAX_NEWTON: usize = 100;
/// Line-search steps before a Newton direction counts as no improvement.
const MAX_HALVINGS: usize = 60;

/// Minimises [`objective`] over `(a, b)` (or over `a` alone with `b = 0` when
/// `fit_b` is false), starting from `(a0, b0)`. Newton's method with a backtracking
/// (Armijo) line search; stops when no step decreases the objective any more, which on
/// this strictly convex problem is the optimum to `f64` precision.
///
/// This loops over the validation pairs in scalar `f64`: it runs once per calibration,
/// not in a prediction path, and `f64` sums keep the fit exact to the `f32` result.
fn newton(z: &[f64], targets: &[f64], a0: f64, b0: f64, fit_b: bool) -> (f64, f64) {
    let (mut a, mut b) = (a0, b0);
    let mut f = objective(z, targets, a, b);
    for _ in 0..MAX_NEWTON {
        // Gradient and Hessian of the summed cross-entropy.
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&zi, &t) in z.iter().zip(targets) {
            let p = sigmoid64(a * zi + b);
            let w = p * (1.0 - p);
            ga += (p - t) * zi;
            gb += p - t;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        // A tiny ridge keeps the system solvable when the logits are (nearly) constant
        // (Lin, Lin and Weng use the same 1e-12).
        let ridge = 1e-12;
        let (da, db) = if fit_b {
            let (haa, hbb) = (haa + ridge, hbb + ridge);
            let det = haa * hbb - hab * hab;
            (-(hbb * ga - hab * gb) / det, -(-hab * ga + haa * gb) / det)
        } else {
            (-ga / (haa + ridge), 0.0)
        };
        if !(da.is_finite() && db.is_finite()) {
            break;
        }
        let slope = ga * da + gb * db; // directional derivative, < 0 for a descent step
        if slope >= 0.0 {
            break;
        }
        let mut step = 1.0;
        let mut improved = false;
        for _ in 0..MAX_HALVINGS {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = objective(z, targets, na, nb);
            // Armijo's condition; with `slope < 0` it implies `nf < f`.
            if nf <= f + 1e-4 * step * slope {
                (a, b, f) = (na, nb, nf);
                improved = true;
                break;
            }
            step *= 0.5;
        }
        if !improved {
            break;
        }
    }
    (a, b)
}

/// Platt scaling: `(a, b)` minimising the cross-entropy of `sigmoid(a z + b)`. Starts
/// from Platt's `a = 0`, `b = ln((N+ + 1) / (N- + 1))` (the base rate).
fn fit_platt(z: &[f64], targets: &[f64]) -> (f64, f64) {
    let pos = targets.iter().filter(|&&t| t > 0.5).count() as f64;
    let neg = targets.len() as f64 - pos;
    newton(z, targets, 0.0, ((pos + 1.0) / (neg + 1.0)).ln(), true)
}

/// Temperature scaling: `s = 1 / t` minimising the cross-entropy of `sigmoid(s z)`,
/// from `s = 1` (the raw model).
fn fit_inverse_temperature(z: &[f64], targets: &[f64]) -> f64 {
    newton(z, targets, 1.0, 0.0, false).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newton_reaches_a_zero_gradient() {
        let z = [-3.0, -1.0, -0.5, 0.2, 0.4, 1.0, 2.5, -2.0];
        let labels = [0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let t = platt_targets(&labels).expect("both classes");
        let (a, b) = fit_platt(&z, &t);
        let (mut ga, mut gb) = (0.0, 0.0);
        for (&zi, &ti) in z.iter().zip(&t) {
            let p = sigmoid64(a * zi + b);
            ga += (p - ti) * zi;
            gb += p - ti;
        }
        assert!(
            ga.abs() < 1e-12 && gb.abs() < 1e-12,
            "gradient ({ga}, {gb})"
        );
        let s = fit_inverse_temperature(&z, &t);
        let g: f64 = z
            .iter()
            .zip(&t)
            .map(|(&zi, &ti)| (sigmoid64(s * zi) - ti) * zi)
            .sum();
        assert!(g.abs() < 1e-12, "temperature gradient {g}");
    }

    #[test]
    fn display_shows_the_map() {
        let p = Calibration::platt(1.5, -0.25).expect("valid");
        assert_eq!(p.to_string(), "platt (sigmoid(1.5000 z - 0.2500))");
        let p = Calibration::platt(2.0, 0.5).expect("valid");
        assert_eq!(p.to_string(), "platt (sigmoid(2.0000 z + 0.5000))");
        let t = Calibration::temperature(3.0).expect("valid");
        assert_eq!(t.to_string(), "temperature (sigmoid(z / 3.0000))");
    }

    #[test]
    fn separable_pairs_give_a_finite_fit() {
        let z = [-2.0, -1.0, 1.0, 2.0];
        let t = platt_targets(&[0.0, 0.0, 1.0, 1.0]).expect("both classes");
        let (a, b) = fit_platt(&z, &t);
        assert!(a.is_finite() && a > 0.0 && b.is_finite(), "({a}, {b})");
        let s = fit_inverse_temperature(&z, &t);
        assert!(s.is_finite() && s > 0.0, "{s}");
    }
}
