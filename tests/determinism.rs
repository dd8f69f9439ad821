//! Results do not depend on the number of threads.

mod common;

use common::bits;
use sympair::{
    ClusterTask, Combiner, EncoderConfig, MlpConfig, PairClassifier, TrainConfig, set_num_threads,
};

#[test]
fn weights_and_predictions_are_bitwise_identical_for_one_and_two_threads() {
    let task = ClusterTask::new(12, 4).unwrap();
    let train = task.generate(1500, 1).unwrap();
    let test = task.generate(1200, 2).unwrap();
    let configs = [
        // Batches of 300 pairs are cut into three slices: 2 threads split them 2 + 1.
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
    for combiner in [
        Combiner::AbsDiff,
        Combiner::ConcatSwapAverage,
        Combiner::Concat,
    ] {
        for cfg in &configs {
            let mut runs = Vec::new();
            for threads in [1, 2] {
                set_num_threads(threads);
                let mut m = PairClassifier::builder(12, combiner.clone())
                    .encoder(EncoderConfig::new(MlpConfig::new([16]).unwrap(), 8).unwrap())
                    .seed(3)
                    .build()
                    .unwrap();
                m.fit(&train, Some(&test), cfg).unwrap();
                let logits = m.predict_logits(test.left(), test.right()).unwrap();
                runs.push((bits(&m.parameters()), bits(logits.as_slice().unwrap())));
            }
            set_num_threads(0);
            assert_eq!(runs[0].0, runs[1].0, "{combiner}: weights differ");
            assert_eq!(runs[0].1, runs[1].1, "{combiner}: predictions differ");
        }
    }
}

#[test]
fn absurd_thread_counts_are_capped() {
    set_num_threads(usize::MAX);
    assert_eq!(sympair::num_threads(), sympair::MAX_THREADS);
    set_num_threads(0);
    assert!(sympair::num_threads() >= 1);
}
