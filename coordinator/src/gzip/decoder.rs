//! Reads gzip streams completely and trusts nothing in them: each member's header is
//! parsed with its optional fields skipped, never held; its data is inflated through
//! fixed buffers, so a decompression bomb costs time, never memory; its CRC-32 and
//! ISIZE are checked. After the last member, zero padding is accepted silently as gzip
//! accepts it, and any other bytes are reported as trailing garbage rather than dropped.
//! Errors say what is wrong and where, in the words gzip users know.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::header::{Field, HeaderError, MAGIC, read_header};
use super::trailer::StreamCrc;
use crate::error::io_message;

const BUFFER: usize = 256 << 10;

/// What a whole stream held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub members: u64,
    /// Bytes of gzip data read (without the trailing bytes).
    pub compressed: u64,
    pub uncompressed: u64,
    /// CRC-32 of all the uncompressed data, every member's joined.
    pub crc: u32,
    /// The first member's modification time (0: none stored).
    pub mtime: u32,
    /// The first member's header length in bytes (gzip's -l ratio leaves it out).
    pub first_header: u64,
    /// Zero bytes after the last member and nothing else: padding (tape blocks, some
    /// tools' output), which gzip ignores without a word.
    pub trailing_zeros: u64,
    /// Bytes after the last member that are neither gzip nor only zeros.
    pub trailing_garbage: u64,
    /// Spans inflated in parallel with an index (0: decoded from the start, alone).
    pub indexed_spans: u64,
    /// Of those, spans inflated whole by libdeflate (the rest streamed by zlib-rs).
    pub whole_spans: u64,
}

/// Where in a member the input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Header(Field),
    Data,
    Trailer,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Header(field) => field.fmt(f),
            Part::Data => f.write_str("the compressed data"),
            Part::Trailer => f.write_str("the trailer (CRC-32 and length)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("unexpected end of file: the input is empty")]
    Empty,
    #[error("not in gzip format")]
    NotGzip,
    #[error("bad header in member {member}: {source}")]
    Header {
        member: u64,
        #[source]
        source: HeaderError,
    },
    #[error("unexpected end of file: member {member} ends inside {part}")]
    Truncated { member: u64, part: Part },
    #[error(
        "unexpected end of file: member {member} is followed by one byte ({byte:#04x}), a member cut short or garbage"
    )]
    LoneByte { member: u64, byte: u8 },
    #[error(
        "invalid compressed data in member {member} near byte {offset}{}",
        .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
    )]
    Corrupt {
        member: u64,
        offset: u64,
        /// zlib's words for it, when they are about the data.
        reason: Option<String>,
    },
    #[error(
        "CRC-32 mismatch in member {member}: stored {stored:08x}, data gives {computed:08x}: the data is corrupt"
    )]
    Crc {
        member: u64,
        stored: u32,
        computed: u32,
    },
    #[error(
        "length mismatch in member {member}: stored {stored} (mod 2^32), data gives {actual}: the data is corrupt"
    )]
    Length {
        member: u64,
        stored: u32,
        actual: u64,
    },
    #[error("read error: {}", io_message(.0))]
    Read(#[source] io::Error),
    #[error("write error: {}", io_message(.0))]
    Write(#[source] io::Error),
}

impl DecodeError {
    /// A header that cannot be read, of member `member` (from 1).
    pub fn in_header(e: HeaderError, member: u64) -> Self {
        match e {
            HeaderError::NotGzip if member == 1 => DecodeError::NotGzip,
            HeaderError::Io(e) => DecodeError::Read(e),
            HeaderError::Truncated(field) => DecodeError::Truncated {
                member,
                part: Part::Header(field),
            },
            source => DecodeError::Header { member, source },
        }
    }
}

/// Decodes every member of `input` into `output`.
pub(crate) fn decode(input: impl Read, output: &mut impl Write) -> Result<Decoded, DecodeError> {
    let mut r = Input::new(input);
    let mut result = Decoded::default();
    let mut stream = StreamCrc::default();
    let mut inflater = Decompress::new(false);
    let mut out = vec![0u8; BUFFER];
    loop {
        let member_start = r.consumed;
        // Two bytes decide between another member and what follows the last, even
        // when the buffer happens to end between them.
        let peek = r.peek(2).map_err(DecodeError::Read)?;
        if peek.is_empty() {
            if result.members == 0 {
                return Err(DecodeError::Empty);
            }
            break;
        }
        // gzip reads two bytes for the next magic and stops at the end of the file
        // if only one is there: that is an error, the start of a member cut short,
        // unless the byte is zero padding. Its verdict, and so ours.
        if result.members > 0 && peek.len() == 1 && peek[0] != 0 {
            return Err(DecodeError::LoneByte {
                member: result.members,
                byte: peek[0],
            });
        }
        // (gzip would also try old formats here: 1f 9e, pack's 1f 1e, compress's 1f 9d,
        // LZH's 1f a0. We read gzip's deflate only, so those are trailing garbage.)
        if result.members > 0 && peek != MAGIC {
            let (len, zeros) = count_rest(&mut r)?;
            if zeros {
                result.trailing_zeros = len;
            } else {
                result.trailing_garbage = len;
            }
            break;
        }
        let member = result.members + 1;
        let header = read_header(&mut r).map_err(|e| DecodeError::in_header(e, member))?;
        if member == 1 {
            result.mtime = header.mtime;
            result.first_header = header.len;
        }
        inflater.reset(false);
        let (crc, length) = inflate_member(&mut r, member, &mut inflater, &mut out, output)?;
        check_trailer(&mut r, member, crc, length)?;
        stream.append(crc, length);
        result.members = member;
        result.compressed += r.consumed - member_start;
    }
    result.uncompressed = stream.len;
    result.crc = stream.crc;
    Ok(result)
}

/// Inflates one member's deflate data into `output`; returns its CRC-32 and length.
fn inflate_member<R: Read>(
    r: &mut Input<R>,
    member: u64,
    inflater: &mut Decompress,
    out: &mut [u8],
    output: &mut impl Write,
) -> Result<(u32, u64), DecodeError> {
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    loop {
        let input = r.fill_buf().map_err(DecodeError::Read)?;
        let at_eof = input.is_empty();
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let status = inflater
            .decompress(input, out, FlushDecompress::None)
            .map_err(|e| DecodeError::Corrupt {
                member,
                // The last byte the inflater took; it reads a few bytes ahead of the
                // symbol it decodes, so the damage is at or just before it.
                offset: (r.consumed + (inflater.total_in() - in_before)).saturating_sub(1),
                reason: reason(&e),
            })?;
        let used = (inflater.total_in() - in_before) as usize;
        let made = (inflater.total_out() - out_before) as usize;
        r.consume(used);
        crc.update(&out[..made]);
        length += made as u64;
        output.write_all(&out[..made]).map_err(DecodeError::Write)?;
        if status == Status::StreamEnd {
            return Ok((crc.finalize(), length));
        }
        if used == 0 && made == 0 {
            return Err(if at_eof {
                DecodeError::Truncated {
                    member,
                    part: Part::Data,
                }
            } else {
                // Input in hand and room for output, yet nothing moved: zlib's
                // Z_BUF_ERROR, which a valid stream never causes here.
                DecodeError::Corrupt {
                    member,
                    offset: r.consumed,
                    reason: Some("the inflater makes no progress".into()),
                }
            });
        }
    }
}

/// zlib-rs's words for what is wrong with deflate data, unless they are about its own
/// state: an error found on its fast path (whole buffers at hand) reaches us as
/// "repeated call with bad state", its message overwritten on the way out, while the
/// same data read a byte at a time says "invalid distance too far back". (Found by
/// fuzz/read_gzip; zlib-rs 0.6.8.)
fn reason(e: &flate2::DecompressError) -> Option<String> {
    e.message()
        .filter(|m| !m.contains("bad state"))
        .map(str::to_string)
}

/// Reads a member's trailer and checks it against what its data gave.
fn check_trailer(
    r: &mut impl Read,
    member: u64,
    computed: u32,
    length: u64,
) -> Result<(), DecodeError> {
    let mut trailer = [0u8; 8];
    r.read_exact(&mut trailer).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => DecodeError::Truncated {
            member,
            part: Part::Trailer,
        },
        _ => DecodeError::Read(e),
    })?;
    let stored_crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
    let stored_len = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
    if stored_crc != computed {
        return Err(DecodeError::Crc {
            member,
            stored: stored_crc,
            computed,
        });
    }
    if stored_len != length as u32 {
        return Err(DecodeError::Length {
            member,
            stored: stored_len,
            actual: length,
        });
    }
    Ok(())
}

/// Reads what follows the last member to its end: how many bytes, and whether all
/// of them are zero.
fn count_rest(r: &mut impl BufRead) -> Result<(u64, bool), DecodeError> {
    let (mut len, mut zeros) = (0u64, true);
    loop {
        let buf = match r.fill_buf() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other.map_err(DecodeError::Read)?,
        };
        if buf.is_empty() {
            return Ok((len, zeros));
        }
        zeros = zeros && buf.iter().all(|&b| b == 0);
        let n = buf.len();
        r.consume(n);
        len += n as u64;
    }
}

/// Buffered input that counts what was consumed (for offsets in messages) and can
/// look a few bytes ahead across a refill, which `BufReader` cannot.
struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    consumed: u64,
}

impl<R: Read> Input<R> {
    fn new(inner: R) -> Self {
        Input {
            inner,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            consumed: 0,
        }
    }

    /// Up to `n` bytes ahead, fewer only at the end of the input.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => break,
                    Ok(got) => self.end += got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end.min(self.start + n)])
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            // Emptied first: after a failed read, nothing stale may look buffered.
            (self.start, self.end) = (0, 0);
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.consumed += n as u64;
    }
}

#[cfg(test)]
#[path = "decoder_tests.rs"]
mod tests;
