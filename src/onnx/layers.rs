//! Layers of the interpreted graph: convolution, fully connected layers,
//! batch norm, pooling and means, each on the crate's double-differentiable
//! ops with the same arithmetic as the `burn::nn` layers of the zoo.

use burn::prelude::*;

use super::interpret::Inputs;
use super::op::{Padding, Window};
use super::value::{Dense, MAX_RANK};
use super::OnnxProblem;
use crate::model::Hook;
use crate::ops::{Conv2dGeometry, PoolGeometry};
use crate::rule::Layer;

type Checked<T> = Result<T, OnnxProblem>;

/// Resolves `SAME_UPPER`/`SAME_LOWER` padding for an input of `size`.
fn padding(window: &Window, kernel: [usize; 2], size: [usize; 2]) -> [[usize; 2]; 2] {
    let same = |axis: usize, upper: bool| {
        let (s, d, k, n) = (
            window.stride[axis],
            window.dilation[axis],
            kernel[axis],
            size[axis],
        );
        let out = n.div_ceil(s);
        let total = ((out.max(1) - 1) * s + (k - 1) * d + 1).saturating_sub(n);
        let (small, large) = (total / 2, total - total / 2);
        if upper {
            [small, large]
        } else {
            [large, small]
        }
    };
    match window.padding {
        Padding::Explicit(p) => p,
        Padding::SameUpper => [same(0, true), same(1, true)],
        Padding::SameLower => [same(0, false), same(1, false)],
    }
}

fn spatial<B: Backend>(x: &Tensor<B, 4>) -> [usize; 2] {
    let [_, _, h, w] = x.dims();
    [h, w]
}

/// `Conv`: inputs `X`, `W` and an optional bias.
pub(crate) fn conv<B: Backend, H: Hook<B>>(
    hook: &mut H,
    inputs: &Inputs<B>,
    window: &Window,
    groups: usize,
) -> Checked<Dense<B>> {
    let x = inputs.device(0)?.get::<4>()?;
    let weight = inputs
        .device(1)?
        .get::<4>()
        .map_err(|_| OnnxProblem("only 2-D convolutions are supported".into()))?;
    let [c_out, c_in_group, kh, kw] = weight.dims();
    if window.kernel.is_some_and(|k| k != [kh, kw]) {
        return Err(OnnxProblem(format!(
            "kernel_shape {:?} differs from the weight's {:?}",
            window.kernel,
            [kh, kw]
        )));
    }
    let [_, c_in, _, _] = x.dims();
    if c_out % groups != 0 || c_in_group * groups != c_in {
        return Err(OnnxProblem(format!(
            "the input has {c_in} channels, the weight {:?} with {groups} groups needs {}",
            weight.dims(),
            c_in_group * groups
        )));
    }
    let bias = if inputs.has(2) {
        Some(inputs.device(2)?.reshaped(&[c_out])?.get::<1>()?)
    } else {
        None
    };
    let geometry = Conv2dGeometry {
        stride: window.stride,
        padding: padding(window, [kh, kw], spatial(&x)),
        dilation: window.dilation,
        groups,
    };
    geometry
        .output_size(x.dims(), weight.dims())
        .map_err(|e| OnnxProblem(e.to_string()))?;
    let layer = Layer::Conv2d {
        weight,
        bias,
        geometry,
    };
    Ok(Dense::of(hook.layer(&layer, x)))
}

/// `Gemm`: `alpha · A′ · B′ + beta · C`, as `ops::linear_with` when it is a
/// plain fully connected layer.
pub(crate) fn gemm<B: Backend, H: Hook<B>>(
    hook: &mut H,
    inputs: &Inputs<B>,
    alpha: f64,
    beta: f64,
    trans_a: bool,
    trans_b: bool,
) -> Checked<Dense<B>> {
    let mut a = inputs.device(0)?.get::<2>()?;
    let mut b = inputs.device(1)?.get::<2>()?;
    if trans_a {
        a = a.transpose();
    }
    if trans_b {
        b = b.transpose();
    }
    let ([_, k], [k2, n]) = (a.dims(), b.dims());
    if k != k2 {
        return Err(OnnxProblem(format!(
            "cannot multiply {:?} by {:?}",
            a.dims(),
            b.dims()
        )));
    }
    let bias = if inputs.has(2) {
        Some(inputs.device(2)?)
    } else {
        None
    };
    let plain_bias = bias
        .as_ref()
        .is_none_or(|c| c.dims().iter().product::<usize>() == n && c.dims().last() == Some(&n));
    if alpha == 1.0 && beta == 1.0 && plain_bias {
        let bias = bias
            .map(|c| c.reshaped(&[n]).and_then(|c| c.get::<1>()))
            .transpose()?;
        let layer = Layer::Linear { weight: b, bias };
        return Ok(Dense::of(hook.layer(&layer, a)));
    }
    let scale = |t: Tensor<B, 2>, s: f64| {
        if s == 1.0 {
            t
        } else {
            t.clone() * Tensor::<B, 2>::full([1, 1], s, (&t.device(), t.dtype()))
        }
    };
    let product = Dense::of(scale(a.matmul(b), alpha));
    match bias {
        None => Ok(product),
        Some(c) => {
            let c = Dense {
                tensor: c.tensor.clone()
                    * Tensor::full([1; MAX_RANK], beta, (&c.tensor.device(), c.tensor.dtype())),
                rank: c.rank,
            };
            super::host::broadcast_shape(&product.dims(), &c.dims())?;
            Ok(Dense {
                tensor: product.tensor + c.tensor,
                rank: 2,
            })
        }
    }
}

/// `MatMul`: by a matrix as a linear layer without bias (a site when the
/// left operand is `[N, k]`), else a (batched) matrix product.
pub(crate) fn matmul<B: Backend, H: Hook<B>>(
    hook: &mut H,
    inputs: &Inputs<B>,
) -> Checked<Dense<B>> {
    let (a, b) = (inputs.device(0)?, inputs.device(1)?);
    if a.rank < 2 || b.rank < 2 {
        return Err(OnnxProblem(
            "MatMul of 1-D operands is not supported".into(),
        ));
    }
    let (ad, bd) = (a.dims(), b.dims());
    if ad[ad.len() - 1] != bd[bd.len() - 2] {
        return Err(OnnxProblem(format!("cannot multiply {ad:?} by {bd:?}")));
    }
    let rank = a.rank.max(b.rank);
    if b.rank == 2 && a.rank == 2 {
        let layer = Layer::Linear {
            weight: b.get::<2>()?,
            bias: None,
        };
        return Ok(Dense::of(hook.layer(&layer, a.get::<2>()?)));
    }
    if b.rank == 2 {
        return Ok(Dense {
            tensor: crate::ops::linear_with(a.tensor, b.get::<2>()?, None),
            rank,
        });
    }
    Ok(Dense {
        tensor: a.tensor.matmul(b.tensor),
        rank,
    })
}

/// `BatchNormalization` in inference form, computed as `ops::batch_norm`.
pub(crate) fn batch_norm<B: Backend, H: Hook<B>>(
    hook: &mut H,
    inputs: &Inputs<B>,
    epsilon: f64,
) -> Checked<Dense<B>> {
    let x = inputs.device(0)?;
    if x.rank < 2 {
        return Err(OnnxProblem("batch norm needs a channel axis".into()));
    }
    let channels = x.dims()[1];
    let vector = |k: usize| {
        inputs
            .device(k)
            .and_then(|v| v.reshaped(&[channels]))
            .and_then(|v| v.get::<1>())
    };
    let (gamma, beta, mean, var) = (vector(1)?, vector(2)?, vector(3)?, vector(4)?);
    // Channels on axis 1 of a rank-3 view [N, C, rest], as `ops::batch_norm`.
    let dims = x.dims();
    let rest = dims[2..].iter().product();
    let layer = Layer::BatchNorm {
        gamma,
        beta,
        mean,
        var,
        epsilon,
    };
    let normed = if x.rank == 4 {
        hook.layer(&layer, x.get::<4>()?)
            .reshape([dims[0], channels, rest])
    } else {
        hook.layer(&layer, x.reshaped(&[dims[0], channels, rest])?.get::<3>()?)
    };
    Dense::of(normed).reshaped(&dims)
}

/// The input and geometry of a `MaxPool` or `AveragePool`.
pub(crate) fn pool_geometry<B: Backend>(
    inputs: &Inputs<B>,
    window: &Window,
    ceil: bool,
) -> Checked<(Tensor<B, 4>, PoolGeometry)> {
    let x = inputs.device(0)?.get::<4>()?;
    let kernel = window
        .kernel
        .ok_or_else(|| OnnxProblem("a pool without kernel_shape".into()))?;
    let geometry = PoolGeometry {
        kernel,
        stride: window.stride,
        padding: padding(window, kernel, spatial(&x)),
        ceil_mode: ceil,
    };
    geometry
        .output_size(spatial(&x))
        .map_err(|e| OnnxProblem(e.to_string()))?;
    Ok((x, geometry))
}

/// The input and geometry of a `GlobalMaxPool` (one window over the image).
pub(crate) fn global_pool_geometry<B: Backend>(
    inputs: &Inputs<B>,
) -> Checked<(Tensor<B, 4>, PoolGeometry)> {
    let x = inputs.device(0)?.get::<4>()?;
    let size = spatial(&x);
    Ok((
        x,
        PoolGeometry {
            kernel: size,
            stride: size,
            padding: [[0, 0], [0, 0]],
            ceil_mode: false,
        },
    ))
}

/// `AveragePool`.
pub(crate) fn average_pool<B: Backend, H: Hook<B>>(
    hook: &mut H,
    inputs: &Inputs<B>,
    window: &Window,
    ceil: bool,
    count_include_pad: bool,
) -> Checked<Dense<B>> {
    let (x, geometry) = pool_geometry(inputs, window, ceil)?;
    let layer = Layer::AvgPool {
        geometry,
        count_include_pad,
    };
    Ok(Dense::of(hook.layer(&layer, x)))
}

/// `ReduceMean` (axes from the attribute, or from input 1 since opset 18);
/// the spatial mean of a 4-D tensor is `ops::global_avg_pool2d`.
pub(crate) fn reduce_mean<B: Backend, H: Hook<B>>(
    hook: &mut H,
    inputs: &Inputs<B>,
    axes: Option<Vec<i64>>,
    keep_dims: bool,
    noop_with_empty_axes: bool,
) -> Checked<Dense<B>> {
    let x = inputs.device(0)?;
    let axes = match axes {
        Some(a) => Some(a),
        None => inputs.ints(1)?,
    };
    let mut axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .into_iter()
            .map(|a| super::host::axis(a, x.rank))
            .collect::<Checked<_>>()?,
        _ if noop_with_empty_axes => return Ok(x),
        _ => (0..x.rank).collect(),
    };
    axes.sort_unstable();
    axes.dedup();
    let dims = x.dims();
    let reduced = if x.rank == 4 && axes == [2, 3] {
        Dense::of(hook.global_avg_pool2d(x.get::<4>()?))
    } else {
        let mut t = x.tensor.clone();
        for &a in &axes {
            t = t.mean_dim(x.axis(a));
        }
        Dense {
            tensor: t,
            rank: x.rank,
        }
    };
    if keep_dims {
        return Ok(reduced);
    }
    let kept: Vec<usize> = (0..dims.len())
        .filter(|a| !axes.contains(a))
        .map(|a| dims[a])
        .collect();
    reduced.reshaped(&kept)
}
