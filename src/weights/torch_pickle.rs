//! The tensor layouts (shape, strides, storage offset) recorded in a PyTorch
//! pickle.
//!
//! `burn-store` 0.21 reads PyTorch files as if every tensor were contiguous:
//! it drops the strides that `torch._utils._rebuild_tensor_v2` receives.
//! Weights converted from other frameworks are often stored permuted (e.g.
//! TensorFlow's HWIO convolution kernels as PyTorch `[O, I, H, W]` views), and
//! come out scrambled; and it fills a storage that is shorter than its
//! tensors, or missing, with zeros. This module reads the layouts from the
//! pickle and the size of every storage, so the loader can put the elements
//! in their places and refuse a file whose tensors do not fit their data.

use std::collections::HashMap;
use std::io::Read;

use super::pickle::{Machine, Value};

/// The layout of one tensor in its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    /// The storage the elements lie in, where the pickle names it.
    pub storage: Option<StorageSlice>,
}

/// Where a tensor's elements start: a storage and an element offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorageSlice {
    /// The storage's key (its file name in a zip archive).
    pub key: String,
    /// The storage type, e.g. `HalfStorage`.
    pub type_name: String,
    /// The first element's offset in the storage, in elements.
    pub offset: usize,
}

/// The tensors of a PyTorch file and the bytes each storage holds.
#[derive(Debug, Clone)]
pub(crate) struct Contents {
    /// Each tensor's layout, keyed like `burn-store` keys them.
    pub layouts: HashMap<String, Layout>,
    /// The number of bytes present for each storage key.
    pub storage_bytes: HashMap<String, usize>,
}

impl Contents {
    /// Checks that the elements of tensor `name` lie inside its storage.
    pub fn check_storage(&self, name: &str) -> Result<(), String> {
        let Some(layout) = self.layouts.get(name) else {
            return Ok(());
        };
        let Some(slice) = &layout.storage else {
            return Ok(());
        };
        let Some(needed) = layout.needed_bytes() else {
            return Ok(());
        };
        match self.storage_bytes.get(&slice.key) {
            None if needed > 0 => Err(format!("storage `{}` is missing", slice.key)),
            Some(&present) if present < needed => Err(format!(
                "storage `{}` holds {present} bytes, the tensor needs {needed} \
                 (the file is truncated or damaged)",
                slice.key
            )),
            _ => Ok(()),
        }
    }
}

/// The size in bytes of one element of a PyTorch storage type.
fn element_size(type_name: &str) -> Option<usize> {
    Some(match type_name {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => return None,
    })
}

impl Layout {
    /// The bytes of storage the tensor reaches, from the storage's start;
    /// `None` when the storage type or the arithmetic is unknown.
    pub fn needed_bytes(&self) -> Option<usize> {
        let slice = self.storage.as_ref()?;
        let size = element_size(&slice.type_name)?;
        if self.shape.contains(&0) {
            return Some(0);
        }
        let mut last = slice.offset;
        for (&extent, &stride) in self.shape.iter().zip(&self.strides) {
            last = last.checked_add((extent - 1).checked_mul(stride)?)?;
        }
        last.checked_add(1)?.checked_mul(size)
    }

    /// Whether the elements lie in row-major order.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if size != 1 && stride != expected {
                return false;
            }
            expected *= size;
        }
        true
    }

    /// For a tensor that fills `numel` consecutive storage elements in some
    /// dimension order, the storage position of each row-major element.
    pub fn gather_order(&self) -> Result<Vec<usize>, String> {
        let numel: usize = self.shape.iter().product();
        let mut dims: Vec<usize> = (0..self.shape.len())
            .filter(|&d| self.shape[d] > 1)
            .collect();
        dims.sort_by_key(|&d| self.strides[d]);
        let mut expected = 1;
        for &d in &dims {
            if self.strides[d] != expected {
                return Err(format!(
                    "shape {:?} with strides {:?} does not fill its storage densely",
                    self.shape, self.strides
                ));
            }
            expected *= self.shape[d];
        }
        let mut order = Vec::with_capacity(numel);
        let mut index = vec![0usize; self.shape.len()];
        for _ in 0..numel {
            order.push(index.iter().zip(&self.strides).map(|(i, s)| i * s).sum());
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < self.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(order)
    }
}

/// Reads the layouts of every tensor of a PyTorch file (legacy or zip
/// format), keyed like `burn-store` keys them (nested dictionaries joined
/// with `.`), and the number of bytes each storage holds.
pub(crate) fn read_contents(bytes: &[u8]) -> Result<Contents, String> {
    let (root, storage_bytes) = if bytes.starts_with(b"PK") {
        read_zip(bytes)?
    } else {
        read_legacy(bytes)?
    };
    let mut layouts = HashMap::new();
    collect(&root, "", &mut layouts);
    Ok(Contents {
        layouts,
        storage_bytes,
    })
}

/// The zip format: `…/data.pkl` and one entry `…/data/<key>` per storage.
fn read_zip(bytes: &[u8]) -> Result<(Value, HashMap<String, usize>), String> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut storage_bytes = HashMap::new();
    let mut pickle_name = None;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|e| e.to_string())?;
        let name = entry.name();
        if let Some(at) = name.rfind("/data/") {
            let size = usize::try_from(entry.size()).map_err(|e| e.to_string())?;
            storage_bytes.insert(name[at + "/data/".len()..].to_string(), size);
        } else if name.ends_with("data.pkl") && pickle_name.is_none() {
            pickle_name = Some(name.to_string());
        }
    }
    let name = pickle_name.ok_or("no data.pkl in the archive")?;
    let mut pickle = Vec::new();
    archive
        .by_name(&name)
        .map_err(|e| e.to_string())?
        .read_to_end(&mut pickle)
        .map_err(|e| e.to_string())?;
    let root = Machine::new(&pickle, reduce).run()?;
    Ok((root, storage_bytes))
}

/// The legacy format: magic number, protocol version, system info, the
/// object, the sorted list of storage keys, then each storage as an
/// element count (8 bytes, little-endian) and its elements.
fn read_legacy(bytes: &[u8]) -> Result<(Value, HashMap<String, usize>), String> {
    let mut machine = Machine::new(bytes, reduce);
    for _ in 0..3 {
        machine.run()?;
    }
    let root = machine.run()?;
    let mut types = HashMap::new();
    storage_types(&root, &mut types);
    let mut storage_bytes = HashMap::new();
    let Ok(Value::List(keys)) = machine.run() else {
        return Ok((root, storage_bytes));
    };
    let mut rest = &bytes[machine.position()..];
    for key in keys {
        let Value::Text(key) = key else { break };
        let Some(size) = types.get(&key).and_then(|t: &String| element_size(t)) else {
            break;
        };
        let Some((count, data)) = rest.split_first_chunk::<8>() else {
            break;
        };
        let wanted = usize::try_from(u64::from_le_bytes(*count))
            .ok()
            .and_then(|c| c.checked_mul(size))
            .unwrap_or(usize::MAX);
        let present = wanted.min(data.len());
        storage_bytes.insert(key, present);
        rest = &data[present..];
    }
    Ok((root, storage_bytes))
}

/// The storage type of every storage key that a tensor of `value` uses.
fn storage_types(value: &Value, out: &mut HashMap<String, String>) {
    match value {
        Value::Tensor(Layout {
            storage: Some(slice),
            ..
        }) => {
            out.insert(slice.key.clone(), slice.type_name.clone());
        }
        Value::Dict(items) => items.iter().for_each(|(_, v)| storage_types(v, out)),
        _ => {}
    }
}

fn collect(value: &Value, prefix: &str, out: &mut HashMap<String, Layout>) {
    if let Value::Dict(items) = value {
        for (key, item) in items {
            let Value::Text(key) = key else { continue };
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match item {
                Value::Tensor(layout) => {
                    out.insert(path, layout.clone());
                }
                Value::Dict(_) => collect(item, &path, out),
                _ => {}
            }
        }
    }
}

/// The result of calling `callable(*args)`: tensor rebuilds keep their
/// layout, ordered dictionaries become dictionaries, the rest is opaque.
fn reduce(callable: Value, args: Value) -> Value {
    let Value::Global(module, name) = callable else {
        return Value::Object;
    };
    let ints = |v: &Value| -> Option<Vec<usize>> {
        match v {
            Value::Tuple(items) | Value::List(items) => items
                .iter()
                .map(|i| match i {
                    Value::Int(n) if *n >= 0 => Some(*n as usize),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    match (module.as_str(), name.as_str(), &args) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor", Value::Tuple(a))
            if a.len() >= 4 =>
        {
            match (ints(&a[2]), ints(&a[3])) {
                (Some(shape), Some(strides)) if shape.len() == strides.len() => {
                    let offset = match a[1] {
                        Value::Int(n) => usize::try_from(n).ok(),
                        _ => None,
                    };
                    Value::Tensor(Layout {
                        shape,
                        strides,
                        storage: storage_slice(&a[0], offset),
                    })
                }
                _ => Value::Object,
            }
        }
        ("torch._utils", "_rebuild_parameter", Value::Tuple(a)) if !a.is_empty() => a[0].clone(),
        ("collections", "OrderedDict", _) => Value::Dict(Vec::new()),
        _ => Value::Object,
    }
}

/// The storage a tensor rebuild names: the persistent id
/// `("storage", <type>, key, location, numel, …)`.
fn storage_slice(id: &Value, offset: Option<usize>) -> Option<StorageSlice> {
    let Value::Persistent(id) = id else {
        return None;
    };
    let Value::Tuple(parts) = id.as_ref() else {
        return None;
    };
    match (parts.first(), parts.get(1), parts.get(2)) {
        (Some(Value::Text(tag)), Some(Value::Global(_, type_name)), Some(Value::Text(key)))
            if tag == "storage" =>
        {
            Some(StorageSlice {
                key: key.clone(),
                type_name: type_name.clone(),
                offset: offset?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuted_layouts_map_back_to_row_major() {
        // A [2, 3] tensor stored column-major: strides (1, 2).
        let layout = Layout {
            shape: vec![2, 3],
            strides: vec![1, 2],
            storage: None,
        };
        assert!(!layout.is_contiguous());
        assert_eq!(layout.gather_order().unwrap(), vec![0, 2, 4, 1, 3, 5]);
        let contiguous = Layout {
            shape: vec![2, 3],
            strides: vec![3, 1],
            storage: None,
        };
        assert!(contiguous.is_contiguous());
        assert_eq!(contiguous.gather_order().unwrap(), vec![0, 1, 2, 3, 4, 5]);
        let overlapping = Layout {
            shape: vec![2, 3],
            strides: vec![0, 1],
            storage: None,
        };
        assert!(overlapping.gather_order().is_err());
    }

    #[test]
    fn needed_bytes_reach_the_last_element() {
        let slice = |type_name: &str, offset| StorageSlice {
            key: "0".into(),
            type_name: type_name.into(),
            offset,
        };
        // Elements 4..=9 of a float storage: 10 floats.
        let layout = Layout {
            shape: vec![2, 3],
            strides: vec![3, 1],
            storage: Some(slice("FloatStorage", 4)),
        };
        assert_eq!(layout.needed_bytes(), Some(40));
        // Column-major half precision, no offset: 6 halves.
        let permuted = Layout {
            shape: vec![2, 3],
            strides: vec![1, 2],
            storage: Some(slice("HalfStorage", 0)),
        };
        assert_eq!(permuted.needed_bytes(), Some(12));
        let empty = Layout {
            shape: vec![0, 3],
            strides: vec![3, 1],
            storage: Some(slice("FloatStorage", 7)),
        };
        assert_eq!(empty.needed_bytes(), Some(0));
        let unknown = Layout {
            storage: Some(slice("QInt8Storage", 0)),
            ..empty
        };
        assert_eq!(unknown.needed_bytes(), None);
        let contents = Contents {
            layouts: HashMap::from([("w".to_string(), layout)]),
            storage_bytes: HashMap::from([("0".to_string(), 36)]),
        };
        let err = contents.check_storage("w").unwrap_err();
        assert!(err.contains("36 bytes") && err.contains("40"), "{err}");
        let missing = Contents {
            storage_bytes: HashMap::new(),
            ..contents
        };
        assert!(missing.check_storage("w").unwrap_err().contains("missing"));
    }
}
