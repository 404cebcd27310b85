//! Sensitivity and ablation of the learned rules (paper Table 2 and Fig. 9)
//! on the MNIST or Fashion-MNIST CNN: one setting changed at a time from the
//! paper's defaults, scored by MoRF / LeRF areas (fill 0 and black) on test
//! images that the comparison (`compare_methods`, images 0–499) does not use,
//! next to the strongest gradient baselines on the same images.
//!
//! ```sh
//! .ci/fetch-data
//! cargo run --release --example sensitivity -- mnist --images 200 --first 1000
//! ```
//!
//! Writes `output/sensitivity/<model>/results.md`; maps are cached per row
//! (`maps-*.bin`), so a repeated run only computes new rows.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::data::{LabelledImages, Normalisation, Split};
use learnprop::method::{
    pixel_map, DeepLiftConfig, InputXGradient, IntegratedGradientsConfig, Method, NoiseKind,
    NoiseTunnelConfig, Saliency,
};
use learnprop::metric::{removal_curves, Fill, RemovalConfig, RemovalOrder};
use learnprop::zoo::{pretrained, MnistCnn};
use learnprop::{Cpu, Explainable, ExplainerConfig, GateShape, MaskStrategy, Plugin};

type Boxed = Box<dyn Method<Cpu, MnistCnn<Cpu>>>;

/// `(group, label, method)` rows of the table.
fn rows() -> Vec<(&'static str, String, Boxed)> {
    let learned = |config: ExplainerConfig| Box::new(config.init::<Cpu>().unwrap()) as Boxed;
    let paper = ExplainerConfig::new;
    let mut rows: Vec<(&'static str, String, Boxed)> = vec![
        (
            "baseline",
            "gradient × input".into(),
            Box::new(InputXGradient),
        ),
        (
            "baseline",
            "integrated gradients (50)".into(),
            Box::new(IntegratedGradientsConfig::new().init().unwrap()),
        ),
        (
            "baseline",
            "DeepLIFT (rescale)".into(),
            Box::new(DeepLiftConfig::new().init().unwrap()),
        ),
        (
            "baseline",
            "SmoothGrad (50)".into(),
            Box::new(
                NoiseTunnelConfig::new()
                    .with_kind(NoiseKind::SmoothGrad)
                    .init(Saliency::signed())
                    .unwrap(),
            ),
        ),
        (
            "paper",
            "defaults (γ 10, 20 it., λ 0.1, lr 0.2, α 0.75)".into(),
            learned(paper()),
        ),
    ];
    for gamma in [1.0, 5.0, 21.0, 40.0] {
        rows.push((
            "γ",
            format!("γ = {gamma}"),
            learned(paper().with_sharpness(gamma)),
        ));
    }
    for iterations in [0, 1, 5, 10, 40] {
        rows.push((
            "iterations",
            format!("{iterations} iterations"),
            learned(paper().with_iterations(iterations)),
        ));
    }
    for lambda in [0.0, 0.01, 1.0] {
        rows.push((
            "λ",
            format!("λ = {lambda}"),
            learned(paper().with_mask_loss_weight(lambda)),
        ));
    }
    for rate in [0.05, 0.1, 0.5] {
        rows.push((
            "learning rate",
            format!("lr = {rate}"),
            learned(paper().with_learning_rate(rate)),
        ));
    }
    for alpha in [0.6, 0.9] {
        rows.push((
            "α",
            format!("α = {alpha}"),
            learned(paper().with_positive_centre(alpha)),
        ));
    }
    rows.extend([
        (
            "ablation",
            "sign-aware loss off (L_p only)".to_string(),
            learned(paper().with_sign_aware(false)),
        ),
        (
            "ablation",
            "reference off (gate on f)".into(),
            learned(paper().with_use_reference(false)),
        ),
        (
            "ablation",
            "per-channel plugin".into(),
            learned(paper().with_plugin(Plugin::PerChannel)),
        ),
        (
            "ablation",
            "Gaussian masks (σ 1)".into(),
            learned(paper().with_mask(MaskStrategy::Gaussian { sigma: 1.0 })),
        ),
    ]);
    let sigmoid_gate = || {
        paper()
            .with_gate(GateShape::Sigmoid { scale: 10.0 })
            .with_use_reference(false)
    };
    let top = MaskStrategy::TopFraction { fraction: 0.05 };
    rows.extend([
        (
            "option",
            "sigmoid gate σ(10·W·f), W₀ 1".to_string(),
            learned(sigmoid_gate()),
        ),
        (
            "option",
            "sigmoid gate, 0 iterations".into(),
            learned(sigmoid_gate().with_iterations(0)),
        ),
        (
            "option",
            "top-5 % masks".into(),
            learned(paper().with_mask(top)),
        ),
        (
            "option",
            "top-5 % masks, γ 40".into(),
            learned(paper().with_mask(top).with_sharpness(40.0)),
        ),
        (
            "option",
            "sigmoid gate + top-5 % masks".into(),
            learned(sigmoid_gate().with_mask(top)),
        ),
        (
            "option",
            "sigmoid gate + top-5 % masks, 40 iterations".into(),
            learned(sigmoid_gate().with_mask(top).with_iterations(40)),
        ),
        (
            "option",
            "40 iterations, lr 0.1".into(),
            learned(paper().with_iterations(40).with_learning_rate(0.1)),
        ),
    ]);
    rows
}

struct Args {
    model: String,
    images: usize,
    first: usize,
    out: PathBuf,
    data: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let model = it.next().unwrap_or_else(|| "mnist".into());
    let mut args = Args {
        images: 200,
        first: 1000,
        out: PathBuf::from("output/sensitivity").join(&model),
        data: std::env::var_os("LEARNPROP_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| "data".into()),
        model,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--images" => args.images = value.parse().map_err(|e| format!("--images: {e}"))?,
            "--first" => args.first = value.parse().map_err(|e| format!("--first: {e}"))?,
            "--out" => args.out = value.into(),
            "--data" => args.data = value.into(),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let device = Default::default();
    let (model, normalisation) = match args.model.as_str() {
        "mnist" => (
            pretrained::mnist_cnn::<Cpu>(&device)?,
            Normalisation::mnist(),
        ),
        "fashion-mnist" => (
            pretrained::fashion_mnist_cnn::<Cpu>(&device)?,
            Normalisation::fashion_mnist(),
        ),
        other => return Err(format!("unknown model {other}: mnist or fashion-mnist").into()),
    };
    let test = LabelledImages::load_mnist_layout(args.data.join(&args.model), Split::Test)
        .map_err(|e| format!("{e}\nRun .ci/fetch-data first."))?;
    let last = (args.first + args.images).min(test.len());
    let chosen: Vec<usize> = (args.first.min(last)..last).collect();
    let images = test.tensor::<Cpu>(&chosen, &normalisation, &device)?;
    let [n, _, h, w] = images.dims();
    let targets: Vec<usize> = model
        .clone()
        .no_grad()
        .logits(images.clone())
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|t| t as usize)
        .collect();
    std::fs::create_dir_all(&args.out)?;
    let black = Fill::PerChannel {
        values: vec![normalisation.apply(0, 0.0)],
    };
    let mut table = vec![
        format!(
            "| group | setting | MoRF, fill 0 | LeRF, fill 0 | MoRF, black | LeRF, black | seconds/image |"
        ),
        "|---|---|---|---|---|---|---|".into(),
    ];
    for (index, (group, label, method)) in rows().into_iter().enumerate() {
        let cache = args.out.join(format!("maps-{index:02}.bin"));
        let start = Instant::now();
        let (maps, seconds) = match read_cache(&cache, &label, n * h * w) {
            Some(hit) => hit,
            None => {
                let mut maps = Vec::with_capacity(n * h * w);
                for first in (0..n).step_by(50) {
                    let last = (first + 50).min(n);
                    let part = images.clone().slice(first..last);
                    let map = pixel_map(method.attribute(&model, &part, &targets[first..last])?);
                    maps.extend(map.into_data().iter::<f64>());
                }
                let seconds = start.elapsed().as_secs_f64() / n as f64;
                write_cache(&cache, &label, &maps, seconds)?;
                (maps, seconds)
            }
        };
        let maps = Tensor::<Cpu, 3>::from_data(TensorData::new(maps, [n, h, w]), &device);
        let mut cells = Vec::new();
        for (order, fill) in [
            (RemovalOrder::MostRelevantFirst, Fill::Value { value: 0.0 }),
            (RemovalOrder::LeastRelevantFirst, Fill::Value { value: 0.0 }),
            (RemovalOrder::MostRelevantFirst, black.clone()),
            (RemovalOrder::LeastRelevantFirst, black.clone()),
        ] {
            let config = RemovalConfig::new().with_order(order).with_fill(fill);
            let curves = removal_curves(&model, &images, &maps, &targets, &config)?;
            let (mean, error) = curves.area_mean_and_error();
            cells.push(format!("{mean:.3} ± {error:.3}"));
        }
        table.push(format!(
            "| {group} | {label} | {} | {seconds:.3} |",
            cells.join(" | ")
        ));
        println!("{}", table.last().unwrap());
    }
    let header = format!(
        "# Sensitivity of the learned rules on {} (test images {}–{}, predicted classes)\n\nMoRF (lower is better) and LeRF (higher is better) areas, 0–5 % of the pixels in 20 steps, mean ± standard error over the images with a positive target logit. One setting changed at a time from the paper's defaults.\n\n",
        args.model,
        args.first,
        last - 1
    );
    std::fs::write(
        args.out.join("results.md"),
        header + &table.join("\n") + "\n",
    )?;
    println!("wrote {}", args.out.join("results.md").display());
    Ok(())
}

/// Cached maps: the row label, then the seconds per image and the values.
fn read_cache(path: &Path, label: &str, len: usize) -> Option<(Vec<f64>, f64)> {
    let bytes = std::fs::read(path).ok()?;
    let (head, body) = bytes.split_at(bytes.iter().position(|&b| b == b'\n')? + 1);
    if head != format!("{label}\n").as_bytes() || body.len() != 8 * (len + 1) {
        return None;
    }
    let values: Vec<f64> = body
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    Some((values[1..].to_vec(), values[0]))
}

fn write_cache(path: &Path, label: &str, maps: &[f64], seconds: f64) -> std::io::Result<()> {
    let mut bytes = format!("{label}\n").into_bytes();
    bytes.extend_from_slice(&seconds.to_le_bytes());
    for v in maps {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)
}
