//! Arguments resolved once into a plan, as ripgrep turns low-level arguments into
//! high-level ones: [`Plan`] for the whole command, then one [`JobPlan`] per input
//! (its source, destination, header and resume identity). Everything below the plan
//! works from these; nothing below sees `CompressArgs`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use gzfleet_worker::objects::{Object, is_object};

use super::chunker::{Chunk, Payload};
use super::dispatch::DispatchConfig;
pub(crate) use super::encoding::Encoding;
use super::index_out::{default_span, index_path, step};
use super::input::Input;
use super::journal::JobIdentity;
use super::objects::block_on;
use super::pull::{SharedFile, SharedRoot};
use super::walk::Named;
use crate::cli::CompressArgs;
use crate::error::{Error, Place};
use crate::fleet::{Credentials, Discovery};
use crate::gzip::Header;
use crate::partial::with_suffix;

/// What every attempt at every chunk of one job carries.
#[derive(Debug, Clone)]
pub(crate) struct JobParams {
    /// Names the job in workers' logs.
    pub id: String,
    pub encoding: Encoding,
    /// `--index`: an index point starts every this many chunks.
    pub index_step: Option<u64>,
}

impl JobParams {
    /// Whether chunk `index` of a file starts an index point.
    pub fn is_point(&self, index: u64) -> bool {
        self.index_step
            .is_some_and(|step| index.is_multiple_of(step))
    }

    /// Whether chunk `index` needs the input before it as its point's window: not the
    /// first (nothing is before it) nor independent ones (nothing before is used).
    pub fn needs_window(&self, index: u64) -> bool {
        index > 0 && !self.encoding.independent && self.is_point(index)
    }

    /// Whether a worker is asked to return `chunk`'s window: only when it needs one
    /// and the coordinator does not hold the input (pull mode).
    pub fn asks_window(&self, chunk: &Chunk) -> bool {
        matches!(chunk.payload, Payload::Shared(_)) && self.needs_window(chunk.index)
    }
}

/// `--index`, checked.
#[derive(Debug, Clone)]
pub(crate) struct IndexPlan {
    /// Chunks between points.
    pub step: u64,
    /// `--index-file`: instead of beside the output.
    pub file: Option<PathBuf>,
}

/// Where outputs go, as -c, -o and --output-dir chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// FILE -> FILE.gz beside it (stdin -> stdout).
    Beside,
    Stdout,
    Path(PathBuf),
    /// --output-dir: each input's `below` path, with .gz, under this folder.
    Dir(PathBuf),
}

/// Who compresses.
#[derive(Debug, Clone)]
pub(crate) enum FleetPlan {
    Local {
        threads: usize,
    },
    Remote {
        discovery: Discovery,
        credentials: Box<Credentials>,
    },
}

/// The whole `gzfleet compress` command, checked.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub inputs: Vec<PathBuf>,
    /// -r: directories named are compressed file by file.
    pub recursive: bool,
    pub encoding: Encoding,
    pub target: Target,
    /// Store the input's name and mtime in the header (not for stdin).
    pub store_name: bool,
    pub force: bool,
    /// -S: the suffix of outputs written beside or under --output-dir.
    pub suffix: String,
    pub remove_input: bool,
    pub resume: bool,
    pub sync_interval: Duration,
    pub fleet: FleetPlan,
    pub dispatch: DispatchConfig,
    pub stats_json: Option<PathBuf>,
    /// Pull mode: workers read the inputs themselves.
    pub pull: bool,
    /// Where files for pull mode are: workers are sent their paths below it.
    pub shared_root: Option<SharedRoot>,
    pub index: Option<IndexPlan>,
}

/// Where one job's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    Stdout,
    File(PathBuf),
    /// An object, written as a multipart upload.
    Object(String),
}

impl Target {
    /// Where the outputs of `inputs` inputs go, from -c, -o and --output-dir.
    fn of(args: &CompressArgs, inputs: usize) -> Result<Target, Error> {
        Ok(match (&args.output, args.stdout, &args.output_dir) {
            (Some(_), true, _) => {
                return Err(Error::Usage(
                    "-c/--stdout and -o/--output cannot be used together".into(),
                ));
            }
            (Some(_), false, _) if inputs > 1 || args.recursive => {
                return Err(Error::Usage(
                    "-o/--output takes a single input; use --output-dir for several".into(),
                ));
            }
            (Some(p), false, _) if p == Path::new("-") => Target::Stdout,
            (Some(p), false, _) => Target::Path(p.clone()),
            (None, _, Some(dir)) => Target::Dir(dir.clone()),
            (None, true, None) => Target::Stdout,
            (None, false, None) => Target::Beside,
        })
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Stdout => f.write_str("stdout"),
            Destination::File(p) => write!(f, "{}", p.display()),
            Destination::Object(url) => f.write_str(url),
        }
    }
}

/// One input, checked against the file system.
pub(crate) struct JobPlan {
    pub input: Input,
    pub destination: Destination,
    /// The encoded gzip header.
    pub header: Vec<u8>,
    /// What a journal must match for --resume; None when the job cannot be resumed
    /// (stdin, a pipe, output to stdout).
    pub identity: Option<JobIdentity>,
    /// Pull mode: the input as workers find it.
    pub shared: Option<Arc<SharedFile>>,
    /// `--index`: where this output's index goes.
    pub index: Option<PathBuf>,
    /// What gzip warns about and goes on (a time out of the header's range).
    pub warning: Option<Error>,
}

impl Plan {
    pub fn new(args: &CompressArgs) -> Result<Plan, Error> {
        let inputs = if args.files.is_empty() {
            vec![PathBuf::from("-")]
        } else {
            args.files.clone()
        };
        let target = Target::of(args, inputs.len())?;
        let encoding = Encoding::of(args)?;
        let index = index_of(args, &encoding, inputs.len())?;
        let (fleet, shared_root) = fleet_of(args)?;
        Ok(Plan {
            inputs,
            recursive: args.recursive,
            encoding,
            target,
            store_name: !args.no_name,
            force: args.force,
            suffix: args.suffix().to_string(),
            remove_input: args.rm,
            resume: args.resume,
            sync_interval: args.sync_interval,
            fleet,
            dispatch: DispatchConfig {
                max_attempts: args.max_attempts,
                wait_workers: args.wait_workers,
                verify: args.verify,
            },
            stats_json: args.stats_json.clone(),
            pull: args.pull,
            shared_root,
            index,
        })
    }

    /// Checks one input and decides where its output goes: refuses what gzip would
    /// refuse, before any output exists.
    pub fn job(&self, named: &Named) -> Result<JobPlan, Error> {
        let renames = matches!(self.target, Target::Beside | Target::Dir(_));
        let input = match Input::open(&named.path, self.force, renames, &self.suffix) {
            // gzip -r passes .gz files over silently (said with -v).
            Err(Error::Unchanged(why)) if self.recursive => return Err(Error::PassedOver(why)),
            other => other?,
        };
        let destination = self.destination(&input, &named.below)?;
        let shared = match (self.pull, &input, &self.shared_root) {
            (false, ..) => None,
            (true, Input::Object { object, version }, _) => {
                Some(SharedFile::object(object, version))
            }
            (true, Input::File { path, meta, .. }, Some(root)) => Some(root.file(path, meta)?),
            (true, Input::File { path, .. }, None) => {
                return Err(Error::Usage(format!(
                    "{}: --pull reads files below --shared-root DIR; name it",
                    path.display()
                )));
            }
            (true, Input::Stdin, _) => {
                return Err(Error::Usage(
                    "stdin cannot be pulled: workers read files; drop --pull".into(),
                ));
            }
        };
        let header = self.header(&input).encode();
        let warning = self.time_warning(&input);
        let identity = match (&input, &destination) {
            // Only a regular file can be read again from the middle.
            (Input::File { path, meta, .. }, Destination::File(_)) if meta.is_file() => {
                Some(JobIdentity {
                    engine: self.encoding.engine.id().to_string(),
                    encoding: self.encoding,
                    header: header.clone(),
                    input: fs::canonicalize(path).map_err(|source| Error::Open {
                        path: path.clone(),
                        source,
                    })?,
                    input_size: meta.len(),
                    input_mtime_ns: gzfleet_worker::range::mtime_ns(meta),
                    index_step: self.index.as_ref().map(|i| i.step),
                })
            }
            _ => None,
        };
        let index = self.index_of(&destination)?;
        Ok(JobPlan {
            input,
            destination,
            header,
            identity,
            shared,
            index,
            warning,
        })
    }

    /// gzip's warning for a file whose time MTIME cannot hold (stored as 0): before
    /// 1970, exactly at the epoch (0 means "none"), or past 2106-02-07 06:28:15 UTC.
    fn time_warning(&self, input: &Input) -> Option<Error> {
        match input {
            Input::File { path, meta, .. }
                if self.store_name && meta.modified().ok().and_then(gzip_time).is_none() =>
            {
                Some(Error::TimeOutOfRange(Place::Path(path.clone())))
            }
            _ => None,
        }
    }

    /// Where the index of an output going to `destination` goes: `--index-file`, or
    /// beside a file as gztool names it. Stdout and objects have no "beside".
    fn index_of(&self, destination: &Destination) -> Result<Option<PathBuf>, Error> {
        let Some(plan) = &self.index else {
            return Ok(None);
        };
        let path = match (&plan.file, destination) {
            (Some(path), _) => path.clone(),
            (None, Destination::File(gz)) => index_path(gz),
            (None, Destination::Stdout) => {
                return Err(Error::Usage(
                    "--index with output to stdout needs --index-file PATH to name the index"
                        .into(),
                ));
            }
            (None, Destination::Object(url)) => {
                return Err(Error::Usage(format!(
                    "{url}: an index is not written beside an object; name a local one with --index-file PATH"
                )));
            }
        };
        if !self.force && fs::symlink_metadata(&path).is_ok() {
            return Err(Error::Exists(path));
        }
        Ok(Some(path))
    }

    fn header(&self, input: &Input) -> Header {
        let level = self.encoding.level;
        match input {
            Input::Object { object, version } if self.store_name => Header {
                name: object.name().map(String::into_bytes),
                mtime: u32::try_from(version.modified).unwrap_or(0),
                level,
            },
            Input::File { path, meta, .. } if self.store_name => Header {
                name: path.file_name().map(|n| n.as_encoded_bytes().to_vec()),
                mtime: meta.modified().ok().and_then(gzip_time).unwrap_or(0),
                level,
            },
            _ => Header {
                name: None,
                mtime: 0,
                level,
            },
        }
    }

    fn destination(&self, input: &Input, below: &Path) -> Result<Destination, Error> {
        let target = match (&self.target, input) {
            (Target::Stdout, _) | (Target::Beside, Input::Stdin) => None,
            (Target::Path(p), _) => Some(p.clone()),
            (Target::Beside, Input::File { path, .. }) => Some(with_suffix(path, &self.suffix)),
            (Target::Beside, Input::Object { object, .. }) => {
                return self.object_destination(format!("{}{}", object.url, self.suffix));
            }
            (Target::Dir(_), Input::Stdin) => {
                return Err(Error::Usage(
                    "stdin has no name to write under --output-dir; use -c or -o".into(),
                ));
            }
            (Target::Dir(dir), Input::File { .. } | Input::Object { .. }) => {
                let target = with_suffix(&dir.join(below), &self.suffix);
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(|source| Error::Write {
                        output: Place::Path(parent.to_path_buf()),
                        source,
                    })?;
                }
                Some(target)
            }
        };
        if let Some(url) = target
            .as_ref()
            .and_then(|t| t.to_str())
            .filter(|t| is_object(t))
        {
            return self.object_destination(url.to_string());
        }
        let Some(target) = target else {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() && !self.force {
                return Err(Error::Usage(
                    "compressed data not written to a terminal. Use -f to force compression."
                        .into(),
                ));
            }
            return Ok(Destination::Stdout);
        };
        if let Input::File { path, meta, .. } = input
            && let Ok(out_meta) = fs::metadata(&target)
            && out_meta.dev() == meta.dev()
            && out_meta.ino() == meta.ino()
        {
            return Err(Error::Usage(format!(
                "{} is both the input and the output",
                path.display()
            )));
        }
        // --resume continues a partial output, but never replaces a finished one: an
        // existing output needs -f whether or not a partial one is waiting.
        if !self.force && fs::symlink_metadata(&target).is_ok() {
            return Err(Error::Exists(target));
        }
        Ok(Destination::File(target))
    }

    /// An object to write; one that exists needs -f, as a file would.
    fn object_destination(&self, url: String) -> Result<Destination, Error> {
        if !self.force {
            let object = Object::open(&url)?;
            if block_on(object.version()).is_ok() {
                return Err(Error::Exists(PathBuf::from(url)));
            }
        }
        Ok(Destination::Object(url))
    }
}

/// `--index`, `--index-file` and `--index-span`, checked against each other.
fn index_of(
    args: &CompressArgs,
    encoding: &Encoding,
    inputs: usize,
) -> Result<Option<IndexPlan>, Error> {
    let span = args
        .index_span
        .unwrap_or_else(|| default_span(encoding.independent));
    let index = (args.index || args.index_file.is_some()).then(|| IndexPlan {
        step: step(span, args.block_size),
        file: args.index_file.clone(),
    });
    if index.is_none() && args.index_span.is_some() {
        return Err(Error::Usage(
            "--index-span needs --index (or --index-file)".into(),
        ));
    }
    if index.as_ref().is_some_and(|i| i.file.is_some()) && (inputs > 1 || args.recursive) {
        return Err(Error::Usage(
                "--index-file names one index: for several inputs use --index (each gets its own beside its output)".into(),
            ));
    }
    Ok(index)
}

/// Who compresses (the embedded pool, or the workers named with their credentials),
/// and `--shared-root` for pull mode.
fn fleet_of(args: &CompressArgs) -> Result<(FleetPlan, Option<SharedRoot>), Error> {
    let discovery =
        Discovery::new(&args.workers, args.workers_file.clone()).map_err(Error::Usage)?;
    if args.pull && discovery.is_empty() {
        return Err(Error::Usage(
            "--pull needs workers to read the inputs: name them with --workers".into(),
        ));
    }
    let shared_root = args
        .shared_root
        .as_deref()
        .map(SharedRoot::new)
        .transpose()?;
    let fleet = match discovery.is_empty() {
        true => FleetPlan::Local {
            threads: args.processes.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                |p| p as usize,
            ),
        },
        false => FleetPlan::Remote {
            discovery,
            credentials: Box::new(
                Credentials::load(&args.credential_files()).map_err(Error::Usage)?,
            ),
        },
    };
    Ok((fleet, shared_root))
}

/// A time as gzip's MTIME holds it: whole seconds from 1 to 2^32 - 1.
fn gzip_time(t: std::time::SystemTime) -> Option<u32> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    u32::try_from(secs).ok().filter(|&s| s > 0)
}
