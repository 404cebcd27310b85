//! Every bad input gets its `Err`, never a panic.

mod common;

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::{
    ops, Activation, Error, Explainable, ExplainerConfig, GateShape, Hook, MaskStrategy,
};

type D2 = common::Cpu64;
use common::device64;

fn model() -> FixtureCnn<D2> {
    FixtureCnnConfig::new().init::<D2>(&device64())
}

fn images(n: usize) -> Tensor<D2, 4> {
    Tensor::ones([n, 3, 32, 32], &device64())
}

fn explain(model: &FixtureCnn<D2>, images: &Tensor<D2, 4>, targets: &[usize]) -> Error {
    ExplainerConfig::new()
        .with_iterations(1)
        .init::<D2>()
        .unwrap()
        .attribute(model, images, targets)
        .expect_err("bad input must be an error")
}

#[test]
fn empty_batch() {
    let err = explain(&model(), &images(0), &[]);
    assert!(matches!(err, Error::EmptyBatch), "{err}");
}

#[test]
fn wrong_channels() {
    let x = Tensor::<D2, 4>::ones([1, 1, 32, 32], &device64());
    let err = explain(&model(), &x, &[0]);
    assert!(
        matches!(
            err,
            Error::ChannelMismatch {
                expected: 3,
                found: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_image_size() {
    let x = Tensor::<D2, 4>::ones([1, 3, 28, 28], &device64());
    let err = explain(&model(), &x, &[0]);
    assert!(
        matches!(
            err,
            Error::ImageSize {
                expected: [32, 32],
                found: [28, 28]
            }
        ),
        "{err}"
    );
}

#[test]
fn target_count() {
    let err = explain(&model(), &images(2), &[1]);
    assert!(
        matches!(
            err,
            Error::TargetCount {
                images: 2,
                targets: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn target_out_of_range() {
    let err = explain(&model(), &images(2), &[1, 10]);
    assert!(
        matches!(
            err,
            Error::TargetOutOfRange {
                image: 1,
                target: 10,
                classes: 10
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("class 10"), "{err}");
}

#[test]
fn nan_and_infinity_in_images() {
    for (bad, index) in [
        (f64::NAN, 5),
        (f64::INFINITY, 77),
        (f64::NEG_INFINITY, 3071),
    ] {
        let mut values = vec![0.5; 2 * 3 * 32 * 32];
        values[3 * 32 * 32 + index] = bad;
        let x = Tensor::<D2, 4>::from_data(
            burn::tensor::TensorData::new(values, [2, 3, 32, 32]),
            &device64(),
        );
        let err = explain(&model(), &x, &[0, 0]);
        match err {
            Error::NonFiniteInput {
                image,
                index: i,
                value,
            } => {
                assert_eq!((image, i), (1, index));
                assert!(value.is_nan() == bad.is_nan());
            }
            other => panic!("expected NonFiniteInput, got {other}"),
        }
    }
}

struct Poison;

impl<B: Backend> ModuleMapper<B> for Poison {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        // Poison only fc1's bias, the one parameter of shape [32].
        let tensor = if tensor.dims().as_slice() == [32] {
            tensor.add_scalar(f64::NAN)
        } else {
            tensor
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[test]
fn nan_in_weights() {
    let poisoned = model().map(&mut Poison);
    let err = explain(&poisoned, &images(1), &[0]);
    match err {
        Error::NonFiniteWeights { parameter } => assert!(parameter.contains("fc1"), "{parameter}"),
        other => panic!("expected NonFiniteWeights, got {other}"),
    }
}

#[test]
fn overflowing_logits() {
    let huge = model().map(&mut Scale(1e120));
    let err = explain(&huge, &images(1), &[0]);
    assert!(matches!(err, Error::NonFiniteOutput { .. }), "{err}");
}

struct Scale(f64);

impl<B: Backend> ModuleMapper<B> for Scale {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.mul_scalar(self.0), mapper)
    }
}

/// A linear model that never calls its hook.
#[derive(Module, Debug)]
struct NoSites<B: Backend> {
    fc: Linear<B>,
}

impl<B: Backend> Explainable<B> for NoSites<B> {
    fn input_channels(&self) -> usize {
        1
    }
    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, _hook: &mut H) -> Tensor<B, 2> {
        ops::linear(&self.fc, images.flatten(1, 3))
    }
}

#[test]
fn model_without_activation_sites() {
    let net = NoSites::<D2> {
        fc: LinearConfig::new(4, 2).init(&device64()),
    };
    let x = Tensor::<D2, 4>::ones([1, 1, 2, 2], &device64());
    let err = ExplainerConfig::new()
        .init::<D2>()
        .unwrap()
        .attribute(&net, &x, &[0])
        .unwrap_err();
    assert!(matches!(err, Error::NoActivationSites), "{err}");
}

/// A model whose sites depend on the batch size (a broken hook contract).
#[derive(Module, Debug)]
struct Shifty<B: Backend> {
    fc: Linear<B>,
}

impl<B: Backend> Explainable<B> for Shifty<B> {
    fn input_channels(&self) -> usize {
        1
    }
    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        let extra = images.dims()[0] > 1;
        let mut x = ops::linear(&self.fc, images.flatten(1, 3));
        x = hook.activate(Activation::Relu, x);
        if extra {
            x = hook.activate(Activation::Tanh, x);
        }
        x
    }
}

#[test]
fn sites_that_change_between_forwards() {
    let net = Shifty::<D2> {
        fc: LinearConfig::new(4, 2).init(&device64()),
    };
    let x = Tensor::<D2, 4>::ones([2, 1, 2, 2], &device64());
    let err = ExplainerConfig::new()
        .init::<D2>()
        .unwrap()
        .attribute(&net, &x, &[0, 1])
        .unwrap_err();
    assert!(matches!(err, Error::SiteMismatch { .. }), "{err}");
}

#[test]
fn invalid_settings_name_the_setting() {
    let cases: Vec<(ExplainerConfig, &str)> = vec![
        (
            ExplainerConfig::new().with_learning_rate(0.0),
            "learning_rate",
        ),
        (
            ExplainerConfig::new().with_learning_rate(f64::NAN),
            "learning_rate",
        ),
        (ExplainerConfig::new().with_adam_beta1(1.0), "adam_beta1"),
        (ExplainerConfig::new().with_adam_beta2(-0.1), "adam_beta2"),
        (
            ExplainerConfig::new().with_adam_epsilon(0.0),
            "adam_epsilon",
        ),
        (
            ExplainerConfig::new().with_mask_loss_weight(-1.0),
            "mask_loss_weight",
        ),
        (
            ExplainerConfig::new().with_positive_centre(1.5),
            "positive_centre",
        ),
        (
            ExplainerConfig::new().with_negative_centre(f64::INFINITY),
            "negative_centre",
        ),
        (ExplainerConfig::new().with_sharpness(0.0), "sharpness"),
        (
            ExplainerConfig::new().with_initial_weight(f64::NAN),
            "initial_weight",
        ),
        (
            ExplainerConfig::new().with_mask(MaskStrategy::Gaussian { sigma: -2.0 }),
            "mask.sigma",
        ),
        (
            ExplainerConfig::new().with_mask(MaskStrategy::TopFraction { fraction: 0.0 }),
            "mask.fraction",
        ),
        (
            ExplainerConfig::new().with_mask(MaskStrategy::TopFraction { fraction: 1.0 }),
            "mask.fraction",
        ),
        (
            ExplainerConfig::new().with_gate(GateShape::Sigmoid { scale: 0.0 }),
            "gate.scale",
        ),
    ];
    for (config, name) in cases {
        match config.init::<D2>() {
            Err(Error::InvalidConfig { setting, .. }) => assert_eq!(setting, name),
            Err(other) => panic!("{name}: unexpected error {other}"),
            Ok(_) => panic!("{name}: invalid value accepted"),
        }
    }
    assert!(ExplainerConfig::new().init::<D2>().is_ok());
}

#[test]
fn weight_file_errors() {
    let dir = std::env::temp_dir().join(format!("learnprop-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = WeightFile::new(dir.join("absent.safetensors")).load(model());
    assert!(matches!(missing, Err(Error::Io { .. })), "{missing:?}");

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    let err = WeightFile::new(&garbage).load(model()).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");

    let unknown = dir.join("weights.onnx");
    std::fs::write(&unknown, b"x").unwrap();
    let err = WeightFile::new(&unknown).load(model()).unwrap_err();
    assert!(err.to_string().contains("unknown weight format"), "{err}");

    // A file lacking fc2 and one with a wrong shape.
    let write = |name: &str, tensors: Vec<(&str, Vec<usize>, Vec<f32>)>| {
        let bytes: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .zip(&bytes)
            .map(|((n, shape, _), b)| {
                (
                    n.to_string(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b)
                        .unwrap(),
                )
            })
            .collect();
        let path = dir.join(name);
        safetensors::serialize_to_file(views, None, &path).unwrap();
        path
    };
    let full = |fc2_bias: Vec<f32>| {
        vec![
            ("conv1.weight", vec![8, 3, 3, 3], vec![0.1; 216]),
            ("conv1.bias", vec![8], vec![0.0; 8]),
            ("conv2.weight", vec![16, 8, 3, 3], vec![0.1; 1152]),
            ("conv2.bias", vec![16], vec![0.0; 16]),
            ("fc1.weight", vec![32, 1024], vec![0.01; 32 * 1024]),
            ("fc1.bias", vec![32], vec![0.0; 32]),
            ("fc2.weight", vec![10, 32], vec![0.01; 320]),
            ("fc2.bias", vec![fc2_bias.len()], fc2_bias),
        ]
    };
    let ok = write("ok.safetensors", full(vec![0.0; 10]));
    assert!(WeightFile::new(&ok).load(model()).is_ok());

    let mut partial = full(vec![0.0; 10]);
    partial.truncate(6);
    let err = WeightFile::new(write("partial.safetensors", partial))
        .load(model())
        .unwrap_err();
    assert!(err.to_string().contains("fc2"), "{err}");

    let err = WeightFile::new(write("shape.safetensors", full(vec![0.0; 7])))
        .load(model())
        .unwrap_err();
    assert!(err.to_string().contains("fc2.bias"), "{err}");

    let mut nan = vec![0.0f32; 10];
    nan[3] = f32::NAN;
    let err = WeightFile::new(write("nan.safetensors", full(nan)))
        .load(model())
        .unwrap_err();
    assert!(matches!(err, Error::NonFiniteWeights { .. }), "{err}");

    let err = WeightFile::new(&ok)
        .with_key_remapping("(unclosed", "x")
        .load(model())
        .unwrap_err();
    assert!(err.to_string().contains("invalid key pattern"), "{err}");

    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn learned_gate_differences_that_do_not_fit_the_sites_are_a_site_mismatch() {
    type Inner = <D2 as burn::tensor::backend::AutodiffBackend>::InnerBackend;
    let model = model();
    let images = Tensor::<D2, 4>::ones([1, 3, 32, 32], &device64());
    let explainer = ExplainerConfig::new().init::<D2>().unwrap();
    let objective = explainer.objective(&model, &images, &[0]).unwrap();
    let gates: Vec<Tensor<Inner, 2>> = objective
        .initial_gates()
        .into_iter()
        .map(Tensor::from_inner)
        .collect();
    let too_small: Vec<_> = gates
        .iter()
        .map(|g| g.clone().slice([0..1, 0..1]))
        .collect();
    let sites = objective.site_indices().to_vec();
    for differences in [too_small, gates[..1].to_vec()] {
        let mut rule = learnprop::rule::LearnedGate::<D2>::with_differences(
            &sites,
            gates.clone(),
            differences,
        );
        let err = model.forward_with(images.clone(), &mut rule).unwrap_err();
        assert!(matches!(err, Error::SiteMismatch { .. }), "{err}");
    }
    // Gates for fewer sites than the forward visits.
    let mut rule = learnprop::rule::LearnedGate::<D2>::with_differences(
        &sites[..1],
        gates[..1].to_vec(),
        objective.initial_gates()[..1]
            .iter()
            .cloned()
            .map(Tensor::from_inner)
            .collect(),
    );
    let err = model.forward_with(images.clone(), &mut rule).unwrap_err();
    assert!(matches!(err, Error::SiteMismatch { .. }), "{err}");
}
