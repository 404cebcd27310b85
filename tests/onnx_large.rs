//! The large ONNX exports of `.ci/fetch-data` in f32: torchvision ResNet-18
//! and VGG-16 (seeded weights) and EfficientNet-Lite0 (ImageNet weights)
//! against PyTorch's logits, and EfficientNet-Lite0 on the ImageNet samples.

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use common::{large_onnx, read_safetensors, scaled_error, values};
use learnprop::data::{load_photo, preprocess_photo, PhotoPreprocessing};
use learnprop::onnx::OnnxModel;
use learnprop::{Cpu, Explainable};

type Plain = learnprop::backend::Base<Cpu>;

fn logits_match(name: &str, files: &[&str]) {
    let tensors = read_safetensors(&large_onnx(&format!("{name}.expected.safetensors")));
    let input = &tensors["input"];
    let shape: [usize; 4] = input.shape.clone().try_into().unwrap();
    let images = Tensor::<Plain, 4>::from_data(
        TensorData::new(input.values.clone(), shape).convert::<f32>(),
        &Default::default(),
    );
    for file in files {
        let start = std::time::Instant::now();
        let model = OnnxModel::<Plain>::from_file(large_onnx(file), &Default::default()).unwrap();
        let loaded = start.elapsed();
        let err = scaled_error(
            &values(&model.logits(images.clone())),
            &tensors["logits"].values,
        );
        println!(
            "{file}: logits scaled error {err:.2e} (f32), loaded in {loaded:.2?}, {} nodes",
            model.nodes().len()
        );
        assert!(err <= 1e-5, "{file}: {err:e}");
    }
}

#[test]
#[ignore = "needs the ONNX exports of .ci/fetch-data"]
fn resnet18_vgg16_and_efficientnet_equal_pytorch_in_f32() {
    logits_match("resnet18", &["resnet18-op13.onnx"]);
    logits_match("vgg16", &["vgg16-op13.onnx"]);
    logits_match(
        "efficientnet-lite0",
        &[
            "efficientnet-lite0-op13.onnx",
            "efficientnet-lite0-op18.onnx",
        ],
    );
}

#[test]
#[ignore = "needs the ONNX exports and sample photos of .ci/fetch-data"]
fn efficientnet_from_onnx_classifies_the_imagenet_samples() {
    let samples = common::imagenet_samples();
    for file in [
        "efficientnet-lite0-op13.onnx",
        "efficientnet-lite0-op18.onnx",
    ] {
        let model = OnnxModel::<Plain>::from_file(large_onnx(file), &Default::default()).unwrap();
        let mut top1 = 0;
        for (photo, label) in &samples {
            let x = preprocess_photo::<Plain>(
                &load_photo(photo).unwrap(),
                &PhotoPreprocessing::efficientnet_lite(),
                &Default::default(),
            )
            .unwrap();
            let predicted = model.logits(x).argmax(1).into_scalar().elem::<i64>() as usize;
            top1 += usize::from(predicted == *label);
        }
        println!("{file}: top-1 {top1}/20 on the ImageNet samples");
        assert_eq!(top1, 17, "{file}");
    }
}
