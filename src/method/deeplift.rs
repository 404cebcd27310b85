//! DeepLIFT with the rescale rule (Shrikumar et al. 2017).

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::{convergence_delta, gradient_with, positive, Baseline, Method, Seed};
use crate::guard::catching_model_panics;
use crate::input::check_images;
use crate::model::Model;
use crate::rule::{Recorder, Rescale};
use crate::Result;

/// Settings of [`DeepLift`].
#[derive(Config, Debug)]
pub struct DeepLiftConfig {
    /// The reference input.
    #[config(default = "Baseline::Zero")]
    pub baseline: Baseline,
    /// Differences below this fall back to the ordinary derivative (Captum's `eps`).
    #[config(default = 1e-10)]
    pub epsilon: f64,
}

impl DeepLiftConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<DeepLift> {
        positive("epsilon", self.epsilon)?;
        Ok(DeepLift {
            config: self.clone(),
        })
    }
}

/// DeepLIFT, rescale rule: `(x − x̄) ⊙ m`, where the multipliers `m` are
/// back-propagated with the [`Rescale`] rule: each activation's multiplier replaced by
/// `Δa/Δf = (a(f) − a(f̄)) / (f − f̄)` (the true derivative where
/// `|Δf| < ε`), and each max-pool routing its output difference through
/// both the input's and the reference's maxima: with `o`, `ō` the pooled
/// values and `m = max(o, ō)`, `(m − ō)` goes to the input's first maximum
/// and `(o − m)` to the reference's, each divided by the pool input's
/// difference there. Satisfies completeness exactly:
/// `Σ attribution = F_t(x) − F_t(x̄)`.
///
/// These are the rules as intended (Captum's `DeepLift` documents them).
/// Captum 0.9.0 itself applies the ReLU rule before the max-pool rule has
/// rewritten the gradient on ReLU → max-pool networks (Captum issue #1104),
/// so its maps differ and miss completeness by 0.3–7 % there.
#[derive(Debug, Clone)]
pub struct DeepLift {
    config: DeepLiftConfig,
}

impl DeepLift {
    /// The attribution and, per image, the convergence delta
    /// `Σ attribution − (F_t(x) − F_t(x̄))` (zero up to rounding).
    ///
    /// # Errors
    /// As [`Method::attribute`].
    pub fn attribute_with_delta<B, M>(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<(Tensor<B, 4>, Vec<f64>)>
    where
        B: AutodiffBackend,
        M: Model<B>,
    {
        let attribution = self.attribute(model, images, targets)?;
        let reference = self.config.baseline.tensor(images)?;
        let delta = catching_model_panics("the convergence delta", || {
            Ok(convergence_delta(
                model,
                images,
                reference,
                &attribution,
                targets,
            ))
        })?;
        Ok((attribution, delta))
    }
}

impl<B, M> Method<B, M> for DeepLift
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "DeepLIFT (rescale)".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        check_images(model, images)?;
        let reference = self.config.baseline.tensor(images)?;
        let mut recorder = Recorder::<B>::new();
        model
            .clone()
            .no_grad()
            .forward_with(reference.clone().detach(), &mut recorder)?;
        let mut rule = Rescale::new(recorder, self.config.epsilon);
        let multipliers = gradient_with(model, images, targets, &mut rule, Seed::Unit)?;
        Ok((images.clone() - reference) * multipliers)
    }
}
