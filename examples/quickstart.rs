//! Explains six real MNIST test digits with the learned propagation rules and
//! writes a labelled grid: input | learned rules | gradient × input.
//!
//! `cargo run --release --example quickstart`
//!
//! Everything it reads ships with the repository: the MNIST CNN trained by
//! `examples/train_mnist.rs` (embedded in the library) and the first test
//! digits of MNIST (`tests/fixtures/mnist/`). Red marks evidence for the
//! predicted digit, blue evidence against it.

use std::path::Path;
use std::time::Instant;

use learnprop::data::{LabelledImages, Normalisation};
use learnprop::method::{pixel_map, InputXGradient, Method};
use learnprop::render::{
    labelled_grid, overlay, rgb_image, save_png, signed_heatmap, upscale, GridRow,
};
use learnprop::zoo::pretrained;
use learnprop::{Cpu, Explainable, ExplainerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let device = Default::default();
    let model = pretrained::mnist_cnn::<Cpu>(&device)?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist");
    let digits = LabelledImages::load_idx(
        fixtures.join("mnist-test-images-idx3-ubyte.gz"),
        fixtures.join("mnist-test-labels-idx1-ubyte.gz"),
    )?;
    let chosen: Vec<usize> = (0..6).collect();
    let normalisation = Normalisation::mnist();
    let images = digits.tensor::<Cpu>(&chosen, &normalisation, &device)?;
    let predicted: Vec<usize> = model
        .logits(images.clone())
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|p| p as usize)
        .collect();

    let explainer = ExplainerConfig::new().init::<Cpu>()?;
    let learned = explainer.attribute_with_progress(&model, &images, &predicted, |p| {
        if p.iteration % 5 == 0 {
            let mean = p.loss.iter().map(|t| t.total).sum::<f64>() / p.loss.len() as f64;
            println!(
                "learned rules: iteration {:>2}/{}, mean loss {mean:.3}",
                p.iteration, p.iterations
            );
        }
    })?;
    let baseline = pixel_map(InputXGradient.attribute(&model, &images, &predicted)?);

    let mut rows = Vec::new();
    for (i, &index) in chosen.iter().enumerate() {
        let input = rgb_image(
            images.clone().slice(i..i + 1).squeeze_dim::<3>(0),
            &normalisation.display_range(),
        )?;
        let cell = |map: burn::tensor::Tensor<Cpu, 3>| {
            let heat = signed_heatmap(map.slice(i..i + 1).squeeze_dim::<2>(0))?;
            upscale(&overlay(&input, &heat, 0.75)?, 4)
        };
        rows.push(GridRow {
            label: format!("label {} pred {}", digits.labels()[index], predicted[i]),
            cells: vec![
                upscale(&input, 4)?,
                cell(learned.signed.clone())?,
                cell(baseline.clone())?,
            ],
        });
    }
    let grid = labelled_grid(&["input", "learned rules", "gradient x input"], &rows, 6)?;
    let path = Path::new("output/quickstart.png");
    save_png(&grid, path)?;
    println!(
        "wrote {} ({}×{} px): {} MNIST test digits, columns input | learned rules | gradient × input \
         (red = evidence for the predicted digit, blue = against), in {:.1} s",
        path.display(),
        grid.width(),
        grid.height(),
        chosen.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
