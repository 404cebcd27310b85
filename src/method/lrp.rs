//! Layer-wise relevance propagation with the ε rule (Bach et al. 2015).

use burn::config::Config;
use burn::prelude::*;

use super::{gradient_with, positive, Method, Seed};
use crate::model::Model;
use crate::rule::{Composite, RectifyBackend};
use crate::Result;

/// Settings of [`EpsilonLrp`].
#[derive(Config, Debug)]
pub struct EpsilonLrpConfig {
    /// ε of the rule (Captum's default `EpsilonRule` uses 1e-9).
    #[config(default = 1e-9)]
    pub epsilon: f64,
}

impl EpsilonLrpConfig {
    /// Validates the settings.
    pub fn init(&self) -> Result<EpsilonLrp> {
        positive("epsilon", self.epsilon)?;
        Ok(EpsilonLrp {
            config: self.clone(),
        })
    }
}

/// ε-LRP: relevance starts as `F_t(x)` at the target logit; every linear,
/// convolutional, batch-norm, pooling layer and sum passes it back as
/// `R_in = x ⊙ Jᵀ (R_out / (z + ε·sign z))` (`z` the layer's output, sign 0
/// taken as +1) and every activation passes it unchanged
/// ([`Composite::epsilon`] seeded with the logit). Captum: `LRP` with its
/// default rules (ε = 1e-9 at `Conv2d`, `Linear`, `MaxPool2d`, pools and
/// batch norms; ReLU pass-through). As ε → 0 on bias-free ReLU networks it
/// equals gradient × input.
///
/// The layers must go through the hook ([`Hook::conv2d`](crate::Hook::conv2d),
/// [`Hook::linear`](crate::Hook::linear), …) for their rule to apply; a layer
/// computed with [`ops`](crate::ops) passes the plain gradient.
#[derive(Debug, Clone)]
pub struct EpsilonLrp {
    config: EpsilonLrpConfig,
}

impl<B, M> Method<B, M> for EpsilonLrp
where
    B: RectifyBackend,
    M: Model<B>,
{
    fn name(&self) -> String {
        "ε-LRP".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let composite = Composite::epsilon(self.config.epsilon)?;
        gradient_with(model, images, targets, &mut composite.rule(), Seed::Logit)
    }
}
