//! Explains one image with the learned propagation rules and writes a
//! picture of the result.
//!
//! `cargo run --release --example quickstart`
//!
//! The model is the small fixture CNN, trained on a synthetic task (a bright
//! blob in one cell of a 3×3 grid tells the class), and the image is one of
//! that task's test images; both ship with the repository. The picture shows
//! the input, the signed learned-rule map (red: evidence for the class, blue:
//! against) and the map over the input.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use learnprop::render::{
    hstack, overlay, rgb_image, save_png, signed_heatmap, upscale, DisplayRange,
};
use learnprop::weights::WeightFile;
use learnprop::zoo::FixtureCnnConfig;
use learnprop::{Cpu, Explainable, ExplainerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Default::default();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captum");
    let model = WeightFile::new(fixtures.join("model-b.safetensors"))
        .load(FixtureCnnConfig::new().init::<Cpu>(&device))?;
    let image = read_image(&fixtures.join("case-03.safetensors"), &device)?;

    let logits = model.logits(image.clone());
    let predicted = logits.clone().argmax(1).into_scalar() as usize;
    let logit: f32 = logits.slice([0..1, predicted..predicted + 1]).into_scalar();
    println!(
        "predicted class {predicted} (logit {logit:.2}); the blob sits in grid cell {predicted}"
    );

    let explainer = ExplainerConfig::new().init::<Cpu>()?;
    let start = Instant::now();
    let attribution = explainer.attribute(&model, &image, &[predicted])?;
    let seconds = start.elapsed().as_secs_f64();
    let trace = &attribution.loss_trace;
    println!(
        "learned rules: {} iterations in {seconds:.2} s, loss {:.3} -> {:.3}",
        trace.len(),
        trace.first().map_or(f64::NAN, |t| t[0].total),
        trace.last().map_or(f64::NAN, |t| t[0].total),
    );

    let input = rgb_image(image.squeeze_dim::<3>(0), &DisplayRange::MinMax)?;
    let heat = signed_heatmap(attribution.signed.squeeze_dim::<2>(0));
    let picture = hstack(
        &[
            upscale(&input, 8),
            upscale(&heat, 8),
            upscale(&overlay(&input, &heat, 0.65), 8),
        ],
        8,
    );
    let path = Path::new("output/quickstart.png");
    save_png(&picture, path)?;
    println!(
        "wrote {} ({}×{} px): input | learned-rule map (red = for class {predicted}, blue = against) | overlay",
        path.display(),
        picture.width(),
        picture.height()
    );
    Ok(())
}

/// The `input` tensor (`[1, 3, 32, 32]`, f32) of a fixture case file.
fn read_image(
    path: &Path,
    device: &burn::tensor::Device<Cpu>,
) -> Result<Tensor<Cpu, 4>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let file = safetensors::SafeTensors::deserialize(&bytes)?;
    let view = file.tensor("input")?;
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let shape: [usize; 4] = view.shape().try_into()?;
    Ok(Tensor::from_data(TensorData::new(values, shape), device))
}
