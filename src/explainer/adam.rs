//! Adam, written out in PyTorch's operation order.

use burn::prelude::*;

/// Bias-corrected Adam without weight decay, one state per parameter tensor:
/// `m ← m + (1−β₁)(g − m)`, `v ← β₂v + (1−β₂)g²`,
/// `W ← W − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`
/// (the order of `torch.optim.Adam` with `foreach=False`). Constants stay in
/// `f64` until they meet the tensors, so f64 runs use exact constants.
#[derive(Debug)]
pub(crate) struct Adam<B: Backend, const D: usize = 2> {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    step: i32,
    moments: Vec<(Tensor<B, D>, Tensor<B, D>)>,
}

impl<B: Backend, const D: usize> Adam<B, D> {
    pub(crate) fn new(learning_rate: f64, beta1: f64, beta2: f64, epsilon: f64) -> Self {
        Self {
            learning_rate,
            beta1,
            beta2,
            epsilon,
            step: 0,
            moments: Vec::new(),
        }
    }

    /// Updates every parameter with its gradient; the slices are parallel.
    pub(crate) fn step(&mut self, params: &mut [Tensor<B, D>], grads: Vec<Tensor<B, D>>) {
        if self.moments.is_empty() {
            self.moments = params
                .iter()
                .map(|p| (p.zeros_like(), p.zeros_like()))
                .collect();
        }
        self.step += 1;
        let bias1 = 1.0 - self.beta1.powi(self.step);
        let bias2 = 1.0 - self.beta2.powi(self.step);
        for ((param, grad), (m, v)) in params.iter_mut().zip(grads).zip(self.moments.iter_mut()) {
            *m = m.clone() + (grad.clone() - m.clone()).mul_scalar(1.0 - self.beta1);
            *v = v.clone().mul_scalar(self.beta2)
                + grad.clone().mul_scalar(1.0 - self.beta2).mul(grad);
            let denom = v
                .clone()
                .sqrt()
                .div_scalar(bias2.sqrt())
                .add_scalar(self.epsilon);
            *param = param.clone() + m.clone().div(denom).mul_scalar(-self.learning_rate / bias1);
        }
    }
}
