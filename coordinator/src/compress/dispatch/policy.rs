//! The dispatch policy, as pure functions of what was observed and the time: how long
//! an attempt may take, when the head-of-line chunk is late enough to duplicate, which
//! worker gets the next chunk, what a failure means for the chunk and for the worker,
//! and when waiting for workers ends. Nothing here does I/O or reads a clock, so every
//! rule is unit-tested with made-up instants.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::fleet::{AttemptError, WorkerId};

/// HTTP/2 keepalive: a worker that stops answering pings (paused, partitioned, powered
/// off) fails its attempts within INTERVAL + TIMEOUT, well before the shortest
/// deadline ([`MIN_DEADLINE`]): silence is noticed in seconds, not per chunk.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
pub(crate) const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);

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
pub(crate) const MIN_DEADLINE: Duration = Duration::from_secs(5);
const SLOWEST_BYTES_PER_SEC: f64 = 4e6;
/// Before any answer: slower still, with more allowance.
const FIRST_DEADLINE_BYTES_PER_SEC: f64 = 1e6;
const FIRST_DEADLINE_BASE: Duration = Duration::from_secs(10);
/// A worker whose attempts lose this many races in a row to duplicates is taken out
/// of rotation and probed: it is hung or far slower than its peers, and would
/// otherwise be fed a new chunk each time a duplicate freed its slot.
pub(crate) const LOST_RACES_LIMIT: u32 = 2;
/// RESOURCE_EXHAUSTED this many times in a row with no answer between (about 11 s of
/// pauses) means the worker's queue is not draining (its threads hung, or a proxy
/// refusing): it is taken down like a worker that stopped, and the attempt counts.
pub(crate) const BUSY_LIMIT: u32 = 10;
/// A chunk waits for a busy worker only if that one would finish it in well under the
/// time an idle one would take (by this factor): estimates are noisy, and waiting on a
/// small difference idles a worker for nothing.
const LATE_MARGIN: f64 = 1.5;
/// Chunks this small are mostly round trip: estimates treat them as this size.
const MIN_ESTIMATE_BYTES: usize = 64 << 10;

/// Recent answer times across the fleet, normalised per byte, to judge lateness.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    secs_per_byte: VecDeque<f64>,
}

impl Latency {
    pub fn record(&mut self, elapsed: Duration, bytes: u64) {
        if self.secs_per_byte.len() == SAMPLES_KEPT {
            self.secs_per_byte.pop_front();
        }
        self.secs_per_byte
            .push_back(elapsed.as_secs_f64() / bytes.max(1) as f64);
    }

    pub fn median(&self) -> Option<f64> {
        if self.secs_per_byte.len() < MIN_SAMPLES {
            return None;
        }
        let mut v: Vec<f64> = self.secs_per_byte.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    /// Whether an attempt at `bytes` sent at `started` is late at `now`: well past
    /// what answers have taken. Never before enough answers were seen.
    pub fn is_late(&self, started: Instant, now: Instant, bytes: usize) -> bool {
        self.median().is_some_and(|median| {
            let allowed =
                STRAGGLER_SLACK + Duration::from_secs_f64(STRAGGLER_FACTOR * median * bytes as f64);
            now.saturating_duration_since(started) >= allowed
        })
    }
}

/// How long an attempt at `bytes` may take on a worker whose answers have taken
/// `worker_spb` seconds per byte (or, unmeasured, the fleet's median).
pub(crate) fn deadline(worker_spb: Option<f64>, fleet_spb: Option<f64>, bytes: usize) -> Duration {
    match worker_spb.or(fleet_spb) {
        Some(secs_per_byte) => {
            let floor =
                MIN_DEADLINE + Duration::from_secs_f64(bytes as f64 / SLOWEST_BYTES_PER_SEC);
            floor.max(Duration::from_secs_f64(
                DEADLINE_FACTOR * secs_per_byte * bytes.max(MIN_ESTIMATE_BYTES) as f64,
            ))
        }
        None => {
            FIRST_DEADLINE_BASE
                + Duration::from_secs_f64(bytes as f64 / FIRST_DEADLINE_BYTES_PER_SEC)
        }
    }
}

/// What choosing a worker needs to know of one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub id: WorkerId,
    /// In rotation and not pausing after RESOURCE_EXHAUSTED.
    pub available: bool,
    /// Available and below its capacity.
    pub room: bool,
    pub inflight: usize,
    pub slots: usize,
    /// Seconds per byte of one slot's work, once measured.
    pub service_spb: Option<f64>,
}

impl Candidate {
    /// When a chunk of `bytes` sent now would be done: after the waves of chunks
    /// already there, at this worker's measured speed. None while unmeasured.
    fn finish(&self, bytes: usize) -> Option<f64> {
        let waves = (self.inflight + 1).div_ceil(self.slots.max(1));
        let bytes = bytes.max(MIN_ESTIMATE_BYTES) as f64;
        self.service_spb.map(|spb| waves as f64 * spb * bytes)
    }
}

/// The worker for a chunk of `bytes` waiting to be sent, or None to keep it queued.
///
/// Among workers with room: first one the chunk has not been tried on (a retry waits
/// for one while any is in rotation), then the one
/// that would finish it soonest (an unmeasured worker counts as soonest, so it gets
/// measured), then the one holding least. And the LATE rule (Zaharia et al.,
/// "Improving MapReduce Performance in Heterogeneous Environments"): the chunk is not
/// handed to a worker that would finish it clearly later than a busy, measured one
/// would even after the chunks queued there, so a slow worker gets work only when it
/// helps.
pub(crate) fn choose(cands: &[Candidate], bytes: usize, tried: &[WorkerId]) -> Option<WorkerId> {
    let best = best_with_room(cands, bytes, tried, None)?;
    // A retry waits for a worker it has not failed on rather than go back to one it
    // has, as long as such a worker is in rotation.
    let untried = |c: &&Candidate| c.available && !tried.contains(&c.id);
    if tried.contains(&best.id) && cands.iter().any(|c| untried(&c)) {
        return None;
    }
    let Some(best_finish) = best.finish(bytes) else {
        return Some(best.id);
    };
    // A retry never waits for a worker it already failed on.
    let fresh = !tried.contains(&best.id);
    let sooner_elsewhere = cands
        .iter()
        .filter(|c| c.available && !c.room && !(fresh && tried.contains(&c.id)))
        .filter_map(|c| c.finish(bytes))
        .any(|f| f * LATE_MARGIN < best_finish);
    (!sooner_elsewhere).then_some(best.id)
}

/// The worker for a duplicate of a late chunk running on `running_on`: the best with
/// room other than that one, without waiting for anyone.
pub(crate) fn choose_duplicate(
    cands: &[Candidate],
    bytes: usize,
    tried: &[WorkerId],
    running_on: WorkerId,
) -> Option<WorkerId> {
    best_with_room(cands, bytes, tried, Some(running_on)).map(|c| c.id)
}

fn best_with_room<'a>(
    cands: &'a [Candidate],
    bytes: usize,
    tried: &[WorkerId],
    not: Option<WorkerId>,
) -> Option<&'a Candidate> {
    cands
        .iter()
        .filter(|c| c.room && Some(c.id) != not)
        .min_by(|a, b| {
            let key = |c: &Candidate| (tried.contains(&c.id), c.finish(bytes).unwrap_or(0.0));
            let ((ta, fa), (tb, fb)) = (key(a), key(b));
            ta.cmp(&tb)
                .then(fa.total_cmp(&fb))
                .then(a.inflight.cmp(&b.inflight))
                .then(a.id.cmp(&b.id))
        })
}

/// What a failed attempt means for the worker that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Nothing: the input was the problem (pull mode); the chunk tries another worker.
    Stays,
    /// Its queue is full: pause sending there briefly. Backpressure, not a failure.
    Pause,
    /// Unreachable, silent or past its deadline: out of rotation, probed, and its other
    /// attempts called off and queued again at once.
    Down,
    /// Answered wrongly: out of rotation for longer, growing each time.
    Distrust,
    /// Refuses our requests: excluded for the rest of the run.
    Exclude,
    /// A local failure: the job fails.
    JobFails,
}

/// What a failed attempt means: for the worker, and whether it counts toward the
/// chunk's --max-attempts.
pub(crate) fn judge(error: &AttemptError) -> (Fate, bool) {
    match error {
        AttemptError::Busy(_) => (Fate::Pause, false),
        AttemptError::Down(_) | AttemptError::Timeout(_) => (Fate::Down, true),
        AttemptError::Wrong(_) => (Fate::Distrust, true),
        AttemptError::Rejected(_) => (Fate::Exclude, false),
        AttemptError::Input(_) => (Fate::Stays, true),
        AttemptError::Fatal(_) => (Fate::JobFails, false),
    }
}

/// Whether a worker that lost `losses` races in a row goes out of rotation.
pub(crate) fn too_many_lost_races(losses: u32) -> bool {
    losses >= LOST_RACES_LIMIT
}

/// Whether `streak` RESOURCE_EXHAUSTED answers in a row mean a worker that stopped.
pub(crate) fn busy_too_long(streak: u32) -> bool {
    streak >= BUSY_LIMIT
}

/// Waiting while no worker is up (--wait-workers).
#[derive(Debug, Default)]
pub(crate) struct Stall {
    since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stalled {
    /// Workers are up (or nothing is left to do).
    No,
    /// A stall just ended.
    Over,
    /// No worker is up; `left` to wait. `first` on the check that began the wait.
    Waiting { left: Duration, first: bool },
    /// Waited long enough, or nobody can come back.
    GiveUp { waited: Duration, may_return: bool },
}

impl Stall {
    /// `may_return`: someone is being probed, or discovery may find new workers.
    pub fn check(
        &mut self,
        now: Instant,
        has_work: bool,
        any_up: bool,
        may_return: bool,
        wait: Duration,
    ) -> Stalled {
        if !has_work || any_up {
            return match self.since.take() {
                Some(_) => Stalled::Over,
                None => Stalled::No,
            };
        }
        let first = self.since.is_none();
        let since = *self.since.get_or_insert(now);
        let waited = now.saturating_duration_since(since);
        if waited < wait && may_return {
            Stalled::Waiting {
                left: wait - waited,
                first,
            }
        } else {
            Stalled::GiveUp { waited, may_return }
        }
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
