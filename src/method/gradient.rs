//! The plain gradient and gradient × input.

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::Method;
use crate::input::{check_images, check_logits, check_targets, target_indices};
use crate::model::{ActivationHook, Explainable, TrueGradient};
use crate::Result;

/// `∂F_t/∂x` through `model` with every site following `hook`, for checked
/// images and targets.
pub(crate) fn input_gradient<B, M, H>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
    hook: &mut H,
) -> Result<Tensor<B, 4>>
where
    B: AutodiffBackend,
    M: Explainable<B> + AutodiffModule<B>,
    H: ActivationHook<B>,
{
    check_images(model, images)?;
    target_gradient(&model.clone().no_grad(), images, targets, hook)
}

/// `∂F_t/∂x` without checking the images or the weights (the caller has):
/// `model` must not track its parameters (`no_grad`). Logits and targets are
/// still checked.
pub(crate) fn target_gradient<B, M, H>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
    hook: &mut H,
) -> Result<Tensor<B, 4>>
where
    B: AutodiffBackend,
    M: Explainable<B>,
    H: ActivationHook<B>,
{
    let x = Tensor::<B, 4>::from_inner(images.clone().inner()).require_grad();
    let logits = model.forward_hooked(x.clone(), hook);
    check_logits(&logits)?;
    check_targets(targets, images.dims()[0], logits.dims()[1])?;
    let picked = logits.gather(1, target_indices::<B>(targets, &images.device()));
    let grads = picked.sum().backward();
    let gradient = x
        .grad(&grads)
        .unwrap_or_else(|| images.clone().inner().zeros_like());
    Ok(Tensor::from_inner(gradient))
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
    M: Explainable<B> + AutodiffModule<B>,
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
        let gradient = input_gradient(model, images, targets, &mut TrueGradient)?;
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
    M: Explainable<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "gradient × input".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        Ok(input_gradient(model, images, targets, &mut TrueGradient)? * images.clone())
    }
}
