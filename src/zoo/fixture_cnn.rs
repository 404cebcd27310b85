//! The small CNN of the parity fixtures.

use burn::config::Config;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::model::{Activation, Explainable, Hook};

/// Settings of [`FixtureCnn`].
#[derive(Config, Debug)]
pub struct FixtureCnnConfig {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// The parity-fixture CNN for `[N, 3, 32, 32]` images:
/// `conv1` 3→8 (3×3, pad 1) → ReLU → max-pool 2 → `conv2` 8→16 (3×3, pad 1)
/// → ReLU → max-pool 2 → flatten (C, H, W) → `fc1` 1024→32 → ReLU → `fc2` 32→classes.
///
/// Parameter names are PyTorch's (`conv1.weight`, `fc1.bias`, …), so the
/// fixture weight files load with [`WeightFile`](crate::weights::WeightFile).
#[derive(Module, Debug)]
pub struct FixtureCnn<B: Backend> {
    conv1: Conv2d<B>,
    pool1: MaxPool2d,
    conv2: Conv2d<B>,
    pool2: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

impl FixtureCnnConfig {
    /// A model with Burn's default random initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> FixtureCnn<B> {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let pool = || MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        FixtureCnn {
            conv1: conv(3, 8),
            pool1: pool(),
            conv2: conv(8, 16),
            pool2: pool(),
            fc1: LinearConfig::new(16 * 8 * 8, 32).init(device),
            fc2: LinearConfig::new(32, self.num_classes).init(device),
        }
    }
}

impl<B: Backend> Explainable<B> for FixtureCnn<B> {
    fn input_channels(&self) -> usize {
        3
    }

    fn input_size(&self) -> Option<[usize; 2]> {
        Some([32, 32])
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.named("conv1").conv2d(&self.conv1, images);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool2d(&self.pool1, x);
        let x = hook.named("conv2").conv2d(&self.conv2, x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool2d(&self.pool2, x);
        let x = x.flatten(1, 3);
        let x = hook.named("fc1").linear(&self.fc1, x);
        let x = hook.activate(Activation::Relu, x);
        hook.named("fc2").linear(&self.fc2, x)
    }
}
