//! The pair classifier: optional shared encoder, combiner, head.
//!
//! For a batch of `n` pairs `x, y: (n, d)`:
//!
//! 1. encoder (optional, shared weights): `ex = phi(x)`, `ey = phi(y)`, `(n, e)`;
//! 2. combiner: `c = combine(ex, ey)`, `(views * n, w)`;
//! 3. head: one logit per row, `(views * n)`;
//! 4. mean over views: `logit_i = (1 / views) sum_v head(c[v * n + i])`, `(n)`.
//!
//! `predict_proba` applies the sigmoid; training never does (the loss works on logits).
//! With a symmetric combiner the logit of `(x, y)` and `(y, x)` agree bit for bit.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2, s};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::combiner::{PairCombiner, check_pair};
use crate::data::{PairData, all_finite, check_finite};
use crate::error::{Error, Result};
use crate::head::{Head, HeadConfig, HeadGrads, HeadWork};
use crate::loss::sigmoid;
use crate::mlp::{Mlp, MlpConfig, MlpGrads, MlpWork};

/// Pairs per chunk in batched prediction: big enough for efficient matrix products,
/// small enough that a chunk's rows stay in cache between the combiner and the head.
pub(crate) const PREDICT_CHUNK: usize = 128;

/// Format name written into saved models.
const FORMAT_NAME: &str = "sympair";
/// Version of the saved-model format this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// Shape of the optional shared encoder `phi`: an MLP applied to each item with the same
/// weights before the combiner.
///
/// Useful identities: a linear encoder (`EncoderConfig::linear(k)`) followed by
/// [`Product`](crate::Product) and a linear head is a rank-`k` symmetric bilinear form
/// `sum_k w_k (u_k . x)(u_k . y)`; an encoder followed by [`AbsDiff`](crate::AbsDiff) is the
/// classic siamese L1 network; followed by [`SquaredDiff`](crate::SquaredDiff) and the
/// distance head it is a learned metric, `P(similar) = exp(-|phi(x) - phi(y)|^2)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderConfig {
    mlp: MlpConfig,
    output_dim: usize,
}

impl EncoderConfig {
    /// An encoder with the given hidden layers and output width (at least 1).
    pub fn new(mlp: MlpConfig, output_dim: usize) -> Result<Self> {
        if output_dim == 0 {
            return Err(Error::config("encoder output_dim", "must be at least 1"));
        }
        Ok(EncoderConfig { mlp, output_dim })
    }

    /// A linear encoder `phi(x) = x U + b` with `output_dim` outputs.
    pub fn linear(output_dim: usize) -> Result<Self> {
        Self::new(MlpConfig::linear(), output_dim)
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// The encoder's MLP shape.
    pub fn mlp(&self) -> &MlpConfig {
        &self.mlp
    }
}

/// A symmetric (or, with [`Concat`](crate::Concat), deliberately asymmetric) pair
/// classifier. Build one with [`PairClassifier::builder`], train it with
/// [`fit`](PairClassifier::fit), score pairs with [`predict_proba`](PairClassifier::predict_proba).
///
/// ```
/// use ndarray::array;
/// use sympair::{Combiner, PairClassifier};
/// let model = PairClassifier::builder(3, Combiner::AbsDiff).seed(7).build()?;
/// let x = [0.1f32, -0.4, 2.0];
/// let y = [1.5f32, 0.3, -0.2];
/// // Exactly symmetric, bit for bit:
/// assert_eq!(model.predict_pair_logit(&x, &y)?, model.predict_pair_logit(&y, &x)?);
/// let p = model.predict_proba(array![[0.1f32, -0.4, 2.0]].view(), array![[1.5f32, 0.3, -0.2]].view())?;
/// assert!(p[0] > 0.0 && p[0] < 1.0);
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairClassifier<C = crate::Combiner> {
    input_dim: usize,
    pub(crate) combiner: C,
    pub(crate) encoder: Option<Mlp>,
    pub(crate) head: Head,
}

/// Builder for [`PairClassifier`]; see [`PairClassifier::builder`].
#[derive(Clone, Debug)]
pub struct PairClassifierBuilder<C> {
    input_dim: usize,
    combiner: C,
    encoder: Option<EncoderConfig>,
    head: HeadConfig,
    seed: u64,
}

impl<C: PairCombiner> PairClassifierBuilder<C> {
    /// Adds a shared encoder `phi` before the combiner (default: none).
    pub fn encoder(mut self, encoder: EncoderConfig) -> Self {
        self.encoder = Some(encoder);
        self
    }

    /// Sets the head (default: [`HeadConfig::default`], an MLP with one hidden layer of 64, ReLU).
    pub fn head(mut self, head: HeadConfig) -> Self {
        self.head = head;
        self
    }

    /// Shorthand for `head(HeadConfig::Mlp(mlp))`.
    pub fn mlp_head(self, mlp: MlpConfig) -> Self {
        self.head(HeadConfig::Mlp(mlp))
    }

    /// Seed of the weight initialisation (default 0). Same seed, same weights.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds and initialises the classifier. Errors: `input_dim == 0`, a combiner that
    /// makes no output or no view, or a distance head on a combiner whose output can be
    /// negative.
    pub fn build(self) -> Result<PairClassifier<C>> {
        if self.input_dim == 0 {
            return Err(Error::config("input_dim", "must be at least 1"));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let encoder = match &self.encoder {
            Some(cfg) => Some(Mlp::init(
                &cfg.mlp,
                self.input_dim,
                cfg.output_dim,
                &mut rng,
            )?),
            None => None,
        };
        let d_enc = encoder.as_ref().map_or(self.input_dim, Mlp::output_dim);
        check_combiner(&self.combiner, d_enc, &self.head_kind())?;
        let head = Head::init(&self.head, self.combiner.output_dim(d_enc), &mut rng)?;
        Ok(PairClassifier {
            input_dim: self.input_dim,
            combiner: self.combiner,
            encoder,
            head,
        })
    }

    fn head_kind(&self) -> HeadKind {
        match self.head {
            HeadConfig::Mlp(_) => HeadKind::Mlp,
            HeadConfig::Distance { .. } => HeadKind::Distance,
        }
    }
}

enum HeadKind {
    Mlp,
    Distance,
}

fn check_combiner<C: PairCombiner>(combiner: &C, d_enc: usize, head: &HeadKind) -> Result<()> {
    if combiner.n_views() == 0 {
        return Err(Error::Unsupported(format!(
            "combiner {} makes no views",
            combiner.name()
        )));
    }
    if combiner.output_dim(d_enc) == 0 {
        return Err(Error::Unsupported(format!(
            "combiner {} makes rows of width 0",
            combiner.name()
        )));
    }
    if matches!(head, HeadKind::Distance) && !combiner.output_is_nonnegative() {
        return Err(Error::Unsupported(format!(
            "the distance head needs a non-negative combiner (squared_diff, abs_diff), not {}",
            combiner.name()
        )));
    }
    Ok(())
}

/// Gradients of all trainable parameters of a classifier.
#[derive(Clone, Debug)]
pub(crate) struct Grads {
    pub(crate) encoder: Option<MlpGrads>,
    pub(crate) head: HeadGrads,
}

impl Grads {
    /// `self += other`, tensor by tensor (same model).
    pub(crate) fn add_assign(&mut self, other: &Grads) {
        fn add_mlp(a: &mut MlpGrads, b: &MlpGrads) {
            for (x, y) in a.dw.iter_mut().zip(&b.dw) {
                *x += y;
            }
            for (x, y) in a.db.iter_mut().zip(&b.db) {
                *x += y;
            }
        }
        if let (Some(a), Some(b)) = (self.encoder.as_mut(), other.encoder.as_ref()) {
            add_mlp(a, b);
        }
        match (&mut self.head, &other.head) {
            (HeadGrads::Mlp(a), HeadGrads::Mlp(b)) => add_mlp(a, b),
            (HeadGrads::Distance { d_log_scale: a }, HeadGrads::Distance { d_log_scale: b }) => {
                *a += *b
            }
            _ => {}
        }
    }
}

/// Reusable buffers for up to `capacity` pairs (rows of the stacked input: `2 * capacity`).
#[derive(Clone, Debug)]
pub(crate) struct Work {
    /// Stacked inputs: pair `i` has `x` at row `i` and `y` at row `n + i`.
    pub(crate) inp: Array2<f32>,
    /// Encoder buffers (its output rows are the encoded `x` then `y`).
    enc: Option<MlpWork>,
    /// Combined rows, `(views * capacity, w)`.
    c: Array2<f32>,
    /// Gradient of the loss with respect to `c` (only with an encoder to train).
    dc: Array2<f32>,
    head: HeadWork,
    /// Mean logits per pair.
    pub(crate) logits: Vec<f32>,
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Starts building a classifier for items of width `input_dim` combined by `combiner`.
    pub fn builder(input_dim: usize, combiner: C) -> PairClassifierBuilder<C> {
        PairClassifierBuilder {
            input_dim,
            combiner,
            encoder: None,
            head: HeadConfig::default(),
            seed: 0,
        }
    }

    /// Item width `d` the classifier expects.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The combiner.
    pub fn combiner(&self) -> &C {
        &self.combiner
    }

    /// The shared encoder, if any.
    pub fn encoder(&self) -> Option<&Mlp> {
        self.encoder.as_ref()
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Whether `f(x, y) == f(y, x)` holds exactly (the combiner is symmetric).
    pub fn is_symmetric(&self) -> bool {
        self.combiner.is_symmetric()
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        self.encoder.as_ref().map_or(0, Mlp::n_params) + self.head.n_params()
    }

    fn encoded_dim(&self) -> usize {
        self.encoder
            .as_ref()
            .map_or(self.input_dim, Mlp::output_dim)
    }

    /// Checks a classifier that came from outside (a file) so that no later call can panic.
    pub(crate) fn validate(&mut self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(Error::Format("input_dim is 0".into()));
        }
        if let Some(enc) = self.encoder.as_mut() {
            enc.validate("encoder")?;
            if enc.input_dim() != self.input_dim {
                return Err(Error::Format(format!(
                    "encoder takes width {} but input_dim is {}",
                    enc.input_dim(),
                    self.input_dim
                )));
            }
        }
        let d_enc = self.encoded_dim();
        let kind = match self.head {
            Head::Mlp(_) => HeadKind::Mlp,
            Head::Distance(_) => HeadKind::Distance,
        };
        check_combiner(&self.combiner, d_enc, &kind).map_err(|e| Error::Format(e.to_string()))?;
        self.head.validate(self.combiner.output_dim(d_enc))
    }

    pub(crate) fn work(&self, capacity: usize) -> Work {
        let v = self.combiner.n_views();
        let w = self.combiner.output_dim(self.encoded_dim());
        let need_dc = self.encoder.is_some();
        Work {
            inp: Array2::zeros((2 * capacity, self.input_dim)),
            enc: self.encoder.as_ref().map(|e| e.work(2 * capacity)),
            c: Array2::zeros((v * capacity, w)),
            dc: if need_dc {
                Array2::zeros((v * capacity, w))
            } else {
                Array2::zeros((0, 0))
            },
            head: self.head.work(v * capacity),
            logits: vec![0.0; capacity],
        }
    }

    pub(crate) fn zero_grads(&self) -> Grads {
        Grads {
            encoder: self.encoder.as_ref().map(Mlp::zero_grads),
            head: self.head.zero_grads(),
        }
    }

    /// Visits `(parameter, gradient)` slices: encoder layers, then head.
    pub(crate) fn visit_params(
        &mut self,
        grads: Option<&Grads>,
        f: &mut dyn FnMut(&mut [f32], &[f32]),
    ) {
        if let Some(enc) = self.encoder.as_mut() {
            enc.visit_params(grads.and_then(|g| g.encoder.as_ref()), f);
        }
        self.head.visit_params(grads.map(|g| &g.head), f);
    }

    /// All parameters, flattened in visiting order.
    pub(crate) fn flat_params(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.n_params());
        self.copy_params_into(&mut out);
        out
    }

    /// Overwrites `out` with the flattened parameters (no allocation once `out` is large enough).
    pub(crate) fn copy_params_into(&self, out: &mut Vec<f32>) {
        out.clear();
        if let Some(enc) = self.encoder.as_ref() {
            enc.visit_values(&mut |p| out.extend_from_slice(p));
        }
        self.head.visit_values(&mut |p| out.extend_from_slice(p));
    }

    /// Whether every parameter is finite.
    pub(crate) fn params_finite(&self) -> bool {
        let mut ok = true;
        let mut check = |p: &[f32]| ok &= p.iter().all(|v| v.is_finite());
        if let Some(enc) = self.encoder.as_ref() {
            enc.visit_values(&mut check);
        }
        self.head.visit_values(&mut check);
        ok
    }

    /// Gradients flattened in the order of [`flat_params`](Self::flat_params).
    pub(crate) fn flat_grads(&self, grads: &Grads) -> Vec<f32> {
        fn push_mlp(out: &mut Vec<f32>, g: &MlpGrads) {
            for (dw, db) in g.dw.iter().zip(&g.db) {
                out.extend(dw.iter());
                out.extend(db.iter());
            }
        }
        let mut out = Vec::with_capacity(self.n_params());
        if let Some(g) = grads.encoder.as_ref() {
            push_mlp(&mut out, g);
        }
        match (&self.head, &grads.head) {
            (Head::Mlp(_), HeadGrads::Mlp(g)) => push_mlp(&mut out, g),
            (Head::Distance(d), HeadGrads::Distance { d_log_scale }) if d.learns_scale() => {
                out.push(*d_log_scale)
            }
            _ => {}
        }
        out
    }

    /// Copies `flat` (from [`flat_params`](Self::flat_params) of the same model) back in.
    pub(crate) fn set_flat_params(&mut self, flat: &[f32]) {
        let mut off = 0;
        self.visit_params(None, &mut |p, _| {
            if let Some(src) = flat.get(off..off + p.len()) {
                p.copy_from_slice(src);
            }
            off += p.len();
        });
    }

    /// Forward over `n` pairs whose inputs are already in `work.inp` (x rows `0..n`,
    /// y rows `n..2n`). Mean logits land in `work.logits[..n]`.
    pub(crate) fn forward_stacked(&self, n: usize, work: &mut Work) -> Result<()> {
        let Work { inp, enc, c, .. } = work;
        let v = self.combiner.n_views();
        let c = c.slice_mut(s![..v * n, ..]);
        match (&self.encoder, enc.as_mut()) {
            (Some(e), Some(ew)) => {
                e.forward(inp.slice(s![..2 * n, ..]), ew);
                let out = ew.output(2 * n);
                self.combiner
                    .forward(out.slice(s![..n, ..]), out.slice(s![n..2 * n, ..]), c)?;
            }
            _ => {
                self.combiner
                    .forward(inp.slice(s![..n, ..]), inp.slice(s![n..2 * n, ..]), c)?;
            }
        }
        self.finish_forward(n, work);
        Ok(())
    }

    /// Forward over the user's views `x, y` without copying them when there is no encoder.
    fn forward_views(&self, x: ArrayView2<f32>, y: ArrayView2<f32>, work: &mut Work) -> Result<()> {
        let n = x.nrows();
        if self.encoder.is_some() {
            work.inp.slice_mut(s![..n, ..]).assign(&x);
            work.inp.slice_mut(s![n..2 * n, ..]).assign(&y);
            return self.forward_stacked(n, work);
        }
        self.forward_encoded(x, y, work)
    }

    /// Combiner and head over already-encoded items `ex, ey` (`(n, e)`), into `work.logits`.
    pub(crate) fn forward_encoded(
        &self,
        ex: ArrayView2<f32>,
        ey: ArrayView2<f32>,
        work: &mut Work,
    ) -> Result<()> {
        let n = ex.nrows();
        let v = self.combiner.n_views();
        self.combiner
            .forward(ex, ey, work.c.slice_mut(s![..v * n, ..]))?;
        self.finish_forward(n, work);
        Ok(())
    }

    /// Head over the combined rows, then the mean over views into `work.logits`.
    fn finish_forward(&self, n: usize, work: &mut Work) {
        let v = self.combiner.n_views();
        let rows = v * n;
        self.head
            .forward(work.c.slice(s![..rows, ..]), &mut work.head);
        let raw = work.head.output(rows);
        let inv = 1.0 / v as f32;
        for (i, l) in work.logits.iter_mut().take(n).enumerate() {
            let mut sum = 0.0f32;
            for view in 0..v {
                sum += raw[[view * n + i, 0]];
            }
            *l = if v == 1 { sum } else { sum * inv };
        }
    }

    /// Backward for the last [`forward_stacked`](Self::forward_stacked) over `n` pairs,
    /// given `dL/dlogit_i` in `d_logits`. Overwrites `grads`.
    pub(crate) fn backward_stacked(
        &self,
        n: usize,
        d_logits: &[f32],
        work: &mut Work,
        grads: &mut Grads,
    ) -> Result<()> {
        let v = self.combiner.n_views();
        let rows = v * n;
        let inv = 1.0 / v as f32;
        {
            let mut d_out = work.head.d_output_mut(rows);
            for view in 0..v {
                for (i, &g) in d_logits.iter().take(n).enumerate() {
                    d_out[[view * n + i, 0]] = if v == 1 { g } else { g * inv };
                }
            }
        }
        let Work {
            inp,
            enc,
            c,
            dc,
            head,
            ..
        } = work;
        let c = c.slice(s![..rows, ..]);
        match (&self.encoder, enc.as_mut(), grads.encoder.as_mut()) {
            (Some(e), Some(ew), Some(eg)) => {
                let mut dc = dc.slice_mut(s![..rows, ..]);
                self.head
                    .backward(c, head, &mut grads.head, Some(dc.view_mut()), v == 2);
                if let Some((out, mut d_out)) = ew.output_and_d_output(2 * n) {
                    d_out.fill(0.0);
                    let (dx, dy) = d_out.view_mut().split_at(ndarray::Axis(0), n);
                    self.combiner.backward(
                        out.slice(s![..n, ..]),
                        out.slice(s![n..2 * n, ..]),
                        dc.view(),
                        dx,
                        dy,
                    )?;
                }
                e.backward(inp.slice(s![..2 * n, ..]), ew, eg, None, true);
            }
            _ => self.head.backward(c, head, &mut grads.head, None, v == 2),
        }
        Ok(())
    }

    /// All trainable parameters, flattened: encoder layers then head, each layer's weight
    /// (row-major, `(d_in, d_out)`) then bias.
    pub fn parameters(&self) -> Vec<f32> {
        self.flat_params()
    }

    /// Replaces all trainable parameters with `values`, in the order of
    /// [`parameters`](Self::parameters). Errors if the length differs or a value is not finite.
    pub fn set_parameters(&mut self, values: &[f32]) -> Result<()> {
        let n = self.n_params();
        if values.len() != n {
            return Err(Error::WidthMismatch {
                what: "parameters",
                expected: n,
                found: values.len(),
            });
        }
        if let Some((col, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "parameters",
                row: 0,
                col,
                value,
            });
        }
        self.set_flat_params(values);
        Ok(())
    }

    /// Mean binary cross-entropy over `data` (positive weight 1) and its gradient with
    /// respect to [`parameters`](Self::parameters), computed over the whole dataset in one
    /// batch. Meant for checks (finite differences, symmetry of gradients) and for custom
    /// optimisers.
    pub fn loss_gradient(&self, data: &dyn PairData) -> Result<(f64, Vec<f32>)> {
        self.check_data(data, "data")?;
        let n = data.len();
        let mut work = self.work(n);
        let idx: Vec<usize> = (0..n).collect();
        let (xs, ys) = work.inp.view_mut().split_at(ndarray::Axis(0), n);
        data.gather(&idx, xs, ys);
        self.forward_stacked(n, &mut work)?;
        let mut d_logits = vec![0.0f32; n];
        let inv = 1.0 / n as f32;
        let loss =
            crate::loss::bce_batch(&work.logits[..n], data.labels(), 1.0, inv, &mut d_logits)
                / n as f64;
        let mut grads = self.zero_grads();
        self.backward_stacked(n, &d_logits, &mut work, &mut grads)?;
        Ok((loss, self.flat_grads(&grads)))
    }

    /// Checks a batch from the user: same shapes, width `input_dim`, at least one row.
    fn check_batch(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<()> {
        if x.nrows() == 0 {
            return Err(Error::Empty { what: "x" });
        }
        if x.ncols() != self.input_dim {
            return Err(Error::WidthMismatch {
                what: "x",
                expected: self.input_dim,
                found: x.ncols(),
            });
        }
        check_pair(x, y)
    }

    /// Logits for a batch of pairs `x[i], y[i]` (`x, y: (n, d)`), computed in chunks; the
    /// inputs are read in place, never copied (except into the encoder's buffer when the
    /// classifier has one). Errors on empty input, wrong widths, or NaN/inf values (naming
    /// the row and column).
    pub fn predict_logits(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        self.check_batch(x, y)?;
        let n = x.nrows();
        let mut out = vec![0.0f32; n];
        let threads = crate::parallel::threads_for(n, crate::parallel::MIN_PAIRS_PER_THREAD);
        let mut parts = split_output(&mut out, threads);
        let results = crate::parallel::map_mut(&mut parts, threads, |_, (r, dst)| {
            let (xs, ys) = (x.slice(s![r.clone(), ..]), y.slice(s![r.clone(), ..]));
            self.predict_range(xs, ys, r.start, dst)
        });
        // The first error in row order, as a sequential pass would report it.
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(Array1::from(out))
    }

    /// Logits of the pairs `x, y` (rows `offset..` of the caller's batch) into `out`,
    /// chunk by chunk with one workspace.
    fn predict_range(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        offset: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let n = x.nrows();
        let cap = n.clamp(1, PREDICT_CHUNK);
        let mut work = self.work(cap);
        let mut start = 0;
        while start < n {
            let end = (start + cap).min(n);
            let xs = x.slice(s![start..end, ..]);
            let ys = y.slice(s![start..end, ..]);
            let check_inputs = || -> Result<()> {
                check_finite("x", xs).map_err(|e| offset_row(e, offset + start))?;
                check_finite("y", ys).map_err(|e| offset_row(e, offset + start))
            };
            if self.encoder.is_none() && self.combiner.propagates_non_finite() {
                // Validate the combined rows while they are in cache; only a non-finite
                // value there sends us back to the inputs (it may also be an overflow of
                // finite inputs, which is not an input error).
                let v = self.combiner.n_views();
                let c = work.c.slice_mut(s![..v * (end - start), ..]);
                self.combiner.forward(xs, ys, c)?;
                if !all_finite(work.c.slice(s![..v * (end - start), ..])) {
                    check_inputs()?;
                }
                self.finish_forward(end - start, &mut work);
            } else {
                check_inputs()?;
                self.forward_views(xs, ys, &mut work)?;
            }
            if let Some(dst) = out.get_mut(start..end) {
                dst.copy_from_slice(&work.logits[..end - start]);
            }
            start = end;
        }
        Ok(())
    }

    /// Probabilities `sigmoid(logit)` for a batch; see [`predict_logits`](Self::predict_logits).
    pub fn predict_proba(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self.predict_logits(x, y)?.mapv_into(sigmoid))
    }

    /// Logit for one pair given as slices of length `input_dim`.
    pub fn predict_pair_logit(&self, x: &[f32], y: &[f32]) -> Result<f32> {
        let xv =
            ArrayView2::from_shape((1, x.len()), x).map_err(|e| Error::Format(e.to_string()))?;
        let yv =
            ArrayView2::from_shape((1, y.len()), y).map_err(|e| Error::Format(e.to_string()))?;
        if x.len() != self.input_dim {
            return Err(Error::WidthMismatch {
                what: "x",
                expected: self.input_dim,
                found: x.len(),
            });
        }
        if y.len() != self.input_dim {
            return Err(Error::WidthMismatch {
                what: "y",
                expected: self.input_dim,
                found: y.len(),
            });
        }
        self.predict_logits(xv, yv)
            .map(|l| l.first().copied().unwrap_or(f32::NAN))
    }

    /// Probability that one pair is similar.
    pub fn predict_pair(&self, x: &[f32], y: &[f32]) -> Result<f32> {
        self.predict_pair_logit(x, y).map(sigmoid)
    }

    /// Logits for every pair of a validated dataset, in order.
    pub fn logits_for(&self, data: &dyn PairData) -> Result<Vec<f32>> {
        self.check_data(data, "data")?;
        let n = data.len();
        let mut out = vec![0.0f32; n];
        let threads = crate::parallel::threads_for(n, crate::parallel::MIN_PAIRS_PER_THREAD);
        let mut parts = split_output(&mut out, threads);
        let results = crate::parallel::map_mut(&mut parts, threads, |_, (r, dst)| {
            let cap = r.len().clamp(1, PREDICT_CHUNK);
            let mut work = self.work(cap);
            let idx: Vec<usize> = r.clone().collect();
            for (c, chunk) in idx.chunks(cap).enumerate() {
                let k = chunk.len();
                let (xs, ys) = work.inp.view_mut().split_at(ndarray::Axis(0), k);
                data.gather(chunk, xs, ys);
                self.forward_stacked(k, &mut work)?;
                if let Some(d) = dst.get_mut(c * cap..c * cap + k) {
                    d.copy_from_slice(&work.logits[..k]);
                }
            }
            Ok(())
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(out)
    }

    /// Checks that a dataset's width matches the classifier.
    pub(crate) fn check_data(&self, data: &dyn PairData, what: &'static str) -> Result<()> {
        if data.dim() != self.input_dim {
            return Err(Error::WidthMismatch {
                what,
                expected: self.input_dim,
                found: data.dim(),
            });
        }
        Ok(())
    }
}

/// Cuts `out` into `parts` contiguous pieces, each with its range of rows.
fn split_output(out: &mut [f32], parts: usize) -> Vec<(std::ops::Range<usize>, &mut [f32])> {
    let ranges = crate::parallel::ranges(out.len(), parts);
    let mut pieces = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for r in ranges {
        let (head, tail) = rest.split_at_mut(r.len());
        pieces.push((r, head));
        rest = tail;
    }
    pieces
}

/// Shifts the row of a [`Error::NonFinite`] found in a chunk starting at `start`.
fn offset_row(e: Error, start: usize) -> Error {
    match e {
        Error::NonFinite {
            what,
            row,
            col,
            value,
        } => Error::NonFinite {
            what,
            row: row + start,
            col,
            value,
        },
        other => other,
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a, C> {
    format: &'a str,
    version: u64,
    model: &'a PairClassifier<C>,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u64,
    model: serde_json::Value,
}

impl<C: PairCombiner + Serialize> PairClassifier<C> {
    /// The model as JSON bytes with a format name and version.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(&EnvelopeOut {
            format: FORMAT_NAME,
            version: FORMAT_VERSION,
            model: self,
        })
        .map_err(|e| Error::Format(e.to_string()))
    }

    /// Saves the model as JSON, atomically: the bytes go to a temporary file in the same
    /// folder, which is synced and then renamed over `path`. An interrupted save leaves
    /// any previous file at `path` intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_json_bytes()?;
        crate::atomic::atomic_write(path.as_ref(), |w| w.write_all(&bytes))
    }
}

impl<C: PairCombiner + DeserializeOwned> PairClassifier<C> {
    /// Reads a model from JSON bytes written by [`to_json_bytes`](Self::to_json_bytes).
    /// Malformed, truncated or inconsistent input gives [`Error::Format`], another format
    /// version [`Error::Version`]; never a panic.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self> {
        let env: EnvelopeIn =
            serde_json::from_slice(bytes).map_err(|e| Error::Format(e.to_string()))?;
        if env.format != FORMAT_NAME {
            return Err(Error::Format(format!(
                "not a sympair model (format {:?})",
                env.format
            )));
        }
        if env.version != FORMAT_VERSION {
            return Err(Error::Version {
                found: env.version,
                expected: FORMAT_VERSION,
            });
        }
        let mut model: PairClassifier<C> =
            serde_json::from_value(env.model).map_err(|e| Error::Format(e.to_string()))?;
        model.validate()?;
        Ok(model)
    }

    /// Loads a model saved by [`save`](Self::save).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_bytes(&bytes)
    }
}
