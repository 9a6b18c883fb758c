//! A span inflated in one call by libdeflate, which is much faster than zlib's
//! streaming inflate but has no dictionary, no way to start mid-byte and no way to stop
//! at a block boundary. So only spans that start on a byte (`bits == 0`), end at a
//! point on a byte (`End::Point { bits: 0 }`) or with the stream, and fit in memory
//! take this path, and the span is made into a whole deflate stream of its own:
//!
//! ```text
//! [window as non-final stored blocks][the span's bytes][01 LEN NLEN][LEN random bytes]
//! ```
//!
//! The stream must inflate to exactly `window + len + LEN` bytes, consume every input
//! byte, and end with the random bytes. The last span, which ends with the deflate
//! stream, needs no tail: its bytes are taken up to where the trailer must start, and
//! the stream's own final block must end exactly there with exactly `window + len`
//! bytes out, which is all the streaming path proves of it. Anything else refuses the
//! path, and the streaming path (`span`) inflates the span again and gives its verdict
//! (so a refusal costs time, never correctness, and names nothing by itself).
//!
//! Why that is as strict as the streaming path's check (inflation ends right after an
//! end-of-block code at the point's byte and bit 0, not in the final block, with
//! exactly `len` bytes out). Up to the point's byte libdeflate reads the very bits
//! one-thread decoding reads, from the same proved start with the same history, so it
//! produces the same bytes; only its reading of the tail can differ.
//! - The output must end with the random bytes. Huffman codes and matches cannot turn
//!   random bytes back into themselves but by chance (a table would have to read each
//!   byte as itself: about 2^-128 for 32 bytes), so a stored block copied them. Its LEN and NLEN are
//!   the 4 bytes before its data. If its data starts at the random bytes, they are
//!   ours, and a final stored header fits before them only at the tail's first bit (a
//!   header crossing from the span's last byte has a Huffman type): a block starts
//!   there only if the previous one ended exactly at the point. If its data starts
//!   inside our 5 header bytes, the 4 bytes before are no LEN/NLEN pair of the right
//!   length. If it starts before them, it copies them too, so the span's last 5 bytes
//!   would be the header's: refused (real data that ends so is merely inflated again
//!   by the streaming path).
//! - A fixed tail would not do: data made for it (a final block of the real stream
//!   around the point, whose table or stored length swallows the tail exactly) would
//!   pass with bytes that are not the file's. Hence a new random tail for each span.
//! - With the final stored block read at the point, the count proves exactly `len`
//!   bytes came before it; a final block of the real stream ending at or before the
//!   point would stop libdeflate with the tail unread: refused.
//!
//! What stays guarded elsewhere, as for the streaming path: the window's truth
//! (`parallel` compares it with the bytes written before it), and the data itself
//! (the CRC-32 of all spans against the trailer).
//!
//! Memory: the compressed bytes and the output are both held while libdeflate runs,
//! the output until its last piece is written; [`Whole::footprint`] is that sum, and the
//! caller only sends a span here when it is within its share of the budget. Both
//! buffers are used again ([`Scratch`]): new memory costs the kernel a zeroed page for
//! every 4 KiB written.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::sync::Arc;

use bytes::Bytes;

use super::buffers::Buffers;
use super::inflate::{WholeInflate, read_at_into};
use super::span::{End, Finished, SpanError, Start};

/// The most a span may hold in memory to be inflated whole, whatever the budget.
pub(crate) const MAX_WHOLE: u64 = 64 << 20;
/// Random bytes in the final stored block.
const MARK: usize = 32;
/// The final stored block's header: BFINAL 1, type 0, then LEN and NLEN.
const TAIL: [u8; 5] = [0x01, MARK as u8, 0, !(MARK as u8), 0xFF];
/// Largest stored block.
const STORED: usize = 0xFFFF;

/// How a span can be inflated whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Whole {
    /// Offset in the .gz just after the span's bytes.
    to: u64,
    /// Closed by the random tail (at a point); else the stream's own final block must
    /// end exactly at `to`, where the trailer starts.
    tail: bool,
    /// Bytes held at the peak: the stream built and the output.
    pub footprint: u64,
}

/// How the span can be inflated whole, or None when it cannot (a bit offset). The last
/// span's bytes end where the trailer's 8 begin, before `gz_len`.
pub(crate) fn plan(start: Start, window: usize, len: u64, end: End, gz_len: u64) -> Option<Whole> {
    let (to, tail) = match end {
        End::Point {
            compressed,
            bits: 0,
        } => (compressed, true),
        End::Point { .. } => return None,
        End::Stream => (gz_len.checked_sub(8)?, false),
    };
    if start.bits != 0 {
        return None;
    }
    let (added, mark) = match tail {
        true => ((TAIL.len() + MARK) as u64, MARK as u64),
        false => (0, 0),
    };
    let window = window as u64;
    let stream = window.div_ceil(STORED as u64) * 5 + window + added;
    let stream = stream.checked_add(to.checked_sub(start.compressed)?)?;
    // An index may claim any length: one that overflows is no span to hold whole.
    let output = window.checked_add(len)?.checked_add(mark)?;
    Some(Whole {
        to,
        tail,
        footprint: stream.checked_add(output)?,
    })
}

/// One thread's means to inflate spans whole, kept from span to span: libdeflate's
/// decompressor, the buffer each span's stream is built in, and the pool its output
/// comes from (it returns there once written).
pub(crate) struct Scratch {
    lib: WholeInflate,
    stream: Vec<u8>,
    out: Arc<Buffers>,
}

impl Scratch {
    pub fn new(out: Arc<Buffers>) -> Scratch {
        Scratch {
            lib: WholeInflate::new(),
            stream: Vec::new(),
            out,
        }
    }

    /// The pool whole spans' outputs come from.
    pub fn buffers(&self) -> &Arc<Buffers> {
        &self.out
    }

    /// Inflates the span whole and hands its output to `emit` in one piece, once checked.
    /// Ok(None): refused (see the module's doc); nothing was emitted.
    pub fn inflate(
        &mut self,
        gz: &File,
        start: Start,
        window: &[u8],
        len: u64,
        how: Whole,
        emit: &mut dyn FnMut(Bytes) -> bool,
    ) -> Result<Option<Finished>, SpanError> {
        let Some(out) = self.inflate_checked(gz, start, window, len, how) else {
            return Ok(None);
        };
        let out = self.out.share(out).slice(window.len()..);
        let crc = crc32fast::hash(&out);
        // In one piece: it is all in memory already, and handing it on in 256 KiB
        // pieces woke the writer 64 times a span (6,000 context switches a GiB).
        if !out.is_empty() && !emit(out) {
            return Err(SpanError::Cancelled);
        }
        Ok(Some(Finished {
            crc,
            len,
            end: how.to,
            whole: true,
        }))
    }

    /// The window and the span's output, or None when any check fails.
    fn inflate_checked(
        &mut self,
        gz: &File,
        start: Start,
        window: &[u8],
        len: u64,
        how: Whole,
    ) -> Option<Vec<u8>> {
        let span = usize::try_from(how.to.checked_sub(start.compressed)?).ok()?;
        let len = usize::try_from(len).ok()?;
        let (mark, added) = match how.tail {
            true => (random_mark(), MARK),
            false => ([0; MARK], 0),
        };
        let need = window.len().div_ceil(STORED) * 5 + window.len() + span + TAIL.len() + MARK;
        let stream = &mut self.stream;
        stream.clear();
        if stream.capacity() < need {
            // Spans differ a little in compressed size: growing by the byte would copy
            // and fault in a new buffer for many of them.
            *stream = Vec::with_capacity(need + need / 8);
        }
        for block in window.chunks(STORED) {
            let n = block.len() as u16;
            stream.push(0);
            stream.extend_from_slice(&n.to_le_bytes());
            stream.extend_from_slice(&(!n).to_le_bytes());
            stream.extend_from_slice(block);
        }
        // A short or failed read: the streaming path reads again and says what is wrong.
        read_at_into(gz, stream, span, start.compressed).ok()?;
        if how.tail {
            stream.extend_from_slice(&TAIL);
            stream.extend_from_slice(&mark);
        }

        let data = window.len().checked_add(len)?;
        let mut out = self.out.take(data + added);
        let checked = (|| {
            let (consumed, produced) = self.lib.run(stream, &mut out)?;
            // libdeflate stops at any final block, with input left and fewer bytes out
            // (a stale index's start can decode as one): the counts first, then the
            // bytes they bound.
            if consumed != stream.len() || produced != data + added || out.len() != produced {
                return None;
            }
            let swallowed = how.tail && len >= TAIL.len() && out[data - TAIL.len()..data] == TAIL;
            (out[data..] == mark[..added] && !swallowed).then_some(())
        })();
        match checked {
            Some(()) => {
                out.truncate(data);
                Some(out)
            }
            // Refused: the buffer serves the next span (cleared when taken).
            None => {
                self.out.give_back(out);
                None
            }
        }
    }
}

/// Bytes no one can know before this run: std's hasher keys come from the OS's
/// random source (per thread, then varied for each `RandomState`).
fn random_mark() -> [u8; MARK] {
    let keys = RandomState::new();
    let mut mark = [0u8; MARK];
    for (i, word) in mark.chunks_mut(8).enumerate() {
        word.copy_from_slice(&keys.hash_one(i).to_le_bytes());
    }
    mark
}

#[cfg(test)]
#[path = "whole_tests.rs"]
mod tests;
