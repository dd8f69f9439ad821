//! Candidate search for millions of items: an approximate nearest-neighbour index over the
//! items' retrieval vectors, then exact scoring of the candidates by the classifier.
//!
//! Scoring all `n (n - 1) / 2` pairs of a million items is `5e11` pairs. The standard
//! shape at that size is blocking: for each item, a few candidate partners from a
//! nearest-neighbour index, then the classifier on those pairs only.
//! [`CandidateSearch`] does both:
//!
//! 1. **Retrieval vectors.** The encoder's outputs where the model has an encoder, else the
//!    embeddings themselves, in an HNSW index (the [`usearch`] crate; see the README's
//!    "Scale" section for why it and not `hnsw_rs`). The metric is the model's own where it
//!    has one ([`RetrievalMetric::for_model`]): squared L2 for distance heads and
//!    difference combiners, cosine or inner product for those similarities. For a
//!    `SquaredDiff` + distance-head model the neighbours are then exactly the model's
//!    ranking; for MLP heads they are a blocking heuristic whose recall against exhaustive
//!    scoring must be measured (`examples/scale.rs` does).
//! 2. **Exact scoring.** Each item's `candidates` nearest neighbours (itself excluded) are
//!    scored by the classifier through [`IdScorer`], and the best `k` are kept
//!    ([`CandidateSearch::for_each_top_k`]), or every pair at or above a probability
//!    threshold ([`CandidateSearch::for_each_above`]).
//!
//! Items are processed in blocks of [`SearchConfig::with_block`] queries (searches on the
//! threads of the current rayon pool), and results stream to a callback or a CSV writer
//! block by block: memory is the index (about `n * (4 d + 8 M)` bytes for `M`
//! [connectivity](SearchConfig::with_connectivity)) plus one block, whatever `k` is.
//!
//! Pairs above a threshold are canonical (each unordered pair once, `i < j`, no
//! self-pairs) without a set of seen pairs: a pair found from both of its items is written
//! by the smaller id; one found only from its larger id `j` is written by `j` exactly when
//! it lies outside `i`'s search radius (the distance to `i`'s farthest candidate), which
//! is when `i`'s search cannot have returned it. That takes one `f32` per item.
//!
//! # Example
//!
//! ```
//! use ndarray::Array2;
//! use sympair::candidates::{CandidateSearch, SearchConfig};
//! use sympair::{Combiner, PairClassifier};
//!
//! // 40 items in 2 dimensions: 20 tight pairs of near-duplicates.
//! let items = Array2::from_shape_fn((40, 2), |(r, c)| (r / 2) as f32 * if c == 0 { 1.0 } else { -0.5 } + (r % 2) as f32 * 1e-3);
//! let model = PairClassifier::builder(2, Combiner::AbsDiff).seed(1).build()?;
//! let search = CandidateSearch::new(&model, items.view(), &SearchConfig::new(3)?)?;
//!
//! let mut rows = 0;
//! search.for_each_top_k(|item, partners| {
//!     assert_eq!(partners.len(), 3); // (partner, probability), best first
//!     assert!(partners.iter().all(|&(j, _)| j != item));
//!     rows += 1;
//!     Ok(())
//! })?;
//! assert_eq!(rows, 40);
//!
//! // Or straight to CSV (i,j,probability), one block in memory at a time:
//! let mut csv = Vec::new();
//! assert_eq!(search.write_top_k_csv(&mut csv)?, 40 * 3);
//! # Ok::<(), sympair::Error>(())
//! ```

use std::io::Write;

use ndarray::{Array2, ArrayView1, ArrayView2, CowArray, Ix2, s};
use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::combiner::PairCombiner;
use crate::error::{Error, Result};
use crate::head::Head;
use crate::ids::{IdScorer, Precompute};
use crate::io::PredictionsWriter;
use crate::model::PairClassifier;

/// Items encoded per batch when retrieval vectors come from an encoder.
const ENCODE_CHUNK: usize = 4096;

/// The distance the nearest-neighbour index ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetrievalMetric {
    /// `sum (a_i - b_i)^2`.
    SquaredL2,
    /// `1 - cos(a, b)`.
    Cosine,
    /// `1 - a . b` (a larger dot product is nearer).
    InnerProduct,
}

impl RetrievalMetric {
    /// The metric that ranks like the model where the model has a distance of its own:
    /// [`Cosine`](Self::Cosine) for the cosine similarity combiner,
    /// [`InnerProduct`](Self::InnerProduct) for the dot product one, and
    /// [`SquaredL2`](Self::SquaredL2) otherwise (exact for `SquaredDiff` and
    /// `NegSquaredL2` with a monotone head, the usual blocking distance for the rest).
    pub fn for_model<C: PairCombiner>(model: &PairClassifier<C>) -> Self {
        match model.combiner().name().as_str() {
            "cosine" => RetrievalMetric::Cosine,
            "dot" => RetrievalMetric::InnerProduct,
            _ => RetrievalMetric::SquaredL2,
        }
    }

    fn kind(self) -> MetricKind {
        match self {
            RetrievalMetric::SquaredL2 => MetricKind::L2sq,
            RetrievalMetric::Cosine => MetricKind::Cos,
            RetrievalMetric::InnerProduct => MetricKind::IP,
        }
    }

    /// The distance, formed so that `distance(a, b) == distance(b, a)` bit for bit (each
    /// term is symmetric and the terms are added in one fixed order), as the canonical
    /// pair rule needs.
    fn distance(self, a: ArrayView1<f32>, b: ArrayView1<f32>) -> f32 {
        match self {
            RetrievalMetric::SquaredL2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
            RetrievalMetric::InnerProduct => 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>(),
            RetrievalMetric::Cosine => {
                let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
                for (x, y) in a.iter().zip(b) {
                    ab += x * y;
                    aa += x * x;
                    bb += y * y;
                }
                // aa * bb == bb * aa: multiplication commutes in IEEE-754.
                1.0 - ab / (aa * bb).max(1e-24).sqrt()
            }
        }
    }
}

/// Settings of a [`CandidateSearch`]; every value is checked when set, so a config that
/// exists is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    k: usize,
    candidates: usize,
    connectivity: usize,
    expansion_add: usize,
    expansion_search: usize,
    block: usize,
    metric: Option<RetrievalMetric>,
    half: bool,
}

impl SearchConfig {
    /// Top `k` partners per item, from `max(3 k, k + 10)` candidates; HNSW connectivity
    /// 16, expansion 128 when adding and `max(64, 2 * candidates)` when searching; blocks of
    /// 4096 queries; the metric of [`RetrievalMetric::for_model`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "k"`) if `k` is 0.
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::config("k", "must be at least 1"));
        }
        let candidates = k.saturating_mul(3).max(k.saturating_add(10));
        Ok(SearchConfig {
            k,
            candidates,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: candidates.saturating_mul(2).max(64),
            block: 4096,
            metric: None,
            half: false,
        })
    }

    /// Nearest neighbours fetched and scored per item (default `max(3 k, k + 10)`). More
    /// candidates raise recall against exhaustive scoring for heads whose ranking is not
    /// the index's, at a proportional scoring cost. Also raises the search expansion to
    /// at least `2 * candidates`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "candidates"`) if `candidates < k`.
    pub fn with_candidates(mut self, candidates: usize) -> Result<Self> {
        if candidates < self.k {
            return Err(Error::config(
                "candidates",
                format!("must be at least k = {}, got {candidates}", self.k),
            ));
        }
        self.candidates = candidates;
        self.expansion_search = self.expansion_search.max(candidates.saturating_mul(2));
        Ok(self)
    }

    /// HNSW connectivity `M`, the links per node (default 16). Higher gives better recall
    /// and a larger, slower-to-build index.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "connectivity"`) unless `2 <= m <= 256`.
    pub fn with_connectivity(mut self, m: usize) -> Result<Self> {
        if !(2..=256).contains(&m) {
            return Err(Error::config(
                "connectivity",
                format!("must be in 2..=256, got {m}"),
            ));
        }
        self.connectivity = m;
        Ok(self)
    }

    /// HNSW expansion (beam width) when adding items (default 128) and when searching
    /// (default `max(64, 2 * candidates)`; raised to `candidates` if below).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "expansion"`) if either is 0.
    pub fn with_expansion(mut self, add: usize, search: usize) -> Result<Self> {
        if add == 0 || search == 0 {
            return Err(Error::config(
                "expansion",
                "must be at least 1 when adding and when searching",
            ));
        }
        self.expansion_add = add;
        self.expansion_search = search.max(self.candidates);
        Ok(self)
    }

    /// Queries per block (default 4096): results are written block by block and memory
    /// holds one block's candidates.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "block"`) if `block` is 0.
    pub fn with_block(mut self, block: usize) -> Result<Self> {
        if block == 0 {
            return Err(Error::config("block", "must be at least 1"));
        }
        self.block = block;
        Ok(self)
    }

    /// Ranks neighbours by `metric` instead of [`RetrievalMetric::for_model`].
    pub fn with_metric(mut self, metric: RetrievalMetric) -> Self {
        self.metric = Some(metric);
        self
    }

    /// Stores the index's vectors as 16-bit floats (default: 32-bit): half the index's
    /// memory and faster building and searching, at a small loss of recall. Candidates are
    /// still ordered and scored on the full-precision vectors.
    pub fn with_half_precision(mut self, half: bool) -> Self {
        self.half = half;
        self
    }

    /// Partners kept per item.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Candidates scored per item.
    pub fn candidates(&self) -> usize {
        self.candidates
    }
}

/// The retrieval vectors of `items` for `model`: the encoder's outputs `(n, e)` where the
/// model has an encoder, else a copy of the items. The vectors a [`CandidateSearch`]
/// indexes; useful for building an index elsewhere (Spark, a vector database).
///
/// # Errors
///
/// Those of [`IdScorer::new`] (empty, width, non-finite items).
pub fn retrieval_vectors<C: PairCombiner>(
    model: &PairClassifier<C>,
    items: ArrayView2<f32>,
) -> Result<Array2<f32>> {
    IdScorer::new(model, items)?;
    let Some(enc) = model.encoder() else {
        return Ok(items.to_owned());
    };
    let n = items.nrows();
    let mut out = crate::data::try_zeros(n, enc.output_dim(), "retrieval vectors")?;
    out.axis_chunks_iter_mut(ndarray::Axis(0), ENCODE_CHUNK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut block)| {
            let start = c * ENCODE_CHUNK;
            let rows = block.nrows();
            let mut ws = enc.work(rows);
            enc.forward(items.slice(s![start..start + rows, ..]), &mut ws);
            block.assign(&ws.output(rows));
        });
    Ok(out)
}

/// An ANN index over one item matrix and the model that scores its candidates; see the
/// [module docs](crate::candidates).
pub struct CandidateSearch<'a, C = crate::Combiner> {
    model: &'a PairClassifier<C>,
    scorer: IdScorer<'a, C>,
    /// The items themselves without an encoder (borrowed), else their encodings.
    vectors: CowArray<'a, f32, Ix2>,
    index: Index,
    metric: RetrievalMetric,
    config: SearchConfig,
}

impl<C> std::fmt::Debug for CandidateSearch<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandidateSearch")
            .field("n_items", &self.vectors.nrows())
            .field("dim", &self.vectors.ncols())
            .field("metric", &self.metric)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn index_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unsupported(format!("nearest-neighbour index: {what} failed: {e}"))
}

impl<'a, C: PairCombiner> CandidateSearch<'a, C> {
    /// Computes the retrieval vectors of `items` and indexes them, on the threads of the
    /// current rayon pool.
    ///
    /// # Errors
    ///
    /// Those of [`IdScorer::new`] (empty, width, non-finite items);
    /// [`Error::Unsupported`] if the index cannot be made (out of memory).
    pub fn new(
        model: &'a PairClassifier<C>,
        items: ArrayView2<'a, f32>,
        config: &SearchConfig,
    ) -> Result<Self> {
        // Candidates number several per item: the per-item path always pays.
        let scorer = IdScorer::new(model, items)?.with_precompute(Precompute::Always)?;
        let vectors: CowArray<'a, f32, Ix2> = match model.encoder() {
            None if items.is_standard_layout() => CowArray::from(items),
            _ => CowArray::from(retrieval_vectors(model, items)?),
        };
        let metric = config
            .metric
            .unwrap_or_else(|| RetrievalMetric::for_model(model));
        let options = IndexOptions {
            dimensions: vectors.ncols(),
            metric: metric.kind(),
            quantization: if config.half {
                ScalarKind::F16
            } else {
                ScalarKind::F32
            },
            connectivity: config.connectivity,
            expansion_add: config.expansion_add,
            expansion_search: config.expansion_search,
            multi: false,
        };
        let index = Index::new(&options).map_err(|e| index_error("creation", e))?;
        index
            .reserve_capacity_and_threads(vectors.nrows(), rayon::current_num_threads())
            .map_err(|e| index_error("reserving memory", e))?;
        (0..vectors.nrows()).into_par_iter().try_for_each(|i| {
            let v = vectors.row(i);
            let v = v
                .as_slice()
                .expect("retrieval vectors are in standard layout");
            index
                .add(i as u64, v)
                .map_err(|e| index_error("adding an item", e))
        })?;
        Ok(CandidateSearch {
            model,
            scorer,
            vectors,
            index,
            metric,
            config: config.clone(),
        })
    }

    /// Number of items indexed.
    pub fn n_items(&self) -> usize {
        self.vectors.nrows()
    }

    /// The metric the index ranks by.
    pub fn metric(&self) -> RetrievalMetric {
        self.metric
    }

    /// Bytes held by the index (graph and vectors), as the index reports them.
    pub fn index_bytes(&self) -> usize {
        self.index.memory_usage()
    }

    /// The ids of the (approximately) nearest `candidates` items of item `query`, nearest
    /// first, itself excluded (fewer if there are fewer other items).
    ///
    /// # Errors
    ///
    /// [`Error::ItemOutOfRange`] (`row: 0`) if `query >= n_items`.
    pub fn neighbours(&self, query: usize) -> Result<Vec<usize>> {
        if query >= self.n_items() {
            return Err(Error::ItemOutOfRange {
                row: 0,
                id: query,
                n_items: self.n_items(),
            });
        }
        Ok(self.search(query)?.into_iter().map(|(j, _)| j).collect())
    }

    /// Candidates of `query` with their distances, nearest first, itself excluded.
    fn search(&self, query: usize) -> Result<Vec<(usize, f32)>> {
        let m = self.config.candidates;
        let v = self.vectors.row(query);
        let v = v
            .as_slice()
            .expect("retrieval vectors are in standard layout");
        let found = self
            .index
            .search(v, m.saturating_add(1))
            .map_err(|e| index_error("search", e))?;
        let row = self.vectors.row(query);
        let mut out: Vec<(usize, f32)> = found
            .keys
            .iter()
            .map(|&key| key as usize)
            .filter(|&j| j != query)
            .take(m)
            .map(|j| (j, self.metric.distance(row, self.vectors.row(j))))
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// The candidates of each query of a block, searched in parallel.
    fn search_block(&self, queries: &[usize]) -> Result<Vec<Vec<(usize, f32)>>> {
        queries.par_iter().map(|&q| self.search(q)).collect()
    }

    /// Scores `(q, candidate)` for every candidate of each query; logits in the same
    /// nested order. With `canonical`, an asymmetric model scores `(min, max)` instead, the
    /// order in which the pair is reported (a symmetric model gives the same bits either way).
    fn score_block(
        &self,
        queries: &[usize],
        found: &[Vec<(usize, f32)>],
        canonical: bool,
    ) -> Result<Vec<f32>> {
        let reorder = canonical && !self.model.is_symmetric();
        let pairs: Vec<(usize, usize)> = queries
            .iter()
            .zip(found)
            .flat_map(|(&q, cands)| {
                cands.iter().map(move |&(j, _)| {
                    if reorder {
                        (q.min(j), q.max(j))
                    } else {
                        (q, j)
                    }
                })
            })
            .collect();
        self.scorer.logits(&pairs)
    }

    /// For every item in order, calls `f(item, partners)` with its best `k` partners among
    /// its candidates as `(partner, probability)`, best first (ties: lower id first).
    /// Probabilities are the model's, as [`IdScorer::probabilities`] gives them
    /// (calibrated if the model has a calibration).
    /// Returns the number of items. Memory holds one block.
    ///
    /// # Errors
    ///
    /// An error returned by `f` stops the search and is returned as is;
    /// [`Error::NonFinite`] if a logit is not finite.
    pub fn for_each_top_k<F>(&self, f: F) -> Result<usize>
    where
        F: FnMut(usize, &[(usize, f32)]) -> Result<()>,
    {
        self.top_k_of(0..self.n_items(), f)
    }

    /// [`for_each_top_k`](Self::for_each_top_k) for the given items only, in the order
    /// given (say, a sample to check recall on).
    ///
    /// # Errors
    ///
    /// [`Error::ItemOutOfRange`] (row = position in `queries`) for an id `>= n_items`;
    /// those of [`for_each_top_k`](Self::for_each_top_k).
    pub fn top_k_of<I, F>(&self, queries: I, mut f: F) -> Result<usize>
    where
        I: IntoIterator<Item = usize>,
        F: FnMut(usize, &[(usize, f32)]) -> Result<()>,
    {
        let k = self.config.k;
        let n = self.n_items();
        let mut queries = queries.into_iter();
        let mut done = 0;
        let mut block = Vec::with_capacity(self.config.block);
        let mut best: Vec<(usize, f32)> = Vec::new();
        loop {
            block.clear();
            block.extend(queries.by_ref().take(self.config.block));
            if block.is_empty() {
                return Ok(done);
            }
            if let Some((r, &id)) = block.iter().enumerate().find(|&(_, &q)| q >= n) {
                return Err(Error::ItemOutOfRange {
                    row: done + r,
                    id,
                    n_items: n,
                });
            }
            let found = self.search_block(&block)?;
            let logits = self.score_block(&block, &found, false)?;
            let mut at = 0;
            for (&q, cands) in block.iter().zip(&found) {
                best.clear();
                best.extend(
                    cands
                        .iter()
                        .zip(&logits[at..at + cands.len()])
                        .map(|(&(j, _), &z)| (j, z)),
                );
                at += cands.len();
                best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                best.truncate(k);
                let decision = self.model.decision();
                best.iter_mut().for_each(|p| p.1 = decision.proba(p.1));
                f(q, &best)?;
            }
            done += block.len();
        }
    }

    /// Writes every item's top `k` partners as CSV rows `i,j,probability` (`i` the item,
    /// `j` a partner; an item's rows best first) and returns the number of rows. Memory
    /// holds one block.
    ///
    /// # Errors
    ///
    /// Those of [`for_each_top_k`](Self::for_each_top_k); [`Error::Io`] (path
    /// `<writer>`) if writing fails.
    pub fn write_top_k_csv<W: Write>(&self, out: W) -> Result<usize> {
        let mut w = PredictionsWriter::new(out)?;
        let mut rows = 0;
        self.for_each_top_k(|i, partners| {
            for &(j, p) in partners {
                w.write(i, j, p)?;
            }
            rows += partners.len();
            Ok(())
        })?;
        w.finish()?;
        Ok(rows)
    }

    /// Calls `f(i, j, probability)` for every candidate pair whose probability is at least
    /// `threshold`, each unordered pair once with `i < j` and the probability of `(i, j)`
    /// in that order (for an asymmetric model such as `Concat`; see the
    /// [module docs](crate::candidates) for how), block by block in increasing `i` of the
    /// item whose search found it. Returns the number of pairs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] (`field: "threshold"`) unless `threshold` is in `[0, 1]`;
    /// an error returned by `f`, as is.
    pub fn for_each_above<F>(&self, threshold: f32, mut f: F) -> Result<usize>
    where
        F: FnMut(usize, usize, f32) -> Result<()>,
    {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::config(
                "threshold",
                format!("must be a probability in [0, 1], got {threshold}"),
            ));
        }
        let n = self.n_items();
        // Search radius of each item already searched: the distance of its farthest
        // candidate (infinite when it got fewer than `candidates`: it then saw every item).
        let mut radius = vec![f32::INFINITY; n];
        let mut written = 0;
        let mut start = 0;
        let mut block = Vec::with_capacity(self.config.block);
        while start < n {
            let end = (start + self.config.block).min(n);
            block.clear();
            block.extend(start..end);
            let found = self.search_block(&block)?;
            for (&q, cands) in block.iter().zip(&found) {
                if cands.len() >= self.config.candidates {
                    radius[q] = cands.last().map_or(f32::INFINITY, |c| c.1);
                }
            }
            let logits = self.score_block(&block, &found, true)?;
            let mut at = 0;
            for (&q, cands) in block.iter().zip(&found) {
                for (&(j, dist), &z) in cands.iter().zip(&logits[at..at + cands.len()]) {
                    // j < q: written by j's own search unless q lies outside j's radius.
                    let mine = j > q || dist > radius[j];
                    let p = self.model.decision().proba(z);
                    if mine && p >= threshold {
                        f(q.min(j), q.max(j), p)?;
                        written += 1;
                    }
                }
                at += cands.len();
            }
            start = end;
        }
        Ok(written)
    }

    /// Writes the pairs of [`for_each_above`](Self::for_each_above) as CSV rows
    /// `i,j,probability` and returns their number.
    ///
    /// # Errors
    ///
    /// Those of [`for_each_above`](Self::for_each_above); [`Error::Io`] (path
    /// `<writer>`) if writing fails.
    pub fn write_above_csv<W: Write>(&self, threshold: f32, out: W) -> Result<usize> {
        let mut w = PredictionsWriter::new(out)?;
        let n = self.for_each_above(threshold, |i, j, p| w.write(i, j, p))?;
        w.finish()?;
        Ok(n)
    }
}

/// Whether the model's own ranking is the index's, so that candidates are exact up to
/// the index's recall: a distance head on `SquaredDiff` (squared L2 on the encodings).
pub fn ranking_is_exact<C: PairCombiner>(model: &PairClassifier<C>) -> bool {
    matches!(model.head(), Head::Distance(_)) && model.combiner().name() == "squared_diff"
}
