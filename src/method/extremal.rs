//! Extremal perturbation (Fong, Patrick & Vedaldi 2019).

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;

use super::{at_least_one, positive, within, Method};
use crate::input::{float_tensor, prepare, Prepared};
use crate::model::Model;
use crate::ops::{gaussian_blur, BlurEdges, MAX_BLUR_SIGMA};
use crate::validate::iterations;
use crate::{Error, Result};

/// Settings of [`ExtremalPerturbation`]: TorchRay's defaults at 224 px
/// (`step`, `sigma` and the maximum blur scale with `min(H, W)/224`).
#[derive(Config, Debug)]
pub struct ExtremalPerturbationConfig {
    /// The fraction of the image the mask may keep.
    #[config(default = 0.1)]
    pub area: f64,
    /// SGD iterations.
    #[config(default = 800)]
    pub iterations: usize,
    /// Blur levels of the perturbation pyramid.
    #[config(default = 8)]
    pub levels: usize,
    /// The strongest blur σ of the pyramid, at 224 px.
    #[config(default = 20.0)]
    pub max_blur: f64,
    /// Pixels between mask parameters, at 224 px.
    #[config(default = 7)]
    pub step: usize,
    /// Width σ of the mask's smooth bumps, at 224 px.
    #[config(default = 21.0)]
    pub sigma: f64,
    /// Flip the perturbed image horizontally every other iteration.
    #[config(default = true)]
    pub jitter: bool,
    /// Weight of the area constraint at the start; grows ×1.0035 per iteration.
    #[config(default = 300.0)]
    pub area_weight: f64,
    /// SGD learning rate (momentum 0.9, dampening 0.9).
    #[config(default = 0.01)]
    pub learning_rate: f64,
}

/// The most blur levels of the perturbation pyramid.
const MAX_LEVELS: usize = 256;

impl ExtremalPerturbationConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<ExtremalPerturbation> {
        if !(self.area > 0.0 && self.area <= 1.0) {
            return Err(Error::InvalidConfig {
                setting: "area",
                value: self.area.to_string(),
                expected: "a fraction in (0, 1]",
            });
        }
        iterations(self.iterations)?;
        at_least_one("step", self.step)?;
        if !(2..=MAX_LEVELS).contains(&self.levels) {
            return Err(Error::InvalidConfig {
                setting: "levels",
                value: self.levels.to_string(),
                expected: "from 2 to 256 (each level is a blurred copy of the batch)",
            });
        }
        within(
            "max_blur",
            self.max_blur,
            f64::MIN_POSITIVE..=MAX_BLUR_SIGMA,
            "a blur width in pixels at 224 px, 0 < σ ≤ 1e6",
        )?;
        positive("sigma", self.sigma)?;
        positive("area_weight", self.area_weight)?;
        positive("learning_rate", self.learning_rate)?;
        Ok(ExtremalPerturbation {
            config: self.clone(),
        })
    }
}

/// Extremal perturbation, "preserve" variant with the simple reward: the
/// smooth mask of a given area whose kept pixels (the rest blurred by a
/// per-pixel blur pyramid) give the highest target logit. The mask is a
/// smooth maximum of Gaussian-like bumps on a grid of parameters, the area
/// enforced by a growing penalty on the sorted mask values, optimised by SGD
/// with momentum, as TorchRay's `extremal_perturbation`. The map is the mask
/// of the last iteration, `[N, 1, H, W]` in `[0, 1]` (1: preserved).
#[derive(Debug, Clone)]
pub struct ExtremalPerturbation {
    config: ExtremalPerturbationConfig,
}

/// The geometry of the mask generator (TorchRay's `MaskGenerator`).
struct Generator {
    step: usize,
    radius: usize,
    padding: usize,
    margin: usize,
    shape_in: [usize; 2],
    shape_mid: [usize; 2],
    shape_out: [usize; 2],
    /// `[(2r+1)², out_h, out_w]` bump weights.
    weights: Vec<f64>,
}

/// The most bump weights a mask generator may hold (`(2r+1)² · out_h ·
/// out_w` values, 1 GiB of `f64`).
const MAX_GENERATOR_WEIGHTS: usize = 1 << 27;

impl Generator {
    /// The generator for images of `size`, with `step ≥ 1` and `sigma > 0`
    /// in pixels (both already scaled to the image).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a step longer than the image or a σ
    /// above 4 × its longer side, when the grid would not cover the image
    /// (`step` much larger than `sigma`) or its weights would exceed
    /// [`MAX_GENERATOR_WEIGHTS`] (`step` much smaller than `sigma`).
    fn new(size: [usize; 2], step: usize, sigma: f64) -> Result<Self> {
        let side = size[0].max(size[1]);
        if step > side {
            return Err(Error::InvalidConfig {
                setting: "step",
                value: step.to_string(),
                expected:
                    "a grid step (scaled to the image) no longer than the image's longer side",
            });
        }
        if sigma > 4.0 * side as f64 {
            return Err(Error::InvalidConfig {
                setting: "sigma",
                value: sigma.to_string(),
                expected:
                    "a bump width (scaled to the image) of at most 4 × the image's longer side",
            });
        }
        let margin = sigma.round() as usize;
        let padding = 1 + ((margin as f64 + sigma) / step as f64).ceil() as usize;
        let radius = 1 + (sigma / step as f64).ceil() as usize;
        let taps = 2 * radius + 1;
        let shape_in = size.map(|s| s.div_ceil(step));
        let shape_mid = shape_in.map(|s| s + 2 * padding - taps + 1);
        let shape_up = shape_mid.map(|s| s * step);
        let shape_out = shape_up.map(|s| s - step + 1);
        if (0..2).any(|a| shape_out[a] < margin + size[a]) {
            return Err(Error::InvalidConfig {
                setting: "step",
                value: step.to_string(),
                expected: "a grid step (scaled to the image) no larger than sigma + its margin, so that the mask covers the image",
            });
        }
        let count = (taps * taps)
            .checked_mul(shape_out[0])
            .and_then(|c| c.checked_mul(shape_out[1]))
            .filter(|&c| c <= MAX_GENERATOR_WEIGHTS);
        let Some(count) = count else {
            return Err(Error::InvalidConfig {
                setting: "step",
                value: step.to_string(),
                expected: "a grid step (scaled to the image) large enough for sigma: the mask generator would hold more than 2^27 bump weights",
            });
        };
        let mut weights = vec![0.0; count];
        for ky in 0..taps {
            for kx in 0..taps {
                for uy in 0..shape_out[0] {
                    for ux in 0..shape_out[1] {
                        let iy = (uy / step) as isize + ky as isize - padding as isize;
                        let ix = (ux / step) as isize + kx as isize - padding as isize;
                        let cy = margin as f64 + (step as isize * iy) as f64;
                        let cx = margin as f64 + (step as isize * ix) as f64;
                        let delta = ((uy as f64 - cy).powi(2) + (ux as f64 - cx).powi(2)).sqrt();
                        let v = (delta / sigma - 0.5).max(0.0);
                        weights[((ky * taps + kx) * shape_out[0] + uy) * shape_out[1] + ux] =
                            (-2.0 * v * v).exp();
                    }
                }
            }
        }
        Ok(Self {
            step,
            radius,
            padding,
            margin,
            shape_in,
            shape_mid,
            shape_out,
            weights,
        })
    }

    /// The full mask `[N, 1, out_h, out_w]` and the image-sized crop.
    fn generate<B: Backend>(
        &self,
        params: Tensor<B, 4>,
        size: [usize; 2],
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [n, _, _, _] = params.dims();
        let taps = 2 * self.radius + 1;
        let [mh, mw] = self.shape_mid;
        let p = crate::ops::pad_zeros(params, [[self.padding; 2]; 2]);
        let mut windows = Vec::with_capacity(taps * taps);
        for ky in 0..taps {
            for kx in 0..taps {
                windows.push(p.clone().slice([0..n, 0..1, ky..ky + mh, kx..kx + mw]));
            }
        }
        let s = self.step;
        let k2 = taps * taps;
        let [oh, ow] = self.shape_out;
        let up = Tensor::cat(windows, 1)
            .reshape([n, k2, mh, 1, mw, 1])
            .expand([n, k2, mh, s, mw, s])
            .reshape([n, k2, mh * s, mw * s])
            .slice([0..n, 0..k2, 0..oh, 0..ow]);
        let weights = float_tensor::<B, 4>(self.weights.clone(), [1, k2, oh, ow], &up.device());
        let bumps = up * weights;
        // Smooth maximum over the taps: Σ_k m_k softmax(20 m)_k.
        let full = (bumps.clone() * softmax(bumps.mul_scalar(20.0), 1))
            .sum_dim(1)
            .clamp(0.0, 1.0);
        let cropped = full.clone().slice([
            0..n,
            0..1,
            self.margin..self.margin + size[0],
            self.margin..self.margin + size[1],
        ]);
        (full, cropped)
    }
}

impl<B, M> Method<B, M> for ExtremalPerturbation
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "extremal perturbation".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let Prepared {
            model,
            dims: [n, _, h, w],
            targets: t,
            ..
        } = prepare(model, images, targets)?;
        let cfg = &self.config;
        let device = images.device();

        let scale = h.min(w) as f64 / 224.0;
        let step = ((cfg.step as f64 * scale).round() as usize).max(1);
        let sigma = (cfg.sigma * scale).max(1.0);
        let generator = Generator::new([h, w], step, sigma)?;
        // The perturbation pyramid, level 0 the most blurred, the last the image.
        let x = images.clone().detach();
        let levels: Vec<Tensor<B, 4>> = (0..cfg.levels)
            .map(|l| {
                let blur = (1.0 - l as f64 / (cfg.levels - 1) as f64) * cfg.max_blur * scale;
                gaussian_blur(x.clone(), blur, BlurEdges::Zero)
            })
            .collect::<Result<_>>()?;
        let [oh, ow] = generator.shape_out;
        let area = oh * ow;
        let zeros = ((area as f64) * (1.0 - cfg.area)).floor() as usize;
        let reference: Vec<f64> = (0..area)
            .map(|i| if i < zeros { 0.0 } else { 1.0 })
            .collect();
        let reference = float_tensor::<B, 2>(reference, [1, area], &device);

        let inner = images.clone().inner();
        let [sh, sw] = generator.shape_in;
        let mut params =
            Tensor::<B::InnerBackend, 4>::ones([n, 1, sh, sw], (&inner.device(), inner.dtype()));
        let mut momentum: Option<Tensor<B::InnerBackend, 4>> = None;
        let mut area_weight = cfg.area_weight;
        let mut last = None;
        for iteration in 0..cfg.iterations {
            let p = Tensor::<B, 4>::from_inner(params.clone()).require_grad();
            let (full, mask) = generator.generate(p.clone(), [h, w]);
            last = Some(mask.clone().detach());
            let mut perturbed = blend(&levels, mask);
            if cfg.jitter && iteration % 2 == 0 {
                perturbed = perturbed.flip([3]);
            }
            let reward = model.logits(perturbed).gather(1, t.clone()).sum();
            let sorted = full.reshape([n, area]).sort(1);
            let penalty = (sorted - reference.clone())
                .powi_scalar(2)
                .mean_dim(1)
                .sum();
            let loss = penalty.mul_scalar(area_weight) - reward;
            let grads = loss.backward();
            let g = p.grad(&grads).unwrap_or_else(|| params.zeros_like());
            // SGD with momentum 0.9 and dampening 0.9 (PyTorch's order).
            let buffer = match momentum.take() {
                None => g,
                Some(b) => b.mul_scalar(0.9) + g.mul_scalar(0.1),
            };
            params = (params - buffer.clone().mul_scalar(cfg.learning_rate)).clamp(0.0, 1.0);
            momentum = Some(buffer);
            area_weight *= 1.0035;
        }
        Ok(last.expect("iterations ≥ 1"))
    }
}

/// Per pixel, the pyramid level `m·(L−1)` interpolated linearly between its
/// two neighbouring levels (a hat function of the mask per level).
fn blend<B: Backend>(levels: &[Tensor<B, 4>], mask: Tensor<B, 4>) -> Tensor<B, 4> {
    let position = mask.mul_scalar((levels.len() - 1) as f64);
    let mut out: Option<Tensor<B, 4>> = None;
    for (l, level) in levels.iter().enumerate() {
        let weight = position
            .clone()
            .sub_scalar(l as f64)
            .abs()
            .neg()
            .add_scalar(1.0)
            .clamp_min(0.0);
        let term = level.clone() * weight;
        out = Some(match out {
            Some(o) => o + term,
            None => term,
        });
    }
    out.expect("at least two levels")
}
