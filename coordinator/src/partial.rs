//! Nothing half-written looks finished (docs/DESIGN.md, contract 6): every file
//! gzfleet writes, compressed or decompressed, is written under a temporary name beside
//! its target and renamed into place only after everything is written and fsynced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Place};

/// Suffix of the temporary output beside its target.
pub(crate) const PARTIAL_SUFFIX: &str = ".gzfleet-partial";

pub(crate) fn partial_path(target: &Path) -> PathBuf {
    with_suffix(target, PARTIAL_SUFFIX)
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The folder holding `path`, for fsyncing a rename in it.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A file being written under its temporary name.
pub(crate) struct PartialFile {
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
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => Error::PartialExists(partial.clone()),
                _ => Error::Write {
                    output: Place::Path(partial.clone()),
                    source,
                },
            })?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file,
            written: 0,
        })
    }

    /// Reopens an interrupted run's temporary file, cut back to its last durable byte.
    pub fn reopen(target: &Path, durable_len: u64) -> Result<Self, Error> {
        let partial = partial_path(target);
        let resume_error = |source| Error::ResumeFile {
            path: partial.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .open(&partial)
            .map_err(resume_error)?;
        let len = file.metadata().map_err(resume_error)?.len();
        if len < durable_len {
            return Err(Error::Resume(format!(
                "{} holds {len} bytes but its journal says {durable_len} were made durable",
                partial.display()
            )));
        }
        file.set_len(durable_len)
            .and_then(|_| file.seek(SeekFrom::Start(durable_len)))
            .map_err(resume_error)?;
        Ok(PartialFile {
            target: target.to_path_buf(),
            partial,
            file,
            written: durable_len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Where failures are reported: the output the user asked for.
    pub fn place(&self) -> Place {
        Place::Path(self.target.clone())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    fn failed(&self, source: io::Error) -> Error {
        Error::Write {
            output: self.place(),
            source,
        }
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.write_all(bytes).map_err(|e| self.failed(e))
    }

    pub fn sync(&mut self) -> Result<(), Error> {
        self.file.sync_data().map_err(|e| self.failed(e))
    }

    /// Makes the file durable, gives it the input's permissions and times, and renames
    /// it into place. Returns the bytes written.
    pub fn commit(self, like: Option<&fs::Metadata>) -> Result<u64, Error> {
        self.file.sync_all().map_err(|e| self.failed(e))?;
        if let Some(meta) = like {
            // Best effort, as gzip: a filesystem that refuses modes still gets the data.
            let _ = self.file.set_permissions(meta.permissions());
            if let Ok(mtime) = meta.modified() {
                let _ = self.file.set_modified(mtime);
            }
        }
        fs::rename(&self.partial, &self.target).map_err(|e| self.failed(e))?;
        if let Ok(d) = File::open(parent_dir(&self.target)) {
            let _ = d.sync_all();
        }
        Ok(self.written)
    }

    /// Removes the temporary file.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.partial);
    }
}

/// The decoder writes decompressed bytes straight into the partial file.
impl Write for PartialFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_under_its_name_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut p = PartialFile::create(&target, false).unwrap();
        p.write_bytes(b"hello").unwrap();
        assert!(!target.exists());
        assert!(matches!(
            PartialFile::create(&target, false),
            Err(Error::PartialExists(_))
        ));
        assert_eq!(p.commit(None).unwrap(), 5);
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        assert!(!partial_path(&target).exists());
    }

    #[test]
    fn reopening_cuts_back_to_the_durable_length() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut p = PartialFile::create(&target, false).unwrap();
        p.write_bytes(b"durable+torn").unwrap();
        drop(p);
        let mut again = PartialFile::reopen(&target, 7).unwrap();
        again.write_bytes(b"!").unwrap();
        again.commit(None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"durable!");
        let missing = PartialFile::reopen(&dir.path().join("none"), 1);
        assert!(
            matches!(&missing, Err(Error::ResumeFile { source, .. }) if source.kind() == io::ErrorKind::NotFound),
            "{:?}",
            missing.err()
        );
    }
}
