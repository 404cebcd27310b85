//! The generalised γ rule.

use burn::prelude::*;

use super::relevance::{reciprocal, stabilise, Relevance};
use super::{Layer, Rule, Site};
use crate::validate::non_negative;
use crate::Result;

/// The layer with `w + γ·w⁺` (`positive`) or `w + γ·w⁻` for each weight,
/// the bias modified the same way or removed.
fn boosted<B: Backend>(layer: &Layer<B>, gamma: f64, positive: bool, bias: bool) -> Layer<B> {
    let boost = move |t: Tensor<B, 1>| {
        let part = if positive {
            t.clone().clamp_min(0.0)
        } else {
            t.clone().clamp_max(0.0)
        };
        t + part.mul_scalar(gamma)
    };
    layer.with_parameters(&boost, bias.then_some(&boost as &dyn Fn(_) -> _))
}

/// LRP-γ (Montavon et al. 2019), in Zennit's generalised form for inputs of
/// either sign: where the layer's output `z` is positive, relevance follows
/// `z_γ⁺ = (W + γW⁺)x⁺ + (W + γW⁻)x⁻ + (b + γb⁺)`; where it is negative,
/// `z_γ⁻ = (W + γW⁻)x⁺ + (W + γW⁺)x⁻ + (b + γb⁻)`; each term "× input",
/// divided by its stabilised sum. Zennit: `Gamma` (default γ 0.25).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gamma {
    gamma: f64,
    stabilizer: f64,
}

impl Gamma {
    /// The rule with `gamma` (≥ 0) and stabiliser `stabilizer`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for negative or
    /// non-finite values.
    pub fn new(gamma: f64, stabilizer: f64) -> Result<Self> {
        non_negative("gamma", gamma)?;
        non_negative("stabilizer", stabilizer)?;
        Ok(Self { gamma, stabilizer })
    }
}

impl<B: Backend> Rule<B> for Gamma {
    fn layer<const D: usize>(
        &mut self,
        _: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let x = input.clone().detach();
        let value = layer.forward(x.clone());
        let (x_pos, x_neg) = (x.clone().clamp_min(0.0), x.clamp_max(0.0));
        let g = self.gamma;
        let mut terms = Relevance::new();
        let mut term = |x_k: &Tensor<B, D>, part: Layer<B>| {
            terms.term(&input, x_k.clone(), x_k.clone(), |c| part.forward(c))
        };
        let z_up = term(&x_pos, boosted(layer, g, true, true))
            + term(&x_neg, boosted(layer, g, false, false));
        let z_down = term(&x_pos, boosted(layer, g, false, true))
            + term(&x_neg, boosted(layer, g, true, false));
        let up =
            value.clone().greater_elem(0.0).float() * reciprocal(stabilise(z_up, self.stabilizer));
        let down =
            value.clone().lower_elem(0.0).float() * reciprocal(stabilise(z_down, self.stabilizer));
        Ok(terms.finish(value, vec![up.clone(), up, down.clone(), down]))
    }
}
