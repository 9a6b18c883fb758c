//! A zip file's first entry, read as gzip reads it (`gunzip < file.zip`): the local
//! header, its name and extra field skipped; the data, deflated or stored; the CRC-32
//! and length from the header, or from the data descriptor after the data when the
//! header's flag says so. Entries after the first are not read (the caller says so),
//! nor the central directory: like gzip, this reads a stream, stdin included.

use std::io::{BufRead, Read, Write};

use flate2::Decompress;

use super::{LegacyError, Out};
use crate::gzip::DecodeError;
use crate::gzip::input::Input;
use crate::gzip::member::inflate_member;

/// A local file header's signature, "PK\3\4".
pub(crate) const MAGIC: [u8; 4] = *b"PK\x03\x04";
const HEADER: usize = 30;
/// A data descriptor with its signature, as gzip reads it.
const DESCRIPTOR: usize = 16;
const STORED: u8 = 0;
const DEFLATED: u8 = 8;
const ENCRYPTED: u16 = 1;
const HAS_DESCRIPTOR: u16 = 8;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ZipError {
    #[error("not a valid zip file: its first header is cut short")]
    NotValid,
    #[error("first entry not deflated or stored (method {0}) -- use unzip")]
    Method(u8),
    #[error("encrypted file -- use unzip")]
    Encrypted,
    #[error("invalid compressed data--length mismatch: stored entry of {len} bytes in {size}")]
    StoredLength { len: u32, size: u32 },
    #[error("unexpected end of file: the entry ends inside its {0}")]
    Truncated(&'static str),
    #[error("invalid compressed data--crc error: stored {stored:08x}, data gives {computed:08x}")]
    Crc { stored: u32, computed: u32 },
    #[error(
        "invalid compressed data--length error: stored {stored} (mod 2^32), data gives {actual}"
    )]
    Length { stored: u32, actual: u64 },
}

/// The first entry, read and checked.
pub(crate) struct Entry {
    pub crc: u32,
    pub len: u64,
    pub stored: bool,
    /// Another entry follows.
    pub more: bool,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes the first entry of the zip file `r` starts with into `output`, and reads
/// the rest of the file (entries and directory) without decoding it.
pub(crate) fn decode<R: Read>(
    r: &mut Input<R>,
    inflater: &mut Decompress,
    buffer: &mut [u8],
    output: &mut impl Write,
) -> Result<Entry, DecodeError> {
    let fail = |e: ZipError| LegacyError::from(e).at(1);
    let mut header = [0u8; HEADER];
    if r.read_up_to(&mut header).map_err(DecodeError::Read)? < HEADER {
        return Err(fail(ZipError::NotValid));
    }
    let skip = u64::from(le16(&header, 26)) + u64::from(le16(&header, 28));
    let skipped = std::io::copy(&mut r.by_ref().take(skip), &mut std::io::sink())
        .map_err(DecodeError::Read)?;
    if skipped < skip {
        return Err(fail(ZipError::NotValid));
    }
    let (flags, method) = (le16(&header, 6), header[8]);
    if method != STORED && method != DEFLATED {
        return Err(fail(ZipError::Method(method)));
    }
    if flags & ENCRYPTED != 0 {
        return Err(fail(ZipError::Encrypted));
    }
    let (crc, len) = match method {
        DEFLATED => {
            inflater.reset(false);
            inflate_member(r, 1, inflater, buffer, output)?
        }
        _ => stored(r, &header, output)?,
    };
    check(r, &header, flags, crc, len)?;
    let more = r.peek(4).map_err(DecodeError::Read)? == MAGIC;
    std::io::copy(r, &mut std::io::sink()).map_err(DecodeError::Read)?;
    Ok(Entry {
        crc,
        len,
        stored: method == STORED,
        more,
    })
}

/// The entry's CRC-32 and length, from its header or its data descriptor, against
/// what its data gave.
fn check<R: Read>(
    r: &mut Input<R>,
    header: &[u8; HEADER],
    flags: u16,
    crc: u32,
    len: u64,
) -> Result<(), DecodeError> {
    let fail = |e: ZipError| LegacyError::from(e).at(1);
    let (stored_crc, stored_len) = match flags & HAS_DESCRIPTOR {
        0 => (le32(header, 14), le32(header, 22)),
        _ => {
            let mut d = [0u8; DESCRIPTOR];
            if r.read_up_to(&mut d).map_err(DecodeError::Read)? < DESCRIPTOR {
                return Err(fail(ZipError::Truncated("data descriptor")));
            }
            (le32(&d, 4), le32(&d, 12))
        }
    };
    if stored_crc != crc {
        return Err(fail(ZipError::Crc {
            stored: stored_crc,
            computed: crc,
        }));
    }
    if u64::from(stored_len) != len & 0xffff_ffff {
        return Err(fail(ZipError::Length {
            stored: stored_len,
            actual: len,
        }));
    }
    Ok(())
}

/// A stored entry's bytes, copied: the header's two sizes must agree, as gzip wants.
fn stored<R: Read>(
    r: &mut Input<R>,
    header: &[u8; HEADER],
    output: &mut impl Write,
) -> Result<(u32, u64), DecodeError> {
    let (len, size) = (le32(header, 22), le32(header, 18));
    if len != size {
        return Err(LegacyError::from(ZipError::StoredLength { len, size }).at(1));
    }
    let mut out = Out::new(output);
    let mut left = u64::from(len);
    while left > 0 {
        let buf = r.fill_buf().map_err(DecodeError::Read)?;
        if buf.is_empty() {
            // As gzip, what was read is written before the error.
            out.flush()?;
            return Err(LegacyError::from(ZipError::Truncated("stored data")).at(1));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        out.push(&buf[..n])?;
        r.consume(n);
        left -= n as u64;
    }
    out.finish()
}

#[cfg(test)]
#[path = "zip_tests.rs"]
mod tests;
