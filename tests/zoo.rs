//! The model zoo: shapes, weight files with PyTorch key names, end-to-end
//! attribution, and (ignored by default: they need `.ci/fetch-data`)
//! EfficientNet-Lite0 with its real ImageNet weights and the committed MNIST
//! CNNs on the full test sets.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use learnprop::data::{load_photo, preprocess_photo, LabelledImages, PhotoPreprocessing, Split};
use learnprop::weights::WeightFile;
use learnprop::zoo::{
    imagenet_classes, pretrained, CifarCnnConfig, EfficientNetLite0, EfficientNetLite0Config,
    MnistCnnConfig, ResNet18, ResNet18Config, Vgg16, Vgg16Config,
};
use learnprop::{Cpu, Explainable, ExplainerConfig};

type B = Cpu;
/// Inference without autodiff (no graph memory kept by forward-only loops).
type Plain = learnprop::backend::Base<Cpu>;

fn device() -> burn::tensor::Device<B> {
    Default::default()
}

fn random_images(shape: [usize; 4]) -> Tensor<B, 4> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &device())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("learnprop-zoo-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rewrites the keys of a safetensors file with `rename`.
fn rename_keys(from: &Path, to: &Path, rename: impl Fn(&str) -> String) {
    let bytes = std::fs::read(from).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, safetensors::tensor::TensorView)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (rename(&name), view))
        .collect();
    safetensors::serialize_to_file(tensors, None, to).unwrap();
}

fn max_difference(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn every_model_gives_logits_of_the_right_shape() {
    let d = device();
    let mnist = MnistCnnConfig::new().init::<B>(&d);
    assert_eq!(mnist.logits(random_images([2, 1, 28, 28])).dims(), [2, 10]);
    let cifar = CifarCnnConfig::new().init::<B>(&d);
    assert_eq!(cifar.logits(random_images([2, 3, 32, 32])).dims(), [2, 10]);
    let vgg = Vgg16Config::new().with_num_classes(7).init::<B>(&d);
    assert_eq!(vgg.logits(random_images([1, 3, 32, 32])).dims(), [1, 7]);
    let resnet = ResNet18Config::new().with_num_classes(5).init::<B>(&d);
    assert_eq!(resnet.logits(random_images([2, 3, 64, 48])).dims(), [2, 5]);
    let effnet = EfficientNetLite0Config::new().init::<B>(&d);
    assert_eq!(
        effnet.logits(random_images([1, 3, 64, 64])).dims(),
        [1, 1000]
    );
    // 4 652 008 parameters plus 42 016 batch-norm running statistics, as in
    // the PyTorch state dict.
    assert_eq!(effnet.num_params(), 4_694_024);
    assert_eq!(imagenet_classes().len(), 1000);
}

#[test]
fn weights_round_trip_through_pytorch_key_names() {
    let d = device();
    let dir = temp_dir("round-trip");

    // VGG-16 (small input, fewer classes to keep the file small).
    let vgg = Vgg16Config::new().with_num_classes(4).init::<B>(&d);
    let ours = dir.join("vgg.safetensors");
    WeightFile::new(&ours).save(&vgg).unwrap();
    let torch = dir.join("vgg-torchvision.safetensors");
    let conv_index = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
    rename_keys(&ours, &torch, |k| {
        let parts: Vec<&str> = k.split('.').collect();
        let i: usize = parts[1].parse().unwrap();
        match parts[0] {
            "features" => format!("features.{}.{}", conv_index[i], parts[2]),
            _ => format!("classifier.{}.{}", [0, 3, 6][i], parts[2]),
        }
    });
    let loaded = WeightFile::new(&torch)
        .with_key_remappings(Vgg16::<B>::torchvision_key_remapping())
        .load(Vgg16Config::new().with_num_classes(4).init::<B>(&d))
        .unwrap();
    let x = random_images([1, 3, 32, 32]);
    assert!(max_difference(vgg.logits(x.clone()), loaded.logits(x)) == 0.0);

    // ResNet-18, batch-norm statistics included.
    let resnet = ResNet18Config::new().with_num_classes(3).init::<B>(&d);
    let resnet = perturb_batch_norms(resnet);
    let ours = dir.join("resnet.safetensors");
    WeightFile::new(&ours).save(&resnet).unwrap();
    let torch = dir.join("resnet-torchvision.safetensors");
    rename_keys(&ours, &torch, |k| {
        k.replace(".downsample.conv.", ".downsample.0.")
            .replace(".downsample.bn.", ".downsample.1.")
    });
    let keys = safetensors_keys(&torch);
    assert!(
        keys.contains(&"layer2.0.downsample.1.running_var".to_string()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"bn1.weight".to_string()),
        "PyTorch names for batch norm: {keys:?}"
    );
    let loaded = WeightFile::new(&torch)
        .with_key_remappings(ResNet18::<B>::torchvision_key_remapping())
        .load(ResNet18Config::new().with_num_classes(3).init::<B>(&d))
        .unwrap();
    let x = random_images([2, 3, 40, 40]);
    assert!(max_difference(resnet.logits(x.clone()), loaded.logits(x)) == 0.0);

    // EfficientNet-Lite0 under the package's underscored names.
    let effnet = perturb_batch_norms(EfficientNetLite0Config::new().init::<B>(&d));
    let ours = dir.join("effnet.safetensors");
    WeightFile::new(&ours).save(&effnet).unwrap();
    let torch = dir.join("effnet-package.safetensors");
    rename_keys(&ours, &torch, |k| {
        k.split('.')
            .map(|p| {
                if p.parse::<usize>().is_ok()
                    || ["weight", "bias", "running_mean", "running_var"].contains(&p)
                {
                    p.to_string()
                } else {
                    format!("_{p}")
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    });
    assert!(safetensors_keys(&torch).contains(&"_blocks.3._depthwise_conv.weight".to_string()));
    let loaded = WeightFile::new(&torch)
        .with_key_remappings(EfficientNetLite0::<B>::pytorch_key_remapping())
        .load(EfficientNetLite0Config::new().init::<B>(&d))
        .unwrap();
    let x = random_images([1, 3, 64, 64]);
    assert!(max_difference(effnet.logits(x.clone()), loaded.logits(x)) == 0.0);
    std::fs::remove_dir_all(&dir).ok();
}

fn safetensors_keys(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.names().into_iter().map(|s| s.to_string()).collect()
}

/// Moves every float parameter (running statistics included) randomly by a
/// few per cent, so that a round trip that drops the statistics shows.
fn perturb_batch_norms<M: Module<B>>(model: M) -> M {
    struct Randomise;
    impl burn::module::ModuleMapper<B> for Randomise {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<B, D>>,
        ) -> burn::module::Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let scale = Tensor::<B, D>::random(
                tensor.shape(),
                Distribution::Uniform(0.9, 1.1),
                &tensor.device(),
            );
            let shift = Tensor::<B, D>::random(
                tensor.shape(),
                Distribution::Uniform(0.0, 0.05),
                &tensor.device(),
            );
            let fresh = tensor * scale + shift;
            burn::module::Param::from_mapped_value(id, fresh.detach(), mapper)
        }
    }
    model.map(&mut Randomise)
}

#[test]
fn random_vgg16_and_resnet18_explain_224_pixel_images() {
    let d = device();
    let explainer = ExplainerConfig::new()
        .with_iterations(1)
        .init::<B>()
        .unwrap();
    let image = random_images([1, 3, 224, 224]);

    let resnet = ResNet18Config::new().init::<B>(&d);
    let out = explainer.attribute(&resnet, &image, &[3]).unwrap();
    assert_eq!(out.signed.dims(), [1, 224, 224]);
    assert!(out.loss_trace[0][0].total.is_finite());
    let sum: f32 = out.signed.abs().sum().into_scalar();
    assert!(sum > 0.0 && sum.is_finite());

    let vgg = Vgg16Config::new().init::<B>(&d);
    let out = explainer.attribute(&vgg, &image, &[999]).unwrap();
    assert_eq!(out.signed.dims(), [1, 224, 224]);
    assert!(out.loss_trace[0][0].total.is_finite());
    let sum: f32 = out.signed.abs().sum().into_scalar();
    assert!(sum > 0.0 && sum.is_finite());
}

#[test]
fn committed_mnist_cnns_classify_the_committed_digits() {
    let d = Default::default();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist");
    for (name, model, normalisation) in [
        (
            "mnist",
            pretrained::mnist_cnn::<Plain>(&d).unwrap(),
            learnprop::data::Normalisation::mnist(),
        ),
        (
            "fashion-mnist",
            pretrained::fashion_mnist_cnn::<Plain>(&d).unwrap(),
            learnprop::data::Normalisation::fashion_mnist(),
        ),
    ] {
        let digits = LabelledImages::load_idx(
            dir.join(format!("{name}-test-images-idx3-ubyte.gz")),
            dir.join(format!("{name}-test-labels-idx1-ubyte.gz")),
        )
        .unwrap();
        let acc = learnprop::train::accuracy(&model, &digits, &normalisation, 64, &d).unwrap();
        println!(
            "{name}: {:.1} % of {} committed test images",
            100.0 * acc,
            digits.len()
        );
        // Measured: 31/32 (MNIST) and 27/32 (Fashion-MNIST); random weights get ~3/32.
        assert!(acc >= 0.75, "{name}: accuracy {acc}");
    }
}

fn efficientnet() -> EfficientNetLite0<Plain> {
    let path = common::data_dir().join("weights/efficientnet-lite0-57934424.pth");
    WeightFile::new(&path)
        .with_key_remappings(EfficientNetLite0::<Plain>::pytorch_key_remapping())
        .load(EfficientNetLite0Config::new().init::<Plain>(&Default::default()))
        .unwrap_or_else(|e| panic!("{e} (run .ci/fetch-data first)"))
}

#[test]
#[ignore = "needs the EfficientNet-Lite0 weights from .ci/fetch-data"]
fn efficientnet_matches_the_pytorch_logits_on_a_reference_input() {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/efficientnet/chelsea_reference.safetensors"),
    )
    .unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let read = |name: &str| -> Vec<f64> {
        let view = file.tensor(name).unwrap();
        match view.dtype() {
            safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                .collect(),
            _ => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
        }
    };
    let input = Tensor::<Plain, 4>::from_data(
        TensorData::new(read("input"), [1, 3, 224, 224]).convert::<f32>(),
        &Default::default(),
    );
    let expected = read("logits");
    let logits: Vec<f64> = efficientnet()
        .logits(input)
        .into_data()
        .iter::<f64>()
        .collect();
    let worst = logits
        .iter()
        .zip(&expected)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    println!("EfficientNet-Lite0 chelsea logits: max |Rust f32 − PyTorch f64| = {worst:.2e}");
    assert!(worst < 1e-3, "{worst}");
}

#[test]
#[ignore = "needs the EfficientNet-Lite0 weights and sample photos from .ci/fetch-data"]
fn efficientnet_classifies_the_imagenet_sample_photos() {
    let model = efficientnet();
    let classes = imagenet_classes();
    let (mut top1, mut top5) = (0, 0);
    let mut seen = HashMap::new();
    for (file, label) in common::imagenet_samples() {
        let file = &file;
        let photo = load_photo(file).unwrap();
        let x = preprocess_photo::<Plain>(
            &photo,
            &PhotoPreprocessing::efficientnet_lite(),
            &Default::default(),
        )
        .unwrap();
        let logits: Vec<f64> = model.logits(x).into_data().iter::<f64>().collect();
        let mut order: Vec<usize> = (0..1000).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        top1 += usize::from(order[0] == label);
        top5 += usize::from(order[..5].contains(&label));
        seen.insert(file.file_name().unwrap().to_owned(), order[0]);
        println!(
            "{}: predicted {} ({}), label {label} ({})",
            file.display(),
            order[0],
            classes[order[0]],
            classes[label]
        );
    }
    println!("EfficientNet-Lite0 on the 20 ImageNet samples: top-1 {top1}/20, top-5 {top5}/20");
    assert!(top1 >= 16 && top5 >= 18, "top-1 {top1}/20, top-5 {top5}/20");
}

#[test]
#[ignore = "needs the full MNIST and Fashion-MNIST test sets from .ci/fetch-data"]
fn committed_mnist_cnns_reach_their_accuracy_on_the_full_test_sets() {
    let d = Default::default();
    for (name, model, normalisation, floor) in [
        (
            "mnist",
            pretrained::mnist_cnn::<Plain>(&d).unwrap(),
            learnprop::data::Normalisation::mnist(),
            0.985,
        ),
        (
            "fashion-mnist",
            pretrained::fashion_mnist_cnn::<Plain>(&d).unwrap(),
            learnprop::data::Normalisation::fashion_mnist(),
            0.89,
        ),
    ] {
        let test =
            LabelledImages::load_mnist_layout(common::data_dir().join(name), Split::Test).unwrap();
        let acc = learnprop::train::accuracy(&model, &test, &normalisation, 500, &d).unwrap();
        println!("{name}: test accuracy {:.2} %", 100.0 * acc);
        assert!(acc >= floor, "{name}: {acc}");
    }
}
