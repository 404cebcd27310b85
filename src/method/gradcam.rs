//! Grad-CAM (Selvaraju et al. 2017) at an activation site.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::Method;
use crate::input::{check_images, check_logits, check_targets, target_indices};
use crate::model::{Activation, ActivationHook, Explainable};
use crate::ops::separable;
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
}

/// Settings of [`GradCam`].
#[derive(Config, Debug)]
pub struct GradCamConfig {
    /// The activation site whose output is explained, counted from 0 in call
    /// order; `None` takes the last site with spatial dimensions (the usual
    /// "last convolutional layer").
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

/// Passes every site through, except the chosen one, whose output becomes a
/// fresh leaf so that its gradient can be read.
struct Capture<B: Backend> {
    site: Option<usize>,
    next: usize,
    spatial: Vec<usize>,
    captured: Option<Tensor<B, 4>>,
}

impl<B: AutodiffBackend> ActivationHook<B> for Capture<B> {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let index = self.next;
        self.next += 1;
        if D == 4 {
            self.spatial.push(index);
        }
        let out = activation.apply(input);
        if self.site == Some(index) && D == 4 {
            let dims = out.dims();
            let leaf = out
                .detach()
                .reshape([dims[0], dims[1], dims[2], dims[3]])
                .require_grad();
            self.captured = Some(leaf.clone());
            return leaf.reshape(dims);
        }
        out
    }
}

impl<B, M> Method<B, M> for GradCam
where
    B: AutodiffBackend,
    M: Explainable<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "Grad-CAM".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, _, h, w] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let site = match self.config.site {
            Some(site) => site,
            None => {
                let mut probe = Capture::<B> {
                    site: None,
                    next: 0,
                    spatial: Vec::new(),
                    captured: None,
                };
                model.forward_hooked(images.clone().slice(0..1), &mut probe);
                *probe.spatial.last().ok_or_else(|| {
                    Error::Unsupported("Grad-CAM needs an activation site with spatial dimensions; the model has none".into())
                })?
            }
        };
        let mut hook = Capture::<B> {
            site: Some(site),
            next: 0,
            spatial: Vec::new(),
            captured: None,
        };
        let logits = model.forward_hooked(images.clone(), &mut hook);
        check_logits(&logits)?;
        check_targets(targets, n, logits.dims()[1])?;
        let activations = hook.captured.ok_or_else(|| {
            Error::Unsupported(format!(
                "Grad-CAM site {site} is not an activation site with spatial dimensions (spatial sites: {:?})",
                hook.spatial
            ))
        })?;
        let picked = logits.gather(1, target_indices::<B>(targets, &images.device()));
        let grads = picked.sum().backward();
        let gradient = activations
            .grad(&grads)
            .unwrap_or_else(|| activations.clone().inner().zeros_like());
        let a = activations.inner();
        let [_, k, lh, lw] = a.dims();
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
