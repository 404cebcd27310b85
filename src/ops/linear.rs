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
///
/// # Panics
/// As [`linear_with`].
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
///
/// # Panics
/// If `x`'s last dimension is not `d_in` or the bias does not have `d_out`
/// elements, with a message naming the op; every entry point of the crate
/// returns that as [`Error::ModelPanicked`](crate::Error::ModelPanicked).
pub fn linear_with<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let [d_in, d_out] = weight.dims();
    let found = x.dims()[D - 1];
    assert!(
        found == d_in,
        "learnprop::ops::linear: the input's last dimension is {found}, the weight [{d_in}, {d_out}] needs {d_in} (flatten the features first?)"
    );
    if let Some(b) = &bias {
        assert!(
            b.dims() == [d_out],
            "learnprop::ops::linear: the bias has {} elements, the weight [{d_in}, {d_out}] has {d_out} outputs",
            b.dims()[0]
        );
    }
    let out = x.matmul(weight.unsqueeze());
    match bias {
        Some(b) => out + b.unsqueeze(),
        None => out,
    }
}
