//! Every op of `learnprop::ops` (and the activations): first-order results
//! equal Burn's own ops; second-order results match central finite
//! differences (f64).
//!
//! The second-order check mimics how the learned rules use an op: the outer
//! autodiff level computes `g = ∂/∂x Σ(c ⊙ op(x) ⊙ v)`, where `v` modulates
//! the gradient entering the op's backward (as the gates do); the inner level
//! differentiates `T = Σ(d ⊙ g ⊙ g)` with respect to `v` and, where the op
//! has parameters, with respect to them. Both are compared with central
//! differences of `T` computed through the first-order path.

mod common;

use burn::backend::Autodiff;
use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{AdaptiveAvgPool2dConfig, AvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{BatchNormConfig, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use learnprop::ops::{self, Conv2dGeometry, PoolGeometry};
use learnprop::Activation;

type P = common::Plain64;
type B1 = Autodiff<P>;
type B2 = common::Cpu64;
use common::device64;

fn random<B: Backend, const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    // A small deterministic generator, so every run sees the same numbers.
    let n: usize = shape.iter().product();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let values: Vec<f64> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect();
    device64();
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

fn max_scaled_error(actual: &[f64], expected: &[f64]) -> f64 {
    assert_eq!(actual.len(), expected.len());
    let scale = expected.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    actual
        .iter()
        .zip(expected)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

/// `T(v, θ)`: see the module docs. `op` gets the outer-level input and the
/// op parameter `theta` (an inner-level tensor lifted to the outer level).
fn t_of<const D: usize>(
    op: &dyn Fn(Tensor<B2, 4>, Tensor<B2, D>) -> Tensor<B2, 4>,
    x: &Tensor<P, 4>,
    v: Tensor<B1, 4>,
    theta: Tensor<B1, D>,
    c: &Tensor<P, 4>,
    d: &Tensor<P, 4>,
) -> Tensor<B1, 1> {
    let x2 = Tensor::<B2, 4>::from_inner(Tensor::from_inner(x.clone())).require_grad();
    let y = op(x2.clone(), Tensor::from_inner(theta));
    let s = (y * Tensor::from_inner(v) * Tensor::from_inner(Tensor::from_inner(c.clone()))).sum();
    let g = x2.grad(&s.backward()).expect("input gradient");
    (g.clone() * g * Tensor::from_inner(d.clone())).sum()
}

/// Largest scaled error between autodiff and central differences of `T`,
/// over `v` and over `theta`.
fn second_order_error<const D: usize>(
    op: &dyn Fn(Tensor<B2, 4>, Tensor<B2, D>) -> Tensor<B2, 4>,
    x: Tensor<P, 4>,
    theta: Tensor<P, D>,
) -> f64 {
    let out_shape = {
        let x2 = Tensor::<B2, 4>::from_inner(Tensor::from_inner(x.clone()));
        op(x2, Tensor::from_inner(Tensor::from_inner(theta.clone()))).dims()
    };
    let v = random::<P, 4>(out_shape, 11).add_scalar(1.5);
    let c = random::<P, 4>(out_shape, 12);
    let d = random::<P, 4>(x.dims(), 13);
    let v1 = Tensor::<B1, 4>::from_inner(v.clone()).require_grad();
    let th1 = Tensor::<B1, D>::from_inner(theta.clone()).require_grad();
    let t = t_of(op, &x, v1.clone(), th1.clone(), &c, &d);
    let grads = t.backward();
    let dv = values(v1.grad(&grads).expect("dT/dv"));
    let dth = th1.grad(&grads).map(values);

    let h = 1e-5;
    let eval = |v: Tensor<P, 4>, th: Tensor<P, D>| -> f64 {
        values(t_of(
            op,
            &x,
            Tensor::from_inner(v),
            Tensor::from_inner(th),
            &c,
            &d,
        ))[0]
    };
    let perturb = |t: &Tensor<P, 4>, i: usize, delta: f64| -> Tensor<P, 4> {
        let mut vals = values(t.clone());
        vals[i] += delta;
        Tensor::from_data(TensorData::new(vals, t.dims()), &device64())
    };
    let fd_v: Vec<f64> = (0..dv.len())
        .map(|i| {
            (eval(perturb(&v, i, h), theta.clone()) - eval(perturb(&v, i, -h), theta.clone()))
                / (2.0 * h)
        })
        .collect();
    let mut worst = max_scaled_error(&dv, &fd_v);
    if let Some(dth) = dth {
        let perturb_th = |i: usize, delta: f64| -> Tensor<P, D> {
            let mut vals = values(theta.clone());
            vals[i] += delta;
            Tensor::from_data(TensorData::new(vals, theta.dims()), &device64())
        };
        let fd_th: Vec<f64> = (0..dth.len())
            .map(|i| {
                (eval(v.clone(), perturb_th(i, h)) - eval(v.clone(), perturb_th(i, -h))) / (2.0 * h)
            })
            .collect();
        worst = worst.max(max_scaled_error(&dth, &fd_th));
    }
    worst
}

const SECOND_ORDER_TOLERANCE: f64 = 1e-7;

/// An op with a parameter, both at the outer level.
type ParamOp = Box<dyn Fn(Tensor<B2, 4>, Tensor<B2, 4>) -> Tensor<B2, 4>>;

#[test]
fn f64_equal_windows_give_equal_outputs() {
    let device = device64();
    common::assert_equal_windows_give_equal_outputs::<P>(&device);
}

#[test]
fn conv2d_matches_burn_for_every_geometry() {
    let device = device64();
    for (stride, padding, dilation, groups) in [
        ([1, 1], PaddingConfig2d::Explicit(1, 1, 1, 1), [1, 1], 1),
        ([2, 2], PaddingConfig2d::Explicit(1, 1, 1, 1), [1, 1], 1),
        ([2, 1], PaddingConfig2d::Valid, [1, 1], 1),
        ([1, 1], PaddingConfig2d::Explicit(2, 1, 0, 2), [2, 2], 1),
        ([1, 1], PaddingConfig2d::Same, [1, 1], 2),
        ([2, 2], PaddingConfig2d::Same, [1, 1], 4),
    ] {
        let conv = Conv2dConfig::new([4, 8], [3, 3])
            .with_stride(stride)
            .with_padding(padding.clone())
            .with_dilation(dilation)
            .with_groups(groups)
            .init::<P>(&device);
        let x = random::<P, 4>([2, 4, 9, 7], 3);
        let ours = values(ops::conv2d(&conv, x.clone()));
        let burns = values(conv.forward(x));
        let err = max_scaled_error(&ours, &burns);
        assert!(
            err < 1e-14,
            "stride {stride:?} padding {padding:?} groups {groups}: {err:e}"
        );
    }
}

#[test]
fn depthwise_conv2d_matches_burn() {
    // With autodiff the op sums scaled windows; without, it calls Burn's
    // depthwise kernel. Both must equal Burn's layer.
    let device = device64();
    for (kernel, stride, dilation, padding) in [
        (3, 1, 1, PaddingConfig2d::Same),
        (5, 2, 1, PaddingConfig2d::Same),
        (3, 2, 1, PaddingConfig2d::Same),
        (3, 2, 2, PaddingConfig2d::Explicit(2, 1, 0, 3)),
        (5, 3, 1, PaddingConfig2d::Valid),
    ] {
        let conv = Conv2dConfig::new([6, 6], [kernel, kernel])
            .with_stride([stride, stride])
            .with_dilation([dilation, dilation])
            .with_groups(6)
            .with_padding(padding.clone())
            .init::<P>(&device);
        let x = random::<P, 4>([2, 6, 10, 9], 4);
        let burns = values(conv.forward(x.clone()));
        let plain = values(ops::conv2d(&conv, x.clone()));
        let mut tracked_conv = Conv2dConfig::new([6, 6], [kernel, kernel])
            .with_stride([stride, stride])
            .with_dilation([dilation, dilation])
            .with_groups(6)
            .with_padding(padding.clone())
            .init::<B1>(&device);
        tracked_conv.weight = Param::from_data(conv.weight.val().into_data(), &device);
        tracked_conv.bias = conv
            .bias
            .as_ref()
            .map(|b| Param::from_data(b.val().into_data(), &device));
        let tracked_x = Tensor::<B1, 4>::from_data(x.into_data(), &device).require_grad();
        let tracked = values(ops::conv2d(&tracked_conv, tracked_x));
        for (what, ours) in [("without autodiff", plain), ("with autodiff", tracked)] {
            let err = max_scaled_error(&ours, &burns);
            assert!(
                err < 1e-14,
                "depthwise kernel {kernel} stride {stride} dilation {dilation} {what}: {err:e}"
            );
        }
    }
}

#[test]
fn batch_norm_matches_burn_and_finite_differences() {
    let device = device64();
    let mut norm = BatchNormConfig::new(3)
        .with_epsilon(1e-3)
        .init::<P>(&device);
    norm.gamma = Param::from_tensor(random::<P, 1>([3], 61).add_scalar(1.5));
    norm.beta = Param::from_tensor(random::<P, 1>([3], 62));
    norm.running_mean = RunningState::new(random::<P, 1>([3], 63));
    norm.running_var = RunningState::new(random::<P, 1>([3], 64).add_scalar(1.2));
    let x = random::<P, 4>([2, 3, 4, 5], 65);
    // Burn's own layer in inference form (no autodiff backend: running statistics).
    let err = max_scaled_error(
        &values(ops::batch_norm(&norm, x.clone())),
        &values(norm.forward(x.clone())),
    );
    assert!(err < 1e-14, "{err:e}");
    // Rank 2 and rank 3 against the formula, and an empty batch.
    let stats = |seed: u64| random::<P, 1>([3], seed).add_scalar(1.2);
    let naive = |x: Tensor<P, 3>| {
        let scale = (stats(71) / stats(74).add_scalar(1e-3).sqrt()).reshape([1, 3, 1]);
        let shift = stats(72) - stats(73) * scale.clone().reshape([3]);
        x * scale + shift.reshape([1, 3, 1])
    };
    let bn = |x| ops::batch_norm_with(x, stats(71), stats(72), stats(73), stats(74), 1e-3);
    let x3 = random::<P, 3>([2, 3, 7], 66);
    let err = max_scaled_error(&values(bn(x3.clone())), &values(naive(x3)));
    assert!(err < 1e-14, "{err:e}");
    let x2 = random::<P, 2>([4, 3], 67);
    let y2 = ops::batch_norm_with(x2.clone(), stats(71), stats(72), stats(73), stats(74), 1e-3);
    let err = max_scaled_error(&values(y2), &values(naive(x2.unsqueeze_dim::<3>(2))));
    assert!(err < 1e-14, "{err:e}");
    let empty = bn(Tensor::<P, 3>::zeros([0, 3, 7], &device));
    assert_eq!(empty.dims(), [0, 3, 7]);
    // Statistics of another channel count: a panic naming the op (the entry
    // points return it as an error).
    let wrong = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let v = |n: usize| Tensor::<P, 1>::ones([n], &device);
        ops::batch_norm_with(x, v(3), v(3), v(2), v(3), 1e-5)
    }));
    let message = wrong.expect_err("mismatched statistics");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("learnprop::ops::batch_norm: the input has 3 channels, mean 2"),
        "{message}"
    );

    let op = |x: Tensor<B2, 4>, s: Tensor<B2, 4>| {
        let mut norm = BatchNormConfig::new(2).init::<B2>(&x.device());
        norm.running_var = RunningState::new(Tensor::from_floats([0.5, 2.0], &x.device()));
        norm.running_mean = RunningState::new(Tensor::from_floats([0.1, -0.3], &x.device()));
        // A residual sum around the normalised branch, as in ResNets.
        let y = x * s;
        y.clone() + ops::batch_norm(&norm, y.clone() * y)
    };
    let err = second_order_error(
        &op,
        random([1, 2, 3, 3], 66),
        random([1, 2, 3, 3], 67).add_scalar(1.5),
    );
    println!("batch norm + residual: {err:.2e}");
    assert!(err < SECOND_ORDER_TOLERANCE, "{err:e}");
}

#[test]
fn conv2d_second_order_matches_finite_differences() {
    for (stride, pad, groups) in [
        ([1, 1], 1, 1),
        ([2, 2], 1, 1),
        ([1, 2], 0, 2),
        ([2, 2], 1, 2),
    ] {
        let geometry = Conv2dGeometry {
            stride,
            padding: [[pad, pad], [pad, pad]],
            groups,
            ..Default::default()
        };
        let op = move |x: Tensor<B2, 4>, w: Tensor<B2, 4>| ops::conv2d_with(x, w, None, &geometry);
        let err = second_order_error(
            &op,
            random([1, 2, 5, 4], 1),
            random([2, 2 / groups, 3, 3], 2),
        );
        println!("conv2d stride {stride:?} pad {pad} groups {groups}: {err:.2e}");
        assert!(err < SECOND_ORDER_TOLERANCE, "conv2d {stride:?}: {err:e}");
    }
}

#[test]
fn linear_matches_burn_and_finite_differences() {
    let device = device64();
    let layer = LinearConfig::new(6, 4).init::<P>(&device);
    let x = random::<P, 2>([3, 6], 5);
    let err = max_scaled_error(
        &values(ops::linear(&layer, x.clone())),
        &values(layer.forward(x)),
    );
    assert!(err < 1e-14, "{err:e}");

    let op = |x: Tensor<B2, 4>, w: Tensor<B2, 2>| {
        let [n, c, h, wd] = x.dims();
        let out = ops::linear_with(x.reshape([n, c * h * wd]), w, None);
        let m = out.dims()[1];
        out.reshape([n, m, 1, 1])
    };
    let err = second_order_error(&op, random([2, 2, 2, 2], 6), random([8, 3], 7));
    println!("linear: {err:.2e}");
    assert!(err < SECOND_ORDER_TOLERANCE, "{err:e}");
}

#[test]
fn max_pool_matches_burn_and_routes_ties_to_the_first_element() {
    let device = device64();
    for (kernel, stride, pad) in [(2, 2, 0), (3, 2, 1), (3, 1, 1)] {
        let pool = MaxPool2dConfig::new([kernel, kernel])
            .with_strides([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .init();
        let x = random::<P, 4>([2, 3, 8, 7], 9);
        let err = max_scaled_error(
            &values(ops::max_pool2d(&pool, x.clone())),
            &values(pool.forward(x)),
        );
        assert!(err == 0.0, "kernel {kernel}: {err:e}");
    }
    // A window of four equal values sends the whole gradient to its first element.
    let x = Tensor::<B1, 4>::from_data(
        TensorData::new(vec![5.0, 5.0, 1.0, 7.0, 5.0, 5.0, 7.0, 2.0], [1, 1, 2, 4]),
        &device,
    )
    .require_grad();
    let y = ops::max_pool2d_with(x.clone(), &PoolGeometry::square(2));
    let grad = values(x.grad(&y.sum().backward()).unwrap());
    assert_eq!(grad, vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn pooling_second_order_matches_finite_differences() {
    // The parameter scales the input, so the pool's routing sees a
    // parameter-dependent input and its backward a parameter-dependent gradient.
    let cases: Vec<(&str, ParamOp)> = vec![
        (
            "max 2×2",
            Box::new(|x, s| ops::max_pool2d_with(x * s, &PoolGeometry::square(2))),
        ),
        (
            "max 3×3 stride 2 pad 1",
            Box::new(|x, s| {
                let g = PoolGeometry {
                    kernel: [3, 3],
                    stride: [2, 2],
                    padding: [[1, 1], [1, 1]],
                    ceil_mode: false,
                };
                ops::max_pool2d_with(x * s, &g)
            }),
        ),
        (
            "avg 3×3 stride 2 pad 1",
            Box::new(|x, s| {
                let g = PoolGeometry {
                    kernel: [3, 3],
                    stride: [2, 2],
                    padding: [[1, 1], [1, 1]],
                    ceil_mode: false,
                };
                ops::avg_pool2d_with(x * s.clone() * s, &g, false)
            }),
        ),
        (
            "adaptive 3×2",
            Box::new(|x, s| ops::adaptive_avg_pool2d_to(x * s.clone() * s, [3, 2])),
        ),
        (
            "global",
            Box::new(|x, s| ops::global_avg_pool2d(x * s.clone() * s)),
        ),
    ];
    for (name, op) in cases {
        let err = second_order_error(
            op.as_ref(),
            random([1, 2, 6, 5], 21),
            random([1, 2, 6, 5], 22).add_scalar(2.0),
        );
        println!("{name}: {err:.2e}");
        assert!(err < SECOND_ORDER_TOLERANCE, "{name}: {err:e}");
    }
}

#[test]
fn avg_and_adaptive_pools_match_burn() {
    let x = random::<P, 4>([2, 3, 9, 7], 31);
    for (kernel, stride, pad, include, ceil) in [
        (2, 2, 0, true, false),
        (3, 2, 1, true, false),
        (3, 2, 1, false, false),
        (3, 2, 1, false, true),
        (2, 2, 0, true, true),
    ] {
        let pool = AvgPool2dConfig::new([kernel, kernel])
            .with_strides([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_count_include_pad(include)
            .with_ceil_mode(ceil)
            .init();
        let err = max_scaled_error(
            &values(ops::avg_pool2d(&pool, x.clone())),
            &values(pool.forward(x.clone())),
        );
        assert!(
            err < 1e-14,
            "avg kernel {kernel} include {include} ceil {ceil}: {err:e}"
        );
    }
    for output in [[3, 2], [4, 4], [1, 1], [9, 7], [2, 5]] {
        let pool = AdaptiveAvgPool2dConfig::new(output).init();
        let err = max_scaled_error(
            &values(ops::adaptive_avg_pool2d(&pool, x.clone())),
            &values(pool.forward(x.clone())),
        );
        assert!(err < 1e-14, "adaptive {output:?}: {err:e}");
    }
}

#[test]
fn activations_and_their_derivatives_are_exact() {
    let x = random::<B1, 4>([1, 2, 4, 5], 41)
        .mul_scalar(8.0)
        .require_grad();
    for activation in [
        Activation::Relu,
        Activation::Relu6,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Silu,
        Activation::Gelu,
        Activation::HardSigmoid,
        Activation::HardSwish,
    ] {
        let y = activation.apply(x.clone());
        let autodiff = values(x.grad(&y.sum().backward()).unwrap());
        let closed_form = values(activation.derivative(x.clone().inner()));
        let err = max_scaled_error(&closed_form, &autodiff);
        assert!(err < 1e-13, "{activation:?}: {err:e}");
    }
    // The logistic function keeps full f64 precision (Burn's rounds through f32).
    let x = Tensor::<P, 1>::from_data(
        TensorData::new(vec![-800.0, -3.0, 0.3, 40.0], [4]),
        &device64(),
    );
    let ours = values(ops::sigmoid(x));
    let exact = [
        0.0,
        1.0 / (1.0 + 3f64.exp()),
        1.0 / (1.0 + (-0.3f64).exp()),
        1.0 / (1.0 + (-40f64).exp()),
    ];
    for (a, b) in ours.iter().zip(exact) {
        assert!((a - b).abs() <= 4e-16 * b.abs(), "{a} vs {b}");
    }
}

#[test]
fn smooth_activations_second_order_matches_finite_differences() {
    for activation in [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Silu,
        Activation::Gelu,
        Activation::HardSwish,
    ] {
        let op = move |x: Tensor<B2, 4>, s: Tensor<B2, 4>| activation.apply(x * s);
        let err = second_order_error(
            &op,
            random([1, 1, 3, 3], 51),
            random([1, 1, 3, 3], 52).add_scalar(1.5),
        );
        println!("{activation:?}: {err:.2e}");
        assert!(err < SECOND_ORDER_TOLERANCE, "{activation:?}: {err:e}");
    }
}

#[test]
fn random_inputs_are_not_all_equal() {
    // Guards the generator the other tests rely on.
    let t = values(random::<P, 1>([64], 1));
    let distinct = t.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(distinct > 60);
    let _ = Distribution::Default;
}
