//! The gzip member header: the one gzfleet writes (name, mtime, XFL) and any header a
//! file may carry, parsed without trusting it: the optional fields (extra, name,
//! comment) are streamed through the header CRC and skipped, never buffered, so a
//! field of any length costs no memory and a damaged one cannot make us hold the file.

use std::io::{self, BufRead};

pub(crate) const MAGIC: [u8; 2] = [0x1f, 0x8b];
const METHOD_DEFLATE: u8 = 8;
const FTEXT: u8 = 1;
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;
/// "Unix", as gzip and pigz write.
const OS_UNIX: u8 = 3;

/// What the header of a member we write records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Header {
    /// The input's file name, without directories (FNAME); None with -n or for stdin.
    pub name: Option<Vec<u8>>,
    /// The input's modification time in Unix seconds (0: none).
    pub mtime: u32,
    /// Deflate level, for the XFL hint.
    pub level: u32,
}

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.name.as_ref().map_or(0, |n| n.len() + 1));
        out.extend_from_slice(&MAGIC);
        out.push(METHOD_DEFLATE);
        out.push(if self.name.is_some() { FNAME } else { 0 });
        out.extend_from_slice(&self.mtime.to_le_bytes());
        // XFL as gzip sets it: 2 = maximum compression, 4 = fastest; libdeflate's
        // levels past 9 are "maximum" too.
        out.push(match self.level {
            9.. => 2,
            1 => 4,
            _ => 0,
        });
        out.push(OS_UNIX);
        if let Some(name) = &self.name {
            // Unix names cannot contain NUL, the field's terminator.
            out.extend(name.iter().copied().filter(|&b| b != 0));
            out.push(0);
        }
        out
    }
}

/// What the reading side needs of a member header: its modification time (for
/// `list -v`) and its length. The stored name and comment are not needed (output names
/// come from the file's name, as gzip's do without -N), so they are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MemberHeader {
    pub mtime: u32,
    /// Header length in bytes.
    pub len: u64,
}

/// The parts of a header, to say where one ends too soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Fixed,
    Extra,
    Name,
    Comment,
    HeaderCrc,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Fixed => "the header",
            Field::Extra => "the header's extra field (shorter than its XLEN says)",
            Field::Name => "the stored file name, which has no terminating NUL",
            Field::Comment => "the stored comment, which has no terminating NUL",
            Field::HeaderCrc => "the header CRC",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("not in gzip format")]
    NotGzip,
    #[error("unknown compression method {0} (only deflate, 8, exists)")]
    Method(u8),
    #[error("reserved flag bits set ({0:#04x}): written by a newer or broken tool")]
    Flags(u8),
    #[error("header CRC mismatch: stored {stored:04x}, header gives {computed:04x}")]
    HeaderCrc { stored: u16, computed: u16 },
    #[error("unexpected end of file inside {0}")]
    Truncated(Field),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads one member header, magic included.
pub(crate) fn read_header(r: &mut impl BufRead) -> Result<MemberHeader, HeaderError> {
    let mut crc = crc32fast::Hasher::new();
    let mut fixed = [0u8; 10];
    // The magic a byte at a time: a short file that is not gzip is "not gzip", not
    // "truncated".
    for i in 0..2 {
        read_exact(r, &mut fixed[i..=i], Field::Fixed)?;
        if fixed[i] != MAGIC[i] {
            return Err(HeaderError::NotGzip);
        }
    }
    // Method and flags are judged as soon as they are read, as gzip judges them: what
    // follows a member and only starts like one is named for what it is, not for
    // being short.
    read_exact(r, &mut fixed[2..4], Field::Fixed)?;
    if fixed[2] != METHOD_DEFLATE {
        return Err(HeaderError::Method(fixed[2]));
    }
    let flags = fixed[3];
    if flags & !(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT) != 0 {
        return Err(HeaderError::Flags(flags));
    }
    read_exact(r, &mut fixed[4..], Field::Fixed)?;
    crc.update(&fixed);
    let mut len = 10u64;
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        read_exact(r, &mut xlen, Field::Extra)?;
        crc.update(&xlen);
        let xlen = u16::from_le_bytes(xlen) as u64;
        skip(r, &mut crc, xlen, Field::Extra)?;
        len += 2 + xlen;
    }
    if flags & FNAME != 0 {
        len += skip_zstring(r, &mut crc, Field::Name)?;
    }
    if flags & FCOMMENT != 0 {
        len += skip_zstring(r, &mut crc, Field::Comment)?;
    }
    if flags & FHCRC != 0 {
        let mut stored = [0u8; 2];
        read_exact(r, &mut stored, Field::HeaderCrc)?;
        len += 2;
        let (stored, computed) = (u16::from_le_bytes(stored), crc.finalize() as u16);
        if stored != computed {
            return Err(HeaderError::HeaderCrc { stored, computed });
        }
    }
    Ok(MemberHeader {
        mtime: u32::from_le_bytes(fixed[4..8].try_into().expect("4 bytes")),
        len,
    })
}

/// Passes `n` bytes through the header CRC without keeping them.
fn skip(
    r: &mut impl BufRead,
    crc: &mut crc32fast::Hasher,
    mut n: u64,
    field: Field,
) -> Result<(), HeaderError> {
    while n > 0 {
        let buf = fill(r, field)?;
        let k = buf.len().min(n as usize);
        crc.update(&buf[..k]);
        r.consume(k);
        n -= k as u64;
    }
    Ok(())
}

/// Passes a NUL-terminated field (FNAME, FCOMMENT) through the header CRC without
/// keeping it, however long: gzip accepts any length, and so do we. Returns its length
/// with the NUL.
fn skip_zstring(
    r: &mut impl BufRead,
    crc: &mut crc32fast::Hasher,
    field: Field,
) -> Result<u64, HeaderError> {
    let mut len = 0u64;
    loop {
        let buf = fill(r, field)?;
        let (k, done) = match buf.iter().position(|&b| b == 0) {
            Some(nul) => (nul + 1, true),
            None => (buf.len(), false),
        };
        crc.update(&buf[..k]);
        r.consume(k);
        len += k as u64;
        if done {
            return Ok(len);
        }
    }
}

/// The next buffered bytes; the end of the input here means the header is cut short.
fn fill(r: &mut impl BufRead, field: Field) -> Result<&[u8], HeaderError> {
    // (Interrupted reads are retried below us: the decoder's `Input` does.)
    let buf = r.fill_buf()?;
    if buf.is_empty() {
        return Err(HeaderError::Truncated(field));
    }
    Ok(buf)
}

fn read_exact(r: &mut impl BufRead, buf: &mut [u8], field: Field) -> Result<(), HeaderError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => HeaderError::Truncated(field),
        _ => HeaderError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        for h in [
            Header {
                name: Some(b"data.tar".to_vec()),
                mtime: 1_700_000_000,
                level: 6,
            },
            Header {
                name: None,
                mtime: 0,
                level: 9,
            },
        ] {
            let bytes = h.encode();
            let parsed = read_header(&mut &bytes[..]).unwrap();
            assert_eq!(parsed.mtime, h.mtime);
            assert_eq!(parsed.len, bytes.len() as u64);
        }
    }

    #[test]
    fn xfl_and_flags_follow_gzip() {
        let b = Header {
            name: None,
            mtime: 5,
            level: 9,
        }
        .encode();
        assert_eq!(b, [0x1f, 0x8b, 8, 0, 5, 0, 0, 0, 2, 3]);
        assert_eq!(
            Header {
                level: 1,
                ..Default::default()
            }
            .encode()[8],
            4
        );
        assert_eq!(
            Header {
                name: Some(b"a".to_vec()),
                ..Default::default()
            }
            .encode()[3],
            FNAME
        );
    }

    #[test]
    fn reads_optional_fields_and_checks_header_crc() {
        let mut h = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            0,
            0,
            0,
            0,
            0,
            3,
        ];
        h.extend_from_slice(&[3, 0, b'x', b'y', b'z']);
        h.extend_from_slice(b"name\0comment\0");
        let crc = crc32fast::hash(&h) as u16;
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(b"deflate data follows");
        let mut r = &h[..];
        let parsed = read_header(&mut r).unwrap();
        assert_eq!(parsed.len, h.len() as u64 - 20);
        assert_eq!(
            r, b"deflate data follows",
            "the header was not consumed exactly"
        );
        let n = h.len() - 20;
        h[n - 1] ^= 1;
        assert!(matches!(
            read_header(&mut &h[..]),
            Err(HeaderError::HeaderCrc { .. })
        ));
    }

    #[test]
    fn rejects_what_is_not_gzip() {
        assert!(matches!(
            read_header(&mut &b"PK\x03\x04hello!"[..]),
            Err(HeaderError::NotGzip)
        ));
        assert!(matches!(
            read_header(&mut &[0x1f, 0x8b, 8][..]),
            Err(HeaderError::Truncated(Field::Fixed))
        ));
        assert!(matches!(
            read_header(&mut &[0x1f][..]),
            Err(HeaderError::Truncated(Field::Fixed))
        ));
        assert!(matches!(
            read_header(&mut &b"x"[..]),
            Err(HeaderError::NotGzip)
        ));
        let bad_method = [0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3];
        assert!(matches!(
            read_header(&mut &bad_method[..]),
            Err(HeaderError::Method(7))
        ));
        for (flag, field) in [(FNAME, Field::Name), (FCOMMENT, Field::Comment)] {
            let mut endless = vec![0x1f, 0x8b, 8, flag, 0, 0, 0, 0, 0, 3];
            endless.extend(std::iter::repeat_n(b'a', 100_000));
            assert!(matches!(
                read_header(&mut &endless[..]),
                Err(HeaderError::Truncated(f)) if f == field
            ));
        }
        // XLEN promises 65535 bytes; three follow.
        let short_extra = [0x1f, 0x8b, 8, FEXTRA, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(
            read_header(&mut &short_extra[..]),
            Err(HeaderError::Truncated(Field::Extra))
        ));
        let reserved = [0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3];
        assert!(matches!(
            read_header(&mut &reserved[..]),
            Err(HeaderError::Flags(0x20))
        ));
    }

    /// gzip reads names and comments of any length; so do we, without holding them,
    /// wherever the reads that bring them end.
    #[test]
    fn long_fields_are_skipped_whatever_their_length() {
        let mut h = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            9,
            0,
            0,
            0,
            0,
            3,
        ];
        h.extend_from_slice(&[0xff, 0xff]);
        h.extend(std::iter::repeat_n(b'x', 0xffff));
        h.extend(std::iter::repeat_n(b'n', 300_000));
        h.push(0);
        h.extend(std::iter::repeat_n(b'c', 200_000));
        h.push(0);
        let crc = crc32fast::hash(&h) as u16;
        h.extend_from_slice(&crc.to_le_bytes());
        let header_len = h.len() as u64;
        h.extend_from_slice(b"rest");
        for capacity in [1, 7, 8192, 1 << 20] {
            let mut r = io::BufReader::with_capacity(capacity, &h[..]);
            let parsed = read_header(&mut r).unwrap();
            assert_eq!((parsed.mtime, parsed.len), (9, header_len));
            let mut rest = Vec::new();
            io::Read::read_to_end(&mut r, &mut rest).unwrap();
            assert_eq!(rest, b"rest");
        }
    }
}
