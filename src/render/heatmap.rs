//! Maps and images to pixel buffers.

use burn::prelude::*;
use image::{Rgb, RgbImage};

use super::colormap::{DIVERGING, SEQUENTIAL};
use crate::{Error, Result};

fn to_grid<B: Backend>(map: Tensor<B, 2>) -> (usize, usize, Vec<f64>) {
    let [h, w] = map.dims();
    (h, w, map.into_data().iter::<f64>().collect())
}

fn from_fn(h: usize, w: usize, f: impl Fn(usize) -> [u8; 3]) -> RgbImage {
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        Rgb(f(y as usize * w + x as usize))
    })
}

/// A signed map `[H, W]` in the diverging colormap, centred at 0: white is 0,
/// the most extreme value (of either sign) is the deepest red or blue.
pub fn signed_heatmap<B: Backend>(map: Tensor<B, 2>) -> RgbImage {
    signed_heatmap_clipped(map, 0.0)
}

/// [`signed_heatmap`] with the colour scale set at the `1 − outliers`
/// quantile of `|map|` instead of its maximum (values beyond saturate), so
/// that a few extreme pixels do not wash out the rest. Captum's
/// `visualize_image_attr` does the same with `outlier_perc = 2`
/// (`outliers = 0.02`).
pub fn signed_heatmap_clipped<B: Backend>(map: Tensor<B, 2>, outliers: f64) -> RgbImage {
    let (h, w, v) = to_grid(map);
    let mut magnitudes: Vec<f64> = v
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| x.abs())
        .collect();
    magnitudes.sort_by(f64::total_cmp);
    let scale = match magnitudes.len() {
        0 => 0.0,
        n => {
            let rank = ((1.0 - outliers.clamp(0.0, 1.0)) * (n - 1) as f64).round() as usize;
            magnitudes[rank.min(n - 1)]
        }
    };
    let scale = if scale > 0.0 { scale } else { 1.0 };
    from_fn(h, w, |i| DIVERGING.color(0.5 + 0.5 * v[i] / scale))
}

/// A map `[H, W]` of magnitudes in the sequential colormap, from its minimum
/// (black) to its maximum (yellow).
pub fn magnitude_heatmap<B: Backend>(map: Tensor<B, 2>) -> RgbImage {
    let (h, w, v) = to_grid(map);
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    from_fn(h, w, |i| SEQUENTIAL.color((v[i] - lo) / span))
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
/// another number of channels.
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
    match range {
        DisplayRange::MinMax => {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let span = if hi > lo { hi - lo } else { 1.0 };
            v.iter_mut().for_each(|x| *x = (*x - lo) / span);
        }
        DisplayRange::Normalised { mean, std } => {
            if mean.len() != c || std.len() != c {
                return Err(Error::Shape {
                    what: "normalisation mean/std",
                    expected: format!("{c} values each"),
                    found: vec![mean.len(), std.len()],
                });
            }
            for (i, x) in v.iter_mut().enumerate() {
                let ch = i / (h * w);
                *x = *x * std[ch] + mean[ch];
            }
        }
    }
    let byte = |x: f64| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    Ok(from_fn(h, w, |i| {
        if c == 1 {
            [byte(v[i]); 3]
        } else {
            [byte(v[i]), byte(v[h * w + i]), byte(v[2 * h * w + i])]
        }
    }))
}

/// A single-channel image `[H, W]` with values in `[0, 1]` as grey levels.
pub fn grey_image<B: Backend>(image: Tensor<B, 2>) -> RgbImage {
    let (h, w, v) = to_grid(image);
    from_fn(h, w, |i| [(v[i].clamp(0.0, 1.0) * 255.0).round() as u8; 3])
}

/// Blends `heat` over a grey version of `base`: `opacity` 0 shows only the
/// base, 1 only the heatmap.
///
/// # Panics
/// If the two pictures differ in size.
pub fn overlay(base: &RgbImage, heat: &RgbImage, opacity: f32) -> RgbImage {
    assert_eq!(
        base.dimensions(),
        heat.dimensions(),
        "overlay: sizes differ"
    );
    let a = opacity.clamp(0.0, 1.0);
    RgbImage::from_fn(base.width(), base.height(), |x, y| {
        let b = base.get_pixel(x, y).0;
        let grey = 0.299 * b[0] as f32 + 0.587 * b[1] as f32 + 0.114 * b[2] as f32;
        let hp = heat.get_pixel(x, y).0;
        Rgb(std::array::from_fn(|c| {
            ((1.0 - a) * grey + a * hp[c] as f32).round() as u8
        }))
    })
}

/// Enlarges a picture by an integer factor, each pixel a `factor × factor`
/// block (no smoothing, so pixel attributions stay readable).
pub fn upscale(image: &RgbImage, factor: u32) -> RgbImage {
    let f = factor.max(1);
    RgbImage::from_fn(image.width() * f, image.height() * f, |x, y| {
        *image.get_pixel(x / f, y / f)
    })
}

/// Places pictures side by side, `gap` white pixels apart, top-aligned.
pub fn hstack(images: &[RgbImage], gap: u32) -> RgbImage {
    let width =
        images.iter().map(|i| i.width()).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    let height = images.iter().map(|i| i.height()).max().unwrap_or(0);
    let mut out = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let mut x0 = 0;
    for image in images {
        image::imageops::replace(&mut out, image, x0 as i64, 0);
        x0 += image.width() + gap;
    }
    out
}
