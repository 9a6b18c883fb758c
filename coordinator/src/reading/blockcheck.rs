//! Where a damaged member's deflate block structure breaks, for `gzfleet test`.
//!
//! A gzfleet member is chunks of deflate blocks, each chunk ending byte-aligned with a
//! sync marker (an empty stored block, `00 00 ff ff`) and none final but the last. Two
//! faults in a chunk show only as a CRC mismatch or "invalid compressed data" to an
//! inflater: a stray final bit (the stream ends early, and the rest is read as the
//! trailer) and a missing sync marker (the next chunk is read from the wrong bit).
//! Walking the blocks ([`gzfleet_worker::blocks`]) names the byte where each shows.
//! It runs only after the inflater found the member damaged, so a good file costs
//! nothing, and only on files (stdin cannot be read twice).

use std::fs::File;
use std::path::Path;

use gzfleet_worker::blocks::{BlockError, last_block};
use memmap2::Mmap;

use crate::error::Error;
use crate::gzip::DecodeError;
use crate::gzip::header::read_header;

/// `e` with where the block walk finds the damage, when it is a damaged member of a
/// file and the walk finds it.
pub(crate) fn explain(path: &Path, e: Error) -> Error {
    match e {
        Error::Corrupt {
            input,
            source,
            found: None,
        } => {
            let found = match &source {
                DecodeError::Corrupt { member, .. }
                | DecodeError::Crc { member, .. }
                | DecodeError::Length { member, .. } => locate(path, *member),
                _ => None,
            };
            Error::Corrupt {
                input,
                source,
                found,
            }
        }
        other => other,
    }
}

/// A sentence on where member `member` (from 1) of `path` breaks.
fn locate(path: &Path, member: u64) -> Option<String> {
    let file = File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    // Safety: mapped read-only and only read. A file truncated by another process
    // while this runs would fault; the same file changed in place gives a wrong
    // finding at worst. Mapped rather than read because the member may be terabytes
    // and the walk needs it whole; the kernel pages it in and out.
    let map = unsafe { Mmap::map(&file) }.ok()?;
    let mut start = 0usize;
    for m in 1..=member {
        let mut header = map.get(start..)?;
        let len = read_header(&mut header).ok()?.len as usize;
        let deflate_at = start + len;
        let deflate = &map[deflate_at..];
        if m == member {
            return finding(deflate, deflate_at as u64);
        }
        let end = last_block(deflate).ok()?.1.div_ceil(8) as usize;
        start = deflate_at + end + 8;
    }
    None
}

/// What the walk of one member's deflate data (at file offset `at`) shows.
fn finding(deflate: &[u8], at: u64) -> Option<String> {
    match last_block(deflate) {
        Ok((last, end_bit)) => {
            // The stream ends; if whole deflate blocks go on after it (from the next
            // byte, where the chunk after a final last block starts, or else from the
            // next sync marker), a final block came too early.
            let end = end_bit.div_ceil(8) as usize;
            let rest = deflate.get(end..)?;
            let resume = match last_block(rest) {
                Ok(_) => end,
                Err(_) => end + next_sync_marker(rest)?,
            };
            let rest_end = resume + last_block(&deflate[resume..]).ok()?.1.div_ceil(8) as usize;
            (rest_end + 8 <= deflate.len()).then(|| {
                format!(
                    "a final block at byte {} ends the deflate data early, and deflate blocks go on after it to byte {}: a chunk was written with its final bit set",
                    at + last.start_bit / 8,
                    at + rest_end as u64
                )
            })
        }
        Err(BlockError::NoFinal) => None,
        Err(e) => {
            let (bit, what) = match e {
                BlockError::Truncated(b) => (b, "the data ends inside a block"),
                BlockError::BadType(b) => (b, "a block of the invalid type 3"),
                BlockError::BadStoredLength(b) => (b, "a stored block whose length check fails"),
                BlockError::BadTable(b) => (b, "a block with an invalid Huffman table"),
                BlockError::BadCode(b) => (b, "a block with an invalid code"),
                BlockError::NoFinal => return None,
            };
            let byte = bit / 8;
            let sync = last_sync_marker(&deflate[..(byte as usize).min(deflate.len())]);
            Some(match sync {
                Some(end) => format!(
                    "the deflate blocks break at byte {} ({what}); they are whole up to the sync marker ending at byte {}, so the chunk after it is damaged or the one before ends without its sync marker",
                    at + byte,
                    at + end as u64
                ),
                None => format!(
                    "the deflate blocks break at byte {} ({what}), in the first chunk",
                    at + byte
                ),
            })
        }
    }
}

/// Where the first sync marker (`00 00 ff ff`) in `data` ends.
fn next_sync_marker(data: &[u8]) -> Option<usize> {
    data.windows(4)
        .position(|w| w == [0, 0, 0xff, 0xff])
        .map(|i| i + 4)
}

/// Where the last sync marker (`00 00 ff ff`) in `data` ends.
fn last_sync_marker(data: &[u8]) -> Option<usize> {
    data.windows(4)
        .rposition(|w| w == [0, 0, 0xff, 0xff])
        .map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gzfleet_worker::blocks::walk;
    use gzfleet_worker::engine::compress_chunk;

    fn chunks(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let data: Vec<u8> = (0..50_000u32)
                    .map(|j| (j.wrapping_mul(2654435761) >> (i + 3)) as u8 % 23 + b'a')
                    .collect();
                compress_chunk(&data, &[], 6).unwrap().deflate
            })
            .collect()
    }

    #[test]
    fn a_stray_final_bit_is_found_at_its_block() {
        let c = chunks(3);
        let mut stream = c[0].clone();
        // The second chunk's first block made final, the third after it as written.
        let second_at = stream.len();
        let mut second = c[1].clone();
        second[0] |= 1;
        stream.extend(&second);
        stream.extend(&c[2]);
        stream.extend([0x03, 0x00]);
        stream.extend([0u8; 8]);
        let found = finding(&stream, 100).unwrap();
        assert!(
            found.contains(&format!("final block at byte {}", 100 + second_at)),
            "{found}"
        );
        assert!(found.contains("final bit"), "{found}");
    }

    #[test]
    fn a_final_last_block_is_found_too() {
        let c = chunks(3);
        let mut second = c[1].clone();
        let mut closed = second.clone();
        closed.extend([0x03, 0x00]);
        // The sync marker's header, the block before the closing one, made final.
        let blocks = walk(&closed).unwrap().blocks;
        let marker = blocks[blocks.len() - 2].start_bit;
        second[(marker / 8) as usize] |= 1 << (marker % 8);
        let mut stream = c[0].clone();
        let second_at = stream.len() as u64;
        stream.extend(&second);
        stream.extend(&c[2]);
        stream.extend([0x03, 0x00]);
        stream.extend([0u8; 8]);
        let found = finding(&stream, 0).unwrap();
        assert!(
            found.contains(&format!("final block at byte {}", second_at + marker / 8)),
            "{found}"
        );
    }

    #[test]
    fn a_missing_sync_marker_is_found_after_the_last_whole_chunk() {
        let c = chunks(3);
        let mut stream = c[0].clone();
        let boundary = stream.len();
        // The second chunk loses its sync marker and the bits before it.
        stream.extend(&c[1][..c[1].len() - 5]);
        stream.extend(&c[2]);
        stream.extend([0x03, 0x00]);
        let found = finding(&stream, 0).expect("the walk finds it");
        assert!(
            found.contains(&format!("sync marker ending at byte {boundary}")),
            "{found}"
        );
    }

    #[test]
    fn a_whole_stream_gives_no_finding() {
        let mut stream = chunks(2).concat();
        stream.extend([0x03, 0x00]);
        stream.extend([0u8; 8]);
        assert_eq!(finding(&stream, 0), None);
    }
}
