//! `gzfleet-worker`: serves the gzfleet chunk engine over gRPC.

use std::process::ExitCode;

use clap::Parser;

/// Compresses chunks for a gzfleet coordinator over gRPC (gzfleet.v1.Worker), and
/// answers grpc.health.v1 health checks. SIGTERM or SIGINT: stop accepting, finish the
/// chunks in hand, exit 0.
#[derive(Parser)]
#[command(name = "gzfleet-worker", version)]
struct Cli {
    #[command(flatten)]
    worker: gzfleet_worker::cli::WorkerArgs,
    /// Instead of serving: ask the worker at ADDR whether it is serving (grpc.health.v1)
    /// and exit 0 if it is, 1 if not. For container health checks.
    #[arg(long, value_name = "ADDR")]
    check: Option<String>,
}

fn main() -> ExitCode {
    gzfleet_worker::alloc::keep_chunk_buffers();
    let cli: Cli = gzfleet_worker::cli::parse_or_exit("gzfleet-worker");
    if let Some(addr) = &cli.check {
        return gzfleet_worker::cli::check(addr);
    }
    let config = cli.worker.config();
    gzfleet_worker::cli::run(&cli.worker, config)
}
