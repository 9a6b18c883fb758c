//! `gzfleet-worker`: serves the gzfleet chunk engine over gRPC.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use gzfleet_worker::cli::{self, WorkerArgs};
use gzfleet_worker::hooks::NoHooks;

/// Compresses chunks for a gzfleet coordinator over gRPC (gzfleet.v1.Worker), and
/// answers grpc.health.v1 health checks. SIGTERM or SIGINT: stop accepting, finish the
/// chunks in hand, exit 0.
#[derive(Parser)]
#[command(
    name = "gzfleet-worker",
    version,
    after_long_help = "Shared storage and object stores (pull mode):\n\
  By default a coordinator sends each chunk's bytes (push). With `gzfleet compress\n\
  --pull`, it sends only where the chunk is, and the worker reads it, and the 32 KiB\n\
  before it, itself: only compressed bytes cross the network.\n\n\
  Files: start the worker with --root DIR, its own mount of the storage the\n\
  coordinator names with --shared-root. Paths are read strictly inside DIR (absolute\n\
  paths, .. and symbolic links leaving DIR are refused), and only if the file is the\n\
  one the coordinator saw (size and modification time).\n\n\
  Objects (s3://bucket/key, https://...): start the worker with --read-objects PREFIX\n\
  (s3://bucket/, https://host/path/, or s3:// for all of S3; only objects below the\n\
  prefixes are read) and credentials in its environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n\
  AWS_DEFAULT_REGION, and for an S3-compatible store AWS_ENDPOINT (AWS_ALLOW_HTTP=true\n\
  for a plain-http endpoint). A range is read only if the object is the version the\n\
  coordinator saw (size and ETag)."
)]
struct Cli {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Instead of serving: ask the worker at ADDR whether it is serving (grpc.health.v1)
    /// and exit 0 if it is, 1 if not. For container health checks.
    #[arg(long, value_name = "ADDR")]
    check: Option<String>,
    /// Instead of serving: make sure FILE holds a token and exit: keep it if it exists,
    /// else write GZFLEET_TOKEN if set, else a new random one. For a fleet that shares
    /// a volume (docker-compose), so its first start needs no token made by hand
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    init_token: Option<std::path::PathBuf>,
    /// Instead of serving: print the man page, or a shell's completions (man,
    /// complete-bash, complete-zsh, complete-fish), made from these very options
    #[arg(long, value_name = "KIND")]
    generate: Option<gzfleet::Generate>,
}

fn main() -> ExitCode {
    gzfleet::keep_chunk_buffers();
    let cli: Cli = gzfleet::parse_or_exit("gzfleet-worker");
    if let Some(kind) = cli.generate {
        return gzfleet::generate(kind, Cli::command());
    }
    if let Some(path) = &cli.init_token {
        return cli::init_token(path);
    }
    match &cli.check {
        Some(addr) => cli::check(addr),
        None => cli::run(&cli.worker, NoHooks),
    }
}
