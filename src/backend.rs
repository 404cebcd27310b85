//! Backend aliases, so no user spells `Autodiff<Autodiff<…>>`.
//!
//! The learned rules differentiate a backward pass, which takes two nested
//! autodiff levels. Models that are explained live on one of these types.
//! Precision is chosen per device at run time with
//! [`set_precision`](crate::set_precision) (f32 unless asked).

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;

/// Flex, Burn's own fast CPU backend, with two autodiff levels (feature
/// `flex`, on by default).
#[cfg(feature = "flex")]
pub type FlexCpu = Autodiff<Autodiff<burn::backend::Flex>>;

/// burn-ndarray with two autodiff levels (feature `ndarray`);
/// `NdArrayCpu<f64>` names its f64 form.
#[cfg(feature = "ndarray")]
pub type NdArrayCpu<F = f32> = Autodiff<Autodiff<burn::backend::NdArray<F>>>;

/// The CPU backend with two autodiff levels: [`FlexCpu`] by default,
/// `NdArrayCpu` when the crate is built with `ndarray` and without `flex`.
/// f32 unless [`set_precision`](crate::set_precision) asked for f64.
#[cfg(feature = "flex")]
pub type Cpu = FlexCpu;

/// The CPU backend with two autodiff levels: [`FlexCpu`] by default,
/// `NdArrayCpu` when the crate is built with `ndarray` and without `flex`.
/// f32 unless [`set_precision`](crate::set_precision) asked for f64.
#[cfg(all(feature = "ndarray", not(feature = "flex")))]
pub type Cpu = NdArrayCpu;

/// GPU backend (wgpu: Vulkan, Metal, DirectX 12 or WebGPU) with two autodiff
/// levels.
#[cfg(feature = "wgpu")]
pub type Gpu = Autodiff<Autodiff<burn::backend::Wgpu>>;

/// The backend under both autodiff levels of `B` (for [`Cpu`]: `Flex`),
/// where the learned gates and their optimiser state live.
pub type Base<B> = <<B as AutodiffBackend>::InnerBackend as AutodiffBackend>::InnerBackend;

/// Whether `B` is Flex under zero, one or two autodiff levels: there Burn's
/// own convolution (im2col + GEMM, transposed convolution for its backward)
/// is exact through a double backward and faster than shifted windows.
pub(crate) fn is_flex<B: burn::tensor::backend::Backend>() -> bool {
    #[cfg(feature = "flex")]
    {
        use burn::backend::Flex;
        use std::any::TypeId;
        let id = TypeId::of::<B>();
        id == TypeId::of::<Flex>()
            || id == TypeId::of::<Autodiff<Flex>>()
            || id == TypeId::of::<Autodiff<Autodiff<Flex>>>()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = std::marker::PhantomData::<B>;
        false
    }
}
