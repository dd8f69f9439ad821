//! Training-time regularisers that live outside the model: input noise and dropout on
//! the gathered item rows, and gradient-norm clipping.

use ndarray::ArrayViewMut2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::model::Grads;

/// Input noise and dropout of one mini-batch slice.
#[derive(Clone, Copy)]
pub(super) struct InputReg {
    pub(super) noise: f32,
    pub(super) dropout: f32,
}

impl InputReg {
    /// Whether anything is applied.
    pub(super) fn active(&self) -> bool {
        self.noise > 0.0 || self.dropout > 0.0
    }

    /// Applies noise and dropout to every row of `rows`, drawing from `rng` row by row
    /// in order (so the result depends only on the slice's seed).
    pub(super) fn apply(&self, mut rows: ArrayViewMut2<f32>, rng: &mut Xoshiro256PlusPlus) {
        let normal = Normal::new(0.0f32, self.noise.max(f32::MIN_POSITIVE))
            .expect("noise std was checked finite and >= 0");
        let keep = 1.0 - self.dropout;
        let scale = 1.0 / keep;
        for mut row in rows.rows_mut() {
            for v in row.iter_mut() {
                if self.dropout > 0.0 {
                    if rng.random::<f32>() < self.dropout {
                        *v = 0.0;
                        continue;
                    }
                    *v *= scale;
                }
                if self.noise > 0.0 {
                    *v += normal.sample(rng);
                }
            }
        }
    }
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
