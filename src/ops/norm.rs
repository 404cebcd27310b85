//! Batch normalisation in inference form.

use burn::nn::BatchNorm;
use burn::prelude::*;

/// Applies a `burn::nn::BatchNorm` layer in inference form (running
/// statistics): `(x − mean) / √(var + ε) · γ + β` per channel, an affine map
/// whose double backward is exact. Same values as the layer's forward outside
/// training.
///
/// Burn's own `BatchNorm::forward` uses the *batch's* statistics whenever
/// the backend has autodiff (as every explaining backend has), so a model
/// that explains must call this function instead.
///
/// # Shapes
/// `[N, C, …]` → `[N, C, …]`.
///
/// # Panics
/// If `x` has fewer than 2 dimensions or its channel count differs from the
/// layer's, with a message naming the op; every entry point of the crate
/// returns that as [`Error::ModelPanicked`](crate::Error::ModelPanicked).
pub fn batch_norm<B: Backend, const D: usize>(
    norm: &BatchNorm<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    assert!(
        D >= 2,
        "learnprop::ops::batch_norm: the input needs a channel dimension"
    );
    let channels = x.dims()[1];
    let features = norm.gamma.dims()[0];
    assert!(
        channels == features,
        "learnprop::ops::batch_norm: the input has {channels} channels, the layer {features}"
    );
    let mut shape = [1usize; D];
    shape[1] = channels;
    let scale = norm.gamma.val() / norm.running_var.value().add_scalar(norm.epsilon).sqrt();
    let shift = norm.beta.val() - norm.running_mean.value() * scale.clone();
    x * scale.reshape(shape) + shift.reshape(shape)
}
