//! Trained weights shipped with the crate.
//!
//! Both models are [`MnistCnn`]s trained by `examples/train_mnist.rs` (the
//! command, seed and accuracy are in `docs/models.md`); the weight files are
//! embedded in the library, so no file or download is needed.

use burn::prelude::*;

use super::{MnistCnn, MnistCnnConfig};
use crate::weights::WeightFile;
use crate::Result;

/// The MNIST CNN trained on MNIST (inputs normalised with
/// [`Normalisation::mnist`](crate::data::Normalisation::mnist)).
///
/// # Errors
/// Only if the embedded file were corrupt.
pub fn mnist_cnn<B: Backend>(device: &B::Device) -> Result<MnistCnn<B>> {
    WeightFile::from_safetensors_bytes(
        "mnist-cnn.safetensors",
        include_bytes!("weights/mnist-cnn.safetensors"),
    )
    .load(MnistCnnConfig::new().init(device))
}

/// The MNIST CNN architecture trained on Fashion-MNIST (inputs normalised
/// with [`Normalisation::fashion_mnist`](crate::data::Normalisation::fashion_mnist)).
///
/// # Errors
/// Only if the embedded file were corrupt.
pub fn fashion_mnist_cnn<B: Backend>(device: &B::Device) -> Result<MnistCnn<B>> {
    WeightFile::from_safetensors_bytes(
        "fashion-mnist-cnn.safetensors",
        include_bytes!("weights/fashion-mnist-cnn.safetensors"),
    )
    .load(MnistCnnConfig::new().init(device))
}
