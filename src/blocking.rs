//! Candidate pairs in canonical form: each unordered pair once, no self-pairs.
//!
//! Entity-resolution users bring candidate pairs from their own blocking rules ("same
//! postcode", "same first letter"), and such rules emit a pair once per rule that matches
//! it, in either order. Since every symmetric model scores `(i, j)` and `(j, i)` the same,
//! bit for bit, scoring both is wasted work and a repeated row in the output. The helpers
//! here put pairs in canonical form `(min, max)`, drop self-pairs `(i, i)` and repeats,
//! and hand the result straight to [`IdScorer`](crate::IdScorer) (or anything taking
//! `(usize, usize)` pairs):
//!
//! * [`canonical`]: one pair;
//! * [`canonicalize`]: a vector, in place (sorted, `O(1)` extra memory);
//! * [`Canonical`]: a stream, in order of first appearance (remembers the pairs seen, so
//!   memory grows with the number of distinct pairs; sort and [`canonicalize`] chunks
//!   yourself when that is too much).
//!
//! The candidate search ([`candidates`](crate::candidates)) emits canonical pairs itself.
//!
//! # Example
//!
//! ```
//! use ndarray::array;
//! use sympair::blocking::Canonical;
//! use sympair::{Combiner, IdScorer, PairClassifier};
//!
//! let model = PairClassifier::builder(2, Combiner::AbsDiff).seed(3).build()?;
//! let items = array![[0.0f32, 1.0], [1.0, 0.0], [0.9, 0.1]];
//! // Two blocking rules found (1, 0), (0, 1), (2, 2) and (2, 1):
//! let rules = vec![(1, 0), (0, 1), (2, 2), (2, 1)];
//! let mut out = Vec::new();
//! let n = IdScorer::new(&model, items.view())?.write_csv(Canonical::new(rules), &mut out)?;
//! assert_eq!(n, 2); // (0, 1) and (1, 2)
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.starts_with("i,j,probability\n0,1,"));
//! # Ok::<(), sympair::Error>(())
//! ```

use std::collections::HashSet;

/// The canonical form `(min, max)` of an unordered pair, or `None` for a self-pair.
///
/// ```
/// use sympair::blocking::canonical;
/// assert_eq!(canonical(5, 2), Some((2, 5)));
/// assert_eq!(canonical(3, 3), None);
/// ```
pub fn canonical(i: usize, j: usize) -> Option<(usize, usize)> {
    match i.cmp(&j) {
        std::cmp::Ordering::Less => Some((i, j)),
        std::cmp::Ordering::Greater => Some((j, i)),
        std::cmp::Ordering::Equal => None,
    }
}

/// What [`canonicalize`] and [`Canonical`] dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Self-pairs `(i, i)`.
    pub self_pairs: usize,
    /// Repeats of a pair already kept (in either order).
    pub repeats: usize,
}

/// Puts `pairs` in canonical form in place: each pair as `(min, max)`, self-pairs and
/// repeats removed, sorted. Returns what was dropped.
///
/// ```
/// use sympair::blocking::{Dropped, canonicalize};
/// let mut pairs = vec![(3, 1), (1, 3), (2, 2), (0, 4)];
/// let dropped = canonicalize(&mut pairs);
/// assert_eq!(pairs, [(0, 4), (1, 3)]);
/// assert_eq!(dropped, Dropped { self_pairs: 1, repeats: 1 });
/// ```
pub fn canonicalize(pairs: &mut Vec<(usize, usize)>) -> Dropped {
    let before = pairs.len();
    pairs.retain_mut(|p| match canonical(p.0, p.1) {
        Some(c) => {
            *p = c;
            true
        }
        None => false,
    });
    let self_pairs = before - pairs.len();
    pairs.sort_unstable();
    let distinct = pairs.len();
    pairs.dedup();
    Dropped {
        self_pairs,
        repeats: distinct - pairs.len(),
    }
}

/// An iterator adapter yielding the canonical form of each pair of the inner iterator
/// the first time it appears, in order; self-pairs and repeats are skipped (and counted in
/// [`dropped`](Self::dropped)).
#[derive(Debug, Clone)]
pub struct Canonical<I> {
    inner: I,
    seen: HashSet<(usize, usize)>,
    dropped: Dropped,
}

impl<I: Iterator<Item = (usize, usize)>> Canonical<I> {
    /// Wraps `pairs`.
    pub fn new<P: IntoIterator<IntoIter = I>>(pairs: P) -> Self {
        Canonical {
            inner: pairs.into_iter(),
            seen: HashSet::new(),
            dropped: Dropped::default(),
        }
    }

    /// What was skipped so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }
}

impl<I: Iterator<Item = (usize, usize)>> Iterator for Canonical<I> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        for (i, j) in self.inner.by_ref() {
            match canonical(i, j) {
                None => self.dropped.self_pairs += 1,
                Some(c) if self.seen.insert(c) => return Some(c),
                Some(_) => self.dropped.repeats += 1,
            }
        }
        None
    }
}
