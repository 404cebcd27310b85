//! The paper's small CNNs for MNIST-like and CIFAR-10-like data.

use burn::config::Config;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::model::{Activation, Explainable, Hook};

fn conv<B: Backend>(c_in: usize, c_out: usize, kernel: usize, device: &B::Device) -> Conv2d<B> {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
}

fn pool() -> MaxPool2d {
    MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init()
}

/// Settings of [`MnistCnn`].
#[derive(Config, Debug)]
pub struct MnistCnnConfig {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// The two-convolution CNN for `[N, 1, 28, 28]` images (MNIST, Fashion-MNIST):
/// `conv1` 1→16 (5×5, pad 2) → ReLU → max-pool 2 → `conv2` 16→32 (5×5, pad 2)
/// → ReLU → max-pool 2 → flatten (1568) → `fc1` →64 → ReLU → `fc2` →classes.
/// 114 k parameters.
#[derive(Module, Debug)]
pub struct MnistCnn<B: Backend> {
    conv1: Conv2d<B>,
    pool1: MaxPool2d,
    conv2: Conv2d<B>,
    pool2: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

impl MnistCnnConfig {
    /// A model with Burn's default random initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MnistCnn<B> {
        MnistCnn {
            conv1: conv(1, 16, 5, device),
            pool1: pool(),
            conv2: conv(16, 32, 5, device),
            pool2: pool(),
            fc1: LinearConfig::new(32 * 7 * 7, 64).init(device),
            fc2: LinearConfig::new(64, self.num_classes).init(device),
        }
    }
}

impl<B: Backend> Explainable<B> for MnistCnn<B> {
    fn input_channels(&self) -> usize {
        1
    }

    fn input_size(&self) -> Option<[usize; 2]> {
        Some([28, 28])
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.named("conv1").conv2d(&self.conv1, images);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool2d(&self.pool1, x);
        let x = hook.named("conv2").conv2d(&self.conv2, x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool2d(&self.pool2, x).flatten(1, 3);
        let x = hook.named("fc1").linear(&self.fc1, x);
        let x = hook.activate(Activation::Relu, x);
        hook.named("fc2").linear(&self.fc2, x)
    }
}

/// Settings of [`CifarCnn`].
#[derive(Config, Debug)]
pub struct CifarCnnConfig {
    /// Number of classes.
    #[config(default = 10)]
    pub num_classes: usize,
}

/// The paper's four-convolution CNN for `[N, 3, 32, 32]` images (CIFAR-10):
/// `conv1` 3→32, `conv2` 32→32, max-pool 2, `conv3` 32→64, `conv4` 64→64,
/// max-pool 2 (all 3×3, pad 1, ReLU) → flatten (4096) → `fc1` →256 → ReLU →
/// `fc2` →classes.
#[derive(Module, Debug)]
pub struct CifarCnn<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    pool1: MaxPool2d,
    conv3: Conv2d<B>,
    conv4: Conv2d<B>,
    pool2: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

impl CifarCnnConfig {
    /// A model with Burn's default random initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CifarCnn<B> {
        CifarCnn {
            conv1: conv(3, 32, 3, device),
            conv2: conv(32, 32, 3, device),
            pool1: pool(),
            conv3: conv(32, 64, 3, device),
            conv4: conv(64, 64, 3, device),
            pool2: pool(),
            fc1: LinearConfig::new(64 * 8 * 8, 256).init(device),
            fc2: LinearConfig::new(256, self.num_classes).init(device),
        }
    }
}

impl<B: Backend> Explainable<B> for CifarCnn<B> {
    fn input_channels(&self) -> usize {
        3
    }

    fn input_size(&self) -> Option<[usize; 2]> {
        Some([32, 32])
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.named("conv1").conv2d(&self.conv1, images);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.named("conv2").conv2d(&self.conv2, x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool2d(&self.pool1, x);
        let x = hook.named("conv3").conv2d(&self.conv3, x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.named("conv4").conv2d(&self.conv4, x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool2d(&self.pool2, x).flatten(1, 3);
        let x = hook.named("fc1").linear(&self.fc1, x);
        let x = hook.activate(Activation::Relu, x);
        hook.named("fc2").linear(&self.fc2, x)
    }
}
