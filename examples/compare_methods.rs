//! Compares every attribution method of the crate by MoRF and LeRF curves
//! (METHOD.md's protocol: up to 5 % of the pixels in 20 steps; 10 on
//! the ImageNet model to fit its cost), with two
//! removal fills: 0 in the normalised input space (the method's own masking)
//! and black.
//!
//! ```sh
//! .ci/fetch-data
//! cargo run --release --example compare_methods -- mnist --images 500
//! cargo run --release --example compare_methods -- fashion-mnist --images 500
//! cargo run --release --example compare_methods -- efficientnet
//! ```
//!
//! Writes `output/compare/<model>/`: `results.md` (areas, mean ± standard
//! error over images), `curves-*.png` (the mean curves) and `maps.png` (a
//! grid of maps) and `areas.tsv` (every image's area per method and curve —
//! 1 MoRF fill 0, 2 LeRF fill 0, 3 MoRF black, 4 LeRF black — for paired
//! comparisons). Maps are cached per method (`maps-*.bin`), so a repeated
//! run only computes what is missing; the curves are cached likewise
//! (`curves-*.txt`). `--only a,b,…` computes just the maps and curves of
//! the methods named, so several processes can share a long run before one
//! plain run writes the table and plots. Targets are the predicted classes.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::data::{load_photo, preprocess_photo, Normalisation, PhotoPreprocessing};
use learnprop::method::{
    pixel_map, Baseline, Deconvnet, DeepLiftConfig, EpsilonLrpConfig, ExtremalPerturbationConfig,
    GradCamConfig, GuidedBackprop, InputXGradient, IntegratedGradientsConfig,
    MeaningfulPerturbationConfig, Method, NoiseKind, NoiseTunnelConfig, OcclusionConfig,
    RiseConfig, Saliency,
};
use learnprop::random::Rng;
use learnprop::render::{
    labelled_grid, line_plot, overlay, rgb_image, save_png, signed_heatmap_clipped, upscale,
    GridRow, Series,
};
use learnprop::weights::WeightFile;
use learnprop::zoo::{EfficientNetLite0, EfficientNetLite0Config};
use learnprop::{Cpu, Explainable, ExplainerConfig, GateShape, MaskStrategy};

type Boxed<M> = Box<dyn Method<Cpu, M>>;
/// One autodiff level below `Cpu`.
// Named concretely: where-clauses below do not normalise `Base<Cpu>`.
#[cfg(feature = "flex")]
type Plain = burn::backend::Flex;
#[cfg(not(feature = "flex"))]
type Plain = burn::backend::NdArray;
type Inner = burn::backend::Autodiff<Plain>;
/// A model without autodiff, for the forward-only work.
type BaseModel<M> = <<M as AutodiffModule<Cpu>>::InnerModule as AutodiffModule<Inner>>::InnerModule;

/// A method that needs gradients runs on `Cpu`; a forward-only one
/// (occlusion, RISE) on the backend without autodiff, where the forward is
/// faster.
enum Runner<M: AutodiffModule<Cpu>>
where
    M::InnerModule: AutodiffModule<Inner>,
{
    Tracked(Boxed<M>),
    ForwardOnly(Box<dyn Method<Plain, BaseModel<M>>>),
}

/// Per-model costs of the expensive methods (the defaults of the crate are
/// used wherever a setting is not listed here).
#[derive(Debug, Clone, Copy)]
struct Costs {
    channels: usize,
    occlusion_window: usize,
    integrated_gradient_steps: usize,
    noise_samples: usize,
    rise_masks: usize,
    meaningful_iterations: usize,
    extremal_iterations: usize,
    /// Steps of the removal curves over 0–5 % of the pixels.
    curve_steps: usize,
}

impl Costs {
    /// 28×28 single-channel models.
    fn small() -> Self {
        Self {
            channels: 1,
            occlusion_window: 4,
            integrated_gradient_steps: 50,
            noise_samples: 50,
            rise_masks: 1000,
            meaningful_iterations: 150,
            extremal_iterations: 150,
            curve_steps: 20,
        }
    }

    /// 224×224 ImageNet models, cut so that 20 photos fit in about an hour
    /// on two cores.
    fn imagenet() -> Self {
        Self {
            channels: 3,
            occlusion_window: 32,
            integrated_gradient_steps: 16,
            noise_samples: 8,
            rise_masks: 300,
            meaningful_iterations: 60,
            extremal_iterations: 60,
            curve_steps: 10,
        }
    }

    fn describe(&self) -> String {
        format!(
            "Settings: integrated gradients {} Gauss–Legendre points; SmoothGrad / SQ-SmoothGrad / VarGrad {} samples, noise 15 % of the range; occlusion {w}×{w} windows, stride {w}; RISE {} masks (7×7 grid, p = 0.5); meaningful perturbation {} iterations; extremal perturbation {} iterations (area 10 %); removal curves in {} steps; learned rules as listed (paper defaults unless named otherwise); all other settings are the crate's defaults.",
            self.integrated_gradient_steps,
            self.noise_samples,
            self.rise_masks,
            self.meaningful_iterations,
            self.extremal_iterations,
            self.curve_steps,
            w = self.occlusion_window,
        )
    }
}

/// The learned-rule configurations compared: the paper's method and the
/// documented options that change it.
fn learned_rules() -> Vec<(&'static str, ExplainerConfig)> {
    let sigmoid_gate = ExplainerConfig::new()
        .with_gate(GateShape::Sigmoid { scale: 10.0 })
        .with_use_reference(false);
    vec![
        ("learned-rules", ExplainerConfig::new()),
        ("learned-rules-sigmoid-gate", sigmoid_gate.clone()),
        (
            "learned-rules-sigmoid-top5",
            sigmoid_gate.with_mask(MaskStrategy::TopFraction { fraction: 0.05 }),
        ),
    ]
}

/// `black`: the normalised value of a black pixel (the same in every
/// channel), the baseline of the second integrated-gradients row.
fn methods<M>(costs: Costs, black: f64) -> Vec<(&'static str, Runner<M>)>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    use Runner::{ForwardOnly, Tracked};
    let (channels, window) = (costs.channels, costs.occlusion_window);
    let nt = |kind| {
        Box::new(
            NoiseTunnelConfig::new()
                .with_kind(kind)
                .with_samples(costs.noise_samples)
                .init(Saliency::signed())
                .unwrap(),
        ) as Boxed<M>
    };
    let mut list: Vec<(&'static str, Runner<M>)> = vec![
        ("saliency", Tracked(Box::new(Saliency::signed()))),
        ("gradient-x-input", Tracked(Box::new(InputXGradient))),
        (
            "integrated-gradients",
            Tracked(Box::new(
                IntegratedGradientsConfig::new()
                    .with_steps(costs.integrated_gradient_steps)
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "integrated-gradients-black",
            Tracked(Box::new(
                IntegratedGradientsConfig::new()
                    .with_steps(costs.integrated_gradient_steps)
                    .with_baseline(Baseline::Constant { value: black })
                    .init()
                    .unwrap(),
            )),
        ),
        ("smoothgrad", Tracked(nt(NoiseKind::SmoothGrad))),
        ("sq-smoothgrad", Tracked(nt(NoiseKind::SmoothGradSquared))),
        ("vargrad", Tracked(nt(NoiseKind::VarGrad))),
        ("guided-backprop", Tracked(Box::new(GuidedBackprop))),
        ("deconvnet", Tracked(Box::new(Deconvnet))),
        (
            "deeplift",
            Tracked(Box::new(DeepLiftConfig::new().init().unwrap())),
        ),
        (
            "epsilon-lrp",
            Tracked(Box::new(EpsilonLrpConfig::new().init().unwrap())),
        ),
        ("grad-cam", Tracked(Box::new(GradCamConfig::new().init()))),
        (
            "occlusion",
            ForwardOnly(Box::new(
                OcclusionConfig::new([channels, window, window], [channels, window, window])
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "rise",
            ForwardOnly(Box::new(
                RiseConfig::new()
                    .with_masks(costs.rise_masks)
                    .with_masks_per_batch(16)
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "meaningful-perturbation",
            Tracked(Box::new(
                MeaningfulPerturbationConfig::new()
                    .with_iterations(costs.meaningful_iterations)
                    .init()
                    .unwrap(),
            )),
        ),
        (
            "extremal-perturbation",
            Tracked(Box::new(
                ExtremalPerturbationConfig::new()
                    .with_iterations(costs.extremal_iterations)
                    .init()
                    .unwrap(),
            )),
        ),
    ];
    for (name, config) in learned_rules() {
        list.push((
            name,
            Tracked(Box::new(config.init::<Cpu>().unwrap().into_method())),
        ));
    }
    list
}

fn main() -> Result<(), common::Error> {
    let args = common::Args::parse("compare", |model| {
        (if model == "efficientnet" { 20 } else { 500 }, 0)
    })?;
    let device = Default::default();
    match args.model.as_str() {
        "mnist" | "fashion-mnist" => {
            let (model, normalisation, images) = common::small_model::<Cpu>(&args, &device)?;
            run(&args, &model, images, &normalisation, Costs::small())
        }
        "efficientnet" => {
            let weights = args.data.join("weights/efficientnet-lite0-57934424.pth");
            let model = WeightFile::new(&weights)
                .with_key_remappings(EfficientNetLite0::<Cpu>::pytorch_key_remapping())
                .load(EfficientNetLite0Config::new().init::<Cpu>(&device))
                .map_err(|e| format!("{e}\nRun .ci/fetch-data first."))?;
            let prep = PhotoPreprocessing::efficientnet_lite();
            let dir = args.data.join("samples/imagenet");
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            files.sort();
            files.truncate(args.images);
            let images: Vec<Tensor<Cpu, 4>> = files
                .iter()
                .map(|f| preprocess_photo::<Cpu>(&load_photo(f)?, &prep, &device))
                .collect::<Result<_, _>>()?;
            run(
                &args,
                &model,
                Tensor::cat(images, 0),
                &prep.normalisation,
                Costs::imagenet(),
            )
        }
        other => Err(format!("unknown model {other}: mnist, fashion-mnist or efficientnet").into()),
    }
}

fn run<M>(
    args: &common::Args,
    model: &M,
    images: Tensor<Cpu, 4>,
    normalisation: &Normalisation,
    costs: Costs,
) -> Result<(), common::Error>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    let black = normalisation.apply(0, 0.0)?;
    let [_, channels, _, _] = images.dims();
    if (1..channels).any(|c| normalisation.apply(c, 0.0).ok() != Some(black)) {
        return Err(
            "black differs between channels; the black IG baseline assumes it does not".into(),
        );
    }
    let methods = methods::<M>(costs, black);
    let base_model = model.valid().valid();
    let base_images = images.clone().inner().inner();
    std::fs::create_dir_all(&args.out)?;
    let [n, _, h, w] = images.dims();
    let targets = common::predicted(model, &images);
    let batch = if h * w > 10_000 { 1 } else { 50 };
    let mut table = vec![
        format!(
            "# MoRF / LeRF on {} ({n} images from index {}, predicted classes)\n",
            args.model, args.first
        ),
        "Areas of the MoRF curve (lower is better) and the LeRF curve (higher is better), 0–5 % of the pixels; mean ± standard error over the images with a positive target logit.\n".into(),
        format!("{}\n", costs.describe()),
        format!("| method | {} | seconds/image |", common::CURVES.join(" | ")),
        "|---|---|---|---|---|---|".into(),
    ];
    let mut series: Vec<[Series; 4]> = Vec::new();
    // Per-image areas, for paired comparisons: method, curve, image, area.
    let mut areas = String::from("method\tcurve\timage\tarea\n");
    let mut grid: Vec<(String, Tensor<Cpu, 3>)> = Vec::new();
    let mut all: Vec<(&str, Option<Runner<M>>)> = vec![("random", None)];
    all.extend(methods.into_iter().map(|(name, m)| (name, Some(m))));
    if let Some(only) = &args.only {
        if let Some(unknown) = only.iter().find(|o| !all.iter().any(|(n, _)| n == o)) {
            return Err(format!("--only: unknown method {unknown}").into());
        }
        all.retain(|(name, _)| only.iter().any(|o| o == name));
    }
    for (name, method) in all {
        let cache = args.out.join(format!("maps-{name}.bin"));
        // The label records the settings, so maps made under others are redone.
        let label = format!("{name}; {}", costs.describe());
        let start = Instant::now();
        let (maps, seconds) = common::cached_maps(&cache, &label, h * w, n, batch, |range| {
            let part = images.clone().slice(range.clone());
            let targets = &targets[range.clone()];
            let map = match &method {
                Some(Runner::Tracked(m)) => {
                    pixel_map(m.attribute(model, &part, targets)?).into_data()
                }
                Some(Runner::ForwardOnly(m)) => {
                    let part = part.inner().inner();
                    pixel_map(m.attribute(&base_model, &part, targets)?).into_data()
                }
                None => {
                    let mut rng = Rng::new(range.start as u64);
                    let values = (0..range.len() * h * w).map(|_| rng.uniform());
                    TensorData::new(values.collect::<Vec<f64>>(), [range.len(), h, w])
                }
            };
            println!(
                "{name}: {}/{n} images ({:.0} s)",
                range.end,
                start.elapsed().as_secs_f64()
            );
            Ok(map.iter::<f64>().collect())
        })?;
        let maps = Tensor::<Cpu, 3>::from_data(TensorData::new(maps, [n, h, w]), &images.device());
        let base_maps = maps.clone().inner().inner();
        let curves_label = format!("{label}; curves in {} steps", costs.curve_steps);
        let curves_cache = args.out.join(format!("curves-{name}.txt"));
        let curves = common::cached_curves(&curves_cache, &curves_label, || {
            common::four_curves(
                &base_model,
                &base_images,
                &base_maps,
                &targets,
                normalisation,
                costs.curve_steps,
            )
        })?;
        let cells: Vec<String> = curves.iter().map(common::area_cell).collect();
        let mut lines: Vec<Series> = Vec::new();
        for (curve, curves) in curves.iter().enumerate() {
            for (image, area) in curves.kept.iter().zip(curves.areas()) {
                areas.push_str(&format!("{name}\t{}\t{image}\t{area}\n", curve + 1));
            }
            lines.push(Series {
                label: name.into(),
                points: curves
                    .fractions
                    .iter()
                    .copied()
                    .zip(curves.curve.iter().copied())
                    .collect(),
            });
        }
        table.push(format!("| {name} | {} | {seconds:.3} |", cells.join(" | ")));
        println!("{}", table.last().unwrap());
        series.push(lines.try_into().map_err(|_| "four curves")?);
        grid.push((name.to_string(), maps));
    }
    if args.only.is_some() {
        println!("maps and curves cached in {}", args.out.display());
        return Ok(());
    }
    std::fs::write(args.out.join("results.md"), table.join("\n") + "\n")?;
    std::fs::write(args.out.join("areas.tsv"), areas)?;
    for (i, title) in common::CURVES.iter().enumerate() {
        let lines: Vec<Series> = series.iter().map(|s| s[i].clone()).collect();
        let plot = line_plot(
            &lines,
            &format!("{} on {}", title, args.model),
            "fraction of pixels removed",
            "F_t ratio",
            900,
            420,
        )?;
        save_png(&plot, args.out.join(format!("curves-{}.png", i)))?;
    }
    // A grid of maps for the first images.
    let shown = n.min(4);
    let scale = if h < 64 { 4 } else { 1 };
    let mut rows = Vec::new();
    for (i, target) in targets.iter().enumerate().take(shown) {
        let input = rgb_image(
            images.clone().slice(i..i + 1).squeeze_dim::<3>(0),
            &normalisation.display_range(),
        )?;
        let mut cells = vec![upscale(&input, scale)?];
        for (_, maps) in &grid {
            let heat =
                signed_heatmap_clipped(maps.clone().slice(i..i + 1).squeeze_dim::<2>(0), 0.01)?;
            cells.push(upscale(&overlay(&input, &heat, 0.8)?, scale)?);
        }
        rows.push(GridRow {
            label: format!("class {target}"),
            cells,
        });
    }
    let mut labels = vec!["input"];
    labels.extend(grid.iter().map(|(n, _)| n.as_str()));
    save_png(
        &labelled_grid(&labels, &rows, 4)?,
        args.out.join("maps.png"),
    )?;
    println!("wrote {}", args.out.display());
    Ok(())
}
