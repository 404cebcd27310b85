//! ONNX models exported by PyTorch, in f64: logits against PyTorch's, and
//! every method's maps against the same zoo model's.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{
    device64, maps_agree, method_maps, onnx_fixture, read_safetensors, scaled_error, values, Array,
    Methods,
};
use learnprop::method::{
    Deconvnet, DeepLiftConfig, EpsilonLrpConfig, GradCamConfig, GuidedBackprop, InputXGradient,
    IntegratedGradientsConfig, NoiseTunnelConfig, OcclusionConfig, Saliency,
};
use learnprop::onnx::OnnxModel;
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig, MnistCnn};
use learnprop::{check_model, Explainable, SiteKind};

type B = common::Cpu64;

fn tensor4(a: &Array, device: &burn::tensor::Device<B>) -> Tensor<B, 4> {
    let shape: [usize; 4] = a.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(a.values.clone(), shape), device)
}

/// Logits of each export of `name` against PyTorch's.
fn logits_match(name: &str, opsets: &[u32], tolerance: f64) {
    let device = device64();
    let expected = read_safetensors(&onnx_fixture(&format!("{name}.expected.safetensors")));
    let input = tensor4(&expected["input"], &device);
    for opset in opsets {
        let file = format!("{name}-op{opset}.onnx");
        let model = OnnxModel::<B>::from_file(onnx_fixture(&file), &device).unwrap();
        assert_eq!(model.opset(), *opset as i64);
        let err = scaled_error(
            &values(&model.logits(input.clone())),
            &expected["logits"].values,
        );
        println!("{file}: logits scaled error {err:.2e} (f64)");
        assert!(err <= tolerance, "{file}: {err:e}");
    }
}

#[test]
fn fixture_cnn_logits_equal_pytorch_in_f64() {
    logits_match("fixture-cnn-f64", &[13, 18], 1e-12);
}

#[test]
fn every_supported_op_equals_pytorch_in_f64() {
    logits_match("ops-net", &[13, 18], 1e-12);
    let device = device64();
    for opset in [13, 18] {
        let model =
            OnnxModel::<B>::from_file(onnx_fixture(&format!("ops-net-op{opset}.onnx")), &device)
                .unwrap();
        assert!(model.ends_in_softmax());
        let report = check_model(&model, &Tensor::<B, 4>::ones([2, 3, 16, 16], &device)).unwrap();
        let all: Vec<String> = report
            .sites
            .iter()
            .map(|s| format!("{:?}", s.kind))
            .collect();
        println!("opset {opset}: {all:?}");
        let kinds: Vec<String> = report
            .sites
            .iter()
            .filter_map(|s| match s.kind {
                SiteKind::Activation(a) => Some(format!("{a:?}")),
                SiteKind::MaxPool { .. } => Some("MaxPool".to_string()),
                _ => None,
            })
            .collect();
        // Convolutions, the linear layer and the average pools are sites too.
        for kind in [SiteKind::Convolution, SiteKind::Linear, SiteKind::AvgPool] {
            assert!(
                report.sites.iter().any(|s| s.kind == kind),
                "opset {opset}: no {kind:?} site"
            );
        }
        let expected = [
            "Relu6", "Sigmoid", "Tanh", "Silu", "Gelu", "MaxPool", "Tanh", "Relu",
        ];
        assert_eq!(kinds, expected, "opset {opset}: sites");
    }
}

#[test]
fn hard_swish_and_hard_sigmoid_equal_pytorch_in_f64() {
    logits_match("mobile-ops", &[13, 18], 1e-12);
    let device = device64();
    for opset in [13, 18] {
        let model =
            OnnxModel::<B>::from_file(onnx_fixture(&format!("mobile-ops-op{opset}.onnx")), &device)
                .unwrap();
        let report = check_model(&model, &Tensor::<B, 4>::ones([2, 3, 12, 12], &device)).unwrap();
        let kinds: Vec<SiteKind> = report
            .sites
            .iter()
            .map(|s| s.kind)
            .filter(|k| matches!(k, SiteKind::Activation(_)))
            .collect();
        use learnprop::Activation::{HardSigmoid, HardSwish};
        assert_eq!(
            kinds,
            [
                SiteKind::Activation(HardSwish),
                SiteKind::Activation(HardSigmoid)
            ],
            "opset {opset}"
        );
    }
}

/// The fixture CNN with `model-b`, as the zoo builds it.
fn zoo_fixture(device: &burn::tensor::Device<B>) -> FixtureCnn<B> {
    WeightFile::new(common::fixture_dir().join("model-b.safetensors"))
        .load(FixtureCnnConfig::new().init::<B>(device))
        .unwrap()
}

macro_rules! methods {
    ($model:ty) => {{
        let list: Methods<$model> = vec![
            ("saliency", Box::new(Saliency::signed())),
            ("input × gradient", Box::new(InputXGradient)),
            (
                "integrated gradients",
                Box::new(
                    IntegratedGradientsConfig::new()
                        .with_steps(16)
                        .init()
                        .unwrap(),
                ),
            ),
            ("guided backprop", Box::new(GuidedBackprop)),
            ("deconvnet", Box::new(Deconvnet)),
            ("DeepLIFT", Box::new(DeepLiftConfig::new().init().unwrap())),
            ("ε-LRP", Box::new(EpsilonLrpConfig::new().init().unwrap())),
            (
                "Grad-CAM",
                Box::new(GradCamConfig::new().with_site(Some(4)).init()),
            ),
            (
                "occlusion",
                Box::new(OcclusionConfig::new([1, 7, 7], [1, 7, 7]).init().unwrap()),
            ),
            (
                "SmoothGrad",
                Box::new(
                    NoiseTunnelConfig::new()
                        .with_samples(4)
                        .init(Saliency::signed())
                        .unwrap(),
                ),
            ),
        ];
        list
    }};
}

#[test]
fn fixture_cnn_maps_equal_the_zoo_model_for_every_method() {
    let device = device64();
    let zoo = zoo_fixture(&device);
    let images = tensor4(
        &read_safetensors(&onnx_fixture("fixture-cnn.expected.safetensors"))["input"],
        &device,
    )
    .slice([0..2, 0..3, 0..32, 0..32]);
    let targets = [3, 7];
    let expected = method_maps(&zoo, methods!(FixtureCnn<B>), &images, &targets, 5);
    for opset in [13, 18] {
        let onnx = OnnxModel::<B>::from_file(
            onnx_fixture(&format!("fixture-cnn-op{opset}.onnx")),
            &device,
        )
        .unwrap();
        let onnx_maps = method_maps(&onnx, methods!(OnnxModel<B>), &images, &targets, 5);
        maps_agree(&format!("fixture CNN op{opset}"), &onnx_maps, &expected);
    }
}

#[test]
fn mnist_cnn_behind_a_softmax_explains_the_zoo_models_logits() {
    let device = device64();
    let zoo: MnistCnn<B> = learnprop::zoo::pretrained::mnist_cnn(&device).unwrap();
    let onnx = OnnxModel::<B>::from_file(onnx_fixture("mnist-cnn-op13.onnx"), &device).unwrap();
    assert!(onnx.ends_in_softmax());
    let images = tensor4(
        &read_safetensors(&onnx_fixture("mnist-cnn.expected.safetensors"))["input"],
        &device,
    );
    let err = scaled_error(
        &values(&onnx.logits(images.clone())),
        &values(&zoo.logits(images.clone())),
    );
    assert!(err <= 1e-12, "logits: {err:e}");
    let targets = [0, 4, 9];
    maps_agree(
        "MNIST CNN",
        &method_maps(&onnx, methods!(OnnxModel<B>), &images, &targets, 5),
        &method_maps(&zoo, methods!(MnistCnn<B>), &images, &targets, 5),
    );
}
