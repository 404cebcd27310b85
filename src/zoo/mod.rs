//! Reference models, written on the activation hook.
//!
//! Each is a Burn module built from a `Config`, with every activation routed
//! through the hook and every layer through [`ops`](crate::ops), so the
//! learned rules and every other method apply unchanged.

mod efficientnet;
mod fixture_cnn;
pub mod pretrained;
mod resnet;
mod small_cnn;
mod vgg;

pub use efficientnet::{EfficientNetLite0, EfficientNetLite0Config, MbConvBlock};
pub use fixture_cnn::{FixtureCnn, FixtureCnnConfig};
pub use resnet::{BasicBlock, Downsample, ResNet18, ResNet18Config};
pub use small_cnn::{CifarCnn, CifarCnnConfig, MnistCnn, MnistCnnConfig};
pub use vgg::{Vgg16, Vgg16Config};

/// The 1000 ImageNet-1k class names; index `i` is class `i` (0 = tench).
/// From torchvision (`torchvision.models._meta._IMAGENET_CATEGORIES`, BSD-3).
pub fn imagenet_classes() -> Vec<&'static str> {
    include_str!("imagenet-classes.txt").lines().collect()
}
