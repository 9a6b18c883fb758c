//! What can be wrong with a compressed stream, in the words gzip users know: where a
//! member ends too soon, what is corrupt, which check failed. The formats other than
//! gzip keep their own errors (`legacy`), carried here with the member they are in.

use std::fmt;
use std::io;

use super::header::{Field, HeaderError};
use crate::error::io_message;
use crate::legacy::LegacyError;

/// Where in a member the input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Header(Field),
    Data,
    Trailer,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Header(field) => field.fmt(f),
            Part::Data => f.write_str("the compressed data"),
            Part::Trailer => f.write_str("the trailer (CRC-32 and length)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("unexpected end of file: the input is empty")]
    Empty,
    #[error("not in gzip format")]
    NotGzip,
    #[error("bad header in member {member}: {source}")]
    Header {
        member: u64,
        #[source]
        source: HeaderError,
    },
    #[error("unexpected end of file: member {member} ends inside {part}")]
    Truncated { member: u64, part: Part },
    #[error(
        "unexpected end of file: member {member} is followed by one byte ({byte:#04x}), a member cut short or garbage"
    )]
    LoneByte { member: u64, byte: u8 },
    #[error(
        "invalid compressed data in member {member} near byte {offset}{}",
        .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
    )]
    Corrupt {
        member: u64,
        offset: u64,
        /// zlib's words for it, when they are about the data.
        reason: Option<String>,
    },
    #[error(
        "CRC-32 mismatch in member {member}: stored {stored:08x}, data gives {computed:08x}: the data is corrupt"
    )]
    Crc {
        member: u64,
        stored: u32,
        computed: u32,
    },
    #[error(
        "length mismatch in member {member}: stored {stored} (mod 2^32), data gives {actual}: the data is corrupt"
    )]
    Length {
        member: u64,
        stored: u32,
        actual: u64,
    },
    /// A member in one of the other formats gzip -d reads, damaged.
    #[error("{}: {source}", source.what(*.member))]
    Legacy {
        member: u64,
        #[source]
        source: LegacyError,
    },
    #[error("read error: {}", io_message(.0))]
    Read(#[source] io::Error),
    #[error("write error: {}", io_message(.0))]
    Write(#[source] io::Error),
}

impl DecodeError {
    /// A header that cannot be read, of member `member` (from 1).
    pub fn in_header(e: HeaderError, member: u64) -> Self {
        match e {
            HeaderError::NotGzip if member == 1 => DecodeError::NotGzip,
            HeaderError::Io(e) => DecodeError::Read(e),
            HeaderError::Truncated(field) => DecodeError::Truncated {
                member,
                part: Part::Header(field),
            },
            source => DecodeError::Header { member, source },
        }
    }
}
