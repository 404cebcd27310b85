//! Backend aliases, so no user spells `Autodiff<Autodiff<…>>`.
//!
//! The learned rules differentiate a backward pass, which takes two nested
//! autodiff levels. Models that are explained live on one of these types.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;

/// CPU backend (ndarray) with two autodiff levels; `Cpu<f64>` for double
/// precision.
pub type Cpu<F = f32> = Autodiff<Autodiff<NdArray<F>>>;

/// GPU backend (wgpu: Vulkan, Metal, DirectX 12 or WebGPU) with two autodiff
/// levels.
#[cfg(feature = "wgpu")]
pub type Gpu = Autodiff<Autodiff<burn::backend::Wgpu>>;

/// The backend under both autodiff levels of `B` (for `Cpu<F>`: `NdArray<F>`),
/// where the learned gates and their optimiser state live.
pub type Base<B> = <<B as AutodiffBackend>::InnerBackend as AutodiffBackend>::InnerBackend;
