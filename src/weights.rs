//! Loading PyTorch weights (safetensors or `.pth`) into a model.
//!
//! Uses `burn-store`: safetensors files through `SafetensorsStore` with the
//! PyTorch-to-Burn adapter (it transposes `Linear` weights and renames
//! norm parameters), `.pt`/`.pth` files through `PytorchStore` (which applies
//! the adapter itself). Loaded tensors are then cast to the backend's float
//! type, so an `f32` file serves an `f64` model, and checked to be finite.

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::{Element, FloatDType};
use burn_store::{
    ApplyResult, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

use crate::input::check_weights;
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
    remapping: Vec<(String, String)>,
}

impl WeightFile {
    /// A weight file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
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
    /// remapping pattern is not a valid regular expression, and
    /// [`Error::NonFiniteWeights`] when a loaded value is NaN or infinite.
    pub fn load<B: Backend, M: Module<B>>(&self, mut model: M) -> Result<M> {
        std::fs::metadata(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
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
        let result = match extension.as_str() {
            "safetensors" => {
                let mut store = SafetensorsStore::from_file(&self.path)
                    .with_from_adapter(PyTorchToBurnAdapter)
                    .remap(remapper)
                    .allow_partial(true)
                    .validate(false);
                model
                    .load_from(&mut store)
                    .map_err(|e| self.error(e.to_string()))?
            }
            "pt" | "pth" | "bin" => {
                let mut store = PytorchStore::from_file(&self.path)
                    .remap(remapper)
                    .allow_partial(true)
                    .validate(false);
                model
                    .load_from(&mut store)
                    .map_err(|e| self.error(e.to_string()))?
            }
            other => {
                return Err(self.error(format!(
                    "unknown weight format `.{other}` (expected .safetensors, .pt, .pth or .bin)"
                )))
            }
        };
        self.check(&result)?;
        let model = model.map(&mut CastFloats::<B> {
            dtype: <B::FloatElem as Element>::dtype().into(),
            backend: std::marker::PhantomData,
        });
        check_weights(&model)?;
        Ok(model)
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

/// Casts every float parameter to the backend's float type.
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
