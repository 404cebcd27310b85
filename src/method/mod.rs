//! Attribution methods behind one trait.
//!
//! Every method maps a batch of images and one target class per image to an
//! attribution of the same height and width: per input element
//! (`[N, C, H, W]`, gradient-type methods and occlusion) or per pixel
//! (`[N, 1, H, W]`: Grad-CAM, RISE, perturbation masks). [`pixel_map`] sums
//! channels. Methods are built from validated `…Config`s; stochastic ones
//! take a seed, and an internal batch size never changes a result.
//!
//! | method | type | Captum / reference |
//! |---|---|---|
//! | [`Saliency`] | gradient | `Saliency` |
//! | [`InputXGradient`] | gradient | `InputXGradient` |
//! | [`IntegratedGradients`] | gradient | `IntegratedGradients` |
//! | [`NoiseTunnel`] (SmoothGrad, SQ-SmoothGrad, VarGrad) | wraps any method | `NoiseTunnel` |
//! | [`GuidedBackprop`], [`Deconvnet`] | rule | `GuidedBackprop`, `Deconvolution` |
//! | [`DeepLift`] | rule | `DeepLift` (rescale), rules as intended |
//! | [`EpsilonLrp`] | rule | `LRP` (ε rule) |
//! | [`RuleGradient`] (any [`Composite`](crate::rule::Composite): z⁺, αβ, γ, zB, flat…) | rule | Zennit `Gradient` + composite |
//! | [`GradCam`] | layer | `LayerGradCam` + `LayerAttribution.interpolate` |
//! | [`GradCamPlusPlus`], [`ScoreCam`] | layer | pytorch-grad-cam `GradCAMPlusPlus`, `ScoreCAM` |
//! | [`LayerGradientXActivation`], [`LayerIntegratedGradients`], [`LayerConductance`] | layer (map of a site's output) | same names |
//! | [`NeuronGradient`], [`NeuronIntegratedGradients`] | neuron (input map of one unit) | same names |
//! | [`Occlusion`] | perturbation | `Occlusion` |
//! | [`Rise`] | perturbation | Petsiuk et al. 2018 (authors' code) |
//! | [`MeaningfulPerturbation`] | perturbation | Fong & Vedaldi 2017 |
//! | [`ExtremalPerturbation`] | perturbation | Fong et al. 2019 (TorchRay) |
//! | [`Explainer`](crate::Explainer) | learned rules | this crate |

mod baseline;
mod cam;
mod deeplift;
mod extremal;
mod gradcam;
mod gradient;
mod guided;
mod integrated;
mod layer;
mod lrp;
mod meaningful;
mod neuron;
mod noise;
mod occlusion;
mod rise;

pub(crate) use baseline::convergence_delta;
pub use baseline::Baseline;
pub use cam::{CamConfig, GradCamPlusPlus, ScoreCam};
pub use deeplift::{DeepLift, DeepLiftConfig};
pub use extremal::{ExtremalPerturbation, ExtremalPerturbationConfig};
pub use gradcam::{GradCam, GradCamConfig, Upsampling};
pub use gradient::{gradient_with, InputXGradient, RuleGradient, Saliency, Seed};
pub use guided::{Deconvnet, GuidedBackprop};
pub use integrated::{IntegratedGradients, IntegratedGradientsConfig, Quadrature};
pub use layer::{LayerConductance, LayerGradientXActivation, LayerIntegratedGradients};
pub use lrp::{EpsilonLrp, EpsilonLrpConfig};
pub use meaningful::{MeaningfulPerturbation, MeaningfulPerturbationConfig};
pub use neuron::{Neuron, NeuronGradient, NeuronIntegratedGradients};
pub use noise::{NoiseKind, NoiseLevel, NoiseTunnel, NoiseTunnelConfig};
pub use occlusion::{Occlusion, OcclusionConfig};
pub use rise::{Rise, RiseConfig, RiseScore, MAX_HELD_MASK_VALUES, MAX_MASK_PIXELS};

pub(crate) use gradient::target_gradient;

use burn::prelude::*;

use crate::guard::catching_model_panics;
use crate::input::check_finite_map;
pub(crate) use crate::validate::{at_least_one, count_within, positive, within};
use crate::Result;

/// An attribution method for models of type `M` on backend `B`.
///
/// Object safe, so a list of methods can be `Vec<Box<dyn Method<B, M>>>`.
pub trait Method<B: Backend, M> {
    /// A short name for tables and pictures (e.g. `"saliency"`).
    fn name(&self) -> String;

    /// Attributes `targets[i]` for each image `images[i]`: the map of
    /// [`compute`](Self::compute), checked to be finite.
    ///
    /// # Shapes
    /// `images` `[N, C, H, W]` → `[N, C, H, W]` or `[N, 1, H, W]`.
    ///
    /// # Errors
    /// Bad images or targets ([`crate::input`]), the method's own, and
    /// [`Error::NonFiniteMap`](crate::Error::NonFiniteMap) naming the
    /// method, the image and the element if the map holds NaN or an
    /// infinity (e.g. a model whose weights make the gradients overflow);
    /// [`Error::ModelPanicked`](crate::Error::ModelPanicked) if the model's
    /// code panics (a layer that does not fit its input, an op Burn cannot
    /// differentiate).
    fn attribute(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Tensor<B, 4>> {
        let name = self.name();
        let map = catching_model_panics(name.as_str(), || self.compute(model, images, targets))?;
        let [_, c, h, w] = map.dims();
        let values: Vec<f64> = map.to_data().iter::<f64>().collect();
        check_finite_map(&name, &values, c * h * w)?;
        Ok(map)
    }

    /// The method itself, as [`attribute`](Self::attribute) describes it,
    /// without the final check of the map; implement this one.
    ///
    /// # Errors
    /// As [`attribute`](Self::attribute), except a non-finite map.
    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>>;
}

/// The per-pixel map `[N, H, W]` of an attribution: the sum over channels.
pub fn pixel_map<B: Backend>(attribution: Tensor<B, 4>) -> Tensor<B, 3> {
    attribution.sum_dim(1).squeeze_dim(1)
}

/// `targets` repeated `times` times, block after block (`[t; t; …]`).
pub(crate) fn repeat_targets(targets: &[usize], times: usize) -> Vec<usize> {
    (0..times).flat_map(|_| targets.iter().copied()).collect()
}
