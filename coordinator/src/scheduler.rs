//! Decides which backend compresses which chunk, and what happens when one fails.
//!
//! One task owns all scheduling state and reacts to events: a chunk read, an attempt
//! answered or failed, a probe finished, discovery re-read, a timer tick. Chunks go out
//! lowest index first, so the chunk the writer waits for is never starved. A failed
//! chunk goes back to the queue (bounded attempts); a failing worker leaves rotation
//! until a health probe brings it back; a late head-of-line chunk gets a speculative
//! duplicate on an idle worker, and the first answer that passes the checks wins.
//! None of this can change output bytes: a chunk's deflate data depends only on the
//! chunk, its dictionary and the level.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use crate::backend::{AttemptError, JobParams};
use crate::check;
use crate::chunker::Chunk;
use crate::error::Error;
use crate::fleet::{Fleet, Health};
use crate::progress::Progress;
use crate::signals;
use crate::stats::SchedulerStats;
use crate::window::Window;

const TICK: Duration = Duration::from_millis(50);
const REDISCOVER_EVERY: Duration = Duration::from_secs(2);
/// Answers needed before lateness can be judged.
const MIN_SAMPLES: usize = 8;
const SAMPLES_KEPT: usize = 64;
/// A head chunk is late when it has taken this many times the median for its size...
const STRAGGLER_FACTOR: f64 = 4.0;
/// ...plus this, so round-trip jitter on tiny chunks is not mistaken for a straggler.
const STRAGGLER_SLACK: Duration = Duration::from_millis(50);
/// An attempt's deadline: this many times the worker's observed time for the size...
const DEADLINE_FACTOR: f64 = 20.0;
/// ...but never less than a fixed allowance plus the chunk at a deliberately slow
/// rate: speed varies with content by more than 20x (zeros vs text), and a deadline
/// is for workers that stopped, not for chunks that are merely hard. Late chunks
/// are duplicated long before this.
const MIN_DEADLINE: Duration = Duration::from_secs(5);
const SLOWEST_BYTES_PER_SEC: f64 = 4e6;
/// Before any answer: slower still, with more allowance.
const FIRST_DEADLINE_BYTES_PER_SEC: f64 = 1e6;
const FIRST_DEADLINE_BASE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Failed attempts allowed per chunk before the job fails.
    pub max_attempts: u32,
    /// How long to wait when no worker is up before giving up.
    pub wait_workers: Duration,
    pub verbose: bool,
}

/// A chunk compressed and checked, on its way to the writer.
#[derive(Debug)]
pub struct Compressed {
    pub index: u64,
    pub deflate: Bytes,
    pub crc32: u32,
    pub len: u64,
}

struct Attempt {
    id: u64,
    member: usize,
    started: Instant,
    abort: AbortHandle,
    speculative: bool,
}

struct Task {
    chunk: Arc<Chunk>,
    attempts: Vec<Attempt>,
    /// Failed attempts so far.
    failures: u32,
    /// Members tried, so a retry prefers someone else.
    tried: Vec<usize>,
    last_failed_on: Option<usize>,
}

enum Event {
    Attempt {
        id: u64,
        index: u64,
        member: usize,
        result: Result<crate::backend::Answer, AttemptError>,
        elapsed: Duration,
    },
    Probe {
        member: usize,
        result: Result<crate::backend::BackendInfo, String>,
    },
    Resolved(Vec<String>, Vec<String>),
}

/// Recent answer times, normalised per byte, to judge lateness.
#[derive(Default)]
struct Latency {
    secs_per_byte: VecDeque<f64>,
}

impl Latency {
    fn record(&mut self, elapsed: Duration, bytes: u64) {
        if self.secs_per_byte.len() == SAMPLES_KEPT {
            self.secs_per_byte.pop_front();
        }
        self.secs_per_byte
            .push_back(elapsed.as_secs_f64() / bytes.max(1) as f64);
    }

    fn median(&self) -> Option<f64> {
        if self.secs_per_byte.len() < MIN_SAMPLES {
            return None;
        }
        let mut v: Vec<f64> = self.secs_per_byte.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    fn straggler_after(&self, bytes: usize) -> Option<Duration> {
        let median = self.median()?;
        Some(STRAGGLER_SLACK + Duration::from_secs_f64(STRAGGLER_FACTOR * median * bytes as f64))
    }
}

pub struct Scheduler<'a> {
    fleet: &'a mut Fleet,
    params: Arc<JobParams>,
    config: SchedulerConfig,
    window: Arc<Window>,
    /// The window follows the fleet's capacity between these bounds (chunks).
    min_window: usize,
    max_window: usize,
    progress: Progress,
    results: UnboundedSender<Compressed>,
    events_tx: UnboundedSender<Event>,
    events: UnboundedReceiver<Event>,
    tasks: BTreeMap<u64, Task>,
    next_attempt: u64,
    latency: Latency,
    stalled_since: Option<Instant>,
    last_discovery: Instant,
    discovering: bool,
    pub stats: SchedulerStats,
}

impl<'a> Scheduler<'a> {
    /// `window` starts at its smallest size; it may grow with the fleet up to
    /// `max_window` chunks.
    pub fn new(
        fleet: &'a mut Fleet,
        params: Arc<JobParams>,
        config: SchedulerConfig,
        (window, max_window): (Arc<Window>, usize),
        progress: Progress,
        results: UnboundedSender<Compressed>,
    ) -> Self {
        let (events_tx, events) = unbounded_channel();
        let min_window = window.size();
        Scheduler {
            fleet,
            params,
            config,
            window,
            min_window,
            max_window: max_window.max(min_window),
            progress,
            results,
            events_tx,
            events,
            tasks: BTreeMap::new(),
            next_attempt: 0,
            latency: Latency::default(),
            stalled_since: None,
            last_discovery: Instant::now(),
            discovering: false,
            stats: SchedulerStats::default(),
        }
    }

    /// Runs until every chunk the reader sends has been handed to the writer. Returns
    /// the index one past the last chunk.
    pub async fn run(
        &mut self,
        mut chunks: UnboundedReceiver<std::io::Result<Chunk>>,
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
                return Err(Error::Output("the writer stopped".into()));
            }
            self.dispatch();
            if reader_done && self.tasks.is_empty() {
                return Ok(end);
            }
            self.check_stalled(reader_done)?;
            // Unbiased: under a steady stream of answers, reading and ticking still get
            // their turns.
            tokio::select! {
                Some(event) = self.events.recv() => self.on_event(event)?,
                chunk = chunks.recv(), if !reader_done => match chunk {
                    Some(Ok(chunk)) => {
                        end = chunk.index + 1;
                        self.tasks.insert(chunk.index, Task {
                            chunk: Arc::new(chunk),
                            attempts: Vec::new(),
                            failures: 0,
                            tried: Vec::new(),
                            last_failed_on: None,
                        });
                    }
                    Some(Err(e)) => return Err(Error::Input(format!("read error: {}", crate::error::io_message(&e)))),
                    None => reader_done = true,
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    /// Sends out everything that can go now: first a duplicate of a late head chunk,
    /// then queued chunks in index order while any member has room.
    fn dispatch(&mut self) {
        let now = Instant::now();
        self.speculate(now);
        loop {
            let Some(index) = self
                .tasks
                .iter()
                .find(|(_, t)| t.attempts.is_empty())
                .map(|(i, _)| *i)
            else {
                return;
            };
            let Some(member) = self.pick_member(&self.tasks[&index].tried, None, now) else {
                return;
            };
            self.launch(index, member, false);
        }
    }

    /// The member with the most room, preferring ones this chunk has not failed on.
    fn pick_member(&self, tried: &[usize], not: Option<usize>, now: Instant) -> Option<usize> {
        self.fleet
            .members
            .iter()
            .enumerate()
            .filter(|(i, m)| Some(*i) != not && m.has_room(now))
            .min_by_key(|(i, m)| {
                (
                    tried.contains(i),
                    std::cmp::Reverse(m.capacity - m.inflight),
                    *i,
                )
            })
            .map(|(i, _)| i)
    }

    fn speculate(&mut self, now: Instant) {
        let Some((&index, task)) = self.tasks.first_key_value() else {
            return;
        };
        let [attempt] = task.attempts.as_slice() else {
            return;
        };
        let Some(late_after) = self.latency.straggler_after(task.chunk.data.len()) else {
            return;
        };
        if now.duration_since(attempt.started) < late_after {
            return;
        }
        let slow = attempt.member;
        if let Some(member) = self.pick_member(&task.tried, Some(slow), now) {
            self.stats.speculative += 1;
            if self.config.verbose {
                eprintln!(
                    "gzfleet: chunk {index} is late on {} ({:.2}s); duplicating it on {}",
                    self.fleet.members[slow].name(),
                    now.duration_since(attempt.started).as_secs_f64(),
                    self.fleet.members[member].name()
                );
            }
            self.launch(index, member, true);
        }
    }

    fn deadline(&self, member: usize, bytes: usize) -> Duration {
        let rate = self.fleet.members[member]
            .secs_per_byte
            .or_else(|| self.latency.median());
        match rate {
            Some(secs_per_byte) => {
                let floor =
                    MIN_DEADLINE + Duration::from_secs_f64(bytes as f64 / SLOWEST_BYTES_PER_SEC);
                floor.max(Duration::from_secs_f64(
                    DEADLINE_FACTOR * secs_per_byte * bytes.max(64 << 10) as f64,
                ))
            }
            None => {
                FIRST_DEADLINE_BASE
                    + Duration::from_secs_f64(bytes as f64 / FIRST_DEADLINE_BYTES_PER_SEC)
            }
        }
    }

    fn launch(&mut self, index: u64, member: usize, speculative: bool) {
        let deadline = self.deadline(member, self.tasks[&index].chunk.data.len());
        let task = self.tasks.get_mut(&index).expect("launching a known task");
        let id = self.next_attempt;
        self.next_attempt += 1;
        let chunk = Arc::clone(&task.chunk);
        let m = &mut self.fleet.members[member];
        let call = m
            .backend
            .compress(Arc::clone(&chunk), &self.params, deadline);
        let verify = self.params.verify;
        let events = self.events_tx.clone();
        let handle = tokio::spawn(async move {
            let started = Instant::now();
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
                id,
                index,
                member,
                result,
                elapsed: started.elapsed(),
            });
        });
        m.inflight += 1;
        if let Some(failed_on) = task.last_failed_on.take() {
            self.stats.retries += 1;
            if failed_on != member {
                self.stats.reassignments += 1;
            }
        }
        if !task.tried.contains(&member) {
            task.tried.push(member);
        }
        task.attempts.push(Attempt {
            id,
            member,
            started: Instant::now(),
            abort: handle.abort_handle(),
            speculative,
        });
    }

    fn on_event(&mut self, event: Event) -> Result<(), Error> {
        match event {
            Event::Attempt {
                id,
                index,
                member,
                result,
                elapsed,
            } => self.on_attempt(id, index, member, result, elapsed),
            Event::Probe { member, result } => {
                let block = self.fleet.block;
                let m = &mut self.fleet.members[member];
                let was = m.status();
                if m.finish_probe(result, block) {
                    let line = format!("worker {} is up ({} slots; was: {was})", m.name(), m.slots);
                    self.log(line);
                    self.fit_window();
                } else if let Health::Excluded(why) = &m.health {
                    let line = format!("worker {} excluded: {why}", m.name());
                    eprintln!("gzfleet: {line}");
                }
                Ok(())
            }
            Event::Resolved(addrs, errors) => {
                self.discovering = false;
                for e in errors {
                    self.log(format!("discovery: {e}"));
                }
                // An empty answer is more likely a DNS hiccup than a fleet gone.
                if !addrs.is_empty() {
                    for change in self.fleet.reconcile(&addrs) {
                        self.log(change);
                    }
                }
                Ok(())
            }
        }
    }

    fn on_attempt(
        &mut self,
        id: u64,
        index: u64,
        member: usize,
        result: Result<crate::backend::Answer, AttemptError>,
        elapsed: Duration,
    ) -> Result<(), Error> {
        // An attempt that lost a race or was called off has been accounted for.
        let Some(task) = self.tasks.get_mut(&index) else {
            return Ok(());
        };
        let Some(pos) = task.attempts.iter().position(|a| a.id == id) else {
            return Ok(());
        };
        let attempt = task.attempts.swap_remove(pos);
        self.fleet.members[member].inflight -= 1;
        match result {
            Ok(answer) => {
                let task = self.tasks.remove(&index).expect("task present");
                for other in task.attempts {
                    other.abort.abort();
                    self.fleet.members[other.member].inflight -= 1;
                }
                if attempt.speculative {
                    self.stats.speculative_wins += 1;
                }
                let len = task.chunk.data.len() as u64;
                self.latency.record(elapsed, len);
                self.fleet.members[member].record_answer(len, answer.deflate.len() as u64, elapsed);
                self.results
                    .send(Compressed {
                        index,
                        deflate: answer.deflate,
                        crc32: answer.crc32,
                        len,
                    })
                    .map_err(|_| Error::Output("the writer stopped".into()))?;
                Ok(())
            }
            Err(error) => self.on_failure(index, member, error),
        }
    }

    fn on_failure(&mut self, index: u64, member: usize, error: AttemptError) -> Result<(), Error> {
        let name = self.fleet.members[member].name().to_string();
        self.fleet.members[member].stats.failures += 1;
        self.stats.failed_attempts += 1;
        self.log(format!("chunk {index} on {name}: {error}"));
        let counts = match &error {
            AttemptError::Fatal(m) => return Err(Error::Fatal(m.clone())),
            AttemptError::Busy(_) => {
                self.fleet.members[member].mark_busy();
                false
            }
            AttemptError::Down(why) => {
                self.take_down(member, why.clone());
                true
            }
            AttemptError::Timeout(_) => {
                self.stats.timeouts += 1;
                self.take_down(member, error.to_string());
                true
            }
            AttemptError::Wrong(why) => {
                self.stats.wrong_answers += 1;
                self.fleet.members[member].mark_wrong(why.clone());
                self.log(format!("worker {name} out of rotation: {why}"));
                self.fit_window();
                true
            }
            AttemptError::Rejected(why) => {
                let m = &mut self.fleet.members[member];
                m.health = Health::Excluded(why.clone());
                eprintln!("gzfleet: worker {name} excluded: {why}");
                self.fit_window();
                false
            }
        };
        if let Some(task) = self.tasks.get_mut(&index) {
            task.last_failed_on = Some(member);
            if counts {
                task.failures += 1;
                // A duplicate still running may yet succeed: fail only without one.
                if task.failures >= self.config.max_attempts && task.attempts.is_empty() {
                    return Err(Error::ChunkFailed {
                        index,
                        attempts: task.failures,
                        worker: name,
                        reason: error.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// A member that failed at the transport level takes its other chunks down with
    /// it: call them off and queue them again at once rather than wait out deadlines.
    fn take_down(&mut self, member: usize, reason: String) {
        let m = &self.fleet.members[member];
        if m.is_up() {
            self.log(format!("worker {} out of rotation: {reason}", m.name()));
        }
        self.fleet.members[member].mark_down(reason);
        for task in self.tasks.values_mut() {
            task.attempts.retain(|a| {
                if a.member != member {
                    return true;
                }
                a.abort.abort();
                false
            });
            if task.attempts.is_empty() && task.tried.contains(&member) {
                task.last_failed_on.get_or_insert(member);
            }
        }
        self.fleet.members[member].inflight = 0;
        self.fit_window();
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for (i, m) in self.fleet.members.iter_mut().enumerate() {
            if m.start_probe(now) {
                let probe = m.backend.probe();
                let events = self.events_tx.clone();
                tokio::spawn(async move {
                    let result = probe.await;
                    let _ = events.send(Event::Probe { member: i, result });
                });
            }
        }
        if let Some(discovery) = &self.fleet.discovery
            && !self.discovering
            && now.duration_since(self.last_discovery) >= REDISCOVER_EVERY
        {
            self.discovering = true;
            self.last_discovery = now;
            let discovery = discovery.clone();
            let events = self.events_tx.clone();
            tokio::spawn(async move {
                let (addrs, errors) = discovery.resolve().await;
                let _ = events.send(Event::Resolved(addrs, errors));
            });
        }
    }

    /// With work to do and no member up, waits up to --wait-workers, saying so.
    fn check_stalled(&mut self, reader_done: bool) -> Result<(), Error> {
        let has_work = !reader_done || !self.tasks.is_empty();
        if !has_work || self.fleet.members.iter().any(|m| m.is_up()) {
            if self.stalled_since.take().is_some() {
                self.progress.set_status(String::new());
            }
            return Ok(());
        }
        if self.stalled_since.is_none() {
            self.log("no worker is up; waiting for one to return".into());
        }
        let since = *self.stalled_since.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        // Excluded or unlisted workers never come back by themselves: waiting only
        // helps when someone is being probed or discovery may find new workers.
        let may_return = self.fleet.discovery.is_some()
            || self
                .fleet
                .members
                .iter()
                .any(|m| matches!(m.health, Health::Down { .. }));
        if waited < self.config.wait_workers && may_return {
            self.progress.set_status(format!(
                "waiting for workers ({:.0}s left)",
                (self.config.wait_workers - waited).as_secs_f64()
            ));
            return Ok(());
        }
        let reasons = self
            .fleet
            .members
            .iter()
            .map(|m| format!("{} ({})", m.name(), m.status()))
            .collect::<Vec<_>>()
            .join(", ");
        Err(if may_return {
            Error::WorkersGone {
                waited_secs: waited.as_secs_f64(),
                reasons,
            }
        } else {
            Error::NoWorkers(format!("no usable worker left: {reasons}"))
        })
    }

    /// Lets the window follow the fleet: room for every member's capacity twice over,
    /// so a slow head chunk does not idle the rest, within the configured bound.
    fn fit_window(&self) {
        let want = (2 * self.fleet.capacity() + 2).clamp(self.min_window, self.max_window);
        if want != self.window.size() {
            self.window.resize(want);
        }
    }

    fn log(&self, line: String) {
        if self.config.verbose {
            eprintln!("gzfleet: {line}");
        }
    }
}

impl Drop for Scheduler<'_> {
    /// A job that ends early calls off its attempts, so the fleet starts the next
    /// job with nothing in flight.
    fn drop(&mut self) {
        for attempt in self.tasks.values().flat_map(|t| &t.attempts) {
            attempt.abort.abort();
        }
        for m in &mut self.fleet.members {
            m.inflight = 0;
            // A probe still running reports to this scheduler's channel, which goes
            // away: let the next job probe again instead of waiting for it forever.
            m.forget_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Answer, Backend, BackendInfo, BoxFuture};
    use crate::fleet::Member;
    use gzfleet_worker::engine::{compress_chunk, engine_id};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A backend that compresses slowly, or (when `broken`) fails every call and
    /// never answers a probe.
    struct Fake {
        name: String,
        broken: bool,
        probes: Arc<AtomicUsize>,
    }

    impl Backend for Fake {
        fn name(&self) -> &str {
            &self.name
        }

        fn compress(
            &self,
            chunk: Arc<Chunk>,
            params: &JobParams,
            _: Duration,
        ) -> BoxFuture<Result<Answer, AttemptError>> {
            let (broken, level) = (self.broken, params.level);
            Box::pin(async move {
                if broken {
                    return Err(AttemptError::Down("gone".into()));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let out = compress_chunk(&chunk.data, &chunk.dictionary, level).unwrap();
                Ok(Answer {
                    deflate: out.deflate.into(),
                    crc32: out.crc32,
                    input_len: out.input_len,
                    engine: engine_id().into(),
                })
            })
        }

        fn probe(&self) -> BoxFuture<Result<BackendInfo, String>> {
            self.probes.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::pending())
        }
    }

    fn member(name: &str, broken: bool, probes: &Arc<AtomicUsize>) -> Member {
        let mut m = Member::new(
            Arc::new(Fake {
                name: name.into(),
                broken,
                probes: Arc::clone(probes),
            }),
            Health::Up,
        );
        m.slots = 1;
        m.capacity = 1;
        m
    }

    /// Runs one job of `chunks` small chunks through the fleet.
    fn job(runtime: &tokio::runtime::Runtime, fleet: &mut Fleet, chunks: u64) {
        let (chunk_tx, chunk_rx) = unbounded_channel();
        for index in 0..chunks {
            let data = Bytes::from(vec![index as u8; 1000]);
            chunk_tx
                .send(Ok(Chunk {
                    index,
                    offset: index * 1000,
                    crc32: None,
                    dictionary: Bytes::new(),
                    data,
                }))
                .unwrap();
        }
        drop(chunk_tx);
        let (results_tx, mut results_rx) = unbounded_channel();
        let params = Arc::new(JobParams {
            job_id: "test".into(),
            level: 1,
            independent: true,
            block: 1000,
            verify: false,
        });
        let config = SchedulerConfig {
            max_attempts: 5,
            wait_workers: Duration::from_secs(5),
            verbose: false,
        };
        let window = (Arc::new(Window::new(0, 64)), 64);
        let mut scheduler = Scheduler::new(
            fleet,
            params,
            config,
            window,
            Progress::hidden(),
            results_tx,
        );
        let end = runtime.block_on(scheduler.run(chunk_rx, 0)).unwrap();
        drop(scheduler);
        assert_eq!(end, chunks);
        let mut got = 0;
        while results_rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, chunks);
    }

    #[test]
    fn a_probe_cut_short_by_the_end_of_a_job_is_retried_in_the_next() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let probes = Arc::new(AtomicUsize::new(0));
        let mut fleet = Fleet {
            members: vec![
                member("good", false, &probes),
                member("flaky", true, &probes),
            ],
            discovery: None,
            block: 1000,
            remote: true,
        };
        // The flaky member fails at once and its probe never answers before the end.
        job(&runtime, &mut fleet, 10);
        assert_eq!(probes.load(Ordering::SeqCst), 1);
        assert!(!fleet.members[1].is_up());
        // The next job must probe it again rather than wait on a lost answer.
        job(&runtime, &mut fleet, 10);
        assert_eq!(probes.load(Ordering::SeqCst), 2);
    }
}
