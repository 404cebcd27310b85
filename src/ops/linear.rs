//! Fully connected layers as matmul plus bias.

use burn::nn::Linear;
use burn::prelude::*;

/// Applies a `burn::nn::Linear` layer as `x · W + b`.
///
/// Burn 0.21's fused `linear` op panics when its backward is differentiated
/// ("Can't differentiate linear_x_backward"); a plain matmul and a broadcast
/// add have exact double backwards. Same values as `linear.forward(x)`.
///
/// # Shapes
/// `[…, d_in]` → `[…, d_out]`.
pub fn linear<B: Backend, const D: usize>(linear: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    linear_with(
        x,
        linear.weight.val(),
        linear.bias.as_ref().map(|b| b.val()),
    )
}

/// `x · weight + bias` with Burn's weight layout `[d_in, d_out]`.
///
/// # Shapes
/// - `x`: `[…, d_in]`
/// - `weight`: `[d_in, d_out]`
/// - `bias`: `[d_out]`
/// - output: `[…, d_out]`
pub fn linear_with<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let out = x.matmul(weight.unsqueeze());
    match bias {
        Some(b) => out + b.unsqueeze(),
        None => out,
    }
}
