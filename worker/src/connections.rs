//! Connections: how many each listener holds at once, and how long one may stay open
//! without serving a request. [`crate::admission`] bounds requests; this bounds what
//! comes before them: anyone who can reach the port (no token is needed to connect or to
//! finish the HTTP/2 handshake) could otherwise open thousands of connections that send
//! nothing, or only the preface, each holding a file descriptor and connection state.
//!
//! Owns a listener's permits ([`Limited`]: one per connection, `--max-connections` in
//! all, released when the connection ends), each connection's deadlines ([`Tracked`]: a
//! first request within `--first-request-timeout` of being accepted, covering the TLS
//! handshake and the preface; then never longer than `--idle-timeout` with no request
//! in flight), and what ties requests to their connection ([`Tracking`]: a service
//! wrapper counting each request in flight on its connection until its answer is sent).
//!
//! Past the cap a listener stops accepting, rather than accepting and closing the
//! newest: the kernel's backlog holds the rest at no cost to the worker, and a
//! coordinator connecting then gets in as soon as a slot frees (an idle peer's deadline
//! passes) instead of being refused at once and taking the worker out of its job.
//! Accepting only to close would also cost an accept, a file descriptor and a close
//! each time a flooding peer retried.
//!
//! A deadline closes a connection by ending its reads (hyper sees the peer gone), and
//! only when nothing is waiting to be read and no request is in flight. Coordinators
//! keep one channel per worker for a whole job, and tonic's channel reconnects on its
//! next call after the connection closed: an idle one closed costs them a handshake.

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::body::Body;
use tonic::codegen::tokio_stream::Stream;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::metrics::ConnectionCounters;

/// Default of `--max-connections`. A coordinator holds one connection to a worker for
/// a job, and a probe one for a moment: 256 lets that many jobs share a worker at once,
/// far more than its slots could serve well. It bounds what idle peers can hold to 256
/// file descriptors per listener, well inside the usual soft limit of 1024 (pull reads
/// and the metrics endpoint need theirs), and to 256 connections' HTTP/2 state.
pub const MAX_CONNECTIONS: usize = 256;
/// Default of `--first-request-timeout`: a TLS handshake and the HTTP/2 preface take
/// round trips, milliseconds even across regions; ten seconds leaves room for a loaded
/// machine and still frees a slot held by a peer that sends nothing soon.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `--idle-timeout`: longer than any pause in a job (a coordinator waiting on
/// its output, or on a worker it took out of rotation), so that closing a connection
/// is rare, while a peer that is done, or gone, frees its slot within minutes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Once more past a deadline, for a connection that had bytes to read since the deadline
/// was set: a request whose headers were just read reaches the service moments later
/// (in the same task), and must not find its connection closed. Only once: a peer that
/// sends nothing but pings would otherwise stay for ever.
const GRACE: Duration = Duration::from_secs(1);

/// The limits on one listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; the listener stops accepting at this many.
    pub max: usize,
    /// From being accepted to the first request.
    pub first_request: Duration,
    /// With no request in flight, after the first.
    pub idle: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max: MAX_CONNECTIONS,
            first_request: FIRST_REQUEST_TIMEOUT,
            idle: IDLE_TIMEOUT,
        }
    }
}

type Acquiring = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A listener's incoming connections, yielded only while a permit is free.
pub struct Limited<S> {
    inner: S,
    permits: Arc<Semaphore>,
    acquiring: Option<Acquiring>,
    held: Option<OwnedSemaphorePermit>,
    limits: ConnectionLimits,
    counters: ConnectionCounters,
}

impl<S> Limited<S> {
    pub fn new(inner: S, limits: ConnectionLimits, counters: ConnectionCounters) -> Self {
        Limited {
            inner,
            permits: Arc::new(Semaphore::new(limits.max)),
            acquiring: None,
            held: None,
            limits,
            counters,
        }
    }

    /// Takes a permit, or waits for one, before the next connection is accepted.
    fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<Option<OwnedSemaphorePermit>> {
        if self.acquiring.is_none() {
            match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => return Poll::Ready(Some(permit)),
                Err(_) => {
                    tracing::debug!(max = self.limits.max, "at --max-connections: not accepting");
                    self.counters.waited.inc();
                    self.acquiring = Some(Box::pin(Arc::clone(&self.permits).acquire_owned()));
                }
            }
        }
        let acquiring = self.acquiring.as_mut().expect("set above");
        let permit = ready!(acquiring.as_mut().poll(cx));
        self.acquiring = None;
        Poll::Ready(permit.ok())
    }
}

impl<S, IO, E> Stream for Limited<S>
where
    S: Stream<Item = Result<IO, E>> + Unpin,
{
    type Item = Result<Tracked<IO>, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.held.is_none() {
            // The semaphore is never closed: no permit means no more connections.
            let Some(permit) = ready!(this.poll_permit(cx)) else {
                return Poll::Ready(None);
            };
            this.held = Some(permit);
        }
        let accepted = ready!(Pin::new(&mut this.inner).poll_next(cx));
        Poll::Ready(accepted.map(|accepted| {
            accepted.map(|io| {
                let permit = this.held.take().expect("taken above");
                Tracked::new(io, permit, this.limits, this.counters.clone())
            })
        }))
    }
}

/// What a connection has served, shared by its [`Tracked`] IO and its requests.
#[derive(Debug)]
struct Activity(Mutex<Seen>);

#[derive(Debug)]
struct Seen {
    in_flight: usize,
    /// Requests begun, ever.
    started: u64,
    /// When a request last began or ended.
    last: Instant,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity(Mutex::new(Seen {
            in_flight: 0,
            started: 0,
            last: Instant::now(),
        })))
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Nothing panics while holding it; a poisoned count is still a count.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        let mut seen = self.seen();
        seen.in_flight += 1;
        seen.started += 1;
        seen.last = Instant::now();
        InFlight(Arc::clone(self))
    }
}

/// A request in flight on its connection, until dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut seen = self.0.seen();
        seen.in_flight -= 1;
        seen.last = Instant::now();
    }
}

/// What tonic puts in the extensions of each request on a [`Tracked`] connection: the
/// underlying connection's own info, and its activity. [`Tracking`] takes it out and
/// puts the inner info back, so that services see what they would without this.
#[derive(Debug, Clone)]
pub struct Peer<C> {
    info: C,
    activity: Arc<Activity>,
}

impl<C> Peer<C> {
    pub fn info(&self) -> &C {
        &self.info
    }
}

/// One accepted connection: holds its listener's permit until dropped, and ends
/// itself once past its deadline with nothing to do.
pub struct Tracked<IO> {
    io: IO,
    activity: Arc<Activity>,
    deadline: Pin<Box<Sleep>>,
    limits: ConnectionLimits,
    /// `started` when the deadline was last set from a request.
    seen: u64,
    /// Bytes were read since then.
    read: bool,
    graced: bool,
    closed: bool,
    counters: ConnectionCounters,
    _permit: OwnedSemaphorePermit,
}

impl<IO> Tracked<IO> {
    fn new(
        io: IO,
        permit: OwnedSemaphorePermit,
        limits: ConnectionLimits,
        counters: ConnectionCounters,
    ) -> Self {
        counters.open.inc();
        Tracked {
            io,
            activity: Activity::new(),
            deadline: Box::pin(tokio::time::sleep(limits.first_request)),
            limits,
            seen: 0,
            read: false,
            graced: false,
            closed: false,
            counters,
            _permit: permit,
        }
    }

    /// The deadline passed at `now`: the next one, or None to close.
    fn next_deadline(&mut self, now: Instant) -> Option<Instant> {
        let seen = self.activity.seen();
        if seen.in_flight > 0 {
            return Some(now + self.limits.idle);
        }
        if seen.started > self.seen {
            self.seen = seen.started;
            self.read = false;
            self.graced = false;
            return Some(seen.last + self.limits.idle);
        }
        if self.read && !self.graced {
            self.graced = true;
            return Some(now + GRACE);
        }
        None
    }

    /// Ready once the connection is to close.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while !self.closed {
            ready!(self.deadline.as_mut().poll(cx));
            match self.next_deadline(Instant::now()) {
                Some(at) => self.deadline.as_mut().reset(at),
                None => {
                    self.closed = true;
                    let (counter, why) = match self.seen {
                        0 => (&self.counters.first_request, "made no request in time"),
                        _ => (&self.counters.idle, "idle for too long"),
                    };
                    counter.inc();
                    tracing::debug!("closing a connection: {why}");
                }
            }
        }
        Poll::Ready(())
    }

    /// What a write that cannot proceed returns once the connection is closing.
    fn poll_write_closing<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        ready!(self.poll_close(cx));
        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
    }
}

impl<IO> Drop for Tracked<IO> {
    fn drop(&mut self) {
        self.counters.open.dec();
    }
}

impl<IO: Connected> Connected for Tracked<IO> {
    type ConnectInfo = Peer<IO::ConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        Peer {
            info: self.io.connect_info(),
            activity: Arc::clone(&self.activity),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        if let Poll::Ready(read) = Pin::new(&mut this.io).poll_read(cx, buf) {
            this.read |= buf.filled().len() > before;
            return Poll::Ready(read);
        }
        // Nothing to read: the end of the stream, once past the deadline.
        this.poll_close(cx).map(|()| Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed {
            return this.poll_write_closing(cx);
        }
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Pending => this.poll_write_closing(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.closed {
            return this.poll_write_closing(cx);
        }
        match Pin::new(&mut this.io).poll_write_vectored(cx, data) {
            Poll::Pending => this.poll_write_closing(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return this.poll_write_closing(cx);
        }
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.poll_write_closing(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A service whose requests count as activity on their [`Tracked`] connection, from
/// the call until the answer's body is sent or dropped. `C`: the info of the connection
/// under the tracking (a TCP stream's by default).
pub struct Tracking<S, C = TcpConnectInfo> {
    inner: S,
    _info: PhantomData<fn() -> C>,
}

impl<S> Tracking<S> {
    /// Tracks requests on TCP connections accepted through [`Limited`].
    pub fn new(inner: S) -> Self {
        Tracking::over(inner)
    }
}

impl<S, C> Tracking<S, C> {
    /// Tracks requests on connections whose own info is `C`.
    pub fn over(inner: S) -> Self {
        Tracking {
            inner,
            _info: PhantomData,
        }
    }
}

impl<S: Clone, C> Clone for Tracking<S, C> {
    fn clone(&self) -> Self {
        Tracking::over(self.inner.clone())
    }
}

impl<S: NamedService, C> NamedService for Tracking<S, C> {
    const NAME: &'static str = S::NAME;
}

impl<S, C> Service<http::Request<Body>> for Tracking<S, C>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    C: Clone + Send + Sync + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<http::Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The instance poll_ready readied serves this call (tower's contract).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let extensions = request.extensions_mut();
        let in_flight = extensions.remove::<Peer<C>>().map(|peer| {
            extensions.insert(peer.info);
            peer.activity.begin()
        });
        Box::pin(async move {
            let response = inner.call(request).await?;
            Ok(response.map(|body| {
                Body::new(Answering {
                    body,
                    _in_flight: in_flight,
                })
            }))
        })
    }
}

/// An answer's body, keeping its request in flight until it is sent or dropped.
struct Answering {
    body: Body,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for Answering {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
#[path = "connections_tests.rs"]
mod tests;
