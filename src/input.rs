//! Checks of what a method receives: images, targets and model weights.
//!
//! Every attribution method runs these once before it touches the model, so
//! bad input becomes an [`Error`] instead of a panic deep inside a backend.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::TensorData;

use crate::model::Explainable;
use crate::{Error, Result};

/// Checks the batch against the model's input description and returns its
/// dimensions `[N, C, H, W]`: non-empty, the model's channel count and
/// (where the model fixes it) spatial size, and finite values; and checks
/// that the model's weights are finite (which also materialises lazily
/// initialised parameters, so that clones of the model share them).
pub fn check_images<B: Backend, M: Explainable<B>>(
    model: &M,
    images: &Tensor<B, 4>,
) -> Result<[usize; 4]> {
    check_weights(model)?;
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
    let mut visitor = FiniteVisitor {
        path: Vec::new(),
        bad: None,
    };
    model.visit(&mut visitor);
    match visitor.bad {
        None => Ok(()),
        Some(parameter) => Err(Error::NonFiniteWeights { parameter }),
    }
}

struct FiniteVisitor {
    path: Vec<String>,
    bad: Option<String>,
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
        let finite = param.val().is_finite().all().into_scalar().to_bool();
        if !finite {
            let name = self.path.join(".");
            self.bad = Some(if name.is_empty() {
                format!("{:?}", param.id)
            } else {
                name
            });
        }
    }
}

/// A float tensor from `f64` values, in the backend's float element type.
pub(crate) fn float_tensor<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(
        TensorData::new(values, shape).convert::<B::FloatElem>(),
        device,
    )
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
