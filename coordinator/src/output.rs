//! Where compressed (or decompressed) bytes go, and the rule that nothing half-written
//! looks finished: file output is written under a temporary name beside the target and
//! renamed into place only after everything is written and fsynced. Compression output
//! also keeps a resume journal beside it (see `journal.rs`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::crc::StreamCrc;
use crate::error::{Error, at};
use crate::journal::{Durable, JobIdentity, Journal};

/// Suffixes of the temporary output and of its journal.
pub const PARTIAL_SUFFIX: &str = ".gzfleet-partial";
pub const JOURNAL_SUFFIX: &str = ".gzfleet-journal";

pub fn partial_path(target: &Path) -> PathBuf {
    with_suffix(target, PARTIAL_SUFFIX)
}

pub fn journal_path(target: &Path) -> PathBuf {
    with_suffix(target, JOURNAL_SUFFIX)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A file being written under its temporary name.
pub struct PartialFile {
    target: PathBuf,
    partial: PathBuf,
    file: File,
    written: u64,
}

impl PartialFile {
    /// Creates the temporary file; refuses if one exists (another run, or an
    /// interrupted one that --resume could continue) unless `force`.
    pub fn create(target: &Path, force: bool) -> Result<Self, Error> {
        let partial = partial_path(target);
        if force {
            let _ = fs::remove_file(&partial);
            let _ = fs::remove_file(journal_path(target));
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => Error::Output(format!(
                    "{} exists: an interrupted run left it; continue it with --resume, or start over with -f",
                    partial.display()
                )),
                _ => Error::Output(at(&partial, &e)),
            })?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file,
            written: 0,
        })
    }

    /// Reopens an interrupted run's temporary file, cut back to its last durable byte.
    fn reopen(target: &Path, durable_len: u64) -> Result<Self, Error> {
        let partial = partial_path(target);
        let mut file = OpenOptions::new()
            .write(true)
            .open(&partial)
            .map_err(|e| Error::Resume(at(&partial, &e)))?;
        let len = file
            .metadata()
            .map_err(|e| Error::Resume(at(&partial, &e)))?
            .len();
        if len < durable_len {
            return Err(Error::Resume(format!(
                "{} holds {len} bytes but its journal says {durable_len} were made durable",
                partial.display()
            )));
        }
        file.set_len(durable_len)
            .and_then(|_| file.seek(SeekFrom::Start(durable_len)))
            .map_err(|e| Error::Resume(at(&partial, &e)))?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file,
            written: durable_len,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.file
            .write_all(bytes)
            .map_err(|e| Error::Output(at(&self.partial, &e)))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    fn sync(&mut self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(|e| Error::Output(at(&self.partial, &e)))
    }

    /// Makes the file durable, gives it the input's permissions and times, and renames
    /// it into place.
    pub fn commit(self, like: Option<&fs::Metadata>) -> Result<u64, Error> {
        self.file
            .sync_all()
            .map_err(|e| Error::Output(at(&self.partial, &e)))?;
        if let Some(meta) = like {
            // Best effort, as gzip: a filesystem that refuses modes still gets the data.
            let _ = self.file.set_permissions(meta.permissions());
            if let Ok(mtime) = meta.modified() {
                let _ = self.file.set_modified(mtime);
            }
        }
        fs::rename(&self.partial, &self.target).map_err(|e| Error::Output(at(&self.target, &e)))?;
        if let Some(dir) = self.target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.written)
    }

    /// Removes the temporary file.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.partial);
    }
}

/// Compressed output: stdout, or a partial file with its resume journal.
pub enum Output {
    Stdout { written: u64 },
    File(Box<JournaledFile>),
}

pub struct JournaledFile {
    file: PartialFile,
    /// None when the job cannot be resumed anyway (stdin input).
    journal: Option<Journal>,
    journal_path: PathBuf,
    sync_every: Duration,
    last_sync: Instant,
    pending: Durable,
}

impl Output {
    pub fn stdout() -> Self {
        Output::Stdout { written: 0 }
    }

    /// A new partial file plus, for a resumable job, a journal saying nothing is
    /// durable yet.
    pub fn create_file(
        target: &Path,
        identity: Option<JobIdentity>,
        sync_every: Duration,
        force: bool,
    ) -> Result<Self, Error> {
        let file = PartialFile::create(target, force)?;
        let journal_path = journal_path(target);
        let journal = identity.map(|identity| Journal {
            identity,
            durable: Durable::default(),
        });
        if let Some(j) = &journal
            && let Err(e) = j.write(&journal_path)
        {
            file.discard();
            return Err(Error::Output(at(&journal_path, &e)));
        }
        Ok(Output::File(Box::new(JournaledFile {
            file,
            journal_path,
            journal,
            sync_every,
            last_sync: Instant::now(),
            pending: Durable::default(),
        })))
    }

    /// An interrupted run's partial file, cut back to the journal's durable point.
    pub fn resume_file(
        target: &Path,
        journal: Journal,
        sync_every: Duration,
    ) -> Result<Self, Error> {
        let file = PartialFile::reopen(target, journal.durable.output_bytes)?;
        Ok(Output::File(Box::new(JournaledFile {
            file,
            journal_path: journal_path(target),
            pending: journal.durable,
            journal: Some(journal),
            sync_every,
            last_sync: Instant::now(),
        })))
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Output::Stdout { written } => {
                io::stdout().lock().write_all(bytes).map_err(|e| {
                    Error::Output(format!("stdout: {}", crate::error::io_message(&e)))
                })?;
                *written += bytes.len() as u64;
                Ok(())
            }
            Output::File(f) => f.file.write(bytes),
        }
    }

    /// Writes chunk `index`'s deflate data; `stream` covers the input up to its end.
    pub fn write_chunk(
        &mut self,
        deflate: &[u8],
        chunk_crc: u32,
        chunk_len: u64,
        stream: StreamCrc,
    ) -> Result<(), Error> {
        self.write(deflate)?;
        if let Output::File(f) = self {
            f.pending = Durable {
                chunks: f.pending.chunks + 1,
                input_bytes: stream.len,
                crc: stream.crc,
                output_bytes: f.file.written(),
                last_chunk_crc: chunk_crc,
                last_chunk_len: chunk_len,
            };
            if f.last_sync.elapsed() >= f.sync_every {
                f.make_durable()?;
            }
        }
        Ok(())
    }

    /// Writes the trailer and puts the file in place (removing the journal).
    pub fn finish(mut self, trailer: &[u8], like: Option<&fs::Metadata>) -> Result<u64, Error> {
        self.write(trailer)?;
        match self {
            Output::Stdout { written } => {
                io::stdout().flush().map_err(|e| {
                    Error::Output(format!("stdout: {}", crate::error::io_message(&e)))
                })?;
                Ok(written)
            }
            Output::File(f) => {
                let JournaledFile {
                    file, journal_path, ..
                } = *f;
                let n = file.commit(like)?;
                let _ = fs::remove_file(journal_path);
                Ok(n)
            }
        }
    }

    /// Ends a failed job: keeps the partial file and its journal (made current) for
    /// --resume when `keep`, else removes both. Says whether anything was kept.
    pub fn abandon(self, keep: bool) -> Option<PathBuf> {
        let Output::File(mut f) = self else {
            return None;
        };
        if keep && f.pending.chunks > 0 {
            // If this last sync fails, the previous journal still describes a durable
            // prefix of the partial file: keep that instead.
            let _ = f.make_durable();
            if f.journal.as_ref().is_some_and(|j| j.durable.chunks > 0) {
                return Some(f.file.partial.clone());
            }
        }
        let JournaledFile {
            file, journal_path, ..
        } = *f;
        file.discard();
        let _ = fs::remove_file(journal_path);
        None
    }
}

impl JournaledFile {
    /// fsyncs the data, then records it in the journal: never the other way round.
    fn make_durable(&mut self) -> Result<(), Error> {
        self.last_sync = Instant::now();
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        self.file.sync()?;
        journal.durable = self.pending;
        journal
            .write(&self.journal_path)
            .map_err(|e| Error::Output(at(&self.journal_path, &e)))
    }
}
