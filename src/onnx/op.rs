//! The ONNX operators the interpreter runs, with their attributes parsed
//! and checked against the operator's specification at load time.

use std::collections::HashSet;

use onnx_ir::TensorProto;

use super::host::{Arithmetic, HostData, HostTensor};
use super::tensor::decode_tensor;
use super::OnnxProblem;
use crate::model::Activation;

type Checked<T> = Result<T, OnnxProblem>;

/// How a convolution or pool pads its input (ONNX `auto_pad` and `pads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    /// `[[top, bottom], [left, right]]`.
    Explicit([[usize; 2]; 2]),
    /// Output size `⌈in / stride⌉`, an odd padding's extra pixel at the end.
    SameUpper,
    /// As `SameUpper`, the extra pixel at the start.
    SameLower,
}

/// Settings shared by `Conv`, `MaxPool` and `AveragePool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub kernel: Option<[usize; 2]>,
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: Padding,
}

/// One interpreted operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Conv {
        window: Window,
        groups: usize,
    },
    Gemm {
        alpha: f64,
        beta: f64,
        trans_a: bool,
        trans_b: bool,
    },
    MatMul,
    BatchNorm {
        epsilon: f64,
    },
    /// An activation site (also the fused SiLU and GELU patterns, and `Clip`
    /// as ReLU or ReLU6 once its bounds are known).
    Activate(Activation),
    /// `Clip` before its bounds are resolved into an activation.
    Clip {
        min: Option<f64>,
        max: Option<f64>,
    },
    Erf,
    MaxPool {
        window: Window,
        ceil: bool,
    },
    AveragePool {
        window: Window,
        ceil: bool,
        count_include_pad: bool,
    },
    GlobalAveragePool,
    GlobalMaxPool,
    ReduceMean {
        axes: Option<Vec<i64>>,
        keep_dims: bool,
        noop_with_empty_axes: bool,
    },
    Arithmetic(Arithmetic),
    Neg,
    Concat {
        axis: i64,
    },
    Flatten {
        axis: i64,
    },
    Reshape {
        allow_zero: bool,
    },
    Transpose {
        perm: Option<Vec<usize>>,
    },
    Squeeze {
        axes: Option<Vec<i64>>,
    },
    Unsqueeze {
        axes: Option<Vec<i64>>,
    },
    Pad {
        pads: Option<Vec<i64>>,
        value: f64,
    },
    Identity,
    Shape {
        start: i64,
        end: Option<i64>,
    },
    Gather {
        axis: i64,
    },
    Constant(HostTensor),
    ConstantOfShape {
        value: HostTensor,
    },
    Cast {
        to_float: bool,
    },
    Slice {
        attributes: Option<[Vec<i64>; 3]>,
    },
    Softmax {
        axis: i64,
        log: bool,
    },
}

/// An attribute of a node, as read from the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Attribute {
    pub name: String,
    pub i: i64,
    pub f: f32,
    pub s: Vec<u8>,
    pub t: Option<TensorProto>,
    pub ints: Vec<i64>,
    pub floats: Vec<f32>,
}

/// A node, as read from the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub input: Vec<String>,
    pub output: Vec<String>,
    pub attribute: Vec<Attribute>,
}

/// A node's attributes, each to be read once; what is left unread at the end
/// is an attribute the interpreter does not implement.
struct Attributes<'a> {
    all: &'a [Attribute],
    read: HashSet<&'a str>,
}

impl<'a> Attributes<'a> {
    fn get(&mut self, name: &str) -> Option<&'a Attribute> {
        let found = self.all.iter().find(|a| a.name == name)?;
        self.read.insert(found.name.as_str());
        Some(found)
    }

    fn int(&mut self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    fn float(&mut self, name: &str, default: f64) -> f64 {
        self.get(name).map_or(default, |a| decimal(a.f))
    }

    fn ints(&mut self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    fn string(&mut self, name: &str) -> Option<String> {
        self.get(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    fn flag(&mut self, name: &str, default: bool) -> Checked<bool> {
        match self.int(name, default as i64) {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(OnnxProblem(format!(
                "attribute `{name}` is {other}, 0 or 1 is allowed"
            ))),
        }
    }

    /// Refuses the attribute unless it is absent or equal to `allowed`.
    fn only(&mut self, name: &str, allowed: i64) -> Checked<()> {
        match self.get(name) {
            Some(a) if a.i != allowed => Err(OnnxProblem(format!(
                "attribute `{name}` = {} is not supported (only {allowed})",
                a.i
            ))),
            _ => Ok(()),
        }
    }

    fn finish(self) -> Checked<()> {
        match self
            .all
            .iter()
            .find(|a| !self.read.contains(a.name.as_str()))
        {
            Some(a) => Err(OnnxProblem(format!(
                "attribute `{}` is not supported",
                a.name
            ))),
            None => Ok(()),
        }
    }
}

/// The f64 closest to the shortest decimal that rounds to `value`.
///
/// ONNX float attributes are f32: PyTorch's batch-norm `eps = 1e-3` arrives
/// as 0.0010000000475. Read back through its shortest decimal form it is
/// 0.001 again, the value the model was defined with, so f64 runs equal the
/// original model rather than its f32 rounding (f32 runs are unchanged).
fn decimal(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(value as f64)
}

/// Two values of a 2-D attribute such as `strides`.
fn pair(values: Option<Vec<i64>>, name: &str, default: usize) -> Checked<[usize; 2]> {
    match values.as_deref() {
        None => Ok([default, default]),
        Some(&[a, b]) if a >= 1 && b >= 1 => Ok([a as usize, b as usize]),
        Some(other) => Err(OnnxProblem(format!(
            "attribute `{name}` is {other:?}; two positive values (a 2-D layer) are supported"
        ))),
    }
}

fn window(a: &mut Attributes, allow_dilation: bool) -> Checked<Window> {
    let kernel = match a.ints("kernel_shape") {
        None => None,
        Some(k) => Some(pair(Some(k), "kernel_shape", 1)?),
    };
    let stride = pair(a.ints("strides"), "strides", 1)?;
    let dilation = pair(a.ints("dilations"), "dilations", 1)?;
    if !allow_dilation && dilation != [1, 1] {
        return Err(OnnxProblem(format!(
            "dilations {dilation:?} are not supported for pooling"
        )));
    }
    let explicit = match a.ints("pads").as_deref() {
        None => [[0, 0], [0, 0]],
        Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|&p| (0..=1 << 16).contains(&p)) => {
            [[t as usize, b as usize], [l as usize, r as usize]]
        }
        Some(other) => {
            return Err(OnnxProblem(format!(
                "attribute `pads` is {other:?}; four non-negative values are supported"
            )))
        }
    };
    let padding = match a.string("auto_pad").as_deref() {
        None | Some("NOTSET") => Padding::Explicit(explicit),
        Some("VALID") => Padding::Explicit([[0, 0], [0, 0]]),
        Some("SAME_UPPER") => Padding::SameUpper,
        Some("SAME_LOWER") => Padding::SameLower,
        Some(other) => return Err(OnnxProblem(format!("auto_pad `{other}` is not supported"))),
    };
    Ok(Window {
        kernel,
        stride,
        dilation,
        padding,
    })
}

/// The value of a `Constant` node.
fn constant_value(a: &mut Attributes) -> Checked<HostTensor> {
    if let Some(t) = a.get("value") {
        let t =
            t.t.as_ref()
                .ok_or_else(|| OnnxProblem("a Constant's `value` is not a tensor".into()))?;
        return decode_tensor(t).and_then(|t| t.into_host());
    }
    if let Some(f) = a.get("value_float") {
        return Ok(HostTensor {
            shape: vec![],
            data: HostData::Float(vec![f.f as f64]),
        });
    }
    if let Some(f) = a.get("value_floats") {
        let v: Vec<f64> = f.floats.iter().map(|&x| x as f64).collect();
        return Ok(HostTensor {
            shape: vec![v.len()],
            data: HostData::Float(v),
        });
    }
    if let Some(i) = a.get("value_int") {
        return Ok(HostTensor {
            shape: vec![],
            data: HostData::Int(vec![i.i]),
        });
    }
    if let Some(i) = a.get("value_ints") {
        return Ok(HostTensor::ints(i.ints.clone()));
    }
    Err(OnnxProblem("a Constant without a numeric `value`".into()))
}

/// Parses one node of the default domain at `opset`.
pub(crate) fn parse(node: &Node, opset: i64) -> Checked<Op> {
    let mut a = Attributes {
        all: &node.attribute,
        read: HashSet::new(),
    };
    let op = match node.op_type.as_str() {
        "Conv" => Op::Conv {
            window: window(&mut a, true)?,
            groups: match a.int("group", 1) {
                g if g >= 1 => g as usize,
                g => return Err(OnnxProblem(format!("attribute `group` is {g}"))),
            },
        },
        "Gemm" => Op::Gemm {
            alpha: a.float("alpha", 1.0),
            beta: a.float("beta", 1.0),
            trans_a: a.flag("transA", false)?,
            trans_b: a.flag("transB", false)?,
        },
        "MatMul" => Op::MatMul,
        "BatchNormalization" => {
            a.get("momentum");
            a.only("training_mode", 0)?;
            a.only("spatial", 1)?;
            a.get("consumed_inputs");
            if node.output.iter().filter(|o| !o.is_empty()).count() > 1 {
                return Err(OnnxProblem(
                    "batch norm in training form (running-statistics outputs) is not supported"
                        .into(),
                ));
            }
            Op::BatchNorm {
                epsilon: a.float("epsilon", 1e-5),
            }
        }
        "Relu" => Op::Activate(Activation::Relu),
        "Sigmoid" => Op::Activate(Activation::Sigmoid),
        "Tanh" => Op::Activate(Activation::Tanh),
        "Gelu" => match a.string("approximate").as_deref() {
            None | Some("none") => Op::Activate(Activation::Gelu),
            Some(other) => {
                return Err(OnnxProblem(format!(
                    "Gelu with approximate = `{other}` is not supported (only the exact form)"
                )))
            }
        },
        "HardSigmoid" => {
            // PyTorch's hard sigmoid: alpha = 1/6 (as f32), beta = 1/2.
            let (alpha, beta) = (
                a.get("alpha").map_or(0.2, |x| x.f),
                a.get("beta").map_or(0.5, |x| x.f),
            );
            if alpha != 1.0f32 / 6.0 || beta != 0.5 {
                return Err(OnnxProblem(format!(
                    "HardSigmoid with alpha = {alpha}, beta = {beta} is not supported (only PyTorch's 1/6 and 1/2)"
                )));
            }
            Op::Activate(Activation::HardSigmoid)
        }
        "HardSwish" => Op::Activate(Activation::HardSwish),
        "Clip" if opset < 11 => Op::Clip {
            min: a.get("min").map(|m| decimal(m.f)),
            max: a.get("max").map(|m| decimal(m.f)),
        },
        "Clip" => Op::Clip {
            min: None,
            max: None,
        },
        "Erf" => Op::Erf,
        "MaxPool" => {
            a.get("storage_order");
            if node.output.iter().filter(|o| !o.is_empty()).count() > 1 {
                return Err(OnnxProblem(
                    "MaxPool's indices output is not supported".into(),
                ));
            }
            Op::MaxPool {
                window: window(&mut a, false)?,
                ceil: a.flag("ceil_mode", false)?,
            }
        }
        "AveragePool" => Op::AveragePool {
            window: window(&mut a, false)?,
            ceil: a.flag("ceil_mode", false)?,
            count_include_pad: a.flag("count_include_pad", false)?,
        },
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "GlobalMaxPool" => Op::GlobalMaxPool,
        "ReduceMean" => Op::ReduceMean {
            axes: a.ints("axes"),
            keep_dims: a.flag("keepdims", true)?,
            noop_with_empty_axes: a.flag("noop_with_empty_axes", false)?,
        },
        "Add" | "Sub" | "Mul" | "Div" => {
            // Opset < 7 broadcasting attributes.
            a.only("broadcast", 1)?;
            a.get("axis").map_or(Ok(()), |_| {
                Err(OnnxProblem(
                    "legacy `axis` broadcasting is not supported".into(),
                ))
            })?;
            Op::Arithmetic(match node.op_type.as_str() {
                "Add" => Arithmetic::Add,
                "Sub" => Arithmetic::Sub,
                "Mul" => Arithmetic::Mul,
                _ => Arithmetic::Div,
            })
        }
        "Neg" => Op::Neg,
        "Concat" => Op::Concat {
            axis: a
                .get("axis")
                .map(|x| x.i)
                .ok_or_else(|| OnnxProblem("Concat without `axis`".into()))?,
        },
        "Flatten" => Op::Flatten {
            axis: a.int("axis", 1),
        },
        "Reshape" => Op::Reshape {
            allow_zero: a.flag("allowzero", false)?,
        },
        "Transpose" => Op::Transpose {
            perm: match a.ints("perm") {
                None => None,
                Some(p) => {
                    let mut seen = p.clone();
                    seen.sort_unstable();
                    if seen != (0..p.len() as i64).collect::<Vec<_>>() {
                        return Err(OnnxProblem(format!("perm {p:?} is not a permutation")));
                    }
                    Some(p.into_iter().map(|x| x as usize).collect())
                }
            },
        },
        "Squeeze" => Op::Squeeze {
            axes: a.ints("axes"),
        },
        "Unsqueeze" => Op::Unsqueeze {
            axes: a.ints("axes"),
        },
        "Pad" => {
            match a.string("mode").as_deref() {
                None | Some("constant") => {}
                Some(other) => {
                    return Err(OnnxProblem(format!(
                        "Pad mode `{other}` is not supported (only `constant`)"
                    )))
                }
            }
            Op::Pad {
                pads: a.ints("pads"),
                value: a.float("value", 0.0),
            }
        }
        "Identity" => Op::Identity,
        "Dropout" => {
            a.get("ratio");
            a.get("seed");
            a.only("is_test", 1)?;
            if node.output.get(1).is_some_and(|m| !m.is_empty()) {
                return Err(OnnxProblem("Dropout's mask output is not supported".into()));
            }
            Op::Identity
        }
        "Shape" => Op::Shape {
            start: a.int("start", 0),
            end: a.get("end").map(|e| e.i),
        },
        "Gather" => Op::Gather {
            axis: a.int("axis", 0),
        },
        "Constant" => Op::Constant(constant_value(&mut a)?),
        "ConstantOfShape" => Op::ConstantOfShape {
            value: match a.get("value").and_then(|v| v.t.as_ref()) {
                Some(t) => decode_tensor(t)?.into_host()?,
                None => HostTensor {
                    shape: vec![1],
                    data: HostData::Float(vec![0.0]),
                },
            },
        },
        "Cast" => {
            a.get("saturate");
            let to = a.int("to", 0);
            Op::Cast {
                to_float: match to {
                    1 | 10 | 11 | 16 => true,
                    2..=7 | 9 | 12 | 13 => false,
                    other => {
                        return Err(OnnxProblem(format!(
                            "Cast to element type {other} is not supported"
                        )))
                    }
                },
            }
        }
        "Slice" if opset < 10 => {
            let starts = a
                .ints("starts")
                .ok_or_else(|| OnnxProblem("Slice without `starts`".into()))?;
            let ends = a
                .ints("ends")
                .ok_or_else(|| OnnxProblem("Slice without `ends`".into()))?;
            let axes = a
                .ints("axes")
                .unwrap_or_else(|| (0..starts.len() as i64).collect());
            Op::Slice {
                attributes: Some([starts, ends, axes]),
            }
        }
        "Slice" => Op::Slice { attributes: None },
        "Softmax" | "LogSoftmax" => Op::Softmax {
            axis: a.int("axis", if opset < 13 { 1 } else { -1 }),
            log: node.op_type == "LogSoftmax",
        },
        other => {
            return Err(OnnxProblem(format!(
                "operator {other} is not supported (docs/onnx.md lists the supported ones)"
            )))
        }
    };
    a.finish()?;
    Ok(op)
}
