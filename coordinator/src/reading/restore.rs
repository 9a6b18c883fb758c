//! `-N` on decompress: the name and modification time the first member's header
//! stored, read from the start of the input before any output is created (the
//! output's name depends on them).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FEXTRA: u8 = 4;
const FNAME: u8 = 8;

/// What a header stored: a name (its last path component only, so a crafted header
/// cannot write outside the input's folder) and a time (None when it stored 0).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stored {
    pub name: Option<PathBuf>,
    pub mtime: Option<SystemTime>,
}

/// Reads what `head`, the first bytes of a gzip input, stored; nothing for what is
/// not gzip or is cut short (the decoder will say why).
pub(crate) fn stored(head: &[u8]) -> Stored {
    let mut out = Stored::default();
    if head.len() < 10 || head[..3] != [0x1f, 0x8b, 8] {
        return out;
    }
    let flags = head[3];
    let mtime = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    out.mtime = (mtime != 0).then(|| UNIX_EPOCH + Duration::from_secs(mtime.into()));
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let Some(x) = head.get(10..12) else {
            return out;
        };
        at += 2 + u16::from_le_bytes([x[0], x[1]]) as usize;
    }
    if flags & FNAME != 0 {
        let rest = head.get(at..).unwrap_or_default();
        if let Some(end) = rest.iter().position(|&b| b == 0) {
            let name = String::from_utf8_lossy(&rest[..end]).into_owned();
            out.name = Path::new(&name)
                .file_name()
                .filter(|n| *n != "." && *n != "..")
                .map(PathBuf::from);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8, mtime: u32, rest: &[u8]) -> Vec<u8> {
        let mut h = vec![0x1f, 0x8b, 8, flags];
        h.extend_from_slice(&mtime.to_le_bytes());
        h.extend_from_slice(&[0, 3]);
        h.extend_from_slice(rest);
        h
    }

    #[test]
    fn name_and_time_as_stored_but_never_a_path() {
        let s = stored(&header(FNAME, 1000, b"orig.txt\0data"));
        assert_eq!(s.name, Some(PathBuf::from("orig.txt")));
        assert_eq!(s.mtime, Some(UNIX_EPOCH + Duration::from_secs(1000)));
        let s = stored(&header(FNAME | FEXTRA, 0, b"\x02\0ab../../etc/passwd\0"));
        assert_eq!(s.name, Some(PathBuf::from("passwd")));
        assert_eq!(s.mtime, None);
        assert_eq!(stored(&header(FNAME, 5, b"..\0")).name, None);
        assert_eq!(stored(b"not gzip at all"), Stored::default());
    }
}
