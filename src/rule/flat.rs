//! The flat and w² rules.

use burn::prelude::*;

use super::relevance::{reciprocal, stabilise, Relevance};
use super::{Layer, Rule, Site};
use crate::validate::non_negative;
use crate::Result;

/// LRP-flat (Lapuschkin et al. 2019): relevance spreads uniformly over each
/// output's receptive field, `R_x = 1ᵀ (R / stab(1ᵀ1))` (every weight and
/// input 1, no bias). Zennit: `Flat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flat {
    stabilizer: f64,
}

/// LRP-w² (Montavon et al. 2017): relevance follows the squared weights,
/// `R_x = (W²)ᵀ (R / stab(W²·1 + b²))`. Zennit: `WSquare`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WSquare {
    stabilizer: f64,
}

impl Flat {
    /// The rule with stabiliser `stabilizer`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a negative
    /// or non-finite value.
    pub fn new(stabilizer: f64) -> Result<Self> {
        non_negative("stabilizer", stabilizer)?;
        Ok(Self { stabilizer })
    }
}

impl WSquare {
    /// The rule with stabiliser `stabilizer`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a negative
    /// or non-finite value.
    pub fn new(stabilizer: f64) -> Result<Self> {
        non_negative("stabilizer", stabilizer)?;
        Ok(Self { stabilizer })
    }
}

/// `R_x = 1 ⊙ ∂g'ᵀ (R / stab(g'(1)))` for the modified layer `g'`.
fn uniform<B: Backend, const D: usize>(
    layer: &Layer<B>,
    modified: Layer<B>,
    input: Tensor<B, D>,
    stabilizer: f64,
) -> Tensor<B, D> {
    let value = layer.forward(input.clone().detach());
    let ones = input.ones_like().detach();
    let mut terms = Relevance::new();
    let z = terms.term(&input, ones.clone(), ones, |c| modified.forward(c));
    let factor = reciprocal(stabilise(z, stabilizer));
    terms.finish(value, vec![factor])
}

impl<B: Backend> Rule<B> for Flat {
    fn layer<const D: usize>(
        &mut self,
        _: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let flat = layer.with_parameters(&|w| w.ones_like(), None);
        Ok(uniform(layer, flat, input, self.stabilizer))
    }
}

impl<B: Backend> Rule<B> for WSquare {
    fn layer<const D: usize>(
        &mut self,
        _: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let square = |w: Tensor<B, 1>| w.powi_scalar(2);
        let squared = layer.with_parameters(&square, Some(&square));
        Ok(uniform(layer, squared, input, self.stabilizer))
    }
}
