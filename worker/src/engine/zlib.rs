//! The zlib-rs engine (through flate2): the only one that takes a preset dictionary,
//! so the only one whose chunks reach back into the 32 KiB before them.

use flate2::{Compress, Compression, FlushCompress, Status};

use super::EngineError;

/// zlib's levels: 0 (stored) to 9.
pub(super) const LEVELS: std::ops::RangeInclusive<u32> = 0..=9;

/// Raw deflate of `data` primed with `dictionary`, ended open with a sync flush.
///
/// Every call starts from a freshly allocated deflate state. A reset state is not
/// enough: zlib-family matchers compare a few bytes past the end of the input, and
/// after a reset those bytes are stale data from the previous chunk, so the chosen
/// matches (and the output bytes) would depend on what the state compressed before.
/// A fresh state's window is zeroed. The allocation costs under 3% at 128 KiB chunks
/// and nothing measurable at 1 MiB.
pub(super) fn deflate(data: &[u8], dictionary: &[u8], level: u32) -> Result<Vec<u8>, EngineError> {
    let mut deflate = Compress::new(Compression::new(level), false);
    if !dictionary.is_empty() {
        deflate
            .set_dictionary(dictionary)
            .map_err(|e| EngineError::Deflate(e.to_string()))?;
    }
    // Stored blocks grow data by 5 bytes per 64 KiB; level 1's fixed-code blocks can
    // grow it by up to 1/8. Most chunks compress and fit the first guess.
    let mut out = Vec::with_capacity(data.len() + data.len() / 1024 + 64);
    loop {
        let consumed = deflate.total_in() as usize;
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(|e| EngineError::Deflate(e.to_string()))?;
        // zlib's rule: a flush is complete once all input is taken and the call
        // returned with output space to spare.
        if deflate.total_in() as usize == data.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        match status {
            Status::Ok | Status::BufError => out.reserve(out.capacity() / 4 + 64),
            Status::StreamEnd => {
                return Err(EngineError::Deflate("unexpected end of stream".into()));
            }
        }
    }
}
