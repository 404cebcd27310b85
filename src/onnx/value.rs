//! Values flowing through the interpreted graph: tensors on the device, of
//! any rank up to [`MAX_RANK`], and host tensors for shape arithmetic.

use burn::prelude::*;
use burn::tensor::{DType, TensorData};

use super::host::{HostData, HostTensor};
use super::OnnxProblem;

/// The highest tensor rank a graph may use.
pub(crate) const MAX_RANK: usize = 6;

/// A device tensor of logical rank `rank`, stored with leading axes of
/// length 1 up to [`MAX_RANK`]. Leading ones keep numpy broadcasting exact,
/// so element-wise ops of different ranks need no special case.
#[derive(Debug, Clone)]
pub(crate) struct Dense<B: Backend> {
    pub tensor: Tensor<B, MAX_RANK>,
    pub rank: usize,
}

/// A value: on the device, or on the host.
#[derive(Debug, Clone)]
pub(crate) enum Value<B: Backend> {
    Device(Dense<B>),
    Host(HostTensor),
}

fn padded(dims: &[usize]) -> [usize; MAX_RANK] {
    let mut shape = [1; MAX_RANK];
    shape[MAX_RANK - dims.len()..].copy_from_slice(dims);
    shape
}

impl<B: Backend> Dense<B> {
    /// Wraps a rank-`D` tensor.
    pub fn of<const D: usize>(tensor: Tensor<B, D>) -> Self {
        let shape = padded(&tensor.dims());
        Self {
            tensor: tensor.reshape(shape),
            rank: D,
        }
    }

    /// A flat tensor (a parameter) with its logical shape.
    pub fn from_flat(flat: Tensor<B, 1>, shape: &[usize]) -> Self {
        Self {
            tensor: flat.reshape(padded(shape)),
            rank: shape.len(),
        }
    }

    /// A host tensor uploaded in `dtype` onto `device`.
    pub fn upload(
        host: &HostTensor,
        dtype: DType,
        device: &B::Device,
    ) -> Result<Self, OnnxProblem> {
        if host.shape.len() > MAX_RANK {
            return Err(OnnxProblem(format!(
                "rank {} is above {MAX_RANK}",
                host.shape.len()
            )));
        }
        let data = TensorData::new(host.as_floats(), padded(&host.shape)).convert_dtype(dtype);
        Ok(Self {
            tensor: Tensor::from_data(data, device),
            rank: host.shape.len(),
        })
    }

    /// The logical shape.
    pub fn dims(&self) -> Vec<usize> {
        self.tensor.dims()[MAX_RANK - self.rank..].to_vec()
    }

    /// The padded axis of logical axis `axis`.
    pub fn axis(&self, axis: usize) -> usize {
        MAX_RANK - self.rank + axis
    }

    /// The tensor at its logical rank `D`.
    pub fn get<const D: usize>(&self) -> Result<Tensor<B, D>, OnnxProblem> {
        if self.rank != D {
            return Err(OnnxProblem(format!(
                "an input of shape {:?} has rank {}, rank {D} is needed",
                self.dims(),
                self.rank
            )));
        }
        let dims: [usize; D] = self.dims().try_into().expect("rank checked");
        Ok(self.tensor.clone().reshape(dims))
    }

    /// Same values, another logical shape of the same element count.
    pub fn reshaped(&self, dims: &[usize]) -> Result<Self, OnnxProblem> {
        let (from, to): (usize, usize) = (self.dims().iter().product(), dims.iter().product());
        if from != to || dims.len() > MAX_RANK {
            return Err(OnnxProblem(format!(
                "cannot reshape {:?} to {dims:?}",
                self.dims()
            )));
        }
        Ok(Self {
            tensor: self.tensor.clone().reshape(padded(dims)),
            rank: dims.len(),
        })
    }
}

impl<B: Backend> Value<B> {
    /// The logical shape.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Value::Device(d) => d.dims(),
            Value::Host(h) => h.shape.clone(),
        }
    }

    /// The same value with another logical shape (a reshape, squeeze or
    /// unsqueeze).
    pub fn reshaped(&self, dims: Vec<usize>) -> Result<Self, OnnxProblem> {
        match self {
            Value::Device(d) => d.reshaped(&dims).map(Value::Device),
            Value::Host(h) => h.reshaped(dims).map(Value::Host),
        }
    }
}

/// `host` cast to integers or floats (ONNX `Cast`; floats to integers
/// truncate toward zero).
pub(crate) fn cast_host(host: &HostTensor, to_float: bool) -> HostTensor {
    let data = match (&host.data, to_float) {
        (HostData::Int(v), true) => HostData::Float(v.iter().map(|&x| x as f64).collect()),
        (HostData::Float(v), false) => HostData::Int(v.iter().map(|&x| x.trunc() as i64).collect()),
        (data, _) => data.clone(),
    };
    HostTensor {
        shape: host.shape.clone(),
        data,
    }
}
