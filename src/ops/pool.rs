//! Pooling rebuilt from gather, window sums and matmul.

use burn::nn::pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::TensorData;

use crate::{Error, Result};

use super::{fitting, kernel_origins, pad_constant, resolve_padding, separable, strided_windows};

/// Settings of a 2-D pooling window (PyTorch semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Window size `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[height, width]`.
    pub stride: [usize; 2],
    /// Padding `[[top, bottom], [left, right]]`.
    pub padding: [[usize; 2]; 2],
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

impl PoolGeometry {
    /// A `k × k` window with stride `k` and no padding (the usual `MaxPool2d(k)`).
    pub fn square(k: usize) -> Self {
        Self {
            kernel: [k, k],
            stride: [k, k],
            padding: [[0, 0], [0, 0]],
            ceil_mode: false,
        }
    }

    /// The geometry of a `burn::nn::pool::MaxPool2d` layer for inputs of
    /// spatial size `size` (`Same` padding depends on it).
    ///
    /// # Errors
    /// [`Error::LayerGeometry`] if the layer uses dilation (not supported).
    pub fn of_max_pool(pool: &MaxPool2d, size: [usize; 2]) -> Result<Self> {
        if pool.dilation != [1, 1] {
            return Err(Error::LayerGeometry {
                op: "max_pool2d",
                problem: format!(
                    "dilation {:?} is not supported (only [1, 1])",
                    pool.dilation
                ),
            });
        }
        Ok(Self::from_config(
            pool.kernel_size,
            pool.stride,
            &pool.padding,
            pool.ceil_mode,
            size,
        ))
    }

    pub(crate) fn from_config(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: &PaddingConfig2d,
        ceil_mode: bool,
        size: [usize; 2],
    ) -> Self {
        let padding = resolve_padding(padding, kernel, stride, size);
        Self {
            kernel,
            stride,
            padding,
            ceil_mode,
        }
    }

    /// The output size `[height, width]` for inputs of spatial size `size`,
    /// PyTorch's rule (in ceil mode a window must start inside the input or
    /// the leading padding).
    ///
    /// # Errors
    /// [`Error::LayerGeometry`] for a kernel or stride of 0, padding larger
    /// than half the kernel (PyTorch's limit: a window could then lie
    /// wholly in the padding), or a padded input smaller than the kernel.
    pub fn output_size(&self, size: [usize; 2]) -> Result<[usize; 2]> {
        let bad = |problem: String| Error::LayerGeometry {
            op: "pooling",
            problem,
        };
        if self.kernel.contains(&0) || self.stride.contains(&0) {
            return Err(bad(format!(
                "kernel {:?} and stride {:?} must be at least 1",
                self.kernel, self.stride
            )));
        }
        let mut out = [0; 2];
        for axis in 0..2 {
            let [before, after] = self.padding[axis];
            let (k, s, n) = (self.kernel[axis], self.stride[axis], size[axis]);
            if before.max(after) > k / 2 {
                return Err(bad(format!(
                    "padding {:?} is more than half the kernel {:?}",
                    self.padding, self.kernel
                )));
            }
            let span = n + before + after;
            if n == 0 {
                return Err(bad(format!("the input {size:?} is empty")));
            }
            if span < k {
                return Err(bad(format!(
                    "the input {size:?} with padding {:?} is smaller than the kernel {:?}",
                    self.padding, self.kernel
                )));
            }
            out[axis] = if self.ceil_mode {
                (span - k).div_ceil(s) + 1
            } else {
                (span - k) / s + 1
            };
            if self.ceil_mode && (out[axis] - 1) * s >= n + before {
                out[axis] -= 1;
            }
        }
        Ok(out)
    }
}

/// Applies a `burn::nn::pool::MaxPool2d` layer with [`max_pool2d_with`].
///
/// # Panics
/// As [`max_pool2d_with`], and for a layer with dilation.
pub fn max_pool2d<B: Backend>(pool: &MaxPool2d, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let geometry = max_pool_layer_geometry(pool, &x);
    max_pool2d_with(x, &geometry)
}

/// [`PoolGeometry::of_max_pool`] for the input `x`, inside a forward pass.
pub(crate) fn max_pool_layer_geometry<B: Backend>(
    pool: &MaxPool2d,
    x: &Tensor<B, 4>,
) -> PoolGeometry {
    let [_, _, h, w] = x.dims();
    fitting("max_pool2d", PoolGeometry::of_max_pool(pool, [h, w]))
}

/// Max pooling whose gradient goes to the **first** maximal element of each
/// window in row-major order (PyTorch's CPU rule).
///
/// The routing indices come from Burn's `max_pool2d_with_indices` on a
/// detached copy; the values are then gathered from the input, so the
/// backward is a scatter and the double backward a gather (both exact).
///
/// # Shapes
/// `[N, C, H, W]` → `[N, C, H_out, W_out]`.
///
/// # Panics
/// If [`PoolGeometry::output_size`] refuses the geometry for this input, with
/// its message; every entry point of the crate returns that as
/// [`Error::ModelPanicked`].
pub fn max_pool2d_with<B: Backend>(x: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4> {
    let (x, indices) = max_pool_routing(x, geometry);
    gather_windows(x, &indices)
}

/// The input as pooled (padded with −∞ where the padding is asymmetric or
/// the mode is ceil) and,
/// per output element, the flat index of its window's first maximum in it.
pub(crate) fn max_pool_routing<B: Backend>(
    x: Tensor<B, 4>,
    geometry: &PoolGeometry,
) -> (Tensor<B, 4>, Tensor<B, 4, Int>) {
    let [n, c, h, w] = x.dims();
    let [oh, ow] = fitting("max_pool2d", geometry.output_size([h, w]));
    let [[top, bottom], [left, right]] = geometry.padding;
    // Symmetric padding in floor mode is Burn's rule as it is PyTorch's.
    // Otherwise pad explicitly with −∞ so that every window of PyTorch's
    // output size fits, pool without padding in floor mode and keep that
    // size (Burn's ceil mode lacks PyTorch's rule that the last window
    // starts inside the input or the leading padding).
    let explicit = top != bottom || left != right || geometry.ceil_mode;
    let (x, padding) = if explicit {
        let fit = |o: usize, axis: usize, n: usize| {
            let [before, after] = geometry.padding[axis];
            ((o - 1) * geometry.stride[axis] + geometry.kernel[axis])
                .saturating_sub(n + before + after)
        };
        let padding = [[top, bottom + fit(oh, 0, h)], [left, right + fit(ow, 1, w)]];
        (pad_constant(x, padding, f64::NEG_INFINITY), [0, 0])
    } else {
        (x, [top, left])
    };
    let (_, indices) = max_pool2d_with_indices(
        x.clone().detach(),
        geometry.kernel,
        geometry.stride,
        padding,
        [1, 1],
        false,
    );
    let indices = if explicit {
        indices.slice([0..n, 0..c, 0..oh, 0..ow])
    } else {
        indices
    };
    (x, indices)
}

/// `x` `[N, C, H, W]` at the flat spatial `indices` `[N, C, H_out, W_out]`.
pub(crate) fn gather_windows<B: Backend>(
    x: Tensor<B, 4>,
    indices: &Tensor<B, 4, Int>,
) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let [_, _, oh, ow] = indices.dims();
    x.reshape([n, c, h * w])
        .gather(2, indices.clone().reshape([n, c, oh * ow]))
        .reshape([n, c, oh, ow])
}

/// Applies a `burn::nn::pool::AvgPool2d` layer with [`avg_pool2d_with`].
///
/// # Panics
/// As [`avg_pool2d_with`].
pub fn avg_pool2d<B: Backend>(pool: &AvgPool2d, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let geometry = PoolGeometry::from_config(
        pool.kernel_size,
        pool.stride,
        &pool.padding,
        pool.ceil_mode,
        [h, w],
    );
    avg_pool2d_with(x, &geometry, pool.count_include_pad)
}

/// Average pooling as a sum of shifted windows divided by each window's
/// element count (PyTorch's divisor rule, `count_include_pad` as there).
///
/// # Shapes
/// `[N, C, H, W]` → `[N, C, H_out, W_out]`.
///
/// # Panics
/// As [`max_pool2d_with`].
pub fn avg_pool2d_with<B: Backend>(
    x: Tensor<B, 4>,
    geometry: &PoolGeometry,
    count_include_pad: bool,
) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let [kh, kw] = geometry.kernel;
    let [sh, sw] = geometry.stride;
    let [[top, bottom], [left, right]] = geometry.padding;
    let [oh, ow] = fitting("avg_pool2d", geometry.output_size([h, w]));
    // Pad so that every (ceil-mode, strided) window fits; extra zeros add nothing.
    let extra_h = ((oh - 1) * sh + kh + sh).saturating_sub(h + top + bottom);
    let extra_w = ((ow - 1) * sw + kw + sw).saturating_sub(w + left + right);
    let x = pad_constant(x, [[top, bottom + extra_h], [left, right + extra_w]], 0.0);
    let origins = kernel_origins([kh, kw], [1, 1]);
    let sum = strided_windows(x, &origins, [oh, ow], [sh, sw])
        .into_iter()
        .reduce(|sum, win| sum + win)
        .expect("pooling kernel is at least 1×1");
    let divisor = |axis: usize, o: usize, n: usize| {
        let [before, after] = geometry.padding[axis];
        let (k, s) = (geometry.kernel[axis], geometry.stride[axis]);
        let start = (o * s) as isize - before as isize;
        let end = (start + k as isize).min((n + after) as isize);
        let full = end - start;
        let inside = end.min(n as isize) - start.max(0);
        if count_include_pad {
            full
        } else {
            inside
        }
    };
    let mut divisors = Vec::with_capacity(oh * ow);
    for r in 0..oh {
        for c in 0..ow {
            divisors.push((divisor(0, r, h) * divisor(1, c, w)) as f64);
        }
    }
    let divisors = Tensor::<B, 4>::from_data(
        TensorData::new(divisors, [1, 1, oh, ow]).convert_dtype(sum.dtype()),
        &sum.device(),
    );
    sum / divisors
}

/// Applies a `burn::nn::pool::AdaptiveAvgPool2d` layer with [`adaptive_avg_pool2d_to`].
pub fn adaptive_avg_pool2d<B: Backend>(pool: &AdaptiveAvgPool2d, x: Tensor<B, 4>) -> Tensor<B, 4> {
    adaptive_avg_pool2d_to(x, pool.output_size)
}

/// Adaptive average pooling to `[out_h, out_w]` as two products with constant
/// averaging matrices (`P_h · x · P_wᵀ`), PyTorch's window rule
/// `[⌊i·H/O⌋, ⌈(i+1)·H/O⌉)`.
///
/// # Shapes
/// `[N, C, H, W]` → `[N, C, out_h, out_w]`.
///
/// # Panics
/// If the output size is 0 along an axis, or the input is empty (every
/// window must hold at least one element); every entry point of the crate
/// returns that as [`Error::ModelPanicked`].
pub fn adaptive_avg_pool2d_to<B: Backend>(x: Tensor<B, 4>, output: [usize; 2]) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let [oh, ow] = output;
    assert!(
        oh > 0 && ow > 0 && h > 0 && w > 0,
        "learnprop::ops::adaptive_avg_pool2d: output {output:?} from input {:?}: both must be at least 1×1",
        [h, w]
    );
    if [oh, ow] == [h, w] {
        return x;
    }
    if [oh, ow] == [1, 1] {
        return global_avg_pool2d(x);
    }
    let averaging = |o: usize, n: usize| {
        let mut m = vec![0.0f64; o * n];
        for i in 0..o {
            let start = i * n / o;
            let end = ((i + 1) * n).div_ceil(o);
            for j in start..end {
                m[i * n + j] = 1.0 / (end - start) as f64;
            }
        }
        m
    };
    separable(x, averaging(oh, h), averaging(ow, w), [oh, ow])
}

/// Global average pooling: the mean over each channel's `H × W` positions.
///
/// # Shapes
/// `[N, C, H, W]` → `[N, C, 1, 1]`.
pub fn global_avg_pool2d<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c, 1, 1])
}
