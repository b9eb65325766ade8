//! Big-endian writer and bounds-checked reader for the frozen signed byte layouts.
//!
//! Every length is explicit so that two different field lists can never serialise to the
//! same bytes (no ambiguity a forger could exploit).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("the data ends early (needed {needed} more bytes for {field})")]
    Truncated { field: &'static str, needed: usize },
    #[error("{field} is not valid UTF-8")]
    NotUtf8 { field: &'static str },
    #[error("{field} is too long ({len} bytes, at most {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} unexpected bytes after the end")]
    TrailingBytes(usize),
    #[error("{field} has an unknown value {value}")]
    UnknownTag { field: &'static str, value: u8 },
}

#[derive(Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_be_bytes());
        self
    }
    pub fn raw(&mut self, value: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(value);
        self
    }
    /// A byte string of at most 255 bytes, prefixed by its length.
    pub fn short_bytes(&mut self, field: &'static str, value: &[u8]) -> Result<&mut Self, WireError> {
        let len = u8::try_from(value.len()).map_err(|_| WireError::TooLong {
            field,
            len: value.len(),
            max: 255,
        })?;
        self.bytes.push(len);
        self.bytes.extend_from_slice(value);
        Ok(self)
    }
    pub fn short_str(&mut self, field: &'static str, value: &str) -> Result<&mut Self, WireError> {
        self.short_bytes(field, value.as_bytes())
    }
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
    pub fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < len {
            return Err(WireError::Truncated {
                field,
                needed: len - self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }
    pub fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(field)?[0])
    }
    pub fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    pub fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
    pub fn i64(&mut self, field: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }
    pub fn short_bytes(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        let len = usize::from(self.u8(field)?);
        self.take(field, len)
    }
    pub fn short_str(&mut self, field: &'static str) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.short_bytes(field)?).map_err(|_| WireError::NotUtf8 { field })
    }
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
    pub fn finish(self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes(self.rest.len()))
        }
    }
}
