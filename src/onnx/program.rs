//! An ONNX graph as the interpreter runs it: numbered value slots, steps in
//! topological order, and the constants (initialisers and `Constant` nodes).

use std::collections::HashMap;

use onnx_ir::ModelProto;

use super::host::HostTensor;
use super::op::{parse, Attribute, Node, Op};
use super::tensor::{decode_tensor, Decoded};
use super::OnnxProblem;

type Checked<T> = Result<T, OnnxProblem>;

/// Constants of at most this many elements keep a host copy, for inputs
/// that must be known before the forward (shapes, axes, pads, clip bounds).
const HOST_COPY_ELEMENTS: usize = 4096;

/// One node, its inputs and outputs as slots (`None`: an omitted optional
/// input).
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub name: String,
    pub op_type: String,
    pub op: Op,
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<usize>,
}

impl Step {
    /// `node `name` (Op)`, for messages.
    pub fn label(&self) -> String {
        format!("node `{}` ({})", self.name, self.op_type)
    }
}

/// A constant value: a parameter of the model when it is floating point,
/// and a host copy where it is small.
#[derive(Debug, Clone)]
pub(crate) struct Constant {
    pub slot: usize,
    /// Index into the model's parameters (floating-point constants).
    pub parameter: Option<usize>,
    pub shape: Vec<usize>,
    pub host: Option<HostTensor>,
}

/// The interpreted graph.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub steps: Vec<Step>,
    pub slot_names: Vec<String>,
    pub constants: Vec<Constant>,
    pub input: usize,
    pub output: usize,
    pub input_channels: usize,
    pub input_size: Option<[usize; 2]>,
    pub opset: i64,
    /// Whether a final (log-)softmax was removed, so that the logits before
    /// it are what is explained.
    pub ends_in_softmax: bool,
}

/// What the loader hands on: the program and the floating-point constants'
/// values, in parameter order.
pub(crate) struct Loaded {
    pub program: Program,
    pub parameters: Vec<Decoded>,
}

impl Program {
    /// Reads a decoded model into a program (before the rewrites).
    pub fn from_model(model: &ModelProto) -> Checked<Loaded> {
        let opset = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            .ok_or_else(|| {
                OnnxProblem("the model imports no opset of the default ONNX domain".into())
            })?;
        let graph = model
            .graph
            .as_ref()
            .ok_or_else(|| OnnxProblem("the model has no graph".into()))?;
        let mut slots: HashMap<String, usize> = HashMap::new();
        let mut slot_names = Vec::new();
        let define = |name: &str,
                      slots: &mut HashMap<String, usize>,
                      names: &mut Vec<String>|
         -> Checked<usize> {
            if slots.contains_key(name) {
                return Err(OnnxProblem(format!("value `{name}` is defined twice")));
            }
            slots.insert(name.to_string(), names.len());
            names.push(name.to_string());
            Ok(names.len() - 1)
        };
        let mut constants = Vec::new();
        let mut parameters = Vec::new();
        let add_constant = |slot: usize,
                            decoded: Decoded,
                            constants: &mut Vec<Constant>,
                            parameters: &mut Vec<Decoded>|
         -> Checked<()> {
            let host = if decoded.len() <= HOST_COPY_ELEMENTS {
                Some(decoded.clone().into_host()?)
            } else {
                None
            };
            let shape = decoded.shape.clone();
            let parameter = if decoded.is_float() {
                // Moved, not copied: initialisers can be hundreds of MB.
                parameters.push(decoded);
                Some(parameters.len() - 1)
            } else if host.is_none() {
                return Err(OnnxProblem(format!(
                    "an integer constant of {} elements is not supported",
                    decoded.len()
                )));
            } else {
                None
            };
            constants.push(Constant {
                slot,
                parameter,
                shape,
                host,
            });
            Ok(())
        };
        for init in &graph.initializer {
            let slot = define(&init.name, &mut slots, &mut slot_names)?;
            add_constant(slot, decode_tensor(init)?, &mut constants, &mut parameters)?;
        }
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !slots.contains_key(&i.name))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(OnnxProblem(format!(
                "the graph has {} inputs besides its initialisers; an image classifier has one",
                inputs.len()
            )));
        };
        let (channels, size) = image_input(input)?;
        let input_slot = define(&input.name, &mut slots, &mut slot_names)?;
        let mut steps = Vec::with_capacity(graph.node.len());
        for (index, node) in graph.node.iter().enumerate() {
            let node = Node {
                name: node.name.clone(),
                op_type: node.op_type.clone(),
                domain: node.domain.clone(),
                input: node.input.clone(),
                output: node.output.clone(),
                attribute: node
                    .attribute
                    .iter()
                    .map(|a| Attribute {
                        name: a.name.clone(),
                        i: a.i,
                        f: a.f,
                        s: a.s.to_vec(),
                        t: a.t.as_ref().cloned(),
                        ints: a.ints.clone(),
                        floats: a.floats.clone(),
                    })
                    .collect(),
            };
            let node = &node;
            let name = if node.name.is_empty() {
                format!("#{index}")
            } else {
                node.name.clone()
            };
            let label = format!("node `{name}` ({})", node.op_type);
            let located = |p: OnnxProblem| OnnxProblem(format!("{label}: {}", p.0));
            if !(node.domain.is_empty() || node.domain == "ai.onnx") {
                return Err(located(OnnxProblem(format!(
                    "operators of domain `{}` are not supported",
                    node.domain
                ))));
            }
            let op = parse(node, opset).map_err(located)?;
            let inputs = node
                .input
                .iter()
                .map(|i| {
                    if i.is_empty() {
                        Ok(None)
                    } else {
                        slots.get(i).copied().map(Some).ok_or_else(|| {
                            located(OnnxProblem(format!("input `{i}` is not defined before the node (the graph is not in topological order, or refers to a missing value)")))
                        })
                    }
                })
                .collect::<Checked<Vec<_>>>()?;
            if node.output.iter().all(|o| o.is_empty()) {
                return Err(located(OnnxProblem("the node has no output".into())));
            }
            let mut outputs = Vec::new();
            for o in node.output.iter().filter(|o| !o.is_empty()) {
                outputs.push(define(o, &mut slots, &mut slot_names).map_err(located)?);
            }
            if let Op::Constant(value) = op {
                let [slot] = outputs[..] else {
                    return Err(located(OnnxProblem("a Constant has one output".into())));
                };
                let decoded = value.into_decoded();
                add_constant(slot, decoded, &mut constants, &mut parameters).map_err(located)?;
                continue;
            }
            steps.push(Step {
                name,
                op_type: node.op_type.clone(),
                op,
                inputs,
                outputs,
            });
        }
        let [output] = graph.output.as_slice() else {
            return Err(OnnxProblem(format!(
                "the graph has {} outputs; an image classifier has one (the logits)",
                graph.output.len()
            )));
        };
        let output = *slots.get(&output.name).ok_or_else(|| {
            OnnxProblem(format!(
                "the graph's output `{}` is not computed by any node",
                output.name
            ))
        })?;
        Ok(Loaded {
            program: Program {
                steps,
                slot_names,
                constants,
                input: input_slot,
                output,
                input_channels: channels,
                input_size: size,
                opset,
                ends_in_softmax: false,
            },
            parameters,
        })
    }

    /// The step that computes `slot`, if any.
    pub fn producer(&self, slot: usize) -> Option<usize> {
        self.steps.iter().position(|s| s.outputs.contains(&slot))
    }

    /// Indices of the steps that read `slot`.
    pub fn consumers(&self, slot: usize) -> Vec<usize> {
        (0..self.steps.len())
            .filter(|&i| self.steps[i].inputs.contains(&Some(slot)))
            .collect()
    }

    /// Whether `slot` holds a constant (an initialiser or a folded value).
    pub fn is_constant(&self, slot: usize) -> bool {
        self.constants
            .binary_search_by_key(&slot, |c| c.slot)
            .is_ok()
    }

    /// The host copy of a constant slot.
    pub fn host_constant(&self, slot: usize) -> Option<&HostTensor> {
        // Constants are recorded as their slots are defined, in slot order.
        let at = self
            .constants
            .binary_search_by_key(&slot, |c| c.slot)
            .ok()?;
        self.constants[at].host.as_ref()
    }
}

/// Channels and (where fixed) size of a 4-D float image input.
fn image_input(input: &onnx_ir::ValueInfoProto) -> Checked<(usize, Option<[usize; 2]>)> {
    let refuse = |what: String| {
        OnnxProblem(format!(
            "the graph's input `{}` {what}; an image batch [N, C, H, W] of floats is needed",
            input.name
        ))
    };
    let Some(t) = input
        .type_
        .as_ref()
        .filter(|t| t.has_tensor_type())
        .map(|t| t.tensor_type())
    else {
        return Err(refuse("is not a tensor".into()));
    };
    if !matches!(t.elem_type, 1 | 10 | 11 | 16) {
        return Err(refuse(format!("has element type {}", t.elem_type)));
    }
    let dims: Vec<Option<usize>> = t
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| (d.has_dim_value() && d.dim_value() > 0).then(|| d.dim_value() as usize))
                .collect()
        })
        .ok_or_else(|| refuse("has no shape".into()))?;
    let [_, c, h, w] = dims[..] else {
        return Err(refuse(format!("has rank {}", dims.len())));
    };
    let channels = c.ok_or_else(|| refuse("has no fixed channel count".into()))?;
    if matches!(w, Some(1 | 3 | 4)) && channels > 4 {
        return Err(OnnxProblem(format!(
            "the graph's input `{}` {dims:?} looks channels-last [N, H, W, C]; [N, C, H, W] is needed (tf2onnx: --inputs-as-nchw)",
            input.name
        )));
    }
    Ok((channels, h.zip(w).map(|(h, w)| [h, w])))
}
