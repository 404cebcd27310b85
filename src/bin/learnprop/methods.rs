//! The methods the tool runs, by name.

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use clap::ValueEnum;
use indicatif::ProgressBar;
use learnprop::method::{
    pixel_map, Deconvnet, DeepLiftConfig, EpsilonLrpConfig, GradCamConfig, GuidedBackprop,
    InputXGradient, IntegratedGradientsConfig, Method, NoiseTunnelConfig, OcclusionConfig,
    Saliency,
};
use learnprop::{Cpu, Explainable, ExplainerConfig};

use crate::Failure;

/// An attribution method.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodName {
    /// The learned propagation rules (the paper's settings: 20 Adam steps).
    Learned,
    /// The gradient.
    Saliency,
    /// Gradient × input.
    InputXGradient,
    /// Integrated gradients from a zero baseline, 50 steps.
    IntegratedGradients,
    /// SmoothGrad: the gradient averaged over 50 noisy copies.
    Smoothgrad,
    /// Guided backprop.
    GuidedBackprop,
    /// Deconvnet.
    Deconvnet,
    /// DeepLIFT (rescale rule, zero baseline).
    Deeplift,
    /// ε-LRP.
    LrpEpsilon,
    /// Grad-CAM at the last activation site.
    GradCam,
    /// Occlusion with windows of 1/8 of the image.
    Occlusion,
}

impl MethodName {
    /// The name in the tool's output (as on the command line).
    pub fn label(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// Per-pixel maps `[N, H, W]` of `method` for `images`, ticking `bar`.
pub fn pixel_maps<M>(
    method: MethodName,
    model: &M,
    images: &Tensor<Cpu, 4>,
    targets: &[usize],
    seed: u64,
    bar: &ProgressBar,
) -> Result<Tensor<Cpu, 3>, Failure>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<<Cpu as AutodiffBackend>::InnerBackend>,
{
    let text = |e: learnprop::Error| e.to_string();
    let [_, c, h, w] = images.dims();
    let boxed: Box<dyn Method<Cpu, M>> = match method {
        MethodName::Learned => {
            let explainer = ExplainerConfig::new().init::<Cpu>().map_err(text)?;
            bar.set_length(explainer.config().iterations as u64);
            let out = explainer
                .attribute_with_progress(model, images, targets, |p| {
                    bar.set_position(p.iteration as u64)
                })
                .map_err(text)?;
            return Ok(out.signed);
        }
        MethodName::Saliency => Box::new(Saliency::signed()),
        MethodName::InputXGradient => Box::new(InputXGradient),
        MethodName::IntegratedGradients => {
            Box::new(IntegratedGradientsConfig::new().init().map_err(text)?)
        }
        MethodName::Smoothgrad => Box::new(
            NoiseTunnelConfig::new()
                .with_seed(seed)
                .init(Saliency::signed())
                .map_err(text)?,
        ),
        MethodName::GuidedBackprop => Box::new(GuidedBackprop),
        MethodName::Deconvnet => Box::new(Deconvnet),
        MethodName::Deeplift => Box::new(DeepLiftConfig::new().init().map_err(text)?),
        MethodName::LrpEpsilon => Box::new(EpsilonLrpConfig::new().init().map_err(text)?),
        MethodName::GradCam => Box::new(GradCamConfig::new().init()),
        MethodName::Occlusion => {
            let window = [c, h.div_ceil(8).max(1), w.div_ceil(8).max(1)];
            let stride = [c, window[1].div_ceil(2), window[2].div_ceil(2)];
            Box::new(OcclusionConfig::new(window, stride).init().map_err(text)?)
        }
    };
    bar.set_length(1);
    let map = boxed.attribute(model, images, targets).map_err(text)?;
    bar.set_position(1);
    Ok(pixel_map(map))
}
