//! The `gzfleet-worker` command line, shared by the production binary and the
//! test-only `gzfleet-worker-faulty`, so both parse and start the same way.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, Parser};
use tokio::net::TcpListener;

use crate::server::{self, WorkerConfig};
use crate::units::{format_size, parse_size};

/// Parses the command line; a mistake is reported as one line, exit status 1.
pub fn parse_or_exit<P: Parser>(program: &str) -> P {
    match P::try_parse() {
        Ok(parsed) => parsed,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                std::process::exit(0);
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = e.print();
                std::process::exit(1);
            }
            _ => {
                let text = e.render().to_string();
                let line = text.lines().next().unwrap_or("invalid arguments");
                let line = line.strip_prefix("error: ").unwrap_or(line);
                eprintln!("{program}: {line} (see {program} --help)");
                std::process::exit(1);
            }
        },
    }
}

/// The largest chunk DESIGN.md allows a coordinator to send.
pub const DEFAULT_MAX_CHUNK: u64 = 64 << 20;

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
    /// Requests that may wait for a free slot; more get RESOURCE_EXHAUSTED
    /// [default: 2 x slots].
    #[arg(long, value_name = "N")]
    pub queue: Option<u32>,
    /// Largest chunk accepted (uncompressed), e.g. 16M. Also bounds gRPC message sizes.
    #[arg(long, default_value = "64M", value_name = "SIZE", value_parser = parse_size)]
    pub max_chunk: u64,
    /// Print nothing on stdout (not even the listening address).
    #[arg(short, long)]
    pub quiet: bool,
}

impl WorkerArgs {
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
            #[cfg(feature = "fault-injection")]
            faults: Default::default(),
        }
    }
}

/// Binds, serves until SIGINT/SIGTERM, drains, and reports how it went.
pub fn run(args: &WorkerArgs, config: WorkerConfig) -> ExitCode {
    if config.max_chunk == 0 {
        eprintln!("gzfleet-worker: --max-chunk must be at least 1 byte");
        return ExitCode::from(2);
    }
    // The runtime only moves bytes (deflate runs on the pool's own threads): one I/O
    // thread keeps up with about eight slots, and fewer threads mean fewer wakeups.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.slots.div_ceil(8).clamp(1, 8))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gzfleet-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "gzfleet-worker: cannot listen on {}: {e} (choose another --listen address)",
                    args.listen
                );
                return ExitCode::FAILURE;
            }
        };
        let local = listener.local_addr().unwrap_or(args.listen);
        if !args.quiet {
            // Tests and scripts read the port from this first line when given port 0.
            println!(
                "gzfleet-worker listening on {local} ({} slots, queue {}, max chunk {})",
                config.slots,
                config.queue_depth,
                format_size(config.max_chunk)
            );
        }
        match server::serve(listener, config, server::termination_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gzfleet-worker: {e}");
                ExitCode::FAILURE
            }
        }
    })
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
