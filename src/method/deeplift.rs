//! DeepLIFT with the rescale rule (Shrikumar et al. 2017).

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::{convergence_delta, input_gradient, positive, Baseline, Method};
use crate::guard::catching_model_panics;
use crate::input::check_images;
use crate::model::{Activation, ActivationHook, Explainable};
use crate::ops::{gather_windows, max_pool_routing, PoolGeometry};
use crate::rule::{with_local_derivative, Recorder};
use crate::{Error, Result};

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
/// back-propagated with each activation's multiplier replaced by
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

/// The rescale hook: forward values unchanged, multipliers in the backward.
struct Rescale<B: Backend> {
    sites: Vec<Tensor<B, 2>>,
    pools: Vec<Tensor<B, 4>>,
    epsilon: f64,
    next_site: usize,
    next_pool: usize,
    mismatch: bool,
}

impl<B: AutodiffBackend> ActivationHook<B> for Rescale<B> {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let site = self.next_site;
        self.next_site += 1;
        let Some(reference) = self.sites.get(site) else {
            self.mismatch = true;
            return activation.apply(input);
        };
        let f = input.clone().detach();
        let f_ref = reference.clone().reshape(f.dims());
        let delta = f.clone() - f_ref.clone();
        let small = delta.clone().abs().lower_elem(self.epsilon);
        let safe = delta.mask_fill(small.clone(), 1.0);
        let rescaled = (activation.apply(f.clone()) - activation.apply(f_ref)) / safe;
        let multiplier = rescaled.mask_where(small, activation.derivative(f.clone()));
        with_local_derivative(input, activation.apply(f), multiplier)
    }

    fn max_pool(&mut self, input: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4> {
        let pool = self.next_pool;
        self.next_pool += 1;
        let Some(reference) = self.pools.get(pool).cloned() else {
            self.mismatch = true;
            return crate::ops::max_pool2d_with(input, geometry);
        };
        let (x, at_input) = max_pool_routing(input, geometry);
        let (r, at_reference) = max_pool_routing(reference, geometry);
        let xv = x.clone().detach();
        let o = gather_windows(xv.clone(), &at_input);
        let o_ref = gather_windows(r.clone(), &at_reference);
        let m = o.clone().max_pair(o_ref.clone());
        let delta = xv - r;
        let small = delta.clone().abs().lower_elem(self.epsilon);
        // A true division: a backend's `recip` may be approximate.
        let safe = delta.mask_fill(small.clone(), 1.0);
        let inverse = (safe.ones_like() / safe).mask_fill(small.clone(), 0.0);
        let small = small.float();
        // Where |Δ| < ε: ordinary routing to the input's maximum, nothing to the reference's.
        let c_input = (m.clone() - o_ref) * gather_windows(inverse.clone(), &at_input)
            + gather_windows(small.clone(), &at_input);
        let c_reference = (o.clone() - m) * gather_windows(inverse, &at_reference);
        let routed = gather_windows(x.clone(), &at_input) * c_input
            + gather_windows(x, &at_reference) * c_reference;
        o + (routed.clone() - routed.detach())
    }
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
        M: Explainable<B> + AutodiffModule<B>,
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
    M: Explainable<B> + AutodiffModule<B>,
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
            .forward_hooked(reference.clone().detach(), &mut recorder);
        let pools = recorder.pools().to_vec();
        let sites = recorder.into_sites().into_iter().map(|s| s.input).collect();
        let mut hook = Rescale {
            sites,
            pools,
            epsilon: self.config.epsilon,
            next_site: 0,
            next_pool: 0,
            mismatch: false,
        };
        let multipliers = input_gradient(model, images, targets, &mut hook)?;
        if hook.mismatch || hook.next_site != hook.sites.len() || hook.next_pool != hook.pools.len()
        {
            return Err(Error::SiteMismatch {
                details:
                    "the reference and the images visited different activation or pooling sites"
                        .into(),
            });
        }
        Ok((images.clone() - reference) * multipliers)
    }
}
