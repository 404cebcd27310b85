//! The rule interface and the hook that runs a forward pass under a rule.

use burn::prelude::*;

use super::{Layer, Site, SiteKind};
use crate::model::{Activation, Hook};
use crate::ops::PoolGeometry;
use crate::{Error, Result};

/// How sites pass the gradient back: one method per kind of site, each given
/// the [`Site`] and returning the site's output.
///
/// A rule must return the site's exact forward value; it changes only the
/// backward pass (see [`with_local_derivative`](super::with_local_derivative)
/// and [`Relevance`](super::Relevance)). Every method defaults to the true
/// gradient, so a rule overrides only the sites it cares about. An `Err`
/// stops the rule: [`Explainable::forward_with`](crate::Explainable::forward_with)
/// (and every method built on it) returns it.
pub trait Rule<B: Backend> {
    /// An activation site; by default `activation.apply(input)`.
    ///
    /// # Errors
    /// The rule's own (e.g. a site it has no parameters for).
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let _ = site;
        Ok(activation.apply(input))
    }

    /// A max-pooling site; by default the gradient goes to the first maximum
    /// of each window.
    ///
    /// # Errors
    /// The rule's own.
    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        let _ = site;
        Ok(crate::ops::max_pool2d_with(input, geometry))
    }

    /// A convolution, linear, batch-norm or average-pooling site; by
    /// default `layer.forward(input)`.
    ///
    /// # Errors
    /// The rule's own.
    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let _ = site;
        Ok(layer.forward(input))
    }

    /// A site adding two branches; by default `a + b`.
    ///
    /// # Errors
    /// The rule's own.
    fn add<const D: usize>(
        &mut self,
        site: &Site<'_>,
        a: Tensor<B, D>,
        b: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let _ = site;
        Ok(a + b)
    }
}

impl<B: Backend, R: Rule<B>> Rule<B> for &mut R {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        (**self).activation(site, activation, input)
    }

    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        (**self).max_pool(site, input, geometry)
    }

    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        (**self).layer(site, layer, input)
    }

    fn add<const D: usize>(
        &mut self,
        site: &Site<'_>,
        a: Tensor<B, D>,
        b: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        (**self).add(site, a, b)
    }
}

/// The ordinary network: every site has its true derivative.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrueGradient;

impl<B: Backend> Rule<B> for TrueGradient {}

/// The [`Hook`] the crate passes to a model: it numbers the sites, hands
/// each to the rule and keeps the rule's first error. After an error the
/// forward completes on placeholder values (its logits are meaningless) and
/// [`finish`](Traced::finish) returns the error.
#[derive(Debug)]
pub struct Traced<'r, R> {
    rule: &'r mut R,
    next: usize,
    name: Option<String>,
    error: Option<Error>,
}

impl<'r, R> Traced<'r, R> {
    /// A hook running `rule` from site 0.
    pub fn new(rule: &'r mut R) -> Self {
        Self {
            rule,
            next: 0,
            name: None,
            error: None,
        }
    }

    /// The number of sites visited, or the rule's first error.
    ///
    /// # Errors
    /// The first error a site's rule returned.
    pub fn finish(self) -> Result<usize> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.next),
        }
    }

    /// Runs one site: the rule, or `fallback` (an output of the right shape)
    /// once a site has failed.
    fn site<T>(
        &mut self,
        kind: SiteKind,
        shape: &[usize],
        rule: impl FnOnce(&mut R, &Site<'_>) -> Result<T>,
        fallback: impl FnOnce() -> T,
    ) -> T {
        let index = self.next;
        self.next += 1;
        let name = self.name.take();
        if self.error.is_some() {
            return fallback();
        }
        let site = Site {
            index,
            kind,
            name: name.as_deref(),
            shape,
        };
        match rule(self.rule, &site) {
            Ok(out) => out,
            Err(error) => {
                self.error = Some(error);
                fallback()
            }
        }
    }
}

/// A zero tensor shaped and typed as a site's input, from which the
/// fallback of a failed forward computes its (discarded) output: holding a
/// copy of the input instead would stop Burn from reusing its buffer.
fn zeros_like_input<B: Backend, const D: usize>(
    input: &Tensor<B, D>,
) -> impl FnOnce() -> Tensor<B, D> {
    let (dims, device, dtype) = (input.dims(), input.device(), input.dtype());
    move || Tensor::<B, D>::zeros(dims, &device).cast(dtype)
}

impl<B: Backend, R: Rule<B>> Hook<B> for Traced<'_, R> {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let dims = input.dims();
        let zeros = zeros_like_input(&input);
        self.site(
            SiteKind::Activation(activation),
            &dims[1..],
            |rule, site| rule.activation(site, activation, input),
            || activation.apply(zeros()),
        )
    }

    fn max_pool(&mut self, input: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4> {
        let dims = input.dims();
        let zeros = zeros_like_input(&input);
        let kind = SiteKind::MaxPool {
            kernel: geometry.kernel,
            stride: geometry.stride,
        };
        self.site(
            kind,
            &dims[1..],
            |rule, site| rule.max_pool(site, input, geometry),
            || crate::ops::max_pool2d_with(zeros(), geometry),
        )
    }

    fn layer<const D: usize>(&mut self, layer: &Layer<B>, input: Tensor<B, D>) -> Tensor<B, D> {
        let dims = input.dims();
        let zeros = zeros_like_input(&input);
        self.site(
            layer.kind(),
            &dims[1..],
            |rule, site| rule.layer(site, layer, input),
            || layer.forward(zeros()),
        )
    }

    fn add<const D: usize>(&mut self, a: Tensor<B, D>, b: Tensor<B, D>) -> Tensor<B, D> {
        let dims = a.dims();
        let zeros = zeros_like_input(&a);
        self.site(
            SiteKind::Add,
            &dims[1..],
            |rule, site| rule.add(site, a, b),
            zeros,
        )
    }

    fn named(&mut self, name: &str) -> &mut Self {
        self.name = (!name.is_empty()).then(|| name.to_owned());
        self
    }
}
