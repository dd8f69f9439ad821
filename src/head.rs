//! Heads: what turns a combined feature row into one logit.
//!
//! * [`HeadConfig::Mlp`]: a small MLP (default one hidden layer of 64, ReLU) ending in one
//!   logit. With [`MlpConfig::linear`] it is logistic regression on the combined row.
//! * [`HeadConfig::Distance`]: the parameter-free distance head. On a row `c` of
//!   non-negative values (e.g. `(phi(x) - phi(y))^2`) it computes
//!   `u = s * sum_i c_i` and models `P(different) = 1 - exp(-u)`, i.e.
//!   `P(similar) = exp(-u)` and `logit = -ln(expm1(u))`. The scale `s = exp(log_scale)`
//!   starts at 1 and is trained only if asked. `u` is floored at `1e-7`, so the logit is at
//!   most about 16.1 and identical items get a finite loss.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip, s};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::alloc::{MAX_WIDTH, check_width, try_zeros};
use crate::error::{Error, Result};
use crate::mlp::{Mlp, MlpConfig, MlpGrads, MlpWork};

/// Floor of `u` in the distance head.
const DISTANCE_FLOOR: f64 = 1e-7;

/// Which head to build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeadConfig {
    /// An MLP with one logit out.
    Mlp(MlpConfig),
    /// The distance head `P(similar) = exp(-s * sum_i c_i)`; needs a combiner whose output is
    /// non-negative ([`SquaredDiff`](crate::SquaredDiff) or [`AbsDiff`](crate::AbsDiff)).
    ///
    /// The scale starts at `s = 1`; on raw embeddings whose squared distances are far from 1
    /// it learns faster with a larger learning rate (e.g. `Optimizer::adam(1e-2)`) or with
    /// an encoder in front.
    Distance {
        /// Train the scale `s` (in log space); otherwise `s = 1` and the head has no parameter.
        learn_scale: bool,
    },
}

impl Default for HeadConfig {
    /// `Mlp(MlpConfig::default())`: one hidden layer of 64 units, ReLU.
    fn default() -> Self {
        HeadConfig::Mlp(MlpConfig::default())
    }
}

/// The distance head's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawDistanceHead")]
pub struct DistanceHead {
    log_scale: f32,
    learn_scale: bool,
}

/// The serde form of [`DistanceHead`] before its check.
#[derive(Deserialize)]
struct RawDistanceHead {
    log_scale: f32,
    learn_scale: bool,
}

impl TryFrom<RawDistanceHead> for DistanceHead {
    type Error = Error;
    fn try_from(raw: RawDistanceHead) -> Result<Self> {
        let mut head = Head::Distance(DistanceHead {
            log_scale: raw.log_scale,
            learn_scale: raw.learn_scale,
        });
        // The distance head takes rows of any width.
        head.validate(1)?;
        match head {
            Head::Distance(d) => Ok(d),
            Head::Mlp(_) => unreachable!("built as a distance head"),
        }
    }
}

/// The scale `exp(log_scale)` must be a positive, finite, normal `f32` (so `|log_scale|`
/// below about 87): beyond that [`DistanceHead::scale`] is 0 or infinite and every
/// logit of a non-identical pair is `-inf` (or every pair sits on the floor).
fn check_log_scale(log_scale: f32) -> Result<()> {
    if log_scale.exp().is_normal() {
        Ok(())
    } else {
        Err(Error::Format(format!(
            "distance head `log_scale` {log_scale} is out of range: exp(log_scale) must be \
             a positive, finite, normal f32 (|log_scale| below about 87)"
        )))
    }
}

impl DistanceHead {
    /// The current scale `s`.
    pub fn scale(&self) -> f32 {
        self.log_scale.exp()
    }
    /// Whether the scale is trained.
    pub fn learns_scale(&self) -> bool {
        self.learn_scale
    }
}

/// A built head (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "RawHead")]
#[non_exhaustive]
pub enum Head {
    /// MLP head.
    Mlp(Mlp),
    /// Distance head.
    Distance(DistanceHead),
}

/// The serde form of [`Head`] before its check (each part validates itself; an MLP head
/// must also end in one logit).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawHead {
    Mlp(Mlp),
    Distance(DistanceHead),
}

impl TryFrom<RawHead> for Head {
    type Error = Error;
    fn try_from(raw: RawHead) -> Result<Self> {
        match raw {
            RawHead::Mlp(m) if m.output_dim() != 1 => Err(Error::Format(format!(
                "head gives {} outputs, expected 1 logit",
                m.output_dim()
            ))),
            RawHead::Mlp(m) => Ok(Head::Mlp(m)),
            RawHead::Distance(d) => Ok(Head::Distance(d)),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum HeadGrads {
    Mlp(MlpGrads),
    Distance { d_log_scale: f32 },
}

#[derive(Clone, Debug)]
pub(crate) enum HeadWork {
    Mlp(MlpWork),
    Distance {
        /// `u` per row.
        u: Vec<f64>,
        /// Logits, `(capacity, 1)`.
        out: Array2<f32>,
        /// `dL/dlogit`, `(capacity, 1)`.
        d_out: Array2<f32>,
    },
}

impl Head {
    pub(crate) fn init<R: Rng + ?Sized>(
        config: &HeadConfig,
        d_in: usize,
        rng: &mut R,
    ) -> Result<Self> {
        match config {
            HeadConfig::Mlp(cfg) => {
                let mut mlp = Mlp::init(cfg, d_in, 1, rng).map_err(|e| match e {
                    Error::TooLarge { what, bytes } => Error::TooLarge {
                        what: format!("head {what}"),
                        bytes,
                    },
                    other => other,
                })?;
                if d_in == 1 && cfg.hidden().is_empty() {
                    // Logistic calibration of one score: start at slope 1 (a higher score
                    // means more similar), not at a random sign that training must undo.
                    mlp.set_single_weight(1.0);
                }
                Ok(Head::Mlp(mlp))
            }
            HeadConfig::Distance { .. } if d_in > MAX_WIDTH => Err(Error::config(
                "input_dim",
                format!("is {d_in}; a distance head takes rows of at most {MAX_WIDTH} values"),
            )),
            HeadConfig::Distance { learn_scale } => Ok(Head::Distance(DistanceHead {
                log_scale: 0.0,
                learn_scale: *learn_scale,
            })),
        }
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        match self {
            Head::Mlp(m) => m.n_params(),
            Head::Distance(d) => usize::from(d.learn_scale),
        }
    }

    pub(crate) fn validate(&mut self, d_in: usize) -> Result<()> {
        match self {
            Head::Mlp(m) => {
                m.validate("head")?;
                if m.input_dim() != d_in || m.output_dim() != 1 {
                    return Err(Error::Format(format!(
                        "head maps {} -> {}, expected {d_in} -> 1",
                        m.input_dim(),
                        m.output_dim()
                    )));
                }
                Ok(())
            }
            Head::Distance(d) => {
                // No weights pin the width of a distance head's input: bound it here.
                check_width("input_dim", d_in)?;
                check_log_scale(d.log_scale)
            }
        }
    }

    pub(crate) fn zero_grads(&self) -> HeadGrads {
        match self {
            Head::Mlp(m) => HeadGrads::Mlp(m.zero_grads()),
            Head::Distance(_) => HeadGrads::Distance { d_log_scale: 0.0 },
        }
    }

    /// Buffers for passes of up to `capacity` rows. Panics (with the reason) if they
    /// cannot be allocated; [`Head::try_work`] returns the error instead.
    pub(crate) fn work(&self, capacity: usize) -> HeadWork {
        self.try_work(capacity)
            .unwrap_or_else(|e| panic!("head workspace of {capacity} rows: {e}"))
    }

    /// Buffers for passes of up to `capacity` rows, or [`Error::TooLarge`].
    pub(crate) fn try_work(&self, capacity: usize) -> Result<HeadWork> {
        Ok(match self {
            Head::Mlp(m) => HeadWork::Mlp(m.try_work(capacity)?),
            Head::Distance(_) => HeadWork::Distance {
                u: vec![0.0; capacity],
                out: try_zeros(
                    || format!("distance head logits ({capacity})"),
                    (capacity, 1),
                )?,
                d_out: try_zeros(
                    || format!("distance head gradients ({capacity})"),
                    (capacity, 1),
                )?,
            },
        })
    }

    pub(crate) fn visit_params(
        &mut self,
        grads: Option<&HeadGrads>,
        f: &mut dyn FnMut(&mut [f32], &[f32]),
    ) {
        match self {
            Head::Mlp(m) => {
                let g = match grads {
                    Some(HeadGrads::Mlp(g)) => Some(g),
                    _ => None,
                };
                m.visit_params(g, f);
            }
            Head::Distance(d) if d.learn_scale => {
                let g: &[f32] = match grads {
                    Some(HeadGrads::Distance { d_log_scale }) => std::slice::from_ref(d_log_scale),
                    _ => &[],
                };
                f(std::slice::from_mut(&mut d.log_scale), g);
            }
            Head::Distance(_) => {}
        }
    }

    pub(crate) fn visit_values(&self, f: &mut dyn FnMut(&[f32])) {
        match self {
            Head::Mlp(m) => m.visit_values(f),
            Head::Distance(d) if d.learn_scale => f(std::slice::from_ref(&d.log_scale)),
            Head::Distance(_) => {}
        }
    }

    /// Logits for the rows of `c`, readable via [`HeadWork::output`].
    #[cfg(test)]
    pub(crate) fn forward(&self, c: ArrayView2<f32>, ws: &mut HeadWork) {
        self.forward_dropout(c, ws, None);
    }

    /// [`Head::forward`] with training-time dropout on an MLP head's hidden layers (the
    /// distance head has none).
    pub(crate) fn forward_dropout(
        &self,
        c: ArrayView2<f32>,
        ws: &mut HeadWork,
        dropout: Option<crate::mlp::Dropout>,
    ) {
        match (self, ws) {
            (Head::Mlp(m), HeadWork::Mlp(w)) => m.forward_dropout(c, w, dropout),
            (Head::Distance(d), HeadWork::Distance { u, out, .. }) => {
                let scale = f64::from(d.log_scale).exp();
                for ((row, ui), o) in c.rows().into_iter().zip(u.iter_mut()).zip(out.iter_mut()) {
                    let sum: f64 = row.iter().map(|&v| f64::from(v)).sum();
                    *ui = (scale * sum).max(DISTANCE_FLOOR);
                    // -ln(e^u - 1) = -(u + ln(1 - e^-u)): no overflow for large u.
                    *o = (-(*ui + (-(-*ui).exp_m1()).ln())) as f32;
                }
            }
            _ => {}
        }
    }

    /// Backward for the rows of the last forward; `dL/dlogit` was written into
    /// [`HeadWork::d_output_mut`].
    pub(crate) fn backward(
        &self,
        c: ArrayView2<f32>,
        ws: &mut HeadWork,
        grads: &mut HeadGrads,
        d_input: Option<ArrayViewMut2<f32>>,
        halves: bool,
    ) {
        match (self, ws, grads) {
            (Head::Mlp(m), HeadWork::Mlp(w), HeadGrads::Mlp(g)) => {
                m.backward(c, w, g, d_input, halves)
            }
            (
                Head::Distance(d),
                HeadWork::Distance { u, d_out, .. },
                HeadGrads::Distance { d_log_scale },
            ) => {
                let rows = c.nrows();
                let scale = f64::from(d.log_scale).exp();
                let mut dls = 0.0f64;
                let mut d_input = d_input;
                for i in 0..rows {
                    let ui = u[i];
                    // Gradient is 0 where u sits on its floor.
                    let du = if ui > DISTANCE_FLOOR {
                        f64::from(d_out[[i, 0]]) / (-ui).exp_m1()
                    } else {
                        0.0
                    };
                    dls += du * ui;
                    if let Some(di) = d_input.as_mut() {
                        let g = (du * scale) as f32;
                        Zip::from(di.row_mut(i)).for_each(|v| *v = g);
                    }
                }
                *d_log_scale = dls as f32;
            }
            _ => {}
        }
    }
}

impl HeadWork {
    pub(crate) fn output(&self, rows: usize) -> ArrayView2<'_, f32> {
        match self {
            HeadWork::Mlp(w) => w.output(rows),
            HeadWork::Distance { out, .. } => out.slice(s![..rows, ..]),
        }
    }

    pub(crate) fn d_output_mut(&mut self, rows: usize) -> ArrayViewMut2<'_, f32> {
        match self {
            HeadWork::Mlp(w) => w.d_output_mut(rows),
            HeadWork::Distance { d_out, .. } => d_out.slice_mut(s![..rows, ..]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn distance(learn_scale: bool) -> Head {
        Head::Distance(DistanceHead {
            log_scale: 0.0,
            learn_scale,
        })
    }

    /// Runs forward and backward with `dL/dlogit = 1` on every row; returns
    /// `(dL/dlog_scale, dL/dc)`.
    fn distance_grads(c: Array2<f32>) -> (f32, Array2<f32>) {
        distance_grads_at(distance(true), c)
    }

    fn distance_grads_at(head: Head, c: Array2<f32>) -> (f32, Array2<f32>) {
        let mut ws = head.work(c.nrows());
        head.forward(c.view(), &mut ws);
        ws.d_output_mut(c.nrows()).fill(1.0);
        let mut grads = head.zero_grads();
        let mut dc = Array2::from_elem(c.raw_dim(), f32::NAN);
        head.backward(c.view(), &mut ws, &mut grads, Some(dc.view_mut()), false);
        match grads {
            HeadGrads::Distance { d_log_scale } => (d_log_scale, dc),
            HeadGrads::Mlp(_) => unreachable!("distance head gives distance gradients"),
        }
    }

    #[test]
    fn distance_gradient_is_zero_on_the_floor() {
        // u = 0 (identical items) and u = 1e-8 (below the floor): both sit on it, flat.
        let (dls, dc) = distance_grads(array![[0.0f32, 0.0], [1e-8, 0.0]]);
        assert_eq!(dls.to_bits(), 0.0f32.to_bits());
        assert!(dc.iter().all(|v| v.to_bits() == 0.0f32.to_bits()), "{dc:?}");
    }

    #[test]
    fn distance_gradient_is_nonzero_above_the_floor() {
        // Control for the test above: just above the floor the gradient is large.
        let (dls, dc) = distance_grads(array![[2e-7f32, 0.0]]);
        assert!(dls.is_finite() && dls < -0.5, "{dls}");
        assert!(dc.iter().all(|&v| v < -1e5), "{dc:?}");
    }

    #[test]
    fn distance_logit_is_capped_by_the_floor() {
        let head = distance(false);
        let mut ws = head.work(1);
        head.forward(array![[0.0f32]].view(), &mut ws);
        let logit = ws.output(1)[[0, 0]];
        let cap = -(DISTANCE_FLOOR.exp_m1().ln()) as f32;
        assert_eq!(logit, cap);
        assert!((16.0..16.2).contains(&logit), "{logit}");
    }

    #[test]
    fn distance_head_counts_its_scale_only_when_learnt() {
        assert_eq!(distance(true).n_params(), 1);
        assert_eq!(distance(false).n_params(), 0);
        let mut seen = 0;
        distance(false).visit_params(None, &mut |p, _| seen += p.len());
        assert_eq!(seen, 0);
        distance(true).visit_params(None, &mut |p, _| seen += p.len());
        assert_eq!(seen, 1);
    }

    /// A distance head of scale `s = 2`, so a dropped or inverted factor of `s` shows.
    fn scaled(learn_scale: bool) -> Head {
        Head::Distance(DistanceHead {
            log_scale: 2f32.ln(),
            learn_scale,
        })
    }

    #[test]
    fn distance_logits_and_gradients_match_the_closed_form() {
        // logit = -ln(e^u - 1), u = s sum_i c_i; dlogit/du = -e^u / (e^u - 1);
        // dlogit/dc_i = s dlogit/du; dlogit/dlog_scale = u dlogit/du.
        let c = array![[0.25f32, 0.25], [1.0, 0.5]];
        let head = scaled(true);
        let mut ws = head.work(2);
        head.forward(c.view(), &mut ws);
        let (dls, dc) = distance_grads_at(scaled(true), c.clone());
        let s = 2f64;
        let mut want_dls = 0.0;
        for i in 0..2 {
            let u = s * c.row(i).iter().map(|&v| f64::from(v)).sum::<f64>();
            let logit = -(u.exp() - 1.0).ln();
            let dlogit_du = -u.exp() / (u.exp() - 1.0);
            let got = f64::from(ws.output(2)[[i, 0]]);
            assert!(
                (got - logit).abs() < 1e-6,
                "row {i}: logit {got} vs {logit}"
            );
            for j in 0..2 {
                let want = s * dlogit_du;
                let got = f64::from(dc[[i, j]]);
                assert!((got - want).abs() < 1e-5, "dc[{i},{j}]: {got} vs {want}");
            }
            want_dls += u * dlogit_du;
        }
        assert!(
            (f64::from(dls) - want_dls).abs() < 1e-5,
            "d log_scale: {dls} vs {want_dls}"
        );
    }

    #[test]
    fn distance_head_reports_its_scale_and_whether_it_learns_it() {
        let Head::Distance(d) = scaled(true) else {
            unreachable!("built as a distance head")
        };
        assert_eq!(d.scale(), 2f32.ln().exp());
        assert!((d.scale() - 2.0).abs() < 1e-6);
        assert!(d.learns_scale());
        let Head::Distance(d) = scaled(false) else {
            unreachable!("built as a distance head")
        };
        assert!(!d.learns_scale());
    }

    #[test]
    fn a_learnt_scale_is_visited_with_its_gradient_and_a_frozen_one_not_at_all() {
        let grads = HeadGrads::Distance { d_log_scale: -3.5 };
        let mut seen = Vec::new();
        scaled(true).visit_params(Some(&grads), &mut |p, g| {
            seen.push((p.to_vec(), g.to_vec()))
        });
        assert_eq!(seen, [(vec![2f32.ln()], vec![-3.5])]);
        let mut values = Vec::new();
        scaled(true).visit_values(&mut |p| values.push(p.to_vec()));
        assert_eq!(values, [vec![2f32.ln()]]);

        let mut frozen = scaled(false);
        frozen.visit_params(Some(&grads), &mut |p, _| p.fill(0.0));
        frozen.visit_values(&mut |_| panic!("a frozen scale is not a parameter"));
        assert_eq!(frozen, scaled(false), "a frozen scale must stay fixed");
    }

    #[test]
    fn distance_head_takes_rows_up_to_max_width() {
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(1);
        let cfg = HeadConfig::Distance { learn_scale: true };
        assert!(Head::init(&cfg, MAX_WIDTH, &mut rng).is_ok());
        let err = Head::init(&cfg, MAX_WIDTH + 1, &mut rng).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    }

    #[test]
    fn loaded_distance_heads_need_a_normal_scale() {
        let load = |log_scale: f32| {
            serde_json::from_value::<DistanceHead>(
                serde_json::json!({"log_scale": log_scale, "learn_scale": true}),
            )
        };
        assert!(load(3.0).is_ok());
        for bad in [100.0f32, -100.0, 1e30] {
            let err = load(bad).unwrap_err();
            assert!(err.to_string().contains("log_scale"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_loaded_mlp_head_must_end_in_one_logit() {
        let layer = |d_out: usize| {
            serde_json::json!({"mlp": {"layers": [{
                "w": {"v": 1, "dim": [2, d_out], "data": vec![0.5; 2 * d_out]},
                "b": {"v": 1, "dim": [d_out], "data": vec![0.0; d_out]}
            }], "activation": "relu"}})
        };
        let mut one = serde_json::from_value::<Head>(layer(1)).unwrap();
        assert!(serde_json::from_value::<Head>(layer(2)).is_err());
        assert!(one.validate(2).is_ok());
        let err = one.validate(3).unwrap_err();
        assert!(err.to_string().contains("expected 3 -> 1"), "{err}");
    }

    fn head_weights(config: &HeadConfig, d_in: usize) -> Vec<f32> {
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(5);
        let head = Head::init(config, d_in, &mut rng).unwrap();
        let mut out = Vec::new();
        head.visit_values(&mut |p| out.extend_from_slice(p));
        out
    }

    #[test]
    fn only_a_linear_head_on_one_score_starts_at_slope_one() {
        let linear = HeadConfig::Mlp(MlpConfig::linear());
        // One score, no hidden layer: weight exactly 1, bias 0.
        assert_eq!(head_weights(&linear, 1), [1.0, 0.0]);
        // Two inputs, or a hidden layer: the seeded random start, not all ones.
        assert!(head_weights(&linear, 2)[..2].iter().any(|&w| w != 1.0));
        let hidden = HeadConfig::Mlp(MlpConfig::new([4]).unwrap());
        assert!(head_weights(&hidden, 1)[..4].iter().any(|&w| w != 1.0));
    }

    #[test]
    fn an_mlp_head_is_visited_with_its_gradients() {
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(5);
        let mut head = Head::init(&HeadConfig::Mlp(MlpConfig::linear()), 3, &mut rng).unwrap();
        let grads = head.zero_grads();
        let mut lens = Vec::new();
        head.visit_params(Some(&grads), &mut |p, g| lens.push((p.len(), g.len())));
        assert_eq!(lens, [(3, 3), (1, 1)]);
    }

    #[test]
    fn a_linear_head_outputs_its_affine_map() {
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(5);
        let head = Head::init(&HeadConfig::Mlp(MlpConfig::linear()), 2, &mut rng).unwrap();
        let mut wb = Vec::new();
        head.visit_values(&mut |p| wb.extend_from_slice(p));
        let c = array![[1.0f32, 2.0], [-0.5, 4.0]];
        let mut ws = head.work(2);
        head.forward(c.view(), &mut ws);
        for i in 0..2 {
            let want = c[[i, 0]] * wb[0] + c[[i, 1]] * wb[1] + wb[2];
            let got = ws.output(2)[[i, 0]];
            assert!((got - want).abs() < 1e-5, "row {i}: {got} vs {want}");
        }
    }

    #[test]
    fn a_linear_head_backpropagates_its_affine_map() {
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(5);
        let head = Head::init(&HeadConfig::Mlp(MlpConfig::linear()), 2, &mut rng).unwrap();
        let mut wb = Vec::new();
        head.visit_values(&mut |p| wb.extend_from_slice(p));
        let c = array![[1.0f32, 2.0], [-0.5, 4.0]];
        let d = [1.0f32, -2.0];
        let mut ws = head.work(2);
        head.forward(c.view(), &mut ws);
        ws.d_output_mut(2)
            .column_mut(0)
            .assign(&ndarray::aview1(&d));
        let mut grads = head.zero_grads();
        let mut dc = Array2::zeros((2, 2));
        head.backward(c.view(), &mut ws, &mut grads, Some(dc.view_mut()), false);
        let HeadGrads::Mlp(g) = grads else {
            unreachable!("an MLP head has MLP gradients")
        };
        for j in 0..2 {
            let dw = d[0] * c[[0, j]] + d[1] * c[[1, j]];
            assert!((g.dw[0][[j, 0]] - dw).abs() < 1e-5, "dw[{j}]");
            for i in 0..2 {
                assert!((dc[[i, j]] - d[i] * wb[j]).abs() < 1e-5, "dc[{i},{j}]");
            }
        }
        assert!((g.db[0][0] - (d[0] + d[1])).abs() < 1e-5);
    }
}
