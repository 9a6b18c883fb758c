//! With --resume, an output an earlier run of the same command already finished. A
//! requeued Slurm job or a rerun batch (`-r --resume`) meets the outputs its first run
//! completed; they are not partial, so there is nothing to continue, and refusing them
//! as "already exists" would fail a run that has nothing left to do. An output counts
//! as finished for this input when it is one gzip stream whose trailer holds the
//! input's length and CRC-32: reading the input once is far cheaper than compressing
//! it again, and a trailer that matches by accident is as unlikely as a CRC collision.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A gzip header's magic and the trailer's CRC-32 and ISIZE.
const MAGIC: [u8; 2] = [0x1f, 0x8b];
const TRAILER: u64 = 8;
/// The smallest gzip member: a 10-byte header, an empty block, the trailer.
const SMALLEST: u64 = 20;

/// Whether `target` is a finished gzip output of `input` (`input_len` bytes). Any
/// doubt (unreadable, too short, not gzip, another length or CRC) says no, and the
/// caller refuses the existing output as it always did.
pub(crate) fn matches(target: &Path, input: &Path, input_len: u64) -> bool {
    trailer(target).is_some_and(|(crc, isize)| {
        u64::from(isize) == input_len & 0xffff_ffff && crc_of(input) == Some(crc)
    })
}

fn trailer(target: &Path) -> Option<(u32, u32)> {
    let mut f = File::open(target).ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() < SMALLEST {
        return None;
    }
    let mut magic = [0u8; 2];
    f.read_exact(&mut magic).ok()?;
    if magic != MAGIC {
        return None;
    }
    f.seek(SeekFrom::Start(meta.len() - TRAILER)).ok()?;
    let mut t = [0u8; TRAILER as usize];
    f.read_exact(&mut t).ok()?;
    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
    Some((crc, isize))
}

fn crc_of(input: &Path) -> Option<u32> {
    let mut f = File::open(input).ok()?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(hasher.finalize()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_finished_output_of_this_input_matches_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (input, out) = (dir.path().join("f"), dir.path().join("f.gz"));
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        std::fs::write(&input, &data).unwrap();
        std::fs::write(&out, gz(&data)).unwrap();
        assert!(matches(&out, &input, data.len() as u64));
        // Another input of the same length: the CRC differs.
        let mut other = data.clone();
        other[5] ^= 1;
        std::fs::write(&input, &other).unwrap();
        assert!(!matches(&out, &input, data.len() as u64));
        // Cut short: the last 8 bytes are no trailer of this input.
        let whole = gz(&data);
        std::fs::write(&input, &data).unwrap();
        std::fs::write(&out, &whole[..whole.len() - 3]).unwrap();
        assert!(!matches(&out, &input, data.len() as u64));
        // Not gzip at all, and too short to be gzip.
        std::fs::write(&out, &data).unwrap();
        assert!(!matches(&out, &input, data.len() as u64));
        std::fs::write(&out, [0x1f, 0x8b]).unwrap();
        assert!(!matches(&out, &input, data.len() as u64));
    }
}
