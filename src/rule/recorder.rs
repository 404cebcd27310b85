//! The hook that records every site's input.

use burn::prelude::*;

use crate::model::{Activation, ActivationHook};
use crate::ops::PoolGeometry;

/// Applies the true activation and keeps a detached copy of each site's input
/// and activation kind, flattened to `[N, elements per image]`, and of each
/// max-pooling site's input.
///
/// Used to find `f_ref` (the inputs of the sites for the reference image), the
/// site shapes and the number of sites of a model.
#[derive(Debug, Clone)]
pub struct Recorder<B: Backend> {
    sites: Vec<RecordedSite<B>>,
    pools: Vec<Tensor<B, 4>>,
}

/// One recorded activation site.
#[derive(Debug, Clone)]
pub struct RecordedSite<B: Backend> {
    /// The site's activation.
    pub activation: Activation,
    /// The site's per-image shape (without the batch dimension).
    pub shape: Vec<usize>,
    /// The site's input, `[N, elements per image]`, detached.
    pub input: Tensor<B, 2>,
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

    /// The sites recorded so far, in call order.
    pub fn sites(&self) -> &[RecordedSite<B>] {
        &self.sites
    }

    /// Consumes the recorder, returning its sites.
    pub fn into_sites(self) -> Vec<RecordedSite<B>> {
        self.sites
    }

    /// The inputs of the max-pooling sites recorded so far, detached.
    pub fn pools(&self) -> &[Tensor<B, 4>] {
        &self.pools
    }
}

impl<B: Backend> ActivationHook<B> for Recorder<B> {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let dims = input.dims();
        let per_image: usize = dims[1..].iter().product();
        self.sites.push(RecordedSite {
            activation,
            shape: dims[1..].to_vec(),
            input: input.clone().detach().reshape([dims[0], per_image]),
        });
        activation.apply(input)
    }

    fn max_pool(&mut self, input: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4> {
        self.pools.push(input.clone().detach());
        crate::ops::max_pool2d_with(input, geometry)
    }
}
