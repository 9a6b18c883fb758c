//! The formats gzip -d reads besides its own, read as gzip 1.12 reads them: compress's
//! LZW ([`lzw`], .Z), pack's Huffman code ([`pack`], .z), and the first entry of a zip
//! file ([`zip`], deflated or stored). Each module decodes one member from the bytes
//! after its magic, in fixed memory whatever the input holds, and says what is wrong in
//! gzip's words. The stream decoder (`gzip::decoder`) tells them apart by their first
//! bytes and joins them with gzip members.
//!
//! The decoders are written here, not taken from crates: weezl, the well-kept LZW
//! crate (GIF, TIFF), stops at 12-bit codes and knows nothing of compress's groups of
//! codes (see `lzw`); no crate reads pack; the zip crates read a whole archive from
//! its central directory, which needs a seekable file, while gzip reads the first
//! entry as a stream (stdin included) and inflates it with the zlib we already use.

pub(crate) mod lzw;
pub(crate) mod pack;
pub(crate) mod zip;

use std::io::{BufRead, Write};

use crate::gzip::DecodeError;

/// What is wrong with a member in one of these formats.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LegacyError {
    #[error(transparent)]
    Lzw(#[from] lzw::LzwError),
    #[error(transparent)]
    Pack(#[from] pack::PackError),
    #[error(transparent)]
    Zip(#[from] zip::ZipError),
}

impl LegacyError {
    /// Where: the format, and the member when it follows others.
    pub fn what(&self, member: u64) -> String {
        let format = match self {
            LegacyError::Lzw(_) => "compress (.Z) data",
            LegacyError::Pack(_) => "pack (.z) data",
            LegacyError::Zip(_) => "zip file",
        };
        match member {
            1 => format.to_string(),
            n => format!("{format} in member {n}"),
        }
    }

    /// As the stream decoder carries it.
    pub fn at(self, member: u64) -> DecodeError {
        DecodeError::Legacy {
            member,
            source: self,
        }
    }
}

/// Output through a fixed buffer, with its CRC-32 and length: the decoders here make
/// a few bytes at a time.
pub(crate) struct Out<'a, W: ?Sized> {
    inner: &'a mut W,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

const OUT_BUFFER: usize = 64 << 10;

impl<'a, W: Write + ?Sized> Out<'a, W> {
    pub fn new(inner: &'a mut W) -> Self {
        Out {
            inner,
            buf: Vec::with_capacity(OUT_BUFFER),
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        if self.buf.len() + bytes.len() > OUT_BUFFER {
            self.flush()?;
        }
        if bytes.len() > OUT_BUFFER {
            self.crc.update(bytes);
            self.len += bytes.len() as u64;
            return self.inner.write_all(bytes).map_err(DecodeError::Write);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    pub fn byte(&mut self, b: u8) -> Result<(), DecodeError> {
        if self.buf.len() == OUT_BUFFER {
            self.flush()?;
        }
        self.buf.push(b);
        Ok(())
    }

    /// Bytes output so far.
    pub fn len(&self) -> u64 {
        self.len + self.buf.len() as u64
    }

    /// Writes what is held.
    pub fn flush(&mut self) -> Result<(), DecodeError> {
        self.crc.update(&self.buf);
        self.len += self.buf.len() as u64;
        let written = self.inner.write_all(&self.buf);
        self.buf.clear();
        written.map_err(DecodeError::Write)
    }

    /// Writes what is held: the CRC-32 and length of everything output.
    pub fn finish(mut self) -> Result<(u32, u64), DecodeError> {
        self.flush()?;
        Ok((self.crc.clone().finalize(), self.len))
    }
}

/// The rest of the input copied unchanged (gzip's `-cdf` on data it does not read):
/// how many bytes.
pub(crate) fn copy<W: Write + ?Sized>(
    r: &mut impl BufRead,
    out: &mut Out<'_, W>,
) -> Result<u64, DecodeError> {
    let mut n = 0u64;
    loop {
        let buf = r.fill_buf().map_err(DecodeError::Read)?;
        if buf.is_empty() {
            return Ok(n);
        }
        let len = buf.len();
        out.push(buf)?;
        r.consume(len);
        n += len as u64;
    }
}

/// The next byte of a member, or `truncated` at the end of the input.
fn byte<E: Into<LegacyError>>(
    r: &mut impl BufRead,
    member: u64,
    truncated: impl FnOnce() -> E,
) -> Result<u8, DecodeError> {
    let buf = r.fill_buf().map_err(DecodeError::Read)?;
    let Some(&b) = buf.first() else {
        return Err(truncated().into().at(member));
    };
    r.consume(1);
    Ok(b)
}
