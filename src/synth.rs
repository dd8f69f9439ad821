//! Synthetic pair tasks for examples, tests and benchmarks.
//!
//! [`ClusterTask`]: `n_clusters` centres drawn from `N(0, I_d)`; an item is a centre plus
//! `N(0, noise^2 I_d)`; a pair is similar (label 1) when both items come from the same
//! cluster. Half the pairs are similar. Every pair draws fresh items, so two datasets
//! generated with different seeds share no item.

use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal, StandardNormal};

use crate::alloc::{try_array2_from_fn, try_zeros};
use crate::data::PairDataset;
use crate::error::{Error, Result};

/// A Gaussian-cluster pair task (see the [module docs](self)).
///
/// ```
/// use sympair::{ClusterTask, PairData};
/// let task = ClusterTask::new(16, 5)?.with_noise(0.6)?;
/// let train = task.generate(1000, 1)?;
/// assert_eq!((train.len(), train.dim()), (1000, 16));
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClusterTask {
    centres: Array2<f32>,
    noise: f32,
}

impl ClusterTask {
    /// `n_clusters >= 2` centres in `d >= 1` dimensions, drawn with seed 0; noise 0.5.
    pub fn new(d: usize, n_clusters: usize) -> Result<Self> {
        Self::with_centre_seed(d, n_clusters, 0)
    }

    /// As [`new`](Self::new) with the centres drawn from `seed`.
    pub fn with_centre_seed(d: usize, n_clusters: usize, seed: u64) -> Result<Self> {
        if d == 0 {
            return Err(Error::config("d", "must be at least 1"));
        }
        if n_clusters < 2 {
            return Err(Error::config("n_clusters", "must be at least 2"));
        }
        check_size("n_clusters", n_clusters, d)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // Fallible: a size within isize but beyond memory must not abort the process.
        let centres = try_array2_from_fn(
            || format!("cluster centres ({n_clusters} x {d})"),
            (n_clusters, d),
            || -> f32 { StandardNormal.sample(&mut rng) },
        )?;
        Ok(ClusterTask {
            centres,
            noise: 0.5,
        })
    }

    /// Standard deviation of items around their centre (finite, `>= 0`; default 0.5).
    pub fn with_noise(mut self, noise: f32) -> Result<Self> {
        if !(noise.is_finite() && noise >= 0.0) {
            return Err(Error::config(
                "noise",
                format!("must be finite and >= 0, got {noise}"),
            ));
        }
        self.noise = noise;
        Ok(self)
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.centres.ncols()
    }

    /// `n_pairs >= 1` labelled pairs drawn with `seed`, half of them similar.
    pub fn generate(&self, n_pairs: usize, seed: u64) -> Result<PairDataset> {
        if n_pairs == 0 {
            return Err(Error::Empty { what: "n_pairs" });
        }
        let (k, d) = self.centres.dim();
        check_size("n_pairs", n_pairs, d)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let normal =
            Normal::new(0.0f32, self.noise).map_err(|e| Error::config("noise", e.to_string()))?;
        let mut left = try_zeros(|| format!("left items ({n_pairs} x {d})"), (n_pairs, d))?;
        let mut right = try_zeros(|| format!("right items ({n_pairs} x {d})"), (n_pairs, d))?;
        let mut labels = Vec::with_capacity(n_pairs);
        for i in 0..n_pairs {
            let a = rng.random_range(0..k);
            let similar = i % 2 == 0;
            let b = if similar {
                a
            } else {
                (a + rng.random_range(1..k)) % k
            };
            for j in 0..d {
                left[[i, j]] = self.centres[[a, j]] + normal.sample(&mut rng);
                right[[i, j]] = self.centres[[b, j]] + normal.sample(&mut rng);
            }
            labels.push(if similar { 1.0 } else { 0.0 });
        }
        PairDataset::new(left, right, labels)
    }
}

/// An `(rows, cols)` matrix of f32 must fit in `isize::MAX` bytes (ndarray's limit).
fn check_size(field: &'static str, rows: usize, cols: usize) -> Result<()> {
    let fits = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(std::mem::size_of::<f32>()))
        .is_some_and(|b| b <= isize::MAX as usize);
    if fits {
        Ok(())
    } else {
        Err(Error::config(
            field,
            format!("a {rows} x {cols} matrix is too large"),
        ))
    }
}
