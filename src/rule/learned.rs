//! The learned gate of the learned propagation rules.

use burn::config::Config;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::{by_site_index, with_local_derivative, Rule, Site};
use crate::model::Activation;
use crate::{Error, Result};

/// The granularity of the learnable gate parameters `W` of one site (the
/// paper's "plugin").
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One weight per element of the site's feature map (`W` shaped like
    /// `[C, H, W]`): the paper's default.
    PerPosition,
    /// One weight per channel (`W` shaped `[C]`, broadcast over positions):
    /// the paper's `*` variant. Identical to `PerPosition` at sites without
    /// spatial dimensions.
    PerChannel,
}

impl Granularity {
    /// Number of gate weights per image at a site with per-image shape `shape`.
    pub fn weights_per_image(self, shape: &[usize]) -> usize {
        match self {
            Granularity::PerPosition => shape.iter().product(),
            Granularity::PerChannel => shape.first().copied().unwrap_or(1),
        }
    }
}

/// The function that turns `W ⊙ (f − f_ref)` into the local derivative.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum GateShape {
    /// `tanh(W ⊙ (f − f_ref))`: the paper's gate.
    Tanh,
    /// `σ(scale · W ⊙ (f − f_ref))`, in `(0, 1)`. Without the reference and
    /// with a large `scale·W₀` it starts at (nearly) the derivative of a
    /// ReLU, `1[f > 0]`, so the learning starts from the plain gradient
    /// instead of from the paper's `tanh(f − f_ref)`. Not in the paper; an
    /// option.
    Sigmoid {
        /// The factor in front of `W`, e.g. 10.
        scale: f64,
    },
}

/// The learned rule: at each site the local derivative becomes
/// `tanh(W ⊙ (f − f_ref))`, where `f` is the site's recorded input, `f_ref`
/// its input for the reference (all-zero) image and `W` the site's gate
/// parameters.
///
/// The hook runs at the outer autodiff level `B`; the gate is computed at the
/// inner level `B::InnerBackend`, where `W` is tracked, so differentiating the
/// outer backward's result differentiates through the gates. The gate is a
/// function of `W` and of the constant `f`, `f_ref`; it is not differentiated
/// with respect to `f`.
#[derive(Debug, Clone)]
pub struct LearnedGate<B: AutodiffBackend> {
    shape: GateShape,
    weights: Vec<Tensor<B::InnerBackend, 2>>,
    arguments: Arguments<B::InnerBackend>,
    /// The gate slot of each site index (`None`: not a gated site).
    slots: Vec<Option<usize>>,
    visited: usize,
}

/// Where a site's `f − f_ref` comes from.
#[derive(Debug, Clone)]
enum Arguments<B: Backend> {
    /// Computed from each forward's site inputs and, when present, the
    /// reference inputs `[1, elements per image]`.
    References(Option<Vec<Tensor<B, 2>>>),
    /// Given per site, `[N, elements per image]`.
    Differences(Vec<Tensor<B, 2>>),
}

impl<B: AutodiffBackend> LearnedGate<B> {
    /// A gate rule for the activation sites numbered `sites` (their
    /// [`Site::index`], as a [`Recorder`](super::Recorder) lists them), with
    /// per-site weights `[N, weights per image]` (see
    /// [`Granularity::weights_per_image`]) and, when the reference is on, per-site
    /// reference inputs `[1, elements per image]`.
    pub fn new(
        sites: &[usize],
        weights: Vec<Tensor<B::InnerBackend, 2>>,
        references: Option<Vec<Tensor<B::InnerBackend, 2>>>,
    ) -> Self {
        let slots = by_site_index(sites.iter().enumerate().map(|(slot, &index)| (index, slot)));
        Self {
            shape: GateShape::Tanh,
            weights,
            arguments: Arguments::References(references),
            slots,
            visited: 0,
        }
    }

    /// A gate hook with per-site weights and the per-site differences
    /// `f − f_ref` (or `f` alone, without the reference) already computed,
    /// `[N, elements per image]` each. Forward values never depend on the
    /// gates, so one forward gives the differences of every later one; the
    /// learned rules compute them once per call instead of once per
    /// iteration.
    pub fn with_differences(
        sites: &[usize],
        weights: Vec<Tensor<B::InnerBackend, 2>>,
        differences: Vec<Tensor<B::InnerBackend, 2>>,
    ) -> Self {
        Self {
            arguments: Arguments::Differences(differences),
            ..Self::new(sites, weights, None)
        }
    }

    /// The same hook with another gate function (default [`GateShape::Tanh`]).
    pub fn with_shape(mut self, shape: GateShape) -> Self {
        self.shape = shape;
        self
    }

    /// Checks that the forward just run visited every site the gates were
    /// built for, and resets the count for the next forward.
    ///
    /// # Errors
    /// [`Error::SiteMismatch`] when it visited fewer.
    pub fn finish_forward(&mut self) -> Result<()> {
        let visited = std::mem::take(&mut self.visited);
        if visited != self.weights.len() {
            return Err(Error::SiteMismatch {
                details: format!(
                    "the gates were built for {} sites, the forward visited {visited}",
                    self.weights.len()
                ),
            });
        }
        Ok(())
    }

    fn gate<const D: usize>(
        &self,
        site: usize,
        input: &Tensor<B, D>,
    ) -> Result<Tensor<B, D>, String> {
        let dims = input.dims();
        let per_image: usize = dims[1..].iter().product();
        let w = &self.weights[site];
        let [n, p] = w.dims();
        if n != dims[0] {
            return Err(format!(
                "site {site}: gates for {n} images, input batch {}",
                dims[0]
            ));
        }
        let mut w_shape = [1usize; D];
        w_shape[0] = n;
        if p == per_image {
            w_shape.copy_from_slice(&dims);
        } else if D >= 2 && p == dims[1] {
            w_shape[1] = p;
        } else {
            return Err(format!(
                "site {site}: {p} gate weights per image do not fit input shape {:?}",
                &dims[1..]
            ));
        }
        let diff = match &self.arguments {
            Arguments::Differences(differences) => {
                let d = differences.get(site).ok_or_else(|| {
                    format!(
                        "site {site}: differences given for {} sites",
                        differences.len()
                    )
                })?;
                if d.dims() != [dims[0], per_image] {
                    return Err(format!(
                        "site {site}: differences of shape {:?}, input {:?}",
                        d.dims(),
                        dims
                    ));
                }
                d.clone().reshape(dims)
            }
            Arguments::References(references) => {
                let f = input.clone().detach().inner().detach();
                match references {
                    Some(refs) => {
                        let r = refs.get(site).ok_or_else(|| {
                            format!("site {site}: references given for {} sites", refs.len())
                        })?;
                        if r.dims()[1] != per_image {
                            return Err(format!(
                                "site {site}: reference has {} elements per image, input {per_image}",
                                r.dims()[1]
                            ));
                        }
                        let mut r_shape = dims;
                        r_shape[0] = 1;
                        f - r.clone().reshape(r_shape)
                    }
                    None => f,
                }
            }
        };
        let argument = w.clone().reshape(w_shape) * diff;
        let gate = match self.shape {
            // `tanh` once: Burn's tanh backward would compute it again from
            // the argument; its derivative `1 − tanh²`, in Burn's own
            // operation order, is attached instead.
            GateShape::Tanh => {
                let value = argument.clone().detach().tanh();
                let slope = value.clone().powi_scalar(2).neg().add_scalar(1.0);
                with_local_derivative(argument, value, slope)
            }
            GateShape::Sigmoid { scale } => crate::ops::sigmoid(argument.mul_scalar(scale)),
        };
        Ok(Tensor::from_inner(gate))
    }
}

impl<B: AutodiffBackend> Rule<B> for LearnedGate<B> {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let slot = self
            .slots
            .get(site.index)
            .copied()
            .flatten()
            .filter(|&slot| slot < self.weights.len())
            .ok_or_else(|| Error::SiteMismatch {
                details: format!(
                    "activation site {} has no gates (the gates were built for {} sites)",
                    site.index,
                    self.weights.len()
                ),
            })?;
        self.visited += 1;
        let gate = self
            .gate(slot, &input)
            .map_err(|details| Error::SiteMismatch { details })?;
        let value = activation.apply(input.clone().detach());
        Ok(with_local_derivative(input, value, gate))
    }
}
