//! Which training regularisers should be on by default? Measures each one against "all
//! off" (the defaults) for several model families, by item-grouped k-fold
//! cross-validation on two real data sets, using only their training pairs.
//!
//! * packages: the training pairs of the item-disjoint split of
//!   `python/examples/data/packages` (384-d unit-length text embeddings). The test pairs
//!   are never read: defaults are decided without them.
//! * digits: the training images of `examples/digits.rs`'s image-disjoint split (same
//!   pair sampling and split seeds; 64 pixels scaled to [0, 1]).
//!
//! Families: the default MLP head (one hidden layer of 64) on `abs_diff`, `product`,
//! `squared_diff`, `sum` and `concat_swap_average`; a shared MLP encoder + `abs_diff`
//! (packages: `[256] -> 128` as in the default search space; digits: `[128] -> 32` as in
//! the digits example); and the encoder + `squared_diff` + learned-scale distance head.
//! Every fit uses `TrainConfig::new()` (20 epochs, batch 64, Adam 1e-3, no early
//! stopping, seed 0; model seed 0) with every regulariser off ("off": input noise 0 too,
//! although this measurement made input noise 0.2 the default) and then one setting changed
//! ("noise" is 0.2, the default: noise of 0.2 times the spread of the training inputs,
//! `TrainConfig::with_input_noise`). A setting that cannot act on a family (head dropout
//! on the distance head, encoder dropout without an encoder) is not run and shows as `-`.
//!
//! The score is the mean over folds of the validation ROC AUC of the weights a default
//! run ends with (after the last epoch); the second table per data set scores the best
//! epoch instead (the mean fold AUC maximised over epochs, as `select::cross_validate`
//! does). The delta tables show `setting - off` and, in brackets, on how many folds the
//! setting beat off (same folds, same seeds: a paired comparison).
//!
//! Run: `cargo run --release --example regularisers` (5 folds, 11 settings), or with
//! `--quick` (3 folds, 5 settings). Optionally `--only packages` or `--only digits`, and
//! `--settings noise,noise0.4` to run only the named settings (and off; the extra noise
//! strengths `noise0.1`, `noise0.4` and `noise0.8` run only when named). The full run took 20 minutes on 2 shared cores, `--quick` 5.

use std::time::Instant;

#[path = "common/digits_data.rs"]
mod digits_data;

use digits_data::{DIGITS_CSV, parse_digits, sample_pairs};
use rayon::prelude::*;
use sympair::io::PairsCsv;
use sympair::{
    Combiner, Control, EncoderConfig, EpochStats, HeadConfig, ItemPairs, LrSchedule, MlpConfig,
    PairClassifier, PairData, TrainConfig,
};

type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const PACKAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/examples/data/packages");
/// The input noise setting, relative to the spread of the training inputs: the default
/// (0.2 is about 0.0094 on packages, whose spread is 0.047, and 0.054 on digits, 0.27).
const NOISE: f32 = 0.2;

/// One model family: how to build a fresh model.
#[derive(Clone)]
struct Family {
    name: &'static str,
    combiner: Combiner,
    encoder: Option<EncoderConfig>,
    head: HeadConfig,
}

impl Family {
    fn build(&self, d: usize) -> sympair::Result<PairClassifier> {
        let mut b = PairClassifier::builder(d, self.combiner.clone())
            .head(self.head.clone())
            .seed(0);
        if let Some(e) = &self.encoder {
            b = b.encoder(e.clone());
        }
        b.build()
    }
    fn has_mlp_head(&self) -> bool {
        matches!(self.head, HeadConfig::Mlp(_))
    }
}

/// The default training configuration with every regulariser off (what the defaults
/// were before this measurement).
fn all_off() -> TrainConfig {
    TrainConfig::new().with_input_noise(0.0)
}

/// One regulariser setting: a change to [`all_off`].
struct Setting {
    name: &'static str,
    apply: fn(TrainConfig) -> TrainConfig,
    /// Whether the setting can act on the family.
    applies: fn(&Family) -> bool,
}

fn always(_: &Family) -> bool {
    true
}
fn mlp_head(f: &Family) -> bool {
    f.has_mlp_head()
}
fn encoder(f: &Family) -> bool {
    f.encoder.is_some()
}

fn settings(quick: bool, only: Option<&[&str]>) -> Vec<Setting> {
    let all = vec![
        Setting {
            name: "off",
            apply: |c| c,
            applies: always,
        },
        Setting {
            name: "hd0.1",
            apply: |c| c.with_head_dropout(0.1),
            applies: mlp_head,
        },
        Setting {
            name: "hd0.2",
            apply: |c| c.with_head_dropout(0.2),
            applies: mlp_head,
        },
        Setting {
            name: "hd0.3",
            apply: |c| c.with_head_dropout(0.3),
            applies: mlp_head,
        },
        Setting {
            name: "id0.1",
            apply: |c| c.with_input_dropout(0.1),
            applies: always,
        },
        Setting {
            name: "noise",
            apply: |c| c.with_input_noise(NOISE),
            applies: always,
        },
        Setting {
            name: "hd.3+id.1",
            apply: |c| c.with_head_dropout(0.3).with_input_dropout(0.1),
            applies: mlp_head,
        },
        Setting {
            name: "cosine",
            apply: |c| c.with_lr_schedule(LrSchedule::cosine(1, 0.0)),
            applies: always,
        },
        Setting {
            name: "clip1",
            apply: |c| c.with_grad_clip(1.0),
            applies: always,
        },
        Setting {
            name: "ed0.1",
            apply: |c| c.with_encoder_dropout(0.1),
            applies: encoder,
        },
        Setting {
            name: "ed0.2",
            apply: |c| c.with_encoder_dropout(0.2),
            applies: encoder,
        },
    ];
    match (only, quick) {
        (Some(names), _) => {
            // Extra strengths of the input noise, run only when named (scale check).
            let extra = [
                Setting {
                    name: "noise0.1",
                    apply: |c| c.with_input_noise(0.1),
                    applies: always,
                },
                Setting {
                    name: "noise0.4",
                    apply: |c| c.with_input_noise(0.4),
                    applies: always,
                },
                Setting {
                    name: "noise0.8",
                    apply: |c| c.with_input_noise(0.8),
                    applies: always,
                },
            ];
            all.into_iter()
                .chain(extra)
                .filter(|s| s.name == "off" || names.contains(&s.name))
                .collect()
        }
        (None, true) => {
            let keep = ["off", "hd0.3", "hd.3+id.1", "cosine", "clip1"];
            all.into_iter().filter(|s| keep.contains(&s.name)).collect()
        }
        (None, false) => all,
    }
}

fn families(encoder: EncoderConfig) -> Vec<Family> {
    let mlp = |name, combiner| Family {
        name,
        combiner,
        encoder: None,
        head: HeadConfig::default(),
    };
    vec![
        mlp("abs_diff", Combiner::AbsDiff),
        mlp("product", Combiner::Product),
        mlp("squared_diff", Combiner::SquaredDiff),
        mlp("sum", Combiner::Sum),
        mlp("concat_swap_average", Combiner::ConcatSwapAverage),
        Family {
            encoder: Some(encoder.clone()),
            ..mlp("encoder + abs_diff", Combiner::AbsDiff)
        },
        Family {
            name: "encoder + distance head",
            combiner: Combiner::SquaredDiff,
            encoder: Some(encoder),
            head: HeadConfig::Distance { learn_scale: true },
        },
    ]
}

/// Per-fold validation AUC curves (one value per epoch) of one family x setting.
type Curves = Vec<Vec<f64>>;
/// A fit to run: (setting index, fold index).
type Job = (usize, usize);
/// A fit's validation AUC curve and seconds.
type Fit = (Vec<f64>, f64);

fn fit_fold(
    family: &Family,
    setting: &Setting,
    fold: &sympair::ItemFold,
    d: usize,
) -> BoxResult<Fit> {
    let mut model = family.build(d)?;
    let t0 = Instant::now();
    let config = (setting.apply)(all_off());
    let mut curve = Vec::with_capacity(config.epochs());
    model.fit_observed(
        &fold.train,
        Some(&fold.valid),
        &config,
        &mut |s: &EpochStats| {
            curve.push(s.valid_auc.unwrap_or(f64::NAN));
            Control::Continue
        },
    )?;
    Ok((curve, t0.elapsed().as_secs_f64()))
}

/// Mean over folds at the last epoch, and at the epoch maximising the mean.
fn scores(curves: &Curves) -> (f64, f64, Vec<f64>, Vec<f64>) {
    let n = curves.len() as f64;
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let mean_at = |e: usize| curves.iter().map(|c| c[e]).sum::<f64>() / n;
    let last: Vec<f64> = curves.iter().map(|c| c[len - 1]).collect();
    let e_best = (0..len).fold(0, |b, e| if mean_at(e) > mean_at(b) { e } else { b });
    let best: Vec<f64> = curves.iter().map(|c| c[e_best]).collect();
    (mean_at(len - 1), mean_at(e_best), last, best)
}

fn run(
    data_name: &str,
    data: &ItemPairs,
    folds: usize,
    encoder: EncoderConfig,
    quick: bool,
    only: Option<&[&str]>,
) -> BoxResult<()> {
    let t0 = Instant::now();
    let d = data.dim();
    let folds = data.item_folds(folds, 0)?;
    let settings = settings(quick, only);
    let families = families(encoder);
    println!(
        "\n=== {data_name}: {} items (d = {d}), {} training pairs, {} item-grouped folds \
         (train pairs per fold {:?}, valid pairs per fold {:?}) ===",
        data.n_items(),
        data.len(),
        folds.len(),
        folds.iter().map(|f| f.train.len()).collect::<Vec<_>>(),
        folds.iter().map(|f| f.valid.len()).collect::<Vec<_>>(),
    );
    // results[family][setting]: fold curves, or None when the setting cannot act.
    let mut results: Vec<Vec<Option<Curves>>> = Vec::new();
    for family in &families {
        let tf = Instant::now();
        let jobs: Vec<(usize, usize)> = settings
            .iter()
            .enumerate()
            .filter(|(_, s)| (s.applies)(family))
            .flat_map(|(si, _)| (0..folds.len()).map(move |fi| (si, fi)))
            .collect();
        // Fits are independent and each bitwise deterministic: run them side by side.
        let curves: Vec<(Job, Fit)> = jobs
            .par_iter()
            .map(|&(si, fi)| Ok(((si, fi), fit_fold(family, &settings[si], &folds[fi], d)?)))
            .collect::<BoxResult<_>>()?;
        let mut row: Vec<Option<Curves>> = settings
            .iter()
            .map(|s| (s.applies)(family).then(|| vec![Vec::new(); folds.len()]))
            .collect();
        let mut secs = vec![0.0; settings.len()];
        for ((si, fi), (c, t)) in curves {
            row[si].as_mut().expect("job of an applicable setting")[fi] = c;
            secs[si] += t / folds.len() as f64;
        }
        // Mean seconds per fit of each setting (two fits share the machine at a time).
        let secs: Vec<String> = settings
            .iter()
            .zip(&secs)
            .filter(|(s, _)| (s.applies)(family))
            .map(|(s, t)| format!("{} {t:.1}", s.name))
            .collect();
        eprintln!(
            "  {data_name}: {} done ({} fits, {:.0} s; total {:.0} s; s per fit: {})",
            family.name,
            jobs.len(),
            tf.elapsed().as_secs_f64(),
            t0.elapsed().as_secs_f64(),
            secs.join(", ")
        );
        results.push(row);
    }
    for (title, pick_best) in [
        (
            "mean fold ROC AUC after the last epoch (what a default run returns)",
            false,
        ),
        (
            "mean fold ROC AUC at the best epoch (as select::cross_validate scores)",
            true,
        ),
    ] {
        print_tables(data_name, title, pick_best, &families, &settings, &results);
    }
    println!(
        "\n{data_name}: {:.0} s wall clock",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn print_tables(
    data_name: &str,
    title: &str,
    pick_best: bool,
    families: &[Family],
    settings: &[Setting],
    results: &[Vec<Option<Curves>>],
) {
    let pick = |c: &Curves| {
        let (last, best, last_f, best_f) = scores(c);
        if pick_best {
            (best, best_f)
        } else {
            (last, last_f)
        }
    };
    println!("\n{data_name}, {title}:");
    print!("{:<26}", "family");
    for s in settings {
        print!("{:>11}", s.name);
    }
    println!("{:>11} {:>9}", "best", "off std");
    for (family, row) in families.iter().zip(results) {
        print!("{:<26}", family.name);
        let mut best: Option<(f64, &str)> = None;
        for (s, r) in settings.iter().zip(row) {
            match r {
                Some(c) => {
                    let (m, _) = pick(c);
                    print!("{m:>11.4}");
                    if best.is_none_or(|(b, _)| m > b) {
                        best = Some((m, s.name));
                    }
                }
                None => print!("{:>11}", "-"),
            }
        }
        let off_std = row[0].as_ref().map_or(f64::NAN, |c| {
            let (m, f) = pick(c);
            (f.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / f.len() as f64).sqrt()
        });
        println!("{:>11} {off_std:>9.4}", best.map_or("-", |(_, name)| name));
    }
    let n_folds = results[0][0].as_ref().map_or(0, Vec::len);
    println!("\n{data_name}, delta vs off (folds won out of {n_folds}), {title}:");
    print!("{:<26}", "family");
    for s in &settings[1..] {
        print!("{:>14}", s.name);
    }
    println!();
    for (family, row) in families.iter().zip(results) {
        print!("{:<26}", family.name);
        let (off_mean, off_folds) = pick(row[0].as_ref().expect("off always applies"));
        for r in &row[1..] {
            match r {
                Some(c) => {
                    let (m, f) = pick(c);
                    let wins = f.iter().zip(&off_folds).filter(|(a, b)| a > b).count();
                    print!("{:>14}", format!("{:+.4} ({wins})", m - off_mean));
                }
                None => print!("{:>14}", "-"),
            }
        }
        println!();
    }
}

fn main() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|k| args.get(k + 1).cloned())
    };
    let only = flag("--only");
    let names = flag("--settings");
    let names: Option<Vec<&str>> = names.as_deref().map(|n| n.split(',').collect());
    let names = names.as_deref();
    let folds = if quick { 3 } else { 5 };
    let t0 = Instant::now();
    println!(
        "regularisers vs the defaults: {folds} item-grouped folds, {} settings, {} threads{}",
        settings(quick, names).len(),
        rayon::current_num_threads(),
        if quick { " (quick)" } else { "" }
    );
    if only.as_deref().is_none_or(|o| o == "packages") {
        // Training pairs of the item-disjoint split only; the test pairs are never read.
        let train = ItemPairs::from_files_with(
            format!("{PACKAGES}/items.npy"),
            format!("{PACKAGES}/pairs.csv"),
            &PairsCsv::new().with_filter("split_items", "train")?,
        )?;
        let enc = EncoderConfig::new(MlpConfig::new([256])?, 128)?;
        run("packages", &train, folds, enc, quick, names)?;
    }
    if only.as_deref().is_none_or(|o| o == "digits") {
        let (images, digits) = parse_digits(DIGITS_CSV)?;
        let data = ItemPairs::new(images, sample_pairs(&digits, 20, 1))?;
        // The digits example's split (train fraction 0.7, seed 2); its test images are
        // not used here.
        let (train, _test, _) = data.split_by_item(0.7, 2)?;
        let enc = EncoderConfig::new(MlpConfig::new([128])?, 32)?;
        run("digits", &train, folds, enc, quick, names)?;
    }
    println!("\ntotal {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}
