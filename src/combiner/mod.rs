//! Pair combiners: how two item embeddings become one feature row for the head.
//!
//! A [`PairCombiner`] takes two batches `x, y` of shape `(n, d)` and writes
//! `n_views * n` rows of width `output_dim(d)`. Element-wise combiners make one view;
//! [`ConcatSwapAverage`] makes two (`[x|y]` stacked on `[y|x]`), and the classifier
//! averages the head's logits over views. Symmetric combiners produce bit-identical
//! rows for `(x, y)` and `(y, x)` (for multi-view combiners: the same rows in swapped
//! view order), so the whole classifier is exactly symmetric.
//!
//! | combiner | row for `(x, y)` | width | symmetric | subgradient rule |
//! |---|---|---|---|---|
//! | [`Sum`] | `x + y` | `d` | yes | — |
//! | [`Product`] | `x * y` | `d` | yes | — |
//! | [`Max`] | `max(x, y)` | `d` | yes | tie: half to each side; `max(-0, +0) = +0` |
//! | [`AbsDiff`] | `abs(x - y)` | `d` | yes | `0` at `x == y` |
//! | [`SquaredDiff`] | `(x - y)^2` | `d` | yes | — |
//! | [`ConcatSwapAverage`] | `[x\|y]` and `[y\|x]`, logits averaged | `2d` | yes | — |
//! | [`Concat`] | `[x\|y]` | `2d` | **no** (baseline) | — |
//! | [`Similarity`] | one score: cosine, dot, `-L1`, `-L2^2` | `1` | yes | `0` at `x == y` for `-L1` |
//! | [`Stack`] | its parts side by side | sum of parts | if every part is | per part |
//!
//! The [`Combiner`] enum names the built-ins and is what a saved model stores; any type
//! implementing [`PairCombiner`] can be used in its place.

mod abs_diff;
mod concat;
mod max;
mod product;
mod similarity;
mod squared_diff;
mod stack;
mod sum;

pub use abs_diff::AbsDiff;
pub use concat::{Concat, ConcatSwapAverage};
pub use max::Max;
pub use product::Product;
pub use similarity::Similarity;
pub use squared_diff::SquaredDiff;
pub use stack::Stack;
pub use sum::Sum;

use std::fmt;

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Turns a batch of pairs `(x_i, y_i)` into feature rows for the head.
///
/// Implementors are stateless and have no trainable parameters. The trait is object safe
/// (`Box<dyn PairCombiner>` works) and `Send + Sync`.
///
/// # Contract
/// * `forward(x, y, out)`: `x`, `y` are `(n, d)`; `out` is `(n_views() * n, output_dim(d))`.
///   View `v` of pair `i` is row `v * n + i`.
/// * `backward(x, y, grad, dx, dy)`: `grad` has the shape of `out`; the gradients of the
///   loss with respect to `x` and `y` are **added** to `dx` and `dy` (shape `(n, d)`).
/// * Both return [`Error::RowMismatch`]/[`Error::WidthMismatch`] on wrong shapes; use
///   [`PairCombiner::check_forward`] and [`PairCombiner::check_backward`].
/// * A symmetric combiner must give, for `(y, x)`, the rows it gives for `(x, y)` bit for
///   bit (with views permuted), and mirrored gradients (`dx` and `dy` swapped).
///
/// ```
/// use ndarray::array;
/// use sympair::{AbsDiff, PairCombiner};
/// let x = array![[1.0f32, -2.0]];
/// let y = array![[3.0f32, 5.0]];
/// assert_eq!(AbsDiff.combine(x.view(), y.view())?, array![[2.0f32, 7.0]]);
/// # Ok::<(), sympair::Error>(())
/// ```
///
/// `is_symmetric` has no default: an implementation must say whether it is symmetric.
///
/// ```compile_fail,E0046
/// use ndarray::{ArrayView2, ArrayViewMut2};
/// use sympair::{PairCombiner, Result};
///
/// #[derive(Debug)]
/// struct First; // `x` only: not symmetric, and it forgot to say so.
///
/// impl PairCombiner for First {
///     fn name(&self) -> String { "first".into() }
///     fn output_dim(&self, d: usize) -> usize { d }
///     fn forward(&self, x: ArrayView2<f32>, _y: ArrayView2<f32>, mut out: ArrayViewMut2<f32>) -> Result<()> {
///         out.assign(&x);
///         Ok(())
///     }
///     fn backward(&self, _x: ArrayView2<f32>, _y: ArrayView2<f32>, g: ArrayView2<f32>,
///                 mut dx: ArrayViewMut2<f32>, _dy: ArrayViewMut2<f32>) -> Result<()> {
///         dx += &g;
///         Ok(())
///     }
/// }
/// ```
pub trait PairCombiner: Send + Sync + fmt::Debug {
    /// Short name for tables and logs.
    fn name(&self) -> String;

    /// Width of each output row for input width `d`.
    fn output_dim(&self, d: usize) -> usize;

    /// Number of views per pair (rows per pair in the output). Default 1.
    fn n_views(&self) -> usize {
        1
    }

    /// Whether `f(x, y) == f(y, x)` holds exactly (see the contract above). Required, with
    /// no default: a wrong `true` would report an order-dependent model as symmetric, and
    /// the symmetry tests select the combiners they check by this flag.
    fn is_symmetric(&self) -> bool;

    /// Whether every output value is `>= 0` (required by the distance head). Default `false`.
    fn output_is_nonnegative(&self) -> bool {
        false
    }

    /// Whether a NaN or infinite input value always yields a non-finite output value. When
    /// `true`, prediction validates the (cached) combined rows instead of re-reading the
    /// inputs, and inspects the inputs only if a combined value is not finite. Default
    /// `false` (inputs are always checked), which is always safe.
    fn propagates_non_finite(&self) -> bool {
        false
    }

    /// How a linear layer applied to this combiner's output splits over the two items.
    /// All-pairs scoring uses it to precompute per-item products. Default
    /// [`LinearDecomposition::None`].
    fn linear_decomposition(&self) -> LinearDecomposition {
        LinearDecomposition::None
    }

    /// Writes the combined rows for the batch into `out`.
    fn forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        out: ArrayViewMut2<f32>,
    ) -> Result<()>;

    /// Adds `dL/dx` and `dL/dy` to `dx` and `dy`, given `grad = dL/d(out)`.
    fn backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        grad: ArrayView2<f32>,
        dx: ArrayViewMut2<f32>,
        dy: ArrayViewMut2<f32>,
    ) -> Result<()>;

    /// Checks the shapes of a [`forward`](PairCombiner::forward) call.
    fn check_forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        out: &ArrayViewMut2<f32>,
    ) -> Result<()> {
        check_pair(x, y)?;
        let (n, d) = x.dim();
        check_dim("out", out.dim(), (self.n_views() * n, self.output_dim(d)))
    }

    /// Checks the shapes of a [`backward`](PairCombiner::backward) call.
    fn check_backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        grad: ArrayView2<f32>,
        dx: &ArrayViewMut2<f32>,
        dy: &ArrayViewMut2<f32>,
    ) -> Result<()> {
        check_pair(x, y)?;
        let (n, d) = x.dim();
        check_dim("grad", grad.dim(), (self.n_views() * n, self.output_dim(d)))?;
        check_dim("dx", dx.dim(), (n, d))?;
        check_dim("dy", dy.dim(), (n, d))
    }

    /// Convenience: allocates the output and runs [`forward`](PairCombiner::forward).
    fn combine(&self, x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_pair(x, y)?;
        let (n, d) = x.dim();
        let shape = (self.n_views().saturating_mul(n), self.output_dim(d));
        // ndarray panics on shapes of more than isize::MAX values; an empty view can be
        // that wide (`(0, 2^62)` with `Concat` asks for width 2^63).
        let values = shape.0.max(1).checked_mul(shape.1.max(1));
        if values.is_none_or(|v| v > isize::MAX as usize) {
            return Err(Error::Unsupported(format!(
                "{} output of shape {shape:?} is too large",
                self.name()
            )));
        }
        let mut out = Array2::zeros(shape);
        self.forward(x, y, out.view_mut())?;
        Ok(out)
    }
}

/// How `c W` (a linear layer on a combiner's output `c`) splits into per-item parts, which
/// lets all-pairs scoring compute `x W` once per item instead of `c W` once per pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinearDecomposition {
    /// No split: every pair's row must be formed and multiplied.
    None,
    /// `c = x + y`: `c W = x W + y W`.
    Shared,
    /// `c = [x|y]`: `c W = x W_1 + y W_2`, with `W_1` the first `d` rows of `W`.
    Split,
    /// Two views `[x|y]` and `[y|x]`: `x W_1 + y W_2` and `y W_1 + x W_2`.
    SplitSwap,
}

/// `x` and `y` must have the same shape.
pub(crate) fn check_pair(x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<()> {
    if x.nrows() != y.nrows() {
        return Err(Error::RowMismatch {
            what: "y",
            expected: x.nrows(),
            found: y.nrows(),
        });
    }
    if x.ncols() != y.ncols() {
        return Err(Error::WidthMismatch {
            what: "y",
            expected: x.ncols(),
            found: y.ncols(),
        });
    }
    Ok(())
}

pub(crate) fn check_dim(
    what: &'static str,
    found: (usize, usize),
    expected: (usize, usize),
) -> Result<()> {
    if found.0 != expected.0 {
        return Err(Error::RowMismatch {
            what,
            expected: expected.0,
            found: found.0,
        });
    }
    if found.1 != expected.1 {
        return Err(Error::WidthMismatch {
            what,
            expected: expected.1,
            found: found.1,
        });
    }
    Ok(())
}

/// An element-wise symmetric combiner: `out_ij = op(x_ij, y_ij)`, with a local gradient
/// rule `(g, x, y) -> (dx, dy)`.
pub(crate) trait Elementwise {
    fn op(x: f32, y: f32) -> f32;
    fn grad(x: f32, y: f32, g: f32) -> (f32, f32);
}

pub(crate) fn elementwise_forward<E: Elementwise>(
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    out: ArrayViewMut2<f32>,
) {
    Zip::from(out)
        .and(x)
        .and(y)
        .for_each(|o, &a, &b| *o = E::op(a, b));
}

pub(crate) fn elementwise_backward<E: Elementwise>(
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    grad: ArrayView2<f32>,
    dx: ArrayViewMut2<f32>,
    dy: ArrayViewMut2<f32>,
) {
    Zip::from(dx)
        .and(dy)
        .and(x)
        .and(y)
        .and(grad)
        .for_each(|dx, dy, &a, &b, &g| {
            let (ga, gb) = E::grad(a, b, g);
            *dx += ga;
            *dy += gb;
        });
}

/// Implements [`PairCombiner`] for a unit struct that implements `Elementwise`.
macro_rules! elementwise_combiner {
    ($ty:ident, $name:literal, nonnegative = $nonneg:literal) => {
        $crate::combiner::elementwise_combiner!(
            $ty,
            $name,
            nonnegative = $nonneg,
            linear = None,
            propagates = true
        );
    };
    ($ty:ident, $name:literal, nonnegative = $nonneg:literal, linear = $lin:ident) => {
        $crate::combiner::elementwise_combiner!(
            $ty,
            $name,
            nonnegative = $nonneg,
            linear = $lin,
            propagates = true
        );
    };
    ($ty:ident, $name:literal, nonnegative = $nonneg:literal, propagates = $prop:literal) => {
        $crate::combiner::elementwise_combiner!(
            $ty,
            $name,
            nonnegative = $nonneg,
            linear = None,
            propagates = $prop
        );
    };
    ($ty:ident, $name:literal, nonnegative = $nonneg:literal, linear = $lin:ident,
     propagates = $prop:literal) => {
        impl $crate::combiner::PairCombiner for $ty {
            fn name(&self) -> String {
                $name.to_owned()
            }
            fn output_dim(&self, d: usize) -> usize {
                d
            }
            fn is_symmetric(&self) -> bool {
                // `op` and `grad` of every element-wise combiner are symmetric (see its docs).
                true
            }
            fn output_is_nonnegative(&self) -> bool {
                $nonneg
            }
            fn linear_decomposition(&self) -> $crate::combiner::LinearDecomposition {
                $crate::combiner::LinearDecomposition::$lin
            }
            fn propagates_non_finite(&self) -> bool {
                $prop
            }
            fn forward(
                &self,
                x: ndarray::ArrayView2<f32>,
                y: ndarray::ArrayView2<f32>,
                out: ndarray::ArrayViewMut2<f32>,
            ) -> $crate::error::Result<()> {
                self.check_forward(x, y, &out)?;
                $crate::combiner::elementwise_forward::<$ty>(x, y, out);
                Ok(())
            }
            fn backward(
                &self,
                x: ndarray::ArrayView2<f32>,
                y: ndarray::ArrayView2<f32>,
                grad: ndarray::ArrayView2<f32>,
                dx: ndarray::ArrayViewMut2<f32>,
                dy: ndarray::ArrayViewMut2<f32>,
            ) -> $crate::error::Result<()> {
                self.check_backward(x, y, grad, &dx, &dy)?;
                $crate::combiner::elementwise_backward::<$ty>(x, y, grad, dx, dy);
                Ok(())
            }
        }
    };
}
pub(crate) use elementwise_combiner;

/// The built-in combiners, as stored in a saved model.
///
/// ```
/// use sympair::{Combiner, PairCombiner};
/// assert!(Combiner::AbsDiff.is_symmetric());
/// assert!(!Combiner::Concat.is_symmetric());
/// assert_eq!(Combiner::ConcatSwapAverage.n_views(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Combiner {
    /// [`Sum`]: `x + y`.
    Sum,
    /// [`Product`]: `x * y`.
    Product,
    /// [`Max`]: `max(x, y)`.
    Max,
    /// [`AbsDiff`]: `|x - y|`.
    AbsDiff,
    /// [`SquaredDiff`]: `(x - y)^2`.
    SquaredDiff,
    /// [`Concat`]: `[x|y]`, not symmetric.
    Concat,
    /// [`ConcatSwapAverage`]: `[x|y]` and `[y|x]`, logits averaged.
    ConcatSwapAverage,
    /// [`Similarity`]: one fixed similarity score.
    Similarity(Similarity),
    /// [`Stack`]: several combiners side by side.
    Stack(Stack),
}

impl Combiner {
    /// The seven combiners of the design card, in table order.
    pub fn builtins() -> [Combiner; 7] {
        [
            Combiner::Sum,
            Combiner::Product,
            Combiner::Max,
            Combiner::AbsDiff,
            Combiner::SquaredDiff,
            Combiner::ConcatSwapAverage,
            Combiner::Concat,
        ]
    }

    fn inner(&self) -> &dyn PairCombiner {
        match self {
            Combiner::Sum => &Sum,
            Combiner::Product => &Product,
            Combiner::Max => &Max,
            Combiner::AbsDiff => &AbsDiff,
            Combiner::SquaredDiff => &SquaredDiff,
            Combiner::Concat => &Concat,
            Combiner::ConcatSwapAverage => &ConcatSwapAverage,
            Combiner::Similarity(s) => s,
            Combiner::Stack(s) => s,
        }
    }
}

impl PairCombiner for Combiner {
    fn name(&self) -> String {
        self.inner().name()
    }
    fn output_dim(&self, d: usize) -> usize {
        self.inner().output_dim(d)
    }
    fn n_views(&self) -> usize {
        self.inner().n_views()
    }
    fn is_symmetric(&self) -> bool {
        self.inner().is_symmetric()
    }
    fn output_is_nonnegative(&self) -> bool {
        self.inner().output_is_nonnegative()
    }
    fn linear_decomposition(&self) -> LinearDecomposition {
        self.inner().linear_decomposition()
    }
    fn propagates_non_finite(&self) -> bool {
        self.inner().propagates_non_finite()
    }
    fn forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        out: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.inner().forward(x, y, out)
    }
    fn backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        grad: ArrayView2<f32>,
        dx: ArrayViewMut2<f32>,
        dy: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.inner().backward(x, y, grad, dx, dy)
    }
}

impl fmt::Display for Combiner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
