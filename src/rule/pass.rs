//! The pass-through rule.

use burn::prelude::*;

use super::{with_local_derivative, Layer, Rule, Site};
use crate::model::Activation;
use crate::{Error, Result};

/// Relevance (or gradient) passes a site unchanged: local derivative 1 at
/// activations and at batch norms (Zennit's `Pass`, the LRP rule for
/// activations).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass;

impl<B: Backend> Rule<B> for Pass {
    fn activation<const D: usize>(
        &mut self,
        _: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let value = activation.apply(input.clone().detach());
        let one = value.ones_like();
        Ok(with_local_derivative(input, value, one))
    }

    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let value = layer.forward(input.clone().detach());
        if value.dims() != input.dims() {
            return Err(Error::Unsupported(format!(
                "the pass rule cannot pass site {} ({:?}) unchanged: it maps {:?} to {:?}",
                site.index,
                site.kind,
                input.dims(),
                value.dims()
            )));
        }
        Ok(value + (input.clone() - input.detach()))
    }
}
