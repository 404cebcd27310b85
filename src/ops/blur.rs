//! Separable Gaussian blur as two products with constant matrices.

use burn::prelude::*;

use super::separable;
use crate::validate::within;
use crate::{Error, Result};

/// What a Gaussian blur does at the image border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlurEdges {
    /// Pixels beyond the border count as 0 (borders darken), as TorchRay's
    /// `imsmooth`.
    Zero,
    /// Each output is a weighted mean of the in-image pixels only (the
    /// kernel renormalised at the border).
    Renormalised,
}

/// The largest blur [`gaussian_blur`] accepts, in pixels: far wider than
/// any image the crate can hold, so every pixel already has the same weight.
pub const MAX_BLUR_SIGMA: f64 = 1e6;

/// The longest side [`gaussian_blur`] accepts: the blur is two products with
/// dense `side × side` matrices.
pub const MAX_BLUR_SIDE: usize = 8192;

/// Checks a blur width that must be positive: `0 < sigma ≤`
/// [`MAX_BLUR_SIGMA`] (`setting` names it in the error).
pub(crate) fn check_positive_sigma(setting: &'static str, sigma: f64) -> Result<()> {
    within(
        setting,
        sigma,
        f64::MIN_POSITIVE..=MAX_BLUR_SIGMA,
        "a blur width in pixels, 0 < sigma ≤ 1e6",
    )
}

/// Blurs `[N, C, H, W]` with a Gaussian of standard deviation `sigma`
/// pixels, truncated at `⌈4σ⌉`; `sigma = 0` returns the input. Linear in the
/// input, so differentiable any number of times.
///
/// # Errors
/// [`Error::InvalidConfig`] unless `0 ≤ sigma ≤` [`MAX_BLUR_SIGMA`];
/// [`Error::Shape`] for a side longer than [`MAX_BLUR_SIDE`].
pub fn gaussian_blur<B: Backend>(
    x: Tensor<B, 4>,
    sigma: f64,
    edges: BlurEdges,
) -> Result<Tensor<B, 4>> {
    within(
        "sigma",
        sigma,
        0.0..=MAX_BLUR_SIGMA,
        "a blur width in pixels, 0 ≤ sigma ≤ 1e6",
    )?;
    if sigma == 0.0 {
        return Ok(x);
    }
    let [_, _, h, w] = x.dims();
    if h.max(w) > MAX_BLUR_SIDE {
        return Err(Error::Shape {
            what: "images to blur",
            expected: format!("at most {MAX_BLUR_SIDE} pixels along each side"),
            found: x.dims().to_vec(),
        });
    }
    let radius = (4.0 * sigma).ceil() as isize;
    let tap = |i: isize| (-(i as f64 / (std::f64::consts::SQRT_2 * sigma)).powi(2)).exp();
    // The zero-edge normaliser sums every tap; only those that can meet a
    // pixel (no further than the image is wide) are stored.
    let total: f64 = (-radius..=radius).map(tap).sum();
    let radius = radius.min(h.max(w) as isize);
    let taps: Vec<f64> = (-radius..=radius).map(tap).collect();
    let matrix = |n: usize| {
        let mut m = vec![0.0; n * n];
        for o in 0..n {
            let mut row_sum = 0.0;
            for (k, &t) in taps.iter().enumerate() {
                let j = o as isize + k as isize - radius;
                if (0..n as isize).contains(&j) {
                    m[o * n + j as usize] = t;
                    row_sum += t;
                }
            }
            let norm = match edges {
                BlurEdges::Zero => total,
                BlurEdges::Renormalised => row_sum,
            };
            for j in 0..n {
                m[o * n + j] /= norm;
            }
        }
        m
    };
    Ok(separable(x, matrix(h), matrix(w), [h, w]))
}
