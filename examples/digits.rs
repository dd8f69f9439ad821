//! Real data: pairs of 8x8 handwritten digits (UCI, 1,797 images; see
//! `examples/data/digits/README.md` for the source and licence). A pair is similar when both
//! images show the same digit.
//!
//! The images are the items of one [`ItemPairs`] dataset; balanced same-digit and
//! different-digit pairs are sampled, then split **by image** with
//! [`ItemPairs::split_by_item`], so every test pair consists of two images no model saw
//! in training. Several combiners are trained on the same split; the example prints test
//! ROC AUC, average precision and accuracy (at probability 0.5) per model and writes the
//! ROC curves of all models to `digits_roc.svg` (or the path given as first argument).
//! Last, it trains the siamese model on as many pairs split *by pair*, whose test images
//! also appear in training pairs, to show how much that flatters the score.
//!
//! Run: `cargo run --release --example digits`

use std::time::Instant;

#[path = "common/digits_data.rs"]
mod digits_data;

use digits_data::{DIGITS_CSV, parse_digits, sample_pairs};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use sympair::metrics::{RocPoint, average_precision, confusion_at, roc_auc, roc_curve};
use sympair::{
    Combiner, Control, EncoderConfig, EpochStats, ItemPairs, MlpConfig, PairClassifier, PairData,
    TrainConfig,
};

/// Same-digit and different-digit partners sampled per image.
const PARTNERS: usize = 20;
/// Fraction of the images that go to training; the rest are the test images.
const TRAIN_IMAGES: f64 = 0.7;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BoxResult<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "digits_roc.svg".to_owned());
    let (images, digits) = parse_digits(DIGITS_CSV)?;
    let pairs = sample_pairs(&digits, PARTNERS, 1);
    let data = ItemPairs::new(images, pairs)?;
    let (train, test, split) = data.split_by_item(TRAIN_IMAGES, 2)?;
    println!(
        "{} images, {} pairs ({} repeats dropped); split by image: train {} images / {} pairs, \
         test {} images / {} pairs, {} cross pairs dropped",
        data.n_items(),
        data.len(),
        data.duplicates_dropped(),
        split.first_items.len(),
        train.len(),
        split.second_items.len(),
        test.len(),
        split.cross_pairs_dropped,
    );

    let config = TrainConfig::new()
        .with_epochs(15)
        .with_batch_size(128)
        .with_seed(3);
    let siamese = EncoderConfig::new(MlpConfig::new([128])?, 32)?;
    let models: Vec<(String, PairClassifier)> = vec![
        ("abs_diff".into(), build(Combiner::AbsDiff, None)?),
        ("product".into(), build(Combiner::Product, None)?),
        ("squared_diff".into(), build(Combiner::SquaredDiff, None)?),
        (
            "concat_swap_average".into(),
            build(Combiner::ConcatSwapAverage, None)?,
        ),
        ("concat (asymmetric)".into(), build(Combiner::Concat, None)?),
        (
            "encoder + abs_diff".into(),
            build(Combiner::AbsDiff, Some(siamese.clone()))?,
        ),
    ];

    println!(
        "\n{:<22} {:>8} {:>8} {:>9} {:>8}",
        "model", "ROC AUC", "AP", "accuracy", "train s"
    );
    let mut curves = Vec::new();
    for (name, mut model) in models {
        let bar = ProgressBar::new(config.epochs() as u64).with_style(
            ProgressStyle::with_template("{prefix:<22} [{bar:30}] {pos}/{len} epochs  {msg}")?
                .progress_chars("=> "),
        );
        bar.set_prefix(name.clone());
        let t0 = Instant::now();
        model.fit_observed(&train, None, &config, &mut |s: &EpochStats| {
            bar.set_position(s.epoch as u64 + 1);
            bar.set_message(format!("train loss {:.4}", s.train_loss));
            Control::Continue
        })?;
        let seconds = t0.elapsed().as_secs_f64();
        bar.finish_and_clear();

        let logits = model.logits_for(&test)?;
        let labels = test.labels();
        let auc = roc_auc(&logits, labels)?;
        let ap = average_precision(&logits, labels)?;
        let accuracy = confusion_at(&logits, labels, 0.0)?.accuracy();
        println!("{name:<22} {auc:>8.4} {ap:>8.4} {accuracy:>9.4} {seconds:>8.1}");
        curves.push((
            format!("{name} (AUC {auc:.3})"),
            roc_curve(&logits, labels)?,
        ));
    }

    // The same siamese model trained on as many pairs, but split by pair: the test images
    // also appear in training pairs, so the score flatters the model.
    let (pair_train, pair_test) = data.split_by_pair(train.len() as f64 / data.len() as f64, 2)?;
    let mut model = build(Combiner::AbsDiff, Some(siamese))?;
    model.fit(&pair_train, None, &config)?;
    let leaky = roc_auc(&model.logits_for(&pair_test)?, pair_test.labels())?;
    println!(
        "\nfor comparison, encoder + abs_diff split by pair instead ({} train pairs, {} test \
         pairs whose images also appear in training): ROC AUC {leaky:.4}",
        pair_train.len(),
        pair_test.len()
    );

    plot_roc(&out, &curves)?;
    println!("\nwrote {out}");
    Ok(())
}

/// A classifier on 64 pixels with the default head (one hidden layer of 64, ReLU).
fn build(combiner: Combiner, encoder: Option<EncoderConfig>) -> BoxResult<PairClassifier> {
    let mut builder = PairClassifier::builder(64, combiner).seed(5);
    if let Some(encoder) = encoder {
        builder = builder.encoder(encoder);
    }
    Ok(builder.build()?)
}

/// Draws every ROC curve on one chart. The SVG backend writes text as `<text>` elements,
/// so no font files are needed.
fn plot_roc(path: &str, curves: &[(String, Vec<RocPoint>)]) -> BoxResult<()> {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    let root = SVGBackend::new(path, (800, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Digit pairs, image-disjoint test split: ROC",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate")
        .x_labels(11)
        .y_labels(11)
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (1.0, 1.0)],
        BLACK.mix(0.3).stroke_width(1),
    ))?;
    for (k, (name, points)) in curves.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        chart
            .draw_series(LineSeries::new(corners(points), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()?;
    Ok(())
}

/// The points of a ROC curve where its direction changes: the middle of a straight
/// horizontal or vertical run adds nothing to the drawing (as scikit-learn's
/// `drop_intermediate`), and dropping it keeps the SVG small.
fn corners(points: &[RocPoint]) -> Vec<(f64, f64)> {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.fpr, p.tpr)).collect();
    let mut out = Vec::with_capacity(xy.len());
    for (k, &p) in xy.iter().enumerate() {
        let interior = k > 0 && k + 1 < xy.len();
        let straight = interior && {
            let (a, b) = (xy[k - 1], xy[k + 1]);
            (a.0 == p.0 && p.0 == b.0) || (a.1 == p.1 && p.1 == b.1)
        };
        if !straight {
            out.push(p);
        }
    }
    out
}
