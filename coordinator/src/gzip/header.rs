//! The gzip member header: the one gzfleet writes (name, mtime, XFL) and any header a
//! file may carry, parsed with bounds (a damaged name must not buffer the whole file).

use std::io::{self, BufRead, Read};

pub(crate) const MAGIC: [u8; 2] = [0x1f, 0x8b];
const METHOD_DEFLATE: u8 = 8;
const FTEXT: u8 = 1;
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;
/// "Unix", as gzip and pigz write.
const OS_UNIX: u8 = 3;
/// Longest FNAME or FCOMMENT read (gzip itself stores names of at most a path).
const MAX_HEADER_STRING: u64 = 64 << 10;

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
        // XFL as gzip sets it: 2 = maximum compression, 4 = fastest.
        out.push(match self.level {
            9 => 2,
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

/// A member header as read from a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberHeader {
    pub mtime: u32,
    pub name: Option<Vec<u8>>,
    pub comment: Option<Vec<u8>>,
    /// Header length in bytes.
    pub len: u64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("not in gzip format")]
    NotGzip,
    #[error("unknown compression method {0} (only deflate, 8, exists)")]
    Method(u8),
    #[error("reserved header flags set ({0:#04x}): written by a newer or broken tool")]
    Flags(u8),
    #[error("header CRC mismatch")]
    HeaderCrc,
    #[error("a name or comment in the header runs past 64 KiB: damaged or not gzip")]
    FieldTooLong,
    #[error("unexpected end of file inside the gzip header")]
    Truncated,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads one member header, magic included.
pub(crate) fn read_header(r: &mut impl BufRead) -> Result<MemberHeader, HeaderError> {
    let mut crc = crc32fast::Hasher::new();
    let mut fixed = [0u8; 10];
    // The magic first: a short file that is not gzip is "not gzip", not "truncated".
    read_exact(r, &mut fixed[..2])?;
    if fixed[..2] != MAGIC {
        return Err(HeaderError::NotGzip);
    }
    read_exact(r, &mut fixed[2..])?;
    if fixed[2] != METHOD_DEFLATE {
        return Err(HeaderError::Method(fixed[2]));
    }
    let flags = fixed[3];
    if flags & !(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT) != 0 {
        return Err(HeaderError::Flags(flags));
    }
    crc.update(&fixed);
    let mut len = 10u64;
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        read_exact(r, &mut xlen)?;
        crc.update(&xlen);
        let mut extra = vec![0u8; u16::from_le_bytes(xlen) as usize];
        read_exact(r, &mut extra)?;
        crc.update(&extra);
        len += 2 + extra.len() as u64;
    }
    let name = (flags & FNAME != 0)
        .then(|| read_zstring(r, &mut crc, &mut len))
        .transpose()?;
    let comment = (flags & FCOMMENT != 0)
        .then(|| read_zstring(r, &mut crc, &mut len))
        .transpose()?;
    if flags & FHCRC != 0 {
        let mut stored = [0u8; 2];
        read_exact(r, &mut stored)?;
        len += 2;
        if u16::from_le_bytes(stored) != crc.finalize() as u16 {
            return Err(HeaderError::HeaderCrc);
        }
    }
    Ok(MemberHeader {
        mtime: u32::from_le_bytes(fixed[4..8].try_into().expect("4 bytes")),
        name,
        comment,
        len,
    })
}

/// A NUL-terminated header field (FNAME, FCOMMENT), without its NUL. Bounded: a
/// damaged header without the NUL must not buffer the whole file.
fn read_zstring(
    r: &mut impl BufRead,
    crc: &mut crc32fast::Hasher,
    len: &mut u64,
) -> Result<Vec<u8>, HeaderError> {
    let mut s = Vec::new();
    r.take(MAX_HEADER_STRING).read_until(0, &mut s)?;
    if s.last() != Some(&0) {
        return Err(if s.len() as u64 == MAX_HEADER_STRING {
            HeaderError::FieldTooLong
        } else {
            HeaderError::Truncated
        });
    }
    crc.update(&s);
    *len += s.len() as u64;
    s.pop();
    Ok(s)
}

fn read_exact(r: &mut impl BufRead, buf: &mut [u8]) -> Result<(), HeaderError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => HeaderError::Truncated,
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
            assert_eq!(parsed.name, h.name);
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
        let parsed = read_header(&mut &h[..]).unwrap();
        assert_eq!(parsed.name.as_deref(), Some(&b"name"[..]));
        assert_eq!(parsed.comment.as_deref(), Some(&b"comment"[..]));
        assert_eq!(parsed.len, h.len() as u64);
        let n = h.len();
        h[n - 1] ^= 1;
        assert!(matches!(
            read_header(&mut &h[..]),
            Err(HeaderError::HeaderCrc)
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
            Err(HeaderError::Truncated)
        ));
        let bad_method = [0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3];
        assert!(matches!(
            read_header(&mut &bad_method[..]),
            Err(HeaderError::Method(7))
        ));
        let mut endless_name = vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3];
        endless_name.extend(std::iter::repeat_n(b'a', 100_000));
        assert!(matches!(
            read_header(&mut &endless_name[..]),
            Err(HeaderError::FieldTooLong)
        ));
        let unterminated_name = [0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3, b'a'];
        assert!(matches!(
            read_header(&mut &unterminated_name[..]),
            Err(HeaderError::Truncated)
        ));
    }
}
