//! Rules: how an activation site passes the gradient back.
//!
//! A rule never changes forward values. It replaces the site's local
//! derivative `a'(f)` by something else in the backward pass:
//! - [`TrueGradient`](crate::TrueGradient): the true derivative (plain gradient);
//! - [`LearnedGate`]: the learnable gate `tanh(W ⊙ (f − f_ref))` of the
//!   learned propagation rules, trained by [`Explainer`](crate::Explainer);
//! - [`Recorder`]: the true derivative, recording each site's input on the way.

mod learned;
mod recorder;
mod rectify;

pub use learned::{GateShape, LearnedGate, Plugin};
pub use recorder::{RecordedSite, Recorder};
pub use rectify::RectifyBackend;

use burn::prelude::*;

/// A site output with the forward value `value` whose local derivative with
/// respect to `input` is `local_derivative`.
///
/// `local_derivative` is a constant of this autodiff level (it may still be
/// differentiable at an inner level, which is what the learned rules need).
/// Written as `value + (f·d − detach(f·d))`: the bracket is exactly zero, so
/// forward values are exact, and its derivative with respect to `f` is `d`.
pub(crate) fn with_local_derivative<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    value: Tensor<B, D>,
    local_derivative: Tensor<B, D>,
) -> Tensor<B, D> {
    let product = input * local_derivative;
    value.detach() + (product.clone() - product.detach())
}
