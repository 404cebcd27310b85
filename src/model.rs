//! The hook a model routes its activations through.
//!
//! A model adopts the hook by writing its forward pass once, generic over an
//! [`ActivationHook`], and calling [`ActivationHook::activate`] wherever it
//! would call `relu(x)` (or another element-wise activation), and
//! [`ActivationHook::max_pool2d`] wherever it max-pools. The hook decides,
//! at call time, how that site behaves in the backward pass: the true
//! derivative for plain inference and training, a learned gate while
//! [`Explainer`](crate::Explainer) trains its rules, or a hand-made rule. The
//! model value itself carries no state about it.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//! use learnprop::{ops, Activation, ActivationHook, Explainable};
//!
//! #[derive(Module, Debug)]
//! struct TinyMlp<B: Backend> {
//!     hidden: Linear<B>,
//!     out: Linear<B>,
//! }
//!
//! impl<B: Backend> Explainable<B> for TinyMlp<B> {
//!     fn input_channels(&self) -> usize {
//!         1
//!     }
//!     fn input_size(&self) -> Option<[usize; 2]> {
//!         Some([2, 2])
//!     }
//!     fn forward_hooked<H: ActivationHook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
//!         // `ops::linear`, not `Linear::forward`: Burn's fused linear op
//!         // cannot be differentiated twice, as the learned rules need.
//!         let x = images.flatten(1, 3);
//!         let x = hook.activate(Activation::Relu, ops::linear(&self.hidden, x));
//!         ops::linear(&self.out, x)
//!     }
//! }
//!
//! let device = Default::default();
//! let model = TinyMlp::<learnprop::Cpu> {
//!     hidden: LinearConfig::new(4, 8).init(&device),
//!     out: LinearConfig::new(8, 3).init(&device),
//! };
//! let logits = model.logits(Tensor::zeros([5, 1, 2, 2], &device));
//! assert_eq!(logits.dims(), [5, 3]);
//!
//! // The adoption check: sites, batch independence, a double backward.
//! let report = learnprop::check_model(&model, &Tensor::ones([2, 1, 2, 2], &device))?;
//! assert_eq!(report.sites.len(), 1);
//! # Ok::<(), learnprop::Error>(())
//! ```

use burn::prelude::*;
use burn::tensor::activation;

use burn::nn::pool::MaxPool2d;

use crate::ops::{sigmoid, PoolGeometry};

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

/// What a model calls at each activation site.
///
/// Implementations decide how the site passes the gradient back. Sites are
/// identified by the order of the calls in one forward pass, so a model must
/// call the hook the same number of times, in the same order, with the same
/// per-image shapes for every input of a given size.
pub trait ActivationHook<B: Backend> {
    /// Computes the output of one activation site whose input is `input`
    /// (shape `[N, …]`, batch first).
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D>;

    /// Computes a max-pooling site. The default is
    /// [`ops::max_pool2d_with`](crate::ops::max_pool2d_with) (gradient to the
    /// first maximum of each window); rules with a max-pool rule of their own
    /// (DeepLIFT, ε-LRP) override it.
    fn max_pool(&mut self, input: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4> {
        crate::ops::max_pool2d_with(input, geometry)
    }

    /// [`max_pool`](ActivationHook::max_pool) with the settings of a
    /// `burn::nn::pool::MaxPool2d` layer.
    ///
    /// # Panics
    /// For a layer with dilation, and as
    /// [`ops::max_pool2d_with`](crate::ops::max_pool2d_with); the crate's
    /// entry points return that as
    /// [`Error::ModelPanicked`](crate::Error::ModelPanicked).
    fn max_pool2d(&mut self, pool: &MaxPool2d, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let geometry = crate::ops::max_pool_layer_geometry(pool, &input);
        self.max_pool(input, &geometry)
    }
}

/// The ordinary network: every site applies its activation with its true
/// derivative.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrueGradient;

impl<B: Backend> ActivationHook<B> for TrueGradient {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        activation.apply(input)
    }
}

/// An image classifier whose activations go through an [`ActivationHook`].
///
/// Implement it once, generic over the backend; the same model value then
/// serves plain inference ([`logits`](Explainable::logits)), the gated
/// backward and the masked forwards of the learned rules, and every hand-made
/// rule.
pub trait Explainable<B: Backend>: burn::module::Module<B> {
    /// Number of input channels the model reads.
    fn input_channels(&self) -> usize;

    /// The spatial size `[height, width]` the model needs, or `None` if it
    /// accepts any size.
    fn input_size(&self) -> Option<[usize; 2]> {
        None
    }

    /// The smallest `[height, width]` the model accepts when
    /// [`input_size`](Explainable::input_size) is `None` (pooling layers
    /// need a minimum).
    fn min_input_size(&self) -> [usize; 2] {
        [1, 1]
    }

    /// The forward pass from images `[N, C, H, W]` to pre-softmax logits
    /// `[N, classes]`, with every element-wise activation computed by
    /// `hook.activate`.
    fn forward_hooked<H: ActivationHook<B>>(
        &self,
        images: Tensor<B, 4>,
        hook: &mut H,
    ) -> Tensor<B, 2>;

    /// Plain inference: the forward pass with true derivatives.
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_hooked(images, &mut TrueGradient)
    }
}
