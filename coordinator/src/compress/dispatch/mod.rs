//! Dispatch: which worker compresses which chunk, and what happens when one fails.
//!
//! One task (the [`Dispatcher`]) owns the [`task::TaskTable`] and reacts to events: a
//! chunk read, an attempt answered or failed, a probe finished, discovery read again, a
//! timer tick. What to do about each is decided by the pure functions of [`policy`];
//! the fleet is told what happened and owns worker health; the dispatcher only wires
//! them together and does the I/O: sending here, reacting in [`react`]. None of this
//! can change output bytes: a chunk's deflate data depends only on the chunk, its
//! dictionary and the level.

pub(crate) mod policy;
mod react;
pub(crate) mod task;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use super::check::{self, Checks};
use super::chunker::{Chunk, Payload};
use super::plan::JobParams;
use super::pull::SharedFile;
use super::stream::{Item, Marker};
use super::window::Window;
use crate::error::Error;
use crate::fleet::segments::Held;
use crate::fleet::{Answer, AttemptError, Fleet, WorkerId, WorkerInfo};
use crate::signals;
use crate::telemetry::Telemetry;
use crate::ui::{Progress, Ui};
use policy::{Candidate, Latency, Stall};
use task::{Attempt, AttemptId, TaskTable};

const TICK: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub(crate) struct DispatchConfig {
    /// Failed attempts allowed per chunk before the job fails.
    pub max_attempts: u32,
    /// How long to wait when no worker is up before giving up.
    pub wait_workers: Duration,
    /// Inflate every answer and compare it with the input before writing it.
    pub verify: bool,
}

/// Counted by the dispatcher, for `-v` and `--stats-json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct DispatchStats {
    /// Attempts that failed, for any reason but a full queue.
    pub failed_attempts: u64,
    /// Chunks sent again after a failed attempt.
    pub retries: u64,
    /// Retries that went to a different worker than the one that failed.
    pub reassignments: u64,
    /// Duplicates sent for late head-of-line chunks, and how many of them won.
    pub speculative: u64,
    pub speculative_wins: u64,
    pub timeouts: u64,
    pub wrong_answers: u64,
    /// RESOURCE_EXHAUSTED answers: backpressure, sent again, not failures.
    pub busy: u64,
    /// Payload bytes received from workers: deflate data and windows; with
    /// `--direct-output`, segments' windows and the fragments the writer received.
    pub received_bytes: u64,
}

/// A chunk compressed and checked, on its way to the writer.
#[derive(Debug)]
pub(crate) struct Compressed {
    pub seq: u64,
    pub deflate: Bytes,
    pub crc32: u32,
    pub len: u64,
    /// `--index`: the chunk starts an index point, whose window this is (the input
    /// before it: its dictionary, or in pull mode what the worker returned; empty for
    /// the first chunk and with -i).
    pub window: Option<Bytes>,
    /// Direct output: a segment its worker holds (`deflate` is empty, `crc32` and
    /// `window` unused: its chunks' numbers and windows are in it).
    pub held: Option<Arc<Held>>,
}

/// What the writer gets, in any order; it puts them back in stream order by `seq`.
pub(crate) enum Ready {
    Chunk(Compressed),
    /// A marker of the stream, passed through untouched.
    Marker {
        seq: u64,
        marker: Marker,
    },
    /// A chunk of an input no worker could read (pull mode, see `SharedFile::lost`):
    /// the input fails, or has failed already.
    Lost {
        seq: u64,
        file: Arc<SharedFile>,
    },
}

impl Ready {
    pub fn seq(&self) -> u64 {
        match self {
            Ready::Chunk(c) => c.seq,
            Ready::Marker { seq, .. } | Ready::Lost { seq, .. } => *seq,
        }
    }
}

enum Event {
    Attempt {
        seq: u64,
        id: AttemptId,
        result: Result<Answer, AttemptError>,
        elapsed: Duration,
    },
    Probe {
        worker: WorkerId,
        ticket: u64,
        result: Result<WorkerInfo, String>,
    },
    Resolved(Vec<String>, Vec<String>),
}

/// The clock dispatch runs on: tokio's, so tests can pause and advance it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(crate) struct Dispatcher<'a> {
    fleet: &'a mut Fleet,
    job: Arc<JobParams>,
    config: DispatchConfig,
    ui: Ui,
    progress: Progress,
    window: Arc<Window>,
    results: UnboundedSender<Ready>,
    events_tx: UnboundedSender<Event>,
    events: UnboundedReceiver<Event>,
    tasks: TaskTable,
    /// The spawned call behind every attempt in flight, to cancel it.
    running: HashMap<AttemptId, AbortHandle>,
    latency: Latency,
    stall: Stall,
    pub stats: DispatchStats,
    /// Where `stats` and the fleet's numbers are published for `--metrics`.
    pub telemetry: Telemetry,
}

impl<'a> Dispatcher<'a> {
    pub fn new(
        fleet: &'a mut Fleet,
        job: Arc<JobParams>,
        config: DispatchConfig,
        ui: Ui,
        progress: Progress,
        window: Arc<Window>,
        results: UnboundedSender<Ready>,
    ) -> Self {
        let (events_tx, events) = unbounded_channel();
        Dispatcher {
            fleet,
            job,
            tasks: TaskTable::new(config.max_attempts),
            config,
            ui,
            progress,
            window,
            results,
            events_tx,
            events,
            running: HashMap::new(),
            latency: Latency::default(),
            stall: Stall::default(),
            stats: DispatchStats::default(),
            telemetry: Telemetry::default(),
        }
    }

    /// Runs until every item the reader sends has been handed to the writer: chunks
    /// once compressed and checked, markers at once. Returns the place one past the
    /// last item of the stream. A stream that stops without its [`Item::Done`] (the
    /// reader died) is an error, not a run that ended early and looks complete.
    pub async fn run(&mut self, mut items: UnboundedReceiver<Item>) -> Result<u64, Error> {
        let mut end = 0;
        let mut reader_done = false;
        self.show_fleet();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if signals::interrupted() {
                return Err(Error::Interrupted);
            }
            if self.results.is_closed() {
                return Err(Error::Fatal("the writer stopped".into()));
            }
            self.dispatch(now());
            if reader_done && self.tasks.is_empty() {
                return Ok(end);
            }
            self.check_stalled(now())?;
            // Unbiased: under a steady stream of answers, reading and ticking still get
            // their turns.
            tokio::select! {
                Some(event) = self.events.recv() => self.on_event(event)?,
                item = items.recv(), if !reader_done => match item {
                    Some(Item::Chunk(chunk)) => {
                        end = chunk.seq + 1;
                        self.take(chunk)?;
                    }
                    Some(Item::Marker { seq, marker }) => {
                        end = seq + 1;
                        self.hand_over(Ready::Marker { seq, marker })?;
                    }
                    Some(Item::Done) => reader_done = true,
                    None => {
                        return Err(Error::Fatal(
                            "internal error: the reader stopped before the end of its inputs"
                                .into(),
                        ))
                    }
                },
                _ = tick.tick() => self.on_tick(now()),
            }
        }
    }

    /// A chunk read: a task, unless its input is lost already (then it only keeps its
    /// place in the stream).
    fn take(&mut self, chunk: Chunk) -> Result<(), Error> {
        if let Payload::Shared(file) = &chunk.payload
            && file.lost.get().is_some()
        {
            let (seq, file) = (chunk.seq, Arc::clone(file));
            return self.hand_over(Ready::Lost { seq, file });
        }
        self.tasks.insert(Arc::new(chunk));
        Ok(())
    }

    fn hand_over(&self, ready: Ready) -> Result<(), Error> {
        self.results
            .send(ready)
            .map_err(|_| Error::Fatal("the writer stopped".into()))
    }

    fn candidates(&self, now: Instant) -> Vec<Candidate> {
        self.fleet
            .workers()
            .map(|(id, w)| Candidate {
                id,
                available: w.accepts_work(now),
                room: w.accepts_work(now) && w.inflight() < w.capacity(),
                inflight: w.inflight(),
                slots: w.slots(),
                service_spb: w.service_spb(now),
            })
            .collect()
    }

    /// Sends out everything that can go now: first a duplicate of a late head chunk,
    /// then waiting chunks in stream order while the policy finds them a worker. A
    /// retry waiting for a worker it has not failed on lets the chunks after it go; a
    /// new chunk with nowhere to go means none after it has either.
    fn dispatch(&mut self, now: Instant) {
        self.speculate(now);
        let mut from = 0;
        while let Some((seq, task)) = self.tasks.next_waiting(from) {
            from = seq + 1;
            let (bytes, retry) = (task.chunk.len(), !task.tried.is_empty());
            match policy::choose(&self.candidates(now), bytes, &task.tried) {
                Some(worker) if self.launch(seq, worker, now) => {}
                None if retry => {}
                _ => return,
            }
        }
    }

    fn speculate(&mut self, now: Instant) {
        let Some((seq, task)) = self.tasks.head() else {
            return;
        };
        let task::State::Running(attempt) = &task.state else {
            return;
        };
        let (bytes, index) = (task.chunk.len(), task.chunk.index);
        if !self.latency.is_late(attempt.started, now, bytes) {
            return;
        }
        let cands = self.candidates(now);
        let Some(worker) = policy::choose_duplicate(&cands, bytes, &task.tried, attempt.worker)
        else {
            return;
        };
        self.stats.speculative += 1;
        self.ui.detail(format!(
            "chunk {index} is late on {} ({:.2}s); duplicating it on {}",
            self.fleet.name(attempt.worker),
            now.saturating_duration_since(attempt.started).as_secs_f64(),
            self.fleet.name(worker)
        ));
        self.launch(seq, worker, now);
    }

    /// Workers up and retries so far on the progress line, in cluster mode (the
    /// embedded pool has nothing to say there).
    fn show_fleet(&self) {
        if self.fleet.is_remote() {
            let up = self.fleet.workers().filter(|(_, w)| w.is_up()).count();
            let known = self.fleet.workers().count();
            self.progress.set_fleet(up, known, self.stats.retries);
        }
    }

    /// Sends task `seq` to `worker`; false if the worker is gone (nothing sent).
    fn launch(&mut self, seq: u64, worker: WorkerId, now: Instant) -> bool {
        let Some(link) = self.fleet.get(worker).map(|w| w.link()) else {
            return false;
        };
        let worker_spb = self.fleet.get(worker).and_then(|w| w.latency_spb());
        let depth = self.fleet.started(worker);
        let (attempt, retry_of) = self.tasks.launch(seq, worker, now, depth);
        if let Some(failed_on) = retry_of {
            self.stats.retries += 1;
            if failed_on != worker {
                self.stats.reassignments += 1;
            }
            self.show_fleet();
        }
        let chunk = Arc::clone(&self.tasks.get(seq).expect("just launched").chunk);
        let deadline = policy::deadline(worker_spb, self.latency.median(), chunk.len());
        let call = link.compress(Arc::clone(&chunk), &self.job, deadline);
        let checks = Checks {
            engine: self.job.encoding.engine,
            verify: self.config.verify,
            independent: self.job.encoding.independent,
            window: self.job.asks_window(&chunk),
        };
        let (events, id) = (self.events_tx.clone(), attempt.id);
        let handle = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let result = match call.await {
                // --verify inflates a whole chunk (and in pull mode reads it): not on
                // the thread that runs the RPCs.
                Ok(answer) if checks.verify => {
                    tokio::task::spawn_blocking(move || check::answer(&chunk, answer, checks))
                        .await
                        .unwrap_or_else(|e| Err(AttemptError::Fatal(format!("verify failed: {e}"))))
                }
                Ok(answer) => check::answer(&chunk, answer, checks),
                Err(e) => Err(e),
            };
            let _ = events.send(Event::Attempt {
                seq,
                id,
                result,
                elapsed: started.elapsed(),
            });
        });
        self.running.insert(id, handle.abort_handle());
        true
    }

    /// Copies the numbers `-v` and `--stats-json` report to where `--metrics` serves
    /// them from (on each tick and at the end: a scrape may lag by one tick).
    fn publish(&self) {
        self.telemetry.publish(|s| {
            s.dispatch = self.stats.clone();
            s.workers = (self.fleet.reports().into_iter())
                .map(|r| (r.name, r.stats))
                .collect();
            s.workers_up = self.fleet.workers().filter(|(_, w)| w.is_up()).count();
        });
    }

    /// An attempt is over, one way or another: forget its call and free its place.
    fn end(&mut self, attempt: &Attempt) {
        if let Some(call) = self.running.remove(&attempt.id) {
            call.abort();
        }
        self.fleet.ended(attempt.worker);
    }
}

impl Drop for Dispatcher<'_> {
    /// A job that ends early calls off its attempts, so the fleet starts the next job
    /// with nothing in flight, and probes again whatever this job's probes left open.
    fn drop(&mut self) {
        for (_, call) in self.running.drain() {
            call.abort();
        }
        self.fleet.end_job(now());
        self.publish();
    }
}

#[cfg(test)]
#[path = "dispatch_fakes.rs"]
mod fakes;
#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
