//! The `gzfleet.v1.Worker` gRPC service: validates requests, runs them on the bounded
//! [`EnginePool`], and serves `grpc.health.v1` beside it.
//!
//! Limits are explicit: what a request may carry is checked by [`check_request`], and
//! which requests come in at all, and how long their messages may be, by the
//! [`Admission`] gate in front of both services, before their bodies are read. How
//! many connections each listener holds, and for how long, is [`crate::connections`]'.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use gzfleet_proto::v1::compress_request::Source;
use gzfleet_proto::v1::worker_server::{Worker, WorkerServer};
use gzfleet_proto::v1::{CompressRequest, CompressResponse, EngineInfo, InfoRequest, InfoResponse};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::access::{Access, TokenCheck};
use crate::admission::{Admission, Admitted, Gate};
use crate::connections::{ConnectionLimits, Limited, Tracking};
use crate::engine::{Engine, engine_id};
use crate::hooks::Hooks;
use crate::limits::{
    CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW, max_streams, request_limit, response_limit,
};
use crate::logs::{self, Said};
use crate::metrics::{Listener, Reason, WorkerMetrics};
use crate::pool::{EnginePool, Input, Job, JobError, Submit};
use crate::pulls::{Planned, Pulls, WindowFrom, input_error};
use crate::validate::{Invalid, check_request};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Chunks compressed at once (threads).
    pub slots: usize,
    /// Requests that may wait for a slot; beyond them RESOURCE_EXHAUSTED.
    pub queue_depth: usize,
    /// Largest chunk accepted, in bytes.
    pub max_chunk: u64,
    /// Where pull requests' files are (`--root`); None: pull requests are refused.
    pub root: Option<PathBuf>,
    /// URL prefixes below which pull requests' objects are read (`--read-objects`);
    /// empty: none are.
    pub read_objects: Vec<String>,
    /// Connections each listener holds at once, and how long one may stay unused.
    pub connections: ConnectionLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start compression threads: {0}")]
    Threads(std::io::Error),
    #[error("--root {}: {source}", .dir.display())]
    Root {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

pub struct WorkerService<H> {
    pool: EnginePool,
    config: WorkerConfig,
    pulls: Pulls,
    hooks: H,
    metrics: Arc<WorkerMetrics>,
    /// Compress calls that passed validation, numbered for the hooks.
    calls: AtomicU64,
}

impl<H: Hooks> WorkerService<H> {
    pub fn new(config: WorkerConfig, hooks: H) -> Result<Self, ServeError> {
        Self::with_metrics(config, hooks, Arc::default())
    }

    /// A service recording into `metrics`, and pointing its queue gauge at its pool.
    pub fn with_metrics(
        config: WorkerConfig,
        hooks: H,
        metrics: Arc<WorkerMetrics>,
    ) -> Result<Self, ServeError> {
        let pulls = Pulls::new(
            config.root.as_deref(),
            &config.read_objects,
            config.slots + config.queue_depth,
        )
        .map_err(|source| ServeError::Root {
            dir: config.root.clone().unwrap_or_default(),
            source,
        })?;
        let pool =
            EnginePool::new(config.slots, config.queue_depth).map_err(ServeError::Threads)?;
        metrics.watch_queue(pool.waiting());
        Ok(WorkerService {
            pool,
            config,
            pulls,
            hooks,
            metrics,
            calls: AtomicU64::new(0),
        })
    }

    /// Checks a request against the limits and turns it into a job's engine and input.
    fn validate(&self, req: &CompressRequest) -> Result<(Engine, Planned), Status> {
        let engine = check_request(req, self.config.max_chunk).inspect_err(|e| {
            self.metrics.rejected(match e {
                Invalid::Chunk { .. } => Reason::TooLarge,
                _ => Reason::Invalid,
            })
        })?;
        let planned = match &req.source {
            Some(Source::Range(range)) => self.pulls.plan(range, req.independent),
            Some(Source::Data(data)) => Ok(Planned::Ready(Input::Bytes {
                data: data.clone(),
                dictionary: req.dictionary.clone(),
            })),
            None => Err(Invalid::NoChunk.into()),
        };
        let planned = planned.inspect_err(|status| self.metrics.refused(status))?;
        Ok((engine, planned))
    }

    /// Compress requests admitted at once: as many as the pool holds.
    fn admitted(&self) -> (usize, usize) {
        (self.pool.slots(), self.pool.queue_depth())
    }
}

#[tonic::async_trait]
impl<H: Hooks> Worker for WorkerService<H> {
    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let mut info = InfoResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            engine: engine_id().to_string(),
            slots: self.pool.slots() as u32,
            max_chunk_bytes: self.config.max_chunk,
            queue_depth: self.pool.queue_depth() as u32,
            engines: Engine::ALL.iter().map(|&e| engine_info(e)).collect(),
            returns_window: true,
        };
        self.hooks.info(&mut info);
        Ok(Response::new(info))
    }

    async fn compress(
        &self,
        mut request: Request<CompressRequest>,
    ) -> Result<Response<CompressResponse>, Status> {
        // Served through `serve`, every call comes admitted; called directly (unit
        // tests), none does.
        let admitted = request.extensions_mut().remove::<Admitted>();
        let req = request.into_inner();
        let (engine, planned) = self.validate(&req)?;
        let _counted = self.metrics.in_flight();
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let started = Instant::now();
        self.hooks.before(call).await;
        let (input, _reading) = match planned {
            Planned::Ready(input) => (input, None),
            Planned::Object(read) => {
                let (input, permit) = self
                    .pulls
                    .read(read)
                    .await
                    .inspect_err(|status| self.metrics.refused(status))?;
                (input, Some(permit))
            }
        };
        // Taken before the input goes to the pool: the window an index point needs
        // (see `WindowFrom`).
        let window_from = req.return_window.then(|| WindowFrom::of(&input));
        let job = Job {
            input,
            engine,
            level: req.level,
            hold: admitted.as_ref().map(Admitted::hold),
        };
        let pending = self.pool.try_submit(job).map_err(|e| match e {
            Submit::Busy => Status::resource_exhausted(format!(
                "all {} slots are busy and {} requests are queued; retry later",
                self.pool.slots(),
                self.pool.queue_depth()
            )),
            Submit::Closed => Status::unavailable("worker is shutting down"),
        });
        let pending = pending.inspect_err(|status| self.metrics.refused(status))?;
        let out = pending
            .await
            .map_err(|_| Status::internal("compression thread ended unexpectedly"))?
            .map_err(|e| match e {
                JobError::Read(e) if e.about_input() => {
                    self.metrics.rejected(Reason::Input);
                    input_error(Status::failed_precondition(e.to_string()))
                }
                JobError::Read(e) => Status::unavailable(e.to_string()),
                JobError::Engine(e) => Status::internal(e.to_string()),
            })?;
        let window = match window_from {
            None => Bytes::new(),
            Some(from) => from.read().await.map_err(|e| match e.about_input() {
                true => input_error(Status::failed_precondition(e.to_string())),
                false => Status::unavailable(e.to_string()),
            })?,
        };
        let mut response = CompressResponse {
            deflate: Bytes::from(out.deflate),
            crc32: out.crc32,
            input_length: out.input_len,
            engine: engine.id().to_string(),
            window,
        };
        let took = started.elapsed();
        self.metrics
            .answered(out.input_len, response.deflate.len() as u64, took);
        self.hooks
            .after(call, started.elapsed(), &mut response)
            .await;
        Ok(Response::new(response))
    }
}

/// What Info says of `engine`.
pub fn engine_info(engine: Engine) -> EngineInfo {
    EngineInfo {
        name: engine.name().into(),
        id: engine.id().into(),
        min_level: *engine.levels().start(),
        max_level: *engine.levels().end(),
        dictionary: engine.takes_dictionary(),
    }
}

/// Serves the worker and health services on `listener` until `shutdown` completes,
/// then stops accepting, finishes the requests in hand and returns.
pub async fn serve<H: Hooks>(
    listener: TcpListener,
    config: WorkerConfig,
    access: Access,
    hooks: H,
    metrics: Arc<WorkerMetrics>,
    health_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let max_chunk = config.max_chunk;
    let connections = config.connections;
    let service = WorkerService::with_metrics(config, hooks, Arc::clone(&metrics))?;
    let (slots, queue) = service.admitted();
    let gate = Gate::new(slots, queue, max_chunk, Arc::clone(&metrics));
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<WorkerServer<WorkerService<H>>>().await;

    // Tonic's own limit stays as a second line behind the gate's.
    let worker = WorkerServer::new(service)
        .max_decoding_message_size(request_limit(max_chunk))
        .max_encoding_message_size(response_limit(max_chunk));
    let worker = Admission::new(worker, Arc::clone(&gate));
    // `--health-listen`: see `serve_health_only`.
    let (health_done, health_stop) = tokio::sync::oneshot::channel::<()>();
    let health_only = health_listener.map(|listener| {
        serve_health_only(
            listener,
            connections,
            &metrics,
            health_service.clone(),
            health_stop,
        )
    });
    // Every call answered counts as activity on its connection, keeping it open; a
    // Compress or Info call only once past the token check.
    let health_service = Tracking::new(Admission::new(health_service, gate));
    let worker = Tracking::new(worker);
    // The token is checked first: a caller without it never holds a permit.
    let mut token = TokenCheck(access.token);
    let refusals = Arc::clone(&metrics);
    let check_token = move |request| {
        tonic::service::Interceptor::call(&mut token, request).inspect_err(|_| {
            tracing::debug!("refused a call without the right token");
            refusals.rejected(Reason::Unauthenticated)
        })
    };
    let worker = tonic::service::interceptor::InterceptedService::new(worker, check_token);
    let incoming = Limited::new(
        TcpIncoming::from(listener).with_nodelay(Some(true)),
        connections,
        metrics.connection_counters(Listener::Grpc),
    );
    let shutdown = drain::<H>(shutdown, Arc::clone(&metrics), health.clone());
    let served = server(access.tls, slots + queue)?
        .add_service(health_service)
        .add_service(worker)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    let _ = health_done.send(());
    if let Some(task) = health_only {
        let _ = task.await;
    }
    served?;
    logs::say("gzfleet-worker", Said::Info, "drained; exiting");
    Ok(())
}

/// The main server's settings: TLS if any, and HTTP/2 limits for `admitted` calls.
fn server(
    tls: Option<tonic::transport::ServerTlsConfig>,
    admitted: usize,
) -> Result<Server, ServeError> {
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    Ok(builder
        // Unlimited in tonic by default; see limits.rs for what this bounds.
        .max_concurrent_streams(max_streams(admitted))
        .max_frame_size(MAX_FRAME)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW))
}

/// `--health-listen`: the health service alone, plaintext, on its own port, for
/// probes that cannot speak TLS. It outlives the drain (stopped by `stop` only once
/// the main server has returned), so a liveness probe never fails a worker for
/// draining; readiness sees NOT_SERVING then, as on the main port.
fn serve_health_only<T: tonic_health::pb::health_server::Health>(
    listener: TcpListener,
    connections: ConnectionLimits,
    metrics: &WorkerMetrics,
    service: tonic_health::pb::health_server::HealthServer<T>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<Result<(), tonic::transport::Error>> {
    let incoming = Limited::new(
        TcpIncoming::from(listener).with_nodelay(Some(true)),
        connections,
        metrics.connection_counters(Listener::Health),
    );
    tokio::spawn(
        Server::builder()
            // Probes make one call at a time; nothing else is served here.
            .max_concurrent_streams(8)
            .add_service(Tracking::new(service))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop.await;
            }),
    )
}

/// Waits for `shutdown`, then says so and tells load balancers first, so no new work
/// is routed here while the requests in hand drain.
async fn drain<H: Hooks>(
    shutdown: impl Future<Output = ()> + Send,
    metrics: Arc<WorkerMetrics>,
    reporter: tonic_health::server::HealthReporter,
) {
    shutdown.await;
    let draining = metrics.in_flight_now();
    let line = format!("stopping: no new requests; draining {draining} in flight");
    logs::say("gzfleet-worker", Said::Info, &line);
    reporter
        .set_not_serving::<WorkerServer<WorkerService<H>>>()
        .await;
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
