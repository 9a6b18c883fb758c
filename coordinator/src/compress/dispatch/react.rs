//! How the dispatcher reacts to what happens: an attempt answered or failed, a race
//! lost, a probe or discovery answered, a tick, a stall. Each reaction asks
//! `policy` what a thing means, tells the fleet and the task table, and does what they
//! return (cancel, requeue, say so).

use std::time::{Duration, Instant};

use std::sync::Arc;

use super::policy::{self, Fate, Stalled};
use super::task;
use super::task::{After, AttemptId, Setback};
use super::{Compressed, Dispatcher, Event, Ready, now};
use crate::compress::chunker::Payload;
use crate::error::Error;
use crate::fleet::{Answer, AttemptError, Change, Sample, WorkerId};

impl Dispatcher<'_> {
    pub(super) fn on_event(&mut self, event: Event) -> Result<(), Error> {
        let now = now();
        let result = match event {
            Event::Attempt {
                seq,
                id,
                result: Ok(answer),
                elapsed,
            } => self.on_answer(seq, id, answer, elapsed, now),
            Event::Attempt {
                seq,
                id,
                result: Err(error),
                ..
            } => self.on_failure(seq, id, error, now),
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
                for e in &errors {
                    self.ui.detail(format!("discovery: {e}"));
                }
                for change in self.fleet.rediscovered(&addrs, errors.is_empty(), now) {
                    self.tell(change);
                }
                Ok(())
            }
        };
        // Retired workers whose last attempt just ended leave, now that it is recorded.
        self.fleet.prune();
        result
    }

    fn on_answer(
        &mut self,
        seq: u64,
        id: AttemptId,
        answer: Answer,
        elapsed: Duration,
        now: Instant,
    ) -> Result<(), Error> {
        // An attempt that lost a race or was called off has been accounted for.
        let Some(done) = self.tasks.succeed(seq, id) else {
            return Ok(());
        };
        self.end(&done.winner);
        if done.winner.speculative {
            self.stats.speculative_wins += 1;
        }
        let len = done.chunk.len() as u64;
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
        let winner = done.winner.worker;
        self.telemetry.answered(|| self.fleet.name(winner), elapsed);
        self.stats.received_bytes +=
            (answer.deflate.len() + answer.window.len()) as u64 + answer.received;
        let sample = Sample {
            bytes_in: len,
            bytes_out: answer
                .held
                .as_ref()
                .map_or(answer.deflate.len() as u64, |h| h.deflate_len()),
            elapsed,
            depth: done.winner.depth,
        };
        self.fleet.answered(done.winner.worker, sample, now);
        let window = self
            .job
            .is_point(done.chunk.index)
            .then(|| match &done.chunk.payload {
                Payload::Bytes { dictionary, .. } => dictionary.clone(),
                Payload::Shared(_) => answer.window.clone(),
            });
        let compressed = Compressed {
            seq,
            deflate: answer.deflate,
            crc32: answer.crc32,
            len,
            window: window.filter(|_| answer.held.is_none()),
            held: answer.held,
        };
        self.results
            .send(Ready::Chunk(compressed))
            .map_err(|_| Error::Fatal("the writer stopped".into()))
    }

    fn on_failure(
        &mut self,
        seq: u64,
        id: AttemptId,
        error: AttemptError,
        now: Instant,
    ) -> Result<(), Error> {
        let Some(task) = self.tasks.get(seq) else {
            return Ok(());
        };
        let Some(worker) = task.attempt(id).map(|a| a.worker) else {
            return Ok(());
        };
        let index = task.chunk.index;
        let (fate, counts, error) = self.judge(worker, error, now);
        let name = self.fleet.name(worker);
        self.ui.detail(format!("chunk {index} on {name}: {error}"));
        let setback = match (fate, counts) {
            (Fate::Pause, _) => Setback::Busy,
            (_, true) => Setback::Failed,
            (_, false) => Setback::Refused,
        };
        let (attempt, after) = self
            .tasks
            .set_back(seq, id, setback)
            .expect("the attempt was just found");
        self.end(&attempt);
        if fate != Fate::Pause {
            self.stats.failed_attempts += 1;
        }
        self.meet(fate, worker, &error, now)?;
        match (after, error) {
            (After::Exhausted { .. }, AttemptError::Input(why)) => self.lose(seq, &name, why),
            (After::Exhausted { failures }, error) => Err(Error::ChunkFailed {
                index,
                attempts: failures,
                worker: name,
                reason: error.to_string(),
            }),
            (After::StillRunning | After::Requeued, _) => Ok(()),
        }
    }

    /// Does to `worker` what its failure means for it (its `fate`).
    fn meet(
        &mut self,
        fate: Fate,
        worker: WorkerId,
        error: &AttemptError,
        now: Instant,
    ) -> Result<(), Error> {
        if !matches!(fate, Fate::Pause | Fate::Stays) {
            self.fleet.failed_attempt(worker);
        }
        match (fate, error) {
            (Fate::JobFails, _) => return Err(Error::Fatal(error.to_string())),
            (Fate::Down, AttemptError::Down(why)) => self.take_down(worker, why.clone(), now)?,
            (Fate::Down, _) => {
                self.stats.timeouts += 1;
                self.take_down(worker, error.to_string(), now)?;
            }
            (Fate::Distrust, _) => {
                self.stats.wrong_answers += 1;
                let change = self.fleet.distrust(worker, error.to_string(), now);
                change.into_iter().for_each(|c| self.tell(c));
            }
            (Fate::Exclude, _) => {
                let change = self.fleet.exclude(worker, error.to_string());
                change.into_iter().for_each(|c| self.tell(c));
            }
            (Fate::Pause | Fate::Stays, _) => {}
        }
        Ok(())
    }

    /// No worker could read a pull chunk's input as this coordinator sees it: that
    /// input is lost. The writer fails it (abandoning its output, and finding out
    /// whether it changed here: not on this thread, which must keep answering); its
    /// other chunks waiting are dropped with it, and no more of it is cut. The run goes
    /// on.
    fn lose(&mut self, seq: u64, worker: &str, why: String) -> Result<(), Error> {
        let internal =
            |what: &str| Error::Fatal(format!("internal error: {what} ({worker}: {why})"));
        let Some(task) = self.tasks.remove(seq) else {
            return Err(internal("a lost chunk was still running"));
        };
        let Payload::Shared(file) = &task.chunk.payload else {
            return Err(internal("a chunk in hand was lost"));
        };
        file.lost.get_or_init(|| format!("{worker}: {why}"));
        self.hand_over(Ready::Lost {
            seq,
            file: Arc::clone(file),
        })?;
        let same_file =
            |t: &task::Task| matches!(&t.chunk.payload, Payload::Shared(f) if Arc::ptr_eq(f, file));
        for other in self.tasks.remove_waiting(same_file) {
            self.hand_over(Ready::Lost {
                seq: other.chunk.seq,
                file: Arc::clone(file),
            })?;
        }
        Ok(())
    }

    /// What a failure means and whether it counts (the policy's verdict), with
    /// backpressure tallied: a worker that has pushed back too long is treated as one
    /// that stopped.
    fn judge(
        &mut self,
        worker: WorkerId,
        error: AttemptError,
        now: Instant,
    ) -> (Fate, bool, AttemptError) {
        let (fate, counts) = policy::judge(&error);
        if fate != Fate::Pause {
            return (fate, counts, error);
        }
        self.stats.busy += 1;
        let streak = self.fleet.busy(worker, now);
        if !policy::busy_too_long(streak) {
            return (fate, counts, error);
        }
        let why = format!("answered RESOURCE_EXHAUSTED {streak} times in a row ({error})");
        let error = AttemptError::Down(why);
        let (fate, counts) = policy::judge(&error);
        (fate, counts, error)
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
            Some((chunk, attempts)) => Err(Error::ChunkFailed {
                index: chunk.index,
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
        let losses = self.fleet.lost_race(worker, so_far, now);
        if !policy::too_many_lost_races(losses) {
            return Ok(());
        }
        let reason = format!(
            "lost {losses} races in a row to duplicates (hung, or far slower than the others)"
        );
        self.take_down(worker, reason, now)
    }

    /// Says what changed in the fleet, and lets the window follow its capacity.
    fn tell(&mut self, change: Change) {
        if change.is_notable() {
            self.ui.notice(&change);
        } else {
            self.ui.info(&change);
        }
        self.show_fleet();
        self.window.fit(self.fleet.capacity());
    }

    pub(super) fn on_tick(&mut self, now: Instant) {
        self.publish();
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

    /// With chunks waiting and no worker up, waits up to --wait-workers, saying so. A
    /// reader waiting on a quiet pipe is not work: only chunks already read count.
    pub(super) fn check_stalled(&mut self, now: Instant) -> Result<(), Error> {
        let has_work = !self.tasks.is_empty();
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
