//! gzfleet as a library: what the `gzfleet` command does, for a program.
//!
//! - [`Writer`] (built by [`WriterBuilder`]): `std::io::Write` into ONE standard gzip
//!   member, compressed on the embedded pool or by `gzfleet-worker`s, bounded in
//!   memory, byte for byte what `gzfleet` writes with the same settings.
//! - [`Reader`] (built by [`ReaderBuilder`]): `std::io::Read` over every member;
//!   with an index, parallel and `Seek`able.
//! - [`compress`] and [`decompress`]: the one-shot forms.
//! - [`Error`]: every failure, its cause kept.
//!
//! ```
//! use std::io::{Read, Seek, SeekFrom, Write};
//! use gzfleet_coordinator::{Reader, WriterBuilder};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("numbers.gz");
//! let mut w = WriterBuilder::new().level(1).threads(2).index(true).create(&path)?;
//! for i in 0..500_000u32 {
//!     w.write_all(&i.to_le_bytes())?;
//! }
//! let done = w.finish()?;
//! assert_eq!(done.input_bytes, 2_000_000);
//!
//! let mut r = Reader::open(&path)?; // finds numbers.gzi beside it
//! r.seek(SeekFrom::Start(4 * 400_000))?;
//! let mut four = [0u8; 4];
//! r.read_exact(&mut four)?;
//! assert_eq!(u32::from_le_bytes(four), 400_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod error;
mod pipeline;
mod reader;
mod sink;
mod writer;

#[cfg(test)]
mod tests;

use std::io::Write;

pub use builder::{DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, WriterBuilder, engines};
pub use error::{Cause, Error};
pub use reader::{PIECE, PIPE_PIECES, Reader, ReaderBuilder, Summary, index_path};
pub use sink::FileSink;
pub use writer::{Finished, Writer};

use crate::error::{Error as Internal, Place};
use crate::gzip::{DecodeError, decode};

/// `data` as one gzip member at `level` on the embedded pool: what
/// `gzfleet -c -<level> < data` writes.
///
/// ```
/// let gz = gzfleet_coordinator::compress(b"abc", 6)?;
/// assert_eq!(&gz[..2], b"\x1f\x8b");
/// assert_eq!(gzfleet_coordinator::decompress(&gz)?, b"abc");
/// # Ok::<(), gzfleet_coordinator::Error>(())
/// ```
pub fn compress(data: &[u8], level: u32) -> Result<Vec<u8>, Error> {
    let mut w = WriterBuilder::new()
        .level(level)
        .build(Vec::with_capacity(data.len() / 3 + 64))?;
    w.write_all(data).map_err(|e| Error::io("compressing", e))?;
    w.finish_into_inner().map(|(_, gz)| gz)
}

/// Every member of `data`, decoded; trailing zeros and garbage ignored as
/// [`Reader`] ignores them. An empty `data` is empty.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    match decode(data, &mut out) {
        Ok(_) | Err(DecodeError::Empty) => Ok(out),
        Err(source) => Err(Error::internal(Internal::Corrupt {
            input: Place::Stdin,
            source,
            found: None,
        })),
    }
}
