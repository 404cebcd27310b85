//! SmoothGrad, SQ-SmoothGrad and VarGrad: averages over noisy copies.

use burn::config::Config;
use burn::prelude::*;

use super::{count_within, positive, repeat_targets, Method};
use crate::input::float_tensor;
use crate::random::Rng;
use crate::{Error, Result};

/// How the attributions of the noisy copies are combined (Captum's `nt_type`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// SmoothGrad (Smilkov et al. 2017): the mean `E[a]`.
    SmoothGrad,
    /// SQ-SmoothGrad (Hooker et al. 2019): the mean of squares `E[a²]`.
    SmoothGradSquared,
    /// VarGrad (Adebayo et al. 2018): the population variance `E[a²] − E[a]²`.
    VarGrad,
}

/// The standard deviation of the Gaussian noise.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum NoiseLevel {
    /// An absolute standard deviation (Captum's `stdevs`).
    Absolute {
        /// σ.
        sigma: f64,
    },
    /// `σ = fraction · (max x − min x)` per image (the SmoothGrad paper's
    /// noise level).
    Relative {
        /// The fraction of each image's value range.
        fraction: f64,
    },
}

/// Settings of [`NoiseTunnel`].
#[derive(Config, Debug)]
pub struct NoiseTunnelConfig {
    /// How the noisy attributions are combined.
    #[config(default = "NoiseKind::SmoothGrad")]
    pub kind: NoiseKind,
    /// Number of noisy copies per image (Captum's `nt_samples`; the
    /// SmoothGrad paper uses 50).
    #[config(default = 50)]
    pub samples: usize,
    /// Noise level (the paper's 15 % of the value range by default).
    #[config(default = "NoiseLevel::Relative { fraction: 0.15 }")]
    pub noise: NoiseLevel,
    /// Seed of the noise.
    #[config(default = 0)]
    pub seed: u64,
    /// Noisy copies per evaluation of the wrapped method; changes speed and
    /// memory only.
    #[config(default = 10)]
    pub samples_per_batch: usize,
}

impl NoiseTunnelConfig {
    /// Wraps `method` with these settings.
    pub fn init<T>(&self, method: T) -> Result<NoiseTunnel<T>> {
        count_within("samples", self.samples, 100_000, "from 1 to 100000")?;
        count_within(
            "samples_per_batch",
            self.samples_per_batch,
            10_000,
            "from 1 to 10000",
        )?;
        match self.noise {
            NoiseLevel::Absolute { sigma } => positive("noise.sigma", sigma)?,
            NoiseLevel::Relative { fraction } => positive("noise.fraction", fraction)?,
        }
        Ok(NoiseTunnel {
            method,
            config: self.clone(),
        })
    }
}

/// Runs any method on noisy copies `x + ε_j`, `ε_j ~ N(0, σ²)`, and combines
/// the results ([`NoiseKind`]). Captum: `NoiseTunnel(method).attribute(x,
/// nt_type, nt_samples, stdevs)`.
///
/// The noise of copy `j` is the same for every image of a batch (drawn from
/// the seed, scaled by each image's σ), so a batch gives the same result as
/// one call per image, and the batch size changes nothing.
#[derive(Debug, Clone)]
pub struct NoiseTunnel<T> {
    method: T,
    config: NoiseTunnelConfig,
}

impl<B, M, T> Method<B, M> for NoiseTunnel<T>
where
    B: Backend,
    T: Method<B, M>,
{
    fn name(&self) -> String {
        let kind = match self.config.kind {
            NoiseKind::SmoothGrad => "SmoothGrad",
            NoiseKind::SmoothGradSquared => "SQ-SmoothGrad",
            NoiseKind::VarGrad => "VarGrad",
        };
        format!("{kind} ({})", self.method.name())
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let dims = images.dims();
        let [n, c, h, w] = dims;
        if n == 0 {
            return Err(Error::EmptyBatch);
        }
        if c * h * w == 0 {
            return Err(Error::Shape {
                what: "images",
                expected: "[N, C, H, W] with at least one channel and one pixel".into(),
                found: dims.to_vec(),
            });
        }
        let device = images.device();
        let sigmas: Vec<f64> = match self.config.noise {
            NoiseLevel::Absolute { sigma } => vec![sigma; n],
            NoiseLevel::Relative { fraction } => {
                let flat = images.clone().reshape([n, c * h * w]);
                let hi: Vec<f64> = flat.clone().max_dim(1).into_data().iter::<f64>().collect();
                let lo: Vec<f64> = flat.min_dim(1).into_data().iter::<f64>().collect();
                hi.iter()
                    .zip(&lo)
                    .map(|(a, b)| fraction * (a - b))
                    .collect()
            }
        };
        let sigma = float_tensor::<B, 4>(sigmas, [n, 1, 1, 1], &device);
        let mut rng = Rng::new(self.config.seed);
        let per_image = c * h * w;
        let (mut first, mut second): (Option<Tensor<B, 4>>, Option<Tensor<B, 4>>) = (None, None);
        let mut done = 0;
        while done < self.config.samples {
            let k = self
                .config
                .samples_per_batch
                .min(self.config.samples - done);
            let copies: Vec<Tensor<B, 4>> = (0..k)
                .map(|_| {
                    let noise: Vec<f64> = (0..per_image).map(|_| rng.normal()).collect();
                    let noise = float_tensor::<B, 4>(noise, [1, c, h, w], &device);
                    images.clone() + noise * sigma.clone()
                })
                .collect();
            let out = self.method.attribute(
                model,
                &Tensor::cat(copies, 0),
                &repeat_targets(targets, k),
            )?;
            let channels = out.dims()[1];
            let stacked = out.reshape([k, n, channels, h, w]);
            let s1 = stacked.clone().sum_dim(0).squeeze_dim::<4>(0);
            let s2 = stacked.powi_scalar(2).sum_dim(0).squeeze_dim::<4>(0);
            first = Some(first.map_or(s1.clone(), |f| f + s1));
            second = Some(second.map_or(s2.clone(), |s| s + s2));
            done += k;
        }
        let scale = 1.0 / self.config.samples as f64;
        let mean = first.expect("samples ≥ 1").mul_scalar(scale);
        let mean_square = second.expect("samples ≥ 1").mul_scalar(scale);
        Ok(match self.config.kind {
            NoiseKind::SmoothGrad => mean,
            NoiseKind::SmoothGradSquared => mean_square,
            NoiseKind::VarGrad => mean_square - mean.clone() * mean,
        })
    }
}
