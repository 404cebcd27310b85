//! ROAR (Hooker et al. 2019): remove the most relevant pixels of every
//! training and test image, retrain, and measure the accuracy lost.

use burn::prelude::Backend;
use burn::tensor::backend::AutodiffBackend;

use super::imputation::impute_channel;
use crate::data::{LabelledImages, Normalisation};
use crate::guard::catching_model_panics;
use crate::input::check_finite_map;
use crate::model::{Explainable, Model};
use crate::random::Rng;
use crate::train::{accuracy, train_classifier, TrainConfig};
use crate::{Error, Result};

/// How ROAR fills the removed pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoarFill {
    /// The per-channel mean of the training set (Hooker et al.). The shape
    /// of the removed set stays visible, and for class-specific maps it can
    /// reveal the label to the retrained model.
    DatasetMean,
    /// Noisy linear imputation (Rong et al. 2022, ROAD): each removed pixel
    /// takes the weighted mean of its eight neighbours (the removed values
    /// solve the joint linear system), plus Gaussian noise of standard
    /// deviation `noise` in 8-bit levels (ROAD uses 1 % of the range,
    /// 2.55), seeded per image from `seed`.
    NoisyLinearImputation {
        /// Noise standard deviation in 8-bit levels.
        noise: f64,
        /// Seed of the noise.
        seed: u64,
    },
}

/// The `k` pixels with the highest map value (ties in row-major order).
fn most_relevant(map: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..map.len()).collect();
    order.sort_by(|&a, &b| {
        map[b]
            .partial_cmp(&map[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order.truncate(k);
    order
}

/// A copy of `data` in which `replace(i, image, pixels)` rewrites, in image
/// `i` (all channels, `[C·H·W]` 8-bit values), the `fraction` of pixels
/// with the highest map value; `per_channel` (one value per channel, named
/// `what` in errors) is checked against the images.
fn replace_most_relevant(
    data: &LabelledImages,
    maps: &[Vec<f64>],
    fraction: f64,
    per_channel: (&'static str, &[u8]),
    mut replace: impl FnMut(usize, &mut [u8], &[usize]),
) -> Result<LabelledImages> {
    let [c, h, w] = data.image_shape();
    if maps.len() != data.len() || maps.iter().any(|m| m.len() != h * w) {
        return Err(Error::Shape {
            what: "ROAR maps",
            expected: format!("{} maps of {} values", data.len(), h * w),
            found: vec![maps.len(), maps.first().map_or(0, |m| m.len())],
        });
    }
    for (i, map) in maps.iter().enumerate() {
        check_finite_map("ROAR map", map, map.len()).map_err(|e| match e {
            Error::NonFiniteMap {
                what, index, value, ..
            } => Error::NonFiniteMap {
                what,
                image: i,
                index,
                value,
            },
            other => other,
        })?;
    }
    let (what, values) = per_channel;
    if values.len() != c {
        return Err(Error::Shape {
            what,
            expected: format!("{c} values, one per channel"),
            found: vec![values.len()],
        });
    }
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Error::InvalidConfig {
            setting: "ROAR fraction",
            value: fraction.to_string(),
            expected: "a fraction in [0, 1]",
        });
    }
    let k = (fraction * (h * w) as f64).round() as usize;
    let mut pixels = Vec::with_capacity(data.len() * c * h * w);
    for (i, map) in maps.iter().enumerate() {
        let mut image = data.bytes(i).to_vec();
        replace(i, &mut image, &most_relevant(map, k));
        pixels.extend(image);
    }
    LabelledImages::from_parts(pixels, data.labels().to_vec(), [c, h, w])
}

/// A copy of `data` in which, for each image, the `fraction` of pixels with
/// the highest `maps` value (one `H·W` map per image; ties in row-major
/// order) is replaced in every channel by `fill` (8-bit values, e.g. the
/// per-channel dataset mean rounded to the nearest level).
///
/// # Errors
/// [`Error::Shape`] if the maps or the fill do not fit the images;
/// [`Error::InvalidConfig`] if the fraction is outside `[0, 1]`.
pub fn remove_most_relevant(
    data: &LabelledImages,
    maps: &[Vec<f64>],
    fraction: f64,
    fill: &[u8],
) -> Result<LabelledImages> {
    let [_, h, w] = data.image_shape();
    replace_most_relevant(
        data,
        maps,
        fraction,
        ("ROAR fill", fill),
        |_, image, chosen| {
            for &p in chosen {
                for (ch, &v) in fill.iter().enumerate() {
                    image[ch * h * w + p] = v;
                }
            }
        },
    )
}

/// A copy of `data` in which, for each image, the `fraction` of pixels with
/// the highest `maps` value is filled by noisy linear imputation (see
/// [`RoarFill::NoisyLinearImputation`]), each channel separately, rounded
/// and clamped to 8 bits. A removed region with no kept neighbour settles
/// at `fallback` (per channel, e.g. the dataset mean). Image `i` draws its
/// noise from seed `seed + i`, so a subset gives the same pixels.
///
/// # Errors
/// As [`remove_most_relevant`]; [`Error::InvalidConfig`] for a negative or
/// non-finite `noise`.
pub fn impute_most_relevant(
    data: &LabelledImages,
    maps: &[Vec<f64>],
    fraction: f64,
    fallback: &[u8],
    noise: f64,
    seed: u64,
) -> Result<LabelledImages> {
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(Error::InvalidConfig {
            setting: "imputation noise",
            value: noise.to_string(),
            expected: "a finite value ≥ 0",
        });
    }
    let [_, h, w] = data.image_shape();
    let per_channel = ("ROAR fallback", fallback);
    replace_most_relevant(data, maps, fraction, per_channel, |i, image, chosen| {
        let mut removed = vec![false; h * w];
        for &p in chosen {
            removed[p] = true;
        }
        let mut rng = Rng::new(seed.wrapping_add(i as u64));
        for (channel, &fallback) in image.chunks_mut(h * w).zip(fallback) {
            let mut values: Vec<f64> = channel.iter().map(|&v| v as f64).collect();
            impute_channel(
                &mut values,
                &removed,
                [h, w],
                noise,
                fallback as f64,
                &mut rng,
            );
            for (pixel, v) in channel.iter_mut().zip(values) {
                *pixel = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    })
}

/// The per-channel mean of a dataset's 8-bit values, rounded.
pub fn channel_means(data: &LabelledImages) -> Vec<u8> {
    let [c, h, w] = data.image_shape();
    let mut sums = vec![0u64; c];
    for i in 0..data.len() {
        for (j, &v) in data.bytes(i).iter().enumerate() {
            sums[j / (h * w)] += v as u64;
        }
    }
    let count = (data.len() * h * w).max(1) as f64;
    sums.iter()
        .map(|&s| (s as f64 / count).round() as u8)
        .collect()
}

/// Retrains a fresh model on `train` with the most relevant `fraction` of
/// each image removed (filled as `fill` says; the per-channel training mean
/// is the fill, or the imputation's fallback) and returns its accuracy on
/// `test` treated the same way. `fresh` builds the untrained model.
///
/// # Errors
/// As [`remove_most_relevant`], [`impute_most_relevant`] and
/// [`train_classifier`].
#[allow(clippy::too_many_arguments)]
pub fn roar_accuracy<B, M>(
    fresh: impl Fn() -> M,
    train: &LabelledImages,
    train_maps: &[Vec<f64>],
    test: &LabelledImages,
    test_maps: &[Vec<f64>],
    fraction: f64,
    fill: RoarFill,
    normalisation: &Normalisation,
    config: &TrainConfig,
    device: &B::Device,
) -> Result<f64>
where
    B: AutodiffBackend,
    M: Model<B>,
{
    catching_model_panics("ROAR", || {
        let means = channel_means(train);
        let train = remove_pixels(train, train_maps, fraction, fill, &means)?;
        // Different noise for the test set: its images are not the training
        // images, and neither is their noise.
        let test_fill = match fill {
            RoarFill::NoisyLinearImputation { noise, seed } => RoarFill::NoisyLinearImputation {
                noise,
                seed: seed ^ 0x9e37_79b9_7f4a_7c15,
            },
            other => other,
        };
        let test = remove_pixels(test, test_maps, fraction, test_fill, &means)?;
        let model = train_classifier(fresh(), &train, normalisation, config, device, |_| {})?;
        accuracy(&model.valid(), &test, normalisation, 500, device)
    })
}

/// [`remove_most_relevant`] or [`impute_most_relevant`], as `fill` says;
/// `means` is the constant fill or the imputation's fallback (per channel,
/// 8-bit).
///
/// # Errors
/// As the two functions.
pub fn remove_pixels(
    data: &LabelledImages,
    maps: &[Vec<f64>],
    fraction: f64,
    fill: RoarFill,
    means: &[u8],
) -> Result<LabelledImages> {
    match fill {
        RoarFill::DatasetMean => remove_most_relevant(data, maps, fraction, means),
        RoarFill::NoisyLinearImputation { noise, seed } => {
            impute_most_relevant(data, maps, fraction, means, noise, seed)
        }
    }
}

/// The accuracy of a trained `model` on `data` with the most relevant
/// `fraction` of each image removed ([`remove_pixels`]), without
/// retraining: ROAD's evaluation (Rong et al. 2022) when `fill` is
/// [`RoarFill::NoisyLinearImputation`]. The model never sees the removal
/// pattern during training, so the pattern cannot teach it the label.
///
/// # Errors
/// As [`remove_pixels`] and [`accuracy`].
#[allow(clippy::too_many_arguments)]
pub fn removal_accuracy<B: Backend, M: Explainable<B>>(
    model: &M,
    data: &LabelledImages,
    maps: &[Vec<f64>],
    fraction: f64,
    fill: RoarFill,
    means: &[u8],
    normalisation: &Normalisation,
    device: &B::Device,
) -> Result<f64> {
    catching_model_panics("removal accuracy", || {
        let removed = remove_pixels(data, maps, fraction, fill, means)?;
        accuracy(model, &removed, normalisation, 500, device)
    })
}
