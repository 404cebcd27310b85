//! Grad-CAM (Selvaraju et al. 2017) at an activation site.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::Method;
use crate::input::{check_images, check_logits, check_targets, target_indices};
use crate::model::{Explainable, Model};
use crate::ops::separable;
use crate::rule::{Capture, Captured, Select, SiteKind};
use crate::{Error, Result};

/// How a layer map is brought to the image size.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Upsampling {
    /// Bilinear with half-pixel centres (`align_corners = False`), as
    /// `F.interpolate(…, mode='bilinear')`.
    Bilinear,
    /// Nearest neighbour, as `F.interpolate(…, mode='nearest')` (Captum's
    /// `LayerAttribution.interpolate` default).
    Nearest,
    /// Bilinear with the corners aligned (`align_corners = True`), as
    /// `nn.UpsamplingBilinear2d` (Score-CAM's masks in pytorch-grad-cam).
    BilinearAlignCorners,
}

/// Settings of [`GradCam`].
#[derive(Config, Debug)]
pub struct GradCamConfig {
    /// The site whose output is explained, by its index in the forward pass
    /// (as [`check_model`](crate::check_model) lists them; any site with an
    /// `[N, C, H, W]` output); `None` takes the last activation site with
    /// spatial dimensions (the usual "last convolutional layer").
    #[config(default = "None")]
    pub site: Option<usize>,
    /// Apply a ReLU to the map (the paper does; Captum's default does not).
    #[config(default = false)]
    pub relu: bool,
    /// Upsampling to the image size.
    #[config(default = "Upsampling::Bilinear")]
    pub upsampling: Upsampling,
}

impl GradCamConfig {
    /// Builds the method (every setting is valid).
    pub fn init(&self) -> GradCam {
        GradCam {
            config: self.clone(),
        }
    }
}

/// Grad-CAM: at the output `A` (`[N, K, h, w]`) of an activation site, the
/// channel weights are the spatial means of `∂F_t/∂A`, the map is
/// `Σ_k weight_k · A_k` (optionally rectified), upsampled to the image size.
/// Result `[N, 1, H, W]`. Captum: `LayerGradCam(model, layer).attribute(x,
/// target)` then `LayerAttribution.interpolate(map, (H, W), 'bilinear')`.
#[derive(Debug, Clone)]
pub struct GradCam {
    config: GradCamConfig,
}

impl<B, M> Method<B, M> for GradCam
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "Grad-CAM".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, _, h, w] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let site = match self.config.site {
            Some(site) => site,
            None => last_spatial_activation(&model, images)?,
        };
        let capture = Capture::new(Some(Select::Index(site)));
        let (activations, logits) = site_output(&model, images, targets, capture)?;
        let dims = spatial_dims(&activations)?;
        let gradient = logit_gradient(&activations, logits, targets).reshape(dims);
        let a = activations.output.inner().reshape(dims);
        let [_, k, lh, lw] = dims;
        let weights = gradient
            .reshape([n, k, lh * lw])
            .mean_dim(2)
            .reshape([n, k, 1, 1]);
        let mut map = (weights * a).sum_dim(1);
        if self.config.relu {
            map = burn::tensor::activation::relu(map);
        }
        let up = upsample(map, [h, w], self.config.upsampling);
        Ok(Tensor::from_inner(up))
    }
}

/// The index of the last activation site with an `[N, C, H, W]` output.
pub(crate) fn last_spatial_activation<B, M>(model: &M, images: &Tensor<B, 4>) -> Result<usize>
where
    B: AutodiffBackend,
    M: Explainable<B>,
{
    let mut probe = Capture::<B>::new(None);
    model.forward_with(images.clone().slice(0..1), &mut probe)?;
    probe
        .sites()
        .iter()
        .rev()
        .find(|(_, kind, shape)| matches!(kind, SiteKind::Activation(_)) && shape.len() == 3)
        .map(|(index, _, _)| *index)
        .ok_or_else(|| {
            Error::Unsupported(
                "Grad-CAM needs an activation site with spatial dimensions; the model has none"
                    .into(),
            )
        })
}

/// The forward of `images` under `capture`, with the logits and `targets`
/// (one per image) checked: the kept site output and the logits.
pub(crate) fn site_output<B, M>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
    mut capture: Capture<B>,
) -> Result<(Captured<B>, Tensor<B, 2>)>
where
    B: AutodiffBackend,
    M: Explainable<B>,
{
    let logits = model.forward_with(images.clone(), &mut capture)?;
    check_logits(&logits)?;
    check_targets(targets, images.dims()[0], logits.dims()[1])?;
    Ok((capture.into_captured()?, logits))
}

/// `∂(Σ_i F_{t_i})/∂A` at a captured leaf `A`, `[N, elements per image]`.
pub(crate) fn logit_gradient<B: AutodiffBackend>(
    captured: &Captured<B>,
    logits: Tensor<B, 2>,
    targets: &[usize],
) -> Tensor<B::InnerBackend, 2> {
    let indices = target_indices::<B>(targets, &logits.device());
    let grads = logits.gather(1, indices).sum().backward();
    leaf_gradient(&captured.output, &grads)
}

/// The gradient `grads` holds for the leaf `leaf` (zeros if the logits do
/// not depend on it).
pub(crate) fn leaf_gradient<B: AutodiffBackend>(
    leaf: &Tensor<B, 2>,
    grads: &B::Gradients,
) -> Tensor<B::InnerBackend, 2> {
    leaf.grad(grads)
        .unwrap_or_else(|| leaf.clone().inner().zeros_like())
}

/// The `[N, C, H, W]` shape of a captured output with spatial dimensions.
pub(crate) fn spatial_dims<B: AutodiffBackend>(captured: &Captured<B>) -> Result<[usize; 4]> {
    match captured.shape[..] {
        [c, h, w] => Ok([captured.output.dims()[0], c, h, w]),
        _ => Err(Error::Unsupported(format!(
            "site {} ({:?}) has no spatial dimensions: its output is {:?} per image",
            captured.index, captured.kind, captured.shape
        ))),
    }
}

/// `map` `[N, 1, h, w]` to `[N, 1, H, W]` as `R_h · map · R_wᵀ` with PyTorch's
/// interpolation weights.
pub(crate) fn upsample<B: Backend>(
    map: Tensor<B, 4>,
    size: [usize; 2],
    mode: Upsampling,
) -> Tensor<B, 4> {
    let [_, _, h, w] = map.dims();
    let matrix = |out: usize, inp: usize| {
        let mut m = vec![0.0; out * inp];
        let scale = inp as f64 / out as f64;
        for d in 0..out {
            match mode {
                Upsampling::Bilinear => {
                    let s = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
                    let i0 = (s.floor() as usize).min(inp - 1);
                    let i1 = (i0 + 1).min(inp - 1);
                    let lambda = s - i0 as f64;
                    m[d * inp + i0] += 1.0 - lambda;
                    m[d * inp + i1] += lambda;
                }
                Upsampling::BilinearAlignCorners => {
                    let s = if out > 1 {
                        d as f64 * (inp - 1) as f64 / (out - 1) as f64
                    } else {
                        0.0
                    };
                    let i0 = (s.floor() as usize).min(inp - 1);
                    let i1 = (i0 + 1).min(inp - 1);
                    let lambda = s - i0 as f64;
                    m[d * inp + i0] += 1.0 - lambda;
                    m[d * inp + i1] += lambda;
                }
                Upsampling::Nearest => {
                    let i = ((d as f32 * (inp as f32 / out as f32)).floor() as usize).min(inp - 1);
                    m[d * inp + i] = 1.0;
                }
            }
        }
        m
    };
    separable(map, matrix(size[0], h), matrix(size[1], w), size)
}
