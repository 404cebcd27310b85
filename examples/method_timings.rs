//! Times every attribution method with its default settings on the fixture
//! CNN (trained weights, ndarray, f32): seconds per image, median of three
//! runs on a batch of 8 random images.
//!
//! `cargo run --release --example method_timings`

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::method::{
    Deconvnet, DeepLiftConfig, EpsilonLrpConfig, ExtremalPerturbationConfig, GradCamConfig,
    GuidedBackprop, InputXGradient, IntegratedGradientsConfig, MeaningfulPerturbationConfig,
    Method, NoiseKind, NoiseTunnelConfig, OcclusionConfig, RiseConfig, Saliency,
};
use learnprop::random::Rng;
use learnprop::weights::WeightFile;
use learnprop::zoo::{FixtureCnn, FixtureCnnConfig};
use learnprop::{Cpu, ExplainerConfig};

type Boxed = Box<dyn Method<Cpu, FixtureCnn<Cpu>>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Default::default();
    let weights =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captum/model-b.safetensors");
    let model = WeightFile::new(weights).load(FixtureCnnConfig::new().init::<Cpu>(&device))?;
    let n = 8;
    let mut rng = Rng::new(1);
    let values: Vec<f32> = (0..n * 3 * 32 * 32).map(|_| rng.normal() as f32).collect();
    let images = Tensor::<Cpu, 4>::from_data(TensorData::new(values, [n, 3, 32, 32]), &device);
    let targets: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let smooth = |kind| {
        Box::new(
            NoiseTunnelConfig::new()
                .with_kind(kind)
                .init(Saliency::signed())
                .unwrap(),
        ) as Boxed
    };
    let methods: Vec<Boxed> = vec![
        Box::new(Saliency::signed()),
        Box::new(InputXGradient),
        Box::new(IntegratedGradientsConfig::new().init()?),
        smooth(NoiseKind::SmoothGrad),
        smooth(NoiseKind::SmoothGradSquared),
        smooth(NoiseKind::VarGrad),
        Box::new(GuidedBackprop),
        Box::new(Deconvnet),
        Box::new(DeepLiftConfig::new().init()?),
        Box::new(EpsilonLrpConfig::new().init()?),
        Box::new(GradCamConfig::new().init()),
        Box::new(OcclusionConfig::new([3, 4, 4], [3, 4, 4]).init()?),
        Box::new(RiseConfig::new().init()?),
        Box::new(MeaningfulPerturbationConfig::new().init()?),
        Box::new(ExtremalPerturbationConfig::new().init()?),
        Box::new(ExplainerConfig::new().init::<Cpu>()?.into_method()),
    ];
    println!("| method | s/image (median of 3, batch {n}) |");
    println!("|---|---|");
    for method in methods {
        let mut times = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            method.attribute(&model, &images, &targets)?;
            times.push(start.elapsed().as_secs_f64() / n as f64);
        }
        times.sort_by(f64::total_cmp);
        println!("| {} | {:.4} |", method.name(), times[1]);
    }
    Ok(())
}
