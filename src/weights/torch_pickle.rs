//! The tensor layouts (shape, strides, storage offset) recorded in a PyTorch
//! pickle.
//!
//! `burn-store` 0.21 reads PyTorch files as if every tensor were contiguous:
//! it drops the strides that `torch._utils._rebuild_tensor_v2` receives.
//! Weights converted from other frameworks are often stored permuted (e.g.
//! TensorFlow's HWIO convolution kernels as PyTorch `[O, I, H, W]` views), and
//! come out scrambled. This module reads just the layouts from the pickle, so
//! the loader can put the elements in their places.

use std::collections::HashMap;
use std::io::Read;

/// The layout of one tensor in its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
}

impl Layout {
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

#[derive(Debug, Clone)]
enum Value {
    None,
    Int(i64),
    Float,
    Text(String),
    Bytes,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    Persistent,
    Tensor(Layout),
    Object,
    Mark,
}

/// Reads the layouts of every tensor of a PyTorch file (legacy or zip
/// format), keyed like `burn-store` keys them (nested dictionaries joined
/// with `.`).
pub(crate) fn read_layouts(bytes: &[u8]) -> Result<HashMap<String, Layout>, String> {
    let root = if bytes.starts_with(b"PK") {
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
        let name = archive
            .file_names()
            .find(|n| n.ends_with("data.pkl"))
            .map(str::to_string)
            .ok_or("no data.pkl in the archive")?;
        let mut pickle = Vec::new();
        archive
            .by_name(&name)
            .map_err(|e| e.to_string())?
            .read_to_end(&mut pickle)
            .map_err(|e| e.to_string())?;
        Machine::new(&pickle).run()?
    } else {
        // Legacy: magic number, protocol version, system info, then the object.
        let mut machine = Machine::new(bytes);
        for _ in 0..3 {
            machine.run()?;
        }
        machine.run()?
    };
    let mut layouts = HashMap::new();
    collect(&root, "", &mut layouts);
    Ok(layouts)
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

/// A pickle virtual machine for the opcodes PyTorch files use (protocols 2–4).
struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("truncated pickle")?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }

    fn line(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self.u8()? != b'\n' {}
        Ok(String::from_utf8_lossy(&self.bytes[start..self.pos - 1]).into_owned())
    }

    fn pop(&mut self) -> Result<Value, String> {
        self.stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let mark = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or("pickle mark missing")?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn text(&mut self, len: usize) -> Result<Value, String> {
        Ok(Value::Text(
            String::from_utf8_lossy(self.take(len)?).into_owned(),
        ))
    }

    /// Runs one pickle up to its STOP and returns its object.
    fn run(&mut self) -> Result<Value, String> {
        self.stack.clear();
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?;
                }
                0x95 => {
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b'}' => self.stack.push(Value::Dict(Vec::new())),
                b']' => self.stack.push(Value::List(Vec::new())),
                b')' => self.stack.push(Value::Tuple(Vec::new())),
                b'N' => self.stack.push(Value::None),
                0x88 | 0x89 => self.stack.push(Value::Int(i64::from(op == 0x88))),
                b'J' => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into().unwrap());
                    self.stack.push(Value::Int(v.into()));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take(2)?.try_into().unwrap());
                    self.stack.push(Value::Int(v.into()));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        self.u8()? as usize
                    } else {
                        self.u32()? as usize
                    };
                    let raw = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &b) in raw.iter().enumerate().take(8) {
                        v |= (b as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && raw[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'I' | b'L' => {
                    let line = self.line()?;
                    let v = line.trim_end_matches('L').parse::<i64>().unwrap_or(0);
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    self.take(8)?;
                    self.stack.push(Value::Float);
                }
                b'F' => {
                    self.line()?;
                    self.stack.push(Value::Float);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.take(8)?.try_into().unwrap()) as usize;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    let v = self.text(n)?;
                    self.stack.push(if op == b'U' { v } else { Value::Bytes });
                }
                b'T' | b'B' => {
                    let n = self.u32()? as usize;
                    let v = self.text(n)?;
                    self.stack.push(if op == b'T' { v } else { Value::Bytes });
                }
                b'V' | b'S' => {
                    let line = self.line()?;
                    self.stack.push(Value::Text(
                        line.trim_matches(|c| c == '\'' || c == '"').to_string(),
                    ));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Text(m), Value::Text(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err("STACK_GLOBAL without names".into()),
                    }
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memoise(i)?;
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memoise(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u32;
                    self.memoise(i)?;
                }
                b'h' | b'j' => {
                    let i = if op == b'h' {
                        self.u8()? as u32
                    } else {
                        self.u32()?
                    };
                    let v = self.memo.get(&i).cloned().ok_or("pickle memo miss")?;
                    self.stack.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err("pickle stack underflow".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items));
                }
                b'a' => {
                    let item = self.pop()?;
                    if let Some(Value::List(list)) = self.stack.last_mut() {
                        list.push(item);
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    if let Some(Value::List(list)) = self.stack.last_mut() {
                        list.extend(items);
                    }
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let mut pairs = Vec::new();
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    self.stack.push(Value::Dict(pairs));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'Q' => {
                    self.pop()?;
                    self.stack.push(Value::Persistent);
                }
                b'P' => {
                    self.line()?;
                    self.stack.push(Value::Persistent);
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = reduce(callable, args);
                    self.stack.push(v);
                }
                b'b' => {
                    self.pop()?;
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.stack.last().cloned().ok_or("pickle stack underflow")?;
                    self.stack.push(v);
                }
                other => {
                    return Err(format!(
                        "unsupported pickle opcode 0x{other:02x} at byte {}",
                        self.pos - 1
                    ))
                }
            }
        }
    }

    fn memoise(&mut self, index: u32) -> Result<(), String> {
        let v = self.stack.last().cloned().ok_or("pickle stack underflow")?;
        self.memo.insert(index, v);
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), String> {
        let target = self.stack.last_mut().ok_or("pickle stack underflow")?;
        if matches!(target, Value::Object) {
            *target = Value::Dict(Vec::new());
        }
        if let Value::Dict(pairs) = target {
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
        }
        Ok(())
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
                    Value::Tensor(Layout { shape, strides })
                }
                _ => Value::Object,
            }
        }
        ("torch._utils", "_rebuild_parameter", Value::Tuple(a)) if !a.is_empty() => a[0].clone(),
        ("collections", "OrderedDict", _) => Value::Dict(Vec::new()),
        _ => Value::Object,
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
        };
        assert!(!layout.is_contiguous());
        assert_eq!(layout.gather_order().unwrap(), vec![0, 2, 4, 1, 3, 5]);
        let contiguous = Layout {
            shape: vec![2, 3],
            strides: vec![3, 1],
        };
        assert!(contiguous.is_contiguous());
        assert_eq!(contiguous.gather_order().unwrap(), vec![0, 1, 2, 3, 4, 5]);
        let overlapping = Layout {
            shape: vec![2, 3],
            strides: vec![0, 1],
        };
        assert!(overlapping.gather_order().is_err());
    }
}
