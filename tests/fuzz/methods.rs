//! Methods, their settings and layer geometry.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use learnprop::method::{
    Baseline, Deconvnet, DeepLiftConfig, EpsilonLrpConfig, ExtremalPerturbationConfig,
    GradCamConfig, GuidedBackprop, InputXGradient, IntegratedGradientsConfig,
    MeaningfulPerturbationConfig, Method, NoiseLevel, NoiseTunnelConfig, OcclusionConfig,
    Quadrature, RiseConfig, Saliency,
};
use learnprop::ops::{self, Conv2dGeometry, PoolGeometry};
use learnprop::zoo::FixtureCnn;
use learnprop::{Activation, Cpu, Explainable, ExplainerConfig, Hook, MaskStrategy};
use proptest::prelude::*;

use crate::{config, finite, fixture, images, not_a_hidden_panic, wild_count, wild_f64, Plain};

/// conv 3×3 (no padding) → ReLU → max-pool 2 → conv 3×3 → ReLU → global
/// average → linear: needs 8×8 images but does not say so.
#[derive(Module, Debug)]
struct TinyPooled<B: Backend> {
    conv1: Conv2d<B>,
    pool: MaxPool2d,
    conv2: Conv2d<B>,
    fc: Linear<B>,
}

fn tiny_pooled() -> TinyPooled<Cpu> {
    let device = Default::default();
    TinyPooled {
        conv1: Conv2dConfig::new([1, 2], [3, 3]).init(&device),
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        conv2: Conv2dConfig::new([2, 2], [3, 3]).init(&device),
        fc: LinearConfig::new(2, 3).init(&device),
    }
}

impl<B: Backend> Explainable<B> for TinyPooled<B> {
    fn input_channels(&self) -> usize {
        1
    }

    fn forward_hooked<H: Hook<B>>(&self, x: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.activate(Activation::Relu, ops::conv2d(&self.conv1, x));
        let x = hook.max_pool2d(&self.pool, x);
        let x = hook.activate(Activation::Relu, ops::conv2d(&self.conv2, x));
        ops::linear(&self.fc, ops::global_avg_pool2d(x).flatten(1, 3))
    }
}

/// Every method of the crate, with a few cheap settings, by index.
fn method(index: usize) -> Box<dyn Method<Cpu, FixtureCnn<Cpu>>> {
    match index % 14 {
        0 => Box::new(Saliency::signed()),
        1 => Box::new(InputXGradient),
        2 => Box::new(GuidedBackprop),
        3 => Box::new(Deconvnet),
        4 => Box::new(
            IntegratedGradientsConfig::new()
                .with_steps(3)
                .init()
                .unwrap(),
        ),
        5 => Box::new(DeepLiftConfig::new().init().unwrap()),
        6 => Box::new(EpsilonLrpConfig::new().init().unwrap()),
        7 => Box::new(GradCamConfig::new().init()),
        8 => Box::new(
            OcclusionConfig::new([3, 16, 16], [3, 16, 16])
                .init()
                .unwrap(),
        ),
        9 => Box::new(RiseConfig::new().with_masks(4).init().unwrap()),
        10 => Box::new(
            NoiseTunnelConfig::new()
                .with_samples(2)
                .init(Saliency::signed())
                .unwrap(),
        ),
        11 => Box::new(
            MeaningfulPerturbationConfig::new()
                .with_iterations(2)
                .init()
                .unwrap(),
        ),
        12 => Box::new(
            ExtremalPerturbationConfig::new()
                .with_iterations(2)
                .init()
                .unwrap(),
        ),
        13 => Box::new(
            ExplainerConfig::new()
                .with_iterations(1)
                .init::<Cpu>()
                .unwrap()
                .into_method(),
        ),
        _ => Box::new(
            ExplainerConfig::new()
                .with_iterations(1)
                .with_baseline(Baseline::Blur { sigma: 1.5 })
                .with_training_fills(vec![
                    Baseline::Zero,
                    Baseline::PerChannel {
                        values: vec![-1.0, 0.5, 2.0],
                    },
                ])
                .init::<Cpu>()
                .unwrap()
                .into_method(),
        ),
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any method on any batch: wrong sizes and channels, empty batches,
    /// NaN and huge values, wrong and out-of-range targets.
    #[test]
    fn methods_on_any_batch(
        which in 0usize..15,
        n in prop_oneof![4 => 1usize..3, 1 => Just(0usize)],
        c in prop_oneof![4 => Just(3usize), 1 => 0usize..5],
        side in prop_oneof![4 => Just(32usize), 1 => Just(0usize), 1 => Just(1usize), 1 => Just(31usize)],
        values in prop_oneof![
            4 => prop::collection::vec(-2.0f64..2.0, 1..6),
            1 => prop::collection::vec(wild_f64(), 1..6),
        ],
        classes in prop::collection::vec(0usize..10, 3),
        mangle in 0u8..8,
    ) {
        let model = fixture();
        let x = images::<Cpu>([n, c, side, side], &values);
        let mut targets = classes;
        match mangle {
            0 => targets.clear(),
            1 => targets[0] = usize::MAX,
            2 => targets[0] = 10,
            _ => targets.truncate(n),
        }
        let result = method(which).attribute(&model, &x, &targets);
        prop_assert!(not_a_hidden_panic(&result), "{:?}", result.err());
        if let Ok(map) = result {
            prop_assert!(finite(&map));
        }
    }

    /// Every method's settings, from zero to absurd, on a valid batch.
    #[test]
    fn method_settings(
        which in 0usize..9,
        count in wild_count(),
        other in wild_count(),
        value in wild_f64(),
        window in prop::array::uniform3(wild_count()),
    ) {
        let model = fixture();
        let x = images::<Cpu>([1, 3, 32, 32], &[0.2, -0.4, 0.9]);
        let result: Result<Box<dyn Method<Cpu, FixtureCnn<Cpu>>>, learnprop::Error> = match which {
            0 => IntegratedGradientsConfig::new()
                .with_steps(count)
                .with_steps_per_batch(other)
                .with_quadrature(Quadrature::RiemannTrapezoid)
                .with_baseline(Baseline::Constant { value })
                .init()
                .map(|m| Box::new(m) as _),
            1 => NoiseTunnelConfig::new()
                .with_samples(count)
                .with_samples_per_batch(other)
                .with_noise(NoiseLevel::Absolute { sigma: value })
                .init(Saliency::signed())
                .map(|m| Box::new(m) as _),
            2 => RiseConfig::new()
                .with_masks(count)
                .with_grid(other)
                .with_keep_probability(value)
                .init()
                .map(|m| Box::new(m) as _),
            3 => OcclusionConfig::new(window, window)
                .with_windows_per_batch(count.max(1))
                .with_baseline(Baseline::Constant { value })
                .init()
                .map(|m| Box::new(m) as _),
            4 => MeaningfulPerturbationConfig::new()
                .with_iterations(count)
                .with_mask_scale(other)
                .with_tv_beta(value)
                .with_learning_rate(value.abs())
                .init()
                .map(|m| Box::new(m) as _),
            5 => ExtremalPerturbationConfig::new()
                .with_iterations(count)
                .with_step(other)
                .with_sigma(value)
                .with_max_blur(value.abs())
                .init()
                .map(|m| Box::new(m) as _),
            6 => DeepLiftConfig::new()
                .with_epsilon(value)
                .with_baseline(Baseline::Values { shape: [1, 3, count.min(64), 32], values: vec![value; 3] })
                .init()
                .map(|m| Box::new(m) as _),
            7 => ExplainerConfig::new()
                .with_iterations(count)
                .with_learning_rate(value.abs())
                .with_initial_weight(value)
                .with_mask(MaskStrategy::Gaussian { sigma: value })
                .init::<Cpu>()
                .map(|m| Box::new(m.into_method()) as _),
            _ => ExplainerConfig::new()
                .with_iterations(count.min(2))
                .with_baseline(Baseline::Mean {
                    of: vec![Baseline::Blur { sigma: value }, Baseline::Constant { value: other as f64 }],
                })
                .with_training_fills(vec![Baseline::Blur { sigma: other as f64 }; count.min(70)])
                .init::<Cpu>()
                .map(|m| Box::new(m.into_method()) as _),
        };
        if let Ok(method) = result {
            let result = method.attribute(&model, &x, &[3]);
            prop_assert!(not_a_hidden_panic(&result), "{:?}", result.err());
            if let Ok(map) = result {
                prop_assert!(finite(&map));
            }
        }
    }

    /// A model that declares no minimum size (pooling and unpadded
    /// convolutions inside) on any image size: a layer that does not fit is
    /// an error naming the op.
    #[test]
    fn an_undeclared_minimum_size(
        which in 0usize..3,
        h in 0usize..12,
        w in 0usize..12,
    ) {
        let model = tiny_pooled();
        let x = images::<Cpu>([1, 1, h, w], &[0.5, -0.5, 0.25]);
        let result = match which {
            0 => Saliency::signed().attribute(&model, &x, &[1]),
            1 => GuidedBackprop.attribute(&model, &x, &[1]),
            _ => ExplainerConfig::new()
                .with_iterations(1)
                .init::<Cpu>()
                .unwrap()
                .attribute(&model, &x, &[1])
                .map(|a| a.input_gradient),
        };
        match &result {
            Ok(map) => prop_assert!(finite(map)),
            Err(learnprop::Error::ModelPanicked { message, .. }) => {
                prop_assert!(message.starts_with("learnprop::ops::"), "{}", message)
            }
            Err(_) => {}
        }
    }

    /// Convolution and pooling geometry: what `output_size` accepts runs and
    /// has that size.
    #[test]
    fn layer_geometry(
        stride in prop::array::uniform2(0usize..4),
        dilation in prop::array::uniform2(0usize..3),
        padding in prop::array::uniform2(prop::array::uniform2(0usize..4)),
        groups in 0usize..4,
        kernel in prop::array::uniform2(0usize..5),
        c_in in 1usize..5,
        c_out_group in 1usize..3,
        size in prop::array::uniform2(0usize..9),
        ceil_mode in any::<bool>(),
    ) {
        let geometry = Conv2dGeometry { stride, padding, dilation, groups };
        let c_in_group = if groups > 0 { c_in / groups.max(1) } else { c_in };
        let weight_dims = [c_out_group * groups.max(1), c_in_group, kernel[0], kernel[1]];
        let input = [1, c_in, size[0], size[1]];
        if let Ok(out) = geometry.output_size(input, weight_dims) {
            let x = images::<Plain>(input, &[0.5, -1.0, 2.0]);
            let weight = images::<Plain>(weight_dims, &[0.25, -0.5]);
            let y = ops::conv2d_with(x, weight, None, &geometry);
            prop_assert_eq!(&y.dims()[2..], &out[..]);
            prop_assert!(finite(&y));
        }
        let pool = PoolGeometry { kernel, stride, padding, ceil_mode };
        if let Ok(out) = pool.output_size(size) {
            let x = images::<Plain>([1, 2, size[0], size[1]], &[0.5, -1.0, 2.0]);
            let max = ops::max_pool2d_with(x.clone(), &pool);
            let avg = ops::avg_pool2d_with(x, &pool, false);
            prop_assert_eq!(&max.dims()[2..], &out[..]);
            prop_assert_eq!(&avg.dims()[2..], &out[..]);
            prop_assert!(finite(&max) && finite(&avg));
        }
    }
}
