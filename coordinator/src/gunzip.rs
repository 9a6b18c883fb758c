//! Reads gzip streams completely: every member, each checked against its CRC-32 and
//! ISIZE, with bytes after the last member reported as trailing garbage rather than
//! silently dropped. Errors say what is wrong in the words gzip users know.

use std::io::{self, BufRead, BufReader, Read, Write};

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::io_message;
use crate::gzip::{HeaderError, MAGIC, MemberHeader, read_header};

const BUFFER: usize = 256 << 10;

/// What a whole stream held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    pub members: u64,
    /// Bytes of gzip data read (without trailing garbage).
    pub compressed: u64,
    pub uncompressed: u64,
    /// Bytes after the last member that are not gzip.
    pub trailing_garbage: u64,
    pub first_header: MemberHeader,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
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

/// Decodes every member of `input` into `output`.
pub fn decode(input: impl Read, output: &mut impl Write) -> Result<Decoded, DecodeError> {
    let mut r = Counting {
        inner: BufReader::with_capacity(BUFFER, input),
        consumed: 0,
    };
    let mut result = Decoded::default();
    let mut inflater = Decompress::new(false);
    let mut out = vec![0u8; BUFFER];
    loop {
        let member_start = r.consumed;
        let peek = r.fill_buf().map_err(DecodeError::Read)?;
        if peek.is_empty() {
            if result.members == 0 {
                return Err(DecodeError::NotGzip);
            }
            break;
        }
        if result.members > 0 && !peek.starts_with(&MAGIC[..peek.len().min(2)]) {
            result.trailing_garbage = count_rest(&mut r)?;
            break;
        }
        let header = read_header(&mut r).map_err(|e| match e {
            HeaderError::NotGzip if result.members == 0 => DecodeError::NotGzip,
            HeaderError::Io(e) => DecodeError::Read(e),
            HeaderError::Truncated => DecodeError::Truncated,
            source => DecodeError::Header {
                member: result.members + 1,
                source,
            },
        })?;
        if result.members == 0 {
            result.first_header = header;
        }
        inflater.reset(false);
        let mut crc = crc32fast::Hasher::new();
        let mut length = 0u64;
        loop {
            let input = r.fill_buf().map_err(DecodeError::Read)?;
            let at_eof = input.is_empty();
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(input, &mut out, FlushDecompress::None)
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
                break;
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
        let mut trailer = [0u8; 8];
        r.read_exact(&mut trailer).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => DecodeError::Truncated,
            _ => DecodeError::Read(e),
        })?;
        result.members += 1;
        let stored_crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
        let stored_len = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
        let computed = crc.finalize();
        if stored_crc != computed {
            return Err(DecodeError::Crc {
                member: result.members,
                stored: stored_crc,
                computed,
            });
        }
        if stored_len != length as u32 {
            return Err(DecodeError::Length {
                member: result.members,
                stored: stored_len,
                actual: length,
            });
        }
        result.uncompressed += length;
        result.compressed += r.consumed - member_start;
    }
    Ok(result)
}

fn count_rest(r: &mut impl BufRead) -> Result<u64, DecodeError> {
    io::copy(r, &mut io::sink()).map_err(DecodeError::Read)
}

/// A BufRead that counts what was consumed, for offsets in messages.
struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.consumed += n as u64;
        self.inner.consume(n);
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
