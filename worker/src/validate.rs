//! What a Compress request may carry, checked before the worker does anything with it.
//!
//! A pure function of the request and the worker's `--max-chunk`: no I/O, no state, so
//! a unit test or a fuzz target can call it directly. Each violation names the limit it
//! broke; all are INVALID_ARGUMENT (no retry anywhere can pass them), and those about a
//! pull request's input are marked as such, as the worker's other refusals of an input
//! are (see [`crate::INPUT_ERROR`]).

use gzfleet_proto::v1::CompressRequest;
use gzfleet_proto::v1::compress_request::Source;
use tonic::Status;

use crate::engine::{Engine, MAX_DICTIONARY, engine_names};
use crate::limits::{MAX_ETAG, MAX_JOB_ID, MAX_PATH};
use crate::pulls::input_error;

/// Why a request is refused before any work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("compression level {level} is out of range {min}-{max} for the {engine} engine")]
    Level {
        engine: &'static str,
        level: u32,
        min: u32,
        max: u32,
    },
    #[error("this worker has no engine {0:?} (it has {names})", names = engine_names())]
    Engine(String),
    #[error("the {0} engine takes no dictionary: its chunks must be independent")]
    NotIndependent(&'static str),
    #[error("job id of {0} bytes exceeds the limit of {MAX_JOB_ID} bytes")]
    JobId(usize),
    #[error(
        "dictionary of {0} bytes exceeds the limit of {MAX_DICTIONARY} bytes (the 32 KiB deflate window)"
    )]
    Dictionary(usize),
    #[error("independent chunks must not carry a dictionary")]
    DictionaryWhenIndependent,
    #[error("a pull request carries no dictionary: the worker reads it")]
    DictionaryWhenPulled,
    #[error("request carries no chunk")]
    NoChunk,
    #[error("independent chunks have no window to return (their index points need none)")]
    WindowWhenIndependent,
    #[error(
        "chunk of {length} bytes exceeds this worker's limit of {limit} bytes (gzfleet-worker --max-chunk)"
    )]
    Chunk { length: u64, limit: u64 },
    #[error("path of {0} bytes exceeds the limit of {MAX_PATH} bytes")]
    Path(usize),
    #[error("etag of {0} bytes exceeds the limit of {MAX_ETAG} bytes")]
    Etag(usize),
}

impl Invalid {
    /// Whether the input named (a pull request's path and version) is what is wrong,
    /// rather than the coordinator's request: then every worker would refuse it alike,
    /// and the coordinator fails that input instead of excluding workers one by one.
    pub fn about_input(&self) -> bool {
        matches!(self, Invalid::Path(_) | Invalid::Etag(_))
    }
}

impl From<Invalid> for Status {
    fn from(e: Invalid) -> Status {
        let status = Status::invalid_argument(e.to_string());
        match e.about_input() {
            true => input_error(status),
            false => status,
        }
    }
}

/// Checks `req` against the limits of a worker accepting chunks of up to `max_chunk`
/// bytes, and returns the engine it asks for.
pub fn check_request(req: &CompressRequest, max_chunk: u64) -> Result<Engine, Invalid> {
    let engine = match req.engine.as_str() {
        "" => Engine::ZlibRs,
        name => Engine::from_name(name).ok_or_else(|| {
            // Quoted back, so bounded: a name is never longer than this.
            Invalid::Engine(name.chars().take(32).collect())
        })?,
    };
    if !engine.levels().contains(&req.level) {
        return Err(Invalid::Level {
            engine: engine.name(),
            level: req.level,
            min: *engine.levels().start(),
            max: *engine.levels().end(),
        });
    }
    if !engine.takes_dictionary() && !req.independent {
        return Err(Invalid::NotIndependent(engine.name()));
    }
    if req.job_id.len() > MAX_JOB_ID {
        return Err(Invalid::JobId(req.job_id.len()));
    }
    if req.dictionary.len() > MAX_DICTIONARY {
        return Err(Invalid::Dictionary(req.dictionary.len()));
    }
    if req.independent && !req.dictionary.is_empty() {
        return Err(Invalid::DictionaryWhenIndependent);
    }
    if req.independent && req.return_window {
        return Err(Invalid::WindowWhenIndependent);
    }
    let length = match &req.source {
        Some(Source::Data(data)) => data.len() as u64,
        Some(Source::Range(range)) => range.length,
        None => return Err(Invalid::NoChunk),
    };
    if length > max_chunk {
        return Err(Invalid::Chunk {
            length,
            limit: max_chunk,
        });
    }
    if let Some(Source::Range(range)) = &req.source {
        if range.path.len() > MAX_PATH {
            return Err(Invalid::Path(range.path.len()));
        }
        if range.etag.len() > MAX_ETAG {
            return Err(Invalid::Etag(range.etag.len()));
        }
        if !req.dictionary.is_empty() {
            return Err(Invalid::DictionaryWhenPulled);
        }
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use gzfleet_proto::v1::RangeRef;

    const MAX: u64 = 1 << 20;

    fn push(len: usize) -> CompressRequest {
        CompressRequest {
            job_id: "1-2".into(),
            level: 6,
            source: Some(Source::Data(Bytes::from(vec![0; len]))),
            ..Default::default()
        }
    }

    fn pull(path: &str, etag: &str) -> CompressRequest {
        CompressRequest {
            level: 6,
            source: Some(Source::Range(RangeRef {
                path: path.into(),
                length: 1000,
                etag: etag.into(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn a_window_is_not_asked_of_an_independent_chunk() {
        let mut req = pull("f", "");
        req.return_window = true;
        assert_eq!(check_request(&req, MAX), Ok(Engine::ZlibRs));
        req.independent = true;
        assert_eq!(
            check_request(&req, MAX),
            Err(Invalid::WindowWhenIndependent)
        );
    }

    #[test]
    fn requests_at_every_limit_pass() {
        let mut req = push(MAX as usize);
        req.level = 9;
        req.job_id = "j".repeat(MAX_JOB_ID);
        req.dictionary = Bytes::from(vec![1; MAX_DICTIONARY]);
        assert_eq!(check_request(&req, MAX), Ok(Engine::ZlibRs));
        let longest = pull(&"p".repeat(MAX_PATH), &"e".repeat(MAX_ETAG));
        assert_eq!(check_request(&longest, MAX), Ok(Engine::ZlibRs));
        let mut best = push(1);
        best.engine = "libdeflate".into();
        best.level = 12;
        best.independent = true;
        assert_eq!(check_request(&best, MAX), Ok(Engine::Libdeflate));
    }

    #[test]
    fn one_past_each_limit_is_refused_naming_it() {
        let mut level = push(1);
        level.level = 10;
        let mut ld_level = push(1);
        ld_level.engine = "libdeflate".into();
        ld_level.independent = true;
        ld_level.level = 13;
        let mut unknown = push(1);
        unknown.engine = "z".repeat(5000);
        // libdeflate primes its chunks since gzfleet's patched compressor does.
        let mut primed = push(1);
        primed.engine = "libdeflate".into();
        assert_eq!(check_request(&primed, MAX), Ok(Engine::Libdeflate));
        let mut job_id = push(1);
        job_id.job_id = "j".repeat(MAX_JOB_ID + 1);
        let mut dictionary = push(1);
        dictionary.dictionary = Bytes::from(vec![1; MAX_DICTIONARY + 1]);
        let mut ranged = pull("f", "");
        if let Some(Source::Range(r)) = &mut ranged.source {
            r.length = MAX + 1;
        }
        for (req, error, names) in [
            (
                level,
                Invalid::Level {
                    engine: "zlib-rs",
                    level: 10,
                    min: 0,
                    max: 9,
                },
                "range 0-9 for the zlib-rs engine",
            ),
            (
                ld_level,
                Invalid::Level {
                    engine: "libdeflate",
                    level: 13,
                    min: 0,
                    max: 12,
                },
                "range 0-12",
            ),
            (
                unknown,
                Invalid::Engine("z".repeat(32)),
                "has zlib-rs, libdeflate",
            ),
            (job_id, Invalid::JobId(257), "limit of 256 bytes"),
            (
                dictionary,
                Invalid::Dictionary(32769),
                "limit of 32768 bytes",
            ),
            (
                push(MAX as usize + 1),
                Invalid::Chunk {
                    length: MAX + 1,
                    limit: MAX,
                },
                "limit of 1048576 bytes",
            ),
            (
                ranged,
                Invalid::Chunk {
                    length: MAX + 1,
                    limit: MAX,
                },
                "--max-chunk",
            ),
            (
                pull(&"p".repeat(MAX_PATH + 1), ""),
                Invalid::Path(4097),
                "limit of 4096 bytes",
            ),
            (
                pull("f", &"e".repeat(MAX_ETAG + 1)),
                Invalid::Etag(1025),
                "limit of 1024 bytes",
            ),
        ] {
            assert_eq!(check_request(&req, MAX), Err(error.clone()));
            assert!(error.to_string().contains(names), "{error}");
            let status = Status::from(error);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
        }
    }

    #[test]
    fn only_a_pull_requests_input_is_blamed() {
        let path = Status::from(Invalid::Path(5000));
        assert!(path.metadata().get(crate::INPUT_ERROR).is_some());
        let job = Status::from(Invalid::JobId(5000));
        assert!(job.metadata().get(crate::INPUT_ERROR).is_none());
    }

    #[test]
    fn dictionaries_only_where_they_belong() {
        let mut independent = push(10);
        independent.independent = true;
        independent.dictionary = Bytes::from_static(b"abc");
        assert_eq!(
            check_request(&independent, MAX),
            Err(Invalid::DictionaryWhenIndependent)
        );
        let mut pulled = pull("f", "");
        pulled.dictionary = Bytes::from_static(b"abc");
        assert_eq!(
            check_request(&pulled, MAX),
            Err(Invalid::DictionaryWhenPulled)
        );
        let mut none = push(1);
        none.source = None;
        assert_eq!(check_request(&none, MAX), Err(Invalid::NoChunk));
    }
}
