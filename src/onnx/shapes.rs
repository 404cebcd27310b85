//! Element-wise arithmetic and the shape ops (concatenation, reshapes,
//! transposes, slices, padding), on the host when every input is shape
//! arithmetic and on the device otherwise.

use burn::prelude::*;

use super::host::{axis, broadcast_shape, Arithmetic, HostTensor, SliceRange};
use super::interpret::Inputs;
use super::value::{Dense, Value, MAX_RANK};
use super::OnnxProblem;

type Checked<T> = Result<T, OnnxProblem>;

fn apply<B: Backend>(a: Dense<B>, b: Dense<B>, op: Arithmetic) -> Checked<Dense<B>> {
    broadcast_shape(&a.dims(), &b.dims())?;
    let rank = a.rank.max(b.rank);
    let tensor = match op {
        Arithmetic::Add => a.tensor + b.tensor,
        Arithmetic::Sub => a.tensor - b.tensor,
        Arithmetic::Mul => a.tensor * b.tensor,
        Arithmetic::Div => a.tensor / b.tensor,
    };
    Ok(Dense { tensor, rank })
}

/// `Add`, `Sub`, `Mul`, `Div` with numpy broadcasting.
pub(crate) fn arithmetic<B: Backend>(inputs: &Inputs<B>, op: Arithmetic) -> Checked<Value<B>> {
    if inputs.all_host() {
        return Ok(Value::Host(
            inputs.host(0)?.arithmetic(&inputs.host(1)?, op)?,
        ));
    }
    apply(inputs.device(0)?, inputs.device(1)?, op).map(Value::Device)
}

/// Input 0 combined with a host constant.
pub(crate) fn arithmetic_with<B: Backend>(
    inputs: &Inputs<B>,
    other: HostTensor,
    op: Arithmetic,
) -> Checked<Value<B>> {
    if inputs.all_host() {
        return Ok(Value::Host(inputs.host(0)?.arithmetic(&other, op)?));
    }
    let other = Dense::upload(&other, inputs.dtype, &inputs.device)?;
    apply(inputs.device(0)?, other, op).map(Value::Device)
}

/// `Concat` of `count` inputs along `axis`.
pub(crate) fn concat<B: Backend>(
    inputs: &Inputs<B>,
    count: usize,
    axis_: i64,
) -> Checked<Value<B>> {
    if inputs.all_host() {
        let parts = (0..count)
            .map(|k| inputs.host(k))
            .collect::<Checked<Vec<_>>>()?;
        return HostTensor::concat(&parts, axis_).map(Value::Host);
    }
    let parts = (0..count)
        .map(|k| inputs.device(k))
        .collect::<Checked<Vec<_>>>()?;
    let (rank, first) = (parts[0].rank, parts[0].dims());
    let axis = axis(axis_, rank)?;
    for p in &parts {
        let d = p.dims();
        if p.rank != rank || (0..rank).any(|a| a != axis && d[a] != first[a]) {
            return Err(OnnxProblem(format!(
                "cannot concatenate {first:?} and {d:?} along axis {axis}"
            )));
        }
    }
    let padded_axis = parts[0].axis(axis);
    let tensor = Tensor::cat(parts.into_iter().map(|p| p.tensor).collect(), padded_axis);
    Ok(Value::Device(Dense { tensor, rank }))
}

/// `Flatten` at `axis` into a matrix.
pub(crate) fn flatten<B: Backend>(inputs: &Inputs<B>, axis_: i64) -> Checked<Value<B>> {
    let x = inputs.any(0)?;
    let dims = x.dims();
    let split = if axis_ == dims.len() as i64 {
        dims.len()
    } else {
        axis(axis_, dims.len())?
    };
    x.reshaped(vec![
        dims[..split].iter().product(),
        dims[split..].iter().product(),
    ])
}

/// `Reshape` to the shape of input 1 (`0` copies a dimension unless
/// `allowzero`, `-1` is inferred).
pub(crate) fn reshape<B: Backend>(inputs: &Inputs<B>, allow_zero: bool) -> Checked<Value<B>> {
    let x = inputs.any(0)?;
    let dims = x.dims();
    let wanted = inputs.host(1)?.as_ints()?;
    let mut shape = Vec::with_capacity(wanted.len());
    let mut inferred = None;
    for (i, &d) in wanted.iter().enumerate() {
        match d {
            0 if !allow_zero => shape.push(*dims.get(i).ok_or_else(|| {
                OnnxProblem(format!("shape {wanted:?} copies axis {i} of {dims:?}"))
            })?),
            -1 if inferred.is_none() => {
                inferred = Some(i);
                shape.push(1);
            }
            d if d >= 0 => shape.push(d as usize),
            _ => {
                return Err(OnnxProblem(format!(
                    "shape {wanted:?} is not a valid reshape"
                )))
            }
        }
    }
    let total: usize = dims.iter().product();
    if let Some(i) = inferred {
        let known: usize = shape.iter().product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(OnnxProblem(format!(
                "cannot reshape {dims:?} to {wanted:?}"
            )));
        }
        shape[i] = total / known;
    }
    x.reshaped(shape)
}

/// `Transpose` by `perm` (reversed axes by default).
pub(crate) fn transpose<B: Backend>(
    inputs: &Inputs<B>,
    perm: Option<Vec<usize>>,
) -> Checked<Value<B>> {
    let x = inputs.any(0)?;
    let rank = x.dims().len();
    let perm = perm.unwrap_or_else(|| (0..rank).rev().collect());
    if perm.len() != rank {
        return Err(OnnxProblem(format!(
            "perm {perm:?} does not fit rank {rank}"
        )));
    }
    match x {
        Value::Host(h) => h.transpose(&perm).map(Value::Host),
        Value::Device(d) => {
            let lead = MAX_RANK - rank;
            let mut full = [0usize; MAX_RANK];
            for (i, slot) in full.iter_mut().enumerate() {
                *slot = if i < lead { i } else { lead + perm[i - lead] };
            }
            Ok(Value::Device(Dense {
                tensor: d.tensor.permute(full),
                rank,
            }))
        }
    }
}

/// The axes of a `Squeeze`/`Unsqueeze` (attribute, or input 1 since opset 13).
fn axes_of<B: Backend>(
    inputs: &Inputs<B>,
    attribute: Option<Vec<i64>>,
) -> Checked<Option<Vec<i64>>> {
    match attribute {
        Some(a) => Ok(Some(a)),
        None => inputs.ints(1),
    }
}

/// `Squeeze` of the given axes of length 1 (all of them by default).
pub(crate) fn squeeze<B: Backend>(inputs: &Inputs<B>, axes: Option<Vec<i64>>) -> Checked<Value<B>> {
    let x = inputs.any(0)?;
    let dims = x.dims();
    let axes: Vec<usize> = match axes_of(inputs, axes)? {
        Some(a) => a
            .into_iter()
            .map(|a| axis(a, dims.len()))
            .collect::<Checked<_>>()?,
        None => (0..dims.len()).filter(|&a| dims[a] == 1).collect(),
    };
    if let Some(&a) = axes.iter().find(|&&a| dims[a] != 1) {
        return Err(OnnxProblem(format!(
            "axis {a} of {dims:?} has length {}, not 1",
            dims[a]
        )));
    }
    x.reshaped(
        (0..dims.len())
            .filter(|a| !axes.contains(a))
            .map(|a| dims[a])
            .collect(),
    )
}

/// `Unsqueeze`: axes of length 1 inserted (axes of the output).
pub(crate) fn unsqueeze<B: Backend>(
    inputs: &Inputs<B>,
    axes: Option<Vec<i64>>,
) -> Checked<Value<B>> {
    let x = inputs.any(0)?;
    let dims = x.dims();
    let axes =
        axes_of(inputs, axes)?.ok_or_else(|| OnnxProblem("Unsqueeze without axes".into()))?;
    let rank = dims.len() + axes.len();
    let mut new: Vec<usize> = axes
        .into_iter()
        .map(|a| axis(a, rank))
        .collect::<Checked<_>>()?;
    new.sort_unstable();
    let mut rest = dims.into_iter();
    let shape = (0..rank)
        .map(|a| {
            if new.contains(&a) {
                1
            } else {
                rest.next().unwrap_or(1)
            }
        })
        .collect();
    x.reshaped(shape)
}

/// `Pad` with a constant, on the two spatial axes of a 4-D tensor.
pub(crate) fn pad<B: Backend>(
    inputs: &Inputs<B>,
    pads: Option<Vec<i64>>,
    value: f64,
) -> Checked<Dense<B>> {
    let x = inputs.device(0)?.get::<4>()?;
    let pads = match pads {
        Some(p) => p,
        None => inputs
            .ints(1)?
            .ok_or_else(|| OnnxProblem("Pad without pads".into()))?,
    };
    let value = if inputs.has(2) {
        inputs.host(2)?.scalar()?
    } else {
        value
    };
    let axes: Vec<usize> = match inputs.ints(3)? {
        Some(a) => a.into_iter().map(|a| axis(a, 4)).collect::<Checked<_>>()?,
        None => (0..4).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(OnnxProblem(format!(
            "{} pads for {} axes",
            pads.len(),
            axes.len()
        )));
    }
    let mut full = [[0i64; 2]; 4];
    for (i, &a) in axes.iter().enumerate() {
        full[a] = [pads[i], pads[i + axes.len()]];
    }
    if full[..2].iter().flatten().any(|&p| p != 0)
        || full.iter().flatten().any(|&p| !(0..=1 << 16).contains(&p))
    {
        return Err(OnnxProblem(format!(
            "pads {pads:?} are not supported (non-negative padding of the two spatial axes is)"
        )));
    }
    let at = |a: usize| [full[a][0] as usize, full[a][1] as usize];
    Ok(Dense::of(crate::ops::pad_constant(
        x,
        [at(2), at(3)],
        value,
    )))
}

/// `Slice` (inputs since opset 10, attributes before).
pub(crate) fn slice<B: Backend>(
    inputs: &Inputs<B>,
    attributes: Option<[Vec<i64>; 3]>,
) -> Checked<Value<B>> {
    let x = inputs.any(0)?;
    let dims = x.dims();
    let (starts, ends, axes, steps) = match attributes {
        Some([s, e, a]) => (s, e, Some(a), None),
        None => {
            let need = |k: usize| {
                inputs
                    .ints(k)?
                    .ok_or_else(|| OnnxProblem(format!("Slice without input {k}")))
            };
            (need(1)?, need(2)?, inputs.ints(3)?, inputs.ints(4)?)
        }
    };
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(OnnxProblem(
            "Slice's starts, ends, axes and steps differ in length".into(),
        ));
    }
    let ranges = (0..starts.len())
        .map(|i| {
            Ok(SliceRange {
                axis: axis(axes[i], dims.len())?,
                start: starts[i],
                end: ends[i],
                step: steps[i],
            })
        })
        .collect::<Checked<Vec<_>>>()?;
    match x {
        Value::Host(h) => h.slice(&ranges).map(Value::Host),
        Value::Device(d) => {
            let mut bounds: [std::ops::Range<usize>; MAX_RANK] = d.tensor.dims().map(|n| 0..n);
            for r in &ranges {
                let kept = r.indices(dims[r.axis])?;
                if r.step != 1 || kept.is_empty() {
                    return Err(OnnxProblem(
                        "slices of activations need step 1 and at least one element".into(),
                    ));
                }
                bounds[d.axis(r.axis)] = kept[0]..kept[kept.len() - 1] + 1;
            }
            Ok(Value::Device(Dense {
                tensor: d.tensor.slice(bounds),
                rank: d.rank,
            }))
        }
    }
}

/// `Shape` (axes `start..end`, clamped, negative from the end).
pub(crate) fn shape_of(dims: &[usize], start: i64, end: Option<i64>) -> HostTensor {
    let rank = dims.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let (s, e) = (clamp(start), clamp(end.unwrap_or(rank)));
    HostTensor::ints(dims[s..e.max(s)].iter().map(|&d| d as i64).collect())
}
