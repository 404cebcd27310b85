//! Element types checked before `burn-store` builds a tensor: every stored
//! tensor that fills a model parameter is widened (half precision to f32),
//! converted between integer types, or refused with a message naming both
//! types. `burn-store` builds each parameter with the stored type, and a
//! type the backend cannot hold in that kind of tensor would panic there.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::DType;
use burn_store::{ModuleAdapter, ModuleSnapshot, TensorSnapshot, TensorSnapshotError};

/// A `burn-store` adapter that gives every stored tensor the element type
/// of the model parameter it fills, or an error naming both types.
#[derive(Debug, Clone)]
pub(super) struct ElementTypes {
    /// The element type of each model parameter, by its path.
    parameters: Arc<HashMap<String, DType>>,
}

impl ElementTypes {
    /// The parameter types of `model`, paths as `burn-store` builds them.
    pub fn of<B: Backend, M: ModuleSnapshot<B>>(model: &M) -> Self {
        let parameters = model
            .collect(None, None, false)
            .into_iter()
            .map(|snapshot| (snapshot.full_path(), snapshot.dtype))
            .collect();
        Self {
            parameters: Arc::new(parameters),
        }
    }
}

/// What a stored tensor of type `stored` becomes in a parameter of type
/// `parameter`: the type to convert it to, or why it cannot fill it.
pub(super) fn loaded_type(stored: DType, parameter: DType) -> Result<DType, String> {
    let refuse = || {
        Err(format!(
            "stored as {stored:?}, but the model's parameter holds {}",
            kind(parameter)
        ))
    };
    match (kind(stored), kind(parameter)) {
        // f32 and f64 are loaded as stored (then cast to the device's float
        // type); half precision is widened exactly to f32.
        ("floats", "floats") => Ok(match stored {
            DType::F16 | DType::BF16 => DType::F32,
            other => other,
        }),
        ("integers", "integers") => Ok(parameter),
        ("booleans", "booleans") => Ok(parameter),
        _ => refuse(),
    }
}

fn kind(dtype: DType) -> &'static str {
    match dtype {
        DType::F64 | DType::F32 | DType::Flex32 | DType::F16 | DType::BF16 => "floats",
        DType::I64
        | DType::I32
        | DType::I16
        | DType::I8
        | DType::U64
        | DType::U32
        | DType::U16
        | DType::U8 => "integers",
        DType::Bool(_) => "booleans",
        DType::QFloat(_) => "quantised values",
    }
}

impl ModuleAdapter for ElementTypes {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        let Some(&parameter) = self.parameters.get(&snapshot.full_path()) else {
            return snapshot.clone();
        };
        let stored = snapshot.dtype;
        let read = snapshot.clone_data_fn();
        let (dtype, data): (DType, Rc<dyn Fn() -> _>) = match loaded_type(stored, parameter) {
            Ok(dtype) if dtype == stored => return snapshot.clone(),
            Ok(dtype) => (
                dtype,
                Rc::new(move || read().map(|data| data.convert_dtype(dtype))),
            ),
            // The applier records a data error as a load error of this path.
            Err(message) => (
                stored,
                Rc::new(move || Err(TensorSnapshotError::DataError(message.clone()))),
            ),
        };
        TensorSnapshot::from_closure(
            data,
            dtype,
            snapshot.shape.clone(),
            snapshot.path_stack.clone().unwrap_or_default(),
            snapshot.container_stack.clone().unwrap_or_default(),
            snapshot.tensor_id.unwrap_or_default(),
        )
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_and_kinds_do_not_mix() {
        assert_eq!(loaded_type(DType::F16, DType::F32), Ok(DType::F32));
        assert_eq!(loaded_type(DType::BF16, DType::F64), Ok(DType::F32));
        assert_eq!(loaded_type(DType::F64, DType::F32), Ok(DType::F64));
        assert_eq!(loaded_type(DType::I32, DType::I64), Ok(DType::I64));
        for stored in [DType::I64, DType::I32, DType::U8] {
            let message = loaded_type(stored, DType::F32).unwrap_err();
            assert!(message.contains(&format!("{stored:?}")) && message.contains("floats"));
        }
        assert!(loaded_type(DType::F32, DType::I64).is_err());
    }
}
