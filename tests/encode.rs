//! `PairClassifier::encode`: input errors, identity without an encoder, independence of
//! chunking and thread count, and ranking by a distance of encoded items equal to ranking
//! by the model's logit.

mod common;

use common::bits;
use ndarray::{Array2, Axis, s};
use sympair::{Combiner, EncoderConfig, Error, HeadConfig, MlpConfig, PairClassifier, Similarity};

fn items(n: usize, d: usize, seed: u32) -> Array2<f32> {
    // A small deterministic hash, enough for varied finite values.
    Array2::from_shape_fn((n, d), |(i, j)| {
        let h = (i as u32)
            .wrapping_mul(2_654_435_761)
            .wrapping_add((j as u32).wrapping_mul(40_503))
            .wrapping_add(seed.wrapping_mul(97_531));
        ((h >> 8) % 2001) as f32 / 1000.0 - 1.0
    })
}

fn encoder_model(combiner: Combiner, head: HeadConfig) -> PairClassifier {
    PairClassifier::builder(6, combiner)
        .encoder(EncoderConfig::new(MlpConfig::new([9]).unwrap(), 5).unwrap())
        .head(head)
        .seed(11)
        .build()
        .unwrap()
}

#[test]
fn encode_rejects_bad_items_with_typed_errors() {
    let model = encoder_model(Combiner::AbsDiff, HeadConfig::default());
    assert!(matches!(
        model.encode(Array2::<f32>::zeros((0, 6)).view()),
        Err(Error::Empty { what: "items" })
    ));
    assert!(matches!(
        model.encode(Array2::<f32>::zeros((3, 4)).view()),
        Err(Error::WidthMismatch {
            what: "items",
            expected: 6,
            found: 4
        })
    ));
    let mut bad = items(5, 6, 1);
    bad[[3, 2]] = f32::NAN;
    assert!(matches!(
        model.encode(bad.view()),
        Err(Error::NonFinite {
            what: "items",
            row: 3,
            col: 2,
            ..
        })
    ));
}

#[test]
fn encode_without_encoder_is_identity_copy() {
    let model = PairClassifier::builder(6, Combiner::SquaredDiff)
        .seed(1)
        .build()
        .unwrap();
    let x = items(7, 6, 2);
    let e = model.encode(x.view()).unwrap();
    assert_eq!(bits(&e), bits(&x));
}

/// A row's vector does not depend on the batch it came in, how it is chunked (batches
/// beyond 128 rows are cut into chunks) or the number of threads.
#[test]
fn encode_independent_of_batch_chunking_and_threads() {
    let model = encoder_model(Combiner::AbsDiff, HeadConfig::default());
    let x = items(517, 6, 3);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| model.encode(x.view()).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(bits(&one), bits(&two));
    for (i, row) in x.axis_iter(Axis(0)).enumerate().step_by(37) {
        let single = model.encode(row.insert_axis(Axis(0))).unwrap();
        assert_eq!(bits(&single), bits(one.slice(s![i..i + 1, ..])), "row {i}");
    }
    // A strided (transposed-layout) view gives the same vectors.
    let xt = x.t().to_owned();
    let e_t = model.encode(xt.t()).unwrap();
    assert_eq!(bits(&e_t), bits(&one));
}

/// Every pair of candidates is in the same order by `key` (smaller first) as by the
/// logit (larger first); ties in the key are allowed either way.
fn assert_same_ranking(key: &[f64], logits: &[f32]) {
    for a in 0..key.len() {
        for b in 0..key.len() {
            if key[a] < key[b] {
                assert!(
                    logits[a] >= logits[b],
                    "candidate {a} is closer than {b} ({} < {}) but has a lower logit ({} < {})",
                    key[a],
                    key[b],
                    logits[a],
                    logits[b]
                );
            }
        }
    }
}

fn query_and_candidates() -> (Array2<f32>, Array2<f32>) {
    let cands = items(60, 6, 5);
    let query = items(1, 6, 6);
    let q = query.broadcast((60, 6)).unwrap().to_owned();
    (q, cands)
}

#[test]
fn distance_head_ranking_equals_squared_l2_of_encoded_items() {
    let model = encoder_model(
        Combiner::SquaredDiff,
        HeadConfig::Distance { learn_scale: true },
    );
    let (q, cands) = query_and_candidates();
    let logits = model.predict_logits(q.view(), cands.view()).unwrap();
    let (eq, ec) = (
        model.encode(q.view()).unwrap(),
        model.encode(cands.view()).unwrap(),
    );
    let d2: Vec<f64> = eq
        .rows()
        .into_iter()
        .zip(ec.rows())
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(u, v)| f64::from((u - v) * (u - v)))
                .sum()
        })
        .collect();
    assert_same_ranking(&d2, logits.as_slice().unwrap());
}

#[test]
fn cosine_then_positive_linear_head_ranking_equals_cosine_of_encoded_items() {
    let mut model = encoder_model(
        Combiner::Similarity(Similarity::Cosine),
        HeadConfig::Mlp(MlpConfig::linear()),
    );
    // The linear head's weight and bias are the last two parameters: make the slope
    // positive (a negative slope reverses the ranking).
    let mut p = model.parameters();
    let n = p.len();
    p[n - 2] = 2.5;
    p[n - 1] = -0.3;
    model.set_parameters(&p).unwrap();
    let (q, cands) = query_and_candidates();
    let logits = model.predict_logits(q.view(), cands.view()).unwrap();
    let (eq, ec) = (
        model.encode(q.view()).unwrap(),
        model.encode(cands.view()).unwrap(),
    );
    let neg_cos: Vec<f64> = eq
        .rows()
        .into_iter()
        .zip(ec.rows())
        .map(|(a, b)| {
            let dot: f64 = a.iter().zip(b).map(|(u, v)| f64::from(u * v)).sum();
            let na: f64 = a.iter().map(|u| f64::from(u * u)).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|u| f64::from(u * u)).sum::<f64>().sqrt();
            -dot / (na * nb)
        })
        .collect();
    // Cosines within rounding of each other may swap: compare only clearly separated ones.
    let logits = logits.as_slice().unwrap();
    for a in 0..neg_cos.len() {
        for b in 0..neg_cos.len() {
            if neg_cos[a] + 1e-5 < neg_cos[b] {
                assert!(logits[a] > logits[b], "candidates {a} and {b} out of order");
            }
        }
    }
}
