//! `gzfleet`: parallel gzip on this machine, or across a fleet of gzfleet-workers; by
//! its command line, or named so, also gzip, gunzip and zcat.

use std::process::ExitCode;

use gzfleet_coordinator::invocation;

fn main() -> ExitCode {
    gzfleet::keep_chunk_buffers();
    let cli = gzfleet::parsed_or_exit("gzfleet", invocation::parse());
    gzfleet_coordinator::run(cli)
}
