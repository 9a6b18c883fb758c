//! Inflation that stops at every deflate block boundary and says where it stopped, to
//! the bit: zlib's `Z_BLOCK` flush and `data_type` (zran.c's technique, which gztool
//! uses). Neither flate2 nor zlib-rs's safe API exposes them, so this wraps zlib-rs's
//! C interface (libz-rs-sys, the same Rust code flate2 runs on) behind a safe type.
//!
//! The alternative, the worker's own block walker (`gzfleet_worker::blocks::walk`),
//! finds block starts without inflating, but needs the whole deflate stream as one
//! slice and checks no CRC; inflating here costs one pass and leaves zlib to check
//! every member's CRC-32 and length, with memory bounded by the caller's buffers.

use std::ffi::CStr;

use libz_rs_sys::{
    Z_BLOCK, Z_BUF_ERROR, Z_OK, Z_STREAM_END, inflate, inflateEnd, inflateInit2_, inflateReset,
    z_stream, zlibVersion,
};

/// zlib's `data_type` bit: stopped at a block boundary.
const AT_BOUNDARY: i32 = 128;
/// zlib's `data_type` bit: the block just ended was the member's last.
const AFTER_LAST: i32 = 64;
/// `windowBits` for gzip headers and trailers checked by zlib (15 + 16).
const GZIP: i32 = 31;

/// Where one call stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub consumed: usize,
    pub produced: usize,
    /// The member's end (trailer checked).
    pub member_end: bool,
    /// At a block boundary other than after a member's last block: a point may go
    /// here, `bits` bits before the next unread byte.
    pub boundary: Option<u8>,
}

/// A gzip inflater; one member at a time ([`BlockInflater::next_member`]).
pub(crate) struct BlockInflater {
    /// Boxed: zlib's state points back at its stream, which must not move.
    stream: Box<z_stream>,
}

impl BlockInflater {
    pub fn new() -> Result<Self, String> {
        let mut stream = Box::new(z_stream::default());
        // SAFETY: `stream` is a valid, default-initialized z_stream (allocators set by
        // Default), the version string comes from the library itself, and the size is
        // the size of the struct passed.
        let ret = unsafe {
            inflateInit2_(
                &mut *stream,
                GZIP,
                zlibVersion(),
                size_of::<z_stream>() as i32,
            )
        };
        match ret {
            Z_OK => Ok(BlockInflater { stream }),
            code => Err(format!("cannot start zlib's inflater (code {code})")),
        }
    }

    /// Starts the next member (after [`Step::member_end`]).
    pub fn next_member(&mut self) {
        // SAFETY: the stream was initialized in `new` and is not ended before drop.
        unsafe { inflateReset(&mut *self.stream) };
    }

    /// Inflates from `input` into `output` up to the next block boundary, the member's
    /// end, or until one of them is used up.
    pub fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<Step, String> {
        let s = &mut *self.stream;
        s.next_in = input.as_ptr();
        s.avail_in = u32::try_from(input.len()).unwrap_or(u32::MAX);
        s.next_out = output.as_mut_ptr();
        s.avail_out = u32::try_from(output.len()).unwrap_or(u32::MAX);
        let (avail_in, avail_out) = (s.avail_in, s.avail_out);
        // SAFETY: next_in/avail_in and next_out/avail_out describe the live slices
        // borrowed for this call; the stream was initialized in `new`.
        let ret = unsafe { inflate(s, Z_BLOCK) };
        let consumed = (avail_in - s.avail_in) as usize;
        let produced = (avail_out - s.avail_out) as usize;
        // Nothing may keep pointing at the borrowed slices.
        s.next_in = std::ptr::null();
        s.next_out = std::ptr::null_mut();
        match ret {
            Z_OK | Z_BUF_ERROR => {
                let t = s.data_type;
                let boundary =
                    (t & AT_BOUNDARY != 0 && t & AFTER_LAST == 0).then_some((t & 7) as u8);
                Ok(Step {
                    consumed,
                    produced,
                    member_end: false,
                    boundary,
                })
            }
            Z_STREAM_END => Ok(Step {
                consumed,
                produced,
                member_end: true,
                boundary: None,
            }),
            code => Err(self.message(code)),
        }
    }

    fn message(&self, code: i32) -> String {
        if self.stream.msg.is_null() {
            return format!("zlib error {code}");
        }
        // SAFETY: zlib's messages are static NUL-terminated strings.
        unsafe { CStr::from_ptr(self.stream.msg) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for BlockInflater {
    fn drop(&mut self) {
        // SAFETY: initialized in `new`, ended once here.
        unsafe { inflateEnd(&mut *self.stream) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn stops_at_block_boundaries_and_checks_the_member() {
        // Letters from an LCG: compressible, but enough symbols for several blocks.
        let mut x = 1u32;
        let data: Vec<u8> = (0..400_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                b'a' + (x >> 16) as u8 % 16
            })
            .collect();
        let gz = gzip(&data);
        let mut inflater = BlockInflater::new().unwrap();
        let (mut at, mut out, mut boundaries) = (0, Vec::new(), 0);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let step = inflater.step(&gz[at..], &mut buf).unwrap();
            at += step.consumed;
            out.extend_from_slice(&buf[..step.produced]);
            boundaries += usize::from(step.boundary.is_some());
            if step.member_end {
                break;
            }
        }
        assert_eq!(out, data);
        assert_eq!(at, gz.len());
        assert!(boundaries >= 2, "the header's end and at least one block");
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 6] ^= 1;
        let mut inflater = BlockInflater::new().unwrap();
        let mut at = 0;
        let e = loop {
            match inflater.step(&bad[at..], &mut buf) {
                Ok(step) if step.member_end => panic!("a bad CRC passed"),
                Ok(step) => at += step.consumed,
                Err(e) => break e,
            }
        };
        assert!(e.contains("check"), "{e}");
    }
}
