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
use tokio::sync::oneshot;

/// What prometheus-client writes, served to scrapers that ask for it (Prometheus does).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic text format, for everyone else (curl, older scrapers, parsers of the
/// 0.0.4 format): see [`to_classic`].
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scraper that opens a connection and says nothing is dropped after this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

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
            .spawn(move || runtime.block_on(accept(listener, registry, stopped)))
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
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
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
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| std::future::ready(answer(&req, &registry)));
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "metrics endpoint: connection failed");
            }
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
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
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
