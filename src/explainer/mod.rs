//! The learned propagation rules: gates trained per image through a double
//! backward.
//!
//! One iteration, per image (steps of the method as the project pins it down):
//! 1. forward the image through the model, every site gated;
//! 2. gated backward from the target logit: at each site the local derivative
//!    is `tanh(W ⊙ (f − f_ref))`;
//! 3. map `A = Σ_c (∂F_t/∂I ⊙ I)`, rescaled to `Â ∈ [0, 1]`;
//! 4. masks `M_p = 1 − σ(γ(Â − α))`, `M_n = σ(γ(Â − β))`;
//! 5. loss `L = F_t(I ⊙ M_p) − F_t(I) + F_t(I) − F_t(I ⊙ M_n) + λ(mean|1 − M_p| + mean|1 − M_n|)`
//!    with the ordinary network;
//! 6. Adam on `∂L/∂W`, a second-order derivative.
//!
//! Two autodiff levels make step 6 possible: the model runs on
//! `Autodiff<Autodiff<X>>`; the outer level's backward (step 2) is computed
//! with inner-level tensors, which the inner level differentiates (step 6).

mod adam;
mod config;
mod mask;

pub use config::{ExplainerConfig, MaskStrategy};

use std::marker::PhantomData;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::input::{check_images, check_logits, check_targets, check_weights, target_indices};
use crate::model::{Explainable, TrueGradient};
use crate::rule::{LearnedGate, Recorder};
use crate::{Error, Result};
use adam::Adam;

/// The loss of one iteration for one image, before that iteration's update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossTerms {
    /// `L = L_p + L_n + λ·L_m`.
    pub total: f64,
    /// `L_p = F_t(I ⊙ M_p) − F_t(I)`.
    pub positive: f64,
    /// `L_n = F_t(I) − F_t(I ⊙ M_n)`.
    pub negative: f64,
    /// `L_m = mean|1 − M_p| + mean|1 − M_n|`.
    pub mask: f64,
}

/// The result of [`Explainer::attribute`] for a batch.
#[derive(Debug, Clone)]
pub struct Attribution<B: Backend> {
    /// The signed map `A = Σ_c (∂F_t/∂I ⊙ I)` with the final gates, `[N, H, W]`.
    pub signed: Tensor<B, 3>,
    /// `A` rescaled per image to `[0, 1]`, `[N, H, W]`.
    pub normalised: Tensor<B, 3>,
    /// The gated input gradient `∂F_t/∂I` with the final gates, `[N, C, H, W]`
    /// (with zero iterations: the gradient of the starting gates).
    pub input_gradient: Tensor<B, 4>,
    /// The loss of each iteration before its update, `[iteration][image]`.
    pub loss_trace: Vec<Vec<LossTerms>>,
    /// The class explained for each image.
    pub targets: Vec<usize>,
}

/// Trains learned propagation rules per image and returns their attribution
/// maps.
///
/// `B` is the doubly differentiable backend the model lives on, e.g.
/// [`Cpu`](crate::Cpu) (`Autodiff<Autodiff<NdArray>>`).
///
/// ```
/// use burn::prelude::*;
/// use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
/// use learnprop::{Cpu, ExplainerConfig};
///
/// let device = Default::default();
/// let model = FixtureCnnConfig::new().init::<Cpu>(&device);
/// let images = Tensor::<Cpu, 4>::random([2, 3, 32, 32], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
/// let explainer = ExplainerConfig::new().with_iterations(3).init::<Cpu>()?;
/// let attribution = explainer.attribute(&model, &images, &[1, 7])?;
/// assert_eq!(attribution.signed.dims(), [2, 32, 32]);
/// assert_eq!(attribution.loss_trace.len(), 3);
/// // Bad input is an error, not a panic:
/// assert!(explainer.attribute(&model, &images, &[1, 10]).is_err());
/// # Ok::<(), learnprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Explainer<B> {
    config: ExplainerConfig,
    backend: PhantomData<B>,
}

impl ExplainerConfig {
    /// Validates the settings and builds the explainer.
    pub fn init<B>(&self) -> Result<Explainer<B>>
    where
        B: AutodiffBackend,
        B::InnerBackend: AutodiffBackend,
    {
        self.validate()?;
        Ok(Explainer {
            config: self.clone(),
            backend: PhantomData,
        })
    }
}

/// One gate tensor per site at the innermost level, `[N, weights per image]`.
type Gates<B> = Vec<Tensor<<<B as AutodiffBackend>::InnerBackend as AutodiffBackend>::InnerBackend, 2>>;

impl<B> Explainer<B>
where
    B: AutodiffBackend,
    B::InnerBackend: AutodiffBackend,
{
    /// The validated settings.
    pub fn config(&self) -> &ExplainerConfig {
        &self.config
    }

    /// Explains `targets[i]` for each image `images[i]`.
    ///
    /// Each image gets its own gates; the batch loss is the sum of the image
    /// losses, so a batch gives the same maps as one call per image.
    ///
    /// # Shapes
    /// - `images`: `[N, C, H, W]`, in the model's input space;
    /// - `targets`: `N` class indices (pre-softmax logits are explained);
    /// - result maps: `[N, H, W]`.
    ///
    /// # Errors
    /// An empty batch, wrong channels or size, NaN/∞ in the images or the
    /// weights, a target count or class out of range, or a model without
    /// activation sites.
    pub fn attribute<M>(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Attribution<B>>
    where
        M: Explainable<B> + AutodiffModule<B>,
        M::InnerModule: Explainable<B::InnerBackend>,
    {
        let [n, c, h, w] = check_images(model, images)?;
        check_weights(model)?;
        let cfg = &self.config;
        let device = images.device();
        let outer = model.clone().no_grad();
        let inner = model.valid();
        let x = images.clone().inner().detach();

        // The reference forward: f_ref at every site, and the class count.
        let mut recorder = Recorder::<B::InnerBackend>::new();
        let reference_logits = inner.forward_hooked(x.zeros_like().slice([0..1]), &mut recorder);
        check_logits(&reference_logits)?;
        check_targets(targets, n, reference_logits.dims()[1])?;
        let sites = recorder.into_sites();
        if sites.is_empty() {
            return Err(Error::NoActivationSites);
        }
        let references = cfg
            .use_reference
            .then(|| sites.iter().map(|s| s.input.clone().detach()).collect::<Vec<_>>());
        let mut gates: Gates<B> = sites
            .iter()
            .map(|site| {
                let per_image = cfg.plugin.weights_per_image(&site.shape);
                let x = x.clone().inner();
                Tensor::full([n, per_image], cfg.initial_weight, (&x.device(), x.dtype()))
            })
            .collect();

        let t_outer = target_indices::<B>(targets, &device);
        let t_inner = t_outer.clone().inner();
        let t_masked = Tensor::cat(vec![t_inner.clone(), t_inner], 0);
        let mut adam = Adam::new(
            cfg.learning_rate,
            cfg.adam_beta1,
            cfg.adam_beta2,
            cfg.adam_epsilon,
        );
        let mut loss_trace = Vec::with_capacity(cfg.iterations);

        for _ in 0..cfg.iterations {
            let tracked: Vec<_> = gates
                .iter()
                .map(|g| Tensor::<B::InnerBackend, 2>::from_inner(g.clone()).require_grad())
                .collect();
            // Steps 1–3: gated forward and backward, map, rescale.
            let (gradient, target_logit) =
                gated_gradient(&outer, &x, &t_outer, tracked.clone(), references.clone())?;
            check_logits(&target_logit)?;
            let map = (gradient * x.clone()).sum_dim(1);
            let normalised = mask::normalise01(map);
            // Step 4: masks.
            let (positive, negative) = mask::masks(
                normalised,
                cfg.mask,
                cfg.positive_centre,
                cfg.negative_centre,
                cfg.sharpness,
            );
            // Step 5: masked forwards through the ordinary network, loss.
            let masked = Tensor::cat(
                vec![x.clone() * positive.clone(), x.clone() * negative.clone()],
                0,
            );
            let picked = inner
                .forward_hooked(masked, &mut TrueGradient)
                .gather(1, t_masked.clone());
            let kept = picked.clone().slice([0..n]);
            let removed = picked.slice([n..2 * n]);
            let loss_positive = kept - target_logit.clone();
            let loss_negative = target_logit - removed;
            let mean_removed = |m: Tensor<B::InnerBackend, 4>| {
                m.neg().add_scalar(1.0).abs().reshape([n, h * w]).mean_dim(1)
            };
            let loss_mask = mean_removed(positive) + mean_removed(negative);
            let loss = loss_positive.clone()
                + loss_negative.clone()
                + loss_mask.clone().mul_scalar(cfg.mask_loss_weight);
            loss_trace.push(loss_terms(&loss, &loss_positive, &loss_negative, &loss_mask));
            // Step 6: double backward and Adam.
            let grads = loss.sum().backward();
            let gate_grads = tracked
                .iter()
                .zip(&gates)
                .map(|(t, g)| t.grad(&grads).unwrap_or_else(|| g.zeros_like()))
                .collect();
            adam.step(&mut gates, gate_grads);
        }

        let fixed = gates
            .into_iter()
            .map(Tensor::<B::InnerBackend, 2>::from_inner)
            .collect();
        let (gradient, _) = gated_gradient(&outer, &x, &t_outer, fixed, references)?;
        let gradient = gradient.detach();
        let signed = (gradient.clone() * x).sum_dim(1);
        let normalised = mask::normalise01(signed.clone());
        let _ = c;
        Ok(Attribution {
            signed: Tensor::from_inner(signed.reshape([n, h, w])),
            normalised: Tensor::from_inner(normalised.reshape([n, h, w])),
            input_gradient: Tensor::from_inner(gradient),
            loss_trace,
            targets: targets.to_vec(),
        })
    }
}

/// Steps 1–2: the gated input gradient `∂F_t/∂I` (an inner-level tensor that
/// the inner level can differentiate with respect to the gates) and the
/// target logits `F_t(I)` `[N, 1]` as inner-level constants.
fn gated_gradient<B, M>(
    model: &M,
    x: &Tensor<B::InnerBackend, 4>,
    targets: &Tensor<B, 2, Int>,
    gates: Vec<Tensor<B::InnerBackend, 2>>,
    references: Option<Vec<Tensor<B::InnerBackend, 2>>>,
) -> Result<(Tensor<B::InnerBackend, 4>, Tensor<B::InnerBackend, 2>)>
where
    B: AutodiffBackend,
    M: Explainable<B>,
{
    let input = Tensor::<B, 4>::from_inner(x.clone()).require_grad();
    let mut hook = LearnedGate::<B>::new(gates, references);
    let logits = model.forward_hooked(input.clone(), &mut hook);
    hook.finish_forward()?;
    let target_logit = logits.gather(1, targets.clone());
    let grads = target_logit.clone().sum().backward();
    let gradient = input.grad(&grads).unwrap_or_else(|| x.zeros_like());
    Ok((gradient, target_logit.inner().detach()))
}

fn loss_terms<B: Backend>(
    total: &Tensor<B, 2>,
    positive: &Tensor<B, 2>,
    negative: &Tensor<B, 2>,
    mask: &Tensor<B, 2>,
) -> Vec<LossTerms> {
    let read = |t: &Tensor<B, 2>| -> Vec<f64> { t.to_data().iter::<f64>().collect() };
    let (total, positive, negative, mask) = (read(total), read(positive), read(negative), read(mask));
    (0..total.len())
        .map(|i| LossTerms {
            total: total[i],
            positive: positive[i],
            negative: negative[i],
            mask: mask[i],
        })
        .collect()
}
