//! Candidate search at scale: top-10 partners for every one of N synthetic items, with an
//! AbsDiff MLP model and with an encoder + distance-head model, then entities from the
//! scored pairs. Prints wall time, peak memory, recall@10 of the candidate search against
//! exhaustive scoring on a random sample of queries, and cluster metrics against the true
//! groups.
//!
//! Items: `d = 384`, groups of 11 to 30 near-duplicates (so every item has at least 10
//! true partners): Gaussian groups in a 128-dimensional latent space (noise 0.4 of the
//! centres' spread), mapped to 384 dimensions by a fixed random linear map (see
//! `clustered_items`). The models train on 40,000 labelled pairs of a separate set of
//! 6,000 items drawn the same way.
//!
//! ```sh
//! cargo run --release --example scale                  # N = 1,000,000 (minutes)
//! cargo run --release --example scale -- --n 20000     # quick
//! cargo run --release --example scale -- --curve       # N = 10k, 100k, 1M, one process each
//! cargo run --release --example scale -- --n 100000 --sample 1000 --sample-seed 7
//! ```
//!
//! Flags: `--n N` items; `--sample Q` recall queries (default 1000); `--sample-seed S`
//! (default 99: pass your own so the sample is not the example's); `--k K` (default 10);
//! `--only abs_diff|distance` one model; `--curve` the cost curve; `--threads T`;
//! `--threshold P` the probability at which pairs link items into entities (default 0.5);
//! index settings (defaults: the ones measured at N = 1M): 16-bit index vectors (`--f32`
//! for 32-bit, `--half` for 16-bit), `--expansion ADD,SEARCH` (HNSW beam widths, default
//! 64,120), `--candidates C` (neighbours scored per item, default 60); `--crate-defaults`
//! uses `SearchConfig::new(k)` instead (32-bit, expansion 128 and 64, 30 candidates).

use std::io::{BufWriter, Write};
use std::time::Instant;

use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use sympair::candidates::{CandidateSearch, SearchConfig};
use sympair::cluster::{ClusterMetrics, Clusterer};
use sympair::{
    Combiner, EncoderConfig, HeadConfig, ItemPairs, MlpConfig, Optimizer, PairClassifier,
    TrainConfig,
};

const D: usize = 384;
const NOISE: f32 = 0.4;
const GROUP: (usize, usize) = (11, 30);

struct Args {
    n: usize,
    k: usize,
    sample: usize,
    sample_seed: u64,
    only: Option<String>,
    curve: bool,
    threads: Option<usize>,
    threshold: f32,
    half: bool,
    expansion: Option<(usize, usize)>,
    candidates: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        n: 1_000_000,
        k: 10,
        sample: 1000,
        sample_seed: 99,
        only: None,
        curve: false,
        threads: None,
        threshold: 0.5,
        // The settings measured at N = 1M (README "Scale"); `--crate-defaults` restores
        // `SearchConfig::new(k)`'s.
        half: true,
        expansion: Some((64, 120)),
        candidates: Some(60),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--n" => a.n = value("--n")?.parse().map_err(|e| format!("--n: {e}"))?,
            "--k" => a.k = value("--k")?.parse().map_err(|e| format!("--k: {e}"))?,
            "--sample" => {
                a.sample = value("--sample")?
                    .parse()
                    .map_err(|e| format!("--sample: {e}"))?
            }
            "--sample-seed" => {
                a.sample_seed = value("--sample-seed")?
                    .parse()
                    .map_err(|e| format!("--sample-seed: {e}"))?
            }
            "--threads" => {
                a.threads = Some(
                    value("--threads")?
                        .parse()
                        .map_err(|e| format!("--threads: {e}"))?,
                )
            }
            "--only" => a.only = Some(value("--only")?),
            "--threshold" => {
                a.threshold = value("--threshold")?
                    .parse()
                    .map_err(|e| format!("--threshold: {e}"))?
            }
            "--curve" => a.curve = true,
            "--half" => a.half = true,
            "--f32" => a.half = false,
            "--crate-defaults" => {
                a.half = false;
                a.expansion = None;
                a.candidates = None;
            }
            "--expansion" => {
                let v = value("--expansion")?;
                let (add, search) = v
                    .split_once(',')
                    .ok_or(format!("--expansion wants ADD,SEARCH, got {v}"))?;
                a.expansion = Some((
                    add.parse().map_err(|e| format!("--expansion: {e}"))?,
                    search.parse().map_err(|e| format!("--expansion: {e}"))?,
                ));
            }
            "--candidates" => {
                a.candidates = Some(
                    value("--candidates")?
                        .parse()
                        .map_err(|e| format!("--candidates: {e}"))?,
                )
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.n < GROUP.1 {
        return Err(format!("--n must be at least {}", GROUP.1));
    }
    Ok(a)
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Dimension of the latent space the groups live in.
const LATENT: usize = 128;

/// `n` items in groups of `GROUP.0..=GROUP.1`; returns the items and each item's group.
/// Each item is `z R`: a latent point `z = centre + noise` in `LATENT` dimensions
/// (centres `N(0, 1 / LATENT)`, noise `N(0, NOISE^2 / LATENT)` per coordinate) mapped to
/// `D` dimensions by one fixed random `R` with `N(0, 1 / D)` entries, which keeps squared
/// norms near 1, like normalised sentence embeddings, and gives the data a lower intrinsic
/// dimension than its width, as real embeddings have. Latent rows are generated in
/// parallel chunks, each from its own seed, so the data depend on `seed` only.
fn clustered_items(n: usize, seed: u64) -> (Array2<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut group = Vec::with_capacity(n);
    let mut g = 0;
    while group.len() < n {
        let size = rng.random_range(GROUP.0..=GROUP.1).min(n - group.len());
        group.extend(std::iter::repeat_n(g, size));
        g += 1;
    }
    let centre_seed: u64 = rng.random();
    let mut latent = Array2::<f32>::zeros((n, LATENT));
    const CHUNK: usize = 8192;
    latent
        .axis_chunks_iter_mut(Axis(0), CHUNK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut block)| {
            let mut rng =
                StdRng::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let scale = 1.0 / (LATENT as f32).sqrt();
            let noise = Normal::new(0.0f32, NOISE * scale).expect("valid normal");
            let unit = Normal::new(0.0f32, scale).expect("valid normal");
            let mut centre = vec![0.0f32; LATENT];
            let mut current = usize::MAX;
            for (r, mut row) in block.rows_mut().into_iter().enumerate() {
                let gid = group[c * CHUNK + r];
                if gid != current {
                    // The centre of a group depends on its id only.
                    let mut crng = StdRng::seed_from_u64(
                        centre_seed ^ (gid as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
                    );
                    centre.iter_mut().for_each(|v| *v = unit.sample(&mut crng));
                    current = gid;
                }
                for (o, &m) in row.iter_mut().zip(&centre) {
                    *o = m + noise.sample(&mut rng);
                }
            }
        });
    // The same map for every call, whatever the seed.
    let mut rrng = StdRng::seed_from_u64(0x5CA1E);
    let entry = Normal::new(0.0f32, 1.0 / (D as f32).sqrt()).expect("valid normal");
    let r = Array2::from_shape_simple_fn((LATENT, D), || entry.sample(&mut rrng));
    // Row blocks in parallel: one (CHUNK, LATENT) x (LATENT, D) product each.
    let mut items = Array2::<f32>::zeros((n, D));
    items
        .axis_chunks_iter_mut(Axis(0), CHUNK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut block)| {
            let rows = block.nrows();
            let z = latent.slice(ndarray::s![c * CHUNK..c * CHUNK + rows, ..]);
            ndarray::linalg::general_mat_mul(1.0, &z, &r, 0.0, &mut block);
        });
    (items, group)
}

/// 40,000 labelled pairs (half same-group) over 6,000 fresh items.
fn training_pairs(seed: u64) -> Result<ItemPairs, sympair::Error> {
    let (items, group) = clustered_items(6000, seed);
    let mut rng = StdRng::seed_from_u64(seed + 1);
    let mut pairs = Vec::with_capacity(40_000);
    while pairs.len() < 20_000 {
        let i = rng.random_range(0..group.len());
        let j = rng.random_range(i.saturating_sub(GROUP.1)..(i + GROUP.1).min(group.len()));
        if i != j && group[i] == group[j] {
            pairs.push((i, j, 1.0));
        }
    }
    while pairs.len() < 40_000 {
        let (i, j) = (
            rng.random_range(0..group.len()),
            rng.random_range(0..group.len()),
        );
        if group[i] != group[j] {
            pairs.push((i, j, 0.0));
        }
    }
    ItemPairs::new(items, pairs)
}

fn models() -> Result<Vec<(&'static str, PairClassifier)>, sympair::Error> {
    let data = training_pairs(12_345)?;
    let abs = {
        let mut m = PairClassifier::builder(D, Combiner::AbsDiff)
            .mlp_head(MlpConfig::new([32])?)
            .seed(1)
            .build()?;
        let h = m.fit(&data, None, &TrainConfig::new().with_epochs(3).with_seed(1))?;
        report("abs_diff", &h);
        m
    };
    let dist = {
        let mut m = PairClassifier::builder(D, Combiner::SquaredDiff)
            .encoder(EncoderConfig::linear(128)?)
            .head(HeadConfig::Distance { learn_scale: true })
            .seed(2)
            .build()?;
        let cfg = TrainConfig::new()
            .with_epochs(10)
            .with_seed(2)
            .with_optimizer(Optimizer::adam(1e-2));
        let h = m.fit(&data, None, &cfg)?;
        report("distance", &h);
        m
    };
    Ok(vec![("abs_diff", abs), ("distance", dist)])
}

fn report(name: &str, h: &sympair::History) {
    if let Some(e) = h.epochs.last() {
        println!(
            "{name}: training loss {:.4} after {} epochs",
            e.train_loss,
            e.epoch + 1
        );
    }
}

struct Figures {
    model: &'static str,
    build_s: f64,
    search_s: f64,
    rows: usize,
    recall: f64,
    exact_s: f64,
    metrics: ClusterMetrics,
}

fn run_model(
    name: &'static str,
    model: &PairClassifier,
    items: &Array2<f32>,
    group: &[usize],
    args: &Args,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let n = items.nrows();
    let mut config = SearchConfig::new(args.k)?.with_half_precision(args.half);
    if let Some(c) = args.candidates {
        config = config.with_candidates(c)?;
    }
    if let Some((add, search)) = args.expansion {
        config = config.with_expansion(add, search)?;
    }
    let t = Instant::now();
    let search = CandidateSearch::new(model, items.view(), &config)?;
    let build_s = t.elapsed().as_secs_f64();

    // The recall sample: its own seed, drawn without replacement.
    let q = args.sample.min(n);
    let mut srng = StdRng::seed_from_u64(args.sample_seed);
    let sample_ids: Vec<usize> = sample(&mut srng, n, q).into_vec();
    let mut slot = vec![usize::MAX; n];
    for (s, &i) in sample_ids.iter().enumerate() {
        slot[i] = s;
    }
    let mut found: Vec<Vec<usize>> = vec![Vec::new(); q];

    // Top-k for every item, streamed to a CSV file and into the clusterer.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("top_k.csv");
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    writeln!(out, "i,j,probability")?;
    let mut clusterer = Clusterer::new(n, args.threshold)?;
    let t = Instant::now();
    let (mut rows, mut same, mut linked) = (0, 0, 0);
    search.for_each_top_k(|i, partners| {
        for &(j, p) in partners {
            writeln!(out, "{i},{j},{p}").map_err(|e| sympair::Error::Io {
                path: path.clone(),
                source: e,
            })?;
            clusterer.add(i, j, p)?;
        }
        rows += partners.len();
        same += partners.iter().filter(|p| group[p.0] == group[i]).count();
        linked += partners.iter().filter(|p| p.1 >= 0.5).count();
        if slot[i] != usize::MAX {
            found[slot[i]] = partners.iter().map(|p| p.0).collect();
        }
        Ok(())
    })?;
    out.flush()?;
    let search_s = t.elapsed().as_secs_f64();
    println!(
        "{name}: {:.4} of top-k partners in the item's true group, {:.4} with p >= 0.5",
        same as f64 / rows as f64,
        linked as f64 / rows as f64
    );
    let metrics = ClusterMetrics::compare(clusterer.finish().labels(), group)?;

    // Exhaustive scoring of the sample against every item (itself excluded).
    let t = Instant::now();
    let queries = items.select(Axis(0), &sample_ids);
    let exact = model.top_k(queries.view(), items.view(), args.k + 1)?;
    let exact_s = t.elapsed().as_secs_f64();
    let mut hits = 0usize;
    for ((&qid, truth), got) in sample_ids.iter().zip(&exact).zip(&found) {
        let truth: Vec<usize> = truth
            .iter()
            .map(|p| p.0)
            .filter(|&j| j != qid)
            .take(args.k)
            .collect();
        hits += got.iter().filter(|j| truth.contains(j)).count();
    }
    let recall = hits as f64 / (q * args.k) as f64;
    Ok(Figures {
        model: name,
        build_s,
        search_s,
        rows,
        recall,
        exact_s,
        metrics,
    })
}

fn curve() -> Result<(), Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    // Every flag but `--curve` and `--n` goes to each run unchanged.
    let mut passed = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--curve" => {}
            "--n" => {
                it.next();
            }
            _ => passed.push(flag),
        }
    }
    println!("cost curve: one process per N (peak memory is that process's VmHWM)");
    for n in [10_000usize, 100_000, 1_000_000] {
        let status = std::process::Command::new(&me)
            .args(["--n", &n.to_string()])
            .args(&passed)
            .status()?;
        if !status.success() {
            return Err(format!("run with N = {n} failed: {status}").into());
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    if let Some(t) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()?;
    }
    if args.curve {
        return curve();
    }
    let total = Instant::now();
    let t = Instant::now();
    let models = models()?;
    let train_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (items, group) = clustered_items(args.n, 7);
    println!(
        "N = {}, d = {D}, k = {}, {} groups; data {:.1} s, training both models {:.1} s; {} threads",
        args.n,
        args.k,
        group.last().map_or(0, |g| g + 1),
        t.elapsed().as_secs_f64(),
        train_s,
        rayon::current_num_threads()
    );
    println!(
        "index: {}-bit vectors, expansion {}, {} candidates per item",
        if args.half { 16 } else { 32 },
        args.expansion
            .map_or("128,64 (crate default)".to_owned(), |(a, s)| format!(
                "{a},{s}"
            )),
        args.candidates
            .map_or("30 (crate default)".to_owned(), |c| c.to_string()),
    );
    println!(
        "{:<9} {:>8} {:>9} {:>10} {:>9} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8}",
        "model",
        "index s",
        "top-k s",
        "rows",
        "recall@10",
        "pair P",
        "pair R",
        "B3 P",
        "B3 R",
        "ARI",
        "exact s"
    );
    for (name, model) in &models {
        if args.only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let f = run_model(name, model, &items, &group, &args)?;
        let m = &f.metrics;
        println!(
            "{:<9} {:>8.1} {:>9.1} {:>10} {:>9.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>6.4} {:>8.1}",
            f.model,
            f.build_s,
            f.search_s,
            f.rows,
            f.recall,
            m.pairs.precision(),
            m.pairs.recall(),
            m.bcubed_precision,
            m.bcubed_recall,
            m.adjusted_rand,
            f.exact_s
        );
    }
    println!(
        "N = {}: total wall {:.1} s, peak memory {:.0} MiB (VmHWM)",
        args.n,
        total.elapsed().as_secs_f64(),
        peak_mib()
    );
    Ok(())
}
