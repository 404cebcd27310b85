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

mod common;

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::method::{
    pixel_map, DeepLiftConfig, InputXGradient, IntegratedGradientsConfig, Method, NoiseKind,
    NoiseTunnelConfig, Saliency,
};
use learnprop::zoo::MnistCnn;
use learnprop::{Cpu, ExplainerConfig, GateShape, Granularity, MaskStrategy};

type Boxed = Box<dyn Method<Cpu, MnistCnn<Cpu>>>;

/// `(group, label, method)` rows of the table.
fn rows() -> Vec<(&'static str, String, Boxed)> {
    let learned =
        |config: ExplainerConfig| Box::new(config.init::<Cpu>().unwrap().into_method()) as Boxed;
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
            learned(paper().with_granularity(Granularity::PerChannel)),
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

fn main() -> Result<(), common::Error> {
    let args = common::Args::parse("sensitivity", |_| (200, 1000))?;
    if args.only.is_some() {
        return Err("--only is an option of compare_methods".into());
    }
    let device = Default::default();
    let (model, normalisation, images) = common::small_model(&args, &device)?;
    let [n, _, h, w] = images.dims();
    let targets = common::predicted(&model, &images);
    std::fs::create_dir_all(&args.out)?;
    let mut table = vec![
        format!(
            "| group | setting | {} | seconds/image |",
            common::CURVES.join(" | ")
        ),
        "|---|---|---|---|---|---|---|".into(),
    ];
    for (index, (group, label, method)) in rows().into_iter().enumerate() {
        let cache = args.out.join(format!("maps-{index:02}.bin"));
        let (maps, seconds) = common::cached_maps(&cache, &label, h * w, n, 50, |range| {
            let part = images.clone().slice(range.clone());
            let map = pixel_map(method.attribute(&model, &part, &targets[range])?);
            Ok(map.into_data().iter::<f64>().collect())
        })?;
        let maps = Tensor::<Cpu, 3>::from_data(TensorData::new(maps, [n, h, w]), &device);
        let curves = common::four_curves(&model, &images, &maps, &targets, &normalisation, 20)?;
        let cells: Vec<String> = curves.iter().map(common::area_cell).collect();
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
        args.first + n - 1
    );
    std::fs::write(
        args.out.join("results.md"),
        header + &table.join("\n") + "\n",
    )?;
    println!("wrote {}", args.out.join("results.md").display());
    Ok(())
}
