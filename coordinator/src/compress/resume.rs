//! Where a job starts: a fresh output (header written), or with --resume the point an
//! interrupted run's output was last durable, after checking that its journal, its
//! partial file and the input still describe the same job.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;
use gzfleet_worker::engine::MAX_DICTIONARY;

use super::index_out::IndexOut;
use super::journal::{JobIdentity, Journal};
use super::output::{Output, journal_path, partial_path};
use super::plan::{Destination, JobPlan, Plan};
use crate::error::{Error, Place};
use crate::gzip::StreamCrc;
use crate::ui::Ui;

/// Where a job starts: the beginning, or where an interrupted run's output was
/// last durable.
#[derive(Debug, Clone, Default)]
pub(crate) struct Start {
    pub index: u64,
    pub offset: u64,
    /// The 32 KiB before `offset` (empty at the beginning and in independent mode).
    pub dictionary: Bytes,
    pub crc: StreamCrc,
}

/// What --resume found beside the target.
enum Found {
    Continue(Box<Journal>, Start),
    /// Start over; `ours` when what is there is our own leftover holding nothing
    /// durable, which may be replaced without -f.
    Nothing {
        ours: bool,
    },
}

/// Opens the job's output (and its index) and says where compression starts.
pub(crate) fn prepare(plan: &Plan, job: &JobPlan, ui: &Ui) -> Result<(Output, Start), Error> {
    let new_index = |force: bool| {
        job.index
            .as_deref()
            .map(|path| IndexOut::create(path, force))
            .transpose()
    };
    let target = match (&job.destination, &job.identity) {
        (Destination::File(target), Some(identity)) => {
            if plan.resume {
                match resume_point(plan, job, target, identity, ui)? {
                    Found::Continue(journal, start) => {
                        let index = resumed_index(job, &journal)?;
                        let output =
                            Output::resume_file(target, *journal, plan.sync_interval, index)?;
                        return Ok((output, start));
                    }
                    Found::Nothing { ours } => {
                        let force = plan.force || ours;
                        let out = Output::create_file(
                            target,
                            Some(identity.clone()),
                            plan.sync_interval,
                            force,
                            new_index(force)?,
                        )?;
                        return with_header(out, &job.header);
                    }
                }
            }
            target
        }
        _ if plan.resume => return Err(Error::Resume(why_not_resumable(job))),
        (Destination::Stdout, _) => {
            let out = Output::stdout(&job.header).with_index(new_index(plan.force)?);
            return Ok((out, Start::default()));
        }
        (Destination::Object(url), _) => {
            let out = Output::object(url)?.with_index(new_index(plan.force)?);
            return with_header(out, &job.header);
        }
        (Destination::File(target), None) => target,
    };
    let out = Output::create_file(
        target,
        job.identity.clone(),
        plan.sync_interval,
        plan.force,
        new_index(plan.force)?,
    )?;
    with_header(out, &job.header)
}

/// The interrupted run's partial index, cut back to the journal's durable point.
fn resumed_index(job: &JobPlan, journal: &Journal) -> Result<Option<IndexOut>, Error> {
    let Some(path) = &job.index else {
        return Ok(None);
    };
    let Some(mark) = journal.durable.index else {
        return Err(Error::Resume(format!(
            "the journal records no index to continue {}; to start over, run without --resume and with -f",
            path.display()
        )));
    };
    IndexOut::resume(path, mark).map(Some)
}

fn with_header(mut out: Output, header: &[u8]) -> Result<(Output, Start), Error> {
    out.write(header)?;
    Ok((out, Start::default()))
}

fn why_not_resumable(job: &JobPlan) -> String {
    match (&job.input.place(), &job.destination) {
        (_, Destination::Object(_)) => "an object output cannot be resumed: an unfinished upload is aborted, not kept; run without --resume".into(),
        (Place::Url(url), _) => format!("{url} is an object: resuming reads the input again, which objects do not support here; run without --resume"),
        (Place::Stdin, _) => "stdin cannot be resumed: nothing records what was already read; compress a file to resume it".into(),
        (_, Destination::Stdout) => {
            "output to stdout cannot be resumed; write to a file (drop -c)".into()
        }
        (input, _) => format!("{input} is not a regular file: what was read cannot be read again"),
    }
}

/// With --resume: the interrupted run's journal and where to continue, or why to
/// start from the beginning.
fn resume_point(
    plan: &Plan,
    job: &JobPlan,
    target: &Path,
    identity: &JobIdentity,
    ui: &Ui,
) -> Result<Found, Error> {
    let (journal_file, partial) = (journal_path(target), partial_path(target));
    let input = job.input.place();
    if !journal_file.exists() {
        if partial.exists() && !plan.force {
            return Err(Error::Resume(format!(
                "{} has no journal ({}) to continue from; start over with -f",
                partial.display(),
                journal_file.display()
            )));
        }
        ui.info(format!(
            "{input}: nothing to resume; starting from the beginning"
        ));
        return Ok(Found::Nothing { ours: false });
    }
    let journal = Journal::read(&journal_file)?;
    if let Some(why) = journal.mismatch(identity) {
        return Err(Error::Resume(format!(
            "{why}; to start over instead, run without --resume and with -f"
        )));
    }
    if !partial.exists() {
        ui.notice(format!(
            "{input}: the partial output {} is gone; starting from the beginning",
            partial.display()
        ));
        return Ok(Found::Nothing { ours: true });
    }
    if journal.durable.chunks == 0 {
        return Ok(Found::Nothing { ours: true });
    }
    continue_from(journal, identity, &input, &journal_file, ui)
}

/// The point a journal that matches this job records, once the input's prefix is
/// checked to still be what was compressed.
fn continue_from(
    journal: Journal,
    identity: &JobIdentity,
    input: &Place,
    journal_file: &Path,
    ui: &Ui,
) -> Result<Found, Error> {
    let d = journal.durable;
    // A journal is only ever written whole, but it is still a file anyone can edit:
    // refuse numbers that cannot describe this job rather than trust them.
    if d.last_chunk_len == 0
        || d.last_chunk_len > identity.encoding.block
        || d.input_bytes > identity.input_size
        || d.last_chunk_len > d.input_bytes
    {
        return Err(Error::Resume(format!(
            "{} is inconsistent; to start over, run without --resume and with -f",
            journal_file.display()
        )));
    }
    let last_start = d.input_bytes - d.last_chunk_len;
    let last = last_chunk(&identity.input, last_start, d.last_chunk_len)?;
    if crc32fast::hash(&last) != d.last_chunk_crc {
        return Err(Error::Resume(format!(
            "{input} changed since the interrupted run (bytes {last_start}..{} differ); to start over, run without --resume and with -f",
            d.input_bytes
        )));
    }
    let dictionary = if identity.encoding.independent {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(&last[last.len().saturating_sub(MAX_DICTIONARY)..])
    };
    ui.info(format!(
        "{input}: resuming after chunk {} ({} bytes done)",
        d.chunks, d.input_bytes
    ));
    let start = Start {
        index: d.chunks,
        offset: d.input_bytes,
        dictionary,
        crc: StreamCrc {
            crc: d.crc,
            len: d.input_bytes,
        },
    };
    Ok(Found::Continue(Box::new(journal), start))
}

/// The last chunk the interrupted run committed, read again from the input: the
/// prefix must still be what was compressed.
fn last_chunk(input: &Path, start: u64, len: u64) -> Result<Vec<u8>, Error> {
    let read_error = |source| Error::Read {
        input: Place::Path(input.to_path_buf()),
        source,
    };
    let mut file = File::open(input).map_err(read_error)?;
    let mut last = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_exact(&mut last))
        .map_err(read_error)?;
    Ok(last)
}
