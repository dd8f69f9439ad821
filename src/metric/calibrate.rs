//! A calibrated probability on top of a learned distance: Platt scaling of the one-number
//! similarity by a logistic fit on validation pairs.
//!
//! Hand-written: a two-parameter logistic regression by Newton's method (in `f64`) is a
//! few lines, where a crate would bring a general solver.

use crate::combiner::PairCombiner;
use crate::data::PairData;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::model::PairClassifier;

/// Newton iterations of the logistic fit (it converges in well under this).
const NEWTON_STEPS: usize = 50;
/// L2 penalty on the slope and bias, so that separable validation data keeps a finite fit.
const RIDGE: f64 = 1e-6;

impl<C: PairCombiner> PairClassifier<C> {
    /// Fits the head `logit = w s + b` on the one-number similarity `s` of the
    /// combiner (for example `Similarity(NegSquaredL2)` or `Similarity(Cosine)` after the
    /// encoder) to the labelled pairs `valid` by logistic regression (Platt scaling),
    /// leaving the encoder as it is. Returns `(w, b)`.
    ///
    /// With `w > 0` (a similarity that separates the classes the right way round) the
    /// logit is increasing in the similarity, so ranking by the distance of
    /// [`encode`](Self::encode) vectors is ranking by the calibrated probability.
    ///
    /// Errors: [`Error::Unsupported`] unless the combiner gives one number per pair and
    /// the head is linear (`HeadConfig::Mlp(MlpConfig::linear())`);
    /// [`Error::Undefined`] if `valid` holds one class only; [`Error::WidthMismatch`] for
    /// data of another width.
    pub fn calibrate_similarity(&mut self, valid: &dyn PairData) -> Result<(f32, f32)> {
        self.check_data(valid, "valid")?;
        let linear_1 = self.combiner().output_dim(self.encoded_dim()) == 1
            && matches!(self.head(), Head::Mlp(m) if m.hidden().is_empty());
        if !linear_1 {
            return Err(Error::Unsupported(
                "calibrate_similarity needs a one-number combiner and a linear head".into(),
            ));
        }
        let labels = valid.labels();
        let pos = labels.iter().filter(|&&l| l > 0.5).count();
        if pos == 0 || pos == labels.len() {
            return Err(Error::Undefined {
                metric: "calibration",
                reason: "the validation pairs hold one class only",
            });
        }
        // The similarity itself: the same model with the head set to `1 s + 0` (exact).
        let mut params = self.parameters();
        let k = params.len();
        let original = params.clone();
        params[k - 2] = 1.0;
        params[k - 1] = 0.0;
        self.set_flat_params(&params);
        let sims = self.logits_for(valid);
        let sims = match sims {
            Ok(s) => s,
            Err(e) => {
                self.set_flat_params(&original);
                return Err(e);
            }
        };
        let (w, b) = platt(&sims, labels);
        let (w, b) = (w as f32, b as f32);
        params[k - 2] = w;
        params[k - 1] = b;
        self.set_parameters(&params)?;
        Ok((w, b))
    }
}

/// Logistic regression `P(1 | s) = sigmoid(w s + b)` by Newton's method, `(w, b)`.
/// The feature is standardised first for a well-conditioned Hessian.
fn platt(s: &[f32], labels: &[f32]) -> (f64, f64) {
    let n = s.len() as f64;
    let mean = s.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = s
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    let sd = var.sqrt().max(1e-12);
    let (mut w, mut b) = (0.0f64, 0.0f64);
    for _ in 0..NEWTON_STEPS {
        let (mut gw, mut gb, mut hww, mut hwb, mut hbb) = (RIDGE * w, RIDGE * b, RIDGE, 0.0, RIDGE);
        for (&v, &l) in s.iter().zip(labels) {
            let z = (f64::from(v) - mean) / sd;
            let p = 1.0 / (1.0 + (-(w * z + b)).exp());
            let r = p - f64::from(l);
            let h = p * (1.0 - p);
            gw += r * z;
            gb += r;
            hww += h * z * z;
            hwb += h * z;
            hbb += h;
        }
        let det = hww * hbb - hwb * hwb;
        if det <= 0.0 || !det.is_finite() {
            break;
        }
        let dw = (hbb * gw - hwb * gb) / det;
        let db = (hww * gb - hwb * gw) / det;
        w -= dw;
        b -= db;
        if dw.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    // Back to the raw feature: w z + b = (w / sd) s + (b - w mean / sd).
    (w / sd, b - w * mean / sd)
}

#[cfg(test)]
mod tests {
    use super::platt;

    #[test]
    fn platt_recovers_a_known_logistic_model() {
        // Labels drawn deterministically from sigmoid(2 s - 1) on a grid: the fit lands
        // near (2, -1).
        let mut s = Vec::new();
        let mut l = Vec::new();
        for i in 0..4000 {
            let v = (i % 200) as f32 / 40.0 - 2.5;
            let p = 1.0 / (1.0 + (-(2.0 * v - 1.0)).exp());
            // Low-discrepancy "coin": label 1 for a fraction p of the repeats of v.
            let u = ((i / 200) as f32 + 0.5) / 20.0;
            s.push(v);
            l.push(if u < p { 1.0 } else { 0.0 });
        }
        let (w, b) = platt(&s, &l);
        assert!(
            (w - 2.0).abs() < 0.15 && (b + 1.0).abs() < 0.15,
            "w {w}, b {b}"
        );
    }
}
