//! Maps and images to pixel buffers.

use burn::prelude::*;
use image::{Rgb, RgbImage};

use super::canvas;
use super::colormap::{DIVERGING, SEQUENTIAL};
use crate::input::check_finite_map;
use crate::{Error, Result};

/// The values of a map `[H, W]`, checked to be finite.
fn to_grid<B: Backend>(map: Tensor<B, 2>, what: &str) -> Result<(usize, usize, Vec<f64>)> {
    let [h, w] = map.dims();
    let values: Vec<f64> = map.into_data().iter::<f64>().collect();
    check_finite(&values, what)?;
    Ok((h, w, values))
}

fn check_finite(values: &[f64], what: &str) -> Result<()> {
    check_finite_map(what, values, values.len())
}

fn from_fn(h: usize, w: usize, f: impl Fn(usize) -> [u8; 3]) -> Result<RgbImage> {
    canvas::from_fn("picture", w as u64, h as u64, |x, y| {
        Rgb(f(y as usize * w + x as usize))
    })
}

/// A signed map `[H, W]` in the diverging colormap, centred at 0: white is 0,
/// the most extreme value (of either sign) is the deepest red or blue.
///
/// # Errors
/// [`Error::NonFiniteMap`] if the map holds NaN or an infinity,
/// [`Error::PictureTooLarge`] past [`MAX_PICTURE_PIXELS`](super::MAX_PICTURE_PIXELS).
pub fn signed_heatmap<B: Backend>(map: Tensor<B, 2>) -> Result<RgbImage> {
    signed_heatmap_clipped(map, 0.0)
}

/// [`signed_heatmap`] with the colour scale set at the `1 − outliers`
/// quantile of `|map|` instead of its maximum (values beyond saturate), so
/// that a few extreme pixels do not wash out the rest. Captum's
/// `visualize_image_attr` does the same with `outlier_perc = 2`
/// (`outliers = 0.02`).
///
/// # Errors
/// As [`signed_heatmap`], and [`Error::InvalidConfig`] if `outliers` is not
/// in `[0, 1]`.
pub fn signed_heatmap_clipped<B: Backend>(map: Tensor<B, 2>, outliers: f64) -> Result<RgbImage> {
    if !(0.0..=1.0).contains(&outliers) {
        return Err(Error::InvalidConfig {
            setting: "outliers",
            value: outliers.to_string(),
            expected: "a fraction in [0, 1]",
        });
    }
    let (h, w, v) = to_grid(map, "signed heatmap")?;
    let mut magnitudes: Vec<f64> = v.iter().map(|x| x.abs()).collect();
    magnitudes.sort_by(f64::total_cmp);
    let scale = match magnitudes.len() {
        0 => 0.0,
        n => {
            let rank = ((1.0 - outliers) * (n - 1) as f64).round() as usize;
            magnitudes[rank.min(n - 1)]
        }
    };
    let scale = if scale > 0.0 { scale } else { 1.0 };
    from_fn(h, w, |i| DIVERGING.color(0.5 + 0.5 * v[i] / scale))
}

/// A map `[H, W]` of magnitudes in the sequential colormap, from its minimum
/// (black) to its maximum (yellow).
///
/// # Errors
/// As [`signed_heatmap`].
pub fn magnitude_heatmap<B: Backend>(map: Tensor<B, 2>) -> Result<RgbImage> {
    let (h, w, v) = to_grid(map, "magnitude heatmap")?;
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    from_fn(h, w, |i| SEQUENTIAL.color(unit(v[i], lo, hi)))
}

/// `x` in `[lo, hi]` mapped to `[0, 1]` (0 when the range is one value),
/// also where `hi − lo` overflows.
fn unit(x: f64, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        0.0
    } else if (hi - lo).is_finite() {
        (x - lo) / (hi - lo)
    } else {
        (x / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0)
    }
}

/// How input values become display intensities.
#[derive(Debug, Clone, PartialEq)]
pub enum DisplayRange {
    /// Stretch each image's own minimum and maximum to black and white.
    MinMax,
    /// Undo a per-channel normalisation `(x − mean) / std`, then clamp the
    /// result from `[0, 1]` (the usual ImageNet-style preprocessing).
    Normalised {
        /// Per-channel means.
        mean: Vec<f64>,
        /// Per-channel standard deviations.
        std: Vec<f64>,
    },
}

/// An input image `[C, H, W]` (1 or 3 channels) as an RGB picture.
///
/// # Errors
/// [`Error::Shape`] for another channel count, or a normalisation with
/// another number of channels; [`Error::NonFiniteMap`] if the image, or the
/// normalisation, holds NaN or an infinity.
pub fn rgb_image<B: Backend>(image: Tensor<B, 3>, range: &DisplayRange) -> Result<RgbImage> {
    let [c, h, w] = image.dims();
    if c != 1 && c != 3 {
        return Err(Error::Shape {
            what: "image",
            expected: "[C, H, W] with C = 1 or 3".into(),
            found: vec![c, h, w],
        });
    }
    let mut v: Vec<f64> = image.into_data().iter::<f64>().collect();
    check_finite(&v, "image")?;
    match range {
        DisplayRange::MinMax => {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            v.iter_mut().for_each(|x| *x = unit(*x, lo, hi));
        }
        DisplayRange::Normalised { mean, std } => {
            if mean.len() != c || std.len() != c {
                return Err(Error::Shape {
                    what: "normalisation mean/std",
                    expected: format!("{c} values each"),
                    found: vec![mean.len(), std.len()],
                });
            }
            check_finite(mean, "normalisation mean")?;
            check_finite(std, "normalisation std")?;
            for (i, x) in v.iter_mut().enumerate() {
                let ch = i / (h * w);
                *x = *x * std[ch] + mean[ch];
            }
        }
    }
    let byte = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    from_fn(h, w, |i| {
        if c == 1 {
            [byte(v[i]); 3]
        } else {
            [byte(v[i]), byte(v[h * w + i]), byte(v[2 * h * w + i])]
        }
    })
}

/// A single-channel image `[H, W]` with values in `[0, 1]` as grey levels
/// (values outside are clamped).
///
/// # Errors
/// As [`signed_heatmap`].
pub fn grey_image<B: Backend>(image: Tensor<B, 2>) -> Result<RgbImage> {
    let (h, w, v) = to_grid(image, "grey image")?;
    from_fn(h, w, |i| [(v[i].clamp(0.0, 1.0) * 255.0).round() as u8; 3])
}

/// Blends `heat` over a grey version of `base`: `opacity` 0 shows only the
/// base, 1 only the heatmap.
///
/// # Errors
/// [`Error::Shape`] if the two pictures differ in size,
/// [`Error::InvalidConfig`] if `opacity` is not in `[0, 1]`.
pub fn overlay(base: &RgbImage, heat: &RgbImage, opacity: f32) -> Result<RgbImage> {
    if base.dimensions() != heat.dimensions() {
        let (w, h) = heat.dimensions();
        return Err(Error::Shape {
            what: "overlay heatmap",
            expected: format!(
                "the base picture's size {:?} (width, height)",
                base.dimensions()
            ),
            found: vec![w as usize, h as usize],
        });
    }
    if !(0.0..=1.0).contains(&opacity) {
        return Err(Error::InvalidConfig {
            setting: "opacity",
            value: opacity.to_string(),
            expected: "a fraction in [0, 1]",
        });
    }
    let a = opacity;
    Ok(RgbImage::from_fn(base.width(), base.height(), |x, y| {
        let b = base.get_pixel(x, y).0;
        let grey = 0.299 * b[0] as f32 + 0.587 * b[1] as f32 + 0.114 * b[2] as f32;
        let hp = heat.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|c| {
            ((1.0 - a) * grey + a * hp[c] as f32).round() as u8
        }))
    }))
}

/// Enlarges a picture by an integer factor, each pixel a `factor × factor`
/// block (no smoothing, so pixel attributions stay readable).
///
/// # Errors
/// [`Error::InvalidConfig`] for a factor of 0, [`Error::PictureTooLarge`]
/// past [`MAX_PICTURE_PIXELS`](super::MAX_PICTURE_PIXELS).
pub fn upscale(image: &RgbImage, factor: u32) -> Result<RgbImage> {
    if factor == 0 {
        return Err(Error::InvalidConfig {
            setting: "factor",
            value: "0".into(),
            expected: "an enlargement of at least 1",
        });
    }
    let f = u64::from(factor);
    canvas::from_fn(
        "upscaled picture",
        u64::from(image.width()) * f,
        u64::from(image.height()) * f,
        |x, y| *image.get_pixel(x / factor, y / factor),
    )
}

/// Places pictures side by side, `gap` white pixels apart, top-aligned.
///
/// # Errors
/// [`Error::PictureTooLarge`] past [`MAX_PICTURE_PIXELS`](super::MAX_PICTURE_PIXELS).
pub fn hstack(images: &[RgbImage], gap: u32) -> Result<RgbImage> {
    let gaps = u64::from(gap) * images.len().saturating_sub(1) as u64;
    let width = images.iter().map(|i| u64::from(i.width())).sum::<u64>() + gaps;
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let mut out = canvas::filled("stacked picture", width, u64::from(height), [255; 3])?;
    let mut x0 = 0i64;
    for image in images {
        image::imageops::replace(&mut out, image, x0, 0);
        x0 += i64::from(image.width()) + i64::from(gap);
    }
    Ok(out)
}
