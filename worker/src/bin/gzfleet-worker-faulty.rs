//! `gzfleet-worker-faulty`: gzfleet-worker with test-only fault switches (see
//! `faults.rs`). Built only with the `fault-injection` feature; never ship it.

use clap::Parser;

/// gzfleet-worker for fault-tolerance tests: can lie, hang or crawl on command.
#[derive(Parser)]
#[command(name = "gzfleet-worker-faulty", version)]
struct Cli {
    #[command(flatten)]
    worker: gzfleet_worker::cli::WorkerArgs,
    #[command(flatten)]
    faults: gzfleet_worker::faults::Faults,
}

fn main() -> std::process::ExitCode {
    gzfleet_worker::alloc::keep_chunk_buffers();
    let cli: Cli = gzfleet_worker::cli::parse_or_exit("gzfleet-worker-faulty");
    let mut config = cli.worker.config();
    config.faults = cli.faults;
    gzfleet_worker::cli::run(&cli.worker, config)
}
