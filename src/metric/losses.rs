//! Metric-learning losses on a batch of encoded pairs `a, b: (n, e)` with labels `l`
//! (1 = similar), each returning the loss and its gradients `dL/da`, `dL/db`.
//!
//! Hand-written because no maintained Rust crate offers these losses on ndarray with
//! gradients; each uses batched matrix products for the `(n, n)` distance or similarity
//! matrix and reduces in `f64`. Every loss is invariant under swapping `a` and `b`
//! (both directions are summed), so the order of a pair never matters to training.

use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

/// Loss value and gradients with respect to `a` and `b`.
pub(crate) struct LossGrad {
    pub(crate) loss: f64,
    pub(crate) da: Array2<f32>,
    pub(crate) db: Array2<f32>,
}

fn row_sq_norms(m: ArrayView2<f32>) -> Array1<f32> {
    m.map_axis(Axis(1), |r| r.dot(&r))
}

/// Contrastive loss (Hadsell, Chopra and LeCun, 2006) with margin `m` on the Euclidean
/// distance `d_i = |a_i - b_i|`:
/// `L = (1 / n) sum_i [ l_i d_i^2 + (1 - l_i) max(0, m - d_i)^2 ] / 2`.
/// At `d_i = 0` a dissimilar pair has no defined direction: its gradient is 0 there.
pub(crate) fn contrastive(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    labels: &[f32],
    margin: f32,
) -> LossGrad {
    let n = a.nrows();
    let diff = &a - &b;
    let inv_n = 1.0 / n as f64;
    let mut loss = 0.0f64;
    // Per-row coefficient `c_i` with dL/da_i = c_i (a_i - b_i) = -dL/db_i.
    let mut coef = Array1::<f32>::zeros(n);
    for (i, (row, c)) in diff.rows().into_iter().zip(coef.iter_mut()).enumerate() {
        let d2 = f64::from(row.dot(&row));
        if labels[i] > 0.5 {
            loss += 0.5 * d2;
            *c = inv_n as f32;
        } else {
            let d = d2.sqrt();
            let gap = f64::from(margin) - d;
            if gap > 0.0 {
                loss += 0.5 * gap * gap;
                if d > 0.0 {
                    *c = (-gap / d * inv_n) as f32;
                }
            }
        }
    }
    let da = &diff * &coef.insert_axis(Axis(1));
    let db = -&da;
    LossGrad {
        loss: loss * inv_n,
        da,
        db,
    }
}

/// Triplet loss with in-batch negatives and margin `m` on squared Euclidean distances.
/// Anchors are the similar pairs `(a_i, b_i)`; negatives of anchor `a_i` are the other
/// pairs' `b_j` (`j != i`), and symmetrically anchor `b_i` against the `a_j`:
/// `L = (1 / T) sum_{i similar} sum_{j != i} [ max(0, m + D_ii - D_ij) + max(0, m + D_ii - D_ji) ]`
/// with `D = sqdist(a, b)` (one `(n, n)` product) and `T` the number of triplets.
/// A batch without a similar pair, or with a single pair, has loss 0 and gradient 0.
pub(crate) fn triplet(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    labels: &[f32],
    margin: f32,
) -> LossGrad {
    let n = a.nrows();
    let d = sq_dist_matrix(a, b);
    let pos: Vec<usize> = (0..n).filter(|&i| labels[i] > 0.5).collect();
    let triplets = 2 * pos.len() * n.saturating_sub(1);
    // g[i, j] = dL/dD[i, j].
    let mut g = Array2::<f32>::zeros((n, n));
    let mut loss = 0.0f64;
    if triplets > 0 {
        let w = 1.0 / triplets as f64;
        let m = f64::from(margin);
        for &i in &pos {
            let dii = f64::from(d[[i, i]]);
            for j in (0..n).filter(|&j| j != i) {
                for (r, c) in [(i, j), (j, i)] {
                    let h = m + dii - f64::from(d[[r, c]]);
                    if h > 0.0 {
                        loss += h * w;
                        g[[i, i]] += w as f32;
                        g[[r, c]] -= w as f32;
                    }
                }
            }
        }
    }
    let (da, db) = sq_dist_backward(a, b, g.view());
    LossGrad { loss, da, db }
}

/// `D[i, j] = |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j`, floored at 0.
fn sq_dist_matrix(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    let (na, nb) = (row_sq_norms(a), row_sq_norms(b));
    let mut d = a.dot(&b.t());
    Zip::indexed(&mut d).for_each(|(i, j), v| *v = (na[i] + nb[j] - 2.0 * *v).max(0.0));
    d
}

/// Gradients of `sum g[i, j] D[i, j]` with respect to `a` and `b`:
/// `da = 2 (rowsum(g) a - g b)`, `db = 2 (colsum(g) b - g^T a)`.
fn sq_dist_backward(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    g: ArrayView2<f32>,
) -> (Array2<f32>, Array2<f32>) {
    let rs = g.sum_axis(Axis(1)).insert_axis(Axis(1));
    let cs = g.sum_axis(Axis(0)).insert_axis(Axis(1));
    let da = (&a * &rs - g.dot(&b)) * 2.0;
    let db = (&b * &cs - g.t().dot(&a)) * 2.0;
    (da, db)
}

/// Multiple-negatives ranking (InfoNCE) loss with in-batch negatives and temperature `t`
/// on cosine similarities, as sentence-transformers' `MultipleNegativesRankingLoss`
/// (whose default scale 20 is `t = 0.05`), in both directions:
/// with `S = cos(a, b) / t` (one `(n, n)` product of the normalised rows),
/// `L = (1 / 2P) sum_{i similar} [ lse_j S[i, j] - S[i, i] + lse_j S[j, i] - S[i, i] ]`.
/// Every item of the batch is a negative for the similar pairs' items. Log-sum-exp is
/// taken after subtracting the row (column) maximum. No similar pair: loss 0, gradient 0.
pub(crate) fn info_nce(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    labels: &[f32],
    temperature: f32,
) -> LossGrad {
    let n = a.nrows();
    let (an, a_norm) = normalise(a);
    let (bn, b_norm) = normalise(b);
    let inv_t = 1.0 / temperature;
    let s = an.dot(&bn.t()) * inv_t;
    let pos: Vec<usize> = (0..n).filter(|&i| labels[i] > 0.5).collect();
    let mut ds = Array2::<f32>::zeros((n, n));
    let mut loss = 0.0f64;
    if !pos.is_empty() {
        let w = 1.0 / (2 * pos.len()) as f64;
        for &i in &pos {
            for lane in [s.row(i), s.column(i)] {
                let mx = lane.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let z: f64 = lane.iter().map(|&v| f64::from(v - mx).exp()).sum();
                loss += w * (f64::from(mx) + z.ln() - f64::from(s[[i, i]]));
            }
            let row: Vec<f64> = softmax(s.row(i).iter().copied());
            let col: Vec<f64> = softmax(s.column(i).iter().copied());
            for j in 0..n {
                ds[[i, j]] += (w * row[j]) as f32;
                ds[[j, i]] += (w * col[j]) as f32;
            }
            ds[[i, i]] -= (2.0 * w) as f32;
        }
    }
    // S = an bn^T / t: d an = ds bn / t, d bn = ds^T an / t.
    let dan = ds.dot(&bn) * inv_t;
    let dbn = ds.t().dot(&an) * inv_t;
    LossGrad {
        loss,
        da: normalise_backward(an.view(), a_norm.view(), dan),
        db: normalise_backward(bn.view(), b_norm.view(), dbn),
    }
}

fn softmax(v: impl Iterator<Item = f32> + Clone) -> Vec<f64> {
    let mx = v.clone().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = v.map(|x| f64::from(x - mx).exp()).collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|x| x / z).collect()
}

/// Smallest norm divided by when normalising (a zero row stays zero).
const NORM_EPS: f32 = 1e-12;

/// Rows divided by their norms (at least [`NORM_EPS`]), and the norms used.
fn normalise(m: ArrayView2<f32>) -> (Array2<f32>, Array1<f32>) {
    let norms = row_sq_norms(m).mapv(|v| v.sqrt().max(NORM_EPS));
    let out = &m / &norms.view().insert_axis(Axis(1));
    (out, norms)
}

/// Gradient through `u = x / |x|`: `dx = (du - u (u . du)) / |x|`.
fn normalise_backward(
    u: ArrayView2<f32>,
    norms: ndarray::ArrayView1<f32>,
    du: Array2<f32>,
) -> Array2<f32> {
    let mut dx = du;
    for ((mut d, ur), &nr) in dx.rows_mut().into_iter().zip(u.rows()).zip(norms) {
        let p = ur.dot(&d);
        Zip::from(&mut d)
            .and(ur)
            .for_each(|dv, &uv| *dv = (*dv - uv * p) / nr);
    }
    dx
}
