//! From the attribution map to the two soft masks.

use burn::prelude::*;

use super::MaskStrategy;
use crate::ops::{separable, sigmoid};

/// Per-image rescale of `A` `[N, 1, H, W]` to `[0, 1]`:
/// `(A − min A) / (max A − min A + 1e−12)`, differentiable through min and max.
pub(crate) fn normalise01<B: Backend>(map: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = map.dims();
    let flat = map.reshape([n, c * h * w]);
    let lo = flat.clone().min_dim(1);
    let hi = flat.clone().max_dim(1);
    ((flat - lo.clone()) / (hi - lo).add_scalar(1e-12)).reshape([n, c, h, w])
}

/// Paper Eq. 6 over the whole image: `Σ_v S(u−v) Â(v) / Σ_v S(u−v)`, `v` over
/// in-image positions, as two products with Gaussian matrices.
pub(crate) fn gaussian_smooth<B: Backend>(map: Tensor<B, 4>, sigma: f64) -> Tensor<B, 4> {
    let [_, _, h, w] = map.dims();
    // Row-normalised kernel matrices: K[i][j] = exp(−(i−j)²/2σ²) / Σ_j (…).
    let kernel = |n: usize| {
        let mut k = vec![0.0; n * n];
        for i in 0..n {
            let row: Vec<f64> = (0..n)
                .map(|j| (-((i as f64 - j as f64).powi(2)) / (2.0 * sigma * sigma)).exp())
                .collect();
            let mass: f64 = row.iter().sum();
            for j in 0..n {
                k[i * n + j] = row[j] / mass;
            }
        }
        k
    };
    separable(map, kernel(h), kernel(w), [h, w])
}

/// The positive and negative masks `[N, 1, H, W]` of the rescaled map.
pub(crate) fn masks<B: Backend>(
    normalised: Tensor<B, 4>,
    strategy: MaskStrategy,
    positive_centre: f64,
    negative_centre: f64,
    sharpness: f64,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let (map, levels) = match strategy {
        MaskStrategy::Sigmoid => (normalised, None),
        MaskStrategy::Gaussian { sigma } => (gaussian_smooth(normalised, sigma), None),
        MaskStrategy::TopFraction { fraction } => {
            let levels = rank_levels(normalised.clone(), fraction);
            (normalised, Some(levels))
        }
    };
    let (above_positive, above_negative) = match levels {
        None => (
            map.clone().sub_scalar(positive_centre),
            map.sub_scalar(negative_centre),
        ),
        Some((top, bottom)) => (map.clone() - top, map - bottom),
    };
    let positive = sigmoid(above_positive.mul_scalar(sharpness))
        .neg()
        .add_scalar(1.0);
    let negative = sigmoid(above_negative.mul_scalar(sharpness));
    (positive, negative)
}

/// The values `[N, 1, 1, 1]` of the `⌈fraction·H·W⌉`-th largest and smallest
/// pixel of each map, picked by index so that the derivative flows to the
/// pixel that sets the level.
fn rank_levels<B: Backend>(map: Tensor<B, 4>, fraction: f64) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let [n, c, h, w] = map.dims();
    let count = c * h * w;
    let rank = ((fraction * count as f64).ceil() as usize).clamp(1, count);
    let flat = map.reshape([n, count]);
    let (_, order) = flat.clone().detach().sort_descending_with_indices(1);
    let pick = |index: usize| {
        let at = order.clone().slice([0..n, index..index + 1]);
        flat.clone().gather(1, at).reshape([n, 1, 1, 1])
    };
    (pick(rank - 1), pick(count - rank))
}
