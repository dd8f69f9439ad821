//! Criterion benchmarks: batched inference (4,096 pairs) and one training epoch (4,096
//! pairs in batches of 256, and with the default configuration's batches of 64) for every
//! built-in combiner at d = 384 and 768, hidden width 64, on rayon's global pool.
//!
//! Run: `cargo bench --bench throughput` (filter with e.g. `-- infer/768`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sympair::{ClusterTask, Combiner, PairClassifier, TrainConfig};

const N_INFER: usize = 4096;
const N_TRAIN: usize = 4096;
const BATCH: usize = 256;

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("infer");
    group.throughput(Throughput::Elements(N_INFER as u64));
    for d in [384usize, 768] {
        let data = ClusterTask::new(d, 16)
            .and_then(|t| t.generate(N_INFER, 1))
            .expect("synthetic data");
        for combiner in Combiner::builtins() {
            let model = PairClassifier::builder(d, combiner.clone())
                .seed(1)
                .build()
                .expect("model");
            group.bench_with_input(BenchmarkId::new(combiner.to_string(), d), &d, |b, _| {
                b.iter(|| black_box(model.predict_logits(data.left(), data.right())))
            });
        }
    }
    group.finish();
}

fn training(c: &mut Criterion) {
    epochs(
        c,
        "train_epoch",
        TrainConfig::new().with_epochs(1).with_batch_size(BATCH),
    );
    epochs(c, "train_epoch_default", TrainConfig::new().with_epochs(1));
}

fn epochs(c: &mut Criterion, name: &str, cfg: TrainConfig) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(N_TRAIN as u64));
    for d in [384usize, 768] {
        let data = ClusterTask::new(d, 16)
            .and_then(|t| t.generate(N_TRAIN, 2))
            .expect("synthetic data");
        for combiner in Combiner::builtins() {
            let mut model = PairClassifier::builder(d, combiner.clone())
                .seed(1)
                .build()
                .expect("model");
            group.bench_with_input(BenchmarkId::new(combiner.to_string(), d), &d, |b, _| {
                b.iter(|| black_box(model.fit(&data, None, &cfg)))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = inference, training
}
criterion_main!(benches);
