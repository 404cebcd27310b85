//! `Explainer::attribute` on the fixture CNN (trained weights), 20
//! iterations, ndarray f32, batch 1 and 16 — the figures compared with the
//! PyTorch reference (`torch_ref.py bench --arch fixture-cnn`).

use std::path::Path;

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use learnprop::weights::WeightFile;
use learnprop::zoo::FixtureCnnConfig;
use learnprop::{Cpu, ExplainerConfig};

fn attribute(c: &mut Criterion) {
    let device = Default::default();
    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captum/model-b.safetensors");
    let model = WeightFile::new(weights)
        .load(FixtureCnnConfig::new().init::<Cpu>(&device))
        .expect("fixture weights");
    let explainer = ExplainerConfig::new()
        .with_iterations(20)
        .init::<Cpu>()
        .unwrap();
    let mut group = c.benchmark_group("attribute/fixture-cnn/20-iterations");
    group.sample_size(10);
    for batch in [1usize, 16] {
        <Cpu as Backend>::seed(&device, 1);
        let images =
            Tensor::<Cpu, 4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let targets: Vec<usize> = (0..batch).map(|i| i % 10).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &batch, |b, _| {
            b.iter(|| explainer.attribute(&model, &images, &targets).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, attribute);
criterion_main!(benches);
