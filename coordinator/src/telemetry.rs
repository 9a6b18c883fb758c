//! What the coordinator shows Prometheus (`gzfleet compress --metrics ADDR`).
//!
//! No second set of books: the counters are the ones `-v` and `--stats-json` report,
//! the dispatcher's [`DispatchStats`] and the fleet's per-worker [`WorkerStats`],
//! copied here as a [`Snapshot`] on every dispatcher tick and at the end of the run,
//! and encoded from that copy when scraped. Only per-answer latencies, which those
//! keep no history of, are observed here as they come, into a histogram per worker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::compress::dispatch::DispatchStats;
use crate::fleet::WorkerStats;

/// The run's numbers as of the last copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub dispatch: DispatchStats,
    /// Every worker the run has known, by name, departed ones included. A name may
    /// come more than once (a worker that left and came back at the same address);
    /// see [`Snapshot::by_worker`].
    pub workers: Vec<(String, WorkerStats)>,
    pub workers_up: usize,
    /// Chunks the run's inputs make, as far as is known.
    pub chunks_planned: u64,
    pub finished: bool,
}

impl Snapshot {
    fn sum(&self, of: impl Fn(&WorkerStats) -> u64) -> u64 {
        self.workers.iter().map(|(_, s)| of(s)).sum()
    }

    /// Each worker's numbers, one entry per name. The fleet reports a worker that
    /// departed and came back at the same address twice (its departed share and its
    /// present one), but a scrape may carry each label set only once and Prometheus
    /// knows the worker by its name alone, so the shares are summed.
    fn by_worker(&self) -> BTreeMap<&str, WorkerStats> {
        let mut merged = BTreeMap::<&str, WorkerStats>::new();
        for (name, stats) in &self.workers {
            let sum = merged.entry(name.as_str()).or_default();
            sum.chunks += stats.chunks;
            sum.bytes_in += stats.bytes_in;
            sum.bytes_out += stats.bytes_out;
            sum.failures += stats.failures;
        }
        merged
    }
}

type Latency = Family<Vec<(&'static str, String)>, Histogram>;

#[derive(Debug)]
struct Shared {
    snapshot: Mutex<Snapshot>,
    latency: Latency,
}

/// Where the run's numbers are published. Cheap to clone; a disabled one (no
/// `--metrics`) does nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Telemetry(Option<Arc<Shared>>);

impl Telemetry {
    /// A telemetry that records, and the registry that serves it.
    pub fn enabled() -> (Telemetry, Registry) {
        let latency = Latency::new_with_constructor(|| {
            // 1 ms to about 65 s, as the workers' compress histogram.
            Histogram::new(exponential_buckets(0.001, 2.0, 17))
        });
        let shared = Arc::new(Shared {
            snapshot: Mutex::default(),
            latency: latency.clone(),
        });
        let mut registry = Registry::default();
        registry.register(
            "gzfleet_fleet_latency_seconds",
            "Time from sending a chunk to a worker to its checked answer, by worker",
            latency,
        );
        registry.register_collector(Box::new(Published(Arc::clone(&shared))));
        (Telemetry(Some(shared)), registry)
    }

    /// Replaces the published numbers.
    pub fn publish(&self, update: impl FnOnce(&mut Snapshot)) {
        if let Some(shared) = &self.0 {
            update(&mut shared.snapshot.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// A chunk answered by `worker` after `elapsed`.
    pub fn answered(&self, worker: impl FnOnce() -> String, elapsed: Duration) {
        if let Some(shared) = &self.0 {
            let label = vec![("worker", worker())];
            shared
                .latency
                .get_or_create(&label)
                .observe(elapsed.as_secs_f64());
        }
    }

    #[cfg(test)]
    pub fn snapshot(&self) -> Snapshot {
        self.0
            .as_ref()
            .map(|s| s.snapshot.lock().unwrap().clone())
            .unwrap_or_default()
    }
}

/// Encodes the published [`Snapshot`] when scraped.
#[derive(Debug)]
struct Published(Arc<Shared>);

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let v = i64::try_from(v).unwrap_or(i64::MAX);
    ConstGauge::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// One counter per worker, labelled `worker`.
fn per_worker(
    e: &mut DescriptorEncoder,
    workers: &BTreeMap<&str, WorkerStats>,
    name: &str,
    help: &str,
    of: impl Fn(&WorkerStats) -> u64,
) -> std::fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (&worker, stats) in workers {
        let label = [("worker", worker)];
        ConstCounter::new(of(stats)).encode(family.encode_family(&label)?)?;
    }
    Ok(())
}

impl Collector for Published {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self
            .0
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let d = &s.dispatch;
        let workers = s.by_worker();
        let e = &mut e;
        counter(
            e,
            "gzfleet_chunks_done",
            "Chunks compressed, checked and handed to the writer.",
            s.sum(|w| w.chunks),
        )?;
        gauge(
            e,
            "gzfleet_chunks_planned",
            "Chunks the run's inputs make, as far as known (exact once the run has finished).",
            s.chunks_planned,
        )?;
        counter(
            e,
            "gzfleet_input_bytes",
            "Uncompressed bytes of the chunks done.",
            s.sum(|w| w.bytes_in),
        )?;
        counter(
            e,
            "gzfleet_output_bytes",
            "Deflate bytes of the chunks done.",
            s.sum(|w| w.bytes_out),
        )?;
        counter(
            e,
            "gzfleet_failed_attempts",
            "Attempts that failed, for any reason but a full worker.",
            d.failed_attempts,
        )?;
        counter(
            e,
            "gzfleet_retries",
            "Chunks sent again after a failed attempt.",
            d.retries,
        )?;
        counter(
            e,
            "gzfleet_reassignments",
            "Retries sent to another worker than the one that failed.",
            d.reassignments,
        )?;
        counter(
            e,
            "gzfleet_speculative",
            "Duplicates sent for late head-of-line chunks.",
            d.speculative,
        )?;
        counter(
            e,
            "gzfleet_speculative_wins",
            "Duplicates that answered first.",
            d.speculative_wins,
        )?;
        counter(
            e,
            "gzfleet_timeouts",
            "Attempts given up for taking too long.",
            d.timeouts,
        )?;
        counter(
            e,
            "gzfleet_wrong_answers",
            "Answers that failed the checks.",
            d.wrong_answers,
        )?;
        counter(
            e,
            "gzfleet_received_bytes",
            "Payload bytes received from workers: deflate data, windows, and with --direct-output the fragments of segments.",
            d.received_bytes,
        )?;
        counter(
            e,
            "gzfleet_busy",
            "Full-worker answers (RESOURCE_EXHAUSTED): sent again, not failures.",
            d.busy,
        )?;
        per_worker(
            e,
            &workers,
            "gzfleet_fleet_chunks",
            "Chunks done, by worker.",
            |w| w.chunks,
        )?;
        per_worker(
            e,
            &workers,
            "gzfleet_fleet_input_bytes",
            "Uncompressed bytes of the chunks done, by worker.",
            |w| w.bytes_in,
        )?;
        per_worker(
            e,
            &workers,
            "gzfleet_fleet_failures",
            "Failed attempts, by worker.",
            |w| w.failures,
        )?;
        gauge(e, "gzfleet_workers", "Workers known.", workers.len() as u64)?;
        gauge(e, "gzfleet_workers_up", "Workers up.", s.workers_up as u64)?;
        gauge(
            e,
            "gzfleet_run_finished",
            "1 once the run has ended (served for --metrics-linger).",
            u64::from(s.finished),
        )
    }
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
