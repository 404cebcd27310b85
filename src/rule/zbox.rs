//! The zB ("box") rule for the input layer.

use burn::prelude::*;

use super::alpha_beta::signed_part;
use super::relevance::{reciprocal, stabilise, Relevance};
use super::{Layer, Rule, Site};
use crate::validate::non_negative;
use crate::{Error, Result};

/// LRP-zB (Montavon et al. 2017) for a first layer whose inputs lie in a box
/// `[l, h]`: `z = Wx + b − (W⁺l + b⁺) − (W⁻h + b⁻)` and
/// `R_x = (x ⊙ Wᵀ − l ⊙ W⁺ᵀ − h ⊙ W⁻ᵀ)(R / stab z)`. `low` and `high`
/// hold one value, or one per input channel (normalised images). Zennit:
/// `ZBox`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZBox {
    low: Vec<f64>,
    high: Vec<f64>,
    stabilizer: f64,
}

impl ZBox {
    /// The rule for inputs in `[low, high]` (one value or one per channel
    /// each, `low ≤ high`) with stabiliser `stabilizer`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for empty, non-finite or crossed bounds.
    pub fn new(low: Vec<f64>, high: Vec<f64>, stabilizer: f64) -> Result<Self> {
        non_negative("stabilizer", stabilizer)?;
        let bad = low.is_empty()
            || low.len() != high.len()
            || low
                .iter()
                .zip(&high)
                .any(|(l, h)| !(l.is_finite() && h.is_finite() && l <= h));
        if bad {
            return Err(Error::InvalidConfig {
                setting: "low/high",
                value: format!("{low:?} / {high:?}"),
                expected: "as many finite lows as highs, at least one, each low ≤ its high",
            });
        }
        Ok(Self {
            low,
            high,
            stabilizer,
        })
    }

    /// `values` as a tensor shaped like `like`, one value or one per channel
    /// (axis 1).
    fn bound<B: Backend, const D: usize>(
        values: &[f64],
        like: &Tensor<B, D>,
        site: &Site<'_>,
    ) -> Result<Tensor<B, D>> {
        let dims = like.dims();
        let channels = dims.get(1).copied().unwrap_or(1);
        let mut shape = [1usize; D];
        if values.len() > 1 {
            if D < 2 || values.len() != channels {
                return Err(Error::Unsupported(format!(
                    "the zB rule has {} per-channel bounds, site {}'s input is {:?}",
                    values.len(),
                    site.index,
                    dims
                )));
            }
            shape[1] = channels;
        }
        let data = TensorData::new(values.to_vec(), shape).convert_dtype(like.dtype());
        let bound = Tensor::<B, D>::from_data(data, &like.device());
        Ok(bound.expand(dims))
    }
}

impl<B: Backend> Rule<B> for ZBox {
    fn layer<const D: usize>(
        &mut self,
        site: &Site<'_>,
        layer: &Layer<B>,
        input: Tensor<B, D>,
    ) -> Result<Tensor<B, D>> {
        let x = input.clone().detach();
        let low = Self::bound(&self.low, &x, site)?;
        let high = Self::bound(&self.high, &x, site)?;
        let positive = signed_part(layer, true, true);
        let negative = signed_part(layer, false, true);
        let mut terms = Relevance::new();
        let z = terms.term(&input, x.clone(), x, |c| layer.forward(c));
        let z_low = terms.term(&input, low.clone(), low, |c| positive.forward(c));
        let z_high = terms.term(&input, high.clone(), high, |c| negative.forward(c));
        let factor = reciprocal(stabilise(z.clone() - z_low - z_high, self.stabilizer));
        Ok(terms.finish(z, vec![factor.clone(), factor.clone().neg(), factor.neg()]))
    }
}
