//! The libdeflate engine: whole-buffer compression, smaller and faster than zlib's at
//! the same level, and levels 10-12 beyond zlib's 9. Stock libdeflate has neither
//! dictionary nor flush; gzfleet builds its own copy of libdeflate's compressor
//! (`worker/libdeflate`, patched: see its PATCH.md) whose
//! `gzfleet_deflate_compress_primed` loads the matchfinder with the 32 KiB before the
//! chunk (zlib's deflateSetDictionary), marks no block final and ends with a sync
//! marker, which is what makes the chunks concatenable. Without a dictionary its bytes
//! are stock libdeflate's with [`crate::blocks::end_open`] applied (the tests hold it
//! to that). gzfleet's levels are rungs of its own ladder ([`LADDER`]) onto
//! libdeflate's levels and search settings.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

use super::EngineError;

/// libdeflate's levels: 0 (stored) to 12.
pub(super) const LEVELS: std::ops::RangeInclusive<u32> = 0..=12;

/// One rung of gzfleet's level ladder: the libdeflate level whose parser it runs, and
/// that parser's search settings where they differ from the level's own (0 keeps
/// them): how many candidate matches to visit, the match length that ends the search,
/// and (near-optimal parser, levels 10-12) the optimization passes per block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rung {
    pub libdeflate: u32,
    pub depth: u32,
    pub nice: u32,
    pub passes: u32,
}

const fn stock(libdeflate: u32) -> Rung {
    Rung {
        libdeflate,
        depth: 0,
        nice: 0,
        passes: 0,
    }
}

/// gzfleet's levels 0-12 (bench/frontier.sh measured them against pigz, crabz and
/// gzippy; README, "Engines"). 0-9 and 12 are libdeflate's own levels. 10 is a
/// cheaper near-optimal parse than any of libdeflate's (its level 10 with one
/// optimization pass per block instead of two: 1.3x the speed for 0.3% more output),
/// filling the gap between the lazy 9 and the near-optimal parses; 11 is libdeflate's
/// 10. libdeflate's 11 is left out: on the bench corpus it gave 0.03% more than 12 at
/// 1.3x 12's speed, where 10 gives 0.15% more at 2x.
pub(super) const LADDER: [Rung; 13] = [
    stock(0),
    stock(1),
    stock(2),
    stock(3),
    stock(4),
    stock(5),
    stock(6),
    stock(7),
    stock(8),
    stock(9),
    Rung {
        libdeflate: 10,
        depth: 0,
        nice: 0,
        passes: 1,
    },
    stock(10),
    stock(12),
];

/// What `gzfleet_deflate_compress_open` needs beyond libdeflate's own bound: the
/// sync marker and the partial byte before it.
const OPEN_END: usize = 6;

// The vendored compressor, built by build.rs with its symbols renamed gzfleet_ld_*.
unsafe extern "C" {
    fn gzfleet_alloc_compressor_tuned(
        level: c_int,
        max_search_depth: u32,
        nice_match_length: u32,
        optim_passes: u32,
    ) -> *mut c_void;
    fn gzfleet_ld_free_compressor(c: *mut c_void);
    fn gzfleet_ld_deflate_compress_bound(c: *mut c_void, in_nbytes: usize) -> usize;
    fn gzfleet_deflate_compress_primed(
        c: *mut c_void,
        buf: *const u8,
        prime_len: usize,
        in_nbytes: usize,
        out: *mut u8,
        out_nbytes_avail: usize,
    ) -> usize;
}

/// One libdeflate compressor, owned.
struct Compressor(NonNull<c_void>);

impl Compressor {
    fn new(level: u32) -> Result<Self, EngineError> {
        let r = LADDER[level as usize];
        // SAFETY: every rung names a level in 0-12 (others give NULL, as does running
        // out of memory); zero settings keep the level's own.
        let c = unsafe {
            gzfleet_alloc_compressor_tuned(r.libdeflate as c_int, r.depth, r.nice, r.passes)
        };
        NonNull::new(c)
            .map(Compressor)
            .ok_or_else(|| EngineError::Deflate("libdeflate: cannot allocate a compressor".into()))
    }

    /// Deflates the last `len` bytes of `buf`, primed with the bytes before them (at
    /// most 32 KiB).
    fn deflate_primed(&mut self, buf: &[u8], len: usize) -> Result<Vec<u8>, EngineError> {
        let prime = buf.len() - len;
        // SAFETY: the compressor is live; the bound only reads it.
        let bound = unsafe { gzfleet_ld_deflate_compress_bound(self.0.as_ptr(), len) };
        let mut out = Vec::<u8>::with_capacity(bound + OPEN_END);
        // SAFETY: libdeflate reads `buf` (dictionary, then data) and writes at most
        // `capacity` bytes into `out`'s spare capacity, returning how many (0: too
        // small, which the bound rules out, or a dictionary over 32 KiB, which the
        // engine refuses before). Only those bytes are then taken as initialised.
        let n = unsafe {
            gzfleet_deflate_compress_primed(
                self.0.as_ptr(),
                buf.as_ptr(),
                prime,
                len,
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

    /// The dictionary and the chunk laid end to end, as libdeflate wants them: they
    /// arrive as two buffers. Kept per thread so that its megabyte is allocated once.
    static JOINED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Raw deflate of `data` primed with `dictionary` (at most 32 KiB; may be empty),
/// ended open and byte-aligned with a sync marker.
pub(super) fn deflate(data: &[u8], dictionary: &[u8], level: u32) -> Result<Vec<u8>, EngineError> {
    if dictionary.is_empty() {
        return deflate_joined(data, data.len(), level);
    }
    JOINED.with_borrow_mut(|joined| {
        joined.clear();
        joined.extend_from_slice(dictionary);
        joined.extend_from_slice(data);
        let out = deflate_joined(joined, data.len(), level);
        // A chunk far larger than the block size (a test, a last odd chunk) must not
        // pin its size on this thread for good.
        if joined.capacity() > 8 << 20 {
            *joined = Vec::new();
        }
        out
    })
}

/// Deflates the last `len` bytes of `buf`, primed with those before.
fn deflate_joined(buf: &[u8], len: usize, level: u32) -> Result<Vec<u8>, EngineError> {
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
        slot.as_mut().expect("just filled").deflate_primed(buf, len)
    })?;
    // The bound is for incompressible input; a chunk waiting its turn in the
    // coordinator's window should hold what it compressed to, not the bound.
    out.shrink_to_fit();
    Ok(out)
}
