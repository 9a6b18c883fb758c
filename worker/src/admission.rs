//! Admission: which requests a worker lets in, decided on their headers, before a byte
//! of their body is read.
//!
//! Owns the worker's count of Compress requests in hand: one permit each, slots +
//! queue in all. A request finding none free is answered RESOURCE_EXHAUSTED at once, a
//! trailers-only response, and its body is dropped unread; one holding a permit keeps
//! it until its answer has been sent and its job has left the pool, whichever is
//! later (a caller that gives up does not free the memory its job still holds). Tonic
//! buffers a request whole before the service sees it: without this, a hundred
//! clients each sending a 64 MiB chunk would make a worker hold 6.4 GB before its
//! queue could refuse a single one.
//!
//! Also owns the message limits, enforced as the body arrives ([`Bounded`]): a Compress
//! request at most [`request_limit`], every other call (Info, health checks, which take
//! no permit) [`CONTROL_MESSAGE_LIMIT`]. Both refusals are INVALID_ARGUMENT: gRPC's
//! usual RESOURCE_EXHAUSTED would tell a coordinator to retry later, and a message too
//! long never fits.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

use crate::framing::{Bounded, Overrun};
use crate::limits::{CONTROL_MESSAGE_LIMIT, request_limit};
use crate::metrics::{Reason, WorkerMetrics};
use crate::pool::Hold;
use crate::units::format_size;

/// The calls that take a permit: each compresses (a chunk, or a segment chunk by chunk).
pub const COMPRESS_PATH: &str = "/gzfleet.v1.Worker/Compress";
pub const SEGMENT_PATH: &str = "/gzfleet.v1.Worker/CompressSegment";
/// Takes no permit (its data is held already) but names a path: a longer limit.
pub const WRITE_PATH: &str = "/gzfleet.v1.Worker/WriteSegment";

/// The limits every service of one worker shares.
pub struct Gate {
    permits: Arc<Semaphore>,
    metrics: Arc<WorkerMetrics>,
    slots: usize,
    queue: usize,
    max_chunk: u64,
}

impl Gate {
    pub fn new(
        slots: usize,
        queue: usize,
        max_chunk: u64,
        metrics: Arc<WorkerMetrics>,
    ) -> Arc<Gate> {
        Arc::new(Gate {
            permits: Arc::new(Semaphore::new(slots + queue)),
            metrics,
            slots,
            queue,
            max_chunk,
        })
    }

    fn full(&self) -> Status {
        self.metrics.rejected(Reason::Overloaded);
        Status::resource_exhausted(format!(
            "worker is full: it takes at most {} requests at once ({} slots + {} queued, gzfleet-worker --slots and --queue); retry later",
            self.slots + self.queue,
            self.slots,
            self.queue
        ))
    }

    fn too_long(&self, overrun: Overrun) -> Status {
        self.metrics.rejected(match overrun {
            Overrun::TooLong { .. } => Reason::TooLarge,
            Overrun::Second => Reason::Invalid,
        });
        Status::invalid_argument(match overrun {
            Overrun::TooLong { declared, limit } => format!(
                "request message of {declared} bytes exceeds this worker's limit of {limit} bytes (a chunk of gzfleet-worker --max-chunk {}, a 32 KiB dictionary and 4 KiB of framing)",
                format_size(self.max_chunk)
            ),
            Overrun::Second => "a Compress call carries one request message".into(),
        })
    }
}

fn control_too_long(overrun: Overrun) -> Status {
    Status::invalid_argument(match overrun {
        Overrun::TooLong { declared, limit } => format!(
            "request message of {declared} bytes exceeds the limit of {limit} bytes for calls other than Compress"
        ),
        Overrun::Second => "a call carries one request message".into(),
    })
}

/// An admitted Compress request's permit, shared by its response and its pool job, and
/// handed from here to the service in the request's extensions.
#[derive(Clone)]
pub struct Admitted(Hold);

impl Admitted {
    /// The share a pool job keeps until a slot is done with it.
    pub fn hold(&self) -> Hold {
        Arc::clone(&self.0)
    }
}

/// One gRPC service of the worker, behind the [`Gate`].
#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S> Admission<S> {
    pub fn new(inner: S, gate: Arc<Gate>) -> Self {
        Admission { inner, gate }
    }
}

impl<S: NamedService> NamedService for Admission<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Admission<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The instance poll_ready readied serves this call; a fresh clone waits for
        // the next one (tower's contract).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let path = request.uri().path();
        if path != COMPRESS_PATH && path != SEGMENT_PATH {
            let limit = match path {
                WRITE_PATH => CONTROL_MESSAGE_LIMIT + crate::limits::MAX_PATH,
                _ => CONTROL_MESSAGE_LIMIT,
            };
            let bounded = |body| Bounded::new(body, limit, control_too_long);
            return Box::pin(inner.call(request.map(|body| Body::new(bounded(body)))));
        }
        let Ok(permit) = Arc::clone(&self.gate.permits).try_acquire_owned() else {
            // Dropped unread: hyper resets the stream, so the client stops sending,
            // and what already arrived of its body is freed with it.
            drop(request);
            let refusal = self.gate.full().into_http();
            return Box::pin(std::future::ready(Ok(refusal)));
        };
        let admitted = Admitted(Arc::new(permit));
        let gate = Arc::clone(&self.gate);
        let mut request = request.map(|body| {
            Body::new(Bounded::new(
                body,
                request_limit(gate.max_chunk),
                move |o| gate.too_long(o),
            ))
        });
        request.extensions_mut().insert(admitted.clone());
        Box::pin(async move {
            let response = inner.call(request).await?;
            // The answer is in the body until it is sent: the permit goes with it.
            Ok(response.map(|body| {
                Body::new(Holding {
                    body,
                    _admitted: admitted,
                })
            }))
        })
    }
}

/// A response body that keeps its request's permit until it is sent or dropped.
struct Holding {
    body: Body,
    _admitted: Admitted,
}

impl http_body::Body for Holding {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Status>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MIN_CHUNK;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A body of one frame.
    struct Once(Option<Bytes>);

    impl http_body::Body for Once {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.take().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    /// A request body that must never be read.
    struct Untouchable;

    impl http_body::Body for Untouchable {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
            panic!("the body of a refused request was read");
        }
    }

    /// Answers every call with a one-frame body, counting calls and the permits seen.
    #[derive(Clone, Default)]
    struct Answering {
        calls: Arc<AtomicUsize>,
        admitted: Arc<AtomicUsize>,
    }

    impl Service<http::Request<Body>> for Answering {
        type Response = http::Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<http::Response<Body>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if request.extensions().get::<Admitted>().is_some() {
                self.admitted.fetch_add(1, Ordering::SeqCst);
            }
            let body = Body::new(Once(Some(Bytes::from_static(b"answer"))));
            std::future::ready(Ok(http::Response::new(body)))
        }
    }

    fn call(path: &str, body: Body) -> http::Request<Body> {
        http::Request::builder().uri(path).body(body).unwrap()
    }

    #[tokio::test]
    async fn a_full_worker_refuses_on_the_headers_and_frees_a_permit_with_each_answer() {
        let inner = Answering::default();
        let metrics = Arc::new(WorkerMetrics::default());
        let mut gate = Admission::new(inner.clone(), Gate::new(1, 1, MIN_CHUNK, metrics.clone()));
        let small = || Body::new(Once(Some(Bytes::from_static(&[0, 0, 0, 0, 0]))));
        let first = gate.call(call(COMPRESS_PATH, small())).await.unwrap();
        let second = gate.call(call(COMPRESS_PATH, small())).await.unwrap();
        assert_eq!(inner.admitted.load(Ordering::SeqCst), 2);

        let refused = gate
            .call(call(COMPRESS_PATH, Body::new(Untouchable)))
            .await
            .unwrap();
        assert_eq!(refused.headers()["content-type"], "application/grpc");
        let status = Status::from_header_map(refused.headers()).expect("a trailers-only answer");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("at most 2 requests at once"));
        assert_eq!(metrics.rejections(Reason::Overloaded), 1);
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            2,
            "the service was called"
        );

        // Calls other than Compress take no permit, full or not.
        let info = gate
            .call(call("/gzfleet.v1.Worker/Info", small()))
            .await
            .unwrap();
        assert!(info.headers().get("grpc-status").is_none());
        assert_eq!(inner.admitted.load(Ordering::SeqCst), 2);

        // A permit is held by the answer's body until it is sent (here: dropped).
        drop(first);
        let third = gate.call(call(COMPRESS_PATH, small())).await.unwrap();
        assert!(third.headers().get("grpc-status").is_none());
        assert_eq!(inner.admitted.load(Ordering::SeqCst), 3);
        drop((second, third));
    }
}
