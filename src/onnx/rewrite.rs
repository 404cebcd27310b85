//! Rewrites from the exported graph to the explained one: aliases removed,
//! the final softmax split off, `Clip` bounds resolved into ReLU or ReLU6,
//! the SiLU, hard-swish and GELU patterns exporters emit fused into activation sites,
//! `Gemm` weights transposed once, and unused values dropped.

use super::host::Arithmetic;
use super::op::Op;
use super::program::{Loaded, Program};
use super::tensor::{Decoded, Values};
use super::OnnxProblem;
use crate::model::Activation;

type Checked<T> = Result<T, OnnxProblem>;

/// Runs every rewrite, then checks that no op is left that only makes sense
/// inside a pattern.
pub(crate) fn rewrite(loaded: &mut Loaded) -> Checked<()> {
    let p = &mut loaded.program;
    remove_identities(p);
    split_final_softmax(p);
    resolve_clips(p)?;
    fuse_silu(p);
    fuse_gelu(p);
    remove_unused(p);
    pretranspose_gemm_weights(loaded);
    drop_unused_constants(loaded);
    for step in &loaded.program.steps {
        let refuse = |what: &str| Err(OnnxProblem(format!("{}: {what}", step.label())));
        match step.op {
            Op::Erf => {
                return refuse("Erf outside the GELU pattern x·½(1 + erf(x/√2)) is not supported")
            }
            Op::Softmax { .. } => {
                return refuse("a softmax is supported only as the graph's last node")
            }
            _ => {}
        }
    }
    Ok(())
}

/// Replaces every use of `from` by `to`.
fn rename(p: &mut Program, from: usize, to: usize) {
    for step in &mut p.steps {
        for input in step.inputs.iter_mut().flatten() {
            if *input == from {
                *input = to;
            }
        }
    }
    if p.output == from {
        p.output = to;
    }
}

fn remove_steps(p: &mut Program, mut remove: Vec<usize>) {
    remove.sort_unstable();
    remove.dedup();
    for i in remove.into_iter().rev() {
        p.steps.remove(i);
    }
}

fn remove_identities(p: &mut Program) {
    while let Some(i) = p.steps.iter().position(|s| s.op == Op::Identity) {
        let step = p.steps.remove(i);
        if let (Some(Some(from)), Some(&to)) = (step.inputs.first(), step.outputs.first()) {
            rename(p, to, *from);
        }
    }
}

fn split_final_softmax(p: &mut Program) {
    if let Some(i) = p.producer(p.output) {
        if let (Op::Softmax { .. }, Some(Some(logits))) =
            (&p.steps[i].op, p.steps[i].inputs.first())
        {
            if p.consumers(p.output).is_empty() {
                p.output = *logits;
                p.ends_in_softmax = true;
                p.steps.remove(i);
            }
        }
    }
}

/// The activation a `Clip` to `[low, high]` computes, if it is one.
pub(crate) fn clip_activation(low: Option<f64>, high: Option<f64>) -> Checked<Activation> {
    let high = high.unwrap_or(f64::INFINITY);
    if low == Some(0.0) && high == 6.0 {
        Ok(Activation::Relu6)
    } else if low == Some(0.0) && high == f64::INFINITY {
        Ok(Activation::Relu)
    } else {
        Err(OnnxProblem(format!(
            "Clip to [{}, {high}] is not supported (ReLU [0, ∞) and ReLU6 [0, 6] are)",
            low.map_or("-∞".into(), |v| v.to_string()),
        )))
    }
}

/// Turns each `Clip` with constant bounds into its activation; bounds
/// computed in the graph are resolved in the forward.
fn resolve_clips(p: &mut Program) -> Checked<()> {
    for i in 0..p.steps.len() {
        let Op::Clip { min, max } = p.steps[i].op else {
            continue;
        };
        let step = &p.steps[i];
        let bound = |k: usize, attribute: Option<f64>| -> Option<Checked<Option<f64>>> {
            match step.inputs.get(k).copied().flatten() {
                None => Some(Ok(attribute)),
                Some(slot) => p.host_constant(slot).map(|c| c.scalar().map(Some)),
            }
        };
        let (Some(low), Some(high)) = (bound(1, min), bound(2, max)) else {
            continue;
        };
        let activation = clip_activation(low?, high?)
            .map_err(|e| OnnxProblem(format!("{}: {}", step.label(), e.0)))?;
        let step = &mut p.steps[i];
        step.op = Op::Activate(activation);
        step.inputs.truncate(1);
    }
    Ok(())
}

/// The only step reading `slot`, when exactly one does and `slot` is not
/// the graph's output.
fn sole_consumer(p: &Program, slot: usize) -> Option<usize> {
    match p.consumers(slot)[..] {
        [only] if slot != p.output => Some(only),
        _ => None,
    }
}

fn fuse_silu(p: &mut Program) {
    let mut i = 0;
    while i < p.steps.len() {
        let fused = (|| {
            let step = &p.steps[i];
            if step.op != Op::Arithmetic(Arithmetic::Mul) {
                return None;
            }
            let [Some(a), Some(b)] = step.inputs[..] else {
                return None;
            };
            [(a, b), (b, a)].into_iter().find_map(|(x, gate)| {
                let s = p.producer(gate)?;
                let sigmoid = &p.steps[s];
                let fused = match sigmoid.op {
                    Op::Activate(Activation::Sigmoid) => (Activation::Silu, "SiLU (Sigmoid, Mul)"),
                    Op::Activate(Activation::HardSigmoid) => {
                        (Activation::HardSwish, "HardSwish (HardSigmoid, Mul)")
                    }
                    _ => return None,
                };
                (sigmoid.inputs[..] == [Some(x)] && sole_consumer(p, gate) == Some(i))
                    .then_some((x, s, fused))
            })
        })();
        if let Some((x, sigmoid, (activation, name))) = fused {
            let step = &mut p.steps[i];
            step.op = Op::Activate(activation);
            step.op_type = name.into();
            step.inputs = vec![Some(x)];
            remove_steps(p, vec![sigmoid]);
            i = 0;
        } else {
            i += 1;
        }
    }
}

/// The value of a one-element constant input.
fn constant(p: &Program, slot: usize) -> Option<f64> {
    p.host_constant(slot)?.scalar().ok()
}

/// For a binary step, the other input when one of them is `slot`.
fn other_input(p: &Program, step: usize, slot: usize) -> Option<usize> {
    match p.steps[step].inputs[..] {
        [Some(a), Some(b)] if a == slot => Some(b),
        [Some(a), Some(b)] if b == slot => Some(a),
        _ => None,
    }
}

fn close(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|v| (v - expected).abs() <= 1e-6 * expected.abs())
}

fn fuse_gelu(p: &mut Program) {
    let mut i = 0;
    while i < p.steps.len() {
        let fused = (|| {
            if p.steps[i].op != Op::Erf {
                return None;
            }
            let [Some(scaled)] = p.steps[i].inputs[..] else {
                return None;
            };
            let d = p.producer(scaled)?;
            let [Some(x), Some(c)] = p.steps[d].inputs[..] else {
                return None;
            };
            let scale_ok = match p.steps[d].op {
                Op::Arithmetic(Arithmetic::Div) => close(constant(p, c), std::f64::consts::SQRT_2),
                Op::Arithmetic(Arithmetic::Mul) => {
                    close(constant(p, c), std::f64::consts::FRAC_1_SQRT_2)
                }
                _ => false,
            };
            if !scale_ok || sole_consumer(p, scaled) != Some(i) {
                return None;
            }
            let erf_out = p.steps[i].outputs[0];
            let add = sole_consumer(p, erf_out)?;
            if p.steps[add].op != Op::Arithmetic(Arithmetic::Add)
                || !close(constant(p, other_input(p, add, erf_out)?), 1.0)
            {
                return None;
            }
            let first = sole_consumer(p, p.steps[add].outputs[0])?;
            let second = sole_consumer(p, p.steps[first].outputs[0])?;
            let is_mul = |s: usize| p.steps[s].op == Op::Arithmetic(Arithmetic::Mul);
            if !is_mul(first) || !is_mul(second) {
                return None;
            }
            let a = other_input(p, first, p.steps[add].outputs[0])?;
            let b = other_input(p, second, p.steps[first].outputs[0])?;
            let halves = |s: usize| close(constant(p, s), 0.5);
            ((a == x && halves(b)) || (b == x && halves(a))).then_some((
                x,
                [d, i, add, first],
                second,
            ))
        })();
        if let Some((x, removed, last)) = fused {
            let step = &mut p.steps[last];
            step.op = Op::Activate(Activation::Gelu);
            step.op_type = "GELU (Div, Erf, Add, Mul, Mul)".into();
            step.inputs = vec![Some(x)];
            remove_steps(p, removed.to_vec());
            i = 0;
        } else {
            i += 1;
        }
    }
}

fn remove_unused(p: &mut Program) {
    loop {
        let unused: Vec<usize> = (0..p.steps.len())
            .filter(|&i| {
                p.steps[i]
                    .outputs
                    .iter()
                    .all(|&o| o != p.output && p.consumers(o).is_empty())
            })
            .collect();
        if unused.is_empty() {
            return;
        }
        remove_steps(p, unused);
    }
}

/// Transposes a constant `Gemm` weight used only with `transB = 1` once at
/// load, so that each forward multiplies by `[d_in, d_out]` as `Linear` does.
fn pretranspose_gemm_weights(loaded: &mut Loaded) {
    let p = &mut loaded.program;
    for c in 0..p.constants.len() {
        let (slot, Some(parameter)) = (p.constants[c].slot, p.constants[c].parameter) else {
            continue;
        };
        let users = p.consumers(slot);
        let transposed_gemm = |s: usize| {
            matches!(p.steps[s].op, Op::Gemm { trans_b: true, .. })
                && p.steps[s].inputs.get(1) == Some(&Some(slot))
        };
        if users.is_empty()
            || !users.iter().all(|&s| transposed_gemm(s))
            || p.constants[c].shape.len() != 2
        {
            continue;
        }
        let [rows, cols] = [p.constants[c].shape[0], p.constants[c].shape[1]];
        let data = &mut loaded.parameters[parameter];
        data.values = match &data.values {
            Values::F32(v) => Values::F32(transposed(v, rows, cols)),
            Values::F64(v) => Values::F64(transposed(v, rows, cols)),
            Values::Int(v) => Values::Int(transposed(v, rows, cols)),
        };
        data.shape = vec![cols, rows];
        p.constants[c].shape = vec![cols, rows];
        p.constants[c].host = None;
        for s in users {
            if let Op::Gemm { trans_b, .. } = &mut p.steps[s].op {
                *trans_b = false;
            }
        }
    }
}

fn transposed<T: Copy>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(v.len());
    for c in 0..cols {
        for r in 0..rows {
            out.push(v[r * cols + c]);
        }
    }
    out
}

/// Drops the constants nothing reads (and their parameters).
fn drop_unused_constants(loaded: &mut Loaded) {
    let p = &mut loaded.program;
    let used: Vec<bool> = p
        .constants
        .iter()
        .map(|c| c.slot == p.output || !p.consumers(c.slot).is_empty())
        .collect();
    let mut parameters: Vec<Decoded> = Vec::new();
    let mut constants = Vec::new();
    for (c, keep) in p.constants.drain(..).zip(used) {
        if !keep {
            continue;
        }
        let mut c = c;
        if let Some(index) = c.parameter {
            parameters.push(std::mem::replace(
                &mut loaded.parameters[index],
                Decoded {
                    shape: vec![],
                    values: Values::Int(vec![]),
                },
            ));
            c.parameter = Some(parameters.len() - 1);
        }
        constants.push(c);
    }
    p.constants = constants;
    loaded.parameters = parameters;
}
