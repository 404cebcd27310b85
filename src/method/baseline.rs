//! Reference inputs for methods that compare an image with a baseline.

use burn::config::Config;
use burn::prelude::*;

use crate::input::float_tensor;
use crate::{Error, Result};

/// The reference input of integrated gradients, DeepLIFT and occlusion.
#[derive(Config, Debug, PartialEq)]
pub enum Baseline {
    /// The all-zero input (in the model's input space: after normalisation).
    Zero,
    /// Every element equal to `value` (e.g. the normalised value of black).
    Constant {
        /// The value.
        value: f64,
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

impl Baseline {
    /// The baseline as a tensor of `images`' shape.
    ///
    /// # Errors
    /// [`Error::Shape`] if given values do not fit the images, or are not
    /// finite.
    pub fn tensor<B: Backend>(&self, images: &Tensor<B, 4>) -> Result<Tensor<B, 4>> {
        let dims = images.dims();
        match self {
            Baseline::Zero => Ok(images.zeros_like()),
            Baseline::Constant { value } => {
                if !value.is_finite() {
                    return Err(Error::InvalidConfig {
                        setting: "baseline",
                        value: value.to_string(),
                        expected: "a finite value",
                    });
                }
                Ok(images.ones_like().mul_scalar(*value))
            }
            Baseline::Values { shape, values } => {
                let fits = (shape[0] == 1 || shape[0] == dims[0]) && shape[1..] == dims[1..];
                if !fits || values.len() != shape.iter().product::<usize>() {
                    return Err(Error::Shape {
                        what: "baseline",
                        expected: format!(
                            "[1 or {}, {}, {}, {}] with as many values",
                            dims[0], dims[1], dims[2], dims[3]
                        ),
                        found: shape.to_vec(),
                    });
                }
                if values.iter().any(|v| !v.is_finite()) {
                    return Err(Error::InvalidConfig {
                        setting: "baseline",
                        value: "NaN or infinity".into(),
                        expected: "finite values",
                    });
                }
                let t = float_tensor::<B, 4>(values.clone(), *shape, &images.device());
                Ok(t.expand(dims))
            }
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
