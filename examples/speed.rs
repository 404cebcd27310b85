//! Times one attribution workload on the CPU backend: seconds per image
//! (median and minimum over repeats, after one warm-up run) and the peak
//! resident memory of the process.
//!
//! ```text
//! cargo run --release --example speed -- --arch cifar-cnn --batch 16
//! cargo run --release --example speed -- --arch vgg16 --iters 2 --repeats 1
//! cargo run --release --example speed -- --arch resnet18 --size 64 --method ig
//! ```
//!
//! Models have seeded random weights (the fixture CNN can take its trained
//! ones with `--weights tests/fixtures/captum/model-b.safetensors`); images
//! are seeded standard-normal noise; targets cycle through the classes.
//! The last line is machine-readable (`RESULT key=value …`) for
//! `.ci/bench-vs-torch`.
//!
//! Options: `--arch fixture-cnn|cifar-cnn|vgg16|resnet18|efficientnet-lite0`,
//! `--batch N` (1), `--iters K` (20, learned rules), `--size S` (the
//! model's own size; ResNet-18 and EfficientNet-Lite0 take any),
//! `--method learned|ig|smoothgrad|guided|occlusion|rise` (learned),
//! `--repeats R` (3), `--weights FILE`, `--seed S` (0), and with the `wgpu`
//! feature `--backend gpu` (default `cpu`): the run on `Gpu`, followed by
//! the scaled difference `max|gpu − cpu| / max|cpu|` of the first image's
//! map against the same run on `Cpu`.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, TensorData};
use learnprop::method::{
    GuidedBackprop, IntegratedGradientsConfig, Method, NoiseTunnelConfig, OcclusionConfig,
    RiseConfig, Saliency,
};
use learnprop::model::Explainable;
use learnprop::rule::RectifyBackend;
use learnprop::weights::WeightFile;
use learnprop::zoo::{
    CifarCnnConfig, EfficientNetLite0Config, FixtureCnnConfig, ResNet18Config, Vgg16Config,
};
use learnprop::{Cpu, ExplainerConfig};

/// A backend the learned rules run on.
trait Doubly: RectifyBackend<InnerBackend: AutodiffBackend> {}
impl<B: RectifyBackend<InnerBackend: AutodiffBackend>> Doubly for B {}

#[derive(Clone)]
struct Options {
    arch: String,
    batch: usize,
    iters: usize,
    size: Option<usize>,
    method: String,
    repeats: usize,
    weights: Option<String>,
    seed: u64,
    gpu: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        arch: "fixture-cnn".into(),
        batch: 1,
        iters: 20,
        size: None,
        method: "learned".into(),
        repeats: 3,
        weights: None,
        seed: 0,
        gpu: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: `{value}` is not a count"))
        };
        match flag.as_str() {
            "--arch" => o.arch = value.clone(),
            "--batch" => o.batch = number()?.max(1),
            "--iters" => o.iters = number()?,
            "--size" => o.size = Some(number()?),
            "--method" => o.method = value.clone(),
            "--repeats" => o.repeats = number()?.max(1),
            "--weights" => o.weights = Some(value.clone()),
            "--seed" => o.seed = number()? as u64,
            "--backend" => match value.as_str() {
                "cpu" => o.gpu = false,
                "gpu" if cfg!(feature = "wgpu") => o.gpu = true,
                _ => {
                    return Err(format!(
                        "--backend {value}: cpu, or gpu with the wgpu feature"
                    ))
                }
            },
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn main() {
    let options = match parse() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("speed: {message}");
            std::process::exit(2);
        }
    };
    let result = if options.gpu {
        gpu(&options)
    } else {
        by_arch::<Cpu>(&options, &Default::default()).map(|_| ())
    };
    if let Err(e) = result {
        eprintln!("speed: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "wgpu")]
fn gpu(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let on_gpu = by_arch::<learnprop::Gpu>(options, &Default::default())?;
    let single = Options {
        batch: 1,
        repeats: 1,
        ..options.clone()
    };
    let on_cpu = by_arch::<Cpu>(&single, &Default::default())?;
    let worst = on_gpu
        .iter()
        .zip(&on_cpu)
        .map(|(g, c)| (g - c).abs())
        .fold(0.0, f64::max);
    let scale = on_cpu.iter().map(|c| c.abs()).fold(0.0, f64::max);
    println!(
        "AGREEMENT gpu_vs_cpu_scaled_difference={:.3e}",
        worst / scale
    );
    Ok(())
}

#[cfg(not(feature = "wgpu"))]
fn gpu(_: &Options) -> Result<(), Box<dyn std::error::Error>> {
    Err("--backend gpu needs the wgpu feature".into())
}

/// Runs the workload on `B` and returns the first image's map.
fn by_arch<B: Doubly>(
    options: &Options,
    device: &B::Device,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    B::seed(device, options.seed);
    match options.arch.as_str() {
        "fixture-cnn" => run(options, FixtureCnnConfig::new().init::<B>(device), 32),
        "cifar-cnn" => run(options, CifarCnnConfig::new().init::<B>(device), 32),
        "vgg16" => run(options, Vgg16Config::new().init::<B>(device), 224),
        "resnet18" => run(options, ResNet18Config::new().init::<B>(device), 224),
        "efficientnet-lite0" => run(
            options,
            EfficientNetLite0Config::new().init::<B>(device),
            224,
        ),
        other => Err(format!("unknown architecture {other}").into()),
    }
}

fn method<B: Doubly, M>(options: &Options) -> Result<Box<dyn Method<B, M>>, learnprop::Error>
where
    M: Explainable<B> + AutodiffModule<B> + 'static,
    M::InnerModule: Explainable<B::InnerBackend>,
{
    Ok(match options.method.as_str() {
        "learned" => Box::new(
            ExplainerConfig::new()
                .with_iterations(options.iters)
                .init::<B>()?
                .into_method(),
        ),
        "ig" => Box::new(IntegratedGradientsConfig::new().init()?),
        "smoothgrad" => Box::new(NoiseTunnelConfig::new().init(Saliency::signed())?),
        "guided" => Box::new(GuidedBackprop),
        "occlusion" => Box::new(OcclusionConfig::new([3, 4, 4], [3, 4, 4]).init()?),
        "rise" => Box::new(RiseConfig::new().init()?),
        other => {
            return Err(learnprop::Error::InvalidConfig {
                setting: "method",
                value: other.to_string(),
                expected: "learned, ig, smoothgrad, guided, occlusion or rise",
            })
        }
    })
}

fn run<B: Doubly, M>(
    options: &Options,
    model: M,
    default_size: usize,
) -> Result<Vec<f64>, Box<dyn std::error::Error>>
where
    M: Explainable<B> + AutodiffModule<B> + 'static,
    M::InnerModule: Explainable<B::InnerBackend>,
{
    let device = model.devices().into_iter().next().unwrap_or_default();
    let model = match &options.weights {
        Some(path) => WeightFile::new(path).load(model)?,
        None => model,
    };
    let size = options.size.unwrap_or(default_size);
    let channels = model.input_channels();
    // The same images on every backend: drawn on the CPU, then copied.
    <Cpu as Backend>::seed(&Default::default(), options.seed + 1);
    let drawn = Tensor::<Cpu, 4>::random(
        [options.batch, channels, size, size],
        Distribution::Normal(0.0, 1.0),
        &Default::default(),
    )
    .into_data();
    let images = Tensor::<B, 4>::from_data(
        TensorData::new(drawn.iter::<f32>().collect(), drawn.shape.clone()),
        &device,
    );
    let classes = model.logits(images.clone().slice(0..1)).dims()[1];
    let targets: Vec<usize> = (0..options.batch).map(|i| i % classes).collect();
    let method = method::<B, M>(options)?;
    let first = method.attribute(&model, &images.clone().slice(0..1), &targets[..1])?;
    let mut times = Vec::with_capacity(options.repeats);
    for _ in 0..options.repeats {
        let start = Instant::now();
        let map = method.attribute(&model, &images, &targets)?;
        let _ = map.into_data();
        times.push(start.elapsed().as_secs_f64());
    }
    let whole: Vec<String> = times.iter().map(|t| format!("{t:.3}")).collect();
    times.sort_by(f64::total_cmp);
    let per_image = |t: f64| t / options.batch as f64;
    let median = per_image(times[times.len() / 2]);
    let min = per_image(times[0]);
    let rss = peak_rss_mib();
    println!(
        "arch={} size={size} batch={} method={} iters={} backend={} loadavg1={} runs (s, whole batch): {}",
        options.arch,
        options.batch,
        options.method,
        options.iters,
        B::name(&device),
        load_average(),
        whole.join(", ")
    );
    println!(
        "RESULT arch={} size={size} batch={} method={} iters={} median_s_per_image={median:.5} min_s_per_image={min:.5} peak_rss_mib={rss:.0}",
        options.arch, options.batch, options.method, options.iters
    );
    Ok(first.into_data().iter::<f64>().collect())
}

/// The process's peak resident set (`VmHWM`), in MiB; NaN where unknown.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// The one-minute load average, as `/proc/loadavg` gives it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
