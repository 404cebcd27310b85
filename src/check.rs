//! An adoption check for models on the hook: [`check_model`].
//!
//! The mistakes a model definition can make run silently or fail deep inside
//! Burn: a ReLU left outside the hook changes every rule's map without an
//! error, Burn's `BatchNorm::forward` uses the batch's statistics on an
//! autodiff backend, and Burn's fused `linear` or pooling ops panic only when
//! the learned rules differentiate them twice. [`check_model`] runs each of
//! these cases once on the user's images and says what to change.

use std::fmt;

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::DType;

use crate::guard::catching_model_panics;
use crate::input::{check_images, check_logits};
use crate::model::{Activation, Explainable, Model};
use crate::ops::PoolGeometry;
use crate::rule::{Rule, Site, SiteKind};
use crate::{Error, ExplainerConfig, Result};

/// One site the model's forward pass called, in call order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSummary {
    /// Position in the forward pass, from 0.
    pub index: usize,
    /// What the site computes.
    pub kind: SiteKind,
    /// The name the model gave it, if any.
    pub name: Option<String>,
    /// The site's input shape per image (without the batch dimension).
    pub shape: Vec<usize>,
}

/// What [`check_model`] found in a model that passed it.
#[derive(Debug, Clone)]
pub struct ModelReport {
    /// Every site of one forward pass, in call order.
    pub sites: Vec<SiteSummary>,
    /// Number of logits (classes).
    pub classes: usize,
    /// The largest difference between an image's logits computed alone and
    /// in a batch (rounding only, for a model that passed).
    pub batch_difference: f64,
    /// With every activation replaced by the identity and every max-pool by
    /// an average, a model whose non-linearities all go through the hook is
    /// affine in its input. `Some(deviation)` is the largest departure from
    /// that (relative to the logits' size): a non-linearity runs outside the
    /// hook. That is a mistake for an unhooked ReLU, Burn's own max-pool or
    /// a softmax at the end (the rules then miss it); it is expected for a
    /// product of two branches (squeeze-and-excitation, gating), whose
    /// factors are sites themselves.
    pub outside_the_hook: Option<f64>,
}

impl ModelReport {
    /// The findings a user should read, in words (empty when there is none).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(deviation) = self.outside_the_hook {
            warnings.push(format!(
                "the forward is not affine with every site linearised (relative deviation {deviation:.3e}): \
                 a non-linearity runs outside the hook. Route every activation through `hook.activate`, \
                 every max-pool through `hook.max_pool2d`, and return pre-softmax logits; \
                 a product of two branches (squeeze-and-excitation) also shows here and is fine"
            ));
        }
        warnings
    }
}

impl fmt::Display for ModelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} sites, {} classes; logits alone and in a batch differ by {:.3e}",
            self.sites.len(),
            self.classes,
            self.batch_difference
        )?;
        for site in &self.sites {
            writeln!(
                f,
                "  site {:>3}: {:?} {:?}",
                site.index, site.kind, site.shape
            )?;
        }
        for warning in self.warnings() {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// Checks a model's adoption of the hook on `images` (any images the model
/// accepts; two or more make the batch check stronger).
///
/// It lists the sites of one forward pass; compares each image's logits
/// alone and in a batch with an extra image (a layer that uses the batch's
/// statistics, such as Burn's `BatchNorm::forward` on an autodiff backend,
/// fails here); runs the forward with every site linearised (see
/// [`ModelReport::outside_the_hook`]); and runs one learned-rule iteration,
/// a double backward, on the first image.
///
/// ```
/// use burn::prelude::*;
/// use learnprop::zoo::FixtureCnnConfig;
/// use learnprop::{check_model, Cpu};
///
/// let device = Default::default();
/// let model = FixtureCnnConfig::new().init::<Cpu>(&device);
/// let images = Tensor::<Cpu, 4>::ones([2, 3, 32, 32], &device);
/// let report = check_model(&model, &images)?;
/// assert!(report.warnings().is_empty());
/// assert!(!report.sites.is_empty());
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// # Errors
/// Bad images or weights ([`crate::input`]); [`Error::NoActivationSites`];
/// [`Error::ModelCheck`] if the logits of an image differ alone and in a
/// batch; [`Error::ModelPanicked`] with the call to use instead if the
/// model's code panics (an op Burn cannot differentiate twice, a layer that
/// does not fit its input).
pub fn check_model<B, M>(model: &M, images: &Tensor<B, 4>) -> Result<ModelReport>
where
    B: AutodiffBackend,
    B::InnerBackend: AutodiffBackend,
    M: Model<B>,
{
    catching_model_panics("the model check", || {
        let [n, ..] = check_images(model, images)?;
        let plain = model.clone().no_grad();
        let mut lister = SiteLister::default();
        let logits = plain.forward_with(images.clone(), &mut lister)?;
        check_logits(&logits)?;
        if !lister
            .sites
            .iter()
            .any(|s| matches!(s.kind, SiteKind::Activation(_)))
        {
            return Err(Error::NoActivationSites);
        }
        let classes = logits.dims()[1];
        let tolerance = match images.dtype() {
            DType::F64 => 1e-9,
            _ => 1e-4,
        };
        let batch_difference = batch_difference(&plain, images, n, tolerance)?;
        let outside_the_hook = affine_deviation(&plain, images, tolerance * 10.0);

        // The first image's predicted class, from the batch's logits (equal
        // to its own, as the batch check just showed).
        let predicted = logits.slice(0..1).argmax(1).into_data();
        let target = predicted.iter::<i64>().next().unwrap_or(0).max(0) as usize;
        let first = images.clone().slice(0..1);
        let explainer = ExplainerConfig::new().with_iterations(1).init::<B>()?;
        explainer.attribute(model, &first, &[target])?;
        Ok(ModelReport {
            sites: lister.sites,
            classes,
            batch_difference,
            outside_the_hook,
        })
    })
}

/// The largest difference between each image's logits alone and in a batch
/// with the negated first image appended; an [`Error::ModelCheck`] above
/// `tolerance` (relative to the logits' size).
fn batch_difference<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
    n: usize,
    tolerance: f64,
) -> Result<f64> {
    let extra = images.clone().slice(0..1).neg();
    let batch = read(model.logits(Tensor::cat(vec![images.clone(), extra], 0)));
    let mut largest: f64 = 0.0;
    for i in 0..n {
        let alone = read(model.logits(images.clone().slice(i..i + 1)));
        let row = &batch[i * alone.len()..(i + 1) * alone.len()];
        let scale = alone.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let difference = alone
            .iter()
            .zip(row)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        if difference > tolerance * scale {
            return Err(Error::ModelCheck {
                problem: format!(
                    "image {i}'s logits differ by {difference:.3e} alone and in a batch: a layer uses the \
                     batch's statistics. Call `learnprop::ops::batch_norm(&norm, x)` instead of \
                     `BatchNorm::forward`, which normalises with the batch's own statistics on every \
                     autodiff backend"
                ),
            });
        }
        largest = largest.max(difference);
    }
    Ok(largest)
}

/// With every site linearised, `F(0) = (F(x) + F(−x)) / 2` for an affine
/// model; the relative departure from it if larger than `tolerance`.
fn affine_deviation<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
    tolerance: f64,
) -> Option<f64> {
    let run = |x: Tensor<B, 4>| {
        let logits = model.forward_with(x, &mut Linearised);
        logits.map(read).unwrap_or_default()
    };
    let (plus, minus, zero) = (
        run(images.clone()),
        run(images.clone().neg()),
        run(images.zeros_like()),
    );
    let scale = plus
        .iter()
        .chain(&minus)
        .chain(&zero)
        .fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    let deviation = zero
        .iter()
        .zip(plus.iter().zip(&minus))
        .fold(0.0f64, |m, (z, (p, q))| m.max((z - (p + q) / 2.0).abs()))
        / scale;
    (!deviation.is_finite() || deviation > tolerance).then_some(deviation)
}

fn read<B: Backend>(logits: Tensor<B, 2>) -> Vec<f64> {
    logits.into_data().iter::<f64>().collect()
}

/// Records every site in call order, with its true forward.
#[derive(Default)]
struct SiteLister {
    sites: Vec<SiteSummary>,
}

impl SiteLister {
    fn list(&mut self, site: &Site<'_>) {
        self.sites.push(SiteSummary {
            index: site.index,
            kind: site.kind,
            name: site.name.map(str::to_owned),
            shape: site.shape.to_vec(),
        });
    }
}

impl<B: Backend> Rule<B> for SiteLister {
    fn activation<const D: usize>(
        &mut self,
        site: &Site<'_>,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        self.list(site);
        Ok(activation.apply(input))
    }

    fn max_pool(
        &mut self,
        site: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        self.list(site);
        Ok(crate::ops::max_pool2d_with(input, geometry))
    }

    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &crate::rule::Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        self.list(site);
        Ok(layer.forward(input))
    }

    fn add<const D: usize>(
        &mut self,
        site: &Site<'_>,
        a: Tensor<B, D>,
        b: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        self.list(site);
        Ok(a + b)
    }
}

/// Every activation the identity, every max-pool the average of its window
/// (padding counted as 0): a linear map where the model has a site.
struct Linearised;

impl<B: Backend> Rule<B> for Linearised {
    fn activation<const D: usize>(
        &mut self,
        _: &Site<'_>,
        _: Activation,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        Ok(input)
    }

    fn max_pool(
        &mut self,
        _: &Site<'_>,
        input: Tensor<B, 4>,
        geometry: &PoolGeometry,
    ) -> Result<Tensor<B, 4>> {
        Ok(crate::ops::avg_pool2d_with(input, geometry, true))
    }
}
