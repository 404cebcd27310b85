//! A checked forward: layer geometry that does not fit is an error, a panic
//! of the model's code is an error naming the call to use, and
//! `check_model` finds the adoption mistakes that run silently.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use learnprop::backend::Base;
use learnprop::method::{Method, Saliency};
use learnprop::ops::{self, BlurEdges, Conv2dGeometry, PoolGeometry};
use learnprop::{
    check_model, Activation, Cpu, Error, Explainable, ExplainerConfig, Hook, SiteKind,
};

/// How [`Probe`] (mis)adopts the hook.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Correct,
    BurnBatchNorm,
    FusedLinear,
    UnhookedRelu,
    BurnMaxPool,
    DilatedPool,
    KernelLargerThanInput,
}

/// `[N, 1, 8, 8]` → conv 1→4 → batch norm → ReLU → max-pool 2 → fc 64→8 →
/// ReLU → fc 8→3, with one mistake per [`Mode`].
#[derive(Module, Debug)]
struct Probe<B: Backend> {
    conv: Conv2d<B>,
    wide: Conv2d<B>,
    norm: BatchNorm<B>,
    pool: MaxPool2d,
    dilated: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
    #[module(skip)]
    mode: Mode,
}

fn probe(mode: Mode) -> Probe<Cpu> {
    let device = Default::default();
    let mut norm = BatchNormConfig::new(4).init(&device);
    norm.running_mean =
        burn::module::RunningState::new(Tensor::from_floats([0.1, -0.2, 0.3, 0.0], &device));
    norm.running_var =
        burn::module::RunningState::new(Tensor::from_floats([0.5, 2.0, 1.0, 1.5], &device));
    Probe {
        conv: Conv2dConfig::new([1, 4], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device),
        wide: Conv2dConfig::new([1, 4], [9, 9]).init(&device),
        norm,
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        dilated: MaxPool2dConfig::new([2, 2])
            .with_strides([2, 2])
            .with_dilation([2, 2])
            .init(),
        fc1: LinearConfig::new(64, 8).init(&device),
        fc2: LinearConfig::new(8, 3).init(&device),
        mode,
    }
}

impl<B: Backend> Explainable<B> for Probe<B> {
    fn input_channels(&self) -> usize {
        1
    }

    fn forward_hooked<H: Hook<B>>(&self, x: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let mode = self.mode;
        let x = match mode {
            Mode::KernelLargerThanInput => ops::conv2d(&self.wide, x),
            _ => ops::conv2d(&self.conv, x),
        };
        let x = match mode {
            Mode::BurnBatchNorm => self.norm.forward(x),
            _ => ops::batch_norm(&self.norm, x),
        };
        let x = match mode {
            Mode::UnhookedRelu => burn::tensor::activation::relu(x),
            _ => hook.activate(Activation::Relu, x),
        };
        let x = match mode {
            Mode::BurnMaxPool => self.pool.forward(x),
            Mode::DilatedPool => hook.max_pool2d(&self.dilated, x),
            _ => hook.max_pool2d(&self.pool, x),
        };
        let x = x.flatten(1, 3);
        let x = hook.activate(Activation::Relu, ops::linear(&self.fc1, x));
        match mode {
            Mode::FusedLinear => self.fc2.forward(x),
            _ => ops::linear(&self.fc2, x),
        }
    }
}

fn images(n: usize) -> Tensor<Cpu, 4> {
    let values: Vec<f32> = (0..n * 64)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    Tensor::from_data(
        burn::tensor::TensorData::new(values, [n, 1, 8, 8]),
        &Default::default(),
    )
}

fn bits<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<u32> {
    t.into_data().iter::<f32>().map(f32::to_bits).collect()
}

#[test]
fn a_correct_model_passes_with_its_sites_listed() {
    let report = check_model(&probe(Mode::Correct), &images(3)).unwrap();
    assert!(report.warnings().is_empty(), "{report}");
    assert_eq!(report.classes, 3);
    assert!(report.batch_difference < 1e-5, "{report}");
    let kinds: Vec<(SiteKind, Vec<usize>)> = report
        .sites
        .iter()
        .map(|s| (s.kind, s.shape.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (SiteKind::Activation(Activation::Relu), vec![4, 8, 8]),
            (
                SiteKind::MaxPool {
                    kernel: [2, 2],
                    stride: [2, 2]
                },
                vec![4, 8, 8]
            ),
            (SiteKind::Activation(Activation::Relu), vec![8]),
        ]
    );
    // A shipped model passes too.
    let zoo = learnprop::zoo::FixtureCnnConfig::new().init::<Cpu>(&Default::default());
    let photos = Tensor::<Cpu, 4>::ones([2, 3, 32, 32], &Default::default());
    assert!(check_model(&zoo, &photos).unwrap().warnings().is_empty());
}

#[test]
fn batch_statistics_are_found_and_named() {
    let err = check_model(&probe(Mode::BurnBatchNorm), &images(2)).unwrap_err();
    assert!(
        matches!(&err, Error::ModelCheck { problem } if problem.contains("ops::batch_norm")),
        "{err}"
    );
    // With one image too: the check appends an image of its own.
    assert!(check_model(&probe(Mode::BurnBatchNorm), &images(1)).is_err());
}

#[test]
fn a_relu_outside_the_hook_is_reported() {
    let report = check_model(&probe(Mode::UnhookedRelu), &images(2)).unwrap();
    let deviation = report.outside_the_hook.expect("an unhooked ReLU");
    assert!(deviation > 1e-2, "{deviation}");
    assert!(report.warnings()[0].contains("hook.activate"));
}

#[test]
fn ops_burn_cannot_differentiate_twice_are_errors_naming_the_replacement() {
    for (mode, replacement) in [
        (Mode::FusedLinear, "ops::linear"),
        (Mode::BurnMaxPool, "hook.max_pool2d"),
    ] {
        let err = check_model(&probe(mode), &images(2)).unwrap_err();
        match err {
            Error::ModelPanicked { message, hint, .. } => {
                assert!(message.contains("Can't differentiate"), "{message}");
                assert!(hint.contains(replacement), "{mode:?}: {hint}");
            }
            other => panic!("{mode:?}: {other}"),
        }
    }
}

#[test]
fn layer_geometry_that_does_not_fit_is_an_error_and_later_runs_are_unaffected() {
    let good = probe(Mode::Correct);
    let x = images(2);
    let explainer = ExplainerConfig::new()
        .with_iterations(2)
        .init::<Cpu>()
        .unwrap();
    let saliency_before = bits(Saliency::signed().attribute(&good, &x, &[0, 1]).unwrap());
    let learned_before = bits(explainer.attribute(&good, &x, &[0, 1]).unwrap().signed);

    for (mode, words) in [
        (Mode::DilatedPool, "dilation"),
        (Mode::KernelLargerThanInput, "kernel span"),
    ] {
        let err = Saliency::signed()
            .attribute(&probe(mode), &x, &[0, 1])
            .unwrap_err();
        match &err {
            Error::ModelPanicked {
                during, message, ..
            } => {
                assert_eq!(during, "saliency");
                assert!(message.starts_with("learnprop::ops::"), "{message}");
                assert!(message.contains(words), "{message}");
            }
            other => panic!("{mode:?}: {other}"),
        }
        assert!(explainer.attribute(&probe(mode), &x, &[0, 1]).is_err());
    }
    // A double backward that panicked half-way leaves Burn's graph usable.
    assert!(check_model(&probe(Mode::FusedLinear), &x).is_err());

    let saliency_after = bits(Saliency::signed().attribute(&good, &x, &[0, 1]).unwrap());
    let learned_after = bits(explainer.attribute(&good, &x, &[0, 1]).unwrap().signed);
    assert_eq!(saliency_before, saliency_after);
    assert_eq!(learned_before, learned_after);
}

#[test]
fn convolution_geometry_is_checked() {
    let fine = Conv2dGeometry::default();
    assert_eq!(
        fine.output_size([1, 3, 8, 8], [4, 3, 3, 3]).unwrap(),
        [6, 6]
    );
    let strided = Conv2dGeometry {
        stride: [2, 3],
        padding: [[1, 0], [2, 2]],
        dilation: [2, 1],
        groups: 3,
    };
    // (8 + 1 − 5) / 2 + 1 = 3, (8 + 4 − 3) / 3 + 1 = 4
    assert_eq!(
        strided.output_size([1, 3, 8, 8], [6, 1, 3, 3]).unwrap(),
        [3, 4]
    );
    let bad = [
        (
            Conv2dGeometry {
                stride: [0, 1],
                ..fine
            },
            [4, 3, 3, 3],
        ),
        (
            Conv2dGeometry {
                dilation: [1, 0],
                ..fine
            },
            [4, 3, 3, 3],
        ),
        (Conv2dGeometry { groups: 0, ..fine }, [4, 3, 3, 3]),
        (Conv2dGeometry { groups: 2, ..fine }, [4, 3, 3, 3]),
        (fine, [4, 2, 3, 3]),
        (fine, [4, 3, 0, 3]),
        (fine, [4, 3, 9, 3]),
        (
            Conv2dGeometry {
                padding: [[usize::MAX, 1], [0, 0]],
                ..fine
            },
            [4, 3, 3, 3],
        ),
        (
            Conv2dGeometry {
                dilation: [usize::MAX, 1],
                ..fine
            },
            [4, 3, 3, 3],
        ),
    ];
    for (geometry, weight) in bad {
        let err = geometry.output_size([1, 3, 8, 8], weight).unwrap_err();
        assert!(
            matches!(err, Error::LayerGeometry { op: "conv2d", .. }),
            "{geometry:?} {weight:?}: {err}"
        );
    }
}

#[test]
fn pooling_geometry_is_checked() {
    let pool = |kernel, stride, padding| PoolGeometry {
        kernel,
        stride,
        padding,
        ceil_mode: false,
    };
    assert_eq!(PoolGeometry::square(2).output_size([7, 8]).unwrap(), [3, 4]);
    let ceil = PoolGeometry {
        ceil_mode: true,
        ..PoolGeometry::square(2)
    };
    assert_eq!(ceil.output_size([7, 8]).unwrap(), [4, 4]);
    for geometry in [
        pool([0, 2], [2, 2], [[0, 0], [0, 0]]),
        pool([2, 2], [2, 0], [[0, 0], [0, 0]]),
        pool([2, 2], [2, 2], [[2, 0], [0, 0]]),
        pool([3, 3], [1, 1], [[0, 0], [0, 2]]),
        pool([9, 2], [1, 1], [[0, 0], [0, 0]]),
    ] {
        let err = geometry.output_size([7, 8]).unwrap_err();
        assert!(
            matches!(err, Error::LayerGeometry { .. }),
            "{geometry:?}: {err}"
        );
    }
    let dilated = MaxPool2dConfig::new([2, 2]).with_dilation([2, 1]).init();
    assert!(PoolGeometry::of_max_pool(&dilated, [8, 8]).is_err());
}

#[test]
fn blur_widths_are_checked_and_huge_ones_stay_small() {
    let x = Tensor::<Base<Cpu>, 4>::ones([1, 1, 6, 5], &Default::default());
    for sigma in [f64::NAN, -1.0, f64::INFINITY, 2e6] {
        assert!(
            matches!(
                ops::gaussian_blur(x.clone(), sigma, BlurEdges::Zero),
                Err(Error::InvalidConfig {
                    setting: "sigma",
                    ..
                })
            ),
            "{sigma}"
        );
    }
    // σ = 1e6 is accepted without allocating its 8·10⁶ taps per row: every
    // pixel gets the same tiny weight, so a constant image stays constant.
    let wide = ops::gaussian_blur(x.clone(), 1e6, BlurEdges::Zero).unwrap();
    let values: Vec<f64> = wide.into_data().iter::<f64>().collect();
    let expected = 5.0 * 6.0 / (2.0 * std::f64::consts::PI * 1e12);
    for v in &values {
        assert!((v - expected).abs() < 1e-3 * expected, "{v} vs {expected}");
    }
    let renormalised = ops::gaussian_blur(x, 1e6, BlurEdges::Renormalised).unwrap();
    for v in renormalised.into_data().iter::<f64>() {
        assert!((v - 1.0).abs() < 1e-5, "{v}");
    }
}

/// Max pooling by loops over each window's in-image elements (PyTorch's
/// definition, with the crate's output size).
fn naive_max_pool(x: &[f32], [h, w]: [usize; 2], g: &PoolGeometry) -> Vec<f32> {
    let [oh, ow] = g.output_size([h, w]).unwrap();
    let mut out = Vec::new();
    for i in 0..oh {
        for j in 0..ow {
            let r0 = (i * g.stride[0]) as isize - g.padding[0][0] as isize;
            let c0 = (j * g.stride[1]) as isize - g.padding[1][0] as isize;
            let mut best = f32::NEG_INFINITY;
            for r in r0..r0 + g.kernel[0] as isize {
                for c in c0..c0 + g.kernel[1] as isize {
                    if (0..h as isize).contains(&r) && (0..w as isize).contains(&c) {
                        best = best.max(x[r as usize * w + c as usize]);
                    }
                }
            }
            out.push(best);
        }
    }
    out
}

#[test]
fn max_pooling_in_ceil_mode_and_with_asymmetric_padding_follows_pytorch() {
    let cases = [
        // (size, kernel, stride, padding, ceil, PyTorch's output size)
        ([1, 2], [2, 1], [1, 3], [[0, 1], [0, 0]], true, [1, 1]),
        ([1, 4], [1, 4], [1, 3], [[0, 0], [2, 2]], true, [1, 2]),
        ([5, 7], [3, 2], [2, 2], [[1, 0], [0, 1]], true, [3, 4]),
        ([6, 6], [3, 3], [2, 2], [[1, 1], [1, 1]], true, [4, 4]),
        ([7, 5], [2, 2], [2, 2], [[0, 0], [0, 0]], true, [4, 3]),
        ([7, 5], [3, 3], [3, 2], [[1, 0], [1, 1]], false, [2, 3]),
    ];
    for (size, kernel, stride, padding, ceil_mode, expected) in cases {
        let g = PoolGeometry {
            kernel,
            stride,
            padding,
            ceil_mode,
        };
        assert_eq!(g.output_size(size).unwrap(), expected, "{g:?}");
        let values: Vec<f32> = (0..size[0] * size[1])
            .map(|i| ((i * 7 % 11) as f32) - 5.0)
            .collect();
        let x = Tensor::<Base<Cpu>, 4>::from_data(
            burn::tensor::TensorData::new(values.clone(), [1, 1, size[0], size[1]]),
            &Default::default(),
        );
        let pooled: Vec<f32> = ops::max_pool2d_with(x, &g).into_data().to_vec().unwrap();
        assert_eq!(pooled, naive_max_pool(&values, size, &g), "{g:?}");
    }
}

#[test]
fn check_model_refuses_bad_images() {
    let model = probe(Mode::Correct);
    let device = Default::default();
    let empty = Tensor::<Cpu, 4>::zeros([0, 1, 8, 8], &device);
    assert!(matches!(
        check_model(&model, &empty),
        Err(Error::EmptyBatch)
    ));
    let rgb = Tensor::<Cpu, 4>::zeros([1, 3, 8, 8], &device);
    assert!(matches!(
        check_model(&model, &rgb),
        Err(Error::ChannelMismatch { .. })
    ));
    let nan = Tensor::<Cpu, 4>::full([1, 1, 8, 8], f32::NAN, &device);
    assert!(matches!(
        check_model(&model, &nan),
        Err(Error::NonFiniteInput { .. })
    ));
    // Too small for the max-pool: the op's own error, not a crash.
    let tiny = Tensor::<Cpu, 4>::ones([1, 1, 1, 1], &device);
    assert!(matches!(
        check_model(&model, &tiny),
        Err(Error::ModelPanicked { .. })
    ));
}
