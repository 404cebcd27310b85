//! The element-wise activations a site can compute.

use burn::prelude::*;
use burn::tensor::activation;

use crate::ops::sigmoid;

/// The element-wise activation a site computes in the forward pass.
///
/// Rules never change forward values: a site always outputs
/// `activation.apply(input)`; only its local derivative in the backward pass
/// depends on the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`, as in MobileNet and EfficientNet-Lite.
    Relu6,
    /// The logistic function `1 / (1 + e^{-x})`.
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// `x · sigmoid(x)` (also called swish).
    Silu,
    /// The exact (erf) Gaussian error linear unit `x · Φ(x)`.
    Gelu,
    /// `relu6(x + 3) / 6`, PyTorch's hard sigmoid (as in MobileNetV3).
    HardSigmoid,
    /// `x · relu6(x + 3) / 6`, PyTorch's hard swish (as in MobileNetV3).
    HardSwish,
}

impl Activation {
    /// The activation's value `a(x)`.
    pub fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Silu => x.clone() * sigmoid(x),
            // Burn's `gelu` differentiates as the tanh approximation, and its
            // `div_scalar` backward rounds the divisor through f32; this
            // composite has the exact derivative.
            Activation::Gelu => x
                .clone()
                .mul(
                    x.mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
                        .erf()
                        .add_scalar(1.0),
                )
                .mul_scalar(0.5),
            Activation::HardSigmoid => x.add_scalar(3.0).clamp(0.0, 6.0).mul_scalar(1.0 / 6.0),
            Activation::HardSwish => x
                .clone()
                .mul(x.add_scalar(3.0).clamp(0.0, 6.0))
                .mul_scalar(1.0 / 6.0),
        }
    }

    /// The activation's true local derivative `a'(x)`, as a tensor of the
    /// input's shape. At the kinks of ReLU and ReLU6 it follows PyTorch: the
    /// derivative is 0 at `x = 0` and at `x = 6`.
    pub fn derivative<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => x.greater_elem(0.0).float(),
            Activation::Relu6 => x
                .clone()
                .greater_elem(0.0)
                .float()
                .mul(x.lower_elem(6.0).float()),
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s.clone().mul(s.neg().add_scalar(1.0))
            }
            Activation::Tanh => {
                let t = x.tanh();
                t.clone().mul(t).neg().add_scalar(1.0)
            }
            Activation::Silu => {
                let s = sigmoid(x.clone());
                // d/dx x·σ(x) = σ(x) · (1 + x · (1 − σ(x)))
                let one_minus = s.clone().neg().add_scalar(1.0);
                s.mul(x.mul(one_minus).add_scalar(1.0))
            }
            Activation::Gelu => {
                // d/dx x·Φ(x) = Φ(x) + x·φ(x)
                let cdf = x
                    .clone()
                    .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
                    .erf()
                    .add_scalar(1.0)
                    .mul_scalar(0.5);
                let pdf = x
                    .clone()
                    .powi_scalar(2)
                    .mul_scalar(-0.5)
                    .exp()
                    .mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
                cdf.add(x.mul(pdf))
            }
            // As PyTorch: 0 at x = ±3 for the hard sigmoid; for the hard
            // swish 0 up to -3, (2x + 3)/6 inside, 1 from 3 on.
            Activation::HardSigmoid => x
                .clone()
                .greater_elem(-3.0)
                .float()
                .mul(x.lower_elem(3.0).float())
                .mul_scalar(1.0 / 6.0),
            Activation::HardSwish => {
                let inside = x
                    .clone()
                    .greater_elem(-3.0)
                    .float()
                    .mul(x.clone().lower_elem(3.0).float());
                let above = x.clone().greater_equal_elem(3.0).float();
                inside
                    .mul(x.mul_scalar(2.0).add_scalar(3.0).mul_scalar(1.0 / 6.0))
                    .add(above)
            }
        }
    }
}
