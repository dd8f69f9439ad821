//! Training-time regularisers that live outside the model: input noise and dropout on
//! the gathered item rows, and gradient-norm clipping.

use std::sync::OnceLock;

use ndarray::{Array2, ArrayViewMut2};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::data::PairData;
use crate::error::Result;
use crate::model::Grads;

/// Input noise and dropout of one mini-batch slice.
#[derive(Clone, Copy)]
pub(super) struct InputReg {
    /// Standard deviation of the noise, in the data's units (already scaled by the spread).
    pub(super) noise: f32,
    pub(super) dropout: f32,
}

/// Values in the table of standard-normal draws that input noise reads (a power of two).
const NOISE_TABLE: usize = 1 << 16;

/// A fixed table of standard-normal draws (64k values, 256 KiB, generated once from a
/// fixed seed). Input noise reads a window of it per item row at a random offset with a
/// random sign, so a row costs one draw from the slice's RNG and a vectorised add.
/// Measured reason: drawing every value with `rand_distr`'s ziggurat cost 2.4 ns per value,
/// which made default-configuration training 1.85x slower for the cheap heads at d = 384
/// (`SECTION=default cargo run --release --example throughput`, abs_diff 445k -> 245k
/// pairs/s on one thread). Every value of a row is still an independent standard-normal
/// draw; rows only share the finite table (65,536 values), and the same coordinate of two
/// rows reads the same value only if their offsets are equal (probability 2^-16 per pair of
/// rows, and then possibly with opposite signs).
fn noise_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x05EE_D0FA_015E);
        (0..NOISE_TABLE)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect()
    })
}

impl InputReg {
    /// Whether anything is applied.
    pub(super) fn active(&self) -> bool {
        self.noise > 0.0 || self.dropout > 0.0
    }

    /// Applies dropout, then noise, to every row of `rows`, drawing from `rng` row by row
    /// in order (so the result depends only on the slice's seed).
    pub(super) fn apply(&self, mut rows: ArrayViewMut2<f32>, rng: &mut Xoshiro256PlusPlus) {
        let keep = 1.0 - self.dropout;
        let scale = 1.0 / keep;
        let table = noise_table();
        for mut row in rows.rows_mut() {
            if self.dropout > 0.0 {
                for v in row.iter_mut() {
                    if rng.random::<f32>() < self.dropout {
                        *v = 0.0;
                    } else {
                        *v *= scale;
                    }
                }
            }
            if self.noise > 0.0 {
                let r = rng.next_u64();
                let offset = (r as usize) & (NOISE_TABLE - 1);
                let std = if r >> 63 == 1 {
                    -self.noise
                } else {
                    self.noise
                };
                let row = row
                    .as_slice_mut()
                    .expect("gathered item rows are contiguous");
                // The window starting at `offset`, wrapping at the end of the table.
                let mut done = 0;
                while done < row.len() {
                    let start = (offset + done) & (NOISE_TABLE - 1);
                    let len = (row.len() - done).min(NOISE_TABLE - start);
                    for (v, &z) in row[done..done + len]
                        .iter_mut()
                        .zip(&table[start..start + len])
                    {
                        *v += std * z;
                    }
                    done += len;
                }
            }
        }
    }
}

/// Pairs of the per-epoch training-AUC sample that [`input_spread`] reads: enough for a
/// mean over columns, and cheap next to an epoch.
const SPREAD_PAIRS: usize = 512;

/// Pairs per task of [`input_spread`] (fixed, so the sums do not depend on the pool).
const SPREAD_CHUNK: usize = 64;

/// The spread of the training inputs that [`TrainConfig::with_input_noise`]
/// (crate::TrainConfig::with_input_noise) is relative to: `sqrt(mean_j var_j)`, the root
/// mean over embedding columns of each column's variance, over the `x` and `y` rows of the
/// first [`SPREAD_PAIRS`] pairs of `sample` (summed in `f64`: per chunk of
/// [`SPREAD_CHUNK`] pairs on the rayon pool, then the chunks in order, so the same bits
/// for any number of threads). For unit-length 384-d embeddings it is about
/// `1 / sqrt(384)`.
pub(super) fn input_spread(data: &dyn PairData, sample: &[usize]) -> Result<f32> {
    use rayon::prelude::*;
    let d = data.dim();
    let sample = &sample[..sample.len().min(SPREAD_PAIRS)];
    let parts: Vec<Result<(Vec<f64>, Vec<f64>)>> = sample
        .par_chunks(SPREAD_CHUNK)
        .map(|idx| {
            let k = idx.len();
            let mut x = Array2::<f32>::zeros((k, d));
            let mut y = Array2::<f32>::zeros((k, d));
            data.try_gather(idx, x.view_mut(), y.view_mut())?;
            let mut sum = vec![0.0f64; d];
            let mut sq = vec![0.0f64; d];
            for rows in [&x, &y] {
                for row in rows.rows() {
                    for ((s, q), &v) in sum.iter_mut().zip(sq.iter_mut()).zip(row) {
                        let v = f64::from(v);
                        *s += v;
                        *q += v * v;
                    }
                }
            }
            Ok((sum, sq))
        })
        .collect();
    let mut sum = vec![0.0f64; d];
    let mut sq = vec![0.0f64; d];
    for part in parts {
        let (s, q) = part?;
        for (a, b) in sum.iter_mut().zip(s) {
            *a += b;
        }
        for (a, b) in sq.iter_mut().zip(q) {
            *a += b;
        }
    }
    let n = 2.0 * sample.len() as f64;
    let var: f64 = sum
        .iter()
        .zip(&sq)
        .map(|(&s, &q)| (q / n - (s / n) * (s / n)).max(0.0))
        .sum::<f64>()
        / d as f64;
    Ok(var.sqrt() as f32)
}

/// The RNG of slice `slice` of batch `batch` of epoch `epoch`: a fixed function of the
/// seed and the position, whichever thread runs the slice.
pub(super) fn slice_rng(seed: u64, epoch: usize, batch: usize, slice: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(slice_seed(seed, epoch, batch, slice))
}

/// The seed of slice `slice` of batch `batch` of epoch `epoch`, a fixed function of the
/// training seed and the position.
pub(super) fn slice_seed(seed: u64, epoch: usize, batch: usize, slice: usize) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for x in [epoch as u64, batch as u64, slice as u64] {
        h = splitmix(h ^ x);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Scales `grads` so that their global L2 norm is at most `max_norm`; returns the norm
/// before clipping. Summed sequentially in tensor order (deterministic).
pub(super) fn clip_grad_norm(grads: &mut Grads, max_norm: f32) -> f64 {
    let sq: f64 = grads
        .tensors()
        .iter()
        .flat_map(|t| t.iter())
        .map(|&g| f64::from(g) * f64::from(g))
        .sum();
    let norm = sq.sqrt();
    if norm > f64::from(max_norm) {
        let s = (f64::from(max_norm) / norm) as f32;
        for t in grads.tensors_mut() {
            for g in t.iter_mut() {
                *g *= s;
            }
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;
    use crate::data::PairDataset;

    fn mean_std(v: &[f32]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&z| f64::from(z)).sum::<f64>() / n;
        let var = v
            .iter()
            .map(|&z| (f64::from(z) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    #[test]
    fn noise_table_holds_standard_normal_draws() {
        let t = noise_table();
        assert_eq!(t.len(), NOISE_TABLE);
        let (mean, std) = mean_std(t);
        // 65,536 draws: the standard error of the mean is 0.004, of the std 0.003.
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((std - 1.0).abs() < 0.02, "std {std}");
        let beyond_2 = t.iter().filter(|z| z.abs() > 2.0).count() as f64 / t.len() as f64;
        assert!((beyond_2 - 0.0455).abs() < 0.005, "P(|z| > 2) = {beyond_2}");
    }

    #[test]
    fn noise_has_the_requested_std_and_differs_between_rows() {
        // 200 rows of width 1,000 > the table's wrap-around is exercised too (offsets near
        // the end of the table).
        let reg = InputReg {
            noise: 0.5,
            dropout: 0.0,
        };
        let mut rows = Array2::<f32>::from_elem((200, 1000), 3.0);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        reg.apply(rows.view_mut(), &mut rng);
        let added: Vec<f32> = rows.iter().map(|&v| v - 3.0).collect();
        let (mean, std) = mean_std(&added);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((std - 0.5).abs() < 0.01, "std {std}");
        // Same column, different rows: uncorrelated.
        let col0: Vec<f32> = rows.column(0).iter().map(|&v| v - 3.0).collect();
        let col1: Vec<f32> = rows.column(1).iter().map(|&v| v - 3.0).collect();
        let corr = col0
            .iter()
            .zip(&col1)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum::<f64>()
            / (200.0 * 0.25);
        assert!(corr.abs() < 0.3, "correlation {corr}");
        let distinct_rows = (1..200).filter(|&r| rows.row(r) != rows.row(0)).count();
        assert_eq!(distinct_rows, 199);
        // Seeded: the same RNG state gives the same noise.
        let mut again = Array2::<f32>::from_elem((200, 1000), 3.0);
        reg.apply(again.view_mut(), &mut Xoshiro256PlusPlus::seed_from_u64(1));
        assert_eq!(rows, again);
    }

    #[test]
    fn input_spread_is_the_root_mean_column_variance() {
        // Column 0 takes +-1 (variance 1), column 1 takes 5 +- 3 (variance 9), over the x
        // and y rows together: sqrt((1 + 9) / 2).
        let x = array![[1.0f32, 8.0], [-1.0, 2.0]];
        let y = array![[-1.0f32, 2.0], [1.0, 8.0]];
        let data = PairDataset::new(x, y, vec![1.0, 0.0]).unwrap();
        let s = input_spread(&data, &[0, 1]).unwrap();
        assert!((s - 5.0f32.sqrt()).abs() < 1e-6, "{s}");
        // Only the sampled pairs count: pair 0 alone has the same columns.
        let s0 = input_spread(&data, &[0]).unwrap();
        assert!((s0 - 5.0f32.sqrt()).abs() < 1e-6, "{s0}");
    }
}
