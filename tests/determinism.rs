//! Results do not depend on the number of threads: sympair runs on the rayon pool it is
//! called from, and pools of one and two threads give the same bits.

mod common;

use common::bits;
use sympair::{ClusterTask, Combiner, EncoderConfig, MlpConfig, PairClassifier, TrainConfig};

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
}

#[test]
fn weights_and_predictions_are_bitwise_identical_on_pools_of_one_and_two_threads() {
    let task = ClusterTask::new(12, 4).unwrap();
    let train = task.generate(1500, 1).unwrap();
    let test = task.generate(1200, 2).unwrap();
    let configs = [
        // The default batch of 64 pairs: two slices of 32, one per thread.
        TrainConfig::new().with_epochs(2).with_seed(4),
        // Batches of 300 pairs: ten slices, the last one short.
        TrainConfig::new()
            .with_epochs(2)
            .with_batch_size(300)
            .with_seed(4),
        TrainConfig::new()
            .with_epochs(2)
            .with_batch_size(300)
            .with_consistency(0.5)
            .with_seed(4),
    ];
    let pools = [pool(1), pool(2)];
    for combiner in [
        Combiner::AbsDiff,
        Combiner::ConcatSwapAverage,
        Combiner::Concat,
    ] {
        for cfg in &configs {
            let runs: Vec<_> = pools
                .iter()
                .map(|p| {
                    p.install(|| {
                        let mut m = PairClassifier::builder(12, combiner.clone())
                            .encoder(EncoderConfig::new(MlpConfig::new([16]).unwrap(), 8).unwrap())
                            .seed(3)
                            .build()
                            .unwrap();
                        let history = m.fit(&train, Some(&test), cfg).unwrap();
                        // Every reported metric, the per-epoch training AUC included (its
                        // forward passes are spread over the pool too).
                        let metrics: Vec<_> = history
                            .epochs
                            .iter()
                            .map(|e| {
                                (
                                    e.train_loss.to_bits(),
                                    e.train_auc.map(f64::to_bits),
                                    e.valid_loss.map(f64::to_bits),
                                    e.valid_auc.map(f64::to_bits),
                                    e.valid_ap.map(f64::to_bits),
                                )
                            })
                            .collect();
                        let logits = m.predict_logits(test.left(), test.right()).unwrap();
                        let (_, grad) = m.loss_gradient(&test).unwrap();
                        (
                            bits(&m.parameters()),
                            bits(logits.as_slice().unwrap()),
                            bits(&grad),
                            metrics,
                        )
                    })
                })
                .collect();
            assert_eq!(runs[0].0, runs[1].0, "{combiner}: weights differ");
            assert_eq!(runs[0].1, runs[1].1, "{combiner}: predictions differ");
            assert_eq!(runs[0].2, runs[1].2, "{combiner}: gradients differ");
            assert_eq!(runs[0].3, runs[1].3, "{combiner}: reported metrics differ");
        }
    }
}

#[test]
fn all_pairs_scores_are_bitwise_identical_on_pools_of_one_and_two_threads() {
    let items = ClusterTask::new(6, 3)
        .unwrap()
        .generate(300, 7)
        .unwrap()
        .left()
        .to_owned();
    for combiner in [
        Combiner::Sum,
        Combiner::AbsDiff,
        Combiner::ConcatSwapAverage,
    ] {
        let model = PairClassifier::builder(6, combiner.clone())
            .seed(2)
            .build()
            .unwrap();
        let runs: Vec<Vec<u32>> = [pool(1), pool(2)]
            .iter()
            .map(|p| {
                p.install(|| {
                    let mut out = Vec::new();
                    model
                        .score_all_pairs(items.view(), |_, _, l| out.push(l.to_bits()))
                        .unwrap();
                    out
                })
            })
            .collect();
        assert_eq!(runs[0], runs[1], "{combiner}");
    }
}
