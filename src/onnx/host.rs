//! Small tensors held on the host: the integer shape arithmetic exporters
//! emit (`Shape → Gather → Concat → Reshape`, padding computed by
//! `ConstantOfShape`, `Slice`, `Transpose`), evaluated as it is met.

use super::OnnxProblem;

/// The largest host tensor an op may produce (shape arithmetic is tiny; a
/// `ConstantOfShape` asking for more is refused rather than allocated).
pub(crate) const MAX_HOST_ELEMENTS: usize = 1 << 20;

/// Values of a host tensor: integers stay exact (`Slice` ends of `i64::MAX`
/// are common), floats are kept in f64.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HostData {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

/// A host tensor: row-major values with their shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostTensor {
    pub shape: Vec<usize>,
    pub data: HostData,
}

type Checked<T> = Result<T, OnnxProblem>;

fn problem<T>(message: impl Into<String>) -> Checked<T> {
    Err(OnnxProblem(message.into()))
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for axis in (0..shape.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * shape[axis + 1];
    }
    strides
}

/// The element count of `shape`, refused past [`MAX_HOST_ELEMENTS`].
pub(crate) fn element_count(shape: &[usize]) -> Checked<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_HOST_ELEMENTS)
        .ok_or_else(|| {
            OnnxProblem(format!(
                "a constant of shape {shape:?} is larger than {MAX_HOST_ELEMENTS} elements"
            ))
        })
}

/// An axis in `-rank..rank`, made non-negative.
pub(crate) fn axis(axis: i64, rank: usize) -> Checked<usize> {
    let resolved = if axis < 0 { axis + rank as i64 } else { axis };
    if (0..rank as i64).contains(&resolved) {
        Ok(resolved as usize)
    } else {
        problem(format!("axis {axis} is out of range for rank {rank}"))
    }
}

impl HostTensor {
    /// A 1-D integer tensor.
    pub fn ints(values: Vec<i64>) -> Self {
        Self {
            shape: vec![values.len()],
            data: HostData::Int(values),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            HostData::Int(v) => v.len(),
            HostData::Float(v) => v.len(),
        }
    }

    /// The values as integers (floats must be integral).
    pub fn as_ints(&self) -> Checked<Vec<i64>> {
        match &self.data {
            HostData::Int(v) => Ok(v.clone()),
            HostData::Float(v) => v
                .iter()
                .map(|&x| {
                    if x.fract() == 0.0 && x.abs() < 9.0e15 {
                        Ok(x as i64)
                    } else {
                        problem(format!("{x} is not an integer"))
                    }
                })
                .collect(),
        }
    }

    /// The values as f64.
    pub fn as_floats(&self) -> Vec<f64> {
        match &self.data {
            HostData::Int(v) => v.iter().map(|&x| x as f64).collect(),
            HostData::Float(v) => v.clone(),
        }
    }

    /// The single value of a one-element tensor.
    pub fn scalar(&self) -> Checked<f64> {
        match self.as_floats().as_slice() {
            [x] => Ok(*x),
            other => problem(format!(
                "expected one value, found {} (shape {:?})",
                other.len(),
                self.shape
            )),
        }
    }

    /// Keeps the elements at the flat `indices`, with the new `shape`.
    fn select(&self, indices: &[usize], shape: Vec<usize>) -> Self {
        let data = match &self.data {
            HostData::Int(v) => HostData::Int(indices.iter().map(|&i| v[i]).collect()),
            HostData::Float(v) => HostData::Float(indices.iter().map(|&i| v[i]).collect()),
        };
        Self { shape, data }
    }

    /// Same values, another shape of the same element count.
    pub fn reshaped(&self, shape: Vec<usize>) -> Checked<Self> {
        if element_count(&shape)? != self.len() {
            return problem(format!(
                "cannot reshape {:?} ({} values) to {shape:?}",
                self.shape,
                self.len()
            ));
        }
        Ok(Self {
            shape,
            data: self.data.clone(),
        })
    }

    /// `Gather` along `axis` with integer `indices` (negative counts from the end).
    pub fn gather(&self, indices: &HostTensor, axis_: i64) -> Checked<Self> {
        let axis = axis(axis_, self.shape.len())?;
        let extent = self.shape[axis] as i64;
        let picks = indices
            .as_ints()?
            .into_iter()
            .map(|i| {
                let resolved = if i < 0 { i + extent } else { i };
                if (0..extent).contains(&resolved) {
                    Ok(resolved as usize)
                } else {
                    problem(format!("index {i} is out of range for extent {extent}"))
                }
            })
            .collect::<Checked<Vec<_>>>()?;
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let mut flat = Vec::with_capacity(outer * picks.len() * inner);
        for o in 0..outer {
            for &p in &picks {
                for i in 0..inner {
                    flat.push((o * self.shape[axis] + p) * inner + i);
                }
            }
        }
        let mut shape = self.shape[..axis].to_vec();
        shape.extend(&indices.shape);
        shape.extend(&self.shape[axis + 1..]);
        Ok(self.select(&flat, shape))
    }

    /// `Concat` of host tensors along `axis`.
    pub fn concat(parts: &[HostTensor], axis_: i64) -> Checked<Self> {
        let first = parts
            .first()
            .ok_or_else(|| OnnxProblem("nothing to concatenate".into()))?;
        let rank = first.shape.len();
        let axis = axis(axis_, rank)?;
        for p in parts {
            let same = p.shape.len() == rank
                && (0..rank).all(|a| a == axis || p.shape[a] == first.shape[a]);
            if !same {
                return problem(format!(
                    "cannot concatenate shapes {:?} and {:?} along axis {axis}",
                    first.shape, p.shape
                ));
            }
        }
        let outer: usize = first.shape[..axis].iter().product();
        let float = parts.iter().any(|p| matches!(p.data, HostData::Float(_)));
        let mut ints = Vec::new();
        let mut floats = Vec::new();
        for o in 0..outer {
            for p in parts {
                let block: usize = p.shape[axis..].iter().product();
                let range = o * block..(o + 1) * block;
                if float {
                    floats.extend_from_slice(&p.as_floats()[range]);
                } else {
                    ints.extend_from_slice(&p.as_ints()?[range]);
                }
            }
        }
        let mut shape = first.shape.clone();
        shape[axis] = parts.iter().map(|p| p.shape[axis]).sum();
        let data = if float {
            HostData::Float(floats)
        } else {
            HostData::Int(ints)
        };
        Ok(Self { shape, data })
    }

    /// The tensor of `shape` whose element at each index is this tensor's
    /// element at the flat offset `source(index)`.
    fn remap(&self, shape: Vec<usize>, source: impl Fn(&[usize]) -> usize) -> Self {
        let count: usize = shape.iter().product();
        let mut flat = Vec::with_capacity(count);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..count {
            flat.push(source(&index));
            for a in (0..shape.len()).rev() {
                index[a] += 1;
                if index[a] < shape[a] {
                    break;
                }
                index[a] = 0;
            }
        }
        self.select(&flat, shape)
    }

    /// `Transpose` by `perm`.
    pub fn transpose(&self, perm: &[usize]) -> Checked<Self> {
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let from = strides(&self.shape);
        Ok(self.remap(shape, |index| {
            index.iter().zip(perm).map(|(&i, &p)| i * from[p]).sum()
        }))
    }

    /// `Slice` with ONNX's clamping rules (negative steps included).
    pub fn slice(&self, ranges: &[SliceRange]) -> Checked<Self> {
        let mut kept: Vec<Vec<usize>> = self.shape.iter().map(|&d| (0..d).collect()).collect();
        for r in ranges {
            kept[r.axis] = r.indices(self.shape[r.axis])?;
        }
        let shape: Vec<usize> = kept.iter().map(Vec::len).collect();
        let from = strides(&self.shape);
        Ok(self.remap(shape, |index| {
            (0..index.len()).map(|a| kept[a][index[a]] * from[a]).sum()
        }))
    }

    /// Element-wise arithmetic with numpy broadcasting.
    pub fn arithmetic(&self, other: &HostTensor, op: Arithmetic) -> Checked<Self> {
        let shape = broadcast_shape(&self.shape, &other.shape)?;
        let count = element_count(&shape)?;
        let index_in = |t: &HostTensor, flat: usize| {
            let offset = shape.len() - t.shape.len();
            let from = strides(&t.shape);
            let to = strides(&shape);
            (0..t.shape.len())
                .map(|a| {
                    let i = (flat / to[a + offset]) % shape[a + offset];
                    if t.shape[a] == 1 {
                        0
                    } else {
                        i * from[a]
                    }
                })
                .sum::<usize>()
        };
        let data = match (&self.data, &other.data) {
            (HostData::Int(a), HostData::Int(b)) => HostData::Int(
                (0..count)
                    .map(|i| op.ints(a[index_in(self, i)], b[index_in(other, i)]))
                    .collect::<Checked<_>>()?,
            ),
            _ => {
                let (a, b) = (self.as_floats(), other.as_floats());
                HostData::Float(
                    (0..count)
                        .map(|i| op.floats(a[index_in(self, i)], b[index_in(other, i)]))
                        .collect(),
                )
            }
        };
        Ok(Self { shape, data })
    }
}

/// The broadcast shape of two shapes (numpy rules).
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Checked<Vec<usize>> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() >= rank {
            s[i + s.len() - rank]
        } else {
            1
        }
    };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => problem(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// The four element-wise arithmetic ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arithmetic {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arithmetic {
    fn ints(self, a: i64, b: i64) -> Checked<i64> {
        let value = match self {
            Arithmetic::Add => a.checked_add(b),
            Arithmetic::Sub => a.checked_sub(b),
            Arithmetic::Mul => a.checked_mul(b),
            // ONNX integer division truncates toward zero, as Rust's does.
            Arithmetic::Div => a.checked_div(b),
        };
        value.ok_or_else(|| OnnxProblem(format!("integer {self:?} of {a} and {b} overflows")))
    }

    fn floats(self, a: f64, b: f64) -> f64 {
        match self {
            Arithmetic::Add => a + b,
            Arithmetic::Sub => a - b,
            Arithmetic::Mul => a * b,
            Arithmetic::Div => a / b,
        }
    }
}

/// One axis of a `Slice`: `starts`, `ends` and `steps` as in ONNX.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SliceRange {
    pub axis: usize,
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl SliceRange {
    /// The kept indices of an axis of length `extent`.
    pub fn indices(&self, extent: usize) -> Checked<Vec<usize>> {
        let n = extent as i64;
        let resolve = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
        let (start, end, step) = (resolve(self.start), resolve(self.end), self.step);
        if step == 0 {
            return problem("a slice step is 0");
        }
        let mut out = Vec::new();
        if step > 0 {
            let (mut i, end) = (start.clamp(0, n), end.clamp(0, n));
            while i < end {
                out.push(i as usize);
                i += step;
            }
        } else {
            let (mut i, end) = (start.clamp(-1, n - 1), end.clamp(-1, n - 1));
            while i > end {
                out.push(i as usize);
                i += step;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: Vec<usize>, v: Vec<i64>) -> HostTensor {
        HostTensor {
            shape,
            data: HostData::Int(v),
        }
    }

    #[test]
    fn gather_transpose_slice_follow_numpy() {
        let a = t(vec![2, 3], vec![0, 1, 2, 3, 4, 5]);
        let g = a.gather(&HostTensor::ints(vec![-1, 0]), 1).unwrap();
        assert_eq!(g, t(vec![2, 2], vec![2, 0, 5, 3]));
        assert_eq!(
            a.transpose(&[1, 0]).unwrap(),
            t(vec![3, 2], vec![0, 3, 1, 4, 2, 5])
        );
        let reversed = SliceRange {
            axis: 0,
            start: -1,
            end: -i64::MAX,
            step: -1,
        };
        assert_eq!(
            a.slice(&[reversed]).unwrap(),
            t(vec![2, 3], vec![3, 4, 5, 0, 1, 2])
        );
        let tail = SliceRange {
            axis: 1,
            start: 1,
            end: i64::MAX,
            step: 1,
        };
        assert_eq!(a.slice(&[tail]).unwrap(), t(vec![2, 2], vec![1, 2, 4, 5]));
    }

    #[test]
    fn concat_and_broadcasting_arithmetic() {
        let a = HostTensor::ints(vec![1, 2]);
        let b = HostTensor::ints(vec![3]);
        assert_eq!(
            HostTensor::concat(&[a.clone(), b.clone()], 0).unwrap(),
            HostTensor::ints(vec![1, 2, 3])
        );
        assert_eq!(
            a.arithmetic(&b, Arithmetic::Mul).unwrap(),
            HostTensor::ints(vec![3, 6])
        );
        assert!(HostTensor::ints(vec![i64::MAX])
            .arithmetic(&b, Arithmetic::Add)
            .is_err());
        assert!(HostTensor::ints(vec![1, 2, 3])
            .arithmetic(&a, Arithmetic::Add)
            .is_err());
    }
}
