//! What the scheduler dispatches to: anything that compresses a chunk. The embedded
//! pool ([`LocalPool`]) and each remote worker (`remote::RemoteWorker`) implement
//! [`Backend`], so retries, ordering and checks are one code path for both.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gzfleet_worker::engine::engine_id;
use gzfleet_worker::pool::{EnginePool, Job, Submit};

use crate::chunker::Chunk;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Settings fixed for a whole job.
#[derive(Debug, Clone)]
pub struct JobParams {
    pub job_id: String,
    pub level: u32,
    pub independent: bool,
    pub block: u64,
    /// Inflate every answer and compare it with the input before writing it.
    pub verify: bool,
}

/// A backend's answer for one chunk, before the scheduler checks it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub deflate: Bytes,
    pub crc32: u32,
    pub input_len: u64,
    pub engine: String,
}

/// Why one attempt at one chunk failed; the scheduler decides what follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// Unreachable, crashed, connection reset: take the worker out and probe it.
    Down(String),
    /// No answer within the deadline.
    Timeout(Duration),
    /// Worker overloaded (RESOURCE_EXHAUSTED): back off, try again.
    Busy(String),
    /// The answer failed a check (CRC, length, framing, --verify): never written.
    Wrong(String),
    /// The worker refuses requests of this kind (size limits, unsupported options).
    Rejected(String),
    /// A local failure no retry can fix.
    Fatal(String),
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Down(m) => write!(f, "unreachable: {m}"),
            AttemptError::Timeout(d) => write!(f, "no answer within {:.1}s", d.as_secs_f64()),
            AttemptError::Busy(m) => write!(f, "busy: {m}"),
            AttemptError::Wrong(m) => write!(f, "wrong answer: {m}"),
            AttemptError::Rejected(m) => write!(f, "refused: {m}"),
            AttemptError::Fatal(m) => f.write_str(m),
        }
    }
}

/// What a backend says about itself when probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    pub slots: usize,
    pub max_chunk: u64,
    pub engine: String,
    pub version: String,
}

pub trait Backend: Send + Sync + 'static {
    /// How it is named in messages and statistics (an address, or "local").
    fn name(&self) -> &str;
    /// Compresses one chunk; `deadline` bounds the whole attempt.
    fn compress(
        &self,
        chunk: Arc<Chunk>,
        params: &JobParams,
        deadline: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>>;
    /// Checks the backend is alive and reports what it offers.
    fn probe(&self) -> BoxFuture<Result<BackendInfo, String>>;
    /// Chunks beyond its slots to keep queued there, hiding the round trip.
    fn prefetch(&self, slots: usize) -> usize {
        (slots / 2).max(1)
    }
}

/// The embedded pool: `gzfleet compress` with no workers named.
pub struct LocalPool {
    pool: Arc<EnginePool>,
}

impl LocalPool {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        // The scheduler keeps threads + prefetch(threads) jobs here; the queue holds
        // all of them even before any thread has picked one up, so it is never busy.
        Ok(LocalPool {
            pool: Arc::new(EnginePool::new(threads, 2 * threads)?),
        })
    }
}

impl Backend for LocalPool {
    fn name(&self) -> &str {
        "local"
    }

    fn compress(
        &self,
        chunk: Arc<Chunk>,
        params: &JobParams,
        _deadline: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>> {
        let submitted = self.pool.try_submit(Job {
            data: chunk.data.clone(),
            dictionary: chunk.dictionary.clone(),
            level: params.level,
        });
        Box::pin(async move {
            let pending = submitted.map_err(|e| match e {
                Submit::Busy => AttemptError::Busy("local queue full".into()),
                Submit::Closed => AttemptError::Fatal("local pool stopped".into()),
            })?;
            let out = pending
                .await
                .map_err(|_| AttemptError::Fatal("a compression thread died".into()))?
                .map_err(|e| AttemptError::Fatal(e.to_string()))?;
            Ok(Answer {
                deflate: Bytes::from(out.deflate),
                crc32: out.crc32,
                input_len: out.input_len,
                engine: engine_id().to_string(),
            })
        })
    }

    fn probe(&self) -> BoxFuture<Result<BackendInfo, String>> {
        let info = BackendInfo {
            slots: self.pool.slots(),
            max_chunk: u64::MAX,
            engine: engine_id().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        Box::pin(async move { Ok(info) })
    }

    fn prefetch(&self, slots: usize) -> usize {
        slots
    }
}
