//! Guided backpropagation's and the deconvnet's activation rules.

use burn::prelude::*;

use super::{with_local_derivative, RectifyBackend, Rule, Site};
use crate::model::Activation;
use crate::Result;

/// Guided backpropagation's rule (Springenberg et al. 2015): at each
/// activation the gradient `g` becomes `max(g ⊙ a'(f), 0)`. Zennit:
/// `ReLUGuidedBackprop`; Captum: `GuidedBackprop`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guided;

/// The deconvnet's rule (Zeiler & Fergus 2014): at each activation the
/// gradient `g` becomes `max(g, 0)`, whatever the forward pass did. Zennit:
/// `ReLUDeconvNet`; Captum: `Deconvolution`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deconvnet;

/// `activation(input)` with the backward `g ↦ max(g ⊙ mask, 0)`, where
/// `mask` is the true local derivative (`guided`) or 1.
fn rectified<B: RectifyBackend, const D: usize>(
    activation: Activation,
    input: Tensor<B, D>,
    guided: bool,
) -> Tensor<B, D> {
    let f = input.clone().detach().inner();
    let mask = if guided {
        activation.derivative(f)
    } else {
        f.ones_like()
    };
    let rectified = B::rectify_gradient(input.clone(), mask);
    let one = rectified.ones_like();
    with_local_derivative(rectified, activation.apply(input.detach()), one)
}

impl<B: RectifyBackend> Rule<B> for Guided {
    fn activation<const D: usize>(
        &mut self,
        _: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        Ok(rectified(activation, input, true))
    }
}

impl<B: RectifyBackend> Rule<B> for Deconvnet {
    fn activation<const D: usize>(
        &mut self,
        _: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        Ok(rectified(activation, input, false))
    }
}
