//! A backward op whose output depends on the incoming gradient's sign, for
//! guided backprop and deconvnet.

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::TensorPrimitive;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{unary, Backward, Ops, OpsKind};

/// Autodiff backends with an op that rectifies the gradient passing it: the
/// identity in the forward pass, `g ↦ max(g ⊙ mask, 0)` in the backward pass.
///
/// Rules that depend on the incoming gradient (guided backprop, deconvnet)
/// cannot be written as a forward-time local derivative; this op provides
/// them. Implemented for every `burn::backend::Autodiff<B, C>`, so for
/// [`Cpu`](crate::Cpu) and, with the `wgpu` feature, `Gpu`.
pub trait RectifyBackend: AutodiffBackend {
    /// `x` unchanged, with the backward `g ↦ max(g ⊙ mask, 0)`; `mask` has
    /// `x`'s shape and is a constant.
    fn rectify_gradient<const D: usize>(
        x: Tensor<Self, D>,
        mask: Tensor<Self::InnerBackend, D>,
    ) -> Tensor<Self, D>;
}

#[derive(Debug)]
struct RectifyGradient;

impl<B: Backend> Backward<B, 1> for RectifyGradient {
    type State = B::FloatTensorPrimitive;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let mask = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::relu(B::float_mul(grad, mask))
        });
    }
}

impl<B: Backend, C: CheckpointStrategy> RectifyBackend for Autodiff<B, C> {
    fn rectify_gradient<const D: usize>(x: Tensor<Self, D>, mask: Tensor<B, D>) -> Tensor<Self, D> {
        let x = x.into_primitive().tensor();
        let mask = mask.into_primitive().tensor();
        let out = match RectifyGradient
            .prepare::<C>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(mask, x.primitive),
            OpsKind::UnTracked(prep) => prep.finish(x.primitive),
        };
        Tensor::from_primitive(TensorPrimitive::Float(out))
    }
}
