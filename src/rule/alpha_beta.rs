//! The αβ rule and z⁺ (αβ with α = 1, β = 0).

use burn::prelude::*;

use super::relevance::{reciprocal, stabilise, Relevance};
use super::{Layer, Rule, Site};
use crate::validate::{non_negative, within};
use crate::Result;

/// The layer with its weights clamped to `≥ 0` (`positive`) or `≤ 0`, and
/// its bias clamped the same way or removed.
pub(crate) fn signed_part<B: Backend>(layer: &Layer<B>, positive: bool, bias: bool) -> Layer<B> {
    let clamp = move |t: Tensor<B, 1>| {
        if positive {
            t.clamp_min(0.0)
        } else {
            t.clamp_max(0.0)
        }
    };
    layer.with_parameters(&clamp, bias.then_some(&clamp as &dyn Fn(_) -> _))
}

/// LRP-αβ (Bach et al. 2015): positive and negative contributions
/// `z⁺ = W⁺x⁺ + W⁻x⁻ + b⁺` and `z⁻ = W⁻x⁺ + W⁺x⁻ + b⁻` are normalised
/// separately, `R_x = α·(x⁺ ⊙ W⁺ᵀ + x⁻ ⊙ W⁻ᵀ)(R / stab z⁺) −
/// β·(x⁺ ⊙ W⁻ᵀ + x⁻ ⊙ W⁺ᵀ)(R / stab z⁻)`, with α − β = 1. Zennit:
/// `AlphaBeta` (and `ZPlus` for α = 1, β = 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlphaBeta {
    alpha: f64,
    beta: f64,
    stabilizer: f64,
}

impl AlphaBeta {
    /// The rule with `alpha`, `beta` (both ≥ 0, `alpha − beta = 1`) and
    /// stabiliser `stabilizer` (Zennit's default 1e-6).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for negative or
    /// non-finite values or `alpha − beta ≠ 1`.
    pub fn new(alpha: f64, beta: f64, stabilizer: f64) -> Result<Self> {
        non_negative("alpha", alpha)?;
        non_negative("beta", beta)?;
        non_negative("stabilizer", stabilizer)?;
        within(
            "alpha - beta",
            alpha - beta,
            1.0 - 1e-12..=1.0 + 1e-12,
            "alpha - beta = 1 (conservation)",
        )?;
        Ok(Self {
            alpha,
            beta,
            stabilizer,
        })
    }

    /// z⁺ (Zennit's `ZPlus`): α = 1, β = 0.
    ///
    /// # Errors
    /// As [`AlphaBeta::new`], for the stabiliser.
    pub fn z_plus(stabilizer: f64) -> Result<Self> {
        Self::new(1.0, 0.0, stabilizer)
    }
}

impl<B: Backend> Rule<B> for AlphaBeta {
    fn layer<const D: usize>(
        &mut self,
        _: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let value = layer.forward(input.clone().detach());
        let x = input.clone().detach();
        let (x_pos, x_neg) = (x.clone().clamp_min(0.0), x.clamp_max(0.0));
        let positive = signed_part(layer, true, true);
        let negative = signed_part(layer, false, false);
        let mut terms = Relevance::new();
        let mut term = |x_k: &Tensor<B, D>, part: &Layer<B>| {
            terms.term(&input, x_k.clone(), x_k.clone(), |c| part.forward(c))
        };
        let z_pos = term(&x_pos, &positive) + term(&x_neg, &negative);
        let f_pos = reciprocal(stabilise(z_pos, self.stabilizer)).mul_scalar(self.alpha);
        let mut factors = vec![f_pos.clone(), f_pos];
        if self.beta != 0.0 {
            let positive_nobias = signed_part(layer, true, false);
            let negative_bias = signed_part(layer, false, true);
            let z_neg = term(&x_pos, &negative_bias) + term(&x_neg, &positive_nobias);
            let f_neg = reciprocal(stabilise(z_neg, self.stabilizer)).mul_scalar(-self.beta);
            factors.extend([f_neg.clone(), f_neg]);
        }
        Ok(terms.finish(value, factors))
    }
}
