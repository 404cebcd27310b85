//! Meaningful perturbation (Fong & Vedaldi 2017): the smallest blur mask that
//! deletes the evidence.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;

use super::{at_least_one, positive, within, Method};
use crate::explainer::adam::Adam;
use crate::input::{prepare, Prepared};
use crate::model::Model;
use crate::ops::{gaussian_blur, BlurEdges, MAX_BLUR_SIGMA};
use crate::random::Rng;
use crate::validate::iterations;
use crate::validate::non_negative;
use crate::{Error, Result};

/// Settings of [`MeaningfulPerturbation`]: the paper's values for 224×224
/// images; blur widths and jitter scale with the image (`× min(H, W)/224`).
#[derive(Config, Debug)]
pub struct MeaningfulPerturbationConfig {
    /// Adam iterations.
    #[config(default = 300)]
    pub iterations: usize,
    /// Adam learning rate.
    #[config(default = 0.1)]
    pub learning_rate: f64,
    /// λ₁, weight of `‖1 − m‖₁` (sum over mask cells).
    #[config(default = 1e-4)]
    pub l1_weight: f64,
    /// λ₂, weight of the total variation `Σ_u ‖∇m(u)‖^β`.
    #[config(default = 1e-2)]
    pub tv_weight: f64,
    /// β of the total variation.
    #[config(default = 3.0)]
    pub tv_beta: f64,
    /// Pixels per mask cell (the mask is `⌈H/scale⌉ × ⌈W/scale⌉`).
    #[config(default = 8)]
    pub mask_scale: usize,
    /// σ of the blur that replaces deleted pixels, at 224 px.
    #[config(default = 10.0)]
    pub image_blur: f64,
    /// σ of the blur of the upsampled mask, at 224 px.
    #[config(default = 5.0)]
    pub mask_blur: f64,
    /// Random shifts in `0..jitter` pixels each iteration, at 224 px.
    #[config(default = 4)]
    pub jitter: usize,
    /// Seed of the jitter.
    #[config(default = 0)]
    pub seed: u64,
}

impl MeaningfulPerturbationConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<MeaningfulPerturbation> {
        iterations(self.iterations)?;
        at_least_one("mask_scale", self.mask_scale)?;
        positive("learning_rate", self.learning_rate)?;
        within(
            "tv_beta",
            self.tv_beta,
            f64::MIN_POSITIVE..=1000.0,
            "an exponent in (0, 1000]",
        )?;
        non_negative("l1_weight", self.l1_weight)?;
        non_negative("tv_weight", self.tv_weight)?;
        let blur = "a blur width in pixels at 224 px, 0 ≤ σ ≤ 1e6";
        within("image_blur", self.image_blur, 0.0..=MAX_BLUR_SIGMA, blur)?;
        within("mask_blur", self.mask_blur, 0.0..=MAX_BLUR_SIGMA, blur)?;
        Ok(MeaningfulPerturbation {
            config: self.clone(),
        })
    }
}

/// Meaningful perturbation: a mask `m` (1 keeps a pixel, 0 replaces it by a
/// blurred copy) minimising `λ₁‖1 − m‖₁ + λ₂ TV_β(m) + p_t(x ⊙ M + x̃ ⊙ (1 − M))`,
/// where `M` is `m` upsampled and blurred, `x̃` the blurred image and `p_t`
/// the target's softmax probability, with random jitter; Adam, clipping `m`
/// to `[0, 1]`. The map is `1 − M` (`[N, 1, H, W]`): high where deleting
/// matters. As the authors' code, but the gradient goes through the mask's
/// blur too (their code drops it), and the mask starts at all ones instead
/// of their circle search.
#[derive(Debug, Clone)]
pub struct MeaningfulPerturbation {
    config: MeaningfulPerturbationConfig,
}

impl<B, M> Method<B, M> for MeaningfulPerturbation
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "meaningful perturbation".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let Prepared {
            model,
            dims: [n, _, h, w],
            targets: t,
            ..
        } = prepare(model, images, targets)?;
        let cfg = &self.config;

        if cfg.mask_scale > h.max(w) {
            return Err(Error::InvalidConfig {
                setting: "mask_scale",
                value: cfg.mask_scale.to_string(),
                expected: "a mask cell no larger than the image's longer side",
            });
        }
        let scale = h.min(w) as f64 / 224.0;
        let jitter = ((cfg.jitter as f64 * scale).round() as usize).max(1);
        let x = images.clone().detach();
        let blurred = gaussian_blur(x.clone(), cfg.image_blur * scale, BlurEdges::Renormalised)?;
        // Pad by the jitter (edge pixels repeated), so every shift crops a full image.
        let pad = |t: Tensor<B, 4>| replicate_pad(t, jitter - 1);
        let (x_pad, blurred_pad) = (pad(x), pad(blurred));
        let (mh, mw) = (h.div_ceil(cfg.mask_scale), w.div_ceil(cfg.mask_scale));
        let mut mask = Tensor::<B::InnerBackend, 4>::ones(
            [n, 1, mh, mw],
            (
                &images.clone().inner().device(),
                images.clone().inner().dtype(),
            ),
        );
        let mut adam: Adam<B::InnerBackend, 4> = Adam::new(cfg.learning_rate, 0.9, 0.999, 1e-8);
        let mut rng = Rng::new(cfg.seed);
        let upsample = |m: Tensor<B, 4>| -> Result<Tensor<B, 4>> {
            let s = cfg.mask_scale;
            let up = m
                .reshape([n, 1, mh, 1, mw, 1])
                .expand([n, 1, mh, s, mw, s])
                .reshape([n, 1, mh * s, mw * s])
                .slice([0..n, 0..1, 0..h, 0..w]);
            gaussian_blur(up, cfg.mask_blur * scale, BlurEdges::Renormalised)
        };
        for _ in 0..cfg.iterations {
            let (dy, dx) = (
                rng.below(jitter).unwrap_or(0),
                rng.below(jitter).unwrap_or(0),
            );
            let crop = |t: &Tensor<B, 4>| {
                t.clone()
                    .slice([0..n, 0..t.dims()[1], dy..dy + h, dx..dx + w])
            };
            let m = Tensor::<B, 4>::from_inner(mask.clone()).require_grad();
            let big = upsample(m.clone())?;
            let perturbed =
                crop(&x_pad) * big.clone() + crop(&blurred_pad) * big.neg().add_scalar(1.0);
            let probability = softmax(model.logits(perturbed), 1).gather(1, t.clone());
            let l1 = m.clone().neg().add_scalar(1.0).abs().sum();
            let tv = total_variation(m.clone(), cfg.tv_beta);
            let loss =
                probability.sum() + l1.mul_scalar(cfg.l1_weight) + tv.mul_scalar(cfg.tv_weight);
            let grads = loss.backward();
            let g = m.grad(&grads).unwrap_or_else(|| mask.zeros_like());
            let mut params = [mask];
            adam.step(&mut params, vec![g]);
            let [updated] = params;
            mask = updated.clamp(0.0, 1.0);
        }
        let final_mask = upsample(Tensor::from_inner(mask))?;
        Ok(final_mask.neg().add_scalar(1.0))
    }
}

/// `Σ_u (d_y(u)² + d_x(u)²)^{β/2}` with forward differences (zero at the
/// last row and column), per image summed over the batch.
fn total_variation<B: Backend>(m: Tensor<B, 4>, beta: f64) -> Tensor<B, 1> {
    let [n, c, h, w] = m.dims();
    let zeros_row = m.zeros_like().slice([0..n, 0..c, 0..1, 0..w]);
    let zeros_col = m.zeros_like().slice([0..n, 0..c, 0..h, 0..1]);
    let dy = if h > 1 {
        let d = m.clone().slice([0..n, 0..c, 1..h, 0..w])
            - m.clone().slice([0..n, 0..c, 0..h - 1, 0..w]);
        Tensor::cat(vec![d, zeros_row], 2)
    } else {
        m.zeros_like()
    };
    let dx = if w > 1 {
        let d = m.clone().slice([0..n, 0..c, 0..h, 1..w])
            - m.clone().slice([0..n, 0..c, 0..h, 0..w - 1]);
        Tensor::cat(vec![d, zeros_col], 3)
    } else {
        m.zeros_like()
    };
    (dy.powi_scalar(2) + dx.powi_scalar(2))
        .powf_scalar(beta / 2.0)
        .sum()
}

/// Pads the bottom and right by `amount` pixels repeating the last row and
/// column.
fn replicate_pad<B: Backend>(x: Tensor<B, 4>, amount: usize) -> Tensor<B, 4> {
    if amount == 0 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    let last_col = x
        .clone()
        .slice([0..n, 0..c, 0..h, w - 1..w])
        .expand([n, c, h, amount]);
    let x = Tensor::cat(vec![x, last_col], 3);
    let last_row = x
        .clone()
        .slice([0..n, 0..c, h - 1..h, 0..w + amount])
        .expand([n, c, amount, w + amount]);
    Tensor::cat(vec![x, last_row], 2)
}
