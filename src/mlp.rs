//! Multi-layer perceptrons: the classifier head and the optional shared encoder.
//!
//! An [`Mlp`] maps a batch `(n, d_in)` to `(n, d_out)` through linear layers
//! `z_l = a_{l-1} W_l + b_l` (`W_l` has shape `(d_{l-1}, d_l)`), with the configured
//! [`Activation`] after every layer but the last. The last layer is linear: as a head it
//! emits one logit per row, as an encoder it emits the embedding.
//!
//! Weights start from a seeded normal draw: He (`std = sqrt(2 / fan_in)`) for the ReLU
//! family and GELU, Xavier (`std = sqrt(2 / (fan_in + fan_out))`) for tanh; biases start at 0.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Zip, s};
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::alloc::{try_array2_from_fn, try_zeros, try_zeros1};
use crate::error::{Error, Result};

/// Shape of an MLP: the widths of its hidden layers and their activation.
///
/// The output width is set by where the MLP is used (1 for a head, the embedding width
/// for an encoder). An empty `hidden` list gives a single linear layer.
///
/// ```
/// use sympair::{Activation, MlpConfig};
/// let cfg = MlpConfig::new([128, 32])?.with_activation(Activation::Gelu);
/// assert_eq!(cfg.hidden(), &[128, 32]);
/// assert!(MlpConfig::new([64, 0]).is_err());
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawMlpConfig")]
pub struct MlpConfig {
    hidden: Vec<usize>,
    activation: Activation,
}

/// The serde form of [`MlpConfig`] before the checks of [`MlpConfig::new`].
#[derive(Deserialize)]
struct RawMlpConfig {
    hidden: Vec<usize>,
    activation: Activation,
}

impl TryFrom<RawMlpConfig> for MlpConfig {
    type Error = Error;
    fn try_from(raw: RawMlpConfig) -> Result<Self> {
        Ok(MlpConfig::new(raw.hidden)?.with_activation(raw.activation))
    }
}

impl Default for MlpConfig {
    /// One hidden layer of 64 units with ReLU.
    fn default() -> Self {
        MlpConfig {
            hidden: vec![64],
            activation: Activation::Relu,
        }
    }
}

impl MlpConfig {
    /// Hidden widths in order (input side first); every width must be at least 1.
    /// The activation defaults to [`Activation::Relu`].
    pub fn new(hidden: impl Into<Vec<usize>>) -> Result<Self> {
        let hidden = hidden.into();
        if let Some(pos) = hidden.iter().position(|&w| w == 0) {
            return Err(Error::config(
                "hidden",
                format!("layer {pos} has width 0; every hidden width must be at least 1"),
            ));
        }
        Ok(MlpConfig {
            hidden,
            activation: Activation::Relu,
        })
    }

    /// No hidden layer: a single linear map (logistic regression when used as a head).
    pub fn linear() -> Self {
        MlpConfig {
            hidden: Vec::new(),
            activation: Activation::Relu,
        }
    }

    /// Sets the hidden-layer activation (default [`Activation::Relu`]).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Hidden widths.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }

    /// Hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
}

/// One affine layer `z = a W + b` with `W: (d_in, d_out)`, `b: (d_out)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Linear {
    pub(crate) w: Array2<f32>,
    pub(crate) b: Array1<f32>,
}

/// A trained or freshly initialised multi-layer perceptron. Built by
/// [`PairClassifierBuilder`](crate::PairClassifierBuilder) from an [`MlpConfig`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawMlp")]
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
}

/// The serde form of [`Mlp`] before [`Mlp::validate`].
#[derive(Deserialize)]
struct RawMlp {
    layers: Vec<Linear>,
    activation: Activation,
}

impl TryFrom<RawMlp> for Mlp {
    type Error = Error;
    fn try_from(raw: RawMlp) -> Result<Self> {
        let mut mlp = Mlp {
            layers: raw.layers,
            activation: raw.activation,
        };
        mlp.validate("network")?;
        Ok(mlp)
    }
}

/// Gradients of an [`Mlp`]'s parameters, same shapes as the parameters.
#[derive(Clone, Debug)]
pub(crate) struct MlpGrads {
    pub(crate) dw: Vec<Array2<f32>>,
    pub(crate) db: Vec<Array1<f32>>,
}

/// Reusable buffers for forward and backward passes of up to `capacity` rows.
#[derive(Clone, Debug)]
pub(crate) struct MlpWork {
    capacity: usize,
    /// Pre-activations per layer, `(capacity, d_l)`.
    z: Vec<Array2<f32>>,
    /// Activations per hidden layer, `(capacity, d_l)`; empty for the last layer.
    a: Vec<Array2<f32>>,
    /// Gradients with respect to pre-activations, `(capacity, d_l)`.
    dz: Vec<Array2<f32>>,
    /// Bias-gradient sums of the second half of the rows, `(d_l)`.
    db_half: Vec<Array1<f32>>,
    /// Dropout masks per hidden layer (`0` or `1 / (1 - p)`), allocated on first use.
    mask: Vec<Array2<f32>>,
    /// Masked activations per hidden layer (`a * mask`), allocated on first use.
    dropped: Vec<Array2<f32>>,
    /// Whether the last forward pass applied dropout (then backward uses `mask`).
    dropout_on: bool,
}

/// Training-time (inverted) dropout of an MLP's hidden activations: each unit of row `r`
/// of hidden layer `l` is zeroed with probability `p`, the rest scaled by `1 / (1 - p)`.
///
/// Masks are a fixed function of `(seed, l, keys[r])` (a counter-based draw, not an RNG
/// stream shared across rows), so they do not depend on which thread runs the rows, and
/// rows with the same key (an item and its copy in the swapped pair) share their masks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dropout<'a> {
    /// Drop probability, in `[0, 1)`.
    pub(crate) p: f32,
    /// Seed of this batch slice.
    pub(crate) seed: u64,
    /// Mask key of each row (at least as many as rows).
    pub(crate) keys: &'a [u64],
}

impl Dropout<'_> {
    /// Writes the masks of hidden layer `layer` for `mask.nrows()` rows.
    fn fill(&self, layer: usize, mut mask: ArrayViewMut2<f32>) {
        use rand::{RngExt, SeedableRng};
        let scale = 1.0 / (1.0 - self.p);
        for (mut row, &key) in mask.rows_mut().into_iter().zip(self.keys) {
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(mix(mix(
                self.seed ^ layer as u64
            ) ^ key));
            for m in row.iter_mut() {
                *m = if rng.random::<f32>() < self.p {
                    0.0
                } else {
                    scale
                };
            }
        }
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit function of `z`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Mlp {
    /// Initialises a network `d_in -> hidden... -> d_out` with seeded weights.
    pub(crate) fn init<R: Rng + ?Sized>(
        config: &MlpConfig,
        d_in: usize,
        d_out: usize,
        rng: &mut R,
    ) -> Result<Self> {
        if d_in == 0 {
            return Err(Error::config("input_dim", "must be at least 1"));
        }
        if d_out == 0 {
            return Err(Error::config("output_dim", "must be at least 1"));
        }
        let mut widths = Vec::with_capacity(config.hidden.len() + 2);
        widths.push(d_in);
        widths.extend_from_slice(&config.hidden);
        widths.push(d_out);
        let mut layers = Vec::with_capacity(widths.len() - 1);
        let n_layers = widths.len() - 1;
        for (l, pair) in widths.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            // ndarray panics on arrays of more than isize::MAX bytes; say which width is at fault.
            let bytes = fan_in
                .checked_mul(fan_out)
                .and_then(|n| n.checked_mul(std::mem::size_of::<f32>()));
            if bytes.is_none_or(|b| b > isize::MAX as usize) {
                // Blame the wider of the two widths: 0 is the input, n_layers the output.
                let wide = if fan_in >= fan_out { l } else { l + 1 };
                let field = match wide {
                    0 => "input_dim",
                    _ if wide == n_layers => "output_dim",
                    _ => "hidden",
                };
                return Err(Error::config(
                    field,
                    format!("a {fan_in} x {fan_out} weight matrix is too large"),
                ));
            }
            let std = if config.activation.uses_he_init() {
                (2.0 / fan_in as f64).sqrt()
            } else {
                (2.0 / (fan_in + fan_out) as f64).sqrt()
            };
            let normal = Normal::new(0.0f64, std)
                .map_err(|e| Error::config("hidden", format!("cannot initialise: {e}")))?;
            // Fallible: a width that fits in isize but not in memory must not abort.
            let w = try_array2_from_fn(
                || format!("layer {l} weight ({fan_in} x {fan_out})"),
                (fan_in, fan_out),
                || normal.sample(&mut *rng) as f32,
            )?;
            let b = try_zeros1(|| format!("layer {l} bias ({fan_out})"), fan_out)?;
            layers.push(Linear { w, b });
        }
        Ok(Mlp {
            layers,
            activation: config.activation,
        })
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.layers.first().map_or(0, |l| l.w.nrows())
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.w.ncols())
    }

    /// Hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Widths of the hidden layers.
    pub fn hidden(&self) -> Vec<usize> {
        let n = self.layers.len();
        self.layers
            .iter()
            .take(n.saturating_sub(1))
            .map(|l| l.w.ncols())
            .collect()
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// Weight matrix of layer `l` (`(d_in, d_out)`), if it exists.
    pub fn weight(&self, l: usize) -> Option<ArrayView2<'_, f32>> {
        self.layers.get(l).map(|layer| layer.w.view())
    }

    /// Checks a network that came from outside (a file): at least one layer, chained
    /// shapes, biases matching, standard layout, all values finite.
    pub(crate) fn validate(&mut self, what: &'static str) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::Format(format!("{what}: network has no layers")));
        }
        let mut prev: Option<usize> = None;
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let (din, dout) = layer.w.dim();
            if din == 0 || dout == 0 {
                return Err(Error::Format(format!(
                    "{what}: layer {l} has an empty weight"
                )));
            }
            if let Some(p) = prev
                && p != din
            {
                return Err(Error::Format(format!(
                    "{what}: layer {l} takes width {din} but the previous layer gives {p}"
                )));
            }
            if layer.b.len() != dout {
                return Err(Error::Format(format!(
                    "{what}: layer {l} bias has length {} for width {dout}",
                    layer.b.len()
                )));
            }
            if !layer.w.is_standard_layout() {
                layer.w = layer.w.as_standard_layout().into_owned();
            }
            if layer.w.iter().chain(layer.b.iter()).any(|v| !v.is_finite()) {
                return Err(Error::Format(format!(
                    "{what}: layer {l} has a non-finite weight"
                )));
            }
            prev = Some(dout);
        }
        Ok(())
    }

    pub(crate) fn zero_grads(&self) -> MlpGrads {
        MlpGrads {
            dw: self
                .layers
                .iter()
                .map(|l| Array2::zeros(l.w.raw_dim()))
                .collect(),
            db: self
                .layers
                .iter()
                .map(|l| Array1::zeros(l.b.len()))
                .collect(),
        }
    }

    /// Buffers for passes of up to `capacity` rows. Panics (with the reason) if they
    /// cannot be allocated; [`Mlp::try_work`] returns the error instead.
    pub(crate) fn work(&self, capacity: usize) -> MlpWork {
        self.try_work(capacity)
            .unwrap_or_else(|e| panic!("MLP workspace of {capacity} rows: {e}"))
    }

    /// Buffers for passes of up to `capacity` rows, or [`Error::TooLarge`] if they cannot
    /// be allocated (a wide layer times many rows can exceed memory even when the
    /// weights fit).
    pub(crate) fn try_work(&self, capacity: usize) -> Result<MlpWork> {
        let n = self.layers.len();
        let mut z = Vec::with_capacity(n);
        let mut a = Vec::with_capacity(n);
        let mut dz = Vec::with_capacity(n);
        let mut db_half = Vec::with_capacity(n);
        for (l, layer) in self.layers.iter().enumerate() {
            let w = layer.w.ncols();
            let what = |buf: &'static str| move || format!("layer {l} {buf} ({capacity} x {w})");
            z.push(try_zeros(what("pre-activations"), (capacity, w))?);
            dz.push(try_zeros(what("gradients"), (capacity, w))?);
            a.push(if l + 1 < n {
                try_zeros(what("activations"), (capacity, w))?
            } else {
                Array2::zeros((0, 0))
            });
            db_half.push(Array1::zeros(w));
        }
        Ok(MlpWork {
            capacity,
            z,
            a,
            dz,
            db_half,
            mask: vec![Array2::zeros((0, 0)); n],
            dropped: vec![Array2::zeros((0, 0)); n],
            dropout_on: false,
        })
    }

    /// Visits `(parameter, gradient)` slices in a fixed order: per layer, weight then bias.
    /// Without `grads`, the gradient slice passed is empty.
    ///
    /// Panics if `grads` does not match this network layer for layer, or if a parameter
    /// array is not contiguous: both are internal invariants (gradients come from
    /// [`Mlp::zero_grads`]; weights are built in standard layout, and
    /// [`Mlp::validate`] re-lays out any that were loaded otherwise), so no layer is ever
    /// skipped silently.
    pub(crate) fn visit_params(
        &mut self,
        grads: Option<&MlpGrads>,
        f: &mut dyn FnMut(&mut [f32], &[f32]),
    ) {
        if let Some(g) = grads {
            assert!(
                g.dw.len() == self.layers.len() && g.db.len() == self.layers.len(),
                "MlpGrads has {} weight and {} bias gradients for {} layers",
                g.dw.len(),
                g.db.len(),
                self.layers.len()
            );
        }
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let (dw, db): (&[f32], &[f32]) = match grads {
                Some(g) => (
                    g.dw[l]
                        .as_slice()
                        .expect("weight gradients are allocated contiguous by zero_grads"),
                    g.db[l]
                        .as_slice()
                        .expect("bias gradients are allocated contiguous by zero_grads"),
                ),
                None => (&[], &[]),
            };
            f(
                layer
                    .w
                    .as_slice_mut()
                    .expect("weights are standard layout (built so, or re-laid out by validate)"),
                dw,
            );
            f(
                layer
                    .b
                    .as_slice_mut()
                    .expect("a bias is a contiguous one-dimensional array"),
                db,
            );
        }
    }

    /// Visits parameter slices (read-only) in the order of [`Mlp::visit_params`].
    ///
    /// Panics on a non-contiguous parameter array, an internal invariant (see
    /// [`Mlp::visit_params`]).
    pub(crate) fn visit_values(&self, f: &mut dyn FnMut(&[f32])) {
        for layer in &self.layers {
            f(layer
                .w
                .as_slice()
                .expect("weights are standard layout (built so, or re-laid out by validate)"));
            f(layer
                .b
                .as_slice()
                .expect("a bias is a contiguous one-dimensional array"));
        }
    }

    /// Forward pass over the first `input.nrows()` rows of the workspace. The output is
    /// available from [`MlpWork::output`]. Caller guarantees `input` has `input_dim`
    /// columns and at most `capacity` rows.
    pub(crate) fn forward(&self, input: ArrayView2<f32>, ws: &mut MlpWork) {
        self.forward_dropout(input, ws, None);
    }

    /// [`Mlp::forward`] with training-time dropout on the hidden activations (none when
    /// `dropout` is `None` or its rate is 0: then exactly [`Mlp::forward`]).
    pub(crate) fn forward_dropout(
        &self,
        input: ArrayView2<f32>,
        ws: &mut MlpWork,
        dropout: Option<Dropout>,
    ) {
        let rows = input.nrows();
        debug_assert!(rows <= ws.capacity);
        if let Some(first) = self.layers.first() {
            let mut z = ws.z[0].slice_mut(s![..rows, ..]);
            for mut row in z.rows_mut() {
                row.assign(&first.b);
            }
            general_mat_mul(1.0, &input, &first.w, 1.0, &mut z);
        }
        self.forward_after_first_dropout(rows, ws, dropout);
    }

    /// Finishes a forward pass whose first-layer pre-activation (`z_0 = x W_0 + b_0`) is
    /// already in [`MlpWork::first_preact_mut`]: activation, then the remaining layers.
    pub(crate) fn forward_after_first(&self, rows: usize, ws: &mut MlpWork) {
        self.forward_after_first_dropout(rows, ws, None);
    }

    fn forward_after_first_dropout(&self, rows: usize, ws: &mut MlpWork, dropout: Option<Dropout>) {
        let last = self.layers.len().saturating_sub(1);
        let dropout = dropout.filter(|d| d.p > 0.0 && last > 0);
        ws.dropout_on = dropout.is_some();
        if let Some(d) = &dropout {
            debug_assert!(d.keys.len() >= rows, "a dropout key per row");
            for l in 0..last {
                if ws.mask[l].nrows() < ws.capacity {
                    let w = self.layers[l].w.ncols();
                    ws.mask[l] = Array2::zeros((ws.capacity, w));
                    ws.dropped[l] = Array2::zeros((ws.capacity, w));
                }
            }
        }
        for (l, layer) in self.layers.iter().enumerate() {
            if l > 0 {
                let prev = if ws.dropout_on { &ws.dropped } else { &ws.a };
                let mut z = ws.z[l].slice_mut(s![..rows, ..]);
                for mut row in z.rows_mut() {
                    row.assign(&layer.b);
                }
                general_mat_mul(
                    1.0,
                    &prev[l - 1].slice(s![..rows, ..]),
                    &layer.w,
                    1.0,
                    &mut z,
                );
            }
            if l < last {
                let (zl, al) = (&ws.z[l], &mut ws.a[l]);
                self.activation
                    .forward(zl.slice(s![..rows, ..]), al.slice_mut(s![..rows, ..]));
                if let Some(d) = &dropout {
                    let mut mask = ws.mask[l].slice_mut(s![..rows, ..]);
                    d.fill(l, mask.view_mut());
                    Zip::from(ws.dropped[l].slice_mut(s![..rows, ..]))
                        .and(&mask)
                        .and(ws.a[l].slice(s![..rows, ..]))
                        .for_each(|o, &m, &a| *o = a * m);
                }
            }
        }
    }

    /// Sets every weight of a one-layer network to `w` (used for a 1 -> 1 calibration head).
    pub(crate) fn set_single_weight(&mut self, w: f32) {
        if let [layer] = self.layers.as_mut_slice() {
            layer.w.fill(w);
        }
    }

    /// First layer's weight and bias.
    pub(crate) fn first_layer(&self) -> Option<(&Array2<f32>, &Array1<f32>)> {
        self.layers.first().map(|l| (&l.w, &l.b))
    }

    /// For a network with exactly one hidden layer and one output: `(b_0, w_1, b_1)` as
    /// slices, for the fused per-pair path of all-pairs scoring.
    pub(crate) fn one_hidden_to_scalar(&self) -> Option<(&[f32], &[f32], f32)> {
        match self.layers.as_slice() {
            [first, second] if second.w.ncols() == 1 => Some((
                first.b.as_slice()?,
                second.w.as_slice()?,
                *second.b.first()?,
            )),
            _ => None,
        }
    }

    /// Backward pass for the rows of the last [`Mlp::forward`] (same `input`). The caller
    /// has written `dL/d(output)` into [`MlpWork::d_output_mut`]. Writes parameter
    /// gradients into `grads` (overwriting) and, if `d_input` is given, `dL/d(input)`.
    pub(crate) fn backward(
        &self,
        input: ArrayView2<f32>,
        ws: &mut MlpWork,
        grads: &mut MlpGrads,
        d_input: Option<ArrayViewMut2<f32>>,
        halves: bool,
    ) {
        let rows = input.nrows();
        // With `halves`, the rows are two halves (x then y, or view 0 then view 1) and each
        // parameter gradient is formed as (sum over the first half) + (sum over the second):
        // swapping the halves swaps the two terms of one addition, so the gradient of
        // (y, x) equals that of (x, y) bit for bit (as long as a half fits in one
        // matrix-product block of 256 rows).
        let split = if halves && rows % 2 == 0 {
            rows / 2
        } else {
            rows
        };
        for l in (0..self.layers.len()).rev() {
            let layer = &self.layers[l];
            let (dz_before, dz_rest) = ws.dz.split_at_mut(l);
            let dz = dz_rest[0].slice(s![..rows, ..]);
            let inp = if l == 0 {
                input
            } else if ws.dropout_on {
                ws.dropped[l - 1].slice(s![..rows, ..])
            } else {
                ws.a[l - 1].slice(s![..rows, ..])
            };
            let (inp1, inp2) = inp.split_at(Axis(0), split);
            let (dz1, dz2) = dz.split_at(Axis(0), split);
            general_mat_mul(1.0, &inp1.t(), &dz1, 0.0, &mut grads.dw[l]);
            let db = &mut grads.db[l];
            sum_rows(dz1, db.view_mut());
            if split < rows {
                general_mat_mul(1.0, &inp2.t(), &dz2, 1.0, &mut grads.dw[l]);
                let half = &mut ws.db_half[l];
                sum_rows(dz2, half.view_mut());
                Zip::from(&mut *db).and(&*half).for_each(|d, &h| *d += h);
            }
            if l > 0 {
                let mut da = dz_before[l - 1].slice_mut(s![..rows, ..]);
                general_mat_mul(1.0, &dz, &layer.w.t(), 0.0, &mut da);
                if ws.dropout_on {
                    // d(a * mask)/da = mask, the mask of the forward pass.
                    Zip::from(&mut da)
                        .and(ws.mask[l - 1].slice(s![..rows, ..]))
                        .for_each(|d, &m| *d *= m);
                }
                self.activation.backward_in_place(
                    ws.z[l - 1].slice(s![..rows, ..]),
                    ws.a[l - 1].slice(s![..rows, ..]),
                    da,
                );
            }
        }
        if let (Some(mut d_in), Some(first)) = (d_input, self.layers.first()) {
            let dz = ws.dz[0].slice(s![..rows, ..]);
            general_mat_mul(1.0, &dz, &first.w.t(), 0.0, &mut d_in);
        }
    }
}

/// `out = sum of the rows of m`, accumulated in row order from 0.
fn sum_rows(m: ArrayView2<f32>, mut out: ndarray::ArrayViewMut1<f32>) {
    out.fill(0.0);
    for row in m.rows() {
        Zip::from(&mut out).and(&row).for_each(|d, &g| *d += g);
    }
}

impl MlpWork {
    /// Output of the last forward pass, `(rows, d_out)`.
    pub(crate) fn output(&self, rows: usize) -> ArrayView2<'_, f32> {
        match self.z.last() {
            Some(z) => z.slice(s![..rows, ..]),
            None => ArrayView2::from_shape((0, 0), &[]).unwrap_or_else(|_| unreachable!()),
        }
    }

    /// The output of the last forward pass and the buffer for `dL/d(output)`, together.
    pub(crate) fn output_and_d_output(
        &mut self,
        rows: usize,
    ) -> Option<(ArrayView2<'_, f32>, ArrayViewMut2<'_, f32>)> {
        let z = self.z.last()?;
        let dz = self.dz.last_mut()?;
        Some((z.slice(s![..rows, ..]), dz.slice_mut(s![..rows, ..])))
    }

    /// The first layer's pre-activation rows, for [`Mlp::forward_after_first`].
    pub(crate) fn first_preact_mut(&mut self, rows: usize) -> Option<ArrayViewMut2<'_, f32>> {
        self.z.first_mut().map(|z| z.slice_mut(s![..rows, ..]))
    }

    /// Where the caller writes `dL/d(output)` before [`Mlp::backward`].
    pub(crate) fn d_output_mut(&mut self, rows: usize) -> ArrayViewMut2<'_, f32> {
        match self.dz.last_mut() {
            Some(dz) => dz.slice_mut(s![..rows, ..]),
            None => ArrayViewMut2::from_shape((0, 0), &mut []).unwrap_or_else(|_| unreachable!()),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus as StdRng;

    use super::*;

    fn net(hidden: &[usize]) -> Mlp {
        Mlp::init(
            &MlpConfig::new(hidden.to_vec()).unwrap(),
            3,
            1,
            &mut StdRng::seed_from_u64(7),
        )
        .unwrap()
    }

    #[test]
    fn visit_params_pairs_every_parameter_slice_with_its_gradient() {
        let mut m = net(&[4]);
        let mut g = m.zero_grads();
        g.dw[1].fill(2.0);
        g.db[0].fill(3.0);
        let mut seen = Vec::new();
        m.visit_params(Some(&g), &mut |p, d| {
            assert_eq!(p.len(), d.len());
            seen.push((p.len(), d.first().copied()));
        });
        assert_eq!(
            seen,
            [
                (12, Some(0.0)),
                (4, Some(3.0)),
                (4, Some(2.0)),
                (1, Some(0.0))
            ]
        );
        let mut lens = Vec::new();
        m.visit_params(None, &mut |p, d| {
            assert!(d.is_empty());
            lens.push(p.len());
        });
        assert_eq!(lens, [12, 4, 4, 1]);
        assert_eq!(lens.iter().sum::<usize>(), m.n_params());
    }

    #[test]
    #[should_panic(expected = "MlpGrads has 1 weight and 1 bias gradients for 2 layers")]
    fn visit_params_refuses_gradients_of_another_network() {
        let g = net(&[]).zero_grads();
        net(&[4]).visit_params(Some(&g), &mut |_, _| {});
    }
}
