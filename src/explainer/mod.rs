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
//! That is the paper's form, whose reference is the all-zero image. With a
//! [`baseline`](ExplainerConfig::baseline) `b` every step uses it: `f_ref`
//! comes from `b`, the map is `Σ_c ∂F_t/∂I ⊙ (I − b)` and the masked images
//! are `b + M ⊙ (I − b)`; [`training_fills`](ExplainerConfig::training_fills)
//! averages step 5 over several fills.
//!
//! Two autodiff levels make step 6 possible: the model runs on
//! `Autodiff<Autodiff<X>>`; the outer level's backward (step 2) is computed
//! with inner-level tensors, which the inner level differentiates (step 6).

pub(crate) mod adam;
mod config;
mod mask;
mod objective;

pub use config::{ExplainerConfig, MaskStrategy, MAX_TRAINING_FILLS};
pub use objective::{Evaluation, Objective};

use std::marker::PhantomData;

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::guard::catching_model_panics;

use crate::input::check_finite_map;
use crate::model::Model;
use crate::Result;
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

/// Where a run of [`Explainer::attribute_with_progress`] stands.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The iteration just done, from 1.
    pub iteration: usize,
    /// Iterations in the run.
    pub iterations: usize,
    /// That iteration's loss terms, one per image.
    pub loss: &'a [LossTerms],
}

/// The result of [`Explainer::attribute`] for a batch.
#[derive(Debug, Clone)]
pub struct Attribution<B: Backend> {
    /// The signed map `A = Σ_c (∂F_t/∂I ⊙ (I − b))` with the final gates,
    /// `[N, H, W]` (`b` the configured baseline, 0 in the paper's form).
    pub signed: Tensor<B, 3>,
    /// `A` rescaled per image to `[0, 1]`, `[N, H, W]`.
    pub normalised: Tensor<B, 3>,
    /// The gated input gradient `∂F_t/∂I` with the final gates, `[N, C, H, W]`
    /// (with zero iterations: the gradient of the starting gates).
    pub input_gradient: Tensor<B, 4>,
    /// `∂F_t/∂I ⊙ (I − b)` per channel, `[N, C, H, W]`; its channel sum is
    /// [`signed`](Self::signed).
    pub contributions: Tensor<B, 4>,
    /// The loss of each iteration before its update, `[iteration][image]`.
    pub loss_trace: Vec<Vec<LossTerms>>,
    /// The class explained for each image.
    pub targets: Vec<usize>,
}

/// Trains learned propagation rules per image and returns their attribution
/// maps.
///
/// `B` is the doubly differentiable backend the model lives on, e.g.
/// [`Cpu`](crate::Cpu) (`Autodiff<Autodiff<Flex>>`).
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
    /// losses, so a batch gives the same maps as one call per image up to
    /// rounding (1e-10 in f64; in f32 on Flex ~1e-5 of the map's maximum
    /// for most images, up to ~2e-2 for a few, see `docs/method.md`). The
    /// same call always gives bit-identical maps.
    ///
    /// # Shapes
    /// - `images`: `[N, C, H, W]`, in the model's input space;
    /// - `targets`: `N` class indices (pre-softmax logits are explained);
    /// - result maps: `[N, H, W]`.
    ///
    /// # Errors
    /// An empty batch, wrong channels or size, NaN/∞ in the images or the
    /// weights, a target count or class out of range, a model without
    /// activation sites, a NaN/∞ gated gradient
    /// ([`Error::NonFiniteMap`](crate::Error::NonFiniteMap)), gates that
    /// became NaN/∞ ([`Error::NonFiniteGates`](crate::Error::NonFiniteGates)),
    /// or a panic of the model's code
    /// ([`Error::ModelPanicked`](crate::Error::ModelPanicked)).
    pub fn attribute<M>(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Attribution<B>>
    where
        M: Model<B>,
    {
        self.attribute_with_progress(model, images, targets, |_| {})
    }

    /// [`attribute`](Self::attribute), calling `progress` after every
    /// iteration with the iteration's number (from 1) and its loss terms, for
    /// long runs.
    ///
    /// # Errors
    /// As [`attribute`](Self::attribute).
    pub fn attribute_with_progress<M>(
        &self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
        mut progress: impl FnMut(Progress<'_>),
    ) -> Result<Attribution<B>>
    where
        M: Model<B>,
    {
        let objective = self.objective(model, images, targets)?;
        let cfg = &self.config;
        let mut gates = objective.initial_gates();
        let mut adam = Adam::new(
            cfg.learning_rate,
            cfg.adam_beta1,
            cfg.adam_beta2,
            cfg.adam_epsilon,
        );
        // Grown as the iterations run: the count is the user's, not an allocation.
        let mut loss_trace = Vec::new();
        for iteration in 1..=cfg.iterations {
            let evaluation = objective.loss_and_gradient(&gates)?;
            progress(Progress {
                iteration,
                iterations: cfg.iterations,
                loss: &evaluation.loss,
            });
            loss_trace.push(evaluation.loss);
            adam.step(&mut gates, evaluation.gradients);
        }
        // The map of the final gates.
        objective::check_gates(&gates)?;
        let fixed = gates.into_iter().map(Tensor::from_inner).collect();
        let gradient = catching_model_panics("the learned rules", || {
            Ok(objective.gated_gradient(fixed)?.gradient.detach())
        })?;
        let [n, c, h, w] = gradient.dims();
        let values: Vec<f64> = gradient.to_data().iter::<f64>().collect();
        check_finite_map("learned-rule input gradient", &values, c * h * w)?;
        let contributions = gradient.clone() * objective.contrast().clone();
        let signed = contributions.clone().sum_dim(1);
        let products: Vec<f64> = signed.to_data().iter::<f64>().collect();
        check_finite_map("learned-rule map", &products, h * w)?;
        let normalised = mask::normalise01(signed.clone());
        Ok(Attribution {
            signed: Tensor::from_inner(signed.reshape([n, h, w])),
            normalised: Tensor::from_inner(normalised.reshape([n, h, w])),
            input_gradient: Tensor::from_inner(gradient),
            contributions: Tensor::from_inner(contributions),
            loss_trace,
            targets: targets.to_vec(),
        })
    }

    /// The learned-rule loss of this batch as a function of the gates, for
    /// inspecting the objective and its gradient. [`attribute`](Self::attribute)
    /// minimises it with Adam.
    ///
    /// # Errors
    /// As [`attribute`](Self::attribute).
    pub fn objective<'a, M>(
        &'a self,
        model: &M,
        images: &Tensor<B, 4>,
        targets: &[usize],
    ) -> Result<Objective<'a, B, M>>
    where
        M: Model<B>,
    {
        Objective::new(&self.config, model, images, targets)
    }
}

/// The learned rules as a [`Method`](crate::method::Method), for tables of
/// methods (from [`Explainer::into_method`]): the map is
/// [`Attribution::contributions`], `(x − b) ⊙ ∂F_t/∂x` with the trained
/// gates, `[N, C, H, W]` (its channel sum is [`Attribution::signed`]). A separate type, so that
/// [`Explainer::attribute`] (the whole [`Attribution`]) and
/// `Method::attribute` (the map) never shadow each other.
#[derive(Debug, Clone)]
pub struct LearnedRules<B> {
    explainer: Explainer<B>,
}

impl<B> Explainer<B> {
    /// The learned rules as a [`Method`](crate::method::Method).
    pub fn into_method(self) -> LearnedRules<B> {
        LearnedRules { explainer: self }
    }
}

impl<B, M> crate::method::Method<B, M> for LearnedRules<B>
where
    B: AutodiffBackend,
    B::InnerBackend: AutodiffBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "learned rules".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        Ok(self
            .explainer
            .attribute(model, images, targets)?
            .contributions)
    }
}
