//! The `/metrics` endpoint of both commands (`--metrics ADDR`): a Prometheus registry
//! served as text over plain HTTP/1 at `GET /metrics`. Owns the serving only; what is
//! counted belongs to each command (the worker's `metrics`, the coordinator's
//! `telemetry`).
//!
//! It runs on a thread and runtime of its own. The coordinator's runtime only turns
//! while a job's dispatcher drives it, and a scrape must be answered at any time,
//! including after the job (`--metrics-linger`); on a worker, a scrape must not wait
//! behind gRPC traffic, nor gRPC behind a slow scraper. The HTTP is hyper's, which
//! tonic already builds on: no web framework for one route.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::sync::{Semaphore, oneshot};

/// What prometheus-client writes, served to scrapers that ask for it (Prometheus does).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic text format, for everyone else (curl, older scrapers, parsers of the
/// 0.0.4 format): see [`to_classic`].
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scraper that opens a connection and says nothing is dropped after this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How the endpoint bounds what its clients can hold. It shares the process (and its
/// descriptor limit) with gRPC and pull-mode opens, so idle or slow clients must not be
/// able to take descriptors or memory without bound.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Connections served at once; one more is closed as soon as it is accepted rather
    /// than queued, since a queue would hold its descriptor just the same.
    pub connections: usize,
    /// The whole life of a connection, keep-alive included: a client that pipelines
    /// requests and never reads its answers is dropped after this instead of holding
    /// buffers forever. A scrape takes milliseconds; scrapers reconnect.
    pub lifetime: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            connections: 16,
            lifetime: Duration::from_secs(30),
        }
    }
}

/// hyper's read buffer per connection (its minimum is 8 KiB): a `GET /metrics` is a few
/// hundred bytes, so a large buffer would only serve a client sending junk.
const MAX_BUF: usize = 16 * 1024;
/// Headers per request: scrapers send a handful.
const MAX_HEADERS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ExpositionError {
    #[error("--metrics {addr}: cannot listen: {source} (choose another address)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the metrics endpoint: {0}")]
    Start(std::io::Error),
}

/// The endpoint being served; stops when dropped.
pub struct Exposition {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Exposition {
    /// Binds `addr` at once (so a mistake is reported before any work starts) and
    /// serves `registry` from a thread of its own.
    pub fn serve(addr: SocketAddr, registry: Registry) -> Result<Exposition, ExpositionError> {
        Self::serve_within(addr, registry, Bounds::default())
    }

    /// [`Exposition::serve`] with bounds of its own (tests use small ones).
    pub fn serve_within(
        addr: SocketAddr,
        registry: Registry,
        bounds: Bounds,
    ) -> Result<Exposition, ExpositionError> {
        let bind = |source| ExpositionError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let local = listener.local_addr().map_err(bind)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ExpositionError::Start)?;
        let (stop, stopped) = oneshot::channel();
        let registry = Arc::new(registry);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || runtime.block_on(accept(listener, registry, bounds, stopped)))
            .map_err(ExpositionError::Start)?;
        Ok(Exposition {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens (the port chosen, when given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exposition {
    fn drop(&mut self) {
        self.stop.take().map(|s| s.send(()));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(
    listener: std::net::TcpListener,
    registry: Arc<Registry>,
    bounds: Bounds,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let slots = Arc::new(Semaphore::new(bounds.connections));
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "metrics endpoint: accept failed");
                    // Out of descriptors, say: let the moment pass instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Accepting and then closing at once (rather than not accepting) keeps the
        // kernel's backlog from filling with connections nobody will serve.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!("metrics endpoint: too many connections; one closed");
            drop(stream);
            continue;
        };
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| std::future::ready(answer(&req, &registry)));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_BUF)
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(bounds.lifetime, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "metrics endpoint: connection failed"),
                Err(_) => tracing::debug!("metrics endpoint: connection outlived its time; closed"),
            }
            // Held until the connection (and its descriptor) is gone.
            drop(slot);
        });
    }
}

/// The answer to one request: the metrics for `GET /metrics`, an error status for
/// anything else.
fn answer(
    req: &Request<Incoming>,
    registry: &Registry,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let openmetrics = req
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .any(|v| v.as_bytes().starts_with(b"application/openmetrics-text"));
            let mut text = String::new();
            return Ok(match encode(&mut text, registry) {
                Ok(()) if openmetrics => reply(StatusCode::OK, OPENMETRICS, text),
                Ok(()) => reply(StatusCode::OK, CLASSIC, to_classic(&text)),
                Err(_) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    "cannot encode the metrics\n".into(),
                ),
            });
        }
        (_, "/metrics") => StatusCode::METHOD_NOT_ALLOWED,
        _ => StatusCode::NOT_FOUND,
    };
    let text = format!("{status}: this endpoint serves GET /metrics only\n");
    Ok(reply(status, "text/plain", text))
}

/// OpenMetrics text as the classic Prometheus format. They differ, for what we
/// register, in two things: a counter's family is named without its `_total` suffix
/// in OpenMetrics and with it in the classic format (whose parsers would otherwise
/// see a counter with no samples beside an untyped metric), and only OpenMetrics ends
/// with `# EOF`.
pub fn to_classic(openmetrics: &str) -> String {
    let lines: Vec<&str> = openmetrics.lines().filter(|l| *l != "# EOF").collect();
    let counters: std::collections::HashSet<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in lines {
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(renamed) => out.push_str(renamed.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, request: &str) -> String {
        try_get(addr, request).unwrap()
    }

    fn try_get(addr: SocketAddr, request: &str) -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.write_all(request.as_bytes())?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn serves_the_registry_at_metrics_only() {
        let mut registry = Registry::default();
        let counter: Counter = Counter::default();
        registry.register("gzfleet_test_things", "Things", counter.clone());
        let exposition = Exposition::serve("127.0.0.1:0".parse().unwrap(), registry).unwrap();
        let addr = exposition.local_addr();
        counter.inc_by(3);
        let open = get(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\nConnection: close\r\n\r\n",
        );
        assert!(open.starts_with("HTTP/1.1 200 OK"), "{open}");
        assert!(open.contains(OPENMETRICS), "{open}");
        assert!(
            open.contains("\n# TYPE gzfleet_test_things counter\n"),
            "{open}"
        );
        assert!(open.contains("\ngzfleet_test_things_total 3\n"), "{open}");
        assert!(open.ends_with("# EOF\n"), "{open}");
        let ok = get(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
        assert!(ok.contains(CLASSIC), "{ok}");
        assert!(
            ok.contains("\n# TYPE gzfleet_test_things_total counter\n"),
            "{ok}"
        );
        assert!(ok.contains("\ngzfleet_test_things_total 3\n"), "{ok}");
        assert!(!ok.contains("# EOF"), "{ok}");
        let missing = get(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        let post = get(
            addr,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        drop(exposition);
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "still listening"
        );
    }

    const SCRAPE: &str = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    /// A scrape, retried briefly: a slot freed by a closed connection is given back by
    /// the endpoint's own thread a moment later.
    fn scrape_soon(addr: SocketAddr, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            // A rejected connection may be reset rather than ended: not an answer.
            let text = try_get(addr, SCRAPE).unwrap_or_default();
            if text.starts_with("HTTP/1.1 200 OK") || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A keep-alive connection that has been served once, so it surely holds a slot.
    fn held(addr: SocketAddr) -> std::net::TcpStream {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 15];
        stream.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK");
        stream
    }

    #[test]
    fn connections_beyond_the_cap_are_closed_at_once() {
        let bounds = Bounds {
            connections: 2,
            lifetime: Duration::from_secs(60),
        };
        let any = "127.0.0.1:0".parse().unwrap();
        let exposition = Exposition::serve_within(any, Registry::default(), bounds).unwrap();
        let addr = exposition.local_addr();
        let first = held(addr);
        let _second = held(addr);
        let mut extra: Vec<_> = (0..5)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        for stream in &mut extra {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut rest = Vec::new();
            // Closed by the endpoint: end of stream (or a reset), not a read timeout.
            match stream.read_to_end(&mut rest) {
                Ok(_) => assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest)),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
            }
        }
        drop(first);
        let text = scrape_soon(addr, Duration::from_secs(2));
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    }

    #[test]
    fn idle_and_unread_connections_are_closed_after_their_lifetime() {
        let bounds = Bounds {
            connections: 4,
            lifetime: Duration::from_millis(300),
        };
        let any = "127.0.0.1:0".parse().unwrap();
        let exposition = Exposition::serve_within(any, Registry::default(), bounds).unwrap();
        let addr = exposition.local_addr();
        // More silent connections than the cap, then a client that asks and never
        // reads: none of them keeps the endpoint from answering for long.
        let _idle: Vec<_> = (0..10)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut pipelining = std::net::TcpStream::connect(addr).unwrap();
        pipelining
            .write_all(&b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3))
            .unwrap();
        let started = std::time::Instant::now();
        let text = scrape_soon(addr, Duration::from_secs(3));
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        pipelining
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        let read = pipelining.read_to_end(&mut rest);
        assert!(
            read.is_ok()
                || read.as_ref().unwrap_err().kind() == std::io::ErrorKind::ConnectionReset,
            "{read:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn classic_text_names_counter_families_with_their_suffix() {
        let open = "# HELP a_things Things.\n# TYPE a_things counter\na_things_total 3\n\
                    # HELP a_level Level.\n# TYPE a_level gauge\na_level 1\n# EOF\n";
        assert_eq!(
            to_classic(open),
            "# HELP a_things_total Things.\n# TYPE a_things_total counter\na_things_total 3\n\
             # HELP a_level Level.\n# TYPE a_level gauge\na_level 1\n"
        );
    }

    #[test]
    fn a_taken_address_is_named() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = Exposition::serve(addr, Registry::default()).err().unwrap();
        assert!(
            e.to_string()
                .starts_with(&format!("--metrics {addr}: cannot listen")),
            "{e}"
        );
    }
}
