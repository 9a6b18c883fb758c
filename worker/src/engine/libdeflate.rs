//! The libdeflate engine: whole-buffer compression, smaller and faster than zlib's at
//! the same level, and levels 10-12 beyond zlib's 9. It has neither a flush nor a
//! dictionary, so its chunks are independent, and each ends with a final block:
//! [`crate::blocks::end_open`] clears that block's BFINAL bit and appends a sync
//! marker, which is what makes the chunks concatenable.

use std::cell::RefCell;

use libdeflater::{CompressionLvl, Compressor};

use super::EngineError;
use crate::blocks;

/// libdeflate's levels: 0 (stored) to 12.
pub(super) const LEVELS: std::ops::RangeInclusive<u32> = 0..=12;

thread_local! {
    /// One compressor per level per thread: libdeflate allocates its match finder
    /// (up to a few hundred KiB at the high levels) per compressor, and a compressor
    /// keeps no state from one call to the next (each call is a whole stream), so
    /// reusing it cannot change the bytes. Tests check that anyway.
    static COMPRESSORS: RefCell<Vec<Option<Compressor>>> = const { RefCell::new(Vec::new()) };
}

/// Raw deflate of `data`, ended open and byte-aligned with a sync marker.
pub(super) fn deflate(data: &[u8], level: u32) -> Result<Vec<u8>, EngineError> {
    let lvl = CompressionLvl::new(level as i32).map_err(|_| EngineError::Level {
        engine: "libdeflate",
        level,
        levels: LEVELS,
    })?;
    let mut out = COMPRESSORS.with_borrow_mut(|compressors| {
        if compressors.len() <= level as usize {
            compressors.resize_with(level as usize + 1, || None);
        }
        let compressor = compressors[level as usize].get_or_insert_with(|| Compressor::new(lvl));
        // The bound covers incompressible input (stored blocks); the surgery below adds
        // at most 5 bytes (and may grow the vector if it must).
        let mut out = vec![0u8; compressor.deflate_compress_bound(data.len()) + 8];
        let n = compressor
            .deflate_compress(data, &mut out)
            .map_err(|e| EngineError::Deflate(format!("libdeflate: {e}")))?;
        out.truncate(n);
        Ok::<_, EngineError>(out)
    })?;
    blocks::end_open(&mut out).map_err(|e| {
        EngineError::Deflate(format!("libdeflate's output did not walk as deflate: {e}"))
    })?;
    // The bound is for incompressible input; a chunk waiting its turn in the
    // coordinator's window should hold what it compressed to, not the bound.
    out.shrink_to_fit();
    Ok(out)
}
