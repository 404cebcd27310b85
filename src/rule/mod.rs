//! Rules: how a site passes the gradient (or relevance) back, and
//! composites that say which rule goes where.
//!
//! A rule never changes forward values; it replaces a site's backward pass.
//! Every [`Hook`](crate::Hook) call of a model is a [`Site`] (index, kind,
//! name, shape); a [`Rule`] has one method per kind of site, each
//! defaulting to the true gradient. The rules:
//!
//! | rule | sites | reference |
//! |---|---|---|
//! | [`TrueGradient`] | all | the plain gradient |
//! | [`Pass`] | activations, batch norms | Zennit `Pass` |
//! | [`Guided`], [`Deconvnet`] | activations | Zennit `ReLUGuidedBackprop`, `ReLUDeconvNet` |
//! | [`Rescale`] | activations, max-pools | DeepLIFT's rescale rule |
//! | [`Epsilon`] | layers, max-pools, sums | Zennit `Epsilon`/`Norm`, Captum `EpsilonRule` |
//! | [`AlphaBeta`] (z⁺ as α1β0) | layers | Zennit `AlphaBeta`, `ZPlus` |
//! | [`Gamma`] | layers | Zennit `Gamma` |
//! | [`ZBox`] | the input layer | Zennit `ZBox` |
//! | [`Flat`], [`WSquare`] | layers | Zennit `Flat`, `WSquare` |
//! | [`LearnedGate`] | activations | the learned rules, trained by [`Explainer`](crate::Explainer) |
//! | [`Recorder`], [`Capture`] | all | record inputs, expose a site's output |
//!
//! A [`Composite`] assigns the stateless ones to sites by kind, index, name
//! or position ([`Select`]) and folds batch norms into their layers where
//! LRP needs it; [`method::RuleGradient`](crate::method::RuleGradient)
//! turns a composite into an attribution method.

mod alpha_beta;
mod builtin;
mod capture;
mod composite;
mod epsilon;
mod flat;
mod gamma;
mod guided;
mod learned;
mod pass;
mod recorder;
mod rectify;
mod relevance;
mod rescale;
mod site;
mod trace;
mod zbox;

pub use alpha_beta::AlphaBeta;
pub use builtin::Builtin;
pub use capture::{Capture, Captured};
pub use composite::{Composed, Composite, Select};
pub use epsilon::Epsilon;
pub use flat::{Flat, WSquare};
pub use gamma::Gamma;
pub use guided::{Deconvnet, Guided};
pub use learned::{GateShape, Granularity, LearnedGate};
pub use pass::Pass;
pub use recorder::{RecordedPool, RecordedSite, Recorder};
pub use rectify::RectifyBackend;
pub use relevance::{reciprocal, stabilise, Relevance};
pub use rescale::Rescale;
pub use site::{Layer, Site, SiteKind};
pub use trace::{Rule, Traced, TrueGradient};
pub use zbox::ZBox;

use burn::prelude::*;

/// A table from site index to value, `None` where `entries` has none.
pub(crate) fn by_site_index<T>(entries: impl Iterator<Item = (usize, T)>) -> Vec<Option<T>> {
    let mut table: Vec<Option<T>> = Vec::new();
    for (index, value) in entries {
        if table.len() <= index {
            table.resize_with(index + 1, || None);
        }
        table[index] = Some(value);
    }
    table
}

/// A site output with the forward value `value` whose local derivative with
/// respect to `input` is `local_derivative`.
///
/// `local_derivative` is a constant of this autodiff level (it may still be
/// differentiable at an inner level, which is what the learned rules need).
/// Written as `value + (f·d − detach(f·d))`: the bracket is exactly zero, so
/// forward values are exact, and its derivative with respect to `f` is `d`.
pub fn with_local_derivative<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    value: Tensor<B, D>,
    local_derivative: Tensor<B, D>,
) -> Tensor<B, D> {
    let product = input * local_derivative;
    value.detach() + (product.clone() - product.detach())
}
