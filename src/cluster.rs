//! From scored pairs to entities: [`Clusterer`] and the metrics of [`ClusterMetrics`].
//!
//! Deduplication and entity resolution want groups, not pairs. The rule used by dedupe and
//! Splink: keep every pair whose probability is at least a threshold, and take the
//! connected components of the graph those pairs make. [`Clusterer`] does that with a
//! union-find (petgraph's [`UnionFind`], union by rank with path compression), one pair
//! at a time, so the scored pairs can stream past it from any source: a scorer's callback,
//! a CSV of `i,j,probability` ([`Clusterer::add_csv`]). Memory is `O(n_items)`, whatever
//! the number of pairs.
//!
//! [`ClusterMetrics::compare`] scores a clustering against true groups, in `O(n_items)`
//! time and memory (from the contingency table of the two labelings, never from the
//! `n^2 / 2` pairs): pairwise precision and recall (over the unordered pairs put in one
//! cluster), B-cubed precision and recall (per item, averaged), and the adjusted Rand index.
//!
//! # Example
//!
//! ```
//! use sympair::cluster::{ClusterMetrics, Clusterer};
//!
//! // Items 0-1-2 are linked by confident pairs; 3 and 4 by a weak one.
//! let mut c = Clusterer::new(5, 0.5)?;
//! c.add_all([(0, 1, 0.9), (2, 1, 0.8), (3, 4, 0.2)])?;
//! let clusters = c.finish();
//! assert_eq!(clusters.labels(), &[0, 0, 0, 1, 2]);
//! assert_eq!(clusters.n_clusters(), 3);
//!
//! // Truth: {0, 1, 2} and {3, 4}.
//! let m = ClusterMetrics::compare(clusters.labels(), &[7, 7, 7, 8, 8])?;
//! assert_eq!(m.pairs.precision(), 1.0); // every predicted pair is true
//! assert_eq!(m.pairs.recall(), 0.75); // 3 of the 4 true pairs found
//! # Ok::<(), sympair::Error>(())
//! ```

use std::collections::HashMap;
use std::io::Read;

use petgraph::unionfind::UnionFind;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::Confusion;

/// Connected components of the pairs scored at or above a probability threshold; see the
/// [module docs](crate::cluster).
#[derive(Debug, Clone)]
pub struct Clusterer {
    uf: UnionFind<usize>,
    n_items: usize,
    threshold: f32,
    seen: usize,
    kept: usize,
}

impl Clusterer {
    /// A clustering of `n_items` items (ids `0..n_items`, each its own cluster until a
    /// pair links it) that links the pairs whose probability is `>= threshold`.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] (`what: "items"`) if `n_items` is 0; [`Error::InvalidConfig`]
    /// (`field: "threshold"`) unless `threshold` is in `[0, 1]`.
    pub fn new(n_items: usize, threshold: f32) -> Result<Self> {
        if n_items == 0 {
            return Err(Error::Empty { what: "items" });
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::config(
                "threshold",
                format!("must be a probability in [0, 1], got {threshold}"),
            ));
        }
        Ok(Clusterer {
            uf: UnionFind::new(n_items),
            n_items,
            threshold,
            seen: 0,
            kept: 0,
        })
    }

    /// Adds one scored pair; returns whether it was at or above the threshold (and so
    /// linked its items). The pair's row in the stream, for errors, is the number of pairs
    /// added before it.
    ///
    /// # Errors
    ///
    /// [`Error::ItemOutOfRange`] if `i` or `j` is `>= n_items`; [`Error::NonFinite`]
    /// (`what: "probability"`, `col: 2`) if `probability` is NaN or infinite. The pair is
    /// not added then.
    pub fn add(&mut self, i: usize, j: usize, probability: f32) -> Result<bool> {
        let row = self.seen;
        if let Some(id) = [i, j].into_iter().find(|&id| id >= self.n_items) {
            return Err(Error::ItemOutOfRange {
                row,
                id,
                n_items: self.n_items,
            });
        }
        if !probability.is_finite() {
            return Err(Error::NonFinite {
                what: "probability",
                row,
                col: 2,
                value: probability,
            });
        }
        self.seen += 1;
        let keep = probability >= self.threshold;
        if keep {
            self.kept += 1;
            self.uf.union(i, j);
        }
        Ok(keep)
    }

    /// Adds every `(i, j, probability)` of `pairs` in order; returns how many were linked.
    ///
    /// # Errors
    ///
    /// Those of [`add`](Self::add), for the first bad pair; pairs before it stay added.
    pub fn add_all<I: IntoIterator<Item = (usize, usize, f32)>>(
        &mut self,
        pairs: I,
    ) -> Result<usize> {
        let before = self.kept;
        for (i, j, p) in pairs {
            self.add(i, j, p)?;
        }
        Ok(self.kept - before)
    }

    /// Adds the pairs of a CSV with a header naming columns `i`, `j` and `probability`
    /// (in any order; other columns are ignored), as written by
    /// [`IdScorer::write_csv`](crate::IdScorer::write_csv) and the candidate search. Reads
    /// as a stream; returns how many pairs were linked.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] with the line (1-based, header included) of a missing column or a
    /// field that is not a number; [`Error::Io`] (path `<reader>`) if reading fails; those
    /// of [`add`](Self::add).
    pub fn add_csv<R: Read>(&mut self, reader: R) -> Result<usize> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers = rdr.headers().map_err(csv_error)?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| Error::Parse {
                    line: 1,
                    reason: format!("no column named `{name}` in the header"),
                })
        };
        let (ci, cj, cp) = (col("i")?, col("j")?, col("probability")?);
        let before = self.kept;
        let mut record = csv::StringRecord::new();
        while rdr.read_record(&mut record).map_err(csv_error)? {
            let line = record.position().map_or(0, |p| p.line() as usize);
            let field = |c: usize, name: &str| {
                record.get(c).map(str::trim).ok_or_else(|| Error::Parse {
                    line,
                    reason: format!("missing field `{name}`"),
                })
            };
            let bad = |name: &str, v: &str| Error::Parse {
                line,
                reason: format!("`{name}` is not a number: {v:?}"),
            };
            let (si, sj, sp) = (field(ci, "i")?, field(cj, "j")?, field(cp, "probability")?);
            let i = si.parse::<usize>().map_err(|_| bad("i", si))?;
            let j = sj.parse::<usize>().map_err(|_| bad("j", sj))?;
            let p = sp.parse::<f32>().map_err(|_| bad("probability", sp))?;
            self.add(i, j, p)?;
        }
        Ok(self.kept - before)
    }

    /// Pairs added so far.
    pub fn pairs_seen(&self) -> usize {
        self.seen
    }

    /// Pairs added so far that were at or above the threshold.
    pub fn pairs_linked(&self) -> usize {
        self.kept
    }

    /// The clusters: one label per item.
    pub fn finish(self) -> Clustering {
        let roots = self.uf.into_labeling();
        // Renumber the roots 0, 1, ... in order of their first item, so that labels do not
        // depend on union-find internals.
        let mut number = vec![usize::MAX; roots.len()];
        let mut next = 0;
        let labels = roots
            .iter()
            .map(|&r| {
                if number[r] == usize::MAX {
                    number[r] = next;
                    next += 1;
                }
                number[r]
            })
            .collect();
        Clustering {
            labels,
            n_clusters: next,
        }
    }
}

fn csv_error(e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::io("<reader>", source),
        other => Error::Parse {
            line,
            reason: format!("{other:?}"),
        },
    }
}

/// The result of a [`Clusterer`]: a cluster label per item, `0..n_clusters`, numbered in
/// order of each cluster's smallest item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clustering {
    labels: Vec<usize>,
    n_clusters: usize,
}

impl Clustering {
    /// The cluster of each item.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Number of clusters (singletons included).
    pub fn n_clusters(&self) -> usize {
        self.n_clusters
    }

    /// The size of each cluster, indexed by label.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![0; self.n_clusters];
        for &l in &self.labels {
            s[l] += 1;
        }
        s
    }

    /// The items of each cluster of at least `min_size` items, in label order; each
    /// group is sorted. `groups(2)` lists the entities with duplicates.
    pub fn groups(&self, min_size: usize) -> Vec<Vec<usize>> {
        let sizes = self.sizes();
        let mut groups: Vec<Vec<usize>> = sizes.iter().map(|_| Vec::new()).collect();
        for (item, &l) in self.labels.iter().enumerate() {
            if sizes[l] >= min_size {
                groups[l].push(item);
            }
        }
        groups.retain(|g| !g.is_empty());
        groups
    }
}

/// A clustering scored against true groups; see [`ClusterMetrics::compare`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterMetrics {
    /// Over all unordered pairs of distinct items: positive = "in one cluster". `tp` are
    /// pairs together in both, `fp` together only in the prediction, `fn_` only in the
    /// truth. Its `precision()` and `recall()` are the pairwise precision and recall.
    pub pairs: Confusion,
    /// B-cubed precision: for each item, the share of its predicted cluster that is in its
    /// true group, averaged over items.
    pub bcubed_precision: f64,
    /// B-cubed recall: for each item, the share of its true group that is in its predicted
    /// cluster, averaged over items.
    pub bcubed_recall: f64,
    /// Adjusted Rand index (Hubert and Arabie): 1 for identical partitions, about 0 for
    /// independent ones; 1 when both partitions are all singletons or one cluster.
    pub adjusted_rand: f64,
    /// Number of predicted clusters.
    pub n_predicted: usize,
    /// Number of true groups.
    pub n_true: usize,
}

impl ClusterMetrics {
    /// Compares predicted cluster labels with true group labels, item by item (labels
    /// are any ids; only equality matters).
    ///
    /// # Errors
    ///
    /// [`Error::RowMismatch`] (`what: "truth"`) if the lengths differ; [`Error::Empty`]
    /// (`what: "labels"`) if there is no item.
    pub fn compare(predicted: &[usize], truth: &[usize]) -> Result<Self> {
        if predicted.len() != truth.len() {
            return Err(Error::RowMismatch {
                what: "truth",
                expected: predicted.len(),
                found: truth.len(),
            });
        }
        if predicted.is_empty() {
            return Err(Error::Empty { what: "labels" });
        }
        let mut cells: HashMap<(usize, usize), u64> = HashMap::new();
        let mut a: HashMap<usize, u64> = HashMap::new();
        let mut b: HashMap<usize, u64> = HashMap::new();
        for (&p, &t) in predicted.iter().zip(truth) {
            *cells.entry((p, t)).or_default() += 1;
            *a.entry(p).or_default() += 1;
            *b.entry(t).or_default() += 1;
        }
        let pairs_of = |c: u64| u128::from(c) * u128::from(c.saturating_sub(1)) / 2;
        let n = predicted.len() as u64;
        let together_both: u128 = cells.values().map(|&c| pairs_of(c)).sum();
        let together_pred: u128 = a.values().map(|&c| pairs_of(c)).sum();
        let together_true: u128 = b.values().map(|&c| pairs_of(c)).sum();
        let all = pairs_of(n);
        let tp = together_both;
        let fp = together_pred - tp;
        let fn_ = together_true - tp;
        let tn = all - tp - fp - fn_;
        let narrow = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        // B-cubed from the contingency table: sum over cells of n_pt^2 / |p| (precision)
        // or n_pt^2 / |t| (recall), divided by n.
        let (mut bp, mut br) = (0.0f64, 0.0f64);
        for (&(p, t), &c) in &cells {
            let c2 = (c as f64) * (c as f64);
            bp += c2 / a[&p] as f64;
            br += c2 / b[&t] as f64;
        }
        let expected = together_pred as f64 * together_true as f64 / all.max(1) as f64;
        let max = (together_pred as f64 + together_true as f64) / 2.0;
        let adjusted_rand = if max == expected {
            1.0
        } else {
            (tp as f64 - expected) / (max - expected)
        };
        Ok(ClusterMetrics {
            pairs: Confusion {
                tp: narrow(tp),
                fp: narrow(fp),
                tn: narrow(tn),
                fn_: narrow(fn_),
            },
            bcubed_precision: bp / n as f64,
            bcubed_recall: br / n as f64,
            adjusted_rand,
            n_predicted: a.len(),
            n_true: b.len(),
        })
    }
}
