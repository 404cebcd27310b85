//! Per-channel normalisation `(x − mean) / std`.

use burn::prelude::*;

use crate::input::float_tensor;
use crate::render::DisplayRange;

/// A per-channel normalisation `(x − mean) / std` of pixel values in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalisation {
    /// Per-channel means (of values in `[0, 1]`).
    pub mean: Vec<f64>,
    /// Per-channel standard deviations.
    pub std: Vec<f64>,
}

impl Normalisation {
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
    pub fn apply(&self, c: usize, v: f64) -> f64 {
        (v - self.mean[c]) / self.std[c]
    }

    /// Normalises `[N, C, H, W]` pixel values in `[0, 1]`.
    ///
    /// # Panics
    /// If `C` differs from the number of channels.
    pub fn normalise<B: Backend>(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let c = images.dims()[1];
        assert_eq!(
            c,
            self.channels(),
            "normalisation for {} channels, images have {c}",
            self.channels()
        );
        let device = images.device();
        let mean = float_tensor::<B, 4>(self.mean.clone(), [1, c, 1, 1], &device);
        let inv_std = float_tensor::<B, 4>(
            self.std.iter().map(|s| 1.0 / s).collect(),
            [1, c, 1, 1],
            &device,
        );
        (images - mean) * inv_std
    }

    /// The inverse, back to pixel values in `[0, 1]`.
    pub fn denormalise<B: Backend>(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        let c = images.dims()[1];
        let device = images.device();
        let mean = float_tensor::<B, 4>(self.mean.clone(), [1, c, 1, 1], &device);
        let std = float_tensor::<B, 4>(self.std.clone(), [1, c, 1, 1], &device);
        images * std + mean
    }

    /// How to display images normalised this way.
    pub fn display_range(&self) -> DisplayRange {
        DisplayRange::Normalised {
            mean: self.mean.clone(),
            std: self.std.clone(),
        }
    }
}
