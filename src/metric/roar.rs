//! ROAR (Hooker et al. 2019): remove the most relevant pixels of every
//! training and test image, retrain, and measure the accuracy lost.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use crate::data::{LabelledImages, Normalisation};
use crate::model::Explainable;
use crate::train::{accuracy, train_classifier, TrainConfig};
use crate::{Error, Result};

/// A copy of `data` in which, for each image, the `fraction` of pixels with
/// the highest `maps` value (one `H·W` map per image; ties in row-major
/// order) is replaced in every channel by `fill` (8-bit values, e.g. the
/// per-channel dataset mean rounded to the nearest level).
///
/// # Errors
/// [`Error::Shape`] if the maps or the fill do not fit the images, or the
/// fraction is outside `[0, 1]`.
pub fn remove_most_relevant(
    data: &LabelledImages,
    maps: &[Vec<f64>],
    fraction: f64,
    fill: &[u8],
) -> Result<LabelledImages> {
    let [c, h, w] = data.image_shape();
    if maps.len() != data.len() || maps.iter().any(|m| m.len() != h * w) {
        return Err(Error::Shape {
            what: "ROAR maps",
            expected: format!("{} maps of {} values", data.len(), h * w),
            found: vec![maps.len(), maps.first().map_or(0, |m| m.len())],
        });
    }
    if fill.len() != c || !(0.0..=1.0).contains(&fraction) {
        return Err(Error::Shape {
            what: "ROAR fill / fraction",
            expected: format!("{c} fill values and a fraction in [0, 1]"),
            found: vec![fill.len()],
        });
    }
    let k = (fraction * (h * w) as f64).round() as usize;
    let mut pixels = Vec::with_capacity(data.len() * c * h * w);
    for (i, map) in maps.iter().enumerate() {
        let mut order: Vec<usize> = (0..h * w).collect();
        order.sort_by(|&a, &b| {
            map[b]
                .partial_cmp(&map[a])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut image = data.pixels(i).to_vec();
        for &p in &order[..k] {
            for (ch, &v) in fill.iter().enumerate() {
                image[ch * h * w + p] = v;
            }
        }
        pixels.extend(image);
    }
    LabelledImages::from_parts(pixels, data.labels().to_vec(), [c, h, w])
}

/// The per-channel mean of a dataset's 8-bit values, rounded.
pub fn channel_means(data: &LabelledImages) -> Vec<u8> {
    let [c, h, w] = data.image_shape();
    let mut sums = vec![0u64; c];
    for i in 0..data.len() {
        for (j, &v) in data.pixels(i).iter().enumerate() {
            sums[j / (h * w)] += v as u64;
        }
    }
    let count = (data.len() * h * w).max(1) as f64;
    sums.iter()
        .map(|&s| (s as f64 / count).round() as u8)
        .collect()
}

/// Retrains a fresh model on `train` with the most relevant `fraction` of
/// each image removed (per-channel training mean) and returns its accuracy on
/// `test` treated the same way. `fresh` builds the untrained model.
///
/// # Errors
/// As [`remove_most_relevant`] and [`train_classifier`].
#[allow(clippy::too_many_arguments)]
pub fn roar_accuracy<B, M>(
    fresh: impl Fn() -> M,
    train: &LabelledImages,
    train_maps: &[Vec<f64>],
    test: &LabelledImages,
    test_maps: &[Vec<f64>],
    fraction: f64,
    normalisation: &Normalisation,
    config: &TrainConfig,
    device: &B::Device,
) -> Result<f64>
where
    B: AutodiffBackend,
    M: Explainable<B> + AutodiffModule<B>,
    M::InnerModule: Explainable<B::InnerBackend>,
{
    let fill = channel_means(train);
    let train = remove_most_relevant(train, train_maps, fraction, &fill)?;
    let test = remove_most_relevant(test, test_maps, fraction, &fill)?;
    let model = train_classifier(fresh(), &train, normalisation, config, device, |_| {})?;
    accuracy(&model.valid(), &test, normalisation, 500, device)
}
