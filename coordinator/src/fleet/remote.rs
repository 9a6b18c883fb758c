//! A `gzfleet-worker` reached over gRPC, as a [`Link`].
//!
//! One lazily connected HTTP/2 channel per worker carries all its chunks as concurrent
//! streams; tonic reconnects it when the worker comes back. Message limits are set
//! from the job's block size, not left at tonic's 4 MiB default, and each answer is
//! refused unread once it declares more than its own chunk's deflate bound. HTTP/2 keepalive pings
//! notice a worker that went silent (paused, partitioned, powered off) within the
//! dispatch policy's silence allowance, instead of at each chunk's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gzfleet_proto::v1::compress_request::Source;
use gzfleet_proto::v1::worker_client::WorkerClient;
use gzfleet_proto::v1::{CompressRequest, EngineInfo, InfoRequest, InfoResponse};
use gzfleet_worker::INPUT_ERROR;
use gzfleet_worker::framing::{Bounded, Overrun};
use gzfleet_worker::limits::{
    CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW, answer_limit, request_limit, response_limit,
};
use tonic::body::Body;
use tonic::codegen::{Service, http};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::access::{Credentials, Handshake, explain_tls};
use super::link::{Answer, AttemptError, BoxFuture, Link, WorkerInfo};
use super::segments::{self, SegmentClient, SegmentClientRef};
use crate::compress::chunker::Payload;
use crate::compress::dispatch::policy::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
use crate::compress::{Chunk, JobParams};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The name the worker registers its service under in grpc.health.v1.
const SERVICE_NAME: &str = "gzfleet.v1.Worker";

pub(crate) struct GrpcLink {
    addr: String,
    channel: Channel,
    /// How the writer reaches this worker for direct output, on channels of its own.
    segments: Arc<SegmentClient>,
    credentials: Credentials,
    /// Largest response expected: the deflate bound of the largest chunk.
    max_response: usize,
    max_request: usize,
    /// The last contact succeeded: see [`Handshake::answered`].
    answered: Arc<AtomicBool>,
}

impl GrpcLink {
    /// Prepares a channel to `addr` (HOST:PORT); nothing is sent until first use.
    /// `server_name`: the name to check a TLS certificate against, when not the host in
    /// `addr` (an address found through DNS).
    pub fn new(
        addr: &str,
        block: u64,
        credentials: &Credentials,
        server_name: Option<&str>,
    ) -> Result<Self, String> {
        let scheme = match credentials.tls {
            Some(_) => "https",
            None => "http",
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| format!("{addr}: not a valid worker address ({e})"))?;
        if let Some(tls) = &credentials.tls {
            let tls = match server_name {
                Some(name) => tls.clone().domain_name(name),
                None => tls.clone(),
            };
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| format!("{addr}: cannot set up TLS: {e}"))?;
        }
        let endpoint = endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            // A worker that stops answering without closing the connection (paused,
            // partitioned, powered off) fails its streams once a ping goes unanswered.
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        Ok(GrpcLink {
            addr: addr.to_string(),
            channel: endpoint.connect_lazy(),
            segments: Arc::new(SegmentClient {
                name: addr.to_string(),
                endpoint,
                credentials: credentials.clone(),
            }),
            credentials: credentials.clone(),
            max_response: response_limit(block),
            max_request: request_limit(block),
            answered: Arc::default(),
        })
    }

    fn handshake(&self) -> Handshake {
        Handshake {
            answered: self.answered.load(Ordering::Relaxed),
            ..self.credentials.handshake()
        }
    }

    fn client(&self) -> WorkerClient<Channel> {
        WorkerClient::new(self.channel.clone())
            .max_decoding_message_size(self.max_response)
            .max_encoding_message_size(self.max_request)
    }

    /// A client for one chunk of `len` bytes, accepting no answer longer than the
    /// chunk's deflate bound allows.
    fn compressor(&self, len: u64, window: bool) -> WorkerClient<Answers> {
        let limit = answer_limit(len, window).min(self.max_response);
        WorkerClient::new(Answers {
            channel: self.channel.clone(),
            limit,
        })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(self.max_request)
    }
}

/// The channel to a worker, for Compress calls: the answer's body is watched as it
/// arrives, and one declaring more than `limit` bytes is refused on its first 5 bytes
/// ([`Bounded`]), before it is buffered. The refusal carries an [`Overrun`] as its
/// source, which only this coordinator can put there: [`overrun`] tells it from any
/// status a worker or a proxy could send.
#[derive(Clone)]
struct Answers {
    channel: Channel,
    limit: usize,
}

impl Service<http::Request<Body>> for Answers {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<Result<http::Response<Body>, tonic::transport::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.channel.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let response = self.channel.call(request);
        let limit = self.limit;
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| {
                Body::new(Bounded::new(body, limit, |o| {
                    Status::from_error(Box::new(o))
                }))
            }))
        })
    }
}

/// The answer overran its limit, as [`Answers`] found.
fn overrun(status: &Status) -> Option<Overrun> {
    use std::error::Error;
    status.source()?.downcast_ref::<Overrun>().copied()
}

impl Link for GrpcLink {
    fn name(&self) -> &str {
        &self.addr
    }

    fn compress(
        &self,
        chunk: Arc<Chunk>,
        job: &JobParams,
        deadline: Duration,
    ) -> BoxFuture<Result<Answer, AttemptError>> {
        if job.direct
            && let Some(request) = segments::request(&chunk, job)
        {
            let tls = self.handshake();
            let classify = move |s: Status| match timed_out(&s) {
                true => AttemptError::Timeout(deadline),
                false => classify(s, tls),
            };
            let holder = SegmentClientRef(Arc::clone(&self.segments));
            return segments::compress(self.channel.clone(), holder, request, deadline, classify);
        }
        let window = job.asks_window(&chunk);
        let mut client = self.compressor(chunk.len, window);
        // Bytes clones share the chunk's buffer: no copy until the wire.
        let (dictionary, source) = match &chunk.payload {
            Payload::Bytes {
                data, dictionary, ..
            } => (dictionary.clone(), Source::Data(data.clone())),
            Payload::Shared(file) => (
                Bytes::new(),
                Source::Range(file.range(chunk.offset, chunk.len)),
            ),
        };
        let mut request = Request::new(CompressRequest {
            job_id: job.id.clone(),
            chunk_index: chunk.index,
            offset: chunk.offset,
            level: job.encoding.level,
            engine: job.encoding.engine.name().into(),
            independent: job.encoding.independent,
            dictionary,
            source: Some(source),
            // Only a pulled chunk's window is not in the coordinator's hands.
            return_window: window,
        });
        request.set_timeout(deadline);
        self.credentials.authorize(request.metadata_mut());
        let tls = self.handshake();
        let answered = self.answered.clone();
        let (index, len) = (chunk.index, chunk.len);
        Box::pin(async move {
            let reply = tokio::time::timeout(deadline, client.compress(request))
                .await
                .map_err(|_| AttemptError::Timeout(deadline))?
                .map_err(|s| {
                    if let Some(o) = overrun(&s) {
                        return AttemptError::Wrong(format!(
                            "answer for chunk {index} of {len} bytes refused unread: {o} (the chunk's deflate bound, its window if asked, and 4 KiB)"
                        ));
                    }
                    match timed_out(&s) {
                        true => AttemptError::Timeout(deadline),
                        false => classify(s, tls),
                    }
                })?
                .into_inner();
            answered.store(true, Ordering::Relaxed);
            Ok(Answer {
                deflate: reply.deflate,
                crc32: reply.crc32,
                input_len: reply.input_length,
                engine: reply.engine,
                window: reply.window,
                held: None,
                received: 0,
            })
        })
    }

    fn segments(&self) -> Option<Arc<SegmentClient>> {
        Some(Arc::clone(&self.segments))
    }

    fn probe(&self) -> BoxFuture<Result<WorkerInfo, String>> {
        let mut health = HealthClient::new(self.channel.clone());
        let mut client = self.client();
        let mut check_request = Request::new(HealthCheckRequest {
            service: SERVICE_NAME.into(),
        });
        self.credentials.authorize(check_request.metadata_mut());
        let mut info_request = Request::new(InfoRequest {});
        self.credentials.authorize(info_request.metadata_mut());
        let tls = self.handshake();
        let answered = self.answered.clone();
        Box::pin(async move {
            let check = async {
                let status = health
                    .check(check_request)
                    .await
                    .map_err(|s| describe(&s, tls))?
                    .into_inner()
                    .status();
                if status != ServingStatus::Serving {
                    return Err(format!("health check says {}", status.as_str_name()));
                }
                let info = client
                    .info(info_request)
                    .await
                    .map_err(|s| describe(&s, tls))?
                    .into_inner();
                Ok(worker_info(info))
            };
            let result = tokio::time::timeout(PROBE_TIMEOUT, check)
                .await
                .map_err(|_| format!("no answer within {}s", PROBE_TIMEOUT.as_secs()))
                .and_then(|r| r);
            // A worker back after a failed probe may be another (say, serving TLS now).
            answered.store(result.is_ok(), Ordering::Relaxed);
            result
        })
    }
}

/// The deadline passed: the worker says so (it enforces grpc-timeout too), or tonic's
/// own client-side timer reports it as CANCELLED "Timeout expired".
fn timed_out(status: &Status) -> bool {
    use std::error::Error;
    status.code() == Code::DeadlineExceeded
        || (status.code() == Code::Cancelled
            && (status.message() == tonic::TimeoutExpired(()).to_string()
                || status
                    .source()
                    .is_some_and(|e| e.is::<tonic::TimeoutExpired>())))
}

/// Sorts a failed call by what it says about the worker. A status the worker marked
/// as being about the input (a pull request's file changed, differs or cannot be read
/// there) says nothing against the worker. Nothing here is a wrong
/// answer: only an answer the coordinator checked and found wrong is (`check.rs`). An
/// INTERNAL status is as likely an HTTP/2 error on the way (tonic reports
/// INTERNAL_ERROR, PROTOCOL_ERROR and others so) as a worker's own failure, and a
/// NOT_FOUND or PERMISSION_DENIED may come from a proxy in front of it: the worker is
/// down for now and is probed, never excluded for the rest of the job.
fn classify(status: Status, tls: Handshake) -> AttemptError {
    let message = describe(&status, tls);
    if status.metadata().get(INPUT_ERROR).is_some() {
        return AttemptError::Input(message);
    }
    match status.code() {
        Code::ResourceExhausted => AttemptError::Busy(message),
        // The worker read the request and refuses its kind: no retry there can pass.
        // OUT_OF_RANGE is also what tonic says when an answer exceeds the size this
        // coordinator accepts (the deflate bound of a chunk): excluding such a worker
        // is right either way.
        Code::InvalidArgument
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::FailedPrecondition => AttemptError::Rejected(message),
        _ => AttemptError::Down(message),
    }
}

/// A status as one readable phrase: transport failures hide the useful part
/// ("Connection refused", a certificate's verdict) in the error's source chain.
fn describe(status: &Status, tls: Handshake) -> String {
    use std::error::Error;
    let mut text = status.message().to_string();
    let mut source = status.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&s);
        }
        source = e.source();
    }
    if text.is_empty() {
        return format!("{:?}", status.code());
    }
    if let Some(why) = explain_tls(&text, tls) {
        return why;
    }
    crate::error::without_os_error(text)
}

/// What a worker's Info says, as the fleet judges it. Only a worker that says it
/// returns windows is taken to: one from before return_window ignores the field and
/// answers without the window, which must exclude it as too old rather than look like
/// a lie. Listing engines proves nothing, as they came first.
fn worker_info(info: InfoResponse) -> WorkerInfo {
    WorkerInfo {
        slots: info.slots.max(1) as usize,
        queue_depth: info.queue_depth as usize,
        max_chunk: info.max_chunk_bytes,
        returns_window: info.returns_window,
        writes_files: info.writes_files,
        engines: offered(info.engines, info.engine),
        version: info.version,
    }
}

/// The engines a worker offers, by name and id. A worker from before engines could be
/// chosen reports only its zlib-rs id.
fn offered(engines: Vec<EngineInfo>, legacy: String) -> Vec<(String, String)> {
    match engines.is_empty() {
        true => vec![("zlib-rs".into(), legacy)],
        false => engines.into_iter().map(|e| (e.name, e.id)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_and_proxy_errors_take_a_worker_down_never_mark_it_wrong() {
        for status in [
            Status::internal("h2 protocol error: error reading a body from connection"),
            Status::data_loss("stream reset"),
            Status::unknown("transport error"),
            Status::unavailable("connection refused"),
            Status::not_found("no route"),
            Status::permission_denied("proxy says no"),
            Status::unauthenticated("missing token"),
            Status::cancelled("stream cancelled"),
        ] {
            let code = status.code();
            assert!(
                matches!(
                    classify(status, Handshake::default()),
                    AttemptError::Down(_)
                ),
                "{code:?} is not a worker going down"
            );
        }
    }

    #[test]
    fn a_status_about_the_input_is_not_held_against_the_worker() {
        let mut status = Status::failed_precondition("data.tar: changed, or differs");
        status.metadata_mut().insert(
            INPUT_ERROR,
            tonic::metadata::MetadataValue::from_static("1"),
        );
        assert!(
            matches!(classify(status, Handshake::default()), AttemptError::Input(m) if m.contains("data.tar"))
        );
        // The same code from a proxy, without the mark, is no verdict on the input.
        assert!(!matches!(
            classify(Status::failed_precondition("x"), Handshake::default()),
            AttemptError::Input(_)
        ));
    }

    #[test]
    fn refusals_and_backpressure_are_their_own() {
        assert!(matches!(
            classify(
                Status::resource_exhausted("queue full"),
                Handshake::default()
            ),
            AttemptError::Busy(_)
        ));
        assert!(matches!(
            classify(
                Status::invalid_argument("chunk too big"),
                Handshake::default()
            ),
            AttemptError::Rejected(_)
        ));
    }

    #[test]
    fn only_a_worker_saying_so_is_taken_to_return_windows() {
        // From before engines: neither list nor flag.
        let oldest = worker_info(InfoResponse {
            engine: "zlib-rs/1".into(),
            version: "0.1.0".into(),
            ..InfoResponse::default()
        });
        assert_eq!(
            oldest.engines,
            [("zlib-rs".to_string(), "zlib-rs/1".to_string())]
        );
        assert!(!oldest.returns_window);
        // Between engines and return_window: engines listed, no flag.
        let engines = vec![EngineInfo {
            name: "zlib-rs".into(),
            id: "zlib-rs/1".into(),
            ..EngineInfo::default()
        }];
        let between = worker_info(InfoResponse {
            engine: "zlib-rs/1".into(),
            engines: engines.clone(),
            ..InfoResponse::default()
        });
        assert!(!between.returns_window);
        let new = worker_info(InfoResponse {
            engine: "zlib-rs/1".into(),
            engines,
            returns_window: true,
            ..InfoResponse::default()
        });
        assert!(new.returns_window);
    }

    #[test]
    fn deadlines_are_recognised_from_both_ends() {
        assert!(timed_out(&Status::deadline_exceeded("late")));
        assert!(timed_out(&Status::cancelled(
            tonic::TimeoutExpired(()).to_string()
        )));
        assert!(!timed_out(&Status::cancelled("the caller went away")));
    }
}
