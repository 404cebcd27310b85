//! One property table over every method (Captum's `test_config.py` idea):
//! each row is a method, each test a property checked for every row.

mod common;

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::method::{
    Baseline, CamConfig, Deconvnet, DeepLiftConfig, EpsilonLrpConfig, ExtremalPerturbationConfig,
    GradCamConfig, GuidedBackprop, InputXGradient, IntegratedGradientsConfig, LayerConductance,
    LayerGradientXActivation, LayerIntegratedGradients, MeaningfulPerturbationConfig, Method,
    Neuron, NeuronGradient, NeuronIntegratedGradients, NoiseKind, NoiseTunnelConfig,
    OcclusionConfig, Quadrature, RiseConfig, RuleGradient, Saliency, Seed,
};
use learnprop::rule::{Composite, Select};
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::{Error, Explainable, ExplainerConfig};

type B = common::Cpu64;
use common::device64;
type Model = FixtureCnn<B>;
type Boxed = Box<dyn Method<B, Model>>;

/// One row of the table.
struct Row {
    method: Boxed,
    /// The same method with another internal batch size, if it has one.
    rebatched: Option<Boxed>,
    /// The same method with another seed, if it is random.
    reseeded: Option<Boxed>,
    /// Whether the map is per pixel (`[N, 1, H, W]`) rather than per element.
    per_pixel: bool,
    /// The per-image shape of a layer map (a site's output), if it is one.
    layer: Option<[usize; 3]>,
}

fn row(method: Boxed) -> Row {
    Row {
        method,
        rebatched: None,
        reseeded: None,
        per_pixel: false,
        layer: None,
    }
}

fn table() -> Vec<Row> {
    let ig = |k| {
        Box::new(
            IntegratedGradientsConfig::new()
                .with_steps(12)
                .with_steps_per_batch(k)
                .init()
                .unwrap(),
        ) as Boxed
    };
    let trapezoid = IntegratedGradientsConfig::new()
        .with_steps(12)
        .with_quadrature(Quadrature::RiemannTrapezoid)
        .init()
        .unwrap();
    let nt = |kind, seed, k| {
        Box::new(
            NoiseTunnelConfig::new()
                .with_kind(kind)
                .with_samples(6)
                .with_seed(seed)
                .with_samples_per_batch(k)
                .init(Saliency::signed())
                .unwrap(),
        ) as Boxed
    };
    let occlusion = |k| {
        Box::new(
            OcclusionConfig::new([3, 6, 6], [3, 4, 4])
                .with_windows_per_batch(k)
                .init()
                .unwrap(),
        ) as Boxed
    };
    let rise = |seed, k| {
        Box::new(
            RiseConfig::new()
                .with_masks(40)
                .with_seed(seed)
                .with_masks_per_batch(k)
                .init()
                .unwrap(),
        ) as Boxed
    };
    let meaningful = |seed| {
        Box::new(
            MeaningfulPerturbationConfig::new()
                .with_iterations(8)
                .with_jitter(40)
                .with_seed(seed)
                .init()
                .unwrap(),
        ) as Boxed
    };
    vec![
        row(Box::new(Saliency::signed())),
        row(Box::new(Saliency::absolute())),
        row(Box::new(InputXGradient)),
        Row {
            rebatched: Some(ig(5)),
            ..row(ig(12))
        },
        row(Box::new(trapezoid)),
        Row {
            rebatched: Some(nt(NoiseKind::SmoothGrad, 1, 4)),
            reseeded: Some(nt(NoiseKind::SmoothGrad, 2, 6)),
            ..row(nt(NoiseKind::SmoothGrad, 1, 6))
        },
        Row {
            rebatched: Some(nt(NoiseKind::SmoothGradSquared, 1, 1)),
            reseeded: Some(nt(NoiseKind::SmoothGradSquared, 2, 6)),
            ..row(nt(NoiseKind::SmoothGradSquared, 1, 6))
        },
        Row {
            rebatched: Some(nt(NoiseKind::VarGrad, 1, 5)),
            reseeded: Some(nt(NoiseKind::VarGrad, 2, 6)),
            ..row(nt(NoiseKind::VarGrad, 1, 6))
        },
        row(Box::new(GuidedBackprop)),
        row(Box::new(Deconvnet)),
        row(Box::new(DeepLiftConfig::new().init().unwrap())),
        row(Box::new(EpsilonLrpConfig::new().init().unwrap())),
        Row {
            per_pixel: true,
            ..row(Box::new(GradCamConfig::new().init()))
        },
        Row {
            rebatched: Some(occlusion(1)),
            ..row(occlusion(16))
        },
        Row {
            rebatched: Some(rise(3, 7)),
            reseeded: Some(rise(4, 16)),
            per_pixel: true,
            ..row(rise(3, 16))
        },
        Row {
            reseeded: Some(meaningful(9)),
            per_pixel: true,
            ..row(meaningful(8))
        },
        Row {
            per_pixel: true,
            ..row(Box::new(
                ExtremalPerturbationConfig::new()
                    .with_iterations(6)
                    .init()
                    .unwrap(),
            ))
        },
        row(Box::new(
            ExplainerConfig::new()
                .with_iterations(3)
                .init::<B>()
                .unwrap()
                .into_method(),
        )),
        row(lrp("z+", Composite::epsilon_plus(1e-6, 1e-6).unwrap())),
        row(lrp(
            "α2β1",
            Composite::epsilon_alpha2_beta1(1e-6, 1e-6).unwrap(),
        )),
        row(lrp(
            "flat",
            Composite::epsilon_plus_flat(1e-6, 1e-6).unwrap(),
        )),
        row(lrp(
            "γ zB",
            Composite::epsilon_gamma_box(vec![-3.0], vec![3.0], 1e-6, 0.25, 1e-6).unwrap(),
        )),
        Row {
            per_pixel: true,
            ..row(Box::new(CamConfig::new().grad_cam_plus_plus()))
        },
        Row {
            per_pixel: true,
            rebatched: Some(score_cam(3)),
            ..row(score_cam(16))
        },
        row(Box::new(NeuronGradient {
            neuron: fc1_neuron(),
        })),
        Row {
            rebatched: Some(neuron_ig(2)),
            ..row(neuron_ig(12))
        },
        Row {
            layer: Some([16, 16, 16]),
            ..row(Box::new(LayerGradientXActivation {
                site: Select::Name("conv2".into()),
            }))
        },
        Row {
            layer: Some([16, 16, 16]),
            rebatched: Some(layer_ig(5)),
            ..row(layer_ig(12))
        },
        Row {
            layer: Some([32, 1, 1]),
            rebatched: Some(conductance(4)),
            ..row(conductance(13))
        },
    ]
}

fn lrp(name: &str, composite: Composite) -> Boxed {
    Box::new(RuleGradient::new(name, composite, Seed::Logit))
}

fn score_cam(k: usize) -> Boxed {
    Box::new(
        CamConfig::new()
            .with_masks_per_batch(k)
            .score_cam()
            .unwrap(),
    )
}

fn fc1_neuron() -> Neuron {
    Neuron {
        site: Select::Name("fc1".into()),
        position: vec![5],
    }
}

fn neuron_ig(k: usize) -> Boxed {
    let config = IntegratedGradientsConfig::new()
        .with_steps(12)
        .with_steps_per_batch(k);
    Box::new(NeuronIntegratedGradients::new(fc1_neuron(), &config).unwrap())
}

fn layer_ig(k: usize) -> Boxed {
    let config = IntegratedGradientsConfig::new()
        .with_steps(12)
        .with_steps_per_batch(k);
    Box::new(LayerIntegratedGradients::new(Select::Name("conv2".into()), &config).unwrap())
}

fn conductance(k: usize) -> Boxed {
    let site = Select::Name("fc1".into());
    Box::new(LayerConductance::new(site, 12, Quadrature::GaussLegendre, Baseline::Zero, k).unwrap())
}

fn model() -> Model {
    let device = device64();
    <B as burn::tensor::backend::Backend>::seed(&device, 7);
    FixtureCnnConfig::new().init::<B>(&device)
}

fn images(n: usize, seed: u64) -> Tensor<B, 4> {
    let mut rng = learnprop::random::Rng::new(seed);
    let values: Vec<f64> = (0..n * 3 * 32 * 32).map(|_| rng.normal()).collect();
    Tensor::from_data(TensorData::new(values, [n, 3, 32, 32]), &device64())
}

fn values(t: Tensor<B, 4>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

fn scale(a: &[f64]) -> f64 {
    a.iter().fold(1e-300f64, |m, x| m.max(x.abs()))
}

#[test]
fn output_shape_is_the_input_shape_or_one_channel() {
    let (net, x) = (model(), images(2, 1));
    for row in table() {
        let out = row.method.attribute(&net, &x, &[3, 8]).unwrap();
        let expected = match (row.layer, row.per_pixel) {
            (Some([c, h, w]), _) => [2, c, h, w],
            (None, true) => [2, 1, 32, 32],
            (None, false) => [2, 3, 32, 32],
        };
        assert_eq!(out.dims(), expected, "{}", row.method.name());
        assert!(
            values(out).iter().all(|v| v.is_finite()),
            "{}: non-finite output",
            row.method.name()
        );
    }
}

#[test]
fn a_batch_equals_one_by_one_runs() {
    let (net, x) = (model(), images(3, 2));
    let targets = [1, 5, 9];
    for row in table() {
        let batch = values(row.method.attribute(&net, &x, &targets).unwrap());
        let per_image = batch.len() / 3;
        for i in 0..3 {
            let single = values(
                row.method
                    .attribute(&net, &x.clone().slice(i..i + 1), &targets[i..i + 1])
                    .unwrap(),
            );
            let part = &batch[i * per_image..(i + 1) * per_image];
            let err = max_difference(&single, part) / scale(&single);
            assert!(
                err < 1e-9,
                "{}: image {i} differs by {err:e} (scaled)",
                row.method.name()
            );
        }
    }
}

#[test]
fn the_internal_batch_size_changes_nothing() {
    let (net, x) = (model(), images(2, 3));
    let mut covered = 0;
    for row in table() {
        if let Some(other) = &row.rebatched {
            let a = values(row.method.attribute(&net, &x, &[0, 4]).unwrap());
            let b = values(other.attribute(&net, &x, &[0, 4]).unwrap());
            let err = max_difference(&a, &b) / scale(&a);
            assert!(err < 1e-12, "{}: {err:e}", row.method.name());
            covered += 1;
        }
    }
    assert!(covered >= 6);
}

#[test]
fn seeds_make_random_methods_repeatable_and_different() {
    let (net, x) = (model(), images(1, 4));
    let mut covered = 0;
    for row in table() {
        let a = values(row.method.attribute(&net, &x, &[2]).unwrap());
        let again = values(row.method.attribute(&net, &x, &[2]).unwrap());
        assert!(
            a == again,
            "{}: the same settings gave another map",
            row.method.name()
        );
        if let Some(other) = &row.reseeded {
            let b = values(other.attribute(&net, &x, &[2]).unwrap());
            assert!(
                max_difference(&a, &b) > 1e-6 * scale(&a),
                "{}: another seed gave the same map",
                row.method.name()
            );
            covered += 1;
        }
    }
    assert!(covered >= 5);
}

struct ZeroBiases;

impl ModuleMapper<B> for ZeroBiases {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = if D == 1 { tensor.zeros_like() } else { tensor };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[test]
fn integrated_gradients_deeplift_and_lrp_are_complete() {
    let (net, x) = (model(), images(2, 5));
    let targets = [6, 2];
    let device = device64();
    let logits = |m: &Model, x: Tensor<B, 4>| -> Vec<f64> {
        m.logits(x).into_data().iter::<f64>().collect()
    };
    let fx = logits(&net, x.clone());
    let f0 = logits(&net, Tensor::zeros([2, 3, 32, 32], &device));
    let gap = |i: usize| fx[i * 10 + targets[i]] - f0[i * 10 + targets[i]];

    let (_, delta) = DeepLiftConfig::new()
        .init()
        .unwrap()
        .attribute_with_delta(&net, &x, &targets)
        .unwrap();
    for (i, d) in delta.iter().enumerate() {
        assert!(
            d.abs() < 1e-10 * gap(i).abs().max(1.0),
            "DeepLIFT image {i}: delta {d}"
        );
    }
    let (_, delta) = IntegratedGradientsConfig::new()
        .with_steps(200)
        .with_captum_rounding(false)
        .init()
        .unwrap()
        .attribute_with_delta(&net, &x, &targets)
        .unwrap();
    for (i, d) in delta.iter().enumerate() {
        assert!(
            d.abs() < 0.02 * gap(i).abs(),
            "IG image {i}: delta {d}, gap {}",
            gap(i)
        );
    }
    // ε-LRP with ε → 0 on a bias-free ReLU network conserves F_t(x) (F_t(0) = 0).
    let homogeneous = net.map(&mut ZeroBiases);
    let fx = logits(&homogeneous, x.clone());
    let lrp = EpsilonLrpConfig::new().with_epsilon(1e-12).init().unwrap();
    let relevance = lrp.attribute(&homogeneous, &x, &targets).unwrap();
    let sums: Vec<f64> = relevance
        .reshape([2, -1])
        .sum_dim(1)
        .into_data()
        .iter::<f64>()
        .collect();
    for i in 0..2 {
        let f = fx[i * 10 + targets[i]];
        assert!(
            (sums[i] - f).abs() < 1e-9 * f.abs().max(1.0),
            "LRP image {i}: Σ R = {} vs F = {f}",
            sums[i]
        );
    }
}

#[test]
fn every_method_rejects_bad_input() {
    let net = model();
    let device = device64();
    let mut nan = vec![0.1; 3 * 32 * 32];
    nan[100] = f64::NAN;
    let nan = Tensor::<B, 4>::from_data(TensorData::new(nan, [1, 3, 32, 32]), &device);
    for row in table() {
        let name = row.method.name();
        let empty = row
            .method
            .attribute(&net, &Tensor::zeros([0, 3, 32, 32], &device), &[]);
        assert!(matches!(empty, Err(Error::EmptyBatch)), "{name}: {empty:?}");
        let wrong = row
            .method
            .attribute(&net, &Tensor::zeros([1, 1, 32, 32], &device), &[0]);
        assert!(
            matches!(wrong, Err(Error::ChannelMismatch { .. })),
            "{name}: {wrong:?}"
        );
        let range = row.method.attribute(&net, &images(1, 6), &[10]);
        assert!(
            matches!(range, Err(Error::TargetOutOfRange { .. })),
            "{name}: {range:?}"
        );
        let count = row.method.attribute(&net, &images(2, 6), &[1]);
        assert!(
            matches!(count, Err(Error::TargetCount { .. })),
            "{name}: {count:?}"
        );
        let bad = row.method.attribute(&net, &nan, &[0]);
        assert!(
            matches!(bad, Err(Error::NonFiniteInput { .. })),
            "{name}: {bad:?}"
        );
    }
}

#[test]
fn invalid_method_settings_are_errors() {
    assert!(IntegratedGradientsConfig::new()
        .with_steps(0)
        .init()
        .is_err());
    assert!(IntegratedGradientsConfig::new()
        .with_steps(1)
        .with_quadrature(Quadrature::RiemannLeft)
        .init()
        .is_err());
    assert!(NoiseTunnelConfig::new()
        .with_samples(0)
        .init(Saliency::signed())
        .is_err());
    assert!(OcclusionConfig::new([0, 4, 4], [1, 4, 4]).init().is_err());
    assert!(RiseConfig::new().with_keep_probability(1.5).init().is_err());
    assert!(ExtremalPerturbationConfig::new()
        .with_area(0.0)
        .init()
        .is_err());
    assert!(MeaningfulPerturbationConfig::new()
        .with_tv_beta(-1.0)
        .init()
        .is_err());
    assert!(DeepLiftConfig::new().with_epsilon(0.0).init().is_err());
    assert!(EpsilonLrpConfig::new()
        .with_epsilon(f64::NAN)
        .init()
        .is_err());
    // A window larger than the image is reported when the image is seen.
    let too_big = OcclusionConfig::new([3, 40, 4], [3, 4, 4]).init().unwrap();
    assert!(matches!(
        too_big.attribute(&model(), &images(1, 1), &[0]),
        Err(Error::InvalidConfig { .. })
    ));
    // Grad-CAM on a site without spatial dimensions.
    let dense = GradCamConfig::new().with_site(Some(7)).init();
    assert!(matches!(
        dense.attribute(&model(), &images(1, 1), &[0]),
        Err(Error::Unsupported(_))
    ));
}
