//! All-pairs and top-k scoring.
//!
//! Scoring every pair of `n` items through the pair API runs the encoder `2 n (n - 1) / 2`
//! times and the head's first layer once per pair, `O(d h)` each. Here the encoder runs
//! once per item, and where the head's first layer is linear in per-item parts
//! ([`LinearDecomposition`]) those parts are precomputed per item:
//!
//! * `Sum`: `W (x + y) = W x + W y`;
//! * `Concat`: `W [x|y] = W_1 x + W_2 y`;
//! * `ConcatSwapAverage`: both `W_1 x + W_2 y` and `W_1 y + W_2 x`.
//!
//! A pair then costs `O(h)` for the first layer instead of `O(d h)`. The sums are formed
//! in another order than the pair API's matrix product, so logits agree with
//! [`predict_logits`](crate::PairClassifier::predict_logits) to rounding (about `1e-6`
//! relative), not bit for bit; symmetric models stay exactly symmetric. Other combiners
//! combine the precomputed item encodings per pair and agree with the pair API bit for bit.
//!
//! Results stream to a callback in blocks, so memory does not grow with the number of pairs.
//! Blocks are scored on the threads of the current rayon pool. A logit that overflows
//! `f32` (huge but finite items) stops the call with [`Error::NonFiniteLogit`], whose
//! `row` counts the pairs in the order the callback would have seen them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ndarray::{Array2, ArrayView2, CowArray, Ix2, s};
use rayon::prelude::*;

use crate::activation::Activation;
use crate::combiner::{LinearDecomposition, PairCombiner};
use crate::data::check_finite;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::mlp::{Mlp, MlpWork};
use crate::model::{PREDICT_CHUNK, PairClassifier, Work};

/// Pairs scored per block (per thread and round).
pub(crate) const BLOCK: usize = 16_384;

/// Per-item precomputation for one set of items (also used by [`IdScorer`](crate::IdScorer)).
pub(crate) enum Prepared<'a> {
    /// Encoded items (the items themselves without an encoder).
    Encoded(CowArray<'a, f32, Ix2>),
    /// Per-item first-layer parts `E W_1` and `E W_2` (equal for `Shared`).
    Linear { p1: Array2<f32>, p2: Array2<f32> },
}

/// Per-thread buffers.
pub(crate) struct Slot {
    pub(crate) pairs: Vec<(usize, usize)>,
    pub(crate) out: Vec<f32>,
    x: Array2<f32>,
    y: Array2<f32>,
    work: Work,
    mlp: Option<MlpWork>,
}

/// A logit with a total order (for the top-k heaps): higher logit first, then lower index.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scored {
    logit: f32,
    index: usize,
}

impl Eq for Scored {}

impl Ord for Scored {
    /// "Greater" means "better": higher logit, then lower index.
    fn cmp(&self, other: &Self) -> Ordering {
        self.logit
            .total_cmp(&other.logit)
            .then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Calls `f(i, j, logit)` once for every unordered pair `i < j` of the rows of `items`
    /// (`(n, d)`), in order `(0, 1), (0, 2), ..., (1, 2), ...`. The encoder runs once per
    /// item; see the [module docs](crate::scoring) for the fast path and its precision.
    ///
    /// ```
    /// use ndarray::array;
    /// use sympair::{Combiner, PairClassifier};
    /// let model = PairClassifier::builder(2, Combiner::Sum).build()?;
    /// let items = array![[0.0f32, 1.0], [1.0, 0.0], [0.5, 0.5]];
    /// let mut seen = Vec::new();
    /// model.score_all_pairs(items.view(), |i, j, _logit| seen.push((i, j)))?;
    /// assert_eq!(seen, [(0, 1), (0, 2), (1, 2)]);
    /// # Ok::<(), sympair::Error>(())
    /// ```
    pub fn score_all_pairs<F: FnMut(usize, usize, f32)>(
        &self,
        items: ArrayView2<f32>,
        mut f: F,
    ) -> Result<()> {
        self.check_items("items", items)?;
        let prep = self.prepare(items)?;
        let n = items.nrows();
        // Unordered pairs (i, j), i < j, in row-major order.
        let (mut i, mut j) = (0usize, 1usize);
        let next = || {
            if i + 1 >= n {
                return None;
            }
            let pair = (i, j);
            j += 1;
            if j == n {
                i += 1;
                j = i + 1;
            }
            Some(pair)
        };
        self.score_stream(&prep, &prep, next, &mut f)?;
        Ok(())
    }

    /// For each row of `queries`, the `k` rows of `items` with the highest logits, as
    /// `(item index, logit)` sorted best first (ties: lower index first). Scores the pair
    /// `(query, item)`; the encoder runs once per query and once per item. Memory is
    /// `O(queries * k)` plus fixed buffers.
    pub fn top_k(
        &self,
        queries: ArrayView2<f32>,
        items: ArrayView2<f32>,
        k: usize,
    ) -> Result<Vec<Vec<(usize, f32)>>> {
        if k == 0 {
            return Err(Error::config("k", "must be at least 1"));
        }
        self.check_items("queries", queries)?;
        self.check_items("items", items)?;
        let (pq, pi) = (self.prepare(queries)?, self.prepare(items)?);
        let (nq, ni) = (queries.nrows(), items.nrows());
        let mut heaps: Vec<BinaryHeap<std::cmp::Reverse<Scored>>> = (0..nq)
            .map(|_| BinaryHeap::with_capacity(k.min(ni).saturating_add(1)))
            .collect();
        let total = nq.saturating_mul(ni);
        let mut at = 0usize;
        let next = || {
            (at < total).then(|| {
                at += 1;
                ((at - 1) / ni, (at - 1) % ni)
            })
        };
        self.score_stream(&pq, &pi, next, &mut |q, item, logit| {
            let heap = &mut heaps[q];
            heap.push(std::cmp::Reverse(Scored { logit, index: item }));
            if heap.len() > k {
                heap.pop();
            }
        })?;
        Ok(heaps
            .into_iter()
            .map(|h| {
                let mut v: Vec<Scored> = h.into_iter().map(|r| r.0).collect();
                v.sort_by(|a, b| b.cmp(a));
                v.into_iter().map(|s| (s.index, s.logit)).collect()
            })
            .collect())
    }

    /// Scores the pairs that `next` yields, in blocks of [`BLOCK`] per thread, and hands
    /// each `(a, b, logit)` to `emit` in the order `next` gave them.
    fn score_stream(
        &self,
        pa: &Prepared,
        pb: &Prepared,
        mut next: impl FnMut() -> Option<(usize, usize)>,
        emit: &mut dyn FnMut(usize, usize, f32),
    ) -> Result<()> {
        // One slot per thread of the current rayon pool: each holds a block of pairs.
        let mut slots = self.slots(rayon::current_num_threads(), pa);
        // Pairs handed to `emit` so far: the row of a non-finite logit.
        let mut emitted = 0usize;
        loop {
            let mut used = 0;
            for slot in slots.iter_mut() {
                slot.pairs.clear();
                while slot.pairs.len() < BLOCK {
                    match next() {
                        Some(p) => slot.pairs.push(p),
                        None => break,
                    }
                }
                if !slot.pairs.is_empty() {
                    used += 1;
                }
            }
            if used == 0 {
                return Ok(());
            }
            let active = &mut slots[..used];
            let results: Vec<Result<()>> = active
                .par_iter_mut()
                .map(|slot| self.score_block(pa, pb, slot))
                .collect();
            results.into_iter().collect::<Result<Vec<()>>>()?;
            for slot in active.iter() {
                let logits = &slot.out[..slot.pairs.len()];
                if let Some(r) = logits.iter().position(|l| !l.is_finite()) {
                    return Err(Error::NonFiniteLogit {
                        row: emitted + r,
                        value: logits[r],
                    });
                }
                for (&(a, b), &l) in slot.pairs.iter().zip(logits) {
                    emit(a, b, l);
                }
                emitted += slot.pairs.len();
            }
        }
    }

    fn check_items(&self, what: &'static str, items: ArrayView2<f32>) -> Result<()> {
        if items.nrows() == 0 {
            return Err(Error::Empty { what });
        }
        if items.ncols() != self.input_dim() {
            return Err(Error::WidthMismatch {
                what,
                expected: self.input_dim(),
                found: items.ncols(),
            });
        }
        check_finite(what, items)
    }

    /// The MLP head and its decomposition, when the fast path applies.
    fn linear_head(&self) -> Option<(&Mlp, LinearDecomposition)> {
        match (self.head(), self.combiner().linear_decomposition()) {
            (_, LinearDecomposition::None) => None,
            (Head::Mlp(m), d) => Some((m, d)),
            _ => None,
        }
    }

    /// Encodes the items (once each) and, on the fast path, multiplies by the first layer.
    pub(crate) fn prepare<'a>(&self, items: ArrayView2<'a, f32>) -> Result<Prepared<'a>> {
        let encoded: CowArray<'a, f32, Ix2> = match self.encoder() {
            None => CowArray::from(items),
            Some(enc) => {
                let n = items.nrows();
                let cap = n.min(PREDICT_CHUNK);
                let mut ws = enc.work(cap);
                let mut out = Array2::zeros((n, enc.output_dim()));
                let mut start = 0;
                while start < n {
                    let end = (start + cap).min(n);
                    enc.forward(items.slice(s![start..end, ..]), &mut ws);
                    out.slice_mut(s![start..end, ..])
                        .assign(&ws.output(end - start));
                    start = end;
                }
                CowArray::from(out)
            }
        };
        let Some((mlp, dec)) = self.linear_head() else {
            return Ok(Prepared::Encoded(encoded));
        };
        let Some((w, _)) = mlp.first_layer() else {
            return Ok(Prepared::Encoded(encoded));
        };
        let e = encoded.ncols();
        Ok(match dec {
            LinearDecomposition::Shared => {
                let p = encoded.dot(w);
                Prepared::Linear {
                    p1: p.clone(),
                    p2: p,
                }
            }
            _ => Prepared::Linear {
                p1: encoded.dot(&w.slice(s![..e, ..])),
                p2: encoded.dot(&w.slice(s![e.., ..])),
            },
        })
    }

    pub(crate) fn slots(&self, threads: usize, prep: &Prepared) -> Vec<Slot> {
        let e = match prep {
            Prepared::Encoded(m) => m.ncols(),
            Prepared::Linear { .. } => 0,
        };
        let v = self.combiner().n_views();
        (0..threads.max(1))
            .map(|_| Slot {
                pairs: Vec::with_capacity(BLOCK),
                out: vec![0.0; BLOCK],
                x: Array2::zeros((if e > 0 { PREDICT_CHUNK } else { 0 }, e)),
                y: Array2::zeros((if e > 0 { PREDICT_CHUNK } else { 0 }, e)),
                work: self.work(if e > 0 { PREDICT_CHUNK } else { 0 }),
                mlp: match (self.head(), prep) {
                    (Head::Mlp(m), Prepared::Linear { .. }) => {
                        // Only heads that are not fused need room for the whole block.
                        let rows = if m.one_hidden_to_scalar().is_some() {
                            0
                        } else {
                            v * BLOCK
                        };
                        Some(m.work(rows))
                    }
                    _ => None,
                },
            })
            .collect()
    }

    /// Logits of `slot.pairs` (`(a, b)`: row `a` of the first set, row `b` of the second)
    /// into `slot.out`.
    pub(crate) fn score_block(&self, pa: &Prepared, pb: &Prepared, slot: &mut Slot) -> Result<()> {
        let n = slot.pairs.len();
        match (pa, pb) {
            (Prepared::Encoded(ea), Prepared::Encoded(eb)) => {
                // Sub-chunks of PREDICT_CHUNK pairs keep the combined rows in cache.
                for (c, chunk) in slot.pairs.chunks(PREDICT_CHUNK).enumerate() {
                    let k = chunk.len();
                    for (r, &(a, b)) in chunk.iter().enumerate() {
                        slot.x.row_mut(r).assign(&ea.row(a));
                        slot.y.row_mut(r).assign(&eb.row(b));
                    }
                    self.forward_encoded(
                        slot.x.slice(s![..k, ..]),
                        slot.y.slice(s![..k, ..]),
                        &mut slot.work,
                    )?;
                    let start = c * PREDICT_CHUNK;
                    slot.out[start..start + k].copy_from_slice(slot.work.logits(k));
                }
            }
            (Prepared::Linear { p1: a1, p2: a2 }, Prepared::Linear { p1: b1, p2: b2 }) => {
                // `prepare` made linear parts only for a linear head, and `slots` gave
                // each slot its MLP buffers then.
                let (mlp, dec) = self
                    .linear_head()
                    .expect("linear parts come from a linear head");
                let ws = slot
                    .mlp
                    .as_mut()
                    .expect("slots for linear parts have MLP buffers");
                let two = dec == LinearDecomposition::SplitSwap;
                if let Some((b0, w1, b1_out)) = mlp.one_hidden_to_scalar() {
                    // Fused: first layer from the per-item parts, activation and the
                    // output dot product in one pass per pair.
                    let act = mlp.activation();
                    for (o, &(a, b)) in slot.out.iter_mut().zip(&slot.pairs) {
                        let l0 = fused_logit(row(a1, a), row(b2, b), b0, w1, b1_out, act);
                        *o = if two {
                            let l1 = fused_logit(row(b1, b), row(a2, a), b0, w1, b1_out, act);
                            (l0 + l1) * 0.5
                        } else {
                            l0
                        };
                    }
                    return Ok(());
                }
                let (_, bias) = mlp.first_layer().expect("an MLP has a first layer");
                let bias = bias.as_slice().expect("validated layers are contiguous");
                let views = if two { 2 } else { 1 };
                let mut z = ws
                    .first_preact_mut(views * n)
                    .expect("an MLP has a first layer");
                for (r, &(a, b)) in slot.pairs.iter().enumerate() {
                    preact_into(z.row_mut(r), row(a1, a), row(b2, b), bias);
                    if two {
                        preact_into(z.row_mut(n + r), row(b1, b), row(a2, a), bias);
                    }
                }
                mlp.forward_after_first(views * n, ws);
                let raw = ws.output(views * n);
                for (r, o) in slot.out.iter_mut().take(n).enumerate() {
                    *o = if two {
                        (raw[[r, 0]] + raw[[n + r, 0]]) * 0.5
                    } else {
                        raw[[r, 0]]
                    };
                }
            }
            _ => unreachable!("both item sets are prepared by the same model"),
        }
        Ok(())
    }
}

/// `z = (u + v) + b`, element-wise.
fn preact_into(mut z: ndarray::ArrayViewMut1<f32>, u: &[f32], v: &[f32], b: &[f32]) {
    for (((o, &u), &v), &c) in z.iter_mut().zip(u).zip(v).zip(b) {
        *o = (u + v) + c;
    }
}

/// `sum_k w_k act((u_k + v_k) + b_k) + c`, with eight partial sums so that it vectorises.
#[inline]
fn fused_logit(u: &[f32], v: &[f32], b: &[f32], w: &[f32], c: f32, act: Activation) -> f32 {
    match act {
        Activation::Relu => fused_with(u, v, b, w, c, |z| if z > 0.0 { z } else { 0.0 }),
        other => fused_with(u, v, b, w, c, |z| other.apply(z)),
    }
}

#[inline(always)]
fn fused_with(u: &[f32], v: &[f32], b: &[f32], w: &[f32], c: f32, f: impl Fn(f32) -> f32) -> f32 {
    const L: usize = 8;
    let h = u.len();
    debug_assert!(
        v.len() == h && b.len() == h && w.len() == h,
        "fused first layer: parts of one width"
    );
    let (u, v, b, w) = (&u[..h], &v[..h], &b[..h], &w[..h]);
    let mut acc = [0.0f32; L];
    let (uc, vc, bc, wc) = (
        u.chunks_exact(L),
        v.chunks_exact(L),
        b.chunks_exact(L),
        w.chunks_exact(L),
    );
    let full = h / L * L;
    for (((uu, vv), bb), ww) in uc.zip(vc).zip(bc).zip(wc) {
        for (a, (((&u, &v), &b), &w)) in acc.iter_mut().zip(uu.iter().zip(vv).zip(bb).zip(ww)) {
            *a += w * f((u + v) + b);
        }
    }
    let mut tail = 0.0f32;
    for (((&u, &v), &b), &w) in u[full..]
        .iter()
        .zip(&v[full..])
        .zip(&b[full..])
        .zip(&w[full..])
    {
        tail += w * f((u + v) + b);
    }
    let mut sum = tail;
    for a in acc {
        sum += a;
    }
    sum + c
}

/// Row `i` of a standard-layout matrix as a slice.
fn row(m: &Array2<f32>, i: usize) -> &[f32] {
    let w = m.ncols();
    &m.as_slice().expect("prepared parts are standard layout")[i * w..(i + 1) * w]
}
