//! Class sensitivity, as in the paper's Fig. 8: a composite image shows two
//! images of different classes side by side; every method explains each of
//! the two classes, and we measure the share of the map's positive
//! relevance on the half that shows the explained class
//! (`metric::relevance_mass`). A method blind to the target puts the same
//! map, so the same share, on both; a class-sensitive one moves its
//! relevance to the explained half.
//!
//! ```sh
//! .ci/fetch-data
//! cargo run --release --example class_sensitivity -- mnist --images 100
//! cargo run --release --example class_sensitivity -- fashion-mnist --images 100
//! cargo run --release --example class_sensitivity -- efficientnet
//! ```
//!
//! Small models: test images `first..first + images`, taken in pairs
//! (0 and 1, 2 and 3, …; a pair whose two images the model assigns the
//! same class is skipped), each image halved to 14×14 (2×2 means) and
//! placed on a black 28×28 canvas, rows 7–20, the first in columns 0–13 and
//! the second in 14–27. EfficientNet-Lite0: `chelsea.png` and `coffee.png`
//! of the CC0 photos, each preprocessed to 224×224, halved to 112×112 and
//! placed on a canvas at 0 in the normalised space (grey), rows 56–167.
//! The targets are the classes the model predicts for each image alone.
//! Writes `output/class-sensitivity/<model>/results.md` and `maps.png`
//! (the first composite and every method's maps for both targets); maps
//! are cached like those of `compare_methods`.

mod common;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::TensorData;
use common::methods::{cached_method_maps, selected, BaseModel, Costs, Inner, Plain};
use learnprop::data::{load_photo, preprocess_photo, Normalisation, PhotoPreprocessing};
use learnprop::metric::{relevance_mass, BoundingBox};
use learnprop::render::{
    labelled_grid, overlay, rgb_image, save_png, signed_heatmap_clipped, upscale, GridRow,
};
use learnprop::{Cpu, Explainable};

fn main() -> Result<(), common::Error> {
    let args = common::Args::parse("class-sensitivity", |model| {
        (if model == "efficientnet" { 2 } else { 100 }, 0)
    })?;
    let device = Default::default();
    match args.model.as_str() {
        "mnist" | "fashion-mnist" => {
            let (model, normalisation, images) = common::small_model::<Cpu>(&args, &device)?;
            let black = normalisation.apply(0, 0.0)?;
            run(&args, &model, images, &normalisation, black, Costs::small())
        }
        "efficientnet" => {
            let model = common::efficientnet_lite0(&args, &device)?;
            let prep = PhotoPreprocessing::efficientnet_lite();
            let images: Vec<Tensor<Cpu, 4>> = ["chelsea.png", "coffee.png"]
                .iter()
                .map(|f| {
                    let photo = load_photo(args.data.join("samples/photos").join(f))?;
                    preprocess_photo::<Cpu>(&photo, &prep, &device)
                })
                .collect::<Result<_, _>>()?;
            let images = Tensor::cat(images, 0);
            run(
                &args,
                &model,
                images,
                &prep.normalisation,
                0.0,
                Costs::imagenet(),
            )
        }
        other => Err(format!("unknown model {other}: mnist, fashion-mnist or efficientnet").into()),
    }
}

/// Composites `[P, C, H, W]` of consecutive pairs of `images` whose
/// predicted classes differ, and the two targets of each pair.
fn composites(
    images: Tensor<Cpu, 4>,
    predicted: &[usize],
    canvas: f64,
) -> (Tensor<Cpu, 4>, Vec<[usize; 2]>) {
    let [n, c, h, w] = images.dims();
    let halved = burn::tensor::module::avg_pool2d(images, [2, 2], [2, 2], [0, 0], true, false);
    let (hh, hw) = (h / 2, w / 2);
    let top = (h - hh) / 2;
    let mut chosen = Vec::new();
    let mut targets = Vec::new();
    for pair in (0..n / 2).map(|p| [2 * p, 2 * p + 1]) {
        if predicted[pair[0]] == predicted[pair[1]] {
            continue;
        }
        let mut composite = Tensor::<Cpu, 4>::full([1, c, h, w], canvas, &halved.device());
        for (side, &i) in pair.iter().enumerate() {
            let part = halved.clone().slice([i..i + 1, 0..c, 0..hh, 0..hw]);
            let left = side * (w - hw);
            composite = composite.slice_assign([0..1, 0..c, top..top + hh, left..left + hw], part);
        }
        chosen.push(composite);
        targets.push([predicted[pair[0]], predicted[pair[1]]]);
    }
    (Tensor::cat(chosen, 0), targets)
}

fn run<M>(
    args: &common::Args,
    model: &M,
    images: Tensor<Cpu, 4>,
    normalisation: &Normalisation,
    canvas: f64,
    costs: Costs,
) -> Result<(), common::Error>
where
    M: Explainable<Cpu> + AutodiffModule<Cpu>,
    M::InnerModule: Explainable<Inner> + AutodiffModule<Inner>,
    BaseModel<M>: Explainable<Plain>,
{
    let [_, channels, h, w] = images.dims();
    let black = common::black_values(normalisation, channels)?;
    let predicted = common::predicted(model, &images);
    let (composites, pairs) = composites(images, &predicted, canvas);
    let p = pairs.len();
    if p == 0 {
        return Err("no pair of images with different predicted classes".into());
    }
    // Every composite twice: first explaining the left class, then the right.
    let inputs = Tensor::cat(vec![composites.clone(), composites], 0);
    let targets: Vec<usize> = (0..2)
        .flat_map(|side| pairs.iter().map(move |t| t[side]))
        .collect();
    let halves = [
        BoundingBox {
            top: 0,
            left: 0,
            bottom: h - 1,
            right: w / 2 - 1,
        },
        BoundingBox {
            top: 0,
            left: w / 2,
            bottom: h - 1,
            right: w - 1,
        },
    ];
    let explained: Vec<BoundingBox> = (0..2).flat_map(|side| vec![halves[side]; p]).collect();
    let left_half = vec![halves[0]; 2 * p];
    let base_model = model.valid().valid();
    std::fs::create_dir_all(&args.out)?;
    let batch = if h * w > 10_000 { 1 } else { 50 };
    let mut table = vec![
        format!(
            "# Class sensitivity on {} ({p} composites of images {}–{}, predicted classes)\n",
            args.model,
            args.first,
            args.first + args.images - 1
        ),
        "Share of the positive relevance on the half that shows the explained class (1 is perfect, 0.5 blind to the target), and how far the share on the left half moves when the target changes from the left class to the right one (1 is perfect, 0 blind), mean ± standard error over the composites; maps without positive relevance are left out and counted.\n".into(),
        format!("{}\n", costs.describe()),
        "| method | on the explained half | moves with the target | no positive relevance | seconds/map |".into(),
        "|---|---|---|---|---|".into(),
    ];
    let mut grid_cells = Vec::new();
    let mut names = Vec::new();
    for (name, method) in selected::<M>(costs, &black, args.only.as_deref())? {
        let label = format!("{name}; {}", costs.describe());
        let (maps, seconds) = cached_method_maps(
            name,
            method.as_ref(),
            model,
            &base_model,
            &inputs,
            &targets,
            &args.out,
            &label,
            batch,
        )?;
        let maps =
            Tensor::<Cpu, 3>::from_data(TensorData::new(maps, [2 * p, h, w]), &inputs.device());
        let on_explained = relevance_mass(&maps, &explained)?;
        let on_left = relevance_mass(&maps, &left_half)?;
        let shares: Vec<f64> = on_explained.iter().flatten().copied().collect();
        let moves: Vec<f64> = (0..p)
            .filter_map(|i| Some(on_left[i]? - on_left[p + i]?))
            .collect();
        let missing = on_explained.iter().filter(|s| s.is_none()).count();
        let (share, share_error) = common::stats::mean_and_error(&shares);
        let (moved, moved_error) = common::stats::mean_and_error(&moves);
        table.push(format!(
            "| {name} | {share:.3} ± {share_error:.3} | {moved:.3} ± {moved_error:.3} | {missing} | {seconds:.3} |"
        ));
        println!("{}", table.last().unwrap());
        names.push(name.to_string());
        grid_cells.push([0, p].map(|i| maps.clone().slice(i..i + 1).squeeze_dim::<2>(0)));
    }
    std::fs::write(args.out.join("results.md"), table.join("\n") + "\n")?;
    // The first composite, and each method's maps for both targets.
    let input = rgb_image(
        inputs.clone().slice(0..1).squeeze_dim::<3>(0),
        &normalisation.display_range(),
    )?;
    let scale = if h < 64 { 4 } else { 1 };
    let mut rows = Vec::new();
    for (side, target) in pairs[0].iter().enumerate() {
        let mut cells = vec![upscale(&input, scale)?];
        for maps in &grid_cells {
            let heat = signed_heatmap_clipped(maps[side].clone(), 0.01)?;
            cells.push(upscale(&overlay(&input, &heat, 0.8)?, scale)?);
        }
        rows.push(GridRow {
            label: format!("class {target}"),
            cells,
        });
    }
    let mut labels = vec!["input"];
    labels.extend(names.iter().map(String::as_str));
    save_png(
        &labelled_grid(&labels, &rows, 4)?,
        args.out.join("maps.png"),
    )?;
    println!("wrote {}", args.out.display());
    Ok(())
}
