//! Loading PyTorch weights (safetensors or `.pth`) into a model.
//!
//! Uses `burn-store`: safetensors files through `SafetensorsStore` with the
//! PyTorch-to-Burn adapter (it transposes `Linear` weights and renames
//! norm parameters), `.pt`/`.pth` files through `burn-store`'s PyTorch
//! reader, with every tensor's strides honoured (see `torch_pickle`). Loaded
//! tensors are then cast to the device's float type
//! ([`set_precision`](crate::set_precision)), so an `f32` file serves an
//! `f64` model, and checked to be finite.

use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

mod element_types;
mod pickle;
mod torch_pickle;

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::{DType, FloatDType};
use burn_store::pytorch::PytorchReader;
use burn_store::{
    ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot,
    PyTorchToBurnAdapter, SafetensorsStore,
};

use element_types::ElementTypes;

use crate::input::check_weights;
use crate::precision::device_float_dtype;
use crate::{Error, Result};

/// Loads a PyTorch weight file into a model whose parameter paths follow the
/// file's names (after optional key remapping).
///
/// The format follows the extension: `.safetensors`, or `.pt`/`.pth`/`.bin`
/// (PyTorch pickle, legacy or zip). Every parameter of the model must be
/// found with the right shape; tensors of the file that the model does not
/// use are ignored (e.g. batch norm's `num_batches_tracked`).
///
/// ```no_run
/// use learnprop::weights::WeightFile;
/// use learnprop::zoo::FixtureCnnConfig;
/// use learnprop::Cpu;
///
/// let model = FixtureCnnConfig::new().init::<Cpu>(&Default::default());
/// let model = WeightFile::new("model-b.safetensors").load(model)?;
/// # Ok::<(), learnprop::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct WeightFile {
    path: PathBuf,
    bytes: Option<&'static [u8]>,
    remapping: Vec<(String, String)>,
}

impl WeightFile {
    /// A weight file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            bytes: None,
            remapping: Vec::new(),
        }
    }

    /// Safetensors bytes embedded in the program (e.g. with `include_bytes!`);
    /// `name` stands for the path in messages.
    pub fn from_safetensors_bytes(name: impl AsRef<Path>, bytes: &'static [u8]) -> Self {
        Self {
            path: name.as_ref().to_path_buf(),
            bytes: Some(bytes),
            remapping: Vec::new(),
        }
    }

    /// Renames the file's keys matching the regular expression `pattern` to
    /// `replacement` (`$1`… refer to groups) before matching them with the
    /// model's parameter paths. Rules apply in the order given.
    pub fn with_key_remapping(
        mut self,
        pattern: impl Into<String>,
        replacement: impl Into<String>,
    ) -> Self {
        self.remapping.push((pattern.into(), replacement.into()));
        self
    }

    /// Adds several remapping rules, e.g. a model's
    /// [`Vgg16::torchvision_key_remapping`](crate::zoo::Vgg16::torchvision_key_remapping).
    pub fn with_key_remappings<P, R>(mut self, rules: impl IntoIterator<Item = (P, R)>) -> Self
    where
        P: Into<String>,
        R: Into<String>,
    {
        self.remapping
            .extend(rules.into_iter().map(|(p, r)| (p.into(), r.into())));
        self
    }

    /// Loads the file into `model` and returns the loaded model.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::Weights`] when it
    /// is malformed, a model parameter is missing or has another shape, or a
    /// remapping pattern is not a valid regular expression,
    /// [`Error::NonFiniteWeights`] when a loaded value is NaN or infinite,
    /// and [`Error::Precision`] when the backend type names f64 but the
    /// device was fixed to f32 earlier in the process.
    pub fn load<B: Backend, M: Module<B>>(&self, model: M) -> Result<M> {
        let device = model.devices().into_iter().next().unwrap_or_default();
        let dtype = device_float_dtype::<B>(&device)?;
        if self.bytes.is_none() {
            std::fs::metadata(&self.path).map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        }
        let mut remapper = KeyRemapper::new();
        for (pattern, replacement) in &self.remapping {
            remapper = remapper
                .add_pattern(pattern.as_str(), replacement.as_str())
                .map_err(|e| self.error(format!("invalid key pattern `{pattern}`: {e}")))?;
        }
        let extension = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let store = match (self.bytes, extension.as_str()) {
            (Some(bytes), _) => SafetensorsStore::from_bytes(Some(bytes.to_vec())),
            (None, "safetensors") => SafetensorsStore::from_file(&self.path),
            (None, "pt" | "pth" | "bin") => {
                SafetensorsStore::from_bytes(Some(self.pytorch_as_safetensors()?))
            }
            (None, other) => {
                return Err(self.error(format!(
                    "unknown weight format `.{other}` (expected .safetensors, .pt, .pth or .bin)"
                )))
            }
        };
        let mut store = store
            .with_from_adapter(ElementTypes::of(&model).chain(PyTorchToBurnAdapter))
            .remap(remapper)
            .allow_partial(true)
            .validate(false);
        let (model, result) = load_catching_panics(model, &mut store).map_err(|e| self.error(e))?;
        self.check(&result)?;
        let model = model.map(&mut CastFloats::<B> {
            dtype: dtype.into(),
            backend: std::marker::PhantomData,
        });
        check_weights(&model)?;
        Ok(model)
    }

    /// Writes `model`'s parameters to this path as safetensors with PyTorch
    /// names and layouts (`Linear` weights transposed back), so that
    /// [`load`](Self::load) and PyTorch's `load_state_dict` both read it.
    ///
    /// # Errors
    /// [`Error::Weights`] if the file cannot be written, or the path does
    /// not end in `.safetensors`.
    pub fn save<B: Backend, M: Module<B>>(&self, model: &M) -> Result<()> {
        if self.path.extension().and_then(|e| e.to_str()) != Some("safetensors") {
            return Err(self.error("weights are saved as .safetensors".into()));
        }
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut store = SafetensorsStore::from_file(&self.path)
            .with_to_adapter(BurnToPyTorchAdapter)
            .overwrite(true);
        model
            .save_into(&mut store)
            .map_err(|e| self.error(e.to_string()))
    }

    /// Reads a PyTorch pickle file with `burn-store` and re-encodes it as
    /// safetensors, putting the elements of every non-contiguous tensor in
    /// row-major order (`burn-store` 0.21 ignores the strides the pickle
    /// records, which scrambles permuted tensors such as converted
    /// TensorFlow kernels).
    fn pytorch_as_safetensors(&self) -> Result<Vec<u8>> {
        let raw = std::fs::read(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let contents = torch_pickle::read_contents(&raw)
            .map_err(|e| self.error(format!("cannot read the tensor layouts: {e}")))?;
        let reader = PytorchReader::new(&self.path).map_err(|e| self.error(e.to_string()))?;
        let mut tensors = Vec::new();
        for (name, snapshot) in reader.into_tensors() {
            contents
                .check_storage(&name)
                .map_err(|e| self.error(format!("{name}: {e}")))?;
            let data = snapshot
                .to_data()
                .map_err(|e| self.error(format!("{name}: {e:?}")))?;
            let dtype = safetensors_dtype(data.dtype).ok_or_else(|| {
                self.error(format!("{name}: unsupported element type {:?}", data.dtype))
            })?;
            let shape = data.shape.to_vec();
            let mut bytes = data.as_bytes().to_vec();
            if let Some(layout) = contents.layouts.get(&name).filter(|l| !l.is_contiguous()) {
                if layout.shape != shape {
                    return Err(self.error(format!(
                        "{name}: pickle shape {:?}, data shape {shape:?}",
                        layout.shape
                    )));
                }
                let order = layout
                    .gather_order()
                    .map_err(|e| self.error(format!("{name}: {e}")))?;
                let size = dtype.bitsize() / 8;
                let mut reordered = Vec::with_capacity(bytes.len());
                for position in order {
                    reordered.extend_from_slice(&bytes[position * size..(position + 1) * size]);
                }
                bytes = reordered;
            }
            tensors.push((name, dtype, shape, bytes));
        }
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| self.error(format!("{name}: {e}")))
            })
            .collect::<Result<_>>()?;
        safetensors::serialize(views, None).map_err(|e| self.error(e.to_string()))
    }

    fn check(&self, result: &ApplyResult) -> Result<()> {
        if let Some(error) = result.errors.first() {
            return Err(self.error(format!("{error}")));
        }
        if !result.missing.is_empty() {
            let names: Vec<&str> = result
                .missing
                .iter()
                .map(|(name, _)| name.as_str())
                .collect();
            return Err(self.error(format!(
                "{} model parameters not found in the file: {}",
                names.len(),
                names.join(", ")
            )));
        }
        Ok(())
    }

    fn error(&self, message: String) -> Error {
        Error::Weights {
            path: self.path.clone(),
            message,
        }
    }
}

/// Applies the store's tensors to `model`, turning a panic inside
/// `burn-store` or the backend into an error.
///
/// `burn-store` moves the module out of its place with a raw read while it
/// maps it and writes the result back only at the end, so a panic half-way
/// leaves the place holding values that unwinding has already dropped. The
/// model is therefore held in `ManuallyDrop` during the load: after a panic
/// its place is abandoned (leaked), never dropped a second time.
fn load_catching_panics<B: Backend, M: Module<B>>(
    model: M,
    store: &mut SafetensorsStore,
) -> std::result::Result<(M, ApplyResult), String> {
    let mut slot = ManuallyDrop::new(model);
    match catch_unwind(AssertUnwindSafe(|| slot.load_from(store))) {
        Ok(Ok(result)) => Ok((ManuallyDrop::into_inner(slot), result)),
        Ok(Err(error)) => {
            // A store error leaves the module either untouched or whole.
            drop(ManuallyDrop::into_inner(slot));
            Err(error.to_string())
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(format!("loading the tensors panicked: {message}"))
        }
    }
}

fn safetensors_dtype(dtype: DType) -> Option<safetensors::Dtype> {
    use safetensors::Dtype as S;
    Some(match dtype {
        DType::F64 => S::F64,
        DType::F32 => S::F32,
        DType::F16 => S::F16,
        DType::BF16 => S::BF16,
        DType::I64 => S::I64,
        DType::I32 => S::I32,
        DType::I16 => S::I16,
        DType::I8 => S::I8,
        DType::U8 => S::U8,
        _ => return None,
    })
}

/// Casts every float parameter to the device's float type.
struct CastFloats<B> {
    dtype: FloatDType,
    backend: std::marker::PhantomData<B>,
}

impl<B: Backend> ModuleMapper<B> for CastFloats<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let require_grad = tensor.is_require_grad();
        let tensor = tensor
            .cast(self.dtype)
            .detach()
            .set_require_grad(require_grad);
        Param::from_mapped_value(id, tensor, mapper)
    }
}
