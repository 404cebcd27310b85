//! Reference inputs for methods that compare an image with a baseline.

use burn::config::Config;
use burn::prelude::*;

use crate::input::float_tensor;
use crate::ops::blur::check_positive_sigma;
use crate::ops::{gaussian_blur, BlurEdges};
use crate::{Error, Result};

/// The reference input of integrated gradients, DeepLIFT, occlusion and the
/// learned rules (there also the fill of the masked images).
///
/// ```
/// use burn::prelude::*;
/// use learnprop::method::Baseline;
/// use learnprop::Cpu;
///
/// let device = Default::default();
/// let images = Tensor::<Cpu, 4>::ones([2, 3, 8, 8], &device);
/// let black = Baseline::PerChannel { values: vec![-2.1, -2.0, -1.8] };
/// let b = black.tensor(&images)?;
/// assert_eq!(b.dims(), [2, 3, 8, 8]);
/// // A blurred copy of a constant image is that image.
/// let blurred = Baseline::Blur { sigma: 2.0 }.tensor(&images)?;
/// assert!((blurred - images.clone()).abs().max().into_scalar() < 1e-5);
/// assert!(Baseline::Blur { sigma: 0.0 }.tensor(&images).is_err());
/// # Ok::<(), learnprop::Error>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub enum Baseline {
    /// The all-zero input (in the model's input space: after normalisation).
    Zero,
    /// Every element equal to `value` (e.g. the normalised value of black).
    Constant {
        /// The value.
        value: f64,
    },
    /// One value per channel, e.g. the normalised value of black or the
    /// dataset's per-channel mean.
    PerChannel {
        /// One value per channel of the images.
        values: Vec<f64>,
    },
    /// A Gaussian blur of each image (standard deviation `sigma` pixels,
    /// the kernel renormalised at the border), as meaningful perturbation
    /// removes evidence: a reference that keeps the colours and drops the
    /// detail.
    Blur {
        /// Standard deviation of the blur in pixels, `0 < sigma ≤ 1e6`.
        sigma: f64,
    },
    /// The mean of several baselines, e.g. of zero, black and a blurred
    /// copy: with the learned rules its map `∂F_t/∂I ⊙ (I − b̄)` is the mean
    /// of the maps towards each of them.
    Mean {
        /// The baselines averaged (1 to 64 of them).
        of: Vec<Baseline>,
    },
    /// One baseline for every image (`[1, C, H, W]`) or one per image
    /// (`[N, C, H, W]`), row-major values.
    Values {
        /// `[1 or N, C, H, W]`.
        shape: [usize; 4],
        /// The values.
        values: Vec<f64>,
    },
}

/// The most baselines [`Baseline::Mean`] averages.
const MAX_AVERAGED: usize = 64;

impl Baseline {
    /// The baseline as a tensor of `images`' shape (a constant: a blurred
    /// baseline is not differentiated through the images).
    ///
    /// # Errors
    /// [`Error::Shape`] if given values do not fit the images (per-channel
    /// values not one per channel), [`Error::InvalidConfig`] for values that
    /// are not finite or a blur width outside `(0, 1e6]`.
    pub fn tensor<B: Backend>(&self, images: &Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let dims = images.dims();
        let device = images.device();
        match self {
            Baseline::Values { shape, .. }
                if !((shape[0] == 1 || shape[0] == dims[0]) && shape[1..] == dims[1..]) =>
            {
                return Err(Error::Shape {
                    what: "baseline",
                    expected: format!(
                        "[1 or {}, {}, {}, {}] with as many values",
                        dims[0], dims[1], dims[2], dims[3]
                    ),
                    found: shape.to_vec(),
                })
            }
            Baseline::PerChannel { values } if values.len() != dims[1] => {
                return Err(Error::Shape {
                    what: "baseline",
                    expected: format!("{} values, one per channel", dims[1]),
                    found: vec![values.len()],
                })
            }
            _ => self.check()?,
        }
        Ok(match self {
            Baseline::Zero => images.zeros_like(),
            Baseline::Constant { value } => images.ones_like().mul_scalar(*value),
            Baseline::PerChannel { values } => {
                float_tensor::<B, 4>(values.clone(), [1, dims[1], 1, 1], &device).expand(dims)
            }
            Baseline::Blur { sigma } => {
                gaussian_blur(images.clone().detach(), *sigma, BlurEdges::Renormalised)?
            }
            Baseline::Values { shape, values } => {
                float_tensor::<B, 4>(values.clone(), *shape, &device).expand(dims)
            }
            Baseline::Mean { of } => {
                let mut sum = of[0].tensor(images)?;
                for b in &of[1..] {
                    sum = sum + b.tensor(images)?;
                }
                sum.div_scalar(of.len() as f64)
            }
        })
    }

    /// Checks the settings that do not depend on the images: finite
    /// values, a blur width in `(0, 1e6]`, given values as many as their
    /// shape. [`tensor`](Self::tensor) checks the rest.
    ///
    /// # Errors
    /// As [`tensor`](Self::tensor).
    pub fn check(&self) -> Result<()> {
        let finite = |values: &[f64]| match values.iter().find(|v| !v.is_finite()) {
            Some(bad) => Err(Error::InvalidConfig {
                setting: "baseline",
                value: bad.to_string(),
                expected: "finite values",
            }),
            None => Ok(()),
        };
        match self {
            Baseline::Zero => Ok(()),
            Baseline::Constant { value } => finite(&[*value]),
            Baseline::PerChannel { values } => finite(values),
            Baseline::Blur { sigma } => check_positive_sigma("baseline.sigma", *sigma),
            Baseline::Mean { of } => {
                if of.is_empty() || of.len() > MAX_AVERAGED {
                    return Err(Error::InvalidConfig {
                        setting: "baseline",
                        value: format!("the mean of {} baselines", of.len()),
                        expected: "the mean of 1 to 64 baselines",
                    });
                }
                of.iter().try_for_each(Baseline::check)
            }
            Baseline::Values { shape, values } => {
                if shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(values.len()) {
                    return Err(Error::Shape {
                        what: "baseline",
                        expected: format!("{} values for the shape", values.len()),
                        found: shape.to_vec(),
                    });
                }
                finite(values)
            }
        }
    }

    /// Whether the baseline can differ between the images of a batch (a
    /// blur, or given values with one image each); otherwise its first
    /// image stands for all.
    pub fn varies_per_image(&self) -> bool {
        match self {
            Baseline::Blur { .. } => true,
            Baseline::Mean { of } => of.iter().any(Baseline::varies_per_image),
            Baseline::Values { shape, .. } => shape[0] > 1,
            Baseline::Zero | Baseline::Constant { .. } | Baseline::PerChannel { .. } => false,
        }
    }
}

/// Per image, `Σ attribution − (F_t(x) − F_t(reference))`: how far an
/// attribution is from completeness.
pub(crate) fn convergence_delta<B: Backend, M: crate::model::Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
    reference: Tensor<B, 4>,
    attribution: &Tensor<B, 4>,
    targets: &[usize],
) -> Vec<f64> {
    let model = model.clone().no_grad();
    let n = images.dims()[0];
    let t = crate::input::target_indices::<B>(targets, &images.device());
    let target_logit = |x: Tensor<B, 4>| -> Vec<f64> {
        model
            .logits(x)
            .gather(1, t.clone())
            .into_data()
            .iter::<f64>()
            .collect()
    };
    let (fx, fr) = (target_logit(images.clone()), target_logit(reference));
    let sums: Vec<f64> = attribution
        .clone()
        .reshape([n as i32, -1])
        .sum_dim(1)
        .into_data()
        .iter::<f64>()
        .collect();
    (0..n).map(|i| sums[i] - (fx[i] - fr[i])).collect()
}
