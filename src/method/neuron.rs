//! Attribution from a unit inside the network: how each input element
//! moves one neuron of a site's output (Captum's neuron attributions).

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::integrated::{path_points, IntegratedGradients};
use super::{IntegratedGradientsConfig, Method};
use crate::input::{check_images, check_logits, check_targets};
use crate::model::{Explainable, Model};
use crate::rule::{Capture, Select};
use crate::{Error, Result};

/// A neuron: a site and a position in its per-image output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neuron {
    /// The site (the first match).
    pub site: Select,
    /// The position in the site's output per image: `[c, h, w]` at a
    /// spatial site, `[k]` at a vector site.
    pub position: Vec<usize>,
}

impl Neuron {
    /// The gradient of `Σ_i out_i[position]` with respect to `images`;
    /// `targets` (one per image) are checked against the logits, not used.
    fn gradient<B: AutodiffBackend, M: Explainable<B>>(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Tensor<B::InnerBackend, 4>> {
        let x = Tensor::<B, 4>::from_inner(images.clone().inner()).require_grad();
        let mut capture = Capture::observing(self.site.clone());
        let logits = model.forward_with(x.clone(), &mut capture)?;
        check_logits(&logits)?;
        check_targets(targets, images.dims()[0], logits.dims()[1])?;
        let captured = capture.into_captured()?;
        let shape = &captured.shape;
        let fits = self.position.len() == shape.len()
            && self.position.iter().zip(shape).all(|(p, s)| p < s);
        if !fits {
            return Err(Error::Unsupported(format!(
                "neuron {:?} is outside site {}'s output {:?} per image",
                self.position, captured.index, shape
            )));
        }
        let flat = self
            .position
            .iter()
            .zip(shape)
            .fold(0, |index, (p, s)| index * s + p);
        let unit = captured.output.slice([0..images.dims()[0], flat..flat + 1]);
        let grads = unit.sum().backward();
        Ok(x.grad(&grads)
            .unwrap_or_else(|| images.clone().inner().zeros_like()))
    }
}

/// Neuron gradient: `∂ n(x) / ∂x` for a [`Neuron`] `n` (the targets are
/// checked, one valid class per image, but not used). Captum: `NeuronGradient(model, layer).attribute(x,
/// neuron_selector)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeuronGradient {
    /// The unit explained.
    pub neuron: Neuron,
}

impl<B, M> Method<B, M> for NeuronGradient
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "neuron gradient".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        check_images(model, images)?;
        let gradient = self
            .neuron
            .gradient(&model.clone().no_grad(), images, targets)?;
        Ok(Tensor::from_inner(gradient))
    }
}

/// Neuron integrated gradients: integrated gradients of a [`Neuron`]'s
/// value instead of a logit, `(x − x̄) ⊙ Σ_i w_i ∂n/∂x |_{x̄ + α_i (x − x̄)}`
/// (the targets are checked but not used). Captum:
/// `NeuronIntegratedGradients(model, layer)`.
#[derive(Debug, Clone)]
pub struct NeuronIntegratedGradients {
    neuron: Neuron,
    integration: IntegratedGradients,
}

impl NeuronIntegratedGradients {
    /// The method for `neuron` with the path of `config`.
    ///
    /// # Errors
    /// As [`IntegratedGradientsConfig::init`].
    pub fn new(neuron: Neuron, config: &IntegratedGradientsConfig) -> Result<Self> {
        Ok(Self {
            neuron,
            integration: config.init()?,
        })
    }
}

impl<B, M> Method<B, M> for NeuronIntegratedGradients
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "neuron integrated gradients".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, ..] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let config = self.integration.config();
        let baseline = config.baseline.tensor(images)?;
        let difference = images.clone() - baseline.clone();
        let sum = self.integration.integrate(n, |alphas| {
            let points = path_points(&baseline, &difference, alphas);
            let repeated = super::repeat_targets(targets, alphas.len());
            Ok(Tensor::<B, 4>::from_inner(
                self.neuron.gradient(&model, &points, &repeated)?,
            ))
        })?;
        Ok(sum * difference)
    }
}
