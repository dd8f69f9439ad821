//! Candidate search: ANN candidates, exact scoring, top-k and canonical pairs above a
//! threshold, against exhaustive scoring on small data.
#![cfg(feature = "ann")]

use std::collections::BTreeSet;

use ndarray::{Array2, s};
use sympair::candidates::{CandidateSearch, RetrievalMetric, SearchConfig, retrieval_vectors};
use sympair::{Combiner, EncoderConfig, Error, HeadConfig, IdScorer, PairClassifier, sigmoid};

/// `n` items in 4 dimensions: groups of 5 around spread-out centres, plus small offsets.
fn items(n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, 4), |(r, c)| {
        let g = (r / 5) as f32;
        let centre = match c {
            0 => g,
            1 => (g * 0.37).sin() * 3.0,
            2 => (g * 1.3).cos() * 2.0,
            _ => 0.5 * g,
        };
        centre + ((r * 7 + c * 13) % 17) as f32 * 0.01
    })
}

fn distance_model() -> PairClassifier {
    PairClassifier::builder(4, Combiner::SquaredDiff)
        .encoder(EncoderConfig::linear(3).unwrap())
        .head(HeadConfig::Distance { learn_scale: false })
        .seed(4)
        .build()
        .unwrap()
}

fn mlp_model() -> PairClassifier {
    PairClassifier::builder(4, Combiner::AbsDiff)
        .seed(9)
        .build()
        .unwrap()
}

/// Exhaustive top-k partners of each item (itself excluded), by the classifier.
fn exhaustive_top_k(model: &PairClassifier, x: &Array2<f32>, k: usize) -> Vec<Vec<(usize, f32)>> {
    let scorer = IdScorer::new(model, x.view()).unwrap();
    (0..x.nrows())
        .map(|i| {
            let pairs: Vec<(usize, usize)> =
                (0..x.nrows()).filter(|&j| j != i).map(|j| (i, j)).collect();
            let logits = scorer.logits(&pairs).unwrap();
            let mut v: Vec<(usize, f32)> =
                pairs.iter().zip(&logits).map(|(p, &z)| (p.1, z)).collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            v.truncate(k);
            v.into_iter().map(|(j, z)| (j, sigmoid(z))).collect()
        })
        .collect()
}

fn collect_top_k(search: &CandidateSearch) -> Vec<Vec<(usize, f32)>> {
    let mut all = vec![Vec::new(); search.n_items()];
    let n = search
        .for_each_top_k(|i, partners| {
            all[i] = partners.to_vec();
            Ok(())
        })
        .unwrap();
    assert_eq!(n, search.n_items());
    all
}

/// Runs `f` on a rayon pool of one thread: the HNSW graph is built by parallel inserts,
/// whose order (and so the graph, and which near-ties an approximate search finds) varies
/// from run to run on several threads; on one thread every run builds the same index, so
/// these exact comparisons cannot flake.
fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool")
        .install(f)
}

#[test]
fn top_k_equals_exhaustive_scoring_when_every_item_is_a_candidate() {
    one_thread(|| {
        let x = items(60);
        for model in [distance_model(), mlp_model()] {
            let config = SearchConfig::new(4)
                .unwrap()
                .with_candidates(59)
                .unwrap()
                .with_block(7)
                .unwrap();
            let search = CandidateSearch::new(&model, x.view(), &config).unwrap();
            assert_eq!(collect_top_k(&search), exhaustive_top_k(&model, &x, 4));
        }
    })
}

#[test]
fn distance_head_top_k_from_few_candidates_is_the_exact_ranking() {
    one_thread(|| {
        // The index ranks by the model's own distance: a few candidates suffice on small data.
        // (The HNSW graph is built on several threads, so it differs from run to run: with
        // exactly k candidates recall moved between 0.95 and 1.0; a little slack makes it 0.99+.)
        let x = items(200);
        let model = distance_model();
        assert!(sympair::candidates::ranking_is_exact(&model));
        let config = SearchConfig::new(3).unwrap().with_candidates(8).unwrap();
        let search = CandidateSearch::new(&model, x.view(), &config).unwrap();
        let got = collect_top_k(&search);
        let want = exhaustive_top_k(&model, &x, 3);
        let hits: usize = got
            .iter()
            .zip(&want)
            .map(|(g, w)| g.iter().filter(|p| w.iter().any(|q| q.0 == p.0)).count())
            .sum();
        assert!(
            hits as f64 / (200.0 * 3.0) >= 0.99,
            "recall {}",
            hits as f64 / 600.0
        );
    })
}

#[test]
fn partners_exclude_the_item_are_best_first_and_scored_exactly() {
    one_thread(|| {
        let x = items(50);
        let model = mlp_model();
        let search =
            CandidateSearch::new(&model, x.view(), &SearchConfig::new(5).unwrap()).unwrap();
        let scorer = IdScorer::new(&model, x.view()).unwrap();
        for (i, partners) in collect_top_k(&search).into_iter().enumerate() {
            assert_eq!(partners.len(), 5);
            assert!(partners.iter().all(|&(j, _)| j != i));
            assert!(partners.windows(2).all(|w| w[0].1 >= w[1].1));
            let pairs: Vec<(usize, usize)> = partners.iter().map(|&(j, _)| (i, j)).collect();
            let p = scorer.probabilities(&pairs).unwrap();
            assert_eq!(partners.iter().map(|q| q.1).collect::<Vec<_>>(), p);
        }
    })
}

#[test]
fn pairs_above_threshold_are_canonical_and_complete_when_every_item_is_a_candidate() {
    one_thread(|| {
        let x = items(40);
        let model = distance_model();
        let scorer = IdScorer::new(&model, x.view()).unwrap();
        let all: Vec<(usize, usize)> = (0..40)
            .flat_map(|i| (i + 1..40).map(move |j| (i, j)))
            .collect();
        let p = scorer.probabilities(&all).unwrap();
        let mut sorted = p.clone();
        sorted.sort_by(f32::total_cmp);
        let threshold = sorted[sorted.len() / 2];
        let want: BTreeSet<(usize, usize)> = all
            .iter()
            .zip(&p)
            .filter(|(_, p)| **p >= threshold)
            .map(|(&ij, _)| ij)
            .collect();

        for block in [1, 6, 64] {
            let config = SearchConfig::new(1)
                .unwrap()
                .with_candidates(39)
                .unwrap()
                .with_block(block)
                .unwrap();
            let search = CandidateSearch::new(&model, x.view(), &config).unwrap();
            let mut got = Vec::new();
            let n = search
                .for_each_above(threshold, |i, j, q| {
                    got.push((i, j, q));
                    Ok(())
                })
                .unwrap();
            assert_eq!(n, got.len());
            let set: BTreeSet<(usize, usize)> = got.iter().map(|&(i, j, _)| (i, j)).collect();
            assert_eq!(
                set.len(),
                got.len(),
                "a pair was written twice (block {block})"
            );
            assert_eq!(set, want, "block {block}");
            assert!(got.iter().all(|&(i, j, q)| i < j && q >= threshold));
        }
    })
}

#[test]
fn pairs_above_threshold_of_an_asymmetric_model_carry_the_probability_of_i_then_j() {
    one_thread(|| {
        let x = items(30);
        let model = PairClassifier::builder(4, Combiner::Concat)
            .seed(3)
            .build()
            .unwrap();
        assert!(!model.is_symmetric());
        let scorer = IdScorer::new(&model, x.view()).unwrap();
        let config = SearchConfig::new(1).unwrap().with_candidates(29).unwrap();
        let search = CandidateSearch::new(&model, x.view(), &config).unwrap();
        let mut got = Vec::new();
        search
            .for_each_above(0.0, |i, j, q| {
                got.push((i, j, q));
                Ok(())
            })
            .unwrap();
        assert_eq!(got.len(), 30 * 29 / 2, "every pair once at threshold 0");
        let pairs: Vec<(usize, usize)> = got.iter().map(|&(i, j, _)| (i, j)).collect();
        let want = scorer.probabilities(&pairs).unwrap();
        let swapped: Vec<(usize, usize)> = pairs.iter().map(|&(i, j)| (j, i)).collect();
        let other = scorer.probabilities(&swapped).unwrap();
        assert!(
            want.iter().zip(&other).any(|(a, b)| a != b),
            "the model must be asymmetric on these pairs for the test to mean anything"
        );
        for (&(i, j, q), &p) in got.iter().zip(&want) {
            assert!(i < j);
            assert_eq!(q.to_bits(), p.to_bits(), "pair ({i}, {j})");
        }
    })
}

#[test]
fn pairs_above_threshold_from_few_candidates_are_written_once() {
    one_thread(|| {
        let x = items(300);
        let model = mlp_model();
        let config = SearchConfig::new(2)
            .unwrap()
            .with_candidates(6)
            .unwrap()
            .with_block(50)
            .unwrap();
        let search = CandidateSearch::new(&model, x.view(), &config).unwrap();
        let mut seen = BTreeSet::new();
        let n = search
            .for_each_above(0.0, |i, j, _| {
                assert!(i < j);
                assert!(seen.insert((i, j)), "({i}, {j}) written twice");
                Ok(())
            })
            .unwrap();
        // Every item's 6 candidates, each unordered pair once: between 300 * 6 / 2 and 300 * 6.
        assert!((900..=1800).contains(&n), "{n}");
        let mut csv = Vec::new();
        assert_eq!(search.write_above_csv(0.0, &mut csv).unwrap(), n);
        assert_eq!(String::from_utf8(csv).unwrap().lines().count(), n + 1);
    })
}

#[test]
fn top_k_csv_has_a_header_and_k_rows_per_item() {
    one_thread(|| {
        let x = items(30);
        let model = mlp_model();
        let search =
            CandidateSearch::new(&model, x.view(), &SearchConfig::new(2).unwrap()).unwrap();
        let mut csv = Vec::new();
        assert_eq!(search.write_top_k_csv(&mut csv).unwrap(), 60);
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(text.lines().next(), Some("i,j,probability"));
        assert_eq!(text.lines().count(), 61);
    })
}

#[test]
fn retrieval_vectors_are_the_encoder_outputs_or_the_items() {
    one_thread(|| {
        let x = items(10);
        let plain = mlp_model();
        assert_eq!(retrieval_vectors(&plain, x.view()).unwrap(), x);
        let enc = distance_model();
        let v = retrieval_vectors(&enc, x.view()).unwrap();
        assert_eq!(v.dim(), (10, 3));
        assert_eq!(RetrievalMetric::for_model(&enc), RetrievalMetric::SquaredL2);
        let cos = PairClassifier::builder(4, Combiner::Similarity(sympair::Similarity::Cosine))
            .build()
            .unwrap();
        assert_eq!(RetrievalMetric::for_model(&cos), RetrievalMetric::Cosine);
    })
}

#[test]
fn bad_settings_and_inputs_are_typed_errors() {
    one_thread(|| {
        assert!(matches!(
            SearchConfig::new(0),
            Err(Error::InvalidConfig { field: "k", .. })
        ));
        let c = SearchConfig::new(5).unwrap();
        assert!(matches!(
            c.clone().with_candidates(4),
            Err(Error::InvalidConfig {
                field: "candidates",
                ..
            })
        ));
        assert!(matches!(
            c.clone().with_connectivity(1),
            Err(Error::InvalidConfig {
                field: "connectivity",
                ..
            })
        ));
        assert!(matches!(
            c.clone().with_expansion(0, 10),
            Err(Error::InvalidConfig {
                field: "expansion",
                ..
            })
        ));
        assert!(matches!(
            c.clone().with_block(0),
            Err(Error::InvalidConfig { field: "block", .. })
        ));

        let model = mlp_model();
        let mut x = items(20);
        x[[7, 2]] = f32::NAN;
        let err = CandidateSearch::new(&model, x.view(), &c).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NonFinite {
                    what: "items",
                    row: 7,
                    col: 2,
                    ..
                }
            ),
            "{err}"
        );
        let x = items(20);
        let err = CandidateSearch::new(&model, x.slice(s![.., ..3]), &c).unwrap_err();
        assert!(
            matches!(
                err,
                Error::WidthMismatch {
                    expected: 4,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );

        let search = CandidateSearch::new(&model, x.view(), &c).unwrap();
        assert!(matches!(
            search.neighbours(20),
            Err(Error::ItemOutOfRange { id: 20, .. })
        ));
        assert_eq!(search.neighbours(3).unwrap().len(), 15);
        let err = search.top_k_of([1, 2, 25], |_, _| Ok(())).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ItemOutOfRange {
                    row: 2,
                    id: 25,
                    n_items: 20
                }
            ),
            "{err}"
        );
        assert!(matches!(
            search.for_each_above(1.5, |_, _, _| Ok(())),
            Err(Error::InvalidConfig {
                field: "threshold",
                ..
            })
        ));
    })
}
