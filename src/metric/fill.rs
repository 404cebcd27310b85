//! What removed pixels become in the removal curves.

use burn::config::Config;
use burn::prelude::*;

use super::imputation::impute_channel;
use crate::ops::blur::check_positive_sigma;
use crate::ops::{gaussian_blur, BlurEdges};
use crate::random::Rng;
use crate::validate::non_negative;
use crate::{Error, Result};

/// What a removed pixel becomes (in the model's input space).
#[derive(Config, Debug, PartialEq)]
pub enum Fill {
    /// Every channel set to `value` (0 matches the method's own masking).
    Value {
        /// The value.
        value: f64,
    },
    /// One value per channel (e.g. the normalised value of black, or the
    /// dataset mean).
    PerChannel {
        /// The values.
        values: Vec<f64>,
    },
    /// The value of the pixel in a blurred copy of the image (Gaussian of
    /// standard deviation `sigma` pixels, the kernel renormalised at the
    /// border), as the insertion metric of Petsiuk et al. starts from.
    Blur {
        /// Standard deviation of the blur in pixels, `0 < sigma ≤ 1e6`.
        sigma: f64,
    },
    /// ROAD's noisy linear imputation (Rong et al. 2022): the removed
    /// pixels of each channel solve `x_i = Σ_j w_ij x_j / Σ_j w_ij` over
    /// their eight neighbours (kept pixels fixed; a region without kept
    /// neighbours settles at the channel's mean), plus Gaussian noise of
    /// standard deviation `noise` in the model's input units, seeded per
    /// image from `seed + i`.
    NoisyLinearImputation {
        /// Noise standard deviation, in the model's input units, `≥ 0`.
        noise: f64,
        /// Seed of the noise.
        seed: u64,
    },
}

/// Where the removed pixels of each image get their values.
pub(crate) enum Source {
    /// One value per channel.
    Constant(Vec<f64>),
    /// A replacement image per image, `[N, C, H, W]` row-major.
    Images(Vec<f64>),
    /// Imputed from the kept neighbours.
    Imputed { noise: f64, seed: u64 },
}

impl Source {
    /// Checks `fill` against `images` `[N, C, H, W]` and prepares it.
    pub(crate) fn new<B: Backend>(fill: &Fill, images: &Tensor<B, 4>) -> Result<Self> {
        let c = images.dims()[1];
        let constant = |fill: Vec<f64>| match fill.iter().find(|v| !v.is_finite()) {
            Some(bad) => Err(Error::InvalidConfig {
                setting: "fill",
                value: bad.to_string(),
                expected: "finite fill values",
            }),
            None => Ok(Source::Constant(fill)),
        };
        Ok(match fill {
            Fill::Value { value } => constant(vec![*value; c])?,
            Fill::PerChannel { values } => {
                if values.len() != c {
                    return Err(Error::Shape {
                        what: "fill",
                        expected: format!("{c} values, one per channel"),
                        found: vec![values.len()],
                    });
                }
                constant(values.clone())?
            }
            Fill::Blur { sigma } => {
                check_positive_sigma("fill.sigma", *sigma)?;
                let blurred = gaussian_blur(images.clone(), *sigma, BlurEdges::Renormalised)?;
                Source::Images(blurred.into_data().iter::<f64>().collect())
            }
            Fill::NoisyLinearImputation { noise, seed } => {
                non_negative("fill.noise", *noise)?;
                Source::Imputed {
                    noise: *noise,
                    seed: *seed,
                }
            }
        })
    }

    /// The noise generator of image `i` (seed + i for imputation).
    pub(crate) fn rng(&self, i: usize) -> Rng {
        match self {
            Source::Imputed { seed, .. } => Rng::new(seed.wrapping_add(i as u64)),
            _ => Rng::new(0),
        }
    }

    /// Fills the pixels of image `i` (`x`, `[C, H, W]` row-major) where
    /// `gone` is true.
    pub(crate) fn fill(
        &self,
        x: &mut [f64],
        gone: &[bool],
        i: usize,
        [h, w]: [usize; 2],
        rng: &mut Rng,
    ) {
        let per_image = x.len();
        match self {
            Source::Constant(fill) => replace(x, gone, |ch, _| fill[ch]),
            Source::Images(all) => {
                let replacement = &all[i * per_image..(i + 1) * per_image];
                replace(x, gone, |ch, p| replacement[ch * h * w + p])
            }
            Source::Imputed { noise, .. } => {
                for channel in x.chunks_mut(h * w) {
                    let mean = channel.iter().sum::<f64>() / (h * w) as f64;
                    impute_channel(channel, gone, [h, w], *noise, mean, rng);
                }
            }
        }
    }
}

/// Sets every channel of the pixels where `gone` is true to `value(channel, pixel)`.
fn replace(x: &mut [f64], gone: &[bool], value: impl Fn(usize, usize) -> f64) {
    let hw = gone.len();
    for (p, _) in gone.iter().enumerate().filter(|(_, &g)| g) {
        for ch in 0..x.len() / hw {
            x[ch * hw + p] = value(ch, p);
        }
    }
}
