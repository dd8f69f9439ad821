//! A calibrated probability on top of a learned distance: the head becomes the similarity
//! itself (`logit = s`), and the model's Platt calibration
//! ([`calibrate`](PairClassifier::calibrate)) maps it to a probability.

use crate::calibration::{Calibration, CalibrationMethod};
use crate::combiner::PairCombiner;
use crate::data::PairData;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::model::PairClassifier;

impl<C: PairCombiner> PairClassifier<C> {
    /// After [`fit_metric`](Self::fit_metric): sets the linear head on the one-number
    /// similarity `s` of the combiner (for example `Similarity(NegSquaredL2)` or
    /// `Similarity(Cosine)` after the encoder) to `logit = s` exactly, then fits a Platt
    /// calibration `p = sigmoid(a s + b)` on the labelled pairs `valid` (validation pairs,
    /// never the training pairs) and stores it ([`calibrate`](Self::calibrate)). Returns the
    /// calibration.
    ///
    /// Afterwards [`predict_logits`](Self::predict_logits) returns the similarity itself,
    /// so ranking by the distance of [`encode`](Self::encode) vectors is ranking by the
    /// logit, and [`predict_proba`](Self::predict_proba) the calibrated probability: one
    /// model both retrieves and classifies.
    ///
    /// Errors: [`Error::Unsupported`] unless the combiner gives one number per pair and
    /// the head is linear (`HeadConfig::Mlp(MlpConfig::linear())`); those of
    /// [`calibrate`](Self::calibrate) (one class only, or a similarity that does not rank
    /// better than chance). The model is unchanged on error.
    pub fn calibrate_similarity(&mut self, valid: &dyn PairData) -> Result<Calibration> {
        self.check_data(valid, "valid")?;
        let linear_1 = self.combiner().output_dim(self.encoded_dim()) == 1
            && matches!(self.head(), Head::Mlp(m) if m.hidden().is_empty());
        if !linear_1 {
            return Err(Error::Unsupported(
                "calibrate_similarity needs a one-number combiner and a linear head".into(),
            ));
        }
        // The linear head's weight and bias are the last two parameters: `1 s + 0` is
        // exactly `s`.
        let original = self.parameters();
        let mut params = original.clone();
        let k = params.len();
        params[k - 2] = 1.0;
        params[k - 1] = 0.0;
        self.set_flat_params(&params);
        let fitted = self.calibrate(CalibrationMethod::Platt, valid);
        if fitted.is_err() {
            self.set_flat_params(&original);
        }
        fitted
    }
}
