//! `gzfleet-worker`: serves the gzfleet chunk engine over gRPC.

use std::process::ExitCode;

use clap::Parser;
use gzfleet_worker::cli::{self, WorkerArgs};
use gzfleet_worker::hooks::NoHooks;

/// Compresses chunks for a gzfleet coordinator over gRPC (gzfleet.v1.Worker), and
/// answers grpc.health.v1 health checks. SIGTERM or SIGINT: stop accepting, finish the
/// chunks in hand, exit 0.
#[derive(Parser)]
#[command(name = "gzfleet-worker", version)]
struct Cli {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Instead of serving: ask the worker at ADDR whether it is serving (grpc.health.v1)
    /// and exit 0 if it is, 1 if not. For container health checks.
    #[arg(long, value_name = "ADDR")]
    check: Option<String>,
}

fn main() -> ExitCode {
    gzfleet::keep_chunk_buffers();
    let cli: Cli = gzfleet::parse_or_exit("gzfleet-worker");
    match &cli.check {
        Some(addr) => cli::check(addr),
        None => cli::run(&cli.worker, NoHooks),
    }
}
