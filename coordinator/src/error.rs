//! Every way a gzfleet command can fail, each rendering as one line that names the
//! problem and, where there is one, what to do about it.

use std::io;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments that cannot work together.
    #[error("{0}")]
    Usage(String),
    /// An input that cannot be read, or is not what it should be.
    #[error("{0}")]
    Input(String),
    /// The output cannot be created or written.
    #[error("{0}")]
    Output(String),
    /// Thread pools, runtimes, worker addresses.
    #[error("{0}")]
    Setup(String),
    /// No worker could be used to start with.
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
    /// A .gz that is damaged or is no gzip at all.
    #[error("{0}")]
    Format(String),
}

impl Error {
    /// Whether the partial output of a job ended by this error is worth keeping for
    /// --resume: the fleet failed or the user stopped it, and rerunning later may
    /// succeed. Bad input or a full disk leave nothing behind instead.
    pub fn resumable(&self) -> bool {
        matches!(
            self,
            Error::WorkersGone { .. }
                | Error::NoWorkers(_)
                | Error::ChunkFailed { .. }
                | Error::Interrupted
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

/// "PATH: message" for an I/O failure on a path.
pub fn at(path: &Path, e: &io::Error) -> String {
    format!("{}: {}", path.display(), io_message(e))
}
