//! [`Stack`]: several combiners side by side.

use ndarray::{ArrayView2, ArrayViewMut2, s};
use serde::{Deserialize, Serialize};

use super::{Combiner, PairCombiner};
use crate::error::{Error, Result};

/// The concatenation of several combiners' outputs, e.g. `[x + y, x * y, |x - y|]`:
/// output width is the sum of the parts' widths; symmetric when every part is.
///
/// Each element-wise combiner loses information; a stack keeps more. `x + y` and
/// `|x - y|` together recover the unordered pair `{x_i, y_i}` of every coordinate
/// (`max = (s + a) / 2`, `min = (s - a) / 2`). Coordinates stay decoupled, though:
/// `x = (1, 0), y = (0, 1)` and `x = (1, 1), y = (0, 0)` look the same to every
/// element-wise combiner and every stack of them; a shared encoder or
/// [`ConcatSwapAverage`](super::ConcatSwapAverage) tells them apart.
///
/// Parts must make one view each; a multi-view part ([`ConcatSwapAverage`](super::ConcatSwapAverage))
/// is rejected by [`Stack::new`] because its views cannot be laid side by side.
///
/// ```
/// use sympair::{Combiner, PairCombiner, Stack};
/// let stack = Stack::new(vec![Combiner::Sum, Combiner::Product, Combiner::AbsDiff])?;
/// assert_eq!(stack.output_dim(8), 24);
/// assert!(Stack::new(vec![Combiner::ConcatSwapAverage]).is_err());
/// # Ok::<(), sympair::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StackParts", into = "StackParts")]
pub struct Stack {
    parts: Vec<Combiner>,
}

#[derive(Serialize, Deserialize)]
struct StackParts {
    parts: Vec<Combiner>,
}

impl TryFrom<StackParts> for Stack {
    type Error = Error;
    fn try_from(raw: StackParts) -> Result<Self> {
        Stack::new(raw.parts)
    }
}

impl From<Stack> for StackParts {
    fn from(s: Stack) -> Self {
        StackParts { parts: s.parts }
    }
}

impl Stack {
    /// A stack of `parts` (at least one, each making a single view).
    pub fn new(parts: Vec<Combiner>) -> Result<Self> {
        if parts.is_empty() {
            return Err(Error::config("stack", "needs at least one part"));
        }
        if let Some((i, p)) = parts.iter().enumerate().find(|(_, p)| p.n_views() != 1) {
            return Err(Error::Unsupported(format!(
                "stack part {i} ({}) makes {} views; only single-view combiners can be stacked",
                p.name(),
                p.n_views()
            )));
        }
        Ok(Stack { parts })
    }

    /// The parts, in output order.
    pub fn parts(&self) -> &[Combiner] {
        &self.parts
    }
}

impl PairCombiner for Stack {
    fn name(&self) -> String {
        let names: Vec<String> = self.parts.iter().map(|p| p.name()).collect();
        format!("stack[{}]", names.join("+"))
    }
    fn output_dim(&self, d: usize) -> usize {
        // Saturates: a width read from a file must not overflow (no real input is this wide).
        self.parts
            .iter()
            .fold(0, |acc: usize, p| acc.saturating_add(p.output_dim(d)))
    }
    fn is_symmetric(&self) -> bool {
        self.parts.iter().all(|p| p.is_symmetric())
    }
    fn output_is_nonnegative(&self) -> bool {
        self.parts.iter().all(|p| p.output_is_nonnegative())
    }
    fn propagates_non_finite(&self) -> bool {
        // Every part sees all inputs, so one propagating part is enough.
        self.parts.iter().any(|p| p.propagates_non_finite())
    }
    fn forward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        mut out: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_forward(x, y, &out)?;
        let d = x.ncols();
        let mut off = 0;
        for p in &self.parts {
            let w = p.output_dim(d);
            p.forward(x, y, out.slice_mut(s![.., off..off + w]))?;
            off += w;
        }
        Ok(())
    }
    fn backward(
        &self,
        x: ArrayView2<f32>,
        y: ArrayView2<f32>,
        grad: ArrayView2<f32>,
        mut dx: ArrayViewMut2<f32>,
        mut dy: ArrayViewMut2<f32>,
    ) -> Result<()> {
        self.check_backward(x, y, grad, &dx, &dy)?;
        let d = x.ncols();
        let mut off = 0;
        for p in &self.parts {
            let w = p.output_dim(d);
            p.backward(
                x,
                y,
                grad.slice(s![.., off..off + w]),
                dx.view_mut(),
                dy.view_mut(),
            )?;
            off += w;
        }
        Ok(())
    }
}
