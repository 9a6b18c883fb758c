//! A fixed set of compression threads with a bounded queue in front of them.
//!
//! Deflate is CPU-bound for milliseconds at a time, so it runs on dedicated OS threads,
//! never on the async runtime that moves bytes over the network. The queue is bounded:
//! a caller that finds it full gets [`Submit::Busy`] at once instead of growing memory,
//! which the gRPC server turns into RESOURCE_EXHAUSTED. The coordinator's embedded pool
//! is this same type, so local and remote compression share one code path. In pull
//! mode a slot first reads its chunk from the file: the bytes are in memory only while a
//! slot works on them, never while a request waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use tokio::sync::oneshot;

use crate::engine::{ChunkOutput, Engine, EngineError};
use crate::range::{FileRange, RangeError};

/// Where a job's bytes are.
pub enum Input {
    /// In hand: the chunk and the 32 KiB before it (empty at the start, or with -i).
    Bytes { data: Bytes, dictionary: Bytes },
    /// To be read by the slot (pull mode).
    File(FileRange),
}

/// One chunk to compress.
pub struct Job {
    pub input: Input,
    pub engine: Engine,
    pub level: u32,
    /// What the job was counted against where it came in (the gRPC server's admission
    /// permit), kept until a slot has answered or skipped it: a caller that gave up
    /// leaves its job's bytes here, and they must stay counted until freed.
    pub hold: Option<Hold>,
}

/// See [`Job::hold`].
pub type Hold = std::sync::Arc<tokio::sync::OwnedSemaphorePermit>;

/// Why a job produced no output.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Read(#[from] RangeError),
}

type Reply = oneshot::Sender<Result<ChunkOutput, JobError>>;

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Submit {
    /// Every slot is busy and the queue is full.
    Busy,
    /// The pool is shutting down.
    Closed,
}

pub struct EnginePool {
    queue: Option<Sender<(Job, Reply)>>,
    threads: Vec<JoinHandle<()>>,
    /// Jobs queued and not yet taken by a slot, for the metrics' queue gauge. A count
    /// rather than a kept end of the channel: a receiver held here would keep the
    /// queue open after every slot thread had died, and submissions would wait there
    /// for ever instead of being refused as `Closed`.
    waiting: Arc<AtomicUsize>,
    slots: usize,
    queue_depth: usize,
}

impl EnginePool {
    /// Starts `slots` compression threads; up to `queue_depth` further jobs may wait
    /// (at least one: a queue of none would refuse every job sent while all slots are
    /// busy, which is all the time for a coordinator that keeps a worker fed).
    pub fn new(slots: usize, queue_depth: usize) -> std::io::Result<Self> {
        let slots = slots.max(1);
        let queue_depth = queue_depth.max(1);
        let (tx, rx) = crossbeam_channel::bounded::<(Job, Reply)>(queue_depth);
        let waiting = Arc::new(AtomicUsize::new(0));
        let threads = (0..slots)
            .map(|i| {
                let (rx, waiting) = (rx.clone(), Arc::clone(&waiting));
                std::thread::Builder::new()
                    .name(format!("deflate-{i}"))
                    .spawn(move || run_slot(&rx, &waiting))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(EnginePool {
            queue: Some(tx),
            threads,
            waiting,
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

    /// A count of the jobs waiting for a slot, readable from anywhere (a metrics
    /// scrape) for as long as it is kept.
    pub fn waiting(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let waiting = Arc::clone(&self.waiting);
        move || waiting.load(Ordering::Relaxed)
    }

    /// Queues a job without waiting; the receiver yields its result.
    pub fn try_submit(
        &self,
        job: Job,
    ) -> Result<oneshot::Receiver<Result<ChunkOutput, JobError>>, Submit> {
        let queue = self.queue.as_ref().ok_or(Submit::Closed)?;
        let (reply, result) = oneshot::channel();
        // Counted before the send, so a slot's decrement never comes first.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let sent = queue.try_send((job, reply));
        if sent.is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        match sent {
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

fn run_slot(rx: &Receiver<(Job, Reply)>, waiting: &AtomicUsize) {
    // Ends when the pool is dropped and the queue is drained.
    for (job, reply) in rx.iter() {
        waiting.fetch_sub(1, Ordering::Relaxed);
        // The requester gave up (cancelled RPC, losing speculative duplicate): skip.
        if reply.is_closed() {
            continue;
        }
        let Job {
            input,
            engine,
            level,
            hold,
        } = job;
        let _ = reply.send(run_job(input, engine, level));
        // Only now: the input is freed and the output handed over.
        drop(hold);
    }
}

fn run_job(input: Input, engine: Engine, level: u32) -> Result<ChunkOutput, JobError> {
    let (dictionary, data) = match input {
        Input::Bytes { data, dictionary } => (dictionary, data),
        Input::File(range) => range.read()?,
    };
    Ok(engine.compress(&data, &dictionary, level)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::compress_chunk;

    fn job(n: usize, level: u32) -> Job {
        bytes_job(Bytes::from(vec![b'z'; n]), Bytes::new(), level)
    }

    fn bytes_job(data: Bytes, dictionary: Bytes, level: u32) -> Job {
        Job {
            input: Input::Bytes { data, dictionary },
            engine: Engine::ZlibRs,
            level,
            hold: None,
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
    fn waiting_counts_jobs_queued_behind_busy_slots() {
        let pool = EnginePool::new(1, 4).unwrap();
        let waiting = pool.waiting();
        let data = Bytes::from(vec![b'z'; 32 << 20]);
        let running = pool
            .try_submit(bytes_job(data.clone(), Bytes::new(), 9))
            .unwrap();
        let queued: Vec<_> = (0..3)
            .map(|_| pool.try_submit(job(1000, 1)).unwrap())
            .collect();
        // The slot is on the big job (tens of milliseconds): at least two of the
        // three small ones still wait.
        assert!(waiting() >= 2, "{}", waiting());
        running.blocking_recv().unwrap().unwrap();
        for r in queued {
            r.blocking_recv().unwrap().unwrap();
        }
        assert_eq!(waiting(), 0);
    }

    #[test]
    fn full_queue_is_busy_not_unbounded() {
        let pool = EnginePool::new(1, 1).unwrap();
        // One buffer shared by every job, so submissions take microseconds and the
        // first job (tens of milliseconds of deflate) is still running when the bound
        // is reached.
        let data = Bytes::from(vec![b'z'; 32 << 20]);
        let big = || bytes_job(data.clone(), Bytes::new(), 9);
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

    /// Text whose compression after other data once differed from a fresh compression
    /// (stale window bytes after a reset): a slot's history must not leak into output.
    fn words(len: usize, mut x: u64) -> Vec<u8> {
        let words: [&[u8]; 9] = [
            b"gzip", b"chunk", b"worker", b"deflate", b"stream", b"the", b"of", b"and", b"\n",
        ];
        let mut v = Vec::new();
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(words[(x % 9) as usize]);
            v.push(b' ');
        }
        v.truncate(len);
        v
    }

    #[test]
    fn a_slots_history_never_changes_its_output() {
        let all = words(400_000, 64);
        let chunk = Bytes::copy_from_slice(&all[131_072..262_144]);
        let dictionary = Bytes::copy_from_slice(&all[131_072 - 32_768..131_072]);
        let expected = compress_chunk(&chunk, &dictionary, 6).unwrap();
        let pool = EnginePool::new(1, 4).unwrap();
        let other = pool
            .try_submit(bytes_job(
                Bytes::from(words(131_072, 1064)),
                Bytes::new(),
                6,
            ))
            .unwrap();
        let again = pool.try_submit(bytes_job(chunk, dictionary, 6)).unwrap();
        other.blocking_recv().unwrap().unwrap();
        assert_eq!(again.blocking_recv().unwrap().unwrap(), expected);
    }

    #[test]
    fn a_queue_of_zero_is_raised_to_one() {
        let pool = EnginePool::new(1, 0).unwrap();
        assert_eq!(pool.queue_depth(), 1);
        let r = pool
            .try_submit(job(10, 1))
            .expect("an idle pool refused a job");
        r.blocking_recv().unwrap().unwrap();
    }

    #[test]
    fn a_file_range_compresses_as_the_same_bytes_in_hand() {
        let all = words(400_000, 64);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &all).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let range = FileRange {
            file: std::sync::Arc::new(std::fs::File::open(&path).unwrap()),
            name: "f".into(),
            offset: 131_072,
            length: 131_072,
            dictionary: true,
            size: meta.len(),
            mtime_ns: crate::range::mtime_ns(&meta),
        };
        let pool = EnginePool::new(1, 1).unwrap();
        let out = pool
            .try_submit(Job {
                input: Input::File(range),
                engine: Engine::ZlibRs,
                level: 6,
                hold: None,
            })
            .unwrap()
            .blocking_recv()
            .unwrap()
            .unwrap();
        let expected =
            compress_chunk(&all[131_072..262_144], &all[131_072 - 32_768..131_072], 6).unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_jobs_hold_is_released_once_a_slot_is_done_with_it() {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(2));
        let held = |n: usize| {
            let mut j = job(n, 6);
            j.hold = Some(std::sync::Arc::new(
                std::sync::Arc::clone(&permits).try_acquire_owned().unwrap(),
            ));
            j
        };
        // A queue of 2: both jobs fit even before the idle slot wakes for the first.
        let pool = EnginePool::new(1, 2).unwrap();
        let answered = pool.try_submit(held(1000)).unwrap();
        // Its caller gone: skipped by the slot, and its hold released all the same.
        drop(pool.try_submit(held(1000)).unwrap());
        assert!(answered.blocking_recv().unwrap().is_ok());
        // The slot drops the holds just after answering: give it time, however slow
        // the machine; a hold kept for good never comes back.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while permits.available_permits() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(permits.available_permits(), 2);
    }

    #[test]
    fn bad_level_is_an_error_not_a_panic() {
        let pool = EnginePool::new(1, 1).unwrap();
        let r = pool.try_submit(job(10, 42)).unwrap();
        assert!(matches!(
            r.blocking_recv().unwrap(),
            Err(JobError::Engine(EngineError::Level { level: 42, .. }))
        ));
    }
}
