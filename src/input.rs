//! Checks of what a method receives: images, targets and model weights.
//!
//! Every attribution method runs these once before it touches the model, so
//! bad input becomes an [`Error`] instead of a panic deep inside a backend.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use crate::model::Explainable;
use crate::precision::{check_dtype, device_float_dtype};
use crate::{Error, Result};

/// Checks the batch against the model's input description and returns its
/// dimensions `[N, C, H, W]`: non-empty, the model's channel count and
/// (where the model fixes it) spatial size, and finite values; and checks
/// that the model's weights are finite (which also materialises lazily
/// initialised parameters, so that clones of the model share them). Images
/// and weights must be in the device's precision
/// ([`set_precision`](crate::set_precision)).
pub fn check_images<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
) -> Result<[usize; 4]> {
    let dtype = device_float_dtype::<B>(&images.device())?;
    check_dtype(|| "the images".into(), images.dtype(), dtype)?;
    check_weights_as(model, Some(dtype))?;
    let dims = images.dims();
    let [n, c, h, w] = dims;
    if n == 0 {
        return Err(Error::EmptyBatch);
    }
    if c != model.input_channels() {
        return Err(Error::ChannelMismatch {
            expected: model.input_channels(),
            found: c,
        });
    }
    if let Some(expected) = model.input_size() {
        if expected != [h, w] {
            return Err(Error::ImageSize {
                expected,
                found: [h, w],
            });
        }
    }
    let minimum = model.min_input_size();
    if h < minimum[0].max(1) || w < minimum[1].max(1) {
        return Err(Error::ImageTooSmall {
            minimum,
            found: [h, w],
        });
    }
    check_finite_values(&images.to_data(), c * h * w)?;
    Ok(dims)
}

/// Finds the first non-finite value of `data`, reported per image of
/// `per_image` elements.
fn check_finite_values(data: &TensorData, per_image: usize) -> Result<()> {
    let values: Vec<f64> = data.iter::<f64>().collect();
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFiniteInput {
            image: i / per_image,
            index: i % per_image,
            value: values[i],
        }),
    }
}

/// The flat index and value of the first NaN or infinity of `tensor`, if
/// any (one reduction when there is none).
pub(crate) fn first_non_finite<B: Backend, const D: usize>(
    tensor: &Tensor<B, D>,
) -> Option<(usize, f64)> {
    if tensor.clone().is_finite().all().into_scalar().to_bool() {
        return None;
    }
    tensor
        .to_data()
        .iter::<f64>()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
}

/// Finds the first NaN or infinity of attribution maps stored image after
/// image, `per_image` values each: an [`Error::NonFiniteMap`] naming `what`.
pub(crate) fn check_finite_map(what: &str, values: &[f64], per_image: usize) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFiniteMap {
            what: what.to_string(),
            image: i / per_image.max(1),
            index: i % per_image.max(1),
            value: values[i],
        }),
    }
}

/// Checks one target per image, each below `classes`.
pub fn check_targets(targets: &[usize], images: usize, classes: usize) -> Result<()> {
    if targets.len() != images {
        return Err(Error::TargetCount {
            images,
            targets: targets.len(),
        });
    }
    match targets.iter().position(|&t| t >= classes) {
        None => Ok(()),
        Some(image) => Err(Error::TargetOutOfRange {
            image,
            target: targets[image],
            classes,
        }),
    }
}

/// Checks that logits `[N, classes]` are finite.
pub fn check_logits<B: Backend>(logits: &Tensor<B, 2>) -> Result<()> {
    let [_, classes] = logits.dims();
    let values: Vec<f64> = logits.to_data().iter::<f64>().collect();
    match values.into_iter().enumerate().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((i, value)) => Err(Error::NonFiniteOutput {
            image: i / classes.max(1),
            logit: i % classes.max(1),
            value,
        }),
    }
}

/// Checks that every float parameter of `model` is finite.
pub fn check_weights<B: Backend, M: Module<B>>(model: &M) -> Result<()> {
    check_weights_as(model, None)
}

/// Checks that every float parameter of `model` is finite and, if `dtype`
/// is given, of that dtype.
pub(crate) fn check_weights_as<B: Backend, M: Module<B>>(
    model: &M,
    dtype: Option<DType>,
) -> Result<()> {
    let mut visitor = FiniteVisitor {
        path: Vec::new(),
        dtype,
        bad: None,
    };
    model.visit(&mut visitor);
    visitor.bad.unwrap_or(Ok(()))
}

struct FiniteVisitor {
    path: Vec<String>,
    dtype: Option<DType>,
    bad: Option<Result<()>>,
}

impl FiniteVisitor {
    fn name(&self, id: impl std::fmt::Debug) -> String {
        let name = self.path.join(".");
        if name.is_empty() {
            format!("{id:?}")
        } else {
            name
        }
    }
}

impl<B: Backend> ModuleVisitor<B> for FiniteVisitor {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if self.bad.is_some() {
            return;
        }
        let value = param.val();
        if let Some(dtype) = self.dtype {
            let checked = check_dtype(
                || format!("parameter {}", self.name(param.id)),
                value.dtype(),
                dtype,
            );
            if checked.is_err() {
                self.bad = Some(checked);
                return;
            }
        }
        if !value.is_finite().all().into_scalar().to_bool() {
            self.bad = Some(Err(Error::NonFiniteWeights {
                parameter: self.name(param.id),
            }));
        }
    }
}

/// A float tensor from `f64` values, in the device's float precision.
pub(crate) fn float_tensor<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The value of a one-element tensor as `f64`, read in the tensor's own
/// precision (`into_scalar` goes through the backend's nominal element type,
/// which is `f32` on Flex even for f64 tensors).
pub(crate) fn scalar<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> f64 {
    tensor.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
}

/// The `[N, 1]` integer tensor of target classes.
pub(crate) fn target_indices<B: Backend>(
    targets: &[usize],
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    let values: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
    Tensor::from_data(
        TensorData::new(values, [targets.len(), 1]).convert::<B::IntElem>(),
        device,
    )
}

/// What every method that evaluates the model needs first: checked images
/// and targets, a copy of the model without gradient tracking, and the
/// `[N, 1]` target indices.
pub(crate) struct Prepared<B: Backend, M> {
    pub(crate) model: M,
    pub(crate) dims: [usize; 4],
    pub(crate) targets: Tensor<B, 2, Int>,
    pub(crate) logits: Tensor<B, 2>,
}

/// Checks images, weights, logits and targets, and prepares the model.
pub(crate) fn prepare<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
    targets: &[usize],
) -> Result<Prepared<B, M>> {
    let dims = check_images(model, images)?;
    let model = model.clone().no_grad();
    let logits = model.logits(images.clone());
    check_logits(&logits)?;
    check_targets(targets, dims[0], logits.dims()[1])?;
    Ok(Prepared {
        model,
        dims,
        targets: target_indices::<B>(targets, &images.device()),
        logits,
    })
}
