//! Reads gzip streams completely: every member, each checked against its CRC-32 and
//! ISIZE, with bytes after the last member reported as trailing garbage rather than
//! silently dropped. Errors say what is wrong in the words gzip users know.

use std::io::{self, BufRead, Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use super::header::{HeaderError, MAGIC, read_header};
use crate::error::io_message;

const BUFFER: usize = 256 << 10;

/// What a whole stream held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub members: u64,
    /// Bytes of gzip data read (without trailing garbage).
    pub compressed: u64,
    pub uncompressed: u64,
    /// Bytes after the last member that are not gzip.
    pub trailing_garbage: u64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("not in gzip format")]
    NotGzip,
    #[error("member {member}: {source}")]
    Header { member: u64, source: HeaderError },
    #[error("unexpected end of file: the data is truncated")]
    Truncated,
    #[error("invalid compressed data at byte {offset}: {message}")]
    Corrupt { offset: u64, message: String },
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
    Read(io::Error),
    #[error("write error: {}", io_message(.0))]
    Write(io::Error),
}

impl DecodeError {
    /// A header that cannot be read, of member `member` (from 1).
    pub fn in_header(e: HeaderError, member: u64) -> Self {
        match e {
            HeaderError::NotGzip if member == 1 => DecodeError::NotGzip,
            HeaderError::Io(e) => DecodeError::Read(e),
            HeaderError::Truncated => DecodeError::Truncated,
            source => DecodeError::Header { member, source },
        }
    }
}

/// Decodes every member of `input` into `output`.
pub(crate) fn decode(input: impl Read, output: &mut impl Write) -> Result<Decoded, DecodeError> {
    let mut r = Input::new(input);
    let mut result = Decoded::default();
    let mut inflater = Decompress::new(false);
    let mut out = vec![0u8; BUFFER];
    loop {
        let member_start = r.consumed;
        // Two bytes decide between another member and trailing garbage, even when
        // the buffer happens to end between them.
        let peek = r.peek(2).map_err(DecodeError::Read)?;
        if peek.is_empty() {
            if result.members == 0 {
                return Err(DecodeError::NotGzip);
            }
            break;
        }
        if result.members > 0 && peek != MAGIC {
            result.trailing_garbage = count_rest(&mut r)?;
            break;
        }
        let member = result.members + 1;
        read_header(&mut r).map_err(|e| DecodeError::in_header(e, member))?;
        inflater.reset(false);
        let (crc, length) = inflate_member(&mut r, &mut inflater, &mut out, output)?;
        check_trailer(&mut r, member, crc, length)?;
        result.members = member;
        result.uncompressed += length;
        result.compressed += r.consumed - member_start;
    }
    Ok(result)
}

/// Inflates one member's deflate data into `output`; returns its CRC-32 and length.
fn inflate_member<R: Read>(
    r: &mut Input<R>,
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
                offset: r.consumed,
                message: e.to_string(),
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
                DecodeError::Truncated
            } else {
                DecodeError::Corrupt {
                    offset: r.consumed,
                    message: "no progress".into(),
                }
            });
        }
    }
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
        io::ErrorKind::UnexpectedEof => DecodeError::Truncated,
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

fn count_rest(r: &mut impl BufRead) -> Result<u64, DecodeError> {
    io::copy(r, &mut io::sink()).map_err(DecodeError::Read)
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
            self.start = 0;
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
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn run(bytes: &[u8]) -> Result<(Decoded, Vec<u8>), DecodeError> {
        let mut out = Vec::new();
        decode(bytes, &mut out).map(|d| (d, out))
    }

    #[test]
    fn multi_member_streams_decode_whole() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        let (d, out) = run(&two).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(d.members, 2);
        assert_eq!(d.compressed, two.len() as u64);
        assert_eq!(d.uncompressed, 11);
    }

    #[test]
    fn trailing_garbage_is_counted() {
        let mut bytes = gz(b"data");
        bytes.extend_from_slice(b"garbage!");
        let (d, out) = run(&bytes).unwrap();
        assert_eq!(out, b"data");
        assert_eq!(d.trailing_garbage, 8);
    }

    /// Reads at most `n` bytes a call, so buffer edges fall where a test wants them.
    struct Dribble<'a>(&'a [u8], usize);
    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let k = out.len().min(self.1).min(self.0.len());
            out[..k].copy_from_slice(&self.0[..k]);
            self.0 = &self.0[k..];
            Ok(k)
        }
    }

    #[test]
    fn garbage_starting_like_a_member_is_garbage_wherever_reads_end() {
        let member = gz(b"payload");
        let mut bytes = member.clone();
        bytes.extend_from_slice(&[0x1f, b'x', b'y', b'z']);
        // One read ends exactly after the member plus the 0x1f.
        let mut out = Vec::new();
        let d = decode(Dribble(&bytes, member.len() + 1), &mut out).unwrap();
        assert_eq!((d.members, d.trailing_garbage), (1, 4));
        let mut out = Vec::new();
        let d = decode(Dribble(&bytes, 1), &mut out).unwrap();
        assert_eq!(
            (d.members, d.trailing_garbage, out.as_slice()),
            (1, 4, &b"payload"[..])
        );
    }

    #[test]
    fn damage_is_named() {
        let good = gz(&b"some text to compress, some text to compress".repeat(50));
        assert!(matches!(run(b"plain text"), Err(DecodeError::NotGzip)));
        assert!(matches!(run(b""), Err(DecodeError::NotGzip)));
        assert!(matches!(
            run(&good[..good.len() - 3]),
            Err(DecodeError::Truncated)
        ));
        assert!(matches!(
            run(&good[..good.len() / 2]),
            Err(DecodeError::Truncated)
        ));
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 0xff;
        assert!(matches!(
            run(&bad_crc),
            Err(DecodeError::Crc { member: 1, .. })
        ));
        let mut bad_len = good.clone();
        bad_len[n - 1] ^= 0xff;
        assert!(matches!(run(&bad_len), Err(DecodeError::Length { .. })));
        let mut bad_data = good.clone();
        bad_data[12] ^= 0xff;
        bad_data[13] ^= 0xff;
        assert!(run(&bad_data).is_err());
    }
}
