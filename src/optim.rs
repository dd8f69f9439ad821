//! Optimizers: Adam (with decoupled weight decay, i.e. AdamW) and SGD with momentum.
//!
//! Adam, for each parameter `p` with gradient `g` at step `t` (from 1):
//! `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
//! `p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr wd p`.
//!
//! SGD with momentum `mu` and weight decay `wd`: `g' = g + wd p`, `b = mu b + g'`, `p -= lr b`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An optimizer and its hyperparameters. Build with [`Optimizer::adam`] or
/// [`Optimizer::sgd`]; values are checked when training starts, and when deserialised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "RawOptimizer")]
pub enum Optimizer {
    /// Adam / AdamW.
    Adam {
        /// Learning rate (finite, `> 0`).
        lr: f32,
        /// First-moment decay (in `[0, 1)`; default 0.9).
        beta1: f32,
        /// Second-moment decay (in `[0, 1)`; default 0.999).
        beta2: f32,
        /// Denominator guard (finite, `> 0`; default 1e-8).
        eps: f32,
    },
    /// Stochastic gradient descent with (heavy-ball) momentum.
    Sgd {
        /// Learning rate (finite, `> 0`).
        lr: f32,
        /// Momentum (in `[0, 1)`; 0 for plain SGD).
        momentum: f32,
    },
}

/// The serde form of [`Optimizer`] before [`Optimizer::check`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawOptimizer {
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
    Sgd {
        lr: f32,
        momentum: f32,
    },
}

impl TryFrom<RawOptimizer> for Optimizer {
    type Error = Error;
    fn try_from(raw: RawOptimizer) -> Result<Self> {
        let opt = match raw {
            RawOptimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            },
            RawOptimizer::Sgd { lr, momentum } => Optimizer::Sgd { lr, momentum },
        };
        opt.check()?;
        Ok(opt)
    }
}

impl Default for Optimizer {
    /// `Optimizer::adam(1e-3)`.
    fn default() -> Self {
        Optimizer::adam(1e-3)
    }
}

impl Optimizer {
    /// Adam with learning rate `lr`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`.
    ///
    /// Sane range: `1e-4 ..= 1e-2` (default 1e-3). Any finite `lr > 0` is accepted, but
    /// above ~0.1 the units saturate and the model stays at chance while `fit` returns
    /// `Ok`: look at [`History::warnings`](crate::History::warnings).
    pub fn adam(lr: f32) -> Self {
        Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// SGD with learning rate `lr` and momentum `momentum`.
    ///
    /// Sane range: `lr` in `1e-3 ..= 0.5`, `momentum` 0.9 (any finite `lr > 0` and
    /// momentum in `[0, 1)` are accepted; see [`History::warnings`](crate::History::warnings)
    /// for runs that do not learn).
    pub fn sgd(lr: f32, momentum: f32) -> Self {
        Optimizer::Sgd { lr, momentum }
    }

    /// Checks the hyperparameters.
    pub fn check(&self) -> Result<()> {
        let lr = match *self {
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                check_unit("beta1", beta1)?;
                check_unit("beta2", beta2)?;
                if !(eps.is_finite() && eps > 0.0) {
                    return Err(Error::config(
                        "eps",
                        format!("must be finite and > 0, got {eps}"),
                    ));
                }
                lr
            }
            Optimizer::Sgd { lr, momentum } => {
                check_unit("momentum", momentum)?;
                lr
            }
        };
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config(
                "learning rate",
                format!("must be finite and > 0, got {lr}"),
            ));
        }
        Ok(())
    }
}

fn check_unit(field: &'static str, v: f32) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::config(field, format!("must be in [0, 1), got {v}")))
    }
}

/// Tensors of up to this many elements are updated on the calling thread.
const PARALLEL_FROM: usize = 8192;
/// Elements per piece of a larger tensor: small enough that two threads share a
/// 384 x 64 weight evenly (rayon groups pieces into tasks as threads become free).
const STEP_CHUNK: usize = 2048;

/// Optimizer state, one slot per parameter tensor in visiting order. It sees parameter
/// and gradient slices, never the model: `fit` hands it the model's tensors one by one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawOptState")]
pub(crate) struct OptState {
    opt: Optimizer,
    weight_decay: f32,
    t: i32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

/// The optimizer's running state between [`fit`](crate::PairClassifier::fit) calls: Adam's
/// moment estimates and step count (SGD: the momentum buffers), for warm starts with
/// [`PairClassifier::fit_warm`](crate::PairClassifier::fit_warm). Empty until the first
/// warm fit; serialisable, and saved inside the model file when asked
/// ([`save_with_state`](crate::PairClassifier::save_with_state),
/// [`load_with_state`](crate::PairClassifier::load_with_state)).
///
/// ```
/// use sympair::{ClusterTask, Combiner, OptimizerState, PairClassifier, TrainConfig};
/// let data = ClusterTask::new(4, 3)?.generate(200, 1)?;
/// let mut model = PairClassifier::builder(4, Combiner::AbsDiff).build()?;
/// let mut state = OptimizerState::new();
/// let cfg = TrainConfig::new().with_epochs(2);
/// model.fit_warm(&data, None, &cfg, &mut state)?;
/// assert_eq!(state.steps(), 8); // 2 epochs of 4 batches of 64 (the last one short)
/// model.fit_warm(&data, None, &cfg, &mut state)?; // continues: Adam is not restarted
/// assert_eq!(state.steps(), 16);
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    inner: Option<OptState>,
}

impl OptimizerState {
    /// An empty state: the next warm fit starts the optimizer afresh.
    pub fn new() -> Self {
        Self::default()
    }
    /// Optimizer steps taken so far (0 when empty).
    pub fn steps(&self) -> u64 {
        self.inner.as_ref().map_or(0, |s| s.t.max(0) as u64)
    }
    /// Whether no step has been taken.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// The state to train with under `opt` and `weight_decay` for a model whose parameter
    /// tensors have the lengths `shapes`: the kept moments (with the new settings) or a
    /// fresh state. Errors: the kept state belongs to another optimizer kind or to a model
    /// of other shapes.
    pub(crate) fn take_for(
        &mut self,
        opt: &Optimizer,
        weight_decay: f32,
        shapes: &[usize],
    ) -> Result<OptState> {
        let Some(mut st) = self.inner.take().filter(|st| !st.m.is_empty()) else {
            return Ok(OptState::new(opt.clone(), weight_decay));
        };
        let same_kind = matches!(
            (&st.opt, opt),
            (Optimizer::Adam { .. }, Optimizer::Adam { .. })
                | (Optimizer::Sgd { .. }, Optimizer::Sgd { .. })
        );
        let fits = st.m.iter().map(Vec::len).eq(shapes.iter().copied())
            && st.v.iter().map(Vec::len).eq(shapes.iter().copied());
        if !same_kind || !fits {
            let why = if same_kind {
                "was built for a model of other parameter shapes"
            } else {
                "belongs to another optimizer kind"
            };
            self.inner = Some(st);
            return Err(Error::config("optimizer_state", why));
        }
        st.opt = opt.clone();
        st.weight_decay = weight_decay;
        Ok(st)
    }

    /// Checks that this state fits a model whose parameter tensors have the lengths
    /// `shapes` (an empty state fits every model). Errors: [`Error::Format`] naming the
    /// first tensor that differs.
    pub(crate) fn check_fits(&self, shapes: &[usize]) -> Result<()> {
        let Some(st) = self.inner.as_ref().filter(|st| !st.m.is_empty()) else {
            return Ok(());
        };
        if st.m.len() != shapes.len() {
            return Err(Error::Format(format!(
                "optimizer_state has {} tensors but the model has {}",
                st.m.len(),
                shapes.len()
            )));
        }
        if let Some((t, (m, want))) =
            st.m.iter()
                .zip(shapes)
                .enumerate()
                .find(|(_, (m, want))| m.len() != **want)
        {
            return Err(Error::Format(format!(
                "optimizer_state tensor {t} has {} values but the model's has {want}",
                m.len()
            )));
        }
        Ok(())
    }

    /// Keeps `st` for the next warm fit.
    pub(crate) fn put(&mut self, st: OptState) {
        self.inner = Some(st);
    }
}

/// The serde form of [`OptState`] before its checks.
#[derive(Deserialize)]
struct RawOptState {
    opt: Optimizer,
    weight_decay: f32,
    t: i32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl TryFrom<RawOptState> for OptState {
    type Error = Error;
    fn try_from(raw: RawOptState) -> Result<Self> {
        let bad = |what: String| Err(Error::config("optimizer_state", what));
        if raw.t < 0 {
            return bad(format!("step count must be >= 0, got {}", raw.t));
        }
        if !(raw.weight_decay.is_finite() && raw.weight_decay >= 0.0) {
            return bad(format!(
                "weight decay must be finite and >= 0, got {}",
                raw.weight_decay
            ));
        }
        if raw.m.len() != raw.v.len() || raw.m.iter().zip(&raw.v).any(|(a, b)| a.len() != b.len()) {
            return bad("first and second moments differ in shape".into());
        }
        for (t, (m, v)) in raw.m.iter().zip(&raw.v).enumerate() {
            if let Some(k) = m.iter().position(|x| !x.is_finite()) {
                return bad(format!("non-finite first moment in tensor {t} at {k}"));
            }
            if let Some(k) = v.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                return bad(format!("invalid second moment in tensor {t} at {k}"));
            }
        }
        Ok(OptState {
            opt: raw.opt,
            weight_decay: raw.weight_decay,
            t: raw.t,
            m: raw.m,
            v: raw.v,
        })
    }
}

impl OptState {
    pub(crate) fn new(opt: Optimizer, weight_decay: f32) -> Self {
        OptState {
            opt,
            weight_decay,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// One update of every parameter tensor. `for_each_tensor` calls its argument once per
    /// `(parameters, gradient)` pair of slices, always in the same order. Returns whether
    /// every updated parameter is finite.
    ///
    /// With `backup`, the parameters before the update are copied into it first (flattened
    /// in visiting order; it must hold exactly every parameter), inside the same chunks as
    /// the update: a separate serial copy per mini-batch cost about 2 % of a default
    /// two-thread epoch at d = 384 (perf, `SECTION=default` of the throughput example).
    ///
    /// The update is element-wise, so splitting a large tensor over the rayon pool gives
    /// the same bits as one thread.
    pub(crate) fn step_scaled(
        &mut self,
        lr_factor: f32,
        mut backup: Option<&mut [f32]>,
        for_each_tensor: impl FnOnce(&mut dyn FnMut(&mut [f32], &[f32])),
    ) -> bool {
        self.t = self.t.saturating_add(1);
        let rule = Rule::new(&self.opt, self.t, self.weight_decay, lr_factor);
        let (ms, vs) = (&mut self.m, &mut self.v);
        let mut slot = 0usize;
        let mut offset = 0usize;
        let mut finite = true;
        for_each_tensor(&mut |p, g| {
            assert_eq!(
                p.len(),
                g.len(),
                "gradient of tensor {slot} has the wrong length"
            );
            if ms.len() == slot {
                ms.push(vec![0.0; p.len()]);
                vs.push(vec![0.0; p.len()]);
            }
            let (m, v) = (&mut ms[slot], &mut vs[slot]);
            assert_eq!(
                m.len(),
                p.len(),
                "optimizer state of tensor {slot} has the wrong length"
            );
            let saved = backup.as_deref_mut().map(|b| {
                b.get_mut(offset..offset + p.len())
                    .expect("the backup buffer holds every parameter")
            });
            offset += p.len();
            // One chunk: save it (when asked), then update it.
            let step =
                |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], b: Option<&mut [f32]>| {
                    if let Some(b) = b {
                        b.copy_from_slice(p);
                    }
                    rule.apply(p, g, m, v)
                };
            finite &= if p.len() <= PARALLEL_FROM {
                step(p, g, m, v, saved)
            } else {
                use rayon::prelude::*;
                let chunks = p
                    .par_chunks_mut(STEP_CHUNK)
                    .zip(g.par_chunks(STEP_CHUNK))
                    .zip(m.par_chunks_mut(STEP_CHUNK))
                    .zip(v.par_chunks_mut(STEP_CHUNK));
                match saved {
                    Some(b) => chunks
                        .zip(b.par_chunks_mut(STEP_CHUNK))
                        .map(|((((p, g), m), v), b)| step(p, g, m, v, Some(b)))
                        .reduce(|| true, |a, b| a & b),
                    None => chunks
                        .map(|(((p, g), m), v)| step(p, g, m, v, None))
                        .reduce(|| true, |a, b| a & b),
                }
            };
            slot += 1;
        });
        if let Some(b) = backup {
            assert_eq!(offset, b.len(), "the backup buffer holds every parameter");
        }
        finite
    }
}

/// The update rule of one step, with its bias corrections worked out.
#[derive(Clone, Copy)]
enum Rule {
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        bc1: f32,
        bc2: f32,
        wd: f32,
    },
    Sgd {
        lr: f32,
        momentum: f32,
        wd: f32,
    },
}

impl Rule {
    fn new(opt: &Optimizer, t: i32, wd: f32, lr_factor: f32) -> Self {
        match *opt {
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => Rule::Adam {
                lr: lr * lr_factor,
                beta1,
                beta2,
                eps,
                bc1: 1.0 - beta1.powi(t),
                bc2: 1.0 - beta2.powi(t),
                wd,
            },
            Optimizer::Sgd { lr, momentum } => Rule::Sgd {
                lr: lr * lr_factor,
                momentum,
                wd,
            },
        }
    }

    /// Updates `p` in place (`m`, `v`: the optimizer's state for these elements); returns
    /// whether every new value is finite.
    fn apply(&self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) -> bool {
        let mut finite = true;
        match *self {
            Rule::Adam {
                lr,
                beta1,
                beta2,
                eps,
                bc1,
                bc2,
                wd,
            } => {
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    let update = (*m / bc1) / ((*v / bc2).sqrt() + eps);
                    *p -= lr * (update + wd * *p);
                    finite &= p.is_finite();
                }
            }
            Rule::Sgd { lr, momentum, wd } => {
                for ((p, &g), b) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                    let g = g + wd * *p;
                    *b = momentum * *b + g;
                    *p -= lr * *b;
                    finite &= p.is_finite();
                }
            }
        }
        finite
    }
}
