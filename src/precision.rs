//! The float precision a device computes in: f32 or f64.
//!
//! Burn 0.21 keeps **one default float type per device type per process**.
//! It is fixed the first time a tensor is created on the device (or by
//! [`set_precision`] before that) and never changes: every model, image and
//! loaded weight created without an explicit type then uses it. Mixing
//! precisions in one process is an [`Error::Precision`] at the crate's entry
//! points (image checks, weight loading), never a panic inside a kernel or a
//! silent f32 computation.

use burn::prelude::*;
use burn::tensor::{get_device_settings, set_default_dtypes, DType, Element, FloatDType};

use crate::{Error, Result};

/// A float precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 32-bit floats (the default).
    F32,
    /// 64-bit floats.
    F64,
}

impl Precision {
    /// The precision of a float dtype, `None` for other dtypes (f16, bf16…).
    pub fn of(dtype: DType) -> Option<Self> {
        match dtype {
            DType::F32 => Some(Precision::F32),
            DType::F64 => Some(Precision::F64),
            _ => None,
        }
    }

    /// The matching Burn float dtype.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        })
    }
}

/// Makes `device` compute in `precision` for the rest of the process.
///
/// Call it before any tensor exists on the device (Burn fixes the device's
/// default float type at the first tensor). Calling it again with the same
/// precision is fine. The default CPU backend, Flex, has one Rust type for
/// every precision, so f64 is asked for at run time:
///
/// ```
/// use learnprop::{set_precision, Cpu, Precision};
///
/// let device = Default::default();
/// // First thing in `main`, before any tensor exists on the device:
/// set_precision::<Cpu>(&device, Precision::F64)?;
/// assert_eq!(learnprop::precision::<Cpu>(&device), Some(Precision::F64));
/// // Asking for the other precision now is an error, not a silent change.
/// assert!(set_precision::<Cpu>(&device, Precision::F32).is_err());
/// # Ok::<(), learnprop::Error>(())
/// ```
///
/// With the `ndarray` feature, `NdArrayCpu<f64>` also names an f64 backend;
/// call this with it too, so that no f32 tensor created earlier in the
/// process (by any backend on the CPU device) fixes the device to f32. Run
/// another precision in its own process. Read f64 values with
/// `into_data().iter::<f64>()`: on Flex `Tensor::into_scalar` returns the
/// nominal `f32` element even for f64 tensors.
///
/// # Errors
/// [`Error::Precision`] if the device already computes in the other
/// precision (tensors were created first, or another call chose it), and
/// [`Error::Unsupported`] if the backend has no such float type (e.g. f64
/// on most GPUs).
pub fn set_precision<B: Backend>(device: &B::Device, precision: Precision) -> Result<()> {
    let int: DType = <B::IntElem as Element>::dtype();
    let float = FloatDType::from(precision.dtype());
    match set_default_dtypes::<B>(device, float, int) {
        Ok(()) => Ok(()),
        Err(burn::tensor::backend::DeviceError::UnsupportedDType { dtype, .. }) => Err(
            Error::Unsupported(format!("{} has no {dtype:?} tensors", B::name(device))),
        ),
        Err(_) => match self::precision::<B>(device) {
            Some(current) if current == precision => Ok(()),
            current => Err(Error::Precision {
                what: "the device".into(),
                found: describe(current),
                expected: precision.to_string(),
            }),
        },
    }
}

/// The precision `device` computes in (`None` for half-precision defaults).
/// Fixes the device's default if nothing did before.
pub fn precision<B: Backend>(device: &B::Device) -> Option<Precision> {
    Precision::of(get_device_settings::<B>(device).float_dtype.into())
}

fn describe(precision: Option<Precision>) -> String {
    precision.map_or_else(|| "a half-precision type".into(), |p| p.to_string())
}

/// The float dtype that tensors on `device` must have: the device's
/// default. A backend type that names f64 (`NdArrayCpu<f64>`) on a device
/// fixed to f32 is an error rather than a silent f32 computation.
pub(crate) fn device_float_dtype<B: Backend>(device: &B::Device) -> Result<DType> {
    let dtype: DType = get_device_settings::<B>(device).float_dtype.into();
    let typed = <B::FloatElem as Element>::dtype();
    if typed == DType::F64 && dtype != DType::F64 {
        return Err(Error::Precision {
            what: "the device".into(),
            found: describe(Precision::of(dtype)),
            expected: format!("f64 (the backend `{}` names it)", B::name(device)),
        });
    }
    Ok(dtype)
}

/// Checks that `found` (the dtype of `what`) is the device's float dtype
/// `expected`.
pub(crate) fn check_dtype(
    what: impl FnOnce() -> String,
    found: DType,
    expected: DType,
) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    let name = |d: DType| Precision::of(d).map_or_else(|| format!("{d:?}"), |p| p.to_string());
    Err(Error::Precision {
        what: what(),
        found: name(found),
        expected: name(expected),
    })
}
