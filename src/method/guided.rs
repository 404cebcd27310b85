//! Guided backpropagation and the deconvnet: gradients rectified at every
//! activation.

use burn::prelude::*;

use super::{gradient_with, Method, Seed};
use crate::model::Model;
use crate::rule::{Composite, RectifyBackend};
use crate::Result;

/// Guided backpropagation (Springenberg et al. 2015): at each activation the
/// gradient is multiplied by the true local derivative, then negative values
/// are set to 0 ([`Composite::guided`]). Captum: `GuidedBackprop` (the
/// gradient, not × input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuidedBackprop;

/// Deconvnet (Zeiler & Fergus 2014): at each activation negative gradients
/// are set to 0, whatever the forward pass did ([`Composite::deconvnet`]).
/// Captum: `Deconvolution`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deconvnet;

impl<B, M> Method<B, M> for GuidedBackprop
where
    B: RectifyBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "guided backprop".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let composite = Composite::guided();
        gradient_with(model, images, targets, &mut composite.rule(), Seed::Unit)
    }
}

impl<B, M> Method<B, M> for Deconvnet
where
    B: RectifyBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "deconvnet".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let composite = Composite::deconvnet();
        gradient_with(model, images, targets, &mut composite.rule(), Seed::Unit)
    }
}
