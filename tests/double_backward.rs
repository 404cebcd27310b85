//! The learned rules' second-order gradient `∂L/∂W` against central finite
//! differences, and batching, in f64.

mod common;

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::method::Baseline;
use learnprop::zoo::FixtureCnnConfig;
use learnprop::{
    ops, Activation, Explainable, ExplainerConfig, GateShape, Granularity, Hook, MaskStrategy,
};

type D2 = common::Cpu64;
type P = common::Plain64;
use common::device64;

/// Deterministic values in [lo, hi).
fn uniform(n: usize, seed: u64, lo: f64, hi: f64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            lo + (hi - lo) * ((state >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

fn tensor<B: Backend, const D: usize>(values: Vec<f64>, shape: [usize; D]) -> Tensor<B, D> {
    device64();
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

/// A model with every op and activation kind of the crate on the
/// differentiated path: strided, grouped and depthwise convolutions, batch
/// norm, a residual sum, every pooling, linear layers and every activation.
#[derive(Module, Debug)]
struct MixedNet<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    pool: AvgPool2d,
    depthwise: Conv2d<B>,
    bn2: BatchNorm<B>,
    conv2: Conv2d<B>,
    fc1: Linear<B>,
    fc2: Linear<B>,
    fc3: Linear<B>,
}

impl<B: Backend> MixedNet<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([2, 4], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            bn1: batch_norm(4, 1, device),
            pool: AvgPool2dConfig::new([2, 2])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_count_include_pad(false)
                .init(),
            depthwise: Conv2dConfig::new([4, 4], [3, 3])
                .with_groups(4)
                .with_padding(PaddingConfig2d::Same)
                .with_bias(false)
                .init(device),
            bn2: batch_norm(4, 2, device),
            conv2: Conv2dConfig::new([4, 4], [3, 3])
                .with_groups(2)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            fc1: LinearConfig::new(4 * 3 * 3 + 4, 6).init(device),
            fc2: LinearConfig::new(6, 5).init(device),
            fc3: LinearConfig::new(5, 3).init(device),
        }
    }
}

impl<B: Backend> Explainable<B> for MixedNet<B> {
    fn input_channels(&self) -> usize {
        2
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = ops::batch_norm(&self.bn1, ops::conv2d(&self.conv1, images));
        let x = hook.activate(Activation::Relu6, x);
        let x = ops::avg_pool2d(&self.pool, x);
        let x = x.clone() + ops::batch_norm(&self.bn2, ops::conv2d(&self.depthwise, x));
        let x = hook.activate(Activation::Silu, ops::conv2d(&self.conv2, x));
        let pooled = hook.max_pool(x.clone(), &ops::PoolGeometry::square(2));
        let a = ops::adaptive_avg_pool2d_to(hook.activate(Activation::Tanh, pooled), [3, 3]);
        let g = ops::global_avg_pool2d(hook.activate(Activation::Sigmoid, x));
        let x = Tensor::cat(vec![a.flatten(1, 3), g.flatten(1, 3)], 1);
        let x = hook.activate(Activation::Gelu, ops::linear(&self.fc1, x));
        let x = hook.activate(Activation::Relu, ops::linear(&self.fc2, x).mul_scalar(3.0));
        ops::linear(&self.fc3, x)
    }
}

/// A batch norm with non-trivial running statistics.
fn batch_norm<B: Backend>(channels: usize, seed: u64, device: &B::Device) -> BatchNorm<B> {
    let mut norm = BatchNormConfig::new(channels)
        .with_epsilon(1e-3)
        .init(device);
    let values = |lo, hi, s| {
        Tensor::<B, 1>::from_data(
            TensorData::new(uniform(channels, s, lo, hi), [channels]),
            device,
        )
    };
    norm.gamma = Param::from_tensor(values(0.5, 1.5, seed));
    norm.beta = Param::from_tensor(values(-0.5, 0.5, seed + 10));
    norm.running_mean = RunningState::new(values(-0.3, 0.3, seed + 20));
    norm.running_var = RunningState::new(values(0.2, 2.0, seed + 30));
    norm
}

/// Largest scaled difference between `∂L/∂W` and central differences of
/// `L`, over the largest-gradient coordinates and some random ones per site.
fn gradient_error<M>(
    model: &M,
    images: Tensor<D2, 4>,
    targets: &[usize],
    config: ExplainerConfig,
) -> f64
where
    M: Explainable<D2> + burn::module::AutodiffModule<D2>,
    M::InnerModule: Explainable<<D2 as burn::tensor::backend::AutodiffBackend>::InnerBackend>,
{
    let explainer = config.init::<D2>().unwrap();
    let objective = explainer.objective(model, &images, targets).unwrap();
    // Random gates in [−0.5, 1.5], away from the all-equal start.
    let gates: Vec<Tensor<P, 2>> = objective
        .initial_gates()
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let [n, p] = g.dims();
            tensor(uniform(n * p, 100 + i as u64, -0.5, 1.5), [n, p])
        })
        .collect();
    let gradients = objective.loss_and_gradient(&gates).unwrap().gradients;
    let loss = |gates: &[Tensor<P, 2>]| -> f64 {
        let loss = objective.loss_and_gradient(gates).unwrap().loss;
        loss.iter().map(|t| t.total).sum()
    };
    let scale = gradients
        .iter()
        .flat_map(|g| g.to_data().iter::<f64>().collect::<Vec<_>>())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "the gradient vanishes everywhere");
    let h = 1e-6;
    let mut worst = 0.0f64;
    for (site, gradient) in gradients.iter().enumerate() {
        let grad: Vec<f64> = gradient.to_data().iter::<f64>().collect();
        let mut order: Vec<usize> = (0..grad.len()).collect();
        order.sort_by(|&a, &b| grad[b].abs().total_cmp(&grad[a].abs()));
        let mut picks: Vec<usize> = order.into_iter().take(3).collect();
        picks.extend(
            uniform(2, 7 + site as u64, 0.0, grad.len() as f64)
                .iter()
                .map(|v| *v as usize),
        );
        for j in picks {
            let shifted = |delta: f64| -> Vec<Tensor<P, 2>> {
                let mut out = gates.clone();
                let mut vals: Vec<f64> = out[site].to_data().iter::<f64>().collect();
                vals[j] += delta;
                out[site] = tensor(vals, out[site].dims());
                out
            };
            let fd = (loss(&shifted(h)) - loss(&shifted(-h))) / (2.0 * h);
            worst = worst.max((fd - grad[j]).abs() / scale);
        }
    }
    worst
}

fn fixture_images(n: usize, seed: u64) -> Tensor<D2, 4> {
    tensor(uniform(n * 3 * 32 * 32, seed, -1.5, 1.5), [n, 3, 32, 32])
}

#[test]
fn gate_gradient_of_the_fixture_cnn_matches_finite_differences() {
    let device = device64();
    let case = &common::cases()[0];
    let model = common::model::<D2>(case, &device);
    for config in [
        ExplainerConfig::new(),
        ExplainerConfig::new().with_granularity(Granularity::PerChannel),
        ExplainerConfig::new().with_use_reference(false),
        ExplainerConfig::new().with_mask(MaskStrategy::Gaussian { sigma: 2.0 }),
        ExplainerConfig::new().with_mask(MaskStrategy::TopFraction { fraction: 0.05 }),
        ExplainerConfig::new().with_sign_aware(false),
        ExplainerConfig::new()
            .with_gate(GateShape::Sigmoid { scale: 10.0 })
            .with_use_reference(false),
        ExplainerConfig::new()
            .with_initial_weight(10.0)
            .with_use_reference(false),
        ExplainerConfig::new().with_baseline(Baseline::Blur { sigma: 2.0 }),
        ExplainerConfig::new()
            .with_baseline(Baseline::PerChannel {
                values: vec![-0.5, 0.2, 0.1],
            })
            .with_training_fills(vec![
                Baseline::Zero,
                Baseline::Constant { value: -1.0 },
                Baseline::Blur { sigma: 3.0 },
            ]),
    ] {
        let err = gradient_error(&model, fixture_images(2, 3), &[1, 4], config.clone());
        println!(
            "fixture CNN {:?} {:?} {:?} reference {} sign-aware {} baseline {:?} fills {}: {err:.2e}",
            config.granularity,
            config.gate,
            config.mask,
            config.use_reference,
            config.sign_aware,
            config.baseline,
            config.training_fills.len()
        );
        assert!(err < 1e-6, "{config:?}: scaled error {err:e}");
    }
}

#[test]
fn gate_gradient_through_every_op_matches_finite_differences() {
    let device = device64();
    let model = MixedNet::<D2>::new(&device);
    let images = tensor(uniform(2 * 2 * 9 * 11, 5, -2.0, 2.0), [2, 2, 9, 11]);
    let err = gradient_error(&model, images, &[0, 2], ExplainerConfig::new());
    println!("mixed net: {err:.2e}");
    assert!(err < 1e-6, "scaled error {err:e}");
}

#[test]
fn a_batch_equals_separate_runs() {
    let device = device64();
    let model = FixtureCnnConfig::new().init::<D2>(&device);
    let images = fixture_images(3, 11);
    let targets = [2, 5, 9];
    let explainer = ExplainerConfig::new()
        .with_iterations(5)
        .init::<D2>()
        .unwrap();
    let batch = explainer.attribute(&model, &images, &targets).unwrap();
    for i in 0..3 {
        let single = explainer
            .attribute(&model, &images.clone().slice(i..i + 1), &targets[i..i + 1])
            .unwrap();
        let a = common::values(&single.signed);
        let b = common::values(&batch.signed.clone().slice(i..i + 1));
        let err = common::scaled_error(&b, &a);
        assert!(err < 1e-10, "image {i}: map scaled error {err:e}");
        for (it, terms) in single.loss_trace.iter().enumerate() {
            let diff = (terms[0].total - batch.loss_trace[it][i].total).abs();
            assert!(
                diff < 1e-10,
                "image {i} iteration {it}: loss differs by {diff:e}"
            );
        }
    }
}

/// The masks of the top-fraction strategy are centred on the map's order
/// statistics: with a very sharp sigmoid the positive mask removes exactly
/// the top `fraction` of the pixels; without the sign-aware loss the
/// negative term is zero and the mask term counts only the positive mask.
#[test]
fn top_fraction_masks_and_the_positive_only_loss() {
    let device = device64();
    // The fixture weights: deterministic, so no pixel lands by chance within
    // the sigmoid's transition width of the level.
    let model = common::model::<D2>(&common::cases()[0], &device);
    let images = fixture_images(2, 5);
    let targets = [3, 8];
    let sharp = ExplainerConfig::new()
        .with_iterations(1)
        .with_sharpness(1e9)
        .with_mask(MaskStrategy::TopFraction { fraction: 0.1 });
    let trace = sharp
        .init::<D2>()
        .unwrap()
        .attribute(&model, &images, &targets)
        .unwrap()
        .loss_trace;
    // ⌈0.1·1024⌉ = 103 pixels fully removed, one at 1/2 (the pixel at the
    // level itself), in each mask: L_m = 2 · (102.5 / 1024).
    for terms in &trace[0] {
        let expected = 2.0 * 102.5 / 1024.0;
        assert!(
            (terms.mask - expected).abs() < 1e-9,
            "mask term {} vs {expected}",
            terms.mask
        );
    }
    let positive_only = sharp
        .clone()
        .with_sign_aware(false)
        .init::<D2>()
        .unwrap()
        .attribute(&model, &images, &targets)
        .unwrap()
        .loss_trace;
    for (both, one) in trace[0].iter().zip(&positive_only[0]) {
        assert_eq!(one.negative, 0.0);
        assert!((one.positive - both.positive).abs() < 1e-12);
        assert!((one.mask - both.mask / 2.0).abs() < 1e-12);
        let total = one.positive + 0.1 * one.mask;
        assert!((one.total - total).abs() < 1e-12);
    }
}

/// A sigmoid gate on `f` alone with a very sharp scale is the ReLU's own
/// derivative, so before any update the gated gradient is the plain input
/// gradient.
#[test]
fn a_sharp_sigmoid_gate_starts_at_the_true_gradient() {
    let device = device64();
    let model = common::model::<D2>(&common::cases()[1], &device);
    let images = fixture_images(2, 9);
    let targets = [0, 6];
    let gated = ExplainerConfig::new()
        .with_iterations(0)
        .with_use_reference(false)
        .with_gate(GateShape::Sigmoid { scale: 1e9 })
        .init::<D2>()
        .unwrap()
        .attribute(&model, &images, &targets)
        .unwrap()
        .input_gradient;
    let input = images.clone().require_grad();
    let logits = model.logits(input.clone());
    let picked = logits.gather(1, Tensor::from_ints([[0], [6]], &device));
    let plain = input.grad(&picked.sum().backward()).unwrap();
    let err = common::scaled_error(&common::values(&gated), &common::values(&plain));
    assert!(err < 1e-9, "scaled error {err:e}");
}
