//! A pickle virtual machine for the opcodes PyTorch files use (protocols
//! 2–4): it builds plain values and leaves the meaning of `REDUCE` calls to
//! the caller.

use std::collections::HashMap;

use super::torch_pickle::Layout;

/// A pickled value, as far as PyTorch's loader needs it.
#[derive(Debug, Clone)]
pub(super) enum Value {
    None,
    Int(i64),
    Float,
    Text(String),
    Bytes,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    /// A persistent id (PyTorch's storage references).
    Persistent(Box<Value>),
    /// A tensor rebuilt by `torch._utils._rebuild_tensor_v2`.
    Tensor(Layout),
    Object,
    Mark,
}

/// The value of `callable(*args)` for a `REDUCE` opcode.
pub(super) type Reduce = fn(Value, Value) -> Value;

/// A pickle virtual machine for the opcodes PyTorch files use (protocols 2–4).
pub(super) struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    reduce: Reduce,
}

impl<'a> Machine<'a> {
    /// A machine reading `bytes` from the start.
    pub fn new(bytes: &'a [u8], reduce: Reduce) -> Self {
        Self {
            bytes,
            pos: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
            reduce,
        }
    }

    /// The position after the last pickle run.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes, or an error if the input ends first.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
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
    pub fn run(&mut self) -> Result<Value, String> {
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
                    let id = self.pop()?;
                    self.stack.push(Value::Persistent(Box::new(id)));
                }
                b'P' => {
                    let id = Value::Text(self.line()?);
                    self.stack.push(Value::Persistent(Box::new(id)));
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = (self.reduce)(callable, args);
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
