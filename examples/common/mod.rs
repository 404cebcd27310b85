//! Code shared by the `compare_methods`, `class_sensitivity` and
//! `sensitivity` examples: their command line, the MNIST-layout test
//! images, cached maps and curves, and the removal curves every table
//! reports; the methods they run (`methods`) and their statistics
//! (`stats`).

// Each example uses its own subset of these helpers.
#![allow(dead_code)]

pub mod methods;
pub mod stats;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use learnprop::data::{LabelledImages, Normalisation, Split};
use learnprop::metric::{removal_curves, Fill, RemovalConfig, RemovalCurves, RemovalOrder};
use learnprop::weights::WeightFile;
use learnprop::zoo::{pretrained, EfficientNetLite0, EfficientNetLite0Config, MnistCnn};
use learnprop::{Cpu, Explainable};

pub type Error = Box<dyn std::error::Error>;

/// `MODEL [--images N] [--first I] [--out DIR] [--data DIR]`.
pub struct Args {
    pub model: String,
    pub images: usize,
    pub first: usize,
    pub out: PathBuf,
    pub data: PathBuf,
    /// `--only a,b,…`: only compute (and cache) the maps and curves of
    /// these methods, e.g. to spread them over several processes.
    pub only: Option<Vec<String>>,
}

impl Args {
    /// Parses the command line; `defaults(model)` gives the default image
    /// count and first image, the output goes to `output/<output>/<model>`
    /// and the data to `$LEARNPROP_DATA` or `data/` unless the flags say
    /// otherwise.
    pub fn parse(output: &str, defaults: impl Fn(&str) -> (usize, usize)) -> Result<Self, String> {
        let mut it = std::env::args().skip(1);
        let model = it.next().unwrap_or_else(|| "mnist".into());
        let (images, first) = defaults(&model);
        let mut args = Args {
            images,
            first,
            out: PathBuf::from("output").join(output).join(&model),
            data: std::env::var_os("LEARNPROP_DATA")
                .map(PathBuf::from)
                .unwrap_or_else(|| "data".into()),
            model,
            only: None,
        };
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--images" => args.images = value.parse().map_err(|e| format!("--images: {e}"))?,
                "--first" => args.first = value.parse().map_err(|e| format!("--first: {e}"))?,
                "--out" => args.out = value.into(),
                "--data" => args.data = value.into(),
                "--only" => args.only = Some(value.split(',').map(str::to_string).collect()),
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(args)
    }
}

/// The shipped CNN of `model` ("mnist" or "fashion-mnist"), its
/// normalisation and the test images `first..first + images`.
pub fn small_model<B: Backend>(
    args: &Args,
    device: &B::Device,
) -> Result<(MnistCnn<B>, Normalisation, Tensor<B, 4>), Error> {
    let (model, normalisation) = match args.model.as_str() {
        "mnist" => (pretrained::mnist_cnn::<B>(device)?, Normalisation::mnist()),
        "fashion-mnist" => (
            pretrained::fashion_mnist_cnn::<B>(device)?,
            Normalisation::fashion_mnist(),
        ),
        other => return Err(format!("unknown model {other}").into()),
    };
    let test = LabelledImages::load_mnist_layout(args.data.join(&args.model), Split::Test)
        .map_err(|e| format!("{e}\nRun .ci/fetch-data first."))?;
    let last = (args.first + args.images).min(test.len());
    let chosen: Vec<usize> = (args.first.min(last)..last).collect();
    let images = test.tensor::<B>(&chosen, &normalisation, device)?;
    Ok((model, normalisation, images))
}

/// The predicted class of each image.
pub fn predicted<M: Explainable<Cpu>>(model: &M, images: &Tensor<Cpu, 4>) -> Vec<usize> {
    model
        .clone()
        .no_grad()
        .logits(images.clone())
        .argmax(1)
        .into_data()
        .iter::<i64>()
        .map(|t| t as usize)
        .collect()
}

/// Maps of `images` images × `per_image` values and the seconds per image
/// they took, read from `path` if it holds maps made under `label`, else
/// computed by `compute` (called on consecutive ranges of at most `batch`
/// images) and written there. Finished batches are kept in `<path>.part`,
/// so an interrupted run resumes after its last finished batch.
pub fn cached_maps(
    path: &Path,
    label: &str,
    per_image: usize,
    images: usize,
    batch: usize,
    mut compute: impl FnMut(std::ops::Range<usize>) -> Result<Vec<f64>, Error>,
) -> Result<(Vec<f64>, f64), Error> {
    let len = per_image * images;
    if let Some(hit) = read_cache(path, label, None) {
        if hit.0.len() == len {
            return Ok(hit);
        }
    }
    let part = path.with_extension("part");
    let (mut maps, mut seconds) = read_cache(&part, label, Some(per_image))
        .filter(|(maps, _)| maps.len() <= len)
        .unwrap_or_default();
    let write = |path: &Path, maps: &[f64], seconds: f64| {
        let mut bytes = format!("{label}\n").into_bytes();
        bytes.extend_from_slice(&seconds.to_le_bytes());
        for v in maps {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(path, bytes)
    };
    if !maps.is_empty() {
        let name = label.split(';').next().unwrap_or(label);
        println!("{name}: resuming after {} images", maps.len() / per_image);
    }
    for first in (maps.len() / per_image..images).step_by(batch.max(1)) {
        let last = (first + batch.max(1)).min(images);
        let start = Instant::now();
        let values = compute(first..last)?;
        if values.len() != (last - first) * per_image {
            return Err(format!(
                "{label}: {} values for images {first}..{last}",
                values.len()
            )
            .into());
        }
        maps.extend(values);
        seconds += start.elapsed().as_secs_f64();
        write(&part, &maps, seconds)?;
    }
    let per_image_seconds = seconds / images.max(1) as f64;
    write(path, &maps, per_image_seconds)?;
    let _ = std::fs::remove_file(&part);
    Ok((maps, per_image_seconds))
}

/// Cached maps: the label line, then the seconds (per image in a finished
/// cache, in total in a `.part` file) and the values (a whole number of
/// `per_image` blocks, when given).
fn read_cache(path: &Path, label: &str, per_image: Option<usize>) -> Option<(Vec<f64>, f64)> {
    let bytes = std::fs::read(path).ok()?;
    let (head, body) = bytes.split_at(bytes.iter().position(|&b| b == b'\n')? + 1);
    if head != format!("{label}\n").as_bytes() || body.len() < 8 || body.len() % 8 != 0 {
        return None;
    }
    let values: Vec<f64> = body
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let maps = values[1..].to_vec();
    if per_image.is_some_and(|k| !maps.len().is_multiple_of(k)) {
        return None;
    }
    Some((maps, values[0]))
}

/// Removal curves read from `path` if it holds curves made under `label`,
/// else computed by `compute` and written there (plain text: exact
/// shortest round-trip decimals).
pub fn cached_curves(
    path: &Path,
    label: &str,
    compute: impl FnOnce() -> Result<Vec<RemovalCurves>, Error>,
) -> Result<Vec<RemovalCurves>, Error> {
    if let Some(curves) = read_curves(path, label) {
        return Ok(curves);
    }
    let curves = compute()?;
    let line = |values: Vec<String>| values.join(" ") + "\n";
    let mut text = format!("{label}\n{}\n", curves.len());
    for c in &curves {
        text += &line(c.removed.iter().map(|v| v.to_string()).collect());
        text += &line(c.fractions.iter().map(|v| v.to_string()).collect());
        text += &line(c.curve.iter().map(|v| v.to_string()).collect());
        text += &format!("{} {} {}\n", c.area, c.skipped, c.kept.len());
        text += &line(c.kept.iter().map(|v| v.to_string()).collect());
        for row in &c.per_image {
            text += &line(row.iter().map(|v| v.to_string()).collect());
        }
    }
    std::fs::write(path, text)?;
    Ok(curves)
}

fn read_curves(path: &Path, label: &str) -> Option<Vec<RemovalCurves>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    if lines.next()? != label {
        return None;
    }
    fn parse<T: std::str::FromStr>(line: &str) -> Option<Vec<T>> {
        line.split_whitespace().map(|v| v.parse().ok()).collect()
    }
    let count: usize = lines.next()?.parse().ok()?;
    let mut curves = Vec::with_capacity(count);
    for _ in 0..count {
        let removed = parse(lines.next()?)?;
        let fractions = parse(lines.next()?)?;
        let curve = parse(lines.next()?)?;
        let head: Vec<f64> = parse(lines.next()?)?;
        let [area, skipped, kept_len] = head[..] else {
            return None;
        };
        let kept: Vec<usize> = parse(lines.next()?)?;
        if kept.len() != kept_len as usize {
            return None;
        }
        let per_image = (0..kept.len())
            .map(|_| parse(lines.next()?))
            .collect::<Option<Vec<Vec<f64>>>>()?;
        curves.push(RemovalCurves {
            removed,
            fractions,
            per_image,
            curve,
            area,
            kept,
            skipped: skipped as usize,
        });
    }
    Some(curves)
}

/// The normalised value of a black pixel in each of `channels` channels.
pub fn black_values(normalisation: &Normalisation, channels: usize) -> learnprop::Result<Vec<f64>> {
    (0..channels).map(|c| normalisation.apply(c, 0.0)).collect()
}

/// EfficientNet-Lite0 with its ImageNet weights from the data directory.
pub fn efficientnet_lite0(
    args: &Args,
    device: &burn::tensor::Device<Cpu>,
) -> Result<EfficientNetLite0<Cpu>, Error> {
    let weights = args.data.join("weights/efficientnet-lite0-57934424.pth");
    Ok(WeightFile::new(&weights)
        .with_key_remappings(EfficientNetLite0::<Cpu>::pytorch_key_remapping())
        .load(EfficientNetLite0Config::new().init::<Cpu>(device))
        .map_err(|e| format!("{e}\nRun .ci/fetch-data first."))?)
}

/// Column titles of the four curves of [`four_curves`].
pub const CURVES: [&str; 4] = ["MoRF, fill 0", "LeRF, fill 0", "MoRF, black", "LeRF, black"];

/// MoRF and LeRF curves of `maps` `[N, H, W]` with fill 0 and with black
/// (the normalised value of a black pixel), 0–5 % of the pixels in `steps`
/// steps, in the order of [`CURVES`].
pub fn four_curves<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
    maps: &Tensor<B, 3>,
    targets: &[usize],
    normalisation: &Normalisation,
    steps: usize,
) -> Result<Vec<RemovalCurves>, Error> {
    let black = Fill::PerChannel {
        values: black_values(normalisation, images.dims()[1])?,
    };
    let zero = Fill::Value { value: 0.0 };
    [
        (RemovalOrder::MostRelevantFirst, zero.clone()),
        (RemovalOrder::LeastRelevantFirst, zero),
        (RemovalOrder::MostRelevantFirst, black.clone()),
        (RemovalOrder::LeastRelevantFirst, black),
    ]
    .into_iter()
    .map(|(order, fill)| {
        let config = RemovalConfig::new()
            .with_order(order)
            .with_fill(fill)
            .with_steps(steps);
        Ok(removal_curves(model, images, maps, targets, &config)?)
    })
    .collect()
}

/// The four removal operations of [`all_curves`], in order.
pub const REMOVALS: [&str; 4] = ["fill 0", "black", "blur", "imputation"];

/// The three curves of [`all_curves`] per removal, in order.
pub const JUDGES: [&str; 3] = ["MoRF", "LeRF", "insertion"];

/// MoRF, LeRF (0–5 % of the pixels) and insertion (0–100 %) curves in
/// `steps` steps under each removal operation of [`REMOVALS`]: fill 0 in
/// the normalised space, black, a blurred copy (`sigma` pixels) and ROAD's
/// noisy linear imputation (noise 1 % of the pixel range, seed 0). Curve
/// `3·r + j` is judge `j` of [`JUDGES`] under removal `r`.
pub fn all_curves<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
    maps: &Tensor<B, 3>,
    targets: &[usize],
    normalisation: &Normalisation,
    steps: usize,
    sigma: f64,
) -> Result<Vec<RemovalCurves>, Error> {
    let channels = images.dims()[1];
    let black = black_values(normalisation, channels)?;
    let mut range = 0.0;
    for c in 0..channels {
        range += normalisation.apply(c, 1.0)? - normalisation.apply(c, 0.0)?;
    }
    let fills = [
        Fill::Value { value: 0.0 },
        Fill::PerChannel { values: black },
        Fill::Blur { sigma },
        Fill::NoisyLinearImputation {
            noise: 0.01 * range / channels as f64,
            seed: 0,
        },
    ];
    let mut curves = Vec::new();
    for fill in fills {
        for (order, insertion, max_fraction) in [
            (RemovalOrder::MostRelevantFirst, false, 0.05),
            (RemovalOrder::LeastRelevantFirst, false, 0.05),
            (RemovalOrder::MostRelevantFirst, true, 1.0),
        ] {
            let config = RemovalConfig::new()
                .with_order(order)
                .with_fill(fill.clone())
                .with_insertion(insertion)
                .with_max_fraction(max_fraction)
                .with_steps(steps);
            curves.push(removal_curves(model, images, maps, targets, &config)?);
        }
    }
    Ok(curves)
}

/// `mean ± standard error` of the curve areas, three decimals.
pub fn area_cell(curves: &RemovalCurves) -> String {
    let (mean, error) = curves.area_mean_and_error();
    format!("{mean:.3} ± {error:.3}")
}
