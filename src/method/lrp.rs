//! Layer-wise relevance propagation with the ε rule (Bach et al. 2015).

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::{positive, Method};
use crate::input::{check_images, check_logits, check_targets, target_indices};
use crate::model::{Activation, ActivationHook, Explainable};
use crate::ops::PoolGeometry;
use crate::rule::with_local_derivative;
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
/// convolutional and max-pooling layer passes it back as
/// `R_in = x ⊙ Wᵀ (R_out / (z + ε·sign z))` (`z` the layer's output, sign 0
/// taken as +1) and every activation passes it unchanged. Captum: `LRP` with
/// its default rules (ε = 1e-9 at `Conv2d`, `Linear`, `MaxPool2d`; ReLU
/// pass-through).
///
/// Written as a modified gradient: each activation's local derivative
/// becomes `a(z)/(z + ε·sign z)` (the ε rule of the layer feeding it), each
/// max-pool's output `o` scales its routed gradient by `o/(o + ε·sign o)`,
/// the target logit by `z_t/(z_t + ε·sign z_t)`, and the map is
/// `x ⊙ gradient`. This is exact where every linear layer feeds an
/// activation, a max-pool or the output (e.g. conv → ReLU → pool networks);
/// with batch norm between a convolution and its activation the ε term is
/// applied once, after the norm. As ε → 0 on ReLU networks it equals
/// gradient × input.
#[derive(Debug, Clone)]
pub struct EpsilonLrp {
    config: EpsilonLrpConfig,
}

/// `z + ε·sign(z)` with sign 0 taken as +1.
fn stabilise<B: Backend, const D: usize>(z: Tensor<B, D>, epsilon: f64) -> Tensor<B, D> {
    let sign = z
        .clone()
        .greater_equal_elem(0.0)
        .float()
        .mul_scalar(2.0)
        .sub_scalar(1.0);
    z + sign.mul_scalar(epsilon)
}

struct EpsilonRule {
    epsilon: f64,
}

impl<B: AutodiffBackend> ActivationHook<B> for EpsilonRule {
    fn activate<const D: usize>(
        &mut self,
        activation: Activation,
        input: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let z = input.clone().detach();
        let value = activation.apply(z.clone());
        let gate = value.clone() / stabilise(z, self.epsilon);
        with_local_derivative(input, value, gate)
    }

    fn max_pool(&mut self, input: Tensor<B, 4>, geometry: &PoolGeometry) -> Tensor<B, 4> {
        let pooled = crate::ops::max_pool2d_with(input, geometry);
        let o = pooled.clone().detach();
        let scaled = pooled * (o.clone() / stabilise(o.clone(), self.epsilon));
        o + (scaled.clone() - scaled.detach())
    }
}

impl<B, M> Method<B, M> for EpsilonLrp
where
    B: AutodiffBackend,
    M: Explainable<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "ε-LRP".into()
    }

    fn compute(&self, model: &M, images: &Tensor<B, 4>, targets: &[usize]) -> Result<Tensor<B, 4>> {
        let [n, ..] = check_images(model, images)?;
        let x = Tensor::<B, 4>::from_inner(images.clone().inner()).require_grad();
        let mut hook = EpsilonRule {
            epsilon: self.config.epsilon,
        };
        let logits = model.clone().no_grad().forward_hooked(x.clone(), &mut hook);
        check_logits(&logits)?;
        check_targets(targets, n, logits.dims()[1])?;
        let picked = logits.gather(1, target_indices::<B>(targets, &images.device()));
        let z = picked.clone().detach();
        let top = z.clone() / stabilise(z, self.config.epsilon);
        let grads = (picked * top).sum().backward();
        let gradient = x
            .grad(&grads)
            .unwrap_or_else(|| images.clone().inner().zeros_like());
        Ok(Tensor::<B, 4>::from_inner(gradient) * images.clone())
    }
}
