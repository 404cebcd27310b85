//! Compares every attribution method of the crate by removal curves under
//! four removal operations — fill 0 in the normalised input space (the
//! paper's own masking), black, a blurred copy of the image and ROAD's
//! noisy linear imputation — and by the sparseness and complexity of its
//! maps. MoRF and LeRF remove 0–5 % of the pixels (METHOD.md's protocol),
//! insertion puts 0–100 % back; 20 steps on the small models, 10 on the
//! ImageNet model to fit its cost.
//!
//! ```sh
//! .ci/fetch-data
//! cargo run --release --example compare_methods -- mnist --images 500
//! cargo run --release --example compare_methods -- fashion-mnist --images 500
//! cargo run --release --example compare_methods -- efficientnet
//! ```
//!
//! Writes `output/compare/<model>/`: `results.md` (areas, mean ± standard
//! error over images; sparseness and complexity; each learned form against
//! the best other method of every column, paired over the images),
//! `curves-*.png` (the mean MoRF curves per removal), `maps.png` (a grid of
//! maps: the first four images, on EfficientNet-Lite0 the first four CC0
//! photos of the run; not written when the run has none) and `areas.tsv`
//! (every image's area per method and curve, curve `3·r + j + 1` for judge
//! `j` of MoRF, LeRF, insertion under removal `r` of fill 0, black, blur,
//! imputation). Maps are cached per method
//! (`maps-*.bin`), so a repeated run only computes what is missing; the
//! curves are cached likewise (`curves-*.txt`). `--only a,b,…` computes
//! just the maps, curves and tables of the methods named, so several
//! processes can share a long run before one plain run writes the tables
//! and plots of all.
//! Targets are the predicted classes. The EfficientNet-Lite0 run explains
//! the 20 ImageNet samples and the 10 CC0 photos of the shared data.

mod common;

use common::methods::{cached_method_maps, selected, BaseModel, Costs, Inner, Plain};

use std::path::PathBuf;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::data::{load_photo, preprocess_photo, Normalisation, PhotoPreprocessing};
use learnprop::metric::{complexity, sparseness};
use learnprop::render::{
    labelled_grid, line_plot, overlay, rgb_image, save_png, signed_heatmap_clipped, upscale,
    GridRow, Series,
};
use learnprop::{Cpu, Explainable};

fn main() -> Result<(), common::Error> {
    let args = common::Args::parse("compare", |model| {
        (if model == "efficientnet" { 30 } else { 500 }, 0)
    })?;
    let device = Default::default();
    match args.model.as_str() {
        "mnist" | "fashion-mnist" => {
            let (model, normalisation, images) = common::small_model::<Cpu>(&args, &device)?;
            run(
                &args,
                &model,
                images,
                &normalisation,
                Costs::small(),
                &[0, 1, 2, 3],
            )
        }
        "efficientnet" => {
            let model = common::efficientnet_lite0(&args, &device)?;
            // The maps grid shows CC0 photos only (the ImageNet samples'
            // terms allow tests and benchmarks, not redistribution).
            let prep = PhotoPreprocessing::efficientnet_lite();
            // The ImageNet samples, then the CC0 photos, each sorted by name.
            let mut files: Vec<PathBuf> = Vec::new();
            for dir in ["samples/imagenet", "samples/photos"] {
                let mut these: Vec<PathBuf> = std::fs::read_dir(args.data.join(dir))?
                    .map(|e| e.map(|e| e.path()))
                    .collect::<Result<_, _>>()?;
                these.sort();
                files.extend(these);
            }
            let files: Vec<PathBuf> = files
                .into_iter()
                .skip(args.first)
                .take(args.images)
                .collect();
            let shown: Vec<usize> = files
                .iter()
                .enumerate()
                .filter(|(_, f)| f.starts_with(args.data.join("samples/photos")))
                .map(|(i, _)| i)
                .take(4)
                .collect();
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
                &shown,
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
    shown: &[usize],
) -> Result<(), common::Error>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    let black = common::black_values(normalisation, images.dims()[1])?;
    if black.iter().any(|&b| b != black[0]) {
        return Err(
            "black differs between channels; the black IG baseline assumes it does not".into(),
        );
    }
    let base_model = model.valid().valid();
    let base_images = images.clone().inner().inner();
    std::fs::create_dir_all(&args.out)?;
    let [n, _, h, w] = images.dims();
    let targets = common::predicted(model, &images);
    let batch = if h * w > 10_000 { 1 } else { 50 };
    let columns: Vec<String> = common::REMOVALS.iter().map(|r| r.to_string()).collect();
    let header = |what: &str| {
        vec![
            format!("\n### {what}\n"),
            format!("| method | {} |", columns.join(" | ")),
            format!("|---|{}", "---|".repeat(columns.len())),
        ]
    };
    // Per judge (MoRF, LeRF, insertion), the table rows.
    let mut judge_rows: Vec<Vec<String>> = vec![Vec::new(); common::JUDGES.len()];
    let mut complexity_rows = vec![
        "\n### Sparseness, complexity and cost\n".to_string(),
        "Sparseness: Gini index of |A| (higher is sparser); complexity: entropy of |A| / Σ|A| (lower is simpler), mean ± standard error over all images.\n".into(),
        "| method | sparseness | complexity | seconds/image |".into(),
        "|---|---|---|---|".into(),
    ];
    // Per method, per curve: the kept images' areas, for the paired table.
    let mut per_image_areas: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    let mut series: Vec<Vec<Series>> = Vec::new();
    // Per-image areas, for paired comparisons: method, curve, image, area.
    let mut areas = String::from("method\tcurve\timage\tarea\n");
    let mut grid: Vec<(String, Tensor<Cpu, 3>)> = Vec::new();
    for (name, method) in selected::<M>(costs, &black, args.only.as_deref())? {
        // The label records the settings, so maps made under others are redone.
        let label = format!("{name}; {}", costs.describe());
        let (maps, seconds) = cached_method_maps(
            name,
            method.as_ref(),
            model,
            &base_model,
            &images,
            &targets,
            &args.out,
            &label,
            batch,
        )?;
        let maps = Tensor::<Cpu, 3>::from_data(TensorData::new(maps, [n, h, w]), &images.device());
        let base_maps = maps.clone().inner().inner();
        let curves_label = format!(
            "{label}; MoRF, LeRF, insertion under fill 0, black, blur, imputation in {} steps",
            costs.curve_steps
        );
        let curves_cache = args.out.join(format!("curves-{name}.txt"));
        let curves = common::cached_curves(&curves_cache, &curves_label, || {
            common::all_curves(
                &base_model,
                &base_images,
                &base_maps,
                &targets,
                normalisation,
                costs.curve_steps,
                costs.blur_sigma,
            )
        })?;
        for (curve, curves) in curves.iter().enumerate() {
            for (image, area) in curves.kept.iter().zip(curves.areas()) {
                areas.push_str(&format!("{name}\t{}\t{image}\t{area}\n", curve + 1));
            }
        }
        for (judge, rows) in judge_rows.iter_mut().enumerate() {
            let cells: Vec<String> = (0..common::REMOVALS.len())
                .map(|r| common::area_cell(&curves[3 * r + judge]))
                .collect();
            rows.push(format!("| {name} | {} |", cells.join(" | ")));
        }
        let cell = |values: Vec<f64>| {
            let (mean, error) = common::stats::mean_and_error(&values);
            format!("{mean:.3} ± {error:.3}")
        };
        complexity_rows.push(format!(
            "| {name} | {} | {} | {seconds:.3} |",
            cell(sparseness(&base_maps)?),
            cell(complexity(&base_maps)?)
        ));
        println!("{name}: {}", judge_rows[0].last().unwrap());
        per_image_areas.push((name.to_string(), curves.iter().map(|c| c.areas()).collect()));
        // The MoRF curves, one plot per removal.
        series.push(
            (0..common::REMOVALS.len())
                .map(|r| Series {
                    label: name.into(),
                    points: curves[3 * r]
                        .fractions
                        .iter()
                        .copied()
                        .zip(curves[3 * r].curve.iter().copied())
                        .collect(),
                })
                .collect(),
        );
        grid.push((name.to_string(), maps));
    }
    let mut table = vec![
        format!(
            "# Removal curves on {} ({n} images from index {}, predicted classes)\n",
            args.model, args.first
        ),
        "Areas under the curves, mean ± standard error over the images with a positive target logit. MoRF (lower is better) and LeRF (higher is better) remove 0–5 % of the pixels; insertion (higher is better) starts from the fully removed image and puts 0–100 % back.\n".into(),
        format!("{}\n", costs.describe()),
    ];
    for (judge, rows) in common::JUDGES.iter().zip(&judge_rows) {
        table.extend(header(judge));
        table.extend(rows.iter().cloned());
    }
    table.extend(complexity_rows);
    table.extend(common::stats::paired_table(
        &per_image_areas,
        "learned-rules",
    ));
    std::fs::write(args.out.join("results.md"), table.join("\n") + "\n")?;
    std::fs::write(args.out.join("areas.tsv"), areas)?;
    for (r, removal) in common::REMOVALS.iter().enumerate() {
        let lines: Vec<Series> = series.iter().map(|s| s[r].clone()).collect();
        let plot = line_plot(
            &lines,
            &format!("MoRF, {removal}, on {}", args.model),
            "fraction of pixels removed",
            "F_t ratio",
            900,
            420,
        )?;
        save_png(
            &plot,
            args.out
                .join(format!("curves-morf-{}.png", removal.replace(' ', ""))),
        )?;
    }
    // A grid of maps for the `shown` images.
    let scale = if h < 64 { 4 } else { 1 };
    let mut rows = Vec::new();
    for &i in shown.iter().filter(|&&i| i < n) {
        let target = targets[i];
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
    if rows.is_empty() {
        println!("no image of the run is shown in the maps grid; maps.png not written");
    } else {
        let mut labels = vec!["input"];
        labels.extend(grid.iter().map(|(n, _)| n.as_str()));
        save_png(
            &labelled_grid(&labels, &rows, 4)?,
            args.out.join("maps.png"),
        )?;
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
