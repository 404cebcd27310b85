//! The hook a model routes its layers through.
//!
//! A model adopts the hook by writing its forward pass once, generic over a
//! [`Hook`], and calling [`Hook::activate`] wherever it would call `relu(x)`
//! (or another element-wise activation), [`Hook::max_pool2d`] wherever it
//! max-pools, and [`Hook::conv2d`], [`Hook::linear`], [`Hook::batch_norm`],
//! [`Hook::avg_pool2d`] and [`Hook::add`] for its other layers. Each call is
//! a *site*; the [`Rule`] that the crate runs the forward with
//! decides how the site behaves in the backward pass: the true derivative
//! for plain inference and training, a learned gate while
//! [`Explainer`](crate::Explainer) trains its rules, or a hand-made rule
//! (guided backprop, DeepLIFT, the LRP rules). Forward values never depend on
//! the rule, and the model value itself carries no state about it.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//! use learnprop::{Activation, Explainable, Hook};
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
//!     fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
//!         // `hook.linear`, not `Linear::forward`: rules act on the layer,
//!         // and Burn's fused linear op cannot be differentiated twice.
//!         let x = images.flatten(1, 3);
//!         let x = hook.linear(&self.hidden, x);
//!         let x = hook.activate(Activation::Relu, x);
//!         hook.linear(&self.out, x)
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
//! assert_eq!(report.sites.len(), 3); // linear, ReLU, linear
//! # Ok::<(), learnprop::Error>(())
//! ```

use burn::module::AutodiffModule;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

pub use crate::activation::Activation;
use crate::ops::PoolGeometry;
use crate::rule::{Layer, Rule, Traced, TrueGradient};
use crate::Result;

/// What a model calls at each site of its forward pass.
///
/// The crate passes a hook to [`Explainable::forward_hooked`]; each call
/// computes the site's exact forward value and gives the site (its index,
/// kind, name and shape) to the rule in force, which decides its backward
/// pass. Sites are identified by the order of the calls, so a model must
/// call the hook the same number of times, in the same order, with the same
/// per-image shapes for every input of a given size.
///
/// Only [`activate`](Hook::activate) and the max-pools are needed for the
/// gradient-based methods and the learned rules; a layer computed with
/// [`ops`](crate::ops) instead of the hook simply has the true gradient.
/// The LRP rules act on convolutions, linear layers, batch norms, average
/// pools and sums, so a model meant for them routes those through the hook
/// too (the zoo and [`OnnxModel`](crate::onnx::OnnxModel) do).
pub trait Hook<B: Backend> {
    /// An element-wise activation site: `activation` of `input` (shape
    /// `[N, …]`, batch first).
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D>;

    /// A max-pooling site (by default the gradient goes to the first maximum
    /// of each window, as [`ops::max_pool2d_with`](crate::ops::max_pool2d_with)).
    fn max_pool(&mut self, input: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4>;

    /// A site computing an affine [`Layer`] (convolution, linear, batch norm,
    /// average pooling) of `input`.
    fn layer<const D: usize>(&mut self, layer: &Layer<B>, input: Tensor<B, D>) -> Tensor<B, D>;

    /// A site adding two branches, `a + b` (same shapes), as a residual
    /// connection.
    fn add<const D: usize>(&mut self, a: Tensor<B, D>, b: Tensor<B, D>) -> Tensor<B, D>;

    /// Names the next site (e.g. `"layer4.1.conv2"`), so that rules and
    /// layer attributions can select it by name; `""` clears the name.
    fn named(&mut self, name: &str) -> &mut Self;

    /// [`max_pool`](Hook::max_pool) with the settings of a
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

    /// A `burn::nn::conv::Conv2d` layer (same values as
    /// [`ops::conv2d`](crate::ops::conv2d)).
    fn conv2d(&mut self, conv: &Conv2d<B>, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, h, w] = input.dims();
        self.layer(&Layer::of_conv2d(conv, [h, w]), input)
    }

    /// A `burn::nn::Linear` layer (same values as
    /// [`ops::linear`](crate::ops::linear)).
    fn linear<const D: usize>(&mut self, linear: &Linear<B>, input: Tensor<B, D>) -> Tensor<B, D> {
        self.layer(&Layer::of_linear(linear), input)
    }

    /// A `burn::nn::BatchNorm` layer in inference form (same values as
    /// [`ops::batch_norm`](crate::ops::batch_norm)).
    fn batch_norm<const D: usize>(
        &mut self,
        norm: &BatchNorm<B>,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        self.layer(&Layer::of_batch_norm(norm), input)
    }

    /// A `burn::nn::pool::AvgPool2d` layer (same values as
    /// [`ops::avg_pool2d`](crate::ops::avg_pool2d)).
    fn avg_pool2d(&mut self, pool: &AvgPool2d, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, h, w] = input.dims();
        let geometry = PoolGeometry::from_config(
            pool.kernel_size,
            pool.stride,
            &pool.padding,
            pool.ceil_mode,
            [h, w],
        );
        let layer = Layer::AvgPool {
            geometry,
            count_include_pad: pool.count_include_pad,
        };
        self.layer(&layer, input)
    }

    /// A `burn::nn::pool::AdaptiveAvgPool2d` layer.
    fn adaptive_avg_pool2d(
        &mut self,
        pool: &AdaptiveAvgPool2d,
        input: Tensor<B, 4>,
    ) -> Tensor<B, 4> {
        let layer = Layer::AdaptiveAvgPool {
            output: pool.output_size,
        };
        self.layer(&layer, input)
    }

    /// Global average pooling `[N, C, H, W]` → `[N, C, 1, 1]`.
    fn global_avg_pool2d(&mut self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        self.layer(&Layer::AdaptiveAvgPool { output: [1, 1] }, input)
    }
}

/// An image classifier whose layers go through a [`Hook`].
///
/// Implement it once, generic over the backend; the same model value then
/// serves plain inference ([`logits`](Explainable::logits)), the gated
/// backward and the masked forwards of the learned rules, and every
/// hand-made rule.
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
    /// `[N, classes]`, with every activation (and, for the LRP rules, every
    /// layer) computed by the hook.
    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2>;

    /// The forward pass with every site following `rule`.
    ///
    /// # Errors
    /// The first error the rule returned at a site (the rest of the forward
    /// then runs with true derivatives and its logits are dropped).
    fn forward_with<R: Rule<B>>(&self, images: Tensor<B, 4>, rule: &mut R) -> Result<Tensor<B, 2>> {
        let mut traced = Traced::new(rule);
        let logits = self.forward_hooked(images, &mut traced);
        traced.finish()?;
        Ok(logits)
    }

    /// Plain inference: the forward pass with true derivatives.
    fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_hooked(images, &mut Traced::new(&mut TrueGradient))
    }
}

/// A model every method and the learned rules accept on the autodiff
/// backend `B`: an [`Explainable`] Burn module whose inner module (on
/// `B::InnerBackend`, where the learned rules' gates live) is explainable
/// too. Implemented for every such type; write `M: Model<B>` instead of the
/// three bounds.
pub trait Model<B: AutodiffBackend>:
    Explainable<B> + AutodiffModule<B, InnerModule: Explainable<B::InnerBackend>>
{
}

impl<B, M> Model<B> for M
where
    B: AutodiffBackend,
    M: Explainable<B> + AutodiffModule<B>,
    M::InnerModule: Explainable<B::InnerBackend>,
{
}
