//! Reference models, written on the activation hook.
//!
//! Each is a Burn module built from a `Config`, with every activation routed
//! through the hook and every layer through [`ops`](crate::ops), so the
//! learned rules and every other method apply unchanged.

mod fixture_cnn;
mod resnet;
mod small_cnn;
mod vgg;

pub use fixture_cnn::{FixtureCnn, FixtureCnnConfig};
pub use resnet::{BasicBlock, Downsample, ResNet18, ResNet18Config};
pub use small_cnn::{CifarCnn, CifarCnnConfig, MnistCnn, MnistCnnConfig};
pub use vgg::{Vgg16, Vgg16Config};
