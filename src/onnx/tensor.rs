//! Decoding ONNX `TensorProto`s (initialisers and constants), with every
//! length checked against the declared shape before anything is allocated.

use burn::tensor::TensorData;
use onnx_ir::TensorProto;

use super::host::{HostData, HostTensor, MAX_HOST_ELEMENTS};
use super::OnnxProblem;

type Checked<T> = Result<T, OnnxProblem>;

/// The most elements one initialiser may declare (2³¹, 8 GiB in f32: more
/// than any file protobuf can hold without external data).
const MAX_TENSOR_ELEMENTS: usize = 1 << 31;

/// Values of a decoded tensor, in the file's precision.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
    Int(Vec<i64>),
}

/// A decoded tensor: shape and values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    pub shape: Vec<usize>,
    pub values: Values,
}

impl Decoded {
    /// Whether the values are floating point.
    pub fn is_float(&self) -> bool {
        !matches!(self.values, Values::Int(_))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.values {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Int(v) => v.len(),
        }
    }

    /// The tensor as a host tensor (shape arithmetic and attribute-like
    /// inputs), refused past [`MAX_HOST_ELEMENTS`].
    pub fn into_host(self) -> Checked<HostTensor> {
        if self.len() > MAX_HOST_ELEMENTS {
            return Err(OnnxProblem(format!(
                "a constant of {} elements is too large for shape arithmetic",
                self.len()
            )));
        }
        let data = match self.values {
            Values::F32(v) => HostData::Float(v.into_iter().map(f64::from).collect()),
            Values::F64(v) => HostData::Float(v),
            Values::Int(v) => HostData::Int(v),
        };
        Ok(HostTensor {
            shape: self.shape,
            data,
        })
    }

    /// The values as flat tensor data (a parameter), in the file's precision.
    pub fn into_tensor_data(self) -> TensorData {
        let n = [self.len()];
        match self.values {
            Values::F32(v) => TensorData::new(v, n),
            Values::F64(v) => TensorData::new(v, n),
            Values::Int(v) => TensorData::new(v.into_iter().map(|x| x as f64).collect(), n),
        }
    }
}

impl HostTensor {
    /// The host tensor as decoded values (a `Constant` node's value).
    pub(crate) fn into_decoded(self) -> Decoded {
        let values = match self.data {
            HostData::Int(v) => Values::Int(v),
            HostData::Float(v) => Values::F64(v),
        };
        Decoded {
            shape: self.shape,
            values,
        }
    }
}

/// Little-endian values of `width` bytes each, exactly `count` of them.
fn raw<T>(bytes: &[u8], count: usize, width: usize, read: impl Fn(&[u8]) -> T) -> Checked<Vec<T>> {
    if bytes.len() != count.saturating_mul(width) {
        return Err(OnnxProblem(format!(
            "its raw data holds {} bytes, its shape needs {count} values of {width} bytes",
            bytes.len()
        )));
    }
    Ok(bytes.chunks_exact(width).map(read).collect())
}

fn typed<T: Copy>(values: &[T], count: usize, field: &str) -> Checked<Vec<T>> {
    if values.len() != count {
        return Err(OnnxProblem(format!(
            "its `{field}` holds {} values, its shape needs {count}",
            values.len()
        )));
    }
    Ok(values.to_vec())
}

/// Decodes a tensor of a supported element type (f32, f64, f16, bf16, the
/// integer types and bool; f16 and bf16 widen to f32).
pub(crate) fn decode_tensor(t: &TensorProto) -> Checked<Decoded> {
    let name = if t.name.is_empty() {
        "a constant"
    } else {
        &t.name
    };
    let fail = |p: OnnxProblem| OnnxProblem(format!("tensor `{name}`: {}", p.0));
    if !t.external_data.is_empty() || t.data_location.value() == 1 {
        return Err(fail(OnnxProblem(
            "its data is stored outside the file (external data); save the model as one file"
                .into(),
        )));
    }
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        if d < 0 {
            return Err(fail(OnnxProblem(format!("dimension {d} is negative"))));
        }
        shape.push(d as usize);
    }
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| fail(OnnxProblem(format!("its shape {shape:?} is too large"))))?;
    let bytes: &[u8] = &t.raw_data;
    let has_raw = !bytes.is_empty() || count == 0;
    let le = |b: &[u8]| {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        a
    };
    let f32_le = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let f64_le = |b: &[u8]| f64::from_le_bytes(le(b));
    let values: Checked<Values> = match t.data_type {
        // FLOAT
        1 if has_raw => raw(bytes, count, 4, f32_le).map(Values::F32),
        1 => typed(&t.float_data, count, "float_data").map(Values::F32),
        // DOUBLE
        11 if has_raw => raw(bytes, count, 8, f64_le).map(Values::F64),
        11 => typed(&t.double_data, count, "double_data").map(Values::F64),
        // FLOAT16, BFLOAT16 (typed values live in int32_data, one per entry)
        10 | 16 => {
            let widen = |bits: u16| {
                if t.data_type == 10 {
                    half::f16::from_bits(bits).to_f32()
                } else {
                    half::bf16::from_bits(bits).to_f32()
                }
            };
            if has_raw {
                raw(bytes, count, 2, |b| widen(u16::from_le_bytes([b[0], b[1]])))
            } else {
                typed(&t.int32_data, count, "int32_data")
                    .map(|v| v.into_iter().map(|x| widen(x as u16)).collect())
            }
            .map(Values::F32)
        }
        // INT64
        7 if has_raw => raw(bytes, count, 8, |b| i64::from_le_bytes(le(b))).map(Values::Int),
        7 => typed(&t.int64_data, count, "int64_data").map(Values::Int),
        // INT32, INT16, INT8, UINT16, UINT8, BOOL
        2..=6 | 9 => {
            let width = match t.data_type {
                6 => 4,
                5 | 4 => 2,
                _ => 1,
            };
            let signed = matches!(t.data_type, 3 | 5 | 6);
            if has_raw {
                raw(bytes, count, width, |b| {
                    let bits = u64::from_le_bytes(le(b));
                    let shift = 64 - 8 * width as u32;
                    if signed {
                        ((bits << shift) as i64) >> shift
                    } else {
                        bits as i64
                    }
                })
            } else {
                typed(&t.int32_data, count, "int32_data")
                    .map(|v| v.into_iter().map(i64::from).collect())
            }
            .map(Values::Int)
        }
        // UINT32, UINT64
        12 | 13 if has_raw => {
            let width = if t.data_type == 12 { 4 } else { 8 };
            raw(bytes, count, width, |b| u64::from_le_bytes(le(b)) as i64).map(Values::Int)
        }
        12 | 13 => typed(&t.uint64_data, count, "uint64_data")
            .map(|v| v.into_iter().map(|x| x as i64).collect())
            .map(Values::Int),
        other => Err(OnnxProblem(format!(
            "element type {other} is not supported (floats, integers and bool are)"
        ))),
    };
    let values = values.map_err(fail)?;
    Ok(Decoded { shape, values })
}
