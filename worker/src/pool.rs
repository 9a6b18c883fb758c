//! A fixed set of compression threads with a bounded queue in front of them.
//!
//! Deflate is CPU-bound for milliseconds at a time, so it runs on dedicated OS threads,
//! never on the async runtime that moves bytes over the network. The queue is bounded:
//! a caller that finds it full gets [`Submit::Busy`] at once instead of growing memory,
//! which the gRPC server turns into RESOURCE_EXHAUSTED. The coordinator's embedded pool
//! is this same type, so local and remote compression share one code path.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::engine::{ChunkOutput, Engine, EngineError, MAX_LEVEL};

/// One chunk to compress.
pub struct Job {
    pub data: Bytes,
    pub dictionary: Bytes,
    pub level: u32,
}

type Reply = oneshot::Sender<Result<ChunkOutput, EngineError>>;

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Submit {
    /// Every slot is busy and the queue is full.
    Busy,
    /// The pool is shutting down.
    Closed,
}

pub struct EnginePool {
    queue: Option<SyncSender<(Job, Reply)>>,
    threads: Vec<JoinHandle<()>>,
    slots: usize,
    queue_depth: usize,
}

impl EnginePool {
    /// Starts `slots` compression threads; up to `queue_depth` further jobs may wait.
    pub fn new(slots: usize, queue_depth: usize) -> std::io::Result<Self> {
        let slots = slots.max(1);
        let (tx, rx) = mpsc::sync_channel::<(Job, Reply)>(queue_depth);
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..slots)
            .map(|i| {
                let rx = Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("deflate-{i}"))
                    .spawn(move || run_slot(&rx))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(EnginePool {
            queue: Some(tx),
            threads,
            slots,
            queue_depth,
        })
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    pub fn queue_depth(&self) -> usize {
        self.queue_depth
    }

    /// Queues a job without waiting; the receiver yields its result.
    pub fn try_submit(
        &self,
        job: Job,
    ) -> Result<oneshot::Receiver<Result<ChunkOutput, EngineError>>, Submit> {
        let queue = self.queue.as_ref().ok_or(Submit::Closed)?;
        let (reply, result) = oneshot::channel();
        match queue.try_send((job, reply)) {
            Ok(()) => Ok(result),
            Err(TrySendError::Full(_)) => Err(Submit::Busy),
            Err(TrySendError::Disconnected(_)) => Err(Submit::Closed),
        }
    }
}

impl Drop for EnginePool {
    /// Lets queued jobs finish, then joins the threads.
    fn drop(&mut self) {
        self.queue.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn run_slot(rx: &Mutex<mpsc::Receiver<(Job, Reply)>>) {
    // One engine per level seen: a deflate state is costly to allocate and a worker may
    // serve jobs with different levels.
    let mut engines: Vec<Option<Engine>> = (0..=MAX_LEVEL).map(|_| None).collect();
    loop {
        let next = rx.lock().map(|r| r.recv());
        let Ok(Ok((job, reply))) = next else { return };
        // The requester gave up (cancelled RPC, losing speculative duplicate): skip.
        if reply.is_closed() {
            continue;
        }
        let result = match engines.get_mut(job.level as usize) {
            None => Err(EngineError::Level(job.level)),
            Some(slot) => {
                let engine = match slot {
                    Some(e) => Ok(e),
                    None => Engine::new(job.level).map(|e| slot.insert(e)),
                };
                engine.and_then(|e| e.compress(&job.data, &job.dictionary))
            }
        };
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::compress_chunk;

    fn job(n: usize, level: u32) -> Job {
        Job {
            data: Bytes::from(vec![b'z'; n]),
            dictionary: Bytes::new(),
            level,
        }
    }

    #[test]
    fn results_match_the_engine() {
        let pool = EnginePool::new(2, 4).unwrap();
        let rx: Vec<_> = (0..4)
            .map(|i| pool.try_submit(job(1000 * (i + 1), i as u32)).unwrap())
            .collect();
        for (i, r) in rx.into_iter().enumerate() {
            let out = r.blocking_recv().unwrap().unwrap();
            let n = 1000 * (i + 1);
            assert_eq!(out, compress_chunk(&vec![b'z'; n], &[], i as u32).unwrap());
        }
    }

    #[test]
    fn full_queue_is_busy_not_unbounded() {
        let pool = EnginePool::new(1, 1).unwrap();
        let big = || job(32 << 20, 9);
        // One running, one queued; keep submitting until the bound shows.
        let mut held = Vec::new();
        let mut busy = false;
        for _ in 0..8 {
            match pool.try_submit(big()) {
                Ok(r) => held.push(r),
                Err(e) => {
                    assert_eq!(e, Submit::Busy);
                    busy = true;
                    break;
                }
            }
        }
        assert!(
            busy,
            "a 1-slot pool with a queue of 1 accepted {} jobs",
            held.len()
        );
        assert!(held.len() <= 2);
    }

    #[test]
    fn bad_level_is_an_error_not_a_panic() {
        let pool = EnginePool::new(1, 1).unwrap();
        let r = pool.try_submit(job(10, 42)).unwrap();
        assert!(matches!(
            r.blocking_recv().unwrap(),
            Err(EngineError::Level(42))
        ));
    }
}
