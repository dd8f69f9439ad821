//! Prediction never hands back a non-finite logit, and its errors name the first bad pair.

use ndarray::Array2;
use sympair::{ClusterTask, Combiner, EncoderConfig, Error, PairClassifier, PairDataset};

fn ordinary(n: usize, d: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
    let data = ClusterTask::new(d, 3).unwrap().generate(n, seed).unwrap();
    (data.left().to_owned(), data.right().to_owned())
}

#[test]
fn overflowing_logits_are_a_typed_error_naming_the_first_pair() {
    // Finite inputs near 1e20: x * y overflows f32 in the Product combiner.
    let (mut x, mut y) = ordinary(200, 8, 1);
    for r in 50..200 {
        let s = if r % 2 == 0 { 1.0 } else { -1.0 };
        x.row_mut(r).fill(1e20 * s);
        y.row_mut(r).fill(-1e20);
    }
    let model = PairClassifier::builder(8, Combiner::Product)
        .seed(1)
        .build()
        .unwrap();
    match model.predict_logits(x.view(), y.view()) {
        Err(Error::NonFiniteLogit { row: 50, value }) => assert!(!value.is_finite()),
        other => panic!("expected a non-finite logit at row 50, got {other:?}"),
    }
    assert!(matches!(
        model.predict_proba(x.view(), y.view()),
        Err(Error::NonFiniteLogit { row: 50, .. })
    ));
    let data = PairDataset::new(x.clone(), y.clone(), vec![1.0; 200]).unwrap();
    assert!(matches!(
        model.logits_for(&data),
        Err(Error::NonFiniteLogit { row: 50, .. })
    ));
    // The ordinary rows alone are fine.
    let ok = model
        .predict_logits(
            x.slice(ndarray::s![..50, ..]),
            y.slice(ndarray::s![..50, ..]),
        )
        .unwrap();
    assert!(ok.iter().all(|v| v.is_finite()));
    // All-pairs scoring: two huge items; their pair (1, 2) is the third pair in order.
    let items = ndarray::array![[0.5f32; 8], [1e20; 8], [-1e20; 8]];
    let mut emitted = 0;
    let r = model.score_all_pairs(items.view(), |_, _, _| emitted += 1);
    assert!(
        matches!(r, Err(Error::NonFiniteLogit { row: 2, .. })),
        "{r:?}"
    );
    assert_eq!(
        emitted, 0,
        "nothing is emitted from a block with a bad logit"
    );
}

#[test]
fn every_combiner_overflows_into_an_error_not_a_logit() {
    let (mut x, y) = ordinary(20, 6, 2);
    x.row_mut(7).fill(3e38);
    for c in Combiner::builtins() {
        let model = PairClassifier::builder(6, c.clone())
            .seed(3)
            .build()
            .unwrap();
        match model.predict_logits(x.view(), y.view()) {
            Ok(l) => assert!(l.iter().all(|v| v.is_finite()), "{c}"),
            Err(Error::NonFiniteLogit { row, .. }) => assert_eq!(row, 7, "{c}"),
            Err(e) => panic!("{c}: unexpected error {e}"),
        }
    }
}

#[test]
fn a_non_finite_input_is_reported_at_its_lowest_row_x_before_y() {
    let (x0, y0) = ordinary(1000, 5, 3);
    let plain = PairClassifier::builder(5, Combiner::AbsDiff)
        .seed(1)
        .build()
        .unwrap();
    let encoded = PairClassifier::builder(5, Combiner::Sum)
        .encoder(EncoderConfig::linear(4).unwrap())
        .seed(1)
        .build()
        .unwrap();
    let max = PairClassifier::builder(5, Combiner::Max)
        .seed(1)
        .build()
        .unwrap();
    // (x bad rows, y bad rows, expected what and row): same chunk, other chunks, same row.
    let cases: [(&[usize], &[usize], &str, usize); 5] = [
        (&[100], &[5], "y", 5),
        (&[5], &[100], "x", 5),
        (&[900], &[300], "y", 300),
        (&[40], &[40], "x", 40),
        (&[999], &[], "x", 999),
    ];
    for (xs, ys, what, row) in cases {
        let (mut x, mut y) = (x0.clone(), y0.clone());
        for &r in xs {
            x[[r, 2]] = f32::NAN;
        }
        for &r in ys {
            y[[r, 1]] = f32::INFINITY;
        }
        for model in [&plain, &encoded, &max] {
            match model.predict_logits(x.view(), y.view()) {
                Err(Error::NonFinite {
                    what: w, row: r, ..
                }) => {
                    assert_eq!((w, r), (what, row), "x bad {xs:?}, y bad {ys:?}")
                }
                other => panic!("expected NonFinite in {what} at row {row}, got {other:?}"),
            }
        }
    }
}
