//! The forward pass of an ONNX graph: each step in topological order, on
//! the crate's double-differentiable ops, with every activation and
//! max-pool through the hook.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::DType;

use super::host::{Arithmetic, HostData, HostTensor};
use super::op::Op;
use super::program::{Program, Step};
use super::value::{cast_host, Dense, Value};
use super::{layers, shapes, OnnxProblem};
use crate::model::{Activation, Hook};

type Checked<T> = Result<T, OnnxProblem>;

/// The inputs of one step, resolved against the values computed so far.
pub(crate) struct Inputs<'a, B: Backend> {
    step: &'a Step,
    program: &'a Program,
    values: &'a [Option<Value<B>>],
    pub dtype: DType,
    pub device: B::Device,
}

impl<B: Backend> Inputs<'_, B> {
    /// Whether inputs 0 and 1 are two computed tensors of one shape (a
    /// residual sum, not a bias or another constant).
    pub fn sum_of_branches(&self) -> bool {
        let computed = |k: usize| {
            self.step
                .inputs
                .get(k)
                .copied()
                .flatten()
                .is_some_and(|slot| {
                    !self.program.is_constant(slot)
                        && matches!(self.values.get(slot), Some(Some(Value::Device(_))))
                })
        };
        if !(computed(0) && computed(1)) {
            return false;
        }
        match (self.device(0), self.device(1)) {
            (Ok(a), Ok(b)) => a.rank == b.rank && a.dims() == b.dims(),
            _ => false,
        }
    }

    /// Whether input `k` is given.
    pub fn has(&self, k: usize) -> bool {
        self.step.inputs.get(k).copied().flatten().is_some()
    }

    fn value(&self, k: usize) -> Checked<&Value<B>> {
        let slot = self
            .step
            .inputs
            .get(k)
            .copied()
            .flatten()
            .ok_or_else(|| OnnxProblem(format!("input {k} is missing")))?;
        self.values[slot].as_ref().ok_or_else(|| {
            OnnxProblem(format!(
                "input `{}` has no value",
                self.program.slot_names[slot]
            ))
        })
    }

    /// Input `k` on the device (a host value is uploaded).
    pub fn device(&self, k: usize) -> Checked<Dense<B>> {
        match self.value(k)? {
            Value::Device(d) => Ok(d.clone()),
            Value::Host(h) => Dense::upload(h, self.dtype, &self.device),
        }
    }

    /// Input `k` on the host: shape arithmetic, or a small constant.
    pub fn host(&self, k: usize) -> Checked<HostTensor> {
        match self.value(k)? {
            Value::Host(h) => Ok(h.clone()),
            Value::Device(_) => {
                let slot = self.step.inputs[k].expect("checked by value()");
                self.program.host_constant(slot).cloned().ok_or_else(|| {
                    OnnxProblem(format!(
                        "input `{}` must be known before the forward (a constant, or arithmetic on shapes)",
                        self.program.slot_names[slot]
                    ))
                })
            }
        }
    }

    /// Input `k` as it is: on the host or on the device.
    pub fn any(&self, k: usize) -> Checked<Value<B>> {
        self.value(k).cloned()
    }

    /// Whether every given input is a host value (so the step is shape
    /// arithmetic and runs on the host).
    pub fn all_host(&self) -> bool {
        self.step.inputs.iter().flatten().all(|&s| {
            matches!(self.values[s], Some(Value::Host(_)))
                || self.program.host_constant(s).is_some()
        })
    }

    /// The integer values of input `k`, or `None` when it is not given.
    pub fn ints(&self, k: usize) -> Checked<Option<Vec<i64>>> {
        if self.has(k) {
            self.host(k)?.as_ints().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Runs `program` on `images` with the parameters `parameters`.
///
/// # Panics
/// When a step cannot run on these inputs (shapes that do not fit), with a
/// message naming the node and op (`learnprop::onnx: node … (Op): …`); the
/// crate's entry points return that as an error.
pub(crate) fn run<B: Backend, H: Hook<B>>(
    program: &Program,
    parameters: &[Param<Tensor<B, 1>>],
    images: Tensor<B, 4>,
    hook: &mut H,
) -> Tensor<B, 2> {
    let mut values: Vec<Option<Value<B>>> = vec![None; program.slot_names.len()];
    for c in &program.constants {
        values[c.slot] = Some(match (c.parameter, &c.host) {
            (Some(p), _) => Value::Device(Dense::from_flat(parameters[p].val(), &c.shape)),
            (None, Some(h)) => Value::Host(h.clone()),
            (None, None) => unreachable!("integer constants keep their host copy"),
        });
    }
    let (dtype, device) = (images.dtype(), images.device());
    values[program.input] = Some(Value::Device(Dense::of(images)));
    let mut last_use = vec![usize::MAX; values.len()];
    for (i, step) in program.steps.iter().enumerate() {
        for &slot in step.inputs.iter().flatten() {
            last_use[slot] = i;
        }
    }
    for (i, step) in program.steps.iter().enumerate() {
        let inputs = Inputs {
            step,
            program,
            values: &values,
            dtype,
            device: device.clone(),
        };
        let outputs = execute(step, &inputs, hook)
            .unwrap_or_else(|p| panic!("learnprop::onnx: {}: {}", step.label(), p.0));
        for (&slot, value) in step.outputs.iter().zip(outputs) {
            values[slot] = Some(value);
        }
        for &slot in step.inputs.iter().flatten() {
            if last_use[slot] == i && slot != program.output {
                values[slot] = None;
            }
        }
    }
    let logits = match values[program.output].take() {
        Some(Value::Device(d)) => d.get::<2>(),
        Some(Value::Host(h)) => Err(OnnxProblem(format!(
            "the output {:?} does not depend on the images",
            h.shape
        ))),
        None => Err(OnnxProblem("the output was not computed".into())),
    };
    logits.unwrap_or_else(|p| {
        panic!(
            "learnprop::onnx: the graph's output: {} (logits [N, classes] are needed)",
            p.0
        )
    })
}

/// Applies an activation site through the hook at the value's rank.
fn activate<B: Backend, H: Hook<B>>(
    hook: &mut H,
    activation: Activation,
    x: Dense<B>,
) -> Checked<Dense<B>> {
    Ok(match x.rank {
        2 => Dense::of(hook.activate(activation, x.get::<2>()?)),
        3 => Dense::of(hook.activate(activation, x.get::<3>()?)),
        4 => Dense::of(hook.activate(activation, x.get::<4>()?)),
        5 => Dense::of(hook.activate(activation, x.get::<5>()?)),
        6 => Dense::of(hook.activate(activation, x.get::<6>()?)),
        r => {
            return Err(OnnxProblem(format!(
                "an activation of rank {r} has no batch axis"
            )))
        }
    })
}

/// A sum of two branches of the same shape through the hook.
fn add<B: Backend, H: Hook<B>>(hook: &mut H, a: Dense<B>, b: Dense<B>) -> Checked<Dense<B>> {
    Ok(match a.rank {
        2 => Dense::of(hook.add(a.get::<2>()?, b.get::<2>()?)),
        3 => Dense::of(hook.add(a.get::<3>()?, b.get::<3>()?)),
        4 => Dense::of(hook.add(a.get::<4>()?, b.get::<4>()?)),
        _ => Dense {
            tensor: a.tensor + b.tensor,
            rank: a.rank,
        },
    })
}

fn execute<B: Backend, H: Hook<B>>(
    step: &Step,
    inputs: &Inputs<B>,
    hook: &mut H,
) -> Checked<Vec<Value<B>>> {
    let device = |d: Dense<B>| Ok(vec![Value::Device(d)]);
    hook.named(&step.name);
    match &step.op {
        Op::Activate(activation) => device(activate(hook, *activation, inputs.device(0)?)?),
        Op::Conv { window, groups } => device(layers::conv(hook, inputs, window, *groups)?),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => device(layers::gemm(
            hook, inputs, *alpha, *beta, *trans_a, *trans_b,
        )?),
        Op::MatMul => device(layers::matmul(hook, inputs)?),
        Op::BatchNorm { epsilon } => device(layers::batch_norm(hook, inputs, *epsilon)?),
        Op::MaxPool { window, ceil } => {
            let (x, geometry) = layers::pool_geometry(inputs, window, *ceil)?;
            device(Dense::of(hook.max_pool(x, &geometry)))
        }
        Op::GlobalMaxPool => {
            let (x, geometry) = layers::global_pool_geometry(inputs)?;
            device(Dense::of(hook.max_pool(x, &geometry)))
        }
        Op::AveragePool {
            window,
            ceil,
            count_include_pad,
        } => device(layers::average_pool(
            hook,
            inputs,
            window,
            *ceil,
            *count_include_pad,
        )?),
        Op::GlobalAveragePool => device(Dense::of(
            hook.global_avg_pool2d(inputs.device(0)?.get::<4>()?),
        )),
        Op::ReduceMean {
            axes,
            keep_dims,
            noop_with_empty_axes,
        } => device(layers::reduce_mean(
            hook,
            inputs,
            axes.clone(),
            *keep_dims,
            *noop_with_empty_axes,
        )?),
        Op::Arithmetic(Arithmetic::Add) if inputs.sum_of_branches() => {
            device(add(hook, inputs.device(0)?, inputs.device(1)?)?)
        }
        Op::Arithmetic(op) => shapes::arithmetic(inputs, *op).map(|v| vec![v]),
        Op::Neg => shapes::arithmetic_with(
            inputs,
            HostTensor::ints(vec![-1]),
            super::host::Arithmetic::Mul,
        )
        .map(|v| vec![v]),
        Op::Concat { axis } => shapes::concat(inputs, step.inputs.len(), *axis).map(|v| vec![v]),
        Op::Flatten { axis } => shapes::flatten(inputs, *axis).map(|v| vec![v]),
        Op::Reshape { allow_zero } => shapes::reshape(inputs, *allow_zero).map(|v| vec![v]),
        Op::Transpose { perm } => shapes::transpose(inputs, perm.clone()).map(|v| vec![v]),
        Op::Squeeze { axes } => shapes::squeeze(inputs, axes.clone()).map(|v| vec![v]),
        Op::Unsqueeze { axes } => shapes::unsqueeze(inputs, axes.clone()).map(|v| vec![v]),
        Op::Pad { pads, value } => device(shapes::pad(inputs, pads.clone(), *value)?),
        Op::Slice { attributes } => shapes::slice(inputs, attributes.clone()).map(|v| vec![v]),
        Op::Shape { start, end } => Ok(vec![Value::Host(shapes::shape_of(
            &inputs.any(0)?.dims(),
            *start,
            *end,
        ))]),
        Op::Gather { axis } => {
            if !inputs.all_host() && inputs.host(0).is_err() {
                return Err(OnnxProblem(
                    "Gather on activations is not supported (only on shapes and constants)".into(),
                ));
            }
            Ok(vec![Value::Host(
                inputs.host(0)?.gather(&inputs.host(1)?, *axis)?,
            )])
        }
        Op::ConstantOfShape { value } => {
            let shape: Vec<usize> = inputs
                .host(0)?
                .as_ints()?
                .into_iter()
                .map(|d| {
                    usize::try_from(d)
                        .map_err(|_| OnnxProblem(format!("dimension {d} is negative")))
                })
                .collect::<Checked<_>>()?;
            let count = super::host::element_count(&shape)?;
            let data = match &value.data {
                HostData::Int(v) => HostData::Int(vec![v.first().copied().unwrap_or(0); count]),
                HostData::Float(v) => {
                    HostData::Float(vec![v.first().copied().unwrap_or(0.0); count])
                }
            };
            Ok(vec![Value::Host(HostTensor { shape, data })])
        }
        Op::Cast { to_float } if inputs.all_host() => {
            Ok(vec![Value::Host(cast_host(&inputs.host(0)?, *to_float))])
        }
        Op::Cast { to_float } => match inputs.any(0)? {
            Value::Host(h) => Ok(vec![Value::Host(cast_host(&h, *to_float))]),
            Value::Device(d) if *to_float => device(d),
            Value::Device(_) => Err(OnnxProblem(
                "a Cast of activations to integers is not supported".into(),
            )),
        },
        Op::Clip { min, max } => {
            let bound = |k: usize, attribute: Option<f64>| -> Checked<Option<f64>> {
                if inputs.has(k) {
                    inputs.host(k)?.scalar().map(Some)
                } else {
                    Ok(attribute)
                }
            };
            let activation = super::rewrite::clip_activation(bound(1, *min)?, bound(2, *max)?)?;
            device(activate(hook, activation, inputs.device(0)?)?)
        }
        Op::Erf | Op::Softmax { .. } | Op::Constant(_) | Op::Identity => {
            Err(OnnxProblem("left after the load-time rewrites".into()))
        }
    }
}
