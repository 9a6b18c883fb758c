//! Where compressed bytes go: stdout, or a partial file (see `partial.rs`) with its
//! resume journal beside it. Every `--sync-interval` the file is fsynced and then the
//! journal records how far it is durable: never the other way round. An index
//! (`--index`, see `index_out.rs`) goes along: points pushed as chunks are written,
//! made durable with the file, finished before it and renamed into place after it;
//! kept with it when the file is kept for `--resume`. A file put in place takes the
//! place of any index that described what was there before; so does stdout or an
//! object, at the moments [`IndexOut::remove_old`] argues.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::index_out::{IndexOut, index_path};
use super::journal::{Durable, JobIdentity, Journal};
use super::objects::ObjectOutput;
use crate::error::{Error, Place};
use crate::fleet::segments::Fragments;
use crate::gzip::StreamCrc;
use crate::partial::{PartialFile, with_suffix};

/// Suffix of the journal beside a partial output.
pub(crate) const JOURNAL_SUFFIX: &str = ".gzfleet-journal";

pub(crate) fn journal_path(target: &Path) -> PathBuf {
    with_suffix(target, JOURNAL_SUFFIX)
}

pub(crate) use crate::partial::partial_path;

/// Compressed output: stdout, a partial file with its resume journal, or an object.
pub(crate) enum Output {
    /// Several inputs may go to stdout one after another, each set up before the one
    /// before it is written: the header waits (`pending`) until this one's turn.
    Stdout {
        written: u64,
        pending: Vec<u8>,
        index: Option<IndexOut>,
    },
    File(Box<JournaledFile>),
    Object(Box<ObjectOutput>, Option<IndexOut>),
}

/// Where an index point goes: the chunk about to be written starts at `offset` in the
/// input, and `window` is the input before it.
pub(crate) struct PointAt<'a> {
    pub offset: u64,
    pub window: &'a [u8],
}

/// A partial file and its journal. Dropped before it was finished or abandoned (a run
/// that ended while this file waited its turn), it abandons itself: nothing
/// half-written is left looking like anything but what it is.
pub(crate) struct JournaledFile {
    /// None once committed or abandoned.
    file: Option<PartialFile>,
    /// None when the job cannot be resumed anyway (the input cannot be read again).
    journal: Option<Journal>,
    journal_path: PathBuf,
    sync_every: Duration,
    last_sync: Instant,
    pending: Durable,
    index: Option<IndexOut>,
}

impl Output {
    /// Stdout, to start with `header` once something is written.
    pub fn stdout(header: &[u8]) -> Self {
        Output::Stdout {
            written: 0,
            pending: header.to_vec(),
            index: None,
        }
    }

    /// Writes `index` along with this output (a file's is set up by its constructors).
    pub fn with_index(mut self, index: Option<IndexOut>) -> Self {
        match &mut self {
            Output::Stdout { index: slot, .. } | Output::Object(_, slot) => *slot = index,
            Output::File(f) => f.index = index,
        }
        self
    }

    fn index(&mut self) -> Option<&mut IndexOut> {
        match self {
            Output::Stdout { index, .. } | Output::Object(_, index) => index.as_mut(),
            Output::File(f) => f.index.as_mut(),
        }
    }

    /// Bytes written so far, header included: where the next byte goes.
    fn position(&mut self) -> u64 {
        match self {
            Output::Stdout {
                written, pending, ..
            } => *written + pending.len() as u64,
            Output::File(f) => f.open().written(),
            Output::Object(o, _) => o.written(),
        }
    }

    /// An object, as a multipart upload.
    pub fn object(url: &str) -> Result<Self, Error> {
        Ok(Output::Object(Box::new(ObjectOutput::create(url)?), None))
    }

    /// A new partial file plus, for a resumable job, a journal saying nothing is
    /// durable yet. With `force`, an interrupted run's partial file and journal go.
    pub fn create_file(
        target: &Path,
        identity: Option<JobIdentity>,
        sync_every: Duration,
        force: bool,
        index: Option<IndexOut>,
    ) -> Result<Self, Error> {
        let journal_path = journal_path(target);
        if force {
            let _ = fs::remove_file(&journal_path);
        }
        let file = PartialFile::create(target, force)?;
        let journal = identity.map(|identity| Journal {
            identity,
            durable: Durable::default(),
        });
        if let Some(j) = &journal
            && let Err(source) = j.write(&journal_path)
        {
            file.discard();
            return Err(Error::Write {
                output: Place::Path(journal_path),
                source,
            });
        }
        Ok(Output::File(Box::new(JournaledFile {
            file: Some(file),
            journal_path,
            journal,
            sync_every,
            last_sync: Instant::now(),
            pending: Durable::default(),
            index,
        })))
    }

    /// An interrupted run's partial file, cut back to the journal's durable point.
    pub fn resume_file(
        target: &Path,
        journal: Journal,
        sync_every: Duration,
        index: Option<IndexOut>,
    ) -> Result<Self, Error> {
        let file = PartialFile::reopen(target, journal.durable.output_bytes)?;
        Ok(Output::File(Box::new(JournaledFile {
            file: Some(file),
            journal_path: journal_path(target),
            pending: journal.durable,
            journal: Some(journal),
            sync_every,
            last_sync: Instant::now(),
            index,
        })))
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Output::Stdout {
                written,
                pending,
                index,
            } => {
                if *written == 0
                    && let Some(index) = index
                {
                    index.remove_old()?;
                }
                let mut out = io::stdout().lock();
                let header = std::mem::take(pending);
                out.write_all(&header)
                    .and_then(|()| out.write_all(bytes))
                    .map_err(|source| Error::Write {
                        output: Place::Stdout,
                        source,
                    })?;
                *written += (header.len() + bytes.len()) as u64;
                Ok(())
            }
            Output::File(f) => f.open().write_bytes(bytes),
            Output::Object(o, _) => o.write(bytes),
        }
    }

    /// Writes one chunk's deflate data; `stream` covers the input up to its end. A
    /// chunk that starts an index point comes with `point`.
    pub fn write_chunk(
        &mut self,
        deflate: &[u8],
        chunk_crc: u32,
        chunk_len: u64,
        stream: StreamCrc,
        point: Option<PointAt<'_>>,
    ) -> Result<(), Error> {
        if let Some(p) = point {
            let at = self.position();
            if let Some(index) = self.index() {
                index.push(at, p.offset, p.window)?;
            }
        }
        self.write(deflate)?;
        if let Output::File(f) = self {
            f.pending = Durable {
                chunks: f.pending.chunks + 1,
                input_bytes: stream.len,
                crc: stream.crc,
                output_bytes: f.open().written(),
                last_chunk_crc: chunk_crc,
                last_chunk_len: chunk_len,
                index: f.index.as_ref().map(IndexOut::mark),
            };
            if f.last_sync.elapsed() >= f.sync_every {
                f.make_durable()?;
            }
        }
        Ok(())
    }

    /// `--index`: a point at output byte `at` and input byte `offset`, with `window`.
    pub fn point(&mut self, at: u64, offset: u64, window: &[u8]) -> Result<(), Error> {
        match self.index() {
            Some(index) => index.push(at, offset, window),
            None => Ok(()),
        }
    }

    /// Bytes written so far, header included: where a segment's first byte goes.
    pub fn end(&mut self) -> u64 {
        self.position()
    }

    /// Direct output: a segment of `chunks` chunks, its worker having written it from
    /// `start` to `end` but for its fragments, written here. `stream` covers the input
    /// up to its end; `last` is its last chunk's CRC and length (for the journal).
    pub fn write_segment(
        &mut self,
        start: u64,
        end: u64,
        fragments: &Fragments,
        chunks: u64,
        stream: StreamCrc,
        last: (u32, u64),
    ) -> Result<(), Error> {
        let Output::File(f) = self else {
            return Err(Error::Fatal(
                "internal error: --direct-output writes files only".into(),
            ));
        };
        let file = f.open();
        file.write_at(&fragments.head, start)?;
        file.write_at(&fragments.tail, end - fragments.tail.len() as u64)?;
        file.advance_to(end)?;
        f.pending = Durable {
            chunks: f.pending.chunks + chunks,
            input_bytes: stream.len,
            crc: stream.crc,
            output_bytes: end,
            last_chunk_crc: last.0,
            last_chunk_len: last.1,
            index: f.index.as_ref().map(IndexOut::mark),
        };
        if f.last_sync.elapsed() >= f.sync_every {
            f.make_durable()?;
        }
        Ok(())
    }

    /// Writes the trailer and puts the file in place (removing the journal), then its
    /// index. Returns the bytes written. If that fails, the output is abandoned as for
    /// any failure, its index with it. `input_size` is the input's length (for the
    /// index).
    pub fn finish(
        mut self,
        trailer: &[u8],
        like: Option<&fs::Metadata>,
        input_size: u64,
    ) -> Result<u64, Error> {
        // The trailer first: failing there (a full disk) leaves the index as it was,
        // beside a partial output kept for --resume.
        let at = self.position();
        if let Err(e) = self.write(trailer) {
            return Err(self.abandon(e));
        }
        let sealed = self.index().map_or(Ok(()), |i| i.seal(at, input_size));
        if let Err(e) = sealed {
            return Err(self.abandon(e));
        }
        match self {
            Output::Stdout { written, index, .. } => {
                let stdout_error = |source| Error::Write {
                    output: Place::Stdout,
                    source,
                };
                io::stdout().flush().map_err(stdout_error)?;
                if index.is_some() {
                    sync_stdout().map_err(stdout_error)?;
                }
                index.map_or(Ok(()), IndexOut::commit)?;
                Ok(written)
            }
            Output::File(mut f) => match f.commit(like) {
                Ok(written) => Ok(written),
                Err(e) => Err(Output::File(f).abandon(e)),
            },
            Output::Object(o, index) => {
                let written = o.finish(|| index.as_ref().map_or(Ok(()), IndexOut::remove_old))?;
                index.map_or(Ok(()), IndexOut::commit)?;
                Ok(written)
            }
        }
    }

    /// Ends a failed job. What an interrupted run made durable is kept for --resume,
    /// whatever the failure (a full disk, a fleet gone, Ctrl-C): it may be hours of
    /// work, and what ended this run may pass. Nothing durable: both files go. The
    /// error says which.
    pub fn abandon(self, error: Error) -> Error {
        // An object output is aborted when dropped: nothing of it remains (nor of
        // its index, which removes itself).
        let Output::File(mut f) = self else {
            return error;
        };
        if error.invalidates_progress() {
            f.discard();
            return error;
        }
        match f.abandon() {
            Some(partial) => Error::Kept {
                error: Box::new(error),
                partial,
            },
            None => error,
        }
    }
}

impl JournaledFile {
    fn open(&mut self) -> &mut PartialFile {
        self.file
            .as_mut()
            .expect("an output is written only until it is committed or abandoned")
    }

    /// fsyncs the data, then records it in the journal: never the other way round. The
    /// journal in memory moves on only once the one on disk did.
    fn make_durable(&mut self) -> Result<(), Error> {
        self.last_sync = Instant::now();
        if self.journal.is_none() {
            return Ok(());
        }
        self.open().sync()?;
        if let Some(index) = &mut self.index {
            index.sync()?;
        }
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        let next = Journal {
            durable: self.pending,
            ..journal.clone()
        };
        next.write(&self.journal_path)
            .map_err(|source| Error::Write {
                output: Place::Path(self.journal_path.clone()),
                source,
            })?;
        *journal = next;
        Ok(())
    }

    /// Keeps the partial file and its journal (made current if possible) when they
    /// record durable progress; else removes both. Returns the partial file if kept.
    fn abandon(&mut self) -> Option<PathBuf> {
        // Already committed or abandoned: nothing to decide.
        self.file.as_ref()?;
        if self.pending.chunks > 0 {
            // If this last sync fails, the previous journal still describes a durable
            // prefix of the partial file: keep that instead.
            let _ = self.make_durable();
        }
        let file = self.file.take()?;
        if self.journal.as_ref().is_some_and(|j| j.durable.chunks > 0) {
            if let Some(index) = self.index.take() {
                index.keep();
            }
            return Some(file.path().to_path_buf());
        }
        file.discard();
        let _ = fs::remove_file(&self.journal_path);
        None
    }

    /// Removes the partial file and its journal, whatever they hold.
    fn discard(&mut self) {
        if let Some(file) = self.file.take() {
            file.discard();
            let _ = fs::remove_file(&self.journal_path);
        }
    }

    /// Puts the finished file in place and removes the journal, then puts its sealed
    /// index in place. Any index a reader would take for the new file's is removed as
    /// the file goes in (see [`PartialFile::commit_replacing`] for when): the one
    /// beside it, as readers look for it, whether or not this run writes one there,
    /// and the one this run replaces elsewhere (`--index-file`).
    fn commit(&mut self, like: Option<&fs::Metadata>) -> Result<u64, Error> {
        let mut file = self.file.take().expect("committed once");
        let beside = index_path(file.target());
        let ours = self.index.as_ref().map(|i| i.target().to_path_buf());
        let mut stale = Vec::new();
        // A folder of that name is no index (readers fail to open it, and say so): it
        // stands in the way only of this run's own index, which then fails here, before
        // the output goes in, while the run can still be resumed.
        if ours.as_ref() == Some(&beside) || !is_folder(&beside) {
            stale.push(beside.clone());
        }
        stale.extend(ours.filter(|o| *o != beside));
        match file.commit_replacing(like, None, &stale) {
            Ok(n) => {
                let _ = fs::remove_file(&self.journal_path);
                self.index.take().map_or(Ok(()), IndexOut::commit)?;
                Ok(n)
            }
            // Still under its temporary name, its index sealed beside it: the caller
            // abandons both as for any failure (kept for --resume if durable).
            Err(error) => {
                self.file = Some(file);
                Err(error)
            }
        }
    }
}

impl Drop for JournaledFile {
    fn drop(&mut self) {
        self.abandon();
    }
}

/// Makes what was written to stdout durable when it is a file, before an index that
/// describes it is put in place (fsynced): else a power loss could leave a durable
/// index beside bytes that never reached the disk. A pipe or a terminal has nothing to
/// sync (EINVAL).
fn sync_stdout() -> io::Result<()> {
    // SAFETY: fdatasync on descriptor 1 touches no memory; a closed descriptor is EBADF.
    match unsafe { libc::fdatasync(1) } {
        0 => Ok(()),
        _ => match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
            e => Err(e),
        },
    }
}

/// Whether `path` is a folder (not followed: a link is a file to remove).
pub(crate) fn is_folder(path: &std::path::Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
