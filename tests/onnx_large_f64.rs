//! The large ONNX exports of `.ci/fetch-data` in f64: ResNet-18 exported in
//! double against PyTorch's logits, and the maps of ResNet-18, VGG-16 and
//! EfficientNet-Lite0 from ONNX against the same zoo models' maps.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{
    data_dir, device64, large_onnx, maps_agree, method_maps, read_safetensors, scaled_error,
    values, Methods,
};
use learnprop::method::{
    DeepLiftConfig, EpsilonLrpConfig, GradCamConfig, GuidedBackprop, IntegratedGradientsConfig,
    Saliency,
};
use learnprop::onnx::OnnxModel;
use learnprop::weights::WeightFile;
use learnprop::zoo::{
    EfficientNetLite0, EfficientNetLite0Config, ResNet18, ResNet18Config, Vgg16, Vgg16Config,
};
use learnprop::Explainable;

type B = common::Cpu64;

macro_rules! methods {
    ($model:ty) => {{
        let list: Methods<$model> = vec![
            ("saliency", Box::new(Saliency::signed())),
            (
                "integrated gradients",
                Box::new(
                    IntegratedGradientsConfig::new()
                        .with_steps(4)
                        .init()
                        .unwrap(),
                ),
            ),
            ("guided backprop", Box::new(GuidedBackprop)),
            ("DeepLIFT", Box::new(DeepLiftConfig::new().init().unwrap())),
            ("ε-LRP", Box::new(EpsilonLrpConfig::new().init().unwrap())),
            ("Grad-CAM", Box::new(GradCamConfig::new().init())),
        ];
        list
    }};
}

fn image(device: &burn::tensor::Device<B>, name: &str) -> Tensor<B, 4> {
    let tensors = read_safetensors(&large_onnx(&format!("{name}.expected.safetensors")));
    let input = &tensors["input"];
    let [_, c, h, w]: [usize; 4] = input.shape.clone().try_into().unwrap();
    Tensor::from_data(
        TensorData::new(input.values[..c * h * w].to_vec(), [1, c, h, w]),
        device,
    )
}

#[test]
#[ignore = "needs the ONNX exports of .ci/fetch-data"]
fn resnet18_exported_in_f64_equals_pytorch() {
    let device = device64();
    let tensors = read_safetensors(&large_onnx("resnet18-f64.expected.safetensors"));
    let input = &tensors["input"];
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let images = Tensor::<B, 4>::from_data(TensorData::new(input.values.clone(), shape), &device);
    let model = OnnxModel::<B>::from_file(large_onnx("resnet18-f64-op18.onnx"), &device).unwrap();
    let err = scaled_error(&values(&model.logits(images)), &tensors["logits"].values);
    println!("resnet18-f64-op18.onnx: logits scaled error {err:.2e} (f64)");
    assert!(err <= 1e-12, "{err:e}");
}

#[test]
#[ignore = "needs the ONNX exports of .ci/fetch-data"]
fn resnet18_and_vgg16_maps_equal_the_zoo_models() {
    let device = device64();
    let resnet = WeightFile::new(large_onnx("resnet18.safetensors"))
        .with_key_remappings(ResNet18::<B>::torchvision_key_remapping())
        .load(ResNet18Config::new().init::<B>(&device))
        .unwrap();
    let onnx = OnnxModel::<B>::from_file(large_onnx("resnet18-op13.onnx"), &device).unwrap();
    let x = image(&device, "resnet18");
    maps_agree(
        "ResNet-18",
        &method_maps(&onnx, methods!(OnnxModel<B>), &x, &[7], 2),
        &method_maps(&resnet, methods!(ResNet18<B>), &x, &[7], 2),
    );
    drop((resnet, onnx));
    let vgg = WeightFile::new(large_onnx("vgg16.safetensors"))
        .with_key_remappings(Vgg16::<B>::torchvision_key_remapping())
        .load(Vgg16Config::new().init::<B>(&device))
        .unwrap();
    let onnx = OnnxModel::<B>::from_file(large_onnx("vgg16-op13.onnx"), &device).unwrap();
    let x = image(&device, "vgg16");
    maps_agree(
        "VGG-16",
        &method_maps(&onnx, methods!(OnnxModel<B>), &x, &[3], 2),
        &method_maps(&vgg, methods!(Vgg16<B>), &x, &[3], 2),
    );
}

#[test]
#[ignore = "needs the ONNX exports and the EfficientNet-Lite0 weights of .ci/fetch-data"]
fn efficientnet_maps_equal_the_zoo_model() {
    let device = device64();
    let zoo = WeightFile::new(data_dir().join("weights/efficientnet-lite0-57934424.pth"))
        .with_key_remappings(EfficientNetLite0::<B>::pytorch_key_remapping())
        .load(EfficientNetLite0Config::new().init::<B>(&device))
        .unwrap();
    let onnx =
        OnnxModel::<B>::from_file(large_onnx("efficientnet-lite0-op13.onnx"), &device).unwrap();
    let x = image(&device, "efficientnet-lite0");
    maps_agree(
        "EfficientNet-Lite0",
        &method_maps(&onnx, methods!(OnnxModel<B>), &x, &[282], 2),
        &method_maps(&zoo, methods!(EfficientNetLite0<B>), &x, &[282], 2),
    );
}
