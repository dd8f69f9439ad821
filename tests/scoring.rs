//! All-pairs and top-k scoring agree with the pair API.

use ndarray::{Array2, s};
use sympair::{
    ClusterTask, Combiner, EncoderConfig, LinearDecomposition, MlpConfig, PairClassifier,
    PairCombiner, PairData, Stack,
};

fn items(n: usize, d: usize) -> Array2<f32> {
    let data = ClusterTask::new(d, 5).unwrap().generate(n, 3).unwrap();
    data.left().to_owned()
}

/// Non-zero biases everywhere: a fresh model's biases are 0, which would hide mistakes.
fn perturbed(mut m: PairClassifier) -> PairClassifier {
    let p: Vec<f32> = m
        .parameters()
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.1 * (i as f32 * 0.7).sin())
        .collect();
    m.set_parameters(&p).unwrap();
    m
}

fn models(d: usize) -> Vec<PairClassifier> {
    let mut out = Vec::new();
    for c in Combiner::builtins().into_iter().chain([Combiner::Stack(
        Stack::new(vec![Combiner::Sum, Combiner::AbsDiff]).unwrap(),
    )]) {
        out.push(
            PairClassifier::builder(d, c.clone())
                .seed(2)
                .build()
                .unwrap(),
        );
        out.push(
            PairClassifier::builder(d, c)
                .encoder(EncoderConfig::new(MlpConfig::new([12]).unwrap(), 6).unwrap())
                .mlp_head(MlpConfig::new([16, 8]).unwrap())
                .seed(3)
                .build()
                .unwrap(),
        );
    }
    out.into_iter().map(perturbed).collect()
}

/// Logits of the pairs through the batched pair API.
fn pair_api(
    model: &PairClassifier,
    a: &Array2<f32>,
    b: &Array2<f32>,
    pairs: &[(usize, usize)],
) -> Vec<f32> {
    let d = a.ncols();
    let mut x = Array2::zeros((pairs.len(), d));
    let mut y = Array2::zeros((pairs.len(), d));
    for (r, &(i, j)) in pairs.iter().enumerate() {
        x.row_mut(r).assign(&a.row(i));
        y.row_mut(r).assign(&b.row(j));
    }
    model.predict_logits(x.view(), y.view()).unwrap().to_vec()
}

fn assert_agree(model: &PairClassifier, got: &[f32], want: &[f32]) {
    let fast = model.combiner().linear_decomposition() != LinearDecomposition::None;
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        if fast {
            assert!(
                (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "{}: pair {k}: {g} vs {w}",
                model.combiner()
            );
        } else {
            assert_eq!(g.to_bits(), w.to_bits(), "{}: pair {k}", model.combiner());
        }
    }
}

#[test]
fn all_pairs_scores_equal_the_pair_api_and_cover_each_unordered_pair_once() {
    // 260 items: 33,670 pairs, more than two rounds of 16,384-pair blocks.
    let x = items(260, 9);
    for model in models(9) {
        let mut pairs = Vec::new();
        let mut logits = Vec::new();
        model
            .score_all_pairs(x.view(), |i, j, l| {
                pairs.push((i, j));
                logits.push(l);
            })
            .unwrap();
        let expected_pairs: Vec<(usize, usize)> = (0..260)
            .flat_map(|i| (i + 1..260).map(move |j| (i, j)))
            .collect();
        assert_eq!(pairs, expected_pairs);
        assert_agree(&model, &logits, &pair_api(&model, &x, &x, &pairs));
        if model.is_symmetric() {
            // Reversed item order gives each unordered pair the same bits.
            let rev = x.slice(s![..;-1, ..]).to_owned();
            let mut back = std::collections::HashMap::new();
            model
                .score_all_pairs(rev.view(), |i, j, l| {
                    back.insert((259 - j, 259 - i), l.to_bits());
                })
                .unwrap();
            for (p, l) in pairs.iter().zip(&logits) {
                assert_eq!(back[p], l.to_bits(), "{}: pair {p:?}", model.combiner());
            }
        }
    }
}

#[test]
fn top_k_equals_sorting_the_pair_api_scores() {
    let q = items(7, 9);
    let it = items(300, 9);
    for model in models(9) {
        let top = model.top_k(q.view(), it.view(), 5).unwrap();
        assert_eq!(top.len(), 7);
        for (qi, best) in top.iter().enumerate() {
            let pairs: Vec<(usize, usize)> = (0..300).map(|j| (qi, j)).collect();
            let all = pair_api(&model, &q, &it, &pairs);
            let mut order: Vec<usize> = (0..300).collect();
            order.sort_by(|&a, &b| all[b].total_cmp(&all[a]).then(a.cmp(&b)));
            assert_eq!(best.len(), 5);
            for (rank, &(j, l)) in best.iter().enumerate() {
                // Scores agree; indices agree unless two scores are within rounding.
                let want = all[order[rank]];
                assert!(
                    (l - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "{}",
                    model.combiner()
                );
                assert!((all[j] - l).abs() <= 1e-5 * (1.0 + l.abs()));
            }
        }
    }
}

#[test]
fn scoring_rejects_bad_input_with_typed_errors() {
    let model = &models(4)[0];
    let bad_width = Array2::<f32>::zeros((3, 5));
    assert!(
        model
            .score_all_pairs(bad_width.view(), |_, _, _| {})
            .is_err()
    );
    let empty = Array2::<f32>::zeros((0, 4));
    assert!(model.top_k(empty.view(), items(3, 4).view(), 1).is_err());
    let mut nan = items(3, 4);
    nan[[2, 1]] = f32::NAN;
    match model.top_k(items(2, 4).view(), nan.view(), 1) {
        Err(sympair::Error::NonFinite { row: 2, col: 1, .. }) => {}
        other => panic!("expected NonFinite at (2, 1), got {other:?}"),
    }
    assert!(
        model
            .top_k(items(2, 4).view(), items(3, 4).view(), 0)
            .is_err()
    );
    let data = ClusterTask::new(4, 2).unwrap().generate(2, 1).unwrap();
    assert_eq!(data.len(), 2);
}

#[test]
fn prediction_names_the_first_non_finite_input_for_every_combiner() {
    // Every combiner, including Max (which can hide -inf) and two-view ones.
    for c in Combiner::builtins() {
        let model = PairClassifier::builder(3, c.clone()).build().unwrap();
        for (bad, side) in [
            (f32::NAN, "x"),
            (f32::NEG_INFINITY, "y"),
            (f32::INFINITY, "x"),
        ] {
            let mut x = Array2::<f32>::ones((700, 3));
            let mut y = Array2::<f32>::ones((700, 3));
            let target = if side == "x" { &mut x } else { &mut y };
            target[[613, 2]] = bad;
            target[[650, 0]] = bad;
            match model.predict_logits(x.view(), y.view()) {
                Err(sympair::Error::NonFinite {
                    what,
                    row: 613,
                    col: 2,
                    ..
                }) => {
                    assert_eq!(what, side, "{c}")
                }
                other => panic!("{c}: expected NonFinite at row 613, got {other:?}"),
            }
        }
    }
}
