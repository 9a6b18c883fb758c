//! The chunk engines: one chunk (plus, for engines that take one, its preset
//! dictionary) in, raw deflate out.
//!
//! This is the seam docs/DESIGN.md names: everything that decides output bytes for a
//! chunk lives here, so the embedded pool and every remote worker produce the same
//! bytes as long as they run the same engine with the same [`Engine::id`]. Whatever
//! the engine, the deflate data is never final and always ends byte-aligned with a
//! sync marker (an empty stored block, `00 00 ff ff`), so chunks can be concatenated in
//! any number without knowing which one is last. Each implementation is a module of
//! its own; [`Engine`] names them and holds what the rest of gzfleet may ask.

#[cfg(feature = "isal")]
mod isal;
mod libdeflate;
mod zlib;

use std::ops::RangeInclusive;
use std::sync::OnceLock;

/// A deflate implementation gzfleet can compress chunks with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// zlib-rs through flate2: levels 0-9, primes each chunk with the 32 KiB before it.
    ZlibRs,
    /// libdeflate (gzfleet's patched copy): levels 0-12 on gzfleet's own ladder,
    /// primes chunks, smaller and faster output.
    Libdeflate,
    /// ISA-L's igzip: levels 0-3 of its own, primes chunks, the fastest; its bytes
    /// also depend on the CPU (it picks its matcher by instruction set), so it is
    /// never chosen unless named. Built with the `isal` feature.
    #[cfg(feature = "isal")]
    Isal,
}

impl Engine {
    /// Every engine this build has.
    pub const ALL: &[Engine] = &[
        Engine::ZlibRs,
        Engine::Libdeflate,
        #[cfg(feature = "isal")]
        Engine::Isal,
    ];

    /// The name `--engine` takes and Info reports.
    pub fn name(self) -> &'static str {
        match self {
            Engine::ZlibRs => "zlib-rs",
            Engine::Libdeflate => "libdeflate",
            #[cfg(feature = "isal")]
            Engine::Isal => "isal",
        }
    }

    /// The engine named `name`, if this build has it.
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.iter().copied().find(|e| e.name() == name)
    }

    /// The levels it offers.
    pub fn levels(self) -> RangeInclusive<u32> {
        match self {
            Engine::ZlibRs => zlib::LEVELS,
            Engine::Libdeflate => libdeflate::LEVELS,
            #[cfg(feature = "isal")]
            Engine::Isal => isal::LEVELS,
        }
    }

    /// Whether chunks may be primed with the 32 KiB before them. An engine without
    /// makes every chunk independent, whatever `-i` says. Every engine today does
    /// (libdeflate since its patched compressor took a dictionary); the wire keeps the
    /// flag for engines to come and for workers of earlier releases.
    pub fn takes_dictionary(self) -> bool {
        true
    }

    /// The engine used when none is named, for `level`: the one bench/engines.sh
    /// found best (README, "Engines"). libdeflate at every level that compresses: at
    /// 6 and 9 it is faster per core and smaller than zlib-rs, and at 1 it is 15%
    /// smaller (zlib-rs's level 1 is larger than pigz's) for 0.93x of the speed. ISA-L is faster still but its bytes depend
    /// on the CPU, which a default must not. Level 0 only stores: zlib-rs, as ever.
    pub fn default_for(level: u32) -> Engine {
        match level {
            0 => Engine::ZlibRs,
            _ => Engine::Libdeflate,
        }
    }

    /// Names the engine and fingerprints it: the CRC of what it makes of a fixed
    /// sample at every one of its levels. Outputs are promised to be identical only
    /// between engines with the same id, so workers report it and the coordinator
    /// refuses to mix engines. A name alone would let two releases that match
    /// differently pass for one another; the fingerprint does not.
    pub fn id(self) -> &'static str {
        static IDS: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        // Every level: zlib's configuration table gives each of 4-9 its own lazy-match
        // and chain limits, libdeflate changes parser at 2, 5, 8 and 10, ISA-L's code
        // paths differ by level and by CPU: a release that changed one level only must
        // not pass for this one.
        let slot = match self {
            Engine::ZlibRs => &IDS[0],
            Engine::Libdeflate => &IDS[1],
            #[cfg(feature = "isal")]
            Engine::Isal => &IDS[2],
        };
        slot.get_or_init(|| {
            let prefix = match self {
                Engine::ZlibRs => "flate2-zlib-rs;sync-flush;v2".to_string(),
                Engine::Libdeflate => "libdeflate;primed-ladder;v3".to_string(),
                #[cfg(feature = "isal")]
                Engine::Isal => format!("{};sync-flush;v1", isal::version()),
            };
            let sample = fingerprint_sample();
            let (dictionary, data) = sample.split_at(MAX_DICTIONARY);
            let dictionary = if self.takes_dictionary() {
                dictionary
            } else {
                &[]
            };
            // libdeflate's levels 10-12 run at a few MB/s: on the whole sample, its
            // fingerprint alone took 70 ms, paid by every run that compresses with it
            // (gzip is done in 1 ms for a small file). 16 KiB still takes every parser
            // through literals, matches and a block decision; v2 says so. zlib-rs's v2
            // covers all ten levels on the same 16 KiB (with the dictionary) instead of
            // three on 64 KiB.
            let data = match self {
                Engine::Libdeflate | Engine::ZlibRs => &data[..16 << 10],
                #[cfg(feature = "isal")]
                Engine::Isal => data,
            };
            let mut crc = crc32fast::Hasher::new();
            for level in self.levels() {
                if let Ok(out) = self.compress(data, dictionary, level) {
                    crc.update(&out.deflate);
                }
            }
            format!("{prefix};{:08x}", crc.finalize())
        })
    }

    /// Compresses `data`, primed with `dictionary` (empty for the first chunk, in
    /// independent mode, and always for an engine that takes no dictionary).
    pub fn compress(
        self,
        data: &[u8],
        dictionary: &[u8],
        level: u32,
    ) -> Result<ChunkOutput, EngineError> {
        if !self.levels().contains(&level) {
            return Err(EngineError::Level {
                engine: self.name(),
                level,
                levels: self.levels(),
            });
        }
        if dictionary.len() > MAX_DICTIONARY {
            return Err(EngineError::Dictionary(dictionary.len()));
        }
        let deflate = match self {
            Engine::ZlibRs => zlib::deflate(data, dictionary, level)?,
            Engine::Libdeflate => libdeflate::deflate(data, dictionary, level)?,
            #[cfg(feature = "isal")]
            Engine::Isal => isal::deflate(data, dictionary, level)
                .map_err(|e| EngineError::Deflate(e.to_string()))?,
        };
        Ok(ChunkOutput {
            deflate,
            crc32: crc32fast::hash(data),
            input_len: data.len() as u64,
        })
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The names of every engine this build has, for messages: "zlib-rs, libdeflate".
pub fn engine_names() -> String {
    let names: Vec<_> = Engine::ALL.iter().map(|e| e.name()).collect();
    names.join(", ")
}

/// Compresses with zlib-rs, the engine every worker has had from the start.
pub fn compress_chunk(
    data: &[u8],
    dictionary: &[u8],
    level: u32,
) -> Result<ChunkOutput, EngineError> {
    Engine::ZlibRs.compress(data, dictionary, level)
}

/// zlib-rs's fingerprint: what a worker reports as its (default) engine.
pub fn engine_id() -> &'static str {
    Engine::ZlibRs.id()
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

/// The highest level any engine offers (libdeflate's 12).
pub const MAX_LEVEL: u32 = 12;

/// Largest deflate output for `len` input bytes. Level 1 (zlib-rs's "quick"
/// strategy) codes incompressible bytes with fixed Huffman codes of up to 9 bits, so
/// output can exceed input by 1/8, as zlib-ng's deflateBound allows; libdeflate falls
/// back to stored blocks well inside that.
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
    #[error("compression level {level} is out of range for the {engine} engine ({}-{})", levels.start(), levels.end())]
    Level {
        engine: &'static str,
        level: u32,
        levels: RangeInclusive<u32>,
    },
    #[error("preset dictionary of {0} bytes exceeds the 32 KiB deflate window")]
    Dictionary(usize),
    #[error("deflate failed: {0}")]
    Deflate(String),
}

#[cfg(test)]
mod tests;
