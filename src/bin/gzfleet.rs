//! `gzfleet`: parallel gzip on this machine, or across a fleet of gzfleet-workers; by
//! its command line, or named so, also gzip, gunzip and zcat.

use std::process::ExitCode;

use gzfleet_coordinator::invocation::{self, Invoked};

fn main() -> ExitCode {
    gzfleet::keep_chunk_buffers();
    match gzfleet::parsed_or_exit("gzfleet", invocation::invoke()) {
        Invoked::Run(cli) => gzfleet_coordinator::run(cli),
        Invoked::Generate(kind) => gzfleet::generate(kind, invocation::command()),
    }
}
