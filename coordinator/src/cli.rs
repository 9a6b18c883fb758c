//! The `gzfleet` command line as clap reads it (the low-level arguments): gzip and
//! pigz habits, plus the cluster options. `compress::plan` turns these into a plan.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gzfleet_worker::limits::{MAX_CHUNK, MIN_CHUNK};
pub use gzfleet_worker::logs::LogFormat;
use gzfleet_worker::units::{parse_duration, parse_size};

use crate::ui::Verbosity;

#[derive(Debug, Parser)]
#[command(
    name = "gzfleet",
    version,
    // -V after a subcommand too, as gzip users type it anywhere.
    propagate_version = true,
    // As in gzip, a repeated option takes its last value.
    args_override_self = true,
    about = "pigz for a cluster: parallel gzip on this machine, or across many",
    long_about = "pigz for a cluster: parallel gzip on this machine, or across many.\n\n\
        The output is always one standard gzip member that gzip, zcat and pigz read, and its \
        bytes depend only on the input and the options, never on how many threads or \
        workers made it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print the license and exit (as gzip -L)
    #[arg(short = 'L', long, global = true)]
    pub license: bool,
}

impl Command {
    /// -q and -v as each subcommand spells them.
    pub(crate) fn verbosity(&self) -> Verbosity {
        let (quiet, verbose) = match self {
            Command::Compress(a) => (a.quiet, a.verbose),
            Command::Decompress(a) => (a.quiet, a.verbose as u8),
            Command::Test(a) => (a.quiet, a.verbose as u8),
            Command::List(_) => (false, 0),
            Command::Index(a) => (a.quiet, a.verbose as u8),
        };
        Verbosity { quiet, verbose }
    }
}

/// Each subcommand is displayed as `gzfleet`, so that `-V` prints `gzfleet VERSION`
/// wherever it is typed (clap would say `gzfleet-compress`).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compress files (or stdin) into gzip, here or on workers
    #[command(display_name = "gzfleet")]
    Compress(Box<CompressArgs>),
    /// Decompress .gz files (all members; as gzip -d)
    #[command(display_name = "gzfleet")]
    Decompress(DecompressArgs),
    /// Check .gz files completely: structure, CRC-32 and length (as gzip -t)
    #[command(display_name = "gzfleet")]
    Test(TestArgs),
    /// Show sizes and ratios of .gz files (as gzip -l)
    #[command(display_name = "gzfleet")]
    List(ListArgs),
    /// Build an index (gztool's format) for existing .gz files, in one pass: FILE.gz
    /// gets FILE.gzi, for parallel and random-access decompression
    #[command(display_name = "gzfleet")]
    Index(IndexArgs),
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    /// Files to compress, each to FILE.gz beside it; none or "-" reads stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Write to stdout; keep the input
    #[arg(short = 'c', long)]
    pub stdout: bool,
    /// Write to PATH (one input only)
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Compress every regular file under each directory named, each to its own .gz
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Write outputs under DIR: DIR/<path below the directory named>.gz with -r,
    /// DIR/<name>.gz for a file named; folders are created as needed
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "stdout"])]
    pub output_dir: Option<PathBuf>,
    /// Compression level: 0 (store) to 9 (best), 10-12 with libdeflate; -1 .. -9 are
    /// shorthands, and of all the level options the last one given wins, as in gzip
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=12))]
    pub level: Option<u32>,
    /// Deflate engine: zlib-rs, libdeflate (levels 0-12 on gzfleet's own ladder) or
    /// auto, the best measured for the level (README, "Engines"). Part of what fixes
    /// the output bytes
    #[arg(long, value_name = "NAME")]
    pub engine: Option<String>,
    /// Compress faster (as -1)
    #[arg(long)]
    pub fast: bool,
    /// Compress better (as -9)
    #[arg(long)]
    pub best: bool,
    #[arg(short = '0', hide = true)]
    pub l0: bool,
    #[arg(short = '1', hide = true)]
    pub l1: bool,
    #[arg(short = '2', hide = true)]
    pub l2: bool,
    #[arg(short = '3', hide = true)]
    pub l3: bool,
    #[arg(short = '4', hide = true)]
    pub l4: bool,
    #[arg(short = '5', hide = true)]
    pub l5: bool,
    #[arg(short = '6', hide = true)]
    pub l6: bool,
    #[arg(short = '7', hide = true)]
    pub l7: bool,
    #[arg(short = '8', hide = true)]
    pub l8: bool,
    #[arg(short = '9', hide = true)]
    pub l9: bool,
    /// Chunk size, 128K to 64M (K, M = KiB, MiB; a bare number is KiB, as in pigz).
    /// Part of what fixes the output bytes
    #[arg(short = 'b', long = "block-size", value_name = "SIZE", default_value = "1M", value_parser = parse_block)]
    pub block_size: u64,
    /// Compress chunks independently (no 32 KiB priming): slightly larger output
    /// whose chunks can be decoded from their own start
    #[arg(short = 'i', long)]
    pub independent: bool,
    /// Compression threads on this machine when no workers are named [default: all cores]
    #[arg(short = 'p', long = "processes", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub processes: Option<u32>,
    /// Overwrite existing output; compress links and .gz files; write to a terminal
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Keep the input: the default here, unlike gzip (see --rm)
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Remove each input after its output is complete
    #[arg(long, conflicts_with = "keep")]
    pub rm: bool,
    /// Use suffix SUF on compressed files instead of .gz
    #[arg(short = 'S', long, value_name = "SUF", value_parser = parse_suffix)]
    pub suffix: Option<String>,
    /// Do not store the input's name and modification time in the header (with -d:
    /// do not restore them, the default)
    #[arg(short = 'n', long = "no-name")]
    pub no_name: bool,
    /// Store the input's name and modification time (the default; with -d: restore
    /// them)
    #[arg(short = 'N', long = "name", overrides_with = "no_name")]
    pub name: bool,
    /// Also write an index in gztool's format beside each output (data.gz gets
    /// data.gzi), for parallel and random-access decompression by gzfleet, gztool
    /// (-I) and rapidgzip (--import-index); the .gz bytes are the same without it
    #[arg(long)]
    pub index: bool,
    /// Input between index points (rounded to whole blocks) [default: 16M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub index_span: Option<u64>,
    /// Write the index to PATH (one input; needed with -c or an object output);
    /// implies --index
    #[arg(long, value_name = "PATH")]
    pub index_file: Option<PathBuf>,
    /// Print no warnings or progress
    #[arg(short = 'q', long, overrides_with = "verbose")]
    pub quiet: bool,
    /// Print a summary per file (and, twice, every retry and worker change)
    #[arg(short = 'v', long, action = clap::ArgAction::Count, overrides_with = "quiet")]
    pub verbose: u8,

    /// Compress on these workers (HOST:PORT or dns:NAME:PORT, comma-separated)
    /// instead of locally
    #[arg(
        long,
        env = "GZFLEET_WORKERS",
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Cluster"
    )]
    pub workers: Vec<String>,
    /// Read worker addresses from PATH, one a line (# comments); re-read while running
    #[arg(long, value_name = "PATH", help_heading = "Cluster")]
    pub workers_file: Option<PathBuf>,
    /// Inflate every compressed chunk and compare it with the input before writing it
    #[arg(long, help_heading = "Cluster")]
    pub verify: bool,
    /// When every worker is gone, wait this long for one to return before failing
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = "Cluster")]
    pub wait_workers: Duration,
    /// Failed attempts allowed per chunk before the job fails
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Cluster")]
    pub max_attempts: u32,
    /// Continue an interrupted run from its partial output and journal (same arguments)
    #[arg(long, help_heading = "Cluster")]
    pub resume: bool,
    /// How often the partial output is made durable for --resume
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, help_heading = "Cluster")]
    pub sync_interval: Duration,
    /// Write statistics (sizes, time, retries, each worker's share) as JSON to PATH
    #[arg(long, value_name = "PATH", help_heading = "Cluster")]
    pub stats_json: Option<PathBuf>,
    /// Pull mode: workers read each input themselves, instead of receiving its bytes;
    /// only compressed bytes cross the network. Files need --shared-root and workers
    /// started with --root on their mount of it; objects (s3://...) need workers
    /// started with --read-objects and credentials of their own
    #[arg(long, help_heading = "Shared storage")]
    pub pull: bool,
    /// With --pull: where the shared storage is mounted here; inputs must be below it,
    /// and workers are sent their paths relative to it
    #[arg(
        long,
        value_name = "DIR",
        requires = "pull",
        help_heading = "Shared storage"
    )]
    pub shared_root: Option<PathBuf>,
    /// With --pull: workers write the compressed bytes into the output themselves
    /// (below --shared-root, each at its mount given by gzfleet-worker --write-root);
    /// this machine writes only the header, the trailer and a few KiB per segment, so
    /// its network card no longer limits the fleet
    #[arg(long, help_heading = "Shared storage")]
    pub direct_output: bool,
    /// Direct output's segment size (tests): input bytes a worker compresses and
    /// writes at once [default: max(64M, input/9000)], rounded to whole blocks
    #[arg(long, value_name = "SIZE", value_parser = parse_size, hide = true)]
    pub segment_size: Option<u64>,
    /// Reach workers over TLS, trusting the system's certificate authorities
    #[arg(long, help_heading = "Security")]
    pub tls: bool,
    /// Reach workers over TLS, trusting the CA certificate in FILE (PEM)
    #[arg(long, value_name = "FILE", help_heading = "Security")]
    pub tls_ca: Option<PathBuf>,
    /// Present this client certificate (PEM) to workers that require one (mutual TLS);
    /// needs --tls-key
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        help_heading = "Security"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM file)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        help_heading = "Security"
    )]
    pub tls_key: Option<PathBuf>,
    /// Present the token in FILE to workers (or set GZFLEET_TOKEN). Never put a token
    /// on a command line: `ps` shows it
    #[arg(long, value_name = "FILE", help_heading = "Security")]
    pub token_file: Option<PathBuf>,
    /// Serve Prometheus metrics of the run at http://ADDR/metrics (plain HTTP) while
    /// it lasts
    #[arg(long, value_name = "ADDR", help_heading = "Observability")]
    pub metrics: Option<SocketAddr>,
    /// After the run, keep serving its final numbers this long before exiting, so that
    /// a scraper polling every N seconds sees them: a batch job can end between two
    /// scrapes
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "0s",
        value_parser = parse_duration,
        requires = "metrics",
        help_heading = "Observability"
    )]
    pub metrics_linger: Duration,
    /// Write log lines on stderr as text or as one JSON object a line (a job's start
    /// and end with its totals); RUST_LOG sets what is logged [default: warnings only,
    /// info too once a format is given]
    #[arg(long, value_name = "FORMAT", help_heading = "Observability")]
    pub log_format: Option<LogFormat>,
}

impl CompressArgs {
    pub(crate) fn credential_files(&self) -> crate::fleet::CredentialFiles<'_> {
        crate::fleet::CredentialFiles {
            tls: self.tls,
            tls_ca: self.tls_ca.as_deref(),
            tls_cert: self.tls_cert.as_deref(),
            tls_key: self.tls_key.as_deref(),
            token_file: self.token_file.as_deref(),
        }
    }
}

impl CompressArgs {
    /// The level: `--level`, or what `invocation` resolved from the last level flag.
    pub fn level(&self) -> u32 {
        self.level.unwrap_or(6)
    }

    /// The suffix of compressed files (-S).
    pub fn suffix(&self) -> &str {
        self.suffix.as_deref().unwrap_or(".gz")
    }
}

/// -S: gzip refuses an empty suffix and one with a slash.
fn parse_suffix(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains('/') {
        return Err(format!("invalid suffix '{text}'"));
    }
    Ok(text.to_string())
}

fn parse_block(text: &str) -> Result<u64, String> {
    // pigz reads a bare -b number as KiB (-b 128 is 128 KiB).
    let size = match text.parse::<u64>() {
        Ok(kib) => kib
            .checked_mul(1024)
            .ok_or_else(|| format!("invalid size '{text}'"))?,
        Err(_) => parse_size(text)?,
    };
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&size) {
        return Err(format!(
            "block size {size} bytes is outside 128K..64M (sizes take units: 512K, 4M)"
        ));
    }
    Ok(size)
}

/// Output options shared by decompress.
#[derive(Debug, Args)]
pub struct DecompressArgs {
    /// .gz files to decompress, each to its name without the suffix; none or "-" reads stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write to stdout; keep the input
    #[arg(short = 'c', long)]
    pub stdout: bool,
    /// Write to PATH (one input only)
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Overwrite existing output; decompress links; read compressed data from a
    /// terminal
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Keep the input: the default here, unlike gzip (see --rm)
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Remove each input after its output is complete
    #[arg(long, conflicts_with = "keep")]
    pub rm: bool,
    /// Decompress every file with a compressed suffix below each directory named
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Also accept suffix SUF (tried first; .gz, .z and .tgz are always known)
    #[arg(short = 'S', long, value_name = "SUF", value_parser = parse_suffix)]
    pub suffix: Option<String>,
    /// Restore the name and modification time stored in the header
    #[arg(short = 'N', long = "name", overrides_with = "no_name")]
    pub name: bool,
    /// Do not restore the stored name and time (the default, as gzip's)
    #[arg(short = 'n', long = "no-name")]
    pub no_name: bool,
    /// Print no warnings
    #[arg(short = 'q', long, overrides_with = "verbose")]
    pub quiet: bool,
    /// Print a line per file
    #[arg(short = 'v', long, overrides_with = "quiet")]
    pub verbose: bool,
    /// Inflating threads when the file has an index [default: all cores]
    #[arg(short = 'p', long = "processes", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub processes: Option<u32>,
    /// The index to use (gztool's format) [default: FILE.gzi beside FILE.gz, if any]
    #[arg(long, value_name = "PATH")]
    pub index_file: Option<PathBuf>,
    /// Write the uncompressed data from byte N on (with an index, without inflating
    /// what comes before its nearest point)
    #[arg(long, value_name = "N", conflicts_with = "rm")]
    pub offset: Option<u64>,
    /// Write at most M bytes (from --offset, or from the start)
    #[arg(long, value_name = "M", conflicts_with = "rm")]
    pub length: Option<u64>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// .gz files to check; none or "-" reads stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Read compressed data from a terminal
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Print no warnings
    #[arg(short = 'q', long, overrides_with = "verbose")]
    pub quiet: bool,
    /// Print OK for each good file
    #[arg(short = 'v', long, overrides_with = "quiet")]
    pub verbose: bool,
    /// Inflating threads when the file has an index [default: all cores]
    #[arg(short = 'p', long = "processes", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub processes: Option<u32>,
    /// The index to use (gztool's format) [default: FILE.gzi beside FILE.gz, if any]
    #[arg(long, value_name = "PATH")]
    pub index_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// .gz files to index, each to FILE.gzi beside it (as gztool names it)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the index to PATH (one file only)
    #[arg(long, value_name = "PATH")]
    pub index_file: Option<PathBuf>,
    /// Output between index points: a point at the first block boundary past each
    /// [default: 16M]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub index_span: Option<u64>,
    /// Overwrite an existing index; index a symbolic link
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Print no warnings
    #[arg(short = 'q', long, overrides_with = "verbose")]
    pub quiet: bool,
    /// Print a line per file
    #[arg(short = 'v', long, overrides_with = "quiet")]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// .gz files to list; none or "-" reads stdin. Every member is decoded and
    /// checked, as gzip 1.12 -l does: the uncompressed size is exact, all members,
    /// past 4 GiB
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also show the method, the CRC-32 of the data, and the file's date and time
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Show the name and time stored in the header, not the file's (as gzip -lN)
    #[arg(short = 'N', long)]
    pub name: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn compress(args: &[&str]) -> Result<CompressArgs, clap::Error> {
        let argv = ["gzfleet", "compress"]
            .into_iter()
            .chain(args.iter().copied())
            .map(Into::into);
        crate::invocation::parse_from(argv.collect()).map(|cli| match cli.command {
            Command::Compress(c) => *c,
            _ => unreachable!(),
        })
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn levels() {
        assert_eq!(compress(&[]).unwrap().level(), 6);
        assert_eq!(compress(&["-9"]).unwrap().level(), 9);
        assert_eq!(compress(&["-1c"]).unwrap().level(), 1);
        assert_eq!(compress(&["--level", "0"]).unwrap().level(), 0);
        assert!(compress(&["--level", "13"]).is_err());
        assert_eq!(compress(&["--level", "12"]).unwrap().level(), 12);
        // As in gzip, the last level option wins, whichever its spelling.
        assert_eq!(compress(&["-9", "--level", "3"]).unwrap().level(), 3);
        assert_eq!(compress(&["--level", "6", "-9"]).unwrap().level(), 9);
        assert_eq!(compress(&["-9", "-1"]).unwrap().level(), 1);
        assert_eq!(compress(&["-1", "-9", "-1", "-4"]).unwrap().level(), 4);
        assert_eq!(compress(&["--best", "-3"]).unwrap().level(), 3);
        assert_eq!(compress(&["-3", "--fast"]).unwrap().level(), 1);
        assert_eq!(compress(&["--best"]).unwrap().level(), 9);
    }

    #[test]
    fn quiet_and_verbose_the_last_one_wins_as_in_gzip() {
        let v = |args: &[&str]| compress(args).map(|c| (c.quiet, c.verbose)).unwrap();
        assert_eq!(v(&["-q", "-v"]), (false, 1));
        assert_eq!(v(&["-v", "-v", "-q"]), (true, 0));
        assert_eq!(v(&["-vv"]), (false, 2));
        assert_eq!(v(&["-v", "-v"]), (false, 2));
    }

    #[test]
    fn block_sizes() {
        assert_eq!(compress(&["-b", "128K"]).unwrap().block_size, 128 << 10);
        assert_eq!(compress(&["-b", "4MiB"]).unwrap().block_size, 4 << 20);
        assert_eq!(compress(&[]).unwrap().block_size, 1 << 20);
        assert!(compress(&["-b", "64K"]).is_err());
        // A bare number is KiB, as in pigz.
        assert_eq!(compress(&["-b", "128"]).unwrap().block_size, 128 << 10);
        assert!(compress(&["-b", "100000"]).is_err());
        assert!(compress(&["-b", "65M"]).is_err());
        assert!(compress(&["-b", "lots"]).is_err());
        assert_eq!(
            compress(&["-b", "256K", "-b", "512K"]).unwrap().block_size,
            512 << 10
        );
    }
}
