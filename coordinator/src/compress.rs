//! `gzfleet compress`: for each input, decide where its output goes, refuse what gzip
//! would refuse, set up a fresh or resumed output, run the job, and finish the file
//! (trailer, rename, --rm, summary).

use std::fs::{self, File};
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use bytes::Bytes;
use gzfleet_worker::engine::{MAX_DICTIONARY, engine_id};
use tokio::runtime::Runtime;

use crate::backend::JobParams;
use crate::cli::CompressArgs;
use crate::crc::StreamCrc;
use crate::discovery::Discovery;
use crate::error::{Error, at};
use crate::fleet::Fleet;
use crate::gzip::{self, Header};
use crate::job::{self, Start};
use crate::journal::{JobIdentity, Journal};
use crate::output::{Output, journal_path, partial_path};
use crate::progress::Progress;
use crate::scheduler::SchedulerConfig;
use crate::signals;
use crate::stats::{JobReport, WorkerReport};

/// How a run over its inputs ended.
pub struct Outcome {
    pub failures: usize,
    /// Stopped by SIGINT/SIGTERM (exit status 130).
    pub interrupted: bool,
}

pub fn run(args: &CompressArgs) -> Result<Outcome, Error> {
    let inputs: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    if args.output.is_some() && inputs.len() > 1 {
        return Err(Error::Usage("-o/--output takes a single input".into()));
    }
    if args.output.is_some() && args.stdout {
        return Err(Error::Usage(
            "-c/--stdout and -o/--output cannot be used together".into(),
        ));
    }
    signals::install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Setup(format!("cannot start the async runtime: {e}")))?;
    let discovery =
        Discovery::new(&args.workers, args.workers_file.clone()).map_err(Error::Usage)?;
    let mut fleet = if discovery.is_empty() {
        let threads = args.processes.map(|p| p as usize).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        Fleet::local(threads, args.block_size)?
    } else {
        runtime.block_on(Fleet::connect(discovery, args.block_size))?
    };
    if args.verbose > 0 && fleet.is_remote() {
        for m in &fleet.members {
            eprintln!("gzfleet: worker {}: {}", m.name(), m.status());
        }
    }

    let mut reports = Vec::new();
    let mut failures = 0;
    let mut interrupted = false;
    for input in &inputs {
        if signals::interrupted() {
            interrupted = true;
            break;
        }
        fleet.reset_stats();
        match compress_one(args, &runtime, &mut fleet, input) {
            Ok(report) => {
                if args.verbose > 0 {
                    eprintln!("gzfleet: {}", report.summary());
                }
                reports.push(report);
            }
            Err(e) => {
                eprintln!("gzfleet: {e}");
                failures += 1;
            }
        }
    }
    write_stats(args, &reports)?;
    Ok(Outcome {
        failures,
        interrupted: interrupted || signals::interrupted(),
    })
}

fn write_stats(args: &CompressArgs, reports: &[JobReport]) -> Result<(), Error> {
    let Some(path) = &args.stats_json else {
        return Ok(());
    };
    let jobs: Vec<String> = reports.iter().map(JobReport::to_json).collect();
    fs::write(path, format!("{{\"jobs\":[{}]}}\n", jobs.join(",")))
        .map_err(|e| Error::Output(at(path, &e)))
}

enum Source {
    Stdin,
    File { path: PathBuf, meta: fs::Metadata },
}

enum Destination {
    Stdout,
    File(PathBuf),
}

fn compress_one(
    args: &CompressArgs,
    runtime: &Runtime,
    fleet: &mut Fleet,
    input: &Path,
) -> Result<JobReport, Error> {
    let started = Instant::now();
    let source = open_source(args, input)?;
    let destination = destination(args, &source)?;
    let level = args.level();
    let header = match (&source, args.no_name) {
        (Source::File { path, meta }, false) => Header {
            name: path.file_name().map(|n| n.as_encoded_bytes().to_vec()),
            mtime: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| u32::try_from(d.as_secs()).ok())
                .unwrap_or(0),
            level,
        },
        _ => Header {
            name: None,
            mtime: 0,
            level,
        },
    };
    let header_bytes = header.encode();
    let params = Arc::new(JobParams {
        job_id: format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ),
        level,
        independent: args.independent,
        block: args.block_size,
        verify: args.verify,
    });

    // Opened before any output exists, so an unreadable input leaves nothing behind.
    let mut file = match &source {
        Source::Stdin => None,
        Source::File { path, .. } => {
            Some(File::open(path).map_err(|e| Error::Input(at(path, &e)))?)
        }
    };
    let (mut output, start) = match (&source, &destination) {
        // Only a regular file can be read again from the middle: pipes and devices
        // are compressed like stdin.
        (Source::File { path, meta }, Destination::File(target)) if meta.is_file() => {
            let identity = JobIdentity {
                engine: engine_id().to_string(),
                level,
                block: args.block_size,
                independent: args.independent,
                header: header_bytes.clone(),
                input: fs::canonicalize(path).map_err(|e| Error::Input(at(path, &e)))?,
                input_size: meta.len(),
                input_mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            };
            let resumed = if args.resume {
                resume_point(args, path, target, &identity)?
            } else {
                None
            };
            match resumed {
                Some((journal, start)) => {
                    if let Some(f) = &mut file {
                        f.seek(SeekFrom::Start(start.offset))
                            .map_err(|e| Error::Input(at(path, &e)))?;
                    }
                    (
                        Output::resume_file(target, journal, args.sync_interval)?,
                        start,
                    )
                }
                None => {
                    let mut out = Output::create_file(
                        target,
                        Some(identity),
                        args.sync_interval,
                        args.force || args.resume,
                    )?;
                    out.write(&header_bytes)?;
                    (out, Start::default())
                }
            }
        }
        _ if args.resume => {
            return Err(Error::Resume(match (&source, &destination) {
                (Source::File { .. }, Destination::Stdout) => {
                    "output to stdout cannot be resumed; write to a file (drop -c)".into()
                }
                (Source::File { path, .. }, _) => format!(
                    "{} is not a regular file: what was read cannot be read again",
                    path.display()
                ),
                (Source::Stdin, _) => "stdin cannot be resumed: nothing records what was already read; compress a file to resume it".into(),
            }));
        }
        _ => {
            let mut out = match &destination {
                Destination::Stdout => Output::stdout(),
                Destination::File(target) => {
                    Output::create_file(target, None, args.sync_interval, args.force)?
                }
            };
            out.write(&header_bytes)?;
            (out, Start::default())
        }
    };

    let total = match &source {
        Source::File { meta, .. } => Some(meta.len()),
        Source::Stdin => None,
    };
    let progress = Progress::new(total, args.quiet);
    progress.inc(start.offset);
    let config = SchedulerConfig {
        max_attempts: args.max_attempts,
        wait_workers: args.wait_workers,
        verbose: args.verbose > 1,
    };
    let resumed_chunks = start.index;
    let reader: Box<dyn Read + Send> = match file {
        Some(f) => Box::new(f),
        None => Box::new(std::io::stdin()),
    };
    let finished = job::run(
        runtime,
        fleet,
        params,
        &config,
        reader,
        start,
        &mut output,
        &progress,
    );
    progress.finish();
    let finished = match finished {
        Ok(f) => f,
        Err(e) => {
            let e = match e {
                Error::Input(why) => Error::Input(format!("{}: {why}", display_name(&source))),
                e => e,
            };
            // A read error hours into a job may pass (NFS, a flaky disk): progress
            // already durable is kept too. A run that committed nothing keeps nothing.
            let keep = (e.resumable() || matches!(e, Error::Input(_)))
                && matches!(&source, Source::File { meta, .. } if meta.is_file());
            return Err(match output.abandon(keep) {
                Some(partial) => Error::Fatal(format!(
                    "{e}; partial output kept in {}: run the same command with --resume to continue",
                    partial.display()
                )),
                None => e,
            });
        }
    };
    let like = match &source {
        Source::File { meta, .. } => Some(meta),
        Source::Stdin => None,
    };
    let output_bytes = output.finish(&gzip::trailer(finished.crc.crc, finished.crc.len), like)?;
    if let (true, Source::File { path, .. }, Destination::File(_)) =
        (args.rm, &source, &destination)
    {
        fs::remove_file(path).map_err(|e| {
            Error::Input(format!(
                "output complete, but cannot remove input {}",
                at(path, &e)
            ))
        })?;
    }
    Ok(JobReport {
        input: display_name(&source),
        output: match &destination {
            Destination::Stdout => "stdout".into(),
            Destination::File(p) => p.display().to_string(),
        },
        input_bytes: finished.crc.len,
        output_bytes,
        chunks: finished.chunks,
        wall: started.elapsed(),
        resumed_chunks,
        scheduler: finished.stats,
        workers: fleet
            .members
            .iter()
            .map(|m| WorkerReport {
                name: m.name().to_string(),
                slots: m.slots,
                stats: m.stats.clone(),
            })
            .collect(),
    })
}

fn display_name(source: &Source) -> String {
    match source {
        Source::Stdin => "stdin".into(),
        Source::File { path, .. } => path.display().to_string(),
    }
}

fn open_source(args: &CompressArgs, input: &Path) -> Result<Source, Error> {
    if input == Path::new("-") {
        return Ok(Source::Stdin);
    }
    let meta = fs::metadata(input).map_err(|e| Error::Input(at(input, &e)))?;
    if meta.is_dir() {
        return Err(Error::Input(format!(
            "{} is a directory -- ignored",
            input.display()
        )));
    }
    if !meta.is_file() && !args.force {
        return Err(Error::Input(format!(
            "{} is not a regular file -- ignored (use -f to read it anyway)",
            input.display()
        )));
    }
    let writes_beside = !args.stdout && args.output.is_none();
    if writes_beside && !args.force && input.extension().is_some_and(|e| e == "gz") {
        return Err(Error::Input(format!(
            "{} already has .gz suffix -- unchanged (use -f to compress it again)",
            input.display()
        )));
    }
    Ok(Source::File {
        path: input.to_path_buf(),
        meta,
    })
}

fn destination(args: &CompressArgs, source: &Source) -> Result<Destination, Error> {
    let target = match (&args.output, source) {
        (Some(p), _) if p == Path::new("-") => None,
        (Some(p), _) => Some(p.clone()),
        (None, _) if args.stdout => None,
        (None, Source::Stdin) => None,
        (None, Source::File { path, .. }) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".gz");
            Some(PathBuf::from(name))
        }
    };
    let Some(target) = target else {
        if std::io::stdout().is_terminal() && !args.force {
            return Err(Error::Usage(
                "compressed data not written to a terminal; redirect stdout, or use -f to force"
                    .into(),
            ));
        }
        return Ok(Destination::Stdout);
    };
    if let Source::File { path, meta } = source
        && let Ok(out_meta) = fs::metadata(&target)
        && out_meta.dev() == meta.dev()
        && out_meta.ino() == meta.ino()
    {
        return Err(Error::Usage(format!(
            "{} is both the input and the output",
            path.display()
        )));
    }
    let resuming = args.resume && partial_path(&target).exists();
    if !args.force && !resuming && fs::symlink_metadata(&target).is_ok() {
        return Err(Error::Output(format!(
            "{} already exists; use -f to overwrite",
            target.display()
        )));
    }
    Ok(Destination::File(target))
}

/// With --resume: the interrupted run's journal and where to continue, or None to
/// start from the beginning (nothing durable was left).
fn resume_point(
    args: &CompressArgs,
    input: &Path,
    target: &Path,
    identity: &JobIdentity,
) -> Result<Option<(Journal, Start)>, Error> {
    let journal_file = journal_path(target);
    if !journal_file.exists() {
        if args.verbose > 0 {
            eprintln!(
                "gzfleet: {}: nothing to resume; starting from the beginning",
                input.display()
            );
        }
        return Ok(None);
    }
    let journal = Journal::read(&journal_file).map_err(Error::Resume)?;
    if let Some(why) = journal.mismatch(identity) {
        return Err(Error::Resume(format!(
            "{why}; to start over instead, run without --resume and with -f"
        )));
    }
    let d = journal.durable;
    if d.chunks == 0 {
        return Ok(None);
    }
    // A journal is only ever written whole, but it is still a file anyone can edit:
    // refuse numbers that cannot describe this job rather than trust them.
    if d.last_chunk_len == 0
        || d.last_chunk_len > identity.block
        || d.input_bytes > identity.input_size
        || d.last_chunk_len > d.input_bytes
    {
        return Err(Error::Resume(format!(
            "{} is inconsistent; to start over, run without --resume and with -f",
            journal_file.display()
        )));
    }
    // The prefix must still be what was compressed: check the last committed chunk.
    let last_start = d.input_bytes - d.last_chunk_len;
    let mut file = File::open(input).map_err(|e| Error::Input(at(input, &e)))?;
    let mut last = vec![0u8; d.last_chunk_len as usize];
    file.seek(SeekFrom::Start(last_start))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(|e| Error::Input(at(input, &e)))?;
    if crc32fast::hash(&last) != d.last_chunk_crc {
        return Err(Error::Resume(format!(
            "{} changed since the interrupted run (bytes {last_start}..{} differ); to start over, run without --resume and with -f",
            input.display(),
            d.input_bytes
        )));
    }
    let dictionary = if args.independent {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(&last[last.len().saturating_sub(MAX_DICTIONARY)..])
    };
    let start = Start {
        index: d.chunks,
        offset: d.input_bytes,
        dictionary,
        crc: StreamCrc {
            crc: d.crc,
            len: d.input_bytes,
        },
    };
    if args.verbose > 0 {
        eprintln!(
            "gzfleet: {}: resuming after chunk {} ({} bytes done)",
            input.display(),
            d.chunks,
            d.input_bytes
        );
    }
    Ok(Some((journal, start)))
}
