//! One worker as the coordinator sees it: its health, how much work it may hold, how
//! fast it has been, and what it did this job. Its fields change only through the
//! methods here, and every method takes the time it happens at, so the rules are tested
//! with a made-up clock.
//!
//! Health, and what moves it:
//!
//! ```text
//!   listed ──▶ Down ── probe due ──▶ Probing ── answers, suitable ──▶ Up
//!               ▲ ▲                   │  │                            │
//!               │ └─ probe fails: ────┘  └─ unsuitable (engine, ──▶ Excluded
//!               │    backoff x2             limits)                   ▲
//!               │                                                     │ refuses our
//!               └── unreachable, deadline missed, wrong answer, ──── Up  requests
//!                   losing races to duplicates
//!
//!   any ── no longer listed ──▶ Retired ── listed again ──▶ Down (probed afresh)
//! ```
//!
//! A probe carries a ticket; its answer counts only while the worker is still waiting
//! for that very probe, so a probe that outlived a retirement or a job cannot land on
//! top of a newer one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gzfleet_worker::units::format_size;
use serde::Serialize;

use super::link::{Link, Needs, WorkerInfo};
use super::speed::{Sample, Speed};

/// First wait before probing a worker that failed; doubles with each failed probe, and
/// with each take-down in a row that no answer interrupted, up to [`MAX_PROBE_BACKOFF`].
const FIRST_PROBE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_PROBE_BACKOFF: Duration = Duration::from_secs(5);
/// A worker that answered wrongly waits longer: it is alive but not to be trusted.
const WRONG_ANSWER_BACKOFF: Duration = Duration::from_secs(1);
const MAX_WRONG_BACKOFF: Duration = Duration::from_secs(30);
/// A full queue (RESOURCE_EXHAUSTED) pauses new work briefly, doubling while it lasts.
const FIRST_BUSY_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BUSY_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Health {
    /// Takes work.
    Up,
    /// Takes no work; probed once `probe_at` passes.
    Down {
        reason: String,
        probe_at: Instant,
        backoff: Duration,
    },
    /// A probe is out; only the answer carrying `ticket` counts.
    Probing {
        reason: String,
        ticket: u64,
        backoff: Duration,
    },
    /// Unsuitable for this coordinator (engine, limits): never used.
    Excluded(String),
    /// No longer listed by discovery: no new work; dropped once idle.
    Retired,
}

/// Per-job counts for one worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct WorkerStats {
    pub chunks: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub failures: u64,
}

/// What a probe's answer did to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeOutcome {
    /// Up again (or for the first time); `was` is why it had been down.
    Up {
        was: String,
    },
    Excluded(String),
    StillDown,
}

pub(crate) struct Worker {
    link: Arc<dyn Link>,
    health: Health,
    slots: usize,
    /// Attempts kept in flight here: slots plus prefetch, within its queue.
    capacity: usize,
    inflight: usize,
    busy_until: Option<Instant>,
    busy_backoff: Duration,
    wrong_backoff: Duration,
    /// Races lost to a duplicate since this worker last won one or answered.
    lost_races: u32,
    /// RESOURCE_EXHAUSTED answers since it last answered.
    busy_streak: u32,
    /// Times taken out of rotation since it last answered: a worker whose probes pass
    /// but whose work fails waits longer each time instead of flapping.
    downs: u32,
    next_ticket: u64,
    speed: Speed,
    stats: WorkerStats,
}

impl Worker {
    /// A listed worker, to be probed before it gets work.
    pub fn listed(link: Arc<dyn Link>, now: Instant) -> Worker {
        Worker::with_health(
            link,
            Health::Down {
                reason: "not yet probed".into(),
                probe_at: now,
                backoff: FIRST_PROBE_BACKOFF / 2,
            },
        )
    }

    /// A worker known to be up, such as the embedded pool.
    pub fn up(link: Arc<dyn Link>, info: &WorkerInfo) -> Worker {
        let mut w = Worker::with_health(link, Health::Up);
        w.set_shape(info);
        w
    }

    fn with_health(link: Arc<dyn Link>, health: Health) -> Worker {
        Worker {
            link,
            health,
            slots: 0,
            capacity: 0,
            inflight: 0,
            busy_until: None,
            busy_backoff: Duration::ZERO,
            wrong_backoff: WRONG_ANSWER_BACKOFF,
            lost_races: 0,
            busy_streak: 0,
            downs: 0,
            next_ticket: 0,
            speed: Speed::default(),
            stats: WorkerStats::default(),
        }
    }

    fn set_shape(&mut self, info: &WorkerInfo) {
        self.slots = info.slots.max(1);
        // Never more queued than the worker lets wait: beyond that it answers
        // RESOURCE_EXHAUSTED to a coordinator that only meant to keep it fed.
        let prefetch = self.link.prefetch(self.slots).min(info.queue_depth);
        self.capacity = self.slots + prefetch;
    }

    pub fn name(&self) -> &str {
        self.link.name()
    }

    pub fn link(&self) -> Arc<dyn Link> {
        Arc::clone(&self.link)
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn is_up(&self) -> bool {
        self.health == Health::Up
    }

    /// Up and not pausing after RESOURCE_EXHAUSTED.
    pub fn accepts_work(&self, now: Instant) -> bool {
        self.is_up() && self.busy_until.is_none_or(|t| now >= t)
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Seconds per byte from sending a chunk to its answer: what deadlines are made of.
    pub fn latency_spb(&self) -> Option<f64> {
        self.speed.latency()
    }

    /// Seconds per byte of one slot's work, while recent: what dispatch compares by.
    pub fn service_spb(&self, now: Instant) -> Option<f64> {
        self.speed.work(now)
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }

    /// Why this worker takes no work, if it does not.
    pub fn status(&self) -> String {
        match &self.health {
            Health::Up => "up".into(),
            Health::Down { reason, .. } | Health::Probing { reason, .. } => reason.clone(),
            Health::Excluded(why) => format!("excluded: {why}"),
            Health::Retired => "no longer listed".into(),
        }
    }

    /// An attempt was sent; returns how many are in flight here now.
    pub fn started(&mut self) -> usize {
        self.inflight += 1;
        self.inflight
    }

    /// An attempt ended (answered, failed, or called off).
    pub fn ended(&mut self) {
        self.inflight = self.inflight.saturating_sub(1);
    }

    pub fn answered(&mut self, s: Sample, now: Instant) {
        self.stats.chunks += 1;
        self.stats.bytes_in += s.bytes_in;
        self.stats.bytes_out += s.bytes_out;
        self.busy_backoff = Duration::ZERO;
        self.wrong_backoff = WRONG_ANSWER_BACKOFF;
        (self.lost_races, self.busy_streak, self.downs) = (0, 0, 0);
        self.speed.answered(&s, self.slots, now);
    }

    pub fn failed_attempt(&mut self) {
        self.stats.failures += 1;
    }

    /// Unreachable, crashed or silent: out of rotation until a probe succeeds. Returns
    /// the take-downs in a row (no answer between them) when it had been taking work,
    /// None when it was already out.
    pub fn take_down(&mut self, reason: String, now: Instant) -> Option<u32> {
        let backoff = FIRST_PROBE_BACKOFF
            .saturating_mul(1 << self.downs.min(8))
            .min(MAX_PROBE_BACKOFF);
        self.set_down(reason, backoff, now)
    }

    /// Answered wrongly: out of rotation for longer, doubling each time.
    pub fn distrust(&mut self, reason: String, now: Instant) -> Option<u32> {
        let backoff = self.wrong_backoff;
        let downs = self.set_down(reason, backoff, now)?;
        self.wrong_backoff = (backoff * 2).min(MAX_WRONG_BACKOFF);
        Some(downs)
    }

    /// Takes a worker that is up out of rotation. Failures of attempts sent before it
    /// went down change nothing: its probe schedule stands.
    fn set_down(&mut self, reason: String, backoff: Duration, now: Instant) -> Option<u32> {
        if !self.is_up() {
            return None;
        }
        self.health = Health::Down {
            reason,
            probe_at: now + backoff,
            backoff,
        };
        self.downs += 1;
        Some(self.downs)
    }

    /// RESOURCE_EXHAUSTED: no new work for a moment. Not a failure; returns how many
    /// such answers came in a row without a real one.
    pub fn busy(&mut self, now: Instant) -> u32 {
        self.busy_backoff = (self.busy_backoff * 2).clamp(FIRST_BUSY_BACKOFF, MAX_BUSY_BACKOFF);
        self.busy_until = Some(now + self.busy_backoff);
        self.busy_streak += 1;
        self.busy_streak
    }

    /// Refuses our requests: never used again. True when this is news.
    pub fn exclude(&mut self, why: String) -> bool {
        let news = !matches!(self.health, Health::Excluded(_));
        self.health = Health::Excluded(why);
        news
    }

    /// Its attempt lost a race to a duplicate after running `so_far.elapsed`; returns
    /// the losses in a row. The worker would have taken at least that long.
    pub fn lost_race(&mut self, so_far: Sample, now: Instant) -> u32 {
        self.lost_races += 1;
        self.speed.at_least(&so_far, self.slots, now);
        self.lost_races
    }

    /// Due for a health probe: marks it as being probed and returns the probe's ticket.
    pub fn start_probe(&mut self, now: Instant) -> Option<u64> {
        let Health::Down {
            reason,
            probe_at,
            backoff,
        } = &self.health
        else {
            return None;
        };
        if now < *probe_at {
            return None;
        }
        self.next_ticket += 1;
        self.health = Health::Probing {
            reason: reason.clone(),
            ticket: self.next_ticket,
            backoff: *backoff,
        };
        Some(self.next_ticket)
    }

    /// Applies a probe's answer, unless it is stale (another probe, or none, is awaited).
    pub fn probe_finished(
        &mut self,
        ticket: u64,
        result: Result<WorkerInfo, String>,
        needs: Needs,
        now: Instant,
    ) -> Option<ProbeOutcome> {
        let Health::Probing {
            reason,
            ticket: awaited,
            backoff,
        } = &self.health
        else {
            return None;
        };
        if ticket != *awaited {
            return None;
        }
        let (was, backoff) = (reason.clone(), *backoff);
        Some(match result.map(|info| (unsuitable(&info, needs), info)) {
            Ok((None, info)) => {
                self.set_shape(&info);
                self.busy_until = None;
                (self.lost_races, self.busy_streak) = (0, 0);
                self.health = Health::Up;
                ProbeOutcome::Up { was }
            }
            Ok((Some(why), _)) => {
                self.health = Health::Excluded(why.clone());
                ProbeOutcome::Excluded(why)
            }
            Err(reason) => {
                let backoff = (backoff * 2).min(MAX_PROBE_BACKOFF);
                self.health = Health::Down {
                    reason,
                    probe_at: now + backoff,
                    backoff,
                };
                ProbeOutcome::StillDown
            }
        })
    }

    /// Gives up on a probe in flight (its answer will not be read), so the worker is
    /// probed again at once.
    pub fn forget_probe(&mut self, now: Instant) {
        if let Health::Probing {
            reason, backoff, ..
        } = &self.health
        {
            self.health = Health::Down {
                reason: reason.clone(),
                probe_at: now,
                backoff: *backoff,
            };
        }
    }

    /// Discovery no longer lists it. True when this is news. An excluded worker
    /// retires too: if listed again (say, upgraded), it is probed afresh.
    pub fn retire(&mut self) -> bool {
        let news = self.health != Health::Retired;
        self.health = Health::Retired;
        news
    }

    /// Discovery lists it again: probe it now. True when it had been retired.
    pub fn relist(&mut self, now: Instant) -> bool {
        if self.health != Health::Retired {
            return false;
        }
        self.health = Health::Down {
            reason: "listed again".into(),
            probe_at: now,
            backoff: FIRST_PROBE_BACKOFF,
        };
        true
    }

    /// A new job starts: nothing is in flight, and no probe answer will arrive.
    pub fn new_job(&mut self, now: Instant) {
        self.inflight = 0;
        self.forget_probe(now);
    }

    /// Gone from discovery with nothing in flight: it may leave the fleet.
    pub fn can_leave(&self) -> bool {
        self.health == Health::Retired && self.inflight == 0
    }

    /// Times taken down in a row without an answer between, or 0 while answering.
    pub fn downs(&self) -> u32 {
        self.downs
    }
}

/// A worker that would change the output bytes or cannot take our chunks is never
/// used, however healthy.
fn unsuitable(info: &WorkerInfo, needs: Needs) -> Option<String> {
    let (block, engine) = (needs.block, needs.engine);
    let Some((_, id)) = info.engines.iter().find(|(name, _)| name == engine.name()) else {
        let has: Vec<_> = info.engines.iter().map(|(name, _)| name.as_str()).collect();
        return Some(format!(
            "has no engine '{engine}' (gzfleet-worker {} has {}); run the same gzfleet version on every worker, or choose another --engine",
            info.version,
            has.join(", ")
        ));
    };
    if id != engine.id() {
        return Some(format!(
            "runs engine '{id}' (version {}), this coordinator needs '{}' for identical output",
            info.version,
            engine.id()
        ));
    }
    if needs.window && !info.returns_window {
        return Some(format!(
            "is too old to return index windows (gzfleet-worker {} does not say it returns them), which --pull with --index needs; run the same gzfleet version on every worker, or drop --pull or --index",
            info.version
        ));
    }
    if needs.writes && !info.writes_files {
        return Some(
            "writes no outputs, which --direct-output needs: start it with --write-root DIR (its mount of --shared-root)".into(),
        );
    }
    if info.max_chunk < block {
        return Some(format!(
            "accepts chunks up to {}, smaller than the block size {} (lower -b, or raise the worker's --max-chunk)",
            format_size(info.max_chunk),
            format_size(block)
        ));
    }
    None
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
