//! The coordinator's checks of a worker's answer (compress/check.rs), against a chunk
//! it knows. They must never panic; an honest answer must pass; and an answer that
//! passes must be what it claims: its length and (when known) its CRC-32 the chunk's,
//! ending in a sync flush, and with --verify, stitched into a stream after the 32 KiB
//! before it, inflating to exactly the chunk and leaving the stream open for what
//! follows. That last oracle is independent of check.rs: one inflate of a whole
//! deflate stream, the dictionary in it as data, no preset dictionary.
//!
//! Input, little-endian:
//!   flags (1 byte): bit 0 --verify; bit 1 the coordinator knows the CRC; bit 2 the
//!     answer's CRC is arbitrary (4 bytes follow), bit 3 its length is (2 bytes follow:
//!     an offset from the chunk's length, less 32768); bits 4-5 how the deflate data
//!     is made: 0 the honest answer with edits, 1 arbitrary bytes, 2 arbitrary bytes
//!     with a sync flush appended, 3 a prefix of the honest answer, then arbitrary
//!     bytes and a sync flush;
//!   level (1 byte, mod 10); chunk length (2); dictionary length (2, at most 32 KiB);
//!   the arbitrary CRC and length if flagged; the chunk; the dictionary; the rest,
//!   used as bit 4-5 say (mode 0: 3-byte edits, a position (2) and a byte to XOR).

#![no_main]

use flate2::{Decompress, FlushDecompress, Status};
use gzfleet_coordinator::fuzzing::{self, ChunkAnswer};
use gzfleet_worker::engine::compress_chunk;
use libfuzzer_sys::fuzz_target;

const SYNC_FLUSH: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
const MAX_DICTIONARY: usize = 32 << 10;

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2).try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4).try_into().ok()?))
    }
    fn byte(&mut self) -> Option<u8> {
        self.take(1).first().copied()
    }
}

fuzz_target!(|input: &[u8]| {
    let _ = one(input);
});

fn one(input: &[u8]) -> Option<()> {
    let mut c = Cursor(input);
    let flags = c.byte()?;
    let level = u32::from(c.byte()? % 10);
    let data_len = c.u16()? as usize;
    let dict_len = c.u16()? as usize % (MAX_DICTIONARY + 1);
    let verify = flags & 1 != 0;
    let crc_known = flags & 2 != 0;
    let crc = if flags & 4 != 0 { Some(c.u32()?) } else { None };
    let len = if flags & 8 != 0 {
        Some(c.u16()? as i64 - 32768)
    } else {
        None
    };
    let data = c.take(data_len);
    // Chunks are never empty (the chunker makes none).
    if data.is_empty() {
        return None;
    }
    let dictionary = c.take(dict_len);
    let rest = c.0;

    let honest = compress_chunk(data, dictionary, level).expect("the engine compresses");
    let deflate: Vec<u8> = match (flags >> 4) & 3 {
        0 => {
            let mut d = honest.deflate.to_vec();
            for edit in rest.chunks_exact(3) {
                let at = u16::from_le_bytes([edit[0], edit[1]]) as usize % d.len();
                d[at] ^= edit[2];
            }
            d
        }
        1 => rest.to_vec(),
        2 => [rest, &SYNC_FLUSH].concat(),
        _ => {
            let mut r = Cursor(rest);
            let keep = r.u16().unwrap_or(0) as usize % (honest.deflate.len() + 1);
            [&honest.deflate[..keep], r.0, &SYNC_FLUSH].concat()
        }
    };
    let answer = ChunkAnswer {
        data,
        dictionary,
        crc_known,
        deflate: &deflate,
        crc32: crc.unwrap_or(honest.crc32),
        input_len: len.map_or(honest.input_len, |d| (data.len() as i64 + d).max(0) as u64),
        verify,
    };
    let verdict = fuzzing::check_answer(&answer);

    if deflate == honest.deflate && crc.is_none() && len.is_none() {
        assert_eq!(verdict, Ok(()), "an honest answer was refused");
    }
    if verdict.is_err() {
        return Some(());
    }
    assert_eq!(
        answer.input_len,
        data.len() as u64,
        "accepted a wrong length"
    );
    if crc_known || verify {
        assert_eq!(answer.crc32, crc32fast::hash(data), "accepted a wrong CRC");
    }
    assert!(
        deflate.ends_with(&SYNC_FLUSH),
        "accepted an answer without a sync flush"
    );
    if verify {
        assert_eq!(
            stitched(dictionary, &deflate, data.len()).as_deref(),
            Some(data),
            "--verify accepted an answer that does not stitch in as the chunk"
        );
    }
    Some(())
}

/// What a decoder makes of the answer in its place in a stream: the dictionary as a
/// stored block, the answer, and an empty final block. The chunk's bytes if that is a
/// whole, valid deflate stream giving the dictionary and then them; None otherwise.
fn stitched(dictionary: &[u8], deflate: &[u8], expected: usize) -> Option<Vec<u8>> {
    let mut stream = Vec::new();
    if !dictionary.is_empty() {
        let n = dictionary.len() as u16;
        stream.push(0x00); // BFINAL 0, stored; the rest of the byte is padding
        stream.extend_from_slice(&n.to_le_bytes());
        stream.extend_from_slice(&(!n).to_le_bytes());
        stream.extend_from_slice(dictionary);
    }
    stream.extend_from_slice(deflate);
    stream.extend_from_slice(&[0x03, 0x00]);
    // Not flate2's read::DeflateDecoder: it takes a stream that stops short for one
    // that ended. Here the end must be seen.
    let limit = dictionary.len() + expected + (1 << 20);
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity(dictionary.len() + expected + 1);
    loop {
        let from = inflater.total_in() as usize;
        let status = inflater
            .decompress_vec(&stream[from..], &mut out, FlushDecompress::Finish)
            .ok()?;
        match status {
            Status::StreamEnd => break,
            _ if out.len() == out.capacity() && out.len() < limit => out.reserve(64 << 10),
            _ => return None, // the input ran out before the final block ended
        }
    }
    if inflater.total_in() != stream.len() as u64 {
        return None; // the stream ended inside the answer
    }
    out.strip_prefix(dictionary).map(<[u8]>::to_vec)
}
