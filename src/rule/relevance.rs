//! The machinery of the relevance rules: a site whose backward maps the
//! relevance of its output to the relevance of its input.

use burn::prelude::*;

/// `z + ε·sign(z)`, with the sign of 0 taken as +1 (Zennit's and Captum's
/// stabiliser).
pub fn stabilise<B: Backend, const D: usize>(z: Tensor<B, D>, epsilon: f64) -> Tensor<B, D> {
    let sign = z
        .clone()
        .greater_equal_elem(0.0)
        .float()
        .mul_scalar(2.0)
        .sub_scalar(1.0);
    z + sign.mul_scalar(epsilon)
}

/// `1 / d` by a true division (a backend's `recip` may be approximate),
/// and 0 where `d = 0`: a denominator that is exactly 0 (possible only with
/// a stabiliser of 0, e.g. LRP-0 at a max-pool of zeros) passes no
/// relevance instead of turning the forward pass into NaN.
pub fn reciprocal<B: Backend, const D: usize>(d: Tensor<B, D>) -> Tensor<B, D> {
    let zero = d.clone().equal_elem(0.0);
    (d.ones_like() / d.mask_fill(zero.clone(), 1.0)).mask_fill(zero, 0.0)
}

/// Builds a site output whose forward value is exact and whose backward is
/// a relevance rule (Zennit's `BasicHook`): for terms `k` evaluating an op
/// `g_k` at a modified input `x_k` (with modified parameters), the incoming
/// relevance `R` becomes, at the site's input,
/// `Σ_k d_k ⊙ ∂g_kᵀ (R ⊙ f_k)`: `d_k` is the term's reducer factor (`x_k`
/// for the "× input" rules, 1 for flat and w²), `f_k` its output factor
/// (`c_k / stab(…)`, from the terms' output values).
///
/// The backward is exact to the rule's arithmetic; nothing is recomputed in
/// the backward pass, and the forward value passes through untouched.
#[derive(Debug)]
pub struct Relevance<B: Backend, const D: usize> {
    outputs: Vec<Tensor<B, D>>,
}

impl<B: Backend, const D: usize> Default for Relevance<B, D> {
    fn default() -> Self {
        Self {
            outputs: Vec::new(),
        }
    }
}

impl<B: Backend, const D: usize> Relevance<B, D> {
    /// No terms yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the term `g(x_k)` whose gradient reaches `x` (the site's input)
    /// multiplied by `derivative` (`d_k`, a constant of `x`'s shape or
    /// broadcastable to it), and returns the term's output value
    /// (detached), from which the output factors are computed.
    pub fn term(
        &mut self,
        x: &Tensor<B, D>,
        input: Tensor<B, D>,
        derivative: Tensor<B, D>,
        op: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
    ) -> Tensor<B, D> {
        // Value `x_k`, derivative `d_k` with respect to `x`.
        let product = x.clone() * derivative.detach();
        let carrier = input.detach() + (product.clone() - product.detach());
        let output = op(carrier);
        self.outputs.push(output.clone());
        output.detach()
    }

    /// The site's output: forward value `value`, backward
    /// `R ↦ Σ_k d_k ⊙ ∂g_kᵀ (R ⊙ factors[k])`.
    ///
    /// # Panics
    /// If `factors` does not hold one tensor per term (a rule's bug).
    pub fn finish(self, value: Tensor<B, D>, factors: Vec<Tensor<B, D>>) -> Tensor<B, D> {
        assert_eq!(
            factors.len(),
            self.outputs.len(),
            "learnprop::rule::Relevance: one output factor per term"
        );
        let weighted = self
            .outputs
            .into_iter()
            .zip(factors)
            .map(|(output, factor)| output * factor.detach())
            .reduce(|a, b| a + b);
        let value = value.detach();
        match weighted {
            Some(s) => value + (s.clone() - s.detach()),
            None => value,
        }
    }
}
