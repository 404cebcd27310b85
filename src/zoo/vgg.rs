//! VGG-16 (configuration D) with torchvision's structure.

use burn::config::Config;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::model::{Activation, Explainable, Hook};
use crate::ops::PoolGeometry;
use crate::rule::Layer;

/// Output channels of VGG-16's convolutions, `0` marking a 2×2 max-pool.
const LAYOUT: [usize; 18] = [
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

/// Settings of [`Vgg16`].
#[derive(Config, Debug)]
pub struct Vgg16Config {
    /// Number of classes.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Input channels.
    #[config(default = 3)]
    pub in_channels: usize,
}

/// VGG-16 for `[N, 3, H, W]` images (224×224 for ImageNet): 13 convolutions
/// (3×3, pad 1, ReLU) in five blocks each closed by a 2×2 max-pool, adaptive
/// average pooling to 7×7, and three linear layers (4096, 4096, classes) with
/// ReLU between them (dropout is the identity at inference).
///
/// Parameters are `features.{i}` (the 13 convolutions, numbered 0–12) and
/// `classifier.{i}` (the 3 linear layers); [`Vgg16::torchvision_key_remapping`]
/// maps torchvision's numbering (`features.0`, `features.2`, `features.5`, …,
/// `classifier.0`, `classifier.3`, `classifier.6`) onto it.
#[derive(Module, Debug)]
pub struct Vgg16<B: Backend> {
    features: Vec<Conv2d<B>>,
    classifier: Vec<Linear<B>>,
}

impl Vgg16Config {
    /// A model with torchvision's initialisation family (Kaiming-normal
    /// convolutions, zero biases, N(0, 0.01) linear weights).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Vgg16<B> {
        let mut features = Vec::new();
        let mut c_in = self.in_channels;
        for &c_out in LAYOUT.iter().filter(|&&c| c > 0) {
            features.push(
                Conv2dConfig::new([c_in, c_out], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_initializer(burn::nn::Initializer::KaimingNormal {
                        gain: std::f64::consts::SQRT_2,
                        fan_out_only: true,
                    })
                    .init(device),
            );
            c_in = c_out;
        }
        let linear = |d_in, d_out| {
            LinearConfig::new(d_in, d_out)
                .with_initializer(burn::nn::Initializer::Normal {
                    mean: 0.0,
                    std: 0.01,
                })
                .init(device)
        };
        Vgg16 {
            features,
            classifier: vec![
                linear(512 * 7 * 7, 4096),
                linear(4096, 4096),
                linear(4096, self.num_classes),
            ],
        }
    }
}

impl<B: Backend> Vgg16<B> {
    /// Key remapping rules (pattern, replacement) from torchvision's
    /// `vgg16` state dict to this module, for
    /// [`WeightFile::with_key_remapping`](crate::weights::WeightFile::with_key_remapping).
    pub fn torchvision_key_remapping() -> Vec<(String, String)> {
        let mut rules = Vec::new();
        let mut torch_index = 0;
        let mut conv = 0;
        for &c in LAYOUT.iter() {
            if c == 0 {
                torch_index += 1;
            } else {
                rules.push((
                    format!(r"^features\.{torch_index}\."),
                    format!("features.{conv}."),
                ));
                conv += 1;
                torch_index += 2;
            }
        }
        for (torch, ours) in [(0, 0), (3, 1), (6, 2)] {
            rules.push((
                format!(r"^classifier\.{torch}\."),
                format!("classifier.{ours}."),
            ));
        }
        rules
    }
}

impl<B: Backend> Explainable<B> for Vgg16<B> {
    fn input_channels(&self) -> usize {
        self.features[0].weight.dims()[1]
    }

    fn min_input_size(&self) -> [usize; 2] {
        [32, 32]
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let mut x = images;
        let mut convs = self.features.iter();
        for &c in LAYOUT.iter() {
            x = if c == 0 {
                hook.max_pool(x, &PoolGeometry::square(2))
            } else {
                let conv = convs.next().expect("13 convolutions");
                let x = hook.conv2d(conv, x);
                hook.activate(Activation::Relu, x)
            };
        }
        let x = hook
            .layer(&Layer::AdaptiveAvgPool { output: [7, 7] }, x)
            .flatten(1, 3);
        let x = hook.linear(&self.classifier[0], x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.linear(&self.classifier[1], x);
        let x = hook.activate(Activation::Relu, x);
        hook.linear(&self.classifier[2], x)
    }
}
