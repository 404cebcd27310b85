//! Separable Gaussian blur as two products with constant matrices.

use burn::prelude::*;

use super::separable;

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

/// Blurs `[N, C, H, W]` with a Gaussian of standard deviation `sigma`
/// pixels, truncated at `⌈4σ⌉`; `sigma = 0` returns the input. Linear in the
/// input, so differentiable any number of times.
pub fn gaussian_blur<B: Backend>(x: Tensor<B, 4>, sigma: f64, edges: BlurEdges) -> Tensor<B, 4> {
    if sigma <= 0.0 {
        return x;
    }
    let [_, _, h, w] = x.dims();
    let radius = (4.0 * sigma).ceil() as isize;
    let taps: Vec<f64> = (-radius..=radius)
        .map(|i| (-(i as f64 / (std::f64::consts::SQRT_2 * sigma)).powi(2)).exp())
        .collect();
    let total: f64 = taps.iter().sum();
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
    separable(x, matrix(h), matrix(w), [h, w])
}
