//! `learnprop explain`: the top-5 classes of one image and its maps.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use learnprop::render::{
    labelled_grid, overlay, save_png, signed_heatmap_clipped, upscale, GridRow,
};
use learnprop::Explainable;

use crate::images::prepare;
use crate::methods::{pixel_maps, MethodName};
use crate::models::{with_model, Model, ModelArgs};
use crate::Failure;

/// Arguments of `learnprop explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The image file (PNG or JPEG).
    #[arg(long)]
    pub image: PathBuf,
    /// The class to explain (default: the predicted one).
    #[arg(long)]
    pub target: Option<usize>,
    /// A method to run (repeat for several; default: learned and
    /// input-x-gradient).
    #[arg(long = "method", value_enum)]
    pub methods: Vec<MethodName>,
    /// The picture to write: the input and one overlay per method.
    #[arg(long, default_value = "output/explained.png")]
    pub out: PathBuf,
    /// Also write the raw maps (and the top-5) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Progress bars for long runs (hidden when stderr is not a terminal).
pub fn progress_bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// Softmax probabilities of one row of logits.
pub fn probabilities(logits: &[f64]) -> Vec<f64> {
    let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

fn json_string(s: &str) -> serde_json::Value {
    serde_json::Value::String(s.to_string())
}

pub fn run(args: &ExplainArgs, seed: u64) -> Result<(), Failure> {
    let start = Instant::now();
    let model = Model::load(&args.model)?;
    let (channels, size) = model.input();
    let prepared = prepare(&args.image, model.preprocess, channels, size)?;
    let logits: Vec<f64> = with_model!(model, m => m.logits(prepared.input.clone()))
        .into_data()
        .iter::<f64>()
        .collect();
    if let Some(bad) = logits.iter().position(|l| !l.is_finite()) {
        return Err(format!(
            "the model's logit {bad} is {} for this image",
            logits[bad]
        ));
    }
    let probs = probabilities(&logits);
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    println!(
        "{}: top-5 of {} classes",
        args.image.display(),
        logits.len()
    );
    for &c in order.iter().take(5) {
        println!(
            "  {:<40} logit {:>8.3}  p {:.4}",
            model.class_name(c),
            logits[c],
            probs[c]
        );
    }
    let target = args.target.unwrap_or(order[0]);
    if target >= logits.len() {
        return Err(format!(
            "--target {target}: the model has {} classes (0..{})",
            logits.len(),
            logits.len()
        ));
    }
    let explained = if model.ends_in_softmax {
        " (the logit before the model's softmax)"
    } else {
        ""
    };
    println!("explaining class {}{explained}", model.class_name(target));
    let methods = if args.methods.is_empty() {
        vec![MethodName::Learned, MethodName::InputXGradient]
    } else {
        args.methods.clone()
    };
    let [_, _, h, w] = prepared.input.dims();
    let zoom = (224 / h.max(w).max(1)).clamp(1, 8) as u32;
    let picture = upscale(&prepared.picture, zoom).map_err(|e| e.to_string())?;
    let mut cells = vec![picture.clone()];
    let mut maps = serde_json::Map::new();
    for &method in &methods {
        let bar = progress_bar(&method.label());
        let began = Instant::now();
        let map =
            with_model!(model, m => pixel_maps(method, m, &prepared.input, &[target], seed, &bar))?;
        bar.finish_and_clear();
        println!(
            "  {:<22} {:.2} s",
            method.label(),
            began.elapsed().as_secs_f64()
        );
        let map = map.squeeze_dim::<2>(0);
        let heat = signed_heatmap_clipped(map.clone(), 0.02)
            .and_then(|heat| upscale(&heat, zoom))
            .map_err(|e| e.to_string())?;
        cells.push(overlay(&picture, &heat, 0.8).map_err(|e| e.to_string())?);
        let values: Vec<f64> = map.into_data().iter::<f64>().collect();
        maps.insert(
            method.label(),
            serde_json::json!({ "shape": [h, w], "values": values }),
        );
    }
    let mut labels = vec!["input".to_string()];
    labels.extend(methods.iter().map(|m| m.label()));
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let row = GridRow {
        label: String::new(),
        cells,
    };
    let grid = labelled_grid(&labels, &[row], 8).map_err(|e| e.to_string())?;
    create_parent(&args.out)?;
    save_png(&grid, &args.out).map_err(|e| e.to_string())?;
    println!(
        "wrote {} (red: evidence for the class, blue: against)",
        args.out.display()
    );
    if let Some(path) = &args.json {
        let top5: Vec<serde_json::Value> = order
            .iter()
            .take(5)
            .map(|&c| serde_json::json!({ "class": c, "name": model.class_names.as_ref().and_then(|n| n.get(c)).map(|s| json_string(s)), "logit": logits[c], "probability": probs[c] }))
            .collect();
        let document = serde_json::json!({
            "image": args.image.display().to_string(),
            "model": args.model.model,
            "target": target,
            "explains_logit_before_softmax": model.ends_in_softmax,
            "top5": top5,
            "maps": maps,
        });
        create_parent(path)?;
        std::fs::write(
            path,
            serde_json::to_vec(&document).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!("done in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Creates the folder a file goes into.
pub fn create_parent(path: &Path) -> Result<(), Failure> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}
