//! `gzfleet`: the binary edge. Parses the command line, runs the command, and turns
//! its outcome into gzip's exit codes: 0 success, 1 error, 2 warning.

use std::process::ExitCode;

use gzfleet::cli::{Cli, Command};
use gzfleet::error::Error;
use gzfleet::{compress, decompress};

fn main() -> ExitCode {
    gzfleet_worker::alloc::keep_chunk_buffers();
    let cli: Cli = gzfleet_worker::cli::parse_or_exit("gzfleet");
    let result = match &cli.command {
        Command::Compress(args) => match compress::run(args) {
            Ok(o) if o.interrupted => return ExitCode::from(130),
            other => other.map(|o| (o.failures, 0)),
        },
        Command::Decompress(args) => decompress::decompress(args).map(|t| (t.errors, t.warnings)),
        Command::Test(args) => decompress::test(args).map(|t| (t.errors, t.warnings)),
        Command::List(args) => decompress::list(args).map(|t| (t.errors, t.warnings)),
    };
    match result {
        Ok((0, 0)) => ExitCode::SUCCESS,
        Ok((0, _)) => ExitCode::from(2),
        Ok(_) => ExitCode::FAILURE,
        Err(Error::Interrupted) => {
            eprintln!("gzfleet: interrupted");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("gzfleet: {e}");
            ExitCode::FAILURE
        }
    }
}
