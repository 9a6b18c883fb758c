//! What fixes the deflate bytes besides the input: the engine, the level, the block
//! size and whether chunks are primed; checked against each other by the command's
//! rules, for the command (`-1`..`-12`, `--engine`, `-b`, `-i`) and the library's
//! `WriterBuilder` alike.

use gzfleet_worker::engine::{Engine, engine_names};
use serde::{Deserialize, Serialize};

use crate::cli::CompressArgs;
use crate::error::Error;

/// What fixes the deflate bytes, besides the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Encoding {
    /// Kept by name in a journal; its id (the fingerprint) is kept beside it.
    #[serde(with = "engine_name")]
    pub engine: Engine,
    pub level: u32,
    /// Chunk size in bytes.
    pub block: u64,
    /// No 32 KiB priming: each chunk decodes from its own start (-i, or an engine
    /// that takes no dictionary).
    pub independent: bool,
}

impl Encoding {
    /// -i, the level and --engine, checked against each other: levels 10-12 exist only
    /// in libdeflate, which chooses itself when no engine is named.
    pub(crate) fn of(args: &CompressArgs) -> Result<Encoding, Error> {
        Encoding::resolve(
            args.level(),
            args.engine.as_deref(),
            args.block_size,
            args.independent,
        )
    }

    /// The level, the engine's name (None or "auto": the level's default engine), the
    /// block size and independence, checked against each other: the command line's
    /// rules, shared by the library's `WriterBuilder`.
    pub(crate) fn resolve(
        level: u32,
        engine: Option<&str>,
        block: u64,
        independent: bool,
    ) -> Result<Encoding, Error> {
        let engine = match engine {
            None | Some("auto") => Engine::default_for(level),
            Some(name) => Engine::from_name(name).ok_or_else(|| {
                Error::Usage(format!(
                    "--engine {name}: no such engine in this gzfleet; it has {} (or auto)",
                    engine_names()
                ))
            })?,
        };
        if !engine.levels().contains(&level) {
            let hint = match Engine::ALL.iter().find(|e| e.levels().contains(&level)) {
                Some(other) => format!("; level {level} needs --engine {other}"),
                None => String::new(),
            };
            return Err(Error::Usage(format!(
                "level {level} is out of range for the {engine} engine ({}-{}){hint}",
                engine.levels().start(),
                engine.levels().end()
            )));
        }
        Ok(Encoding {
            engine,
            level,
            block,
            independent: independent || !engine.takes_dictionary(),
        })
    }
}

/// An engine in a journal: its name (the id, which also changes with the build, is
/// compared on its own: see `JobIdentity::engine`).
mod engine_name {
    use gzfleet_worker::engine::Engine;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(engine: &Engine, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(engine.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Engine, D::Error> {
        let name = String::deserialize(d)?;
        Engine::from_name(&name).ok_or_else(|| D::Error::custom(format!("no engine {name:?}")))
    }
}
