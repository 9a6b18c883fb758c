//! gzfleet's coordinator: splits an input into chunks, has them compressed by the
//! embedded pool or by `gzfleet-worker`s over gRPC, and stitches the answers into one
//! standard gzip member; and the reading side (decompress, test, list). The design, its
//! contracts and the wire protocol are in docs/DESIGN.md.
//!
//! The tree, by job:
//!
//! - [`api`]: the library: `Writer`, `Reader`, one-shot `compress`/`decompress`
//!   (re-exported here); the command's own steps below are what it drives.
//! - `compress`: the compress path, one module a step: `plan` → `input` →
//!   `chunker` → `window` → `dispatch` (task states, policy, event loop) → `check` →
//!   `order` → `output`, with `journal` and `resume` for the durable point.
//! - [`fleet`]: the workers: each `worker`'s health, the `link` that reaches it
//!   (`local` pool or `remote` gRPC), and `discovery`.
//! - [`reading`]: `decompress`, `test`, `list`.
//! - [`index`]: gztool-format indexes (`.gzi`), read and written.
//! - [`gzip`]: framing both directions share: `header`, `trailer` (CRC joining),
//!   `decoder`; [`legacy`]: the other formats gzip -d reads (compress's .Z, pack,
//!   zip's first entry).
//! - [`ui`]: every line printed, the `progress` bar, the job `report`; [`telemetry`]:
//!   the same numbers for Prometheus (`--metrics`).
//! - [`admit`]: gzip's rules for which inputs are read (links, devices, setuid).
//! - [`partial`]: files appear under their name only once complete; [`error`];
//!   [`signals`]; [`cli`], the arguments as clap reads them, and [`invocation`], which
//!   reads a command line in gzfleet's form or gzip's (`-d`, `gunzip`, `zcat`).
//! - `fuzzing`: the few entry points the fuzz targets in fuzz/ call (hidden);
//!   `testing`: the same for the end-to-end tests (hidden).

pub(crate) mod admit;
pub mod api;
pub mod cli;
pub(crate) mod compress;
pub(crate) mod error;
pub(crate) mod fleet;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod gzip;
pub(crate) mod index;
pub(crate) mod indexer;
pub mod invocation;
pub(crate) mod legacy;
pub(crate) mod partial;
pub(crate) mod reading;
pub(crate) mod short_help;
pub(crate) mod signals;
pub(crate) mod telemetry;
#[doc(hidden)]
pub mod testing;
pub(crate) mod ui;

use std::process::ExitCode;

pub use api::{
    Error, FileSink, Finished, Reader, ReaderBuilder, Summary, Writer, WriterBuilder, compress,
    decompress,
};

use cli::{Cli, Command};
use ui::Ui;

/// Runs a parsed `gzfleet` command and turns its outcome into gzip's exit codes: 0
/// success, 1 error, 2 warning; 130 when interrupted.
pub fn run(cli: Cli) -> ExitCode {
    let ui = Ui::new(cli.command.verbosity());
    if cli.license {
        ui::license();
        return ExitCode::SUCCESS;
    }
    // Only a compress run logs: the reading side has nothing a log collector needs.
    if let Command::Compress(args) = &cli.command
        && let Err(e) = gzfleet_worker::logs::init(args.log_format, ui.log_writer())
    {
        ui.warn(e);
    }
    let result = match &cli.command {
        Command::Compress(args) => match compress::run(args, &ui) {
            Ok(o) if o.interrupted => return ExitCode::from(130),
            other => other.map(|o| (o.failures, o.warnings)),
        },
        Command::Decompress(args) => reading::decompress(args, &ui).map(|t| (t.errors, t.warnings)),
        Command::Test(args) => reading::test(args, &ui).map(|t| (t.errors, t.warnings)),
        Command::List(args) => reading::list(args, &ui).map(|t| (t.errors, t.warnings)),
        Command::Index(args) => indexer::index(args, &ui),
    };
    match result {
        Ok((0, 0)) => ExitCode::SUCCESS,
        Ok((0, _)) => ExitCode::from(2),
        Ok(_) => ExitCode::FAILURE,
        Err(e) if e.is_broken_pipe() => signals::die_of_sigpipe(),
        Err(e @ error::Error::Interrupted) => {
            ui.error(e);
            ExitCode::from(130)
        }
        Err(e) => {
            ui.error(e);
            ExitCode::FAILURE
        }
    }
}
