//! Grad-CAM++ and Score-CAM: class activation maps with other channel
//! weights than Grad-CAM's mean gradient.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::gradcam::{
    last_spatial_activation, logit_gradient, site_output, spatial_dims, upsample, Upsampling,
};
use super::{count_within, Method};
use crate::input::{check_images, check_logits};
use crate::model::{Explainable, Model};
use crate::rule::{Capture, Captured, Select};
use crate::Result;

/// Settings of [`GradCamPlusPlus`] and [`ScoreCam`].
#[derive(Config, Debug)]
pub struct CamConfig {
    /// The site whose output `A` is explained, by index (as
    /// [`check_model`](crate::check_model) lists them); `None`: the last
    /// activation site with spatial dimensions.
    #[config(default = "None")]
    pub site: Option<usize>,
    /// Upsampling of the map to the image size.
    #[config(default = "Upsampling::Bilinear")]
    pub upsampling: Upsampling,
    /// Score-CAM: masked images per forward.
    #[config(default = 16)]
    pub masks_per_batch: usize,
}

impl CamConfig {
    /// Grad-CAM++ with these settings.
    pub fn grad_cam_plus_plus(&self) -> GradCamPlusPlus {
        GradCamPlusPlus {
            config: self.clone(),
        }
    }

    /// Score-CAM with these settings.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for
    /// `masks_per_batch` outside `1..=10⁴`.
    pub fn score_cam(&self) -> Result<ScoreCam> {
        count_within("masks_per_batch", self.masks_per_batch, 10_000, "1 to 10⁴")?;
        Ok(ScoreCam {
            config: self.clone(),
        })
    }

    /// The forward with the explained site's output made a leaf (targets
    /// checked): that output and the logits.
    fn site_output<B: AutodiffBackend, M: Explainable<B>>(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<(Captured<B>, Tensor<B, 2>)> {
        let site = match self.site {
            Some(site) => site,
            None => last_spatial_activation(model, images)?,
        };
        site_output(
            model,
            images,
            targets,
            Capture::new(Some(Select::Index(site))),
        )
    }
}

/// `ReLU(Σ_k w_k A_k)` `[N, 1, h, w]` upsampled to `size`.
fn weighted_map<B: Backend>(
    weights: Tensor<B, 4>,
    a: Tensor<B, 4>,
    size: [usize; 2],
    upsampling: Upsampling,
) -> Tensor<B, 4> {
    let map = burn::tensor::activation::relu((weights * a).sum_dim(1));
    upsample(map, size, upsampling)
}

/// Grad-CAM++ (Chattopadhay et al. 2018): channel weights
/// `w_k = Σ_ij ReLU(g_ij) · α_ij` with `g = ∂F_t/∂A` and
/// `α = g² / (2g² + Σ_ij A · g³ + 10⁻⁶)` (0 where `g = 0`); the map is
/// `ReLU(Σ_k w_k A_k)` upsampled. pytorch-grad-cam: `GradCAMPlusPlus`
/// (whose final min–max scaling to [0, 1] is left to the renderer).
#[derive(Debug, Clone)]
pub struct GradCamPlusPlus {
    config: CamConfig,
}

impl<B, M> Method<B, M> for GradCamPlusPlus
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "Grad-CAM++".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, _, h, w] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let (captured, logits) = self.config.site_output(&model, images, targets)?;
        let dims = spatial_dims(&captured)?;
        let g = logit_gradient(&captured, logits, targets).reshape(dims);
        let a = captured.output.inner().reshape(dims);
        let [_, k, lh, lw] = dims;
        let spatial_sum = |t: Tensor<B::InnerBackend, 4>| {
            t.reshape([n, k, lh * lw]).sum_dim(2).reshape([n, k, 1, 1])
        };
        let g2 = g.clone().powi_scalar(2);
        let g3 = g2.clone() * g.clone();
        let denominator = g2.clone().mul_scalar(2.0) + spatial_sum(a.clone()) * g3;
        let alpha = (g2 / denominator.add_scalar(1e-6)).mask_fill(g.clone().equal_elem(0.0), 0.0);
        let weights = spatial_sum(burn::tensor::activation::relu(g) * alpha);
        let map = weighted_map(weights, a, [h, w], self.config.upsampling);
        Ok(Tensor::from_inner(map))
    }
}

/// Score-CAM (Wang et al. 2020): each channel `A_k` of the site's output,
/// upsampled (corners aligned) and scaled to [0, 1], masks the image; the
/// channel weights are the softmax over channels of the target logits of
/// the masked images; the map is `ReLU(Σ_k w_k A_k)` upsampled.
/// pytorch-grad-cam: `ScoreCAM` (scores and weights there are f32).
#[derive(Debug, Clone)]
pub struct ScoreCam {
    config: CamConfig,
}

impl<B, M> Method<B, M> for ScoreCam
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "Score-CAM".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, c, h, w] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let (captured, _) = self.config.site_output(&model, images, targets)?;
        let dims = spatial_dims(&captured)?;
        let [_, k, _, _] = dims;
        let a = captured.output.inner().reshape(dims);
        let up = upsample(
            a.clone().reshape([n * k, 1, dims[2], dims[3]]),
            [h, w],
            Upsampling::BilinearAlignCorners,
        )
        .reshape([n, k, h * w]);
        let (low, high) = (up.clone().min_dim(2), up.clone().max_dim(2));
        let masks = ((up - low.clone()) / (high - low).add_scalar(1e-8)).reshape([n, k, 1, h, w]);
        let x = images.clone().inner();
        let mut scores = Vec::with_capacity(n);
        for (i, &target) in targets.iter().enumerate() {
            let masked = (x.clone().slice(i..i + 1).reshape([1, 1, c, h, w])
                * masks.clone().slice(i..i + 1))
            .reshape([k, c, h, w]);
            let mut row = Vec::with_capacity(k);
            for start in (0..k).step_by(self.config.masks_per_batch) {
                let end = (start + self.config.masks_per_batch).min(k);
                let batch = Tensor::<B, 4>::from_inner(masked.clone().slice(start..end));
                let logits = model.logits(batch).inner();
                check_logits(&logits)?;
                let column = Tensor::<B::InnerBackend, 2, Int>::full(
                    [end - start, 1],
                    target as i64,
                    &logits.device(),
                );
                row.push(logits.gather(1, column));
            }
            scores.push(Tensor::cat(row, 0).reshape([1, k]));
        }
        let weights =
            burn::tensor::activation::softmax(Tensor::cat(scores, 0), 1).reshape([n, k, 1, 1]);
        let map = weighted_map(weights, a, [h, w], self.config.upsampling);
        Ok(Tensor::from_inner(map))
    }
}
