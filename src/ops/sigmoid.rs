//! The logistic function at the backend's full precision.

use burn::prelude::*;

/// `σ(x) = 1 / (1 + e^{−x})`, computed in the tensor's own float type.
///
/// Burn 0.21's `sigmoid` rounds through `f32` (about 1e-8 relative error
/// even on an `f64` backend). This one stays in the input's precision and is
/// stable for any `x`: with `e = exp(−|x|) ≤ 1` it is `1/(1+e)` for `x ≥ 0`
/// and `e/(1+e)` otherwise, so no branch overflows and every derivative is
/// finite. `1/(1+e)` is a true division by a constant numerator, whose
/// derivatives are divisions too: a backend's `recip` may be approximate
/// (burn-ndarray's SIMD `recip` is off by up to ~4e-5 in f32).
pub fn sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let e = x.clone().abs().neg().exp();
    let positive = e.ones_like() / e.clone().add_scalar(1.0);
    let negative = e * positive.clone();
    positive.mask_where(x.lower_elem(0.0), negative)
}
