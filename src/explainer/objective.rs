//! The learned-rule loss as a function of the gates, for one batch.

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::{mask, ExplainerConfig, LossTerms};
use crate::backend::Base;
use crate::guard::catching_model_panics;
use crate::input::{check_images, check_logits, check_targets, first_non_finite, target_indices};
use crate::method::Baseline;
use crate::model::{Explainable, Model};
use crate::rule::{LearnedGate, Recorder};
use crate::{Error, Result};

/// The loss `L(W)` of the learned rules for one batch, prepared once: the
/// checked images, the targets, the site shapes and every site's
/// `f − f_ref` (forward values never depend on the gates). [`Explainer::attribute`](crate::Explainer::attribute) minimises it;
/// it is public so that the objective and its second-order gradient can be
/// inspected directly.
///
/// Gates are tensors of the base backend (below both autodiff levels), one
/// per activation site in call order, shaped `[N, weights per image]`.
#[derive(Debug)]
pub struct Objective<'a, B, M>
where
    B: AutodiffBackend,
    B::InnerBackend: AutodiffBackend,
    M: AutodiffModule<B>,
{
    config: &'a ExplainerConfig,
    outer: M,
    inner: M::InnerModule,
    images: Tensor<B::InnerBackend, 4>,
    /// `I − b`, the factor of the map (the images themselves for `b = 0`).
    contrast: Tensor<B::InnerBackend, 4>,
    /// What the masks blend towards, one entry per fill.
    fills: Vec<MaskFill<B::InnerBackend>>,
    targets: Tensor<B, 2, Int>,
    target_list: Vec<usize>,
    differences: Vec<Tensor<B::InnerBackend, 2>>,
    site_shapes: Vec<Vec<usize>>,
    site_indices: Vec<usize>,
}

impl<'a, B, M> Objective<'a, B, M>
where
    B: AutodiffBackend,
    B::InnerBackend: AutodiffBackend,
    M: Model<B>,
{
    /// Checks the inputs and runs the reference forward and one forward of
    /// the images: forward values never depend on the gates, so the
    /// differences `f − f_ref` of every site are computed once here.
    pub(crate) fn new(
        config: &'a ExplainerConfig,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Self> {
        catching_model_panics("the learned rules", || {
            Self::prepare(config, model, images, targets)
        })
    }

    fn prepare(
        config: &'a ExplainerConfig,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Self> {
        let [n, ..] = check_images(model, images)?;
        let inner = model.valid();
        let x = images.clone().inner().detach();
        let towards_baseline = MaskFill::new(&x, &config.baseline)?;
        // The reference image gives f_ref at every site (one image stands
        // for all unless the baseline differs between images).
        let reference = match towards_baseline.baseline() {
            None => x.zeros_like().slice(0..1),
            Some(b) if !config.baseline.varies_per_image() => b.clone().slice(0..1),
            Some(b) => b.clone(),
        };
        let mut recorder = Recorder::<B::InnerBackend>::new();
        let reference_logits = inner.forward_with(reference, &mut recorder)?;
        check_logits(&reference_logits)?;
        check_targets(targets, n, reference_logits.dims()[1])?;
        let (sites, _) = recorder.into_parts();
        if sites.is_empty() {
            return Err(Error::NoActivationSites);
        }
        let mut at_images = Recorder::<B::InnerBackend>::new();
        inner.forward_with(x.clone(), &mut at_images)?;
        let (at_images, _) = at_images.into_parts();
        if at_images.len() != sites.len()
            || at_images
                .iter()
                .zip(&sites)
                .any(|(a, r)| a.shape != r.shape || a.index != r.index)
        {
            return Err(Error::SiteMismatch {
                details: format!(
                    "the reference image visited {} sites, the images {} (or other shapes)",
                    sites.len(),
                    at_images.len()
                ),
            });
        }
        let site_shapes = sites.iter().map(|s| s.shape.clone()).collect();
        let site_indices = sites.iter().map(|s| s.index).collect();
        let differences = at_images
            .into_iter()
            .zip(sites)
            .map(|(f, reference)| match config.use_reference {
                true => f.input - reference.input,
                false => f.input,
            })
            .collect();
        let contrast = towards_baseline.contrast(&x);
        let fills = if config.training_fills.is_empty() {
            vec![towards_baseline]
        } else {
            config
                .training_fills
                .iter()
                .map(|fill| MaskFill::new(&x, fill))
                .collect::<Result<_>>()?
        };
        Ok(Self {
            config,
            outer: model.clone().no_grad(),
            inner,
            targets: target_indices::<B>(targets, &images.device()),
            target_list: targets.to_vec(),
            contrast,
            fills,
            images: x,
            differences,
            site_shapes,
            site_indices,
        })
    }

    /// The number of images.
    pub fn batch_size(&self) -> usize {
        self.images.dims()[0]
    }

    /// The per-image shape of each activation site, in call order.
    pub fn site_indices(&self) -> &[usize] {
        &self.site_indices
    }

    /// The per-image shape of each gated site, in call order.
    pub fn site_shapes(&self) -> &[Vec<usize>] {
        &self.site_shapes
    }

    /// The targets, one per image.
    pub fn targets(&self) -> &[usize] {
        &self.target_list
    }

    /// The starting gates: every weight equal to the configured `W₀`.
    pub fn initial_gates(&self) -> Vec<Tensor<Base<B>, 2>> {
        let x = self.images.clone().inner();
        let n = self.batch_size();
        self.site_shapes
            .iter()
            .map(|shape| {
                let per_image = self.config.granularity.weights_per_image(shape);
                Tensor::full(
                    [n, per_image],
                    self.config.initial_weight,
                    (&x.device(), x.dtype()),
                )
            })
            .collect()
    }

    /// The loss terms of every image at `gates` and `∂L/∂W` for each site
    /// (`L` summed over the batch), obtained by differentiating through the
    /// gated backward.
    ///
    /// # Errors
    /// [`Error::NonFiniteGates`] for NaN or ∞ gates, [`Error::SiteMismatch`]
    /// if the gates do not fit the model's sites,
    /// [`Error::NonFiniteOutput`] if the model's logits are not finite,
    /// [`Error::ModelPanicked`] if the model's code panics.
    pub fn loss_and_gradient(&self, gates: &[Tensor<Base<B>, 2>]) -> Result<Evaluation<Base<B>>> {
        check_gates(gates)?;
        catching_model_panics("the learned rules", || self.evaluate(gates))
    }

    fn evaluate(&self, gates: &[Tensor<Base<B>, 2>]) -> Result<Evaluation<Base<B>>> {
        let tracked: Vec<_> = gates
            .iter()
            .map(|g| Tensor::<B::InnerBackend, 2>::from_inner(g.clone()).require_grad())
            .collect();
        let (loss, total) = self.loss(tracked.clone())?;
        let grads = total.sum().backward();
        let gradients = tracked
            .iter()
            .zip(gates)
            .map(|(t, g)| t.grad(&grads).unwrap_or_else(|| g.zeros_like()))
            .collect();
        Ok(Evaluation { loss, gradients })
    }

    /// Steps 1–5 of one iteration: the per-image loss `[N, 1]` as a tensor
    /// of the inner level (differentiable with respect to tracked gates).
    fn loss(
        &self,
        gates: Vec<Tensor<B::InnerBackend, 2>>,
    ) -> Result<(Vec<LossTerms>, Tensor<B::InnerBackend, 2>)> {
        let cfg = self.config;
        let [n, _, h, w] = self.images.dims();
        let x = &self.images;
        let Gated {
            gradient,
            target_logit,
        } = self.gated_gradient(gates)?;
        let normalised = mask::normalise01((gradient * self.contrast.clone()).sum_dim(1));
        let (positive, negative) = mask::masks(
            normalised,
            cfg.mask,
            cfg.positive_centre,
            cfg.negative_centre,
            cfg.sharpness,
        );
        let targets = self.targets.clone().inner();
        let removed_fraction = |m: Tensor<B::InnerBackend, 4>| {
            m.neg()
                .add_scalar(1.0)
                .abs()
                .reshape([n, h * w])
                .mean_dim(1)
        };
        // One forward of every masked image: `b + M_p ⊙ (I − b)`, and the
        // same with `M_n` when the loss is sign-aware, for every fill `b`.
        let masks = if cfg.sign_aware {
            vec![positive.clone(), negative.clone()]
        } else {
            vec![positive.clone()]
        };
        let count = masks.len();
        let fills = self.fills.len();
        let masked = self
            .fills
            .iter()
            .flat_map(|fill| masks.iter().map(|m| fill.masked(x, m.clone())))
            .collect();
        let picked = self
            .inner
            .logits(Tensor::cat(masked, 0))
            .gather(1, Tensor::cat(vec![targets; fills * count], 0));
        // `F_t` of the images masked by mask `j`, averaged over the fills.
        let mean_over_fills = |j: usize| {
            let part = |k: usize| {
                let at = (k * count + j) * n;
                picked.clone().slice(at..at + n)
            };
            let sum = (1..fills).fold(part(0), |sum, k| sum + part(k));
            match fills {
                1 => sum,
                _ => sum.div_scalar(fills as f64),
            }
        };
        let loss_positive = mean_over_fills(0) - target_logit.clone();
        let (loss_negative, loss_mask) = if cfg.sign_aware {
            (
                target_logit - mean_over_fills(1),
                removed_fraction(positive) + removed_fraction(negative),
            )
        } else {
            (target_logit.zeros_like(), removed_fraction(positive))
        };
        let loss = loss_positive.clone()
            + loss_negative.clone()
            + loss_mask.clone().mul_scalar(cfg.mask_loss_weight);
        let terms = loss_terms(&loss, &loss_positive, &loss_negative, &loss_mask);
        Ok((terms, loss))
    }

    /// Steps 1–2: the gated input gradient `∂F_t/∂I` (an inner-level tensor,
    /// differentiable with respect to the gates) and `F_t(I)` `[N, 1]` as an
    /// inner-level constant.
    pub(crate) fn gated_gradient(
        &self,
        gates: Vec<Tensor<B::InnerBackend, 2>>,
    ) -> Result<Gated<B::InnerBackend>> {
        let input = Tensor::<B, 4>::from_inner(self.images.clone()).require_grad();
        let mut rule =
            LearnedGate::<B>::with_differences(&self.site_indices, gates, self.differences.clone())
                .with_shape(self.config.gate);
        let logits = self.outer.forward_with(input.clone(), &mut rule)?;
        rule.finish_forward()?;
        check_logits(&logits)?;
        let target_logit = logits.gather(1, self.targets.clone());
        let grads = target_logit.clone().sum().backward();
        let gradient = input
            .grad(&grads)
            .unwrap_or_else(|| self.images.zeros_like());
        Ok(Gated {
            gradient,
            target_logit: target_logit.inner().detach(),
        })
    }

    /// `I − b` at the inner level, the factor of the map.
    pub(crate) fn contrast(&self) -> &Tensor<B::InnerBackend, 4> {
        &self.contrast
    }
}

/// One fill of the masked images: `b + M ⊙ (I − b)`, or `I ⊙ M` for `b = 0`.
#[derive(Debug, Clone)]
struct MaskFill<B: Backend> {
    /// `b` and `I − b`; `None` for the all-zero baseline.
    towards: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
}

impl<B: Backend> MaskFill<B> {
    /// The fill towards `baseline` for `images`.
    fn new(images: &Tensor<B, 4>, baseline: &Baseline) -> Result<Self> {
        let towards = match baseline {
            Baseline::Zero => None,
            other => {
                let b = other.tensor(images)?;
                Some((b.clone(), images.clone() - b))
            }
        };
        Ok(Self { towards })
    }

    /// `b`, or `None` for the all-zero baseline.
    fn baseline(&self) -> Option<&Tensor<B, 4>> {
        self.towards.as_ref().map(|(b, _)| b)
    }

    /// `I − b` (the images themselves for `b = 0`).
    fn contrast(&self, images: &Tensor<B, 4>) -> Tensor<B, 4> {
        match &self.towards {
            None => images.clone(),
            Some((_, contrast)) => contrast.clone(),
        }
    }

    /// The images `[N, C, H, W]` under the mask `[N, 1, H, W]`.
    fn masked(&self, images: &Tensor<B, 4>, mask: Tensor<B, 4>) -> Tensor<B, 4> {
        match &self.towards {
            None => images.clone() * mask,
            Some((baseline, contrast)) => baseline.clone() + contrast.clone() * mask,
        }
    }
}

/// The loss of every image and `∂L/∂W` of every site at some gates.
#[derive(Debug, Clone)]
pub struct Evaluation<B: Backend> {
    /// The loss terms of each image.
    pub loss: Vec<LossTerms>,
    /// `∂L/∂W` for each site (`L` summed over the batch), shaped like the gates.
    pub gradients: Vec<Tensor<B, 2>>,
}

/// The gated input gradient and the target logits of one gated pass.
pub(crate) struct Gated<B: Backend> {
    /// `∂F_t/∂I`, `[N, C, H, W]`.
    pub(crate) gradient: Tensor<B, 4>,
    /// `F_t(I)`, `[N, 1]`, a constant.
    pub(crate) target_logit: Tensor<B, 2>,
}

fn loss_terms<B: Backend>(
    total: &Tensor<B, 2>,
    positive: &Tensor<B, 2>,
    negative: &Tensor<B, 2>,
    mask: &Tensor<B, 2>,
) -> Vec<LossTerms> {
    let read = |t: &Tensor<B, 2>| -> Vec<f64> { t.to_data().iter::<f64>().collect() };
    let (total, positive, negative, mask) =
        (read(total), read(positive), read(negative), read(mask));
    (0..total.len())
        .map(|i| LossTerms {
            total: total[i],
            positive: positive[i],
            negative: negative[i],
            mask: mask[i],
        })
        .collect()
}

/// Checks that every site's gates are finite: [`Error::NonFiniteGates`]
/// names the first bad one.
pub(crate) fn check_gates<B: Backend>(gates: &[Tensor<B, 2>]) -> Result<()> {
    for (site, g) in gates.iter().enumerate() {
        if let Some((index, value)) = first_non_finite(g) {
            return Err(Error::NonFiniteGates { site, index, value });
        }
    }
    Ok(())
}
