//! What a site is: its place in the forward pass, its kind and the layer it
//! computes.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;

use crate::ops::{self, Conv2dGeometry, PoolGeometry};
use crate::Activation;

/// What a site of the forward pass computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SiteKind {
    /// An element-wise activation (`hook.activate`).
    Activation(Activation),
    /// A max-pooling window (`hook.max_pool` / `hook.max_pool2d`).
    MaxPool {
        /// Window size `[height, width]`.
        kernel: [usize; 2],
        /// Stride `[height, width]`.
        stride: [usize; 2],
    },
    /// A 2-D convolution (`hook.conv2d`).
    Convolution,
    /// A fully connected layer (`hook.linear`).
    Linear,
    /// Batch normalisation in inference form, or any per-channel affine map
    /// (`hook.batch_norm`).
    BatchNorm,
    /// Average pooling, fixed-window, adaptive or global (`hook.avg_pool2d`,
    /// `hook.global_avg_pool2d`).
    AvgPool,
    /// The sum of two branches (`hook.add`), as a residual connection.
    Add,
}

impl SiteKind {
    /// A convolution or a fully connected layer: the layers the LRP rules
    /// for weights (ε, z⁺, αβ, γ, zB, flat) are meant for.
    pub fn is_weighted(self) -> bool {
        matches!(self, SiteKind::Convolution | SiteKind::Linear)
    }
}

/// One site as a [`Rule`](super::Rule) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site<'a> {
    /// Position in the forward pass, from 0, counting every site of every
    /// kind.
    pub index: usize,
    /// What the site computes.
    pub kind: SiteKind,
    /// The name the model gave the site ([`Hook::named`](crate::Hook::named)),
    /// e.g. `"layer4.1.conv2"` or an ONNX node name.
    pub name: Option<&'a str>,
    /// The site's input shape per image (without the batch dimension).
    pub shape: &'a [usize],
}

/// A layer that is affine in its input, as a site passes it to its rule:
/// the parameters are the layer's (cheap shared copies), so a rule can
/// evaluate it again on other inputs or with modified parameters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Layer<B: Backend> {
    /// A 2-D convolution ([`ops::conv2d_with`]).
    Conv2d {
        /// `[C_out, C_in / groups, k_h, k_w]`.
        weight: Tensor<B, 4>,
        /// `[C_out]`.
        bias: Option<Tensor<B, 1>>,
        /// Stride, padding, dilation, groups.
        geometry: Conv2dGeometry,
    },
    /// A fully connected layer `x · W + b` ([`ops::linear_with`]).
    Linear {
        /// `[d_in, d_out]` (Burn's layout).
        weight: Tensor<B, 2>,
        /// `[d_out]`.
        bias: Option<Tensor<B, 1>>,
    },
    /// Inference-form batch normalisation ([`ops::batch_norm_with`]).
    BatchNorm {
        /// `γ`, `[C]`.
        gamma: Tensor<B, 1>,
        /// `β`, `[C]`.
        beta: Tensor<B, 1>,
        /// Running mean, `[C]`.
        mean: Tensor<B, 1>,
        /// Running variance, `[C]`.
        var: Tensor<B, 1>,
        /// `ε`.
        epsilon: f64,
    },
    /// `x · scale + shift` per channel (axis 1): a batch norm whose
    /// parameters a rule modified.
    ChannelAffine {
        /// `[C]`.
        scale: Tensor<B, 1>,
        /// `[C]`.
        shift: Option<Tensor<B, 1>>,
    },
    /// Fixed-window average pooling ([`ops::avg_pool2d_with`]).
    AvgPool {
        /// Window, stride, padding.
        geometry: PoolGeometry,
        /// PyTorch's `count_include_pad`.
        count_include_pad: bool,
    },
    /// Adaptive average pooling to `output` ([`ops::adaptive_avg_pool2d_to`];
    /// `[1, 1]` is global average pooling).
    AdaptiveAvgPool {
        /// `[out_h, out_w]`.
        output: [usize; 2],
    },
}

/// `x` as a rank-4 tensor (a layer that needs `[N, C, H, W]`), or a panic
/// naming the layer, which the crate's entry points return as
/// [`Error::ModelPanicked`](crate::Error::ModelPanicked). The same tensor:
/// Burn's primitives do not carry the rank, so no op is recorded.
fn rank4<B: Backend, const D: usize>(x: Tensor<B, D>, op: &str) -> Tensor<B, 4> {
    assert!(
        D == 4,
        "learnprop::ops::{op}: the input has {D} dimensions, the layer needs [N, C, H, W]"
    );
    Tensor::from_primitive(x.into_primitive())
}

/// A rank-4 result as the caller's rank `D` (4, as [`rank4`] checked).
fn rank_d<B: Backend, const D: usize>(x: Tensor<B, 4>) -> Tensor<B, D> {
    Tensor::from_primitive(x.into_primitive())
}

/// `v` with `f` applied element-wise, whatever its rank.
fn map_flat<B: Backend, const K: usize>(
    v: Tensor<B, K>,
    f: &dyn Fn(Tensor<B, 1>) -> Tensor<B, 1>,
) -> Tensor<B, K> {
    let dims = v.dims();
    f(v.reshape([dims.iter().product::<usize>()])).reshape(dims)
}

impl<B: Backend> Layer<B> {
    /// A `burn::nn::conv::Conv2d` layer applied to inputs of spatial size
    /// `size` (which resolves "same" padding).
    pub fn of_conv2d(conv: &Conv2d<B>, size: [usize; 2]) -> Self {
        let padding = ops::resolve_padding(&conv.padding, conv.kernel_size, conv.stride, size);
        Layer::Conv2d {
            weight: conv.weight.val(),
            bias: conv.bias.as_ref().map(|b| b.val()),
            geometry: Conv2dGeometry {
                stride: conv.stride,
                padding,
                dilation: conv.dilation,
                groups: conv.groups,
            },
        }
    }

    /// A `burn::nn::Linear` layer.
    pub fn of_linear(linear: &Linear<B>) -> Self {
        Layer::Linear {
            weight: linear.weight.val(),
            bias: linear.bias.as_ref().map(|b| b.val()),
        }
    }

    /// A `burn::nn::BatchNorm` layer in inference form.
    pub fn of_batch_norm(norm: &BatchNorm<B>) -> Self {
        Layer::BatchNorm {
            gamma: norm.gamma.val(),
            beta: norm.beta.val(),
            mean: norm.running_mean.value(),
            var: norm.running_var.value(),
            epsilon: norm.epsilon,
        }
    }

    /// The kind of site the layer makes.
    pub fn kind(&self) -> SiteKind {
        match self {
            Layer::Conv2d { .. } => SiteKind::Convolution,
            Layer::Linear { .. } => SiteKind::Linear,
            Layer::BatchNorm { .. } | Layer::ChannelAffine { .. } => SiteKind::BatchNorm,
            Layer::AvgPool { .. } | Layer::AdaptiveAvgPool { .. } => SiteKind::AvgPool,
        }
    }

    /// The layer's output for `x` (`[N, C, H, W]` for convolutions and
    /// pooling, `[…, d_in]` for linear layers, `[N, C, …]` for batch norm).
    ///
    /// # Panics
    /// As the op in [`ops`] it calls, with a message naming it.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Layer::Conv2d {
                weight,
                bias,
                geometry,
            } => rank_d(ops::conv2d_with(
                rank4(x, "conv2d"),
                weight.clone(),
                bias.clone(),
                geometry,
            )),
            Layer::Linear { weight, bias } => ops::linear_with(x, weight.clone(), bias.clone()),
            Layer::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                epsilon,
            } => ops::batch_norm_with(
                x,
                gamma.clone(),
                beta.clone(),
                mean.clone(),
                var.clone(),
                *epsilon,
            ),
            Layer::ChannelAffine { scale, shift } => {
                assert!(
                    D >= 2 && x.dims()[1] == scale.dims()[0],
                    "learnprop::ops::batch_norm: the input {:?} does not have {} channels",
                    x.dims(),
                    scale.dims()[0]
                );
                let mut shape = [1usize; D];
                shape[1] = scale.dims()[0];
                let y = x * scale.clone().reshape(shape);
                match shift {
                    Some(shift) => y + shift.clone().reshape(shape),
                    None => y,
                }
            }
            Layer::AvgPool {
                geometry,
                count_include_pad,
            } => rank_d(ops::avg_pool2d_with(
                rank4(x, "avg_pool2d"),
                geometry,
                *count_include_pad,
            )),
            Layer::AdaptiveAvgPool { output } => rank_d(ops::adaptive_avg_pool2d_to(
                rank4(x, "adaptive_avg_pool2d"),
                *output,
            )),
        }
    }

    /// The weight and bias of a weighted layer as a batch norm's per-channel
    /// scale and shift make them (`None` for pooling).
    fn scale_and_shift(&self) -> Option<(Tensor<B, 1>, Option<Tensor<B, 1>>)> {
        match self {
            Layer::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                epsilon,
            } => {
                let scale = gamma.clone() / var.clone().add_scalar(*epsilon).sqrt();
                let shift = beta.clone() - mean.clone() * scale.clone();
                Some((scale, Some(shift)))
            }
            Layer::ChannelAffine { scale, shift } => Some((scale.clone(), shift.clone())),
            _ => None,
        }
    }

    /// The same layer with each weight replaced by `weight(w)` and the bias
    /// by `bias(b)` (element-wise functions), or removed when `bias` is
    /// `None`. A batch norm's weight and bias are its per-channel scale and
    /// shift. Pooling has no parameters and is returned unchanged.
    pub fn with_parameters(
        &self,
        weight: &dyn Fn(Tensor<B, 1>) -> Tensor<B, 1>,
        bias: Option<&dyn Fn(Tensor<B, 1>) -> Tensor<B, 1>>,
    ) -> Self {
        let new_bias = |b: &Option<Tensor<B, 1>>| match (b, bias) {
            (Some(b), Some(f)) => Some(f(b.clone())),
            _ => None,
        };
        match self {
            Layer::Conv2d {
                weight: w,
                bias: b,
                geometry,
            } => Layer::Conv2d {
                weight: map_flat(w.clone(), weight),
                bias: new_bias(b),
                geometry: *geometry,
            },
            Layer::Linear { weight: w, bias: b } => Layer::Linear {
                weight: map_flat(w.clone(), weight),
                bias: new_bias(b),
            },
            Layer::BatchNorm { .. } | Layer::ChannelAffine { .. } => {
                let (scale, shift) = self.scale_and_shift().expect("a per-channel layer");
                Layer::ChannelAffine {
                    scale: weight(scale),
                    shift: new_bias(&shift),
                }
            }
            Layer::AvgPool { .. } | Layer::AdaptiveAvgPool { .. } => self.clone(),
        }
    }

    /// The convolution or linear layer `self` followed by the batch norm
    /// `norm`, as one layer: weights scaled per output channel by
    /// `s = γ / √(var + ε)`, bias `(b − μ)·s + β` (the batch-norm folding
    /// canonizer of LRP). `None` when `self` is not weighted, `norm` is not
    /// a batch norm or their channel counts differ.
    pub fn folded_with(&self, norm: &Layer<B>) -> Option<Self> {
        let (scale, shift) = norm.scale_and_shift()?;
        let channels = scale.dims()[0];
        let folded_bias = |b: &Option<Tensor<B, 1>>| {
            // (b − μ)·s + β = b·s + shift, with shift = β − μ·s.
            let shift = shift.clone().unwrap_or_else(|| scale.zeros_like());
            Some(match b {
                Some(b) => b.clone() * scale.clone() + shift,
                None => shift,
            })
        };
        match self {
            Layer::Conv2d {
                weight,
                bias,
                geometry,
            } if weight.dims()[0] == channels => Some(Layer::Conv2d {
                weight: weight.clone() * scale.clone().reshape([channels, 1, 1, 1]),
                bias: folded_bias(bias),
                geometry: *geometry,
            }),
            Layer::Linear { weight, bias } if weight.dims()[1] == channels => Some(Layer::Linear {
                weight: weight.clone() * scale.clone().reshape([1, channels]),
                bias: folded_bias(bias),
            }),
            _ => None,
        }
    }
}
