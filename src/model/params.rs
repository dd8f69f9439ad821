//! Parameters and gradients as slices: what the optimizer and the flattening helpers see.
//!
//! The visiting order is fixed: encoder layers (weight, then bias, per layer), then the
//! head's layers (or the distance head's log-scale, when it is trained).

use super::PairClassifier;
use crate::combiner::PairCombiner;
use crate::error::{Error, Result};
use crate::head::{Head, HeadGrads};
use crate::mlp::{Mlp, MlpGrads};

/// Gradients of all trainable parameters of a classifier.
#[derive(Clone, Debug)]
pub(crate) struct Grads {
    encoder: Option<MlpGrads>,
    head: HeadGrads,
}

impl Grads {
    /// The head's and the encoder's gradients, for the backward pass.
    pub(super) fn parts_mut(&mut self) -> (&mut HeadGrads, Option<&mut MlpGrads>) {
        (&mut self.head, self.encoder.as_mut())
    }

    /// Every gradient tensor as a slice. The order is that of
    /// [`PairClassifier::visit_params`], except that the distance head's log-scale
    /// gradient is listed even when the scale is frozen.
    pub(crate) fn tensors(&self) -> Vec<&[f32]> {
        fn mlp<'a>(out: &mut Vec<&'a [f32]>, g: &'a MlpGrads) {
            for (dw, db) in g.dw.iter().zip(&g.db) {
                out.push(dw.as_slice().expect("gradients are contiguous"));
                out.push(db.as_slice().expect("gradients are contiguous"));
            }
        }
        let mut out = Vec::new();
        if let Some(g) = &self.encoder {
            mlp(&mut out, g);
        }
        match &self.head {
            HeadGrads::Mlp(g) => mlp(&mut out, g),
            HeadGrads::Distance { d_log_scale } => out.push(std::slice::from_ref(d_log_scale)),
        }
        out
    }

    /// [`tensors`](Self::tensors), mutable.
    pub(crate) fn tensors_mut(&mut self) -> Vec<&mut [f32]> {
        fn mlp<'a>(out: &mut Vec<&'a mut [f32]>, g: &'a mut MlpGrads) {
            for (dw, db) in g.dw.iter_mut().zip(g.db.iter_mut()) {
                out.push(dw.as_slice_mut().expect("gradients are contiguous"));
                out.push(db.as_slice_mut().expect("gradients are contiguous"));
            }
        }
        let mut out = Vec::new();
        if let Some(g) = &mut self.encoder {
            mlp(&mut out, g);
        }
        match &mut self.head {
            HeadGrads::Mlp(g) => mlp(&mut out, g),
            HeadGrads::Distance { d_log_scale } => out.push(std::slice::from_mut(d_log_scale)),
        }
        out
    }
}

impl<C: PairCombiner> PairClassifier<C> {
    /// Zero gradients shaped like this model's parameters.
    pub(crate) fn zero_grads(&self) -> Grads {
        Grads {
            encoder: self.encoder.as_ref().map(Mlp::zero_grads),
            head: self.head.zero_grads(),
        }
    }

    /// Lengths of the parameter tensors, in the order the optimizer keeps its state.
    pub(crate) fn param_shapes(&self) -> Vec<usize> {
        self.zero_grads()
            .tensors()
            .iter()
            .map(|t| t.len())
            .collect()
    }

    /// Visits `(parameter, gradient)` slices in the fixed order (see the module docs).
    /// Without `grads`, the gradient slice passed is empty.
    pub(crate) fn visit_params(
        &mut self,
        grads: Option<&Grads>,
        f: &mut dyn FnMut(&mut [f32], &[f32]),
    ) {
        if let Some(enc) = self.encoder.as_mut() {
            let g = grads.map(|g| g.encoder.as_ref().expect("gradients of the same model"));
            enc.visit_params(g, f);
        }
        self.head.visit_params(grads.map(|g| &g.head), f);
    }

    /// Visits parameter slices read-only, in the order of [`visit_params`](Self::visit_params).
    fn visit_values(&self, f: &mut dyn FnMut(&[f32])) {
        if let Some(enc) = self.encoder.as_ref() {
            enc.visit_values(f);
        }
        self.head.visit_values(f);
    }

    /// All parameters, flattened in visiting order.
    pub(crate) fn flat_params(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.n_params());
        self.copy_params_into(&mut out);
        out
    }

    /// Overwrites `out` with the flattened parameters (no allocation once `out` is large enough).
    pub(crate) fn copy_params_into(&self, out: &mut Vec<f32>) {
        out.clear();
        self.visit_values(&mut |p| out.extend_from_slice(p));
        debug_assert_eq!(out.len(), self.n_params(), "visited every parameter");
    }

    /// Gradients flattened in the order of [`flat_params`](Self::flat_params).
    pub(crate) fn flat_grads(&self, grads: &Grads) -> Vec<f32> {
        let mut tensors = grads.tensors();
        if let Head::Distance(d) = &self.head
            && !d.learns_scale()
        {
            // A frozen scale has a gradient slot but no parameter.
            tensors.pop();
        }
        let out: Vec<f32> = tensors.concat();
        assert_eq!(out.len(), self.n_params(), "one gradient per parameter");
        out
    }

    /// Copies `flat` (from [`flat_params`](Self::flat_params) of the same model) back in.
    /// A length that differs is a bug of this crate, not a user error: it panics.
    pub(crate) fn set_flat_params(&mut self, flat: &[f32]) {
        assert_eq!(
            flat.len(),
            self.n_params(),
            "flat parameters of another model"
        );
        let mut off = 0;
        self.visit_params(None, &mut |p, _| {
            p.copy_from_slice(&flat[off..off + p.len()]);
            off += p.len();
        });
        assert_eq!(off, flat.len(), "visited every parameter");
    }

    /// All trainable parameters, flattened: encoder layers then head, each layer's weight
    /// (row-major, `(d_in, d_out)`) then bias.
    pub fn parameters(&self) -> Vec<f32> {
        self.flat_params()
    }

    /// Replaces all trainable parameters with `values`, in the order of
    /// [`parameters`](Self::parameters). Errors if the length differs or a value is not finite.
    pub fn set_parameters(&mut self, values: &[f32]) -> Result<()> {
        let n = self.n_params();
        if values.len() != n {
            return Err(Error::WidthMismatch {
                what: "parameters",
                expected: n,
                found: values.len(),
            });
        }
        if let Some((col, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "parameters",
                row: 0,
                col,
                value,
            });
        }
        self.set_flat_params(values);
        Ok(())
    }
}
