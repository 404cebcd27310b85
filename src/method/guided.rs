//! Guided backpropagation and the deconvnet: gradients rectified at every
//! activation.

use burn::module::AutodiffModule;
use burn::prelude::*;

use super::{input_gradient, Method};
use crate::model::{Activation, ActivationHook, Explainable};
use crate::rule::{with_local_derivative, RectifyBackend};
use crate::Result;

/// The hook of both methods: at each activation the incoming gradient `g`
/// becomes `max(g ⊙ mask, 0)`, where `mask` is the true local derivative
/// (guided backprop) or 1 (deconvnet).
struct Rectifying {
    guided: bool,
}

impl<B: RectifyBackend> ActivationHook<B> for Rectifying {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let f = input.clone().detach().inner();
        let mask = if self.guided {
            activation.derivative(f)
        } else {
            f.ones_like()
        };
        let rectified = B::rectify_gradient(input.clone(), mask);
        let one = rectified.ones_like();
        with_local_derivative(rectified, activation.apply(input.detach()), one)
    }
}

/// Guided backpropagation (Springenberg et al. 2015): at each activation the
/// gradient is multiplied by the true local derivative, then negative values
/// are set to 0. Captum: `GuidedBackprop` (the gradient, not × input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuidedBackprop;

/// Deconvnet (Zeiler & Fergus 2014): at each activation negative gradients
/// are set to 0, whatever the forward pass did. Captum: `Deconvolution`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deconvnet;

impl<B, M> Method<B, M> for GuidedBackprop
where
    B: RectifyBackend,
    M: Explainable<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "guided backprop".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        input_gradient(model, images, targets, &mut Rectifying { guided: true })
    }
}

impl<B, M> Method<B, M> for Deconvnet
where
    B: RectifyBackend,
    M: Explainable<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "deconvnet".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        input_gradient(model, images, targets, &mut Rectifying { guided: false })
    }
}
