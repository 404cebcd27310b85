//! The ε rule (LRP-ε; with a small ε, the LRP-0 and "norm" rules).

use burn::prelude::*;

use super::relevance::{reciprocal, stabilise, Relevance};
use super::{Layer, Rule, Site};
use crate::ops::PoolGeometry;
use crate::validate::non_negative;
use crate::Result;

/// LRP-ε (Bach et al. 2015): at a layer with output `z = g(x)`,
/// `R_x = x ⊙ ∂gᵀ (R / stab(z))`, `stab(z) = z + ε·sign z` (sign 0 taken
/// as +1). At a sum `a + b` it splits `R` in proportion, `R_a = a ⊙ R /
/// stab(a + b)`; at a max-pool, `x ⊙ ∂maxᵀ(R / stab(o))`. Zennit:
/// `Epsilon` (default ε 1e-6), and `Norm` at sums and average pools;
/// Captum: `EpsilonRule` (1e-9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epsilon {
    epsilon: f64,
}

impl Epsilon {
    /// The rule with stabiliser `epsilon` (0 gives LRP-0).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) unless
    /// `epsilon` is finite and ≥ 0.
    pub fn new(epsilon: f64) -> Result<Self> {
        non_negative("epsilon", epsilon)?;
        Ok(Self { epsilon })
    }

    /// The stabiliser ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    fn through<B: Backend, const D: usize>(
        &self,
        input: Tensor<B, D>,
        op: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Tensor<B, D> {
        let mut terms = Relevance::new();
        let z = terms.term(&input, input.clone(), input.clone().detach(), op);
        let factor = reciprocal(stabilise(z.clone(), self.epsilon));
        terms.finish(z, vec![factor])
    }
}

impl<B: Backend> Rule<B> for Epsilon {
    fn layer<const D: usize>(
        &mut self,
        _: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        Ok(self.through(input, |x| layer.forward(x)))
    }

    fn max_pool(
        &mut self,
        _: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        Ok(self.through(input, |x| crate::ops::max_pool2d_with(x, geometry)))
    }

    fn add<const D: usize>(
        &mut self,
        _: &Site<'_>,
        a: Tensor<B, D>,
        b: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let mut terms = Relevance::new();
        let za = terms.term(&a, a.clone(), a.clone().detach(), |x| x);
        let zb = terms.term(&b, b.clone(), b.clone().detach(), |x| x);
        let z = za + zb;
        let factor = reciprocal(stabilise(z.clone(), self.epsilon));
        Ok(terms.finish(z, vec![factor.clone(), factor]))
    }
}
