//! Scoring id pairs with and without the per-item path of `IdScorer`: 20,000 items,
//! 200,000 random pairs, d = 768, the default MLP head (64 hidden units). "per-item"
//! includes preparing the items (`Precompute::Auto` on a slice of 200,000 pairs). The two
//! paths alternate, best of 3 rounds each; the table also shows the largest difference
//! between the paths and checks symmetry bit for bit on the swapped pairs.
//!
//! ```sh
//! cargo run --release --example precompute
//! cargo run --release --example precompute -- --items 2000 --pairs 20000   # quick
//! ```

use std::time::Instant;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sympair::ids::Precompute;
use sympair::{Combiner, EncoderConfig, IdScorer, PairClassifier};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut n_items, mut n_pairs, d) = (20_000usize, 200_000usize, 768usize);
    while let Some(flag) = args.next() {
        let v: usize = args.next().ok_or("flag needs a value")?.parse()?;
        match flag.as_str() {
            "--items" => n_items = v,
            "--pairs" => n_pairs = v,
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let mut rng = StdRng::seed_from_u64(1);
    let items = Array2::from_shape_simple_fn((n_items, d), || rng.random_range(-1.0f32..1.0));
    let pairs: Vec<(usize, usize)> = (0..n_pairs)
        .map(|_| (rng.random_range(0..n_items), rng.random_range(0..n_items)))
        .collect();
    let swapped: Vec<(usize, usize)> = pairs.iter().map(|&(i, j)| (j, i)).collect();
    println!(
        "{n_items} items, {n_pairs} pairs, d = {d}, {} threads; pairs/s, best of 3, paths alternating",
        rayon::current_num_threads()
    );
    println!(
        "{:<30} {:>12} {:>12} {:>8} {:>10} {:>10}",
        "model", "plain", "per-item", "speedup", "max |diff|", "symmetric"
    );
    let models = [
        ("sum", Combiner::Sum, None),
        ("concat", Combiner::Concat, None),
        ("concat_swap_average", Combiner::ConcatSwapAverage, None),
        ("abs_diff", Combiner::AbsDiff, None),
        ("encoder(64) + abs_diff", Combiner::AbsDiff, Some(64)),
        (
            "encoder(64) + concat_swap_avg",
            Combiner::ConcatSwapAverage,
            Some(64),
        ),
    ];
    for (name, combiner, encoder) in models {
        let mut b = PairClassifier::builder(d, combiner).seed(3);
        if let Some(e) = encoder {
            b = b.encoder(EncoderConfig::linear(e)?);
        }
        let model = b.build()?;
        let plain = IdScorer::new(&model, items.view())?.with_precompute(Precompute::Never)?;
        let auto = IdScorer::new(&model, items.view())?;
        let (mut t_plain, mut t_fast) = (f64::INFINITY, f64::INFINITY);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            let t = Instant::now();
            a = plain.logits(&pairs)?;
            t_plain = t_plain.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            b = auto.logits(&pairs)?;
            t_fast = t_fast.min(t.elapsed().as_secs_f64());
        }
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let symmetric = model.is_symmetric() && auto.logits(&swapped)? == b;
        println!(
            "{:<30} {:>12.0} {:>12.0} {:>7.1}x {:>10.1e} {:>10}",
            name,
            n_pairs as f64 / t_plain,
            n_pairs as f64 / t_fast,
            t_plain / t_fast,
            diff,
            if model.is_symmetric() {
                if symmetric { "bitwise" } else { "NO" }
            } else {
                "n/a"
            }
        );
    }
    Ok(())
}
