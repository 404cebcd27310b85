//! `Explainer::attribute` (the learned rules, f32, default CPU backend) on
//! the workloads `benches/side_by_side/compare.py` times against the
//! PyTorch reference: the fixture CNN (trained weights) and the CIFAR CNN
//! at batch 1 and 16 with 20 iterations, ResNet-18, VGG-16 and
//! EfficientNet-Lite0 at 224² with 2 iterations (seeded random weights).
//!
//! ```text
//! cargo bench --bench attribute
//! cargo bench --bench attribute -- cifar-cnn   # one group
//! ```
//!
//! Throughput is in images, so criterion's "elem/s" is images per second.

use std::path::Path;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use learnprop::model::Explainable;
use learnprop::weights::WeightFile;
use learnprop::zoo::{
    CifarCnnConfig, EfficientNetLite0Config, FixtureCnnConfig, ResNet18Config, Vgg16Config,
};
use learnprop::{Cpu, ExplainerConfig};

/// Benchmarks `iterations` learned-rule iterations of `model` on seeded
/// standard-normal images of `size`² at each batch size in `batches`.
fn learned<M>(
    c: &mut Criterion,
    name: &str,
    model: &M,
    size: usize,
    iterations: usize,
    batches: &[usize],
) where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<<Cpu as burn::tensor::backend::AutodiffBackend>::InnerBackend>,
{
    let device = Default::default();
    let explainer = ExplainerConfig::new()
        .with_iterations(iterations)
        .init::<Cpu>()
        .expect("valid settings");
    let mut group = c.benchmark_group(format!("attribute/{name}/{iterations}-iterations"));
    group.sample_size(10);
    for &batch in batches {
        <Cpu as Backend>::seed(&device, 1);
        let images = Tensor::<Cpu, 4>::random(
            [batch, model.input_channels(), size, size],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let targets: Vec<usize> = (0..batch).map(|i| i % 10).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, _| {
            b.iter(|| explainer.attribute(model, &images, &targets).unwrap())
        });
    }
    group.finish();
}

fn fixture_cnn(c: &mut Criterion) {
    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captum/model-b.safetensors");
    let model = WeightFile::new(weights)
        .load(FixtureCnnConfig::new().init::<Cpu>(&Default::default()))
        .expect("fixture weights");
    learned(c, "fixture-cnn", &model, 32, 20, &[1, 16]);
}

fn cifar_cnn(c: &mut Criterion) {
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 0);
    let model = CifarCnnConfig::new().init::<Cpu>(&device);
    learned(c, "cifar-cnn", &model, 32, 20, &[1, 16]);
}

fn imagenet_models(c: &mut Criterion) {
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 0);
    let resnet = ResNet18Config::new().init::<Cpu>(&device);
    learned(c, "resnet18-224", &resnet, 224, 2, &[1]);
    drop(resnet);
    let vgg = Vgg16Config::new().init::<Cpu>(&device);
    learned(c, "vgg16-224", &vgg, 224, 2, &[1]);
    drop(vgg);
    let efficientnet = EfficientNetLite0Config::new().init::<Cpu>(&device);
    learned(c, "efficientnet-lite0-224", &efficientnet, 224, 2, &[1]);
}

criterion_group!(benches, fixture_cnn, cifar_cnn, imagenet_models);
criterion_main!(benches);
