//! The IDX format of MNIST-style datasets, raw or gzip-compressed.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// An unsigned-byte IDX array: its dimensions and its values in row-major
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` values.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes; files starting with the gzip magic
/// (`1f 8b`) are decompressed first.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::Dataset`] if it is not
/// a well-formed unsigned-byte IDX file (see [`parse_idx`]).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::Dataset {
                path: path.to_path_buf(),
                message: format!("corrupt gzip stream: {e}"),
            })?;
        out
    } else {
        bytes
    };
    parse_idx(&bytes).map_err(|message| Error::Dataset {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses the bytes of an unsigned-byte IDX file: two zero bytes, the type
/// code `0x08`, the number of dimensions, each dimension as a big-endian
/// `u32`, then the values.
///
/// # Errors
/// A message naming what is wrong: a bad magic number, another element type,
/// a truncated header or body, or trailing bytes.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "truncated header: {} bytes, need at least 4",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "bad magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with 00 00",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
            bytes[2]
        ));
    }
    let rank = bytes[3] as usize;
    if rank == 0 {
        return Err("zero dimensions".into());
    }
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(format!(
            "truncated header: {} bytes, {rank} dimensions need {header}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("dimensions {dims:?} overflow"))?;
    let body = &bytes[header..];
    if body.len() < count {
        return Err(format!(
            "truncated data: dimensions {dims:?} need {count} bytes, the file has {}",
            body.len()
        ));
    }
    if body.len() > count {
        return Err(format!(
            "{} unexpected bytes after the {count} values of dimensions {dims:?}",
            body.len() - count
        ));
    }
    Ok(IdxArray {
        dims,
        data: body.to_vec(),
    })
}
