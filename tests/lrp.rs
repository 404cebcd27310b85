//! The LRP rules and composites in f64: against Zennit 0.5.1 on the fixture
//! CNN (committed fixture) and a seeded torchvision ResNet-18 (fetched, an
//! ignored test), and conservation (relevance sums to the logit) on a
//! bias-free residual network with batch norm, for every conservative rule.

mod common;

use std::path::Path;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::TensorData;
use common::{device64, fixture_dir, large_onnx, read_safetensors, scaled_error, values, Array};
use learnprop::method::{Method, RuleGradient, Seed};
use learnprop::rule::{AlphaBeta, Composite, Epsilon, Flat, Gamma, Select, WSquare, ZBox};
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnnConfig, ResNet18, ResNet18Config};
use learnprop::{Activation, Explainable, Hook};

type B = common::Cpu64;

const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// The composites of `tests/fixtures/lrp/make.py`, by fixture name.
fn composites(low: Vec<f64>, high: Vec<f64>) -> Vec<(&'static str, Composite)> {
    let e = 1e-6;
    vec![
        (
            "epsilon",
            Composite::lrp_base(e)
                .unwrap()
                .with(Select::Weighted, Epsilon::new(e).unwrap()),
        ),
        ("epsilon_plus", Composite::epsilon_plus(e, e).unwrap()),
        (
            "epsilon_alpha2_beta1",
            Composite::epsilon_alpha2_beta1(e, e).unwrap(),
        ),
        (
            "epsilon_plus_flat",
            Composite::epsilon_plus_flat(e, e).unwrap(),
        ),
        (
            "epsilon_gamma_box",
            Composite::epsilon_gamma_box(low, high, e, 0.25, e).unwrap(),
        ),
        (
            "epsilon_wsquare",
            Composite::lrp_base(e)
                .unwrap()
                .with(Select::Weighted, Epsilon::new(e).unwrap())
                .with(Select::FirstWeighted, WSquare::new(e).unwrap()),
        ),
    ]
}

/// The fixture CNN with the trained weights (model-b).
fn fixture_cnn() -> learnprop::zoo::FixtureCnn<B> {
    let device = device64();
    WeightFile::new(fixture_dir().join("model-b.safetensors"))
        .load(FixtureCnnConfig::new().init::<B>(&device))
        .unwrap()
}

/// `n` images of standard normal noise.
fn normal_images(n: usize) -> Tensor<B, 4> {
    let distribution = burn::tensor::Distribution::Normal(0.0, 1.0);
    Tensor::random([n, 3, 32, 32], distribution, &device64())
}

fn tensor(a: &Array, device: &burn::tensor::Device<B>) -> Tensor<B, 4> {
    let shape: [usize; 4] = a.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(a.values.clone(), shape), device)
}

fn agree_with_zennit<M>(what: &str, model: &M, fixture: &Path, low: Vec<f64>, high: Vec<f64>)
where
    M: learnprop::Model<B>,
{
    let device = device64();
    let data = read_safetensors(fixture);
    let x = tensor(&data["input"], &device);
    let targets: Vec<usize> = data["target"].values.iter().map(|&t| t as usize).collect();
    let logits = values(&model.logits(x.clone()));
    let error = scaled_error(&logits, &data["logits"].values);
    println!("{what}: logits vs PyTorch {error:.2e}");
    assert!(
        error < 1e-12,
        "{what}: logits differ from PyTorch's by {error:.2e}"
    );
    for (name, composite) in composites(low.clone(), high.clone()) {
        let method = RuleGradient::new(name, composite, Seed::Logit);
        let map = values(&method.attribute(model, &x, &targets).unwrap());
        let error = scaled_error(&map, &data[&format!("expected.{name}")].values);
        println!("{what} {name}: scaled error vs Zennit {error:.2e}");
        assert!(error < 1e-10, "{what} {name}: {error:.2e}");
    }
}

#[test]
fn fixture_cnn_composites_equal_zennit() {
    let model = fixture_cnn();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lrp/fixture-cnn.safetensors");
    agree_with_zennit("fixture CNN", &model, &fixture, vec![-3.0], vec![3.0]);
}

#[test]
#[ignore = "needs the exports of .ci/fetch-data"]
fn resnet18_composites_equal_zennit_with_its_resnet_canonizer() {
    let device = device64();
    let model = WeightFile::new(large_onnx("resnet18.safetensors"))
        .with_key_remappings(ResNet18::<B>::torchvision_key_remapping())
        .load(ResNet18Config::new().init::<B>(&device))
        .unwrap();
    let low = (0..3)
        .map(|c| (0.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])
        .collect();
    let high = (0..3)
        .map(|c| (1.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])
        .collect();
    agree_with_zennit(
        "ResNet-18",
        &model,
        &large_onnx("lrp-resnet18.safetensors"),
        low,
        high,
    );
}

/// A bias-free residual network with every kind of site: convolutions with
/// batch norms (shift 0, so folding adds no bias), a sum, max and average
/// pooling and a linear layer.
#[derive(Module, Debug)]
struct Residual<B: Backend> {
    stem: Conv2d<B>,
    bn0: BatchNorm<B>,
    conv: Conv2d<B>,
    bn1: BatchNorm<B>,
    fc: Linear<B>,
}

impl<B: Backend> Explainable<B> for Residual<B> {
    fn input_channels(&self) -> usize {
        3
    }

    fn forward_hooked<H: Hook<B>>(&self, x: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let x = hook.conv2d(&self.stem, x);
        let x = hook.batch_norm(&self.bn0, x);
        let x = hook.activate(Activation::Relu, x);
        let x = hook.max_pool(x, &learnprop::ops::PoolGeometry::square(2));
        let y = hook.conv2d(&self.conv, x.clone());
        let y = hook.batch_norm(&self.bn1, y);
        let y = hook.add(y, x);
        let y = hook.activate(Activation::Relu, y);
        let y = hook.global_avg_pool2d(y).flatten(1, 3);
        hook.linear(&self.fc, y)
    }
}

fn residual(device: &burn::tensor::Device<B>) -> Residual<B> {
    let conv = |c_in, c_out| {
        Conv2dConfig::new([c_in, c_out], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init::<B>(device)
    };
    // γ and the variance non-trivial, mean and β 0: a pure per-channel scale.
    let norm = |c: usize, seed: f64| {
        let mut bn = BatchNormConfig::new(c).init::<B>(device);
        let scale: Vec<f64> = (0..c)
            .map(|k| 0.5 + ((k as f64 + seed) * 0.37).fract())
            .collect();
        bn.gamma = bn
            .gamma
            .map(|_| Tensor::from_data(TensorData::new(scale.clone(), [c]), device));
        let var: Vec<f64> = scale.iter().map(|s| s * 1.7).collect();
        bn.running_var =
            burn::module::RunningState::new(Tensor::from_data(TensorData::new(var, [c]), device));
        bn
    };
    Residual {
        stem: conv(3, 6),
        bn0: norm(6, 0.1),
        conv: conv(6, 6),
        bn1: norm(6, 0.6),
        fc: LinearConfig::new(6, 4).with_bias(false).init(device),
    }
}

#[test]
fn conservative_rules_pass_the_whole_logit_to_the_input() {
    let device = device64();
    B::seed(&device, 11);
    let model = residual(&device);
    let x = Tensor::<B, 4>::random(
        [2, 3, 12, 12],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let logits = values(&model.logits(x.clone()));
    let targets = [1, 3];
    let tiny = 1e-100;
    let base = || Composite::lrp_base(tiny).unwrap();
    let rules: Vec<(&str, Composite)> = vec![
        (
            "LRP-0",
            base().with(Select::Weighted, Epsilon::new(tiny).unwrap()),
        ),
        (
            "Captum ε",
            Composite::epsilon(tiny).unwrap().fold_batch_norm(true),
        ),
        (
            "z+",
            base().with(Select::Weighted, AlphaBeta::z_plus(tiny).unwrap()),
        ),
        (
            "α2β1",
            base().with(Select::Weighted, AlphaBeta::new(2.0, 1.0, tiny).unwrap()),
        ),
        (
            "γ",
            base().with(Select::Weighted, Gamma::new(0.25, tiny).unwrap()),
        ),
        (
            "zB first",
            base()
                .with(Select::Weighted, Epsilon::new(tiny).unwrap())
                .with(
                    Select::FirstWeighted,
                    ZBox::new(vec![-2.0], vec![2.0], tiny).unwrap(),
                ),
        ),
        (
            "flat first",
            base()
                .with(Select::Weighted, Epsilon::new(tiny).unwrap())
                .with(Select::FirstWeighted, Flat::new(tiny).unwrap()),
        ),
        (
            "w² first",
            base()
                .with(Select::Weighted, Epsilon::new(tiny).unwrap())
                .with(Select::FirstWeighted, WSquare::new(tiny).unwrap()),
        ),
    ];
    for (name, composite) in rules {
        let map = RuleGradient::new(name, composite, Seed::Logit)
            .attribute(&model, &x, &targets)
            .unwrap();
        let sums = values(&map.sum_dim(3).sum_dim(2).sum_dim(1).flatten::<1>(0, 3));
        for (i, &t) in targets.iter().enumerate() {
            let logit = logits[i * 4 + t];
            let error = (sums[i] - logit).abs() / logit.abs().max(1.0);
            println!(
                "{name}: image {i} Σ R = {:.15} logit {logit:.15} ({error:.1e})",
                sums[i]
            );
            assert!(error < 1e-12, "{name}: Σ R = {} ≠ logit {logit}", sums[i]);
        }
    }
}

#[test]
fn integrated_gradients_accept_any_composite() {
    use learnprop::method::{GuidedBackprop, IntegratedGradientsConfig, Quadrature};
    let model = fixture_cnn();
    let x = normal_images(2);
    let targets = [2, 5];
    let config = IntegratedGradientsConfig::new()
        .with_steps(6)
        .with_steps_per_batch(4);
    // No entries: the true gradient, so plain integrated gradients, bit for bit.
    let plain = values(
        &config
            .init()
            .unwrap()
            .attribute(&model, &x, &targets)
            .unwrap(),
    );
    let empty = config.init().unwrap().with_rules(Composite::new());
    assert_eq!(
        values(&empty.attribute(&model, &x, &targets).unwrap()),
        plain
    );
    // One Gauss–Legendre point (α = ½, weight 1): (x − 0) ⊙ the guided
    // gradient at x/2.
    let one = IntegratedGradientsConfig::new()
        .with_steps(1)
        .with_quadrature(Quadrature::GaussLegendre)
        .init()
        .unwrap()
        .with_rules(Composite::guided());
    let guided_ig = values(&one.attribute(&model, &x, &targets).unwrap());
    let half = x.clone().mul_scalar(0.5);
    let expected =
        values(&(GuidedBackprop.attribute(&model, &half, &targets).unwrap() * x.clone()));
    let error = scaled_error(&guided_ig, &expected);
    assert!(error < 1e-14, "guided IG: {error:.2e}");
}

#[test]
fn the_last_weighted_layer_is_found_by_the_method() {
    use learnprop::method::gradient_with;
    let model = fixture_cnn();
    let x = normal_images(1);
    let base = Composite::lrp_base(1e-6)
        .unwrap()
        .with(Select::Weighted, Epsilon::new(1e-6).unwrap());
    let map = |c: Composite| {
        values(
            &RuleGradient::new("lrp", c, Seed::Logit)
                .attribute(&model, &x, &[4])
                .unwrap(),
        )
    };
    let big = Epsilon::new(0.5).unwrap();
    let last = map(base.clone().with(Select::LastWeighted, big));
    assert_eq!(
        last,
        map(base.clone().with(Select::Name("fc2".into()), big))
    );
    assert!(scaled_error(&last, &map(base.clone())) > 1e-6);
    // Run by hand, the composite needs to be told which site is last.
    let composite = base.with(Select::LastWeighted, big);
    let err = gradient_with(&model, &x, &[4], &mut composite.rule(), Seed::Logit).unwrap_err();
    assert!(matches!(err, learnprop::Error::Unsupported(_)), "{err}");
    let by_hand = gradient_with(
        &model,
        &x,
        &[4],
        &mut composite.rule().with_last_weighted(8),
        Seed::Logit,
    )
    .unwrap();
    assert_eq!(values(&by_hand), last);
}

#[test]
fn bad_rule_settings_and_rules_that_do_not_fit_are_errors() {
    use learnprop::rule::Pass;
    use learnprop::Error;
    let invalid = |r: learnprop::Result<()>| matches!(r, Err(Error::InvalidConfig { .. }));
    for bad in [f64::NAN, -1.0, f64::INFINITY] {
        assert!(invalid(Epsilon::new(bad).map(drop)), "ε {bad}");
        assert!(invalid(AlphaBeta::z_plus(bad).map(drop)), "z+ {bad}");
        assert!(invalid(Gamma::new(bad, 1e-6).map(drop)), "γ {bad}");
        assert!(
            invalid(Gamma::new(0.25, bad).map(drop)),
            "γ stabiliser {bad}"
        );
        assert!(invalid(Flat::new(bad).map(drop)), "flat {bad}");
        assert!(invalid(WSquare::new(bad).map(drop)), "w² {bad}");
        // A negative bound is a bound; a negative stabiliser is not.
        assert!(
            invalid(ZBox::new(vec![0.0], vec![1.0], bad).map(drop)),
            "zB stabiliser {bad}"
        );
        if !bad.is_finite() {
            assert!(
                invalid(ZBox::new(vec![bad], vec![1.0], 1e-6).map(drop)),
                "zB {bad}"
            );
        }
        assert!(
            invalid(Composite::epsilon_plus(bad, 1e-6).map(drop)),
            "EpsilonPlus {bad}"
        );
    }
    assert!(
        invalid(AlphaBeta::new(2.0, 0.5, 1e-6).map(drop)),
        "α − β ≠ 1"
    );
    assert!(
        invalid(AlphaBeta::new(-1.0, -2.0, 1e-6).map(drop)),
        "negative α, β"
    );
    assert!(
        invalid(ZBox::new(vec![], vec![], 1e-6).map(drop)),
        "no bounds"
    );
    assert!(
        invalid(ZBox::new(vec![1.0], vec![0.0], 1e-6).map(drop)),
        "low > high"
    );
    assert!(
        invalid(ZBox::new(vec![0.0, 0.0], vec![1.0], 1e-6).map(drop)),
        "unequal counts"
    );
    assert!(learnprop::method::CamConfig::new()
        .with_masks_per_batch(100_000)
        .score_cam()
        .is_err());

    let model = fixture_cnn();
    let x = normal_images(1);
    let run = |c: Composite| RuleGradient::new("r", c, Seed::Logit).attribute(&model, &x, &[0]);
    // Two per-channel bounds for a three-channel input layer.
    let zbox = ZBox::new(vec![0.0, 0.0], vec![1.0, 1.0], 1e-6).unwrap();
    let err = run(Composite::new().with(Select::FirstWeighted, zbox)).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    // Relevance cannot pass a convolution that changes the shape unchanged.
    let err = run(Composite::new().with(Select::Convolutions, Pass)).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}
