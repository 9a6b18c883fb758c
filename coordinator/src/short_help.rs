//! `gzfleet -h`: one screen, as gzip's: the options gzip and pigz users type, each in
//! a few words, and where the rest are. `--help` keeps every option and its whole text
//! (clap shows `long_help` there), and the man page is made from that long form.

use clap::{Arg, Command};

/// The options `-h` shows, by id, with the words it uses.
const SHORT: [(&str, &str); 21] = [
    ("files", "Files to (de)compress; none or \"-\" reads stdin"),
    ("decompress", "Decompress"),
    ("test", "Test compressed file integrity"),
    ("list", "List compressed file contents"),
    ("license", "Display the software license"),
    (
        "stdout",
        "Write on standard output, keep original files unchanged",
    ),
    ("recursive", "Operate recursively on directories"),
    ("fast", "Compress faster (-1)"),
    ("best", "Compress better (-9)"),
    ("block_size", "Chunk size, 128K to 64M (pigz's -b)"),
    ("processes", "Threads on this machine [default: all cores]"),
    ("force", "Force overwrite of output file and compress links"),
    (
        "keep",
        "Keep input files (the default, unless invoked as gzip or gunzip)",
    ),
    ("rm", "Remove input files once their output is complete"),
    ("suffix", "Use suffix SUF on compressed files"),
    (
        "no_name",
        "Do not save or restore the original name and timestamp",
    ),
    ("name", "Save or restore the original name and timestamp"),
    ("quiet", "Suppress all warnings"),
    ("verbose", "Verbose mode"),
    (
        "workers",
        "Compress on these workers (HOST:PORT,...) instead of here",
    ),
    (
        "index",
        "Also write an index (FILE.gzi) for parallel decompression",
    ),
];

/// Below the options on `-h`.
const AFTER: &str = "Levels: -1 (fastest) to -9 (best), -0 stores. Cluster, shared storage, \
security and observability options: --help. Subcommands: gzfleet compress|decompress|test|\
list|index --help. Invoked as gunzip or zcat, gzfleet is those.";

/// `cmd` with `-h` cut to one screen and `--help` left whole.
pub(crate) fn shorten(cmd: Command) -> Command {
    let long_after = cmd.get_after_help().cloned();
    let cmd = cmd.mut_args(
        |arg| match SHORT.iter().find(|(id, _)| arg.get_id() == *id) {
            Some((_, words)) => keep_long(arg).help(*words),
            None => arg.hide_short_help(true),
        },
    );
    let cmd = cmd.after_help(AFTER);
    match long_after {
        Some(text) => cmd.after_long_help(text),
        None => cmd,
    }
}

/// The argument's whole text kept for `--help`.
fn keep_long(arg: Arg) -> Arg {
    match arg.get_long_help().or(arg.get_help()).cloned() {
        Some(long) => arg.long_help(long),
        None => arg,
    }
}
