//! Shared fixtures of the hostile-input suites (`tests/hostile_*.rs`): bad input through
//! every public entry point that takes user data: random shapes (empty, zero-width,
//! mismatched), NaN and infinities at random positions, labels that are not 0 or 1,
//! out-of-range ids, bad settings, and truncated, mutated, wrong-version and wrong-format
//! files. Each call must return the documented, typed error (the variant, and for
//! `NonFinite`, `InvalidLabel` and `ItemOutOfRange` the row and column that was
//! corrupted) and none may panic.
//!
//! The expected error is computed independently of the library, from the order of checks
//! each function documents, and compared with [`Kind`], a comparable summary of an
//! [`Error`]. Every property runs 256 cases ([`cfg`]).

use std::sync::LazyLock;

use ndarray::{Array2, ShapeBuilder};
use proptest::prelude::*;
use proptest::test_runner::Config;
use sympair::{
    Combiner, EncoderConfig, Error, HeadConfig, MlpConfig, PairClassifier, PairDataset, Similarity,
    Stack,
};

// ---------------------------------------------------------------------------------------
// Comparing errors
// ---------------------------------------------------------------------------------------

/// What an error says, in a form that can be compared with `==`.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
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

/// The [`Kind`] of an error.
pub fn kind(e: &Error) -> Kind {
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
pub fn outcome<T>(r: &Result<T, Error>) -> Result<(), Kind> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(kind(e)),
    }
}

/// The value a `NonFinite` or `InvalidLabel` error reports, as bits (NaN payloads aside).
pub fn reported_value(e: &Error) -> Option<f64> {
    match e {
        Error::NonFinite { value, .. } => Some(f64::from(*value)),
        Error::InvalidLabel { value, .. } => Some(*value),
        _ => None,
    }
}

/// The same value: equal bits, or both NaN (whatever the payload).
pub fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

// ---------------------------------------------------------------------------------------
// Strategies and fixtures
// ---------------------------------------------------------------------------------------

/// 256 cases per property.
pub fn cfg() -> Config {
    Config::with_cases(256)
}

/// NaN (both signs) and the two infinities.
pub fn non_finite() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(-f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(f32::from_bits(0x7f80_0001)), // a signalling NaN
    ]
}

/// Labels that are not exactly 0 or 1.
pub fn bad_label() -> impl Strategy<Value = f32> {
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
pub fn near(n: usize) -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(n), 1 => 0..=n + 2]
}

/// A shift applied to a correct dimension: usually 0.
pub fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![6 => Just(0i64), 1 => -2i64..=2]
}

/// `n` shifted by `by`, at least 0.
pub fn shifted(n: usize, by: i64) -> usize {
    (n as i64 + by).max(0) as usize
}

/// A finite matrix with varied values.
pub fn filled(n: usize, d: usize, salt: f32) -> Array2<f32> {
    Array2::from_shape_fn((n, d), |(r, c)| {
        ((r * 7 + c * 3) as f32 * 0.37 + salt).sin() * 2.0
    })
}

/// The same values in column-major (Fortran) layout.
pub fn fortran(m: &Array2<f32>) -> Array2<f32> {
    let mut f = Array2::zeros(m.dim().f());
    f.assign(m);
    f
}

/// `n` valid labels, alternating 0 and 1.
pub fn labels(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 2) as f32).collect()
}

/// Input width of every model of [`ZOO`].
pub const D: usize = 3;

/// Every built-in combiner, each similarity, and two stacks.
pub fn all_combiners() -> Vec<Combiner> {
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
pub static ZOO: LazyLock<Vec<PairClassifier>> = LazyLock::new(|| {
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
pub static ZOO_BYTES: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| ZOO.iter().map(|m| m.to_json_bytes().unwrap()).collect());

/// An index into [`ZOO`].
pub fn zoo_index() -> impl Strategy<Value = usize> {
    0..ZOO.len()
}

/// A valid dataset of width `d` with `n` pairs.
pub fn dataset(n: usize, d: usize) -> PairDataset {
    PairDataset::new(filled(n, d, 0.1), filled(n, d, 1.3), labels(n)).unwrap()
}

/// Where a corrupted cell goes: which matrix, row, column.
pub type Cell = (usize, usize, usize);

/// A cell of one of `sides` matrices of shape `(n, d)`.
pub fn cells(n: usize, d: usize, sides: usize) -> impl Strategy<Value = Cell> {
    (0..sides, 0..n, 0..d)
}
