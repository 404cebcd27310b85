//! ONNX image classifiers, explained without Rust model code.
//!
//! [`OnnxModel`] reads an `.onnx` file (exported from PyTorch, Keras, JAX…)
//! at run time and interprets its graph on Burn tensors. The model's
//! initialisers become the module's parameters, so it moves between
//! backends and precisions like any Burn module, and it implements
//! [`Explainable`]: every activation node (ReLU, ReLU6 written as `Clip`,
//! sigmoid, tanh, the SiLU pattern `x·σ(x)`, GELU and its erf pattern, hard
//! sigmoid and hard swish) is an
//! activation site and every max-pool goes through the hook, so every method
//! of the crate, the learned rules included, runs on it. Convolutions,
//! fully connected layers, batch norm and pooling run on the crate's
//! double-differentiable [`ops`](crate::ops).
//!
//! A graph that ends in a softmax is explained at the logits before it
//! ([`OnnxModel::ends_in_softmax`] says so). An operator or attribute the
//! interpreter does not implement is an [`Error::Onnx`] at load time, naming
//! the node and the op; `docs/onnx.md` lists what is supported.
//!
//! ```
//! use learnprop::onnx::OnnxModel;
//! use learnprop::{Cpu, Explainable};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx/mnist-cnn-op13.onnx");
//! let device = Default::default();
//! let model = OnnxModel::<Cpu>::from_file(path, &device)?;
//! assert_eq!(model.input_channels(), 1);
//! assert_eq!(model.input_size(), Some([28, 28]));
//! assert_eq!(model.classes(), Some(10));
//! assert!(model.ends_in_softmax());
//! # Ok::<(), learnprop::Error>(())
//! ```

mod host;
mod interpret;
mod layers;
mod op;
mod program;
mod rewrite;
mod shapes;
mod tensor;
mod value;

use std::path::Path;
use std::sync::Arc;

use burn::module::Param;
use burn::prelude::*;
use protobuf::Message;

use crate::guard::catching_model_panics;
use crate::model::{Explainable, Hook};
use crate::{Error, Result};
use program::Program;

/// What is wrong with a graph, before it is placed in an [`Error::Onnx`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OnnxProblem(pub String);

/// The largest ONNX file read (protobuf's own limit is 2 GiB).
pub const MAX_ONNX_BYTES: u64 = 2 << 30;

/// An ONNX image classifier as a Burn module.
///
/// The graph's input must be one float image batch `[N, C, H, W]` (`N`
/// free), its output the logits `[N, classes]`, optionally followed by a
/// softmax.
#[derive(Module, Debug)]
pub struct OnnxModel<B: Backend> {
    parameters: Vec<Param<Tensor<B, 1>>>,
    #[module(skip)]
    program: Arc<Program>,
    #[module(skip)]
    classes: Option<usize>,
}

fn onnx_error(model: &str, problem: impl Into<String>) -> Error {
    Error::Onnx {
        model: model.to_string(),
        problem: problem.into(),
    }
}

impl<B: Backend> OnnxModel<B> {
    /// Loads the ONNX file at `path` onto `device`, in the device's float
    /// precision (see [`set_precision`](crate::set_precision)).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::Onnx`] when it is
    /// not a valid ONNX model, uses an operator, attribute or element type
    /// the interpreter does not implement, or fails a trial forward on one
    /// image of the graph's input size.
    pub fn from_file(path: impl AsRef<Path>, device: &B::Device) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_ONNX_BYTES {
            return Err(onnx_error(&path.display().to_string(), format!("the file has {size} bytes, more than the {MAX_ONNX_BYTES} an ONNX file can hold")));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_bytes(&path.display().to_string(), &bytes, device)
    }

    /// Loads an ONNX model from its bytes; `name` names it in errors.
    ///
    /// # Errors
    /// As [`from_file`](OnnxModel::from_file).
    pub fn from_bytes(name: &str, bytes: &[u8], device: &B::Device) -> Result<Self> {
        // Decoding and rewriting are the crate's own code on untrusted
        // bytes: a panic there is a bug, reported as an error all the same.
        let read = std::panic::catch_unwind(|| {
            let proto = onnx_ir::ModelProto::parse_from_bytes(bytes)
                .map_err(|e| OnnxProblem(format!("not a valid ONNX file: {e}")))?;
            let mut loaded = Program::from_model(&proto)?;
            drop(proto);
            rewrite::rewrite(&mut loaded)?;
            Ok(loaded)
        });
        let mut loaded = match read {
            Ok(Ok(loaded)) => loaded,
            Ok(Err(OnnxProblem(problem))) => return Err(onnx_error(name, problem)),
            Err(_) => {
                return Err(onnx_error(
                    name,
                    "the file could not be interpreted (a panic while reading it)",
                ))
            }
        };
        let dtype = crate::precision::device_float_dtype::<B>(device)?;
        let parameters = loaded
            .parameters
            .drain(..)
            .map(|d| {
                Param::from_tensor(Tensor::from_data(
                    d.into_tensor_data().convert_dtype(dtype),
                    device,
                ))
            })
            .collect();
        let mut model = Self {
            parameters,
            program: Arc::new(loaded.program),
            classes: None,
        };
        if let Some([h, w]) = model.program.input_size {
            let image =
                Tensor::<B, 4>::zeros([1, model.program.input_channels, h, w], (device, dtype));
            let logits = catching_model_panics("the trial forward", || Ok(model.logits(image)))
                .map_err(|e| match e {
                    Error::ModelPanicked { message, .. } => onnx_error(
                        name,
                        message.trim_start_matches("learnprop::onnx: ").to_string(),
                    ),
                    other => other,
                })?;
            model.classes = Some(logits.dims()[1]);
        }
        Ok(model)
    }

    /// The number of classes, known when the graph's input size is fixed
    /// (found by the trial forward at load).
    pub fn classes(&self) -> Option<usize> {
        self.classes
    }

    /// Whether the graph ended in a softmax (or log-softmax) that was split
    /// off: the model's logits, and what every method explains, are the
    /// values before it.
    pub fn ends_in_softmax(&self) -> bool {
        self.program.ends_in_softmax
    }

    /// The opset of the default ONNX domain the file was exported with.
    pub fn opset(&self) -> i64 {
        self.program.opset
    }

    /// The interpreted nodes in order, as `(name, op)`: after the load-time
    /// rewrites, so a fused SiLU or GELU pattern shows as one node and the
    /// final softmax, `Identity` and `Dropout` nodes are gone.
    pub fn nodes(&self) -> Vec<(String, String)> {
        self.program
            .steps
            .iter()
            .map(|s| (s.name.clone(), s.op_type.clone()))
            .collect()
    }
}

impl<B: Backend> Explainable<B> for OnnxModel<B> {
    fn input_channels(&self) -> usize {
        self.program.input_channels
    }

    fn input_size(&self) -> Option<[usize; 2]> {
        self.program.input_size
    }

    fn forward_hooked<H: Hook<B>>(&self, images: Tensor<B, 4>, hook: &mut H) -> Tensor<B, 2> {
        interpret::run(&self.program, &self.parameters, images, hook)
    }
}
