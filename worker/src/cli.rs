//! The `gzfleet-worker` command line: its options, and running the server from them.
//! Shared by the production binary and the test-only fault-injection worker, so both
//! parse and start the same way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use crate::access::{Access, AccessFiles};
use crate::connections::{ConnectionLimits, MAX_CONNECTIONS};
use crate::exposition::Exposition;
use crate::hooks::Hooks;
use crate::limits::{MAX_CHUNK, MIN_CHUNK};
use crate::logs::{self, LogFormat, Said};
use crate::metrics::WorkerMetrics;
use crate::pulls::parse_object_prefix;
use crate::server::{self, WorkerConfig};
use crate::units::{format_size, parse_duration, parse_size};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Address to serve gRPC on. The default only accepts local connections; listen on
    /// 0.0.0.0:7070 (or a chosen interface) to serve other machines. Port 0 picks a free
    /// port; the chosen address is printed on stdout.
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Chunks compressed at once, one thread each [default: number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: Option<u32>,
    /// Requests that may wait for a free slot, at least 1; more get RESOURCE_EXHAUSTED
    /// [default: 2 x slots].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub queue: Option<u32>,
    /// Largest chunk accepted (uncompressed), 128K to 64M. Also bounds gRPC message sizes,
    /// and the memory requests can take: (slots + queue) x this, whatever clients send.
    #[arg(long, default_value = "64M", value_name = "SIZE", value_parser = parse_max_chunk)]
    pub max_chunk: u64,
    /// Serve pull requests: read the files coordinators name, relative to DIR (this
    /// machine's mount of the storage they share). Nothing outside DIR is ever read;
    /// without --root, pull requests are refused.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Serve pull requests for objects below these URL prefixes (comma-separated, each
    /// ending in "/": s3://bucket/, https://host/path/, s3:// for all of S3), read with
    /// this machine's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_DEFAULT_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP). Off by default: a worker
    /// fetches nothing from the network for anyone who asks
    #[arg(long, value_name = "PREFIX", value_delimiter = ',', value_parser = parse_object_prefix)]
    pub read_objects: Vec<String>,
    /// Connections open at once on each port (--listen, --health-listen); past them the
    /// worker stops accepting and the rest wait in the kernel's backlog. A coordinator
    /// holds one connection for a job
    #[arg(long, value_name = "N", default_value_t = MAX_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,
    /// Close a connection that has not made a request this long after it was accepted
    /// (the TLS handshake and HTTP/2 preface included)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_timeout)]
    pub first_request_timeout: Duration,
    /// Close a connection that has had no request in flight this long; coordinators
    /// reconnect on their own when they need it again
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub idle_timeout: Duration,
    /// Also answer grpc.health.v1, and nothing else, in plaintext on ADDR: for probes
    /// that cannot speak TLS (Kubernetes' gRPC probes, `--check`) when this worker
    /// serves TLS. It tells only whether the worker is serving
    #[arg(long, value_name = "ADDR", help_heading = "Observability")]
    pub health_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics (plain HTTP: keep ADDR on a
    /// network you trust, such as the pod's own, e.g. 0.0.0.0:9090)
    #[arg(long, value_name = "ADDR", help_heading = "Observability")]
    pub metrics: Option<SocketAddr>,
    /// Write log lines on stderr as text or as one JSON object a line; RUST_LOG sets
    /// what is logged [default: warnings only, info too once a format is given]
    #[arg(long, value_name = "FORMAT", help_heading = "Observability")]
    pub log_format: Option<LogFormat>,
    /// Print nothing on stdout (not even the listening address).
    #[arg(short, long)]
    pub quiet: bool,
    /// Serve TLS with this certificate chain (PEM file); needs --tls-key
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        help_heading = "Security"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM file)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "Security"
    )]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: accept only clients presenting a certificate signed by this CA (PEM
    /// file); needs --tls-cert
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "Security"
    )]
    pub client_ca: Option<PathBuf>,
    /// Require every coordinator to present the token in FILE (or in the environment
    /// variable GZFLEET_TOKEN). Never put a token on a command line: `ps` shows it
    #[arg(long, value_name = "FILE", help_heading = "Security")]
    pub token_file: Option<PathBuf>,
    /// Serve a non-loopback address with neither TLS nor a token: anyone who reaches
    /// the port can use this worker. For networks you trust (a warning is printed)
    #[arg(long, help_heading = "Security")]
    pub insecure: bool,
}

/// A coordinator never sends chunks outside the block-size range: a smaller limit would
/// make the worker useless, a larger one only raises what a peer can make it buffer.
fn parse_max_chunk(text: &str) -> Result<u64, String> {
    let size = parse_size(text)?;
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&size) {
        return Err(format!(
            "--max-chunk {} is outside {}..{} (sizes take units: 512K, 4M)",
            format_size(size),
            format_size(MIN_CHUNK),
            format_size(MAX_CHUNK)
        ));
    }
    Ok(size)
}

/// A connection deadline: above zero (a zero deadline would close every connection
/// before its first request).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!(
            "'{text}' is no time: a deadline must be above zero"
        ));
    }
    Ok(d)
}

impl WorkerArgs {
    fn access_files(&self) -> AccessFiles<'_> {
        AccessFiles {
            tls_cert: self.tls_cert.as_deref(),
            tls_key: self.tls_key.as_deref(),
            client_ca: self.client_ca.as_deref(),
            token_file: self.token_file.as_deref(),
            insecure: self.insecure,
        }
    }

    pub fn config(&self) -> WorkerConfig {
        let slots = self.slots.map(|s| s as usize).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        WorkerConfig {
            slots,
            queue_depth: self.queue.map(|q| q as usize).unwrap_or(2 * slots),
            max_chunk: self.max_chunk,
            root: self.root.clone(),
            read_objects: self.read_objects.clone(),
            connections: ConnectionLimits {
                max: self.max_connections as usize,
                first_request: self.first_request_timeout,
                idle: self.idle_timeout,
            },
        }
    }
}

/// Binds, serves until SIGINT/SIGTERM, drains, and reports how it went.
pub fn run(args: &WorkerArgs, hooks: impl Hooks) -> ExitCode {
    if let Err(e) = logs::init(args.log_format, std::io::stderr) {
        logs::say("gzfleet-worker", Said::Warning, &e.to_string());
    }
    let config = args.config();
    let access = match Access::load(&args.access_files(), args.listen) {
        Ok(access) => access,
        Err(e) => return fail(&e.to_string()),
    };
    warn_if_open(args, &config, &access);
    let runtime = match runtime(config.slots) {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async {
        let (listener, health) = match bind(args).await {
            Ok(bound) => bound,
            Err(e) => return fail(&e),
        };
        let metrics = Arc::new(WorkerMetrics::default());
        // Kept until the worker exits: the endpoint stops when this is dropped.
        let exposition = match args.metrics {
            None => None,
            Some(addr) => match Exposition::serve(addr, metrics.registry()) {
                Ok(e) => Some(e),
                Err(e) => return fail(&e.to_string()),
            },
        };
        let local = listener.local_addr().unwrap_or(args.listen);
        announce(
            args,
            &config,
            &access,
            local,
            health.as_ref(),
            exposition.as_ref(),
        );
        let served = server::serve(
            listener,
            config,
            access,
            hooks,
            metrics,
            health,
            server::termination_signal(),
        );
        match served.await {
            Ok(()) => {
                tracing::info!("worker stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        }
    })
}

/// `--insecure` said loudly: anyone who reaches the port may use the worker.
fn warn_if_open(args: &WorkerArgs, config: &WorkerConfig, access: &Access) {
    if access.tls.is_some() || access.token.is_some() || args.listen.ip().is_loopback() {
        return;
    }
    let line = format!(
        "WARNING: --insecure: serving {} with neither TLS nor a token; anyone who reaches this port can use this worker{}",
        args.listen,
        match (&config.root, config.read_objects.is_empty()) {
            (Some(_), _) | (None, false) => " and read what it can read",
            (None, true) => "",
        }
    );
    logs::say("gzfleet-worker", Said::Warning, &line);
}

/// The runtime only moves bytes (deflate runs on the pool's own threads): one I/O
/// thread keeps up with about eight slots, and fewer threads mean fewer wakeups.
fn runtime(slots: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(slots.div_ceil(8).clamp(1, 8))
        .enable_all()
        .build()
}

/// The main port, and `--health-listen`'s if asked; a taken one named.
async fn bind(args: &WorkerArgs) -> Result<(TcpListener, Option<TcpListener>), String> {
    let listener = TcpListener::bind(args.listen).await.map_err(|e| {
        format!(
            "cannot listen on {}: {e} (choose another --listen address)",
            args.listen
        )
    })?;
    let health = match args.health_listen {
        None => None,
        Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
            format!("--health-listen {addr}: cannot listen: {e} (choose another address)")
        })?),
    };
    Ok((listener, health))
}

/// The start, logged and (unless -q) said on stdout's first line.
fn announce(
    args: &WorkerArgs,
    config: &WorkerConfig,
    access: &Access,
    local: std::net::SocketAddr,
    health: Option<&TcpListener>,
    exposition: Option<&Exposition>,
) {
    // Never the token itself: only whether there is one.
    tracing::info!(
        listen = %local,
        slots = config.slots,
        queue = config.queue_depth,
        max_chunk = config.max_chunk,
        max_connections = config.connections.max,
        tls = access.tls.is_some(),
        token = access.token.is_some(),
        pull_root = config.root.is_some(),
        health = %health
            .and_then(|l| l.local_addr().ok())
            .map_or("main port only".into(), |a| a.to_string()),
        metrics = %exposition.map_or("off".into(), |e| e.local_addr().to_string()),
        "worker started"
    );
    if args.quiet {
        return;
    }
    // Tests and scripts read the port from this first line when given port 0: the
    // address stays its fourth word, and the metrics address (chosen too, for
    // `--metrics HOST:0`) comes last, so that readers of either need not know the
    // words between.
    let metrics = exposition.map_or(String::new(), |e| {
        format!(", metrics on {}", e.local_addr())
    });
    println!(
        "gzfleet-worker listening on {local} ({} slots, queue {}, max chunk {}, {}){metrics}",
        config.slots,
        config.queue_depth,
        format_size(config.max_chunk),
        access.describe()
    );
}

/// `--init-token FILE`: see [`crate::token::init_file`]. Says which it did, never the token.
pub fn init_token(path: &std::path::Path) -> ExitCode {
    match crate::token::init_file(path) {
        Ok(created) => {
            let what = if created {
                "wrote a new token to"
            } else {
                "kept the token in"
            };
            eprintln!("gzfleet-worker: {what} {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gzfleet-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Says why the worker cannot go on, and exits unsuccessfully.
fn fail(why: &str) -> ExitCode {
    logs::say("gzfleet-worker", Said::Error, why);
    ExitCode::FAILURE
}

/// `--check ADDR`: one grpc.health.v1 Check of the worker service.
pub fn check(addr: &str) -> ExitCode {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gzfleet-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("invalid address {addr}: {e}"))?
            .connect_timeout(std::time::Duration::from_secs(3))
            .connect()
            .await
            .map_err(|e| format!("{addr}: cannot connect: {e}"))?;
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            HealthClient::new(channel).check(HealthCheckRequest {
                service: "gzfleet.v1.Worker".into(),
            }),
        )
        .await
        .map_err(|_| format!("{addr}: no answer within 3s"))?
        .map_err(|s| format!("{addr}: {}", s.message()))?;
        Ok::<_, String>(reply.into_inner().status())
    });
    match result {
        Ok(ServingStatus::Serving) => {
            println!("{addr}: SERVING");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            println!("{addr}: {}", status.as_str_name());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("gzfleet-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        worker: WorkerArgs,
    }

    fn parse(args: &[&str]) -> Result<WorkerConfig, String> {
        Cli::try_parse_from(std::iter::once("gzfleet-worker").chain(args.iter().copied()))
            .map(|c| c.worker.config())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn queue_and_max_chunk_are_bounded() {
        assert!(
            parse(&["--queue", "0"])
                .unwrap_err()
                .contains("0 is not in 1..=65536")
        );
        assert!(
            parse(&["--max-chunk", "0"])
                .unwrap_err()
                .contains("outside 128 KiB..64 MiB")
        );
        assert!(parse(&["--max-chunk", "65M"]).is_err());
        let c = parse(&["--slots", "3", "--max-chunk", "1M"]).unwrap();
        assert_eq!((c.slots, c.queue_depth, c.max_chunk), (3, 6, 1 << 20));
        assert_eq!(parse(&["--queue", "1"]).unwrap().queue_depth, 1);
    }

    #[test]
    fn connection_limits_are_bounded_and_default_to_the_documented_values() {
        assert_eq!(parse(&[]).unwrap().connections, ConnectionLimits::default());
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(
            parse(&["--idle-timeout", "0s"])
                .unwrap_err()
                .contains("no time")
        );
        let c = parse(&[
            "--max-connections",
            "3",
            "--first-request-timeout",
            "500ms",
            "--idle-timeout",
            "2m",
        ])
        .unwrap()
        .connections;
        assert_eq!(c.max, 3);
        assert_eq!(c.first_request, Duration::from_millis(500));
        assert_eq!(c.idle, Duration::from_secs(120));
    }
}
