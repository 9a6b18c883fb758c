//! Pull mode's reading: a byte range of a file and the 32 KiB before it, read by the
//! worker itself, from a file that must still be the one the coordinator saw (size and
//! modification time, checked on the open file before and after the read, so neither
//! a swap nor a write during the read slips through).

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::MAX_DICTIONARY;

/// A chunk to read from a file.
#[derive(Debug, Clone)]
pub struct FileRange {
    /// Opened inside the worker's root (see `root.rs`).
    pub file: Arc<File>,
    /// As the request named it, for messages.
    pub name: String,
    pub offset: u64,
    pub length: u64,
    /// Read the 32 KiB before the range too (not in independent mode).
    pub dictionary: bool,
    /// The file as the coordinator saw it.
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    #[error(
        "{name}: changed, or differs on this worker: {what} here, the coordinator saw {expected}"
    )]
    Differs {
        name: String,
        what: String,
        expected: String,
    },
    #[error("{name}: cannot read it here: {source}")]
    Io {
        name: String,
        #[source]
        source: io::Error,
    },
}

impl RangeError {
    /// Whether the input is the problem (changed, gone, shorter) rather than this
    /// machine (see [`crate::root::RootError::about_input`]).
    pub fn about_input(&self) -> bool {
        match self {
            RangeError::Differs { .. } => true,
            RangeError::Io { source, .. } => crate::root::about_the_file(source),
        }
    }
}

/// Nanoseconds since the epoch of a file's modification, as both ends compute it.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

impl FileRange {
    /// Reads the dictionary and the chunk.
    pub fn read(&self) -> Result<(Bytes, Bytes), RangeError> {
        let io_error = |source| RangeError::Io {
            name: self.name.clone(),
            source,
        };
        self.check_unchanged()?;
        let end = self
            .offset
            .checked_add(self.length)
            .filter(|&e| e <= self.size);
        if end.is_none() {
            return Err(io_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "bytes {}..{} lie past its end ({} bytes)",
                    self.offset,
                    self.offset.saturating_add(self.length),
                    self.size
                ),
            )));
        }
        let before = match self.dictionary {
            true => self.offset.min(MAX_DICTIONARY as u64),
            false => 0,
        };
        let mut buf = vec![0u8; (before + self.length) as usize];
        self.file
            .read_exact_at(&mut buf, self.offset - before)
            .map_err(io_error)?;
        // Written to while being read: the bytes may mix two versions.
        self.check_unchanged()?;
        let all = Bytes::from(buf);
        Ok((all.slice(..before as usize), all.slice(before as usize..)))
    }

    /// The open file still has the size and modification time the coordinator saw.
    fn check_unchanged(&self) -> Result<(), RangeError> {
        let meta = self.file.metadata().map_err(|source| RangeError::Io {
            name: self.name.clone(),
            source,
        })?;
        let differs = |what: String, expected: String| RangeError::Differs {
            name: self.name.clone(),
            what,
            expected,
        };
        if meta.len() != self.size {
            return Err(differs(
                format!("{} bytes", meta.len()),
                format!("{} bytes", self.size),
            ));
        }
        if mtime_ns(&meta) != self.mtime_ns {
            return Err(differs(
                format!("modified at {} ns", mtime_ns(&meta)),
                format!("{} ns", self.mtime_ns),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn range_of(path: PathBuf, offset: u64, length: u64, dictionary: bool) -> FileRange {
        let meta = std::fs::metadata(&path).unwrap();
        FileRange {
            name: "f".into(),
            file: Arc::new(File::open(path).unwrap()),
            offset,
            length,
            dictionary,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        }
    }

    #[test]
    fn reads_the_range_and_the_32_kib_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let path = dir.path().join("f");
        std::fs::write(&path, &data).unwrap();
        let (dict, chunk) = range_of(path.clone(), 40_000, 10_000, true).read().unwrap();
        assert_eq!(&dict[..], &data[40_000 - MAX_DICTIONARY..40_000]);
        assert_eq!(&chunk[..], &data[40_000..50_000]);
        // Near the start the dictionary is what there is; independent: none.
        let (dict, _) = range_of(path.clone(), 1000, 10, true).read().unwrap();
        assert_eq!(&dict[..], &data[..1000]);
        let (dict, _) = range_of(path, 40_000, 10, false).read().unwrap();
        assert!(dict.is_empty());
    }

    #[test]
    fn a_file_that_is_not_the_one_the_coordinator_saw_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 5000]).unwrap();
        let mut r = range_of(path.clone(), 0, 100, false);
        r.size += 1;
        let e = r.read().unwrap_err();
        assert!(
            e.to_string()
                .contains("f: changed, or differs on this worker: 5000 bytes here"),
            "{e}"
        );
        let mut r = range_of(path.clone(), 0, 100, false);
        r.mtime_ns -= 1;
        assert!(matches!(r.read(), Err(RangeError::Differs { .. })));
        let past = range_of(path.clone(), 4900, 200, false);
        let e = past.read().unwrap_err();
        assert!(matches!(e, RangeError::Io { .. }) && e.about_input(), "{e}");
        // Changed after it was opened: the open file itself is checked.
        let opened = range_of(path.clone(), 0, 100, false);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        assert!(matches!(opened.read(), Err(RangeError::Differs { .. })));
    }
}
