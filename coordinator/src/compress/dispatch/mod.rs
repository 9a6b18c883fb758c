//! Dispatch: which worker compresses which chunk, and what happens when one fails.
//!
//! One task (the [`Dispatcher`]) owns the [`task::TaskTable`] and reacts to events: a
//! chunk read, an attempt answered or failed, a probe finished, discovery read again, a
//! timer tick. What to do about each is decided by the pure functions of [`policy`];
//! the fleet is told what happened and owns worker health; the dispatcher only wires
//! them together and does the I/O. None of this can change output bytes: a chunk's
//! deflate data depends only on the chunk, its dictionary and the level.

pub(crate) mod policy;
pub(crate) mod task;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use super::check;
use super::chunker::Chunk;
use super::plan::JobParams;
use super::window::Window;
use crate::error::Error;
use crate::fleet::{Answer, AttemptError, Change, Fleet, Sample, WorkerId, WorkerInfo};
use crate::signals;
use crate::ui::{Progress, Ui};
use policy::{Candidate, Fate, Latency, Stall, Stalled};
use task::{After, Attempt, AttemptId, Setback, TaskTable};

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
}

/// A chunk compressed and checked, on its way to the writer.
#[derive(Debug)]
pub(crate) struct Compressed {
    pub index: u64,
    pub deflate: Bytes,
    pub crc32: u32,
    pub len: u64,
}

enum Event {
    Attempt {
        index: u64,
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
    results: UnboundedSender<Compressed>,
    events_tx: UnboundedSender<Event>,
    events: UnboundedReceiver<Event>,
    tasks: TaskTable,
    /// The spawned call behind every attempt in flight, to cancel it.
    running: HashMap<AttemptId, AbortHandle>,
    latency: Latency,
    stall: Stall,
    pub stats: DispatchStats,
}

impl<'a> Dispatcher<'a> {
    pub fn new(
        fleet: &'a mut Fleet,
        job: Arc<JobParams>,
        config: DispatchConfig,
        ui: Ui,
        progress: Progress,
        window: Arc<Window>,
        results: UnboundedSender<Compressed>,
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
        }
    }

    /// Runs until every chunk the reader sends has been handed to the writer. Returns
    /// the index one past the last chunk.
    pub async fn run(
        &mut self,
        mut chunks: UnboundedReceiver<Result<Chunk, Error>>,
        mut end: u64,
    ) -> Result<u64, Error> {
        let mut reader_done = false;
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
            self.check_stalled(now(), reader_done)?;
            // Unbiased: under a steady stream of answers, reading and ticking still get
            // their turns.
            tokio::select! {
                Some(event) = self.events.recv() => self.on_event(event)?,
                chunk = chunks.recv(), if !reader_done => match chunk {
                    Some(Ok(chunk)) => {
                        end = chunk.index + 1;
                        self.tasks.insert(Arc::new(chunk));
                    }
                    Some(Err(e)) => return Err(e),
                    None => reader_done = true,
                },
                _ = tick.tick() => self.on_tick(now()),
            }
        }
    }

    fn candidates(&self, now: Instant) -> Vec<Candidate> {
        self.fleet
            .workers()
            .map(|(id, w)| Candidate {
                id,
                up: w.is_up(),
                room: w.accepts_work(now) && w.inflight() < w.capacity(),
                inflight: w.inflight(),
                slots: w.slots(),
                service_spb: w.service_spb(),
            })
            .collect()
    }

    /// Sends out everything that can go now: first a duplicate of a late head chunk,
    /// then waiting chunks in index order while the policy finds them a worker.
    fn dispatch(&mut self, now: Instant) {
        self.speculate(now);
        while let Some((index, task)) = self.tasks.next_waiting() {
            let bytes = task.chunk.data.len();
            let Some(worker) = policy::choose(&self.candidates(now), bytes, &task.tried) else {
                return;
            };
            self.launch(index, worker, now);
        }
    }

    fn speculate(&mut self, now: Instant) {
        let Some((index, task)) = self.tasks.head() else {
            return;
        };
        let task::State::Running(attempt) = &task.state else {
            return;
        };
        let bytes = task.chunk.data.len();
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
        self.launch(index, worker, now);
    }

    fn launch(&mut self, index: u64, worker: WorkerId, now: Instant) {
        let Some(link) = self.fleet.get(worker).map(|w| w.link()) else {
            return;
        };
        let worker_spb = self.fleet.get(worker).and_then(|w| w.latency_spb());
        let depth = self.fleet.started(worker);
        let (attempt, retry_of) = self.tasks.launch(index, worker, now, depth);
        if let Some(failed_on) = retry_of {
            self.stats.retries += 1;
            if failed_on != worker {
                self.stats.reassignments += 1;
            }
        }
        let chunk = Arc::clone(&self.tasks.get(index).expect("just launched").chunk);
        let deadline = policy::deadline(worker_spb, self.latency.median(), chunk.data.len());
        let call = link.compress(Arc::clone(&chunk), &self.job, deadline);
        let (verify, events, id) = (self.config.verify, self.events_tx.clone(), attempt.id);
        let handle = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let result = match call.await {
                // --verify inflates a whole chunk: not on the thread that runs the RPCs.
                Ok(answer) if verify => {
                    tokio::task::spawn_blocking(move || check::answer(&chunk, answer, true))
                        .await
                        .unwrap_or_else(|e| Err(AttemptError::Fatal(format!("verify failed: {e}"))))
                }
                Ok(answer) => check::answer(&chunk, answer, false),
                Err(e) => Err(e),
            };
            let _ = events.send(Event::Attempt {
                index,
                id,
                result,
                elapsed: started.elapsed(),
            });
        });
        self.running.insert(id, handle.abort_handle());
    }

    /// An attempt is over, one way or another: forget its call and free its place.
    fn end(&mut self, attempt: &Attempt) {
        if let Some(call) = self.running.remove(&attempt.id) {
            call.abort();
        }
        self.fleet.ended(attempt.worker);
    }

    fn on_event(&mut self, event: Event) -> Result<(), Error> {
        let now = now();
        match event {
            Event::Attempt {
                index,
                id,
                result: Ok(answer),
                elapsed,
            } => self.on_answer(index, id, answer, elapsed, now),
            Event::Attempt {
                index,
                id,
                result: Err(error),
                ..
            } => self.on_failure(index, id, error, now),
            Event::Probe {
                worker,
                ticket,
                result,
            } => {
                if let Some(change) = self.fleet.probe_finished(worker, ticket, result, now) {
                    self.tell(change);
                }
                Ok(())
            }
            Event::Resolved(addrs, errors) => {
                for e in errors {
                    self.ui.detail(format!("discovery: {e}"));
                }
                for change in self.fleet.rediscovered(&addrs, now) {
                    self.tell(change);
                }
                Ok(())
            }
        }
    }

    fn on_answer(
        &mut self,
        index: u64,
        id: AttemptId,
        answer: Answer,
        elapsed: Duration,
        now: Instant,
    ) -> Result<(), Error> {
        // An attempt that lost a race or was called off has been accounted for.
        let Some(done) = self.tasks.succeed(index, id) else {
            return Ok(());
        };
        self.end(&done.winner);
        if done.winner.speculative {
            self.stats.speculative_wins += 1;
        }
        let len = done.chunk.data.len() as u64;
        for loser in &done.losers {
            self.end(loser);
            if done.winner.speculative {
                let so_far = Sample {
                    bytes_in: len,
                    bytes_out: 0,
                    elapsed: now.saturating_duration_since(loser.started),
                    depth: loser.depth,
                };
                self.lost_race(loser.worker, so_far, now)?;
            }
        }
        self.latency.record(elapsed, len);
        let sample = Sample {
            bytes_in: len,
            bytes_out: answer.deflate.len() as u64,
            elapsed,
            depth: done.winner.depth,
        };
        self.fleet.answered(done.winner.worker, sample);
        self.results
            .send(Compressed {
                index,
                deflate: answer.deflate,
                crc32: answer.crc32,
                len,
            })
            .map_err(|_| Error::Fatal("the writer stopped".into()))
    }

    fn on_failure(
        &mut self,
        index: u64,
        id: AttemptId,
        error: AttemptError,
        now: Instant,
    ) -> Result<(), Error> {
        let (fate, counts) = policy::judge(&error);
        let setback = match (fate, counts) {
            (Fate::Pause, _) => Setback::Busy,
            (_, true) => Setback::Failed,
            (_, false) => Setback::Refused,
        };
        let Some((attempt, after)) = self.tasks.set_back(index, id, setback) else {
            return Ok(());
        };
        self.end(&attempt);
        let worker = attempt.worker;
        let name = self.fleet.name(worker);
        self.ui.detail(format!("chunk {index} on {name}: {error}"));
        if fate == Fate::Pause {
            self.stats.busy += 1;
            self.fleet.busy(worker, now);
        } else {
            self.stats.failed_attempts += 1;
            self.fleet.failed_attempt(worker);
        }
        match (fate, &error) {
            (Fate::JobFails, _) => return Err(Error::Fatal(error.to_string())),
            (Fate::Down, AttemptError::Down(why)) => self.take_down(worker, why.clone(), now)?,
            (Fate::Down, _) => {
                self.stats.timeouts += 1;
                self.take_down(worker, error.to_string(), now)?;
            }
            (Fate::Distrust, AttemptError::Wrong(why)) => {
                self.stats.wrong_answers += 1;
                let change = self.fleet.distrust(worker, why.clone(), now);
                change.into_iter().for_each(|c| self.tell(c));
            }
            (Fate::Exclude, _) => {
                let change = self.fleet.exclude(worker, error.to_string());
                change.into_iter().for_each(|c| self.tell(c));
            }
            _ => {}
        }
        match after {
            After::Exhausted { failures } => Err(Error::ChunkFailed {
                index,
                attempts: failures,
                worker: name,
                reason: error.to_string(),
            }),
            After::StillRunning | After::Requeued => Ok(()),
        }
    }

    /// A worker that failed at the transport level takes its other chunks down with
    /// it: call them off and queue them again at once rather than wait out deadlines.
    fn take_down(&mut self, worker: WorkerId, reason: String, now: Instant) -> Result<(), Error> {
        let name = self.fleet.name(worker);
        if let Some(change) = self.fleet.take_down(worker, reason.clone(), now) {
            self.tell(change);
        }
        let (called_off, exhausted) = self.tasks.call_off(worker);
        for attempt in &called_off {
            self.end(attempt);
        }
        match exhausted {
            Some((index, attempts)) => Err(Error::ChunkFailed {
                index,
                attempts,
                worker: name,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// A worker's attempt lost the race to a duplicate; losing too often means it is
    /// hung or far slower than its peers.
    fn lost_race(&mut self, worker: WorkerId, so_far: Sample, now: Instant) -> Result<(), Error> {
        let losses = self.fleet.lost_race(worker, so_far);
        if !policy::too_many_lost_races(losses) {
            return Ok(());
        }
        let reason = format!("lost {losses} races in a row to duplicates: not answering in time");
        self.take_down(worker, reason, now)
    }

    /// Says what changed in the fleet, and lets the window follow its capacity.
    fn tell(&mut self, change: Change) {
        if change.is_notable() {
            self.ui.notice(&change);
        } else {
            self.ui.info(&change);
        }
        self.window.fit(self.fleet.capacity());
    }

    fn on_tick(&mut self, now: Instant) {
        for (worker, ticket, link) in self.fleet.start_probes(now) {
            let events = self.events_tx.clone();
            tokio::spawn(async move {
                let result = link.probe().await;
                let _ = events.send(Event::Probe {
                    worker,
                    ticket,
                    result,
                });
            });
        }
        if let Some(discovery) = self.fleet.discovery_due(now) {
            let events = self.events_tx.clone();
            tokio::spawn(async move {
                let (addrs, errors) = discovery.resolve().await;
                let _ = events.send(Event::Resolved(addrs, errors));
            });
        }
    }

    /// With work to do and no worker up, waits up to --wait-workers, saying so.
    fn check_stalled(&mut self, now: Instant, reader_done: bool) -> Result<(), Error> {
        let has_work = !reader_done || !self.tasks.is_empty();
        let (any_up, may_return) = (self.fleet.any_up(), self.fleet.may_return());
        let wait = self.config.wait_workers;
        match self.stall.check(now, has_work, any_up, may_return, wait) {
            Stalled::No => Ok(()),
            Stalled::Over => {
                self.progress.set_status(String::new());
                Ok(())
            }
            Stalled::Waiting { left, first } => {
                if first {
                    self.ui.notice(format!(
                        "no worker is up; waiting up to {:.0}s for one to return (--wait-workers)",
                        wait.as_secs_f64()
                    ));
                }
                let status = format!("waiting for workers ({:.0}s left)", left.as_secs_f64());
                self.progress.set_status(status);
                Ok(())
            }
            Stalled::GiveUp { waited, may_return } => Err(if may_return {
                Error::WorkersGone {
                    waited_secs: waited.as_secs_f64(),
                    reasons: self.fleet.describe(),
                }
            } else {
                Error::NoWorkers(format!("no usable worker left: {}", self.fleet.describe()))
            }),
        }
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
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
