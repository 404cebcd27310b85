//! ResNet-18 with torchvision's structure and parameter names.

use burn::config::Config;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::model::{Activation, Explainable, Hook};
use crate::ops::PoolGeometry;

fn conv<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(burn::nn::Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device)
}

fn norm<B: Backend>(channels: usize, device: &B::Device) -> BatchNorm<B> {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-5)
        .init(device)
}

/// The 1×1 strided projection of a block's shortcut (`downsample.0`, `.1` in
/// torchvision).
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    conv: Conv2d<B>,
    bn: BatchNorm<B>,
}

/// A basic residual block: two 3×3 convolutions with batch norm, ReLU after
/// the first and after the residual sum.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    bn2: BatchNorm<B>,
    downsample: Option<Downsample<B>>,
}

impl<B: Backend> BasicBlock<B> {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &B::Device) -> Self {
        let downsample = (stride != 1 || c_in != c_out).then(|| Downsample {
            conv: conv(c_in, c_out, 1, stride, device),
            bn: norm(c_out, device),
        });
        Self {
            conv1: conv(c_in, c_out, 3, stride, device),
            bn1: norm(c_out, device),
            conv2: conv(c_out, c_out, 3, 1, device),
            bn2: norm(c_out, device),
            downsample,
        }
    }

    fn forward<H: Hook<B>>(&self, name: &str, x: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 4> {
        let y = hook
            .named(&format!("{name}.conv1"))
            .conv2d(&self.conv1, x.clone());
        let y = hook.named(&format!("{name}.bn1")).batch_norm(&self.bn1, y);
        let y = hook.activate(Activation::Relu, y);
        let y = hook.named(&format!("{name}.conv2")).conv2d(&self.conv2, y);
        let y = hook.named(&format!("{name}.bn2")).batch_norm(&self.bn2, y);
        let shortcut = match &self.downsample {
            Some(d) => {
                let s = hook
                    .named(&format!("{name}.downsample.0"))
                    .conv2d(&d.conv, x);
                hook.named(&format!("{name}.downsample.1"))
                    .batch_norm(&d.bn, s)
            }
            None => x,
        };
        let y = hook.add(y, shortcut);
        // The block's output (torchvision's `layer4.1`, say).
        hook.named(name).activate(Activation::Relu, y)
    }
}

/// Settings of [`ResNet18`].
#[derive(Config, Debug)]
pub struct ResNet18Config {
    /// Number of classes.
    #[config(default = 1000)]
    pub num_classes: usize,
}

/// ResNet-18 for `[N, 3, H, W]` images (224×224 for ImageNet): a 7×7 stride-2
/// stem with batch norm, ReLU and a 3×3 stride-2 max-pool, four stages of two
/// basic blocks (64, 128, 256, 512 channels), global average pooling and a
/// linear classifier. Batch norm runs in inference form.
///
/// Parameter names follow torchvision (`conv1`, `bn1`, `layer1.0.conv1`, …,
/// `fc`), except the shortcut projection `downsample.0`/`.1`, here
/// `downsample.conv`/`.bn`; [`ResNet18::torchvision_key_remapping`] maps them.
#[derive(Module, Debug)]
pub struct ResNet18<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    layer1: Vec<BasicBlock<B>>,
    layer2: Vec<BasicBlock<B>>,
    layer3: Vec<BasicBlock<B>>,
    layer4: Vec<BasicBlock<B>>,
    fc: Linear<B>,
}

impl ResNet18Config {
    /// A model with torchvision's initialisation family (Kaiming-normal
    /// convolutions, unit batch-norm scales).
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet18<B> {
        let stage = |c_in, c_out, stride| {
            vec![
                BasicBlock::new(c_in, c_out, stride, device),
                BasicBlock::new(c_out, c_out, 1, device),
            ]
        };
        ResNet18 {
            conv1: conv(3, 64, 7, 2, device),
            bn1: norm(64, device),
            layer1: stage(64, 64, 1),
            layer2: stage(64, 128, 2),
            layer3: stage(128, 256, 2),
            layer4: stage(256, 512, 2),
            fc: LinearConfig::new(512, self.num_classes).init(device),
        }
    }
}

impl<B: Backend> ResNet18<B> {
    /// Key remapping rules (pattern, replacement) from torchvision's
    /// `resnet18` state dict to this module.
    pub fn torchvision_key_remapping() -> Vec<(String, String)> {
        vec![
            (r"\.downsample\.0\.".into(), ".downsample.conv.".into()),
            (r"\.downsample\.1\.".into(), ".downsample.bn.".into()),
        ]
    }
}

impl<B: Backend> Explainable<B> for ResNet18<B> {
    fn input_channels(&self) -> usize {
        3
    }

    fn min_input_size(&self) -> [usize; 2] {
        [32, 32]
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.named("conv1").conv2d(&self.conv1, images);
        let x = hook.named("bn1").batch_norm(&self.bn1, x);
        let x = hook.activate(Activation::Relu, x);
        let mut x = hook.max_pool(
            x,
            &PoolGeometry {
                kernel: [3, 3],
                stride: [2, 2],
                padding: [[1, 1], [1, 1]],
                ceil_mode: false,
            },
        );
        let stages = [&self.layer1, &self.layer2, &self.layer3, &self.layer4];
        for (stage, blocks) in stages.into_iter().enumerate() {
            for (i, block) in blocks.iter().enumerate() {
                x = block.forward(&format!("layer{}.{i}", stage + 1), x, hook);
            }
        }
        let x = hook.named("avgpool").global_avg_pool2d(x).flatten(1, 3);
        hook.named("fc").linear(&self.fc, x)
    }
}
