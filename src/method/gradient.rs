//! The plain gradient and gradient × input.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::Method;
use crate::input::{check_images, check_logits, check_targets, target_indices};
use crate::model::{Explainable, Model};
use crate::rule::{Capture, Composite, RectifyBackend, Rule, TrueGradient};
use crate::Result;

/// What the backward pass starts from at the target logit `F_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// 1: the map is a (modified) gradient `∂F_t/∂x`.
    #[default]
    Unit,
    /// `F_t(x)`: the relevance LRP starts from, so that a conservative
    /// composite's map sums to the logit.
    Logit,
}

/// The input gradient of the target logits with every site following
/// `rule`: `∂F_t/∂x` for [`TrueGradient`], a modified gradient for guided
/// backprop, the relevance for an LRP [`Composite`](crate::rule::Composite)
/// seeded with [`Seed::Logit`]. The building block of every
/// gradient-based method; a user's own [`Rule`] becomes a method with it.
///
/// # Shapes
/// `images` `[N, C, H, W]` → `[N, C, H, W]`.
///
/// # Errors
/// Bad images or targets ([`crate::input`]), the rule's own errors.
pub fn gradient_with<B, M, R>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
    rule: &mut R,
    seed: Seed,
) -> Result<Tensor<B, 4>>
where
    B: AutodiffBackend,
    M: Model<B>,
    R: Rule<B>,
{
    check_images(model, images)?;
    target_gradient(&model.clone().no_grad(), images, targets, rule, seed)
}

/// [`gradient_with`] without checking the images or the weights (the
/// caller has): `model` must not track its parameters (`no_grad`). Logits
/// and targets are still checked.
pub(crate) fn target_gradient<B, M, R>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
    rule: &mut R,
    seed: Seed,
) -> Result<Tensor<B, 4>>
where
    B: AutodiffBackend,
    M: Explainable<B>,
    R: Rule<B>,
{
    let x = Tensor::<B, 4>::from_inner(images.clone().inner()).require_grad();
    let logits = model.forward_with(x.clone(), rule)?;
    check_logits(&logits)?;
    check_targets(targets, images.dims()[0], logits.dims()[1])?;
    let picked = logits.gather(1, target_indices::<B>(targets, &images.device()));
    let objective = match seed {
        Seed::Unit => picked,
        Seed::Logit => picked.clone() * picked.detach(),
    };
    let grads = objective.sum().backward();
    let gradient = x
        .grad(&grads)
        .unwrap_or_else(|| images.clone().inner().zeros_like());
    Ok(Tensor::from_inner(gradient))
}

/// The map of a [`Composite`]: [`gradient_with`] under the composite's rules
/// from a [`Seed`]. Guided backprop, the deconvnet and every LRP variant are
/// instances; an LRP composite seeded with [`Seed::Logit`] gives the
/// relevance at the input (Zennit's `Gradient` attributor with
/// `attr_output = one_hot · output`; Captum's `LRP`).
///
/// ```
/// use burn::prelude::*;
/// use learnprop::method::{Method, RuleGradient, Seed};
/// use learnprop::rule::Composite;
/// use learnprop::zoo::FixtureCnnConfig;
/// use learnprop::{Cpu, Explainable};
///
/// let device = Default::default();
/// let model = FixtureCnnConfig::new().init::<Cpu>(&device);
/// let image = Tensor::<Cpu, 4>::ones([1, 3, 32, 32], &device).mul_scalar(0.5);
/// let lrp = RuleGradient::new("z⁺-LRP", Composite::epsilon_plus(1e-6, 1e-6)?, Seed::Logit);
/// let relevance = lrp.attribute(&model, &image, &[3])?;
/// assert_eq!(relevance.dims(), [1, 3, 32, 32]);
///
/// // LRP-0 with the logit as seed conserves relevance up to what the
/// // biases absorb.
/// let lrp0 = RuleGradient::new("LRP-0", Composite::epsilon(0.0)?, Seed::Logit);
/// let total: f32 = lrp0.attribute(&model, &image, &[3])?.sum().into_scalar();
/// assert!(total.is_finite());
/// # Ok::<(), learnprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGradient {
    name: String,
    composite: Composite,
    seed: Seed,
}

impl RuleGradient {
    /// The method called `name` (for tables and pictures) running
    /// `composite` from `seed`.
    pub fn new(name: impl Into<String>, composite: Composite, seed: Seed) -> Self {
        Self {
            name: name.into(),
            composite,
            seed,
        }
    }

    /// The composite.
    pub fn composite(&self) -> &Composite {
        &self.composite
    }
}

impl<B, M> Method<B, M> for RuleGradient
where
    B: RectifyBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let mut rule = self.composite.rule::<B>();
        if self.composite.needs_last_weighted() {
            check_images(model, images)?;
            let mut probe = Capture::<B>::new(None);
            model
                .clone()
                .no_grad()
                .forward_with(images.clone().slice(0..1), &mut probe)?;
            let last = probe
                .sites()
                .iter()
                .rev()
                .find(|(_, kind, _)| kind.is_weighted())
                .map(|(index, _, _)| *index)
                .ok_or_else(|| {
                    crate::Error::Unsupported(
                        "`Select::LastWeighted`: the model has no convolution or linear site"
                            .into(),
                    )
                })?;
            rule = rule.with_last_weighted(last);
        }
        gradient_with(model, images, targets, &mut rule, self.seed)
    }
}

/// Saliency (Simonyan et al. 2014): the gradient `∂F_t/∂x` of the target
/// logit, signed or in absolute value. Captum: `Saliency(model).attribute(x,
/// target, abs=…)` (Captum's default is `abs=True`; here
/// [`Saliency::signed`] and [`Saliency::absolute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saliency {
    /// Return `|∂F_t/∂x|` instead of `∂F_t/∂x`.
    pub absolute: bool,
}

impl Saliency {
    /// The signed gradient.
    pub fn signed() -> Self {
        Self { absolute: false }
    }

    /// The absolute gradient.
    pub fn absolute() -> Self {
        Self { absolute: true }
    }
}

impl<B, M> Method<B, M> for Saliency
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        if self.absolute {
            "saliency (absolute)"
        } else {
            "saliency"
        }
        .into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let gradient = gradient_with(model, images, targets, &mut TrueGradient, Seed::Unit)?;
        Ok(if self.absolute {
            gradient.abs()
        } else {
            gradient
        })
    }
}

/// Gradient × input (Shrikumar et al. 2016): `x ⊙ ∂F_t/∂x`. Captum:
/// `InputXGradient`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputXGradient;

impl<B, M> Method<B, M> for InputXGradient
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "gradient × input".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        Ok(gradient_with(model, images, targets, &mut TrueGradient, Seed::Unit)? * images.clone())
    }
}
