//! `gzfleet`: parallel gzip on this machine, or across a fleet of gzfleet-workers.

use std::process::ExitCode;

use gzfleet_coordinator::cli::Cli;

fn main() -> ExitCode {
    gzfleet::keep_chunk_buffers();
    let cli: Cli = gzfleet::parse_or_exit("gzfleet");
    gzfleet_coordinator::run(cli)
}
