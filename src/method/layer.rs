//! Attribution to a layer: how much each unit of a site's output matters
//! for the target logit (Captum's layer attributions).

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::gradcam::{logit_gradient, site_output};
use super::integrated::IntegratedGradients;
use super::{repeat_targets, IntegratedGradientsConfig, Method, Quadrature};
use crate::input::check_images;
use crate::model::{Explainable, Model};
use crate::rule::{Capture, Captured, Select};
use crate::Result;

/// A layer map `[N, elements per image]` as the `[N, C, H, W]` of a
/// spatial site or the `[N, K, 1, 1]` of a vector site.
fn as_map<B: Backend>(flat: Tensor<B, 2>, shape: &[usize]) -> Tensor<B, 4> {
    let n = flat.dims()[0];
    match *shape {
        [c, h, w] => flat.reshape([n, c, h, w]),
        _ => {
            let k = flat.dims()[1];
            flat.reshape([n, k, 1, 1])
        }
    }
}

/// One forward of `images` with the selected site's output made a leaf
/// (or replaced by `values`); the captured output and `∂F_t/∂A` at it.
fn layer_gradient<B, M>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
    select: &Select,
    values: Option<Tensor<B, 2>>,
) -> Result<(Captured<B>, Tensor<B::InnerBackend, 2>)>
where
    B: AutodiffBackend,
    M: Explainable<B>,
{
    let capture = match values {
        Some(v) => Capture::replacing(select.clone(), v),
        None => Capture::new(Some(select.clone())),
    };
    let (captured, logits) = site_output(model, images, targets, capture)?;
    let gradient = logit_gradient(&captured, logits, targets);
    Ok((captured, gradient))
}

/// Layer gradient × activation: `A ⊙ ∂F_t/∂A` at the output `A` of the
/// site `site` picks (the first match). Result `[N, C, h, w]`, or
/// `[N, K, 1, 1]` at a site without spatial dimensions. Captum:
/// `LayerGradientXActivation(model, layer)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerGradientXActivation {
    /// The site explained.
    pub site: Select,
}

impl<B, M> Method<B, M> for LayerGradientXActivation
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "layer gradient × activation".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        check_images(model, images)?;
        let model = model.clone().no_grad();
        let (captured, gradient) = layer_gradient(&model, images, targets, &self.site, None)?;
        let map = captured.output.inner() * gradient;
        Ok(Tensor::from_inner(as_map(map, &captured.shape)))
    }
}

/// Layer integrated gradients: integrated gradients in the space of the
/// site's output `A`, from `A(x̄)` (the baseline image's) to `A(x)`:
/// `(A(x) − A(x̄)) ⊙ Σ_i w_i ∂F_t/∂A |_{A(x̄) + α_i (A(x) − A(x̄))}`, the
/// layers after the site evaluated at the interpolated outputs. Points,
/// weights, baseline and batching are those of the
/// [`IntegratedGradientsConfig`]. Captum: `LayerIntegratedGradients(model,
/// layer)` (`attribute_to_layer_input=False`).
#[derive(Debug, Clone)]
pub struct LayerIntegratedGradients {
    site: Select,
    integration: IntegratedGradients,
}

impl LayerIntegratedGradients {
    /// The method at `site` with the path of `config`.
    ///
    /// # Errors
    /// As [`IntegratedGradientsConfig::init`].
    pub fn new(site: Select, config: &IntegratedGradientsConfig) -> Result<Self> {
        Ok(Self {
            site,
            integration: config.init()?,
        })
    }
}

impl<B, M> Method<B, M> for LayerIntegratedGradients
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "layer integrated gradients".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, ..] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let config = self.integration.config();
        let baseline = config.baseline.tensor(images)?;
        // A(x) and A(x̄): forwards only.
        let observe = || Capture::new(Some(self.site.clone()));
        let (at_input, _) = site_output(&model, images, targets, observe())?;
        let (at_baseline, _) = site_output(&model, &baseline, targets, observe())?;
        let shape = at_input.shape.clone();
        let (a, a_ref) = (at_input.output.detach(), at_baseline.output.detach());
        let difference = a - a_ref.clone();
        let sum = self.integration.integrate(n, |alphas| {
            let k = alphas.len();
            let points: Vec<Tensor<B, 2>> = alphas
                .iter()
                .map(|&alpha| a_ref.clone() + difference.clone().mul_scalar(alpha))
                .collect();
            let repeated = Tensor::cat(vec![images.clone(); k], 0);
            let values = Some(Tensor::cat(points, 0));
            let (_, gradient) = layer_gradient(
                &model,
                &repeated,
                &repeat_targets(targets, k),
                &self.site,
                values,
            )?;
            Ok(gradient)
        })?;
        let map = sum * difference.inner();
        Ok(Tensor::from_inner(as_map(map, &shape)))
    }
}

/// Layer conductance (Dhamdhere et al. 2018): the flow of the integrated
/// gradients of the input through each unit of the site's output `A`,
/// `Σ_k (A(x_{k+1}) − A(x_k)) ⊙ ∂F_t/∂A(x_k)` over the images
/// `x_k = x̄ + α_k (x − x̄)` at the `steps + 1` points of the rule. Captum:
/// `LayerConductance(model, layer)`, whose default rule (Gauss–Legendre, 50
/// steps) is the default here.
#[derive(Debug, Clone)]
pub struct LayerConductance {
    site: Select,
    steps: usize,
    points: IntegratedGradients,
}

impl LayerConductance {
    /// The method at `site` with `steps` steps of `quadrature` from
    /// `baseline`, `steps_per_batch` path points per forward.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for 0 steps; as
    /// [`IntegratedGradientsConfig::init`] for `steps + 1` points.
    pub fn new(
        site: Select,
        steps: usize,
        quadrature: Quadrature,
        baseline: super::Baseline,
        steps_per_batch: usize,
    ) -> Result<Self> {
        super::at_least_one("steps", steps)?;
        let points = IntegratedGradientsConfig::new()
            .with_steps(steps.saturating_add(1))
            .with_quadrature(quadrature)
            .with_baseline(baseline)
            .with_steps_per_batch(steps_per_batch)
            .init()?;
        Ok(Self {
            site,
            steps,
            points,
        })
    }
}

impl<B, M> Method<B, M> for LayerConductance
where
    B: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "layer conductance".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, ..] = check_images(model, images)?;
        let model = model.clone().no_grad();
        let config = self.points.config();
        let baseline = config.baseline.tensor(images)?;
        let difference = images.clone() - baseline.clone();
        let (alphas, _) = self.points.points_and_weights();
        let mut outputs = Vec::with_capacity(self.steps + 1);
        let mut gradients = Vec::with_capacity(self.steps + 1);
        let mut shape = Vec::new();
        for chunk in alphas.chunks(config.steps_per_batch) {
            let k = chunk.len();
            let points: Vec<Tensor<B, 4>> = chunk
                .iter()
                .map(|&alpha| baseline.clone() + difference.clone().mul_scalar(alpha))
                .collect();
            let (captured, gradient) = layer_gradient(
                &model,
                &Tensor::cat(points, 0),
                &repeat_targets(targets, k),
                &self.site,
                None,
            )?;
            let output = captured.output.inner();
            shape = captured.shape;
            for i in 0..k {
                outputs.push(output.clone().slice(i * n..(i + 1) * n));
                gradients.push(gradient.clone().slice(i * n..(i + 1) * n));
            }
        }
        let map = (0..self.steps)
            .map(|k| (outputs[k + 1].clone() - outputs[k].clone()) * gradients[k].clone())
            .reduce(|a, b| a + b)
            .expect("at least one step");
        Ok(Tensor::from_inner(as_map(map, &shape)))
    }
}
