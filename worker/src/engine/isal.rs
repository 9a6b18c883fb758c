//! The ISA-L (igzip) chunk engine: one chunk, primed with its preset dictionary, in;
//! raw deflate out that is never final and ends byte-aligned with a sync flush, as
//! every gzfleet engine's chunks must, so they concatenate into one stream.
//!
//! ISA-L is Intel's storage library; its igzip deflate trades ratio for speed at four
//! levels of its own, 0 to 3. They are not gzip's: ISA-L's level 0 compresses (with a
//! fixed, pre-trained Huffman table), it does not store.
//!
//! Built only with the `isal` feature: isal-sys compiles ISA-L's bundled C and nasm
//! sources with autotools at build time.

use std::alloc::{Layout, alloc_zeroed, handle_alloc_error};

use isal_sys::igzip_lib as ffi;

/// ISA-L's levels.
pub(crate) const LEVELS: std::ops::RangeInclusive<u32> = 0..=3;

/// The largest preset dictionary: the deflate window.
const MAX_DICTIONARY: usize = 32 * 1024;

/// The ISA-L release and commit isal-sys bundles (its version's build metadata). A
/// unit test holds it to the isal-sys that Cargo.lock names.
const ISAL_RELEASE: &str = "2.31.0";
const ISAL_SYS_VERSION: &str = "0.5.3+496255c";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsalError {
    #[error("compression level {0} is out of ISA-L's range (0-3)")]
    Level(u32),
    #[error("preset dictionary of {0} bytes exceeds the 32 KiB deflate window")]
    Dictionary(usize),
    #[error("chunk of {0} bytes is too large for ISA-L (at most 4 GiB - 1)")]
    TooLarge(usize),
    #[error("ISA-L deflate failed with code {0}")]
    Deflate(i32),
    #[error("ISA-L rejected the preset dictionary with code {0}")]
    SetDictionary(i32),
    #[error("ISA-L deflate stopped with input left and output room to spare")]
    Stalled,
}

/// Raw deflate of `data` primed with `dictionary` (<= 32 KiB; empty = none):
/// non-final, ending byte-aligned with a sync flush (the last 4 bytes `00 00 ff ff`),
/// so chunks concatenate into one stream.
///
/// Every call starts from a freshly zeroed stream and level buffer, so the output
/// depends on the arguments alone: nothing of an earlier chunk's hash tables or
/// history can leak into the matches this one finds.
pub(crate) fn deflate(data: &[u8], dictionary: &[u8], level: u32) -> Result<Vec<u8>, IsalError> {
    if !LEVELS.contains(&level) {
        return Err(IsalError::Level(level));
    }
    if dictionary.len() > MAX_DICTIONARY {
        return Err(IsalError::Dictionary(dictionary.len()));
    }
    let avail_in = u32::try_from(data.len()).map_err(|_| IsalError::TooLarge(data.len()))?;
    let mut level_buf = vec![0u8; level_buf_size(level)];
    let mut stream = new_stream();
    stream.level = level;
    // Level 0 needs no level buffer: ISA-L takes a null one as "none".
    stream.level_buf = if level_buf.is_empty() {
        std::ptr::null_mut()
    } else {
        level_buf.as_mut_ptr()
    };
    stream.level_buf_size = level_buf.len() as u32;
    stream.flush = ffi::SYNC_FLUSH as u16;
    stream.end_of_stream = 0;
    stream.gzip_flag = ffi::IGZIP_DEFLATE as u16;
    if !dictionary.is_empty() {
        // ISA-L copies the dictionary into its own history and never writes through
        // the pointer; the binding merely declares it mutable.
        // SAFETY: the stream is initialised; the pointer and length describe
        // `dictionary`, which outlives the call.
        let rc = unsafe {
            ffi::isal_deflate_set_dict(
                &mut *stream,
                dictionary.as_ptr().cast_mut(),
                dictionary.len() as u32,
            )
        };
        if rc != ffi::COMP_OK as i32 {
            return Err(IsalError::SetDictionary(rc));
        }
    }
    // Most chunks shrink; incompressible ones become stored blocks (5 bytes per
    // 64 KiB) and the loop grows the buffer for anything else.
    let mut out: Vec<u8> = Vec::with_capacity(data.len() + data.len() / 64 + 64);
    stream.next_in = data.as_ptr().cast_mut();
    stream.avail_in = avail_in;
    loop {
        if out.capacity() == out.len() {
            out.reserve(out.capacity() / 4 + 64);
        }
        let spare = out.spare_capacity_mut();
        let room = u32::try_from(spare.len()).unwrap_or(u32::MAX);
        stream.next_out = spare.as_mut_ptr().cast::<u8>();
        stream.avail_out = room;
        let before_in = stream.avail_in;
        // SAFETY: next_in/avail_in lie within `data` (ISA-L only reads input), and
        // next_out/avail_out within `out`'s spare capacity; `level_buf` and the
        // stream live until the function returns.
        let rc = unsafe { ffi::isal_deflate(&mut *stream) };
        if rc != ffi::COMP_OK as i32 {
            return Err(IsalError::Deflate(rc));
        }
        let written = (room - stream.avail_out) as usize;
        // SAFETY: ISA-L initialised the first `written` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + written) };
        // ISA-L's rule: a flush is complete once all input is taken and the call
        // returned with output room to spare.
        if stream.avail_in == 0 && stream.avail_out > 0 {
            break;
        }
        if stream.avail_out > 0 && stream.avail_in == before_in && written == 0 {
            return Err(IsalError::Stalled);
        }
    }
    // The stream points into `level_buf` and `data`: it must not outlive them.
    drop(stream);
    // ISA-L's level 0 never falls back to stored blocks when streaming: its fixed
    // table grows random data by a fifth, past the bound the coordinator allows
    // (`engine::deflate_bound`). Stored blocks cap every level at that size.
    if out.len() > stored_len(data.len()) {
        return Ok(stored(data));
    }
    Ok(out)
}

/// The largest stored block: its length field is 16 bits.
const MAX_STORED: usize = 65_535;

/// The length of `len` bytes as stored blocks followed by the sync marker.
fn stored_len(len: usize) -> usize {
    len + 5 * len.div_ceil(MAX_STORED) + 5
}

/// `data` as non-final stored blocks, then the sync marker (an empty stored block).
/// Every chunk starts on a byte boundary, so each block header fills one byte.
fn stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored_len(data.len()));
    for block in data.chunks(MAX_STORED).chain([&[][..]]) {
        let len = block.len() as u16;
        out.push(0); // BFINAL 0, BTYPE 00 (stored), padding
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out
}

/// Identifies the ISA-L build for the engine fingerprint: its release and the commit
/// isal-sys bundles. That alone does not fix the bytes: ISA-L picks its code paths by
/// CPU when it loads, and they differ in output. On AVX-512 machines level 3 runs
/// another matcher than on other x86 CPUs (`icf_body_lazyhash1_fillgreedy_greedy`
/// for `icf_body_hash1_fillgreedy_lazy`, igzip_multibinary.asm), and the portable
/// path hashes differently from the SSE4.2 ones. So a fingerprint must also
/// compress a sample at every level, as the zlib-rs engine's does, and a fleet of
/// mixed CPUs can be refused for differing.
pub(crate) fn version() -> String {
    format!("isa-l {ISAL_RELEASE} (isal-sys {ISAL_SYS_VERSION})")
}

/// The level buffer ISA-L needs above level 0: its default size for each level, the
/// one its own igzip command uses.
fn level_buf_size(level: u32) -> usize {
    (match level {
        1 => ffi::ISAL_DEF_LVL1_DEFAULT,
        2 => ffi::ISAL_DEF_LVL2_DEFAULT,
        3 => ffi::ISAL_DEF_LVL3_DEFAULT,
        _ => ffi::ISAL_DEF_LVL0_DEFAULT,
    }) as usize
}

/// A zeroed, initialised deflate stream. Boxed: it holds ISA-L's history buffer and
/// hash table (about 80 KiB), too much for a pool thread's stack.
fn new_stream() -> Box<ffi::isal_zstream> {
    // Box::new_zeroed is newer than the crate's minimum Rust (1.88).
    let layout = Layout::new::<ffi::isal_zstream>();
    // SAFETY: the layout is the struct's, which is not zero-sized. The struct is plain
    // C data (integers, arrays and pointers), for which all-zero bytes are a valid
    // value, so the zeroed allocation may be owned as a Box of it; isal_deflate_init
    // then sets ISA-L's defaults.
    unsafe {
        let raw = alloc_zeroed(layout).cast::<ffi::isal_zstream>();
        if raw.is_null() {
            handle_alloc_error(layout);
        }
        let mut stream = Box::from_raw(raw);
        ffi::isal_deflate_init(&mut *stream);
        stream
    }
}

#[cfg(test)]
#[path = "isal_tests.rs"]
mod tests;
