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
    batch_norm_with(
        x,
        norm.gamma.val(),
        norm.beta.val(),
        norm.running_mean.value(),
        norm.running_var.value(),
        norm.epsilon,
    )
}

/// Inference-form batch norm with the per-channel `gamma`, `beta`, `mean`
/// and `var` (`[C]` each) and `epsilon`: `x · s + (β − μ · s)` with
/// `s = γ / √(var + ε)`, channels on axis 1.
///
/// # Shapes
/// `[N, C, …]` → `[N, C, …]`.
///
/// # Panics
/// As [`batch_norm`], or when the four vectors differ in length.
pub fn batch_norm_with<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    mean: Tensor<B, 1>,
    var: Tensor<B, 1>,
    epsilon: f64,
) -> Tensor<B, D> {
    assert!(
        D >= 2,
        "learnprop::ops::batch_norm: the input needs a channel dimension"
    );
    let channels = x.dims()[1];
    for (name, v) in [
        ("gamma", &gamma),
        ("beta", &beta),
        ("mean", &mean),
        ("var", &var),
    ] {
        assert!(
            v.dims() == [channels],
            "learnprop::ops::batch_norm: the input has {channels} channels, {name} {}",
            v.dims()[0]
        );
    }
    let dims = x.dims();
    let scale = gamma / var.add_scalar(epsilon).sqrt();
    let shift = beta - mean * scale.clone();
    // As `[N·C, rest]` with one scale and shift per row, repeated over the
    // batch: the same products and sums as broadcasting `[1, C, 1, …]`,
    // in the per-row layout the CPU backends run as one vector loop
    // (Flex walks a `[1, C, 1, 1]` broadcast element by element).
    let rows = dims[0] * channels;
    if rows == 0 {
        let mut shape = [1usize; D];
        shape[1] = channels;
        return x * scale.reshape(shape) + shift.reshape(shape);
    }
    let rest = dims[2..].iter().product::<usize>();
    let per_row = |v: Tensor<B, 1>| v.unsqueeze::<2>().repeat_dim(0, dims[0]).reshape([rows, 1]);
    let flat = x.reshape([rows, rest]);
    (flat * per_row(scale) + per_row(shift)).reshape(dims)
}
