//! Per-channel normalisation `(x − mean) / std`.

use burn::prelude::*;

use crate::input::{first_non_finite, float_tensor};
use crate::render::DisplayRange;
use crate::{Error, Result};

/// A per-channel normalisation `(x − mean) / std` of pixel values in `[0, 1]`.
///
/// Built by [`new`](Self::new) (checked) or a preset, so it always has as
/// many means as standard deviations, at least one channel, finite means
/// and finite positive standard deviations.
///
/// ```
/// use learnprop::data::Normalisation;
/// let n = Normalisation::new(vec![0.5], vec![0.25])?;
/// assert_eq!(n.apply(0, 1.0)?, 2.0);
/// assert!(Normalisation::new(vec![0.5, 0.5], vec![0.25]).is_err());
/// assert!(Normalisation::new(vec![0.5], vec![0.0]).is_err());
/// # Ok::<(), learnprop::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Normalisation {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Normalisation {
    /// A normalisation with per-channel `mean` (of values in `[0, 1]`) and
    /// standard deviation `std`.
    ///
    /// # Errors
    /// [`Error::Shape`] if the two differ in length or are empty,
    /// [`Error::InvalidConfig`] for a mean outside `±1e6` or a standard
    /// deviation outside `[1e-6, 1e6]` (so that normalised values stay
    /// finite in f32).
    pub fn new(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        if mean.len() != std.len() || mean.is_empty() {
            return Err(Error::Shape {
                what: "normalisation mean and std",
                expected: "as many standard deviations as means, at least one".into(),
                found: vec![mean.len(), std.len()],
            });
        }
        if let Some(m) = mean
            .iter()
            .find(|m| !(-MAX_NORMALISATION..=MAX_NORMALISATION).contains(*m))
        {
            return Err(Error::InvalidConfig {
                setting: "normalisation mean",
                value: m.to_string(),
                expected: "finite means, |mean| ≤ 1e6",
            });
        }
        if let Some(s) = std
            .iter()
            .find(|s| !((1.0 / MAX_NORMALISATION..=MAX_NORMALISATION).contains(*s)))
        {
            return Err(Error::InvalidConfig {
                setting: "normalisation std",
                value: s.to_string(),
                expected: "standard deviations from 1e-6 to 1e6",
            });
        }
        Ok(Self { mean, std })
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The per-channel standard deviations.
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// MNIST's usual statistics (mean 0.1307, std 0.3081).
    pub fn mnist() -> Self {
        Self {
            mean: vec![0.1307],
            std: vec![0.3081],
        }
    }

    /// Fashion-MNIST's training-set statistics (mean 0.2860, std 0.3530).
    pub fn fashion_mnist() -> Self {
        Self {
            mean: vec![0.2860],
            std: vec![0.3530],
        }
    }

    /// ImageNet's usual statistics (torchvision).
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// EfficientNet-Lite's `(x − 127) / 128` on 0–255 values.
    pub fn efficientnet_lite() -> Self {
        Self {
            mean: vec![127.0 / 255.0; 3],
            std: vec![128.0 / 255.0; 3],
        }
    }

    /// No change: mean 0, std 1 for `channels` channels.
    pub fn identity(channels: usize) -> Self {
        Self {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// The normalised value of a pixel value `v` in channel `c`.
    ///
    /// # Errors
    /// [`Error::Shape`] if there is no channel `c`, [`Error::InvalidConfig`]
    /// for a NaN or infinite `v`.
    pub fn apply(&self, c: usize, v: f64) -> Result<f64> {
        if c >= self.channels() {
            return Err(Error::Shape {
                what: "normalisation channel",
                expected: format!("below {}", self.channels()),
                found: vec![c],
            });
        }
        let normalised = self.value(c, v);
        if !normalised.is_finite() {
            return Err(not_finite(v));
        }
        Ok(normalised)
    }

    /// [`apply`](Self::apply) for a channel known to exist.
    pub(crate) fn value(&self, c: usize, v: f64) -> f64 {
        (v - self.mean[c]) / self.std[c]
    }

    fn check_channels(&self, c: usize) -> Result<()> {
        if c != self.channels() {
            return Err(Error::Shape {
                what: "images to normalise",
                expected: format!("{} channels", self.channels()),
                found: vec![c],
            });
        }
        Ok(())
    }

    /// Normalises `[N, C, H, W]` pixel values in `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::Shape`] if `C` differs from the number of channels,
    /// [`Error::InvalidConfig`] if a result is not finite (NaN or ∞ among
    /// the images, or values so large that they overflow).
    pub fn normalise<B: Backend>(&self, images: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let c = images.dims()[1];
        self.check_channels(c)?;
        let device = images.device();
        let mean = float_tensor::<B, 4>(self.mean.clone(), [1, c, 1, 1], &device);
        let inv_std = float_tensor::<B, 4>(
            self.std.iter().map(|s| 1.0 / s).collect(),
            [1, c, 1, 1],
            &device,
        );
        finite((images - mean) * inv_std)
    }

    /// The inverse, back to pixel values in `[0, 1]`.
    ///
    /// # Errors
    /// As [`normalise`](Self::normalise).
    pub fn denormalise<B: Backend>(&self, images: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let c = images.dims()[1];
        self.check_channels(c)?;
        let device = images.device();
        let mean = float_tensor::<B, 4>(self.mean.clone(), [1, c, 1, 1], &device);
        let std = float_tensor::<B, 4>(self.std.clone(), [1, c, 1, 1], &device);
        finite(images * std + mean)
    }

    /// How to display images normalised this way.
    pub fn display_range(&self) -> DisplayRange {
        DisplayRange::Normalised {
            mean: self.mean.clone(),
            std: self.std.clone(),
        }
    }
}

/// The largest |mean|, 1/std and std a [`Normalisation`] accepts.
const MAX_NORMALISATION: f64 = 1e6;

fn not_finite(value: f64) -> Error {
    Error::InvalidConfig {
        setting: "values to normalise",
        value: value.to_string(),
        expected: "finite values whose (de)normalised value is finite",
    }
}

/// `images` if every value is finite, else the first bad one as an error.
fn finite<B: Backend>(images: Tensor<B, 4>) -> Result<Tensor<B, 4>> {
    match first_non_finite(&images) {
        None => Ok(images),
        Some((_, bad)) => Err(not_finite(bad)),
    }
}
