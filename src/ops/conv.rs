//! 2-D convolution: the backend's own, or shifted windows plus one matrix
//! product.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;

use super::{fitting, kernel_origins, pad_zeros, resolve_padding, strided_windows};
use crate::{Error, Result};

/// Settings of a 2-D convolution (PyTorch semantics: cross-correlation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Stride `[height, width]`.
    pub stride: [usize; 2],
    /// Zero padding `[[top, bottom], [left, right]]`.
    pub padding: [[usize; 2]; 2],
    /// Dilation `[height, width]`.
    pub dilation: [usize; 2],
    /// Number of channel groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dGeometry {
    fn default() -> Self {
        Self {
            stride: [1, 1],
            padding: [[0, 0], [0, 0]],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// Applies a `burn::nn::conv::Conv2d` layer with [`conv2d_with`].
///
/// Same result as `conv.forward(x)`, but with an exact and fast double
/// backward.
///
/// # Shapes
/// `x`: `[N, C_in, H, W]` → `[N, C_out, H_out, W_out]`.
///
/// # Panics
/// As [`conv2d_with`].
pub fn conv2d<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let padding = resolve_padding(&conv.padding, conv.kernel_size, conv.stride, [h, w]);
    let geometry = Conv2dGeometry {
        stride: conv.stride,
        padding,
        dilation: conv.dilation,
        groups: conv.groups,
    };
    conv2d_with(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        &geometry,
    )
}

/// 2-D convolution by the fastest exact formulation for the backend.
///
/// On Flex (the default [`Cpu`](crate::Cpu)) that is the backend's own
/// convolution ([`conv2d_native`]): im2col + GEMM forward, transposed
/// convolution backward, both differentiable again. Elsewhere it is
/// [`conv2d_windows`], whose double backward is exact on every backend;
/// depthwise layers on a backend without autodiff run the backend's own
/// kernel there too. Both give bit-equal outputs for equal windows (max-pool
/// ties after a convolution stay ties), which `tests/ops_second_order.rs`
/// checks on each path.
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`
/// - `weight`: `[C_out, C_in / groups, k_h, k_w]`
/// - `bias`: `[C_out]`
/// - output: `[N, C_out, H_out, W_out]` with
///   `H_out = (H + pad_top + pad_bottom − dilation·(k_h − 1) − 1) / stride + 1`.
///
/// # Panics
/// If [`Conv2dGeometry::output_size`] refuses the geometry for this input
/// and weight, or the bias does not have `C_out` elements, with a message
/// naming the op (a broken model definition); every entry point of the
/// crate returns that as [`Error::ModelPanicked`].
pub fn conv2d_with<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &Conv2dGeometry,
) -> Tensor<B, 4> {
    let depthwise = {
        let [c_out, c_in_group, _, _] = weight.dims();
        c_in_group == 1 && c_out == geometry.groups
    };
    if crate::backend::is_flex::<B>() || (depthwise && !B::ad_enabled(&x.device())) {
        conv2d_native(x, weight, bias, geometry)
    } else {
        conv2d_windows(x, weight, bias, geometry)
    }
}

/// 2-D convolution with the backend's own `conv2d` (asymmetric padding is
/// added by concatenation first, since Burn's convolution pads
/// symmetrically). Its double backward is exact where the backend's
/// transposed convolution is differentiable, as on Flex and ndarray.
///
/// # Shapes and panics
/// As [`conv2d_with`].
pub fn conv2d_native<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &Conv2dGeometry,
) -> Tensor<B, 4> {
    let (_, [top, bottom], [left, right], _) = output_size(&x, &weight, bias.as_ref(), geometry);
    let (x, padding) = if top == bottom && left == right {
        (x, [top, left])
    } else {
        (pad_zeros(x, geometry.padding), [0, 0])
    };
    let options = ConvOptions::new(geometry.stride, padding, geometry.dilation, geometry.groups);
    burn::tensor::module::conv2d(x, weight, bias, options)
}

/// 2-D convolution from the `k_h·k_w` shifted windows of the padded input,
/// concatenated along the channels, and one (grouped) matrix product.
///
/// Only zero-padding by concatenation, slicing, reshaping, products and
/// matmul are used, so the op is exactly differentiable twice on every
/// backend. Depthwise layers (one channel per group) sum their scaled
/// windows instead of a matrix product. Every output position is summed in
/// the same order, so equal windows give bit-equal outputs.
///
/// # Shapes and panics
/// As [`conv2d_with`].
pub fn conv2d_windows<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    geometry: &Conv2dGeometry,
) -> Tensor<B, 4> {
    let ([oh, ow], [top, bottom], [left, right], [c_in_group, c_out_group]) =
        output_size(&x, &weight, bias.as_ref(), geometry);
    let [n, _, _, _] = x.dims();
    let [c_out, _, kh, kw] = weight.dims();
    let g = geometry.groups;
    let [sh, sw] = geometry.stride;
    let [dh, dw] = geometry.dilation;
    // Extra zeros at the end so that every strided window fits (never read).
    let x = pad_zeros(x, [[top, bottom + sh - 1], [left, right + sw - 1]]);

    let origins = kernel_origins([kh, kw], [dh, dw]);
    let windows = strided_windows(x, &origins, [oh, ow], [sh, sw]);
    let out = if c_in_group == 1 && c_out_group == 1 {
        depthwise(windows, weight)
    } else {
        grouped_product(windows, weight, g, [n, c_out, oh, ow])
    };
    match bias {
        Some(b) => out + b.reshape([1, c_out, 1, 1]),
        None => out,
    }
}

/// The grouped matrix product of the row-major shifted windows `[N, C_in,
/// H_out, W_out]` with a `[C_out, C_in/G, k_h, k_w]` kernel.
fn grouped_product<B: Backend>(
    windows: Vec<Tensor<B, 4>>,
    weight: Tensor<B, 4>,
    g: usize,
    [n, c_out, oh, ow]: [usize; 4],
) -> Tensor<B, 4> {
    let [_, c_in_group, kh, kw] = weight.dims();
    let c_out_group = c_out / g;
    let k = kh * kw * c_in_group;
    let l = oh * ow;
    let windows = windows
        .into_iter()
        .map(|win| win.reshape([n, g, c_in_group, l]))
        .collect();
    // [N, G, k_h·k_w·C_in/G, L], window-major then channel.
    let columns = Tensor::cat(windows, 2);
    // [C_out, C_in/G, k_h, k_w] → [1, G, C_out/G, k_h·k_w·C_in/G] in the same order.
    let kernel = weight
        .reshape([g, c_out_group, c_in_group, kh * kw])
        .swap_dims(2, 3)
        .reshape([1, g, c_out_group, k]);
    kernel.matmul(columns).reshape([n, c_out, oh, ow])
}

impl Conv2dGeometry {
    /// The output size `[height, width]` of this convolution for an input
    /// `[N, C_in, H, W]` and a weight `[C_out, C_in / groups, k_h, k_w]`.
    ///
    /// # Errors
    /// [`Error::LayerGeometry`] for a stride, dilation, group count or kernel
    /// of 0, channels that do not match the weight and groups, or a padded
    /// input smaller than the dilated kernel.
    pub fn output_size(&self, input: [usize; 4], weight: [usize; 4]) -> Result<[usize; 2]> {
        let bad = |problem: String| Error::LayerGeometry {
            op: "conv2d",
            problem,
        };
        let [_, c_in, h, w] = input;
        let [c_out, c_in_group, kh, kw] = weight;
        let g = self.groups;
        if self.stride.contains(&0) || self.dilation.contains(&0) || g == 0 {
            return Err(bad(format!(
                "stride {:?}, dilation {:?} and groups {g} must be at least 1",
                self.stride, self.dilation
            )));
        }
        if kh == 0 || kw == 0 || c_out == 0 || c_in_group == 0 {
            return Err(bad(format!("the weight {weight:?} is empty")));
        }
        if c_in_group.checked_mul(g) != Some(c_in) || c_out % g != 0 {
            return Err(bad(format!(
                "the input has {c_in} channels, the weight is {weight:?} with {g} groups \
                 (it needs C_in / groups = {c_in_group} and C_out divisible by the groups)"
            )));
        }
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [[top, bottom], [left, right]] = self.padding;
        let padded = |n: usize, a: usize, b: usize| n.checked_add(a)?.checked_add(b);
        let span = |d: usize, k: usize| d.checked_mul(k - 1)?.checked_add(1);
        let (Some(hp), Some(wp), Some(span_h), Some(span_w)) = (
            padded(h, top, bottom),
            padded(w, left, right),
            span(dh, kh),
            span(dw, kw),
        ) else {
            return Err(bad(format!(
                "padding {:?} or dilation {:?} overflows",
                self.padding, self.dilation
            )));
        };
        if hp < span_h || wp < span_w {
            return Err(bad(format!(
                "the padded input {hp}×{wp} is smaller than the kernel span {span_h}×{span_w}"
            )));
        }
        Ok([(hp - span_h) / sh + 1, (wp - span_w) / sw + 1])
    }
}

/// Checks the geometry (see [`Conv2dGeometry::output_size`]) and the bias,
/// panicking with the error's message inside a forward pass; returns the
/// output size, the padding `[top, bottom]`, `[left, right]` and the
/// channels per group `[in, out]`.
fn output_size<B: Backend>(
    x: &Tensor<B, 4>,
    weight: &Tensor<B, 4>,
    bias: Option<&Tensor<B, 1>>,
    geometry: &Conv2dGeometry,
) -> ([usize; 2], [usize; 2], [usize; 2], [usize; 2]) {
    let weight = weight.dims();
    let out = fitting("conv2d", geometry.output_size(x.dims(), weight));
    if let Some(bias) = bias {
        assert!(
            bias.dims() == [weight[0]],
            "learnprop::ops::conv2d: the bias has {} elements, the weight {weight:?} has {} output channels",
            bias.dims()[0],
            weight[0]
        );
    }
    let [[top, bottom], [left, right]] = geometry.padding;
    let g = geometry.groups;
    (
        out,
        [top, bottom],
        [left, right],
        [weight[1], weight[0] / g],
    )
}

/// A depthwise convolution (one input and one output channel per group)
/// from its row-major shifted windows: the sum of the windows scaled per
/// channel, `k_h·k_w` element-wise products instead of `C` tiny matrix
/// products, added in the same order at every output position.
fn depthwise<B: Backend>(windows: Vec<Tensor<B, 4>>, weight: Tensor<B, 4>) -> Tensor<B, 4> {
    let channels = weight.dims()[0];
    let taps = windows.len();
    let weight = weight.reshape([channels, taps]);
    windows
        .into_iter()
        .enumerate()
        .map(|(t, win)| {
            let tap = weight
                .clone()
                .slice([0..channels, t..t + 1])
                .reshape([1, channels, 1, 1]);
            win * tap
        })
        .reduce(|sum, term| sum + term)
        .expect("a kernel has at least one tap")
}
