//! Every way a gzfleet command can fail. Each variant keeps what caused it (the
//! `io::Error` and its kind, the path, the decoder's verdict) and renders as one line
//! that names the problem and, where there is one, what to do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use gzfleet_worker::objects::ObjectError;

use crate::gzip::DecodeError;

/// Where bytes came from or went: a file, an object, or a standard stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Stdin,
    Stdout,
    Path(PathBuf),
    Url(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Stdin => f.write_str("stdin"),
            Place::Stdout => f.write_str("stdout"),
            Place::Path(p) => write!(f, "{}", p.display()),
            Place::Url(u) => f.write_str(u),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments that cannot work together.
    #[error("{0}")]
    Usage(String),
    /// A symbolic link named to be replaced by its output, without -f: gzip opens with
    /// O_NOFOLLOW and reports the kernel's words (exit status 1).
    #[error("{}: Too many levels of symbolic links (it is a symbolic link: -f follows it)", .0.display())]
    Symlink(PathBuf),
    /// An input that cannot be opened or examined.
    #[error("{}: {}", .path.display(), io_message(.source))]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An object that cannot be reached or read.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Reading an input failed part way.
    #[error("{input}: read error: {}", io_message(.source))]
    Read {
        input: Place,
        #[source]
        source: io::Error,
    },
    /// An input gzip would not touch either (a directory, a device, a hard link, a
    /// setuid file): skipped with a warning, exit status 2 as gzip's.
    #[error("{0}")]
    Refused(String),
    /// An input whose time gzip's header cannot hold: compressed with MTIME 0 and
    /// gzip's warning (exit status 2).
    #[error("{0}: warning: file timestamp out of range for gzip format")]
    TimeOutOfRange(Place),
    /// An input left alone that gzip does not even count as a warning (a .gz named to
    /// be compressed): said, exit status unchanged.
    #[error("{0}")]
    Unchanged(String),
    /// Pull mode cannot hand this input to workers (not below --shared-root, not a
    /// regular file): a mistake in the command, not a file gzip would skip (status 1).
    #[error("{0}")]
    NotShared(String),
    /// The same, met by -r: gzip says it only with -v ("avoid annoying messages").
    #[error("{0}")]
    PassedOver(String),
    /// Writing the output (or its journal) failed.
    #[error("{output}: {}", io_message(.source))]
    Write {
        output: Place,
        #[source]
        source: io::Error,
    },
    /// The index of a file about to be replaced could not be removed: left there, it
    /// would be taken for the new file's.
    #[error("{}: cannot remove this index of the file being replaced: {}", .path.display(), io_message(.source))]
    StaleIndex {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The output exists and -f was not given.
    #[error("{} already exists; use -f to overwrite", .0.display())]
    Exists(PathBuf),
    /// An interrupted run's temporary output is in the way.
    #[error(
        "{} exists: an interrupted run left it; continue it with --resume, or start over with -f",
        .0.display()
    )]
    PartialExists(PathBuf),
    /// Threads and runtimes that could not be started.
    #[error("cannot start {what}: {}", io_message(.source))]
    Spawn {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The --metrics endpoint cannot be served.
    #[error(transparent)]
    Metrics(#[from] gzfleet_worker::exposition::ExpositionError),
    /// Worker addresses that cannot be used.
    #[error("{0}")]
    Setup(String),
    /// No worker could be used to start with, or none is left.
    #[error("{0}")]
    NoWorkers(String),
    /// Every worker was gone for longer than --wait-workers.
    #[error("no worker answered for {waited_secs:.0}s (--wait-workers); last seen: {reasons}")]
    WorkersGone { waited_secs: f64, reasons: String },
    /// One chunk could not be compressed within the allowed attempts.
    #[error("chunk {index} failed {attempts} times (--max-attempts); last on {worker}: {reason}")]
    ChunkFailed {
        index: u64,
        attempts: u32,
        worker: String,
        reason: String,
    },
    /// A failure that retrying cannot mend (the local engine failed).
    #[error("{0}")]
    Fatal(String),
    #[error("interrupted")]
    Interrupted,
    /// --resume refused.
    #[error("cannot resume: {0}")]
    Resume(String),
    /// --resume could not read or reopen what the interrupted run left.
    #[error("cannot resume: {}: {}", .path.display(), io_message(.source))]
    ResumeFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The journal beside the partial output is not one.
    #[error("cannot resume: {}: not a gzfleet journal, or damaged", .path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A .gz that is damaged or is no gzip at all.
    #[error("{input}: {source}{}", .found.as_ref().map(|f| format!("; {f}")).unwrap_or_default())]
    Corrupt {
        input: Place,
        #[source]
        source: DecodeError,
        /// Where the deflate block structure breaks, when `test` could find it.
        found: Option<String>,
    },
    /// A range (--offset/--length) its index could not give: the index disagrees with
    /// the .gz part way.
    #[error("{}: {why}; the range was not written (rebuild the index, or remove it to inflate from the start)", .index.display())]
    IndexRange { index: PathBuf, why: String },
    /// The output is complete but --rm could not remove the input.
    #[error("output complete, but cannot remove input {}: {}", .path.display(), io_message(.source))]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Pull mode: no worker could read an input as this coordinator sees it.
    #[error(
        "{input}: no worker could read it as this coordinator sees it ({reason}); {}",
        if *.changed_here {
            "it changed here too: the input changed while it was being compressed"
        } else {
            "it is unchanged here: the workers' copies differ from this one"
        }
    )]
    Unreadable {
        input: Place,
        reason: String,
        changed_here: bool,
    },
    /// A job failed and its partial output was kept for --resume.
    #[error("{error}; partial output kept in {}: run the same command with --resume to continue", .partial.display())]
    Kept {
        #[source]
        error: Box<Error>,
        partial: PathBuf,
    },
}

/// How gzip counts an outcome in its exit status: 1 for an error, 2 for a warning
/// (when nothing failed), 0 for a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
    /// A note said only with -v.
    Detail,
}

impl Error {
    /// What this failure counts as in the exit status, as gzip counts it.
    pub fn severity(&self) -> Severity {
        match self {
            Error::Refused(_) | Error::Exists(_) | Error::TimeOutOfRange(_) => Severity::Warning,
            Error::Unchanged(_) => Severity::Note,
            Error::PassedOver(_) => Severity::Detail,
            _ => Severity::Error,
        }
    }

    /// Whether progress made so far is worthless: the input changed under the run, so
    /// --resume would refuse to continue it anyway.
    pub fn invalidates_progress(&self) -> bool {
        matches!(
            self,
            Error::Unreadable {
                changed_here: true,
                ..
            }
        )
    }

    /// Writing to stdout failed. The run stops: every input's member goes to the one
    /// stream, and one cut short would be followed by the next.
    pub fn is_stdout_write(&self) -> bool {
        matches!(
            self,
            Error::Write {
                output: Place::Stdout,
                ..
            }
        )
    }

    /// The reader of our output went away (`| head`): gzip dies of SIGPIPE quietly, and
    /// so do we.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(
            self,
            Error::Write { output: Place::Stdout, source } if source.kind() == io::ErrorKind::BrokenPipe
        )
    }
}

/// An I/O error as a reader wants it: "No such file or directory", without Rust's
/// "(os error 2)" suffix.
pub fn io_message(e: &io::Error) -> String {
    without_os_error(e.to_string())
}

/// Drops every " (os error N)" from a message: the number adds nothing for a reader.
pub fn without_os_error(mut text: String) -> String {
    while let Some(i) = text.find(" (os error ") {
        let Some(len) = text[i..].find(')') else {
            break;
        };
        text.replace_range(i..=i + len, "");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_keep_their_kind_and_read_as_one_line() {
        let e = Error::Open {
            path: PathBuf::from("/x/nothere"),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(e.to_string(), "/x/nothere: No such file or directory");
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::NotFound));
    }

    #[test]
    fn only_stdout_closing_is_a_broken_pipe() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        let stdout = Error::Write {
            output: Place::Stdout,
            source: pipe(),
        };
        let file = Error::Write {
            output: Place::Path("f".into()),
            source: pipe(),
        };
        assert!(stdout.is_broken_pipe());
        assert!(!file.is_broken_pipe());
    }

    #[test]
    fn kept_output_says_how_to_continue() {
        let e = Error::Kept {
            error: Box::new(Error::Interrupted),
            partial: PathBuf::from("o.gz.gzfleet-partial"),
        };
        assert_eq!(
            e.to_string(),
            "interrupted; partial output kept in o.gz.gzfleet-partial: run the same command with --resume to continue"
        );
    }
}
