//! One task per chunk read and not yet handed to the writer, each in an explicit
//! [`State`], kept in a [`TaskTable`] ordered by the chunk's place in the stream. Transitions happen only
//! here, as pure data changes: the dispatcher does the I/O (sending, calling off) the
//! returned values ask for.
//!
//! ```text
//!           read           sent         an answer passes its checks
//!   chunk ───────▶ Queued ──────▶ Running ─────────────────────────────▶ Done
//!                    ▲  busy         │  ▲                                  ▲
//!                    └───────────────┤  │ sent                             │
//!                                    │  │                                  │
//!                 failed, refused or ├─▶ Retrying                          │
//!                 called off, with   │                                     │
//!                 attempts left      │                                     │
//!                                    │ late at the head of line:           │
//!                                    ▼ a duplicate on another worker       │
//!                               Duplicated ─── the first answer that ──────┘
//!                                  │           passes (the other is called off)
//!                                  └── one of the two fails ──▶ Running
//!
//!   A setback with --max-attempts used up and nothing running: Failed; the job fails.
//! ```
//!
//! Done and Failed are not states a task stays in: a done task leaves the table for
//! the writer, and a failed one ends the job.
//!
//! Only failures that count (see `policy::judge`) use up --max-attempts; an attempt
//! called off because its worker was taken down does not, but a chunk already at the
//! limit gets no further attempt from it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::super::chunker::Chunk;
use crate::fleet::WorkerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AttemptId(u64);

/// One try at one chunk on one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub id: AttemptId,
    pub worker: WorkerId,
    pub started: Instant,
    /// A duplicate of a late attempt.
    pub speculative: bool,
    /// Attempts in flight on the worker when this one was sent, itself included.
    pub depth: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting for a worker with room.
    Queued,
    /// Waiting to be sent again after an attempt on `failed_on` came to nothing.
    Retrying { failed_on: WorkerId },
    /// One attempt in flight.
    Running(Attempt),
    /// The original attempt was late; a duplicate runs beside it on another worker.
    Duplicated { first: Attempt, second: Attempt },
}

pub(crate) struct Task {
    pub chunk: Arc<Chunk>,
    pub state: State,
    /// Failed attempts that count toward --max-attempts.
    pub failures: u32,
    /// Workers tried, so a retry prefers someone else.
    pub tried: Vec<WorkerId>,
}

impl Task {
    /// Attempt `id`, if it is still running.
    pub fn attempt(&self, id: AttemptId) -> Option<&Attempt> {
        match &self.state {
            State::Running(a) if a.id == id => Some(a),
            State::Duplicated { first, .. } if first.id == id => Some(first),
            State::Duplicated { second, .. } if second.id == id => Some(second),
            _ => None,
        }
    }

    fn waiting(&self) -> bool {
        matches!(self.state, State::Queued | State::Retrying { .. })
    }

    /// Removes attempt `id`; the state is what remains (Queued if nothing runs).
    fn remove(&mut self, id: AttemptId) -> Option<Attempt> {
        match std::mem::replace(&mut self.state, State::Queued) {
            State::Running(a) if a.id == id => Some(a),
            State::Duplicated { first, second } if first.id == id => {
                self.state = State::Running(second);
                Some(first)
            }
            State::Duplicated { first, second } if second.id == id => {
                self.state = State::Running(first);
                Some(second)
            }
            other => {
                self.state = other;
                None
            }
        }
    }

    /// After an attempt on `worker` came to nothing and none runs: retry, or give up.
    fn after_setback(&mut self, worker: WorkerId, busy: bool, max: u32) -> After {
        if !self.waiting() {
            return After::StillRunning;
        }
        if self.failures >= max {
            return After::Exhausted {
                failures: self.failures,
            };
        }
        self.state = match busy {
            true => State::Queued,
            false => State::Retrying { failed_on: worker },
        };
        After::Requeued
    }
}

/// How an attempt came to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setback {
    /// Failed in a way that counts toward --max-attempts.
    Failed,
    /// Failed in a way that does not count (the worker refuses such requests).
    Refused,
    /// The worker's queue was full: sent again as if new.
    Busy,
}

/// What became of a task after a setback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// Its other attempt still runs.
    StillRunning,
    /// Waiting to be sent again.
    Requeued,
    /// Out of attempts with none running: the job fails.
    Exhausted { failures: u32 },
}

/// The task that finished, and the attempts that lost to the winner.
pub(crate) struct Done {
    pub chunk: Arc<Chunk>,
    pub winner: Attempt,
    pub losers: Vec<Attempt>,
}

pub(crate) struct TaskTable {
    tasks: BTreeMap<u64, Task>,
    next_attempt: u64,
    max_attempts: u32,
}

impl TaskTable {
    pub fn new(max_attempts: u32) -> Self {
        TaskTable {
            tasks: BTreeMap::new(),
            next_attempt: 0,
            max_attempts,
        }
    }

    pub fn insert(&mut self, chunk: Arc<Chunk>) {
        let task = Task {
            chunk,
            state: State::Queued,
            failures: 0,
            tried: Vec::new(),
        };
        self.tasks.insert(task.chunk.seq, task);
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub fn get(&self, seq: u64) -> Option<&Task> {
        self.tasks.get(&seq)
    }

    /// The first task from place `from` in the stream waiting to be sent: from 0, the
    /// chunk the writer needs soonest. Tasks are known by their chunk's place in the
    /// stream, `seq`.
    pub fn next_waiting(&self, from: u64) -> Option<(u64, &Task)> {
        self.tasks
            .range(from..)
            .find(|(_, t)| t.waiting())
            .map(|(i, t)| (*i, t))
    }

    /// The task the writer waits for.
    pub fn head(&self) -> Option<(u64, &Task)> {
        self.tasks.first_key_value().map(|(i, t)| (*i, t))
    }

    /// Sends task `seq` to `worker`: a waiting task starts Running; a Running one
    /// gets a duplicate. Returns the attempt and, for a retry, where it had failed.
    ///
    /// # Panics
    /// If the task is unknown or already Duplicated: the dispatcher only sends tasks
    /// the table offered.
    pub fn launch(
        &mut self,
        seq: u64,
        worker: WorkerId,
        now: Instant,
        depth: usize,
    ) -> (Attempt, Option<WorkerId>) {
        let task = self.tasks.get_mut(&seq).expect("launching a known task");
        let mut attempt = Attempt {
            id: AttemptId(self.next_attempt),
            worker,
            started: now,
            speculative: false,
            depth,
        };
        self.next_attempt += 1;
        if !task.tried.contains(&worker) {
            task.tried.push(worker);
        }
        let (state, retry_of) = match std::mem::replace(&mut task.state, State::Queued) {
            State::Queued => (State::Running(attempt.clone()), None),
            State::Retrying { failed_on } => (State::Running(attempt.clone()), Some(failed_on)),
            State::Running(first) => {
                attempt.speculative = true;
                let second = attempt.clone();
                (State::Duplicated { first, second }, None)
            }
            State::Duplicated { .. } => panic!("chunk {seq} already runs twice"),
        };
        task.state = state;
        (attempt, retry_of)
    }

    /// Drops a task none of whose attempts runs (its input failed).
    pub fn remove(&mut self, seq: u64) -> Option<Task> {
        let waiting = self.tasks.get(&seq)?.waiting();
        waiting.then(|| self.tasks.remove(&seq)).flatten()
    }

    /// Drops every waiting task `drop` picks (their input failed); returns them.
    pub fn remove_waiting(&mut self, drop: impl Fn(&Task) -> bool) -> Vec<Task> {
        let seqs: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.waiting() && drop(t))
            .map(|(seq, _)| *seq)
            .collect();
        seqs.iter()
            .filter_map(|seq| self.tasks.remove(seq))
            .collect()
    }

    /// Attempt `id` answered and its answer passed the checks: the task is done.
    /// None when that attempt had already been called off.
    pub fn succeed(&mut self, seq: u64, id: AttemptId) -> Option<Done> {
        let task = self.tasks.get_mut(&seq)?;
        let winner = task.remove(id)?;
        let task = self.tasks.remove(&seq).expect("task present");
        let losers = match task.state {
            State::Running(other) => vec![other],
            _ => vec![],
        };
        Some(Done {
            chunk: task.chunk,
            winner,
            losers,
        })
    }

    /// Attempt `id` came to nothing. Returns it and what became of the task; None
    /// when that attempt had already been called off.
    pub fn set_back(
        &mut self,
        index: u64,
        id: AttemptId,
        how: Setback,
    ) -> Option<(Attempt, After)> {
        let max = self.max_attempts;
        let task = self.tasks.get_mut(&index)?;
        let attempt = task.remove(id)?;
        if how == Setback::Failed {
            task.failures += 1;
        }
        let after = task.after_setback(attempt.worker, how == Setback::Busy, max);
        Some((attempt, after))
    }

    /// Calls off every attempt on `worker` (taken out of rotation); their tasks wait
    /// to be sent again. Returns them, and the first task left out of attempts (its
    /// chunk and failures).
    pub fn call_off(&mut self, worker: WorkerId) -> (Vec<Attempt>, Option<(Arc<Chunk>, u32)>) {
        let max = self.max_attempts;
        let mut called_off = Vec::new();
        let mut exhausted = None;
        for task in self.tasks.values_mut() {
            let on_worker: Vec<AttemptId> = match &task.state {
                State::Running(a) if a.worker == worker => vec![a.id],
                State::Duplicated { first, second } => [first, second]
                    .into_iter()
                    .filter(|a| a.worker == worker)
                    .map(|a| a.id)
                    .collect(),
                _ => vec![],
            };
            for id in on_worker {
                called_off.extend(task.remove(id));
                if let After::Exhausted { failures } = task.after_setback(worker, false, max) {
                    exhausted.get_or_insert((Arc::clone(&task.chunk), failures));
                }
            }
        }
        (called_off, exhausted)
    }
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
