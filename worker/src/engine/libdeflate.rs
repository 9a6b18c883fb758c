//! The libdeflate engine: whole-buffer compression, smaller and faster than zlib's at
//! the same level, and levels 10-12 beyond zlib's 9. It has no dictionary, so its
//! chunks are independent. Stock libdeflate ends every output with a final block;
//! gzfleet builds its own copy of libdeflate's compressor (`worker/libdeflate`,
//! patched: see its PATCH.md) whose `gzfleet_deflate_compress_open` marks no block
//! final and ends with a sync marker, which is what makes the chunks concatenable.
//! Its bytes are stock libdeflate's with [`crate::blocks::end_open`] applied (the
//! tests hold it to that), without decoding the output again to find the last block.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

use super::EngineError;

/// libdeflate's levels: 0 (stored) to 12.
pub(super) const LEVELS: std::ops::RangeInclusive<u32> = 0..=12;

/// What `gzfleet_deflate_compress_open` needs beyond libdeflate's own bound: the
/// sync marker and the partial byte before it.
const OPEN_END: usize = 6;

// The vendored compressor, built by build.rs with its symbols renamed gzfleet_ld_*.
unsafe extern "C" {
    fn gzfleet_ld_alloc_compressor(level: c_int) -> *mut c_void;
    fn gzfleet_ld_free_compressor(c: *mut c_void);
    fn gzfleet_ld_deflate_compress_bound(c: *mut c_void, in_nbytes: usize) -> usize;
    fn gzfleet_deflate_compress_open(
        c: *mut c_void,
        input: *const u8,
        in_nbytes: usize,
        out: *mut u8,
        out_nbytes_avail: usize,
    ) -> usize;
}

/// One libdeflate compressor, owned.
struct Compressor(NonNull<c_void>);

impl Compressor {
    fn new(level: u32) -> Result<Self, EngineError> {
        // SAFETY: any level in LEVELS is valid; NULL means out of memory.
        let c = unsafe { gzfleet_ld_alloc_compressor(level as c_int) };
        NonNull::new(c)
            .map(Compressor)
            .ok_or_else(|| EngineError::Deflate("libdeflate: cannot allocate a compressor".into()))
    }

    fn deflate_open(&mut self, data: &[u8]) -> Result<Vec<u8>, EngineError> {
        // SAFETY: the compressor is live; the bound only reads it.
        let bound = unsafe { gzfleet_ld_deflate_compress_bound(self.0.as_ptr(), data.len()) };
        let mut out = Vec::<u8>::with_capacity(bound + OPEN_END);
        // SAFETY: libdeflate reads `data` and writes at most `capacity` bytes into
        // `out`'s spare capacity, returning how many (0: too small, which the bound
        // rules out). Only those bytes are then taken as initialised.
        let n = unsafe {
            gzfleet_deflate_compress_open(
                self.0.as_ptr(),
                data.as_ptr(),
                data.len(),
                out.as_mut_ptr(),
                out.capacity(),
            )
        };
        if n == 0 {
            return Err(EngineError::Deflate(
                "libdeflate: the output outgrew its bound".into(),
            ));
        }
        // SAFETY: see above; n <= capacity.
        unsafe { out.set_len(n) };
        Ok(out)
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: allocated by gzfleet_ld_alloc_compressor, freed once.
        unsafe { gzfleet_ld_free_compressor(self.0.as_ptr()) }
    }
}

thread_local! {
    /// One compressor per level per thread: libdeflate allocates its match finder
    /// (up to a few hundred KiB at the high levels) per compressor, and a compressor
    /// keeps no state from one call to the next (each call is a whole stream), so
    /// reusing it cannot change the bytes. Tests check that anyway.
    static COMPRESSORS: RefCell<Vec<Option<Compressor>>> = const { RefCell::new(Vec::new()) };
}

/// Raw deflate of `data`, ended open and byte-aligned with a sync marker.
pub(super) fn deflate(data: &[u8], level: u32) -> Result<Vec<u8>, EngineError> {
    if !LEVELS.contains(&level) {
        return Err(EngineError::Level {
            engine: "libdeflate",
            level,
            levels: LEVELS,
        });
    }
    let mut out = COMPRESSORS.with_borrow_mut(|compressors| {
        if compressors.len() <= level as usize {
            compressors.resize_with(level as usize + 1, || None);
        }
        let slot = &mut compressors[level as usize];
        if slot.is_none() {
            *slot = Some(Compressor::new(level)?);
        }
        slot.as_mut().expect("just filled").deflate_open(data)
    })?;
    // The bound is for incompressible input; a chunk waiting its turn in the
    // coordinator's window should hold what it compressed to, not the bound.
    out.shrink_to_fit();
    Ok(out)
}
