//! The library's one error type: what went wrong, in gzfleet's one-line words, with
//! the cause kept as its `source()`. Converts into `std::io::Error` with the kind a
//! reader or writer of `std::io` expects (`UnexpectedEof` for a stream cut short,
//! `InvalidData` for corrupt data), the `Error` itself inside it.

use std::io;
use std::path::PathBuf;

use crate::error::Error as Internal;
use crate::gzip::DecodeError;

/// What a cause looks like from outside: any error, kept whole.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the library API can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Settings that cannot work (a level the engine lacks, a block size out of
    /// range, an index with nowhere to go).
    #[error("{0}")]
    Settings(String),
    /// The output exists and overwriting was not asked for.
    #[error("{} already exists; overwrite(true) replaces it", .0.display())]
    Exists(PathBuf),
    /// Reading the input or writing the output failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The compressed data is not gzip, or is damaged (a bad header, invalid deflate
    /// data, a CRC-32 or length that does not match).
    #[error("{source}")]
    Corrupt {
        #[source]
        source: Cause,
    },
    /// The compressed data ends too soon.
    #[error("{source}")]
    Truncated {
        #[source]
        source: Cause,
    },
    /// The workers could not be reached, or a chunk could not be compressed (the
    /// fleet gone, an engine failed).
    #[error("{source}")]
    Compress {
        #[source]
        source: Cause,
    },
    /// The operation needs what this reader or writer lacks (seeking a stream).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// An error of the command's pipeline, sorted for library users.
    pub(crate) fn internal(e: Internal) -> Error {
        match e {
            Internal::Usage(s) | Internal::Setup(s) => Error::Settings(s),
            Internal::Exists(p) => Error::Exists(p),
            Internal::Corrupt { source, .. } => Error::decode(source),
            Internal::Write { output, source } => Error::io(output.to_string(), source),
            Internal::Read { input, source } => Error::io(input.to_string(), source),
            Internal::Open { path, source } => Error::io(path.display().to_string(), source),
            other => Error::Compress {
                source: Box::new(other),
            },
        }
    }

    /// The decoder's verdict on a stream.
    pub(crate) fn decode(e: DecodeError) -> Error {
        match e {
            DecodeError::Read(source) => Error::io("read error", source),
            DecodeError::Write(source) => Error::io("write error", source),
            e @ (DecodeError::Truncated { .. } | DecodeError::LoneByte { .. }) => {
                Error::Truncated {
                    source: Box::new(e),
                }
            }
            e => Error::Corrupt {
                source: Box::new(e),
            },
        }
    }

    fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Settings(_) => io::ErrorKind::InvalidInput,
            Error::Exists(_) => io::ErrorKind::AlreadyExists,
            Error::Io { source, .. } => source.kind(),
            Error::Corrupt { .. } => io::ErrorKind::InvalidData,
            Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::Compress { .. } => io::ErrorKind::Other,
            Error::Unsupported(_) => io::ErrorKind::Unsupported,
        }
    }
}

impl From<Error> for io::Error {
    /// The kind `std::io` callers test for; the [`Error`] inside (`get_ref`,
    /// `into_inner`, `downcast`).
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_cause() {
        let truncated = Error::decode(DecodeError::Truncated {
            member: 1,
            part: crate::gzip::errors::Part::Data,
        });
        assert_eq!(
            io::Error::from(truncated).kind(),
            io::ErrorKind::UnexpectedEof
        );
        let corrupt = io::Error::from(Error::decode(DecodeError::NotGzip));
        assert_eq!(corrupt.kind(), io::ErrorKind::InvalidData);
        let inner = corrupt.into_inner().unwrap().downcast::<Error>().unwrap();
        assert!(matches!(*inner, Error::Corrupt { .. }));
        assert_eq!(inner.to_string(), "not in gzip format");
        let full = Error::internal(Internal::Write {
            output: crate::error::Place::Stdout,
            source: io::Error::from_raw_os_error(libc::ENOSPC),
        });
        assert!(
            matches!(&full, Error::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC))
        );
    }
}
