//! The classic methods on the CIFAR CNN (seeded random weights, f32,
//! default CPU backend, seeded standard-normal 32² images): integrated
//! gradients with 50 steps, SmoothGrad with 50 samples, guided backprop and
//! occlusion (3×4×4 windows, stride 4) on a batch of 16, and RISE (its
//! default 4000 masks, about 2.5 minutes for 16 images) on one image.
//! `benches/side_by_side/compare.py` times Captum's integrated gradients and
//! SmoothGrad on the same architecture.
//!
//! ```text
//! cargo bench --bench methods
//! ```

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use learnprop::method::{
    GuidedBackprop, IntegratedGradientsConfig, Method, NoiseTunnelConfig, OcclusionConfig,
    RiseConfig, Saliency,
};
use learnprop::zoo::{CifarCnn, CifarCnnConfig};
use learnprop::Cpu;

/// A method on the CIFAR CNN, boxed.
type Boxed = Box<dyn Method<Cpu, CifarCnn<Cpu>>>;

/// Benchmarks each method on a batch of `batch` images.
fn bench(c: &mut Criterion, batch: usize, methods: Vec<(&str, Boxed)>) {
    let device = Default::default();
    <Cpu as Backend>::seed(&device, 0);
    let model = CifarCnnConfig::new().init::<Cpu>(&device);
    <Cpu as Backend>::seed(&device, 1);
    let images =
        Tensor::<Cpu, 4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let targets: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let mut group = c.benchmark_group(format!("methods/cifar-cnn/batch-{batch}"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(batch as u64));
    for (name, method) in &methods {
        group.bench_function(*name, |b| {
            b.iter(|| method.attribute(&model, &images, &targets).unwrap())
        });
    }
    group.finish();
}

fn methods(c: &mut Criterion) {
    let batched: Vec<(&str, Boxed)> = vec![
        (
            "integrated-gradients-50",
            Box::new(
                IntegratedGradientsConfig::new()
                    .with_steps(50)
                    .init()
                    .expect("valid settings"),
            ),
        ),
        (
            "smoothgrad-50",
            Box::new(
                NoiseTunnelConfig::new()
                    .with_samples(50)
                    .init(Saliency::signed())
                    .expect("valid settings"),
            ),
        ),
        ("guided-backprop", Box::new(GuidedBackprop)),
        (
            "occlusion",
            Box::new(
                OcclusionConfig::new([3, 4, 4], [3, 4, 4])
                    .init()
                    .expect("valid settings"),
            ),
        ),
    ];
    bench(c, 16, batched);
    let rise: Boxed = Box::new(RiseConfig::new().init().expect("valid settings"));
    bench(c, 1, vec![("rise", rise)]);
}

criterion_group!(benches, methods);
criterion_main!(benches);
