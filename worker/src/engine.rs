//! The chunk engine: one chunk (plus its preset dictionary) in, raw deflate out.
//!
//! This is the seam docs/DESIGN.md names: everything that decides output bytes for a
//! chunk lives here, so the embedded pool and every remote worker produce the same
//! bytes as long as they run the same [`engine_id`]. The deflate data is never final and always
//! ends byte-aligned with a sync flush (an empty stored block, `00 00 ff ff`), so chunks
//! can be concatenated in any number without knowing which one is last.

use std::sync::OnceLock;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Names the deflate implementation, and fingerprints it: the CRC of what it makes of
/// a fixed sample at three levels. Outputs are promised to be identical only between
/// engines with the same id, so workers report it and the coordinator refuses to mix
/// engines. A name alone would let two zlib-rs releases that match differently pass
/// for one another; the fingerprint does not.
pub fn engine_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let sample = fingerprint_sample();
        let (dictionary, data) = sample.split_at(MAX_DICTIONARY);
        let mut crc = crc32fast::Hasher::new();
        for level in [1, 6, 9] {
            if let Ok(out) = compress_chunk(data, dictionary, level) {
                crc.update(&out.deflate);
            }
        }
        format!("flate2-zlib-rs;sync-flush;v1;{:08x}", crc.finalize())
    })
}

/// 96 KiB of text-like bytes with repeats near and far: enough to exercise literals,
/// short and long matches, the dictionary, and block decisions.
fn fingerprint_sample() -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "the ", "chunk ", "deflate ", "worker ", "of ", "gzip ", "stream ", "and ", "1024 ",
        "window ", "\n", "a ",
    ];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(96 << 10);
    while out.len() < 96 << 10 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % 12) as usize].as_bytes());
        if x.is_multiple_of(97) {
            out.push((x >> 8) as u8);
        }
    }
    out.truncate(96 << 10);
    out
}

/// The preset dictionary is at most the deflate window: 32 KiB.
pub const MAX_DICTIONARY: usize = 32 * 1024;

/// Deflate levels 0 (stored) to 9 (best), as gzip.
pub const MAX_LEVEL: u32 = 9;

/// Largest deflate output for `len` input bytes. Level 1 (zlib-rs's "quick"
/// strategy) codes incompressible bytes with fixed Huffman codes of up to 9 bits, so
/// output can exceed input by 1/8, as zlib-ng's deflateBound allows.
pub fn deflate_bound(len: u64) -> u64 {
    len + len / 8 + 1024
}

/// What compressing one chunk produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOutput {
    /// Raw deflate blocks: non-final, ending in a sync flush.
    pub deflate: Vec<u8>,
    /// CRC-32 (gzip's) of the uncompressed chunk.
    pub crc32: u32,
    /// Length of the uncompressed chunk.
    pub input_len: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("compression level {0} is out of range (0-9)")]
    Level(u32),
    #[error("preset dictionary of {0} bytes exceeds the 32 KiB deflate window")]
    Dictionary(usize),
    #[error("deflate failed: {0}")]
    Deflate(String),
}

/// Compresses `data` primed with `dictionary` (empty for the first chunk and in
/// independent mode).
///
/// Every call starts from a freshly allocated deflate state. A reset state is not
/// enough: zlib-family matchers compare a few bytes past the end of the input, and
/// after a reset those bytes are stale data from the previous chunk, so the chosen
/// matches (and the output bytes) would depend on what the state compressed before.
/// A fresh state's window is zeroed. The allocation costs under 3% at 128 KiB chunks
/// and nothing measurable at 1 MiB.
pub fn compress_chunk(
    data: &[u8],
    dictionary: &[u8],
    level: u32,
) -> Result<ChunkOutput, EngineError> {
    if level > MAX_LEVEL {
        return Err(EngineError::Level(level));
    }
    if dictionary.len() > MAX_DICTIONARY {
        return Err(EngineError::Dictionary(dictionary.len()));
    }
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
            break;
        }
        match status {
            Status::Ok | Status::BufError => out.reserve(out.capacity() / 4 + 64),
            Status::StreamEnd => {
                return Err(EngineError::Deflate("unexpected end of stream".into()));
            }
        }
    }
    Ok(ChunkOutput {
        deflate: out,
        crc32: crc32fast::hash(data),
        input_len: data.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn inflate(deflate: &[u8], dictionary: &[u8], expect_len: usize) -> Vec<u8> {
        let mut d = Decompress::new(false);
        if !dictionary.is_empty() {
            d.set_dictionary(dictionary).unwrap();
        }
        let mut out = Vec::with_capacity(expect_len + 16);
        d.decompress_vec(deflate, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(
            d.total_in() as usize,
            deflate.len(),
            "trailing deflate bytes"
        );
        out
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2654435761).rotate_left(7) as u8 % 17 + b'a')
            .collect()
    }

    #[test]
    fn ends_with_sync_flush_and_is_not_final() {
        for level in 0..=MAX_LEVEL {
            let data = sample(100_000);
            let out = compress_chunk(&data, &[], level).unwrap();
            assert!(out.deflate.ends_with(&[0, 0, 0xff, 0xff]), "level {level}");
            // The first block header's BFINAL bit is bit 0 of byte 0.
            assert_eq!(out.deflate[0] & 1, 0, "level {level} wrote a final block");
            assert_eq!(inflate(&out.deflate, &[], data.len()), data);
            assert_eq!(out.crc32, crc32fast::hash(&data));
            assert_eq!(out.input_len, data.len() as u64);
        }
    }

    #[test]
    fn dictionary_is_used_and_required() {
        let dict = sample(MAX_DICTIONARY);
        let data = dict[1000..9000].to_vec();
        let primed = compress_chunk(&data, &dict, 6).unwrap();
        let plain = compress_chunk(&data, &[], 6).unwrap();
        assert!(primed.deflate.len() * 4 < plain.deflate.len());
        assert_eq!(inflate(&primed.deflate, &dict, data.len()), data);
    }

    #[test]
    fn incompressible_data_fits() {
        let mut x = 0x9E3779B97F4A7C15u64;
        let data: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for level in [0, 1, 9] {
            let out = compress_chunk(&data, &[], level).unwrap();
            assert_eq!(inflate(&out.deflate, &[], data.len()), data);
        }
    }

    #[test]
    fn empty_chunk_is_an_empty_sync_block() {
        let out = compress_chunk(&[], &[], 6).unwrap();
        assert!(out.deflate.ends_with(&[0, 0, 0xff, 0xff]));
        assert_eq!(out.crc32, 0);
        assert_eq!(inflate(&out.deflate, &[], 0), Vec::<u8>::new());
    }

    #[test]
    fn engine_id_is_stable_and_fingerprinted() {
        let id = engine_id();
        assert!(id.starts_with("flate2-zlib-rs;sync-flush;v1;"), "{id}");
        assert_eq!(id.len(), "flate2-zlib-rs;sync-flush;v1;".len() + 8);
        assert_eq!(engine_id(), id);
    }

    #[test]
    fn rejects_bad_level_and_oversized_dictionary() {
        assert!(matches!(
            compress_chunk(b"x", &[], 10),
            Err(EngineError::Level(10))
        ));
        let big = vec![0u8; MAX_DICTIONARY + 1];
        assert!(matches!(
            compress_chunk(b"x", &big, 6),
            Err(EngineError::Dictionary(_))
        ));
    }
}
