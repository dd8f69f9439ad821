//! Roofline check: how close sympair's batched inference and training get to a plain
//! ndarray matrix product of the head's first-layer shape, measured in one process.
//!
//! Run: `cargo run --release --example throughput`
//!
//! For each combiner at `d` in {384, 768}, hidden width 64:
//! * roof: `A (4096, w) . W (w, 64)` with ndarray (single-threaded matrixmultiply), where `w`
//!   is the combiner's output width; its rate in GFLOP/s is the roof;
//! * inference: `predict_logits` on 4096 pairs; FLOPs counted = the head's matrix products
//!   (`views * 2 n (w h + h)`);
//! * training: one epoch of 4096 pairs in batches of 256; FLOPs counted = forward plus
//!   backward matrix products (`views * 2 n (w h + h)` forward, twice that backward, less
//!   the input gradient the model never needs: `views * 2 n (2 w h + 3 h)` in all).
//!
//! Ratios are model GFLOP/s over roof GFLOP/s at one thread; the last columns give the
//! speed-up of inference and training from 1 to 2 threads.

use std::time::Instant;

use ndarray::Array2;
use sympair::{
    ClusterTask, Combiner, PairClassifier, PairCombiner, PairData, TrainConfig, set_num_threads,
};

const H: usize = 64;
const N_INFER: usize = 4096;
const N_TRAIN: usize = 4096;
const BATCH: usize = 256;

/// Best wall time of `reps` runs of `f`, in seconds.
fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reps = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    println!(
        "{:>4} {:<20} {:>9} {:>12} {:>7} {:>12} {:>7} {:>9} {:>9}",
        "d",
        "combiner",
        "roof GF/s",
        "infer pair/s",
        "infer%",
        "train pair/s",
        "train%",
        "infer 2T",
        "train 2T"
    );
    for d in [384usize, 768] {
        let task = ClusterTask::new(d, 16)?;
        let infer = task.generate(N_INFER, 1)?;
        let train = task.generate(N_TRAIN, 2)?;
        for combiner in [
            Combiner::AbsDiff,
            Combiner::ConcatSwapAverage,
            Combiner::Sum,
            Combiner::Product,
            Combiner::Max,
            Combiner::SquaredDiff,
            Combiner::Concat,
        ] {
            let w = combiner.output_dim(d);
            let views = combiner.n_views() as f64;
            let a = Array2::<f32>::from_shape_fn((N_INFER, w), |(i, j)| {
                ((i * 7 + j * 3) % 13) as f32 * 0.1
            });
            let wm =
                Array2::<f32>::from_shape_fn((w, H), |(i, j)| ((i + j * 5) % 11) as f32 * 0.01);
            let roof_s = best_of(reps, || {
                std::hint::black_box(a.dot(&wm));
            });
            let roof = 2.0 * (N_INFER * w * H) as f64 / roof_s / 1e9;

            let mut model = PairClassifier::builder(d, combiner.clone())
                .seed(1)
                .build()?;
            let mut infer_s = [0.0f64; 2];
            let mut train_s = [0.0f64; 2];
            for (t, threads) in [1usize, 2].into_iter().enumerate() {
                set_num_threads(threads);
                infer_s[t] = best_of(reps, || {
                    std::hint::black_box(model.predict_logits(infer.left(), infer.right()).ok());
                });
                let cfg = TrainConfig::new().with_epochs(1).with_batch_size(BATCH);
                train_s[t] = best_of(reps.min(3), || {
                    std::hint::black_box(model.fit(&train, None, &cfg).ok());
                });
            }
            set_num_threads(0);
            let infer_flops = views * 2.0 * (N_INFER * (w * H + H)) as f64;
            let train_flops = views * 2.0 * (train.len() * (2 * w * H + 3 * H)) as f64;
            let infer_gf = infer_flops / infer_s[0] / 1e9;
            let train_gf = train_flops / train_s[0] / 1e9;
            println!(
                "{:>4} {:<20} {:>9.1} {:>12.0} {:>6.0}% {:>12.0} {:>6.0}% {:>8.2}x {:>8.2}x",
                d,
                combiner.to_string(),
                roof,
                N_INFER as f64 / infer_s[0],
                100.0 * infer_gf / roof,
                N_TRAIN as f64 / train_s[0],
                100.0 * train_gf / roof,
                infer_s[0] / infer_s[1],
                train_s[0] / train_s[1],
            );
        }
    }
    Ok(())
}
