//! Seed ensembles: logits averaged in member order (exactly symmetric), saved and loaded,
//! built by `cross_validate` with `SelectConfig::with_ensemble`.

use ndarray::Array2;
use sympair::select::{Ensemble, SearchSpace, SelectConfig, cross_validate};
use sympair::{Combiner, Error, ItemPairs, PairClassifier, PairData, TrainConfig};

fn clustered(n: usize) -> ItemPairs {
    let items = Array2::from_shape_fn((n, 6), |(r, c)| {
        let centre = if c % 4 == r % 4 { 1.0 } else { 0.0 };
        centre + 0.3 * (((r * 7 + c * 13) % 11) as f32 / 11.0 - 0.5)
    });
    let pairs = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j, (i % 4 == j % 4) as u8 as f32)));
    ItemPairs::new(items, pairs).expect("valid clustered data")
}

fn members(c: Combiner, k: u64) -> Vec<PairClassifier> {
    (0..k)
        .map(|s| {
            PairClassifier::builder(6, c.clone())
                .seed(s)
                .build()
                .unwrap()
        })
        .collect()
}

fn batch() -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((50, 6), |(r, c)| ((r * 3 + c * 5) % 7) as f32 / 3.0 - 1.0);
    let y = Array2::from_shape_fn((50, 6), |(r, c)| ((r * 11 + c) % 9) as f32 / 4.0 - 1.0);
    (x, y)
}

#[test]
fn ensemble_logit_is_the_member_mean_and_exactly_symmetric() {
    let (x, y) = batch();
    for c in [
        Combiner::ConcatSwapAverage,
        Combiner::AbsDiff,
        Combiner::Product,
    ] {
        let ms = members(c.clone(), 3);
        let ens = Ensemble::new(ms.clone()).unwrap();
        let xy = ens.predict_logits(x.view(), y.view()).unwrap();
        let yx = ens.predict_logits(y.view(), x.view()).unwrap();
        let bits = |a: &ndarray::Array1<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&xy), bits(&yx), "{c}");
        for i in 0..50 {
            let mean: f32 = ms
                .iter()
                .map(|m| m.predict_logits(x.view(), y.view()).unwrap()[i])
                .sum::<f32>()
                / 3.0;
            assert!(
                (xy[i] - mean).abs() <= 1e-6 * (1.0 + mean.abs()),
                "{c} row {i}"
            );
        }
        // Not just the first member.
        let first = ms[0].predict_logits(x.view(), y.view()).unwrap();
        assert_ne!(bits(&xy), bits(&first));
    }
}

#[test]
fn ensemble_round_trips_through_json_and_rejects_bad_input() {
    let ens = Ensemble::new(members(Combiner::AbsDiff, 2)).unwrap();
    let bytes = ens.to_json_bytes().unwrap();
    assert_eq!(Ensemble::from_json_bytes(&bytes).unwrap(), ens);
    let dir = std::env::temp_dir().join(format!("sympair-ens-{}.json", std::process::id()));
    ens.save(&dir).unwrap();
    assert_eq!(Ensemble::load(&dir).unwrap(), ens);
    std::fs::remove_file(&dir).ok();
    assert!(matches!(Ensemble::new(vec![]), Err(Error::Empty { .. })));
    let other = PairClassifier::builder(4, Combiner::AbsDiff)
        .build()
        .unwrap();
    let mixed = vec![members(Combiner::AbsDiff, 1).remove(0), other];
    assert!(matches!(
        Ensemble::new(mixed),
        Err(Error::InvalidConfig {
            field: "members",
            ..
        })
    ));
    // A model file is not an ensemble file, and a truncated file is a format error.
    let model = members(Combiner::AbsDiff, 1)
        .remove(0)
        .to_json_bytes()
        .unwrap();
    assert!(matches!(
        Ensemble::from_json_bytes(&model),
        Err(Error::Format(_))
    ));
    assert!(matches!(
        Ensemble::from_json_bytes(&bytes[..bytes.len() / 2]),
        Err(Error::Format(_))
    ));
}

#[test]
fn cross_validate_with_ensemble_refits_k_seeds_the_first_being_the_model() {
    let data = clustered(40);
    let space = SearchSpace::grid(
        &[Combiner::AbsDiff],
        &[vec![8]],
        &[1e-2],
        &[0.0],
        32,
        3,
        &TrainConfig::new(),
    )
    .unwrap();
    let cfg = SelectConfig::new().with_folds(3);
    let single = cross_validate(&data, &space, &cfg, &mut ()).unwrap();
    assert!(single.ensemble.is_none());
    let sel = cross_validate(&data, &space, &cfg.clone().with_ensemble(3), &mut ()).unwrap();
    let ens = sel.ensemble.expect("an ensemble of 3");
    assert_eq!(ens.members().len(), 3);
    assert_eq!(ens.members()[0], sel.model);
    assert_eq!(
        sel.model, single.model,
        "the ensemble leaves the selection alone"
    );
    assert_ne!(
        ens.members()[1],
        ens.members()[0],
        "other seeds, other weights"
    );
    let logits = ens.logits_for(&data).unwrap();
    assert_eq!(logits.len(), data.len());
    assert!(matches!(
        cross_validate(&data, &space, &cfg.with_ensemble(0), &mut ()),
        Err(Error::InvalidConfig {
            field: "ensemble",
            ..
        })
    ));
}
