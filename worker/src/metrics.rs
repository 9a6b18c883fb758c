//! What a worker counts for Prometheus (`gzfleet-worker --metrics ADDR`): chunks and
//! bytes through it, how long they took, what is in flight and waiting, and what it
//! refused and why, and the connections each listener holds. The service, the
//! admission gate and [`crate::connections`] record into one [`WorkerMetrics`];
//! [`crate::exposition`] serves its [`Registry`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Why a request was refused: the `reason` label of `gzfleet_worker_rejected_total`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Reason {
    /// No permit free (slots and queue full), or the pool's queue full: RESOURCE_EXHAUSTED.
    Overloaded,
    /// A message, or the chunk in it, larger than this worker's limits.
    TooLarge,
    /// A request no worker would take (level, dictionary, no chunk, pull not served).
    Invalid,
    /// No token, or the wrong one.
    Unauthenticated,
    /// A pull request's input: outside --root, missing, changed since the coordinator
    /// looked, unreadable.
    Input,
    /// Shutting down.
    Unavailable,
}

impl Reason {
    const ALL: [Reason; 6] = [
        Reason::Overloaded,
        Reason::TooLarge,
        Reason::Invalid,
        Reason::Unauthenticated,
        Reason::Input,
        Reason::Unavailable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Reason::Overloaded => "overloaded",
            Reason::TooLarge => "too_large",
            Reason::Invalid => "invalid",
            Reason::Unauthenticated => "unauthenticated",
            Reason::Input => "input",
            Reason::Unavailable => "unavailable",
        }
    }
}

impl EncodeLabelValue for Reason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Rejected {
    reason: Reason,
}

/// Which port a connection came in on: the `listener` label of the connection metrics.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Listener {
    /// `--listen`: the worker and health services.
    Grpc,
    /// `--health-listen`: the health service alone.
    Health,
}

impl EncodeLabelValue for Listener {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let name = match self {
            Listener::Grpc => "grpc",
            Listener::Health => "health",
        };
        std::fmt::Write::write_str(encoder, name)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Port {
    listener: Listener,
}

/// Why the worker closed a connection: the `reason` label of
/// `gzfleet_worker_connections_closed_total`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Closed {
    /// No request within `--first-request-timeout` of being accepted.
    FirstRequest,
    /// No request in flight for `--idle-timeout`.
    Idle,
}

impl EncodeLabelValue for Closed {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        let name = match self {
            Closed::FirstRequest => "first_request",
            Closed::Idle => "idle",
        };
        std::fmt::Write::write_str(encoder, name)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedBy {
    listener: Listener,
    reason: Closed,
}

/// One listener's connection counters, as [`crate::connections`] records them: cheap
/// to clone, every handle inside is shared with the registry.
#[derive(Debug, Clone, Default)]
pub struct ConnectionCounters {
    pub open: Gauge,
    pub first_request: Counter,
    pub idle: Counter,
    pub waited: Counter,
}

/// A worker's counters. Cheap to share: every handle inside is shared.
pub struct WorkerMetrics {
    chunks: Counter,
    input_bytes: Counter,
    output_bytes: Counter,
    compress_seconds: Histogram,
    in_flight: Gauge,
    rejected: Family<Rejected, Counter>,
    connections: Family<Port, Gauge>,
    connections_closed: Family<ClosedBy, Counter>,
    connections_waited: Family<Port, Counter>,
    /// Reads the pool's queue at scrape time; set once the pool exists.
    waiting: OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics {
            chunks: Counter::default(),
            input_bytes: Counter::default(),
            output_bytes: Counter::default(),
            // 1 ms to about 65 s: a small chunk on a fast core to a 64 MiB chunk at
            // level 9 on a crowded one.
            compress_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            in_flight: Gauge::default(),
            rejected: Family::default(),
            connections: Family::default(),
            connections_closed: Family::default(),
            connections_waited: Family::default(),
            waiting: OnceLock::new(),
        }
    }
}

impl WorkerMetrics {
    /// A registry serving these metrics, to hand to [`crate::exposition`].
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut r = Registry::default();
        r.register(
            "gzfleet_worker_chunks",
            "Chunks compressed and answered",
            self.chunks.clone(),
        );
        r.register(
            "gzfleet_worker_input_bytes",
            "Uncompressed bytes of the chunks answered",
            self.input_bytes.clone(),
        );
        r.register(
            "gzfleet_worker_output_bytes",
            "Deflate bytes answered",
            self.output_bytes.clone(),
        );
        r.register(
            "gzfleet_worker_compress_seconds",
            "Time from a Compress request's validation to its answer: waiting for a slot, reading its input (pull mode) and deflating",
            self.compress_seconds.clone(),
        );
        r.register(
            "gzfleet_worker_in_flight",
            "Compress requests being handled (waiting for a slot or on one)",
            self.in_flight.clone(),
        );
        r.register(
            "gzfleet_worker_rejected",
            "Requests refused, by reason",
            self.rejected.clone(),
        );
        // Every reason from 0, so that rate() sees the first refusal of each.
        for reason in Reason::ALL {
            let _ = self.rejected.get_or_create(&Rejected { reason });
        }
        r.register(
            "gzfleet_worker_connections",
            "Connections open, by listener (at most --max-connections each)",
            self.connections.clone(),
        );
        r.register(
            "gzfleet_worker_connections_closed",
            "Connections the worker closed for making no request in time, by listener and reason",
            self.connections_closed.clone(),
        );
        r.register(
            "gzfleet_worker_connections_waited",
            "Times a listener stopped accepting because --max-connections were open (the rest wait in the kernel's backlog)",
            self.connections_waited.clone(),
        );
        // Both listeners from 0, as for `rejected`; a worker without --health-listen
        // shows its series at 0.
        for listener in [Listener::Grpc, Listener::Health] {
            let _ = self.connection_counters(listener);
        }
        r.register_collector(Box::new(Queued(Arc::clone(self))));
        r
    }

    /// The counters of connections on `listener`.
    pub fn connection_counters(&self, listener: Listener) -> ConnectionCounters {
        let port = Port { listener };
        let closed = |reason| {
            let by = ClosedBy { listener, reason };
            self.connections_closed.get_or_create(&by).clone()
        };
        ConnectionCounters {
            open: self.connections.get_or_create(&port).clone(),
            first_request: closed(Closed::FirstRequest),
            idle: closed(Closed::Idle),
            waited: self.connections_waited.get_or_create(&port).clone(),
        }
    }

    /// Where `gzfleet_worker_queued` is read from: the pool's queue.
    pub fn watch_queue(&self, waiting: impl Fn() -> usize + Send + Sync + 'static) {
        let _ = self.waiting.set(Box::new(waiting));
    }

    pub fn answered(&self, input: u64, output: u64, took: Duration) {
        self.chunks.inc();
        self.input_bytes.inc_by(input);
        self.output_bytes.inc_by(output);
        self.compress_seconds.observe(took.as_secs_f64());
    }

    pub fn rejected(&self, reason: Reason) {
        tracing::debug!(?reason, "refused a request");
        self.rejected.get_or_create(&Rejected { reason }).inc();
    }

    #[cfg(test)]
    pub(crate) fn rejections(&self, reason: Reason) -> u64 {
        self.rejected.get_or_create(&Rejected { reason }).get()
    }

    /// Counts a refusal by what its status says; failures of the worker itself
    /// (INTERNAL) are not refusals, and are not counted here.
    pub fn refused(&self, status: &tonic::Status) {
        use tonic::Code;
        let reason = match status.code() {
            Code::ResourceExhausted => Reason::Overloaded,
            Code::InvalidArgument | Code::Unimplemented | Code::OutOfRange => Reason::Invalid,
            Code::Unauthenticated => Reason::Unauthenticated,
            Code::FailedPrecondition | Code::PermissionDenied | Code::NotFound => Reason::Input,
            Code::Unavailable => Reason::Unavailable,
            _ => return,
        };
        self.rejected(reason);
    }

    /// Counts a request in flight until the guard is dropped (also when its caller
    /// gives up).
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// Requests in flight now.
    pub fn in_flight_now(&self) -> i64 {
        self.in_flight.get()
    }
}

pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `gzfleet_worker_queued`, read from the pool when scraped rather than kept in step
/// with it: a slot taking a job is the pool's business, not the server's.
#[derive(Debug)]
struct Queued(Arc<WorkerMetrics>);

impl Collector for Queued {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(waiting) = self.0.waiting.get() else {
            return Ok(());
        };
        let gauge = ConstGauge::new(waiting() as i64);
        let metric = encoder.encode_descriptor(
            "gzfleet_worker_queued",
            "Compress requests admitted and waiting for a free slot.",
            None,
            MetricType::Gauge,
        )?;
        gauge.encode(metric)
    }
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics")
            .field("chunks", &self.chunks.get())
            .field("in_flight", &self.in_flight.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn names_follow_prometheus_conventions() {
        let metrics = Arc::new(WorkerMetrics::default());
        metrics.watch_queue(|| 2);
        metrics.answered(1000, 400, Duration::from_millis(3));
        metrics.rejected(Reason::Overloaded);
        metrics.rejected(Reason::Overloaded);
        metrics.rejected(Reason::TooLarge);
        let busy = metrics.in_flight();
        let grpc = metrics.connection_counters(Listener::Grpc);
        grpc.open.inc();
        grpc.idle.inc();
        let mut text = String::new();
        encode(&mut text, &metrics.registry()).unwrap();
        for line in [
            "gzfleet_worker_chunks_total 1",
            "gzfleet_worker_input_bytes_total 1000",
            "gzfleet_worker_output_bytes_total 400",
            "gzfleet_worker_compress_seconds_count 1",
            "gzfleet_worker_in_flight 1",
            "gzfleet_worker_queued 2",
            "gzfleet_worker_rejected_total{reason=\"overloaded\"} 2",
            "gzfleet_worker_rejected_total{reason=\"too_large\"} 1",
            "gzfleet_worker_connections{listener=\"grpc\"} 1",
            "gzfleet_worker_connections{listener=\"health\"} 0",
            "gzfleet_worker_connections_closed_total{listener=\"grpc\",reason=\"idle\"} 1",
            "gzfleet_worker_connections_closed_total{listener=\"grpc\",reason=\"first_request\"} 0",
            "gzfleet_worker_connections_waited_total{listener=\"health\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        drop(busy);
        assert_eq!(metrics.in_flight_now(), 0);
    }
}
