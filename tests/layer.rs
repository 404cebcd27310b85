//! Layer and neuron attributions in f64 against Captum 0.9.0 on the fixture
//! CNN (`tests/fixtures/layer/make.py`).

mod common;

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{device64, fixture_dir, read_safetensors, scaled_error, values};
use learnprop::method::{
    Baseline, IntegratedGradientsConfig, LayerConductance, LayerGradientXActivation,
    LayerIntegratedGradients, Method, Neuron, NeuronGradient, NeuronIntegratedGradients,
    Quadrature,
};
use learnprop::rule::Select;
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::Error;

type B = common::Cpu64;

fn site(name: &str) -> Select {
    match name {
        // fc1's ReLU: the eighth site (conv1, ReLU, pool, conv2, ReLU, pool, fc1, ReLU).
        "relu3" => Select::Index(7),
        _ => Select::Name(name.into()),
    }
}

fn integration() -> IntegratedGradientsConfig {
    IntegratedGradientsConfig::new()
        .with_steps(16)
        .with_quadrature(Quadrature::GaussLegendre)
}

fn setup() -> (
    FixtureCnn<B>,
    Tensor<B, 4>,
    Vec<usize>,
    std::collections::HashMap<String, common::Array>,
) {
    let device = device64();
    let model = WeightFile::new(fixture_dir().join("model-b.safetensors"))
        .load(FixtureCnnConfig::new().init::<B>(&device))
        .unwrap();
    let data = read_safetensors(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layer/fixture-cnn.safetensors"),
    );
    let input = &data["input"];
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let x = Tensor::from_data(TensorData::new(input.values.clone(), shape), &device);
    let targets = data["target"].values.iter().map(|&t| t as usize).collect();
    (model, x, targets, data)
}

fn check(
    name: &str,
    method: &dyn Method<B, FixtureCnn<B>>,
    model: &FixtureCnn<B>,
    x: &Tensor<B, 4>,
    targets: &[usize],
    expected: &common::Array,
) {
    let map = method.attribute(model, x, targets).unwrap();
    let error = scaled_error(&values(&map), &expected.values);
    println!("{name}: scaled error vs the reference {error:.2e}");
    assert!(error < 1e-10, "{name}: {error:.2e}");
}

#[test]
fn layer_attributions_equal_captum() {
    let (model, x, targets, data) = setup();
    for layer in ["conv2", "fc1", "relu3"] {
        let gxa = LayerGradientXActivation { site: site(layer) };
        check(
            &format!("LayerGradientXActivation {layer}"),
            &gxa,
            &model,
            &x,
            &targets,
            &data[&format!("layer_gxa.{layer}")],
        );
        let lig = LayerIntegratedGradients::new(site(layer), &integration()).unwrap();
        check(
            &format!("LayerIntegratedGradients {layer}"),
            &lig,
            &model,
            &x,
            &targets,
            &data[&format!("layer_ig.{layer}")],
        );
        let conductance = LayerConductance::new(
            site(layer),
            16,
            Quadrature::GaussLegendre,
            Baseline::Zero,
            7,
        )
        .unwrap();
        check(
            &format!("LayerConductance {layer}"),
            &conductance,
            &model,
            &x,
            &targets,
            &data[&format!("layer_conductance.{layer}")],
        );
    }
}

#[test]
fn neuron_attributions_equal_captum() {
    let (model, x, targets, data) = setup();
    for (layer, position) in [("conv2", vec![3, 4, 5]), ("fc1", vec![7])] {
        let neuron = Neuron {
            site: site(layer),
            position,
        };
        let gradient = NeuronGradient {
            neuron: neuron.clone(),
        };
        check(
            &format!("NeuronGradient {layer}"),
            &gradient,
            &model,
            &x,
            &targets,
            &data[&format!("neuron_gradient.{layer}")],
        );
        let ig =
            NeuronIntegratedGradients::new(neuron, &integration().with_steps_per_batch(5)).unwrap();
        check(
            &format!("NeuronIntegratedGradients {layer}"),
            &ig,
            &model,
            &x,
            &targets,
            &data[&format!("neuron_ig.{layer}")],
        );
    }
}

#[test]
fn conductance_sums_to_integrated_gradients_of_the_logit() {
    // Completeness through a layer every path crosses: Σ conductance over
    // conv2's units = Σ integrated gradients of the input.
    let (model, x, targets, _) = setup();
    let conductance = LayerConductance::new(
        site("conv2"),
        64,
        Quadrature::GaussLegendre,
        Baseline::Zero,
        65,
    )
    .unwrap()
    .attribute(&model, &x, &targets)
    .unwrap();
    let logits = values(&learnprop::Explainable::logits(&model, x.clone()));
    let reference = values(&learnprop::Explainable::logits(&model, x.zeros_like()));
    let sums = values(
        &conductance
            .sum_dim(3)
            .sum_dim(2)
            .sum_dim(1)
            .flatten::<1>(0, 3),
    );
    for (i, &t) in targets.iter().enumerate() {
        let expected = logits[i * 10 + t] - reference[i * 10 + t];
        println!(
            "image {i}: Σ conductance {} vs F(x) − F(0) {expected}",
            sums[i]
        );
        assert!((sums[i] - expected).abs() < 0.05 * expected.abs().max(1.0));
    }
}

#[test]
fn bad_sites_and_neurons_are_errors() {
    let (model, x, targets, _) = setup();
    let missing = LayerGradientXActivation {
        site: Select::Name("conv9".into()),
    };
    let err = missing.attribute(&model, &x, &targets).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("conv9"), "{err}");
    let outside = NeuronGradient {
        neuron: Neuron {
            site: site("conv2"),
            position: vec![16, 0, 0],
        },
    };
    assert!(matches!(
        outside.attribute(&model, &x, &targets),
        Err(Error::Unsupported(_))
    ));
    let wrong_rank = NeuronGradient {
        neuron: Neuron {
            site: site("fc1"),
            position: vec![1, 2],
        },
    };
    assert!(matches!(
        wrong_rank.attribute(&model, &x, &targets),
        Err(Error::Unsupported(_))
    ));
    assert!(LayerConductance::new(
        site("conv2"),
        0,
        Quadrature::GaussLegendre,
        Baseline::Zero,
        1
    )
    .is_err());
}

#[test]
fn grad_cam_plus_plus_and_score_cam_equal_pytorch_grad_cam() {
    let (model, x, targets, data) = setup();
    let config = learnprop::method::CamConfig::new();
    // The last spatial activation, conv2's ReLU, is the default site.
    check(
        "Grad-CAM++",
        &config.grad_cam_plus_plus(),
        &model,
        &x,
        &targets,
        &data["grad_cam_plus_plus"],
    );
    let score = config.with_masks_per_batch(5).score_cam().unwrap();
    let map = score.attribute(&model, &x, &targets).unwrap();
    let error = scaled_error(&values(&map), &data["score_cam"].values);
    println!("Score-CAM: scaled error vs pytorch-grad-cam {error:.2e} (its scores are f32)");
    assert!(error < 1e-6, "Score-CAM: {error:.2e}");
    assert!(learnprop::method::CamConfig::new()
        .with_masks_per_batch(0)
        .score_cam()
        .is_err());
    let dense = learnprop::method::CamConfig::new()
        .with_site(Some(7))
        .grad_cam_plus_plus();
    assert!(matches!(
        dense.attribute(&model, &x, &targets),
        Err(Error::Unsupported(_))
    ));
}

#[test]
#[ignore = "needs the exports of .ci/fetch-data"]
fn resnet18_layer_and_neuron_attributions_equal_captum() {
    use learnprop::zoo::{ResNet18, ResNet18Config};
    let device = device64();
    let model = WeightFile::new(common::large_onnx("resnet18.safetensors"))
        .with_key_remappings(ResNet18::<B>::torchvision_key_remapping())
        .load(ResNet18Config::new().init::<B>(&device))
        .unwrap();
    let data = read_safetensors(&common::large_onnx("layer-resnet18.safetensors"));
    let input = &data["input"];
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let x = Tensor::<B, 4>::from_data(TensorData::new(input.values.clone(), shape), &device);
    let targets: Vec<usize> = data["target"].values.iter().map(|&t| t as usize).collect();
    let name = |n: &str| Select::Name(n.into());
    let steps = IntegratedGradientsConfig::new()
        .with_steps(8)
        .with_quadrature(Quadrature::GaussLegendre);
    type Boxed = Box<dyn Method<B, ResNet18<B>>>;
    let methods: Vec<(&str, Boxed)> = vec![
        (
            "layer_gxa.layer4.1",
            Box::new(LayerGradientXActivation {
                site: name("layer4.1"),
            }),
        ),
        (
            "layer_ig.layer3.0.conv2",
            Box::new(LayerIntegratedGradients::new(name("layer3.0.conv2"), &steps).unwrap()),
        ),
        (
            "layer_conductance.layer4.0.conv1",
            Box::new(
                LayerConductance::new(
                    name("layer4.0.conv1"),
                    8,
                    Quadrature::GaussLegendre,
                    Baseline::Zero,
                    9,
                )
                .unwrap(),
            ),
        ),
        (
            "neuron_gradient.layer3.1.conv1",
            Box::new(NeuronGradient {
                neuron: Neuron {
                    site: name("layer3.1.conv1"),
                    position: vec![5, 1, 2],
                },
            }),
        ),
        (
            "neuron_ig.layer2.0.conv2",
            Box::new(
                NeuronIntegratedGradients::new(
                    Neuron {
                        site: name("layer2.0.conv2"),
                        position: vec![7, 3, 3],
                    },
                    &steps,
                )
                .unwrap(),
            ),
        ),
    ];
    for (key, method) in methods {
        let map = method.attribute(&model, &x, &targets).unwrap();
        let error = scaled_error(&values(&map), &data[key].values);
        println!("ResNet-18 {key}: scaled error vs Captum {error:.2e}");
        assert!(error < 1e-10, "ResNet-18 {key}: {error:.2e}");
    }
}
