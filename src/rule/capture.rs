//! The rule that exposes one site's output, for layer and neuron
//! attributions.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::{Layer, Rule, Select, Site, SiteKind};
use crate::model::Activation;
use crate::ops::PoolGeometry;
use crate::{Error, Result};

/// What [`Capture`] does with the selected site's output.
#[derive(Debug, Clone)]
enum Mode<B: Backend> {
    /// A fresh leaf: the gradient of the logits with respect to the output.
    Leaf,
    /// A fresh leaf holding these values (`[N, elements per image]`) instead
    /// of the output: the forward continues from them.
    Replace(Tensor<B, 2>),
    /// The output itself, still connected to the input: the gradient of the
    /// output (of a unit of it) with respect to the input.
    Observe,
}

/// The selected site's output, as [`Capture`] kept it.
#[derive(Debug, Clone)]
pub struct Captured<B: Backend> {
    /// The site's index in the forward pass.
    pub index: usize,
    /// The site's kind.
    pub kind: SiteKind,
    /// The output's shape per image.
    pub shape: Vec<usize>,
    /// The output, `[N, elements per image]`: a leaf, or (observing) the
    /// output still connected to the input.
    pub output: Tensor<B, 2>,
}

/// The true gradient everywhere; the output of the first site `select`
/// picks is kept ([`captured`](Capture::captured)): as a fresh leaf of the
/// graph (Grad-CAM, layer attributions), replaced by given values (layer
/// integrated gradients) or connected to the input (neuron attributions).
/// Also lists every site's index, kind and output shape per image.
#[derive(Debug, Clone)]
pub struct Capture<B: AutodiffBackend> {
    select: Option<Select>,
    mode: Mode<B>,
    sites: Vec<(usize, SiteKind, Vec<usize>)>,
    captured: Option<Captured<B>>,
}

impl<B: AutodiffBackend> Capture<B> {
    /// Makes the output of the first site `select` picks a leaf (`None`:
    /// only lists the sites).
    pub fn new(select: Option<Select>) -> Self {
        Self {
            select,
            mode: Mode::Leaf,
            sites: Vec::new(),
            captured: None,
        }
    }

    /// Replaces the output of the first site `select` picks by `values`
    /// (`[N, elements per image]`), as a leaf.
    pub fn replacing(select: Select, values: Tensor<B, 2>) -> Self {
        Self {
            mode: Mode::Replace(values),
            ..Self::new(Some(select))
        }
    }

    /// Keeps the output of the first site `select` picks connected to the
    /// input.
    pub fn observing(select: Select) -> Self {
        Self {
            mode: Mode::Observe,
            ..Self::new(Some(select))
        }
    }

    /// The kept output, if the forward visited a selected site.
    pub fn captured(&self) -> Option<&Captured<B>> {
        self.captured.as_ref()
    }

    /// The kept output, or an error naming the selection and the sites.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when no site was selected.
    pub fn into_captured(self) -> Result<Captured<B>> {
        let sites: Vec<String> = self
            .sites
            .iter()
            .map(|(i, kind, _)| format!("{i}: {kind:?}"))
            .collect();
        let select = self.select;
        self.captured.ok_or_else(|| {
            Error::Unsupported(format!(
                "no site matches {select:?} (the sites: {})",
                sites.join(", ")
            ))
        })
    }

    /// Every site visited so far: index, kind, output shape per image.
    pub fn sites(&self) -> &[(usize, SiteKind, Vec<usize>)] {
        &self.sites
    }

    fn keep<const D: usize>(&mut self, site: &Site<'_>, out: Tensor<B, D>) -> Result<Tensor<B, D>> {
        let dims = out.dims();
        self.sites.push((site.index, site.kind, dims[1..].to_vec()));
        let selected = self.captured.is_none()
            && self
                .select
                .as_ref()
                .is_some_and(|s| s.matches(site, false, None));
        if !selected {
            return Ok(out);
        }
        let per_image: usize = dims[1..].iter().product();
        let flat = [dims[0], per_image];
        let (kept, out) = match &self.mode {
            Mode::Leaf => {
                let leaf = out.detach().reshape(flat).require_grad();
                (leaf.clone(), leaf.reshape(dims))
            }
            Mode::Replace(values) => {
                if values.dims() != flat {
                    return Err(Error::Unsupported(format!(
                        "site {} outputs {:?} per batch, the replacement is {:?}",
                        site.index,
                        flat,
                        values.dims()
                    )));
                }
                let leaf = values.clone().detach().require_grad();
                (leaf.clone(), leaf.reshape(dims))
            }
            Mode::Observe => (out.clone().reshape(flat), out),
        };
        self.captured = Some(Captured {
            index: site.index,
            kind: site.kind,
            shape: dims[1..].to_vec(),
            output: kept,
        });
        Ok(out)
    }
}

impl<B: AutodiffBackend> Rule<B> for Capture<B> {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        self.keep(site, activation.apply(input))
    }

    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        self.keep(site, crate::ops::max_pool2d_with(input, geometry))
    }

    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        self.keep(site, layer.forward(input))
    }

    fn add<const D: usize>(
        &mut self,
        site: &Site<'_>,
        a: Tensor<B, D>,
        b: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        self.keep(site, a + b)
    }
}
