//! `learnprop evaluate`: MoRF/LeRF removal curves of methods on a folder of
//! images, as a markdown table and plots.

use std::path::PathBuf;

use burn::prelude::*;
use clap::Args;
use learnprop::metric::{removal_curves, RemovalConfig, RemovalCurves, RemovalOrder};
use learnprop::render::{line_plot, save_png, Series};
use learnprop::Explainable;

use crate::explain::{create_parent, progress_bar};
use crate::images::prepare;
use crate::methods::{pixel_maps, MethodName};
use crate::models::{with_model, Model, ModelArgs};
use crate::Failure;

/// The most images one run reads.
const MAX_IMAGES: usize = 10_000;

/// Arguments of `learnprop evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A folder of PNG or JPEG images; each is explained for its predicted class.
    #[arg(long)]
    pub images: PathBuf,
    /// A method to score (repeat for several; default: learned, saliency,
    /// input-x-gradient, integrated-gradients).
    #[arg(long = "method", value_enum)]
    pub methods: Vec<MethodName>,
    /// The largest fraction of pixels removed.
    #[arg(long, default_value_t = 0.2)]
    pub max_fraction: f64,
    /// Removal steps up to that fraction.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// At most this many images (sorted by name).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Folder for the curve plots (morf.png, lerf.png).
    #[arg(long, default_value = "output/evaluate")]
    pub out: PathBuf,
}

fn image_files(args: &EvaluateArgs) -> Result<Vec<PathBuf>, Failure> {
    let entries =
        std::fs::read_dir(&args.images).map_err(|e| format!("{}: {e}", args.images.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{}: {e}", args.images.display()))?
            .path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
            files.push(path);
        }
        if files.len() > MAX_IMAGES {
            return Err(format!(
                "{} holds more than {MAX_IMAGES} images",
                args.images.display()
            ));
        }
    }
    files.sort();
    files.truncate(args.limit);
    if files.is_empty() {
        return Err(format!(
            "no PNG or JPEG images in {}",
            args.images.display()
        ));
    }
    Ok(files)
}

pub fn run(args: &EvaluateArgs, seed: u64) -> Result<(), Failure> {
    if args.limit == 0 {
        return Err("--limit 0: at least one image is needed".into());
    }
    let model = Model::load(&args.model)?;
    let (channels, size) = model.input();
    let files = image_files(args)?;
    let mut inputs = Vec::with_capacity(files.len());
    for file in &files {
        let prepared = prepare(file, model.preprocess, channels, size)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(first) = inputs.first() {
            let first: &Tensor<learnprop::Cpu, 4> = first;
            if first.dims() != prepared.input.dims() {
                return Err(format!("{}: its size differs from the first image's; give a model with a fixed input size", file.display()));
            }
        }
        inputs.push(prepared.input);
    }
    let images = Tensor::cat(inputs, 0);
    let targets: Vec<usize> = with_model!(model, m => m.logits(images.clone()))
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|t| t as usize)
        .collect();
    let methods = if args.methods.is_empty() {
        vec![
            MethodName::Learned,
            MethodName::Saliency,
            MethodName::InputXGradient,
            MethodName::IntegratedGradients,
        ]
    } else {
        args.methods.clone()
    };
    let curves_for =
        |order: RemovalOrder, maps: &Tensor<learnprop::Cpu, 3>| -> Result<RemovalCurves, Failure> {
            let config = RemovalConfig::new()
                .with_order(order)
                .with_max_fraction(args.max_fraction)
                .with_steps(args.steps);
            with_model!(model, m => removal_curves(m, &images, maps, &targets, &config))
                .map_err(|e| e.to_string())
        };
    let mut rows = Vec::new();
    for &method in &methods {
        let bar = progress_bar(&format!("{} ({} images)", method.label(), files.len()));
        let maps = with_model!(model, m => pixel_maps(method, m, &images, &targets, seed, &bar))?;
        bar.finish_and_clear();
        rows.push((
            method,
            curves_for(RemovalOrder::MostRelevantFirst, &maps)?,
            curves_for(RemovalOrder::LeastRelevantFirst, &maps)?,
        ));
    }
    println!("{} images of {}, each explained for its predicted class; target logit relative to the intact image, area under the curve up to {:.0} % removed:\n", files.len(), args.images.display(), args.max_fraction * 100.0);
    println!(
        "| method | MoRF area (lower is better) | LeRF area (higher is better) | images kept |"
    );
    println!("|---|---|---|---|");
    for (method, morf, lerf) in &rows {
        let (m, m_se) = morf.area_mean_and_error();
        let (l, l_se) = lerf.area_mean_and_error();
        println!(
            "| {} | {m:.4} ± {m_se:.4} | {l:.4} ± {l_se:.4} | {} |",
            method.label(),
            morf.kept.len()
        );
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    for (name, pick) in [("morf", 0usize), ("lerf", 1)] {
        let series: Vec<Series> = rows
            .iter()
            .map(|(method, morf, lerf)| {
                let c = if pick == 0 { morf } else { lerf };
                Series {
                    label: method.label(),
                    points: c
                        .fractions
                        .iter()
                        .copied()
                        .zip(c.curve.iter().copied())
                        .collect(),
                }
            })
            .collect();
        let title = if pick == 0 {
            "most relevant first"
        } else {
            "least relevant first"
        };
        let plot = line_plot(
            &series,
            title,
            "fraction removed",
            "relative target logit",
            640,
            400,
        )
        .map_err(|e| e.to_string())?;
        let path = args.out.join(format!("{name}.png"));
        create_parent(&path)?;
        save_png(&plot, &path).map_err(|e| e.to_string())?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}
