//! A span inflated in one call by libdeflate, which is much faster than zlib's
//! streaming inflate but has no dictionary, no way to start mid-byte and no way to stop
//! at a block boundary. So only spans that start on a byte (`bits == 0`), end at a
//! point on a byte (`End::Point { bits: 0 }`) and fit in memory take this path, and
//! the span is made into a whole deflate stream of its own:
//!
//! ```text
//! [window as non-final stored blocks][the span's bytes][01 LEN NLEN][LEN random bytes]
//! ```
//!
//! The stream must inflate to exactly `window + len + LEN` bytes, consume every input
//! byte, and end with the random bytes. Anything else refuses the path, and the
//! streaming path (`span`) inflates the span again and gives its verdict (so a refusal
//! costs time, never correctness, and names nothing by itself).
//!
//! Why that is as strict as the streaming path's check (inflation ends right after an
//! end-of-block code at the point's byte and bit 0, not in the final block, with
//! exactly `len` bytes out). Up to the point's byte libdeflate reads the very bits
//! one-thread decoding reads, from the same proved start with the same history, so it
//! produces the same bytes; only its reading of the tail can differ.
//! - The output must end with the random bytes. Huffman codes and matches cannot turn
//!   random bytes back into themselves but by chance (each byte would have to read as
//!   itself: about 2^-128 for 32), so a stored block copied them. Its LEN and NLEN are
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
//! the output until its last piece is written; [`footprint`] is that sum, and the
//! caller only sends a span here when it is within its share of the budget.

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::inflate::WholeInflate;
use super::span::{End, Finished, PIECE, SpanError, Start};

/// The most a span may hold in memory to be inflated whole, whatever the budget.
pub(crate) const MAX_WHOLE: u64 = 64 << 20;
/// Random bytes in the final stored block.
const MARK: usize = 32;
/// The final stored block's header: BFINAL 1, type 0, then LEN and NLEN.
const TAIL: [u8; 5] = [0x01, MARK as u8, 0, !(MARK as u8), 0xFF];
/// Largest stored block.
const STORED: usize = 0xFFFF;

/// Bytes a span inflated whole holds at its peak (its stream and its output), or None
/// when it cannot be inflated whole (a bit offset, or the end of the stream).
pub(crate) fn footprint(start: Start, window: usize, len: u64, end: End) -> Option<u64> {
    let End::Point {
        compressed,
        bits: 0,
    } = end
    else {
        return None;
    };
    if start.bits != 0 || compressed < start.compressed {
        return None;
    }
    let header = window.div_ceil(STORED) as u64 * 5;
    let stream =
        header + window as u64 + (compressed - start.compressed) + (TAIL.len() + MARK) as u64;
    let output = window as u64 + len + MARK as u64;
    Some(stream.saturating_add(output))
}

/// Inflates the span whole and hands its output to `emit` in pieces, once checked.
/// Ok(None): refused (see the module's doc); nothing was emitted.
pub(crate) fn inflate(
    gz: &File,
    start: Start,
    window: &[u8],
    len: u64,
    end: End,
    emit: &mut dyn FnMut(Bytes) -> bool,
) -> Result<Option<Finished>, SpanError> {
    let End::Point { compressed: at, .. } = end else {
        return Ok(None);
    };
    let Some(out) = inflate_checked(gz, start, window, len, at) else {
        return Ok(None);
    };
    let out = Bytes::from(out).slice(window.len()..);
    let crc = crc32fast::hash(&out);
    let mut from = 0;
    while from < out.len() {
        let to = (from + PIECE).min(out.len());
        if !emit(out.slice(from..to)) {
            return Err(SpanError::Cancelled);
        }
        from = to;
    }
    Ok(Some(Finished {
        crc,
        len,
        end: at,
        whole: true,
    }))
}

/// The window and the span's output, or None when any check fails.
fn inflate_checked(gz: &File, start: Start, window: &[u8], len: u64, end: u64) -> Option<Vec<u8>> {
    let span = usize::try_from(end.checked_sub(start.compressed)?).ok()?;
    let len = usize::try_from(len).ok()?;
    let mark = random_mark();
    let mut stream = Vec::with_capacity(
        window.len().div_ceil(STORED) * 5 + window.len() + span + TAIL.len() + MARK,
    );
    for block in window.chunks(STORED) {
        let n = block.len() as u16;
        stream.push(0);
        stream.extend_from_slice(&n.to_le_bytes());
        stream.extend_from_slice(&(!n).to_le_bytes());
        stream.extend_from_slice(block);
    }
    let from = stream.len();
    stream.resize(from + span, 0);
    // A short or failed read: the streaming path reads again and says what is wrong.
    gz.read_exact_at(&mut stream[from..], start.compressed)
        .ok()?;
    stream.extend_from_slice(&TAIL);
    stream.extend_from_slice(&mark);

    let data = window.len() + len;
    let mut out = Vec::with_capacity(data + MARK);
    let (consumed, produced) = WholeInflate::new().run(&stream, &mut out)?;
    drop(stream);
    let swallowed = len >= TAIL.len() && out[data - TAIL.len()..data] == TAIL;
    if consumed != from + span + TAIL.len() + MARK
        || produced != data + MARK
        || out[data..] != mark
        || swallowed
    {
        return None;
    }
    out.truncate(data);
    Some(out)
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
