//! Double-differentiable building blocks for models on the hook.
//!
//! The learned rules differentiate a backward pass, so every op between the
//! input and the logits must itself have a differentiable backward. Burn
//! 0.21's `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d` and the fused
//! `linear` panic when differentiated twice. The functions here rebuild these
//! ops from primitives whose double backward is exact (slice, concatenation,
//! reshape, matmul, gather, mean): each gives the same first-order result as
//! Burn's op and a second derivative that matches finite differences (see
//! `tests/ops_second_order.rs`). Convolutions use the backend's own kernel
//! where that is exact twice and fastest (Flex), shifted windows elsewhere.
//!
//! Each op comes in two forms: one that takes the `burn::nn` module holding
//! the layer's settings and weights (so an existing model keeps its fields and
//! its weight files), and a functional one.

pub(crate) mod blur;
mod conv;
mod linear;
mod norm;
mod pool;
mod sigmoid;

pub use blur::{gaussian_blur, BlurEdges, MAX_BLUR_SIDE, MAX_BLUR_SIGMA};
pub use conv::{conv2d, conv2d_native, conv2d_windows, conv2d_with, Conv2dGeometry};
pub use linear::{linear, linear_with};
pub use norm::{batch_norm, batch_norm_with};
pub use pool::{
    adaptive_avg_pool2d, adaptive_avg_pool2d_to, avg_pool2d, avg_pool2d_with, global_avg_pool2d,
    max_pool2d, max_pool2d_with, PoolGeometry,
};
pub(crate) use pool::{gather_windows, max_pool_layer_geometry, max_pool_routing};
pub use sigmoid::sigmoid;

use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::TensorData;

/// The value of a geometry check inside a forward pass, or a panic naming
/// the op (`learnprop::ops::{op}: …`, the prefix the entry points' guard
/// recognises when it turns the panic into an error).
pub(crate) fn fitting<T>(op: &str, checked: crate::Result<T>) -> T {
    checked.unwrap_or_else(|error| panic!("learnprop::ops::{op}: {error}"))
}

/// Padding `[[top, bottom], [left, right]]` of a layer with `padding`,
/// `kernel` and `stride` for inputs of spatial size `size`; `Same` follows
/// Burn (and TensorFlow): the extra pixel goes to the end.
pub(crate) fn resolve_padding(
    padding: &PaddingConfig2d,
    kernel: [usize; 2],
    stride: [usize; 2],
    size: [usize; 2],
) -> [[usize; 2]; 2] {
    let same = |axis: usize| {
        // A stride of 0 is refused by the op's own geometry check.
        let stride = stride[axis].max(1);
        let out = size[axis].div_ceil(stride);
        let total = (out.max(1) - 1)
            .saturating_mul(stride)
            .saturating_add(kernel[axis])
            .saturating_sub(size[axis]);
        [total / 2, total - total / 2]
    };
    match *padding {
        PaddingConfig2d::Valid => [[0, 0], [0, 0]],
        PaddingConfig2d::Same => [same(0), same(1)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [[top, bottom], [left, right]],
    }
}

/// `R · x · Cᵀ` for `x` `[N, C, H, W]` with constant row-major matrices `rows`
/// `[out_h, H]` and `cols` `[out_w, W]`: a separable linear map (pooling,
/// interpolation, blur), exactly differentiable any number of times.
pub(crate) fn separable<B: Backend>(
    x: Tensor<B, 4>,
    rows: Vec<f64>,
    cols: Vec<f64>,
    out: [usize; 2],
) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let (device, dtype) = (x.device(), x.dtype());
    let matrix = |m: Vec<f64>, shape: [usize; 4]| {
        Tensor::<B, 4>::from_data(TensorData::new(m, shape).convert_dtype(dtype), &device)
    };
    let rows = matrix(rows, [1, 1, out[0], h]);
    let cols = matrix(cols, [1, 1, out[1], w]).swap_dims(2, 3);
    rows.matmul(x.matmul(cols))
}

/// Pads the last two dimensions with zeros, `[[top, bottom], [left, right]]`,
/// by concatenation (whose double backward is exact).
pub(crate) fn pad_zeros<B: Backend>(x: Tensor<B, 4>, pad: [[usize; 2]; 2]) -> Tensor<B, 4> {
    pad_constant(x, pad, 0.0)
}

/// Pads the last two dimensions with `value`, `[[top, bottom], [left, right]]`,
/// by concatenation.
pub(crate) fn pad_constant<B: Backend>(
    x: Tensor<B, 4>,
    pad: [[usize; 2]; 2],
    value: f64,
) -> Tensor<B, 4> {
    let [[top, bottom], [left, right]] = pad;
    if top + bottom + left + right == 0 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let dtype = x.dtype();
    let zeros = |shape: [usize; 4]| Tensor::<B, 4>::full(shape, value, (&device, dtype));
    let mut x = x;
    if left + right > 0 {
        let mut parts = Vec::with_capacity(3);
        if left > 0 {
            parts.push(zeros([n, c, h, left]));
        }
        parts.push(x);
        if right > 0 {
            parts.push(zeros([n, c, h, right]));
        }
        x = Tensor::cat(parts, 3);
    }
    if top + bottom > 0 {
        let w = w + left + right;
        let mut parts = Vec::with_capacity(3);
        if top > 0 {
            parts.push(zeros([n, c, top, w]));
        }
        parts.push(x);
        if bottom > 0 {
            parts.push(zeros([n, c, bottom, w]));
        }
        x = Tensor::cat(parts, 2);
    }
    x
}

/// The top-left offsets of a `k_h × k_w` kernel's taps in row-major order,
/// `[i·dilation_h, j·dilation_w]`: the origins for [`strided_windows`].
pub(crate) fn kernel_origins(kernel: [usize; 2], dilation: [usize; 2]) -> Vec<[usize; 2]> {
    let ([kh, kw], [dh, dw]) = (kernel, dilation);
    (0..kh)
        .flat_map(|i| (0..kw).map(move |j| [i * dh, j * dw]))
        .collect()
}

/// For each origin `[row0, col0]`, the `[out_h, out_w]` grid of elements
/// `x[.., .., row0 + i·stride_h, col0 + j·stride_w]`, in the order given.
///
/// For strides above 1 the input is split once into its stride phases, and
/// every window is a unit-stride slice of one phase. Rows are split with a
/// slice and a reshape that puts the phase on its own axis; columns with a
/// product by a constant 0/1 selection matrix (each output is one input
/// times 1 plus exact zeros, so the values are unchanged for finite
/// inputs), which is several times faster than a strided copy on the CPU.
/// No strided slicing is used, so the op's double backward is exact.
/// Requires `row0 + stride_h·out_h ≤ H` for every origin, likewise for
/// columns.
pub(crate) fn strided_windows<B: Backend>(
    x: Tensor<B, 4>,
    origins: &[[usize; 2]],
    out: [usize; 2],
    stride: [usize; 2],
) -> Vec<Tensor<B, 4>> {
    let [n, c, _, w] = x.dims();
    let [oh, ow] = out;
    let [sh, sw] = stride;
    let window = |t: &Tensor<B, 4>, r: usize, col: usize| {
        t.clone().slice([0..n, 0..c, r..r + oh, col..col + ow])
    };
    if sh == 1 && sw == 1 {
        return origins.iter().map(|&[r, col]| window(&x, r, col)).collect();
    }
    // Row phase a holds x[.., .., a + sh·t, ..] for t < rows[a]; column phase
    // b holds columns b + sw·u for u < cols[b], at offset col_start[b].
    let mut rows = vec![0; sh];
    let mut cols = vec![0; sw];
    for &[r, col] in origins {
        rows[r % sh] = rows[r % sh].max(r / sh + oh);
        cols[col % sw] = cols[col % sw].max(col / sw + ow);
    }
    let col_start: Vec<usize> = cols
        .iter()
        .scan(0, |start, &m| {
            let s = *start;
            *start += m;
            Some(s)
        })
        .collect();
    let width: usize = cols.iter().sum();
    let mut selection = vec![0.0; w * width];
    for (b, (&m, &start)) in cols.iter().zip(&col_start).enumerate() {
        for u in 0..m {
            selection[(b + sw * u) * width + start + u] = 1.0;
        }
    }
    let selection = Tensor::<B, 2>::from_data(
        TensorData::new(selection, [w, width]).convert_dtype(x.dtype()),
        &x.device(),
    )
    .reshape([1, 1, w, width]);
    let mut row_phases: Vec<Option<Tensor<B, 4>>> = vec![None; sh];
    origins
        .iter()
        .map(|&[r, col]| {
            let a = r % sh;
            let phase = row_phases[a].get_or_insert_with(|| {
                let m = rows[a];
                x.clone()
                    .slice([0..n, 0..c, a..a + sh * m, 0..w])
                    .reshape([n, c, m, sh * w])
                    .slice([0..n, 0..c, 0..m, 0..w])
                    .matmul(selection.clone())
            });
            let start = col_start[col % sw];
            window(phase, r / sh, start + col / sw)
        })
        .collect()
}
