//! Bad input through every public entry point that takes user data: random shapes (empty,
//! zero-width, mismatched), NaN and infinities at random positions, labels that are not
//! 0 or 1, out-of-range ids, bad settings, and truncated, mutated, wrong-version and
//! wrong-format files. Each call must return the documented, typed error (the variant,
//! and for `NonFinite`, `InvalidLabel` and `ItemOutOfRange` the row and column that was
//! corrupted) and none may panic.
//!
//! The expected error is computed independently of the library, from the order of checks
//! each function documents, and compared with [`Kind`], a comparable summary of an
//! [`Error`]. Every property runs 256 cases.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::LazyLock;

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use proptest::prelude::*;
use proptest::test_runner::Config;
use sympair::io::{PairRow, parse_pairs_csv, read_pairs_csv, write_predictions_csv};
use sympair::metrics::{
    Confusion, ThresholdCriterion, average_precision, best_threshold, confusion_at,
    log_loss_from_logits, roc_auc, roc_curve,
};
use sympair::{
    ClusterTask, Combiner, Control, EncoderConfig, EpochStats, Error, FORMAT_VERSION, HeadConfig,
    ItemPairs, MlpConfig, Optimizer, PairClassifier, PairCombiner, PairData, PairDataset,
    Similarity, Stack, TrainConfig, asymmetry, evaluate,
};

// ---------------------------------------------------------------------------------------
// Comparing errors
// ---------------------------------------------------------------------------------------

/// What an error says, in a form that can be compared with `==`.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Empty(&'static str),
    Rows(&'static str, usize, usize),
    Width(&'static str, usize, usize),
    NonFinite(&'static str, usize, usize),
    Label(usize),
    Config(&'static str),
    Range(usize, usize, usize),
    Conflict(usize, usize, usize, usize),
    Undefined(&'static str),
    Unsupported,
    Parse(usize),
    Format,
    Version(u64),
    Io,
    Diverged,
    Other(String),
}

fn kind(e: &Error) -> Kind {
    match e {
        Error::Empty { what } => Kind::Empty(what),
        Error::RowMismatch {
            what,
            expected,
            found,
        } => Kind::Rows(what, *expected, *found),
        Error::WidthMismatch {
            what,
            expected,
            found,
        } => Kind::Width(what, *expected, *found),
        Error::NonFinite { what, row, col, .. } => Kind::NonFinite(what, *row, *col),
        Error::InvalidLabel { row, .. } => Kind::Label(*row),
        Error::InvalidConfig { field, .. } => Kind::Config(field),
        Error::ItemOutOfRange { row, id, n_items } => Kind::Range(*row, *id, *n_items),
        Error::ConflictingLabels {
            i,
            j,
            first_row,
            second_row,
            ..
        } => Kind::Conflict(*i, *j, *first_row, *second_row),
        Error::Undefined { metric, .. } => Kind::Undefined(metric),
        Error::Unsupported(_) => Kind::Unsupported,
        Error::Parse { line, .. } => Kind::Parse(*line),
        Error::Format(_) => Kind::Format,
        Error::Version { found, .. } => Kind::Version(*found),
        Error::Io { .. } => Kind::Io,
        Error::Diverged { .. } => Kind::Diverged,
        other => Kind::Other(other.to_string()),
    }
}

/// `Ok(())` or the [`Kind`] of the error.
fn outcome<T>(r: &Result<T, Error>) -> Result<(), Kind> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(kind(e)),
    }
}

/// The value a `NonFinite` or `InvalidLabel` error reports, as bits (NaN payloads aside).
fn reported_value(e: &Error) -> Option<f64> {
    match e {
        Error::NonFinite { value, .. } => Some(f64::from(*value)),
        Error::InvalidLabel { value, .. } => Some(*value),
        _ => None,
    }
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

// ---------------------------------------------------------------------------------------
// Strategies and fixtures
// ---------------------------------------------------------------------------------------

fn cfg() -> Config {
    Config::with_cases(256)
}

/// NaN (both signs) and the two infinities.
fn non_finite() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(-f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(f32::from_bits(0x7f80_0001)), // a signalling NaN
    ]
}

/// Labels that are not exactly 0 or 1.
fn bad_label() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.5f32),
        Just(-1.0),
        Just(2.0),
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(1.0 + f32::EPSILON),
        Just(f32::from_bits(1)), // smallest subnormal, "almost 0"
        any::<f32>().prop_filter("not 0 or 1", |t| *t != 0.0 && *t != 1.0),
    ]
}

/// A size that is usually `n` and sometimes anything in `0..=n + 2`.
fn near(n: usize) -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(n), 1 => 0..=n + 2]
}

/// A shift applied to a correct dimension: usually 0.
fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![6 => Just(0i64), 1 => -2i64..=2]
}

fn shifted(n: usize, by: i64) -> usize {
    (n as i64 + by).max(0) as usize
}

/// A finite matrix with varied values.
fn filled(n: usize, d: usize, salt: f32) -> Array2<f32> {
    Array2::from_shape_fn((n, d), |(r, c)| {
        ((r * 7 + c * 3) as f32 * 0.37 + salt).sin() * 2.0
    })
}

/// The same values in column-major (Fortran) layout.
fn fortran(m: &Array2<f32>) -> Array2<f32> {
    let mut f = Array2::zeros(m.dim().f());
    f.assign(m);
    f
}

fn labels(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 2) as f32).collect()
}

const D: usize = 3;

/// Every built-in combiner, each similarity, and two stacks.
fn all_combiners() -> Vec<Combiner> {
    let mut v: Vec<Combiner> = Combiner::builtins().into();
    v.extend(
        [
            Similarity::Cosine,
            Similarity::Dot,
            Similarity::NegL1,
            Similarity::NegSquaredL2,
        ]
        .map(Combiner::Similarity),
    );
    v.push(Combiner::Stack(
        Stack::new(vec![
            Combiner::Sum,
            Combiner::AbsDiff,
            Combiner::Similarity(Similarity::Cosine),
        ])
        .unwrap(),
    ));
    v.push(Combiner::Stack(
        Stack::new(vec![Combiner::Concat, Combiner::Max]).unwrap(),
    ));
    v
}

/// Small classifiers of width [`D`]: every combiner with an MLP head, encoders in front of
/// a propagating and a non-propagating combiner, and both distance heads.
static ZOO: LazyLock<Vec<PairClassifier>> = LazyLock::new(|| {
    let head = MlpConfig::new([4]).unwrap();
    let mut models: Vec<PairClassifier> = all_combiners()
        .into_iter()
        .map(|c| {
            PairClassifier::builder(D, c)
                .mlp_head(head.clone())
                .seed(1)
                .build()
                .unwrap()
        })
        .collect();
    for c in [
        Combiner::AbsDiff,
        Combiner::Max,
        Combiner::ConcatSwapAverage,
    ] {
        models.push(
            PairClassifier::builder(D, c)
                .encoder(EncoderConfig::new(MlpConfig::new([3]).unwrap(), 2).unwrap())
                .mlp_head(head.clone())
                .seed(2)
                .build()
                .unwrap(),
        );
    }
    models.push(
        PairClassifier::builder(D, Combiner::SquaredDiff)
            .encoder(EncoderConfig::linear(2).unwrap())
            .head(HeadConfig::Distance { learn_scale: true })
            .build()
            .unwrap(),
    );
    models.push(
        PairClassifier::builder(D, Combiner::AbsDiff)
            .head(HeadConfig::Distance { learn_scale: false })
            .build()
            .unwrap(),
    );
    models
});

/// The saved bytes of every model of [`ZOO`].
static ZOO_BYTES: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| ZOO.iter().map(|m| m.to_json_bytes().unwrap()).collect());

fn zoo_index() -> impl Strategy<Value = usize> {
    0..ZOO.len()
}

/// A valid dataset of width `d` with `n` pairs.
fn dataset(n: usize, d: usize) -> PairDataset {
    PairDataset::new(filled(n, d, 0.1), filled(n, d, 1.3), labels(n)).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sympair-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A loaded model must be usable: it predicts on finite pairs of its width (a few rows,
/// unless it is absurdly wide), and a symmetric one bit-identically in both orders.
fn check_usable(model: &PairClassifier) -> Result<(), TestCaseError> {
    let d = model.input_dim();
    prop_assert!(d >= 1);
    let short = vec![0.5f32; d.min(8) + usize::from(d <= 8)];
    // A slice of another width is a width error, whatever the model.
    prop_assert!(matches!(
        kind(&model.predict_pair_logit(&short, &short).unwrap_err()),
        Kind::Width("x", _, _)
    ));
    if d > 256 || model.n_params() > 1 << 16 {
        return Ok(());
    }
    let (x, y) = (filled(5, d, 0.2), filled(5, d, 2.9));
    let xy = model.predict_logits(x.view(), y.view());
    let yx = model.predict_logits(y.view(), x.view());
    prop_assert!(xy.is_ok() && yx.is_ok(), "{xy:?} {yx:?}");
    if model.is_symmetric() {
        let bits = |v: &ndarray::Array1<f32>| v.iter().map(|z| z.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&xy.unwrap()), bits(&yx.unwrap()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// PairDataset: new, select, split
// ---------------------------------------------------------------------------------------

/// `PairDataset::new`'s documented order of shape checks.
fn expected_dataset_shape(nl: usize, dl: usize, nr: usize, dr: usize, nt: usize) -> Option<Kind> {
    if nl == 0 {
        Some(Kind::Empty("left"))
    } else if dl == 0 {
        Some(Kind::Empty("left (width 0)"))
    } else if nr != nl {
        Some(Kind::Rows("right", nl, nr))
    } else if nt != nl {
        Some(Kind::Rows("labels", nl, nt))
    } else if dr != dl {
        Some(Kind::Width("right", dl, dr))
    } else {
        None
    }
}

/// Where a corrupted cell goes: which matrix, row, column.
type Cell = (usize, usize, usize);

fn cells(n: usize, d: usize, sides: usize) -> impl Strategy<Value = Cell> {
    (0..sides, 0..n, 0..d)
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn pair_dataset_new_checks_shapes_in_documented_order(
        (nl, dl, nr, dr, nt) in (1usize..5, 1usize..4)
            .prop_flat_map(|(n, d)| (near(n), near(d), near(n), near(d), near(n)))
    ) {
        let r = PairDataset::new(filled(nl, dl, 0.0), filled(nr, dr, 1.0), labels(nt));
        match expected_dataset_shape(nl, dl, nr, dr, nt) {
            Some(k) => prop_assert_eq!(outcome(&r), Err(k)),
            None => {
                let data = r.unwrap();
                prop_assert_eq!((data.len(), data.dim()), (nl, dl));
            }
        }
    }

    #[test]
    fn pair_dataset_new_names_the_first_non_finite_cell(
        ((n, d), first, second, v, w, layout) in (1usize..40, 1usize..12).prop_flat_map(|(n, d)| (
            Just((n, d)),
            cells(n, d, 2),
            proptest::option::of(cells(n, d, 2)),
            non_finite(),
            non_finite(),
            any::<bool>(),
        ))
    ) {
        let mut m = [filled(n, d, 0.0), filled(n, d, 1.0)];
        m[first.0][[first.1, first.2]] = v;
        if let Some(s) = second {
            m[s.0][[s.1, s.2]] = w;
        }
        // Left is checked before right, each in row-major order.
        let bad = second.map_or(first, |s| first.min(s));
        let value = if Some(bad) == second { w } else { v };
        let [left, right] = m;
        let (left, right) = if layout { (fortran(&left), fortran(&right)) } else { (left, right) };
        let err = PairDataset::new(left, right, labels(n)).unwrap_err();
        let what = ["left", "right"][bad.0];
        prop_assert_eq!(kind(&err), Kind::NonFinite(what, bad.1, bad.2));
        prop_assert!(same_value(reported_value(&err).unwrap(), f64::from(value)));
    }

    #[test]
    fn pair_dataset_new_names_the_first_bad_label(
        ((n, row), t, later) in (1usize..40).prop_flat_map(|n| (Just(n), 0..n))
            .prop_flat_map(|(n, row)| (Just((n, row)), bad_label(), proptest::option::of(row..n)))
    ) {
        let mut y = labels(n);
        y[row] = t;
        if let Some(k) = later.filter(|&k| k > row) {
            y[k] = 0.25;
        }
        let err = PairDataset::new(filled(n, 2, 0.0), filled(n, 2, 1.0), y).unwrap_err();
        prop_assert_eq!(kind(&err), Kind::Label(row));
        prop_assert!(same_value(reported_value(&err).unwrap(), f64::from(t)));
    }

    #[test]
    fn select_rejects_empty_and_out_of_range_indices(
        (n, idx) in (1usize..20).prop_flat_map(|n| (Just(n), proptest::collection::vec(0..2 * n + 1, 0..8)))
    ) {
        let data = dataset(n, 2);
        let r = data.select(&idx);
        match idx.iter().position(|&i| i >= n) {
            _ if idx.is_empty() => prop_assert_eq!(outcome(&r), Err(Kind::Empty("indices"))),
            Some(row) => prop_assert_eq!(outcome(&r), Err(Kind::Range(row, idx[row], n))),
            None => prop_assert_eq!(r.unwrap().len(), idx.len()),
        }
    }

    #[test]
    fn split_rejects_bad_fractions_and_empty_parts(
        n in 1usize..20,
        fraction in prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(0.0), Just(-0.0),
            Just(1.0), Just(-0.5), Just(1.5), Just(1e-300), Just(1.0 - 1e-16), 0.0f64..1.0,
        ],
        seed in any::<u64>(),
    ) {
        let r = dataset(n, 2).split(fraction, seed);
        if !(fraction > 0.0 && fraction < 1.0) {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("fraction")));
        } else {
            let k = ((fraction * n as f64).round() as usize).clamp(1, n);
            if k == n {
                prop_assert!(matches!(outcome(&r), Err(Kind::Empty(_))), "{r:?}");
            } else {
                let (a, b) = r.unwrap();
                prop_assert_eq!((a.len(), b.len()), (k, n - k));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Building a classifier
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn builder_rejects_bad_configs(
        input_dim in 0usize..4,
        ci in 0..all_combiners().len(),
        with_encoder in any::<bool>(),
        distance in any::<bool>(),
    ) {
        let combiner = all_combiners().swap_remove(ci);
        let nonnegative = combiner.output_is_nonnegative();
        let mut b = PairClassifier::builder(input_dim, combiner).seed(3);
        if with_encoder {
            b = b.encoder(EncoderConfig::new(MlpConfig::new([2]).unwrap(), 2).unwrap());
        }
        if distance {
            b = b.head(HeadConfig::Distance { learn_scale: true });
        } else {
            b = b.mlp_head(MlpConfig::new([3]).unwrap());
        }
        let r = b.build();
        if input_dim == 0 {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("input_dim")));
        } else if distance && !nonnegative {
            prop_assert_eq!(outcome(&r), Err(Kind::Unsupported));
        } else {
            prop_assert_eq!(r.unwrap().input_dim(), input_dim);
        }
    }

    #[test]
    fn zero_widths_in_layer_configs_are_rejected(
        hidden in proptest::collection::vec(0usize..3, 0..6),
        out in 0usize..3,
    ) {
        let r = MlpConfig::new(hidden.clone());
        match hidden.iter().position(|&w| w == 0) {
            Some(pos) => {
                let err = r.unwrap_err();
                prop_assert_eq!(kind(&err), Kind::Config("hidden"));
                prop_assert!(err.to_string().contains(&format!("layer {pos}")), "{err}");
            }
            None => {
                let mlp = r.unwrap();
                let enc = EncoderConfig::new(mlp, out);
                if out == 0 {
                    prop_assert_eq!(outcome(&enc), Err(Kind::Config("encoder output_dim")));
                } else {
                    prop_assert_eq!(enc.unwrap().output_dim(), out);
                }
            }
        }
        if out == 0 {
            prop_assert_eq!(outcome(&EncoderConfig::linear(out)), Err(Kind::Config("encoder output_dim")));
        }
    }

    #[test]
    fn stacks_reject_no_part_and_multi_view_parts(
        parts in proptest::collection::vec(0..all_combiners().len(), 0..4),
    ) {
        let parts: Vec<Combiner> = parts.into_iter().map(|i| all_combiners().swap_remove(i)).collect();
        let multi = parts.iter().any(|p| p.n_views() != 1);
        let r = Stack::new(parts.clone());
        if parts.is_empty() {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("stack")));
        } else if multi {
            prop_assert_eq!(outcome(&r), Err(Kind::Unsupported));
        } else {
            prop_assert!(r.is_ok());
        }
    }
}

/// Regression: widths whose weight matrix cannot exist (more than `isize::MAX` bytes) made
/// ndarray panic inside `build`; they are now a configuration error naming the width.
#[test]
fn builder_rejects_widths_too_large_to_allocate() {
    let huge = [usize::MAX, 1 << 62, isize::MAX as usize];
    for w in huge {
        let cases = [
            (
                "input_dim",
                PairClassifier::builder(w, Combiner::AbsDiff).build(),
            ),
            (
                "input_dim",
                PairClassifier::builder(w / 2 + 1, Combiner::Concat).build(),
            ),
            (
                "hidden",
                PairClassifier::builder(3, Combiner::AbsDiff)
                    .mlp_head(MlpConfig::new([4, w, 2]).unwrap())
                    .build(),
            ),
            (
                "output_dim",
                PairClassifier::builder(3, Combiner::AbsDiff)
                    .encoder(EncoderConfig::linear(w).unwrap())
                    .build(),
            ),
        ];
        for (field, r) in cases {
            assert_eq!(outcome(&r), Err(Kind::Config(field)), "width {w}");
        }
    }
}

/// Regression: `ClusterTask` sizes whose matrices overflow `isize` bytes are
/// `Error::InvalidConfig`, not ndarray's "Shape too large" panic.
#[test]
fn cluster_task_rejects_sizes_too_large_to_allocate() {
    for (d, k) in [(usize::MAX, 2), (2, usize::MAX), (1 << 62, 4)] {
        let r = catch_unwind(|| ClusterTask::new(d, k).map(|t| t.dim()));
        assert!(
            matches!(r, Ok(Err(Error::InvalidConfig { .. }))),
            "d {d}, k {k}: {r:?}"
        );
    }
    let task = ClusterTask::new(2, 2).unwrap();
    let r = catch_unwind(|| task.generate(usize::MAX, 0).map(|d| d.len()));
    assert!(matches!(r, Ok(Err(_))), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// Prediction
// ---------------------------------------------------------------------------------------

/// `predict_logits`' documented order of shape checks for a model of width `d`.
fn expected_batch(d: usize, (nx, dx): (usize, usize), (ny, dy): (usize, usize)) -> Option<Kind> {
    if nx == 0 {
        Some(Kind::Empty("x"))
    } else if dx != d {
        Some(Kind::Width("x", d, dx))
    } else if ny != nx {
        Some(Kind::Rows("y", nx, ny))
    } else if dy != dx {
        Some(Kind::Width("y", dx, dy))
    } else {
        None
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn predict_rejects_bad_batch_shapes(
        mi in zoo_index(),
        nx in near(3), dx in near(D), ny in near(3), dy in near(D),
    ) {
        let model = &ZOO[mi];
        let (x, y) = (filled(nx, dx, 0.0), filled(ny, dy, 1.0));
        let expected = expected_batch(D, (nx, dx), (ny, dy));
        for r in [model.predict_logits(x.view(), y.view()), model.predict_proba(x.view(), y.view())] {
            match &expected {
                Some(k) => prop_assert_eq!(outcome(&r), Err(k.clone())),
                None => prop_assert_eq!(r.unwrap().len(), nx),
            }
        }
    }

    /// Batches longer than one prediction chunk, inputs in either layout: the error names
    /// the corrupted row (counted over the whole batch) and column.
    #[test]
    fn predict_names_the_non_finite_cell(
        (mi, n, (side, row, col), v, layout) in (zoo_index(), 1usize..700)
            .prop_flat_map(|(mi, n)| (Just(mi), Just(n), cells(n, D, 2), non_finite(), any::<bool>()))
    ) {
        let model = &ZOO[mi];
        let mut m = [filled(n, D, 0.0), filled(n, D, 1.0)];
        m[side][[row, col]] = v;
        let [x, y] = m;
        let (x, y) = if layout { (fortran(&x), fortran(&y)) } else { (x, y) };
        let what = ["x", "y"][side];
        let expected = Kind::NonFinite(what, row, col);
        let err = model.predict_logits(x.view(), y.view()).unwrap_err();
        prop_assert_eq!(kind(&err), expected.clone(), "model {}", mi);
        prop_assert!(same_value(reported_value(&err).unwrap(), f64::from(v)));
        prop_assert_eq!(outcome(&model.predict_proba(x.view(), y.view())), Err(expected));
        // A transposed view of the transpose: same logical matrix, other strides.
        let (xt, yt) = (x.t().to_owned(), y.t().to_owned());
        prop_assert_eq!(
            outcome(&model.predict_logits(xt.t(), yt.t())),
            Err(Kind::NonFinite(what, row, col))
        );
    }

    #[test]
    fn predict_pair_rejects_wrong_lengths_and_non_finite_values(
        mi in zoo_index(),
        lx in near(D), ly in near(D),
        bad in proptest::option::of((0usize..2, 0..D, non_finite())),
    ) {
        let model = &ZOO[mi];
        let mut v = [vec![0.25f32; lx], vec![-1.5f32; ly]];
        let mut expected = if lx != D {
            Some(Kind::Width("x", D, lx))
        } else if ly != D {
            Some(Kind::Width("y", D, ly))
        } else {
            None
        };
        if let (None, Some((side, col, value))) = (&expected, bad) {
            v[side][col] = value;
            expected = Some(Kind::NonFinite(["x", "y"][side], 0, col));
        }
        let logit = model.predict_pair_logit(&v[0], &v[1]);
        let proba = model.predict_pair(&v[0], &v[1]);
        match expected {
            Some(k) => {
                prop_assert_eq!(outcome(&logit), Err(k.clone()));
                prop_assert_eq!(outcome(&proba), Err(k));
            }
            None => {
                let p = proba.unwrap();
                prop_assert!((0.0..=1.0).contains(&p), "{p}");
                prop_assert!(logit.is_ok());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// All-pairs and top-k scoring
// ---------------------------------------------------------------------------------------

/// `score_all_pairs` / `top_k`'s checks of one item matrix, with one corrupted cell.
fn expected_items(
    what: &'static str,
    (n, d): (usize, usize),
    bad: Option<(usize, usize)>,
) -> Option<Kind> {
    if n == 0 {
        Some(Kind::Empty(what))
    } else if d != D {
        Some(Kind::Width(what, D, d))
    } else {
        bad.map(|(r, c)| Kind::NonFinite(what, r, c))
    }
}

/// Item matrices around width [`D`], sometimes with one non-finite cell.
fn items_strategy() -> impl Strategy<Value = (Array2<f32>, Option<(usize, usize)>)> {
    (near(4), near(D)).prop_flat_map(|(n, d)| {
        let cell = if n > 0 && d > 0 {
            proptest::option::of((0..n, 0..d, non_finite())).boxed()
        } else {
            Just(None).boxed()
        };
        (Just((n, d)), cell).prop_map(|((n, d), cell)| {
            let mut m = filled(n, d, 0.7);
            let bad = cell.map(|(r, c, v)| {
                m[[r, c]] = v;
                (r, c)
            });
            (m, bad)
        })
    })
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn all_pairs_and_top_k_reject_bad_items(
        mi in zoo_index(),
        (items, bad_item) in items_strategy(),
        (queries, bad_query) in items_strategy(),
        k in prop_oneof![Just(0usize), 1usize..6],
    ) {
        let model = &ZOO[mi];
        let mut seen = 0usize;
        let r = model.score_all_pairs(items.view(), |_, _, _| seen += 1);
        match expected_items("items", items.dim(), bad_item) {
            Some(e) => {
                prop_assert_eq!(outcome(&r), Err(e));
                prop_assert_eq!(seen, 0);
            }
            None => {
                prop_assert!(r.is_ok(), "{r:?}");
                let n = items.nrows();
                prop_assert_eq!(seen, n * (n - 1) / 2);
            }
        }

        let r = model.top_k(queries.view(), items.view(), k);
        let expected = if k == 0 {
            Some(Kind::Config("k"))
        } else {
            expected_items("queries", queries.dim(), bad_query)
                .or_else(|| expected_items("items", items.dim(), bad_item))
        };
        match expected {
            Some(e) => prop_assert_eq!(outcome(&r), Err(e)),
            None => {
                let top = r.unwrap();
                prop_assert_eq!(top.len(), queries.nrows());
                prop_assert!(top.iter().all(|t| t.len() == k.min(items.nrows())));
            }
        }
    }
}

/// Regression: a huge `k` ("give me all of them") neither overflows `k + 1` nor tries to
/// allocate for `k` itself.
#[test]
fn top_k_with_a_huge_k_returns_every_item() {
    let model = &ZOO[0];
    let items = filled(5, D, 0.3);
    for k in [6, 1 << 40, usize::MAX / 64, usize::MAX] {
        let top = model.top_k(items.view(), items.view(), k).unwrap();
        assert!(top.iter().all(|t| t.len() == 5), "k = {k}");
    }
}

// ---------------------------------------------------------------------------------------
// Datasets of the wrong width, training settings, parameters
// ---------------------------------------------------------------------------------------

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A `TrainConfig` with one bad value, and the field the error must name.
fn bad_train_config(which: usize, pick: usize) -> (TrainConfig, &'static str) {
    let base = TrainConfig::new().with_epochs(2).with_batch_size(8);
    let lr = [
        0.0f32,
        -0.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let unit = [
        1.0f32,
        1.5,
        -0.1,
        f32::NAN,
        f32::INFINITY,
        -f32::MIN_POSITIVE,
    ];
    let positive = [0.0f32, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
    let non_negative = [-1.0f32, -f32::MIN_POSITIVE, f32::NAN, f32::INFINITY];
    let adam = |lr, beta1, beta2, eps| Optimizer::Adam {
        lr,
        beta1,
        beta2,
        eps,
    };
    let p = |a: &[f32]| a[pick % a.len()];
    match which % 12 {
        0 => (base.with_epochs(0), "epochs"),
        1 => (base.with_batch_size(0), "batch_size"),
        2 => (
            base.with_optimizer(Optimizer::adam(p(&lr))),
            "learning rate",
        ),
        3 => (
            base.with_optimizer(adam(1e-3, p(&unit), 0.999, 1e-8)),
            "beta1",
        ),
        4 => (
            base.with_optimizer(adam(1e-3, 0.9, p(&unit), 1e-8)),
            "beta2",
        ),
        5 => (
            base.with_optimizer(adam(1e-3, 0.9, 0.999, p(&positive))),
            "eps",
        ),
        6 => (
            base.with_optimizer(Optimizer::sgd(p(&lr), 0.5)),
            "learning rate",
        ),
        7 => (
            base.with_optimizer(Optimizer::sgd(0.1, p(&unit))),
            "momentum",
        ),
        8 => (base.with_weight_decay(p(&non_negative)), "weight_decay"),
        9 => (base.with_patience(0), "patience"),
        10 => (base.with_pos_weight(p(&positive)), "pos_weight"),
        _ => (base.with_consistency(p(&non_negative)), "consistency"),
    }
}

/// Width-`d` data as a dense dataset or as item pairs.
fn data_of_width(d: usize, item_pairs: bool) -> Box<dyn PairData> {
    if item_pairs {
        let pairs = vec![(0, 1, 1.0), (1, 2, 0.0), (2, 3, 1.0), (0, 3, 0.0)];
        Box::new(ItemPairs::new(filled(4, d, 0.5), pairs).unwrap())
    } else {
        Box::new(dataset(6, d))
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn fit_rejects_bad_settings_before_touching_the_weights(
        mi in zoo_index(), which in 0usize..12, pick in 0usize..8,
    ) {
        let (config, field) = bad_train_config(which, pick);
        prop_assert_eq!(outcome(&config.check()), Err(Kind::Config(field)));
        let mut model = ZOO[mi].clone();
        let before = model.parameters();
        let train = dataset(16, D);
        prop_assert_eq!(outcome(&model.fit(&train, None, &config)), Err(Kind::Config(field)));
        let mut epochs = 0;
        let mut observer = |_: &EpochStats| {
            epochs += 1;
            Control::Continue
        };
        let r = model.fit_observed(&train, Some(&train as &dyn PairData), &config, &mut observer);
        prop_assert_eq!(outcome(&r), Err(Kind::Config(field)));
        prop_assert_eq!(epochs, 0);
        prop_assert_eq!(bits(&model.parameters()), bits(&before));
    }

    #[test]
    fn datasets_of_the_wrong_width_are_rejected_everywhere(
        mi in zoo_index(),
        w in (1usize..7).prop_filter("not the model's width", |w| *w != D),
        item_pairs in any::<bool>(),
    ) {
        let mut model = ZOO[mi].clone();
        let before = model.parameters();
        let wrong = data_of_width(w, item_pairs);
        let right = data_of_width(D, !item_pairs);
        let config = TrainConfig::new().with_epochs(1);
        prop_assert_eq!(outcome(&model.logits_for(wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(outcome(&model.loss_gradient(wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(outcome(&evaluate(&model, wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(outcome(&asymmetry(&model, wrong.as_ref())), Err(Kind::Width("data", D, w)));
        prop_assert_eq!(
            outcome(&model.fit(wrong.as_ref(), None, &config)),
            Err(Kind::Width("train", D, w))
        );
        prop_assert_eq!(
            outcome(&model.fit(right.as_ref(), Some(wrong.as_ref()), &config)),
            Err(Kind::Width("valid", D, w))
        );
        prop_assert_eq!(bits(&model.parameters()), bits(&before));
    }

    #[test]
    fn set_parameters_rejects_wrong_lengths_and_non_finite_values(
        mi in zoo_index(),
        shift in prop_oneof![Just(0i64), -3i64..=3],
        bad in proptest::option::of((any::<proptest::sample::Index>(), non_finite())),
    ) {
        let mut model = ZOO[mi].clone();
        let n = model.n_params();
        let before = model.parameters();
        let len = shifted(n, shift);
        let mut values: Vec<f32> = (0..len).map(|i| (i as f32 * 0.01).cos()).collect();
        let mut expected = (len != n).then_some(Kind::Width("parameters", n, len));
        if let (None, Some((at, v))) = (&expected, bad)
            && n > 0
        {
            let col = at.index(n);
            values[col] = v;
            expected = Some(Kind::NonFinite("parameters", 0, col));
        }
        let r = model.set_parameters(&values);
        match expected {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert_eq!(bits(&model.parameters()), bits(&before));
            }
            None => prop_assert_eq!(bits(&model.parameters()), bits(&values)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Combiners
// ---------------------------------------------------------------------------------------

/// A buffer's name, its shape and the shape it should have.
type Buffer = (&'static str, (usize, usize), (usize, usize));

/// Shape checks of `forward` / `backward`: `(x, y)` first, then each buffer in order.
fn expected_buffers((n, d): (usize, usize), y: (usize, usize), buffers: &[Buffer]) -> Option<Kind> {
    if y.0 != n {
        return Some(Kind::Rows("y", n, y.0));
    }
    if y.1 != d {
        return Some(Kind::Width("y", d, y.1));
    }
    for &(what, found, want) in buffers {
        if found.0 != want.0 {
            return Some(Kind::Rows(what, want.0, found.0));
        }
        if found.1 != want.1 {
            return Some(Kind::Width(what, want.1, found.1));
        }
    }
    None
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn combiners_reject_wrong_buffer_shapes(
        ci in 0..all_combiners().len(),
        n in 0usize..4, d in 0usize..4,
        dyr in delta(), dyc in delta(),
        shifts in proptest::collection::vec(delta(), 6),
    ) {
        let c = all_combiners().swap_remove(ci);
        let (v, w) = (c.n_views(), c.output_dim(d));
        let y_shape = (shifted(n, dyr), shifted(d, dyc));
        let x = filled(n, d, 0.0);
        let y = filled(y_shape.0, y_shape.1, 1.0);
        let s = |k: usize, m: usize| shifted(m, shifts[k]);
        const SENTINEL: f32 = 7.5;

        // forward
        let out_shape = (s(0, v * n), s(1, w));
        let mut out = Array2::from_elem(out_shape, SENTINEL);
        let r = c.forward(x.view(), y.view(), out.view_mut());
        match expected_buffers((n, d), y_shape, &[("out", out_shape, (v * n, w))]) {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert!(out.iter().all(|&o| o == SENTINEL), "out written before the error");
            }
            None => prop_assert!(r.is_ok(), "{r:?}"),
        }

        // combine
        let r = c.combine(x.view(), y.view());
        match expected_buffers((n, d), y_shape, &[]) {
            Some(k) => prop_assert_eq!(outcome(&r), Err(k)),
            None => prop_assert_eq!(r.unwrap().dim(), (v * n, w)),
        }

        // backward
        let grad_shape = (s(2, v * n), s(3, w));
        let dx_shape = (s(4, n), s(5, d));
        let dy_shape = (n, d);
        let grad = filled(grad_shape.0, grad_shape.1, 2.0);
        let mut dx = Array2::from_elem(dx_shape, SENTINEL);
        let mut dy = Array2::from_elem(dy_shape, SENTINEL);
        let r = c.backward(x.view(), y.view(), grad.view(), dx.view_mut(), dy.view_mut());
        let buffers = [
            ("grad", grad_shape, (v * n, w)),
            ("dx", dx_shape, (n, d)),
            ("dy", dy_shape, (n, d)),
        ];
        match expected_buffers((n, d), y_shape, &buffers) {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert!(dx.iter().chain(&dy).all(|&g| g == SENTINEL), "gradients written before the error");
            }
            None => prop_assert!(r.is_ok(), "{r:?}"),
        }

        // A wrong dy alone.
        if y_shape == (n, d) && n > 0 {
            let mut dx = Array2::zeros((n, d));
            let mut dy = Array2::zeros((n + 1, d));
            let grad = Array2::zeros((v * n, w));
            let r = c.backward(x.view(), y.view(), grad.view(), dx.view_mut(), dy.view_mut());
            prop_assert_eq!(outcome(&r), Err(Kind::Rows("dy", n, n + 1)));
        }
    }

    /// Combiners are not validators (the classifier checks its inputs); on NaN and
    /// infinities they compute through without an error or a panic.
    #[test]
    fn combiners_compute_through_non_finite_values(
        ci in 0..all_combiners().len(),
        (n, d, bad) in (1usize..5, 1usize..5).prop_flat_map(|(n, d)| (
            Just(n), Just(d), proptest::collection::vec((0usize..3, 0..n, 0..d, non_finite()), 1..4)
        )),
    ) {
        let c = all_combiners().swap_remove(ci);
        let mut m = [filled(n, d, 0.0), filled(n, d, 1.0), filled(c.n_views() * n, c.output_dim(d), 2.0)];
        for (which, r, col, v) in bad {
            let k = m[which].ncols();
            m[which][[r, col % k]] = v;
        }
        let [x, y, g] = m;
        prop_assert!(c.combine(x.view(), y.view()).is_ok());
        let (mut dx, mut dy) = (Array2::zeros((n, d)), Array2::zeros((n, d)));
        prop_assert!(c.backward(x.view(), y.view(), g.view(), dx.view_mut(), dy.view_mut()).is_ok());
    }
}

/// An empty batch can be far wider than any real one; the output shape must not overflow.
#[test]
fn combine_on_an_empty_batch_of_huge_width_is_an_error_not_a_panic() {
    for width in [1usize << 40, 1 << 62, isize::MAX as usize] {
        let x = ArrayView2::<f32>::from_shape((0, width), &[]).unwrap();
        for c in all_combiners() {
            let r = catch_unwind(AssertUnwindSafe(|| c.combine(x, x)));
            let r = r.unwrap_or_else(|_| panic!("{c} panicked on shape (0, {width})"));
            let w = c.output_dim(width);
            if w <= isize::MAX as usize {
                assert_eq!(r.unwrap().dim(), (0, w), "{c}");
            } else {
                assert!(matches!(r, Err(Error::Unsupported(_))), "{c}: {r:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Model files
// ---------------------------------------------------------------------------------------

/// A model file must load or fail with `Format`/`Version`, never panic; a model that
/// loads must be usable.
fn check_model_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    match PairClassifier::<Combiner>::from_json_bytes(bytes) {
        Ok(model) => check_usable(&model),
        Err(e) => {
            prop_assert!(matches!(kind(&e), Kind::Format | Kind::Version(_)), "{e:?}");
            Ok(())
        }
    }
}

/// Every JSON pointer of a value.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                pointers(child, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Replacement values for structural mutations.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1)),
        Just(json!(2)),
        Just(json!(4)),
        Just(json!(1e39)),
        Just(json!(-1e39)),
        Just(json!(3.5)),
        Just(json!(u64::MAX)),
        Just(json!(1u64 << 63)),
        Just(json!((1u64 << 63) + 1)),
        Just(json!("relu")),
        Just(json!("stack")),
        Just(json!("concat")),
        Just(json!("x")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, 2])),
        Just(json!({"stack": {"parts": []}})),
        Just(json!({"stack": {"parts": ["concat_swap_average"]}})),
        Just(json!({"stack": {"parts": ["abs_diff", "squared_diff"]}})),
        Just(json!({"distance": {"log_scale": 0.0, "learn_scale": true}})),
        Just(json!({"similarity": "cosine"})),
        Just(json!({"v": 1, "dim": [1, 1], "data": [0.5]})),
        Just(json!({"v": 2, "dim": [1], "data": [0.5]})),
        Just(json!({"v": 1, "dim": [0, 4], "data": []})),
        Just(json!({"v": 1, "dim": [1000000, 1000000], "data": [1.0]})),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ]
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn truncated_model_files_are_format_errors(
        mi in zoo_index(), at in any::<proptest::sample::Index>(), via_file in any::<bool>(),
    ) {
        let bytes = &ZOO_BYTES[mi];
        let cut = &bytes[..at.index(bytes.len())];
        let r = if via_file {
            let path = scratch(&format!("truncated-{mi}-{}.json", cut.len()));
            std::fs::write(&path, cut).unwrap();
            let r = PairClassifier::<Combiner>::load(&path);
            std::fs::remove_file(&path).unwrap();
            r
        } else {
            PairClassifier::<Combiner>::from_json_bytes(cut)
        };
        prop_assert_eq!(outcome(&r), Err(Kind::Format));
    }

    #[test]
    fn byte_mutated_model_files_load_as_usable_models_or_fail_cleanly(
        mi in zoo_index(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..3, any::<u8>()), 1..5),
    ) {
        let mut bytes = ZOO_BYTES[mi].clone();
        for (at, op, b) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match op {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i, b),
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {}
            }
        }
        check_model_bytes(&bytes)?;
    }

    /// Digits of numbers, the places where a one-byte change most often still parses.
    #[test]
    fn digit_mutated_model_files_load_as_usable_models_or_fail_cleanly(
        mi in zoo_index(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), b'0'..=b'9'), 1..4),
    ) {
        let mut bytes = ZOO_BYTES[mi].clone();
        let digits: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
        for (at, d) in edits {
            bytes[digits[at.index(digits.len())]] = d;
        }
        check_model_bytes(&bytes)?;
    }

    #[test]
    fn structurally_mutated_model_files_load_as_usable_models_or_fail_cleanly(
        mi in zoo_index(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), json_value()), 1..4),
    ) {
        let mut doc: serde_json::Value = serde_json::from_slice(&ZOO_BYTES[mi]).unwrap();
        for (at, value) in edits {
            let mut ptrs = Vec::new();
            pointers(&doc, String::new(), &mut ptrs);
            let ptr = &ptrs[at.index(ptrs.len())];
            match doc.pointer_mut(ptr) {
                Some(slot) => *slot = value,
                None => prop_assert!(false, "pointer {ptr} vanished"),
            }
        }
        check_model_bytes(&serde_json::to_vec(&doc).unwrap())?;
    }

    #[test]
    fn other_versions_and_formats_are_rejected(
        mi in zoo_index(),
        version in any::<u64>().prop_filter("another version", |v| *v != FORMAT_VERSION),
        name in "[a-zA-Z_]{0,12}".prop_filter("another format", |s| s != "sympair"),
        other in prop_oneof![
            Just("-1"), Just("1.0"), Just("\"1\""), Just("null"), Just("1e3"), Just("18446744073709551616"),
        ],
    ) {
        let mut doc: serde_json::Value = serde_json::from_slice(&ZOO_BYTES[mi]).unwrap();
        doc["version"] = serde_json::json!(version);
        let r = PairClassifier::<Combiner>::from_json_bytes(&serde_json::to_vec(&doc).unwrap());
        prop_assert_eq!(outcome(&r), Err(Kind::Version(version)));

        let mut doc: serde_json::Value = serde_json::from_slice(&ZOO_BYTES[mi]).unwrap();
        doc["format"] = serde_json::json!(name);
        let r = PairClassifier::<Combiner>::from_json_bytes(&serde_json::to_vec(&doc).unwrap());
        prop_assert_eq!(outcome(&r), Err(Kind::Format));

        let text = String::from_utf8(ZOO_BYTES[mi].clone()).unwrap();
        let text = text.replacen("\"version\":1", &format!("\"version\":{other}"), 1);
        prop_assert_eq!(outcome(&PairClassifier::<Combiner>::from_json_bytes(text.as_bytes())), Err(Kind::Format));
    }

    #[test]
    fn random_bytes_are_not_a_model(
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"{\"format\":\"sympair\",\"version\":1,\"model\":"[..]),
            Just(&b"{\"format\":\"sympair\",\"version\":1,\"model\":{\"input_dim\":3,\"combiner\":"[..]),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = [prefix, &tail].concat();
        let r = PairClassifier::<Combiner>::from_json_bytes(&bytes);
        prop_assert!(matches!(outcome(&r), Err(Kind::Format | Kind::Version(_))), "{r:?}");
    }
}

/// Every prefix of every saved model, in one loop: none may panic, all are format errors.
#[test]
fn every_prefix_of_every_saved_model_is_a_format_error() {
    for (mi, bytes) in ZOO_BYTES.iter().enumerate() {
        for cut in 0..bytes.len() {
            let r = catch_unwind(|| PairClassifier::<Combiner>::from_json_bytes(&bytes[..cut]));
            let r = r.unwrap_or_else(|_| panic!("model {mi} cut at {cut} panicked"));
            assert_eq!(outcome(&r), Err(Kind::Format), "model {mi} cut at {cut}");
        }
    }
}

/// Hand-made inconsistent models, each a format error.
#[test]
fn inconsistent_model_files_are_format_errors() {
    let sum = String::from_utf8(ZOO_BYTES[0].clone()).unwrap();
    assert!(sum.contains("\"combiner\":\"sum\""), "{sum}");
    let cases: Vec<(&str, String)> = vec![
        ("input_dim 0", sum.replace("\"input_dim\":3", "\"input_dim\":0")),
        (
            "input_dim differs from the head",
            sum.replace("\"input_dim\":3", "\"input_dim\":4"),
        ),
        (
            "weight shape and data disagree",
            sum.replacen("\"dim\":[3,4]", "\"dim\":[3,5]", 1),
        ),
        (
            "bias of the wrong length",
            sum.replacen("\"dim\":[4],\"data\":[0.0,0.0,0.0,0.0]", "\"dim\":[3],\"data\":[0.0,0.0,0.0]", 1),
        ),
        ("no layers", {
            let mut doc: serde_json::Value = serde_json::from_str(&sum).unwrap();
            doc["model"]["head"]["mlp"]["layers"] = serde_json::json!([]);
            doc.to_string()
        }),
        ("NaN weight written as null", {
            let mut doc: serde_json::Value = serde_json::from_str(&sum).unwrap();
            doc["model"]["head"]["mlp"]["layers"][0]["w"]["data"][0] = serde_json::Value::Null;
            doc.to_string()
        }),
        ("weight too large for f32", {
            let mut doc: serde_json::Value = serde_json::from_str(&sum).unwrap();
            doc["model"]["head"]["mlp"]["layers"][0]["w"]["data"][0] = serde_json::json!(1e39);
            doc.to_string()
        }),
        (
            "unknown combiner",
            sum.replace("\"combiner\":\"sum\"", "\"combiner\":\"median\""),
        ),
        (
            "empty stack",
            sum.replace("\"combiner\":\"sum\"", "\"combiner\":{\"stack\":{\"parts\":[]}}"),
        ),
        (
            "stack of a multi-view combiner",
            sum.replace(
                "\"combiner\":\"sum\"",
                "\"combiner\":{\"stack\":{\"parts\":[\"concat_swap_average\"]}}",
            ),
        ),
        (
            "distance head on a signed combiner",
            r#"{"format":"sympair","version":1,"model":{"input_dim":3,"combiner":"sum","encoder":null,"head":{"distance":{"log_scale":0.0,"learn_scale":true}}}}"#.into(),
        ),
        (
            "distance scale too large for f32",
            r#"{"format":"sympair","version":1,"model":{"input_dim":3,"combiner":"abs_diff","encoder":null,"head":{"distance":{"log_scale":1e39,"learn_scale":true}}}}"#.into(),
        ),
        ("no model", r#"{"format":"sympair","version":1}"#.into()),
        ("not an object", "[1,2,3]".into()),
        ("empty", String::new()),
    ];
    for (name, text) in cases {
        let r = catch_unwind(|| PairClassifier::<Combiner>::from_json_bytes(text.as_bytes()))
            .unwrap_or_else(|_| panic!("{name}: panicked"));
        assert_eq!(outcome(&r), Err(Kind::Format), "{name}: {text}");
    }
}

/// Regression: an `input_dim` near `usize::MAX` used to overflow `2 * d` in `Concat` and
/// the width sum of `Stack` (a panic with overflow checks, a wrapped width without).
#[test]
fn huge_input_dims_in_model_files_do_not_overflow() {
    let heads = [
        r#"{"distance":{"log_scale":0.0,"learn_scale":true}}"#,
        r#"{"mlp":{"layers":[{"w":{"v":1,"dim":[2,1],"data":[0.5,0.5]},"b":{"v":1,"dim":[1],"data":[0.0]}}],"activation":"relu"}}"#,
    ];
    let combiners = [
        r#""concat""#,
        r#""concat_swap_average""#,
        r#"{"stack":{"parts":["abs_diff","squared_diff"]}}"#,
        r#"{"stack":{"parts":["concat","concat","concat"]}}"#,
        r#""squared_diff""#,
    ];
    for dim in [
        (1u64 << 63) + 1,
        1 << 63,
        u64::MAX,
        (u64::MAX / 3) + 1,
        1 << 62,
    ] {
        for c in combiners {
            for h in heads {
                let text = format!(
                    r#"{{"format":"sympair","version":1,"model":{{"input_dim":{dim},"combiner":{c},"encoder":null,"head":{h}}}}}"#
                );
                let r =
                    catch_unwind(|| PairClassifier::<Combiner>::from_json_bytes(text.as_bytes()))
                        .unwrap_or_else(|_| panic!("input_dim {dim}, combiner {c}: panicked"));
                match r {
                    // Only a distance head has no weights to contradict the width.
                    Ok(model) => {
                        assert!(h.contains("distance"), "{text}");
                        let err = model.predict_pair_logit(&[1.0], &[1.0]).unwrap_err();
                        assert!(matches!(err, Error::WidthMismatch { .. }), "{err:?}");
                    }
                    Err(e) => assert_eq!(kind(&e), Kind::Format, "{text}"),
                }
            }
        }
    }
}

#[test]
fn loading_a_missing_or_unreadable_file_is_an_io_error() {
    let missing = scratch("no-such-model.json");
    assert_eq!(
        outcome(&PairClassifier::<Combiner>::load(&missing)),
        Err(Kind::Io)
    );
    let dir = scratch("a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(
        outcome(&PairClassifier::<Combiner>::load(&dir)),
        Err(Kind::Io)
    );
}

// ---------------------------------------------------------------------------------------
// sympair::io
// ---------------------------------------------------------------------------------------

/// Paths that cannot be read or written give `Error::Io`, and a failed save leaves nothing.
#[test]
fn unreadable_and_unwritable_paths_are_io_errors() {
    let nowhere = scratch("no-such-folder").join("deeper").join("file");
    assert_eq!(outcome(&read_pairs_csv(&nowhere)), Err(Kind::Io));
    assert_eq!(
        outcome(&write_predictions_csv(&nowhere, &[(0, 1)], &[0.5])),
        Err(Kind::Io)
    );
    assert_eq!(outcome(&ZOO[0].save(&nowhere)), Err(Kind::Io));
    #[cfg(feature = "npy")]
    {
        use sympair::io::{read_embeddings_npy, write_embeddings_npy};
        assert_eq!(outcome(&read_embeddings_npy(&nowhere)), Err(Kind::Io));
        let m = filled(2, 2, 0.0);
        assert_eq!(
            outcome(&write_embeddings_npy(&nowhere, m.view())),
            Err(Kind::Io)
        );
    }
    assert!(!nowhere.exists());
}

/// Text made of CSV-ish tokens, so that random input often gets past the header.
fn csv_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("i,j,label"),
        Just("i,j,label\n"),
        Just("0"),
        Just("1"),
        Just("7"),
        Just("0.0"),
        Just("1.0"),
        Just("0.5"),
        Just("-3"),
        Just("99999999999999999999999"),
        Just(","),
        Just(",,"),
        Just("\n"),
        Just("\r\n"),
        Just(" "),
        Just("\u{feff}"),
        Just("x"),
        Just("é"),
        Just("\0"),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

fn check_parsed(text: &str, r: &Result<Vec<PairRow>, Error>) -> Result<(), TestCaseError> {
    let lines = text.split('\n').count();
    match r {
        Ok(rows) => {
            prop_assert!(!rows.is_empty());
            prop_assert!(rows.iter().all(|r| r.label == 0.0 || r.label == 1.0));
        }
        Err(Error::Parse { line, .. }) => {
            prop_assert!((1..=lines).contains(line), "line {line} of {lines}")
        }
        Err(e) => prop_assert_eq!(kind(e), Kind::Empty("pairs")),
    }
    Ok(())
}

#[cfg(feature = "npy")]
/// Minimal `.npy` bytes (format 1.0): a header for `descr`, order and `shape`, then `data`.
fn npy(descr: &str, fortran_order: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran_order { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

#[cfg(feature = "npy")]
/// The values of `m` as `.npy` data: f32 or f64, little or big endian, C or Fortran order.
fn npy_of(m: &Array2<f32>, f64s: bool, big: bool, fortran_order: bool) -> Vec<u8> {
    let values: Vec<f32> = if fortran_order {
        m.t().iter().copied().collect()
    } else {
        m.iter().copied().collect()
    };
    let mut data = Vec::new();
    for v in values {
        match (f64s, big) {
            (false, false) => data.extend(v.to_le_bytes()),
            (false, true) => data.extend(v.to_be_bytes()),
            (true, false) => data.extend(f64::from(v).to_le_bytes()),
            (true, true) => data.extend(f64::from(v).to_be_bytes()),
        }
    }
    let descr = format!(
        "{}f{}",
        if big { '>' } else { '<' },
        if f64s { 8 } else { 4 }
    );
    npy(&descr, fortran_order, &[m.nrows(), m.ncols()], &data)
}

#[cfg(feature = "npy")]
fn read_npy_bytes(name: &str, bytes: &[u8]) -> Result<Array2<f32>, Error> {
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    let r = sympair::io::read_embeddings_npy(&path);
    std::fs::remove_file(&path).unwrap();
    r
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn parse_pairs_csv_never_panics_on_random_text(text in prop_oneof![any::<String>(), csv_like()]) {
        let r = parse_pairs_csv(&text);
        check_parsed(&text, &r)?;
    }

    #[test]
    fn parse_pairs_csv_names_the_bad_line(
        (n, bad_row) in (1usize..12).prop_flat_map(|n| (Just(n), 0..n)),
        bad in prop_oneof![
            Just("0,1,0.5"), Just("0,1,2"), Just("0,1,-1"), Just("0,1,NaN"), Just("0,1,"),
            Just("-1,2,1"), Just("0,-2,0"), Just("a,1,1"), Just("1.5,2,1"), Just("0,1"),
            Just("0,1,1,1"), Just(",,"), Just("99999999999999999999999,1,1"), Just("0,1,true"),
        ],
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("i,j,label{eol}");
        for k in 0..n {
            let line = if k == bad_row { bad.to_owned() } else { format!("{},{},{}", k, k + 1, k % 2) };
            text.push_str(&line);
            text.push_str(eol);
        }
        prop_assert_eq!(outcome(&parse_pairs_csv(&text)), Err(Kind::Parse(bad_row + 2)));
    }

    #[test]
    fn read_pairs_csv_on_random_bytes_gives_parse_or_empty_errors(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            csv_like().prop_flat_map(|t| {
                let b = t.into_bytes();
                let len = b.len();
                (Just(b), 0..=len, any::<u8>()).prop_map(|(mut b, at, x)| {
                    b.insert(at, x);
                    b
                })
            }),
        ],
    ) {
        let path = scratch(&format!("pairs-{}.csv", bytes.len()));
        std::fs::write(&path, &bytes).unwrap();
        let r = read_pairs_csv(&path);
        std::fs::remove_file(&path).unwrap();
        match std::str::from_utf8(&bytes) {
            Ok(text) => check_parsed(text, &r)?,
            Err(e) => {
                // Read as a stream: the first problem in file order, at the bad byte's line
                // or before it.
                let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
                prop_assert!(
                    matches!(outcome(&r), Err(Kind::Parse(l)) if (1..=line).contains(&l)),
                    "{:?}, bad byte on line {}", outcome(&r), line
                );
            }
        }
    }

    #[test]
    fn write_predictions_csv_rejects_bad_input_and_writes_nothing(
        n in 0usize..10, m in near(5), bad in proptest::option::of((any::<proptest::sample::Index>(), non_finite())),
    ) {
        let pairs: Vec<(usize, usize)> = (0..n).map(|k| (k, k + 1)).collect();
        let mut probs: Vec<f32> = (0..m).map(|k| k as f32 / 10.0).collect();
        let path = scratch(&format!("predictions-{n}-{m}.csv"));
        let _ = std::fs::remove_file(&path);
        let expected = if m != n {
            Some(Kind::Rows("probabilities", n, m))
        } else if let (Some((at, v)), true) = (bad, m > 0) {
            let row = at.index(m);
            probs[row] = v;
            Some(Kind::NonFinite("probabilities", row, 0))
        } else {
            None
        };
        let r = write_predictions_csv(&path, &pairs, &probs);
        match expected {
            Some(k) => {
                prop_assert_eq!(outcome(&r), Err(k));
                prop_assert!(!path.exists());
            }
            None => prop_assert!(r.is_ok()),
        }
        let _ = std::fs::remove_file(&path);
    }
}

#[cfg(feature = "npy")]
proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn read_embeddings_npy_never_panics_on_random_or_mutated_bytes(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..128),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|t| [&b"\x93NUMPY\x01\x00"[..], &t].concat()),
            (1usize..5, 1usize..5, any::<bool>(), any::<bool>(), any::<bool>(),
             proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
             any::<proptest::sample::Index>())
                .prop_map(|(n, d, f64s, big, f, edits, cut)| {
                    let mut b = npy_of(&filled(n, d, 0.0), f64s, big, f);
                    for (at, x) in edits {
                        let i = at.index(b.len());
                        b[i] = x;
                    }
                    let keep = b.len() - cut.index(b.len() / 4 + 1);
                    b.truncate(keep);
                    b
                }),
        ],
    ) {
        let r = read_npy_bytes(&format!("random-{}.npy", bytes.len()), &bytes);
        match r {
            Ok(m) => prop_assert!(m.nrows() > 0 && m.ncols() > 0 && m.iter().all(|v| v.is_finite())),
            Err(e) => prop_assert!(
                matches!(kind(&e), Kind::Format | Kind::Empty("embeddings") | Kind::NonFinite("embeddings", _, _)),
                "{e:?}"
            ),
        }
    }

    #[test]
    fn read_embeddings_npy_names_the_non_finite_cell(
        ((n, d), (row, col), v, f64s, big, fortran_order) in (1usize..8, 1usize..6).prop_flat_map(|(n, d)| (
            Just((n, d)), (0..n, 0..d), non_finite(), any::<bool>(), any::<bool>(), any::<bool>(),
        )),
    ) {
        let mut m = filled(n, d, 0.0);
        m[[row, col]] = v;
        let r = read_npy_bytes(&format!("nan-{n}-{d}-{row}-{col}.npy"), &npy_of(&m, f64s, big, fortran_order));
        prop_assert_eq!(outcome(&r), Err(Kind::NonFinite("embeddings", row, col)));
    }

    #[test]
    fn read_embeddings_npy_rejects_wrong_shapes_and_dtypes(
        shape in proptest::collection::vec(0usize..4, 0..4),
        descr in prop_oneof![Just("<f4"), Just("<f8"), Just("<i4"), Just("<f2"), Just("|u1"), Just("<c8")],
    ) {
        let item = match descr { "<f8" | "<c8" => 8, "<f4" | "<i4" => 4, "<f2" => 2, _ => 1 };
        let len: usize = shape.iter().product();
        let r = read_npy_bytes(
            &format!("shape-{}-{descr}.npy", shape.len()),
            &npy(descr, false, &shape, &vec![0u8; len * item]),
        );
        let float = matches!(descr, "<f4" | "<f8");
        if shape.len() != 2 || !float {
            prop_assert_eq!(outcome(&r), Err(Kind::Format));
        } else if len == 0 {
            prop_assert_eq!(outcome(&r), Err(Kind::Empty("embeddings")));
        } else {
            prop_assert_eq!(r.unwrap().dim(), (shape[0], shape[1]));
        }
    }
}

/// Regression: a tiny `.npy` file whose header declares a huge shape made ndarray-npy
/// allocate the whole array before reading (a 128-byte file asked for 4 TB and aborted
/// the process). It is now a format error, found before any allocation.
#[cfg(feature = "npy")]
#[test]
fn npy_header_with_a_huge_shape_is_a_format_error_not_an_allocation() {
    for (shape, data) in [
        (vec![1_000_000_000_000usize, 1], 0usize),
        (vec![100_000_000, 10], 16),
        (vec![1 << 40, 1 << 40], 8),
        (vec![usize::MAX, 2], 0),
        (vec![3, 2], 23),
    ] {
        let r = read_npy_bytes("huge.npy", &npy("<f4", false, &shape, &vec![0u8; data]));
        assert_eq!(outcome(&r), Err(Kind::Format), "shape {shape:?}");
    }
}

#[cfg(feature = "npy")]
#[test]
fn item_pairs_from_files_reports_each_bad_file() {
    use sympair::io::write_embeddings_npy;
    let npy_path = scratch("items.npy");
    let csv_path = scratch("pairs.csv");
    write_embeddings_npy(&npy_path, filled(3, 2, 0.0).view()).unwrap();
    std::fs::write(&csv_path, "i,j,label\n0,1,1\n1,2,0\n").unwrap();
    assert!(ItemPairs::from_files(&npy_path, &csv_path).is_ok());

    let missing = scratch("missing.npy");
    assert_eq!(
        outcome(&ItemPairs::from_files(&missing, &csv_path)),
        Err(Kind::Io)
    );
    assert_eq!(
        outcome(&ItemPairs::from_files(&npy_path, scratch("missing.csv"))),
        Err(Kind::Io)
    );

    let garbage = scratch("garbage.npy");
    std::fs::write(&garbage, b"not an npy file").unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&garbage, &csv_path)),
        Err(Kind::Format)
    );

    let bad_csv = scratch("bad.csv");
    std::fs::write(&bad_csv, "i,j,label\n0,1,1\n1,2,0.5\n").unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&npy_path, &bad_csv)),
        Err(Kind::Parse(3))
    );

    let out_of_range = scratch("range.csv");
    std::fs::write(&out_of_range, "i,j,label\n0,1,1\n1,3,0\n").unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&npy_path, &out_of_range)),
        Err(Kind::Range(1, 3, 3))
    );

    let mut nan = filled(3, 2, 0.0);
    nan[[2, 1]] = f32::NAN;
    let nan_path = scratch("nan.npy");
    write_embeddings_npy(&nan_path, nan.view()).unwrap();
    assert_eq!(
        outcome(&ItemPairs::from_files(&nan_path, &csv_path)),
        Err(Kind::NonFinite("embeddings", 2, 1))
    );
}

// ---------------------------------------------------------------------------------------
// sympair::metrics
// ---------------------------------------------------------------------------------------

/// The validation every metric shares, in its documented order.
fn expected_metric_input(scores: &[f32], labels: &[f32]) -> Option<Kind> {
    if labels.len() != scores.len() {
        Some(Kind::Rows("labels", scores.len(), labels.len()))
    } else if scores.is_empty() {
        Some(Kind::Empty("scores"))
    } else if let Some(row) = scores.iter().position(|s| !s.is_finite()) {
        Some(Kind::NonFinite("scores", row, 0))
    } else {
        labels
            .iter()
            .position(|&t| t != 0.0 && t != 1.0)
            .map(Kind::Label)
    }
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn metrics_reject_bad_scores_and_labels(
        (n, m) in (0usize..30).prop_flat_map(|n| (Just(n), near(n))),
        bad_score in proptest::option::of((any::<proptest::sample::Index>(), non_finite())),
        bad_labels in proptest::collection::vec((any::<proptest::sample::Index>(), bad_label()), 0..3),
        classes in 0u8..3,
        threshold in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), -2.0f32..2.0],
    ) {
        let mut scores: Vec<f32> = (0..n).map(|k| ((k * 5) % 7) as f32 - 3.0).collect();
        // classes: 0 = negatives only, 1 = positives only, 2 = both.
        let mut labels: Vec<f32> = (0..m).map(|k| match classes { 0 => 0.0, 1 => 1.0, _ => (k % 2) as f32 }).collect();
        if let (Some((at, v)), true) = (bad_score, n > 0) {
            scores[at.index(n)] = v;
        }
        if m > 0 {
            for (at, t) in bad_labels {
                labels[at.index(m)] = t;
            }
        }
        let expected = expected_metric_input(&scores, &labels);
        let pos = labels.contains(&1.0);
        let neg = labels.contains(&0.0);
        let want = |undefined: Option<Kind>| expected.clone().or(undefined);

        let check = |r: Result<(), Kind>, want: Option<Kind>| -> Result<(), TestCaseError> {
            match want {
                Some(k) => prop_assert_eq!(r, Err(k)),
                None => prop_assert_eq!(r, Ok(())),
            }
            Ok(())
        };
        let both = (!(pos && neg)).then_some(Kind::Undefined("ROC AUC"));
        check(outcome(&roc_auc(&scores, &labels)), want(both))?;
        let both = (!(pos && neg)).then_some(Kind::Undefined("ROC curve"));
        check(outcome(&roc_curve(&scores, &labels)), want(both))?;
        let any_pos = (!pos).then_some(Kind::Undefined("average precision"));
        check(outcome(&average_precision(&scores, &labels)), want(any_pos))?;
        check(outcome(&log_loss_from_logits(&scores, &labels)), want(None))?;
        let nan = threshold.is_nan().then_some(Kind::Config("threshold"));
        check(outcome(&confusion_at(&scores, &labels, threshold)), want(nan))?;
        for criterion in [ThresholdCriterion::Accuracy, ThresholdCriterion::F1] {
            check(outcome(&best_threshold(&scores, &labels, criterion)), want(None))?;
        }
    }

    #[test]
    fn confusion_ratios_stay_in_range_for_any_counts(
        tp in any::<u64>(), fp in any::<u64>(), tn in any::<u64>(), fn_ in any::<u64>(),
        small in any::<bool>(),
    ) {
        let c = if small {
            Confusion { tp: tp % 4, fp: fp % 4, tn: tn % 4, fn_: fn_ % 4 }
        } else {
            Confusion { tp, fp, tn, fn_ }
        };
        for r in [c.accuracy(), c.precision(), c.recall(), c.f1()] {
            prop_assert!((0.0..=1.0).contains(&r), "{c:?}: {r}");
        }
        let mcc = c.mcc();
        prop_assert!(mcc.is_finite() && (-1.0 - 1e-12..=1.0 + 1e-12).contains(&mcc), "{c:?}: {mcc}");
        prop_assert!(c.total() >= c.tp.max(c.fp).max(c.tn).max(c.fn_));
    }
}

// ---------------------------------------------------------------------------------------
// ItemPairs
// ---------------------------------------------------------------------------------------

/// One thing wrong with otherwise valid item pairs.
#[derive(Clone, Debug)]
enum Corruption {
    NoItems,
    ZeroWidth,
    NoPairs,
    NonFinite(usize, usize, f32),
    Label(usize, f32),
    OutOfRange(usize, bool, usize),
    Conflict(usize, bool),
}

fn corruption(n_items: usize, d: usize, n_pairs: usize) -> impl Strategy<Value = Corruption> {
    prop_oneof![
        Just(Corruption::NoItems),
        Just(Corruption::ZeroWidth),
        Just(Corruption::NoPairs),
        (0..n_items, 0..d, non_finite()).prop_map(|(r, c, v)| Corruption::NonFinite(r, c, v)),
        (0..n_pairs, bad_label()).prop_map(|(r, t)| Corruption::Label(r, t)),
        (0..n_pairs, any::<bool>(), 0usize..3)
            .prop_map(|(r, j, extra)| Corruption::OutOfRange(r, j, extra)),
        (0..n_pairs, any::<bool>()).prop_map(|(r, swap)| Corruption::Conflict(r, swap)),
    ]
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn item_pairs_name_the_bad_row(
        ((n_items, d), ids, c, as_rows) in (2usize..8, 1usize..4)
            .prop_flat_map(|(n, d)| (Just((n, d)), proptest::collection::vec((0..n, 0..n), 1..12)))
            .prop_flat_map(|((n, d), ids)| {
                let len = ids.len();
                (Just((n, d)), Just(ids), corruption(n, d, len), any::<bool>())
            }),
    ) {
        // Labels are a function of the unordered pair, so the valid list never conflicts.
        let label = |i: usize, j: usize| ((i + j) % 2) as f32;
        let mut items = filled(n_items, d, 0.0);
        let mut pairs: Vec<(usize, usize, f32)> = ids.iter().map(|&(i, j)| (i, j, label(i, j))).collect();
        let key = |i: usize, j: usize| (i.min(j), i.max(j));
        let expected = match c {
            Corruption::NoItems => {
                items = Array2::zeros((0, d));
                Kind::Empty("items")
            }
            Corruption::ZeroWidth => {
                items = Array2::zeros((n_items, 0));
                Kind::Empty("items (width 0)")
            }
            Corruption::NoPairs => {
                pairs.clear();
                Kind::Empty("pairs")
            }
            Corruption::NonFinite(r, col, v) => {
                items[[r, col]] = v;
                Kind::NonFinite("items", r, col)
            }
            Corruption::Label(row, t) => {
                pairs[row].2 = t;
                Kind::Label(row)
            }
            Corruption::OutOfRange(row, in_j, extra) => {
                let id = n_items + extra;
                if in_j { pairs[row].1 = id } else { pairs[row].0 = id }
                Kind::Range(row, id, n_items)
            }
            Corruption::Conflict(row, swap) => {
                let (i, j, t) = pairs[row];
                let first = pairs.iter().position(|&(a, b, _)| key(a, b) == key(i, j)).unwrap();
                let second = pairs.len();
                pairs.push(if swap { (j, i, 1.0 - t) } else { (i, j, 1.0 - t) });
                let (a, b) = key(i, j);
                Kind::Conflict(a, b, first, second)
            }
        };
        let r = if as_rows {
            let rows: Vec<PairRow> = pairs.iter().map(|&(i, j, label)| PairRow { i, j, label }).collect();
            ItemPairs::from_pair_rows(items, &rows)
        } else {
            ItemPairs::new(items, pairs)
        };
        prop_assert_eq!(outcome(&r), Err(expected));
    }

    #[test]
    fn item_pair_splits_reject_bad_fractions_and_empty_parts(
        ids in proptest::collection::vec((0usize..6, 0usize..6), 1..15),
        fraction in prop_oneof![
            Just(f64::NAN), Just(0.0), Just(1.0), Just(-1.0), Just(f64::INFINITY), Just(1e-300),
            Just(1.0 - 1e-16), 0.0f64..1.0,
        ],
        seed in any::<u64>(),
    ) {
        let pairs = ids.iter().map(|&(i, j)| (i, j, ((i + j) % 2) as f32));
        let data = ItemPairs::new(filled(6, 2, 0.0), pairs).unwrap();
        let valid = fraction > 0.0 && fraction < 1.0;
        let n = data.len();

        let r = data.split_by_pair(fraction, seed);
        if !valid {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("fraction")));
        } else {
            let k = (fraction * n as f64).round() as usize;
            match r {
                Ok((a, b)) => prop_assert_eq!((a.len(), b.len(), k > 0 && k < n), (k, n - k, true)),
                Err(e) => prop_assert!(matches!(kind(&e), Kind::Empty(_)) && (k == 0 || k >= n), "{e:?}"),
            }
        }

        let r = data.split_by_item(fraction, seed);
        if !valid {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("fraction")));
        } else {
            match r {
                Ok((a, b, report)) => {
                    prop_assert!(!a.is_empty() && !b.is_empty());
                    prop_assert!(report.first_items.iter().all(|i| report.second_items.binary_search(i).is_err()));
                }
                Err(e) => prop_assert!(matches!(kind(&e), Kind::Empty(_)), "{e:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// ClusterTask
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn cluster_task_rejects_bad_settings(
        d in 0usize..6,
        k in 0usize..5,
        noise in prop_oneof![
            Just(f32::NAN), Just(f32::INFINITY), Just(-1.0f32), Just(-f32::MIN_POSITIVE),
            Just(0.0), Just(0.5), Just(1e30), Just(f32::MAX),
        ],
        n_pairs in 0usize..20,
        seed in any::<u64>(),
    ) {
        let task = ClusterTask::with_centre_seed(d, k, seed);
        if d == 0 {
            prop_assert_eq!(outcome(&task), Err(Kind::Config("d")));
            return Ok(());
        }
        if k < 2 {
            prop_assert_eq!(outcome(&task), Err(Kind::Config("n_clusters")));
            return Ok(());
        }
        let task = task.unwrap().with_noise(noise);
        if !(noise.is_finite() && noise >= 0.0) {
            prop_assert_eq!(outcome(&task), Err(Kind::Config("noise")));
            return Ok(());
        }
        let r = task.unwrap().generate(n_pairs, seed);
        match r {
            _ if n_pairs == 0 => prop_assert_eq!(outcome(&r), Err(Kind::Empty("n_pairs"))),
            Ok(data) => {
                prop_assert_eq!((data.len(), data.dim()), (n_pairs, d));
                prop_assert!(data.left().iter().chain(data.right()).all(|v| v.is_finite()));
            }
            // Noise near f32::MAX overflows an item: reported, not returned.
            Err(e) => prop_assert!(noise > 1e37 && matches!(kind(&e), Kind::NonFinite(_, _, _)), "{e:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Loss helpers
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    /// The public loss helpers return numbers, not `Result`s; they must not panic on any
    /// input, and stay finite on finite logits with valid labels.
    #[test]
    fn loss_helpers_never_panic(z in any::<f32>(), t in any::<f32>(), w in any::<f32>()) {
        let p = sympair::sigmoid(z);
        prop_assert!(p.is_nan() || (0.0..=1.0).contains(&p));
        let _ = sympair::bce_with_logits(z, t, w);
        let _ = sympair::bce_with_logits_grad(z, t, w);
        if z.is_finite() {
            for t in [0.0, 1.0] {
                prop_assert!(sympair::bce_with_logits(z, t, 1.0).is_finite());
                prop_assert!(sympair::bce_with_logits_grad(z, t, 1.0).is_finite());
            }
        }
    }
}

/// The fixtures themselves are sound: every model predicts finite logits on valid input.
#[test]
fn zoo_models_predict_on_valid_input() {
    let (x, y) = (filled(4, D, 0.3), filled(4, D, 1.7));
    for (k, m) in ZOO.iter().enumerate() {
        let l = m.predict_logits(x.view(), y.view()).unwrap();
        assert!(l.iter().all(|v| v.is_finite()), "model {k}");
    }
}
