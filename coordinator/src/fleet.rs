//! The set of backends a coordinator may use and the health of each: who is up, who is
//! being probed back after a failure, who was excluded and why. The scheduler asks
//! the fleet where a chunk may go; the fleet never sees chunks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gzfleet_worker::engine::engine_id;
use gzfleet_worker::units::format_size;

use crate::backend::{Backend, BackendInfo, LocalPool};
use crate::discovery::Discovery;
use crate::error::Error;
use crate::remote::RemoteWorker;

/// First wait before probing a worker that failed; doubles up to [`MAX_PROBE_BACKOFF`].
const FIRST_PROBE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_PROBE_BACKOFF: Duration = Duration::from_secs(5);
/// A worker that answered wrongly waits longer: it is alive but not to be trusted.
const WRONG_ANSWER_BACKOFF: Duration = Duration::from_secs(1);
const MAX_WRONG_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Takes work.
    Up,
    /// Failed; probed at `next_probe`, taking no work until a probe succeeds.
    Down {
        reason: String,
        next_probe: Instant,
        backoff: Duration,
        probing: bool,
    },
    /// Unsuitable for this coordinator (engine, limits): never used.
    Excluded(String),
    /// No longer listed by discovery: no new work.
    Retired,
}

/// Per-job counts for one backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberStats {
    pub chunks: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub failures: u64,
}

pub struct Member {
    pub backend: Arc<dyn Backend>,
    pub health: Health,
    pub slots: usize,
    /// Chunks kept in flight here: slots plus prefetch.
    pub capacity: usize,
    pub inflight: usize,
    /// RESOURCE_EXHAUSTED: no new work until then.
    pub busy_until: Option<Instant>,
    busy_backoff: Duration,
    wrong_backoff: Duration,
    /// Smoothed seconds per input byte of this member's answers.
    pub secs_per_byte: Option<f64>,
    pub stats: MemberStats,
}

impl Member {
    pub(crate) fn new(backend: Arc<dyn Backend>, health: Health) -> Self {
        Member {
            backend,
            health,
            slots: 0,
            capacity: 0,
            inflight: 0,
            busy_until: None,
            busy_backoff: Duration::ZERO,
            wrong_backoff: WRONG_ANSWER_BACKOFF,
            secs_per_byte: None,
            stats: MemberStats::default(),
        }
    }

    pub fn name(&self) -> &str {
        self.backend.name()
    }

    pub fn is_up(&self) -> bool {
        self.health == Health::Up
    }

    /// Up, not backing off, and with room for another chunk.
    pub fn has_room(&self, now: Instant) -> bool {
        self.is_up() && self.inflight < self.capacity && self.busy_until.is_none_or(|t| now >= t)
    }

    pub fn record_answer(&mut self, bytes_in: u64, bytes_out: u64, elapsed: Duration) {
        self.stats.chunks += 1;
        self.stats.bytes_in += bytes_in;
        self.stats.bytes_out += bytes_out;
        self.busy_backoff = Duration::ZERO;
        self.wrong_backoff = WRONG_ANSWER_BACKOFF;
        // Tiny tail chunks are all round trip; don't let them distort the rate.
        let sample = elapsed.as_secs_f64() / bytes_in.max(64 << 10) as f64;
        self.secs_per_byte = Some(match self.secs_per_byte {
            Some(old) => 0.8 * old + 0.2 * sample,
            None => sample,
        });
    }

    /// Unreachable, crashed or silent: out of rotation until a probe succeeds.
    pub fn mark_down(&mut self, reason: String) {
        self.set_down(reason, FIRST_PROBE_BACKOFF);
    }

    /// Answered wrongly: out of rotation for longer, doubling each time.
    pub fn mark_wrong(&mut self, reason: String) {
        let backoff = self.wrong_backoff;
        self.wrong_backoff = (backoff * 2).min(MAX_WRONG_BACKOFF);
        self.set_down(reason, backoff);
    }

    fn set_down(&mut self, reason: String, backoff: Duration) {
        if matches!(self.health, Health::Up | Health::Down { .. }) {
            self.health = Health::Down {
                reason,
                next_probe: Instant::now() + backoff,
                backoff,
                probing: false,
            };
        }
    }

    pub fn mark_busy(&mut self) {
        self.busy_backoff =
            (self.busy_backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(2));
        self.busy_until = Some(Instant::now() + self.busy_backoff);
    }

    /// Due for a health probe: marks it as being probed and says so.
    pub fn start_probe(&mut self, now: Instant) -> bool {
        match &mut self.health {
            Health::Down {
                next_probe,
                probing,
                ..
            } if !*probing && now >= *next_probe => {
                *probing = true;
                true
            }
            _ => false,
        }
    }

    /// Drops the claim of a probe in progress (its answer will not arrive), so the
    /// member is probed again at once.
    pub fn forget_probe(&mut self) {
        if let Health::Down {
            probing,
            next_probe,
            ..
        } = &mut self.health
        {
            *probing = false;
            *next_probe = Instant::now();
        }
    }

    /// Applies a probe's result; true when the member came (back) up.
    pub fn finish_probe(&mut self, result: Result<BackendInfo, String>, block: u64) -> bool {
        let Health::Down { backoff, .. } = self.health.clone() else {
            return false;
        };
        match result
            .map_err(Unsuitable::Unreachable)
            .and_then(|info| suitable(info, block))
        {
            Ok(info) => {
                self.slots = info.slots;
                self.capacity = info.slots + self.backend.prefetch(info.slots);
                self.busy_until = None;
                self.health = Health::Up;
                true
            }
            Err(Unsuitable::Excluded(why)) => {
                self.health = Health::Excluded(why);
                false
            }
            Err(Unsuitable::Unreachable(reason)) => {
                let backoff = (backoff * 2).min(MAX_PROBE_BACKOFF);
                self.health = Health::Down {
                    reason,
                    next_probe: Instant::now() + backoff,
                    backoff,
                    probing: false,
                };
                false
            }
        }
    }

    /// Why this member takes no work, if it does not.
    pub fn status(&self) -> String {
        match &self.health {
            Health::Up => "up".into(),
            Health::Down { reason, .. } => reason.clone(),
            Health::Excluded(why) => format!("excluded: {why}"),
            Health::Retired => "no longer listed".into(),
        }
    }
}

enum Unsuitable {
    Unreachable(String),
    Excluded(String),
}

/// A worker that would change the output bytes or cannot take our chunks is never
/// used, however healthy.
fn suitable(info: BackendInfo, block: u64) -> Result<BackendInfo, Unsuitable> {
    if info.engine != engine_id() {
        return Err(Unsuitable::Excluded(format!(
            "runs engine '{}' (version {}), this coordinator needs '{}' for identical output",
            info.engine,
            info.version,
            engine_id()
        )));
    }
    if info.max_chunk < block {
        return Err(Unsuitable::Excluded(format!(
            "accepts chunks up to {}, smaller than the block size {} (lower -b, or raise the worker's --max-chunk)",
            format_size(info.max_chunk),
            format_size(block)
        )));
    }
    Ok(info)
}

/// Everything a job may dispatch to.
pub struct Fleet {
    pub members: Vec<Member>,
    pub discovery: Option<Discovery>,
    pub block: u64,
    pub(crate) remote: bool,
}

impl Fleet {
    /// The embedded pool: one member, `threads` slots.
    pub fn local(threads: usize, block: u64) -> Result<Self, Error> {
        let pool = LocalPool::new(threads).map_err(|e| {
            Error::Setup(format!("cannot start {threads} compression threads: {e}"))
        })?;
        let mut member = Member::new(Arc::new(pool), Health::Up);
        member.slots = threads;
        member.capacity = threads + member.backend.prefetch(threads);
        Ok(Fleet {
            members: vec![member],
            discovery: None,
            block,
            remote: false,
        })
    }

    /// Finds the workers, asks each what it offers, and keeps the suitable ones. Fails,
    /// naming every address tried, when none can be used.
    pub async fn connect(discovery: Discovery, block: u64) -> Result<Self, Error> {
        let (addrs, errors) = discovery.resolve().await;
        if addrs.is_empty() {
            return Err(Error::NoWorkers(format!(
                "no worker addresses found: {}",
                errors.join("; ")
            )));
        }
        let mut fleet = Fleet {
            members: Vec::new(),
            discovery: discovery.is_dynamic().then_some(discovery),
            block,
            remote: true,
        };
        for addr in &addrs {
            fleet.add(addr)?;
        }
        fleet.probe_all().await;
        if !fleet.members.iter().any(Member::is_up) {
            let tried: Vec<String> = fleet
                .members
                .iter()
                .map(|m| format!("{} ({})", m.name(), m.status()))
                .chain(errors)
                .collect();
            return Err(Error::NoWorkers(format!(
                "no worker reachable; tried {}",
                tried.join(", ")
            )));
        }
        Ok(fleet)
    }

    /// Adds a worker by address, to be probed before it gets work.
    pub fn add(&mut self, addr: &str) -> Result<usize, Error> {
        let backend = RemoteWorker::new(addr, self.block).map_err(Error::Setup)?;
        let member = Member::new(
            Arc::new(backend),
            Health::Down {
                reason: "not yet probed".into(),
                next_probe: Instant::now(),
                backoff: FIRST_PROBE_BACKOFF / 2,
                probing: false,
            },
        );
        self.members.push(member);
        Ok(self.members.len() - 1)
    }

    /// Probes every member that is due, all at once, and waits for the answers.
    pub async fn probe_all(&mut self) {
        let now = Instant::now();
        let mut probes = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if m.start_probe(now) {
                probes.push((i, tokio::spawn(m.backend.probe())));
            }
        }
        for (i, probe) in probes {
            let result = probe
                .await
                .unwrap_or_else(|e| Err(format!("probe failed: {e}")));
            self.members[i].finish_probe(result, self.block);
        }
    }

    /// Answers come from other processes, so their CRCs are checked against the
    /// coordinator's own (DESIGN.md contract 3).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Chunks the members that are up can hold in flight.
    pub fn capacity(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.is_up())
            .map(|m| m.capacity)
            .sum()
    }

    /// Brings membership in line with a fresh discovery result: new addresses join
    /// (after a probe), vanished ones retire, returning ones are probed again.
    pub fn reconcile(&mut self, addrs: &[String]) -> Vec<String> {
        let mut changes = Vec::new();
        for m in &mut self.members {
            let listed = addrs.iter().any(|a| a == m.name());
            match (&m.health, listed) {
                (Health::Retired, true) => {
                    m.health = Health::Down {
                        reason: "listed again".into(),
                        next_probe: Instant::now(),
                        backoff: FIRST_PROBE_BACKOFF,
                        probing: false,
                    };
                    changes.push(format!("worker {} listed again", m.name()));
                }
                (Health::Up | Health::Down { .. }, false) => {
                    m.health = Health::Retired;
                    changes.push(format!("worker {} no longer listed", m.name()));
                }
                _ => {}
            }
        }
        for addr in addrs {
            if !self.members.iter().any(|m| m.name() == addr) && self.add(addr).is_ok() {
                changes.push(format!("worker {addr} discovered"));
            }
        }
        changes
    }

    /// Forgets the per-job counts (a new file starts).
    pub fn reset_stats(&mut self) {
        for m in &mut self.members {
            m.stats = MemberStats::default();
        }
    }
}
