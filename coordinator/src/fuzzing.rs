//! Entry points for the fuzz targets in fuzz/ (`fuzz/run.sh`), and nothing else: the
//! reading path `gzfleet test` and `list` take, the decoder `decompress` writes
//! through (the old formats' decoders too), and the checks every worker answer passes. Not an API: hidden from the
//! docs, free to change with the targets, and kept to plain types so the targets need
//! none of the crate's internals.

use std::io::{Read, Write};

use bytes::Bytes;
use gzfleet_worker::engine::Engine;

use crate::compress::check::{self, Checks};
use crate::compress::chunker::{Chunk, Payload};
use crate::error::Place;
use crate::fleet::Answer;
use crate::gzip::{Decoded, Options, decode, decode_with};
use crate::reading::check as check_input;

/// What a gzip stream held, as the reading side found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub members: u64,
    /// Bytes of gzip data, without what follows the last member.
    pub compressed: u64,
    pub uncompressed: u64,
    pub crc: u32,
    pub trailing_zeros: u64,
    pub trailing_garbage: u64,
    /// Members in another format than gzip's (.Z, pack, zip), which flate2 cannot
    /// read; and bytes passed through unchanged.
    pub foreign: u64,
    pub passed: u64,
}

impl From<Decoded> for Stream {
    fn from(d: Decoded) -> Stream {
        Stream {
            members: d.members,
            compressed: d.compressed,
            uncompressed: d.uncompressed,
            crc: d.crc,
            trailing_zeros: d.trailing_zeros,
            trailing_garbage: d.trailing_garbage,
            foreign: d.foreign,
            passed: d.passed,
        }
    }
}

/// A reader of `rest` that returns at most `step` bytes a read, so buffer edges fall
/// anywhere: the reading targets compare its verdicts with whole reads'.
pub struct Dribble<'a> {
    pub rest: &'a [u8],
    pub step: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.step).min(self.rest.len());
        out[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// A verdict without what legitimately depends on how reads are cut: for invalid
/// deflate data, how far the inflater had read ahead (its fast path takes whole
/// buffers) and so which check caught it and whether zlib-rs's words survive (see
/// `gzip::member::reason`). Which member it is in may not change.
pub fn invariant(message: &str) -> &str {
    match message.find(" near byte ") {
        Some(at) if message.contains("invalid compressed data in member") => &message[..at],
        _ => message,
    }
}

/// `gzfleet test` and `list` on `input`: what they found, or the line they would print.
pub fn test(input: impl Read) -> Result<Stream, String> {
    check_input(input, Place::Stdin)
        .map(Stream::from)
        .map_err(|e| e.to_string())
}

/// `gzfleet decompress`'s decoder: every member's data written to `output`.
pub fn decompress(input: impl Read, output: &mut impl Write) -> Result<Stream, String> {
    decode(input, output)
        .map(Stream::from)
        .map_err(|e| e.to_string())
}

/// As [`decompress`], copying what is not compressed unchanged when `passthrough`
/// (gzip -cdf): the decoder as `decompress -cf` runs it, old formats included.
pub fn decompress_with(
    input: impl Read,
    output: &mut impl Write,
    passthrough: bool,
) -> Result<Stream, String> {
    decode_with(input, output, Options { passthrough })
        .map(Stream::from)
        .map_err(|e| e.to_string())
}

/// A chunk in hand (push mode) and a worker's answer for it.
#[derive(Debug, Clone)]
pub struct ChunkAnswer<'a> {
    pub data: &'a [u8],
    /// The 32 KiB before the chunk (empty: first chunk, or -i).
    pub dictionary: &'a [u8],
    /// Whether the coordinator computed the chunk's CRC (it does when answers come from
    /// other processes).
    pub crc_known: bool,
    pub deflate: &'a [u8],
    pub crc32: u32,
    pub input_len: u64,
    /// --verify.
    pub verify: bool,
}

/// The coordinator's checks of a worker's answer: Ok if it would be written.
pub fn check_answer(a: &ChunkAnswer) -> Result<(), String> {
    let chunk = Chunk {
        seq: 0,
        index: 0,
        offset: 0,
        len: a.data.len() as u64,
        payload: Payload::Bytes {
            data: Bytes::copy_from_slice(a.data),
            dictionary: Bytes::copy_from_slice(a.dictionary),
            crc32: a.crc_known.then(|| crc32fast::hash(a.data)),
        },
    };
    let answer = Answer {
        deflate: Bytes::copy_from_slice(a.deflate),
        crc32: a.crc32,
        input_len: a.input_len,
        engine: Engine::ZlibRs.id().into(),
        window: Bytes::new(),
        held: None,
        received: 0,
    };
    let checks = Checks {
        engine: Engine::ZlibRs,
        verify: a.verify,
        independent: a.dictionary.is_empty(),
        window: false,
    };
    check::answer(&chunk, answer, checks)
        .map(drop)
        .map_err(|e| e.to_string())
}
