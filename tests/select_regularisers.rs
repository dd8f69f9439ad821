//! The regularisers of each candidate reach the selection's table.

use ndarray::Array2;
use sympair::select::{Candidate, Regularisers, SearchSpace, SelectConfig, cross_validate};
use sympair::{Combiner, ItemPairs, MlpConfig, TrainConfig};

#[test]
fn table_shows_each_candidates_dropout_noise_and_weight_decay() {
    let n = 30;
    let items = Array2::from_shape_fn((n, 6), |(r, c)| {
        (c % 3 == r % 3) as u8 as f32 + 0.1 * (((r * 7 + c * 13) % 11) as f32 / 11.0)
    });
    let pairs = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j, (i % 3 == j % 3) as u8 as f32)));
    let data = ItemPairs::new(items, pairs).unwrap();
    let reg = TrainConfig::new()
        .with_epochs(2)
        .with_batch_size(32)
        .with_head_dropout(0.25)
        .with_input_dropout(0.125)
        .with_input_noise(0.0625)
        .with_weight_decay(0.5);
    let cand = |label: &str, train: TrainConfig| Candidate {
        label: label.into(),
        combiner: Combiner::AbsDiff,
        encoder: None,
        head: MlpConfig::new(vec![8]).unwrap(),
        train,
    };
    let space = SearchSpace::new(vec![
        cand(
            "plain",
            // Every regulariser off (the default input noise too).
            TrainConfig::new()
                .with_epochs(2)
                .with_batch_size(32)
                .with_input_noise(0.0),
        ),
        cand("regularised", reg.clone()),
    ])
    .unwrap();
    let sel = cross_validate(&data, &space, &SelectConfig::new().with_folds(3), &mut ()).unwrap();
    assert_eq!(sel.table[0].regularisers, Regularisers::default());
    let r = sel.table[1].regularisers;
    assert_eq!(r, Regularisers::of(&reg));
    assert_eq!(
        (
            r.head_dropout,
            r.input_dropout,
            r.input_noise,
            r.weight_decay
        ),
        (0.25, 0.125, 0.0625, 0.5)
    );
    let text = sel.to_string();
    let header = text.lines().next().unwrap();
    for col in ["hd", "ed", "id", "in", "wd", "mean AUC"] {
        assert!(header.contains(col), "{header}");
    }
    let row = text.lines().find(|l| l.contains("regularised")).unwrap();
    for v in ["0.25", "0.125", "0.0625", "0.5"] {
        assert!(row.contains(v), "{row}");
    }
}
