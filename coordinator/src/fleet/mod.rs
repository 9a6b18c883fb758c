//! The workers a job may dispatch to: the embedded pool, or gzfleet-workers found by
//! [`discovery`] and reached over a [`link`]. The fleet owns each [`worker`]'s health
//! and counts; dispatch asks it who exists and tells it what happened, and gets back a
//! [`Change`] whenever a worker leaves or rejoins rotation. The fleet never sees
//! chunks.

pub(crate) mod access;
pub(crate) mod discovery;
pub(crate) mod link;
pub(crate) mod local;
pub(crate) mod remote;
pub(crate) mod segments;
pub(crate) mod speed;
pub(crate) mod worker;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::ui::report::WorkerReport;
pub(crate) use access::{CredentialFiles, Credentials};
pub(crate) use discovery::Discovery;
pub(crate) use link::{Answer, AttemptError, Link, Needs, WorkerInfo};
use local::LocalLink;
use remote::GrpcLink;
pub(crate) use speed::Sample;
use worker::{Health, ProbeOutcome};
pub(crate) use worker::{Worker, WorkerStats};

/// How often discovery (a workers file, DNS) is read again.
const REDISCOVER_EVERY: Duration = Duration::from_secs(2);

/// Names a worker for as long as the fleet knows it; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WorkerId(u32);

#[cfg(test)]
impl WorkerId {
    pub fn for_test(n: u32) -> WorkerId {
        WorkerId(n)
    }
}

/// Take-downs in a row after which a flapping worker's comings and goings are only
/// said with -v: the first few tell the user, the rest would flood the terminal.
const SAID_DOWNS: u32 = 3;

/// A worker left or rejoined rotation, or discovery changed the fleet. `downs` counts
/// the take-downs in a row that no answer interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Down {
        worker: String,
        reason: String,
        downs: u32,
    },
    Up {
        worker: String,
        slots: usize,
        was: String,
        downs: u32,
    },
    Excluded {
        worker: String,
        why: String,
    },
    Discovered(String),
    Retired(String),
    Relisted(String),
    /// Discovery listed an address no link can be made to.
    Unusable {
        worker: String,
        why: String,
    },
}

impl Change {
    /// Losing or regaining capacity is said at the default verbosity (but a worker
    /// that keeps flapping only with -v); membership changes that do not (yet) change
    /// capacity only with -v.
    pub fn is_notable(&self) -> bool {
        match self {
            Change::Down { downs, .. } | Change::Up { downs, .. } => *downs <= SAID_DOWNS,
            Change::Excluded { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Down {
                worker,
                reason,
                downs: 1,
            } => write!(f, "worker {worker} out of rotation: {reason}"),
            Change::Down {
                worker,
                reason,
                downs,
            } => write!(
                f,
                "worker {worker} out of rotation again ({downs} times without an answer; probed less often): {reason}"
            ),
            Change::Up {
                worker, slots, was, ..
            } if was == "not yet probed" => write!(f, "worker {worker} joined ({slots} slots)"),
            Change::Up {
                worker, slots, was, ..
            } => write!(f, "worker {worker} is back ({slots} slots; was: {was})"),
            Change::Excluded { worker, why } => write!(f, "worker {worker} excluded: {why}"),
            Change::Discovered(w) => write!(f, "worker {w} discovered"),
            Change::Retired(w) => write!(f, "worker {w} no longer listed"),
            Change::Relisted(w) => write!(f, "worker {w} listed again"),
            Change::Unusable { worker, why } => {
                write!(f, "discovery listed {worker}, which cannot be used: {why}")
            }
        }
    }
}

pub(crate) struct Fleet {
    workers: BTreeMap<WorkerId, Worker>,
    next_id: u32,
    /// Read again every [`REDISCOVER_EVERY`] when it can change; None when the list
    /// was fixed on the command line.
    discovery: Option<Discovery>,
    /// When discovery is next due; None while a resolve is out.
    rediscover_at: Option<Instant>,
    needs: Needs,
    remote: bool,
    /// What every connection to a worker presents.
    credentials: Credentials,
    /// Workers dropped from the fleet during this job after doing some of it.
    departed: Vec<WorkerReport>,
}

impl Fleet {
    /// The embedded pool: one worker, `threads` slots.
    pub fn local(threads: usize, needs: Needs) -> Result<Self, Error> {
        let link = LocalLink::new(threads).map_err(|source| Error::Spawn {
            what: format!("{threads} compression threads"),
            source,
        })?;
        let info = WorkerInfo {
            slots: threads,
            queue_depth: 2 * threads,
            max_chunk: u64::MAX,
            engines: Vec::new(),
            returns_window: true,
            writes_files: false,
            version: String::new(),
        };
        let mut fleet = Fleet::empty(None, needs, false);
        fleet.insert(Worker::up(Arc::new(link), &info));
        Ok(fleet)
    }

    /// Workers that are up, reached over the given links (tests).
    #[cfg(test)]
    pub fn of_links(links: Vec<(Arc<dyn Link>, WorkerInfo)>, needs: Needs) -> Fleet {
        let mut fleet = Fleet::empty(None, needs, true);
        for (link, info) in links {
            fleet.insert(Worker::up(link, &info));
        }
        fleet
    }

    fn empty(discovery: Option<Discovery>, needs: Needs, remote: bool) -> Fleet {
        Fleet {
            workers: BTreeMap::new(),
            next_id: 0,
            rediscover_at: discovery
                .as_ref()
                .map(|_| Instant::now() + REDISCOVER_EVERY),
            discovery,
            needs,
            remote,
            credentials: Credentials::default(),
            departed: Vec::new(),
        }
    }

    fn insert(&mut self, worker: Worker) -> WorkerId {
        let id = WorkerId(self.next_id);
        self.next_id += 1;
        self.workers.insert(id, worker);
        id
    }

    /// Finds the workers, asks each what it offers, and keeps them all (the ones not
    /// up are probed again later). Fails, naming every address tried, when none is up.
    pub async fn connect(
        discovery: Discovery,
        needs: Needs,
        credentials: Credentials,
    ) -> Result<Self, Error> {
        let (addrs, errors) = discovery.resolve().await;
        if addrs.is_empty() {
            return Err(Error::NoWorkers(format!(
                "no worker addresses found: {}",
                errors.join("; ")
            )));
        }
        let dynamic = discovery.is_dynamic().then_some(discovery);
        let mut fleet = Fleet::empty(dynamic, needs, true);
        fleet.credentials = credentials;
        let now = Instant::now();
        for addr in &addrs {
            fleet.add(addr, now)?;
        }
        fleet.probe_all().await;
        if !fleet.any_up() {
            let tried: Vec<String> = fleet
                .workers
                .values()
                .map(|w| format!("{} ({})", w.name(), w.status()))
                .chain(errors)
                .collect();
            return Err(Error::NoWorkers(format!(
                "no worker reachable; tried {}",
                tried.join(", ")
            )));
        }
        Ok(fleet)
    }

    fn add(&mut self, addr: &str, now: Instant) -> Result<WorkerId, Error> {
        let name = self.discovery.as_ref().and_then(|d| d.server_name(addr));
        let link = GrpcLink::new(addr, self.needs.block, &self.credentials, name.as_deref())
            .map_err(Error::Setup)?;
        Ok(self.insert(Worker::listed(Arc::new(link), now)))
    }

    /// Probes every worker that is due, all at once, and waits for the answers.
    async fn probe_all(&mut self) {
        let probes: Vec<_> = self
            .start_probes(Instant::now())
            .into_iter()
            .map(|(id, ticket, link)| (id, ticket, tokio::spawn(link.probe())))
            .collect();
        for (id, ticket, probe) in probes {
            let result = probe
                .await
                .unwrap_or_else(|e| Err(format!("probe failed: {e}")));
            self.probe_finished(id, ticket, result, Instant::now());
        }
    }

    /// Answers come from other processes, so their CRCs are checked against the
    /// coordinator's own (docs/DESIGN.md, contract 3).
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    pub fn workers(&self) -> impl Iterator<Item = (WorkerId, &Worker)> {
        self.workers.iter().map(|(id, w)| (*id, w))
    }

    pub fn get(&self, id: WorkerId) -> Option<&Worker> {
        self.workers.get(&id)
    }

    /// The worker's name, or a placeholder for one dropped since.
    pub fn name(&self, id: WorkerId) -> String {
        self.get(id)
            .map_or_else(|| "a departed worker".into(), |w| w.name().to_string())
    }

    pub fn any_up(&self) -> bool {
        self.workers.values().any(Worker::is_up)
    }

    /// Chunks the workers that are up can hold in flight.
    pub fn capacity(&self) -> usize {
        self.workers
            .values()
            .filter(|w| w.is_up())
            .map(Worker::capacity)
            .sum()
    }

    /// Whether waiting can bring a worker (back): someone is being probed, or
    /// discovery may find new ones. Excluded and unlisted workers never return.
    pub fn may_return(&self) -> bool {
        self.discovery.is_some()
            || self
                .workers
                .values()
                .any(|w| matches!(w.health(), Health::Down { .. } | Health::Probing { .. }))
    }

    /// Every worker with its status, for messages.
    pub fn describe(&self) -> String {
        self.workers
            .values()
            .map(|w| format!("{} ({})", w.name(), w.status()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn with<T>(&mut self, id: WorkerId, f: impl FnOnce(&mut Worker) -> T) -> Option<T> {
        self.workers.get_mut(&id).map(f)
    }

    /// An attempt was sent to `id`; returns how many are in flight there now.
    pub fn started(&mut self, id: WorkerId) -> usize {
        self.with(id, Worker::started).unwrap_or(1)
    }

    /// An attempt on `id` ended (its answer or failure already recorded).
    pub fn ended(&mut self, id: WorkerId) {
        self.with(id, Worker::ended);
    }

    pub fn answered(&mut self, id: WorkerId, sample: Sample, now: Instant) {
        self.with(id, |w| w.answered(sample, now));
    }

    pub fn failed_attempt(&mut self, id: WorkerId) {
        self.with(id, Worker::failed_attempt);
    }

    /// RESOURCE_EXHAUSTED: returns how many came in a row without an answer.
    pub fn busy(&mut self, id: WorkerId, now: Instant) -> u32 {
        self.with(id, |w| w.busy(now)).unwrap_or(0)
    }

    pub fn lost_race(&mut self, id: WorkerId, so_far: Sample, now: Instant) -> u32 {
        self.with(id, |w| w.lost_race(so_far, now)).unwrap_or(0)
    }

    /// Out of rotation until a probe brings it back.
    pub fn take_down(&mut self, id: WorkerId, reason: String, now: Instant) -> Option<Change> {
        let w = self.workers.get_mut(&id)?;
        let downs = w.take_down(reason.clone(), now)?;
        Some(Change::Down {
            worker: w.name().to_string(),
            reason,
            downs,
        })
    }

    /// Out of rotation for a growing while: it answered wrongly.
    pub fn distrust(&mut self, id: WorkerId, reason: String, now: Instant) -> Option<Change> {
        let w = self.workers.get_mut(&id)?;
        let downs = w.distrust(reason.clone(), now)?;
        Some(Change::Down {
            worker: w.name().to_string(),
            reason,
            downs,
        })
    }

    pub fn exclude(&mut self, id: WorkerId, why: String) -> Option<Change> {
        let w = self.workers.get_mut(&id)?;
        w.exclude(why.clone()).then(|| Change::Excluded {
            worker: w.name().to_string(),
            why,
        })
    }

    /// Marks every worker due for a probe as being probed; returns what to probe.
    pub fn start_probes(&mut self, now: Instant) -> Vec<(WorkerId, u64, Arc<dyn Link>)> {
        self.workers
            .iter_mut()
            .filter_map(|(id, w)| w.start_probe(now).map(|ticket| (*id, ticket, w.link())))
            .collect()
    }

    pub fn probe_finished(
        &mut self,
        id: WorkerId,
        ticket: u64,
        result: Result<WorkerInfo, String>,
        now: Instant,
    ) -> Option<Change> {
        let needs = self.needs;
        let w = self.workers.get_mut(&id)?;
        let worker = w.name().to_string();
        match w.probe_finished(ticket, result, needs, now)? {
            ProbeOutcome::Up { was } => Some(Change::Up {
                worker,
                slots: w.slots(),
                was,
                downs: w.downs(),
            }),
            ProbeOutcome::Excluded(why) => Some(Change::Excluded { worker, why }),
            ProbeOutcome::StillDown => None,
        }
    }

    /// Discovery to run now, if it is due and not already running.
    pub fn discovery_due(&mut self, now: Instant) -> Option<Discovery> {
        let due = self.rediscover_at.is_some_and(|at| now >= at);
        if !due {
            return None;
        }
        self.rediscover_at = None;
        self.discovery.clone()
    }

    /// Brings membership in line with a fresh discovery result: new addresses join
    /// (after a probe), returning ones are probed again, and vanished ones retire and
    /// leave once idle, but only when the answer is `complete`: a DNS lookup or a
    /// workers file that failed this time says nothing about who is gone. An empty
    /// answer is more likely a hiccup than a fleet gone, and changes nothing.
    pub fn rediscovered(&mut self, addrs: &[String], complete: bool, now: Instant) -> Vec<Change> {
        self.rediscover_at = Some(now + REDISCOVER_EVERY);
        if addrs.is_empty() {
            return Vec::new();
        }
        let mut changes = Vec::new();
        for w in self.workers.values_mut() {
            let name = w.name().to_string();
            if addrs.contains(&name) {
                if w.relist(now) {
                    changes.push(Change::Relisted(name));
                }
            } else if complete && w.retire() {
                changes.push(Change::Retired(name));
            }
        }
        for addr in addrs {
            if self.workers.values().any(|w| w.name() == addr) {
                continue;
            }
            changes.push(match self.add(addr, now) {
                Ok(_) => Change::Discovered(addr.clone()),
                Err(e) => Change::Unusable {
                    worker: addr.clone(),
                    why: e.to_string(),
                },
            });
        }
        self.prune();
        changes
    }

    /// Drops retired workers with nothing in flight, keeping their share of this job
    /// for the report. Called once what they did is recorded.
    pub fn prune(&mut self) {
        let leaving: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.can_leave())
            .map(|(id, _)| *id)
            .collect();
        for id in leaving {
            if let Some(w) = self.workers.remove(&id)
                && w.stats().chunks + w.stats().failures > 0
            {
                self.departed.push(report_of(&w));
            }
        }
    }

    /// A job ended: nothing is in flight any more, and answers to probes and
    /// discovery sent during it will not be read.
    pub fn end_job(&mut self, now: Instant) {
        for w in self.workers.values_mut() {
            w.new_job(now);
        }
        if self.discovery.is_some() && self.rediscover_at.is_none() {
            self.rediscover_at = Some(now);
        }
    }

    /// Each worker's share of this job, those that left during it included.
    pub fn reports(&self) -> Vec<WorkerReport> {
        self.workers
            .values()
            .map(report_of)
            .chain(self.departed.iter().cloned())
            .collect()
    }
}

fn report_of(w: &Worker) -> WorkerReport {
    WorkerReport {
        name: w.name().to_string(),
        slots: w.slots(),
        stats: w.stats().clone(),
    }
}

#[cfg(test)]
mod tests;
