//! Batch normalisation in inference form.

use burn::nn::BatchNorm;
use burn::prelude::*;

/// Applies a `burn::nn::BatchNorm` layer in inference form (running
/// statistics): `(x − mean) / √(var + ε) · γ + β` per channel, an affine map
/// whose double backward is exact. Same values as the layer's forward outside
/// training.
///
/// # Shapes
/// `[N, C, …]` → `[N, C, …]`.
pub fn batch_norm<B: Backend, const D: usize>(
    norm: &BatchNorm<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    let channels = x.dims()[1];
    let mut shape = [1usize; D];
    shape[1] = channels;
    let scale = norm.gamma.val() / norm.running_var.value().add_scalar(norm.epsilon).sqrt();
    let shift = norm.beta.val() - norm.running_mean.value() * scale.clone();
    x * scale.reshape(shape) + shift.reshape(shape)
}
