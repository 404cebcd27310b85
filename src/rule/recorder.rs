//! The rule that records every site's input.

use burn::prelude::*;

use super::{Rule, Site};
use crate::model::Activation;
use crate::ops::PoolGeometry;
use crate::Result;

/// The true gradient, keeping a detached copy of each activation site's
/// input (flattened to `[N, elements per image]`) and of each max-pooling
/// site's input.
///
/// Used to find `f_ref` (the inputs of the sites for the reference image), the
/// site shapes and the number of sites of a model.
#[derive(Debug, Clone)]
pub struct Recorder<B: Backend> {
    sites: Vec<RecordedSite<B>>,
    pools: Vec<RecordedPool<B>>,
}

/// One recorded activation site.
#[derive(Debug, Clone)]
pub struct RecordedSite<B: Backend> {
    /// The site's index in the forward pass ([`Site::index`]).
    pub index: usize,
    /// The site's activation.
    pub activation: Activation,
    /// The site's per-image shape (without the batch dimension).
    pub shape: Vec<usize>,
    /// The site's input, `[N, elements per image]`, detached.
    pub input: Tensor<B, 2>,
}

/// One recorded max-pooling site.
#[derive(Debug, Clone)]
pub struct RecordedPool<B: Backend> {
    /// The site's index in the forward pass ([`Site::index`]).
    pub index: usize,
    /// The site's input `[N, C, H, W]`, detached.
    pub input: Tensor<B, 4>,
}

impl<B: Backend> Default for Recorder<B> {
    fn default() -> Self {
        Self {
            sites: Vec::new(),
            pools: Vec::new(),
        }
    }
}

impl<B: Backend> Recorder<B> {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The activation sites recorded so far, in call order.
    pub fn sites(&self) -> &[RecordedSite<B>] {
        &self.sites
    }

    /// The max-pooling sites recorded so far, in call order.
    pub fn pools(&self) -> &[RecordedPool<B>] {
        &self.pools
    }

    /// Consumes the recorder, returning its activation and max-pooling sites.
    pub fn into_parts(self) -> (Vec<RecordedSite<B>>, Vec<RecordedPool<B>>) {
        (self.sites, self.pools)
    }
}

impl<B: Backend> Rule<B> for Recorder<B> {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let dims = input.dims();
        let per_image: usize = dims[1..].iter().product();
        self.sites.push(RecordedSite {
            index: site.index,
            activation,
            shape: site.shape.to_vec(),
            input: input.clone().detach().reshape([dims[0], per_image]),
        });
        Ok(activation.apply(input))
    }

    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        self.pools.push(RecordedPool {
            index: site.index,
            input: input.clone().detach(),
        });
        Ok(crate::ops::max_pool2d_with(input, geometry))
    }
}
