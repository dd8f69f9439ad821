//! The per-item path of `IdScorer`: equal to the plain path within 1e-5, symmetric bit for
//! bit, chosen automatically when a call brings at least as many pairs as items.

use ndarray::Array2;
use sympair::ids::Precompute;
use sympair::{
    Combiner, EncoderConfig, Error, IdScorer, ItemPairs, MlpConfig, PairClassifier, Similarity,
    Stack,
};

fn items(n: usize, d: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, d), |(r, c)| ((r * 13 + c * 7) % 23) as f32 / 11.0 - 1.0)
}

/// Every ordered pair of `n` items, self-pairs included, in a scrambled order.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    let mut p: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).collect();
    p.sort_by_key(|&(i, j)| (i * 37 + j * 11) % 101);
    p
}

fn models(d: usize) -> Vec<PairClassifier> {
    let mut out = Vec::new();
    let combiners = [
        Combiner::Sum,
        Combiner::Concat,
        Combiner::ConcatSwapAverage,
        Combiner::AbsDiff,
        Combiner::Product,
        Combiner::Similarity(Similarity::Cosine),
        Combiner::Stack(Stack::new(vec![Combiner::Sum, Combiner::AbsDiff]).unwrap()),
    ];
    for (s, c) in combiners.into_iter().enumerate() {
        for encoder in [false, true] {
            for hidden in [vec![16], vec![8, 4]] {
                let mut b = PairClassifier::builder(d, c.clone()).seed(s as u64 + 1);
                if !matches!(c, Combiner::Similarity(_)) {
                    b = b.mlp_head(MlpConfig::new(hidden).unwrap());
                }
                if encoder {
                    b = b.encoder(EncoderConfig::new(MlpConfig::new([6]).unwrap(), 5).unwrap());
                }
                out.push(b.build().unwrap());
            }
        }
    }
    out
}

#[test]
fn per_item_path_equals_plain_path_within_1e_5_for_every_family() {
    let x = items(30, 7);
    let p = pairs(30);
    for model in models(7) {
        let plain = IdScorer::new(&model, x.view())
            .unwrap()
            .with_precompute(Precompute::Never)
            .unwrap();
        let fast = IdScorer::new(&model, x.view())
            .unwrap()
            .with_precompute(Precompute::Always)
            .unwrap();
        let (a, b) = (plain.logits(&p).unwrap(), fast.logits(&p).unwrap());
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{}: {worst}", model.combiner());
        // Auto takes the per-item path here (900 pairs >= 30 items): same numbers.
        let auto = IdScorer::new(&model, x.view()).unwrap();
        assert_eq!(auto.logits(&p).unwrap(), b, "{}", model.combiner());
    }
}

#[test]
fn per_item_path_is_symmetric_bit_for_bit() {
    let x = items(25, 6);
    let p = pairs(25);
    let swapped: Vec<(usize, usize)> = p.iter().map(|&(i, j)| (j, i)).collect();
    for model in models(6).into_iter().filter(|m| m.is_symmetric()) {
        let fast = IdScorer::new(&model, x.view())
            .unwrap()
            .with_precompute(Precompute::Always)
            .unwrap();
        // Small chunks put a pair and its swap at different rows and pieces.
        let fast = fast.with_chunk_size(37).unwrap();
        assert_eq!(
            fast.logits(&p).unwrap(),
            fast.logits(&swapped).unwrap(),
            "{}",
            model.combiner()
        );
    }
}

#[test]
fn plain_path_is_bitwise_predict_logits_and_auto_keeps_it_for_few_pairs() {
    let x = items(40, 5);
    let model = PairClassifier::builder(5, Combiner::ConcatSwapAverage)
        .seed(2)
        .build()
        .unwrap();
    let few = [(0, 1), (3, 2), (39, 7)];
    let auto = IdScorer::new(&model, x.view())
        .unwrap()
        .logits(&few)
        .unwrap();
    let xs = x.select(ndarray::Axis(0), &[0, 3, 39]);
    let ys = x.select(ndarray::Axis(0), &[1, 2, 7]);
    assert_eq!(
        auto,
        model.predict_logits(xs.view(), ys.view()).unwrap().to_vec()
    );
}

#[test]
fn per_item_path_errors_name_the_row_in_the_stream() {
    let x = items(10, 4);
    let model = PairClassifier::builder(4, Combiner::Sum).build().unwrap();
    let fast = IdScorer::new(&model, x.view())
        .unwrap()
        .with_precompute(Precompute::Always)
        .unwrap()
        .with_chunk_size(4)
        .unwrap();
    let mut p = pairs(10);
    p[13] = (2, 10);
    let err = fast.logits(&p).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ItemOutOfRange {
                row: 13,
                id: 10,
                n_items: 10
            }
        ),
        "{err}"
    );
}

#[test]
fn logits_for_item_pairs_takes_the_per_item_path_within_1e_5() {
    let x = items(20, 6);
    let labelled: Vec<(usize, usize, f32)> = (0..20)
        .flat_map(|i| (i + 1..20).map(move |j| (i, j, ((i + j) % 2) as f32)))
        .collect();
    let data = ItemPairs::new(x.clone(), labelled).unwrap();
    let model = PairClassifier::builder(6, Combiner::ConcatSwapAverage)
        .seed(5)
        .build()
        .unwrap();
    let got = model.logits_for(&data).unwrap();
    let plain = IdScorer::new(&model, x.view())
        .unwrap()
        .with_precompute(Precompute::Never)
        .unwrap();
    let want = plain.logits(data.pairs()).unwrap();
    assert!(
        got.iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() <= 1e-5 * b.abs().max(1.0))
    );
}
