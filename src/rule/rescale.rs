//! DeepLIFT's rescale rule.

use burn::prelude::*;

use super::{by_site_index, with_local_derivative, Recorder, Rule, Site};
use crate::model::Activation;
use crate::ops::{gather_windows, max_pool_routing, PoolGeometry};
use crate::{Error, Result};

/// DeepLIFT's rescale rule (Shrikumar et al. 2017), given the reference's
/// site inputs: each activation's multiplier is `Δa/Δf = (a(f) − a(f̄)) /
/// (f − f̄)` (the true derivative where `|Δf| < ε`), and each max-pool routes
/// its output difference through both the input's and the reference's
/// maxima: with `o`, `ō` the pooled values and `m = max(o, ō)`, `(m − ō)`
/// goes to the input's first maximum and `(o − m)` to the reference's, each
/// divided by the pool input's difference there.
#[derive(Debug, Clone)]
pub struct Rescale<B: Backend> {
    activations: Vec<Option<Tensor<B, 2>>>,
    pools: Vec<Option<Tensor<B, 4>>>,
    epsilon: f64,
}

impl<B: Backend> Rescale<B> {
    /// The rule with the reference's sites as `recorder` recorded them (one
    /// reference image, or one per image) and threshold `epsilon`.
    pub fn new(recorder: Recorder<B>, epsilon: f64) -> Self {
        let (sites, pools) = recorder.into_parts();
        Self {
            activations: by_site_index(sites.into_iter().map(|s| (s.index, s.input))),
            pools: by_site_index(pools.into_iter().map(|p| (p.index, p.input))),
            epsilon,
        }
    }

    fn missing(site: &Site<'_>) -> Error {
        Error::SiteMismatch {
            details: format!(
                "site {} ({:?}) was not visited by the reference",
                site.index, site.kind
            ),
        }
    }
}

impl<B: Backend> Rule<B> for Rescale<B> {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let reference = self
            .activations
            .get(site.index)
            .and_then(Option::as_ref)
            .ok_or_else(|| Self::missing(site))?;
        let f = input.clone().detach();
        if reference.dims()[1] != site.shape.iter().product::<usize>() {
            return Err(Self::missing(site));
        }
        let mut reference_shape = f.dims();
        reference_shape[0] = reference.dims()[0];
        let f_ref = reference.clone().reshape(reference_shape);
        let delta = f.clone() - f_ref.clone();
        let small = delta.clone().abs().lower_elem(self.epsilon);
        let safe = delta.mask_fill(small.clone(), 1.0);
        let rescaled = (activation.apply(f.clone()) - activation.apply(f_ref)) / safe;
        let multiplier = rescaled.mask_where(small, activation.derivative(f.clone()));
        Ok(with_local_derivative(
            input,
            activation.apply(f),
            multiplier,
        ))
    }

    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        let reference = self
            .pools
            .get(site.index)
            .and_then(Option::as_ref)
            .ok_or_else(|| Self::missing(site))?
            .clone();
        if reference.dims()[1..] != input.dims()[1..] {
            return Err(Self::missing(site));
        }
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
        Ok(o + (routed.clone() - routed.detach()))
    }
}
