//! The embedded pool as a [`Link`]: `gzfleet compress` with no workers named runs the
//! same `EnginePool` a gzfleet-worker serves from, in process.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gzfleet_worker::engine::Engine;
use gzfleet_worker::pool::{EnginePool, Input, Job, Submit};

use super::link::{Answer, AttemptError, BoxFuture, Link, WorkerInfo};
use crate::compress::chunker::Payload;
use crate::compress::{Chunk, JobParams};

pub(crate) struct LocalLink {
    pool: Arc<EnginePool>,
}

impl LocalLink {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        // The dispatcher keeps threads + prefetch(threads) jobs here; the queue holds
        // all of them even before any thread has picked one up, so it is never busy.
        Ok(LocalLink {
            pool: Arc::new(EnginePool::new(threads, 2 * threads)?),
        })
    }
}

impl Link for LocalLink {
    fn name(&self) -> &str {
        "local"
    }

    fn compress(
        &self,
        chunk: Arc<Chunk>,
        job: &JobParams,
        _deadline: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>> {
        let Payload::Bytes {
            data, dictionary, ..
        } = &chunk.payload
        else {
            // The plan refuses --pull without workers.
            let e = AttemptError::Fatal(
                "internal error: a pull chunk reached the embedded pool".into(),
            );
            return Box::pin(async move { Err(e) });
        };
        let submitted = self.pool.try_submit(Job {
            input: Input::Bytes {
                data: data.clone(),
                dictionary: dictionary.clone(),
            },
            engine: job.encoding.engine,
            level: job.encoding.level,
            hold: None,
        });
        let engine = job.encoding.engine;
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
                engine: engine.id().to_string(),
                // The coordinator holds the input: the window is in the chunk's hands.
                window: Bytes::new(),
                held: None,
                received: 0,
            })
        })
    }

    fn probe(&self) -> BoxFuture<Result<WorkerInfo, String>> {
        let info = WorkerInfo {
            slots: self.pool.slots(),
            queue_depth: self.pool.queue_depth(),
            max_chunk: u64::MAX,
            engines: Engine::ALL
                .iter()
                .map(|e| (e.name().to_string(), e.id().to_string()))
                .collect(),
            returns_window: true,
            writes_files: false,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        Box::pin(async move { Ok(info) })
    }

    fn prefetch(&self, slots: usize) -> usize {
        slots
    }
}
