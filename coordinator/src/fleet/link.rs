//! How chunks reach a worker: the [`Link`] trait, implemented by the embedded pool
//! (`local::LocalLink`) and by a gzfleet-worker over gRPC (`remote::GrpcLink`), so
//! dispatch, retries, ordering and checks are one code path for both.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gzfleet_worker::engine::Engine;

use super::segments::{Held, SegmentClient};
use crate::compress::{Chunk, JobParams};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A worker's answer for one chunk, before the coordinator checks it.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub deflate: Bytes,
    pub crc32: u32,
    pub input_len: u64,
    pub engine: String,
    /// The input before the chunk, when asked for (pull mode, an index point).
    pub window: Bytes,
    /// Direct output: a segment the worker holds, with its chunks' numbers (the
    /// deflate data stays there).
    pub held: Option<Arc<Held>>,
    /// Bytes received besides `deflate` and `window` (a segment's windows).
    pub received: u64,
}

/// Why one attempt at one chunk failed; `dispatch::policy::judge` decides what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptError {
    /// Unreachable, crashed, connection reset, HTTP/2 error, keepalive unanswered: take
    /// the worker out and probe it.
    Down(String),
    /// No answer within the deadline.
    Timeout(Duration),
    /// The worker's queue is full (RESOURCE_EXHAUSTED): backpressure, not a failure.
    Busy(String),
    /// The answer failed a check the coordinator made (engine, length, CRC, framing,
    /// --verify): never written. Only the coordinator's own checks produce this.
    Wrong(String),
    /// The worker refuses requests of this kind (size limits, unsupported options).
    Rejected(String),
    /// The worker could not read a pull request's input as the coordinator saw it
    /// (changed, differs on its storage, unreadable there): the input's problem, not
    /// the worker's.
    Input(String),
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
            AttemptError::Input(m) => write!(f, "cannot read the input: {m}"),
            AttemptError::Fatal(m) => f.write_str(m),
        }
    }
}

/// What a worker says about itself when probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkerInfo {
    pub slots: usize,
    /// Requests it lets wait for a slot before answering RESOURCE_EXHAUSTED.
    pub queue_depth: usize,
    pub max_chunk: u64,
    /// Every engine it has, by name, with its id (fingerprint).
    pub engines: Vec<(String, String)>,
    /// Whether it honours `CompressRequest.return_window` (pull mode, `--index`).
    pub returns_window: bool,
    /// Whether it writes outputs (`--write-root`: direct output).
    pub writes_files: bool,
    pub version: String,
}

/// What a worker must offer to be used for this run's jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The block size: its largest chunk.
    pub block: u64,
    /// The engine every chunk is compressed with, with exactly this build's id.
    pub engine: Engine,
    /// Workers return the window of index-point chunks: pull mode with `--index`, and
    /// primed chunks (not `-i`), whose points need the input before them.
    pub window: bool,
    /// Workers write the output (`--direct-output`): they need `--write-root`.
    pub writes: bool,
}

pub(crate) trait Link: Send + Sync + 'static {
    /// How the worker is named in messages and statistics (an address, or "local").
    fn name(&self) -> &str;
    /// Compresses one chunk; `deadline` bounds the whole attempt.
    fn compress(
        &self,
        chunk: Arc<Chunk>,
        job: &JobParams,
        deadline: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>>;
    /// Checks the worker is alive and reports what it offers.
    fn probe(&self) -> BoxFuture<Result<WorkerInfo, String>>;
    /// How the writer reaches it for direct output; None for the embedded pool.
    fn segments(&self) -> Option<Arc<SegmentClient>> {
        None
    }
    /// Chunks beyond its slots to keep queued there, hiding the round trip.
    fn prefetch(&self, slots: usize) -> usize {
        (slots / 2).max(1)
    }
}
